//! The HTTP server loop: accepts connections, bounds them, and serves the route tree on each with
//! hyper, so that the server itself, not only the application, keeps its promises:
//!
//! - a request head must arrive within `header_read_timeout_secs` (slow-header clients closed);
//!   a keep-alive connection waiting for its next request gets the same time;
//! - open connections are bounded in all and per client address; past either bound a new
//!   connection is answered `503` + `Retry-After` and closed at once, keeping file descriptors in
//!   reserve for the database and the photo store (refusals at once are bounded too: past that,
//!   accepting waits, and the kernel's backlog holds the connections until their turn);
//! - the answers hyper makes by itself for a request it cannot parse (`400` malformed, `414` URI
//!   too long, `431` headers too large) leave as problem documents with the security headers and
//!   a request id, like every other answer.
//!
//! WebSockets leave hyper once upgraded, so none of the HTTP timeouts apply to them.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use poem::{Endpoint, EndpointExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{Error, Problem};

/// Descriptors kept free for the database, the photo store, temporary files and the TURN relays.
const FD_RESERVE: u64 = 1024;
/// Connections being refused at once (each holds its socket up to 4 s while its 503 goes out);
/// past that, accepting waits.
const MAX_REFUSING: usize = 256;

/// The process's open-files limit (soft), or a conservative guess where it cannot be read.
pub fn open_files_limit() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own; a failure leaves it zeroed.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        if rc == 0 && lim.rlim_cur > 0 {
            return lim.rlim_cur;
        }
    }
    1024
}

/// Raise the soft open-files limit to the hard one (the default soft limit is often 1024).
pub fn raise_open_files_limit() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above; setrlimit only raises the soft limit up to the hard one.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

/// The bounds the loop keeps.
#[derive(Clone, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

impl Limits {
    pub fn from_settings(s: &crate::config::Settings) -> Limits {
        let by_fds = open_files_limit().saturating_sub(FD_RESERVE).max(64) as usize;
        let max_connections = match s.max_connections {
            0 => by_fds,
            n => (n as usize).min(by_fds),
        };
        Limits {
            header_read_timeout: Duration::from_secs(s.header_read_timeout_secs.max(1)),
            max_connections,
            // Behind a proxy every connection comes from the proxy's address.
            max_connections_per_ip: if s.trust_forwarded_for {
                usize::MAX
            } else {
                (s.max_connections_per_ip as usize).max(1)
            },
        }
    }
}

/// Open connections, in all and per address.
#[derive(Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Releases a connection's place when it ends.
struct Place {
    open: Arc<Mutex<Open>>,
    ip: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Ok(mut o) = self.open.lock() {
            o.total = o.total.saturating_sub(1);
            if let Some(n) = o.per_ip.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    o.per_ip.remove(&self.ip);
                }
            }
        }
    }
}

fn take_place(open: &Arc<Mutex<Open>>, ip: IpAddr, limits: &Limits) -> Option<Place> {
    let mut o = open.lock().ok()?;
    let mine = o.per_ip.get(&ip).copied().unwrap_or(0);
    if o.total >= limits.max_connections || mine >= limits.max_connections_per_ip {
        return None;
    }
    o.total += 1;
    *o.per_ip.entry(ip).or_insert(0) += 1;
    Some(Place {
        open: open.clone(),
        ip,
    })
}

/// A whole HTTP/1.1 answer written by the server itself (no application behind it).
pub fn raw_problem(err: &Error, status: u16, reason: &str) -> Vec<u8> {
    let request_id = uuid::Uuid::now_v7().to_string();
    let mut problem: Problem = err.to_problem();
    problem.request_id = Some(request_id.clone());
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let retry = if status == 503 {
        "retry-after: 5\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nx-content-type-options: nosniff\r\nx-frame-options: DENY\r\n\
         referrer-policy: no-referrer\r\ncache-control: no-store\r\nx-request-id: {request_id}\r\n\
         {retry}connection: close\r\n\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Serve `app` on `listener` until `stop` resolves; then stop accepting, let open requests finish
/// within `grace`, and return.
pub async fn serve<E>(
    listener: TcpListener,
    app: E,
    limits: Limits,
    stop: impl std::future::Future<Output = ()> + Send,
    grace: Duration,
) where
    E: Endpoint + 'static,
{
    let app: Arc<dyn poem::endpoint::DynEndpoint<Output = poem::Response>> =
        Arc::new(poem::endpoint::ToDynEndpoint(app.map_to_response()));
    let open: Arc<Mutex<Open>> = Arc::default();
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let local = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    tokio::pin!(stop);
    let mut conns = tokio::task::JoinSet::new();
    let refusals = Arc::new(tokio::sync::Semaphore::new(MAX_REFUSING));
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => a,
            // Reap finished connection tasks as we go.
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (stream, remote) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors (EMFILE) or a connection reset before accept: wait a little
                // rather than spin, and go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Some(place) = take_place(&open, remote.ip(), &limits) else {
            // Refusals in progress are bounded too. Past that the loop waits for one to finish
            // before it accepts again (the kernel's backlog holds the rest), so every connection
            // gets its answer; none is closed unanswered.
            let permit = tokio::select! {
                _ = &mut stop => break,
                p = refusals.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            conns.spawn(async move {
                refuse_busy(stream).await;
                drop(permit);
            });
            continue;
        };
        let app = app.clone();
        let limits = limits.clone();
        let mut closing = closing_rx.clone();
        conns.spawn(async move {
            // The place goes with the socket, also into an upgraded WebSocket, so open sockets
            // of every kind count against the bounds.
            let io = TokioIo::new(ShapeBareErrors::new(stream, place));
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move {
                    let req: poem::Request = (
                        req,
                        poem::web::LocalAddr(poem::Addr::SocketAddr(local)),
                        poem::web::RemoteAddr(poem::Addr::SocketAddr(remote)),
                        poem::http::uri::Scheme::HTTP,
                    )
                        .into();
                    let resp = app.get_response(req).await;
                    Ok::<_, Infallible>(hyper::Response::from(resp))
                }
            });
            // HTTP/1.1 only (browsers and phones speak HTTP/2 only over TLS, which a proxy in front
            // ends): its header timer runs from the first read, so a connection that never sends
            // a byte is closed like one that sends too slowly.
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(256 * 1024)
                .max_headers(128);
            let conn = builder.serve_connection(io, service).with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = &mut conn => return,
                _ = closing.wait_for(|c| *c) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let _ = tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
}

/// Past the connection bounds: a quick 503 and close. The answer follows the request's head (up
/// to two seconds for it to come): an HTTP client that reads an answer before it has asked anything
/// calls it a broken connection. What else the client sent is read and dropped for a moment after
/// the answer, since closing a socket with unread data resets it.
async fn refuse_busy(mut stream: TcpStream) {
    use tokio::io::AsyncReadExt;
    let bytes = raw_problem(
        &Error::Unavailable("server_busy"),
        503,
        "Service Unavailable",
    );
    let _ = tokio::time::timeout(Duration::from_secs(4), async {
        let mut head = Vec::with_capacity(1024);
        let mut buf = [0u8; 2048];
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 4096];
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// The answers hyper writes by itself when it cannot parse a request are bare (a status line, a
/// date and no body). This stream notices one (an error status without the `x-request-id` every
/// application answer carries) and sends a problem document with the security headers instead.
/// hyper closes the connection after such an answer, so nothing follows it.
struct ShapeBareErrors<S> {
    inner: S,
    /// A replacement still to be written, and how much of it is out.
    pending: Vec<u8>,
    sent: usize,
    /// After a replacement, hyper's own bytes are dropped.
    swallow: bool,
    /// Once upgraded (a WebSocket) the bytes are the application's: never looked at again.
    passthrough: bool,
    /// The connection's place in the bounds, held as long as the socket lives.
    _place: Place,
}

impl<S> ShapeBareErrors<S> {
    fn new(inner: S, place: Place) -> Self {
        ShapeBareErrors {
            inner,
            pending: Vec::new(),
            sent: 0,
            swallow: false,
            passthrough: false,
            _place: place,
        }
    }

    /// Is `buf` hyper's bare answer to a request it could not parse? (Else: the answer that
    /// switches protocols ends the looking.)
    fn check(&mut self, buf: &[u8]) -> Option<Vec<u8>> {
        if self.passthrough {
            return None;
        }
        if buf.starts_with(b"HTTP/1.1 101 ") {
            self.passthrough = true;
            return None;
        }
        replacement_for(buf)
    }
}

/// If `buf` is one of hyper's bare error answers, the problem answer to send instead.
fn replacement_for(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status = std::str::from_utf8(rest.get(..3)?).ok()?;
    let (err, reason) = match status {
        "400" => (Error::Http(400, "malformed_request"), "Bad Request"),
        "414" => (Error::Http(414, "uri_too_long"), "URI Too Long"),
        "431" => (
            Error::Http(431, "headers_too_large"),
            "Request Header Fields Too Large",
        ),
        _ => return None,
    };
    // hyper's own answer is a whole head with an empty body, written at once.
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    if head_end + 4 != buf.len() {
        return None;
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if head.contains("\r\nx-request-id:") || !head.contains("\r\ncontent-length: 0") {
        return None;
    }
    let status: u16 = status.parse().ok()?;
    Some(raw_problem(&err, status, reason))
}

impl<S: AsyncWrite + Unpin> ShapeBareErrors<S> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ShapeBareErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ShapeBareErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.swallow {
            match self.drain(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(buf.len())),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if let Some(replacement) = self.check(buf) {
            self.pending = replacement;
            self.sent = 0;
            self.swallow = true;
            return match self.drain(cx) {
                Poll::Ready(Ok(())) | Poll::Pending => Poll::Ready(Ok(buf.len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            };
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let first = bufs.iter().find(|b| !b.is_empty());
        if first.is_some_and(|b| b.starts_with(b"HTTP/1.1 101 ")) {
            self.passthrough = true;
        }
        let bare = !self.passthrough && first.is_some_and(|b| replacement_for(b).is_some());
        if self.swallow || bare {
            // Hand the first slice to poll_write, which replaces or swallows it; the rest of an
            // error answer (its empty body) goes with it.
            let Some(first) = first else {
                return Poll::Ready(Ok(0));
            };
            return match self.as_mut().poll_write(cx, first) {
                Poll::Ready(Ok(_)) => Poll::Ready(Ok(total)),
                other => other,
            };
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_errors_are_replaced_and_app_answers_are_not() {
        let bare =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let shaped = replacement_for(bare).expect("replaced");
        let text = String::from_utf8(shaped).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 "));
        assert!(text.contains("content-type: application/problem+json"));
        assert!(text.contains("x-request-id: "));
        assert!(text.contains("\"code\":\"headers_too_large\""));
        let app = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\nx-request-id: abc\r\ncontent-length: 2\r\n\r\n{}";
        assert!(replacement_for(app).is_none());
        assert!(replacement_for(b"HTTP/1.1 200 OK\r\n\r\n").is_none());
        assert!(replacement_for(b"{\"HTTP/1.1 400\"}").is_none());
    }

    #[test]
    fn places_are_bounded_in_all_and_per_address() {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(1),
            max_connections: 3,
            max_connections_per_ip: 2,
        };
        let open: Arc<Mutex<Open>> = Arc::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let p1 = take_place(&open, a, &limits).unwrap();
        let _p2 = take_place(&open, a, &limits).unwrap();
        assert!(take_place(&open, a, &limits).is_none());
        let _p3 = take_place(&open, b, &limits).unwrap();
        assert!(take_place(&open, b, &limits).is_none(), "all places taken");
        drop(p1);
        assert!(take_place(&open, a, &limits).is_some());
    }
}
