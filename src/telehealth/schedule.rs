//! The station's directory (where, when open, which doctors), doctors' weekly availability and leave
//! days, the bookable slots computed from them, appointments and their reminders.
//!
//! Slots are never stored: a slot is a start time that a doctor's weekly window produces on a day
//! that is not a leave day or public holiday, and that no live appointment holds. The database keeps
//! the one rule that matters under load: at most one live appointment per doctor and start time
//! (`appointments_slot_key`), and bookings of one doctor run one at a time ([`Tx::lock_key`]).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Timelike, Utc,
};
use uuid::Uuid;

use super::{About, Symptom, local_text, notify, send_pushes, validate_reason, validate_text};
use crate::auth::{Caller, Role, repo as accounts};
use crate::error::{Error, Result};
use crate::reports::push::Push;
use crate::store::{Db, Tx, idempotency, is_unique_violation};
use crate::telehealth::Ctx;
use crate::{on_db, on_tx};

// ---------------------------------------------------------------------------------------------
// Directory
// ---------------------------------------------------------------------------------------------

/// A health station as residents see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StationRow {
    pub station_id: Uuid,
    pub name: String,
    pub address: String,
    pub phone: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub opening_hours: String,
}

/// A doctor as residents see them.
#[derive(Debug, Clone)]
pub struct Doctor {
    pub account_id: Uuid,
    pub name: String,
    pub title: String,
    pub specialty: String,
    /// Set for visiting specialists from a city hospital.
    pub hospital: Option<String>,
    pub stations: Vec<Uuid>,
    /// The station where the doctor is taking on-demand patients now.
    pub on_duty_at: Option<Uuid>,
}

pub async fn stations(db: &Db) -> Result<Vec<StationRow>> {
    Ok(on_db!(db, pool => sqlx::query_as::<_, StationRow>(
        "SELECT station_id, name, address, phone, lat, lon, opening_hours FROM stations ORDER BY name",
    )
    .fetch_all(pool)
    .await)?)
}

pub async fn station(db: &Db, id: Uuid) -> Result<StationRow> {
    on_db!(db, pool => sqlx::query_as::<_, StationRow>(
        "SELECT station_id, name, address, phone, lat, lon, opening_hours FROM stations WHERE station_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)?
    .ok_or(Error::NotFound("station_not_found"))
}

/// Every enabled doctor account, with profile, stations and duty.
pub async fn doctors(db: &Db) -> Result<Vec<Doctor>> {
    type Row = (
        Uuid,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<Uuid>,
    );
    let rows = on_db!(db, pool => sqlx::query_as::<_, Row>(
        "SELECT a.account_id, a.display_name, p.title, p.specialty, p.hospital, d.station_id
         FROM accounts a
         LEFT JOIN doctor_profiles p ON p.account_id = a.account_id
         LEFT JOIN doctor_duty d ON d.doctor_id = a.account_id
         WHERE a.role = 'doctor' AND a.disabled_at IS NULL
         ORDER BY a.display_name, a.account_id",
    )
    .fetch_all(pool)
    .await)?;
    let memberships = on_db!(db, pool => sqlx::query_as::<_, (Uuid, Uuid)>(
        "SELECT account_id, station_id FROM station_doctors ORDER BY created_at",
    )
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .map(
            |(account_id, name, title, specialty, hospital, on_duty_at)| Doctor {
                account_id,
                name,
                title: title.unwrap_or_default(),
                specialty: specialty.unwrap_or_default(),
                hospital,
                stations: memberships
                    .iter()
                    .filter(|(a, _)| *a == account_id)
                    .map(|(_, s)| *s)
                    .collect(),
                on_duty_at,
            },
        )
        .collect())
}

/// Whether the account is a doctor of the station.
pub async fn is_station_doctor(db: &Db, station: Uuid, doctor: Uuid) -> Result<bool> {
    let n = on_db!(db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM station_doctors WHERE station_id = $1 AND account_id = $2",
    )
    .bind(station)
    .bind(doctor)
    .fetch_one(pool)
    .await)?;
    Ok(n > 0)
}

/// The account must exist, be enabled and be a doctor.
pub async fn require_doctor(db: &Db, id: Uuid) -> Result<crate::auth::Account> {
    let account = accounts::account_by_id(db, id)
        .await?
        .filter(|a| a.role == Role::Doctor && a.disabled_at.is_none())
        .ok_or(Error::NotFound("doctor_not_found"))?;
    Ok(account)
}

/// Station details an admin maintains.
#[derive(Debug, Default, Clone)]
pub struct StationPatch {
    pub address: Option<String>,
    pub phone: Option<String>,
    pub location: Option<(f64, f64)>,
    pub opening_hours: Option<String>,
}

pub async fn update_station(state: &Ctx, id: Uuid, patch: StationPatch) -> Result<StationRow> {
    let current = station(&state.db, id).await?;
    let address = match patch.address {
        Some(a) => validate_text(&a, "address", 300)?,
        None => current.address,
    };
    let phone = match patch.phone {
        Some(p) => {
            let p = p.trim().to_string();
            if p.chars().count() > 30
                || !p
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-.()".contains(c))
            {
                return Err(Error::validation(
                    "phone",
                    "invalid_phone",
                    "Số điện thoại không hợp lệ",
                    "Invalid phone number",
                ));
            }
            p
        }
        None => current.phone,
    };
    let (lat, lon) = match patch.location {
        Some((lat, lon)) => {
            let p = crate::geo::Point::parse(lat, lon)?;
            (Some(p.lat), Some(p.lon))
        }
        None => (current.lat, current.lon),
    };
    let opening_hours = match patch.opening_hours {
        Some(h) => validate_text(&h, "opening_hours", 200)?,
        None => current.opening_hours,
    };
    on_db!(&state.db, pool => sqlx::query(
        "UPDATE stations SET address = $2, phone = $3, lat = $4, lon = $5, opening_hours = $6, updated_at = $7
         WHERE station_id = $1",
    )
    .bind(id)
    .bind(&address)
    .bind(&phone)
    .bind(lat)
    .bind(lon)
    .bind(&opening_hours)
    .bind(state.clock.now())
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    station(&state.db, id).await
}

/// Set what residents see about a doctor (admins).
pub async fn set_profile(
    state: &Ctx,
    doctor: Uuid,
    title: &str,
    specialty: &str,
    hospital: Option<&str>,
) -> Result<()> {
    require_doctor(&state.db, doctor).await?;
    let title = validate_text(title, "title", 100)?;
    let specialty = validate_text(specialty, "specialty", 200)?;
    let hospital = match hospital {
        Some(h) => Some(validate_text(h, "hospital", 200)?).filter(|h| !h.is_empty()),
        None => None,
    };
    let now = state.clock.now();
    on_db!(&state.db, pool => sqlx::query(
        "INSERT INTO doctor_profiles (account_id, title, specialty, hospital, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (account_id) DO UPDATE SET title = $2, specialty = $3, hospital = $4, updated_at = $5",
    )
    .bind(doctor)
    .bind(&title)
    .bind(&specialty)
    .bind(&hospital)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Weekly availability and leave
// ---------------------------------------------------------------------------------------------

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
    fn starts_slot_at(&self, minute: u32) -> bool {
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
    let rows = on_db!(db, pool => sqlx::query_as::<_, (Uuid, i32, i32, i32, i32)>(
        "SELECT station_id, weekday, start_minute, end_minute, slot_minutes FROM availability
         WHERE doctor_id = $1 ORDER BY weekday, start_minute",
    )
    .bind(doctor)
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().map(window_of).collect())
}

fn window_of((station_id, weekday, start, end, slot): (Uuid, i32, i32, i32, i32)) -> Window {
    Window {
        station_id,
        weekday: weekday.max(0) as u32,
        start_minute: start.max(0) as u32,
        end_minute: end.max(0) as u32,
        slot_minutes: slot.max(1) as u32,
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
    let mut tx = state.db.begin().await?;
    tx.lock_key(doctor).await?;
    on_tx!(&mut tx, conn => sqlx::query("DELETE FROM availability WHERE doctor_id = $1")
        .bind(doctor).execute(conn).await.map(|r| r.rows_affected()))?;
    for w in &new {
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO availability (availability_id, doctor_id, station_id, weekday, start_minute, end_minute, slot_minutes, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(Uuid::now_v7())
        .bind(doctor)
        .bind(w.station_id)
        .bind(w.weekday as i32)
        .bind(w.start_minute as i32)
        .bind(w.end_minute as i32)
        .bind(w.slot_minutes as i32)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    windows(&state.db, doctor).await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeaveDay {
    pub day: NaiveDate,
    pub reason: String,
}

pub async fn leave_days(state: &Ctx, caller: &Caller, doctor: Uuid) -> Result<Vec<LeaveDay>> {
    require_calendar_owner(caller, doctor)?;
    require_doctor(&state.db, doctor).await?;
    let today = state
        .clock
        .now()
        .with_timezone(&super::ward_offset(state))
        .date_naive();
    Ok(on_db!(&state.db, pool => sqlx::query_as::<_, LeaveDay>(
        "SELECT day, reason FROM leave_days WHERE doctor_id = $1 AND day >= $2 ORDER BY day",
    )
    .bind(doctor)
    .bind(today)
    .fetch_all(pool)
    .await)?)
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
    let offset = super::ward_offset(state);
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
    let mut tx = state.db.begin().await?;
    tx.lock_key(doctor).await?;
    let mut day = from;
    while day <= to {
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO leave_days (doctor_id, day, reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (doctor_id, day) DO UPDATE SET reason = $3, updated_at = $4",
        )
        .bind(doctor)
        .bind(day)
        .bind(&reason)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        day = day
            .succ_opt()
            .ok_or(Error::BadRequest("date out of range".into()))?;
    }
    let affected = on_tx!(&mut tx, conn => sqlx::query_as::<_, AppointmentRow>(concat!(
        "SELECT ", appointment_columns!(), " FROM appointments
         WHERE doctor_id = $1 AND status = 'booked' AND starts_at >= $2 AND starts_at < $3",
    ))
    .bind(doctor)
    .bind(start)
    .bind(end)
    .fetch_all(conn)
    .await)?;
    let mut pushes = vec![];
    for a in &affected {
        set_cancelled(
            &mut tx,
            a.appointment_id,
            caller.account_id,
            "doctor_leave",
            now,
        )
        .await?;
        let when = local_text(a.starts_at, offset);
        pushes.push(
            notify(
                &mut tx,
                a.resident_id,
                About::Appointment(a.appointment_id),
                "appointment_cancelled",
                format!("Lịch khám lúc {when} bị huỷ vì bác sĩ nghỉ. Vui lòng đặt lịch khác."),
                format!(
                    "Your appointment at {when} was cancelled: the doctor is on leave. Please book again."
                ),
                now,
            )
            .await?,
        );
    }
    tx.commit().await?;
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
    on_db!(&state.db, pool => sqlx::query("DELETE FROM leave_days WHERE doctor_id = $1 AND day = $2")
        .bind(doctor).bind(day).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

fn local_midnight(day: NaiveDate, offset: FixedOffset) -> DateTime<Utc> {
    let naive = day.and_time(NaiveTime::MIN);
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

// ---------------------------------------------------------------------------------------------
// Slots
// ---------------------------------------------------------------------------------------------

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
    let rows = on_db!(&state.db, pool => sqlx::query_as::<_, (Uuid, Uuid, i32, i32, i32, i32)>(
        "SELECT av.doctor_id, av.station_id, av.weekday, av.start_minute, av.end_minute, av.slot_minutes
         FROM availability av JOIN accounts a ON a.account_id = av.doctor_id
         WHERE a.disabled_at IS NULL AND ($1 IS NULL OR av.station_id = $1) AND ($2 IS NULL OR av.doctor_id = $2)",
    )
    .bind(station)
    .bind(doctor)
    .fetch_all(pool)
    .await)?;
    let mut windows: HashMap<Uuid, Vec<Window>> = HashMap::new();
    for (doctor, station, wd, s, e, len) in rows {
        windows
            .entry(doctor)
            .or_default()
            .push(window_of((station, wd, s, e, len)));
    }
    if windows.is_empty() || to <= from {
        return Ok(vec![]);
    }
    let offset = super::ward_offset(state);
    let leave: HashSet<(Uuid, NaiveDate)> =
        on_db!(&state.db, pool => sqlx::query_as::<_, (Uuid, NaiveDate)>(
        "SELECT doctor_id, day FROM leave_days WHERE day >= $1 AND day <= $2",
    )
    .bind(from.with_timezone(&offset).date_naive())
    .bind(to.with_timezone(&offset).date_naive())
    .fetch_all(pool)
    .await)?
        .into_iter()
        .collect();
    let taken: HashSet<(Uuid, DateTime<Utc>)> = on_db!(&state.db, pool => sqlx::query_as::<_, (Uuid, DateTime<Utc>)>(
        "SELECT doctor_id, starts_at FROM appointments
         WHERE status <> 'cancelled' AND starts_at >= $1 AND starts_at < $2 AND ($3 IS NULL OR doctor_id = $3)",
    )
    .bind(from - Duration::hours(2))
    .bind(to)
    .bind(doctor)
    .fetch_all(pool)
    .await)?
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

async fn station_exists(db: &Db, id: Uuid) -> Result<()> {
    station(db, id).await.map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Appointments
// ---------------------------------------------------------------------------------------------

/// Where an appointment is in its life (FHIR Appointment.status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Booked,
    /// The resident arrived in the waiting room (FHIR `arrived`).
    CheckedIn,
    Fulfilled,
    Cancelled,
    Noshow,
}

impl AppointmentStatus {
    pub fn parse(s: &str) -> Option<AppointmentStatus> {
        Some(match s {
            "booked" => AppointmentStatus::Booked,
            "checked_in" => AppointmentStatus::CheckedIn,
            "fulfilled" => AppointmentStatus::Fulfilled,
            "cancelled" => AppointmentStatus::Cancelled,
            "noshow" => AppointmentStatus::Noshow,
            _ => return None,
        })
    }
}

macro_rules! appointment_columns {
    () => {
        "appointment_id, resident_id, doctor_id, station_id, starts_at, ends_at, status, reason, symptom, cancelled_by, cancel_reason, created_at, updated_at"
    };
}
pub(crate) use appointment_columns;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppointmentRow {
    pub appointment_id: Uuid,
    pub resident_id: Uuid,
    pub doctor_id: Uuid,
    pub station_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: String,
    pub reason: String,
    pub symptom: Option<String>,
    pub cancelled_by: Option<Uuid>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AppointmentRow {
    pub fn status(&self) -> Result<AppointmentStatus> {
        AppointmentStatus::parse(&self.status).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("bad appointment status {}", self.status))
        })
    }
}

pub async fn appointment_row(db: &Db, id: Uuid) -> Result<Option<AppointmentRow>> {
    Ok(
        on_db!(db, pool => sqlx::query_as::<_, AppointmentRow>(concat!(
        "SELECT ", appointment_columns!(), " FROM appointments WHERE appointment_id = $1",
    ))
    .bind(id)
    .fetch_optional(pool)
    .await)?,
    )
}

/// The appointment, if the caller is its resident or its doctor (404 for anyone else: another
/// person's appointment does not exist for you; staff and admins have no access at all).
pub async fn appointment(state: &Ctx, caller: &Caller, id: Uuid) -> Result<AppointmentRow> {
    caller.require(&[Role::Resident, Role::Doctor])?;
    let row = appointment_row(&state.db, id)
        .await?
        .ok_or(Error::NotFound("appointment_not_found"))?;
    if row.resident_id != caller.account_id && row.doctor_id != caller.account_id {
        return Err(Error::NotFound("appointment_not_found"));
    }
    Ok(row)
}

/// The caller's appointments (as resident or as doctor) starting in `[from, to)`, by time.
pub async fn appointments(
    state: &Ctx,
    caller: &Caller,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<AppointmentRow>> {
    caller.require(&[Role::Resident, Role::Doctor])?;
    let now = state.clock.now();
    let from = from.unwrap_or(now - Duration::days(30));
    let to = to.unwrap_or(now + Duration::days(90));
    if to <= from || to - from > Duration::days(366) {
        return Err(Error::validation(
            "to",
            "invalid_range",
            "Khoảng thời gian không hợp lệ (tối đa 366 ngày)",
            "Invalid range (at most 366 days)",
        ));
    }
    Ok(
        on_db!(&state.db, pool => sqlx::query_as::<_, AppointmentRow>(concat!(
        "SELECT ", appointment_columns!(), " FROM appointments
         WHERE (resident_id = $1 OR doctor_id = $1) AND starts_at >= $2 AND starts_at < $3
         ORDER BY starts_at LIMIT 500",
    ))
    .bind(caller.account_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await)?,
    )
}

/// A resident's booking request.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub doctor_id: Uuid,
    pub station_id: Uuid,
    pub start: DateTime<Utc>,
    pub reason: String,
    pub symptom: Option<Symptom>,
}

/// Check that `start` is a real, future, bookable slot of the doctor at the station; returns its end.
async fn bookable(
    state: &Ctx,
    doctor: Uuid,
    station: Uuid,
    start: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    station_exists(&state.db, station).await?;
    require_doctor(&state.db, doctor).await?;
    let now = state.clock.now();
    if start <= now {
        return Err(Error::validation(
            "start",
            "slot_in_past",
            "Không thể đặt lịch vào thời điểm đã qua",
            "That time has passed",
        ));
    }
    if start > now + Duration::days(state.settings.telehealth_booking_days.into()) {
        return Err(Error::validation(
            "start",
            "beyond_booking_horizon",
            "Chưa mở đặt lịch cho ngày này",
            "Bookings are not open that far ahead",
        ));
    }
    let offset = super::ward_offset(state);
    let windows = windows(&state.db, doctor).await?;
    let Some(w) = window_for(&windows, station, start, offset) else {
        return Err(Error::validation(
            "start",
            "not_a_slot",
            "Bác sĩ không có lượt khám vào thời điểm này tại trạm này",
            "The doctor has no slot at this time at this station",
        ));
    };
    let day = start.with_timezone(&offset).date_naive();
    let on_leave = on_db!(&state.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM leave_days WHERE doctor_id = $1 AND day = $2",
    )
    .bind(doctor)
    .bind(day)
    .fetch_one(pool)
    .await)?;
    if on_leave > 0 || state.calendar.holidays().contains(&day) {
        return Err(Error::validation(
            "start",
            "not_a_slot",
            "Bác sĩ nghỉ vào ngày này",
            "The doctor is not available that day",
        ));
    }
    Ok(start + Duration::minutes(w.slot_minutes.into()))
}

/// Inside a transaction holding the doctor's lock: the slot is still free (no live appointment of
/// the doctor overlaps it) and the resident is not double-booked or over their limit.
async fn claim_slot(
    tx: &mut Tx,
    state: &Ctx,
    resident: Uuid,
    doctor: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<Uuid>,
) -> Result<()> {
    let clash = on_tx!(tx, conn => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM appointments
         WHERE doctor_id = $1 AND status <> 'cancelled' AND starts_at < $3 AND ends_at > $2
           AND ($4 IS NULL OR appointment_id <> $4)",
    )
    .bind(doctor)
    .bind(start)
    .bind(end)
    .bind(except)
    .fetch_one(conn)
    .await)?;
    if clash > 0 {
        return Err(Error::Conflict("slot_taken"));
    }
    let mine = on_tx!(tx, conn => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM appointments
         WHERE resident_id = $1 AND status IN ('booked', 'checked_in') AND starts_at < $3 AND ends_at > $2
           AND ($4 IS NULL OR appointment_id <> $4)",
    )
    .bind(resident)
    .bind(start)
    .bind(end)
    .bind(except)
    .fetch_one(conn)
    .await)?;
    if mine > 0 {
        return Err(Error::Conflict("overlapping_appointment"));
    }
    if except.is_none() {
        let open = on_tx!(tx, conn => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM appointments WHERE resident_id = $1 AND status = 'booked' AND starts_at > $2",
        )
        .bind(resident)
        .bind(state.clock.now())
        .fetch_one(conn)
        .await)?;
        if open >= i64::from(state.settings.telehealth_max_open_appointments) {
            return Err(Error::Conflict("too_many_appointments"));
        }
    }
    Ok(())
}

/// Book a slot. Exactly one of any number of concurrent bookings of a slot succeeds; the others
/// get 409 `slot_taken`.
pub async fn book(
    state: &Ctx,
    caller: &Caller,
    new: NewBooking,
    idempotency: Option<&idempotency::Key>,
) -> Result<AppointmentRow> {
    caller.require(&[Role::Resident])?;
    let reason = validate_reason(&new.reason)?;
    let end = bookable(state, new.doctor_id, new.station_id, new.start).await?;
    let now = state.clock.now();
    let id = Uuid::now_v7();
    let mut tx = state.db.begin().await?;
    tx.lock_key(new.doctor_id).await?;
    claim_slot(
        &mut tx,
        state,
        caller.account_id,
        new.doctor_id,
        new.start,
        end,
        None,
    )
    .await?;
    let inserted = on_tx!(&mut tx, conn => sqlx::query(
        "INSERT INTO appointments (appointment_id, resident_id, doctor_id, station_id, starts_at, ends_at, status, reason, symptom, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7, $8, $9, $9)",
    )
    .bind(id)
    .bind(caller.account_id)
    .bind(new.doctor_id)
    .bind(new.station_id)
    .bind(new.start)
    .bind(end)
    .bind(&reason)
    .bind(new.symptom.map(Symptom::as_str))
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()));
    match inserted {
        Err(e) if is_unique_violation(&e, "appointments_slot_key", "appointments.doctor_id") => {
            return Err(Error::Conflict("slot_taken"));
        }
        other => {
            other?;
        }
    }
    if let Some(k) = idempotency {
        idempotency::complete(&mut tx, k, &id.to_string(), now).await?;
    }
    tx.commit().await?;
    appointment_row(&state.db, id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("appointment vanished")))
}

async fn set_cancelled(
    tx: &mut Tx,
    id: Uuid,
    by: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_tx!(tx, conn => sqlx::query(
        "UPDATE appointments SET status = 'cancelled', cancelled_by = $2, cancel_reason = $3, updated_at = $4
         WHERE appointment_id = $1 AND status IN ('booked', 'checked_in')",
    )
    .bind(id)
    .bind(by)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Who is acting on an appointment, and whether the resident's cut-off applies.
fn actor_on(caller: &Caller, row: &AppointmentRow) -> Result<Role> {
    if caller.role == Role::Resident && row.resident_id == caller.account_id {
        Ok(Role::Resident)
    } else if caller.role == Role::Doctor && row.doctor_id == caller.account_id {
        Ok(Role::Doctor)
    } else if matches!(caller.role, Role::Resident | Role::Doctor) {
        Err(Error::NotFound("appointment_not_found"))
    } else {
        Err(Error::Forbidden)
    }
}

fn check_cutoff(state: &Ctx, row: &AppointmentRow) -> Result<()> {
    let cutoff =
        row.starts_at - Duration::minutes(state.settings.telehealth_cancel_cutoff_minutes.into());
    if state.clock.now() > cutoff {
        return Err(Error::Conflict("cutoff_passed"));
    }
    Ok(())
}

/// Cancel: the resident up to the cut-off before the start, the doctor at any time. The other
/// side is notified.
pub async fn cancel(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    reason: &str,
) -> Result<AppointmentRow> {
    let row = appointment_row(&state.db, id)
        .await?
        .ok_or(Error::NotFound("appointment_not_found"))?;
    let actor = actor_on(caller, &row)?;
    let reason = validate_text(reason, "reason", 500)?;
    if row.status()? != AppointmentStatus::Booked {
        return Err(Error::Conflict("appointment_not_booked"));
    }
    if actor == Role::Resident {
        check_cutoff(state, &row)?;
    }
    let now = state.clock.now();
    let offset = super::ward_offset(state);
    let when = local_text(row.starts_at, offset);
    let mut tx = state.db.begin().await?;
    if !set_cancelled(&mut tx, id, caller.account_id, &reason, now).await? {
        return Err(Error::Conflict("appointment_not_booked"));
    }
    let push = if actor == Role::Doctor {
        notify(
            &mut tx,
            row.resident_id,
            About::Appointment(id),
            "appointment_cancelled",
            format!("Bác sĩ đã huỷ lịch khám lúc {when}. Vui lòng đặt lịch khác."),
            format!("The doctor cancelled your appointment at {when}. Please book again."),
            now,
        )
        .await?
    } else {
        notify(
            &mut tx,
            row.doctor_id,
            About::Appointment(id),
            "appointment_cancelled",
            format!("Người dân đã huỷ lịch khám lúc {when}."),
            format!("The resident cancelled the appointment at {when}."),
            now,
        )
        .await?
    };
    tx.commit().await?;
    send_pushes(&*state.notifier, vec![push]).await;
    appointment_row(&state.db, id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("appointment vanished")))
}

/// Move an appointment to another free slot of the same doctor and station (the resident up to
/// the cut-off, the doctor at any time). The reminders start over; the other side is notified.
pub async fn reschedule(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    start: DateTime<Utc>,
) -> Result<AppointmentRow> {
    let row = appointment_row(&state.db, id)
        .await?
        .ok_or(Error::NotFound("appointment_not_found"))?;
    let actor = actor_on(caller, &row)?;
    if row.status()? != AppointmentStatus::Booked {
        return Err(Error::Conflict("appointment_not_booked"));
    }
    if actor == Role::Resident {
        check_cutoff(state, &row)?;
    }
    let end = bookable(state, row.doctor_id, row.station_id, start).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    tx.lock_key(row.doctor_id).await?;
    claim_slot(
        &mut tx,
        state,
        row.resident_id,
        row.doctor_id,
        start,
        end,
        Some(id),
    )
    .await?;
    let moved = on_tx!(&mut tx, conn => sqlx::query(
        "UPDATE appointments SET starts_at = $2, ends_at = $3, reminded_24h_at = NULL, reminded_15m_at = NULL, updated_at = $4
         WHERE appointment_id = $1 AND status = 'booked'",
    )
    .bind(id)
    .bind(start)
    .bind(end)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()));
    match moved {
        Err(e) if is_unique_violation(&e, "appointments_slot_key", "appointments.doctor_id") => {
            return Err(Error::Conflict("slot_taken"));
        }
        Ok(0) => return Err(Error::Conflict("appointment_not_booked")),
        other => {
            other?;
        }
    }
    let offset = super::ward_offset(state);
    let (old, new) = (local_text(row.starts_at, offset), local_text(start, offset));
    let (to, vi, en) = if actor == Role::Doctor {
        (
            row.resident_id,
            format!("Bác sĩ đã dời lịch khám từ {old} sang {new}."),
            format!("The doctor moved your appointment from {old} to {new}."),
        )
    } else {
        (
            row.doctor_id,
            format!("Người dân đã dời lịch khám từ {old} sang {new}."),
            format!("The resident moved the appointment from {old} to {new}."),
        )
    };
    let push = notify(
        &mut tx,
        to,
        About::Appointment(id),
        "appointment_rescheduled",
        vi,
        en,
        now,
    )
    .await?;
    tx.commit().await?;
    send_pushes(&*state.notifier, vec![push]).await;
    appointment_row(&state.db, id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("appointment vanished")))
}

/// Check in for a booked appointment: the resident enters the station's waiting room, ahead of
/// on-demand patients who came later than the booked time. Allowed from
/// `telehealth_check_in_minutes` before the start until that long after it.
pub async fn check_in(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> Result<super::queue::ConsultationRow> {
    caller.require(&[Role::Resident])?;
    let row = appointment(state, caller, id).await?;
    if row.resident_id != caller.account_id {
        return Err(Error::NotFound("appointment_not_found"));
    }
    if row.status()? != AppointmentStatus::Booked {
        return Err(Error::Conflict("appointment_not_booked"));
    }
    let now = state.clock.now();
    let window = Duration::minutes(state.settings.telehealth_check_in_minutes.into());
    if now < row.starts_at - window || now > row.starts_at + window {
        return Err(Error::Conflict("outside_check_in_window"));
    }
    let mut tx = state.db.begin().await?;
    let n = on_tx!(&mut tx, conn => sqlx::query(
        "UPDATE appointments SET status = 'checked_in', updated_at = $2 WHERE appointment_id = $1 AND status = 'booked'",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if n != 1 {
        return Err(Error::Conflict("appointment_not_booked"));
    }
    let entry = super::queue::Enqueue {
        station_id: row.station_id,
        resident_id: row.resident_id,
        doctor_id: Some(row.doctor_id),
        appointment_id: Some(id),
        reason: row.reason.clone(),
        symptom: row.symptom.as_deref().and_then(Symptom::parse),
        priority_at: row.starts_at,
    };
    let consultation = super::queue::enqueue(&mut tx, entry, now).await?;
    tx.commit().await?;
    super::queue::consultation_row(&state.db, consultation)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("consultation vanished")))
}

/// Inbox reminders 24 hours and 15 minutes before each booked appointment. Each is claimed by a
/// conditional update, so several instances sweeping at once send it once.
pub async fn send_reminders(state: &Ctx) -> Result<usize> {
    let now = state.clock.now();
    let offset = super::ward_offset(state);
    let due = on_db!(&state.db, pool => sqlx::query_as::<_, AppointmentRow>(concat!(
        "SELECT ", appointment_columns!(), " FROM appointments
         WHERE status = 'booked' AND starts_at > $1 AND starts_at <= $2
           AND (reminded_24h_at IS NULL OR (reminded_15m_at IS NULL AND starts_at <= $3))
         ORDER BY starts_at LIMIT 500",
    ))
    .bind(now)
    .bind(now + Duration::hours(24))
    .bind(now + Duration::minutes(15))
    .fetch_all(pool)
    .await)?;
    let mut pushes: Vec<Push> = vec![];
    let mut sent = 0;
    for a in due {
        let soon = a.starts_at <= now + Duration::minutes(15);
        let when = local_text(a.starts_at, offset);
        let mut tx = state.db.begin().await?;
        // The 15-minute reminder makes the day-before one moot when both fall due together.
        let claimed = if soon {
            on_tx!(&mut tx, conn => sqlx::query(
                "UPDATE appointments SET reminded_15m_at = $2, reminded_24h_at = COALESCE(reminded_24h_at, $2), updated_at = $2
                 WHERE appointment_id = $1 AND reminded_15m_at IS NULL AND status = 'booked'",
            )
            .bind(a.appointment_id)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?
        } else {
            on_tx!(&mut tx, conn => sqlx::query(
                "UPDATE appointments SET reminded_24h_at = $2, updated_at = $2
                 WHERE appointment_id = $1 AND reminded_24h_at IS NULL AND status = 'booked'",
            )
            .bind(a.appointment_id)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?
        };
        if claimed != 1 {
            continue;
        }
        let (kind, vi, en) = if soon {
            (
                "appointment_reminder_15m",
                format!("Sắp đến giờ khám ({when}). Hãy vào phòng chờ trên ứng dụng."),
                format!(
                    "Your consultation starts soon ({when}). Check in to the waiting room in the app."
                ),
            )
        } else {
            (
                "appointment_reminder_24h",
                format!("Nhắc lịch: bạn có lịch khám từ xa lúc {when}."),
                format!("Reminder: you have a video consultation at {when}."),
            )
        };
        pushes.push(
            notify(
                &mut tx,
                a.resident_id,
                About::Appointment(a.appointment_id),
                kind,
                vi,
                en,
                now,
            )
            .await?,
        );
        tx.commit().await?;
        sent += 1;
    }
    send_pushes(&*state.notifier, pushes).await;
    Ok(sent)
}

/// Booked appointments whose check-in window closed without the resident arriving are no-shows.
pub async fn mark_no_shows(state: &Ctx) -> Result<usize> {
    let now = state.clock.now();
    let window = Duration::minutes(state.settings.telehealth_check_in_minutes.into());
    let n = on_db!(&state.db, pool => sqlx::query(
        "UPDATE appointments SET status = 'noshow', updated_at = $1 WHERE status = 'booked' AND starts_at < $2",
    )
    .bind(now)
    .bind(now - window)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vn() -> FixedOffset {
        FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| unreachable!())
    }

    fn w(weekday: u32, start: u32, end: u32, slot: u32) -> Window {
        Window {
            station_id: Uuid::nil(),
            weekday,
            start_minute: start,
            end_minute: end,
            slot_minutes: slot,
        }
    }

    #[test]
    fn overlapping_windows_are_refused_touching_ones_are_not() {
        assert!(check_windows(&[w(1, 480, 600, 15), w(1, 600, 660, 15)]).is_ok());
        assert!(check_windows(&[w(1, 480, 600, 15), w(1, 590, 660, 15)]).is_err());
        assert!(check_windows(&[w(1, 480, 600, 15), w(2, 480, 600, 15)]).is_ok());
        assert!(check_windows(&[w(8, 480, 600, 15)]).is_err());
        assert!(check_windows(&[w(1, 600, 480, 15)]).is_err());
        assert!(check_windows(&[w(1, 480, 490, 15)]).is_err());
        assert!(check_windows(&[w(1, 480, 600, 3)]).is_err());
        assert!(check_windows(&[w(1, 480, 1441, 15)]).is_err());
    }

    #[test]
    fn clock_text_round_trips() {
        assert_eq!(parse_clock("07:30", "x").ok(), Some(450));
        assert_eq!(parse_clock("24:00", "x").ok(), Some(1440));
        assert!(parse_clock("7h30", "x").is_err());
        assert!(parse_clock("25:00", "x").is_err());
        assert_eq!(format_clock(450), "07:30");
    }

    #[test]
    fn slots_follow_windows_skip_leave_holidays_and_taken_ones() {
        let doctor = Uuid::now_v7();
        // Monday 2026-11-30, 08:00–09:00 local in 15-minute slots.
        let windows = HashMap::from([(doctor, vec![w(1, 480, 540, 15)])]);
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
        let from = local_midnight(monday, vn()) - Duration::days(1);
        let to = from + Duration::days(14);
        let taken_at = local_midnight(monday, vn()) + Duration::minutes(495);
        let taken = HashSet::from([(doctor, taken_at)]);
        let leave = HashSet::from([(doctor, monday + Duration::days(7))]);
        let holidays = BTreeSet::new();
        let cal = Calendar {
            windows: &windows,
            leave: &leave,
            holidays: &holidays,
            taken: &taken,
            offset: vn(),
        };
        let slots = free_slots(&cal, None, from, to);
        // Four slots on the first Monday, one taken; the second Monday is leave.
        assert_eq!(slots.len(), 3, "{slots:?}");
        assert_eq!(
            slots[0]
                .start
                .with_timezone(&vn())
                .format("%a %H:%M")
                .to_string(),
            "Mon 08:00"
        );
        assert!(slots.iter().all(|s| s.start != taken_at));
        assert_eq!(slots[0].end - slots[0].start, Duration::minutes(15));
        let holidays = BTreeSet::from([monday]);
        let cal = Calendar {
            holidays: &holidays,
            ..cal
        };
        assert!(free_slots(&cal, None, from, to).is_empty());
    }

    #[test]
    fn a_start_is_a_slot_only_on_the_grid() {
        let windows = [w(1, 480, 540, 15)];
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
        let at = |m: i64| local_midnight(monday, vn()) + Duration::minutes(m);
        assert!(window_for(&windows, Uuid::nil(), at(480), vn()).is_some());
        assert!(window_for(&windows, Uuid::nil(), at(525), vn()).is_some());
        assert!(window_for(&windows, Uuid::nil(), at(540), vn()).is_none());
        assert!(window_for(&windows, Uuid::nil(), at(487), vn()).is_none());
        assert!(window_for(&windows, Uuid::nil(), at(480) + Duration::seconds(1), vn()).is_none());
        assert!(window_for(&windows, Uuid::now_v7(), at(480), vn()).is_none());
        assert!(window_for(&windows, Uuid::nil(), at(480 + 1440), vn()).is_none());
    }
}
