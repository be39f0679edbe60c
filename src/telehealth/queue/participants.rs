//! Who takes part in a consultation: the caller's relation to it (and the consultation if they may see it), inviting a specialist, and who
//! may join its call (for the WebRTC broker).

use crate::telehealth::NotificationKind;
use chrono::Duration;
use uuid::Uuid;

use super::consultation::{ConsultationRow, ConsultationStatus, consultation_row, load};
use super::{Participant, ParticipantRole};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::Db;
use crate::telehealth::Ctx;
use crate::telehealth::repo::consultations::{self as repo, DoctorPart};
use crate::telehealth::shared::{is_station_doctor, require_doctor};
use crate::telehealth::{About, notify, send_pushes};

/// The doctors in a consultation and their parts.
pub async fn doctors_of(db: &Db, id: Uuid) -> Result<Vec<(Uuid, ParticipantRole)>> {
    Ok(repo::doctors(db, id)
        .await?
        .into_iter()
        .map(|(d, part)| {
            let role = match part {
                DoctorPart::Primary => ParticipantRole::Doctor,
                DoctorPart::Specialist => ParticipantRole::Specialist,
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
            if row.status == ConsultationStatus::Waiting
                && is_station_doctor(&state.db, row.station_id, caller.account_id).await?
            {
                return Ok(Relation::StationDoctor);
            }
            Err(Error::NotFound("consultation_not_found"))
        }
        Role::Staff | Role::Admin => Err(Error::Forbidden),
    }
}

/// The caller must be the consultation's admitting doctor.
pub(super) async fn require_primary(
    state: &Ctx,
    caller: &Caller,
    row: &ConsultationRow,
) -> Result<()> {
    match relation(state, caller, row).await? {
        Relation::Participant(ParticipantRole::Doctor) => Ok(()),
        _ => Err(Error::Forbidden),
    }
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
        row.status,
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
    let push = state
        .db
        .transaction(async |tx| {
            repo::add_specialist(&mut *tx, id, specialist, caller.account_id, now).await?;
            notify(
                tx,
                specialist,
                About::Consultation(id),
                NotificationKind::ConsultationInvite,
                "Bạn được mời tham gia một buổi tư vấn từ xa.".into(),
                "You are invited to join a video consultation.".into(),
                now,
            )
            .await
        })
        .await?;
    send_pushes(&*state.notifier, vec![push]).await;
    load(state, id).await
}

/// For the WebRTC broker: may `account` join the consultation's call now, in which part, until
/// when? Only the resident and its doctors, only while it is admitted or in call.
pub async fn participant(state: &Ctx, id: Uuid, account: Uuid) -> Result<Option<Participant>> {
    let Some(row) = consultation_row(&state.db, id).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let cap = Duration::minutes(state.settings.telehealth_max_call_minutes.into());
    let until = match row.status {
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

/// The consultation, if the caller may see it.
pub async fn get(state: &Ctx, caller: &Caller, id: Uuid) -> Result<(ConsultationRow, Relation)> {
    let row = load(state, id).await?;
    let rel = relation(state, caller, &row).await?;
    Ok((row, rel))
}
