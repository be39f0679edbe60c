//! A request's body under its limit: counted as it streams, and it must keep arriving.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use poem::{Body, Request};

use crate::error::Error;

/// What happened to a request's body as it was read.
#[derive(Default)]
pub(super) struct BodyWatch {
    /// More than the limit arrived (413).
    pub(super) over_limit: AtomicBool,
    /// Nothing arrived for the stall timeout (408).
    pub(super) stalled: AtomicBool,
    /// The client's connection broke mid-body (logged and metered as 499, not as a 4xx).
    pub(super) client_gone: AtomicBool,
}

/// Every body is counted against the limit as it streams and must keep arriving: a body that
/// sends nothing for `stall` fails. Bodies without a `Content-Length` (chunked) are read up to the
/// limit here, so the limit holds however the client sends.
pub(super) async fn enforce_body_limit(
    req: &mut Request,
    limit: usize,
    buffer_chunked: bool,
    stall: Duration,
    watch: &Arc<BodyWatch>,
) -> Result<(), Error> {
    let declared = match req.header("content-length") {
        Some(len) => {
            let len: u64 = len
                .trim()
                .parse()
                .map_err(|_| Error::BadRequest("invalid Content-Length".into()))?;
            if len > limit as u64 {
                return Err(Error::PayloadTooLarge);
            }
            Some(len)
        }
        None => None,
    };
    // Nothing to read: an empty body, or an HTTP/1 request with neither a length nor chunks (a GET).
    // HTTP/2 bodies need neither, so they are always counted.
    let http1 = req.version() < poem::http::Version::HTTP_2;
    if declared == Some(0)
        || (http1 && declared.is_none() && req.header("transfer-encoding").is_none())
    {
        return Ok(());
    }
    let body = guarded(req.take_body(), limit, stall, watch.clone());
    if declared.is_some() || !buffer_chunked {
        // Counted as it streams; past the limit the stream fails and `over_limit` tells the
        // middleware to answer 413 whatever the handler made of the broken body.
        req.set_body(body);
        return Ok(());
    }
    let mut stream = body.into_bytes_stream();
    let mut buf = Vec::new();
    use futures::StreamExt;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::BadRequest(format!("reading body: {e}")))?;
        buf.extend_from_slice(&chunk);
    }
    req.set_body(Body::from_vec(buf));
    Ok(())
}

/// A body that fails once more than `limit` bytes have passed through it, or when no byte has
/// come for `stall`; it notes which in `watch`.
fn guarded(body: Body, limit: usize, stall: Duration, watch: Arc<BodyWatch>) -> Body {
    use futures::StreamExt;
    let stream = body.into_bytes_stream();
    let state = (stream, 0usize, watch, false);
    let s = futures::stream::unfold(state, move |(mut stream, seen, watch, done)| async move {
        if done {
            return None;
        }
        match tokio::time::timeout(stall, stream.next()).await {
            Err(_) => {
                watch.stalled.store(true, Ordering::Relaxed);
                let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "request body stalled");
                Some((Err(e), (stream, seen, watch, true)))
            }
            Ok(None) => None,
            Ok(Some(Err(e))) => {
                watch.client_gone.store(true, Ordering::Relaxed);
                Some((Err(e), (stream, seen, watch, true)))
            }
            Ok(Some(Ok(chunk))) => {
                let seen = seen + chunk.len();
                if seen > limit {
                    watch.over_limit.store(true, Ordering::Relaxed);
                    let e = std::io::Error::other("request body over the limit");
                    return Some((Err(e), (stream, seen, watch, true)));
                }
                Some((Ok(chunk), (stream, seen, watch, false)))
            }
        }
    });
    Body::from_bytes_stream(s)
}
