//! HTTP: the tus 1.0 endpoints under `/v1/media/uploads` (core, creation, expiration,
//! termination). Every answer, problems included, carries `Tus-Resumable` and `Tus-Version`.

use poem::http::HeaderValue;
use poem::{Endpoint, EndpointExt};
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, OpenApi};
use uuid::Uuid;

use super::{Appended, TUS_EXTENSIONS, TUS_VERSION, UPLOADERS, UploadRow, http_date};
use crate::auth::api::BearerAuth;
use crate::error::{
    BODY, CONFLICT, Error, INVALID, NOT_FOUND, PRECONDITION, Problems, RATE_LIMITED, Result,
    SIGNED_IN,
};
use crate::media::{Ctx, MediaView};
use crate::tags::ApiTags;

/// The bytes of a `PATCH`: `application/offset+octet-stream`, read as they arrive (415 for any
/// other type).
pub struct OffsetOctetStream(pub poem::Body);

impl Payload for OffsetOctetStream {
    const CONTENT_TYPE: &'static str = "application/offset+octet-stream";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(Self::CONTENT_TYPE))
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("binary"),
            ..MetaSchema::new("string")
        }))
    }
}

impl ParsePayload for OffsetOctetStream {
    const IS_REQUIRED: bool = true;

    async fn from_request(
        _request: &poem::Request,
        body: &mut poem::RequestBody,
    ) -> poem::Result<Self> {
        Ok(Self(body.take()?))
    }
}

impl<'a> ApiExtractor<'a> for OffsetOctetStream {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: Self::CONTENT_TYPE,
                schema: Self::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a poem::Request,
        body: &mut poem::RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        use poem_openapi::error::ContentTypeError;
        match request.content_type() {
            Some(ct) if Self::check_content_type(ct) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            Some(ct) => Err(ContentTypeError::NotSupported {
                content_type: ct.chars().take(100).collect(),
            }
            .into()),
            None => Err(ContentTypeError::ExpectContentType.into()),
        }
    }
}

/// Every answer of these operations, problems included, says which protocol version the server
/// speaks.
fn tus_headers(ep: impl Endpoint + 'static) -> impl Endpoint {
    ep.around(|ep, req| async move {
        let mut resp = match ep.call(req).await {
            Ok(resp) => poem::IntoResponse::into_response(resp),
            Err(err) => {
                // The framework's own refusals (no token, an unreadable id) become problems here,
                // so they keep these headers too.
                let problem = crate::error::from_poem(&err);
                let resp = err.into_response();
                let shaped = resp
                    .content_type()
                    .is_some_and(|ct| ct.starts_with("application/problem+json"));
                if shaped {
                    resp
                } else {
                    let status = resp.status();
                    let mut resp = crate::error::problem_response(&problem);
                    resp.set_status(status);
                    resp
                }
            }
        };
        let h = resp.headers_mut();
        h.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
        h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
        Ok(resp)
    })
}

/// A request in another protocol version is refused (412) before anything else happens.
fn check_version(sent: &str) -> Result<()> {
    if sent.trim() == TUS_VERSION {
        Ok(())
    } else {
        Err(Error::PreconditionFailed("tus_version_unsupported"))
    }
}

fn location(id: Uuid) -> String {
    format!("/v1/media/uploads/{id}")
}

#[derive(ApiResponse)]
enum Created {
    /// The upload exists: send its bytes with `PATCH` to `Location`, from `Upload-Offset`.
    #[oai(status = 201)]
    Created(
        /// Where the upload lives (relative to this server).
        #[oai(header = "Location")]
        String,
        #[oai(header = "Upload-Offset")] u64,
        /// Unfinished past this time (an HTTP date), the upload and its bytes are deleted.
        #[oai(header = "Upload-Expires")]
        String,
        #[oai(header = "Tus-Resumable")] String,
    ),
}

#[derive(ApiResponse)]
enum Status {
    /// How far the upload got: resume from `Upload-Offset`.
    #[oai(status = 200)]
    Ok(
        /// Bytes the server holds.
        #[oai(header = "Upload-Offset")]
        u64,
        #[oai(header = "Upload-Length")] u64,
        #[oai(header = "Upload-Expires")] String,
        /// As sent when the upload was created.
        #[oai(header = "Upload-Metadata")]
        Option<String>,
        /// Once complete: the photo it made (to attach to a report).
        #[oai(header = "Wardline-Media-Id")]
        Option<String>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Tus-Resumable")] String,
    ),
}

#[derive(ApiResponse)]
enum Patched {
    /// Stored: more bytes are expected from `Upload-Offset`.
    #[oai(status = 204)]
    Progress(
        #[oai(header = "Upload-Offset")] u64,
        #[oai(header = "Upload-Expires")] String,
        #[oai(header = "Tus-Resumable")] String,
    ),
    /// The last byte arrived: the photo, as `POST /v1/media` answers it (any 2xx is success
    /// to a tus client).
    #[oai(status = 200)]
    Completed(
        Json<MediaView>,
        #[oai(header = "Upload-Offset")] u64,
        #[oai(header = "Wardline-Media-Id")] String,
        #[oai(header = "Tus-Resumable")] String,
    ),
}

#[derive(ApiResponse)]
enum Terminated {
    /// The upload and its bytes are gone (a photo it made stays).
    #[oai(status = 204)]
    Gone(#[oai(header = "Tus-Resumable")] String),
}

#[derive(ApiResponse)]
enum Discovery {
    /// What this server's resumable uploads support.
    #[oai(status = 204)]
    Ok(
        #[oai(header = "Tus-Resumable")] String,
        #[oai(header = "Tus-Version")] String,
        #[oai(header = "Tus-Extension")] String,
        /// The largest photo accepted, in bytes.
        #[oai(header = "Tus-Max-Size")]
        u64,
    ),
}

pub struct UploadsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Media")]
impl UploadsApi {
    /// Resumable uploads: what the server supports (tus 1.0 discovery)
    #[oai(
        path = "/v1/media/uploads",
        method = "options",
        operation_id = "media_upload_options",
        transform = "tus_headers"
    )]
    async fn options(&self) -> Result<Discovery, Problems<0>> {
        Ok(Discovery::Ok(
            TUS_VERSION.into(),
            TUS_VERSION.into(),
            TUS_EXTENSIONS.into(),
            self.state.settings.max_upload_bytes as u64,
        ))
    }

    /// Start a resumable photo upload (tus 1.0 creation)
    ///
    /// For a phone on a weak line: announce the photo's size (`Upload-Length`, at most the photo
    /// size limit: 413 above), then send its bytes with `PATCH` to `Location`; after a broken
    /// connection, `HEAD` says how many arrived. `Upload-Metadata` may name `filename` and
    /// `filetype` (Base64 values; a type that is not a photo gets 415 now). Limits as `POST
    /// /v1/media` (the hourly allowance), and at most `max_open_uploads` unfinished at once (429).
    /// Unfinished uploads expire (`Upload-Expires`).
    #[oai(
        path = "/v1/media/uploads",
        method = "post",
        operation_id = "media_upload_create",
        transform = "tus_headers"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        /// `1.0.0` (412 otherwise).
        #[oai(name = "Tus-Resumable")]
        tus_resumable: Header<String>,
        /// The photo's size in bytes.
        #[oai(name = "Upload-Length")]
        upload_length: Header<u64>,
        /// `key base64value` pairs, comma-separated: `filename`, `filetype`.
        #[oai(name = "Upload-Metadata", validator(max_length = 2048))]
        upload_metadata: Header<Option<String>>,
        /// Unique per photo a phone sends (kept with its draft), up to 100 characters: a retry
        /// gets the first upload.
        #[oai(name = "Idempotency-Key", validator(max_length = 100))]
        idempotency_key: Header<Option<String>>,
    ) -> Result<
        Created,
        Problems<
            { SIGNED_IN | NOT_FOUND | CONFLICT | BODY | INVALID | RATE_LIMITED | PRECONDITION },
        >,
    > {
        let caller = self.state.auth.caller_with(&auth, &UPLOADERS).await?;
        check_version(&tus_resumable.0)?;
        let metadata = super::parse_metadata(upload_metadata.0.as_deref())?;
        let row = super::create(
            &self.state,
            &caller,
            upload_length.0,
            metadata,
            idempotency_key.0,
        )
        .await?;
        Ok(Created::Created(
            location(row.upload_id),
            row.upload_offset as u64,
            http_date(row.expires_at),
            TUS_VERSION.into(),
        ))
    }

    /// How far a resumable upload got (tus 1.0 `HEAD`)
    ///
    /// Only its owner sees it (404 to anyone else). Once complete, `Wardline-Media-Id` names the
    /// photo it made.
    #[oai(
        path = "/v1/media/uploads/:upload_id",
        method = "head",
        operation_id = "media_upload_status",
        transform = "tus_headers"
    )]
    async fn status(
        &self,
        auth: BearerAuth,
        upload_id: Path<Uuid>,
        /// `1.0.0` (412 otherwise).
        #[oai(name = "Tus-Resumable")]
        tus_resumable: Header<String>,
    ) -> Result<Status, Problems<{ SIGNED_IN | NOT_FOUND | PRECONDITION }>> {
        let caller = self.state.auth.caller_with(&auth, &UPLOADERS).await?;
        check_version(&tus_resumable.0)?;
        let row: UploadRow = super::find_own(&self.state, &caller, upload_id.0).await?;
        Ok(Status::Ok(
            row.upload_offset as u64,
            row.upload_length as u64,
            http_date(row.expires_at),
            (!row.metadata.is_empty()).then_some(row.metadata),
            row.media_id.map(|m| m.to_string()),
            "no-store".into(),
            TUS_VERSION.into(),
        ))
    }

    /// Send bytes of a resumable upload (tus 1.0 `PATCH`)
    ///
    /// The body (`application/offset+octet-stream`, 415 otherwise) continues the upload at
    /// `Upload-Offset`, which must be what `HEAD` says (409 otherwise). A connection that breaks
    /// keeps the bytes that arrived. With the last byte the photo goes through the same
    /// processing as `POST /v1/media` and the answer is that photo (the same owner sending the
    /// same bytes gets the same photo); a file that is not a readable photo ends the upload (415,
    /// 422). More bytes than announced: 413.
    #[oai(
        path = "/v1/media/uploads/:upload_id",
        method = "patch",
        operation_id = "media_upload_append",
        transform = "tus_headers"
    )]
    async fn append(
        &self,
        req: &poem::Request,
        auth: BearerAuth,
        upload_id: Path<Uuid>,
        /// `1.0.0` (412 otherwise).
        #[oai(name = "Tus-Resumable")]
        tus_resumable: Header<String>,
        /// Where these bytes go: the bytes the server holds.
        #[oai(name = "Upload-Offset")]
        upload_offset: Header<u64>,
        body: OffsetOctetStream,
    ) -> Result<
        Patched,
        Problems<
            { SIGNED_IN | NOT_FOUND | CONFLICT | BODY | INVALID | RATE_LIMITED | PRECONDITION },
        >,
    > {
        let caller = self.state.auth.caller_with(&auth, &UPLOADERS).await?;
        check_version(&tus_resumable.0)?;
        let declared = req
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let stream = Box::pin(body.0.into_bytes_stream());
        let done = super::append(
            &self.state,
            &caller,
            upload_id.0,
            upload_offset.0,
            declared,
            stream,
        )
        .await?;
        Ok(match done {
            Appended::Progress(row) => Patched::Progress(
                row.upload_offset as u64,
                http_date(row.expires_at),
                TUS_VERSION.into(),
            ),
            Appended::Completed(row, view) => {
                let id = view.id.to_string();
                Patched::Completed(Json(view), row.upload_offset as u64, id, TUS_VERSION.into())
            }
        })
    }

    /// End a resumable upload (tus 1.0 termination)
    ///
    /// Its bytes are deleted; a photo it already made stays. Only its owner may (404 to anyone
    /// else).
    #[oai(
        path = "/v1/media/uploads/:upload_id",
        method = "delete",
        operation_id = "media_upload_delete",
        transform = "tus_headers"
    )]
    async fn delete(
        &self,
        auth: BearerAuth,
        upload_id: Path<Uuid>,
        /// `1.0.0` (412 otherwise).
        #[oai(name = "Tus-Resumable")]
        tus_resumable: Header<String>,
    ) -> Result<Terminated, Problems<{ SIGNED_IN | NOT_FOUND | PRECONDITION }>> {
        let caller = self.state.auth.caller_with(&auth, &UPLOADERS).await?;
        check_version(&tus_resumable.0)?;
        super::terminate(&self.state, &caller, upload_id.0).await?;
        Ok(Terminated::Gone(TUS_VERSION.into()))
    }
}
