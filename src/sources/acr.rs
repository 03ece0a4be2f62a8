//! Alibaba Container Registry: `push_data.tag`, and `repository.namespace`/`repository.name`
//! (the Docker Hub payload shape). Unsigned (see `registry.rs`).

use super::dockerhub::PushPayload;
use super::payload::{json_body, parse_json};
use super::registry::UnsignedRegistry;
use super::HookCall;
use crate::error::Error;
use crate::model::{Event, Image};

pub struct Acr;

impl UnsignedRegistry for Acr {
    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let payload: PushPayload = parse_json(&json_body(call.request)?)?;
        let repo = payload.repository;
        let repository = match (repo.namespace, repo.name) {
            (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
            _ => repo.repo_full_name.unwrap_or_default(),
        };
        let image = Image { repository, tag: payload.push_data.tag, digest: String::new() };
        Ok(vec![Event::image_push("push", image, payload.push_data.pusher)])
    }
}
