//! The ledger as a port: what the flows call to reach a target's ledger (`TargetLedger`, a
//! Durable Object, at the edge; [`MemoryLedger`] in native tests).

use super::stats::{HourStats, StatsRow};
use super::{serve, Answer, Entry, Envelope, KeyState, MemoryRows, Rows, Seen};
use crate::model::DeliveryState;
use crate::ports::LocalFuture;
use std::cell::{Cell, RefCell};

/// The per-target ledger: at the edge a Durable Object per target (`TargetLedger`), the single
/// writer for what must be consistent across locations (KV is not: a write may be invisible
/// elsewhere for a minute). It holds the target's delivery records, the replay ids and
/// `Idempotency-Key`s it has seen, and the order of deliveries per key; what it does with a
/// request is decided by `ledger::serve`, the same code at the edge and in native tests.
pub trait LedgerPort {
    /// Serves `envelope` in `target`'s ledger. `Err` says why the ledger could not answer.
    fn ask<'a>(&'a self, target: &'a str, envelope: &'a Envelope) -> LocalFuture<'a, Result<Answer, String>>;
}

impl<T: LedgerPort + ?Sized> LedgerPort for std::rc::Rc<T> {
    fn ask<'a>(&'a self, target: &'a str, envelope: &'a Envelope) -> LocalFuture<'a, Result<Answer, String>> {
        (**self).ask(target, envelope)
    }
}

/// The ledgers in memory, for native tests: one process, strongly consistent, as each object is.
/// The envelope goes through JSON, as it does to the object, so that what does not survive the
/// trip fails here too.
#[derive(Default)]
pub struct MemoryLedger {
    pub targets: RefCell<std::collections::BTreeMap<String, MemoryRows>>,
    /// When set, every request fails with this reason.
    pub broken: RefCell<Option<String>>,
    /// How many requests each target's ledger served.
    pub requests: RefCell<std::collections::BTreeMap<String, u32>>,
    /// Rows read and written (deleted rows count as written), as the object's SQLite would: the
    /// cost model `npm run bench` reports.
    pub rows_read: Cell<u64>,
    pub rows_written: Cell<u64>,
}

impl LedgerPort for MemoryLedger {
    fn ask<'a>(&'a self, target: &'a str, envelope: &'a Envelope) -> LocalFuture<'a, Result<Answer, String>> {
        let answer = (|| {
            if let Some(reason) = self.broken.borrow().clone() {
                return Err(reason);
            }
            *self.requests.borrow_mut().entry(target.to_string()).or_default() += 1;
            let envelope = serde_json::to_string(envelope).map_err(|e| e.to_string())?;
            let envelope = serde_json::from_str(&envelope).map_err(|e| e.to_string())?;
            let mut targets = self.targets.borrow_mut();
            let mut rows =
                Counted { rows: targets.entry(target.to_string()).or_default(), read: Cell::new(0), written: 0 };
            let answer = serve(&mut rows, envelope);
            self.rows_read.set(self.rows_read.get() + rows.read.get());
            self.rows_written.set(self.rows_written.get() + rows.written);
            let answer = answer?;
            let answer = serde_json::to_string(&answer).map_err(|e| e.to_string())?;
            serde_json::from_str(&answer).map_err(|e| e.to_string())
        })();
        Box::pin(async move { answer })
    }
}

/// [`MemoryRows`] that counts the rows each call reads and writes.
struct Counted<'r> {
    rows: &'r mut MemoryRows,
    read: Cell<u64>,
    written: u64,
}

impl Counted<'_> {
    fn count<T>(&self, rows: Result<Vec<T>, String>) -> Result<Vec<T>, String> {
        if let Ok(rows) = &rows {
            self.read.set(self.read.get() + rows.len() as u64);
        }
        rows
    }

    fn count_one<T>(&self, row: Result<Option<T>, String>) -> Result<Option<T>, String> {
        if let Ok(Some(_)) = &row {
            self.read.set(self.read.get() + 1);
        }
        row
    }
}

impl Rows for Counted<'_> {
    fn seen(&self, replay_id: &str) -> Result<Option<Seen>, String> {
        self.count_one(self.rows.seen(replay_id))
    }
    fn entry(&self, id: &str) -> Result<Option<Entry>, String> {
        self.count_one(self.rows.entry(id))
    }
    fn key_state(&self, key: &str) -> Result<Option<KeyState>, String> {
        self.count_one(self.rows.key_state(key))
    }
    fn pending_of_key(&self, key: &str) -> Result<Vec<Entry>, String> {
        self.count(self.rows.pending_of_key(key))
    }
    fn next_seq(&self) -> Result<u64, String> {
        self.read.set(self.read.get() + 1);
        self.rows.next_seq()
    }
    fn call(&self, id: &str) -> Result<Option<crate::model::Call>, String> {
        self.rows.call(id)
    }
    fn put_entry(&mut self, entry: &Entry, with_call: bool) -> Result<(), String> {
        // With its call, the running total of stored bytes too.
        self.written += 1 + u64::from(with_call);
        self.rows.put_entry(entry, with_call)
    }
    fn put_key(&mut self, key: &str, state: &KeyState) -> Result<(), String> {
        self.written += 1;
        self.rows.put_key(key, state)
    }
    fn put_seen(&mut self, replay_id: &str, seen: &Seen) -> Result<(), String> {
        self.written += 1;
        self.rows.put_seen(replay_id, seen)
    }
    fn forget_seen(&mut self, replay_id: &str) -> Result<(), String> {
        self.written += 1;
        self.rows.forget_seen(replay_id)
    }
    fn forget_seen_of(&mut self, delivery_id: &str) -> Result<(), String> {
        let before = self.rows.seen.len();
        self.rows.forget_seen_of(delivery_id)?;
        self.written += (before - self.rows.seen.len()) as u64;
        Ok(())
    }
    fn put_next_seq(&mut self, seq: u64) -> Result<(), String> {
        self.written += 1;
        self.rows.put_next_seq(seq)
    }
    fn page(
        &self,
        trigger: &str,
        state: Option<DeliveryState>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Entry>, String> {
        self.count(self.rows.page(trigger, state, before, limit))
    }
    fn last_used(&self, trigger: &str) -> Result<Option<u64>, String> {
        self.count_one(self.rows.last_used(trigger))
    }
    fn overdue(&self, before_ms: u64, limit: usize) -> Result<Vec<Entry>, String> {
        self.count(self.rows.overdue(before_ms, limit))
    }
    fn any_pending(&self) -> Result<bool, String> {
        self.rows.any_pending()
    }
    fn expire(&mut self, now_ms: u64, deliveries_before: u64) -> Result<(), String> {
        let rows = |r: &MemoryRows| r.seen.len() + r.entries.len() + r.keys.len() + r.stats.len();
        let before = rows(self.rows);
        self.rows.expire(now_ms, deliveries_before)?;
        self.written += (before - rows(self.rows)) as u64;
        Ok(())
    }
    fn stored_bytes(&self) -> Result<u64, String> {
        self.read.set(self.read.get() + 1);
        self.rows.stored_bytes()
    }
    fn stats(&self, trigger: &str, hour: u64) -> Result<Option<HourStats>, String> {
        self.count_one(self.rows.stats(trigger, hour))
    }
    fn put_stats(&mut self, row: &StatsRow) -> Result<(), String> {
        self.written += 1;
        self.rows.put_stats(row)
    }
    fn stats_since(&self, trigger: Option<&str>, from_hour: u64) -> Result<Vec<StatsRow>, String> {
        self.count(self.rows.stats_since(trigger, from_hour))
    }
}
