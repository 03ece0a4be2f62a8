//! Bitbucket Cloud and Server: `X-Hub-Signature: sha256=<hex>` over the body. One event per
//! changed ref: Cloud's `push.changes[].new`, Server's `changes[].ref`.

use super::github::verify_sha256_body;
use super::payload::{json_body, parse_json};
use super::{HookCall, Provider};
use crate::error::Error;
use crate::model::{Event, EventKind};
use serde::Deserialize;

pub struct Bitbucket;

#[derive(Deserialize, Default)]
struct Payload {
    #[serde(default)]
    push: Option<CloudPush>,
    #[serde(default)]
    changes: Vec<ServerChange>,
    repository: Option<Repository>,
    actor: Option<Actor>,
}

#[derive(Deserialize)]
struct CloudPush {
    #[serde(default)]
    changes: Vec<CloudChange>,
}

#[derive(Deserialize)]
struct CloudChange {
    new: Option<CloudRef>,
    old: Option<CloudRef>,
}

#[derive(Deserialize)]
struct CloudRef {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    target: Option<CloudTarget>,
}

#[derive(Deserialize)]
struct CloudTarget {
    hash: Option<String>,
}

#[derive(Deserialize)]
struct ServerChange {
    #[serde(rename = "ref")]
    git_ref: ServerRef,
    #[serde(rename = "toHash", default)]
    to_hash: String,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct ServerRef {
    id: String,
}

#[derive(Deserialize)]
struct Repository {
    full_name: Option<String>,
    slug: Option<String>,
    project: Option<ServerProject>,
}

#[derive(Deserialize)]
struct ServerProject {
    key: Option<String>,
}

#[derive(Deserialize)]
struct Actor {
    nickname: Option<String>,
    display_name: Option<String>,
    name: Option<String>,
}

impl Provider for Bitbucket {
    /// Cloud's id header; Server sends `X-Request-Id`, too generic to trust as the provider's.
    fn id_headers(&self) -> &'static [&'static str] {
        &["x-request-uuid"]
    }

    fn verify(&self, call: &HookCall) -> Result<(), Error> {
        verify_sha256_body(call, "X-Hub-Signature")
    }

    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let event_name = call.request.header("x-event-key").unwrap_or("repo:push").to_string();
        let body = json_body(call.request)?;
        let payload: Payload = parse_json(&body)?;
        let repository = payload.repository.as_ref().map(repository_name).unwrap_or_default();
        let sender = payload
            .actor
            .as_ref()
            .and_then(|a| a.nickname.clone().or(a.name.clone()).or(a.display_name.clone()))
            .unwrap_or_default();
        let base = Event { provider_event: event_name.clone(), repository, sender, ..Default::default() };
        if event_name == "diagnostics:ping" {
            return Ok(vec![Event { kind: EventKind::Ping, ..base }]);
        }
        if event_name != "repo:push" && event_name != "repo:refs_changed" {
            return Ok(vec![Event { kind: EventKind::Other, ..base }]);
        }
        let cloud_changes = payload.push.map(|p| p.changes).unwrap_or_default();
        super::check_fan_out(cloud_changes.len() + payload.changes.len(), &base)?;
        let mut events = Vec::new();
        for change in cloud_changes {
            // A deleted ref has no `new`; it is kept as a deleted event, which never fires.
            let (reference, deleted) = match (change.new, change.old) {
                (Some(new), _) => (new, false),
                (None, Some(old)) => (old, true),
                (None, None) => continue,
            };
            let prefix = if reference.kind == "tag" { "refs/tags/" } else { "refs/heads/" };
            let git_ref = format!("{prefix}{}", reference.name);
            let commit = reference.target.and_then(|t| t.hash).unwrap_or_default();
            events.push(Event { kind: Event::push_kind(&git_ref), git_ref, commit, deleted, ..base.clone() });
        }
        for change in payload.changes {
            let git_ref = change.git_ref.id;
            let deleted = change.kind == "DELETE" || Event::is_zero_sha(&change.to_hash);
            events.push(Event {
                kind: Event::push_kind(&git_ref),
                git_ref,
                commit: change.to_hash,
                deleted,
                ..base.clone()
            });
        }
        if events.is_empty() {
            events.push(Event { kind: EventKind::Other, ..base });
        }
        Ok(events)
    }
}

fn repository_name(repository: &Repository) -> String {
    if let Some(full_name) = &repository.full_name {
        return full_name.clone();
    }
    match (&repository.project.as_ref().and_then(|p| p.key.clone()), &repository.slug) {
        (Some(key), Some(slug)) => format!("{key}/{slug}"),
        (None, Some(slug)) => slug.clone(),
        _ => String::new(),
    }
}
