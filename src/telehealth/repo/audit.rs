//! The access log of medical data (`record_access`): one row per read or write, and the
//! resident's view of it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::Role;
use crate::on_ex;
use crate::store::Ex;

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

/// One access, as written.
pub struct Access {
    pub resident_id: Uuid,
    pub actor_id: Uuid,
    pub actor_role: Role,
    pub action: AccessAction,
    pub record_id: Option<Uuid>,
    pub consultation_id: Option<Uuid>,
    pub purpose: AccessPurpose,
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

pub async fn insert(
    ex: impl Into<Ex<'_>>,
    a: &Access,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query(
        "INSERT INTO record_access (access_id, resident_id, actor_id, actor_role, action, record_id, consultation_id, purpose, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(a.resident_id)
    .bind(a.actor_id)
    .bind(a.actor_role.as_str())
    .bind(a.action.as_str())
    .bind(a.record_id)
    .bind(a.consultation_id)
    .bind(a.purpose.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// Who touched the resident's data, newest first (cursor: `before` an access id).
pub async fn of_resident(
    ex: impl Into<Ex<'_>>,
    resident: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AccessRow>, sqlx::Error> {
    on_ex!(ex.into(), c => sqlx::query_as::<_, AccessRow>(
        "SELECT l.access_id, l.actor_id, a.display_name AS actor_name, l.actor_role, l.action, l.record_id,
                l.consultation_id, l.purpose, l.created_at
         FROM record_access l JOIN accounts a ON a.account_id = l.actor_id
         WHERE l.resident_id = $1 AND ($2 IS NULL OR l.access_id < $2)
         ORDER BY l.access_id DESC LIMIT $3",
    )
    .bind(resident)
    .bind(before)
    .bind(limit)
    .fetch_all(c)
    .await)
}
