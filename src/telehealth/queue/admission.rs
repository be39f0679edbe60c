//! What the doctor does with a waiting resident: admit them, put them back, hand them to a
//! colleague, or decline.

use crate::telehealth::NotificationKind;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::ParticipantRole;
use super::consultation::{ConsultationRow, load};
use super::lifecycle::{Event, finish, next, settle_appointment};
use super::participants::{Relation, relation, require_primary};
use super::waiting_room::require_station_doctor;
use super::{ConsultationStatus, EndReason};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::store::Tx;
use crate::telehealth::Ctx;
use crate::telehealth::repo::consultations as repo;
use crate::telehealth::repo::queue as queue_repo;
use crate::telehealth::shared::AppointmentStatus;
use crate::telehealth::shared::{is_station_doctor, require_doctor};
use crate::telehealth::{About, notify, records, send_pushes, validate_text};

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
            if row.status != ConsultationStatus::Waiting {
                return Err(Error::Conflict("not_waiting"));
            }
            if row.doctor_id.is_some_and(|d| d != caller.account_id) {
                return Err(Error::Conflict("meant_for_another_doctor"));
            }
            if !records::has_consent(state, row.resident_id).await? {
                return Err(Error::Conflict("consent_required"));
            }
            vec![row]
        }
        None => queue_repo::waiting_for(&state.db, station_id, caller.account_id).await?,
    };
    let now = state.clock.now();
    let answer_by = now + Duration::seconds(state.settings.telehealth_answer_secs as i64);
    for row in candidates {
        if chosen.is_none() && !records::has_consent(state, row.resident_id).await? {
            continue;
        }
        let push = state
            .db
            .transaction(async |tx| {
                // Another doctor may have admitted this resident a moment ago: only a waiting one
                // moves.
                let n = repo::admit(
                    &mut *tx,
                    row.consultation_id,
                    caller.account_id,
                    now,
                    answer_by,
                )
                .await?;
                if n != 1 {
                    if chosen.is_some() {
                        return Err(Error::Conflict("not_waiting"));
                    }
                    // Nothing was written (the update matched no row): try the next resident.
                    return Ok(None);
                }
                repo::add_primary(&mut *tx, row.consultation_id, caller.account_id, now).await?;
                let push = notify(
                    tx,
                    row.resident_id,
                    About::Consultation(row.consultation_id),
                    NotificationKind::ConsultationAdmitted,
                    "Bác sĩ đang gọi bạn. Hãy mở ứng dụng để vào cuộc gọi.".into(),
                    "The doctor is calling you. Open the app to join the call.".into(),
                    now,
                )
                .await?;
                Ok(Some(push))
            })
            .await?;
        let Some(push) = push else {
            continue;
        };
        send_pushes(&*state.notifier, vec![push]).await;
        return load(state, row.consultation_id).await;
    }
    Err(Error::NotFound("queue_empty"))
}

async fn drop_doctors(tx: &mut Tx, id: Uuid) -> Result<()> {
    Ok(repo::drop_doctors(tx, id).await?)
}

/// Put an admitted resident back in the waiting room, keeping their place (the admitting doctor).
pub async fn requeue(state: &Ctx, caller: &Caller, id: Uuid) -> Result<ConsultationRow> {
    let row = load(state, id).await?;
    require_primary(state, caller, &row).await?;
    if row.status != ConsultationStatus::Admitted {
        return Err(Error::Conflict("illegal_transition"));
    }
    let now = state.clock.now();
    // A booked patient stays meant for their doctor; an on-demand one is open to anyone again.
    let meant_for = row.appointment_id.and(row.doctor_id);
    state
        .db
        .transaction(async |tx| {
            change_requeue(tx, &row, meant_for, now).await?;
            drop_doctors(tx, id).await
        })
        .await?;
    load(state, id).await
}

async fn change_requeue(
    tx: &mut Tx,
    row: &ConsultationRow,
    meant_for: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<()> {
    let from = row.status;
    let to = next(from, Event::Requeue).ok_or(Error::Conflict("illegal_transition"))?;
    let n = repo::requeue(tx, row.consultation_id, from, to, meant_for, now).await?;
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
    let status = row.status;
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
    let push = state
        .db
        .transaction(async |tx| {
            change_requeue(tx, &row, Some(to_doctor), now).await?;
            drop_doctors(tx, id).await?;
            notify(
                tx,
                to_doctor,
                About::Consultation(id),
                NotificationKind::ConsultationTransferred,
                "Một đồng nghiệp đã chuyển một người bệnh cho bạn trong phòng chờ.".into(),
                "A colleague transferred a patient to you in the waiting room.".into(),
                now,
            )
            .await
        })
        .await?;
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
    let was_admitted = row.status == ConsultationStatus::Admitted;
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
    let push = state
        .db
        .transaction(async |tx| {
            finish(tx, &row, Event::Decline, EndReason::DoctorDeclined, now).await?;
            settle_appointment(tx, &row, AppointmentStatus::Cancelled, now).await?;
            notify(
                tx,
                row.resident_id,
                About::Consultation(id),
                NotificationKind::ConsultationDeclined,
                vi,
                en,
                now,
            )
            .await
        })
        .await?;
    if was_admitted {
        crate::rtc::end_call(&*state.bus, id, "doctor_declined").await;
    }
    send_pushes(&*state.notifier, vec![push]).await;
    load(state, id).await
}
