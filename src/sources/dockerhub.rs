//! Docker Hub: `push_data.tag` and `repository.repo_name`. Unsigned (see `registry.rs`).

use super::payload::{json_body, parse_json};
use super::registry::UnsignedRegistry;
use super::HookCall;
use crate::error::Error;
use crate::model::{Event, Image};
use serde::Deserialize;

pub struct DockerHub;

#[derive(Deserialize)]
pub struct PushPayload {
    pub push_data: PushData,
    pub repository: Repository,
}

#[derive(Deserialize)]
pub struct PushData {
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub pusher: String,
}

#[derive(Deserialize)]
pub struct Repository {
    pub repo_name: Option<String>,
    pub repo_full_name: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl UnsignedRegistry for DockerHub {
    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let payload: PushPayload = parse_json(&json_body(call.request)?)?;
        let repository = payload.repository.repo_name.unwrap_or_default();
        let image = Image { repository, tag: payload.push_data.tag, digest: String::new() };
        Ok(vec![Event::image_push("push", image, payload.push_data.pusher)])
    }
}
