//! Workers KV as seen from several locations: a write is visible where it was made at once and
//! elsewhere after up to 60 s, and a miss read in a location is remembered there for 60 s.

use super::world::Rng;
use std::collections::BTreeMap;

pub const MAX_LAG_MS: u64 = 60_000;
pub const MISS_CACHED_MS: u64 = 60_000;

struct Write<V> {
    at: u64,
    /// When each location starts to see it.
    visible_from: Vec<u64>,
    value: V,
}

pub struct Kv<V> {
    locations: usize,
    writes: BTreeMap<String, Vec<Write<V>>>,
    /// (location, key) -> until when a miss read there is served again.
    cached_misses: BTreeMap<(usize, String), u64>,
}

impl<V: Clone> Kv<V> {
    pub fn new(locations: usize) -> Kv<V> {
        Kv { locations, writes: BTreeMap::new(), cached_misses: BTreeMap::new() }
    }

    /// Writes `value` at `location`; other locations see it after a random lag.
    pub fn put(&mut self, rng: &mut Rng, location: usize, now: u64, key: &str, value: V) {
        let visible_from =
            (0..self.locations).map(|at| if at == location { now } else { now + rng.below(MAX_LAG_MS + 1) }).collect();
        self.writes.entry(key.to_string()).or_default().push(Write { at: now, visible_from, value });
        self.cached_misses.remove(&(location, key.to_string()));
    }

    /// A write every location sees from the start (the catalog as it stood before the scenario).
    pub fn seed(&mut self, key: &str, value: V) {
        let write = Write { at: 0, visible_from: vec![0; self.locations], value };
        self.writes.entry(key.to_string()).or_default().push(write);
    }

    /// What a read at `location` returns at `now`: the newest write visible there, unless a miss
    /// is cached there.
    pub fn get(&mut self, location: usize, now: u64, key: &str) -> Option<V> {
        let cache = (location, key.to_string());
        if self.cached_misses.get(&cache).is_some_and(|&until| now < until) {
            return None;
        }
        let found = self
            .writes
            .get(key)
            .and_then(|writes| writes.iter().filter(|w| w.visible_from[location] <= now).max_by_key(|w| w.at))
            .map(|write| write.value.clone());
        if found.is_none() {
            self.cached_misses.insert(cache, now + MISS_CACHED_MS);
        }
        found
    }

    /// The newest value written, wherever: what the store finally holds.
    pub fn last(&self, key: &str) -> Option<&V> {
        self.writes.get(key).and_then(|writes| writes.iter().max_by_key(|w| w.at)).map(|write| &write.value)
    }
}
