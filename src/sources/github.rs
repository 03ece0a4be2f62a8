//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. There is no fallback to
//! the SHA-1 `X-Hub-Signature`: a weaker signature is not accepted because a stronger one is absent.

use super::payload::github_style_event;
use super::{prefixed_hex, required_header, verdict, HookCall, Provider};
use crate::error::Error;
use crate::model::Event;
use crate::signature::{any_secret_matches, hmac_sha256};

pub struct GitHub;

const SIGNATURE: &str = "X-Hub-Signature-256";

/// Shared with the other providers that sign the body the same way (Bitbucket, GHCR).
pub fn verify_sha256_body(call: &HookCall, header: &str) -> Result<(), Error> {
    let presented = prefixed_hex(header, required_header(call.request, header)?, "sha256=")?;
    let body = &call.request.body;
    let secrets = call.source.secret_values();
    verdict(any_secret_matches(&secrets, &presented, |secret| hmac_sha256(secret.as_bytes(), &[body])), header)
}

impl Provider for GitHub {
    fn id_headers(&self) -> &'static [&'static str] {
        &["x-github-delivery"]
    }

    fn verify(&self, call: &HookCall) -> Result<(), Error> {
        verify_sha256_body(call, SIGNATURE)
    }

    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let event_name = call.request.header("x-github-event").unwrap_or("push");
        github_style_event(call.request, event_name)
    }
}
