//! Standard Webhooks: `webhook-id`, `webhook-timestamp`, and `webhook-signature` holding a
//! space-separated list of `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`. The secret is
//! `whsec_<base64 key>`; the timestamp must be within 5 minutes. The body may be anything (`generic`).

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

/// The `webhook-signature` value for `body` sent as `id` at `timestamp` under `secret`: `v1,` and
/// the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`. `verify_standard` below checks it; tests
/// sign with it, as the standard-webhooks libraries pair `sign` with `verify`.
pub fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mac = hmac_sha256(&signing_key(secret), &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body]);
    format!("v1,{}", crate::signature::base64_encode(&mac))
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
        Ok(super::generic::parse(call))
    }

    fn maps_fields(&self) -> bool {
        true
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Request;
    use crate::model::Secret;

    fn vector() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/fixtures/standard-webhooks-vector.json")).unwrap()
    }

    fn source(secret: &str) -> ProviderSource {
        ProviderSource { kind: "standard".into(), secrets: vec![Secret::new(secret)], ..ProviderSource::default() }
    }

    /// A request signed by `sign`, with the three headers, less the one named `without`.
    fn signed(secret: &str, id: &str, timestamp: &str, body: &str, without: Option<&str>) -> Request {
        let headers = [
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", sign(secret, id, timestamp, body.as_bytes())),
        ];
        headers
            .into_iter()
            .filter(|(name, _)| Some(*name) != without)
            .fold(Request::new("POST", "/hooks/h").with_body("application/json", body), |request, (name, value)| {
                request.with_header(name, &value)
            })
    }

    #[test]
    fn sign_matches_the_published_vector() {
        let v = vector();
        let field = |name: &str| v[name].as_str().unwrap().to_string();
        let timestamp = v["timestamp"].to_string();
        assert_eq!(
            sign(&field("secret"), &field("msg_id"), &timestamp, field("payload").as_bytes()),
            field("expected_signature")
        );
    }

    #[test]
    fn a_signed_message_verifies_and_each_missing_header_is_named() {
        let secret = vector()["secret"].as_str().unwrap().to_string();
        let now_ms = 1_700_000_000_000;
        let timestamp = (now_ms / 1000).to_string();
        let source = source(&secret);
        let body = r#"{"type":"push","ref":"refs/heads/main"}"#;
        let request = signed(&secret, "msg_1", &timestamp, body, None);
        assert_eq!(verify_standard(&HookCall { request: &request, source: &source, now_ms }), Ok(()));
        for header in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let request = signed(&secret, "msg_1", &timestamp, body, Some(header));
            let refused = verify_standard(&HookCall { request: &request, source: &source, now_ms }).unwrap_err();
            assert_eq!((refused.status(), refused.message()), (401, format!("{header} is missing")));
        }
        let other_secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let forged = signed(other_secret, "msg_1", &timestamp, body, None);
        assert!(verify_standard(&HookCall { request: &forged, source: &source, now_ms }).is_err());
    }
}
