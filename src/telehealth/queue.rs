//! The waiting room and the consultation (FHIR Encounter, class VR) it becomes.
//!
//! ```text
//! waiting ──admit──▶ admitted ──connect──▶ in_call ──end──▶ ended
//!    ▲  │              │  │                         
//!    │  │   requeue /  │  └─ no answer in time ─▶ missed
//!    └──┼── transfer ──┘
//!       └─ resident leaves ─▶ cancelled      doctor declines ─▶ declined
//! ```
//!
//! A resident has at most one live consultation (`consultations_active_resident_key`). Two doctors
//! admitting at once never get the same resident: admission is a conditional update on `waiting`.
//! The WebRTC broker reads [`participant`] and drives [`call_connected`] / [`call_ended`].

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::schedule::{is_station_doctor, require_doctor, station};
use super::{About, Symptom, notify, send_pushes, validate_reason, validate_text};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::{Db, Tx, idempotency, is_unique_violation};
use crate::telehealth::Ctx;
use crate::{on_db, on_tx};

/// Where a consultation is (FHIR Encounter.status, in the ward's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum ConsultationStatus {
    /// In the waiting room (*phòng chờ*).
    Waiting,
    /// A doctor called the resident in; the call is being set up.
    Admitted,
    InCall,
    Ended,
    /// The resident did not answer the doctor's call in time.
    Missed,
    /// The resident left the waiting room.
    Cancelled,
    /// The doctor turned the request down (e.g. needs an in-person visit).
    Declined,
}

impl ConsultationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsultationStatus::Waiting => "waiting",
            ConsultationStatus::Admitted => "admitted",
            ConsultationStatus::InCall => "in_call",
            ConsultationStatus::Ended => "ended",
            ConsultationStatus::Missed => "missed",
            ConsultationStatus::Cancelled => "cancelled",
            ConsultationStatus::Declined => "declined",
        }
    }
    pub fn parse(s: &str) -> Option<ConsultationStatus> {
        [
            ConsultationStatus::Waiting,
            ConsultationStatus::Admitted,
            ConsultationStatus::InCall,
            ConsultationStatus::Ended,
            ConsultationStatus::Missed,
            ConsultationStatus::Cancelled,
            ConsultationStatus::Declined,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
    pub fn is_live(self) -> bool {
        matches!(
            self,
            ConsultationStatus::Waiting | ConsultationStatus::Admitted | ConsultationStatus::InCall
        )
    }
}

/// What happens to a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Admit,
    /// Back to the waiting room (put back, or transferred to a colleague).
    Requeue,
    Connect,
    End,
    Miss,
    Cancel,
    Decline,
}

/// The lifecycle: the status after `event`, or `None` if it cannot happen now.
pub fn next(from: ConsultationStatus, event: Event) -> Option<ConsultationStatus> {
    use ConsultationStatus as S;
    Some(match (from, event) {
        (S::Waiting, Event::Admit) => S::Admitted,
        (S::Waiting | S::Admitted, Event::Requeue) => S::Waiting,
        (S::Admitted, Event::Connect) => S::InCall,
        (S::InCall, Event::End) => S::Ended,
        (S::Admitted, Event::Miss) => S::Missed,
        (S::Waiting | S::Admitted, Event::Cancel) => S::Cancelled,
        (S::Waiting | S::Admitted, Event::Decline) => S::Declined,
        _ => return None,
    })
}

macro_rules! consultation_columns {
    () => {
        "consultation_id, station_id, resident_id, doctor_id, appointment_id, status, reason, symptom, priority_at, queued_at, admitted_at, answer_by, call_started_at, ended_at, end_reason, rating, rating_comment, created_at, updated_at"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsultationRow {
    pub consultation_id: Uuid,
    pub station_id: Uuid,
    pub resident_id: Uuid,
    pub doctor_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub status: String,
    pub reason: String,
    pub symptom: Option<String>,
    pub priority_at: DateTime<Utc>,
    pub queued_at: DateTime<Utc>,
    pub admitted_at: Option<DateTime<Utc>>,
    pub answer_by: Option<DateTime<Utc>>,
    pub call_started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    pub rating: Option<i32>,
    pub rating_comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ConsultationRow {
    pub fn status(&self) -> Result<ConsultationStatus> {
        ConsultationStatus::parse(&self.status).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("bad consultation status {}", self.status))
        })
    }
}

pub async fn consultation_row(db: &Db, id: Uuid) -> Result<Option<ConsultationRow>> {
    Ok(
        on_db!(db, pool => sqlx::query_as::<_, ConsultationRow>(concat!(
        "SELECT ", consultation_columns!(), " FROM consultations WHERE consultation_id = $1",
    ))
    .bind(id)
    .fetch_optional(pool)
    .await)?,
    )
}

pub use crate::rtc::ParticipantRole;

/// The doctors in a consultation and their parts.
pub async fn doctors_of(db: &Db, id: Uuid) -> Result<Vec<(Uuid, ParticipantRole)>> {
    let rows = on_db!(db, pool => sqlx::query_as::<_, (Uuid, String)>(
        "SELECT doctor_id, role FROM consultation_doctors WHERE consultation_id = $1 ORDER BY created_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(d, r)| {
            let role = if r == "primary" {
                ParticipantRole::Doctor
            } else {
                ParticipantRole::Specialist
            };
            (d, role)
        })
        .collect())
}

/// How the caller relates to a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The resident it is for.
    Patient,
    /// A doctor in it (admitted it, or invited).
    Participant(ParticipantRole),
    /// A doctor of the station while it is still in the waiting room (to triage and admit).
    StationDoctor,
}

/// The caller's relation to the consultation; 404 if they have none (a resident or doctor never
/// learns that someone else's consultation exists), 403 for staff and admins (never any access).
pub async fn relation(state: &Ctx, caller: &Caller, row: &ConsultationRow) -> Result<Relation> {
    match caller.role {
        Role::Resident if row.resident_id == caller.account_id => Ok(Relation::Patient),
        Role::Resident => Err(Error::NotFound("consultation_not_found")),
        Role::Doctor => {
            if let Some((_, role)) = doctors_of(&state.db, row.consultation_id)
                .await?
                .into_iter()
                .find(|(d, _)| *d == caller.account_id)
            {
                return Ok(Relation::Participant(role));
            }
            if row.status()? == ConsultationStatus::Waiting
                && is_station_doctor(&state.db, row.station_id, caller.account_id).await?
            {
                return Ok(Relation::StationDoctor);
            }
            Err(Error::NotFound("consultation_not_found"))
        }
        Role::Staff | Role::Admin => Err(Error::Forbidden),
    }
}

async fn load(state: &Ctx, id: Uuid) -> Result<ConsultationRow> {
    consultation_row(&state.db, id)
        .await?
        .ok_or(Error::NotFound("consultation_not_found"))
}

/// The consultation, if the caller may see it.
pub async fn get(state: &Ctx, caller: &Caller, id: Uuid) -> Result<(ConsultationRow, Relation)> {
    let row = load(state, id).await?;
    let rel = relation(state, caller, &row).await?;
    Ok((row, rel))
}

/// A new waiting-room entry.
#[derive(Debug, Clone)]
pub struct Enqueue {
    pub station_id: Uuid,
    pub resident_id: Uuid,
    /// The doctor it is meant for (a booking), or any doctor of the station.
    pub doctor_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub reason: String,
    pub symptom: Option<Symptom>,
    pub priority_at: DateTime<Utc>,
}

/// Insert a waiting consultation inside the caller's transaction.
pub async fn enqueue(tx: &mut Tx, e: Enqueue, now: DateTime<Utc>) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let res = on_tx!(tx, conn => sqlx::query(
        "INSERT INTO consultations (consultation_id, station_id, resident_id, doctor_id, appointment_id, status, reason, symptom, priority_at, queued_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'waiting', $6, $7, $8, $9, $9, $9)",
    )
    .bind(id)
    .bind(e.station_id)
    .bind(e.resident_id)
    .bind(e.doctor_id)
    .bind(e.appointment_id)
    .bind(&e.reason)
    .bind(e.symptom.map(Symptom::as_str))
    .bind(e.priority_at)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()));
    match res {
        Err(err)
            if is_unique_violation(
                &err,
                "consultations_active_resident_key",
                "consultations.resident_id",
            ) =>
        {
            Err(Error::Conflict("already_in_consultation"))
        }
        other => {
            other?;
            Ok(id)
        }
    }
}

/// A resident joins a station's waiting room now (on-demand consultation).
pub async fn join(
    state: &Ctx,
    caller: &Caller,
    station_id: Uuid,
    reason: &str,
    symptom: Option<Symptom>,
    idempotency: Option<&idempotency::Key>,
) -> Result<ConsultationRow> {
    caller.require(&[Role::Resident])?;
    let reason = validate_reason(reason)?;
    station(&state.db, station_id).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let id = enqueue(
        &mut tx,
        Enqueue {
            station_id,
            resident_id: caller.account_id,
            doctor_id: None,
            appointment_id: None,
            reason,
            symptom,
            priority_at: now,
        },
        now,
    )
    .await?;
    if let Some(k) = idempotency {
        idempotency::complete(&mut tx, k, &id.to_string(), now).await?;
    }
    tx.commit().await?;
    load(state, id).await
}

/// The resident's place in the queue (1 = next) and an estimate of the wait in minutes.
pub async fn position(state: &Ctx, row: &ConsultationRow) -> Result<Option<(i64, i64)>> {
    if row.status()? != ConsultationStatus::Waiting {
        return Ok(None);
    }
    let ahead = on_db!(&state.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM consultations
         WHERE station_id = $1 AND status = 'waiting'
           AND (priority_at < $2 OR (priority_at = $2 AND consultation_id < $3))",
    )
    .bind(row.station_id)
    .bind(row.priority_at)
    .bind(row.consultation_id)
    .fetch_one(pool)
    .await)?;
    let on_duty = on_db!(&state.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM doctor_duty WHERE station_id = $1",
    )
    .bind(row.station_id)
    .fetch_one(pool)
    .await)?;
    let recent = on_db!(&state.db, pool => sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(
        "SELECT call_started_at, ended_at FROM consultations
         WHERE station_id = $1 AND status = 'ended' AND call_started_at IS NOT NULL AND ended_at IS NOT NULL
         ORDER BY ended_at DESC LIMIT 50",
    )
    .bind(row.station_id)
    .fetch_all(pool)
    .await)?;
    let minutes = average_minutes(&recent).unwrap_or(10.0);
    Ok(Some((
        ahead + 1,
        estimate_minutes(ahead + 1, minutes, on_duty),
    )))
}

fn average_minutes(calls: &[(DateTime<Utc>, DateTime<Utc>)]) -> Option<f64> {
    if calls.is_empty() {
        return None;
    }
    let total: i64 = calls
        .iter()
        .map(|(a, b)| (*b - *a).num_seconds().max(0))
        .sum();
    Some(total as f64 / 60.0 / calls.len() as f64)
}

/// Everyone up to and including the resident is seen, shared among the doctors on duty (at least
/// one: someone will come).
pub fn estimate_minutes(position: i64, minutes_per_call: f64, doctors_on_duty: i64) -> i64 {
    let doctors = doctors_on_duty.max(1) as f64;
    ((position.max(1) as f64) * minutes_per_call / doctors).ceil() as i64
}

/// Consultations the caller is in (resident: theirs; doctor: those they took part in), newest first.
pub async fn mine(state: &Ctx, caller: &Caller, limit: i64) -> Result<Vec<ConsultationRow>> {
    caller.require(&[Role::Resident, Role::Doctor])?;
    let sql = if caller.role == Role::Resident {
        concat!(
            "SELECT ",
            consultation_columns!(),
            " FROM consultations WHERE resident_id = $1
             ORDER BY created_at DESC LIMIT $2"
        )
    } else {
        concat!(
            "SELECT ", consultation_columns!(), " FROM consultations
             WHERE consultation_id IN (SELECT consultation_id FROM consultation_doctors WHERE doctor_id = $1)
             ORDER BY created_at DESC LIMIT $2"
        )
    };
    Ok(
        on_db!(&state.db, pool => sqlx::query_as::<_, ConsultationRow>(sql)
        .bind(caller.account_id)
        .bind(limit)
        .fetch_all(pool)
        .await)?,
    )
}

async fn require_station_doctor(state: &Ctx, caller: &Caller, station_id: Uuid) -> Result<()> {
    caller.require(&[Role::Doctor])?;
    station(&state.db, station_id).await?;
    if !is_station_doctor(&state.db, station_id, caller.account_id).await? {
        return Err(Error::Forbidden);
    }
    Ok(())
}

/// The station's waiting room, in calling order (doctors of the station).
pub async fn station_queue(
    state: &Ctx,
    caller: &Caller,
    station_id: Uuid,
) -> Result<Vec<ConsultationRow>> {
    require_station_doctor(state, caller, station_id).await?;
    Ok(
        on_db!(&state.db, pool => sqlx::query_as::<_, ConsultationRow>(concat!(
        "SELECT ", consultation_columns!(), " FROM consultations
         WHERE station_id = $1 AND status = 'waiting' ORDER BY priority_at, consultation_id LIMIT 500",
    ))
    .bind(station_id)
    .fetch_all(pool)
    .await)?,
    )
}

/// Put the doctor on duty at a station (taking on-demand patients), or off duty.
pub async fn set_duty(state: &Ctx, caller: &Caller, station_id: Option<Uuid>) -> Result<()> {
    caller.require(&[Role::Doctor])?;
    let now = state.clock.now();
    match station_id {
        Some(s) => {
            require_station_doctor(state, caller, s).await?;
            on_db!(&state.db, pool => sqlx::query(
                "INSERT INTO doctor_duty (doctor_id, station_id, since, created_at, updated_at) VALUES ($1, $2, $3, $3, $3)
                 ON CONFLICT (doctor_id) DO UPDATE SET station_id = $2, since = $3, updated_at = $3",
            )
            .bind(caller.account_id)
            .bind(s)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        }
        None => {
            on_db!(&state.db, pool => sqlx::query("DELETE FROM doctor_duty WHERE doctor_id = $1")
                .bind(caller.account_id).execute(pool).await.map(|r| r.rows_affected()))?;
        }
    }
    Ok(())
}

/// Admit the next resident of the station's waiting room (or the chosen one): the first who has
/// given consent, meant for any doctor or for this one, in calling order. The resident is told to
/// answer; if they do not connect within `telehealth_answer_secs` the consultation is missed.
pub async fn admit(
    state: &Ctx,
    caller: &Caller,
    station_id: Uuid,
    chosen: Option<Uuid>,
) -> Result<ConsultationRow> {
    require_station_doctor(state, caller, station_id).await?;
    let candidates: Vec<ConsultationRow> = match chosen {
        Some(id) => {
            let row = load(state, id).await?;
            if row.station_id != station_id {
                return Err(Error::NotFound("consultation_not_found"));
            }
            if row.status()? != ConsultationStatus::Waiting {
                return Err(Error::Conflict("not_waiting"));
            }
            if row.doctor_id.is_some_and(|d| d != caller.account_id) {
                return Err(Error::Conflict("meant_for_another_doctor"));
            }
            if !super::records::has_consent(state, row.resident_id).await? {
                return Err(Error::Conflict("consent_required"));
            }
            vec![row]
        }
        None => on_db!(&state.db, pool => sqlx::query_as::<_, ConsultationRow>(concat!(
            "SELECT ", consultation_columns!(), " FROM consultations
             WHERE station_id = $1 AND status = 'waiting' AND (doctor_id IS NULL OR doctor_id = $2)
             ORDER BY priority_at, consultation_id LIMIT 50",
        ))
        .bind(station_id)
        .bind(caller.account_id)
        .fetch_all(pool)
        .await)?,
    };
    let now = state.clock.now();
    let answer_by = now + Duration::seconds(state.settings.telehealth_answer_secs as i64);
    for row in candidates {
        if chosen.is_none() && !super::records::has_consent(state, row.resident_id).await? {
            continue;
        }
        let mut tx = state.db.begin().await?;
        // Another doctor may have admitted this resident a moment ago: only a waiting one moves.
        let n = on_tx!(&mut tx, conn => sqlx::query(
            "UPDATE consultations SET status = 'admitted', doctor_id = $2, admitted_at = $3, answer_by = $4, updated_at = $3
             WHERE consultation_id = $1 AND status = 'waiting' AND (doctor_id IS NULL OR doctor_id = $2)",
        )
        .bind(row.consultation_id)
        .bind(caller.account_id)
        .bind(now)
        .bind(answer_by)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        if n != 1 {
            if chosen.is_some() {
                return Err(Error::Conflict("not_waiting"));
            }
            continue;
        }
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO consultation_doctors (consultation_id, doctor_id, role, invited_by, created_at, updated_at)
             VALUES ($1, $2, 'primary', NULL, $3, $3)
             ON CONFLICT (consultation_id, doctor_id) DO UPDATE SET role = 'primary', updated_at = $3",
        )
        .bind(row.consultation_id)
        .bind(caller.account_id)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        let push = notify(
            &mut tx,
            row.resident_id,
            About::Consultation(row.consultation_id),
            "consultation_admitted",
            "Bác sĩ đang gọi bạn. Hãy mở ứng dụng để vào cuộc gọi.".into(),
            "The doctor is calling you. Open the app to join the call.".into(),
            now,
        )
        .await?;
        tx.commit().await?;
        send_pushes(&*state.notifier, vec![push]).await;
        return load(state, row.consultation_id).await;
    }
    Err(Error::NotFound("queue_empty"))
}

/// The caller must be the consultation's admitting doctor.
async fn require_primary(state: &Ctx, caller: &Caller, row: &ConsultationRow) -> Result<()> {
    match relation(state, caller, row).await? {
        Relation::Participant(ParticipantRole::Doctor) => Ok(()),
        _ => Err(Error::Forbidden),
    }
}

/// Move a consultation on by `event` if it is still where it was read (a conditional update: of
/// two racing changes one wins, the other gets 409). Ending states record when and why.
async fn change(
    tx: &mut Tx,
    row: &ConsultationRow,
    event: Event,
    now: DateTime<Utc>,
    end_reason: Option<&str>,
) -> Result<()> {
    let from = row.status()?;
    let to = next(from, event).ok_or(Error::Conflict("illegal_transition"))?;
    let n = if to == ConsultationStatus::InCall {
        on_tx!(tx, conn => sqlx::query(
            "UPDATE consultations SET status = $3, call_started_at = $4, updated_at = $4
             WHERE consultation_id = $1 AND status = $2",
        )
        .bind(row.consultation_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?
    } else {
        on_tx!(tx, conn => sqlx::query(
            "UPDATE consultations SET status = $3, ended_at = $4, end_reason = $5, updated_at = $4
             WHERE consultation_id = $1 AND status = $2",
        )
        .bind(row.consultation_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(now)
        .bind(end_reason)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?
    };
    if n != 1 {
        return Err(Error::Conflict("illegal_transition"));
    }
    Ok(())
}

/// Settle the booked appointment behind a consultation that has ended one way or another.
async fn settle_appointment(
    tx: &mut Tx,
    row: &ConsultationRow,
    status: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(a) = row.appointment_id {
        on_tx!(tx, conn => sqlx::query(
            "UPDATE appointments SET status = $2, updated_at = $3 WHERE appointment_id = $1 AND status = 'checked_in'",
        )
        .bind(a)
        .bind(status)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

async fn drop_doctors(tx: &mut Tx, id: Uuid) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM consultation_doctors WHERE consultation_id = $1")
        .bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Put an admitted resident back in the waiting room, keeping their place (the admitting doctor).
pub async fn requeue(state: &Ctx, caller: &Caller, id: Uuid) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    require_primary(state, caller, &row).await?;
    if row.status()? != ConsultationStatus::Admitted {
        return Err(Error::Conflict("illegal_transition"));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    // A booked patient stays meant for their doctor; an on-demand one is open to anyone again.
    let meant_for = row.appointment_id.and(row.doctor_id);
    change_requeue(&mut tx, &row, meant_for, now).await?;
    drop_doctors(&mut tx, id).await?;
    tx.commit().await?;
    load(state, id).await
}

async fn change_requeue(
    tx: &mut Tx,
    row: &ConsultationRow,
    meant_for: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<()> {
    let from = row.status()?;
    let to = next(from, Event::Requeue).ok_or(Error::Conflict("illegal_transition"))?;
    let n = on_tx!(tx, conn => sqlx::query(
        "UPDATE consultations SET status = $3, doctor_id = $5, admitted_at = NULL, answer_by = NULL, updated_at = $4
         WHERE consultation_id = $1 AND status = $2",
    )
    .bind(row.consultation_id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now)
    .bind(meant_for)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if n != 1 {
        return Err(Error::Conflict("illegal_transition"));
    }
    Ok(())
}

/// Hand a waiting or admitted resident to a colleague at the same station: back in the waiting
/// room, meant for that doctor, keeping their place. The colleague is notified.
pub async fn transfer(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    to_doctor: Uuid,
) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    let rel = relation(state, caller, &row).await?;
    let status = row.status()?;
    let allowed = matches!(
        (rel, status),
        (Relation::StationDoctor, ConsultationStatus::Waiting)
            | (Relation::Participant(ParticipantRole::Doctor), _)
    );
    if !allowed {
        return Err(Error::Forbidden);
    }
    if !matches!(
        status,
        ConsultationStatus::Waiting | ConsultationStatus::Admitted
    ) {
        return Err(Error::Conflict("illegal_transition"));
    }
    require_doctor(&state.db, to_doctor).await?;
    if to_doctor == caller.account_id
        || !is_station_doctor(&state.db, row.station_id, to_doctor).await?
    {
        return Err(Error::validation(
            "doctor_id",
            "not_at_station",
            "Chỉ chuyển cho một bác sĩ khác của trạm",
            "Transfer to another doctor of the same station",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    change_requeue(&mut tx, &row, Some(to_doctor), now).await?;
    drop_doctors(&mut tx, id).await?;
    let push = notify(
        &mut tx,
        to_doctor,
        About::Consultation(id),
        "consultation_transferred",
        "Một đồng nghiệp đã chuyển một người bệnh cho bạn trong phòng chờ.".into(),
        "A colleague transferred a patient to you in the waiting room.".into(),
        now,
    )
    .await?;
    tx.commit().await?;
    send_pushes(&*state.notifier, vec![push]).await;
    load(state, id).await
}

/// The doctor turns the request down (with a reason the resident reads, e.g. "come in person").
pub async fn decline(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    reason: &str,
) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    let rel = relation(state, caller, &row).await?;
    if !matches!(
        rel,
        Relation::StationDoctor | Relation::Participant(ParticipantRole::Doctor)
    ) {
        return Err(Error::Forbidden);
    }
    let reason = validate_text(reason, "reason", 500)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    finish(&mut tx, &row, Event::Decline, "doctor_declined", now).await?;
    let was_admitted = row.status()? == ConsultationStatus::Admitted;
    settle_appointment(&mut tx, &row, "cancelled", now).await?;
    let (vi, en) = if reason.is_empty() {
        (
            "Bác sĩ không thể nhận cuộc tư vấn này.".to_string(),
            "The doctor could not take this consultation.".to_string(),
        )
    } else {
        (
            format!("Bác sĩ không thể nhận cuộc tư vấn này: {reason}"),
            format!("The doctor could not take this consultation: {reason}"),
        )
    };
    let push = notify(
        &mut tx,
        row.resident_id,
        About::Consultation(id),
        "consultation_declined",
        vi,
        en,
        now,
    )
    .await?;
    tx.commit().await?;
    if was_admitted {
        crate::rtc::end_call(&*state.bus, id, "doctor_declined").await;
    }
    send_pushes(&*state.notifier, vec![push]).await;
    load(state, id).await
}

async fn finish(
    tx: &mut Tx,
    row: &ConsultationRow,
    event: Event,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    change(tx, row, event, now, Some(reason)).await
}

/// The resident leaves the waiting room (or does not take the call after all).
pub async fn cancel(state: &Ctx, caller: &Caller, id: Uuid) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    if relation(state, caller, &row).await? != Relation::Patient {
        return Err(Error::Forbidden);
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    finish(&mut tx, &row, Event::Cancel, "resident_left", now).await?;
    settle_appointment(&mut tx, &row, "cancelled", now).await?;
    tx.commit().await?;
    crate::rtc::end_call(&*state.bus, id, "resident_left").await;
    load(state, id).await
}

/// The call connected (both sides present): `admitted` → `in_call`. The broker calls this; so does
/// the doctor's "start" for a call held by other means.
pub async fn call_connected(state: &Ctx, id: Uuid) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    if row.status()? == ConsultationStatus::InCall {
        return Ok(row);
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    change(&mut tx, &row, Event::Connect, now, None).await?;
    tx.commit().await?;
    load(state, id).await
}

/// The call is over: `in_call` → `ended`; a booked appointment behind it is fulfilled.
pub async fn call_ended(state: &Ctx, id: Uuid, reason: &str) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    if row.status()? == ConsultationStatus::Ended {
        return Ok(row);
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    finish(&mut tx, &row, Event::End, reason, now).await?;
    settle_appointment(&mut tx, &row, "fulfilled", now).await?;
    tx.commit().await?;
    crate::rtc::end_call(&*state.bus, id, reason).await;
    load(state, id).await
}

/// The admitting doctor marks the call as started.
pub async fn start(state: &Ctx, caller: &Caller, id: Uuid) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    require_primary(state, caller, &row).await?;
    if row.status()? != ConsultationStatus::Admitted {
        return Err(Error::Conflict("illegal_transition"));
    }
    call_connected(state, id).await
}

/// End the call: the admitting doctor, or the resident hanging up.
pub async fn end(state: &Ctx, caller: &Caller, id: Uuid) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    let reason = match relation(state, caller, &row).await? {
        Relation::Patient => "resident_ended",
        Relation::Participant(ParticipantRole::Doctor) => "doctor_ended",
        _ => return Err(Error::Forbidden),
    };
    if row.status()? != ConsultationStatus::InCall {
        return Err(Error::Conflict("illegal_transition"));
    }
    call_ended(state, id, reason).await
}

/// The admitting doctor invites another doctor (another station's, or a hospital specialist) into
/// an admitted or ongoing consultation. The specialist may then join the call and write records.
pub async fn invite(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    specialist: Uuid,
) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    require_primary(state, caller, &row).await?;
    if !matches!(
        row.status()?,
        ConsultationStatus::Admitted | ConsultationStatus::InCall
    ) {
        return Err(Error::Conflict("illegal_transition"));
    }
    require_doctor(&state.db, specialist).await?;
    if doctors_of(&state.db, id)
        .await?
        .iter()
        .any(|(d, _)| *d == specialist)
    {
        return Err(Error::Conflict("already_in_consultation"));
    }
    if doctors_of(&state.db, id).await?.len() >= 4 {
        return Err(Error::Conflict("too_many_participants"));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    on_tx!(&mut tx, conn => sqlx::query(
        "INSERT INTO consultation_doctors (consultation_id, doctor_id, role, invited_by, created_at, updated_at)
         VALUES ($1, $2, 'specialist', $3, $4, $4)",
    )
    .bind(id)
    .bind(specialist)
    .bind(caller.account_id)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    let push = notify(
        &mut tx,
        specialist,
        About::Consultation(id),
        "consultation_invite",
        "Bạn được mời tham gia một buổi tư vấn từ xa.".into(),
        "You are invited to join a video consultation.".into(),
        now,
    )
    .await?;
    tx.commit().await?;
    send_pushes(&*state.notifier, vec![push]).await;
    load(state, id).await
}

/// The resident rates an ended consultation, once.
pub async fn rate(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    stars: i32,
    comment: &str,
) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    if relation(state, caller, &row).await? != Relation::Patient {
        return Err(Error::Forbidden);
    }
    if !(1..=5).contains(&stars) {
        return Err(Error::validation(
            "stars",
            "invalid_rating",
            "Đánh giá từ 1 đến 5 sao",
            "Rate from 1 to 5 stars",
        ));
    }
    let comment = validate_text(comment, "comment", 1000)?;
    if row.status()? != ConsultationStatus::Ended {
        return Err(Error::Conflict("not_ended"));
    }
    let now = state.clock.now();
    let n = on_db!(&state.db, pool => sqlx::query(
        "UPDATE consultations SET rating = $2, rating_comment = $3, rated_at = $4, updated_at = $4
         WHERE consultation_id = $1 AND rating IS NULL",
    )
    .bind(id)
    .bind(stars)
    .bind(&comment)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    if n != 1 {
        return Err(Error::Conflict("already_rated"));
    }
    load(state, id).await
}

/// Admitted residents who did not connect by `answer_by` have missed the call.
pub async fn expire_unanswered(state: &Ctx) -> Result<usize> {
    let now = state.clock.now();
    let due = on_db!(&state.db, pool => sqlx::query_as::<_, ConsultationRow>(concat!(
        "SELECT ", consultation_columns!(), " FROM consultations
         WHERE status = 'admitted' AND answer_by < $1 ORDER BY answer_by LIMIT 500",
    ))
    .bind(now)
    .fetch_all(pool)
    .await)?;
    let mut pushes = vec![];
    let mut n = 0;
    for row in due {
        let mut tx = state.db.begin().await?;
        match finish(&mut tx, &row, Event::Miss, "no_answer", now).await {
            Ok(()) => {}
            // Connected or cancelled meanwhile.
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
        settle_appointment(&mut tx, &row, "noshow", now).await?;
        pushes.push(
            notify(
                &mut tx,
                row.resident_id,
                About::Consultation(row.consultation_id),
                "consultation_missed",
                "Bạn đã lỡ cuộc gọi của bác sĩ. Hãy vào phòng chờ lại khi sẵn sàng.".into(),
                "You missed the doctor's call. Join the waiting room again when you are ready."
                    .into(),
                now,
            )
            .await?,
        );
        tx.commit().await?;
        crate::rtc::end_call(&*state.bus, row.consultation_id, "no_answer").await;
        n += 1;
    }
    send_pushes(&*state.notifier, pushes).await;
    Ok(n)
}

pub use crate::rtc::Participant;

/// For the WebRTC broker: may `account` join the consultation's call now, in which part, until
/// when? Only the resident and its doctors, only while it is admitted or in call.
pub async fn participant(state: &Ctx, id: Uuid, account: Uuid) -> Result<Option<Participant>> {
    let Some(row) = consultation_row(&state.db, id).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let cap = Duration::minutes(state.settings.telehealth_max_call_minutes.into());
    let until = match row.status()? {
        ConsultationStatus::Admitted => match row.answer_by {
            Some(t) if t > now => t,
            _ => return Ok(None),
        },
        ConsultationStatus::InCall => row.call_started_at.unwrap_or(now) + cap,
        _ => return Ok(None),
    };
    let role = if row.resident_id == account {
        ParticipantRole::Patient
    } else if let Some((_, role)) = doctors_of(&state.db, id)
        .await?
        .into_iter()
        .find(|(d, _)| *d == account)
    {
        role
    } else {
        return Ok(None);
    };
    Ok(Some(Participant {
        consultation_id: id,
        account_id: account,
        role,
        until,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConsultationStatus as S;

    #[test]
    fn the_lifecycle_allows_only_its_steps() {
        assert_eq!(next(S::Waiting, Event::Admit), Some(S::Admitted));
        assert_eq!(next(S::Admitted, Event::Connect), Some(S::InCall));
        assert_eq!(next(S::InCall, Event::End), Some(S::Ended));
        assert_eq!(next(S::Admitted, Event::Miss), Some(S::Missed));
        assert_eq!(next(S::Admitted, Event::Requeue), Some(S::Waiting));
        assert_eq!(next(S::Waiting, Event::Decline), Some(S::Declined));
        assert_eq!(next(S::Waiting, Event::Connect), None);
        assert_eq!(next(S::Waiting, Event::End), None);
        assert_eq!(next(S::Ended, Event::Admit), None);
        assert_eq!(next(S::InCall, Event::Cancel), None);
        assert_eq!(next(S::Missed, Event::Requeue), None);
        for s in [S::Ended, S::Missed, S::Cancelled, S::Declined] {
            assert!(!s.is_live());
            assert_eq!(ConsultationStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn the_estimate_shares_the_queue_among_doctors_on_duty() {
        assert_eq!(estimate_minutes(1, 10.0, 0), 10);
        assert_eq!(estimate_minutes(3, 10.0, 2), 15);
        assert_eq!(estimate_minutes(4, 7.5, 1), 30);
    }
}
