//! The world a design runs in: the clock and agenda, the catalog in KV, the queue, the targets,
//! and the log of what was accepted and what reached a target (which the properties read).

use super::kv::Kv;
use hookrelay::error::Error;
use hookrelay::ledger::Order;
use hookrelay::model::delivery::RetryPolicy;
use hookrelay::outbound::OutboundResponse;
use std::collections::BTreeMap;

pub const LOCATIONS: usize = 3;
pub const POLICY: RetryPolicy = RetryPolicy { base_seconds: 30, max_attempts: 4 };
/// Scenarios start here, so that the catalog seeded at 0 is old news everywhere.
const START_MS: u64 = 1_000_000;

/// splitmix64: small, seeded, and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// `true` with probability `percent` in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A trigger of the scenario: the target it feeds and the order it asks for.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub id: String,
    pub target: String,
    pub order: Order,
    /// The workload it acts on (kubernetes), or none: then the key is the event's ref.
    pub workload: Option<String>,
}

/// One webhook as a provider sends it (again, for a redelivery).
#[derive(Debug, Clone)]
pub struct Hook {
    pub trigger: usize,
    pub key: String,
    /// Increases per (target, key): what the target ends up running.
    pub version: u32,
    pub replay_id: String,
    /// Over 100 KB: today's design parks it in KV.
    pub large: bool,
}

pub enum Step<M> {
    Hook(Hook),
    Message {
        message: M,
        delivered: u32,
    },
    Replay,
    SetTrigger {
        trigger: usize,
        enabled: bool,
    },
    /// A target's ledger object wakes for its sweep (its alarm).
    Sweep {
        target: String,
    },
    /// A target acts on a request whose sender died before it answered.
    Apply {
        target: String,
        key: String,
        delivery_id: String,
    },
}

/// A delivery a design accepted (answered 202 for, or replayed).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub delivery_id: String,
    pub target: String,
    pub key: String,
    pub order: Order,
    /// Arrival order: what "newer" means.
    pub rank: u64,
    /// The webhook's replay id; none for an admin replay.
    pub replay_id: Option<String>,
}

/// One request that reached a target, and whether the target acted on it.
#[derive(Debug, Clone)]
pub struct Forward {
    pub delivery_id: String,
    pub applied: bool,
}

/// What an attempt came to, as the design sees it.
pub struct Attempted {
    pub outcome: Result<OutboundResponse, Error>,
    /// A timeout: the target may have acted on it.
    pub unknown: bool,
    /// The invocation died once the request was out: the design records nothing.
    pub crashed: bool,
}

pub struct World<M> {
    pub rng: Rng,
    pub now: u64,
    pub triggers: Vec<Trigger>,
    pub catalog: Kv<bool>,
    agenda: BTreeMap<(u64, u64), (usize, Step<M>)>,
    scheduled: u64,
    /// (target, key) -> the delivery the target last acted on.
    pub applied: BTreeMap<(String, String), String>,
    /// Every request sent to a target, by delivery id, in order.
    pub sent: Vec<String>,
    /// Every request that reached a target, and whether the target acted on it.
    pub forwards: Vec<Forward>,
    pub accepted: Vec<Accepted>,
}

impl<M: Clone> World<M> {
    pub fn new(seed: u64) -> World<M> {
        let mut rng = Rng(seed);
        let order = |rng: &mut Rng| if rng.chance(50) { Order::Latest } else { Order::All };
        let trigger = |id: &str, target: &str, order, workload: Option<&str>| Trigger {
            id: id.into(),
            target: target.into(),
            order,
            workload: workload.map(str::to_string),
        };
        // Two triggers on one deployment, one on another, and a ref-keyed target of either order.
        let triggers = vec![
            trigger("t0", "k8s", Order::Latest, Some("default/web")),
            trigger("t1", "k8s", Order::Latest, Some("default/web")),
            trigger("t2", "k8s", Order::Latest, Some("default/jobs")),
            trigger("t3", "ci", order(&mut rng), None),
        ];
        let mut catalog = Kv::new(LOCATIONS);
        for t in &triggers {
            catalog.seed(&t.id, true);
        }
        World {
            rng,
            now: START_MS,
            triggers,
            catalog,
            agenda: BTreeMap::new(),
            scheduled: 0,
            applied: BTreeMap::new(),
            sent: Vec::new(),
            forwards: Vec::new(),
            accepted: Vec::new(),
        }
    }

    /// Pushes of increasing versions for a few keys, provider redeliveries, concurrent identical
    /// requests at two locations, admin replays, and triggers disabled (and maybe re-enabled).
    pub fn plan_scenario(&mut self) {
        let mut at = self.now;
        let mut versions: BTreeMap<(String, String), u32> = BTreeMap::new();
        for push in 0..3 + self.rng.below(10) {
            at += self.rng.below(40_000);
            let trigger = self.rng.below(self.triggers.len() as u64) as usize;
            let t = &self.triggers[trigger];
            let key = t.workload.clone().unwrap_or_else(|| ["main", "dev"][(push % 2) as usize].to_string());
            let version = versions.entry((t.target.clone(), key.clone())).or_default();
            *version += 1;
            let large = self.rng.chance(25);
            let hook = Hook { trigger, key, version: *version, replay_id: format!("push-{push}"), large };
            let location = self.location();
            if self.rng.chance(20) {
                let later = at + self.rng.below(120_000);
                let elsewhere = self.location();
                self.schedule(later, elsewhere, Step::Hook(hook.clone()));
            }
            if self.rng.chance(15) {
                let other = (location + 1 + self.rng.below(LOCATIONS as u64 - 1) as usize) % LOCATIONS;
                let moment = at + self.rng.below(50);
                self.schedule(moment, other, Step::Hook(hook.clone()));
            }
            self.schedule(at, location, Step::Hook(hook));
        }
        self.plan_interventions(at);
    }

    fn plan_interventions(&mut self, last_push: u64) {
        let span = last_push - self.now + 60_000;
        if self.rng.chance(30) {
            for _ in 0..1 + self.rng.below(2) {
                let (when, location) = (self.now + self.rng.below(span), self.location());
                self.schedule(when, location, Step::Replay);
            }
        }
        if self.rng.chance(25) {
            let trigger = self.rng.below(self.triggers.len() as u64) as usize;
            let (off, location) = (self.now + self.rng.below(span), self.location());
            self.schedule(off, location, Step::SetTrigger { trigger, enabled: false });
            if self.rng.chance(50) {
                let on = off + self.rng.below(120_000);
                self.schedule(on, location, Step::SetTrigger { trigger, enabled: true });
            }
        }
    }

    pub fn location(&mut self) -> usize {
        self.rng.below(LOCATIONS as u64) as usize
    }

    pub fn schedule(&mut self, at: u64, location: usize, step: Step<M>) {
        self.scheduled += 1;
        self.agenda.insert((at, self.scheduled), (location, step));
    }

    pub fn next_step(&mut self) -> Option<(usize, Step<M>)> {
        let ((at, _), step) = self.agenda.pop_first()?;
        self.now = self.now.max(at);
        Some(step)
    }

    /// Queues `message` after `delay_ms`: at least once, to any location, maybe twice, late by
    /// up to 5 s (so two messages may swap).
    pub fn send(&mut self, message: M, delay_ms: u64) {
        self.redeliver(message, 0, delay_ms);
    }

    /// Hands `message` over again after `delay_ms`, as its `delivered + 1`th delivery.
    pub fn redeliver(&mut self, message: M, delivered: u32, delay_ms: u64) {
        let copies = if self.rng.chance(10) { 2 } else { 1 };
        for _ in 0..copies {
            let at = self.now + delay_ms + self.rng.below(5_000);
            let location = self.location();
            self.schedule(at, location, Step::Message { message: message.clone(), delivered: delivered + 1 });
        }
    }

    pub fn set_trigger(&mut self, location: usize, trigger: usize, enabled: bool) {
        let (id, now) = (self.triggers[trigger].id.clone(), self.now);
        self.catalog.put(&mut self.rng, location, now, &id, enabled);
    }

    /// Whether the trigger reads as enabled at `location` now.
    pub fn trigger_live(&mut self, location: usize, trigger_id: &str) -> bool {
        self.catalog.get(location, self.now, trigger_id) == Some(true)
    }

    pub fn trigger_index(&self, trigger_id: &str) -> usize {
        self.triggers.iter().position(|t| t.id == trigger_id).expect("a scenario trigger")
    }

    /// Notes that a design accepted a delivery; arrival ranks follow the order of these calls.
    pub fn note_accepted(&mut self, delivery_id: &str, trigger: usize, key: &str, replay_id: Option<&str>) {
        let t = &self.triggers[trigger];
        self.accepted.push(Accepted {
            delivery_id: delivery_id.to_string(),
            target: t.target.clone(),
            key: key.to_string(),
            order: t.order,
            rank: self.accepted.len() as u64 + 1,
            replay_id: replay_id.map(str::to_string),
        });
    }

    pub fn pick_accepted(&mut self) -> Option<String> {
        let count = self.accepted.len() as u64;
        (count > 0).then(|| self.accepted[self.rng.below(count) as usize].delivery_id.clone())
    }

    /// Sends delivery `delivery_id` to `target` for `key`: it succeeds, fails for now (503), times
    /// out (having acted or not) or is refused for good (400). The invocation may also die once
    /// the request is out: the target may then act on it up to a minute later.
    pub fn forward(&mut self, target: &str, key: &str, delivery_id: &str) -> Attempted {
        let roll = self.rng.below(100);
        let (outcome, unknown, acts) = match roll {
            0..=54 => (answer(200), false, true),
            55..=81 => (answer(503), false, false),
            82..=93 => (timeout(target), true, self.rng.chance(50)),
            _ => (answer(400), false, false),
        };
        let crashed = self.rng.chance(3);
        self.sent.push(delivery_id.to_string());
        let (target, key, delivery_id) = (target.to_string(), key.to_string(), delivery_id.to_string());
        if crashed && self.rng.chance(50) {
            let (later, location) = (self.now + self.rng.below(60_000), self.location());
            self.schedule(later, location, Step::Apply { target, key, delivery_id });
        } else if !crashed {
            self.act(target, key, &delivery_id, acts);
        }
        Attempted { outcome, unknown, crashed }
    }

    /// Notes that a request reached its target, and whether the target acted on it.
    pub fn act(&mut self, target: String, key: String, delivery_id: &str, applied: bool) {
        if applied {
            self.applied.insert((target, key), delivery_id.to_string());
        }
        self.forwards.push(Forward { delivery_id: delivery_id.to_string(), applied });
    }
}

fn answer(status: u16) -> Result<OutboundResponse, Error> {
    Ok(OutboundResponse { status, headers: Vec::new(), body: Vec::new() })
}

fn timeout(target: &str) -> Result<OutboundResponse, Error> {
    Err(Error::TargetUnreachable { target: target.to_string(), detail: "timed out".into() })
}
