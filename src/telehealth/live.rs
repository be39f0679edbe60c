//! The waiting room, pushed: a WebSocket on which a station's doctors hear that its waiting room
//! changed (someone joined, left, was admitted, declined, missed the call, or a call ended), so the
//! console refetches at once instead of waiting for its next poll. A background tab keeps its
//! socket, so the doctor's knock and notification come on time even while timers are throttled.
//!
//! The messages carry no names: `{"event": "queue_changed"}` only; what changed is read through
//! `GET /v1/telehealth/stations/{id}/queue`, with its own access rules. Changes are fanned out through
//! the `bus`, so a doctor connected to one instance hears a resident who joined on another.
//! `GET /v1/telehealth/stations/{station_id}/queue/live`; the access token may come as the
//! `access_token` query parameter (browsers cannot set headers on a WebSocket). The server pings
//! every 15 s and closes with 1001 when it shuts down.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocket};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Request, handler};
use uuid::Uuid;

use super::Ctx;
use super::queue;
use crate::auth::Caller;
use crate::bus::Received;
use crate::error::{Error, problem_response};

/// The bus topic of waiting-room changes (one for all stations; each message names its station).
pub const TOPIC: &str = "telehealth_queue";

/// A waiting room changed: what crosses instances (a wire format, so unknown keys are ignored).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueueChanged {
    /// The station whose waiting room changed; `None`: some station's (every console refetches).
    pub station_id: Option<Uuid>,
}

/// Tell the consoles of `station` (every station when `None`) that its waiting room changed.
/// Best effort: a lost nudge is made good by the console's slow poll.
pub async fn nudge(state: &Ctx, station: Option<Uuid>) {
    let payload = match serde_json::to_value(QueueChanged {
        station_id: station,
    }) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "waiting room change");
            return;
        }
    };
    if let Err(e) = state.bus.publish(TOPIC, payload).await {
        tracing::warn!(error = %e, "publishing a waiting room change");
    }
}

#[derive(serde::Deserialize)]
pub struct LiveQuery {
    access_token: Option<String>,
}

async fn authenticate(
    state: &Ctx,
    req: &Request,
    q: &LiveQuery,
    station: Uuid,
) -> Result<Caller, Error> {
    let caller = state
        .auth
        .socket_caller(req, q.access_token.as_deref())
        .await?;
    queue::require_station_doctor(state, &caller, station).await?;
    Ok(caller)
}

/// `GET /v1/telehealth/stations/{station_id}/queue/live` (WebSocket; the station's doctors).
#[handler]
pub async fn live(
    req: &Request,
    ws: WebSocket,
    Path(station): Path<Uuid>,
    Query(q): Query<LiveQuery>,
    Data(state): Data<&Ctx>,
) -> poem::Response {
    if let Err(e) = authenticate(state, req, &q, station).await {
        return problem_response(&e);
    }
    let mut sub = match state.bus.subscribe(TOPIC).await {
        Ok(s) => s,
        Err(e) => return problem_response(&Error::Internal(e)),
    };
    let mut shutdown = state.shutdown.signal();
    ws.on_upgrade(move |socket| async move {
        let (mut tx, mut rx) = socket.split();
        let mut ping = tokio::time::interval(Duration::from_secs(15));
        let changed = serde_json::json!({ "event": "queue_changed" }).to_string();
        loop {
            tokio::select! {
                _ = shutdown.changed() => {
                    let _ = tx.send(Message::Close(Some((CloseCode::Away, "server shutting down".into())))).await;
                    break;
                }
                _ = ping.tick() => {
                    if tx.send(Message::Ping(vec![])).await.is_err() {
                        break;
                    }
                }
                incoming = rx.next() => match incoming {
                    None | Some(Err(_)) => break,
                    Some(Ok(Message::Close(_))) => {
                        // Answer the close (RFC 6455 §5.5.1), then go.
                        let _ = tx.send(Message::Close(None)).await;
                        break;
                    }
                    Some(Ok(_)) => {}
                },
                event = sub.recv() => match event {
                    Received::Event(e) => {
                        let Ok(change) = serde_json::from_value::<QueueChanged>(e.payload) else {
                            continue;
                        };
                        if change.station_id.is_none_or(|s| s == station)
                            && tx.send(Message::Text(changed.clone())).await.is_err()
                        {
                            break;
                        }
                    }
                    // Fell behind: something changed; one refetch covers it all.
                    Received::Lagged(_) => {
                        if tx.send(Message::Text(changed.clone())).await.is_err() {
                            break;
                        }
                    }
                    Received::Closed => break,
                },
            }
        }
    })
    .into_response()
}
