//! Standard Webhooks: `webhook-id`, `webhook-timestamp`, and `webhook-signature` holding a
//! space-separated list of `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`. The secret is
//! `whsec_<base64 key>`; the timestamp must be within 5 minutes.

use super::payload::parse_git_payload;
use super::{check_timestamp, required_header, verdict, HookCall, Provider, ReplayId};
use crate::error::Error;
use crate::model::{Event, ProviderSource};
use crate::signature::{any_secret_matches, base64_decode, hmac_sha256};

pub struct StandardWebhooks;

pub const TOLERANCE_SECS: u64 = 5 * 60;

/// The HMAC key of a secret: the base64 after `whsec_`, or the secret's bytes when it has no prefix.
pub fn signing_key(secret: &str) -> Vec<u8> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => base64_decode(encoded).unwrap_or_else(|| secret.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    }
}

/// Verifies the Standard Webhooks headers; GitLab's signing tokens use the same scheme.
pub fn verify_standard(call: &HookCall) -> Result<(), Error> {
    let request = call.request;
    let id = required_header(request, "webhook-id")?;
    let timestamp = required_header(request, "webhook-timestamp")?;
    let signatures = required_header(request, "webhook-signature")?;
    check_timestamp("webhook-timestamp", timestamp, call.now_ms, TOLERANCE_SECS)?;
    let secrets = call.source.secret_values();
    let mut verified = false;
    for candidate in signatures.split(' ') {
        let Some(encoded) = candidate.strip_prefix("v1,") else { continue };
        let Some(presented) = base64_decode(encoded) else { continue };
        verified |= any_secret_matches(&secrets, &presented, |secret| {
            hmac_sha256(&signing_key(secret), &[id.as_bytes(), b".", timestamp.as_bytes(), b".", &request.body])
        });
    }
    verdict(verified, "webhook-signature")
}

/// The signed `webhook-id`: the only replay id of a Standard Webhooks call (a new id fails the
/// signature, so a replay must repeat it). Headers such as `Idempotency-Key` are never read.
pub fn signed_id(call: &HookCall) -> Vec<ReplayId> {
    call.request.header("webhook-id").map(|id| ReplayId::Signed(id.trim().to_string())).into_iter().collect()
}

impl Provider for StandardWebhooks {
    fn verify(&self, call: &HookCall) -> Result<(), Error> {
        verify_standard(call)
    }

    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        Ok(vec![parse_git_payload(call.request)?.into_guessed("webhook")])
    }

    fn replay_ids(&self, call: &HookCall) -> Vec<ReplayId> {
        signed_id(call)
    }

    fn validate(&self, source: &ProviderSource) -> Result<(), Error> {
        super::require_secrets(source)?;
        for secret in &source.secrets {
            let valid =
                secret.expose().strip_prefix("whsec_").and_then(base64_decode).is_some_and(|key| !key.is_empty());
            if !valid {
                return Err(Error::bad_request("source.secrets must be whsec_ followed by a base64 key"));
            }
        }
        Ok(())
    }
}
