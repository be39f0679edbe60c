//! The audit trail of medical data: the access-log row written with every read and write, and the
//! resident's view of the log.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::error::Result;
use crate::store::Tx;
use crate::telehealth::Ctx;
use crate::telehealth::repo::audit as repo;

pub use crate::telehealth::repo::audit::{AccessAction, AccessPurpose, AccessRow};

fn purpose(caller: &Caller) -> AccessPurpose {
    if caller.role == Role::Resident {
        AccessPurpose::PatientAccess
    } else {
        AccessPurpose::Treatment
    }
}

/// Write one access-log row inside the transaction that reads or writes the data.
pub(super) async fn audit(
    tx: &mut Tx,
    resident: Uuid,
    caller: &Caller,
    action: AccessAction,
    record: Option<Uuid>,
    consultation: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<()> {
    repo::insert(
        tx,
        &repo::Access {
            resident_id: resident,
            actor_id: caller.account_id,
            actor_role: caller.role,
            action,
            record_id: record,
            consultation_id: consultation,
            purpose: purpose(caller),
        },
        now,
    )
    .await?;
    Ok(())
}

/// Who touched the caller's medical data, newest first (cursor: `before` an access id).
pub async fn access_log(
    state: &Ctx,
    caller: &Caller,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AccessRow>> {
    Ok(repo::of_resident(&state.db, caller.account_id, before, limit).await?)
}
