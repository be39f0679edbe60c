//! Writing clinical records: a doctor's draft of a consultation, its edits, signing, and
//! amendments.

use crate::telehealth::NotificationKind;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::{AccessAction, audit};
use super::content::Content;
use super::{RecordRow, RecordStatus, record_row_tx};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::Tx;
use crate::telehealth::queue::{self, ConsultationStatus, Relation};
use crate::telehealth::repo::records as repo;
use crate::telehealth::{About, Ctx, notify, send_pushes, ward_offset};

/// The consultation, if the caller is one of its doctors (404 for other doctors and residents,
/// 403 for staff and admins).
async fn as_consultation_doctor(
    state: &Ctx,
    caller: &Caller,
    consultation: Uuid,
) -> Result<queue::ConsultationRow> {
    caller.require(&[Role::Doctor, Role::Resident])?;
    let (row, rel) = queue::get(state, caller, consultation).await?;
    match rel {
        Relation::Participant(_) => Ok(row),
        Relation::StationDoctor => Err(Error::NotFound("consultation_not_found")),
        Relation::Patient => Err(Error::Forbidden),
    }
}

/// Start the caller's record of a consultation (a doctor in it, once the call has begun).
pub async fn create(
    state: &Ctx,
    caller: &Caller,
    consultation: Uuid,
    content: Content,
) -> Result<RecordRow> {
    let c = as_consultation_doctor(state, caller, consultation).await?;
    if !matches!(
        c.status,
        ConsultationStatus::InCall | ConsultationStatus::Ended
    ) {
        return Err(Error::Conflict("consultation_not_started"));
    }
    let offset = ward_offset(state);
    let day = c
        .call_started_at
        .unwrap_or(c.created_at)
        .with_timezone(&offset)
        .date_naive();
    let content = content.validate(day)?;
    let now = state.clock.now();
    let id = Uuid::now_v7();
    state
        .db
        .transaction(async |tx| {
            if repo::has_authored(&mut *tx, consultation, caller.account_id).await? {
                return Err(Error::Conflict("record_exists"));
            }
            insert(tx, id, &c, caller.account_id, 1, None, &content, now).await?;
            audit(
                tx,
                c.resident_id,
                caller,
                AccessAction::Create,
                Some(id),
                Some(consultation),
                now,
            )
            .await?;
            record_row_tx(tx, id)
                .await?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("record vanished")))
        })
        .await
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    tx: &mut Tx,
    id: Uuid,
    c: &queue::ConsultationRow,
    author: Uuid,
    version: i32,
    supersedes: Option<Uuid>,
    content: &Content,
    now: DateTime<Utc>,
) -> Result<()> {
    let (diagnoses, prescriptions) = as_json(content)?;
    repo::insert(
        tx,
        &repo::NewRecord {
            record_id: id,
            consultation_id: c.consultation_id,
            resident_id: c.resident_id,
            author_id: author,
            version,
            supersedes,
            written: written(content, &diagnoses, &prescriptions),
        },
        now,
    )
    .await?;
    Ok(())
}

/// The diagnoses and prescriptions as they are stored (JSON text).
fn as_json(content: &Content) -> Result<(String, String)> {
    let diagnoses = serde_json::to_string(&content.diagnoses).map_err(anyhow::Error::from)?;
    let prescriptions =
        serde_json::to_string(&content.prescriptions).map_err(anyhow::Error::from)?;
    Ok((diagnoses, prescriptions))
}

fn written<'a>(
    content: &'a Content,
    diagnoses: &'a str,
    prescriptions: &'a str,
) -> repo::Written<'a> {
    repo::Written {
        subjective: &content.subjective,
        objective: &content.objective,
        assessment: &content.assessment,
        plan: &content.plan,
        diagnoses,
        prescriptions,
        follow_up_on: content.follow_up_on,
        in_person_advised: content.in_person_advised,
    }
}

/// A record the caller authored, still open to change.
async fn own_draft(
    state: &Ctx,
    tx: &mut Tx,
    caller: &Caller,
    id: Uuid,
) -> Result<(RecordRow, queue::ConsultationRow)> {
    caller.require(&[Role::Doctor, Role::Resident])?;
    let row = record_row_tx(tx, id)
        .await?
        .ok_or(Error::NotFound("record_not_found"))?;
    // Not a doctor of the consultation: the record does not exist for them.
    let c = as_consultation_doctor(state, caller, row.consultation_id)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) | Error::Forbidden => Error::NotFound("record_not_found"),
            other => other,
        })?;
    if row.author_id != caller.account_id {
        return Err(Error::Conflict("not_author"));
    }
    if row.status == RecordStatus::Signed {
        return Err(Error::Conflict("record_signed"));
    }
    Ok((row, c))
}

/// Replace the content of the caller's draft.
pub async fn update(state: &Ctx, caller: &Caller, id: Uuid, content: Content) -> Result<RecordRow> {
    let now = state.clock.now();
    state
        .db
        .transaction(async |tx| {
            let (row, c) = own_draft(state, tx, caller, id).await?;
            let day = c
                .call_started_at
                .unwrap_or(c.created_at)
                .with_timezone(&ward_offset(state))
                .date_naive();
            let content = content.validate(day)?;
            let (diagnoses, prescriptions) = as_json(&content)?;
            repo::update_draft(
                &mut *tx,
                id,
                &written(&content, &diagnoses, &prescriptions),
                now,
            )
            .await?;
            audit(
                tx,
                row.resident_id,
                caller,
                AccessAction::Update,
                Some(id),
                Some(row.consultation_id),
                now,
            )
            .await?;
            record_row_tx(tx, id)
                .await?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("record vanished")))
        })
        .await
}

/// Sign the caller's draft: from now on it never changes. The resident is told it is ready.
pub async fn sign(state: &Ctx, caller: &Caller, id: Uuid) -> Result<RecordRow> {
    let now = state.clock.now();
    let (row, push) = state
        .db
        .transaction(async |tx| {
            let (row, _) = own_draft(state, tx, caller, id).await?;
            let n = repo::sign(&mut *tx, id, now).await?;
            if n != 1 {
                return Err(Error::Conflict("record_signed"));
            }
            audit(
                tx,
                row.resident_id,
                caller,
                AccessAction::Sign,
                Some(id),
                Some(row.consultation_id),
                now,
            )
            .await?;
            let push = notify(
                tx,
                row.resident_id,
                About::Consultation(row.consultation_id),
                NotificationKind::RecordSigned,
                "Kết quả buổi khám từ xa của bạn đã sẵn sàng.".into(),
                "The notes of your video consultation are ready.".into(),
                now,
            )
            .await?;
            let row = record_row_tx(tx, id)
                .await?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("record vanished")))?;
            Ok((row, push))
        })
        .await?;
    send_pushes(&*state.notifier, vec![push]).await;
    Ok(row)
}

/// Amend a signed record: a new draft version with the same content, superseding it.
pub async fn amend(state: &Ctx, caller: &Caller, id: Uuid) -> Result<RecordRow> {
    caller.require(&[Role::Doctor, Role::Resident])?;
    let now = state.clock.now();
    state
        .db
        .transaction(async |tx| {
            let row = record_row_tx(tx, id)
                .await?
                .ok_or(Error::NotFound("record_not_found"))?;
            let c = as_consultation_doctor(state, caller, row.consultation_id)
                .await
                .map_err(|e| match e {
                    Error::NotFound(_) | Error::Forbidden => Error::NotFound("record_not_found"),
                    other => other,
                })?;
            if row.author_id != caller.account_id {
                return Err(Error::Conflict("not_author"));
            }
            if row.status != RecordStatus::Signed {
                return Err(Error::Conflict("record_not_signed"));
            }
            if row.superseded_by.is_some() {
                return Err(Error::Conflict("record_superseded"));
            }
            let new_id = Uuid::now_v7();
            let content = row.content()?;
            insert(
                tx,
                new_id,
                &c,
                caller.account_id,
                row.version + 1,
                Some(id),
                &content,
                now,
            )
            .await?;
            audit(
                tx,
                row.resident_id,
                caller,
                AccessAction::Amend,
                Some(new_id),
                Some(row.consultation_id),
                now,
            )
            .await?;
            record_row_tx(tx, new_id)
                .await?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("record vanished")))
        })
        .await
}
