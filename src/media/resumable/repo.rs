//! The SQL of resumable uploads: the upload rows (how far each got) and their pieces.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::on_db;
use crate::store::Db;

/// One upload as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRow {
    pub upload_id: Uuid,
    pub owner_id: Uuid,
    pub upload_length: i64,
    pub upload_offset: i64,
    pub metadata: String,
    /// Set once the photo went through the pipeline.
    pub media_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

/// One stored piece: where it starts, how long it is, its object.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Part {
    pub part_offset: i64,
    pub part_length: i64,
    pub object_key: String,
}

/// A new upload's row.
pub struct NewUpload {
    pub upload_id: Uuid,
    pub owner_id: Uuid,
    pub length: i64,
    pub metadata: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub expires_at: DateTime<Utc>,
}

pub async fn find(db: &Db, id: Uuid) -> Result<Option<UploadRow>> {
    Ok(on_db!(db, pool => sqlx::query_as::<_, UploadRow>(
        "SELECT upload_id, owner_id, upload_length, upload_offset, metadata, media_id, expires_at
         FROM media_uploads WHERE upload_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)?)
}

/// The owner's unfinished uploads that have not expired, and the soonest of their expiries.
pub async fn open_uploads(
    db: &Db,
    owner: Uuid,
    now: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>)> {
    Ok(
        on_db!(db, pool => sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
        "SELECT COUNT(*), MIN(expires_at) FROM media_uploads
         WHERE owner_id = $1 AND media_id IS NULL AND expires_at > $2",
    )
    .bind(owner)
    .bind(now)
    .fetch_one(pool)
    .await)?,
    )
}

/// Insert the row; with `key` (a claimed `Idempotency-Key`), complete it with the upload's id in
/// the same transaction.
pub async fn insert(
    db: &Db,
    new: NewUpload,
    key: Option<crate::store::idempotency::Key>,
    now: DateTime<Utc>,
) -> Result<()> {
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "INSERT INTO media_uploads (upload_id, owner_id, upload_length, upload_offset, metadata, file_name, content_type, expires_at, created_at, updated_at)
                 VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $8, $8)",
                &[
                    new.upload_id.into(),
                    new.owner_id.into(),
                    new.length.into(),
                    new.metadata.as_str().into(),
                    new.file_name.as_deref().into(),
                    new.content_type.as_deref().into(),
                    new.expires_at.into(),
                    now.into(),
                ],
            )
            .await?;
            if let Some(k) = &key {
                crate::store::idempotency::complete(tx, k, &new.upload_id.to_string(), now)
                    .await?;
            }
            Ok(())
        })
    })
    .await
}

/// Record a stored piece, only if the upload is still at `from` (another request may have moved
/// it meanwhile): the offset moves to `from + length` and the expiry to `expires_at`. Whether it
/// was recorded.
pub async fn add_part(
    db: &Db,
    id: Uuid,
    from: i64,
    length: i64,
    object_key: String,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let moved = db
        .write(move |tx| {
            Box::pin(async move {
                let moved = tx
                    .exec(
                        "UPDATE media_uploads SET upload_offset = $3, expires_at = $4, updated_at = $5
                         WHERE upload_id = $1 AND upload_offset = $2 AND media_id IS NULL
                           AND $3 <= upload_length",
                        &[
                            id.into(),
                            from.into(),
                            (from + length).into(),
                            expires_at.into(),
                            now.into(),
                        ],
                    )
                    .await?;
                if moved != 1 {
                    // Rolls back: nothing of this piece is recorded.
                    return Err(Error::Conflict("upload_offset_mismatch"));
                }
                tx.exec(
                    "INSERT INTO media_upload_parts (upload_id, part_offset, part_length, object_key, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5)",
                    &[
                        id.into(),
                        from.into(),
                        length.into(),
                        object_key.as_str().into(),
                        now.into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await;
    match moved {
        Ok(()) => Ok(true),
        Err(Error::Conflict("upload_offset_mismatch")) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The upload's pieces, in order.
pub async fn parts(db: &Db, id: Uuid) -> Result<Vec<Part>> {
    Ok(on_db!(db, pool => sqlx::query_as::<_, Part>(
        "SELECT part_offset, part_length, object_key FROM media_upload_parts
         WHERE upload_id = $1 ORDER BY part_offset",
    )
    .bind(id)
    .fetch_all(pool)
    .await)?)
}

/// The photo is made: remember its id on the upload and forget the pieces (their objects are
/// deleted next, or collected as orphans).
pub async fn complete(db: &Db, id: Uuid, media_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "UPDATE media_uploads SET media_id = $2, updated_at = $3 WHERE upload_id = $1",
                &[id.into(), media_id.into(), now.into()],
            )
            .await?;
            tx.exec(
                "DELETE FROM media_upload_parts WHERE upload_id = $1",
                &[id.into()],
            )
            .await?;
            Ok(())
        })
    })
    .await
}

/// Delete the upload and its pieces' rows.
pub async fn delete(db: &Db, id: Uuid) -> Result<()> {
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "DELETE FROM media_upload_parts WHERE upload_id = $1",
                &[id.into()],
            )
            .await?;
            tx.exec(
                "DELETE FROM media_uploads WHERE upload_id = $1",
                &[id.into()],
            )
            .await?;
            Ok(())
        })
    })
    .await
}

/// Uploads whose time ran out, finished or not (a few at a time).
pub async fn expired(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>> {
    Ok(on_db!(db, pool => sqlx::query_scalar::<_, Uuid>(
        "SELECT upload_id FROM media_uploads WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await)?)
}

/// Whether a piece's row names this object.
pub async fn part_recorded(db: &Db, object_key: &str) -> Result<bool> {
    let n = on_db!(db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM media_upload_parts WHERE object_key = $1",
    )
    .bind(object_key)
    .fetch_one(pool)
    .await)?;
    Ok(n > 0)
}
