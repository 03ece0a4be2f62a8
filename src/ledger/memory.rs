//! [`Rows`] in memory: native tests' ledgers (`MemoryLedger`), and the model of what the
//! object's tables hold and which rows each query returns.

use super::budget::stored_size;
use super::stats::{hour_of, HourStats, StatsRow, KEPT_HOURS};
use super::{Entry, KeyState, Order, Rows, Seen};
use crate::model::{Call, DeliveryState};
use std::collections::{BTreeMap, BTreeSet};

/// The rows in memory: native tests, and the model of what the object's tables hold.
#[derive(Debug, Default, Clone)]
pub struct MemoryRows {
    pub seen: BTreeMap<String, Seen>,
    pub entries: BTreeMap<String, Entry>,
    pub keys: BTreeMap<String, KeyState>,
    pub next_seq: u64,
    /// (trigger, hour) -> counts.
    pub stats: BTreeMap<(String, u64), HourStats>,
    /// The running total of the stored deliveries' sizes (`meta.stored_bytes`).
    pub stored_bytes: u64,
}

impl Rows for MemoryRows {
    fn seen(&self, replay_id: &str) -> Result<Option<Seen>, String> {
        Ok(self.seen.get(replay_id).cloned())
    }
    fn entry(&self, id: &str) -> Result<Option<Entry>, String> {
        Ok(self.entries.get(id).cloned())
    }
    fn call(&self, id: &str) -> Result<Option<Call>, String> {
        Ok(self.entries.get(id).map(|entry| entry.delivery.call.clone()))
    }
    fn key_state(&self, key: &str) -> Result<Option<KeyState>, String> {
        Ok(self.keys.get(key).cloned())
    }
    fn pending_of_key(&self, key: &str) -> Result<Vec<Entry>, String> {
        Ok(self
            .entries
            .values()
            .filter(|entry| entry.key == key && entry.delivery.state == DeliveryState::Pending)
            .filter(|entry| entry.order == Order::Latest || entry.in_flight_since.is_some())
            .cloned()
            .collect())
    }
    fn next_seq(&self) -> Result<u64, String> {
        Ok(self.next_seq)
    }
    fn put_entry(&mut self, entry: &Entry, with_call: bool) -> Result<(), String> {
        let mut entry = entry.clone();
        if with_call {
            self.stored_bytes += stored_size(&entry.delivery);
        } else if let Some(stored) = self.entries.get_mut(&entry.delivery.id) {
            entry.delivery.call = std::mem::take(&mut stored.delivery.call);
        }
        self.entries.insert(entry.delivery.id.clone(), entry);
        Ok(())
    }
    fn put_key(&mut self, key: &str, state: &KeyState) -> Result<(), String> {
        self.keys.insert(key.to_string(), state.clone());
        Ok(())
    }
    fn put_seen(&mut self, replay_id: &str, seen: &Seen) -> Result<(), String> {
        self.seen.insert(replay_id.to_string(), seen.clone());
        Ok(())
    }
    fn forget_seen(&mut self, replay_id: &str) -> Result<(), String> {
        self.seen.remove(replay_id);
        Ok(())
    }
    fn forget_seen_of(&mut self, delivery_id: &str) -> Result<(), String> {
        self.seen.retain(|_, seen| seen.delivery_id != delivery_id);
        Ok(())
    }
    fn put_next_seq(&mut self, seq: u64) -> Result<(), String> {
        self.next_seq = seq;
        Ok(())
    }
    fn page(
        &self,
        trigger: &str,
        state: Option<DeliveryState>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Entry>, String> {
        let mut page: Vec<Entry> = self
            .entries
            .values()
            .filter(|entry| entry.delivery.trigger == trigger)
            .filter(|entry| state.is_none_or(|state| entry.delivery.state == state))
            .filter(|entry| before.is_none_or(|before| entry.seq < before))
            .cloned()
            .collect();
        page.sort_by_key(|entry| std::cmp::Reverse(entry.seq));
        page.truncate(limit);
        Ok(page)
    }
    fn last_used(&self, trigger: &str) -> Result<Option<u64>, String> {
        Ok(self.entries.values().filter(|entry| entry.delivery.trigger == trigger).map(|entry| entry.delivery.at).max())
    }
    fn overdue(&self, before_ms: u64, limit: usize) -> Result<Vec<Entry>, String> {
        let mut overdue: Vec<Entry> = self
            .entries
            .values()
            .filter(|entry| entry.delivery.state == DeliveryState::Pending && entry.due_at < before_ms)
            .cloned()
            .collect();
        overdue.sort_by_key(|entry| entry.seq);
        overdue.truncate(limit);
        Ok(overdue)
    }
    fn any_pending(&self) -> Result<bool, String> {
        Ok(self.entries.values().any(|entry| entry.delivery.state == DeliveryState::Pending))
    }
    fn expire(&mut self, now_ms: u64, deliveries_before: u64) -> Result<(), String> {
        self.seen.retain(|_, seen| seen.until > now_ms);
        let (kept, gone): (BTreeMap<_, _>, BTreeMap<_, _>) =
            std::mem::take(&mut self.entries).into_iter().partition(|(_, entry)| {
                entry.delivery.at >= deliveries_before || entry.delivery.state == DeliveryState::Pending
            });
        self.entries = kept;
        let freed: u64 = gone.values().map(|entry| stored_size(&entry.delivery)).sum();
        self.stored_bytes = self.stored_bytes.saturating_sub(freed);
        // As the SQL does: only the keys of the deleted deliveries, each once no delivery has it.
        let keys: BTreeSet<&String> = gone.values().map(|entry| &entry.key).collect();
        for key in keys {
            if !self.entries.values().any(|entry| entry.key == *key) {
                self.keys.remove(key);
            }
        }
        let oldest = hour_of(now_ms).saturating_sub(KEPT_HOURS);
        self.stats.retain(|(_, hour), _| *hour >= oldest);
        Ok(())
    }
    fn stored_bytes(&self) -> Result<u64, String> {
        Ok(self.stored_bytes)
    }
    fn stats(&self, trigger: &str, hour: u64) -> Result<Option<HourStats>, String> {
        Ok(self.stats.get(&(trigger.to_string(), hour)).cloned())
    }
    fn put_stats(&mut self, row: &StatsRow) -> Result<(), String> {
        self.stats.insert((row.trigger.clone(), row.hour), row.stats.clone());
        Ok(())
    }
    fn stats_since(&self, trigger: Option<&str>, from_hour: u64) -> Result<Vec<StatsRow>, String> {
        Ok(self
            .stats
            .iter()
            .filter(|((t, hour), _)| *hour >= from_hour && trigger.is_none_or(|trigger| t == trigger))
            .map(|((trigger, hour), stats)| StatsRow { trigger: trigger.clone(), hour: *hour, stats: stats.clone() })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::arrival;
    use super::super::{serve, Envelope, Request};
    use super::*;

    /// Through `serve`, as the object runs it: a key's row goes with its last delivery, and stays
    /// while a delivery of it is pending or still kept.
    #[test]
    fn order_keys_expire_with_the_last_delivery_that_refers_to_them() {
        let day = 86_400_000;
        let mut rows = MemoryRows::default();
        let accept = |rows: &mut MemoryRows, now_ms: u64, arrivals| {
            let request = Request::Accept { arrivals, attempt_now: false };
            let envelope = Envelope {
                now_ms,
                random: 0,
                base_seconds: 1,
                max_attempts: 2,
                retention_ms: day,
                budget_bytes: 0,
                refused: String::new(),
                request,
            };
            serve(rows, envelope).unwrap();
        };
        let at = |id: &str, key: &str, at: u64| {
            let mut arrival = arrival(id, key, Order::Latest, &[]);
            arrival.delivery.at = at;
            arrival
        };
        accept(&mut rows, 0, vec![at("old", "gone", 0), at("waiting", "pending", 0), at("first", "recent", 0)]);
        accept(&mut rows, day - 1, vec![at("second", "recent", day - 1)]);
        for id in ["old", "first", "second"] {
            rows.entries.get_mut(id).unwrap().delivery.state = DeliveryState::Delivered;
        }
        let keys = |rows: &MemoryRows| rows.keys.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&rows), ["gone", "pending", "recent"]);
        accept(&mut rows, day + 10, vec![at("new", "fresh", day + 10)]);
        assert_eq!(rows.entries.keys().collect::<Vec<_>>(), ["new", "second", "waiting"]);
        assert_eq!(keys(&rows), ["fresh", "pending", "recent"], "only the key nothing refers to is gone");
        // The pending one's key still orders it: a newer arrival supersedes it.
        accept(&mut rows, day + 20, vec![at("newer", "pending", day + 20)]);
        assert_eq!(rows.entries["waiting"].delivery.state, DeliveryState::Superseded);
        // Once all of a key's deliveries are gone, so is it.
        for entry in rows.entries.values_mut() {
            entry.delivery.state = DeliveryState::Delivered;
        }
        accept(&mut rows, 3 * day, vec![]);
        assert!(rows.keys.is_empty() && rows.entries.is_empty(), "{:?}", keys(&rows));
    }
}
