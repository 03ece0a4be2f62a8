//! The shell's side of the per-target ledger: the `TargetLedger` Durable Object (SQLite storage),
//! one per target, and the `Ledger` port that reaches it by the target's id. The object decides
//! nothing: it implements `ledger::Rows` over its tables and hands each request to
//! `ledger::serve`, in one synchronous stretch (no `await` between reading and writing), so two
//! requests, concurrent or from two locations, never interleave. Never logs an id's source: replay
//! ids are hashes.

use super::ObjectNamespace;
use crate::ledger::budget::stored_size;
use crate::ledger::stats::{hour_of, HourStats, StatsRow, KEPT_HOURS};
use crate::ledger::LedgerPort;
use crate::ledger::{Answer, Entry, Envelope, KeyState, Order, Request, Rows, Seen, SWEEP_EVERY_MS};
use crate::model::{Call, DeliveryState};
use crate::ports::LocalFuture;
use worker::{durable_object, DurableObject, Env, SqlStorage, SqlStorageValue, State};

/// The tables: see `ledger/mod.rs` for what each row is.
const SCHEMA: [&str; 22] = [
    "DROP TABLE IF EXISTS seen",
    "CREATE TABLE IF NOT EXISTS replay_ids (id TEXT PRIMARY KEY, delivery_id TEXT NOT NULL, at INTEGER NOT NULL, until INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS replay_ids_until ON replay_ids (until)",
    "CREATE INDEX IF NOT EXISTS replay_ids_delivery ON replay_ids (delivery_id)",
    "CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, key TEXT NOT NULL, trigger TEXT NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL, entry TEXT NOT NULL, watched INTEGER NOT NULL DEFAULT 1)",
    // A table made before `watched` existed gets it (the statement fails, ignored, once it has it).
    "ALTER TABLE deliveries ADD COLUMN watched INTEGER NOT NULL DEFAULT 1",
    "DROP INDEX IF EXISTS deliveries_key",
    "CREATE INDEX IF NOT EXISTS deliveries_watched ON deliveries (key, state, watched)",
    "CREATE INDEX IF NOT EXISTS deliveries_trigger ON deliveries (trigger, state, seq)",
    "CREATE INDEX IF NOT EXISTS deliveries_trigger_seq ON deliveries (trigger, seq)",
    "ALTER TABLE deliveries ADD COLUMN due_at INTEGER NOT NULL DEFAULT 0",
    // The call (with its payload) apart from the entry, written once: '' in a row made before it,
    // whose entry still holds it.
    "ALTER TABLE deliveries ADD COLUMN call TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, due_at)",
    "CREATE INDEX IF NOT EXISTS deliveries_trigger_at ON deliveries (trigger, at)",
    "CREATE INDEX IF NOT EXISTS deliveries_at ON deliveries (at)",
    "CREATE TABLE IF NOT EXISTS order_keys (key TEXT PRIMARY KEY, state TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    // A trigger's counts for one hour (`ledger::stats::HourStats::encode`).
    "CREATE TABLE IF NOT EXISTS stats (trigger TEXT NOT NULL, hour INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (trigger, hour))",
    // What `expire` deletes by, and the overview reads by.
    "CREATE INDEX IF NOT EXISTS stats_hour ON stats (hour)",
    // What `budget::stored_size` counted for the row (0 in a row made before: not counted).
    "ALTER TABLE deliveries ADD COLUMN size INTEGER NOT NULL DEFAULT 0",
    // Once per object: the order keys whose deliveries were deleted before keys expired with them
    // (a constant-false condition skips the scan afterwards).
    "DELETE FROM order_keys WHERE NOT EXISTS (SELECT 1 FROM meta WHERE name = 'keys_swept') AND NOT EXISTS (SELECT 1 FROM deliveries WHERE deliveries.key = order_keys.key)",
    "INSERT OR IGNORE INTO meta (name, value) VALUES ('keys_swept', 1)",
];

#[durable_object]
pub struct TargetLedger {
    state: State,
    env: Env,
}

impl DurableObject for TargetLedger {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        // Once per object instance: the schema.
        for statement in SCHEMA {
            let _ = sql.exec(statement, None);
        }
        TargetLedger { state, env }
    }

    async fn fetch(&self, mut req: worker::Request) -> worker::Result<worker::Response> {
        let envelope: Envelope = serde_json::from_slice(req.text().await?.as_bytes())
            .map_err(|e| worker::Error::RustError(crate::error::json_error(&e)))?;
        let took_in = matches!(&envelope.request, Request::Accept { .. });
        // From here on no await: the object runs this whole stretch before any other request.
        let mut rows = SqlRows(self.state.storage().sql());
        let answer = crate::ledger::serve(&mut rows, envelope).map_err(worker::Error::RustError)?;
        if took_in {
            // The sweep: a delivery taken in is never left pending without a queue message.
            let storage = self.state.storage();
            if storage.get_alarm().await?.is_none() {
                storage.set_alarm(SWEEP_EVERY_MS as i64).await?;
            }
        }
        worker::Response::from_json(&answer)
    }

    /// Queues again every delivery whose message must have been lost (`ledger::sweep`), and sweeps
    /// again later while any is pending.
    async fn alarm(&self) -> worker::Result<worker::Response> {
        let now = worker::Date::now().as_millis();
        let mut rows = SqlRows(self.state.storage().sql());
        let (lost, pending) = crate::ledger::sweep(&mut rows, now).map_err(worker::Error::RustError)?;
        if !lost.is_empty() {
            let app =
                super::configured_app(&self.env).ok_or_else(|| worker::Error::RustError("misconfigured".into()))?;
            crate::relay::requeue(&app, &lost).await.map_err(|error| worker::Error::RustError(error.for_the_log()))?;
        }
        if pending {
            self.state.storage().set_alarm(SWEEP_EVERY_MS as i64).await?;
        }
        worker::Response::empty()
    }
}

/// `ledger::Rows` over the object's SQLite tables. Records are JSON in one column; the columns
/// beside it are what the queries select on.
struct SqlRows(SqlStorage);

type Values = Vec<SqlStorageValue>;

impl SqlRows {
    fn rows(&self, query: &str, bindings: Values) -> Result<Vec<Values>, String> {
        let cursor = self.0.exec(query, Some(bindings)).map_err(|e| e.to_string())?;
        cursor.raw().map(|row| row.map_err(|e| e.to_string())).collect()
    }

    fn run(&self, query: &str, bindings: Values) -> Result<(), String> {
        self.0.exec(query, Some(bindings)).map(|_| ()).map_err(|e| e.to_string())
    }

    fn json_rows<T: serde::de::DeserializeOwned>(&self, query: &str, bindings: Values) -> Result<Vec<T>, String> {
        self.rows(query, bindings)?
            .into_iter()
            .map(|row| serde_json::from_slice(text(row.first()).as_bytes()).map_err(|e| crate::error::json_error(&e)))
            .collect()
    }
}

fn text(value: Option<&SqlStorageValue>) -> String {
    match value {
        Some(SqlStorageValue::String(text)) => text.clone(),
        _ => String::new(),
    }
}

fn number(value: Option<&SqlStorageValue>) -> u64 {
    match value {
        Some(SqlStorageValue::Integer(n)) => (*n).max(0) as u64,
        Some(SqlStorageValue::Float(n)) => n.max(0.0) as u64,
        _ => 0,
    }
}

/// JavaScript's largest safe integer: what a SQLite integer can be bound as without loss.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn int(n: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(n.min(MAX_SAFE_INTEGER) as i64)
}

fn state_name(state: DeliveryState) -> String {
    crate::model::wire_name(&state)
}

impl Rows for SqlRows {
    fn seen(&self, replay_id: &str) -> Result<Option<Seen>, String> {
        let rows = self.rows("SELECT delivery_id, at, until FROM replay_ids WHERE id = ?", vec![replay_id.into()])?;
        Ok(rows.first().map(|row| Seen {
            delivery_id: text(row.first()),
            at: number(row.get(1)),
            until: number(row.get(2)),
        }))
    }

    fn entry(&self, id: &str) -> Result<Option<Entry>, String> {
        Ok(self.json_rows("SELECT entry FROM deliveries WHERE id = ?", vec![id.into()])?.pop())
    }

    fn key_state(&self, key: &str) -> Result<Option<KeyState>, String> {
        Ok(self.json_rows("SELECT state FROM order_keys WHERE key = ?", vec![key.into()])?.pop())
    }

    fn pending_of_key(&self, key: &str) -> Result<Vec<Entry>, String> {
        let pending = state_name(DeliveryState::Pending);
        self.json_rows(
            "SELECT entry FROM deliveries WHERE key = ? AND state = ? AND watched = 1",
            vec![key.into(), pending.into()],
        )
    }

    fn next_seq(&self) -> Result<u64, String> {
        let rows = self.rows("SELECT value FROM meta WHERE name = 'next_seq'", Vec::new())?;
        Ok(rows.first().map(|row| number(row.first())).unwrap_or(1))
    }

    fn call(&self, id: &str) -> Result<Option<Call>, String> {
        let rows = self.rows("SELECT call, entry FROM deliveries WHERE id = ?", vec![id.into()])?;
        let Some(row) = rows.first() else { return Ok(None) };
        match text(row.first()) {
            call if !call.is_empty() => {
                serde_json::from_slice(call.as_bytes()).map(Some).map_err(|e| crate::error::json_error(&e))
            }
            _ => {
                let entry: Entry =
                    serde_json::from_slice(text(row.get(1)).as_bytes()).map_err(|e| crate::error::json_error(&e))?;
                Ok(Some(entry.delivery.call))
            }
        }
    }

    fn call_less_payload(&self, id: &str) -> Result<Option<Call>, String> {
        // SQLite leaves the payload out: a list never reads a megabyte per delivery into memory.
        let query = "SELECT json_remove(call, '$.payload') FROM deliveries WHERE id = ? AND call <> ''";
        match self.rows(query, vec![id.into()])?.first() {
            Some(row) => serde_json::from_slice(text(row.first()).as_bytes()).map(Some).map_err(|e| e.to_string()),
            None => self.call(id),
        }
    }

    fn put_entry(&mut self, entry: &Entry, with_call: bool) -> Result<(), String> {
        // The entry without its call: an attempt's bookkeeping never rewrites the payload.
        let mut light = entry.clone();
        let call = std::mem::take(&mut light.delivery.call);
        let json = serde_json::to_string(&light).map_err(|e| e.to_string())?;
        let watched = int(u64::from(entry.order == Order::Latest || entry.in_flight_since.is_some()));
        let mut values: Values = vec![
            int(entry.seq),
            entry.key.as_str().into(),
            entry.delivery.trigger.as_str().into(),
            state_name(entry.delivery.state).into(),
            int(entry.delivery.at),
            json.into(),
            // What `pending_of_key` selects: `latest`, or out being attempted.
            watched,
            int(entry.due_at),
        ];
        if with_call {
            let size = int(stored_size(&entry.delivery));
            values.push(serde_json::to_string(&call).map_err(|e| e.to_string())?.into());
            values.push(size.clone());
            values.push(entry.delivery.id.as_str().into());
            self.run(
                "INSERT OR REPLACE INTO deliveries (seq, key, trigger, state, at, entry, watched, due_at, call, size, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )?;
            self.run(
                "INSERT INTO meta (name, value) VALUES ('stored_bytes', ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                vec![size],
            )
        } else {
            values.push(entry.delivery.id.as_str().into());
            self.run(
                // A row from before the call was kept apart moves its call out of its old entry.
                "UPDATE deliveries SET call = CASE WHEN call = '' THEN COALESCE(json_extract(entry, '$.delivery.call'), '') ELSE call END, seq = ?, key = ?, trigger = ?, state = ?, at = ?, entry = ?, watched = ?, due_at = ? WHERE id = ?",
                values,
            )
        }
    }

    fn put_key(&mut self, key: &str, state: &KeyState) -> Result<(), String> {
        let json = serde_json::to_string(state).map_err(|e| e.to_string())?;
        self.run("INSERT OR REPLACE INTO order_keys (key, state) VALUES (?, ?)", vec![key.into(), json.into()])
    }

    fn put_seen(&mut self, replay_id: &str, seen: &Seen) -> Result<(), String> {
        self.run(
            "INSERT OR REPLACE INTO replay_ids (id, delivery_id, at, until) VALUES (?, ?, ?, ?)",
            vec![replay_id.into(), seen.delivery_id.as_str().into(), int(seen.at), int(seen.until)],
        )
    }

    fn forget_seen(&mut self, replay_id: &str) -> Result<(), String> {
        self.run("DELETE FROM replay_ids WHERE id = ?", vec![replay_id.into()])
    }

    fn forget_seen_of(&mut self, delivery_id: &str) -> Result<(), String> {
        self.run("DELETE FROM replay_ids WHERE delivery_id = ?", vec![delivery_id.into()])
    }

    fn put_next_seq(&mut self, seq: u64) -> Result<(), String> {
        self.run("INSERT OR REPLACE INTO meta (name, value) VALUES ('next_seq', ?)", vec![int(seq)])
    }

    fn page(
        &self,
        trigger: &str,
        state: Option<DeliveryState>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Entry>, String> {
        let before = int(before.unwrap_or(MAX_SAFE_INTEGER));
        let limit = int(limit as u64);
        match state {
            Some(state) => self.json_rows(
                "SELECT entry FROM deliveries WHERE trigger = ? AND state = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                vec![trigger.into(), state_name(state).into(), before, limit],
            ),
            None => self.json_rows(
                "SELECT entry FROM deliveries WHERE trigger = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                vec![trigger.into(), before, limit],
            ),
        }
    }

    fn last_used(&self, trigger: &str) -> Result<Option<u64>, String> {
        let rows = self.rows("SELECT MAX(at) FROM deliveries WHERE trigger = ?", vec![trigger.into()])?;
        Ok(rows
            .first()
            .and_then(|row| row.first())
            .filter(|v| !matches!(v, SqlStorageValue::Null))
            .map(|v| number(Some(v))))
    }

    fn overdue(&self, before_ms: u64, limit: usize) -> Result<Vec<Entry>, String> {
        let pending = state_name(DeliveryState::Pending);
        self.json_rows(
            "SELECT entry FROM deliveries WHERE state = ? AND due_at < ? ORDER BY due_at LIMIT ?",
            vec![pending.into(), int(before_ms), int(limit as u64)],
        )
    }

    fn any_pending(&self) -> Result<bool, String> {
        let pending = state_name(DeliveryState::Pending);
        Ok(!self.rows("SELECT 1 FROM deliveries WHERE state = ? LIMIT 1", vec![pending.into()])?.is_empty())
    }

    fn expire(&mut self, now_ms: u64, deliveries_before: u64) -> Result<(), String> {
        self.run("DELETE FROM replay_ids WHERE until <= ?", vec![int(now_ms)])?;
        let pending = state_name(DeliveryState::Pending);
        let gone = self.rows(
            "DELETE FROM deliveries WHERE at < ? AND state <> ? RETURNING key, size",
            vec![int(deliveries_before), pending.into()],
        )?;
        if !gone.is_empty() {
            let freed: u64 = gone.iter().map(|row| number(row.get(1))).sum();
            self.run("UPDATE meta SET value = MAX(0, value - ?) WHERE name = 'stored_bytes'", vec![int(freed)])?;
            // Once per distinct key of the deleted deliveries (a quiet week may delete thousands of
            // one key's): each a primary-key lookup and an indexed probe.
            let mut keys: Vec<String> = gone.iter().map(|row| text(row.first())).collect();
            crate::sorting::sort_by(&mut keys, |a, b| a.cmp(b));
            keys.dedup();
            for key in keys {
                self.run(
                    "DELETE FROM order_keys WHERE key = ? AND NOT EXISTS (SELECT 1 FROM deliveries WHERE key = ?)",
                    vec![key.as_str().into(), key.into()],
                )?;
            }
        }
        self.run("DELETE FROM stats WHERE hour < ?", vec![int(hour_of(now_ms).saturating_sub(KEPT_HOURS))])
    }

    fn stored_bytes(&self) -> Result<u64, String> {
        let rows = self.rows("SELECT value FROM meta WHERE name = 'stored_bytes'", Vec::new())?;
        Ok(rows.first().map_or(0, |row| number(row.first())))
    }

    fn stats(&self, trigger: &str, hour: u64) -> Result<Option<HourStats>, String> {
        let rows =
            self.rows("SELECT data FROM stats WHERE trigger = ? AND hour = ?", vec![trigger.into(), int(hour)])?;
        Ok(rows.first().and_then(|row| HourStats::decode(&text(row.first()))))
    }

    fn put_stats(&mut self, row: &StatsRow) -> Result<(), String> {
        let data = row.stats.encode();
        self.run(
            "INSERT OR REPLACE INTO stats (trigger, hour, data) VALUES (?, ?, ?)",
            vec![row.trigger.as_str().into(), int(row.hour), data.into()],
        )
    }

    fn stats_since(&self, trigger: Option<&str>, from_hour: u64) -> Result<Vec<StatsRow>, String> {
        let rows = match trigger {
            Some(trigger) => self.rows(
                "SELECT trigger, hour, data FROM stats WHERE trigger = ? AND hour >= ? ORDER BY hour",
                vec![trigger.into(), int(from_hour)],
            )?,
            None => self.rows(
                "SELECT trigger, hour, data FROM stats WHERE hour >= ? ORDER BY trigger, hour",
                vec![int(from_hour)],
            )?,
        };
        rows.into_iter()
            .map(|row| {
                let stats = HourStats::decode(&text(row.get(2))).ok_or("malformed statistics row")?;
                Ok(StatsRow { trigger: text(row.first()), hour: number(row.get(1)), stats })
            })
            .collect()
    }
}

/// The `Ledger` port on the `LEDGER` namespace: one object per target, named by its id.
pub struct DurableLedger(pub ObjectNamespace);

impl DurableLedger {
    async fn call(&self, target: &str, envelope: &Envelope) -> Result<Answer, String> {
        let body = serde_json::to_string(envelope).map_err(|e| e.to_string())?;
        let (status, text) = self.0.post(target, "https://ledger/", &body).await?;
        if status != 200 {
            return Err(format!("the ledger answered {status}: {text}"));
        }
        serde_json::from_slice(text.as_bytes()).map_err(|e| crate::error::json_error(&e))
    }
}

impl LedgerPort for DurableLedger {
    fn ask<'a>(&'a self, target: &'a str, envelope: &'a Envelope) -> LocalFuture<'a, Result<Answer, String>> {
        Box::pin(self.call(target, envelope))
    }
}
