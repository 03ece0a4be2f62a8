//! The stored targets and triggers: create, find, list, update, delete, keeping the key layout's
//! invariants (see `store.rs`). Both the native API and the vendor translations call this;
//! neither touches keys directly. No `worker` import; never logs a secret.

mod audit;
mod deliveries;
mod markers;
mod registries;
mod targets;

use crate::auth::{Admin, TriggerToken};
use crate::error::Error;
use crate::filters::{validate_glob, EventFilter};
use crate::model::call::{validate_ref, validate_variable, MAX_VARIABLES};
use crate::model::{double_option, EventKind, SourceFields, Target, Trigger, TriggerKind};
use crate::ports::{Clock, Random};
use crate::store::{keys, Store};
use crate::time::parse_rfc3339;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The most triggers a page of the trigger list holds, and the most targets they may belong to.
pub const PAGE_TRIGGERS: usize = 20;
pub const PAGE_TARGETS: usize = 10;

/// At most this many refs in a trigger's allow-list.
const MAX_REFS: usize = 100;
const MAX_DESCRIPTION_BYTES: usize = 1024;

pub struct Catalog<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub random: &'a dyn Random,
    /// The targets' ledgers: delivery records, replay ids and order (see `deliveries.rs`).
    pub ledger: &'a dyn crate::ledger::LedgerPort,
    /// Refused webhooks waiting to go to their targets' ledgers (`ledger::refusals`).
    pub refusals: &'a dyn crate::ledger::Refusals,
    /// `STORAGE_BUDGET_MB` in bytes: each target ledger's budget for its delivery records.
    pub storage_budget_bytes: u64,
    pub retry: crate::model::delivery::RetryPolicy,
    pub delivery_ttl_seconds: u64,
    pub allow_local_targets: bool,
    /// `PUBLIC_URL`: a target on its host would call hookrelay itself (`loops::check_not_self`).
    pub public_url: Option<&'a str>,
}

/// The editable fields of a trigger, as the native API and the compatible APIs accept them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerInput {
    /// The target's id or name; only on create.
    #[serde(default)]
    pub target: Option<String>,
    /// Only on create; by default `hook` with a `source`, else `token`.
    #[serde(default)]
    pub kind: Option<TriggerKind>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub refs: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub expires_at: Option<Option<String>>,
    /// Makes it a hook trigger: `{"kind":"github","secrets":["..."]}`. On update it replaces the
    /// hook's source whole (secret rotation); a token trigger cannot get one.
    #[serde(default)]
    pub source: Option<SourceFields>,
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
    #[serde(default, deserialize_with = "double_option")]
    pub repository: Option<Option<String>>,
    #[serde(default)]
    pub branches: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub condition: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub trigger_type: Option<Option<crate::filters::TagConditionType>>,
    #[serde(default, rename = "ref", deserialize_with = "double_option")]
    pub pinned_ref: Option<Option<String>>,
    #[serde(default)]
    pub variables: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub workload: Option<Option<crate::model::Workload>>,
    /// `latest` or `all`; by default `latest` for a `kubernetes` or `ack` target and a trigger of
    /// the SWR or ACK API, `all` otherwise (`Order::default_for`).
    #[serde(default)]
    pub order: Option<crate::model::trigger::Order>,
    /// The target (id or name) told when a delivery settles in a state of `notify_on`; `null`
    /// stops the notifications.
    #[serde(default, deserialize_with = "double_option")]
    pub notify: Option<Option<String>>,
    #[serde(default)]
    pub notify_on: Option<Vec<crate::model::DeliveryState>>,
    /// Set by the compatible APIs only; never read from a request body.
    #[serde(skip)]
    pub origin: Option<crate::model::Origin>,
}

impl<'a> Catalog<'a> {
    pub(crate) fn new_id(&self) -> String {
        let mut bytes = [0u8; 16];
        self.random.fill(&mut bytes);
        hex::encode(bytes)
    }

    // ---- triggers ----

    /// Creates a trigger. With a `source` it is a hook trigger with an unguessable random id;
    /// otherwise a token trigger, whose token is returned once, here, and stored only as a hash.
    pub async fn create_trigger(
        &self,
        owner: &Admin,
        target: &Target,
        mut input: TriggerInput,
    ) -> Result<(Trigger, Option<TriggerToken>), Error> {
        let now = self.clock.now_ms();
        let source = input.source.take();
        let kind = match (input.kind.take(), &source) {
            (None, Some(source)) if source.is_schedule() => TriggerKind::Schedule,
            (None, Some(_)) => TriggerKind::Hook,
            (Some(kind @ TriggerKind::Schedule), Some(source)) if source.is_schedule() => kind,
            (Some(kind @ TriggerKind::Hook), Some(source)) if !source.is_schedule() => kind,
            (Some(TriggerKind::Hook | TriggerKind::Schedule), None) => {
                return Err(Error::bad_request("source: hook and schedule triggers need one"))
            }
            (Some(_), Some(_)) => return Err(Error::bad_request("source: its kind does not fit the trigger's kind")),
            (kind, None) => kind.unwrap_or(TriggerKind::Token),
        };
        let token = (kind == TriggerKind::Token).then(|| TriggerToken::generate(self.random));
        let mut trigger = Trigger {
            id: match &token {
                Some(token) => token.trigger_id(),
                None => self.new_id(),
            },
            target: target.id.clone(),
            description: String::new(),
            refs: Vec::new(),
            token_hash: token.as_ref().map(TriggerToken::hash),
            token_start: token.as_ref().map(|t| TriggerToken::shortened(t.expose())).unwrap_or_default(),
            owner: owner.name.clone(),
            token: token.as_ref().map(|t| crate::model::Secret::new(t.expose())),
            created_at: now,
            updated_at: now,
            expires_at: None,
            source: None,
            filter: EventFilter::default(),
            pinned_ref: None,
            variables: BTreeMap::new(),
            workload: None,
            origin: input.origin.take(),
            order: None,
            enabled: true,
            notify: None,
            notify_on: Vec::new(),
        };
        // Resolved once, here, so that every view says which order it keeps.
        let order = crate::model::trigger::Order::default_for(target.spec.kind_name(), trigger.origin.as_ref());
        trigger.order = Some(input.order.take().unwrap_or(order));
        trigger.source = source.map(crate::sources::validate_source).transpose()?;
        if kind == TriggerKind::Image {
            trigger.filter.events = vec![EventKind::ImagePush];
        }
        self.resolve_notify(&mut input).await?;
        apply_trigger_input(&mut trigger, input)?;
        // Index keys first: if a write fails part way, what is left is an index key without its
        // trigger, which every reader skips, never a trigger that its target does not know of.
        self.store.put(&keys::target_trigger(&target.id, &trigger.id), "", None).await?;
        if let Some(key) = index_key(&trigger) {
            self.store.put(&key, "", None).await?;
        }
        self.store.put_json(&keys::trigger(&trigger.id), &trigger).await?;
        Ok((trigger, token))
    }

    /// The image triggers for a pushed image repository: one listing of their index and a read
    /// each, never a listing of all triggers.
    pub async fn image_triggers(&self, repository: &str) -> Result<Vec<Trigger>, Error> {
        self.indexed_triggers(&keys::image_trigger_prefix(&repository.to_ascii_lowercase())).await
    }

    /// The hook triggers that filter on `repository` (an index read, never a listing of all triggers).
    pub async fn triggers_for_repository(&self, repository: &str) -> Result<Vec<Trigger>, Error> {
        self.indexed_triggers(&keys::repository_trigger_prefix(&repository.to_ascii_lowercase())).await
    }

    /// The triggers whose ids end the keys under `prefix`, oldest first. An index key whose trigger
    /// is gone (deleted between the two steps) is skipped.
    async fn indexed_triggers(&self, prefix: &str) -> Result<Vec<Trigger>, Error> {
        let mut triggers = Vec::new();
        // Under a prefix no key can have (a webhook's overlong repository), nothing is indexed.
        if prefix.len() >= crate::store::MAX_KEY_BYTES {
            return Ok(triggers);
        }
        for key in self.store.list_all(prefix).await? {
            if let Some(trigger) = self.store.get_json::<Trigger>(&keys::trigger(&key[prefix.len()..])).await? {
                triggers.push(trigger);
            }
        }
        oldest_first(&mut triggers);
        Ok(triggers)
    }

    pub async fn find_trigger(&self, id: &str) -> Result<Trigger, Error> {
        if id.is_empty() || id.contains(':') || !can_name(id) {
            return Err(Error::not_found(format!("no trigger '{id}'")));
        }
        self.store
            .get_json::<Trigger>(&keys::trigger(id))
            .await?
            .ok_or_else(|| Error::not_found(format!("no trigger '{id}'")))
    }

    /// Every trigger of one target, oldest first (what the compatible APIs list).
    pub async fn list_triggers(&self, target: &Target) -> Result<Vec<Trigger>, Error> {
        Ok(self.trigger_page(Some(target), None, usize::MAX).await?.0)
    }

    /// A page of the triggers of one target or of all: at most `limit` of them, of at most
    /// [`PAGE_TARGETS`] targets, after `cursor`, and the cursor of the rest (the last index name,
    /// `{target}:{trigger}`, of the page). Pages go through the targets in the order of their ids;
    /// a page lists its triggers oldest first. It costs one key listing (per 1,000 triggers) and a
    /// read per trigger on the page; the list asks each target's ledger once (`last_used_of`).
    pub async fn trigger_page(
        &self,
        target: Option<&Target>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Trigger>, Option<String>), Error> {
        let prefix =
            target.map_or_else(|| keys::TARGET_TRIGGER_PREFIX.to_string(), |t| keys::target_trigger_prefix(&t.id));
        let index = self.store.list_all(&prefix).await?;
        // Under one target's prefix, a name is the trigger's id alone.
        fn target_of(name: &str) -> &str {
            name.split_once(':').map_or("", |(target, _)| target)
        }
        let (mut names, mut targets, mut next) = (Vec::<&str>::new(), 0, None);
        for name in index.iter().map(|key| &key[prefix.len()..]).filter(|name| Some(*name) > cursor) {
            targets += usize::from(names.last().is_none_or(|last| target_of(last) != target_of(name)));
            if names.len() == limit || targets > PAGE_TARGETS {
                next = names.last().map(|last| last.to_string());
                break;
            }
            names.push(name);
        }
        let mut triggers = Vec::with_capacity(names.len());
        for name in names {
            let id = name.split_once(':').map_or(name, |(_, id)| id);
            // An index key whose trigger was deleted between the two steps is skipped.
            if let Some(trigger) = self.store.get_json::<Trigger>(&keys::trigger(id)).await? {
                triggers.push(trigger);
            }
        }
        oldest_first(&mut triggers);
        Ok((triggers, next))
    }

    /// `notify` names a target by id or name: the trigger keeps its id.
    async fn resolve_notify(&self, input: &mut TriggerInput) -> Result<(), Error> {
        if let Some(Some(name)) = &input.notify {
            let target = self.find_target(name).await.map_err(|error| match error {
                Error::NotFound(_) => Error::bad_request(format!("notify: target '{name}' does not exist")),
                other => other,
            })?;
            // A message, or a pipeline run: never a target that deploys (kubernetes, ack).
            if !matches!(target.spec.kind_name(), "http" | "gitlab" | "github" | "jenkins") {
                return Err(Error::bad_request(format!(
                    "notify: target '{name}' is a {} target; notify an http, gitlab, github or jenkins one",
                    target.spec.kind_name()
                )));
            }
            input.notify = Some(Some(target.id));
        }
        Ok(())
    }

    pub async fn update_trigger(&self, mut trigger: Trigger, mut input: TriggerInput) -> Result<Trigger, Error> {
        if input.target.as_deref().is_some_and(|t| t != trigger.target) {
            return Err(Error::bad_request("target cannot be changed; create a new trigger instead"));
        }
        if input.kind.is_some_and(|kind| kind != trigger.kind()) {
            return Err(Error::bad_request("kind cannot be changed; create a new trigger instead"));
        }
        let old_index = index_key(&trigger);
        self.resolve_notify(&mut input).await?;
        apply_trigger_input(&mut trigger, input)?;
        trigger.updated_at = self.clock.now_ms();
        // The new index key before the record, the old one after it (see `create_trigger`).
        let new_index = index_key(&trigger);
        let moved = new_index != old_index;
        if let Some(key) = new_index.as_ref().filter(|_| moved) {
            self.store.put(key, "", None).await?;
        }
        self.store.put_json(&keys::trigger(&trigger.id), &trigger).await?;
        if let Some(key) = old_index.filter(|_| moved) {
            self.store.delete(&key).await?;
        }
        Ok(trigger)
    }

    /// Revokes a trigger. Irreversible: its token can never be valid again.
    pub async fn delete_trigger(&self, trigger: &Trigger) -> Result<(), Error> {
        self.store.delete(&keys::trigger(&trigger.id)).await?;
        if let Some(key) = index_key(trigger) {
            self.store.delete(&key).await?;
        }
        self.store.delete(&keys::target_trigger(&trigger.target, &trigger.id)).await
    }
}

/// Oldest first (one sort for every trigger list: one copy of it in the wasm).
fn oldest_first(triggers: &mut Vec<Trigger>) {
    crate::sorting::sort_by(triggers, |a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
}

/// The index key that finds a trigger without listing them all: by repository, hook triggers for
/// the compatible APIs' listings and image triggers for registry fan-out; schedules for the clock.
/// Whether a name, id or key prefix from a caller could name something stored: one longer than
/// any name is unknown, before it could make a key longer than KV takes (a store error, a 503).
/// Every finder checks what it is given, wherever it came from (path, body or query).
pub(crate) fn can_name(name: &str) -> bool {
    name.len() <= crate::model::MAX_NAME_BYTES
}

fn index_key(trigger: &Trigger) -> Option<String> {
    if let Some(schedule) = trigger.source.as_ref().and_then(|source| source.as_schedule()) {
        return Some(keys::schedule(&trigger.id, &schedule.cron));
    }
    let repository = trigger.filter.repository.as_ref()?.to_ascii_lowercase();
    match trigger.kind() {
        TriggerKind::Hook => Some(keys::repository_trigger(&repository, &trigger.id)),
        TriggerKind::Image => Some(keys::image_trigger(&repository, &trigger.id)),
        TriggerKind::Token | TriggerKind::Schedule => None,
    }
}

fn apply_trigger_input(trigger: &mut Trigger, input: TriggerInput) -> Result<(), Error> {
    // A new source replaces the old one whole: this is how secrets are rotated.
    if let Some(source) = input.source.clone() {
        match &trigger.source {
            None => {
                return Err(Error::bad_request("a token trigger cannot get a source; create a hook trigger instead"))
            }
            Some(old) if old.is_schedule() != source.is_schedule() => {
                return Err(Error::bad_request("kind cannot be changed by a new source; create a new trigger instead"))
            }
            Some(_) => {}
        }
        trigger.source = Some(crate::sources::validate_source(source)?);
    }
    apply_hook_fields(trigger, &input)?;
    if trigger.kind() == TriggerKind::Image && trigger.filter.repository.is_none() {
        return Err(Error::bad_request("repository: an image trigger names its image repository (namespace/name)"));
    }
    if let Some(enabled) = input.enabled {
        trigger.enabled = enabled;
    }
    if let Some(order) = input.order {
        trigger.order = Some(order);
    }
    if let Some(notify) = input.notify {
        trigger.notify = notify;
    }
    if let Some(states) = input.notify_on {
        use crate::model::DeliveryState::{Dead, Delivered, Failed};
        if states.is_empty() || states.iter().any(|state| !matches!(state, Delivered | Failed | Dead)) {
            return Err(Error::bad_request("notify_on lists one or more of delivered, failed, dead"));
        }
        if trigger.notify.is_none() {
            return Err(Error::bad_request("notify_on needs a notify target"));
        }
        trigger.notify_on = states;
    }
    if trigger.notify.is_none() {
        trigger.notify_on.clear();
    } else if trigger.notify_on.is_empty() {
        trigger.notify_on = vec![crate::model::DeliveryState::Dead];
    }
    if let Some(description) = input.description {
        if description.len() > MAX_DESCRIPTION_BYTES || description.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Error::bad_request("description is longer than 1024 bytes or contains control characters"));
        }
        trigger.description = description;
    }
    if let Some(refs) = input.refs {
        if refs.len() > MAX_REFS {
            return Err(Error::bad_request(format!("refs has more than {MAX_REFS} patterns")));
        }
        for pattern in &refs {
            validate_glob("refs", pattern)?;
        }
        trigger.refs = refs;
    }
    if let Some(expires_at) = input.expires_at {
        trigger.expires_at = match expires_at {
            None => None,
            Some(text) => Some(
                parse_rfc3339(&text).ok_or_else(|| Error::bad_request("expires_at must be an RFC 3339 timestamp"))?,
            ),
        };
    }
    Ok(())
}

fn apply_hook_fields(trigger: &mut Trigger, input: &TriggerInput) -> Result<(), Error> {
    let filter = &mut trigger.filter;
    if let Some(events) = &input.events {
        filter.events = events.clone();
    }
    if let Some(repository) = &input.repository {
        filter.repository = repository.clone();
    }
    if let Some(branches) = &input.branches {
        filter.branches = branches.clone();
    }
    if let Some(tags) = &input.tags {
        filter.tags = tags.clone();
    }
    if let Some(condition) = &input.condition {
        filter.condition = condition.clone();
    }
    if let Some(trigger_type) = &input.trigger_type {
        filter.trigger_type = *trigger_type;
    }
    filter.validate()?;
    if let Some(pinned_ref) = &input.pinned_ref {
        if let Some(name) = pinned_ref {
            validate_ref(name)?;
        }
        trigger.pinned_ref = pinned_ref.clone();
    }
    if let Some(variables) = &input.variables {
        if variables.len() > MAX_VARIABLES {
            return Err(Error::bad_request(format!("variables: more than {MAX_VARIABLES} variables")));
        }
        for (key, value) in variables {
            validate_variable(key, value)?;
        }
        trigger.variables = variables.clone();
    }
    if let Some(workload) = &input.workload {
        if let Some(workload) = workload {
            workload.validate()?;
        }
        trigger.workload = workload.clone();
    }
    Ok(())
}
