//! The catalog's small records beside the catalog proper: the schedule index, records read by
//! exact id on the hot path, and re-sealing every sealed record. The key strings stay here and in `store::keys`: callers name things, never keys.
//! No `worker` import.

use super::Catalog;
use crate::error::Error;
use crate::model::{Target, Trigger};
use crate::sealed::SEALED_PREFIXES;
use crate::store::keys;

impl<'a> Catalog<'a> {
    /// The target stored under this exact id (no name lookup): one read.
    pub async fn target_by_id(&self, id: &str) -> Result<Option<Target>, Error> {
        self.store.get_json(&keys::target(id)).await
    }

    /// The trigger stored under this exact id, if any: one read, and no error for a missing one
    /// (the token check compares against a stand-in then, taking the same path).
    pub async fn trigger_by_id(&self, id: &str) -> Result<Option<Trigger>, Error> {
        self.store.get_json(&keys::trigger(id)).await
    }

    /// Every scheduled trigger and its cron expression, from one listing of the schedule index
    /// (the daily re-arming of their alarms; nothing reads it every minute).
    pub async fn schedules(&self) -> Result<Vec<(String, String)>, Error> {
        let keys = self.store.list_all(keys::SCHEDULE_PREFIX).await?;
        Ok(keys
            .iter()
            .filter_map(|key| key[keys::SCHEDULE_PREFIX.len()..].split_once(':'))
            .map(|(trigger_id, cron)| (trigger_id.to_string(), cron.to_string()))
            .collect())
    }

    /// Reads each sealed record (any known key opens it) and writes it back (the newest key seals
    /// it). Returns how many were rewritten.
    pub async fn reseal_all(&self) -> Result<usize, Error> {
        let mut rewritten = 0;
        for prefix in SEALED_PREFIXES {
            for key in self.store.list_all(prefix).await? {
                if let Some(record) = self.store.get(&key).await? {
                    self.store.put(&key, &record, None).await?;
                    rewritten += 1;
                }
            }
        }
        Ok(rewritten)
    }
}
