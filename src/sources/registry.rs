//! What the container-registry providers share. Docker Hub, Quay, ACR and the distribution
//! registry do not sign their calls: the endpoint URL (128 random bits) is the secret, and a
//! trigger may also require a configured secret in `Authorization` or in the `secret` query field.

use super::{verdict, HookCall};
use crate::error::Error;
use crate::model::Source;
use crate::signature::any_secret_equals;

/// With no secrets configured the unguessable URL is the proof; otherwise one must be presented.
pub fn verify_optional_secret(call: &HookCall) -> Result<(), Error> {
    let secrets = call.source.secret_values();
    if secrets.is_empty() {
        return Ok(());
    }
    let from_header = call.request.header("authorization").map(|v| {
        let v = v.trim();
        v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).unwrap_or(v).to_string()
    });
    let from_query = call.request.query_pairs().into_iter().find(|(k, _)| k == "secret").map(|(_, v)| v);
    let presented = from_header
        .or(from_query)
        .ok_or_else(|| Error::BadSignature("Authorization (or the secret query field) is missing".into()))?;
    verdict(any_secret_equals(&secrets, &presented), "Authorization")
}

/// Secrets are optional for unsigned registries; when given they must be sane.
pub fn validate_optional_secrets(source: &Source) -> Result<(), Error> {
    if source.secrets.is_empty() {
        Ok(())
    } else {
        super::require_secrets(source)
    }
}
