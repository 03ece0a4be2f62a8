//! [`Rows`] in memory: native tests' ledgers (`MemoryLedger`), and the model of what the
//! object's tables hold and which rows each query returns.

use super::stats::{hour_of, HourStats, StatsRow, KEPT_HOURS};
use super::{Entry, KeyState, Order, Rows, Seen};
use crate::model::{Call, DeliveryState};
use std::collections::BTreeMap;

/// The rows in memory: native tests, and the model of what the object's tables hold.
#[derive(Debug, Default, Clone)]
pub struct MemoryRows {
    pub seen: BTreeMap<String, Seen>,
    pub entries: BTreeMap<String, Entry>,
    pub keys: BTreeMap<String, KeyState>,
    pub next_seq: u64,
    /// (trigger, hour) -> counts.
    pub stats: BTreeMap<(String, u64), HourStats>,
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
        if !with_call {
            if let Some(stored) = self.entries.get_mut(&entry.delivery.id) {
                entry.delivery.call = std::mem::take(&mut stored.delivery.call);
            }
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
        self.entries.retain(|_, entry| {
            entry.delivery.at >= deliveries_before || entry.delivery.state == DeliveryState::Pending
        });
        let oldest = hour_of(now_ms).saturating_sub(KEPT_HOURS);
        self.stats.retain(|(_, hour), _| *hour >= oldest);
        Ok(())
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
