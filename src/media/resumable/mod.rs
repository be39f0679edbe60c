//! Resumable photo uploads, after tus 1.0 (core, creation, expiration, termination): a phone on a
//! weak line announces a photo's size, sends its bytes with `PATCH`, and after a broken connection
//! asks with `HEAD` how many arrived and sends only the rest. The last byte runs the photo through
//! the same pipeline as `POST /v1/media` ([`super::intake_bytes`]): the same owner sending the
//! same bytes gets the same photo.
//!
//! Nothing of an upload is in any server's memory between requests: the row holds the offset,
//! and each piece received is an object of its own in the photo store (S3 cannot append), listed
//! with its offset in the database. A `PATCH` stores what it receives in pieces of
//! [`PIECE_BYTES`]; when its connection breaks, what had arrived is stored as a last piece, so
//! the next `HEAD` counts every byte the server read. Pieces are recorded only if the upload is
//! still where the request found it, so two requests racing on one upload cannot interleave.

pub mod api;
mod repo;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use uuid::Uuid;

use super::{Ctx, MediaView};
use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
pub use repo::UploadRow;

/// The protocol version spoken (`Tus-Resumable`, `Tus-Version`).
pub const TUS_VERSION: &str = "1.0.0";
/// The extensions implemented (`Tus-Extension`).
pub const TUS_EXTENSIONS: &str = "creation,expiration,termination";
/// A piece of an upload is stored once this many bytes arrived (and at the end of each `PATCH`,
/// and when its connection breaks). Bounds the memory a `PATCH` holds.
pub const PIECE_BYTES: usize = 1024 * 1024;
/// An upload may be cut into at most this many pieces (a client sending a byte at a time would
/// otherwise make one object per byte); past it, the upload must start again.
const MAX_PIECES: usize = 256;
/// Object keys of pieces start with this.
pub const PIECES_PREFIX: &str = "uploads/";

/// Who may upload photos (as `POST /v1/media`).
pub const UPLOADERS: [Role; 3] = [Role::Resident, Role::Staff, Role::Admin];

/// What `Upload-Metadata` said, and the header as sent (echoed on `HEAD`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub raw: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
}

fn unreadable_metadata(reason: &str) -> Error {
    Error::Unreadable {
        field: "Upload-Metadata".into(),
        reason: reason.into(),
    }
}

/// Read `Upload-Metadata`: comma-separated `key base64(value)` pairs, keys unique, non-empty,
/// without spaces or commas. `filename` (or `name`) and `filetype` (or `type`) are understood;
/// other keys are kept as sent.
pub fn parse_metadata(raw: Option<&str>) -> Result<Metadata> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let b64 = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(Metadata::default());
    };
    let mut out = Metadata {
        raw: raw.to_string(),
        ..Metadata::default()
    };
    let mut keys = std::collections::BTreeSet::new();
    for pair in raw.split(',') {
        let pair = pair.trim();
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(unreadable_metadata("a key is empty or not visible ASCII"));
        }
        if !keys.insert(key) {
            return Err(unreadable_metadata("a key appears twice"));
        }
        let value = b64
            .decode(value.trim())
            .map_err(|_| unreadable_metadata("a value is not Base64"))?;
        let text = || {
            String::from_utf8(value.clone())
                .map_err(|_| unreadable_metadata("a value is not UTF-8 text"))
        };
        match key {
            "filename" | "name" => {
                let name = crate::text::clean(&text()?, false)
                    .map_err(|_| unreadable_metadata("the file name has invisible characters"))?;
                out.file_name = Some(name.chars().take(255).collect());
            }
            "filetype" | "type" => {
                let t = text()?.trim().to_ascii_lowercase();
                if t.len() > 100 {
                    return Err(unreadable_metadata("the file type is too long"));
                }
                out.content_type = Some(t);
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The announced type, if any, must be a photo type the pipeline reads (415 before any byte).
fn check_type(metadata: &Metadata) -> Result<()> {
    match metadata.content_type.as_deref() {
        None | Some("") | Some("image/jpeg" | "image/jpg" | "image/png" | "image/webp") => Ok(()),
        Some(_) => Err(Error::UnsupportedMediaType("unsupported_photo_type")),
    }
}

fn expiry(ctx: &Ctx, now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::hours(i64::from(ctx.settings.upload_expiry_hours))
}

/// Start an upload of `length` bytes. Limits as `POST /v1/media`: the size (413), the type if
/// announced (415), the hourly allowance (429); and at most `max_open_uploads` unfinished at once
/// (429 until the oldest expires). An `Idempotency-Key` sent again gets the first upload.
pub async fn create(
    ctx: &Ctx,
    caller: &Caller,
    length: u64,
    metadata: Metadata,
    idempotency_key: Option<String>,
) -> Result<UploadRow> {
    use crate::store::idempotency;
    if length == 0 {
        return Err(Error::validation(
            "Upload-Length",
            "empty_upload",
            "Ảnh rỗng (0 byte)",
            "The photo is empty (0 bytes)",
        ));
    }
    if length > ctx.settings.max_upload_bytes as u64 {
        return Err(Error::PayloadTooLarge);
    }
    check_type(&metadata)?;
    let now = ctx.clock.now();
    let request = serde_json::json!({ "length": length, "metadata": metadata.raw });
    let key = match idempotency::start(
        &ctx.db,
        caller.account_id,
        "media_upload",
        idempotency_key,
        &request,
        now,
    )
    .await?
    {
        idempotency::Start::Go(key) => key,
        idempotency::Start::Replay(id) => return find_own(ctx, caller, id).await,
    };
    let result = async {
        super::check_upload_allowance(ctx, caller).await?;
        let (open, soonest) = repo::open_uploads(&ctx.db, caller.account_id, now).await?;
        if open >= i64::from(ctx.settings.max_open_uploads) {
            let retry_after = soonest
                .map(|t| (t - now).num_seconds().max(1) as u64)
                .unwrap_or(60);
            return Err(Error::RateLimited {
                code: "too_many_open_uploads",
                retry_after,
            });
        }
        let new = repo::NewUpload {
            upload_id: Uuid::now_v7(),
            owner_id: caller.account_id,
            length: length as i64,
            metadata: metadata.raw.clone(),
            file_name: metadata.file_name.clone(),
            content_type: metadata.content_type.clone(),
            expires_at: expiry(ctx, now),
        };
        let id = new.upload_id;
        repo::insert(&ctx.db, new, key.clone(), now).await?;
        find_own(ctx, caller, id).await
    }
    .await;
    idempotency::settle(&ctx.db, key.as_ref(), result).await
}

/// The caller's own upload, not expired: anyone else (staff and admins included) is told it does
/// not exist.
pub async fn find_own(ctx: &Ctx, caller: &Caller, id: Uuid) -> Result<UploadRow> {
    match repo::find(&ctx.db, id).await? {
        Some(row) if row.owner_id == caller.account_id && row.expires_at > ctx.clock.now() => {
            Ok(row)
        }
        _ => Err(Error::NotFound("upload_not_found")),
    }
}

/// What a `PATCH` achieved.
pub enum Appended {
    /// More bytes are expected; the upload as it is now.
    Progress(UploadRow),
    /// The last byte arrived and the photo is made.
    Completed(UploadRow, MediaView),
}

/// Append the body at `offset`, which must be where the upload is (409 otherwise). Once the last
/// byte is there, make the photo. A body that breaks off keeps what arrived (stored as a piece),
/// and the request fails. A body longer than the rest of the upload (as `declared` by its
/// `Content-Length`, or as it streams) is refused (413).
pub async fn append<S>(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    offset: u64,
    declared: Option<u64>,
    mut body: S,
) -> Result<Appended>
where
    S: Stream<Item = std::io::Result<Bytes>> + Unpin + Send,
{
    let row = find_own(ctx, caller, id).await?;
    if offset != row.upload_offset as u64 {
        return Err(Error::Conflict("upload_offset_mismatch"));
    }
    if let Some(media_id) = row.media_id {
        // A retry of the last piece whose answer was lost: the photo it made.
        let view = super::media_row(ctx, media_id)
            .await?
            .ok_or(Error::NotFound("upload_not_found"))?;
        return Ok(Appended::Completed(row, view.into()));
    }
    if declared.is_some_and(|n| n > (row.upload_length - row.upload_offset) as u64) {
        return Err(Error::PayloadTooLarge);
    }
    let mut pieces = Pieces {
        ctx,
        id,
        at: row.upload_offset,
        count: repo::parts(&ctx.db, id).await?.len(),
    };
    let length = row.upload_length;
    let mut buf = BytesMut::new();
    let mut broken = None;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                broken = Some(e);
                break;
            }
        };
        if pieces.at + (buf.len() + chunk.len()) as i64 > length {
            // More than announced: refused; what was stored before stays.
            return Err(Error::PayloadTooLarge);
        }
        buf.extend_from_slice(&chunk);
        while buf.len() >= PIECE_BYTES {
            pieces.store(buf.split_to(PIECE_BYTES).freeze()).await?;
        }
    }
    // The rest of this request, also when its connection broke: every byte read is kept.
    if !buf.is_empty() {
        pieces.store(buf.freeze()).await?;
    }
    if let Some(e) = broken {
        tracing::info!(upload = %id, offset = pieces.at, error = %e, "upload interrupted; kept what arrived");
        return Err(Error::BadRequest(format!("upload interrupted: {e}")));
    }
    let row = find_own(ctx, caller, id).await?;
    if row.upload_offset < row.upload_length {
        return Ok(Appended::Progress(row));
    }
    let view = finish(ctx, caller, &row).await?;
    let row = find_own(ctx, caller, id).await?;
    Ok(Appended::Completed(row, view))
}

/// Where a `PATCH` is, storing its pieces.
struct Pieces<'a> {
    ctx: &'a Ctx,
    id: Uuid,
    at: i64,
    count: usize,
}

impl Pieces<'_> {
    async fn store(&mut self, bytes: Bytes) -> Result<()> {
        if self.count >= MAX_PIECES {
            return Err(Error::Conflict("too_many_upload_parts"));
        }
        let len = bytes.len() as i64;
        let key = format!(
            "{PIECES_PREFIX}{}/{:012}-{}",
            self.id,
            self.at,
            Uuid::now_v7().simple()
        );
        self.ctx
            .objects
            .put(&key, bytes)
            .await
            .map_err(Error::from)?;
        let now = self.ctx.clock.now();
        let recorded = repo::add_part(
            &self.ctx.db,
            self.id,
            self.at,
            len,
            key.clone(),
            expiry(self.ctx, now),
            now,
        )
        .await;
        match recorded {
            Ok(true) => {
                self.at += len;
                self.count += 1;
                Ok(())
            }
            Ok(false) => {
                // Another request moved the upload meanwhile: this piece is not part of it.
                let _ = self.ctx.objects.delete(&key).await;
                Err(Error::Conflict("upload_offset_mismatch"))
            }
            Err(e) => {
                let _ = self.ctx.objects.delete(&key).await;
                Err(e)
            }
        }
    }
}

/// Put the pieces together and make the photo, under the same hourly allowance as `POST
/// /v1/media` (a 429 keeps the bytes: an empty `PATCH` at the end finishes it later). A file the
/// pipeline refuses (not a photo, damaged) ends the upload.
async fn finish(ctx: &Ctx, caller: &Caller, row: &UploadRow) -> Result<MediaView> {
    super::check_upload_allowance(ctx, caller).await?;
    let parts = repo::parts(&ctx.db, row.upload_id).await?;
    let mut bytes = Vec::with_capacity(row.upload_length as usize);
    for p in &parts {
        let piece = ctx.objects.get(&p.object_key).await.map_err(Error::from)?;
        if p.part_offset != bytes.len() as i64 || piece.len() as i64 != p.part_length {
            return Err(Error::Internal(anyhow::anyhow!(
                "upload {} has a gap or a damaged piece at {}",
                row.upload_id,
                p.part_offset
            )));
        }
        bytes.extend_from_slice(&piece);
    }
    if bytes.len() as i64 != row.upload_length {
        return Err(Error::Internal(anyhow::anyhow!(
            "upload {} holds {} of {} bytes",
            row.upload_id,
            bytes.len(),
            row.upload_length
        )));
    }
    let view = match super::intake_bytes(ctx, row.owner_id, bytes).await {
        Ok(view) => view,
        Err(
            e @ (Error::Validation(_) | Error::UnsupportedMediaType(_) | Error::PayloadTooLarge),
        ) => {
            remove(ctx, row.upload_id, &parts).await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    repo::complete(&ctx.db, row.upload_id, view.id, ctx.clock.now()).await?;
    delete_objects(ctx, &parts).await;
    Ok(view)
}

/// Delete the pieces' objects; one that cannot be deleted now is collected later as an orphan.
async fn delete_objects(ctx: &Ctx, parts: &[repo::Part]) {
    for p in parts {
        if let Err(e) = ctx.objects.delete(&p.object_key).await {
            tracing::warn!(key = %p.object_key, error = %e, "deleting an upload piece");
        }
    }
}

async fn remove(ctx: &Ctx, id: Uuid, parts: &[repo::Part]) -> Result<()> {
    repo::delete(&ctx.db, id).await?;
    delete_objects(ctx, parts).await;
    Ok(())
}

/// Termination: the owner ends an upload; its pieces are deleted (a photo it made stays).
pub async fn terminate(ctx: &Ctx, caller: &Caller, id: Uuid) -> Result<()> {
    find_own(ctx, caller, id).await?;
    let parts = repo::parts(&ctx.db, id).await?;
    remove(ctx, id, &parts).await
}

/// Delete uploads past their expiry (finished or not) and their pieces. Every instance runs it;
/// deleting twice is harmless. Returns how many uploads went.
pub async fn sweep(ctx: &Ctx) -> Result<usize> {
    let mut done = 0;
    loop {
        let ids = repo::expired(&ctx.db, ctx.clock.now(), 100).await?;
        if ids.is_empty() {
            return Ok(done);
        }
        for id in &ids {
            let parts = repo::parts(&ctx.db, *id).await?;
            remove(ctx, *id, &parts).await?;
        }
        done += ids.len();
    }
}

/// Whether a piece's object is still recorded (the orphan collector asks before deleting).
pub async fn piece_recorded(ctx: &Ctx, key: &str) -> Result<bool> {
    repo::part_recorded(&ctx.db, key).await
}

/// `Upload-Expires`: an HTTP date (RFC 9110).
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_are_read_and_hostile_ones_refused() {
        let m = parse_metadata(Some(
            "filename cOG7nSBnw6AuanBn,filetype aW1hZ2UvanBlZw==,is_confidential",
        ))
        .unwrap();
        assert_eq!(m.file_name.as_deref(), Some("pờ gà.jpg"));
        assert_eq!(m.content_type.as_deref(), Some("image/jpeg"));
        // Padding may be left out.
        let m = parse_metadata(Some("filetype aW1hZ2UvanBlZw")).unwrap();
        assert_eq!(m.content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(parse_metadata(None).unwrap(), Metadata::default());
        for bad in [
            "filename !!!",
            "a eA==,a eA==",
            " ,filename eA==",
            "filename gA==",
        ] {
            assert!(
                matches!(parse_metadata(Some(bad)), Err(Error::Unreadable { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_photo_types_may_be_announced() {
        let with = |t: &str| Metadata {
            content_type: Some(t.into()),
            ..Metadata::default()
        };
        assert!(check_type(&with("image/webp")).is_ok());
        assert!(check_type(&Metadata::default()).is_ok());
        assert!(matches!(
            check_type(&with("application/pdf")),
            Err(Error::UnsupportedMediaType(_))
        ));
    }
}
