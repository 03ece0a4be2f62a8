//! Quay: `updated_tags[]` (one event per tag) and `repository`. Unsigned (see `registry.rs`).
//! Its payload has no id, time or digest: pushing `latest` again sends the very same body.

use super::payload::{json_body, parse_json};
use super::registry::UnsignedRegistry;
use super::{HookCall, ReplayId};
use crate::error::Error;
use crate::model::{Event, EventKind, Image};
use serde::Deserialize;

pub struct Quay;

#[derive(Deserialize)]
struct Payload {
    repository: String,
    #[serde(default)]
    updated_tags: Vec<String>,
}

impl UnsignedRegistry for Quay {
    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let payload: Payload = parse_json(&json_body(call.request)?)?;
        if payload.updated_tags.is_empty() {
            return Ok(vec![Event {
                kind: EventKind::Other,
                provider_event: "repo_push".into(),
                repository: payload.repository,
                ..Default::default()
            }]);
        }
        let shared = Event { repository: payload.repository.clone(), ..Default::default() };
        super::check_fan_out(payload.updated_tags.len(), &shared)?;
        let events = payload
            .updated_tags
            .into_iter()
            .map(|tag| {
                Event::image_push(
                    "repo_push",
                    Image { repository: payload.repository.clone(), tag, digest: String::new() },
                    String::new(),
                )
            })
            .collect();
        Ok(events)
    }

    /// None: a body hash would take every later push of the same tag for a replay. Nothing is
    /// lost against an attacker, who holds the URL, the only secret, and may send any body.
    fn replay_ids(&self, _call: &HookCall) -> Vec<ReplayId> {
        Vec::new()
    }
}
