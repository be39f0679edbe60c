//! Doctors' weekly availability (the windows slots are cut from) and their leave days.

use crate::telehealth::NotificationKind;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use std::collections::BTreeSet;
use uuid::Uuid;

use super::appointments::set_cancelled;
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::Db;
use crate::telehealth::Ctx;
use crate::telehealth::repo::appointments;
use crate::telehealth::repo::availability::{self as repo, WindowRow};
use crate::telehealth::shared::{is_station_doctor, require_doctor};
use crate::telehealth::{About, local_text, notify, send_pushes, validate_text, ward_offset};

pub use crate::telehealth::repo::availability::LeaveDay;

/// One weekly window of a doctor at a station, in the ward's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub station_id: Uuid,
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    pub weekday: u32,
    /// Minutes after local midnight.
    pub start_minute: u32,
    pub end_minute: u32,
    pub slot_minutes: u32,
}

impl Window {
    /// Whether a slot of this window starts `minute` minutes after midnight.
    pub(super) fn starts_slot_at(&self, minute: u32) -> bool {
        minute >= self.start_minute
            && minute + self.slot_minutes <= self.end_minute
            && (minute - self.start_minute).is_multiple_of(self.slot_minutes)
    }
}

/// A set of windows is valid when each is well-formed and no two of them overlap in time (a doctor
/// cannot be in two places, or hold two slot grids, at once).
pub fn check_windows(windows: &[Window]) -> Result<()> {
    let bad = |i: usize, code: &str, vi: &str, en: &str| {
        Err(Error::validation(&format!("windows[{i}]"), code, vi, en))
    };
    for (i, w) in windows.iter().enumerate() {
        if !(1..=7).contains(&w.weekday) {
            return bad(
                i,
                "invalid_weekday",
                "Thứ trong tuần từ 1 (thứ Hai) đến 7 (Chủ nhật)",
                "Weekday is 1 (Monday) to 7 (Sunday)",
            );
        }
        if !(5..=120).contains(&w.slot_minutes) {
            return bad(
                i,
                "invalid_slot_length",
                "Mỗi lượt khám từ 5 đến 120 phút",
                "Slots last 5 to 120 minutes",
            );
        }
        if w.end_minute > 1440
            || w.start_minute >= w.end_minute
            || w.end_minute - w.start_minute < w.slot_minutes
        {
            return bad(
                i,
                "invalid_window",
                "Khung giờ phải bắt đầu trước khi kết thúc và chứa ít nhất một lượt khám",
                "A window must start before it ends and hold at least one slot",
            );
        }
    }
    for (i, a) in windows.iter().enumerate() {
        for b in &windows[..i] {
            if a.weekday == b.weekday
                && a.start_minute < b.end_minute
                && b.start_minute < a.end_minute
            {
                return bad(
                    i,
                    "overlapping_window",
                    "Khung giờ trùng với một khung giờ khác",
                    "This window overlaps another",
                );
            }
        }
    }
    Ok(())
}

/// "HH:MM" → minutes after midnight ("24:00" is the end of the day).
pub fn parse_clock(text: &str, field: &str) -> Result<u32> {
    let bad = || {
        Error::validation(
            field,
            "invalid_time",
            "Giờ phải có dạng HH:MM",
            "Time must be HH:MM",
        )
    };
    if text == "24:00" {
        return Ok(1440);
    }
    if text.len() != 5 {
        return Err(bad());
    }
    let t = NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| bad())?;
    Ok(t.hour() * 60 + t.minute())
}

pub fn format_clock(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The caller may manage this doctor's calendar: the doctor themself or an admin.
fn require_calendar_owner(caller: &Caller, doctor: Uuid) -> Result<()> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Doctor if caller.account_id == doctor => Ok(()),
        _ => Err(Error::Forbidden),
    }
}

pub async fn windows(db: &Db, doctor: Uuid) -> Result<Vec<Window>> {
    Ok(repo::windows(db, doctor)
        .await?
        .into_iter()
        .map(window_of)
        .collect())
}

/// A window as stored, as the rules read it.
pub(super) fn window_of(w: WindowRow) -> Window {
    Window {
        station_id: w.station_id,
        weekday: w.weekday.max(0) as u32,
        start_minute: w.start_minute.max(0) as u32,
        end_minute: w.end_minute.max(0) as u32,
        slot_minutes: w.slot_minutes.max(1) as u32,
    }
}

pub async fn availability(state: &Ctx, caller: &Caller, doctor: Uuid) -> Result<Vec<Window>> {
    require_calendar_owner(caller, doctor)?;
    require_doctor(&state.db, doctor).await?;
    windows(&state.db, doctor).await
}

/// Replace a doctor's weekly availability. Existing appointments stand.
pub async fn replace_availability(
    state: &Ctx,
    caller: &Caller,
    doctor: Uuid,
    new: Vec<Window>,
) -> Result<Vec<Window>> {
    require_calendar_owner(caller, doctor)?;
    require_doctor(&state.db, doctor).await?;
    if new.len() > 50 {
        return Err(Error::validation(
            "windows",
            "too_many_windows",
            "Tối đa 50 khung giờ",
            "At most 50 windows",
        ));
    }
    check_windows(&new)?;
    let stations: BTreeSet<Uuid> = new.iter().map(|w| w.station_id).collect();
    for s in stations {
        if !is_station_doctor(&state.db, s, doctor).await? {
            return Err(Error::validation(
                "station_id",
                "not_at_station",
                "Bác sĩ không thuộc trạm y tế này",
                "The doctor does not work at this station",
            ));
        }
    }
    let now = state.clock.now();
    state
        .db
        .transaction(async |tx| {
            tx.lock_key(doctor).await?;
            repo::delete_windows(&mut *tx, doctor).await?;
            for w in &new {
                let row = WindowRow {
                    station_id: w.station_id,
                    weekday: w.weekday as i32,
                    start_minute: w.start_minute as i32,
                    end_minute: w.end_minute as i32,
                    slot_minutes: w.slot_minutes as i32,
                };
                repo::insert_window(&mut *tx, doctor, &row, now).await?;
            }
            Ok::<_, Error>(())
        })
        .await?;
    windows(&state.db, doctor).await
}

pub async fn leave_days(state: &Ctx, caller: &Caller, doctor: Uuid) -> Result<Vec<LeaveDay>> {
    require_calendar_owner(caller, doctor)?;
    require_doctor(&state.db, doctor).await?;
    let today = state
        .clock
        .now()
        .with_timezone(&ward_offset(state))
        .date_naive();
    Ok(repo::leave_days(&state.db, doctor, today).await?)
}

/// Mark days `from..=to` as leave. Appointments already booked on them are cancelled and the
/// residents told to book again. Returns how many appointments were cancelled.
pub async fn add_leave(
    state: &Ctx,
    caller: &Caller,
    doctor: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    reason: &str,
) -> Result<usize> {
    require_calendar_owner(caller, doctor)?;
    require_doctor(&state.db, doctor).await?;
    let reason = validate_text(reason, "reason", 300)?;
    let offset = ward_offset(state);
    let now = state.clock.now();
    let today = now.with_timezone(&offset).date_naive();
    if to < from {
        return Err(Error::validation(
            "to",
            "invalid_range",
            "Ngày kết thúc trước ngày bắt đầu",
            "`to` is before `from`",
        ));
    }
    if from < today {
        return Err(Error::validation(
            "from",
            "in_the_past",
            "Không thể đăng ký nghỉ cho ngày đã qua",
            "Leave cannot start in the past",
        ));
    }
    if (to - from).num_days() > 90 {
        return Err(Error::validation(
            "to",
            "range_too_long",
            "Mỗi lần đăng ký nghỉ tối đa 91 ngày",
            "At most 91 days at a time",
        ));
    }
    let start = local_midnight(from, offset);
    let end = local_midnight(to, offset) + Duration::days(1);
    let (affected, pushes) = state
        .db
        .transaction(async |tx| {
            tx.lock_key(doctor).await?;
            let mut day = from;
            while day <= to {
                repo::add_leave_day(&mut *tx, doctor, day, &reason, now).await?;
                day = day
                    .succ_opt()
                    .ok_or(Error::BadRequest("date out of range".into()))?;
            }
            let affected = appointments::booked_between(&mut *tx, doctor, start, end).await?;
            let mut pushes = vec![];
            for a in &affected {
                set_cancelled(tx, a.appointment_id, caller.account_id, "doctor_leave", now).await?;
                let when = local_text(a.starts_at, offset);
                pushes.push(
                    notify(
                        tx,
                        a.resident_id,
                        About::Appointment(a.appointment_id),
                        NotificationKind::AppointmentCancelled,
                        format!("Lịch khám lúc {when} bị huỷ vì bác sĩ nghỉ. Vui lòng đặt lịch khác."),
                        format!(
                            "Your appointment at {when} was cancelled: the doctor is on leave. Please book again."
                        ),
                        now,
                    )
                    .await?,
                );
            }
            Ok::<_, Error>((affected, pushes))
        })
        .await?;
    send_pushes(&*state.notifier, pushes).await;
    Ok(affected.len())
}

pub async fn remove_leave(
    state: &Ctx,
    caller: &Caller,
    doctor: Uuid,
    day: NaiveDate,
) -> Result<()> {
    require_calendar_owner(caller, doctor)?;
    require_doctor(&state.db, doctor).await?;
    repo::remove_leave_day(&state.db, doctor, day).await?;
    Ok(())
}

pub(super) fn local_midnight(day: NaiveDate, offset: FixedOffset) -> DateTime<Utc> {
    let naive = day.and_time(NaiveTime::MIN);
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}
