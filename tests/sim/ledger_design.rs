//! The ledger design: one `Ledger` per target (its Durable Object, the single writer, so calls to
//! it run one at a time whichever location makes them); KV keeps only the catalog (triggers); the
//! queue carries delivery ids, and the ledger decides each attempt.

use super::world::{Step, World, POLICY};
use super::Design;
use hookrelay::ledger::{Accepted, AfterAttempt, Arrival, AttemptReport, Cause, Ledger, NextAttempt};
use hookrelay::ledger::{SWEEP_EVERY_MS, SWEEP_GRACE_MS};
use hookrelay::model::{Call, Delivery, DeliveryState};
use std::collections::BTreeMap;

#[derive(Clone)]
pub struct Message {
    target: String,
    id: String,
}

pub struct LedgerDesign {
    ledgers: BTreeMap<String, Ledger>,
    made: u64,
    /// Whether each object sweeps for deliveries whose message was lost (`ledger::sweep`); the
    /// design without it loses the deliveries of an edge that died after taking them in.
    sweeps: bool,
    /// The targets whose object's alarm is set.
    armed: std::collections::BTreeSet<String>,
}

impl LedgerDesign {
    pub fn new() -> LedgerDesign {
        LedgerDesign { ledgers: BTreeMap::new(), made: 0, sweeps: true, armed: Default::default() }
    }

    /// The same design without the sweep: a known-bad variant the properties must catch.
    pub fn without_sweep() -> LedgerDesign {
        LedgerDesign { sweeps: false, ..LedgerDesign::new() }
    }

    /// Sets the target's alarm for its next sweep, unless it is set (as `TargetLedger` does).
    fn arm(&mut self, world: &mut World<Message>, target: &str) {
        if self.sweeps && self.armed.insert(target.to_string()) {
            let location = world.location();
            world.schedule(world.now + SWEEP_EVERY_MS, location, Step::Sweep { target: target.to_string() });
        }
    }

    fn ledger(&mut self, target: &str) -> &mut Ledger {
        self.ledgers.entry(target.to_string()).or_insert_with(|| Ledger::new(POLICY))
    }

    /// Hands a delivery to its target's ledger; `Some(id)` if it was new.
    fn accept(
        &mut self,
        world: &mut World<Message>,
        trigger: usize,
        key: &str,
        version: u32,
        cause: Cause,
    ) -> Option<String> {
        self.made += 1;
        let t = world.triggers[trigger].clone();
        let call = Call {
            ref_name: key.to_string(),
            variables: [("VERSION".into(), version.to_string())].into(),
            ..Call::default()
        };
        let delivery = Delivery::new(&t.id, &t.target, &format!("{:08}", self.made), call, world.now);
        let id = delivery.id.clone();
        let arrival = Arrival { delivery, key: key.to_string(), order: t.order, cause: cause.clone() };
        let now = world.now;
        let ledger = self.ledger(&t.target);
        ledger.expire(now);
        match ledger.accept(arrival, now) {
            Accepted::New { .. } => {
                let replay_id = match &cause {
                    Cause::Event { replay_ids, .. } => {
                        replay_ids.first().and_then(|id| id.split_once(':')).map(|(_, id)| id)
                    }
                    Cause::AdminReplay { .. } => None,
                };
                world.note_accepted(&id, trigger, key, replay_id);
                Some(id)
            }
            Accepted::Duplicate { .. } => None,
        }
    }

    /// The consumer's part for one delivery: ask the ledger, attempt, report. `false` when the
    /// invocation died and the platform hands the message over again.
    fn attempt(&mut self, world: &mut World<Message>, location: usize, message: &Message, delivered: u32) {
        let now = world.now;
        let Some(record) = self.ledger(&message.target).delivery(&message.id).cloned() else { return };
        if !record.attempts.is_empty() && !world.trigger_live(location, &record.trigger) {
            let why = "the trigger was deleted, disabled or expired before this retry";
            if self.ledger(&message.target).abandon(&message.id, now, why) {
                return;
            }
        }
        match self.ledger(&message.target).next_attempt(&message.id, now) {
            NextAttempt::Send { call, .. } => self.send(world, message, &call, delivered),
            NextAttempt::Wait { until_ms } => world.redeliver(message.clone(), delivered, until_ms - now),
            _ => {}
        }
    }

    fn send(&mut self, world: &mut World<Message>, message: &Message, call: &Call, delivered: u32) {
        let attempted = world.forward(&message.target, &call.ref_name, &message.id);
        if attempted.crashed {
            return world.redeliver(message.clone(), delivered, 10_000);
        }
        let report = AttemptReport {
            started_ms: world.now,
            duration_ms: 1,
            outcome: &attempted.outcome,
            unknown: attempted.unknown,
            secrets: &[],
        };
        let (now, random) = (world.now, world.rng.next() as u32);
        if let AfterAttempt::Retry { delay_seconds } =
            self.ledger(&message.target).record_outcome(&message.id, &report, now, random)
        {
            world.send(message.clone(), u64::from(delay_seconds) * 1000);
        }
    }
}

impl Design for LedgerDesign {
    type Msg = Message;

    fn hook(&mut self, world: &mut World<Message>, location: usize, hook: &super::Hook) {
        let trigger = world.triggers[hook.trigger].clone();
        if !world.trigger_live(location, &trigger.id) {
            return;
        }
        let cause = Cause::Event {
            replay_ids: vec![format!("{}:{}", trigger.id, hook.replay_id)],
            remember_ms: hookrelay::ledger::SEEN_FOR_MS,
        };
        if let Some(id) = self.accept(world, hook.trigger, &hook.key, hook.version, cause) {
            self.arm(world, &trigger.target);
            // The edge's invocation may die after the ledger took the delivery in and before its
            // message is queued: the 202 never left, but the replay id is taken.
            if world.rng.chance(5) {
                return;
            }
            // Large or not, the payload stays in the ledger: the message carries the id only.
            world.send(Message { target: trigger.target, id }, 0);
        }
    }

    fn message(&mut self, world: &mut World<Message>, location: usize, message: Message, delivered: u32) {
        self.attempt(world, location, &message, delivered);
    }

    fn replay(&mut self, world: &mut World<Message>, location: usize, of: &str) {
        let target = self.ledgers.iter().find(|(_, ledger)| ledger.delivery(of).is_some()).map(|(t, _)| t.clone());
        let Some(old) = target.and_then(|target| self.ledgers[&target].delivery(of).cloned()) else { return };
        if !world.trigger_live(location, &old.trigger) {
            return;
        }
        let trigger = world.trigger_index(&old.trigger);
        let version: u32 = old.call.variables["VERSION"].parse().unwrap();
        let cause = Cause::AdminReplay { of: old.id.clone() };
        if let Some(id) = self.accept(world, trigger, &old.call.ref_name, version, cause) {
            // Tried at once, as today; a retry goes through the queue like any other.
            self.attempt(world, location, &Message { target: old.target, id }, 0);
        }
    }

    /// `ledger::sweep`: every delivery long overdue is queued again; the alarm is set again while
    /// any is pending.
    fn sweep(&mut self, world: &mut World<Message>, target: &str) {
        self.armed.remove(target);
        let now = world.now;
        let ledger = self.ledger(target);
        let lost = ledger.due(now.saturating_sub(SWEEP_GRACE_MS));
        let pending = ledger.entries.values().any(|entry| entry.delivery.state == DeliveryState::Pending);
        for id in lost {
            world.send(Message { target: target.to_string(), id }, 0);
        }
        if pending {
            self.arm(world, target);
        }
    }

    fn records(&self) -> BTreeMap<String, Delivery> {
        let mut records = BTreeMap::new();
        for ledger in self.ledgers.values() {
            for entry in ledger.entries.values() {
                records.insert(entry.delivery.id.clone(), entry.delivery.clone());
            }
        }
        records
    }
}
