//! TURN over TCP and TLS (RFC 8656 §3.1, RFC 6062's client side): the `turn` crate serves
//! packet connections only, so each listener is presented to it as one [`Conn`] whose
//! `recv_from` yields the messages framed on its clients' streams, tagged with the client's
//! address, and whose `send_to` queues a message on that client's stream.
//!
//! On a stream, a STUN message is its 20-byte header and the length it declares; ChannelData is
//! its 4-byte header and its length, padded to a multiple of 4 (RFC 8656 §12.5). Anything else
//! closes the connection: a byte stream cannot be resynchronised.
//!
//! Bounds (a TURN port must not be a way to exhaust descriptors): at most
//! `turn_tcp_max_connections` TCP and TLS clients at once (more are closed at accept); a TLS
//! handshake within [`HANDSHAKE_WITHIN`]; a frame, once begun, within [`FRAME_WITHIN`]; a client
//! with no allocation silent for [`IDLE_UNALLOCATED`], one with an allocation for
//! [`IDLE_ALLOCATED`], is closed; a client that does not read its replies for [`WRITE_WITHIN`]
//! is closed. The allocation of a connection ends with it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use webrtc::stun::message::MAGIC_COOKIE;
use webrtc::util::Conn;

use super::guard::{AllocationOwner, Guard, Vet};
use crate::config::Settings;

/// The largest frame accepted: the crate reads into a 1,500-byte buffer, as a UDP datagram.
pub(super) const MAX_FRAME: usize = 1500;
pub(super) const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);
pub(super) const FRAME_WITHIN: Duration = Duration::from_secs(10);
pub(super) const IDLE_UNALLOCATED: Duration = Duration::from_secs(20);
/// Clients refresh permissions every 5 minutes and allocations before their 10 minutes end.
pub(super) const IDLE_ALLOCATED: Duration = Duration::from_secs(11 * 60);
pub(super) const WRITE_WITHIN: Duration = Duration::from_secs(10);
/// Messages queued for one client; past that they are dropped, as a full UDP buffer would.
const OUT_QUEUE: usize = 256;

/// Why a stream stops making sense.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum FrameError {
    #[error("neither STUN nor ChannelData")]
    Garbage,
    #[error("frame of {0} bytes is over the limit")]
    Oversize(usize),
}

/// Splits a byte stream into TURN messages.
#[derive(Default)]
pub(super) struct Framer {
    buf: BytesMut,
    /// When the first byte of the frame in progress arrived.
    started: Option<Instant>,
}

impl Framer {
    pub(super) fn push(&mut self, bytes: &[u8]) {
        if self.buf.is_empty() && !bytes.is_empty() {
            self.started = Some(Instant::now());
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message (ChannelData without its padding), `None` until one is complete.
    pub(super) fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let declared = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
        let (len, padded) = match self.buf[0] {
            0x00..=0x3f => {
                if declared % 4 != 0
                    || (self.buf.len() >= 8 && self.buf[4..8] != MAGIC_COOKIE.to_be_bytes())
                {
                    return Err(FrameError::Garbage);
                }
                (20 + declared, 20 + declared)
            }
            0x40..=0x7f => (4 + declared, (4 + declared).next_multiple_of(4)),
            _ => return Err(FrameError::Garbage),
        };
        if padded > MAX_FRAME {
            return Err(FrameError::Oversize(padded));
        }
        if self.buf.len() < padded {
            return Ok(None);
        }
        let frame = self.buf[..len].to_vec();
        self.buf.advance(padded);
        self.started = (!self.buf.is_empty()).then(Instant::now);
        Ok(Some(frame))
    }
}

/// The bound on stream clients, shared by the TCP and TLS listeners.
#[derive(Clone)]
pub(super) struct Bounds {
    permits: Arc<Semaphore>,
    max: u32,
}

impl Bounds {
    pub(super) fn new(max: u32) -> Bounds {
        Bounds {
            permits: Arc::new(Semaphore::new(max.max(1) as usize)),
            max: max.max(1),
        }
    }
}

/// The TLS side, from `turn_tls_cert` and `turn_tls_key` (PEM); `None` when neither is set.
pub(super) fn tls_acceptor(
    settings: &Settings,
) -> anyhow::Result<Option<tokio_rustls::TlsAcceptor>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert, key) = match (&settings.turn_tls_cert, &settings.turn_tls_key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => bail!(
            "WARDLINE_TURN_TLS_CERT and WARDLINE_TURN_TLS_KEY go together: set both or neither"
        ),
    };
    if settings.turn_tls_listen.trim().is_empty() {
        return Ok(None);
    }
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "WARDLINE_TURN_TLS_CERT: reading a PEM certificate chain from {}",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        bail!(
            "WARDLINE_TURN_TLS_CERT: no certificate in {}",
            cert.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "WARDLINE_TURN_TLS_KEY: reading a PEM private key from {}",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("WARDLINE_TURN_TLS_CERT and WARDLINE_TURN_TLS_KEY do not make a usable pair")?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

/// One client's connection, as the listener's [`Conn`] knows it.
struct Client {
    out: mpsc::Sender<Vec<u8>>,
    closed: watch::Receiver<bool>,
    allocated: Arc<AtomicBool>,
}

/// All the clients of one listener, as one packet connection for the crate.
struct StreamConn {
    local: SocketAddr,
    inbox: tokio::sync::Mutex<mpsc::Receiver<(Vec<u8>, SocketAddr)>>,
    clients: Mutex<HashMap<SocketAddr, Client>>,
    /// The client whose message the crate is handling (it handles one at a time).
    current: Mutex<Option<SocketAddr>>,
    shutdown: watch::Sender<bool>,
}

impl StreamConn {
    fn clients(&self) -> MutexGuard<'_, HashMap<SocketAddr, Client>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn closed_error() -> webrtc::util::Error {
    std::io::Error::other("the TURN listener closed").into()
}

#[async_trait]
impl Conn for StreamConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc::util::Result<()> {
        Err(std::io::Error::other("not applicable").into())
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc::util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc::util::Result<(usize, SocketAddr)> {
        let mut inbox = self.inbox.lock().await;
        let mut shutdown = self.shutdown.subscribe();
        loop {
            let (frame, from) = tokio::select! {
                m = inbox.recv() => m.ok_or_else(closed_error)?,
                _ = shutdown.wait_for(|s| *s) => return Err(closed_error()),
            };
            let Some(dst) = buf.get_mut(..frame.len()) else {
                continue;
            };
            dst.copy_from_slice(&frame);
            *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(from);
            return Ok((frame.len(), from));
        }
    }

    async fn send(&self, _buf: &[u8]) -> webrtc::util::Result<usize> {
        Err(std::io::Error::other("not applicable").into())
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc::util::Result<usize> {
        // Never waits: one slow client must not hold up the server's one read loop. A client
        // that is gone, or whose queue is full, loses the message, as over UDP.
        if let Some(client) = self.clients().get(&target) {
            let _ = client.out.try_send(buf.to_vec());
        }
        Ok(buf.len())
    }

    fn local_addr(&self) -> webrtc::util::Result<SocketAddr> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    /// A no-op: the crate closes its listening connection with every allocation it ends (over
    /// UDP, a socket all clients share, it closes nothing either). The listener closes through
    /// [`StreamListener::close`].
    async fn close(&self) -> webrtc::util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

impl AllocationOwner for StreamConn {
    fn current_connection(&self) -> Option<watch::Receiver<bool>> {
        let from = (*self.current.lock().unwrap_or_else(|p| p.into_inner()))?;
        let clients = self.clients();
        let client = clients.get(&from)?;
        client.allocated.store(true, Ordering::Relaxed);
        Some(client.closed.clone())
    }
}

/// A TCP (or TLS) listener of the embedded server and its clients.
pub(super) struct StreamListener {
    conn: Arc<StreamConn>,
    accept: tokio::task::JoinHandle<()>,
}

impl StreamListener {
    pub(super) fn start(
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        guard: Guard,
        bounds: &Bounds,
    ) -> StreamListener {
        let (inbox_tx, inbox) = mpsc::channel(OUT_QUEUE);
        let conn = Arc::new(StreamConn {
            local: listener
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
            inbox: tokio::sync::Mutex::new(inbox),
            clients: Mutex::default(),
            current: Mutex::default(),
            shutdown: watch::channel(false).0,
        });
        let accept = tokio::spawn(accept_loop(
            listener,
            tls,
            guard,
            bounds.clone(),
            conn.clone(),
            inbox_tx,
        ));
        StreamListener { conn, accept }
    }

    pub(super) fn conn(&self) -> Arc<dyn Conn + Send + Sync> {
        self.conn.clone()
    }

    pub(super) fn owner(&self) -> Arc<dyn AllocationOwner> {
        self.conn.clone()
    }

    /// Stop accepting and close every client.
    pub(super) fn close(&self) {
        self.accept.abort();
        self.conn.shutdown.send_replace(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    guard: Guard,
    bounds: Bounds,
    conn: Arc<StreamConn>,
    inbox: mpsc::Sender<(Vec<u8>, SocketAddr)>,
) {
    let mut full_logged = false;
    loop {
        let (tcp, from) = match listener.accept().await {
            Ok(v) => v,
            Err(e) => {
                // Out of descriptors, most likely: wait rather than spin.
                tracing::warn!(error = %e, transport = guard.transport, "TURN accept failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(permit) = bounds.permits.clone().try_acquire_owned() else {
            if !full_logged {
                tracing::warn!(
                    max = bounds.max,
                    "TURN over TCP/TLS at its connection bound (turn_tcp_max_connections): \
                     closing new connections"
                );
                full_logged = true;
            }
            drop(tcp);
            continue;
        };
        full_logged = false;
        let _ = tcp.set_nodelay(true);
        let (tls, guard, conn, inbox) = (tls.clone(), guard.clone(), conn.clone(), inbox.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => serve(tcp, from, conn, guard, inbox).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_WITHIN, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => serve(stream, from, conn, guard, inbox).await,
                        Ok(Err(e)) => {
                            tracing::debug!(client = %from, error = %e, "TURN TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(client = %from, "TURN TLS handshake too slow"),
                    }
                }
            }
        });
    }
}

/// One client's connection, until it closes, breaks a bound, or the server stops.
async fn serve<S>(
    io: S,
    from: SocketAddr,
    conn: Arc<StreamConn>,
    guard: Guard,
    inbox: mpsc::Sender<(Vec<u8>, SocketAddr)>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let (out, mut out_rx) = mpsc::channel::<Vec<u8>>(OUT_QUEUE);
    let (closed_tx, closed) = watch::channel(false);
    let allocated = Arc::new(AtomicBool::new(false));
    conn.clients().insert(
        from,
        Client {
            out: out.clone(),
            closed,
            allocated: allocated.clone(),
        },
    );
    let mut shutdown = conn.shutdown.subscribe();
    let writer = async move {
        while let Some(frame) = out_rx.recv().await {
            match tokio::time::timeout(WRITE_WITHIN, wr.write_all(&frame)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
    };
    let reader = async {
        let mut framer = Framer::default();
        let mut buf = vec![0u8; 4096];
        loop {
            let deadline = match framer.started {
                Some(at) => at + FRAME_WITHIN,
                None if allocated.load(Ordering::Relaxed) => Instant::now() + IDLE_ALLOCATED,
                None => Instant::now() + IDLE_UNALLOCATED,
            };
            let n = match tokio::time::timeout_at(deadline, rd.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => n,
                Ok(_) => return,
                Err(_) => {
                    tracing::debug!(client = %from, "TURN stream client too slow or idle: closed");
                    return;
                }
            };
            framer.push(&buf[..n]);
            loop {
                let frame = match framer.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(client = %from, error = %e, "TURN stream closed");
                        return;
                    }
                };
                match guard.vet(&frame, from) {
                    Vet::Pass => {
                        if inbox.send((frame, from)).await.is_err() {
                            return;
                        }
                    }
                    Vet::Refuse(Some(reply)) => {
                        let _ = out.try_send(reply);
                    }
                    Vet::Refuse(None) => {}
                }
            }
        }
    };
    tokio::select! {
        _ = reader => {}
        _ = writer => {}
        _ = shutdown.wait_for(|s| *s) => {}
    }
    conn.clients().remove(&from);
    let _ = closed_tx.send(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(body_len: u16) -> Vec<u8> {
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&body_len.to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&[9; 12]);
        m.extend(std::iter::repeat_n(0xab, usize::from(body_len)));
        m
    }

    fn channel_data(payload: &[u8]) -> Vec<u8> {
        let mut m = vec![0x40, 0x01];
        m.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn frames_split_across_reads_and_coalesced_in_one() {
        let a = stun(8);
        let b = channel_data(b"hello");
        let mut wire = a.clone();
        wire.extend_from_slice(&b);
        wire.extend_from_slice(&[0, 0, 0]); // ChannelData padded to a multiple of 4 on a stream
        wire.extend_from_slice(&a);
        // One byte at a time.
        let mut f = Framer::default();
        let mut got = vec![];
        for byte in &wire {
            f.push(std::slice::from_ref(byte));
            while let Ok(Some(frame)) = f.next_frame() {
                got.push(frame);
            }
        }
        assert_eq!(got, vec![a.clone(), b.clone(), a.clone()]);
        assert!(f.started.is_none(), "nothing pending");
        // All in one read.
        let mut f = Framer::default();
        f.push(&wire);
        assert_eq!(f.next_frame(), Ok(Some(a.clone())));
        assert_eq!(f.next_frame(), Ok(Some(b)));
        assert_eq!(f.next_frame(), Ok(Some(a)));
        assert_eq!(f.next_frame(), Ok(None));
        // Padding is waited for: a ChannelData frame is not complete before it.
        let mut f = Framer::default();
        f.push(&channel_data(b"abcde"));
        assert_eq!(f.next_frame(), Ok(None), "3 bytes of padding still to come");
        assert!(f.started.is_some(), "a frame is in progress");
        f.push(&[0, 0, 0]);
        assert_eq!(f.next_frame(), Ok(Some(channel_data(b"abcde"))));
    }

    #[test]
    fn oversize_and_garbage_are_refused() {
        let mut f = Framer::default();
        f.push(&stun(1500)[..4]);
        assert_eq!(f.next_frame(), Err(FrameError::Oversize(1520)));
        let mut f = Framer::default();
        f.push(&[0x40, 0x00, 0x05, 0xdd]);
        assert_eq!(f.next_frame(), Err(FrameError::Oversize(1508)));
        // The largest ChannelData that fits.
        let mut f = Framer::default();
        f.push(&channel_data(&[7; MAX_FRAME - 4]));
        assert_eq!(
            f.next_frame().map(|o| o.map(|v| v.len())),
            Ok(Some(MAX_FRAME))
        );
        for junk in [
            &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc][..], // TLS on the plain port
            &[0x00, 0x01, 0x00, 0x03][..], // STUN length not a multiple of 4
            &[0x00, 0x01, 0x00, 0x00, 1, 2, 3, 4][..], // no magic cookie
            &[0xff; 8][..],
        ] {
            let mut f = Framer::default();
            f.push(junk);
            assert_eq!(f.next_frame(), Err(FrameError::Garbage), "{junk:?}");
        }
        // Text reads as a huge ChannelData ("GE" is channel 0x4745): refused all the same.
        let mut f = Framer::default();
        f.push(b"GET / HTTP/1.1\r\n");
        assert!(f.next_frame().is_err());
    }
}
