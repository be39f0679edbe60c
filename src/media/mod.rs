//! Photo intake: an upload streams to a temporary file (never whole in memory), is sniffed, read for
//! its GPS hint, re-encoded without metadata by [`pipeline`], and stored under its content hash. Only
//! the re-encoded public copy and thumbnail are ever served; the original is dropped.

mod libjpeg;
pub mod pipeline;
/// Resumable uploads (tus 1.0): a photo sent in pieces that survive a broken connection.
pub mod resumable;

use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, Object, OpenApi};
use uuid::Uuid;

use crate::tags::ApiTags;
use std::sync::Arc;

use crate::auth::Auth;
use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::calendar::WorkCalendar;
use crate::clock::Clock;
use crate::config::Settings;
use crate::error::{
    BODY, CONFLICT, Error, INVALID, NOT_FOUND, Problems, RATE_LIMITED, Result, SIGNED_IN,
};
use crate::objects::Objects;
use crate::on_db;
use crate::store::Db;

/// What photo intake works with: built by the app (`app.rs`).
#[derive(Clone)]
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub objects: Objects,
    pub auth: Auth,
    pub clock: Clock,
    /// The ward's time zone, for the camera's wall-clock time.
    pub calendar: Arc<WorkCalendar>,
    /// Decode photos, a bounded number at once.
    pub photo_workers: Arc<PhotoWorkers>,
}

#[derive(sqlx::FromRow)]
struct MediaRow {
    media_id: Uuid,
    owner_id: Uuid,
    public_key: String,
    thumb_key: String,
    width: i32,
    height: i32,
    hint_lat: Option<f64>,
    hint_lon: Option<f64>,
    captured_at: Option<DateTime<Utc>>,
}

async fn media_row(state: &Ctx, id: Uuid) -> Result<Option<MediaRow>> {
    Ok(on_db!(&state.db, pool => sqlx::query_as::<_, MediaRow>(
        "SELECT media_id, owner_id, public_key, thumb_key, width, height, hint_lat, hint_lon, captured_at FROM media WHERE media_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)?)
}

/// Residents upload at most `uploads_per_resident_per_hour` photos an hour.
async fn check_upload_allowance(state: &Ctx, caller: &crate::auth::Caller) -> Result<()> {
    let limit = state.settings.uploads_per_resident_per_hour;
    if caller.role != Role::Resident || limit == 0 {
        return Ok(());
    }
    let now = state.clock.now();
    let (used, oldest) = on_db!(&state.db, pool => sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
        "SELECT COUNT(*), MIN(created_at) FROM media WHERE owner_id = $1 AND created_at > $2",
    )
    .bind(caller.account_id)
    .bind(now - chrono::Duration::hours(1))
    .fetch_one(pool)
    .await)?;
    crate::ops::hourly_allowance(limit, used, oldest, now, "upload_rate_limited")
}

/// Where a photo is attached: whether it shows on some report for everyone (a report's own photos,
/// resolution evidence), and the reporters who are shown it with a comment (staff's comments on
/// their report: the history shows a reporter no other resident's comment).
async fn attachments(state: &Ctx, id: Uuid) -> Result<(bool, Vec<Uuid>)> {
    let rows = on_db!(&state.db, pool => sqlx::query_as::<_, (String, Option<Uuid>, Option<String>)>(
        "SELECT m.role, r.reporter_id, a.role FROM report_media m
         JOIN reports r ON r.report_id = m.report_id
         LEFT JOIN report_events e ON e.report_event_id = m.report_event_id
         LEFT JOIN accounts a ON a.account_id = e.actor_id
         WHERE m.media_id = $1",
    )
    .bind(id)
    .fetch_all(pool)
    .await)?;
    let public = rows.iter().any(|(role, _, _)| role != "comment");
    let reporters = rows
        .into_iter()
        .filter(|(_, _, author)| matches!(author.as_deref(), Some("staff" | "admin")))
        .filter_map(|(_, reporter, _)| reporter)
        .collect();
    Ok((public, reporters))
}

fn map_pipeline_error(e: pipeline::MediaError) -> Error {
    match e {
        pipeline::MediaError::UnsupportedType => {
            Error::UnsupportedMediaType("unsupported_photo_type")
        }
        pipeline::MediaError::TooLarge => Error::PayloadTooLarge,
        pipeline::MediaError::TooManyPixels => Error::validation(
            "file",
            "too_many_pixels",
            "Ảnh quá lớn (số điểm ảnh)",
            "The image has too many pixels",
        ),
        pipeline::MediaError::Corrupt(reason) => {
            // The decoder's wording is for the logs, not for residents.
            tracing::info!(reason, "refused a damaged photo");
            Error::validation(
                "file",
                "corrupt_image",
                "Ảnh bị hỏng hoặc không đọc được",
                "The image is damaged or unreadable",
            )
        }
    }
}

/// The result of an upload.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MediaView {
    pub id: Uuid,
    /// The public copy (no metadata at all).
    pub url: String,
    pub thumbnail_url: String,
    pub width: i32,
    pub height: i32,
    /// Where the photo was taken, from its GPS metadata (to suggest the report's location).
    pub location_hint: Option<LocationHint>,
    pub captured_at: Option<DateTime<Utc>>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LocationHint {
    pub lat: f64,
    pub lon: f64,
}

impl From<MediaRow> for MediaView {
    fn from(m: MediaRow) -> Self {
        let r = crate::reports::api::photo_ref(m.media_id);
        MediaView {
            id: m.media_id,
            url: r.url,
            thumbnail_url: r.thumbnail_url,
            width: m.width,
            height: m.height,
            location_hint: m
                .hint_lat
                .zip(m.hint_lon)
                .map(|(lat, lon)| LocationHint { lat, lon }),
            captured_at: m.captured_at,
        }
    }
}

/// Process and store an uploaded photo for `owner`. The same owner sending the same photo again
/// (a retry after a lost answer, the same picture picked twice) gets the first upload back: one
/// row per photo and owner, never a second. With `key` (a claimed `Idempotency-Key`), the key is
/// completed with the photo's id in the same transaction that records it.
pub async fn intake(
    state: &Ctx,
    owner: Uuid,
    upload: Upload,
    key: Option<&crate::store::idempotency::Key>,
) -> Result<MediaView> {
    if upload.size() as u64 > state.settings.max_upload_bytes as u64 {
        return Err(Error::PayloadTooLarge);
    }
    // The file is read and decoded on the photo workers, never on the async threads.
    let file = upload.into_file().into_std().await;
    intake_with(state, owner, key, move || {
        use std::io::Read;
        let mut bytes = Vec::new();
        let mut file = file;
        file.read_to_end(&mut bytes)
            .map_err(|e| pipeline::MediaError::Corrupt(format!("reading upload: {e}")))?;
        Ok(bytes)
    })
    .await
}

/// [`intake`] for a photo already in memory: the pieces of a resumable upload, put together.
pub async fn intake_bytes(state: &Ctx, owner: Uuid, bytes: Vec<u8>) -> Result<MediaView> {
    intake_with(state, owner, None, move || Ok(bytes)).await
}

/// Read the photo (`read`, on a photo worker), process it and record it for `owner`.
async fn intake_with(
    state: &Ctx,
    owner: Uuid,
    key: Option<&crate::store::idempotency::Key>,
    read: impl FnOnce() -> Result<Vec<u8>, pipeline::MediaError> + Send + 'static,
) -> Result<MediaView> {
    let limits = pipeline::Limits {
        max_bytes: state.settings.max_upload_bytes as u64,
        ..pipeline::Limits::default()
    };
    let processed = state
        .photo_workers
        .run(move || pipeline::process_owned(read()?, &limits))
        .await?
        .map_err(map_pipeline_error)?;
    let hash = &processed.content_hash;
    let public_key = format!("photos/{}/{hash}.jpg", &hash[..2]);
    let thumb_key = format!("thumbs/{}/{hash}.jpg", &hash[..2]);
    // Content-addressed: the same photo twice is stored once.
    if !state
        .objects
        .exists(&public_key)
        .await
        .map_err(Error::from)?
    {
        state
            .objects
            .put(&public_key, processed.public.clone().into())
            .await
            .map_err(Error::from)?;
    }
    if !state
        .objects
        .exists(&thumb_key)
        .await
        .map_err(Error::from)?
    {
        state
            .objects
            .put(&thumb_key, processed.thumbnail.clone().into())
            .await
            .map_err(Error::from)?;
    }
    let now = state.clock.now();
    if let Some(existing) = own_photo(state, owner, hash).await? {
        return earlier_upload(state, existing, key, now).await;
    }
    let id = Uuid::now_v7();
    let (lat, lon) = processed.location_hint.unzip();
    // The camera's clock has no zone; phones here are on Vietnam time.
    let captured_at = processed
        .captured_at
        .and_then(|t| t.and_local_timezone(state.calendar.utc_offset()).single())
        .map(|t| t.with_timezone(&Utc));
    let (width, height) = (
        processed.public_width as i64,
        processed.public_height as i64,
    );
    let hash = hash.clone();
    let claimed = key.cloned();
    let inserted = state
        .db
        .write(move |tx| {
            Box::pin(async move {
                // One row per owner and photo (a unique index): of two uploads of the same bytes
                // racing past the check above, the second inserts nothing.
                let rows = tx.exec(
                    "INSERT INTO media (media_id, owner_id, content_hash, public_key, thumb_key, width, height, hint_lat, hint_lon, captured_at, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
                     ON CONFLICT (owner_id, content_hash) DO NOTHING",
                    &[
                        id.into(),
                        owner.into(),
                        hash.as_str().into(),
                        public_key.as_str().into(),
                        thumb_key.as_str().into(),
                        width.into(),
                        height.into(),
                        lat.into(),
                        lon.into(),
                        captured_at.into(),
                        now.into(),
                    ],
                )
                .await?;
                let inserted = rows == 1;
                if inserted && let Some(k) = &claimed {
                    crate::store::idempotency::complete(tx, k, &id.to_string(), now).await?;
                }
                Ok(inserted)
            })
        })
        .await?;
    if !inserted {
        // The race's loser answers as a later upload of the same photo would. The objects it
        // stored are the winner's too (their keys are the content hash): nothing to clean up.
        let winner = own_photo(state, owner, &processed.content_hash)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("media conflict without a row")))?;
        return earlier_upload(state, winner, key, now).await;
    }
    media_row(state, id)
        .await?
        .map(Into::into)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("media vanished")))
}

/// The answer to a photo its owner uploaded before (`existing`): that upload, with the claimed
/// `key` (if any) completed with it.
async fn earlier_upload(
    state: &Ctx,
    existing: Uuid,
    key: Option<&crate::store::idempotency::Key>,
    now: DateTime<Utc>,
) -> Result<MediaView> {
    if let Some(k) = key.cloned() {
        state
            .db
            .write(move |tx| {
                Box::pin(async move {
                    crate::store::idempotency::complete(tx, &k, &existing.to_string(), now).await
                })
            })
            .await?;
    }
    media_row(state, existing)
        .await?
        .map(Into::into)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("media vanished")))
}

/// The owner's earlier upload of the same photo (same original bytes), if any: at most one row,
/// held so by a unique index.
async fn own_photo(state: &Ctx, owner: Uuid, hash: &str) -> Result<Option<Uuid>> {
    Ok(on_db!(&state.db, pool => sqlx::query_scalar::<_, Uuid>(
        "SELECT media_id FROM media WHERE owner_id = $1 AND content_hash = $2",
    )
    .bind(owner)
    .bind(hash)
    .fetch_optional(pool)
    .await)?)
}

/// Delete stored photos, thumbnails and upload pieces that no row refers to and that are older than
/// `grace`: what an upload cut short leaves (a crash or a failed insert after the photo was
/// stored, before its row was written). The grace keeps uploads in progress safe; each key is
/// checked against the rows again right before it is deleted. Returns how many were deleted.
pub async fn collect_orphans(state: &Ctx, grace: chrono::Duration) -> Result<usize> {
    let cutoff = state.clock.now() - grace;
    let mut deleted = 0;
    // Pieces of resumable uploads that no row lists: a request that lost a race, or a crash
    // between storing a piece and recording it.
    for (key, written) in state
        .objects
        .list(resumable::PIECES_PREFIX)
        .await
        .map_err(Error::from)?
    {
        if written <= cutoff && !resumable::piece_recorded(state, &key).await? {
            state.objects.delete(&key).await.map_err(Error::from)?;
            deleted += 1;
        }
    }
    for prefix in ["photos/", "thumbs/"] {
        for (key, written) in state.objects.list(prefix).await.map_err(Error::from)? {
            if written > cutoff {
                continue;
            }
            // Keys are `<kind>/<2 hex>/<content hash>.jpg`.
            let Some(hash) = key.rsplit('/').next().and_then(|f| f.strip_suffix(".jpg")) else {
                continue;
            };
            let used = on_db!(&state.db, pool => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM media WHERE content_hash = $1",
            )
            .bind(hash)
            .fetch_one(pool)
            .await)?;
            if used == 0 {
                state.objects.delete(&key).await.map_err(Error::from)?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}

type Job = Box<dyn FnOnce() + Send>;

/// A few long-lived threads that decode photos, one at a time each.
///
/// Decoding takes tens of megabytes per photo. Bounding how many run at once bounds that, and
/// running them always on the same threads matters as much: the allocator keeps freed memory per
/// thread (glibc arenas), so photos spread over the blocking pool's many threads would each leave
/// their peak behind. Uploads beyond the workers wait in the queue holding only their temporary file.
pub struct PhotoWorkers {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl PhotoWorkers {
    pub fn new(threads: usize) -> std::io::Result<PhotoWorkers> {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("photo-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(PhotoWorkers { jobs })
    }

    /// Run `f` on a worker and wait for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| Error::Unavailable("shutting_down"))?;
        rx.await
            .map_err(|_| Error::Internal(anyhow::anyhow!("photo worker stopped")))
    }
}

#[derive(Multipart)]
struct UploadForm {
    /// One photo: JPEG, PNG or WebP (HEIC: convert on the phone first).
    file: Upload,
}

#[derive(ApiResponse)]
enum Uploaded {
    /// Stored.
    #[oai(status = 201)]
    Created(Json<MediaView>),
}

#[derive(ApiResponse)]
enum Image {
    /// JPEG.
    #[oai(status = 200, content_type = "image/jpeg")]
    Jpeg(
        Binary<Vec<u8>>,
        #[oai(header = "Cache-Control")] String,
        /// The photo's content hash: the same photo, the same tag.
        #[oai(header = "ETag")]
        String,
    ),
    /// The copy the client holds (`If-None-Match`) is current.
    #[oai(status = 304)]
    NotModified(
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "ETag")] String,
    ),
}

pub struct MediaApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Media")]
impl MediaApi {
    /// Upload a photo (before attaching it to a report)
    ///
    /// Multipart field `file`, one photo per request. The answer has the public copy's URL and, when
    /// the photo had GPS metadata, a location hint. Unsupported types get 415; oversized files 413.
    #[oai(path = "/v1/media", method = "post", operation_id = "media_upload")]
    async fn upload(
        &self,
        auth: BearerAuth,
        /// Unique per photo a phone sends (kept with its draft), up to 100 characters: a retry
        /// gets the first answer without the photo being processed again.
        #[oai(name = "Idempotency-Key", validator(max_length = 100))]
        idempotency_key: Header<Option<String>>,
        form: UploadForm,
    ) -> Result<
        Uploaded,
        Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | BODY | INVALID | RATE_LIMITED }>,
    > {
        use crate::store::idempotency;
        let caller = self
            .state
            .auth
            .caller_with(&auth, &[Role::Resident, Role::Staff, Role::Admin])
            .await?;
        let state = &self.state;
        // A multipart upload: what identifies the request is the file as sent (its size and name).
        let request = serde_json::json!({
            "size": form.file.size(),
            "file_name": form.file.file_name().unwrap_or(""),
        });
        let key = match idempotency::start(
            &state.db,
            caller.account_id,
            "media",
            idempotency_key.0,
            &request,
            state.clock.now(),
        )
        .await?
        {
            idempotency::Start::Go(key) => key,
            idempotency::Start::Replay(id) => {
                let view = media_row(state, id)
                    .await?
                    .ok_or(Error::NotFound("media_not_found"))?;
                return Ok(Uploaded::Created(Json(view.into())));
            }
        };
        let result = async {
            check_upload_allowance(state, &caller).await?;
            intake(state, caller.account_id, form.file, key.as_ref()).await
        }
        .await;
        let view = idempotency::settle(&state.db, key.as_ref(), result).await?;
        Ok(Uploaded::Created(Json(view)))
    }

    /// A photo's public copy (no metadata)
    ///
    /// Public once shown on a report (its own photos, resolution evidence); otherwise only its
    /// uploader, staff and, for a photo sent with a comment, the report's reporter may see it.
    #[oai(
        path = "/v1/media/:media_id/public.jpg",
        method = "get",
        operation_id = "media_public"
    )]
    async fn public(
        &self,
        req: &poem::Request,
        media_id: Path<Uuid>,
    ) -> Result<Image, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        Ok(self.serve(req, media_id.0, false).await?)
    }

    /// A photo's thumbnail
    #[oai(
        path = "/v1/media/:media_id/thumbnail.jpg",
        method = "get",
        operation_id = "media_thumbnail"
    )]
    async fn thumbnail(
        &self,
        req: &poem::Request,
        media_id: Path<Uuid>,
    ) -> Result<Image, Problems<{ SIGNED_IN | NOT_FOUND }>> {
        Ok(self.serve(req, media_id.0, true).await?)
    }
}

impl MediaApi {
    async fn serve(&self, req: &poem::Request, id: Uuid, thumb: bool) -> Result<Image> {
        let row = media_row(&self.state, id)
            .await?
            .ok_or(Error::NotFound("media_not_found"))?;
        let (public, reporters) = attachments(&self.state, id).await?;
        if !public {
            // Unattached photos are private to their uploader (and staff), a comment's also to the
            // report's reporter (who is shown staff's comments): same 404 for everyone else.
            let caller = self.state.auth.optional_caller(req).await?;
            let allowed = caller.is_some_and(|c| {
                c.account_id == row.owner_id
                    || matches!(c.role, Role::Staff | Role::Admin)
                    || reporters.contains(&c.account_id)
            });
            if !allowed {
                return Err(Error::NotFound("media_not_found"));
            }
        }
        let key = if thumb {
            &row.thumb_key
        } else {
            &row.public_key
        };
        let cache = if public {
            "public, max-age=86400"
        } else {
            "private, no-store"
        };
        // Objects are named by their content's hash: the key is a tag that never lies.
        let etag = format!(
            "\"{}{}\"",
            if thumb { "t-" } else { "p-" },
            key.rsplit('/')
                .next()
                .unwrap_or(key)
                .trim_end_matches(".jpg")
        );
        if req
            .header("if-none-match")
            .is_some_and(|v| crate::web::etag_matches(v, &etag))
        {
            return Ok(Image::NotModified(cache.to_string(), etag));
        }
        let bytes = self.state.objects.get(key).await.map_err(Error::from)?;
        Ok(Image::Jpeg(Binary(bytes.to_vec()), cache.to_string(), etag))
    }
}
