//! GitHub Container Registry: GitHub `package` and `registry_package` events, signed like
//! `github`. The tag is `...package_version.container_metadata.tag.name`; a push by digest has an
//! empty tag. Packages without container metadata (npm, maven, ...) are not image pushes.

use super::github::verify_sha256_body;
use super::payload::{json_body, parse_json};
use super::{HookCall, Provider};
use crate::error::Error;
use crate::model::{Event, EventKind, Image};
use serde::Deserialize;

pub struct Ghcr;

#[derive(Deserialize)]
struct Payload {
    package: Option<Package>,
    registry_package: Option<Package>,
    sender: Option<Login>,
}

#[derive(Deserialize)]
struct Package {
    #[serde(default)]
    name: String,
    owner: Option<Login>,
    package_version: Option<PackageVersion>,
}

#[derive(Deserialize)]
struct Login {
    #[serde(default)]
    login: String,
}

#[derive(Deserialize)]
struct PackageVersion {
    container_metadata: Option<ContainerMetadata>,
}

#[derive(Deserialize)]
struct ContainerMetadata {
    tag: Option<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    #[serde(default)]
    name: String,
    #[serde(default)]
    digest: String,
}

impl Provider for Ghcr {
    fn emits_images(&self) -> bool {
        true
    }

    fn id_headers(&self) -> &'static [&'static str] {
        &["x-github-delivery"]
    }

    fn verify(&self, call: &HookCall) -> Result<(), Error> {
        verify_sha256_body(call, "X-Hub-Signature-256")
    }

    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let event_name = call.request.header("x-github-event").unwrap_or("registry_package").to_string();
        if event_name == "ping" {
            return Ok(vec![Event { kind: EventKind::Ping, provider_event: event_name, ..Default::default() }]);
        }
        let payload: Payload = parse_json(&json_body(call.request)?)?;
        let sender = payload.sender.map(|s| s.login).unwrap_or_default();
        let Some(package) = payload.registry_package.or(payload.package) else {
            return Ok(vec![Event {
                kind: EventKind::Other,
                provider_event: event_name,
                sender,
                ..Default::default()
            }]);
        };
        let owner = package.owner.map(|o| o.login).unwrap_or_default();
        // ghcr.io image names are lower case: ghcr.io/{owner}/{name}.
        let repository = format!("{owner}/{}", package.name).to_ascii_lowercase();
        let tag = package.package_version.and_then(|v| v.container_metadata).and_then(|m| m.tag);
        let event = match tag {
            Some(tag) => {
                Event::image_push(&event_name, Image { repository, tag: tag.name, digest: tag.digest }, sender)
            }
            None => {
                Event { kind: EventKind::Other, provider_event: event_name, repository, sender, ..Default::default() }
            }
        };
        Ok(vec![event])
    }
}
