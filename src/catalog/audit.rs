//! The audit trail in the catalog: one write per admin mutation, and pages of it newest first.
//! No `worker` import; entries hold no secret (see `model/audit.rs`).

use super::Catalog;
use crate::error::Error;
use crate::model::AuditEntry;
use crate::store::keys;

impl<'a> Catalog<'a> {
    /// Records an admin mutation (one write, kept until deleted from KV by hand).
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), Error> {
        self.store.put_json(&keys::audit(&entry.id), entry).await
    }

    /// A page of the trail, newest first, as the stored JSON texts: at most `limit`, from `cursor`
    /// on, and the next cursor.
    pub async fn audit_page(&self, cursor: Option<&str>, limit: usize) -> Result<(Vec<String>, Option<String>), Error> {
        let page = self.store.list(keys::AUDIT_PREFIX, cursor, limit).await?;
        let mut entries = Vec::new();
        for key in &page.keys {
            entries.extend(self.store.get(key).await?);
        }
        Ok((entries, page.cursor))
    }
}
