//! What one operation can answer besides success, as its own type: `Problems<{ NOT_FOUND |
//! CONFLICT }>` documents 404 and 409 (and the three every operation can meet: 400 for a malformed
//! request, 500, and 503 when the database or the photo store is down), and nothing else. The
//! statuses are bits of a const parameter, so each handler's signature is the spec's list.
//!
//! A problem outside the list is still answered as it is (the truth goes to the client); the
//! API tests compare every answer with the spec, so a list that leaves one out fails them.

use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaResponses, Registry};

use super::{AnyProblem, Error};

/// 401: the operation needs a signed-in caller.
pub const UNAUTHORIZED: u32 = 1 << 1;
/// 403: the caller's role or relation may be refused.
pub const FORBIDDEN: u32 = 1 << 2;
/// 404: it names something that may not exist (or not be the caller's to see).
pub const NOT_FOUND: u32 = 1 << 3;
/// 409: the current state may forbid it.
pub const CONFLICT: u32 = 1 << 4;
/// 413: its body may be too large.
pub const TOO_LARGE: u32 = 1 << 5;
/// 415: its body may be of a type it does not take.
pub const UNSUPPORTED: u32 = 1 << 6;
/// 422: values that are well-formed may still be refused.
pub const INVALID: u32 = 1 << 7;
/// 429: it is rate limited.
pub const RATE_LIMITED: u32 = 1 << 8;
/// 412: it speaks a versioned protocol (tus) and may refuse the client's version.
pub const PRECONDITION: u32 = 1 << 9;

/// A body's two: too large, or of the wrong type.
pub const BODY: u32 = TOO_LARGE | UNSUPPORTED;
/// A signed-in caller whose role or relation is checked.
pub const SIGNED_IN: u32 = UNAUTHORIZED | FORBIDDEN;

/// The bit of a status, if it is one an operation lists.
pub const fn bit(status: u16) -> Option<u32> {
    Some(match status {
        401 => UNAUTHORIZED,
        403 => FORBIDDEN,
        404 => NOT_FOUND,
        409 => CONFLICT,
        412 => PRECONDITION,
        413 => TOO_LARGE,
        415 => UNSUPPORTED,
        422 => INVALID,
        429 => RATE_LIMITED,
        _ => return None,
    })
}

/// Whether an operation whose list is `set` documents `status`.
pub const fn documents(set: u32, status: u16) -> bool {
    match bit(status) {
        Some(b) => set & b != 0,
        None => matches!(status, 400 | 500 | 503),
    }
}

/// The problems one operation answers (see the module's documentation).
#[derive(Debug)]
pub struct Problems<const S: u32>(pub AnyProblem);

impl<const S: u32> Problems<S> {
    fn status(&self) -> u16 {
        match &self.0 {
            AnyProblem::BadRequest(_) => 400,
            AnyProblem::Unauthorized(_) => 401,
            AnyProblem::Forbidden(_) => 403,
            AnyProblem::NotFound(_) => 404,
            AnyProblem::Conflict(_) => 409,
            AnyProblem::PreconditionFailed(_) => 412,
            AnyProblem::PayloadTooLarge(_) => 413,
            AnyProblem::UnsupportedMediaType(_) => 415,
            AnyProblem::Unprocessable(_) => 422,
            AnyProblem::TooManyRequests(..) => 429,
            AnyProblem::Internal(_) => 500,
            AnyProblem::Unavailable(..) => 503,
        }
    }
}

impl<const S: u32> ApiResponse for Problems<S> {
    const BAD_REQUEST_HANDLER: bool = true;

    fn meta() -> MetaResponses {
        let mut meta = AnyProblem::meta();
        meta.responses
            .retain(|r| r.status.is_some_and(|s| documents(S, s)));
        meta
    }

    fn register(registry: &mut Registry) {
        AnyProblem::register(registry);
    }

    fn from_parse_request_error(err: poem::Error) -> Self {
        Problems(super::bad_request(err))
    }
}

impl<const S: u32> poem::IntoResponse for Problems<S> {
    fn into_response(self) -> poem::Response {
        if !documents(S, self.status()) {
            // A bug in the operation's list (the tests catch it): the answer stays true.
            tracing::warn!(
                status = self.status(),
                "an operation answered a status it does not document"
            );
        }
        self.0.into_response()
    }
}

impl<const S: u32> From<Problems<S>> for poem::Error {
    fn from(p: Problems<S>) -> poem::Error {
        poem::Error::from_response(poem::IntoResponse::into_response(p))
    }
}

impl<const S: u32> From<AnyProblem> for Problems<S> {
    fn from(p: AnyProblem) -> Self {
        Problems(p)
    }
}

impl<const S: u32> From<Error> for Problems<S> {
    fn from(err: Error) -> Self {
        Problems(err.into())
    }
}

impl<const S: u32> From<sqlx::Error> for Problems<S> {
    fn from(err: sqlx::Error) -> Self {
        Problems(err.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_documents_its_statuses_and_the_three_every_operation_can_meet() {
        let set = NOT_FOUND | CONFLICT;
        let documented: Vec<u16> = [400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503]
            .into_iter()
            .filter(|s| documents(set, *s))
            .collect();
        assert_eq!(documented, [400, 404, 409, 500, 503]);
        let meta = <Problems<{ NOT_FOUND | CONFLICT }> as ApiResponse>::meta();
        let statuses: Vec<u16> = meta.responses.iter().filter_map(|r| r.status).collect();
        assert_eq!(statuses, [400, 404, 409, 500, 503]);
    }
}
