//! TURN over TCP (and TLS) on the embedded server, with real sockets: a webrtc-rs TURN client
//! whose packet connection frames STUN and ChannelData on a TCP stream (written here, apart from
//! the server's own framing), REST credentials, relaying both ways, refusals, and the bounds on
//! stream clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Mutex;
use webrtc::turn::client::{Client, ClientConfig};
use webrtc::util::Conn;

use crate::helpers::TestApp;

const WITHIN: Duration = Duration::from_secs(10);

/// A TURN client's packet connection over one byte stream (TCP or TLS): each `send_to` writes
/// one message, each `recv_from` reads one (RFC 8656 §12.5 padding for ChannelData).
struct Framed<S> {
    rd: Mutex<ReadHalf<S>>,
    wr: Mutex<WriteHalf<S>>,
    server: SocketAddr,
    local: SocketAddr,
}

impl<S: AsyncRead + AsyncWrite + Send + 'static> Framed<S> {
    fn new(stream: S, server: SocketAddr, local: SocketAddr) -> Self {
        let (rd, wr) = tokio::io::split(stream);
        Framed {
            rd: Mutex::new(rd),
            wr: Mutex::new(wr),
            server,
            local,
        }
    }
}

#[async_trait]
impl<S: AsyncRead + AsyncWrite + Send + Sync + 'static> Conn for Framed<S> {
    async fn connect(&self, _: SocketAddr) -> webrtc::util::Result<()> {
        Ok(())
    }
    async fn recv(&self, buf: &mut [u8]) -> webrtc::util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }
    async fn recv_from(&self, buf: &mut [u8]) -> webrtc::util::Result<(usize, SocketAddr)> {
        let mut rd = self.rd.lock().await;
        let mut head = [0u8; 4];
        rd.read_exact(&mut head).await?;
        let declared = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let (len, padded) = if head[0] & 0xc0 == 0 {
            (20 + declared, 20 + declared)
        } else {
            (4 + declared, (4 + declared).div_ceil(4) * 4)
        };
        let mut frame = vec![0u8; padded];
        frame[..4].copy_from_slice(&head);
        rd.read_exact(&mut frame[4..]).await?;
        buf[..len].copy_from_slice(&frame[..len]);
        Ok((len, self.server))
    }
    async fn send(&self, buf: &[u8]) -> webrtc::util::Result<usize> {
        self.send_to(buf, self.server).await
    }
    async fn send_to(&self, buf: &[u8], _: SocketAddr) -> webrtc::util::Result<usize> {
        let mut frame = buf.to_vec();
        frame.resize(frame.len().div_ceil(4) * 4, 0);
        self.wr.lock().await.write_all(&frame).await?;
        Ok(buf.len())
    }
    fn local_addr(&self) -> webrtc::util::Result<SocketAddr> {
        Ok(self.local)
    }
    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(self.server)
    }
    async fn close(&self) -> webrtc::util::Result<()> {
        let _ = self.wr.lock().await.shutdown().await;
        Ok(())
    }
    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

async fn client_over(conn: Arc<dyn Conn + Send + Sync>, user: &str, pass: &str) -> Client {
    let server = conn.remote_addr().expect("server").to_string();
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.clone(),
        turn_serv_addr: server,
        username: user.to_string(),
        password: pass.to_string(),
        realm: "wardline".into(),
        software: String::new(),
        rto_in_ms: 0,
        conn,
        vnet: None,
    })
    .await
    .expect("turn client");
    client.listen().await.expect("listen");
    client
}

async fn tcp_client(server: SocketAddr, user: &str, pass: &str) -> Client {
    let stream = TcpStream::connect(server).await.expect("connect over TCP");
    let local = stream.local_addr().expect("local");
    client_over(Arc::new(Framed::new(stream, server, local)), user, pass).await
}

fn addrs(app: &TestApp) -> wardline::rtc::turn::TurnAddrs {
    *app.state
        .rtc
        .turn_addr
        .get()
        .expect("embedded TURN running")
}

/// Allocate, then relay a datagram to a local UDP peer and its answer back; true when both
/// arrive.
async fn relays_both_ways(client: &Client) -> bool {
    let relay = tokio::time::timeout(WITHIN, client.allocate())
        .await
        .expect("allocate in time")
        .expect("allocate");
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind peer");
    let to = peer.local_addr().expect("peer addr");
    let mut buf = [0u8; 64];
    let mut out = false;
    for _ in 0..3 {
        let _ = tokio::time::timeout(Duration::from_secs(3), relay.send_to(b"ping", to)).await;
        if let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_millis(1000), peer.recv_from(&mut buf)).await
            && &buf[..n] == b"ping"
        {
            // The peer sees the relay address and answers it.
            assert_eq!(from.port(), relay.local_addr().expect("relay").port());
            peer.send_to(b"pong", from).await.expect("answer");
            out = true;
            break;
        }
    }
    let back = out
        && tokio::time::timeout(WITHIN, relay.recv_from(&mut buf))
            .await
            .is_ok_and(|r| r.is_ok_and(|(n, _)| &buf[..n] == b"pong"));
    let _ = relay.close().await;
    back
}

#[tokio::test]
async fn turn_over_tcp_allocates_and_relays_with_rest_credentials() {
    let app = TestApp::spawn().await;
    let a = addrs(&app);
    let tcp = a.tcp.expect("TCP on by default");
    assert_eq!(
        tcp.port(),
        a.udp.port(),
        "TCP listens beside UDP, on its port"
    );
    // The tickets list both transports.
    let ice = json!(app.state.rtc.ice_servers("p"));
    for url in [
        format!("turn:127.0.0.1:{}?transport=udp", a.udp.port()),
        format!("turn:127.0.0.1:{}?transport=tcp", tcp.port()),
    ] {
        assert!(ice.to_string().contains(&url), "{url} in {ice}");
    }
    let now = chrono::Utc::now().timestamp();
    let (user, pass) = wardline::rtc::turn_credentials(&app.state.rtc.turn_secret, "p1", now + 600);

    let good = tcp_client(tcp, &user, &pass).await;
    let mapped = good.send_binding_request().await.expect("STUN over TCP");
    assert_eq!(mapped.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    assert!(relays_both_ways(&good).await, "relay over TCP works");
    let _ = good.close().await;

    // A wrong password and a foreign secret are refused over TCP too.
    let bad = tcp_client(tcp, &user, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=").await;
    let r = tokio::time::timeout(WITHIN, bad.allocate()).await;
    assert!(matches!(r, Ok(Err(_))), "wrong password refused");
    let _ = bad.close().await;
    let other = wardline::config::Secret::new("another-secret-entirely");
    let (fuser, fpass) = wardline::rtc::turn_credentials(&other, "p1", now + 600);
    let forged = tcp_client(tcp, &fuser, &fpass).await;
    let r = tokio::time::timeout(WITHIN, forged.allocate()).await;
    assert!(matches!(r, Ok(Err(_))), "foreign secret refused");
    let _ = forged.close().await;

    // Garbage closes the connection (a stream cannot be resynchronised); the server serves on.
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01][..],
    ] {
        let mut s = TcpStream::connect(tcp).await.expect("connect");
        s.write_all(junk).await.expect("write");
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(WITHIN, s.read(&mut buf))
            .await
            .expect("closed in time");
        assert!(matches!(n, Ok(0) | Err(_)), "{junk:?}: closed, got {n:?}");
    }
    let again = tcp_client(tcp, &user, &pass).await;
    let r = again.send_binding_request().await;
    assert!(r.is_ok(), "{r:?}");
    let _ = again.close().await;
    app.stop().await;
}

#[tokio::test]
async fn turn_over_tcp_refuses_private_peers_and_bounds_its_clients() {
    let app = TestApp::spawn_with(|s| {
        s.turn_allow_private_peers = false;
        s.turn_tcp_max_connections = 3;
    })
    .await;
    let tcp = addrs(&app).tcp.expect("TCP");
    let now = chrono::Utc::now().timestamp();
    let (user, pass) = wardline::rtc::turn_credentials(&app.state.rtc.turn_secret, "p", now + 600);
    let client = tcp_client(tcp, &user, &pass).await;
    let relay = client.allocate().await.expect("allocate");
    let err = relay
        .send_to(b"x", "127.0.0.1:9".parse().expect("addr"))
        .await
        .expect_err("permission refused");
    assert!(err.to_string().contains("403"), "{err}");

    // Two more connections fill the bound of 3; a fourth is closed at once.
    let mut held = vec![];
    for _ in 0..2 {
        held.push(TcpStream::connect(tcp).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(tcp).await.expect("connect");
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(3), extra.read(&mut buf))
        .await
        .expect("closed at once");
    assert!(matches!(n, Ok(0) | Err(_)), "over the bound: closed");
    // The one client with an allocation still works; closing a connection frees its place.
    assert!(client.send_binding_request().await.is_ok());
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (user2, pass2) =
        wardline::rtc::turn_credentials(&app.state.rtc.turn_secret, "q", now + 600);
    let next = tcp_client(tcp, &user2, &pass2).await;
    assert!(next.send_binding_request().await.is_ok(), "a place freed");
    let _ = next.close().await;
    let _ = relay.close().await;
    let _ = client.close().await;
    app.stop().await;
}

/// A certificate for 127.0.0.1, made with the openssl command line.
fn self_signed(dir: &std::path::Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (dir.join("turn.crt"), dir.join("turn.key"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some((cert, key))
}

#[tokio::test]
async fn turn_over_tls_with_a_certificate_and_a_clear_error_without_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((cert, key)) = self_signed(dir.path()) else {
        assert!(
            std::env::var("WARDLINE_TEST_REQUIRE_SERVICES").is_err(),
            "the TLS test needs the openssl command"
        );
        eprintln!("skipped: no openssl command");
        return;
    };
    // A missing certificate stops the start, naming the setting.
    let mut settings = crate::helpers::test_settings(dir.path()).await;
    settings.turn_tls_cert = Some(dir.path().join("missing.pem"));
    settings.turn_tls_key = Some(key.clone());
    settings.turn_tls_listen = "127.0.0.1:0".into();
    let err = wardline::rtc::turn::TurnServer::start(
        &settings,
        wardline::config::Secret::new("x".repeat(20)),
        wardline::clock::Clock::default(),
        Arc::default(),
    )
    .await
    .err()
    .expect("a missing certificate is an error");
    assert!(
        format!("{err:#}").contains("WARDLINE_TURN_TLS_CERT"),
        "{err:#}"
    );

    let app = TestApp::spawn_with(|s| {
        s.turn_tls_cert = Some(cert.clone());
        s.turn_tls_key = Some(key.clone());
        s.turn_tls_listen = "127.0.0.1:0".into();
    })
    .await;
    let tls = addrs(&app).tls.expect("TLS runs with a certificate");
    let ice = json!(app.state.rtc.ice_servers("p")).to_string();
    assert!(
        ice.contains(&format!("turns:127.0.0.1:{}?transport=tcp", tls.port())),
        "{ice}"
    );

    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).expect("cert");
    for c in rustls_pemfile_certs(&pem) {
        roots.add(c).expect("root");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(tls).await.expect("connect");
    let local = tcp.local_addr().expect("local");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let stream = connector.connect(name, tcp).await.expect("TLS handshake");
    let now = chrono::Utc::now().timestamp();
    let (user, pass) = wardline::rtc::turn_credentials(&app.state.rtc.turn_secret, "t", now + 600);
    let client = client_over(Arc::new(Framed::new(stream, tls, local)), &user, &pass).await;
    assert!(relays_both_ways(&client).await, "relay over TLS works");
    let _ = client.close().await;
    app.stop().await;
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}
