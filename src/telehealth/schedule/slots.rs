//! Bookable slots, computed from weekly windows, leave days, holidays and live appointments.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Timelike, Utc};
use std::collections::{BTreeSet, HashMap, HashSet};
use uuid::Uuid;

use super::availability::{Window, local_midnight, window_of};
use crate::error::{Error, Result};
use crate::store::Db;
use crate::telehealth::Ctx;
use crate::telehealth::repo::{appointments, availability};
use crate::telehealth::shared::{require_doctor, station};
use crate::telehealth::ward_offset;

/// A bookable slot (FHIR Slot, status free).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub doctor_id: Uuid,
    pub station_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The calendar facts slot generation needs, per doctor.
pub struct Calendar<'a> {
    pub windows: &'a HashMap<Uuid, Vec<Window>>,
    pub leave: &'a HashSet<(Uuid, NaiveDate)>,
    pub holidays: &'a BTreeSet<NaiveDate>,
    pub taken: &'a HashSet<(Uuid, DateTime<Utc>)>,
    pub offset: FixedOffset,
}

/// Free slots starting in `[from, to)` (pure: every fact is passed in). Ordered by time, then doctor.
pub fn free_slots(
    cal: &Calendar,
    station: Option<Uuid>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Slot> {
    let mut out = vec![];
    let first = from.with_timezone(&cal.offset).date_naive();
    let last = to.with_timezone(&cal.offset).date_naive();
    let mut day = first;
    while day <= last {
        if !cal.holidays.contains(&day) {
            let weekday = day.weekday().number_from_monday();
            let midnight = local_midnight(day, cal.offset);
            for (doctor, windows) in cal.windows {
                if cal.leave.contains(&(*doctor, day)) {
                    continue;
                }
                for w in windows {
                    if w.weekday != weekday || station.is_some_and(|s| s != w.station_id) {
                        continue;
                    }
                    let mut m = w.start_minute;
                    while m + w.slot_minutes <= w.end_minute {
                        let start = midnight + Duration::minutes(m.into());
                        if start >= from && start < to && !cal.taken.contains(&(*doctor, start)) {
                            out.push(Slot {
                                doctor_id: *doctor,
                                station_id: w.station_id,
                                start,
                                end: start + Duration::minutes(w.slot_minutes.into()),
                            });
                        }
                        m += w.slot_minutes;
                    }
                }
            }
        }
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    out.sort_by_key(|s| (s.start, s.doctor_id));
    out
}

/// The window of `doctor` at `station` that has a slot starting at `start`, if any.
pub fn window_for(
    windows: &[Window],
    station: Uuid,
    start: DateTime<Utc>,
    offset: FixedOffset,
) -> Option<Window> {
    let local = start.with_timezone(&offset);
    if local.nanosecond() != 0 || local.second() != 0 {
        return None;
    }
    let minute = local.hour() * 60 + local.minute();
    let weekday = local.weekday().number_from_monday();
    windows
        .iter()
        .copied()
        .find(|w| w.station_id == station && w.weekday == weekday && w.starts_slot_at(minute))
}

/// Free slots of a station and/or doctor between `from` and `to` (at most 31 days).
pub async fn slots(
    state: &Ctx,
    station: Option<Uuid>,
    doctor: Option<Uuid>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<Slot>> {
    let now = state.clock.now();
    let from = from.unwrap_or(now).max(now);
    let to = to.unwrap_or(from + Duration::days(7));
    if to <= from {
        return Err(Error::validation(
            "to",
            "invalid_range",
            "`to` phải sau `from` và sau thời điểm hiện tại",
            "`to` must be after `from` and after now",
        ));
    }
    if to - from > Duration::days(31) {
        return Err(Error::validation(
            "to",
            "range_too_long",
            "Tối đa 31 ngày mỗi lần",
            "At most 31 days at a time",
        ));
    }
    let horizon = now + Duration::days(state.settings.telehealth_booking_days.into());
    let to = to.min(horizon);
    if let Some(s) = station {
        station_exists(&state.db, s).await?;
    }
    if let Some(d) = doctor {
        require_doctor(&state.db, d).await?;
    }
    let rows = availability::bookable_windows(&state.db, station, doctor).await?;
    let mut windows: HashMap<Uuid, Vec<Window>> = HashMap::new();
    for row in rows {
        windows
            .entry(row.doctor_id)
            .or_default()
            .push(window_of(row.window));
    }
    if windows.is_empty() || to <= from {
        return Ok(vec![]);
    }
    let offset = ward_offset(state);
    let leave: HashSet<(Uuid, NaiveDate)> = availability::leave_between(
        &state.db,
        from.with_timezone(&offset).date_naive(),
        to.with_timezone(&offset).date_naive(),
    )
    .await?
    .into_iter()
    .collect();
    let taken: HashSet<(Uuid, DateTime<Utc>)> =
        appointments::taken(&state.db, from - Duration::hours(2), to, doctor)
            .await?
            .into_iter()
            .collect();
    let cal = Calendar {
        windows: &windows,
        leave: &leave,
        holidays: state.calendar.holidays(),
        taken: &taken,
        offset,
    };
    let mut out = free_slots(&cal, station, from, to);
    out.truncate(2000);
    Ok(out)
}

pub(super) async fn station_exists(db: &Db, id: Uuid) -> Result<()> {
    station(db, id).await.map(|_| ())
}
