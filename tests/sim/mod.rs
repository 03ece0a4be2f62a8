//! A deterministic, seeded model of the edge that hookrelay runs on: locations over a KV whose
//! reads lag writes by up to 60 s and that caches misses, a queue that delivers at least once
//! (duplicates, delays, reordering), targets that fail, time out or succeed at random, and
//! invocations that die mid-attempt. A design (today's KV-only one, or the ledger) is driven
//! through random scenarios, and the three properties are checked on what came of them.

pub mod kv;
pub mod ledger_design;
pub mod old_design;
pub mod properties;
pub mod world;

pub use properties::{check, Property, Violation};
pub use world::{Hook, Step, World};

use hookrelay::model::Delivery;
use std::collections::BTreeMap;

/// A design under test: what runs at a hook URL, in the queue consumer and for an admin replay.
pub trait Design {
    type Msg: Clone;
    fn hook(&mut self, world: &mut World<Self::Msg>, location: usize, hook: &Hook);
    fn message(&mut self, world: &mut World<Self::Msg>, location: usize, message: Self::Msg, delivered: u32);
    /// An admin replays the delivery `of`.
    fn replay(&mut self, world: &mut World<Self::Msg>, location: usize, of: &str);
    /// Every delivery record as it finally stands, by id.
    fn records(&self) -> BTreeMap<String, Delivery>;
    /// A target's ledger object wakes for its sweep (designs without one never schedule it).
    fn sweep(&mut self, _world: &mut World<Self::Msg>, _target: &str) {}
}

/// What one run came to.
pub struct Run {
    pub violations: Vec<Violation>,
    pub records: BTreeMap<String, Delivery>,
    /// Webhooks that arrived (redeliveries included), and deliveries accepted.
    pub hooks: usize,
    pub accepted: usize,
}

/// Runs one seeded scenario to the end under `design`, and returns what broke.
pub fn run<D: Design>(seed: u64, design: D) -> Vec<Violation> {
    run_in_full(seed, design).violations
}

pub fn run_in_full<D: Design>(seed: u64, mut design: D) -> Run {
    let mut world = World::new(seed);
    world.plan_scenario();
    let mut hooks = 0;
    while let Some((location, step)) = world.next_step() {
        match step {
            Step::Hook(hook) => {
                hooks += 1;
                design.hook(&mut world, location, &hook)
            }
            Step::Message { message, delivered } => design.message(&mut world, location, message, delivered),
            Step::Replay => {
                if let Some(of) = world.pick_accepted() {
                    design.replay(&mut world, location, &of);
                }
            }
            Step::SetTrigger { trigger, enabled } => world.set_trigger(location, trigger, enabled),
            Step::Sweep { target } => design.sweep(&mut world, &target),
            Step::Apply { target, key, delivery_id } => world.act(target, key, &delivery_id, true),
        }
    }
    let records = design.records();
    Run { violations: check(&world, &records), records, hooks, accepted: world.accepted.len() }
}

/// The seeds to run: `HOOKRELAY_SIM_SEED` for one, else `HOOKRELAY_SIM_SEEDS` of them (`default`).
pub fn seeds(default: u64) -> Vec<u64> {
    let read = |name: &str| std::env::var(name).ok().and_then(|value| value.parse::<u64>().ok());
    match (read("HOOKRELAY_SIM_SEED"), read("HOOKRELAY_SIM_SEEDS")) {
        (Some(one), _) => vec![one],
        (None, count) => (0..count.unwrap_or(default)).collect(),
    }
}
