//! SQL of webhooks: the endpoints, and the outbox of their deliveries.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::EventKind;
use crate::error::Result;
use crate::on_db;
use crate::store::{Db, Exec};

/// An endpoint as the admins see it (never its secret), with its outbox's figures.
#[derive(Debug, Clone)]
pub struct EndpointRow {
    pub webhook_id: Uuid,
    pub url: String,
    pub events: Vec<EventKind>,
    pub description: String,
    pub created_by: Option<Uuid>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Deliveries still to make.
    pub pending: i64,
    /// Deliveries given up on.
    pub dead: i64,
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// What went wrong the last time an attempt failed.
    pub last_error: Option<String>,
}

/// The subscribed events as stored: names separated by single spaces.
fn events_text(events: &[EventKind]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_events(text: &str) -> Vec<EventKind> {
    text.split(' ').filter_map(EventKind::parse).collect()
}

pub async fn insert_endpoint(db: &Db, e: &EndpointRow, secret: &str) -> Result<()> {
    let (id, url, events, description, by, now) = (
        e.webhook_id,
        e.url.clone(),
        events_text(&e.events),
        e.description.clone(),
        e.created_by,
        e.created_at,
    );
    let secret = secret.to_string();
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "INSERT INTO webhook_endpoints (webhook_id, url, events, secret, description, created_by,
                     created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                &[
                    id.into(),
                    (&url).into(),
                    (&events).into(),
                    (&secret).into(),
                    (&description).into(),
                    by.into(),
                    now.into(),
                ],
            )
            .await
            .map(|_| ())
        })
    })
    .await
}

type EndpointTuple = (
    Uuid,
    String,
    String,
    String,
    Option<Uuid>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    i64,
    i64,
    Option<DateTime<Utc>>,
    Option<String>,
);

pub async fn endpoints(db: &Db) -> Result<Vec<EndpointRow>> {
    let rows = on_db!(db, pool => sqlx::query_as::<_, EndpointTuple>(
        "SELECT e.webhook_id, e.url, e.events, e.description, e.created_by, e.disabled_at, e.created_at,
             (SELECT COUNT(*) FROM webhook_deliveries d
              WHERE d.webhook_id = e.webhook_id AND d.delivered_at IS NULL AND d.dead_at IS NULL),
             (SELECT COUNT(*) FROM webhook_deliveries d
              WHERE d.webhook_id = e.webhook_id AND d.dead_at IS NOT NULL),
             (SELECT MAX(d.delivered_at) FROM webhook_deliveries d WHERE d.webhook_id = e.webhook_id),
             (SELECT d.last_error FROM webhook_deliveries d
              WHERE d.webhook_id = e.webhook_id AND d.last_error IS NOT NULL
              ORDER BY d.updated_at DESC, d.seq DESC LIMIT 1)
         FROM webhook_endpoints e ORDER BY e.created_at, e.webhook_id",
    )
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                webhook_id,
                url,
                events,
                description,
                created_by,
                disabled_at,
                created_at,
                pending,
                dead,
                last_delivered_at,
                last_error,
            )| EndpointRow {
                webhook_id,
                url,
                events: parse_events(&events),
                description,
                created_by,
                disabled_at,
                created_at,
                pending,
                dead,
                last_delivered_at,
                last_error,
            },
        )
        .collect())
}

pub async fn endpoint_exists(db: &Db, id: Uuid) -> Result<bool> {
    let n = on_db!(db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM webhook_endpoints WHERE webhook_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await)?;
    Ok(n > 0)
}

pub async fn disable(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<()> {
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "UPDATE webhook_endpoints SET disabled_at = $2, updated_at = $2
                 WHERE webhook_id = $1 AND disabled_at IS NULL",
                &[id.into(), now.into()],
            )
            .await
            .map(|_| ())
        })
    })
    .await
}

/// One row of the outbox per active endpoint subscribed to `kind`, in the caller's transaction.
pub async fn enqueue(
    tx: &mut dyn Exec,
    event_id: Uuid,
    subject_id: Uuid,
    kind: EventKind,
    body: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let pattern = format!("% {} %", kind.as_str());
    tx.exec(
        "INSERT INTO webhook_deliveries (event_id, webhook_id, subject_id, event, payload, attempts,
             next_attempt_at, created_at, updated_at)
         SELECT $1, webhook_id, $2, $3, $4, 0, $5, $5, $5 FROM webhook_endpoints
         WHERE disabled_at IS NULL AND (' ' || events || ' ') LIKE $6
         ORDER BY created_at, webhook_id",
        &[
            event_id.into(),
            subject_id.into(),
            kind.as_str().into(),
            body.into(),
            now.into(),
            pattern.as_str().into(),
        ],
    )
    .await
    .map(|_| ())
}

/// A delivery as the admins see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub event_id: Uuid,
    pub event: EventKind,
    pub subject_id: Uuid,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub dead_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn deliveries(db: &Db, webhook_id: Uuid, limit: i64) -> Result<Vec<DeliveryRow>> {
    Ok(on_db!(db, pool => sqlx::query_as::<_, DeliveryRow>(
        "SELECT event_id, event, subject_id, attempts, next_attempt_at, delivered_at, dead_at, last_status,
             last_error, created_at
         FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(webhook_id)
    .bind(limit)
    .fetch_all(pool)
    .await)?)
}

/// A delivery to make now, with where and how to sign it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub seq: i64,
    pub event_id: Uuid,
    pub event: EventKind,
    pub payload: String,
    pub attempts: i32,
    pub url: String,
    pub secret: String,
}

/// Deliveries due at `now` that no worker holds: for each endpoint and subject only the oldest
/// one not yet delivered (the next waits until it is), so a report's events arrive in order.
pub async fn due(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<Due>> {
    Ok(on_db!(db, pool => sqlx::query_as::<_, Due>(
        "SELECT d.seq, d.event_id, d.event, d.payload, d.attempts, e.url, e.secret
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.webhook_id = d.webhook_id
         WHERE d.delivered_at IS NULL AND d.dead_at IS NULL AND e.disabled_at IS NULL
           AND d.next_attempt_at <= $1 AND (d.leased_until IS NULL OR d.leased_until < $1)
           AND NOT EXISTS (
               SELECT 1 FROM webhook_deliveries o
               WHERE o.webhook_id = d.webhook_id AND o.subject_id = d.subject_id AND o.seq < d.seq
                 AND o.delivered_at IS NULL AND o.dead_at IS NULL)
         ORDER BY d.next_attempt_at, d.seq LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await)?)
}

/// Take deliveries until `until`, each unless another worker holds it or it is done (one write):
/// those this worker got. Of instances racing for a row, one gets it: the guarded update that
/// changes it. Rows are taken in `seq` order, so two instances lock them in the same order.
pub async fn claim(
    db: &Db,
    mut seqs: Vec<i64>,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<i64>> {
    seqs.sort_unstable();
    db.write(move |tx| {
        Box::pin(async move {
            let mut mine = Vec::with_capacity(seqs.len());
            for seq in seqs {
                let n = tx
                    .exec(
                        "UPDATE webhook_deliveries SET leased_until = $3
                         WHERE seq = $1 AND delivered_at IS NULL AND dead_at IS NULL
                           AND (leased_until IS NULL OR leased_until < $2)",
                        &[seq.into(), now.into(), until.into()],
                    )
                    .await?;
                if n == 1 {
                    mine.push(seq);
                }
            }
            Ok(mine)
        })
    })
    .await
}

/// The receiver took it (2xx).
pub async fn delivered(db: &Db, seq: i64, status: u16, now: DateTime<Utc>) -> Result<()> {
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "UPDATE webhook_deliveries SET delivered_at = $2, attempts = attempts + 1, last_status = $3,
                     leased_until = NULL, updated_at = $2
                 WHERE seq = $1",
                &[seq.into(), now.into(), i64::from(status).into()],
            )
            .await
            .map(|_| ())
        })
    })
    .await
}

/// An attempt failed: try again at `next`, or give up (`dead`).
pub async fn failed(
    db: &Db,
    seq: i64,
    status: Option<u16>,
    error: String,
    next: DateTime<Utc>,
    dead: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let dead_at = dead.then_some(now);
    db.write(move |tx| {
        Box::pin(async move {
            tx.exec(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3,
                     next_attempt_at = $4, dead_at = $5, leased_until = NULL, updated_at = $6
                 WHERE seq = $1",
                &[
                    seq.into(),
                    status.map(i64::from).into(),
                    (&error).into(),
                    next.into(),
                    dead_at.into(),
                    now.into(),
                ],
            )
            .await
            .map(|_| ())
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_stored_space_separated_and_read_back() {
        let all = EventKind::ALL.to_vec();
        let text = events_text(&all);
        assert_eq!(
            text,
            "report.created report.changed report.resolved consultation.ended"
        );
        assert_eq!(parse_events(&text), all);
        // The outbox matches names with LIKE, where `_` and `%` are wildcards: none may hold one.
        assert!(
            EventKind::ALL
                .iter()
                .all(|e| !e.as_str().contains(['_', '%', ' ']))
        );
    }
}
