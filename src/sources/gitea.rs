//! Gitea, Forgejo and Gogs: the bare hex HMAC-SHA256 of the body in `X-Gitea-Signature`,
//! `X-Forgejo-Signature` or `X-Gogs-Signature`. Payloads follow GitHub's shape.

use super::payload::github_style_event;
use super::{verdict, HookCall, Provider};
use crate::error::Error;
use crate::model::Event;
use crate::signature::{any_secret_matches, hmac_sha256};

pub struct Gitea;

const SIGNATURES: [&str; 3] = ["X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature"];
const EVENTS: [&str; 4] = ["x-gitea-event", "x-forgejo-event", "x-gogs-event", "x-github-event"];

impl Provider for Gitea {
    fn id_headers(&self) -> &'static [&'static str] {
        &["x-gitea-delivery", "x-forgejo-delivery", "x-gogs-delivery"]
    }

    fn verify(&self, call: &HookCall) -> Result<(), Error> {
        let (header, value) = SIGNATURES
            .iter()
            .find_map(|name| call.request.header(name).map(|value| (*name, value.trim())))
            .ok_or_else(|| {
                Error::BadSignature("X-Gitea-Signature (or X-Forgejo-Signature, X-Gogs-Signature) is missing".into())
            })?;
        let presented = hex::decode(value).map_err(|_| Error::BadSignature(format!("{header} is not hex")))?;
        let body = &call.request.body;
        let verified = any_secret_matches(&call.source.secret_values(), &presented, |secret| {
            hmac_sha256(secret.as_bytes(), &[body])
        });
        verdict(verified, header)
    }

    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let event_name = EVENTS.iter().find_map(|name| call.request.header(name)).unwrap_or("push");
        github_style_event(call.request, event_name)
    }
}
