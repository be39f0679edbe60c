//! The audit trail of medical data: the access-log row written with every read and write, and the
//! resident's view of the log.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::error::Result;
use crate::store::Tx;
use crate::telehealth::Ctx;
use crate::{on_db, on_tx};

crate::text_enum! {
    /// What was done to clinical data, for the access log.
    #[derive(poem_openapi::Enum)]
    #[oai(rename_all = "snake_case")]
    pub enum AccessAction {
        Read = "read",
        List = "list",
        Create = "create",
        Update = "update",
        Sign = "sign",
        Amend = "amend",
    }
}

crate::text_enum! {
    /// Why clinical data was touched.
    pub enum AccessPurpose {
        /// A doctor of the consultation, treating this patient.
        Treatment = "treatment",
        /// The patient reading their own record.
        PatientAccess = "patient_access",
    }
}

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
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO record_access (access_id, resident_id, actor_id, actor_role, action, record_id, consultation_id, purpose, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(resident)
    .bind(caller.account_id)
    .bind(caller.role.as_str())
    .bind(action.as_str())
    .bind(record)
    .bind(consultation)
    .bind(purpose(caller).as_str())
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One access-log entry as the resident sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessRow {
    pub access_id: Uuid,
    pub actor_id: Uuid,
    pub actor_name: String,
    pub actor_role: Role,
    pub action: AccessAction,
    pub record_id: Option<Uuid>,
    pub consultation_id: Option<Uuid>,
    pub purpose: AccessPurpose,
    pub created_at: DateTime<Utc>,
}

/// Who touched the caller's medical data, newest first (cursor: `before` an access id).
pub async fn access_log(
    state: &Ctx,
    caller: &Caller,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AccessRow>> {
    Ok(on_db!(&state.db, pool => sqlx::query_as::<_, AccessRow>(
        "SELECT l.access_id, l.actor_id, a.display_name AS actor_name, l.actor_role, l.action, l.record_id,
                l.consultation_id, l.purpose, l.created_at
         FROM record_access l JOIN accounts a ON a.account_id = l.actor_id
         WHERE l.resident_id = $1 AND ($2 IS NULL OR l.access_id < $2)
         ORDER BY l.access_id DESC LIMIT $3",
    )
    .bind(caller.account_id)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await)?)
}
