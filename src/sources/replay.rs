//! What makes a webhook single-use: the replay ids a provider names for a call. A repeat of any
//! one of them at the same endpoint is a replay. Only what the signature covers can stop a
//! replayer, so an unsigned id never stands alone. Never keeps a raw header value in a key, and
//! never reads a generic header (`Idempotency-Key`, `X-Request-Id`) that anyone may add.

use super::HookCall;
use sha2::{Digest, Sha256};

/// One reason a second arrival of the same webhook would be recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayId {
    /// An id inside the signed content (Standard Webhooks' `webhook-id`): changing it breaks the
    /// signature, so it alone makes the call single-use.
    Signed(String),
    /// The provider's own delivery id header. Unsigned: a repeat is a replay, a fresh one proves
    /// nothing, which is why it always comes with a `Content` id.
    Provider(String),
    /// The SHA-256 of what the signature covers (the body; Gitee's timestamp and sign).
    Content([u8; 32]),
}

/// The longest provider id kept as a delivery's id; longer or odd ones are still replay ids (hashed).
const MAX_SHOWN_ID: usize = 200;

impl ReplayId {
    /// The content id of `parts`, each length-prefixed so that no two splits hash alike.
    pub fn content(parts: &[&[u8]]) -> ReplayId {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        ReplayId::Content(hasher.finalize().into())
    }

    /// `kind:SHA-256 hex`, as the ledger keeps it: ids are hashed, so a key never holds a header
    /// value and never grows with one.
    pub fn ledger_key(&self) -> String {
        let (kind, digest) = self.marker();
        format!("{kind}:{digest}")
    }

    /// (kind, SHA-256 hex): the two parts of the ledger key.
    pub fn marker(&self) -> (&'static str, String) {
        match self {
            ReplayId::Signed(id) => ("signed", hex::encode(Sha256::digest(id.as_bytes()))),
            ReplayId::Provider(id) => ("id", hex::encode(Sha256::digest(id.as_bytes()))),
            ReplayId::Content(hash) => ("content", hex::encode(hash)),
        }
    }

    /// How this id is shown (HOOKRELAY_DELIVERY, `{{delivery_id}}`, the answer): a provider's id as
    /// its UI shows it, if short and printable; else the first 16 hex digits of its hash.
    pub fn shown(&self) -> String {
        match self {
            ReplayId::Signed(id) | ReplayId::Provider(id) if is_showable(id) => id.clone(),
            other => other.marker().1[..16].to_string(),
        }
    }
}

fn is_showable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_SHOWN_ID && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A webhook's delivery id: the provider's (signed or not) when it sent one, else the content's.
pub fn delivery_label(ids: &[ReplayId]) -> Option<String> {
    let named = ids.iter().find(|id| !matches!(id, ReplayId::Content(_)));
    named.or(ids.first()).map(ReplayId::shown)
}

/// The first of the provider's own id `headers` that is present and not blank.
pub fn provider_id(call: &HookCall, headers: &[&str]) -> Option<ReplayId> {
    headers
        .iter()
        .find_map(|name| call.request.header(name))
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| ReplayId::Provider(id.to_string()))
}

/// The default for a provider that signs no id: its own id header (if any) and the body's hash.
/// A replayer can change or drop the header, but not the body without breaking the signature.
pub fn unsigned(call: &HookCall, id_headers: &[&str]) -> Vec<ReplayId> {
    let mut ids: Vec<ReplayId> = provider_id(call, id_headers).into_iter().collect();
    ids.push(ReplayId::content(&[&call.request.body]));
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_id_is_shown_as_sent_unless_long_or_unprintable() {
        assert_eq!(ReplayId::Provider("72d3162e-cc78-11e3-81ab-4c9367dc0958".into()).shown().len(), 36);
        let long = ReplayId::Provider("x".repeat(201));
        assert_eq!(long.shown().len(), 16, "a hash, not the header");
        assert!(ReplayId::Signed("a b".into()).shown().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn markers_are_hashes_of_bounded_length_whatever_the_id() {
        let (kind, digest) = ReplayId::Provider("y".repeat(100_000)).marker();
        assert_eq!((kind, digest.len()), ("id", 64));
        assert_ne!(ReplayId::Provider("a".into()).marker(), ReplayId::Signed("a".into()).marker());
    }

    #[test]
    fn content_parts_are_length_prefixed() {
        assert_ne!(ReplayId::content(&[b"ab", b"c"]), ReplayId::content(&[b"a", b"bc"]));
    }

    #[test]
    fn the_label_prefers_the_providers_id_to_the_content_hash() {
        let content = ReplayId::content(&[b"{}"]);
        let label = delivery_label(&[ReplayId::Provider("d-1".into()), content.clone()]);
        assert_eq!(label.as_deref(), Some("d-1"));
        assert_eq!(delivery_label(std::slice::from_ref(&content)), Some(content.shown()));
        assert_eq!(delivery_label(&[]), None);
    }
}
