//! The embedded STUN/TURN server (webrtc-rs `turn`, UDP): what a single-binary install hands its
//! callers when no coturn is configured.
//!
//! It checks the same coturn REST credentials the broker mints ([`super::turn_credentials`]):
//! the username carries its own expiry, the password is an HMAC of it. Relay addresses carry
//! `turn_public_ip`.
//!
//! Relay policy: the `turn` crate has no hook to vet peer addresses, so two wrappers around its
//! sockets enforce it (the same list coturn recommends for `denied-peer-ip`):
//! - [`GuardedListener`] sits under the server's listening socket and answers a CreatePermission
//!   or ChannelBind naming a refused peer with `403 Forbidden` itself, before the server sees it;
//! - [`GuardedRelay`] wraps every relay socket and drops datagrams to or from refused peers, so
//!   nothing gets through even if a request slipped past the first wrapper.
//!
//! Both also swallow the transient errors Linux reports on UDP sockets after an ICMP
//! "port unreachable" (`ECONNREFUSED`), which would otherwise end the crate's read loops: a
//! hostile sender must not be able to stop the server.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use tokio::net::UdpSocket;
use webrtc::stun::attributes::ATTR_XOR_PEER_ADDRESS;
use webrtc::stun::error_code::{CODE_FORBIDDEN, ErrorCodeAttribute};
use webrtc::stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_REQUEST, MAGIC_COOKIE, METHOD_CHANNEL_BIND,
    METHOD_CREATE_PERMISSION, Message, MessageType, Setter,
};
use webrtc::turn;
use webrtc::util::Conn;

use crate::clock::Clock;
use crate::config::{Secret, Settings};

/// The realm the embedded server authenticates in.
pub const REALM: &str = "wardline";

/// A running embedded TURN server.
pub struct TurnServer {
    server: turn::server::Server,
    pub local_addr: SocketAddr,
}

impl TurnServer {
    /// Bind `settings.turn_listen` (UDP) and serve. Credentials are checked against `secret`
    /// and `clock` (so tests that move the clock expire credentials too).
    pub async fn start(settings: &Settings, secret: Secret, clock: Clock) -> anyhow::Result<Self> {
        let listen = settings.turn_listen.trim();
        let socket = UdpSocket::bind(listen).await.with_context(|| {
            format!(
                "binding the embedded TURN server on UDP {listen} (another instance on this \
                     host? give each its own WARDLINE_TURN_LISTEN, or set it empty to use coturn)"
            )
        })?;
        let local_addr = socket.local_addr()?;
        let public_ip: IpAddr = settings
            .turn_public_ip
            .trim()
            .parse()
            .with_context(|| format!("turn_public_ip {:?}", settings.turn_public_ip))?;
        let policy = PeerPolicy {
            allow_private: settings.turn_allow_private_peers,
        };
        let server = turn::server::Server::new(turn::server::config::ServerConfig {
            conn_configs: vec![turn::server::config::ConnConfig {
                conn: Arc::new(GuardedListener {
                    socket,
                    policy: policy.clone(),
                }),
                relay_addr_generator: Box::new(GuardedRelays { public_ip, policy }),
            }],
            realm: REALM.to_string(),
            auth_handler: Arc::new(RestAuth { secret, clock }),
            channel_bind_timeout: std::time::Duration::ZERO,
            alloc_close_notify: None,
        })
        .await
        .context("starting the embedded TURN server")?;
        tracing::info!(turn_addr = %local_addr, relay_ip = %public_ip, "embedded STUN/TURN server listening");
        Ok(TurnServer { server, local_addr })
    }

    /// Close every allocation and the listening socket.
    pub async fn close(&self) {
        if let Err(e) = self.server.close().await {
            tracing::warn!(error = %e, "closing the embedded TURN server");
        }
    }
}

/// coturn's REST scheme: the username is `expiry:participant`, the password
/// base64(HMAC-SHA1(secret, username)); expired usernames are refused.
struct RestAuth {
    secret: Secret,
    clock: Clock,
}

impl turn::auth::AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let refuse = |why: &str| {
            tracing::debug!(%src_addr, username, why, "TURN credentials refused");
            Err(turn::Error::Other(format!("credentials refused: {why}")))
        };
        let Some((expiry, participant)) = username.split_once(':') else {
            return refuse("username is not expiry:participant");
        };
        let Ok(expiry) = expiry.parse::<i64>() else {
            return refuse("expiry is not a number");
        };
        if expiry < self.clock.now().timestamp() {
            return refuse("expired");
        }
        // The server checks MESSAGE-INTEGRITY with this key, so a wrong password fails there.
        let (_, password) = super::turn_credentials(&self.secret, participant, expiry);
        Ok(turn::auth::generate_auth_key(username, realm, &password))
    }
}

/// Which peers the relay may talk to.
#[derive(Clone, Debug)]
struct PeerPolicy {
    allow_private: bool,
}

impl PeerPolicy {
    fn allows(&self, peer: &SocketAddr) -> bool {
        self.allow_private || is_public(peer.ip())
    }
}

/// Whether `ip` is a globally routable unicast address: not loopback, private, link-local,
/// carrier-grade NAT, documentation, benchmarking, multicast, reserved or unspecified (coturn's
/// recommended `denied-peer-ip` list).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg0 = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg0 & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg0 == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || v6.segments()[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible, deprecated
                || seg0 == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64 to anything
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

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

/// The peers a CreatePermission or ChannelBind request names (its XOR-PEER-ADDRESS attributes);
/// `None` for anything else (other requests, indications, channel data, garbage).
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
    if m.typ.class != CLASS_REQUEST
        || (m.typ.method != METHOD_CREATE_PERMISSION && m.typ.method != METHOD_CHANNEL_BIND)
    {
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

/// The server's listening socket, refusing permissions for peers the policy forbids.
struct GuardedListener {
    socket: UdpSocket,
    policy: PeerPolicy,
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
            if let Some((request, peers)) = requested_peers(datagram)
                && let Some(refused) = peers.iter().find(|p| !self.policy.allows(p))
            {
                tracing::info!(client = %from, peer = %refused, "TURN permission to a private peer refused");
                if let Some(reply) = forbidden_response(&request) {
                    let _ = self.socket.send_to(&reply, from).await;
                }
                continue;
            }
            return Ok((n, from));
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

/// Hands out relay sockets on all interfaces, advertised at the public IP, wrapped by policy.
struct GuardedRelays {
    public_ip: IpAddr,
    policy: PeerPolicy,
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
            }),
            relay_addr,
        ))
    }
}

/// One allocation's relay socket: nothing goes to, or comes from, a refused peer.
struct GuardedRelay {
    socket: UdpSocket,
    policy: PeerPolicy,
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
        loop {
            match self.socket.recv_from(buf).await {
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
}
