//! Today's KV-only design, as `hooks::receive`, `relay::consume` and `relay::replay` do it: a
//! replay marker read and then written over the lagging KV, the retry queued as the same message
//! with no ordering, and a delivery over 100 KB parked in KV and read back by the consumer,
//! wherever it runs, where "not found" drops it.

use super::kv::Kv;
use super::world::{World, POLICY};
use super::Design;
use hookrelay::model::delivery::Next;
use hookrelay::model::{Call, Delivery, DeliveryState};
use std::collections::BTreeMap;

#[derive(Clone)]
pub enum Message {
    Inline(Box<Delivery>),
    Stored { id: String, queued_attempts: u32 },
}

pub struct OldDesign {
    markers: Kv<()>,
    records: Kv<Delivery>,
    /// Which deliveries are too large for a queue message.
    large: BTreeMap<String, bool>,
    made: u64,
}

impl OldDesign {
    pub fn new() -> OldDesign {
        let locations = super::world::LOCATIONS;
        OldDesign { markers: Kv::new(locations), records: Kv::new(locations), large: BTreeMap::new(), made: 0 }
    }

    fn new_delivery(&mut self, world: &World<Message>, trigger: usize, key: &str, version: u32) -> Delivery {
        self.made += 1;
        let t = &world.triggers[trigger];
        let call = Call {
            ref_name: key.to_string(),
            variables: [("VERSION".into(), version.to_string())].into(),
            ..Call::default()
        };
        Delivery::new(&t.id, &t.target, &format!("{:08}", self.made), call, world.now)
    }

    fn write(&mut self, world: &mut World<Message>, location: usize, delivery: &Delivery) {
        self.records.put(&mut world.rng, location, world.now, &delivery.id, delivery.clone());
    }

    /// `relay::send`: inline, or parked in KV when too large.
    fn enqueue(&mut self, world: &mut World<Message>, location: usize, delivery: &Delivery, delay_ms: u64) {
        let message = if self.large.get(&delivery.id) == Some(&true) {
            self.write(world, location, delivery);
            Message::Stored { id: delivery.id.clone(), queued_attempts: delivery.attempts.len() as u32 }
        } else {
            Message::Inline(Box::new(delivery.clone()))
        };
        world.send(message, delay_ms);
    }

    /// `relay::latest_record`.
    fn latest(&mut self, world: &World<Message>, location: usize, carried: Delivery, delivered: u32) -> Delivery {
        if delivered <= 1 && carried.attempts.is_empty() {
            return carried;
        }
        match self.records.get(location, world.now, &carried.id) {
            Some(recorded) if recorded.attempts.len() >= carried.attempts.len() => recorded,
            _ => carried,
        }
    }

    /// One attempt and what follows it; `None` when the invocation died mid-attempt.
    fn attempt(
        &mut self,
        world: &mut World<Message>,
        location: usize,
        delivery: &mut Delivery,
        number: u32,
    ) -> Option<Next> {
        let key = delivery.call.ref_name.clone();
        let attempted = world.forward(&delivery.target, &key, &delivery.id);
        if attempted.crashed {
            return None;
        }
        let next = delivery.note_attempt(number, world.now, 1, &attempted.outcome, &[] as &[&str], &POLICY);
        self.write(world, location, delivery);
        Some(next)
    }
}

impl Design for OldDesign {
    type Msg = Message;

    fn hook(&mut self, world: &mut World<Message>, location: usize, hook: &super::Hook) {
        let trigger_id = world.triggers[hook.trigger].id.clone();
        if !world.trigger_live(location, &trigger_id) {
            return;
        }
        let marker = format!("{trigger_id}:{}", hook.replay_id);
        if self.markers.get(location, world.now, &marker).is_some() {
            return;
        }
        let delivery = self.new_delivery(world, hook.trigger, &hook.key, hook.version);
        self.large.insert(delivery.id.clone(), hook.large);
        self.enqueue(world, location, &delivery, 0);
        self.markers.put(&mut world.rng, location, world.now, &marker, ());
        world.note_accepted(&delivery.id, hook.trigger, &hook.key, Some(&hook.replay_id));
    }

    fn message(&mut self, world: &mut World<Message>, location: usize, message: Message, delivered: u32) {
        let (queued_attempts, carried) = match &message {
            Message::Inline(delivery) => (delivery.attempts.len() as u32, (**delivery).clone()),
            Message::Stored { id, queued_attempts } => match self.records.get(location, world.now, id) {
                Some(delivery) => (*queued_attempts, delivery),
                None => return, // "its record expired: there is nothing left to deliver"
            },
        };
        let mut delivery = self.latest(world, location, carried, delivered);
        if delivery.state != DeliveryState::Pending {
            return;
        }
        let number = (queued_attempts + delivered.max(1)).max(delivery.attempts.len() as u32 + 1);
        if number > POLICY.max_attempts {
            delivery.state = DeliveryState::Dead;
            return self.write(world, location, &delivery);
        }
        if !delivery.attempts.is_empty() && !world.trigger_live(location, &delivery.trigger) {
            delivery.fail(world.now, "the trigger was deleted, disabled or expired before this retry");
            return self.write(world, location, &delivery);
        }
        match self.attempt(world, location, &mut delivery, number) {
            None => world.redeliver(message, delivered, 10_000),
            Some(Next::Retry) => {
                let delay = u64::from(POLICY.delay_seconds(number, world.rng.next() as u32)) * 1000;
                world.redeliver(message, delivered, delay);
            }
            Some(_) => {}
        }
    }

    fn replay(&mut self, world: &mut World<Message>, location: usize, of: &str) {
        let Some(old) = self.records.get(location, world.now, of) else { return };
        if !world.trigger_live(location, &old.trigger) {
            return;
        }
        let trigger = world.trigger_index(&old.trigger);
        let version: u32 = old.call.variables["VERSION"].parse().unwrap();
        let mut delivery = self.new_delivery(world, trigger, &old.call.ref_name, version);
        delivery.replay_of = Some(old.id.clone());
        self.large.insert(delivery.id.clone(), self.large.get(of) == Some(&true));
        world.note_accepted(&delivery.id, trigger, &old.call.ref_name, None);
        // `relay::try_now`: at once, then the retry queued (an invocation that dies here loses it).
        if let Some(Next::Retry) = self.attempt(world, location, &mut delivery, 1) {
            let delay = u64::from(POLICY.delay_seconds(1, world.rng.next() as u32)) * 1000;
            self.enqueue(world, location, &delivery, delay);
        }
    }

    fn records(&self) -> BTreeMap<String, Delivery> {
        let mut records = BTreeMap::new();
        for id in self.large.keys() {
            if let Some(delivery) = self.records.last(id) {
                records.insert(id.clone(), delivery.clone());
            }
        }
        records
    }
}
