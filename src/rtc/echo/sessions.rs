//! The test sessions of this instance: one live per account, a bounded number at once, reports
//! kept for a while after the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use uuid::Uuid;

use super::KEEP_REPORT;
use super::stats::{EchoReason, EchoReport, Measure, Verdict, lock};
use crate::error::Error;
use crate::rtc::turn::Refusals;

struct Session {
    owner: Uuid,
    started: Instant,
    measure: Arc<Mutex<Measure>>,
    /// What was last handed to the consultations: the verdict, whether a round trip was known,
    /// whether relayed (each change once, not at every poll).
    handed_over: Option<Handed>,
}

impl Session {
    fn live(&self) -> bool {
        lock(&self.measure).finished_at.is_none()
    }

    fn report(&self, id: Uuid, refusals: &Refusals) -> EchoReport {
        let m = lock(&self.measure);
        let round = |v: f64| (v * 10.0).round() / 10.0;
        let verdict = m.verdict(self.started.elapsed());
        // The TURN participants of a test: the server's peer and the phone (its ICE servers
        // from GET /v1/rtc/ice-servers).
        let refused = verdict == Verdict::CannotConnect
            && refusals.refused_since(
                &[&format!("echo-{id}"), &format!("echo-{}", self.owner)],
                self.started,
            );
        EchoReport {
            session_id: id,
            state: m.state,
            rtt_ms: m.rtt_ms.map(round),
            loss: m.loss().map(|l| (l * 1000.0).round() / 1000.0),
            jitter_ms: m.jitter_ms().map(round),
            packets_echoed: m.packets_echoed,
            messages_echoed: m.messages_echoed,
            audio_packets: m.audio.received,
            video_packets: m.video.received,
            selected_candidate_type: m.selected.clone(),
            verdict,
            reason: refused.then_some(EchoReason::TurnPeerRefused),
        }
    }
}

/// What a report hands to the consultations, as far as it matters whether it changed: the
/// verdict, whether a round trip is known, whether relayed.
pub(super) type Handed = (super::stats::Verdict, bool, bool);

/// The test sessions of this instance (the phone talks to the instance that answered it).
#[derive(Default)]
pub struct EchoSessions {
    sessions: Mutex<HashMap<Uuid, Session>>,
}

impl EchoSessions {
    fn map(&self) -> MutexGuard<'_, HashMap<Uuid, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Take a slot for `owner`, or say why not.
    pub(super) fn reserve(
        &self,
        owner: Uuid,
        max_live: usize,
    ) -> Result<(Uuid, Arc<Mutex<Measure>>), Error> {
        let mut map = self.map();
        map.retain(|_, s| {
            let finished = lock(&s.measure).finished_at;
            finished.is_none_or(|at| at.elapsed() < KEEP_REPORT)
        });
        if map.values().any(|s| s.owner == owner && s.live()) {
            return Err(Error::Conflict("echo_session_live"));
        }
        if map.values().filter(|s| s.live()).count() >= max_live {
            return Err(Error::Unavailable("echo_busy"));
        }
        let id = Uuid::now_v7();
        let measure = Arc::new(Mutex::new(Measure::default()));
        map.insert(
            id,
            Session {
                owner,
                started: Instant::now(),
                measure: measure.clone(),
                handed_over: None,
            },
        );
        Ok((id, measure))
    }

    pub(super) fn forget(&self, id: Uuid) {
        self.map().remove(&id);
    }

    pub(super) fn report(&self, id: Uuid, caller: Uuid, refusals: &Refusals) -> Option<EchoReport> {
        let map = self.map();
        let s = map.get(&id).filter(|s| s.owner == caller)?;
        Some(s.report(id, refusals))
    }

    /// Whether `now` is news for this session's consultations: the first verdict of the test, a
    /// different one, or the first round trip measured. The phone polls the report about once a
    /// second; what it found is kept only when it changes.
    pub(super) fn hand_over(&self, id: Uuid, now: Handed) -> bool {
        let mut map = self.map();
        match map.get_mut(&id) {
            Some(s) if s.handed_over != Some(now) => {
                s.handed_over = Some(now);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::stats::Verdict;
    use super::*;

    #[test]
    fn a_verdict_is_handed_over_once_until_it_changes() {
        let sessions = EchoSessions::default();
        let (id, _) = sessions.reserve(Uuid::now_v7(), 4).unwrap();
        assert!(sessions.hand_over(id, (Verdict::AudioOnly, false, false)));
        assert!(!sessions.hand_over(id, (Verdict::AudioOnly, false, false)));
        assert!(sessions.hand_over(id, (Verdict::VideoOk, false, false)));
        // The round trip arrives after the verdict: that is news too.
        assert!(sessions.hand_over(id, (Verdict::VideoOk, true, false)));
        assert!(!sessions.hand_over(id, (Verdict::VideoOk, true, false)));
        let unknown = (Verdict::VideoOk, true, false);
        assert!(
            !sessions.hand_over(Uuid::now_v7(), unknown),
            "no such session"
        );
    }
}
