//! The Store port (KV, in production), the key layout, and an in-memory store for tests.
//!
//! Key layout: every lookup on a hot path is a single `get` by a key derived from the request.
//! - `target:{id}` the target, with its credentials.
//! - `target-name:{name}` the id of the target called `name`.
//! - `trigger:{id}` the trigger. For token triggers the id is derived from the token's hash.
//! - `target-trigger:{target_id}:{trigger_id}` one key per trigger, so that listing a target's
//!   triggers never needs a read-modify-write of a shared index (KV is last-writer-wins).
//! - `repository-trigger:{repository}:{trigger_id}` the same, per repository, for hook triggers.
//! - `image-trigger:{repository}:{trigger_id}` the same, per image repository, for image triggers:
//!   how one registry endpoint finds the triggers a push fans out to.
//! - `registry:{id}` a registry endpoint (its provider and secret); ids start with `reg_`.
//!
//! Delivery records, replay ids and order are not here: each target's ledger (a Durable Object)
//! keeps them.

use crate::error::Error;
use crate::ports::LocalFuture;
use serde::{de::DeserializeOwned, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;

pub mod keys {
    pub fn target(id: &str) -> String {
        format!("target:{id}")
    }
    pub const TARGET_PREFIX: &str = "target:";
    pub fn target_name(name: &str) -> String {
        format!("target-name:{name}")
    }
    pub fn trigger(id: &str) -> String {
        format!("trigger:{id}")
    }
    pub const TRIGGER_PREFIX: &str = "trigger:";
    pub fn target_trigger(target_id: &str, trigger_id: &str) -> String {
        format!("target-trigger:{target_id}:{trigger_id}")
    }
    pub fn target_trigger_prefix(target_id: &str) -> String {
        format!("target-trigger:{target_id}:")
    }
    /// Every target's triggers, grouped by target.
    pub const TARGET_TRIGGER_PREFIX: &str = "target-trigger:";
    /// One key per hook trigger that filters on a repository (lower case).
    pub fn repository_trigger(repository: &str, trigger_id: &str) -> String {
        format!("repository-trigger:{repository}:{trigger_id}")
    }
    pub fn repository_trigger_prefix(repository: &str) -> String {
        format!("repository-trigger:{repository}:")
    }
    /// One key per image trigger, under its image repository (lower case).
    pub fn image_trigger(repository: &str, trigger_id: &str) -> String {
        format!("image-trigger:{repository}:{trigger_id}")
    }
    pub fn image_trigger_prefix(repository: &str) -> String {
        format!("image-trigger:{repository}:")
    }
    /// One key per scheduled trigger, with its cron expression in the name, so that the daily
    /// re-arming of their alarms needs one listing and no read.
    pub fn schedule(trigger_id: &str, cron: &str) -> String {
        format!("schedule:{trigger_id}:{cron}")
    }
    pub const SCHEDULE_PREFIX: &str = "schedule:";
    /// One key per admin mutation; `stamp` sorts newest first.
    pub fn audit(stamp: &str) -> String {
        format!("audit:{stamp}")
    }
    pub const AUDIT_PREFIX: &str = "audit:";
    pub fn registry(id: &str) -> String {
        format!("registry:{id}")
    }
    pub const REGISTRY_PREFIX: &str = "registry:";
}

/// The most keys KV returns in one listing.
pub const MAX_LIST_PAGE: usize = 1000;
/// KV's longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;

/// One page of a key listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPage {
    pub keys: Vec<String>,
    /// Where the next page starts; `None` on the last page.
    pub cursor: Option<String>,
}

/// A key-value store with KV's semantics: last writer wins, optional expiry, prefix listing. A
/// port like the others (`crate::ports`): methods return boxed futures, so that the context holds
/// it as `Box<dyn Store>` (a virtual call costs nothing next to a KV round trip).
pub trait Store {
    fn get<'a>(&'a self, key: &'a str) -> LocalFuture<'a, Result<Option<String>, Error>>;
    fn put<'a>(&'a self, key: &'a str, value: &'a str, ttl_seconds: Option<u64>) -> LocalFuture<'a, Result<(), Error>>;
    fn delete<'a>(&'a self, key: &'a str) -> LocalFuture<'a, Result<(), Error>>;
    /// Up to `limit` keys under `prefix` in key order (KV caps a page at 1000), from `cursor` on.
    fn list<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalFuture<'a, Result<KeyPage, Error>>;
}

impl<T: Store + ?Sized> Store for std::rc::Rc<T> {
    fn get<'a>(&'a self, key: &'a str) -> LocalFuture<'a, Result<Option<String>, Error>> {
        (**self).get(key)
    }
    fn put<'a>(&'a self, key: &'a str, value: &'a str, ttl_seconds: Option<u64>) -> LocalFuture<'a, Result<(), Error>> {
        (**self).put(key, value, ttl_seconds)
    }
    fn delete<'a>(&'a self, key: &'a str) -> LocalFuture<'a, Result<(), Error>> {
        (**self).delete(key)
    }
    fn list<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalFuture<'a, Result<KeyPage, Error>> {
        (**self).list(prefix, cursor, limit)
    }
}

/// Typed reads and writes, and full listings, on any store.
impl dyn Store + '_ {
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        match self.get(key).await? {
            // from_slice, like request bodies: one reader type means one copy of each type's decoder.
            Some(text) => serde_json::from_slice(text.as_bytes())
                .map(Some)
                .map_err(|err| Error::Internal(format!("corrupt record at {key}: {}", crate::error::json_error(&err)))),
            None => Ok(None),
        }
    }

    pub async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), Error> {
        let text = serde_json::to_string(value).map_err(|err| Error::Store(err.to_string()))?;
        self.put(key, &text, None).await
    }

    /// Every key under `prefix`, following cursors. Admin paths only: never on a hot path.
    pub async fn list_all(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list(prefix, cursor.as_deref(), MAX_LIST_PAGE).await?;
            keys.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }
}

/// Counts of the operations a store performed, so tests and benchmarks can prove KV costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperationCounts {
    pub reads: u32,
    pub writes: u32,
    pub deletes: u32,
    pub lists: u32,
}

/// An in-memory store with the same semantics, for native tests and benchmarks.
#[derive(Default)]
pub struct MemoryStore {
    entries: RefCell<BTreeMap<String, String>>,
    counts: RefCell<OperationCounts>,
    page_size: usize,
    /// Fault injection: operations left before every operation fails.
    fail_after: std::cell::Cell<Option<u32>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore { page_size: 1000, ..Default::default() }
    }

    /// A store whose listings come back in small pages, to exercise cursors.
    pub fn with_page_size(page_size: usize) -> Self {
        MemoryStore { page_size: page_size.max(1), ..Default::default() }
    }

    pub fn counts(&self) -> OperationCounts {
        *self.counts.borrow()
    }

    pub fn reset_counts(&self) {
        *self.counts.borrow_mut() = OperationCounts::default();
    }

    pub fn keys(&self) -> Vec<String> {
        self.entries.borrow().keys().cloned().collect()
    }

    pub fn raw(&self, key: &str) -> Option<String> {
        self.entries.borrow().get(key).cloned()
    }

    /// Lets `n` more operations succeed, then fails every one (`None`: never fails).
    pub fn fail_after(&self, n: Option<u32>) {
        self.fail_after.set(n);
    }

    /// Fails as KV does for a key over its limit, so that native tests see what production would.
    fn check_key(key: &str) -> Result<(), Error> {
        if key.len() > MAX_KEY_BYTES {
            return Err(Error::Store(format!("414 key length {} exceeds the limit of {MAX_KEY_BYTES}", key.len())));
        }
        Ok(())
    }

    fn operate(&self) -> Result<(), Error> {
        match self.fail_after.get() {
            Some(0) => Err(Error::Store("injected failure".into())),
            Some(n) => {
                self.fail_after.set(Some(n - 1));
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl Store for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> LocalFuture<'a, Result<Option<String>, Error>> {
        let found = self.operate().and_then(|()| Self::check_key(key)).map(|()| {
            self.counts.borrow_mut().reads += 1;
            self.entries.borrow().get(key).cloned()
        });
        Box::pin(async move { found })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        _ttl_seconds: Option<u64>,
    ) -> LocalFuture<'a, Result<(), Error>> {
        let done = self.operate().and_then(|()| Self::check_key(key)).map(|()| {
            self.counts.borrow_mut().writes += 1;
            self.entries.borrow_mut().insert(key.to_string(), value.to_string());
        });
        Box::pin(async move { done })
    }

    fn delete<'a>(&'a self, key: &'a str) -> LocalFuture<'a, Result<(), Error>> {
        let done = self.operate().and_then(|()| Self::check_key(key)).map(|()| {
            self.counts.borrow_mut().deletes += 1;
            self.entries.borrow_mut().remove(key);
        });
        Box::pin(async move { done })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalFuture<'a, Result<KeyPage, Error>> {
        let page = self.list_now(prefix, cursor, limit);
        Box::pin(async move { page })
    }
}

impl MemoryStore {
    fn list_now(&self, prefix: &str, cursor: Option<&str>, limit: usize) -> Result<KeyPage, Error> {
        self.operate()?;
        self.counts.borrow_mut().lists += 1;
        let page_size = self.page_size.min(limit.max(1));
        let entries = self.entries.borrow();
        let start = cursor.unwrap_or(prefix).to_string();
        let mut keys: Vec<String> = entries
            .range(start..)
            .map(|(key, _)| key)
            .filter(|key| Some(key.as_str()) != cursor)
            .take_while(|key| key.starts_with(prefix))
            .take(page_size + 1)
            .cloned()
            .collect();
        let cursor = (keys.len() > page_size).then(|| {
            keys.truncate(page_size);
            keys[page_size - 1].clone()
        });
        Ok(KeyPage { keys, cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::block_on;

    #[test]
    fn list_all_follows_cursors_and_stays_in_the_prefix() {
        let store = MemoryStore::with_page_size(2);
        block_on(async {
            for key in ["a:1", "b:1", "b:2", "b:3", "b:4", "b:5", "c:1"] {
                store.put(key, "x", None).await.unwrap();
            }
            let keys = (&store as &dyn Store).list_all("b:").await.unwrap();
            assert_eq!(keys, vec!["b:1", "b:2", "b:3", "b:4", "b:5"]);
            assert_eq!(store.counts().lists, 3);
        });
    }

    #[test]
    fn corrupt_records_are_an_internal_error_not_a_panic() {
        let store = MemoryStore::new();
        block_on(async {
            store.put("k", "{not json", None).await.unwrap();
            let result: Result<Option<serde_json::Value>, Error> = (&store as &dyn Store).get_json("k").await;
            assert!(matches!(result, Err(Error::Internal(_))));
        });
    }
}
