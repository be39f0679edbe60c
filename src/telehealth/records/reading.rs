//! Reading clinical records: who may read which, one record, and history lists (every read logged).

use uuid::Uuid;

use super::audit::{AccessAction, audit};
use super::{RecordRow, RecordStatus};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::telehealth::Ctx;
use crate::telehealth::queue;
use crate::telehealth::repo::records as repo;

/// May the caller read this record? The resident: their own, once signed. A doctor: any version of
/// a consultation they are in. Anyone else: it does not exist (404); staff and admins: 403.
async fn may_read(state: &Ctx, caller: &Caller, row: &RecordRow) -> Result<()> {
    match caller.role {
        Role::Staff | Role::Admin => Err(Error::Forbidden),
        Role::Resident => {
            if row.resident_id == caller.account_id && row.status == RecordStatus::Signed {
                Ok(())
            } else {
                Err(Error::NotFound("record_not_found"))
            }
        }
        Role::Doctor => {
            let doctors = queue::doctors_of(&state.db, row.consultation_id).await?;
            if doctors.iter().any(|(d, _)| *d == caller.account_id) {
                Ok(())
            } else {
                Err(Error::NotFound("record_not_found"))
            }
        }
    }
}

/// Read one record; the read is logged first (no log, no data).
pub async fn get(state: &Ctx, caller: &Caller, id: Uuid) -> Result<RecordRow> {
    let row = repo::record(&state.db, id)
        .await?
        .ok_or(Error::NotFound("record_not_found"))?;
    may_read(state, caller, &row).await?;
    let now = state.clock.now();
    state
        .db
        .transaction(async |tx| {
            audit(
                tx,
                row.resident_id,
                caller,
                AccessAction::Read,
                Some(id),
                Some(row.consultation_id),
                now,
            )
            .await
        })
        .await?;
    Ok(row)
}

/// A history list: the resident's signed records (every version), or the records of the
/// consultations a doctor took part in; optionally of one consultation. Newest first.
pub async fn list(
    state: &Ctx,
    caller: &Caller,
    consultation: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RecordRow>> {
    caller.require(&[Role::Resident, Role::Doctor])?;
    let rows = if caller.role == Role::Resident {
        repo::signed_of_resident(&state.db, caller.account_id, consultation, limit).await?
    } else {
        repo::of_doctor(&state.db, caller.account_id, consultation, limit).await?
    };
    if !rows.is_empty() {
        let now = state.clock.now();
        state
            .db
            .transaction(async |tx| {
                let mut seen = std::collections::BTreeSet::new();
                for r in &rows {
                    // One log row per patient and consultation whose records were listed.
                    if seen.insert((r.resident_id, r.consultation_id)) {
                        audit(
                            tx,
                            r.resident_id,
                            caller,
                            AccessAction::List,
                            None,
                            Some(r.consultation_id),
                            now,
                        )
                        .await?;
                    }
                }
                Ok::<_, Error>(())
            })
            .await?;
    }
    Ok(rows)
}
