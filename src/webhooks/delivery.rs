//! The delivery worker: takes due rows of the outbox with a lease, posts them signed, and records
//! the outcome (delivered, or retried later with exponential backoff, or given up after
//! [`MAX_ATTEMPTS`]). Everything it knows is in the table, so a restart, or another instance on
//! the same PostgreSQL database, carries on where it stopped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use rand::Rng;

use super::Ctx;
use super::repo::{self, Due};
use crate::error::Result;

/// Attempts before a delivery is given up (about seven hours of retries).
pub const MAX_ATTEMPTS: i32 = 15;
/// How often an idle worker looks for due deliveries, and how long it waits after a round failed
/// (the database is down: one warning every few seconds, not a flood).
const POLL: Duration = Duration::from_secs(1);
const AFTER_ERROR: Duration = Duration::from_secs(5);
/// Deliveries taken per round, and posted at once.
const BATCH: i64 = 32;
const CONCURRENCY: usize = 8;
/// The first retry's delay, doubled on each failure up to [`MAX_BACKOFF_SECS`].
const FIRST_BACKOFF_SECS: f64 = 5.0;
const MAX_BACKOFF_SECS: f64 = 3600.0;

/// The `Wardline-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
/// A receiver recomputes it over the body exactly as received, compares in constant time, and
/// refuses timestamps far from its own clock (replays).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The delay before the next attempt after `attempts` failed ones: 5 s doubled each time, at most
/// an hour, spread by ±20 % so that receivers coming back are not hit by every retry at once.
fn backoff(attempts: i32) -> chrono::Duration {
    let exp = attempts.saturating_sub(1).clamp(0, 20);
    let base = (FIRST_BACKOFF_SECS * f64::from(1u32 << exp)).min(MAX_BACKOFF_SECS);
    let jittered = (base * rand::rng().random_range(0.8..1.2)).min(MAX_BACKOFF_SECS);
    chrono::Duration::milliseconds((jittered * 1000.0) as i64)
}

/// The HTTP client: short timeouts, no redirects (a redirect counts as a failure: the admin
/// registered this URL, not wherever it points), public addresses only unless allowed.
fn client(timeout_secs: u64, allow_private: bool) -> anyhow::Result<reqwest::Client> {
    crate::outbound::client(
        concat!("Wardline-Webhooks/", env!("CARGO_PKG_VERSION")),
        Duration::from_secs(timeout_secs.max(1)),
        allow_private,
    )
}

/// Start the worker; it stops when the server begins to shut down, after the round in hand (its
/// requests are bounded by the timeout, and their rows are released, not left leased).
pub fn start(ctx: Ctx, shutdown: &crate::shutdown::Shutdown) -> tokio::task::JoinHandle<()> {
    let mut stop = shutdown.signal();
    tokio::spawn(async move {
        let client = match client(
            ctx.settings.webhooks_timeout_secs,
            ctx.settings.outbound_allow_private,
        ) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhooks: cannot build the HTTP client; no deliveries");
                return;
            }
        };
        loop {
            if *stop.borrow() {
                break;
            }
            let pause = match round(&ctx, &client).await {
                // More may be waiting behind what was just delivered.
                Ok(n) if n > 0 => continue,
                Ok(_) => POLL,
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks: delivery round");
                    AFTER_ERROR
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
    })
}

/// One round: take what is due, post it, record the outcomes. How many deliveries it attempted.
async fn round(ctx: &Ctx, client: &reqwest::Client) -> Result<usize> {
    let now = ctx.clock.now();
    // Held past the longest request, so no other worker takes a row while it is in flight.
    let lease = now + chrono::Duration::seconds(ctx.settings.webhooks_timeout_secs as i64 + 30);
    let due = repo::due(&ctx.db, now, BATCH).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let claimed = repo::claim(&ctx.db, due.iter().map(|d| d.seq).collect(), now, lease).await?;
    let mine: Vec<Due> = due
        .into_iter()
        .filter(|d| claimed.contains(&d.seq))
        .collect();
    let n = mine.len();
    futures::stream::iter(mine)
        .for_each_concurrent(CONCURRENCY, |due| async move {
            if let Err(e) = attempt(ctx, client, due).await {
                tracing::warn!(error = %e, "webhooks: recording a delivery");
            }
        })
        .await;
    Ok(n)
}

/// Post one delivery and record how it went.
async fn attempt(ctx: &Ctx, client: &reqwest::Client, due: Due) -> Result<()> {
    let sent_at = ctx.clock.now();
    let outcome = post(client, &due, sent_at, ctx.settings.webhooks_timeout_secs).await;
    let now = ctx.clock.now();
    match outcome {
        Ok(status) => repo::delivered(&ctx.db, due.seq, status, now).await,
        Err((status, error)) => {
            let attempts = due.attempts + 1;
            let dead = attempts >= MAX_ATTEMPTS;
            if dead {
                tracing::warn!(event = %due.event_id, %error, "webhooks: giving up a delivery");
            }
            repo::failed(
                &ctx.db,
                due.seq,
                status,
                error,
                now + backoff(attempts),
                dead,
                now,
            )
            .await
        }
    }
}

/// The receiver's 2xx status, or the status (if any) and what went wrong.
async fn post(
    client: &reqwest::Client,
    due: &Due,
    at: DateTime<Utc>,
    timeout_secs: u64,
) -> std::result::Result<u16, (Option<u16>, String)> {
    let sent = client
        .post(&due.url)
        .header("content-type", "application/json")
        .header("wardline-event", due.event.as_str())
        .header("wardline-delivery", due.event_id.to_string())
        .header(
            "wardline-signature",
            signature(&due.secret, at.timestamp(), &due.payload),
        )
        .body(due.payload.clone())
        .send()
        .await;
    match sent {
        Ok(resp) => {
            let status = resp.status();
            if status.is_success() {
                Ok(status.as_u16())
            } else if status.is_redirection() {
                Err((
                    Some(status.as_u16()),
                    format!("HTTP {} (redirects are not followed)", status.as_u16()),
                ))
            } else {
                Err((Some(status.as_u16()), format!("HTTP {}", status.as_u16())))
            }
        }
        Err(e) if crate::outbound::refused_as_not_public(&e) => Err((
            None,
            "the name resolves to no public address (refused)".into(),
        )),
        Err(e) if e.is_timeout() => Err((None, format!("timed out after {timeout_secs} s"))),
        Err(e) if e.is_connect() => Err((None, "could not connect".into())),
        // Without the URL: its query may hold a receiver's token.
        Err(e) => Err((
            None,
            e.without_url().to_string().chars().take(300).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signature is HMAC-SHA256 over `<t>.<body>`, as documented for receivers.
    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(b"whsec_test").unwrap();
        mac.update(b"1700000000.{\"a\":1}");
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            signature("whsec_test", 1_700_000_000, "{\"a\":1}"),
            format!("t=1700000000,v1={want}")
        );
        assert_ne!(
            signature("whsec_test", 1_700_000_001, "{\"a\":1}"),
            signature("whsec_test", 1_700_000_000, "{\"a\":1}")
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_an_hour() {
        for _ in 0..50 {
            let first = backoff(1).num_milliseconds();
            assert!((4000..=6000).contains(&first), "{first}");
            let fourth = backoff(4).num_milliseconds();
            assert!((32_000..=48_000).contains(&fourth), "{fourth}");
            assert!(backoff(MAX_ATTEMPTS).num_seconds() <= 3600);
            assert!(backoff(1000).num_seconds() >= 2880);
        }
    }
}
