//! Harbor (and SWR Enterprise): `type == PUSH_ARTIFACT`, one event per `event_data.resources[]`
//! tag, repository `event_data.repository.repo_full_name`. With a secret configured, the
//! `Authorization` header must equal it, as Harbor's "Auth Header" setting sends it.

use super::payload::{json_body, parse_json};
use super::registry::UnsignedRegistry;
use super::HookCall;
use crate::error::Error;
use crate::model::{Event, EventKind, Image};
use serde::Deserialize;

pub struct Harbor;

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    operator: String,
    event_data: Option<EventData>,
}

#[derive(Deserialize)]
struct EventData {
    #[serde(default)]
    resources: Vec<Resource>,
    repository: Option<Repository>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    tag: String,
    #[serde(default)]
    digest: String,
}

#[derive(Deserialize)]
struct Repository {
    #[serde(default)]
    repo_full_name: String,
}

impl UnsignedRegistry for Harbor {
    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let payload: Payload = parse_json(&json_body(call.request)?)?;
        let data = payload.event_data.unwrap_or(EventData { resources: Vec::new(), repository: None });
        let repository = data.repository.map(|r| r.repo_full_name).unwrap_or_default();
        if payload.kind != "PUSH_ARTIFACT" {
            return Ok(vec![Event {
                kind: EventKind::Other,
                provider_event: payload.kind,
                repository,
                ..Default::default()
            }]);
        }
        let shared = Event { repository: repository.clone(), sender: payload.operator.clone(), ..Default::default() };
        super::check_fan_out(data.resources.len(), &shared)?;
        let events = data
            .resources
            .into_iter()
            .map(|resource| {
                // A push by digest reports the digest in `tag`; it has no tag.
                let tag = if resource.tag.starts_with("sha256:") { String::new() } else { resource.tag };
                let image = Image { repository: repository.clone(), tag, digest: resource.digest };
                Event::image_push(&payload.kind, image, payload.operator.clone())
            })
            .collect();
        Ok(events)
    }
}
