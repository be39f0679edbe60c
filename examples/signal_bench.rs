//! Benchmarks of the signaling WebSocket (issue 6, P4–P6). Driven by `tests/bench/signal.sh`.
//!
//! - `setup DATA_DIR ROOMS [DATABASE_URL]`: a station, one doctor, ROOMS residents each admitted
//!   into a consultation with that doctor (written straight into the database, with the schema the
//!   server migrates), and `DATA_DIR/tokens.txt`: two room tokens per room (resident, doctor).
//! - `sockets WS_BASE TOKENS N`: open N signaling sockets (join each), report how long it took,
//!   hold them until stdin closes, then report whether all are still open.
//! - `relay WS_BASE [WS_BASE2] TOKENS SECONDS`: one resident and its doctor in a room (on one or
//!   on two instances); throughput of candidates relayed from one to the other as fast as they
//!   go, then latency at 1,000 messages per second; the same against a bare tokio-tungstenite
//!   relay started in this process, and the ratio.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;
use wardline::app::AppState;
use wardline::config::{Secret, Settings};
use wardline::on_db;
use wardline::telehealth::queue::ParticipantRole;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub const BENCH_SECRET: &str = "signal-bench-secret-signal-bench-secret";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("setup") => {
            let dir = args.get(1).context("DATA_DIR")?;
            let rooms: usize = args.get(2).context("ROOMS")?.parse()?;
            setup(dir, rooms, args.get(3).cloned()).await
        }
        Some("sockets") => {
            let base = args.get(1).context("WS_BASE")?;
            let tokens = read_tokens(args.get(2).context("TOKENS")?)?;
            let n: usize = args.get(3).context("N")?.parse()?;
            sockets(base, &tokens, n).await
        }
        Some("relay") => {
            let (a, b, tokens, secs) = match args.len() {
                4 => (&args[1], &args[1], &args[2], &args[3]),
                5 => (&args[1], &args[2], &args[3], &args[4]),
                _ => bail!("relay WS_BASE [WS_BASE2] TOKENS SECONDS"),
            };
            let tokens = read_tokens(tokens)?;
            relay(a, b, &tokens, secs.parse()?).await
        }
        _ => bail!("usage: setup | sockets | relay (see the file's header)"),
    }
}

async fn setup(dir: &str, rooms: usize, database_url: Option<String>) -> anyhow::Result<()> {
    let settings = Settings {
        data_dir: dir.into(),
        jwt_secret: Some(Secret::new(BENCH_SECRET)),
        database_url: database_url.map(Secret::new),
        log_filter: "error".into(),
        turn_listen: String::new(),
        ..Settings::default()
    };
    let state = AppState::build(settings).await?;
    let now = state.clock.now();
    let until = now + chrono::Duration::days(1);
    let db = &state.db;
    let station = Uuid::now_v7();
    let doctor = Uuid::now_v7();
    on_db!(db, pool => sqlx::query("INSERT INTO stations (station_id, name, address, created_at, updated_at) VALUES ($1, $2, '', $3, $3)")
        .bind(station).bind(format!("Bench {station}")).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    on_db!(db, pool => sqlx::query("INSERT INTO accounts (account_id, phone, display_name, role, created_at, updated_at) VALUES ($1, $2, 'Doctor', 'doctor', $3, $3)")
        .bind(doctor).bind(format!("+8490{}", &doctor.simple().to_string()[..7])).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    let mut lines = String::new();
    for i in 0..rooms {
        let resident = Uuid::now_v7();
        let consultation = Uuid::now_v7();
        db.transaction(async |tx| {
            wardline::on_tx!(tx, conn => sqlx::query("INSERT INTO accounts (account_id, phone, display_name, role, created_at, updated_at) VALUES ($1, $2, 'Resident', 'resident', $3, $3)")
                .bind(resident).bind(format!("+8491{i:07}{}", &station.simple().to_string()[..3])).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
            wardline::on_tx!(tx, conn => sqlx::query(
                "INSERT INTO consultations (consultation_id, station_id, resident_id, doctor_id, status, reason, priority_at, queued_at, admitted_at, answer_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 'admitted', 'bench', $5, $5, $5, $6, $5, $5)")
                .bind(consultation).bind(station).bind(resident).bind(doctor).bind(now).bind(until).execute(conn).await.map(|r| r.rows_affected()))?;
            wardline::on_tx!(tx, conn => sqlx::query("INSERT INTO consultation_doctors (consultation_id, doctor_id, role, created_at, updated_at) VALUES ($1, $2, 'primary', $3, $3)")
                .bind(consultation).bind(doctor).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
            anyhow::Ok(())
        })
        .await?;
        for (who, role) in [
            (resident, ParticipantRole::Patient),
            (doctor, ParticipantRole::Doctor),
        ] {
            let token = state
                .rtc
                .room_keys
                .issue(who, consultation, role, now, until)?;
            lines.push_str(&format!("{consultation} {who} {token}\n"));
        }
    }
    let path = std::path::Path::new(dir).join("tokens.txt");
    std::fs::write(&path, lines)?;
    println!("{}", path.display());
    Ok(())
}

struct Token {
    room: String,
    account: String,
    token: String,
}

fn read_tokens(path: &str) -> anyhow::Result<Vec<Token>> {
    std::fs::read_to_string(path)?
        .lines()
        .map(|l| {
            let mut p = l.split(' ');
            Ok(Token {
                room: p.next().context("room")?.into(),
                account: p.next().context("account")?.into(),
                token: p.next().context("token")?.into(),
            })
        })
        .collect()
}

async fn join(base: &str, token: &str) -> anyhow::Result<Ws> {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{base}/v1/rtc/signal?token={token}")).await?;
    ws.send(Message::Text(
        json!({ "type": "join", "protocol": 1 }).to_string().into(),
    ))
    .await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains("\"joined\"") => return Ok(ws),
            Some(Ok(_)) => continue,
            other => bail!("join failed: {other:?}"),
        }
    }
}

async fn sockets(base: &str, tokens: &[Token], n: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut open = Vec::with_capacity(n);
    // Open in batches so the listen backlog is not overrun.
    for chunk in tokens.iter().take(n).collect::<Vec<_>>().chunks(200) {
        let joined = futures::future::join_all(chunk.iter().map(|t| join(base, &t.token))).await;
        for ws in joined {
            open.push(ws?);
        }
    }
    println!(
        "{} sockets joined in {:.1} s",
        open.len(),
        start.elapsed().as_secs_f64()
    );
    println!("READY");
    // Hold until the driver closes stdin (it measures the server's memory meanwhile), reading
    // what arrives so no buffer fills.
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
        let _ = done_tx.send(());
    });
    let mut streams = futures::stream::select_all(open.into_iter().map(|ws| ws.map(|_| ())));
    loop {
        tokio::select! {
            _ = &mut done_rx => break,
            _ = streams.next() => {}
        }
    }
    Ok(())
}

/// Send `count` candidates from `a` to `b` (addressed to `to`, or raw for the bare relay) as fast
/// as possible; returns messages per second received.
async fn throughput(a: &mut Ws, b: &mut Ws, to: &str, count: usize) -> anyhow::Result<f64> {
    let start = Instant::now();
    let text = json!({ "type": "candidate", "to": to, "candidate": { "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host", "sdpMid": "0" } }).to_string();
    let send = async {
        for _ in 0..count {
            a.feed(Message::Text(text.clone().into())).await?;
        }
        a.flush().await?;
        anyhow::Ok(())
    };
    let recv = async {
        let mut got = 0;
        while got < count {
            let next = tokio::time::timeout(Duration::from_secs(30), b.next())
                .await
                .map_err(|_| anyhow::anyhow!("stalled after {got} of {count} messages"))?;
            match next {
                Some(Ok(Message::Text(t))) if t.contains("candidate:1") => got += 1,
                Some(Ok(m)) => {
                    if std::env::var_os("SIGNAL_BENCH_DEBUG").is_some() {
                        eprintln!("receiver got {m:?}");
                    }
                }
                other => bail!("receiver: {other:?}"),
            }
        }
        anyhow::Ok(())
    };
    let (s, r) = tokio::join!(send, recv);
    s?;
    r?;
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// Paced at `rate` per second for `secs`: latency percentiles in ms (p50, p99, max).
async fn latency(
    a: &mut Ws,
    b: &mut Ws,
    to: &str,
    rate: u64,
    secs: u64,
) -> anyhow::Result<(f64, f64, f64)> {
    let origin = Instant::now();
    let total = rate * secs;
    let send = async {
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
        for i in 0..total {
            tick.tick().await;
            if std::env::var_os("SIGNAL_BENCH_DEBUG").is_some() && i % 500 == 0 {
                eprintln!("latency: {i} sent");
            }
            let t = origin.elapsed().as_nanos() as u64;
            let text = json!({ "type": "candidate", "to": to, "candidate": { "candidate": format!("candidate:{t} 1 udp 1 192.0.2.1 5000 typ host"), "i": i } }).to_string();
            a.send(Message::Text(text.into())).await?;
        }
        anyhow::Ok(())
    };
    let recv = async {
        let mut lat = Vec::with_capacity(total as usize);
        while (lat.len() as u64) < total {
            match tokio::time::timeout(Duration::from_secs(30), b.next()).await? {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t)?;
                    let Some(c) = v["candidate"]["candidate"].as_str() else {
                        continue;
                    };
                    let Some(sent) = c
                        .strip_prefix("candidate:")
                        .and_then(|r| r.split(' ').next())
                        .and_then(|n| n.parse::<u64>().ok())
                    else {
                        continue;
                    };
                    let now = origin.elapsed().as_nanos() as u64;
                    lat.push((now.saturating_sub(sent)) as f64 / 1e6);
                    if std::env::var_os("SIGNAL_BENCH_DEBUG").is_some() && lat.len() % 500 == 0 {
                        eprintln!("latency: {} received", lat.len());
                    }
                }
                Some(Ok(_)) => {}
                other => bail!("receiver: {other:?}"),
            }
        }
        anyhow::Ok(lat)
    };
    let (s, r) = tokio::join!(send, recv);
    s?;
    let mut lat = r?;
    lat.sort_by(|x, y| x.total_cmp(y));
    let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Ok((pick(0.5), pick(0.99), pick(1.0)))
}

/// A bare relay: the first two sockets on a port; text from either goes to the other, untouched.
async fn bare_relay() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        // One at a time: the client completes each handshake before it opens the next socket.
        let Ok((s1, _)) = listener.accept().await else {
            return;
        };
        let Ok(w1) = tokio_tungstenite::accept_async(s1).await else {
            return;
        };
        let Ok((s2, _)) = listener.accept().await else {
            return;
        };
        let Ok(w2) = tokio_tungstenite::accept_async(s2).await else {
            return;
        };
        let (mut tx1, mut rx1) = w1.split();
        let (mut tx2, mut rx2) = w2.split();
        let a = async move {
            while let Some(Ok(m)) = rx1.next().await {
                if m.is_text() && tx2.send(m).await.is_err() {
                    break;
                }
            }
        };
        let b = async move {
            while let Some(Ok(m)) = rx2.next().await {
                if m.is_text() && tx1.send(m).await.is_err() {
                    break;
                }
            }
        };
        tokio::join!(a, b);
    });
    Ok(format!("ws://{addr}"))
}

async fn relay(base_a: &str, base_b: &str, tokens: &[Token], secs: u64) -> anyhow::Result<()> {
    let resident = tokens.first().context("tokens")?;
    let doctor = tokens
        .iter()
        .find(|t| t.room == resident.room && t.account != resident.account)
        .context("the resident's doctor")?;
    let debug = std::env::var_os("SIGNAL_BENCH_DEBUG").is_some();
    let mut a = join(base_a, &resident.token).await?;
    if debug {
        eprintln!("resident joined");
    }
    let mut b = join(base_b, &doctor.token).await?;
    if debug {
        eprintln!("doctor joined");
    }
    // Let presence settle (peer_joined, the call starting).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let count: usize = std::env::var("SIGNAL_BENCH_COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100_000);
    if debug {
        eprintln!("throughput: {count} messages");
    }
    let bare = bare_relay().await?;
    let (mut x, _) = tokio_tungstenite::connect_async(&bare).await?;
    let (mut y, _) = tokio_tungstenite::connect_async(&bare).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Throughput, alternating the two relays for a few rounds: on a shared 2-core machine one
    // burst varies by a third from run to run, the median of five much less.
    let rounds: usize = std::env::var("SIGNAL_BENCH_ROUNDS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(5);
    let (mut ours_all, mut theirs_all) = (vec![], vec![]);
    for _ in 0..rounds.max(1) {
        ours_all.push(throughput(&mut a, &mut b, &doctor.account, count).await?);
        theirs_all.push(throughput(&mut x, &mut y, "peer", count).await?);
    }
    if debug {
        eprintln!("throughput rounds: ours {ours_all:?}, bare {theirs_all:?}");
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ours = median(&mut ours_all);
    let theirs = median(&mut theirs_all);
    let (p50, p99, max) = latency(&mut a, &mut b, &doctor.account, 1000, secs).await?;
    let (bp50, bp99, bmax) = latency(&mut x, &mut y, "peer", 1000, secs).await?;
    println!(
        "wardline relay: {ours:.0} msg/s (median of {rounds}); at 1000 msg/s p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms"
    );
    println!(
        "bare relay:     {theirs:.0} msg/s (median of {rounds}); at 1000 msg/s p50 {bp50:.3} ms, p99 {bp99:.3} ms, max {bmax:.3} ms"
    );
    println!("throughput ratio: {:.2}x", ours / theirs);
    Ok(())
}
