//! A trigger: who may fire a target, and under which conditions.

use super::call::ContainerImage;
use super::origin::{AckTriggerType, Origin};
use super::Source;
use crate::error::Error;
use crate::filters::{glob_match, EventFilter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Written as one flat object, its filter's fields in place; read through [`TriggerRecord`], which
/// says what a stored record may leave out.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Trigger {
    pub id: String,
    /// The target's id.
    pub target: String,
    pub description: String,
    /// Glob allow-list of refs; empty allows every ref.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
    /// SHA-256 (hex) of the trigger token. The token itself is never stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<String>,
    /// The token's first four characters, which GitLab shows to anyone but the owner.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_start: String,
    /// The name of the admin who created it.
    pub owner: String,
    /// The token itself, for its owner's eyes (GitLab and ACK show the owner the full token on
    /// every read; the Alibaba SDK has no other way to get one). The record is sealed at rest under
    /// `ENCRYPTION_KEY`, as every trigger is; lookups use `token_hash` only. `None` for a trigger
    /// made before the copy was kept, whose token only its hash knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<super::Secret>,
    pub created_at: u64,
    pub updated_at: u64,
    pub expires_at: Option<u64>,
    /// A hook trigger's provider and secrets; `None` for a token trigger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Which events fire a hook trigger.
    #[serde(flatten)]
    pub filter: EventFilter,
    /// The ref to run instead of the event's.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub pinned_ref: Option<String>,
    /// Variables the trigger adds to every call; the caller's win on a clash.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// The Kubernetes workload a `kubernetes` target acts on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<super::Workload>,
    /// Which compatible API created it, so that API lists only its own; `None` for the native API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Which of its deliveries per key the target gets; `None` for a trigger stored before it
    /// existed, which takes its target's default (`Order::default_for`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// A disabled trigger never fires (SWR's `enable`).
    #[serde(skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// The target told when one of this trigger's deliveries settles in a state of `notify_on`
    /// (its id): typically an `http` target at a Slack, Discord or Teams incoming webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
    /// The states that notify (`dead` unless set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify_on: Vec<super::DeliveryState>,
}

/// A stored trigger as it is read: [`Trigger`] with its filter's fields in place, so that no
/// `#[serde(flatten)]` makes serde buffer the whole record to read it (measured in bench/SWAPS.md).
#[derive(Deserialize)]
#[serde(rename = "Trigger")]
struct TriggerRecord {
    id: String,
    target: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    refs: Vec<String>,
    #[serde(default)]
    token_hash: Option<String>,
    #[serde(default)]
    token_start: String,
    owner: String,
    #[serde(default)]
    token: Option<super::Secret>,
    created_at: u64,
    updated_at: u64,
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    source: Option<Source>,
    // The filter's fields, as `EventFilter` declares them.
    #[serde(default)]
    events: Vec<super::EventKind>,
    #[serde(default)]
    repository: Option<String>,
    #[serde(default)]
    branches: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    trigger_type: Option<crate::filters::TagConditionType>,
    #[serde(default, rename = "ref")]
    pinned_ref: Option<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    workload: Option<super::Workload>,
    #[serde(default)]
    origin: Option<Origin>,
    #[serde(default)]
    order: Option<Order>,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    notify: Option<String>,
    #[serde(default)]
    notify_on: Vec<super::DeliveryState>,
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Trigger, D::Error> {
        let r = TriggerRecord::deserialize(deserializer)?;
        let filter = EventFilter {
            events: r.events,
            repository: r.repository,
            branches: r.branches,
            tags: r.tags,
            condition: r.condition,
            trigger_type: r.trigger_type,
        };
        Ok(Trigger {
            id: r.id,
            target: r.target,
            description: r.description,
            refs: r.refs,
            token_hash: r.token_hash,
            token_start: r.token_start,
            owner: r.owner,
            token: r.token,
            created_at: r.created_at,
            updated_at: r.updated_at,
            expires_at: r.expires_at,
            source: r.source,
            filter,
            pinned_ref: r.pinned_ref,
            variables: r.variables,
            workload: r.workload,
            origin: r.origin,
            order: r.order,
            enabled: r.enabled,
            notify: r.notify,
            notify_on: r.notify_on,
        })
    }
}

fn enabled_by_default() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// Which deliveries for one key (the workload of a `kubernetes` or `ack` target, the ref of any
/// other) the target must get: a trigger's `order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Only the newest matters (a deployment's image): an older one still pending is dropped.
    Latest,
    /// Each one, in any order (a pipeline per push).
    All,
}

impl Order {
    /// `latest` where a delivery deploys (a `kubernetes` or `ack` target, a trigger made by the SWR
    /// or ACK API): an older image is never rolled out after a newer one. `all` otherwise.
    pub fn default_for(target_kind: &str, origin: Option<&Origin>) -> Order {
        let deploys = matches!(target_kind, "kubernetes" | "ack")
            || matches!(origin, Some(Origin::Swr { .. } | Origin::Ack { .. }));
        if deploys {
            Order::Latest
        } else {
            Order::All
        }
    }
}

/// How a trigger is fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerKind {
    /// By presenting its token (the GitLab and ACK invocation forms).
    Token,
    /// By its own webhook endpoint, `/hooks/{id}`, signed with its source's secret.
    Hook,
    /// By any registry endpoint's push of an image in its `repository` (SWR image triggers).
    Image,
    /// By the clock: its source's cron expression (`source.kind` `schedule`).
    Schedule,
}

impl Trigger {
    /// Derived from what it holds: a source makes a hook (or a schedule), a token hash a token trigger.
    pub fn kind(&self) -> TriggerKind {
        match (&self.source, &self.token_hash) {
            (Some(source), _) if source.is_schedule() => TriggerKind::Schedule,
            (Some(_), _) => TriggerKind::Hook,
            (None, Some(_)) => TriggerKind::Token,
            (None, None) => TriggerKind::Image,
        }
    }

    /// The token as `viewer` may see it: in full for its owner when a copy is kept, otherwise its
    /// first four characters.
    pub fn token_for(&self, viewer: &str) -> String {
        match &self.token {
            Some(token) if viewer == self.owner && token.is_set() => token.expose().to_string(),
            _ => self.token_start.clone(),
        }
    }

    /// The path a provider posts to, for hook triggers.
    pub fn hook_url(&self) -> Option<String> {
        (self.kind() == TriggerKind::Hook).then(|| format!("/hooks/{}", self.id))
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at.is_some_and(|at| at <= now_ms)
    }

    /// Whether it may fire now: enabled and not expired. Every path that fires, retries or replays
    /// asks this one question.
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.enabled && !self.is_expired(now_ms)
    }

    /// The container images a token caller sends (ACK's application form), admitted only by an ACK
    /// application trigger's own set-image workload (`Workload::admit_caller_images`); every other
    /// trigger refuses them, so that a token never grants more than its trigger was made for.
    pub fn admit_caller_images(&self, containers: Vec<ContainerImage>) -> Result<Vec<ContainerImage>, Error> {
        if containers.is_empty() {
            return Ok(containers);
        }
        match &self.workload {
            Some(workload) if self.origin == Some(Origin::Ack { trigger_type: AckTriggerType::Application }) => {
                workload.admit_caller_images(containers)
            }
            _ => Err(Error::bad_request("only an ACK application trigger takes container images")),
        }
    }

    /// Whether the ref may be fired. A full `refs/heads/x` or `refs/tags/x` is matched by its short name too.
    pub fn allows_ref(&self, ref_name: &str) -> bool {
        if self.refs.is_empty() {
            return true;
        }
        let short =
            ref_name.strip_prefix("refs/heads/").or_else(|| ref_name.strip_prefix("refs/tags/")).unwrap_or(ref_name);
        self.refs.iter().any(|pattern| glob_match(pattern, ref_name) || glob_match(pattern, short))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(refs: &[&str]) -> Trigger {
        Trigger {
            id: "t".into(),
            target: "g".into(),
            description: String::new(),
            refs: refs.iter().map(|r| r.to_string()).collect(),
            token_hash: None,
            token_start: String::new(),
            owner: "alice".into(),
            token: None,
            created_at: 0,
            updated_at: 0,
            expires_at: None,
            source: None,
            filter: EventFilter::default(),
            pinned_ref: None,
            variables: BTreeMap::new(),
            workload: None,
            origin: None,
            order: None,
            enabled: true,
            notify: None,
            notify_on: Vec::new(),
        }
    }

    #[test]
    fn empty_allow_list_allows_every_ref() {
        assert!(trigger(&[]).allows_ref("anything/at-all"));
    }

    #[test]
    fn allow_list_matches_short_and_full_ref_names() {
        let t = trigger(&["main", "release/*"]);
        assert!(t.allows_ref("main"));
        assert!(t.allows_ref("refs/heads/main"));
        assert!(t.allows_ref("release/1.0"));
        assert!(t.allows_ref("refs/tags/release/2.0"));
        assert!(!t.allows_ref("release/1.0/hotfix"));
        assert!(!t.allows_ref("feature/x"));
        assert!(!t.allows_ref("mainline"));
    }

    #[test]
    fn expiry_is_inclusive_of_the_instant() {
        let mut t = trigger(&[]);
        t.expires_at = Some(1000);
        assert!(!t.is_expired(999));
        assert!(t.is_expired(1000));
    }
}
