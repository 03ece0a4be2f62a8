//! What the container-registry providers share. Docker Hub, Quay, ACR and the distribution
//! registry do not sign their calls: the endpoint URL (128 random bits) is the secret, and a
//! trigger may also require a configured secret in `Authorization` or in the `secret` query field.

use super::{replay, verdict, HookCall, Provider, ReplayId};
use crate::error::Error;
use crate::model::{Event, ProviderSource};
use crate::signature::any_secret_equals;

/// An unsigned container registry: it only parses. Verifying (the optional secret), validating and
/// being a registry are the same for all of them, written once in the `Provider` impl below.
pub trait UnsignedRegistry: Sync {
    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error>;
    /// None of them sends an id header: the body's hash, which stops the registry's own retries
    /// (anyone holding the URL could send any body anyway).
    fn replay_ids(&self, call: &HookCall) -> Vec<ReplayId> {
        replay::unsigned(call, &[])
    }
}

impl<R: UnsignedRegistry> Provider for R {
    fn verify(&self, call: &HookCall) -> Result<(), Error> {
        verify_optional_secret(call)
    }

    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        UnsignedRegistry::parse(self, call)
    }

    fn validate(&self, source: &ProviderSource) -> Result<(), Error> {
        validate_optional_secrets(source)
    }

    fn emits_images(&self) -> bool {
        true
    }

    fn replay_ids(&self, call: &HookCall) -> Vec<ReplayId> {
        UnsignedRegistry::replay_ids(self, call)
    }
}

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
    let from_query = call.request.query_field("secret");
    let presented = from_header
        .or(from_query)
        .ok_or_else(|| Error::BadSignature("Authorization (or the secret query field) is missing".into()))?;
    verdict(any_secret_equals(&secrets, &presented), "Authorization")
}

/// Secrets are optional for unsigned registries; when given they must be sane.
pub fn validate_optional_secrets(source: &ProviderSource) -> Result<(), Error> {
    if source.secrets.is_empty() {
        Ok(())
    } else {
        super::require_secrets(source)
    }
}
