//! The Docker registry (distribution) notification envelope: `events[action==push]` of a manifest,
//! `target.{repository,tag,digest}`. Layer (blob) pushes are not image pushes. Unsigned (see `registry.rs`).

use super::payload::{json_body, parse_json};
use super::registry::UnsignedRegistry;
use super::HookCall;
use crate::error::Error;
use crate::model::{Event, EventKind, Image};
use serde::Deserialize;

pub struct Distribution;

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    events: Vec<Notification>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(default)]
    action: String,
    target: Option<Target>,
    actor: Option<Actor>,
}

#[derive(Deserialize)]
struct Target {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    digest: String,
}

#[derive(Deserialize)]
struct Actor {
    #[serde(default)]
    name: String,
}

impl UnsignedRegistry for Distribution {
    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let envelope: Envelope = parse_json(&json_body(call.request)?)?;
        let mut events = Vec::new();
        for notification in envelope.events {
            let Some(target) = notification.target else { continue };
            if notification.action != "push" || !target.media_type.contains("manifest") {
                continue;
            }
            let sender = notification.actor.map(|a| a.name).unwrap_or_default();
            let image = Image { repository: target.repository, tag: target.tag, digest: target.digest };
            events.push(Event::image_push("push", image, sender));
        }
        if events.is_empty() {
            events.push(Event { kind: EventKind::Other, provider_event: "notification".into(), ..Default::default() });
        }
        Ok(events)
    }
}
