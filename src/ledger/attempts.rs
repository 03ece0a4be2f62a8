//! The ledger's side of an attempt: whether to send a delivery now, and what its outcome leads
//! to. It never sends: the adapter makes the attempt and reports it. No `worker` import, no I/O.

use super::stats::Tally;
use super::{Ledger, Order};
use crate::error::Error;
use crate::model::delivery::Next;
use crate::model::{Call, DeliveryState};
use crate::outbound::OutboundResponse;

/// An attempt not reported this long after it began died with its invocation (a queue consumer
/// or an alarm runs for at most 15 minutes of wall time); its outcome is then unknown.
pub const ATTEMPT_LEASE_MS: u64 = 15 * 60 * 1000;

/// How soon a delivery waiting for an older attempt of its key asks again, at first (then half as
/// long again as that attempt has been out).
pub const WAIT_POLL_MS: u64 = 5_000;

/// What `next_attempt` decided.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextAttempt {
    /// Send `call` now, as attempt `number`; it is recorded as out until its outcome is reported.
    Send { call: Box<Call>, number: u32 },
    /// Not now: a retry not yet due, an attempt of it still out, or (under `latest`) an older
    /// attempt for its key still out. Ask again at `until_ms`.
    Wait { until_ms: u64 },
    /// A newer delivery for its key came first: never sent again (state `superseded`).
    Superseded { by: String },
    /// Its last attempt died unreported and was the last allowed (`attempts` in all):
    /// dead-letter it.
    Dead { attempts: u32 },
    /// Already delivered, failed, dead or superseded: nothing to do.
    Settled { state: DeliveryState },
    /// No such delivery in this ledger.
    Unknown,
}

/// An attempt's outcome, as the adapter saw it.
#[derive(Debug)]
pub struct AttemptReport<'a> {
    pub started_ms: u64,
    pub duration_ms: u64,
    pub outcome: &'a Result<OutboundResponse, Error>,
    /// No answer, but the target may have acted on it (a timeout): the record marks it.
    pub unknown: bool,
    /// The target's credentials, scrubbed from the excerpt kept.
    pub secrets: &'a [String],
}

/// What comes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterAttempt {
    /// Delivered, or failed for good.
    Done,
    /// Ask `next_attempt` again after this long.
    Retry { delay_seconds: u32 },
    /// Out of attempts: dead-letter it.
    Dead,
    /// It would be retried, but a newer delivery for its key has arrived: dropped.
    Superseded,
    /// No attempt of this delivery was out (reported twice, or after its lease lapsed).
    Ignored,
}

impl Ledger {
    /// Decides whether delivery `id` is sent now, and if so records that it is out.
    pub fn next_attempt(&mut self, id: &str, now_ms: u64) -> NextAttempt {
        let Some(entry) = self.entries.get(id) else { return NextAttempt::Unknown };
        if entry.delivery.state != DeliveryState::Pending {
            return NextAttempt::Settled { state: entry.delivery.state };
        }
        if let Some(since) = entry.in_flight_since {
            if now_ms < since + ATTEMPT_LEASE_MS {
                return NextAttempt::Wait { until_ms: since + ATTEMPT_LEASE_MS };
            }
            if self.lapse(id, now_ms) == Next::Dead {
                let attempts = self.entries.get(id).map_or(0, |entry| entry.delivery.attempts.len() as u32);
                return NextAttempt::Dead { attempts };
            }
        }
        let Some(entry) = self.entries.get(id) else { return NextAttempt::Unknown };
        if entry.due_at > now_ms {
            return NextAttempt::Wait { until_ms: entry.due_at };
        }
        if let Some(by) = self.newer_than(entry) {
            self.mark_superseded(id, &by);
            return NextAttempt::Superseded { by };
        }
        if let Some(until_ms) = self.older_attempt_out(id, now_ms) {
            return NextAttempt::Wait { until_ms };
        }
        self.send(id, now_ms)
    }

    /// Records an attempt's outcome and says what comes next, with the retry policy's backoff
    /// (`random` spreads it). Under `latest`, a retry is dropped if a newer delivery has arrived.
    pub fn record_outcome(&mut self, id: &str, report: &AttemptReport, now_ms: u64, random: u32) -> AfterAttempt {
        let policy = self.policy;
        let Some(entry) = self.entries.get_mut(id).filter(|entry| entry.in_flight_since.is_some()) else {
            return self.repeated_report(id, report, now_ms);
        };
        entry.in_flight_since = None;
        let delivery = &mut entry.delivery;
        let number = delivery.attempts.len() as u32 + 1;
        let next = delivery.note_attempt(
            number,
            report.started_ms,
            report.duration_ms,
            report.outcome,
            report.secrets,
            &policy,
        );
        if let Some(attempt) = delivery.attempts.last_mut() {
            attempt.outcome_unknown = report.unknown;
        }
        let made = delivery.attempts.len() as u32;
        let trigger = delivery.trigger.clone();
        self.changes.tallies.push((trigger.clone(), Tally::Attempt { duration_ms: report.duration_ms }));
        if matches!(next, Next::Done | Next::Dead) {
            self.changes.tallies.push((trigger, Tally::Settled(delivery.state)));
        }
        self.changes.deliveries.insert(id.to_string());
        match next {
            Next::Done => AfterAttempt::Done,
            Next::Dead => AfterAttempt::Dead,
            Next::Retry => match self.entries.get(id).and_then(|entry| self.newer_than(entry)) {
                Some(by) => {
                    self.mark_superseded(id, &by);
                    AfterAttempt::Superseded
                }
                None => {
                    let delay_seconds = policy.delay_seconds(made, random);
                    if let Some(entry) = self.entries.get_mut(id) {
                        entry.due_at = now_ms + u64::from(delay_seconds) * 1000;
                    }
                    AfterAttempt::Retry { delay_seconds }
                }
            },
        }
    }

    /// A report of an attempt that is no longer out. The same attempt reported again (its first
    /// report's answer was lost on the way back) gets the same decision, so that the caller still
    /// queues the retry, dead-letters or notifies; nothing is recorded or counted twice. Any other
    /// is `Ignored` (reported after its lease lapsed).
    fn repeated_report(&self, id: &str, report: &AttemptReport, now_ms: u64) -> AfterAttempt {
        let Some(entry) = self.entries.get(id) else { return AfterAttempt::Ignored };
        if entry.delivery.attempts.last().is_none_or(|attempt| attempt.at != report.started_ms) {
            return AfterAttempt::Ignored;
        }
        match entry.delivery.state {
            DeliveryState::Delivered | DeliveryState::Failed => AfterAttempt::Done,
            DeliveryState::Dead => AfterAttempt::Dead,
            DeliveryState::Superseded => AfterAttempt::Superseded,
            DeliveryState::Pending => {
                AfterAttempt::Retry { delay_seconds: entry.due_at.saturating_sub(now_ms).div_ceil(1000).max(1) as u32 }
            }
        }
    }

    /// Ends a pending delivery that can no longer be attempted (its trigger was disabled or
    /// deleted, its target deleted). `false` if it is settled or an attempt of it is out.
    pub fn abandon(&mut self, id: &str, now_ms: u64, why: &str) -> bool {
        let Some(entry) = self.entries.get_mut(id) else { return false };
        if entry.delivery.state != DeliveryState::Pending || entry.in_flight_since.is_some() {
            return false;
        }
        entry.delivery.fail(now_ms, why);
        self.changes.tallies.push((entry.delivery.trigger.clone(), Tally::Settled(entry.delivery.state)));
        self.changes.deliveries.insert(id.to_string());
        true
    }

    /// Forgets what the last steps would have counted: a released delivery was never attempted.
    pub fn drop_tallies(&mut self) {
        self.changes.tallies.clear();
    }

    /// Records the notification of settled delivery `id`; `false` if it has none to record (it is
    /// unknown or still pending).
    pub fn note_notification(&mut self, id: &str, notification: crate::model::delivery::Notification) -> bool {
        let Some(entry) = self.entries.get_mut(id) else { return false };
        if entry.delivery.state == DeliveryState::Pending {
            return false;
        }
        entry.delivery.notification = Some(notification);
        self.changes.deliveries.insert(id.to_string());
        true
    }

    /// Keeps the answer the first call of an `Idempotency-Key` got, once: a repeat is answered
    /// with it. Only on a delivery that carries a key's fingerprint.
    pub fn note_first_answer(&mut self, id: &str, answer: crate::model::delivery::FirstAnswer) -> bool {
        let Some(entry) = self.entries.get_mut(id) else { return false };
        match &mut entry.delivery.idempotency {
            Some(idempotency) if idempotency.answer.is_none() => idempotency.answer = Some(answer),
            _ => return false,
        }
        self.changes.deliveries.insert(id.to_string());
        true
    }

    /// The pending deliveries due by `now_ms` (a lapsed attempt included), oldest arrival first:
    /// what an alarm would attempt, and what nothing may leave behind.
    pub fn due(&self, now_ms: u64) -> Vec<String> {
        let mut due: Vec<(u64, String)> = self
            .entries
            .values()
            .filter(|entry| entry.delivery.state == DeliveryState::Pending && entry.due_at <= now_ms)
            .filter(|entry| entry.in_flight_since.is_none_or(|since| since + ATTEMPT_LEASE_MS <= now_ms))
            .map(|entry| (entry.seq, entry.delivery.id.clone()))
            .collect();
        crate::sorting::sort_by(&mut due, |a, b| a.cmp(b));
        due.into_iter().map(|(_, id)| id).collect()
    }

    fn send(&mut self, id: &str, now_ms: u64) -> NextAttempt {
        // The caller looked it up; a missing entry is answered, never a panic.
        let Some(entry) = self.entries.get_mut(id) else { return NextAttempt::Unknown };
        entry.in_flight_since = Some(now_ms);
        let (seq, key) = (entry.seq, entry.key.clone());
        let number = entry.delivery.attempts.len() as u32 + 1;
        let call = Box::new(entry.delivery.call_at(now_ms));
        let state = self.keys.entry(key.clone()).or_default();
        state.sent_seq = state.sent_seq.max(seq);
        self.changes.deliveries.insert(id.to_string());
        self.changes.keys.insert(key);
        NextAttempt::Send { call, number }
    }

    /// When to ask again while an older delivery for `id`'s key is still out (a newer `latest` one
    /// waits for it, or the target could apply the older one last): in a few seconds, since the
    /// older one usually reports long before its lease lapses, and at the latest when it lapses.
    fn older_attempt_out(&self, id: &str, now_ms: u64) -> Option<u64> {
        let entry = self.entries.get(id)?;
        if entry.order != Order::Latest {
            return None;
        }
        let (since, lapses) = self
            .entries
            .values()
            .filter(|other| other.key == entry.key && other.seq < entry.seq)
            .filter_map(|other| other.in_flight_since.map(|since| (since, since + ATTEMPT_LEASE_MS)))
            .filter(|&(_, lapses)| lapses > now_ms)
            .max_by_key(|&(_, lapses)| lapses)?;
        // The longer it has been out, the longer the wait: a handful of asks over a whole lease.
        let poll = WAIT_POLL_MS.max(now_ms.saturating_sub(since) / 2);
        Some(lapses.min(now_ms + poll))
    }

    /// Records the attempt of `id` that never reported as one whose outcome is unknown.
    fn lapse(&mut self, id: &str, now_ms: u64) -> Next {
        let policy = self.policy;
        // The caller looked it up; a missing entry has nothing left to record.
        let Some(entry) = self.entries.get_mut(id) else { return Next::Done };
        let since = entry.in_flight_since.take().unwrap_or(now_ms);
        let detail = "the attempt ended without reporting; the target may have acted on it".to_string();
        let outcome = Err(Error::TargetUnreachable { target: entry.delivery.target.clone(), detail });
        let delivery = &mut entry.delivery;
        let number = delivery.attempts.len() as u32 + 1;
        let next = delivery.note_attempt(number, since, now_ms - since, &outcome, &[] as &[&str], &policy);
        if let Some(attempt) = delivery.attempts.last_mut() {
            attempt.outcome_unknown = true;
        }
        entry.due_at = now_ms;
        // Counted when it settles; its duration (the lease) is no latency, so no attempt is counted.
        if next == Next::Dead {
            self.changes.tallies.push((entry.delivery.trigger.clone(), Tally::Settled(DeliveryState::Dead)));
        }
        self.changes.deliveries.insert(id.to_string());
        next
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{arrival, state};
    use super::super::{Accepted, Cause};
    use super::*;
    use crate::model::delivery::RetryPolicy;

    const POLICY: RetryPolicy = RetryPolicy { base_seconds: 30, max_attempts: 3 };

    fn answer(status: u16) -> Result<OutboundResponse, Error> {
        Ok(OutboundResponse { status, headers: Vec::new(), body: Vec::new() })
    }

    fn report(outcome: &Result<OutboundResponse, Error>, unknown: bool) -> AttemptReport<'_> {
        AttemptReport { started_ms: 0, duration_ms: 1, outcome, unknown, secrets: &[] }
    }

    fn timeout() -> Result<OutboundResponse, Error> {
        Err(Error::TargetUnreachable { target: "g1".into(), detail: "timed out".into() })
    }

    fn sends(next: NextAttempt) -> bool {
        matches!(next, NextAttempt::Send { .. })
    }

    #[test]
    fn a_pending_retry_is_superseded_when_a_newer_delivery_for_its_key_arrives() {
        let mut ledger = Ledger::new(POLICY);
        ledger.accept(arrival("v1", "web", Order::Latest, &[]), 0);
        assert!(sends(ledger.next_attempt("v1", 0)));
        assert_eq!(
            ledger.record_outcome("v1", &report(&answer(503), false), 1, 0),
            AfterAttempt::Retry { delay_seconds: 30 }
        );
        ledger.accept(arrival("v2", "web", Order::Latest, &[]), 4_000);
        assert_eq!(state(&ledger, "v1"), DeliveryState::Superseded);
        assert!(sends(ledger.next_attempt("v2", 4_000)));
        assert_eq!(ledger.next_attempt("v1", 31_000), NextAttempt::Settled { state: DeliveryState::Superseded });
    }

    #[test]
    fn an_older_delivery_is_never_sent_after_a_newer_one() {
        let mut ledger = Ledger::new(POLICY);
        ledger.accept(arrival("v1", "web", Order::Latest, &[]), 0);
        assert!(sends(ledger.next_attempt("v1", 0)));
        // v2 arrives while v1 is out, so v1 is not superseded at once; it waits for v1's report.
        ledger.accept(arrival("v2", "web", Order::Latest, &[]), 10);
        assert_eq!(state(&ledger, "v1"), DeliveryState::Pending);
        assert_eq!(ledger.next_attempt("v2", 10), NextAttempt::Wait { until_ms: 10 + WAIT_POLL_MS }, "asks again soon");
        assert_eq!(ledger.record_outcome("v1", &report(&answer(503), false), 20, 0), AfterAttempt::Superseded);
        assert_eq!(ledger.delivery("v1").unwrap().superseded_by.as_deref(), Some("v2"));
        assert!(sends(ledger.next_attempt("v2", 20)));
        assert!(!sends(ledger.next_attempt("v1", 60_000)), "not after v2");
    }

    #[test]
    fn a_delivery_is_superseded_at_its_attempt_if_it_could_not_be_at_arrival() {
        let mut ledger = Ledger::new(POLICY);
        ledger.accept(arrival("v1", "web", Order::Latest, &[]), 0);
        assert!(sends(ledger.next_attempt("v1", 0)));
        ledger.accept(arrival("v2", "web", Order::Latest, &[]), 1);
        // v1's invocation died; once its lease lapses its attempt is unknown and it is not sent again.
        assert_eq!(ledger.next_attempt("v1", ATTEMPT_LEASE_MS), NextAttempt::Superseded { by: "v2".into() });
        assert!(ledger.delivery("v1").unwrap().attempts[0].outcome_unknown);
    }

    #[test]
    fn under_order_all_every_delivery_is_sent_and_retried() {
        let mut ledger = Ledger::new(POLICY);
        ledger.accept(arrival("p1", "main", Order::All, &[]), 0);
        assert!(sends(ledger.next_attempt("p1", 0)));
        ledger.accept(arrival("p2", "main", Order::All, &[]), 1);
        assert!(sends(ledger.next_attempt("p2", 1)), "no wait for p1");
        assert!(matches!(ledger.record_outcome("p1", &report(&answer(503), false), 2, 0), AfterAttempt::Retry { .. }));
        assert!(sends(ledger.next_attempt("p1", 40_000)));
    }

    #[test]
    fn an_admin_replay_is_always_sent() {
        let mut ledger = Ledger::new(POLICY);
        ledger.accept(arrival("v1", "web", Order::Latest, &["gh:1"]), 0);
        ledger.next_attempt("v1", 0);
        ledger.record_outcome("v1", &report(&answer(200), false), 1, 0);
        ledger.accept(arrival("v2", "web", Order::Latest, &["gh:2"]), 2);
        ledger.next_attempt("v2", 2);
        ledger.record_outcome("v2", &report(&answer(200), false), 3, 0);
        // A rollback: v1's call again, after v2 was sent, with v1's replay id.
        let mut replay = arrival("r1", "web", Order::Latest, &["gh:1"]);
        replay.cause = Cause::AdminReplay { of: "v1".into() };
        assert!(matches!(ledger.accept(replay, 4), Accepted::New { .. }));
        assert!(sends(ledger.next_attempt("r1", 4)));
        assert_eq!(ledger.delivery("r1").unwrap().replay_of.as_deref(), Some("v1"), "its record says so");
    }

    #[test]
    fn a_retry_waits_for_its_backoff_and_a_repeated_message_sends_nothing() {
        let mut ledger = Ledger::new(POLICY);
        ledger.accept(arrival("d1", "web", Order::All, &[]), 0);
        assert!(sends(ledger.next_attempt("d1", 0)));
        assert_eq!(ledger.next_attempt("d1", 5), NextAttempt::Wait { until_ms: ATTEMPT_LEASE_MS }, "already out");
        ledger.record_outcome("d1", &report(&answer(500), false), 10, 0);
        assert_eq!(ledger.next_attempt("d1", 20), NextAttempt::Wait { until_ms: 30_010 });
        assert!(sends(ledger.next_attempt("d1", 30_010)));
        let ok = answer(204);
        let second = AttemptReport { started_ms: 30_010, ..report(&ok, false) };
        ledger.record_outcome("d1", &second, 30_020, 0);
        assert_eq!(ledger.next_attempt("d1", 30_030), NextAttempt::Settled { state: DeliveryState::Delivered });
        // The same attempt reported again (its answer lost): the same decision, nothing recorded twice.
        assert_eq!(ledger.record_outcome("d1", &second, 30_040, 0), AfterAttempt::Done);
        assert_eq!(ledger.delivery("d1").unwrap().attempts.len(), 2);
        // An earlier attempt's late report: ignored.
        assert_eq!(ledger.record_outcome("d1", &report(&ok, false), 30_040, 0), AfterAttempt::Ignored);
    }

    #[test]
    fn a_repeated_report_of_a_retried_or_dead_attempt_answers_as_the_first_did() {
        let mut ledger = Ledger::new(RetryPolicy { base_seconds: 30, max_attempts: 2 });
        ledger.accept(arrival("d1", "web", Order::All, &[]), 0);
        assert!(sends(ledger.next_attempt("d1", 0)));
        let busy = answer(503);
        let first = AttemptReport { started_ms: 0, ..report(&busy, false) };
        let AfterAttempt::Retry { delay_seconds } = ledger.record_outcome("d1", &first, 10, 0) else { panic!() };
        assert_eq!(ledger.take_changes().tallies.len(), 1, "one attempt counted");
        assert_eq!(
            ledger.record_outcome("d1", &first, 1_010, 0),
            AfterAttempt::Retry { delay_seconds: delay_seconds - 1 }
        );
        assert!(ledger.take_changes().tallies.is_empty(), "nothing counted twice");
        assert!(sends(ledger.next_attempt("d1", 40_000)));
        let last = AttemptReport { started_ms: 40_000, ..report(&busy, false) };
        assert_eq!(ledger.record_outcome("d1", &last, 40_010, 0), AfterAttempt::Dead);
        assert_eq!(ledger.record_outcome("d1", &last, 40_020, 0), AfterAttempt::Dead, "so it is still dead-lettered");
        assert_eq!(ledger.delivery("d1").unwrap().attempts.len(), 2);
    }

    #[test]
    fn a_timeout_is_retried_and_marked_unknown() {
        let mut ledger = Ledger::new(POLICY);
        ledger.accept(arrival("d1", "web", Order::All, &[]), 0);
        ledger.next_attempt("d1", 0);
        assert!(matches!(ledger.record_outcome("d1", &report(&timeout(), true), 1, 0), AfterAttempt::Retry { .. }));
        let attempt = &ledger.delivery("d1").unwrap().attempts[0];
        assert!(attempt.outcome_unknown && attempt.status.is_none());
    }

    #[test]
    fn the_last_allowed_attempt_makes_it_dead_even_when_it_never_reported() {
        let mut ledger = Ledger::new(POLICY);
        ledger.accept(arrival("d1", "web", Order::All, &[]), 0);
        for at in [0, 100_000] {
            ledger.next_attempt("d1", at);
            ledger.record_outcome("d1", &report(&answer(503), false), at + 1, 0);
        }
        assert!(sends(ledger.next_attempt("d1", 200_000)));
        assert_eq!(ledger.next_attempt("d1", 200_000 + ATTEMPT_LEASE_MS), NextAttempt::Dead { attempts: 3 });
        assert_eq!(state(&ledger, "d1"), DeliveryState::Dead);
    }

    #[test]
    fn an_abandoned_delivery_fails_and_is_not_sent() {
        let mut ledger = Ledger::new(POLICY);
        ledger.accept(arrival("d1", "web", Order::All, &[]), 0);
        assert!(ledger.abandon("d1", 5, "the trigger was disabled before this retry"));
        assert_eq!(ledger.next_attempt("d1", 6), NextAttempt::Settled { state: DeliveryState::Failed });
        assert!(!ledger.abandon("d1", 7, "again"), "settled already");
    }

    #[test]
    fn due_lists_pending_deliveries_oldest_first() {
        let mut ledger = Ledger::new(POLICY);
        ledger.accept(arrival("a", "k1", Order::All, &[]), 0);
        ledger.accept(arrival("b", "k2", Order::All, &[]), 0);
        ledger.next_attempt("a", 0);
        ledger.record_outcome("a", &report(&answer(503), false), 1, 0);
        assert_eq!(ledger.due(2), ["b"]);
        assert_eq!(ledger.due(40_000), ["a", "b"]);
    }
}
