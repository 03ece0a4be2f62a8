//! The delivery ledger of one target: the single writer that decides what is sent, in which
//! order, and only once. Plain values in, decisions out; no `worker` import, no I/O, no clock
//! (every method takes `now`). The Durable Object of a target is a thin adapter over it: it loads
//! the rows a method needs, calls it, and writes back the rows `take_changes` names.
//!
//! The state maps onto four SQLite tables of the target's object (`edge/ledger.rs` creates them;
//! [`serve`] reads and writes them through [`Rows`]):
//! - `replay_ids(id TEXT PRIMARY KEY, delivery_id, at, until)`: [`Seen`], each until its time is
//!   over (72 h for a webhook's, 24 h for an `Idempotency-Key`);
//! - `deliveries(id TEXT PRIMARY KEY, seq, key, trigger, state, at, entry, watched, call, size)`,
//!   indexed on `(key, state, watched)`, `(trigger, state, seq)` and `at`: [`Entry`] as JSON in
//!   `entry` (the [`Delivery`]; its call and payload apart in `call`), the other columns what
//!   queries select on (`watched`: `latest`, or out being attempted, what
//!   [`Rows::pending_of_key`] reads; `size`: what [`budget::stored_size`] counted);
//! - `order_keys(key TEXT PRIMARY KEY, state)`: [`KeyState`] as JSON, deleted with the last
//!   delivery of its key;
//! - `meta(name TEXT PRIMARY KEY, value)`: `next_seq`, the arrival counter, and `stored_bytes`,
//!   the running total the storage budget is checked against.
//!
//! Each method reads only the rows it names, so the adapter need not load the whole ledger:
//! `accept` the `seen` rows of its replay ids, its key's row and that key's pending deliveries;
//! `next_attempt`, `record_outcome` and `abandon` one delivery, its key's row and (under `latest`)
//! that key's in-flight deliveries; `expire` the `seen` rows older than 72 h.

mod attempts;
pub mod budget;
mod memory;
mod port;
pub mod refusals;
mod serve;
pub mod stats;

pub use port::{LedgerPort, MemoryLedger};
pub use refusals::{MemoryRefusals, Refusals};

pub use attempts::{AfterAttempt, AttemptReport, NextAttempt, ATTEMPT_LEASE_MS};
pub use memory::MemoryRows;
pub use serve::{
    serve, sweep, AcceptAnswer, Answer, Envelope, Request, Rows, WireOutcome, WireReport, PAGE_BYTES, SWEEP_EVERY_MS,
    SWEEP_GRACE_MS,
};

use crate::model::delivery::RetryPolicy;
use crate::model::{Delivery, DeliveryState};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How long a replay id answers as a duplicate: providers redeliver for up to a few days.
pub const SEEN_FOR_MS: u64 = 72 * 60 * 60 * 1000;

pub use crate::model::trigger::Order;

/// Why a delivery arrives at the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// An event (webhook, token call, schedule) with its replay ids: the provider's own or signed
    /// id or the content hash (`ReplayId::marker`), or a token call's `Idempotency-Key`. The
    /// caller scopes each one (endpoint and trigger), so that a fan-out's deliveries stay apart.
    /// They are remembered for `remember_ms` ([`SEEN_FOR_MS`] for a webhook's, a day for a key).
    Event { replay_ids: Vec<String>, remember_ms: u64 },
    /// An admin's explicit replay of the delivery `of`: never a duplicate, whatever was seen.
    AdminReplay { of: String },
}

/// A delivery handed to the ledger, with what decides its order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Arrival {
    pub delivery: Delivery,
    /// The workload (kubernetes, ack targets) or the ref (every other target), as the caller words it.
    pub key: String,
    pub order: Order,
    pub cause: Cause,
}

/// What `accept` decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accepted {
    /// Taken, as arrival number `seq`; `superseded` are the older pending deliveries it replaced.
    New { seq: u64, superseded: Vec<String> },
    /// One of its replay ids was seen in the last 72 h: nothing changed. `state` is `None` once
    /// the first delivery's record is gone.
    Duplicate { first_delivery_id: String, state: Option<DeliveryState> },
}

/// A replay id seen, and the delivery it first came with (table `seen`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub delivery_id: String,
    pub at: u64,
    /// When it stops answering as a repeat.
    pub until: u64,
}

/// One delivery as the ledger holds it (table `deliveries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Arrival order at the ledger: what "newer" means.
    pub seq: u64,
    pub key: String,
    pub order: Order,
    /// Not to be attempted before this (a retry's backoff).
    pub due_at: u64,
    /// Set while an attempt is out and unreported.
    pub in_flight_since: Option<u64>,
    pub delivery: Delivery,
}

/// The ordering state of one key (table `order_keys`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    /// The newest arrival for the key.
    pub last_seq: u64,
    pub last_id: String,
    /// The newest arrival for the key that has been sent.
    pub sent_seq: u64,
}

/// The rows changed since the last `take_changes`: what the adapter writes back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub deliveries: BTreeSet<String>,
    /// Of `deliveries`, the ones taken in since: their call is written once, with them.
    pub created: BTreeSet<String>,
    pub keys: BTreeSet<String>,
    pub seen: BTreeSet<String>,
    /// `seen` rows to delete.
    pub forgotten: BTreeSet<String>,
    pub next_seq: bool,
    /// What to count in the statistics, by trigger: deliveries settled, attempts made.
    pub tallies: Vec<(String, stats::Tally)>,
}

/// The ledger of one target.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub policy: RetryPolicy,
    pub next_seq: u64,
    pub seen: BTreeMap<String, Seen>,
    pub entries: BTreeMap<String, Entry>,
    pub keys: BTreeMap<String, KeyState>,
    changes: Changes,
}

impl Ledger {
    pub fn new(policy: RetryPolicy) -> Ledger {
        Ledger { policy, next_seq: 1, ..Ledger::default() }
    }

    /// Takes a delivery in, unless one of its replay ids was seen. Under `latest`, every pending
    /// delivery of its key that is not out being attempted is superseded by it at once.
    pub fn accept(&mut self, arrival: Arrival, now_ms: u64) -> Accepted {
        let Arrival { mut delivery, key, order, cause } = arrival;
        delivery.payload_digest = delivery.call.payload.as_ref().map(crate::model::Payload::digest);
        let (replay_ids, remember_ms) = match cause {
            Cause::Event { replay_ids, remember_ms } => (replay_ids, remember_ms),
            Cause::AdminReplay { of } => {
                delivery.replay_of = Some(of);
                (Vec::new(), 0)
            }
        };
        if let Some(first) = replay_ids.iter().find_map(|id| self.seen_within(id, now_ms)) {
            let state = self.entries.get(&first).map(|entry| entry.delivery.state);
            return Accepted::Duplicate { first_delivery_id: first, state };
        }
        let seq = self.take_seq();
        for id in replay_ids {
            let until = now_ms + remember_ms.min(SEEN_FOR_MS);
            self.seen.insert(id.clone(), Seen { delivery_id: delivery.id.clone(), at: now_ms, until });
            self.changes.seen.insert(id);
        }
        let superseded = self.supersede_pending(&key, seq, &delivery.id);
        self.note_arrival(&key, seq, &delivery.id);
        let entry = Entry { seq, key, order, due_at: now_ms, in_flight_since: None, delivery };
        self.put(entry);
        Accepted::New { seq, superseded }
    }

    /// Forgets the replay ids past their time (72 h at most); returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let old: Vec<String> =
            self.seen.iter().filter(|(_, seen)| seen.until <= now_ms).map(|(id, _)| id.clone()).collect();
        for id in &old {
            self.seen.remove(id);
            self.changes.seen.remove(id);
            self.changes.forgotten.insert(id.clone());
        }
        old.len()
    }

    /// One delivery's record, as it stands.
    pub fn delivery(&self, id: &str) -> Option<&Delivery> {
        self.entries.get(id).map(|entry| &entry.delivery)
    }

    /// The rows changed since the last call, for the adapter to write.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    fn seen_within(&self, replay_id: &str, now_ms: u64) -> Option<String> {
        let seen = self.seen.get(replay_id)?;
        (now_ms < seen.until).then(|| seen.delivery_id.clone())
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq.max(1);
        self.next_seq = seq + 1;
        self.changes.next_seq = true;
        seq
    }

    /// Supersedes the pending, not in-flight `latest` deliveries of `key` older than `seq`.
    fn supersede_pending(&mut self, key: &str, seq: u64, by: &str) -> Vec<String> {
        let stale: Vec<String> = self
            .entries
            .values()
            .filter(|e| e.key == key && e.seq < seq && e.order == Order::Latest)
            .filter(|e| e.delivery.state == DeliveryState::Pending && e.in_flight_since.is_none())
            .map(|e| e.delivery.id.clone())
            .collect();
        for id in &stale {
            self.mark_superseded(id, by);
        }
        stale
    }

    fn note_arrival(&mut self, key: &str, seq: u64, id: &str) {
        let state = self.keys.entry(key.to_string()).or_default();
        state.last_seq = seq;
        state.last_id = id.to_string();
        self.changes.keys.insert(key.to_string());
    }

    fn mark_superseded(&mut self, id: &str, by: &str) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.delivery.state = DeliveryState::Superseded;
            entry.delivery.superseded_by = Some(by.to_string());
            entry.in_flight_since = None;
            self.changes.deliveries.insert(id.to_string());
            self.changes
                .tallies
                .push((entry.delivery.trigger.clone(), stats::Tally::Settled(DeliveryState::Superseded)));
        }
    }

    fn put(&mut self, entry: Entry) {
        self.changes.deliveries.insert(entry.delivery.id.clone());
        self.changes.created.insert(entry.delivery.id.clone());
        self.entries.insert(entry.delivery.id.clone(), entry);
    }

    /// The newer arrival for `entry`'s key, if `entry` is `latest` and one came after it.
    fn newer_than(&self, entry: &Entry) -> Option<String> {
        let key = self.keys.get(&entry.key)?;
        (entry.order == Order::Latest && key.last_seq > entry.seq).then(|| key.last_id.clone())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::Call;

    pub fn arrival(id: &str, key: &str, order: Order, replay_ids: &[&str]) -> Arrival {
        let mut delivery = Delivery::new("t1", "g1", id, Call { ref_name: key.into(), ..Call::default() }, 0);
        delivery.id = id.into();
        let replay_ids = replay_ids.iter().map(|id| id.to_string()).collect();
        Arrival { delivery, key: key.into(), order, cause: Cause::Event { replay_ids, remember_ms: SEEN_FOR_MS } }
    }

    pub fn state(ledger: &Ledger, id: &str) -> DeliveryState {
        ledger.delivery(id).unwrap().state
    }

    #[test]
    fn a_repeated_replay_id_answers_the_first_delivery() {
        let mut ledger = Ledger::new(RetryPolicy::default());
        assert!(matches!(
            ledger.accept(arrival("d1", "web", Order::All, &["gh:1", "body:a"]), 10),
            Accepted::New { .. }
        ));
        ledger.take_changes();
        let again = ledger.accept(arrival("d2", "web", Order::All, &["body:b", "gh:1"]), 20);
        let first = Accepted::Duplicate { first_delivery_id: "d1".into(), state: Some(DeliveryState::Pending) };
        assert_eq!(again, first);
        assert!(ledger.delivery("d2").is_none(), "nothing is stored");
        assert_eq!(ledger.take_changes(), Changes::default(), "nothing changed");
    }

    #[test]
    fn a_replay_id_is_forgotten_after_72_hours() {
        let mut ledger = Ledger::new(RetryPolicy::default());
        ledger.accept(arrival("d1", "web", Order::All, &["gh:1"]), 0);
        assert_eq!(ledger.expire(SEEN_FOR_MS - 1), 0);
        assert!(matches!(
            ledger.accept(arrival("d2", "web", Order::All, &["gh:1"]), SEEN_FOR_MS - 1),
            Accepted::Duplicate { .. }
        ));
        assert_eq!(ledger.expire(SEEN_FOR_MS), 1);
        assert!(ledger.take_changes().forgotten.contains("gh:1"));
        assert!(matches!(
            ledger.accept(arrival("d3", "web", Order::All, &["gh:1"]), SEEN_FOR_MS),
            Accepted::New { .. }
        ));
    }

    #[test]
    fn an_unexpired_id_is_a_duplicate_even_before_expire_runs() {
        let mut ledger = Ledger::new(RetryPolicy::default());
        ledger.accept(arrival("d1", "web", Order::All, &["gh:1"]), 0);
        assert!(matches!(
            ledger.accept(arrival("d2", "web", Order::All, &["gh:1"]), SEEN_FOR_MS),
            Accepted::New { .. }
        ));
    }

    #[test]
    fn a_pending_delivery_is_superseded_when_a_newer_one_for_its_key_arrives() {
        let mut ledger = Ledger::new(RetryPolicy::default());
        ledger.accept(arrival("v1", "web", Order::Latest, &[]), 0);
        ledger.accept(arrival("other", "db", Order::Latest, &[]), 0);
        let accepted = ledger.accept(arrival("v2", "web", Order::Latest, &[]), 1);
        assert_eq!(accepted, Accepted::New { seq: 3, superseded: vec!["v1".into()] });
        assert_eq!(state(&ledger, "v1"), DeliveryState::Superseded);
        assert_eq!(ledger.delivery("v1").unwrap().superseded_by.as_deref(), Some("v2"));
        assert_eq!(state(&ledger, "other"), DeliveryState::Pending, "another key is left alone");
    }

    #[test]
    fn under_order_all_nothing_is_superseded() {
        let mut ledger = Ledger::new(RetryPolicy::default());
        ledger.accept(arrival("p1", "main", Order::All, &[]), 0);
        assert_eq!(
            ledger.accept(arrival("p2", "main", Order::All, &[]), 1),
            Accepted::New { seq: 2, superseded: vec![] }
        );
        assert_eq!(state(&ledger, "p1"), DeliveryState::Pending);
    }

    #[test]
    fn the_changes_name_every_row_written() {
        let mut ledger = Ledger::new(RetryPolicy::default());
        ledger.accept(arrival("v1", "web", Order::Latest, &["id:1"]), 0);
        ledger.take_changes();
        ledger.accept(arrival("v2", "web", Order::Latest, &["id:2"]), 1);
        let changes = ledger.take_changes();
        assert_eq!(changes.deliveries, ["v1".to_string(), "v2".to_string()].into());
        assert_eq!(
            (changes.keys, changes.seen, changes.next_seq),
            (["web".to_string()].into(), ["id:2".to_string()].into(), true)
        );
    }
}
