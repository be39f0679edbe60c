//! The staff console's live feed: a WebSocket on which staff receive new and changed reports of
//! their units (and unrouted ones) as they happen, fanned out through the `bus`.
//!
//! Browsers cannot put an `Authorization` header on a WebSocket, so the access token may also come
//! as the `access_token` query parameter. Messages are JSON: `{"event": "...", "report": {...}}`.
//! The server pings every 15 s and closes with 1001 (going away) when it shuts down.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocket};
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, handler};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::bus::Received;
use crate::error::{Error, problem_response};
use crate::reports::Ctx;
use crate::reports::repo;

#[derive(serde::Deserialize)]
pub struct LiveQuery {
    access_token: Option<String>,
}

async fn authenticate(state: &Ctx, req: &Request, q: &LiveQuery) -> Result<Caller, Error> {
    let caller = match (state.auth.optional_caller(req).await?, &q.access_token) {
        (Some(c), _) => c,
        (None, Some(token)) => {
            let caller = state.auth.identify(token).await?;
            if caller.password_must_change {
                return Err(Error::Refused("password_change_required"));
            }
            caller
        }
        (None, None) => return Err(Error::Unauthorized("missing_token")),
    };
    caller.require(&[Role::Staff, Role::Admin])?;
    Ok(caller)
}

/// `GET /v1/staff/reports/live` (WebSocket).
#[handler]
pub async fn live(
    req: &Request,
    ws: WebSocket,
    Query(q): Query<LiveQuery>,
    Data(state): Data<&Ctx>,
) -> poem::Response {
    let caller = match authenticate(state, req, &q).await {
        Ok(c) => c,
        Err(e) => return problem_response(&e),
    };
    let mut sub = match state.bus.subscribe("reports").await {
        Ok(s) => s,
        Err(e) => return problem_response(&Error::Internal(e)),
    };
    let state = state.clone();
    let mut shutdown = state.shutdown.signal();
    ws.on_upgrade(move |socket| async move {
        let (mut tx, mut rx) = socket.split();
        let mut ping = tokio::time::interval(Duration::from_secs(15));
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
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(_)) => {}
                },
                event = sub.recv() => match event {
                    Received::Event(e) => {
                        let Some(id) = e.payload.get("report_id").and_then(|v| v.as_str()).and_then(|s| Uuid::parse_str(s).ok()) else { continue };
                        let what = e.payload.get("event").and_then(|v| v.as_str()).unwrap_or("changed").to_string();
                        let unit_of = |key: &str| e.payload.get(key).map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()));
                        let routed = Routed { unit: unit_of("unit_id"), previous: unit_of("previous_unit_id").flatten() };
                        match message_for(&state, &caller, id, &what, routed).await {
                            Ok(Some(text)) => {
                                if tx.send(Message::Text(text)).await.is_err() {
                                    break;
                                }
                            }
                            Ok(None) => {}
                            Err(e) => tracing::warn!(error = %e, "live feed"),
                        }
                    }
                    // Fell behind: tell the console to reload its queue.
                    Received::Lagged(n) => {
                        let text = serde_json::json!({ "event": "resync", "missed": n }).to_string();
                        if tx.send(Message::Text(text)).await.is_err() {
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

/// Where a report was routed when it changed, as its event says.
struct Routed {
    /// Its unit after the change: `Some(None)` unrouted; `None` if the event does not say (sent
    /// by an older instance), then the report as it stands decides.
    unit: Option<Option<Uuid>>,
    /// The unit it has just left, if any.
    previous: Option<Uuid>,
}

/// The message for a staff member about a report, if it concerns their units: it was routed to one
/// of them (or to none yet) when it changed, or it has just left one of them.
async fn message_for(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    what: &str,
    routed: Routed,
) -> Result<Option<String>, Error> {
    let Some(row) = repo::report(&state.db, id).await? else {
        return Ok(None);
    };
    if caller.role == Role::Staff
        && let Some(unit) = routed.unit.unwrap_or(row.unit_id)
    {
        let mine = repo::units_of(&state.db, caller.account_id).await?;
        if !mine.contains(&unit) && !routed.previous.is_some_and(|u| mine.contains(&u)) {
            return Ok(None);
        }
    }
    let view = crate::reports::api::view(state, row, Some(caller)).await?;
    Ok(Some(
        serde_json::json!({ "event": what, "report": view }).to_string(),
    ))
}
