//! A consultation as stored (its row and status live in the repository), and the caller's own
//! list.

use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::Db;
use crate::telehealth::Ctx;
use crate::telehealth::repo::consultations as repo;

pub use crate::telehealth::repo::consultations::{ConsultationRow, ConsultationStatus, EndReason};

pub async fn consultation_row(db: &Db, id: Uuid) -> Result<Option<ConsultationRow>> {
    Ok(repo::consultation(db, id).await?)
}

pub(super) async fn load(state: &Ctx, id: Uuid) -> Result<ConsultationRow> {
    consultation_row(&state.db, id)
        .await?
        .ok_or(Error::NotFound("consultation_not_found"))
}

/// Consultations the caller is in (resident: theirs; doctor: those they took part in), newest first.
pub async fn mine(state: &Ctx, caller: &Caller, limit: i64) -> Result<Vec<ConsultationRow>> {
    caller.require(&[Role::Resident, Role::Doctor])?;
    Ok(if caller.role == Role::Resident {
        repo::of_resident(&state.db, caller.account_id, limit).await?
    } else {
        repo::of_doctor(&state.db, caller.account_id, limit).await?
    })
}
