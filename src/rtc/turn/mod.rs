//! The embedded STUN/TURN server (webrtc-rs `turn`): what a single-binary install hands its
//! callers when no coturn is configured. It listens on UDP, on TCP (phones on networks that block
//! UDP), and on TLS when given a certificate; relayed traffic always leaves over UDP, as coturn's
//! does.
//!
//! It checks the same coturn REST credentials the broker mints ([`super::turn_credentials`]):
//! the username carries its own expiry, the password is an HMAC of it. Relay addresses carry
//! `turn_public_ip`. Which peers it relays to, and the checks on every message, are in
//! [`guard`]; the framing of TURN over a byte stream, and the bounds on stream clients, in
//! [`stream`].

mod guard;
mod stream;

pub use guard::{Refusals, is_public};

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use tokio::net::{TcpListener, UdpSocket};
use webrtc::turn;

use crate::clock::Clock;
use crate::config::{Secret, Settings};
use guard::{Guard, GuardedListener, GuardedRelays, PeerPolicy};

/// The realm the embedded server authenticates in.
pub const REALM: &str = "wardline";

/// Where the embedded server listens, once bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnAddrs {
    pub udp: SocketAddr,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
}

/// A running embedded TURN server.
pub struct TurnServer {
    server: turn::server::Server,
    pub addrs: TurnAddrs,
    streams: Vec<stream::StreamListener>,
}

impl TurnServer {
    /// Bind `settings.turn_listen` (UDP), `turn_tcp_listen` (TCP, unless empty) and
    /// `turn_tls_listen` (when a certificate is given), and serve. Credentials are checked
    /// against `secret` and `clock` (so tests that move the clock expire credentials too).
    pub async fn start(
        settings: &Settings,
        secret: Secret,
        clock: Clock,
        refusals: Arc<Refusals>,
    ) -> anyhow::Result<Self> {
        let (socket, tcp) = bind_udp_and_tcp(settings).await?;
        let udp = socket.local_addr()?;
        let public_ip: IpAddr = settings
            .turn_public_ip
            .trim()
            .parse()
            .with_context(|| format!("turn_public_ip {:?}", settings.turn_public_ip))?;
        let policy = PeerPolicy {
            allow_private: settings.turn_allow_private_peers,
        };
        let guard = |transport| Guard {
            policy: policy.clone(),
            refusals: refusals.clone(),
            transport,
        };
        // TLS first: a bad certificate stops the start before any socket is bound.
        let tls = match stream::tls_acceptor(settings)? {
            None => None,
            Some(acceptor) => Some((
                bind_tcp(&settings.turn_tls_listen, "WARDLINE_TURN_TLS_LISTEN").await?,
                acceptor,
            )),
        };
        let bounds = stream::Bounds::new(settings.turn_tcp_max_connections);
        let mut conn_configs = vec![turn::server::config::ConnConfig {
            conn: Arc::new(GuardedListener {
                socket,
                guard: guard("udp"),
            }),
            relay_addr_generator: Box::new(GuardedRelays {
                public_ip,
                policy: policy.clone(),
                owner: None,
            }),
        }];
        let mut streams = vec![];
        let mut addrs = TurnAddrs {
            udp,
            tcp: None,
            tls: None,
        };
        for (listener, acceptor) in tcp
            .map(|l| (l, None))
            .into_iter()
            .chain(tls.map(|(l, a)| (l, Some(a))))
        {
            let transport = if acceptor.is_some() { "tls" } else { "tcp" };
            let local = listener.local_addr()?;
            if acceptor.is_some() {
                addrs.tls = Some(local);
            } else {
                addrs.tcp = Some(local);
            }
            let s = stream::StreamListener::start(listener, acceptor, guard(transport), &bounds);
            conn_configs.push(turn::server::config::ConnConfig {
                conn: s.conn(),
                relay_addr_generator: Box::new(GuardedRelays {
                    public_ip,
                    policy: policy.clone(),
                    owner: Some(s.owner()),
                }),
            });
            streams.push(s);
        }
        let server = turn::server::Server::new(turn::server::config::ServerConfig {
            conn_configs,
            realm: REALM.to_string(),
            auth_handler: Arc::new(RestAuth { secret, clock }),
            channel_bind_timeout: std::time::Duration::ZERO,
            alloc_close_notify: None,
        })
        .await
        .context("starting the embedded TURN server")?;
        tracing::info!(
            turn_udp = %udp,
            turn_tcp = ?addrs.tcp,
            turn_tls = ?addrs.tls,
            relay_ip = %public_ip,
            "embedded STUN/TURN server listening"
        );
        Ok(TurnServer {
            server,
            addrs,
            streams,
        })
    }

    /// Close every allocation, connection and listening socket.
    pub async fn close(&self) {
        for s in &self.streams {
            s.close();
        }
        if let Err(e) = self.server.close().await {
            tracing::warn!(error = %e, "closing the embedded TURN server");
        }
    }
}

/// The UDP socket, and the TCP listener unless `turn_tcp_listen` is empty: at `same`, the UDP
/// address and port (port 0: a port free on both, tried a few times).
async fn bind_udp_and_tcp(settings: &Settings) -> anyhow::Result<(UdpSocket, Option<TcpListener>)> {
    let listen = settings.turn_listen.trim();
    let tcp_listen = settings.turn_tcp_listen.trim();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let socket = UdpSocket::bind(listen).await.with_context(|| {
            format!(
                "binding the embedded TURN server on UDP {listen} (another instance on this \
                 host? give each its own WARDLINE_TURN_LISTEN, or set it empty to use coturn)"
            )
        })?;
        let tcp = match tcp_listen {
            "" => return Ok((socket, None)),
            "same" => {
                let at = socket.local_addr()?;
                match TcpListener::bind(at).await {
                    Ok(l) => l,
                    // The kernel picked a UDP port whose TCP twin is taken: pick again.
                    Err(_) if listen.ends_with(":0") && attempt < 10 => continue,
                    Err(e) => {
                        return Err(e).with_context(|| {
                            format!(
                                "binding the embedded TURN server on TCP {at} (the UDP address; \
                                 set WARDLINE_TURN_TCP_LISTEN to another address, or empty)"
                            )
                        });
                    }
                }
            }
            other => bind_tcp(other, "WARDLINE_TURN_TCP_LISTEN").await?,
        };
        return Ok((socket, Some(tcp)));
    }
}

async fn bind_tcp(listen: &str, setting: &str) -> anyhow::Result<TcpListener> {
    let listen = listen.trim();
    TcpListener::bind(listen).await.with_context(|| {
        format!(
            "binding the embedded TURN server on TCP {listen} (another instance on this host? \
             give each its own {setting}, or set it empty)"
        )
    })
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
