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

/// The bus topic of report changes (one for all reports).
pub const TOPIC: &str = "reports";

/// A report changed: what the [`TOPIC`] carries between instances, which may be of different
/// versions (a rolling deploy), so this is a wire format. Keys an instance does not know are
/// ignored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub report_id: Uuid,
    /// What happened (`created`, `comment`, a status …), passed on to the consoles; absent means
    /// `changed`.
    #[serde(default = "changed")]
    pub event: String,
    /// Where the report is routed after the change: `Some(None)` unrouted (`null`); `None` if the
    /// event does not say (the key is absent: sent by an older instance), then the report as it
    /// stands when the message arrives decides.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub unit_id: Option<Option<Uuid>>,
    /// The unit it has just left, if any: that unit's consoles hear it too (so they can take it off
    /// their queue).
    #[serde(default)]
    pub previous_unit_id: Option<Uuid>,
}

fn changed() -> String {
    "changed".into()
}

/// A key that is present, even as `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Uuid>>, D::Error> {
    <Option<Uuid> as serde::Deserialize>::deserialize(d).map(Some)
}

#[derive(serde::Deserialize)]
pub struct LiveQuery {
    access_token: Option<String>,
}

async fn authenticate(state: &Ctx, req: &Request, q: &LiveQuery) -> Result<Caller, Error> {
    let caller = state
        .auth
        .socket_caller(req, q.access_token.as_deref())
        .await?;
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
    let mut sub = match state.bus.subscribe(TOPIC).await {
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
                        // Another instance (perhaps of another version) wrote it: what cannot be
                        // read is skipped.
                        let change = match serde_json::from_value::<Change>(e.payload) {
                            Ok(change) => change,
                            Err(e) => {
                                tracing::debug!(error = %e, "skipping a report event this instance cannot read");
                                continue;
                            }
                        };
                        match message_for(&state, &caller, change).await {
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

/// The message for a staff member about a report, if it concerns their units: it was routed to one
/// of them (or to none yet) when it changed, or it has just left one of them.
async fn message_for(
    state: &Ctx,
    caller: &Caller,
    change: Change,
) -> Result<Option<String>, Error> {
    let Some(row) = repo::report(&state.db, change.report_id).await? else {
        return Ok(None);
    };
    if caller.role == Role::Staff
        && let Some(unit) = change.unit_id.unwrap_or(row.unit_id)
    {
        let mine = repo::units_of(&state.db, caller.account_id).await?;
        if !mine.contains(&unit) && !change.previous_unit_id.is_some_and(|u| mine.contains(&u)) {
            return Ok(None);
        }
    }
    let view = crate::reports::api::view(state, row, Some(caller)).await?;
    Ok(Some(
        serde_json::json!({ "event": change.event, "report": view }).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn report_changes_are_written_as_before_and_read_back() {
        let (report_id, unit, previous) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        for (what, unit, previous_unit) in [
            ("created", Some(unit), None),
            ("me_too", None, None),
            ("triaged", Some(unit), Some(previous)),
            ("closed", None, Some(previous)),
        ] {
            let change = Change {
                report_id,
                event: what.to_string(),
                unit_id: Some(unit),
                previous_unit_id: previous_unit,
            };
            // What `publish_from` built before the typed change.
            let old = json!({
                "report_id": report_id,
                "event": what,
                "unit_id": unit,
                "previous_unit_id": previous_unit,
            });
            let written = serde_json::to_value(&change).unwrap();
            assert_eq!(written, old);
            assert_eq!(written.to_string(), old.to_string());
            assert_eq!(serde_json::from_value::<Change>(old).unwrap(), change);
        }
    }

    #[test]
    fn report_changes_of_other_versions_are_read_with_their_defaults() {
        let report_id = Uuid::now_v7();
        // An older instance says neither the event nor where the report went.
        let change: Change = serde_json::from_value(json!({ "report_id": report_id })).unwrap();
        assert_eq!(
            change,
            Change {
                report_id,
                event: "changed".into(),
                unit_id: None,
                previous_unit_id: None,
            }
        );
        // `null` is "unrouted", not "does not say".
        let change: Change =
            serde_json::from_value(json!({ "report_id": report_id, "unit_id": null, "x": 1 }))
                .unwrap();
        assert_eq!(change.unit_id, Some(None));
        for bad in [
            json!({ "event": "created" }),
            json!({ "report_id": "nope" }),
            Value::Null,
        ] {
            assert!(serde_json::from_value::<Change>(bad).is_err());
        }
    }
}
