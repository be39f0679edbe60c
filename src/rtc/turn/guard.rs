//! The embedded TURN server's guards, for every transport: which peers the relay may talk to,
//! and the checks on each message before the `turn` crate sees it.
//!
//! The crate has no hook to vet peer addresses, so the policy is enforced around it:
//! - [`Guard::vet`] answers a CreatePermission or ChannelBind naming a refused peer with
//!   `403 Forbidden` itself, and drops a Send indication to one, before the server sees them (the
//!   crate would log each such indication as an error);
//! - [`GuardedRelay`] wraps every relay socket and drops datagrams to or from refused peers, so
//!   nothing gets through even if a request slipped past the first check.
//!
//! A refusal is logged at WARN once per client (one allocation per client address and transport)
//! and remembered per participant for a while, so the pre-call test can say why relay failed.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use webrtc::stun::attributes::{ATTR_USERNAME, ATTR_XOR_PEER_ADDRESS};
use webrtc::stun::error_code::{CODE_FORBIDDEN, ErrorCodeAttribute};
use webrtc::stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_INDICATION, CLASS_REQUEST, MAGIC_COOKIE, METHOD_CHANNEL_BIND,
    METHOD_CREATE_PERMISSION, METHOD_SEND, Message, MessageType, Setter,
};
use webrtc::turn;
use webrtc::util::Conn;

/// Which peers the relay may talk to.
#[derive(Clone, Debug)]
pub(super) struct PeerPolicy {
    pub(super) allow_private: bool,
}

impl PeerPolicy {
    pub(super) fn allows(&self, peer: &SocketAddr) -> bool {
        self.allow_private || is_public(peer.ip())
    }
}

/// The addresses a relay may reach: the same rule as the server's other outbound traffic.
pub use crate::outbound::is_public;

/// Linux reports an ICMP error from an earlier `send_to` on the next receive; it says nothing
/// about the socket itself.
fn is_transient(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionRefused | ConnectionReset | HostUnreachable | NetworkUnreachable | Interrupted
    )
}

/// A STUN message (header with the magic cookie, length matching the datagram) or TURN
/// ChannelData (channel 0x4000–0x7FFF, length within the datagram).
fn looks_like_turn(datagram: &[u8]) -> bool {
    if datagram.len() < 4 {
        return false;
    }
    let declared = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    match datagram[0] {
        0x00..=0x3f => {
            datagram.len() >= 20
                && datagram[4..8] == MAGIC_COOKIE.to_be_bytes()
                && declared % 4 == 0
                && 20 + declared == datagram.len()
        }
        0x40..=0x7f => 4 + declared <= datagram.len(),
        _ => false,
    }
}

/// The peers a CreatePermission or ChannelBind request, or a Send indication, names (its
/// XOR-PEER-ADDRESS attributes); `None` for anything else (other messages, channel data, garbage).
fn requested_peers(datagram: &[u8]) -> Option<(Message, Vec<SocketAddr>)> {
    // Cheap checks first: a STUN header with the magic cookie.
    if datagram.len() < 20
        || datagram[0] & 0xc0 != 0
        || datagram[4..8] != MAGIC_COOKIE.to_be_bytes()
    {
        return None;
    }
    let mut m = Message {
        raw: datagram.to_vec(),
        ..Default::default()
    };
    m.decode().ok()?;
    let vetted = matches!(
        (m.typ.class, m.typ.method),
        (
            CLASS_REQUEST,
            METHOD_CREATE_PERMISSION | METHOD_CHANNEL_BIND
        ) | (CLASS_INDICATION, METHOD_SEND)
    );
    if !vetted {
        return None;
    }
    let mut peers = Vec::new();
    for attr in &m.attributes.0 {
        if attr.typ != ATTR_XOR_PEER_ADDRESS {
            continue;
        }
        if let Some(peer) = decode_xor_address(&attr.value, &m.transaction_id.0) {
            peers.push(peer);
        }
    }
    Some((m, peers))
}

/// RFC 8489 §14.2: family, port and address XORed with the magic cookie (and the transaction id
/// for IPv6).
fn decode_xor_address(v: &[u8], transaction_id: &[u8; 12]) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let port = u16::from_be_bytes([v[2] ^ cookie[0], v[3] ^ cookie[1]]);
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&cookie);
    key[4..].copy_from_slice(transaction_id);
    match (v[1], v.len()) {
        (0x01, 8) => {
            let mut a = [0u8; 4];
            for (i, b) in a.iter_mut().enumerate() {
                *b = v[4 + i] ^ key[i];
            }
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port))
        }
        (0x02, 20) => {
            let mut a = [0u8; 16];
            for (i, b) in a.iter_mut().enumerate() {
                *b = v[4 + i] ^ key[i];
            }
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port))
        }
        _ => None,
    }
}

fn forbidden_response(request: &Message) -> Option<Vec<u8>> {
    let mut out = Message::new();
    let setters: Vec<Box<dyn Setter>> = vec![
        Box::new(request.transaction_id),
        Box::new(MessageType::new(request.typ.method, CLASS_ERROR_RESPONSE)),
        Box::new(ErrorCodeAttribute {
            code: CODE_FORBIDDEN,
            reason: b"Forbidden IP".to_vec(),
        }),
    ];
    out.build(&setters).ok()?;
    Some(out.raw)
}

/// The participant a TURN username names (`expiry:participant`, coturn's REST scheme).
fn participant(m: &Message) -> Option<String> {
    let raw = m.get(ATTR_USERNAME).ok()?;
    let name = String::from_utf8(raw).ok()?;
    Some(
        name.split_once(':')
            .map_or(name.as_str(), |(_, p)| p)
            .to_string(),
    )
}

/// What to do with one message from a client.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Vet {
    /// Hand it to the server.
    Pass,
    /// Refused: send this reply (if any) back to the client instead.
    Refuse(Option<Vec<u8>>),
}

/// Refusals seen lately: which clients were told (for logging once per allocation), and which
/// participants were refused a peer, and when.
#[derive(Default)]
pub struct Refusals {
    inner: Mutex<RefusalsInner>,
}

#[derive(Default)]
struct RefusalsInner {
    logged: HashSet<(SocketAddr, &'static str)>,
    participants: HashMap<String, Instant>,
}

/// Entries kept at most (each map), and how long a participant's refusal is remembered.
const REFUSALS_KEPT: usize = 4096;
const REFUSAL_REMEMBERED: Duration = Duration::from_secs(15 * 60);

impl Refusals {
    fn lock(&self) -> MutexGuard<'_, RefusalsInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Note a refusal; true when this client has not been logged yet.
    fn note(&self, client: SocketAddr, transport: &'static str, who: Option<String>) -> bool {
        let mut inner = self.lock();
        if let Some(who) = who {
            if inner.participants.len() >= REFUSALS_KEPT {
                inner
                    .participants
                    .retain(|_, at| at.elapsed() < REFUSAL_REMEMBERED);
                if inner.participants.len() >= REFUSALS_KEPT {
                    inner.participants.clear();
                }
            }
            inner.participants.insert(who, Instant::now());
        }
        if inner.logged.len() >= REFUSALS_KEPT {
            inner.logged.clear();
        }
        inner.logged.insert((client, transport))
    }

    /// Whether one of `participants` was refused a peer since `since`.
    pub fn refused_since(&self, participants: &[&str], since: Instant) -> bool {
        let inner = self.lock();
        participants.iter().any(|p| {
            inner
                .participants
                .get(*p)
                .is_some_and(|at| *at >= since && at.elapsed() < REFUSAL_REMEMBERED)
        })
    }
}

/// The checks every listener (UDP, TCP, TLS) applies to a client's messages.
#[derive(Clone)]
pub(super) struct Guard {
    pub(super) policy: PeerPolicy,
    pub(super) refusals: Arc<Refusals>,
    /// `udp`, `tcp` or `tls`, for the log.
    pub(super) transport: &'static str,
}

impl Guard {
    /// Vet one whole message (a datagram, or one frame of a stream) from `client`.
    pub(super) fn vet(&self, message: &[u8], client: SocketAddr) -> Vet {
        let Some((m, peers)) = requested_peers(message) else {
            return Vet::Pass;
        };
        let Some(refused) = peers.iter().find(|p| !self.policy.allows(p)) else {
            return Vet::Pass;
        };
        let who = participant(&m);
        if self.refusals.note(client, self.transport, who.clone()) {
            tracing::warn!(
                %client,
                peer = %refused,
                participant = who.as_deref().unwrap_or("-"),
                transport = self.transport,
                "TURN relay to a non-public peer refused (turn_peer_refused; logged once per client)"
            );
        } else {
            tracing::debug!(%client, peer = %refused, "TURN relay to a non-public peer refused");
        }
        // Requests get their 403; a Send indication is dropped (indications have no answer).
        Vet::Refuse(
            (m.typ.class == CLASS_REQUEST)
                .then(|| forbidden_response(&m))
                .flatten(),
        )
    }
}

/// The server's UDP listening socket, behind the guard.
pub(super) struct GuardedListener {
    pub(super) socket: UdpSocket,
    pub(super) guard: Guard,
}

#[async_trait]
impl Conn for GuardedListener {
    async fn connect(&self, addr: SocketAddr) -> webrtc::util::Result<()> {
        Ok(self.socket.connect(addr).await?)
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc::util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc::util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = match self.socket.recv_from(buf).await {
                Ok(v) => v,
                Err(e) if is_transient(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            let Some(datagram) = buf.get(..n) else {
                continue;
            };
            // Noise never reaches the crate (which logs every datagram it cannot parse at error
            // level: a flood of garbage would otherwise become a flood of log lines).
            if !looks_like_turn(datagram) {
                continue;
            }
            match self.guard.vet(datagram, from) {
                Vet::Pass => return Ok((n, from)),
                Vet::Refuse(reply) => {
                    if let Some(reply) = reply {
                        let _ = self.socket.send_to(&reply, from).await;
                    }
                }
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc::util::Result<usize> {
        Ok(self.socket.send(buf).await?)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc::util::Result<usize> {
        Ok(self.socket.send_to(buf, target).await?)
    }

    fn local_addr(&self) -> webrtc::util::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc::util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// Who an allocation belongs to on a stream listener: the client's connection, whose end closes
/// the allocation's relay socket (RFC 8656: an allocation over TCP lives as long as its
/// connection).
pub(super) trait AllocationOwner: Send + Sync {
    /// The connection the request being handled came on: a receiver that turns `true` when it
    /// closes. `None` when it is already gone.
    fn current_connection(&self) -> Option<watch::Receiver<bool>>;
}

/// Hands out relay sockets on all interfaces, advertised at the public IP, wrapped by policy.
pub(super) struct GuardedRelays {
    pub(super) public_ip: IpAddr,
    pub(super) policy: PeerPolicy,
    pub(super) owner: Option<Arc<dyn AllocationOwner>>,
}

#[async_trait]
impl turn::relay::RelayAddressGenerator for GuardedRelays {
    fn validate(&self) -> Result<(), turn::Error> {
        Ok(())
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        let closed = match &self.owner {
            None => None,
            Some(owner) => Some(
                owner
                    .current_connection()
                    .ok_or_else(|| turn::Error::Other("the client's connection is gone".into()))?,
            ),
        };
        let bind: IpAddr = if use_ipv4 {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        let socket = UdpSocket::bind(SocketAddr::new(bind, requested_port)).await?;
        let mut relay_addr = socket.local_addr()?;
        relay_addr.set_ip(self.public_ip);
        Ok((
            Arc::new(GuardedRelay {
                socket,
                policy: self.policy.clone(),
                closed: tokio::sync::Mutex::new(closed),
            }),
            relay_addr,
        ))
    }
}

/// One allocation's relay socket: nothing goes to, or comes from, a refused peer. On a stream
/// listener it fails its reads once the client's connection closes, which ends the allocation.
pub(super) struct GuardedRelay {
    socket: UdpSocket,
    policy: PeerPolicy,
    closed: tokio::sync::Mutex<Option<watch::Receiver<bool>>>,
}

#[async_trait]
impl Conn for GuardedRelay {
    async fn connect(&self, addr: SocketAddr) -> webrtc::util::Result<()> {
        Ok(self.socket.connect(addr).await?)
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc::util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc::util::Result<(usize, SocketAddr)> {
        let mut closed = self.closed.lock().await;
        loop {
            let received = match closed.as_mut() {
                None => self.socket.recv_from(buf).await,
                Some(rx) => tokio::select! {
                    r = self.socket.recv_from(buf) => r,
                    _ = rx.wait_for(|c| *c) => {
                        return Err(std::io::Error::other("the client's connection closed").into());
                    }
                },
            };
            match received {
                Ok((n, from)) if self.policy.allows(&from) => return Ok((n, from)),
                Ok(_) => continue,
                Err(e) if is_transient(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc::util::Result<usize> {
        Ok(self.socket.send(buf).await?)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc::util::Result<usize> {
        if !self.policy.allows(&target) {
            // Dropped silently, as a firewall would.
            return Ok(buf.len());
        }
        match self.socket.send_to(buf, target).await {
            Ok(n) => Ok(n),
            Err(e) if is_transient(&e) => Ok(buf.len()),
            Err(e) => Err(e.into()),
        }
    }

    fn local_addr(&self) -> webrtc::util::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc::util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn only_public_peers_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "192.0.2.2",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = private.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(!is_public(ip), "{private} must be refused");
        }
        for public in ["8.8.8.8", "14.160.1.1", "2001:4860::8888", "::ffff:1.1.1.1"] {
            let ip: IpAddr = public.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(is_public(ip), "{public} is public");
        }
    }

    #[tokio::test]
    async fn relay_sockets_drop_traffic_to_and_from_refused_peers() -> anyhow::Result<()> {
        let relay = GuardedRelay {
            socket: UdpSocket::bind("127.0.0.1:0").await?,
            policy: PeerPolicy {
                allow_private: false,
            },
            closed: tokio::sync::Mutex::new(None),
        };
        let peer = UdpSocket::bind("127.0.0.1:0").await?;
        // Reported as sent, never delivered.
        assert_eq!(relay.send_to(b"hi", peer.local_addr()?).await?, 2);
        let mut buf = [0u8; 8];
        let got = tokio::time::timeout(Duration::from_millis(300), peer.recv_from(&mut buf)).await;
        assert!(got.is_err(), "nothing reaches a loopback peer");
        // Nothing from a loopback sender reaches the allocation either.
        peer.send_to(b"in", relay.local_addr()?).await?;
        let got = tokio::time::timeout(Duration::from_millis(300), relay.recv_from(&mut buf)).await;
        assert!(got.is_err(), "nothing from a loopback peer is relayed");
        Ok(())
    }

    #[test]
    fn xor_peer_address_round_trips_and_garbage_is_ignored() {
        let tid = [7u8; 12];
        let cookie = MAGIC_COOKIE.to_be_bytes();
        let port = 5000u16 ^ u16::from_be_bytes([cookie[0], cookie[1]]);
        let mut v = vec![0, 1];
        v.extend_from_slice(&port.to_be_bytes());
        for (i, b) in [10u8, 0, 0, 9].iter().enumerate() {
            v.push(b ^ cookie[i]);
        }
        assert_eq!(
            decode_xor_address(&v, &tid),
            Some(
                "10.0.0.9:5000"
                    .parse()
                    .unwrap_or(SocketAddr::from(([0; 4], 0)))
            )
        );
        assert_eq!(decode_xor_address(&v[..5], &tid), None);
        assert!(requested_peers(&[0u8; 3]).is_none());
        assert!(!looks_like_turn(&[0xffu8; 64]));
        assert!(!looks_like_turn(&[0x00, 0x01, 0x00, 0x00]));
        assert!(looks_like_turn(&[0x40, 0x00, 0x00, 0x01, 0xaa]));
        let mut binding = vec![0x00, 0x01, 0x00, 0x00];
        binding.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        binding.extend_from_slice(&[1; 12]);
        assert!(looks_like_turn(&binding));
        binding.push(0);
        assert!(!looks_like_turn(&binding), "length must match");
        assert!(requested_peers(&[0xffu8; 64]).is_none());
    }

    fn create_permission(peer: SocketAddr, username: &str) -> Vec<u8> {
        use webrtc::stun::agent::TransactionId;
        use webrtc::stun::textattrs::Username;
        use webrtc::turn::proto::peeraddr::PeerAddress;
        let mut m = Message::new();
        let built = m.build(&[
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(METHOD_CREATE_PERMISSION, CLASS_REQUEST)),
            Box::new(Username::new(ATTR_USERNAME, username.to_string())),
            Box::new(PeerAddress {
                ip: peer.ip(),
                port: peer.port(),
            }),
        ]);
        assert!(built.is_ok());
        m.raw
    }

    #[test]
    fn refusals_answer_403_and_are_remembered_per_participant() {
        let guard = Guard {
            policy: PeerPolicy {
                allow_private: false,
            },
            refusals: Arc::default(),
            transport: "tcp",
        };
        let client: SocketAddr = ([203, 0, 113, 9], 5000).into();
        let since = Instant::now();
        let public = create_permission(([8, 8, 8, 8], 9).into(), "1:echo-a");
        assert_eq!(guard.vet(&public, client), Vet::Pass);
        assert!(!guard.refusals.refused_since(&["echo-a"], since));
        let private = create_permission(([10, 0, 0, 1], 9).into(), "1:echo-a");
        let Vet::Refuse(Some(reply)) = guard.vet(&private, client) else {
            panic!("a private peer is refused with an answer");
        };
        let mut m = Message {
            raw: reply,
            ..Default::default()
        };
        assert!(m.decode().is_ok());
        assert_eq!(m.typ.class, CLASS_ERROR_RESPONSE);
        assert!(guard.refusals.refused_since(&["x", "echo-a"], since));
        assert!(!guard.refusals.refused_since(&["echo-b"], since));
        // Logged once per client: the second refusal is not new.
        assert!(!guard.refusals.note(client, "tcp", None));
        assert!(guard.refusals.note(client, "udp", None));
    }

    #[tokio::test]
    async fn a_relay_socket_fails_once_its_client_connection_closes() -> anyhow::Result<()> {
        let (tx, rx) = watch::channel(false);
        let relay = GuardedRelay {
            socket: UdpSocket::bind("127.0.0.1:0").await?,
            policy: PeerPolicy {
                allow_private: true,
            },
            closed: tokio::sync::Mutex::new(Some(rx)),
        };
        tx.send_replace(true);
        let mut buf = [0u8; 8];
        let got = tokio::time::timeout(Duration::from_secs(2), relay.recv_from(&mut buf)).await;
        assert!(matches!(got, Ok(Err(_))), "the allocation's reads end");
        Ok(())
    }
}
