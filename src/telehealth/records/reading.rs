//! Reading clinical records: who may read which, one record, and history lists (every read logged).

use uuid::Uuid;

use super::audit::{AccessAction, audit};
use super::{RecordRow, RecordStatus};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::on_db;
use crate::telehealth::Ctx;
use crate::telehealth::queue;

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
    let row = on_db!(&state.db, pool => sqlx::query_as::<_, RecordRow>(concat!(
        "SELECT ", record_columns!(), " FROM clinical_records r WHERE r.record_id = $1",
    ))
    .bind(id)
    .fetch_optional(pool)
    .await)?
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
        on_db!(&state.db, pool => sqlx::query_as::<_, RecordRow>(concat!(
            "SELECT ", record_columns!(), " FROM clinical_records r
             WHERE r.resident_id = $1 AND r.status = 'signed' AND ($2 IS NULL OR r.consultation_id = $2)
             ORDER BY r.created_at DESC, r.record_id DESC LIMIT $3",
        ))
        .bind(caller.account_id)
        .bind(consultation)
        .bind(limit)
        .fetch_all(pool)
        .await)?
    } else {
        on_db!(&state.db, pool => sqlx::query_as::<_, RecordRow>(concat!(
            "SELECT ", record_columns!(), " FROM clinical_records r
             WHERE r.consultation_id IN (SELECT consultation_id FROM consultation_doctors WHERE doctor_id = $1)
               AND ($2 IS NULL OR r.consultation_id = $2)
             ORDER BY r.created_at DESC, r.record_id DESC LIMIT $3",
        ))
        .bind(caller.account_id)
        .bind(consultation)
        .bind(limit)
        .fetch_all(pool)
        .await)?
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
