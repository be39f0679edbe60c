//! Fan-out of events to whoever listens: live report updates for staff consoles, signaling for calls.
//!
//! One process needs only the in-process bus. Several instances behind a load balancer need one
//! that crosses processes (PostgreSQL `LISTEN/NOTIFY` or NATS); it implements the same trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// One message on a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub topic: String,
    pub payload: serde_json::Value,
}

/// Messages of one topic, in publish order. A slow reader that falls behind by more than the
/// channel capacity skips ahead and is told how many it missed.
pub struct Subscription {
    rx: broadcast::Receiver<Event>,
}

#[derive(Debug, PartialEq)]
pub enum Received {
    Event(Event),
    Lagged(u64),
    Closed,
}

impl Subscription {
    pub async fn recv(&mut self) -> Received {
        match self.rx.recv().await {
            Ok(e) => Received::Event(e),
            Err(broadcast::error::RecvError::Lagged(n)) => Received::Lagged(n),
            Err(broadcast::error::RecvError::Closed) => Received::Closed,
        }
    }
}

#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Deliver to every current subscriber of `topic`, on this instance and the others.
    async fn publish(&self, topic: &str, payload: serde_json::Value) -> anyhow::Result<()>;
    /// Receive what is published on `topic` from now on.
    async fn subscribe(&self, topic: &str) -> anyhow::Result<Subscription>;
}

const CAPACITY: usize = 256;

/// The in-process bus: a broadcast channel per topic, dropped when its last subscriber leaves.
#[derive(Default)]
pub struct LocalBus {
    topics: Mutex<HashMap<String, broadcast::Sender<Event>>>,
}

impl LocalBus {
    pub fn new() -> Arc<LocalBus> {
        Arc::new(LocalBus::default())
    }

    /// Number of topics with a channel (for tests that check cleanup).
    pub fn topic_count(&self) -> usize {
        self.topics.lock().map(|t| t.len()).unwrap_or(0)
    }
}

#[async_trait::async_trait]
impl Bus for LocalBus {
    async fn publish(&self, topic: &str, payload: serde_json::Value) -> anyhow::Result<()> {
        let mut topics = self
            .topics
            .lock()
            .map_err(|_| anyhow::anyhow!("bus lock poisoned"))?;
        if let Some(tx) = topics.get(topic) {
            if tx.receiver_count() == 0 {
                topics.remove(topic);
            } else {
                // Send fails only when nobody listens, which is fine for fan-out.
                let _ = tx.send(Event {
                    topic: topic.to_string(),
                    payload,
                });
            }
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> anyhow::Result<Subscription> {
        let mut topics = self
            .topics
            .lock()
            .map_err(|_| anyhow::anyhow!("bus lock poisoned"))?;
        topics.retain(|_, tx| tx.receiver_count() > 0);
        let tx = topics
            .entry(topic.to_string())
            .or_insert_with(|| broadcast::channel(CAPACITY).0);
        Ok(Subscription { rx: tx.subscribe() })
    }
}

/// The channel every instance listens on.
const PG_CHANNEL: &str = "wardline_bus";
/// NOTIFY payloads must stay under 8000 bytes; larger ones (SDP offers can be) go through a table.
const PG_INLINE_MAX: usize = 7000;

/// The bus across instances sharing one PostgreSQL: `NOTIFY` on one channel, one `LISTEN`ing
/// connection per instance feeding the in-process bus. Everything published, also to this
/// instance's own subscribers, goes through PostgreSQL, so every instance sees the same order.
/// Payloads too large for a notification are stored in `bus_spill` and the notification carries
/// their id. Notifications sent while an instance's listener reconnects are lost to it (what
/// PostgreSQL offers); signaling clients recover through resume.
pub struct PgBus {
    pool: sqlx::PgPool,
    local: Arc<LocalBus>,
}

impl PgBus {
    /// Start listening; the listener task lives as long as the process.
    pub async fn start(pool: sqlx::PgPool) -> anyhow::Result<Arc<PgBus>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
        listener.listen(PG_CHANNEL).await?;
        let bus = Arc::new(PgBus {
            pool: pool.clone(),
            local: LocalBus::new(),
        });
        let local = bus.local.clone();
        let reader = pool.clone();
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(n) => {
                        if let Err(e) = deliver(&reader, &local, n.payload()).await {
                            tracing::warn!(error = %e, "bus: dropping a notification");
                        }
                    }
                    // The pool closed: the instance is stopping.
                    Err(sqlx::Error::PoolClosed) => break,
                    Err(e) => {
                        // PgListener reconnects on the next recv.
                        tracing::warn!(error = %e, "bus: listener connection lost");
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                }
            }
        });
        let sweeper = pool.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                if sweeper.is_closed() {
                    break;
                }
                let cutoff = chrono::Utc::now() - chrono::Duration::minutes(5);
                if let Err(e) = sqlx::query("DELETE FROM bus_spill WHERE created_at < $1")
                    .bind(cutoff)
                    .execute(&sweeper)
                    .await
                {
                    tracing::warn!(error = %e, "bus: sweeping spilled payloads");
                }
            }
        });
        Ok(bus)
    }
}

async fn deliver(pool: &sqlx::PgPool, local: &LocalBus, text: &str) -> anyhow::Result<()> {
    let envelope: serde_json::Value = serde_json::from_str(text)?;
    let topic = envelope
        .get("t")
        .and_then(|t| t.as_str())
        .ok_or_else(|| anyhow::anyhow!("no topic"))?;
    let payload = match (
        envelope.get("p"),
        envelope.get("spill").and_then(|s| s.as_str()),
    ) {
        (Some(p), _) => p.clone(),
        (None, Some(id)) => {
            let id = uuid::Uuid::parse_str(id)?;
            let body: String =
                sqlx::query_scalar("SELECT payload FROM bus_spill WHERE spill_id = $1")
                    .bind(id)
                    .fetch_one(pool)
                    .await?;
            serde_json::from_str(&body)?
        }
        _ => anyhow::bail!("no payload"),
    };
    local.publish(topic, payload).await
}

#[async_trait::async_trait]
impl Bus for PgBus {
    async fn publish(&self, topic: &str, payload: serde_json::Value) -> anyhow::Result<()> {
        let inline = serde_json::json!({ "t": topic, "p": payload }).to_string();
        let text = if inline.len() <= PG_INLINE_MAX {
            inline
        } else {
            let id = uuid::Uuid::now_v7();
            sqlx::query("INSERT INTO bus_spill (spill_id, topic, payload, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(topic)
                .bind(payload.to_string())
                .bind(chrono::Utc::now())
                .execute(&self.pool)
                .await?;
            serde_json::json!({ "t": topic, "spill": id }).to_string()
        };
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(PG_CHANNEL)
            .bind(text)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> anyhow::Result<Subscription> {
        self.local.subscribe(topic).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_their_topic_only_in_order_and_topics_are_cleaned_up() {
        let bus = LocalBus::new();
        let mut a = bus.subscribe("a").await.unwrap();
        let mut a2 = bus.subscribe("a").await.unwrap();
        let b = bus.subscribe("b").await.unwrap();
        bus.publish("a", serde_json::json!(1)).await.unwrap();
        bus.publish("a", serde_json::json!(2)).await.unwrap();
        bus.publish("c", serde_json::json!(3)).await.unwrap();
        for sub in [&mut a, &mut a2] {
            assert_eq!(
                sub.recv().await,
                Received::Event(Event {
                    topic: "a".into(),
                    payload: serde_json::json!(1)
                })
            );
            assert_eq!(
                sub.recv().await,
                Received::Event(Event {
                    topic: "a".into(),
                    payload: serde_json::json!(2)
                })
            );
        }
        drop(b);
        bus.publish("b", serde_json::json!(4)).await.unwrap();
        assert_eq!(bus.topic_count(), 1);
    }

    #[tokio::test]
    async fn a_slow_reader_is_told_it_lagged() {
        let bus = LocalBus::new();
        let mut sub = bus.subscribe("t").await.unwrap();
        for i in 0..(CAPACITY + 10) {
            bus.publish("t", serde_json::json!(i)).await.unwrap();
        }
        assert_eq!(sub.recv().await, Received::Lagged(10));
    }
}
