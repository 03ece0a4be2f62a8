//! The three properties, read from what a run left: the accepted deliveries, what reached
//! the targets, and the final records.

use super::world::{Accepted, World};
use hookrelay::ledger::Order;
use hookrelay::model::{Delivery, DeliveryState};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Property {
    /// Under `latest`, nothing older is sent after something newer for its key, and the target
    /// ends on the newest event whenever that one was delivered.
    Order,
    /// No delivery is acted on twice, except after an attempt its record marks as unknown.
    Once,
    /// Every accepted delivery ends delivered, superseded, failed or dead.
    Settled,
}

#[derive(Debug, Clone)]
pub struct Violation {
    pub property: Property,
    pub detail: String,
}

pub fn check<M: Clone>(world: &World<M>, records: &BTreeMap<String, Delivery>) -> Vec<Violation> {
    let mut found = order(world, records);
    found.extend(once(world, records));
    found.extend(settled(world, records));
    found
}

fn violation(property: Property, detail: String) -> Violation {
    Violation { property, detail }
}

fn order<M: Clone>(world: &World<M>, records: &BTreeMap<String, Delivery>) -> Vec<Violation> {
    let by_id: BTreeMap<&str, &Accepted> = world.accepted.iter().map(|a| (a.delivery_id.as_str(), a)).collect();
    let mut found = Vec::new();
    let mut newest_sent: BTreeMap<(&str, &str), &Accepted> = BTreeMap::new();
    for delivery_id in &world.sent {
        let Some(sent) = by_id.get(delivery_id.as_str()) else { continue };
        let slot = newest_sent.entry((&sent.target, &sent.key)).or_insert(sent);
        if sent.order == Order::Latest && sent.rank < slot.rank {
            let detail = format!("{} was sent after the newer {} for {}", sent.delivery_id, slot.delivery_id, sent.key);
            found.push(violation(Property::Order, detail));
        }
        if sent.rank > slot.rank {
            *slot = sent;
        }
    }
    let mut newest: BTreeMap<(&str, &str), (&Accepted, bool)> = BTreeMap::new();
    for accepted in &world.accepted {
        let all_latest = accepted.order == Order::Latest;
        let slot = newest.entry((&accepted.target, &accepted.key)).or_insert((accepted, true));
        *slot = (if accepted.rank > slot.0.rank { accepted } else { slot.0 }, slot.1 && all_latest);
    }
    for ((target, key), (newest, all_latest)) in newest {
        let delivered = records.get(&newest.delivery_id).is_some_and(|d| d.state == DeliveryState::Delivered);
        let running = world.applied.get(&(target.to_string(), key.to_string()));
        if all_latest && delivered && running != Some(&newest.delivery_id) {
            let detail = format!("{target} ends on {running:?} for {key}, not the newest {}", newest.delivery_id);
            found.push(violation(Property::Order, detail));
        }
    }
    found
}

fn once<M: Clone>(world: &World<M>, records: &BTreeMap<String, Delivery>) -> Vec<Violation> {
    // One event is one webhook (its replay id) at one trigger; an admin replay is its own event.
    let event_of = |a: &Accepted| match &a.replay_id {
        Some(replay_id) => format!("{} {replay_id} at {}", a.target, trigger_of(&a.delivery_id)),
        None => a.delivery_id.clone(),
    };
    let by_id: BTreeMap<&str, String> = world.accepted.iter().map(|a| (a.delivery_id.as_str(), event_of(a))).collect();
    let mut acted: BTreeMap<&str, usize> = BTreeMap::new();
    for forward in world.forwards.iter().filter(|f| f.applied) {
        *acted.entry(by_id[forward.delivery_id.as_str()].as_str()).or_default() += 1;
    }
    let mut unknown: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, event) in &by_id {
        let marked = records.get(*id).map_or(0, |d| d.attempts.iter().filter(|a| a.outcome_unknown).count());
        *unknown.entry(event.as_str()).or_default() += marked;
    }
    acted
        .into_iter()
        .filter(|(event, times)| *times > 1 + unknown.get(event).copied().unwrap_or(0))
        .map(|(event, times)| violation(Property::Once, format!("{event} was acted on {times} times")))
        .collect()
}

fn settled<M: Clone>(world: &World<M>, records: &BTreeMap<String, Delivery>) -> Vec<Violation> {
    world
        .accepted
        .iter()
        .filter(|a| !records.get(&a.delivery_id).is_some_and(|d| d.state != DeliveryState::Pending))
        .map(|a| {
            let state = records.get(&a.delivery_id).map(|d| d.state);
            violation(Property::Settled, format!("{} ends as {state:?}", a.delivery_id))
        })
        .collect()
}

fn trigger_of(delivery_id: &str) -> &str {
    delivery_id.split_once('-').map_or(delivery_id, |(trigger, _)| trigger)
}
