//! A call: what a target is asked to run (a ref, variables, and optionally the payload that
//! caused it). Also the rule for what counts as a ref.

use super::Image;
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Kept in its delivery record (and queued with it), so that a retry or a replay asks the same.
/// The three fields that are skipped belong to one attempt and are set when it is made.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Call {
    /// The id of the trigger that fired.
    #[serde(skip)]
    pub trigger_id: String,
    /// hookrelay's id for this delivery; every outbound request carries it as `Idempotency-Key`.
    #[serde(skip)]
    pub delivery: String,
    #[serde(rename = "ref", default)]
    pub ref_name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// A GitLab pipeline's typed `inputs` (strings, numbers, booleans, arrays), as the caller sent
    /// them; a `gitlab` target passes them on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// The body that caused the call, passed on as it came (GitLab's webhook form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    /// The pushed image, for image events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<super::Image>,
    /// The facts of the event that caused it (a webhook's, a schedule's); none for a token call,
    /// and none in a record written before they were kept (see [`Call::event_facts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<EventFacts>,
    /// The workload a Kubernetes target acts on (the trigger's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<super::Workload>,
    /// Images the caller sets on named containers along with a restart (ACK's application form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerImage>,
    /// How many hookrelay deliveries came before it: the `X-Hookrelay-Hops` its request came in
    /// with (0 from anyone else, and in a record written before it was kept). Every request made
    /// for it carries one more (`loops`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hops: u32,
    /// When the call is made, for targets that stamp it (a rollout restart).
    #[serde(skip)]
    pub now_ms: u64,
}

fn is_zero(count: &u32) -> bool {
    *count == 0
}

/// What the event says, as templates fill it in: `{{branch}}`, `{{tag}}`, `{{repository}}`,
/// `{{commit}}` (the image and its digest are the call's `image`). Decided once, when the call is
/// made; the `HOOKRELAY_*` variables are a view of the same event for targets that take variables.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventFacts {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repository: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commit: String,
}

impl EventFacts {
    /// The facts of an event whose ref is `event_ref` (`refs/heads/x`, `refs/tags/x`, an image's
    /// tag, or empty) for a call that runs `call_ref`. With no event ref and no image (a schedule,
    /// a token call) the call's ref counts as a branch unless it names a tag.
    pub fn new(event_ref: &str, call_ref: &str, image: Option<&Image>, repository: &str, commit: &str) -> EventFacts {
        let branch = match event_ref.strip_prefix("refs/heads/") {
            Some(branch) => branch.to_string(),
            None if event_ref.is_empty() && image.is_none() && !call_ref.starts_with("refs/tags/") => {
                call_ref.to_string()
            }
            None => String::new(),
        };
        let tag = match (event_ref.strip_prefix("refs/tags/"), image) {
            (Some(tag), _) => tag.to_string(),
            (None, Some(image)) => image.tag.clone(),
            (None, None) => call_ref.strip_prefix("refs/tags/").unwrap_or_default().to_string(),
        };
        let repository = image.map_or(repository, |image| image.repository.as_str()).to_string();
        EventFacts { branch, tag, repository, commit: commit.to_string() }
    }
}

impl Call {
    /// Its event's facts; for a call without them (a token call, whose caller may send the
    /// `HOOKRELAY_*` variables itself, or a record from before they were kept), read from its
    /// variables as the webhook path set them.
    pub fn event_facts(&self) -> EventFacts {
        if let Some(facts) = &self.facts {
            return facts.clone();
        }
        let variable = |key: &str| self.variables.get(key).map_or("", String::as_str);
        let (event_ref, repository, commit) =
            (variable("HOOKRELAY_REF"), variable("HOOKRELAY_REPOSITORY"), variable("HOOKRELAY_COMMIT"));
        EventFacts::new(event_ref, &self.ref_name, self.image.as_ref(), repository, commit)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerImage {
    pub name: String,
    /// A full image reference, `registry/namespace/name:tag`.
    pub image: String,
}

/// Stored as text when it is UTF-8 (every JSON or form payload), else as base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "StoredPayload", try_from = "StoredPayload")]
pub struct Payload {
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Payload {
    /// What a list of deliveries shows instead of the body, as one string (a struct's serde code
    /// would cost the wasm more): `{size in bytes} {SHA-256 in hex} {content type}`.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        format!("{} {} {}", self.body.len(), hex::encode(sha2::Sha256::digest(&self.body)), self.content_type)
    }
}

#[derive(Serialize, Deserialize)]
struct StoredPayload {
    content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
}

impl From<Payload> for StoredPayload {
    fn from(payload: Payload) -> Self {
        let (text, base64) = match String::from_utf8(payload.body) {
            Ok(text) => (Some(text), None),
            Err(err) => (None, Some(crate::signature::base64_encode(err.as_bytes()))),
        };
        StoredPayload { content_type: payload.content_type, text, base64 }
    }
}

impl TryFrom<StoredPayload> for Payload {
    type Error = &'static str;

    fn try_from(stored: StoredPayload) -> Result<Self, Self::Error> {
        let body = match (stored.text, stored.base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(encoded)) => crate::signature::base64_decode(&encoded).ok_or("payload: bad base64")?,
            _ => return Err("payload: one of text or base64"),
        };
        Ok(Payload { content_type: stored.content_type, body })
    }
}

/// Accepts branch and tag names (git's `check-ref-format` rules) and refuses commit SHAs,
/// because only branches and tags can be triggered.
pub fn validate_ref(ref_name: &str) -> Result<(), Error> {
    let invalid = |why: &str| {
        Err(Error::bad_request(format!("ref '{}' is not a valid branch or tag name: {why}", printable(ref_name))))
    };
    if ref_name.is_empty() {
        return Err(Error::bad_request("ref is missing"));
    }
    if ref_name.len() > crate::model::MAX_NAME_BYTES {
        return Err(Error::bad_request("ref is longer than 255 bytes"));
    }
    if is_commit_sha(ref_name) {
        return Err(Error::bad_request("ref must be a branch or tag name; a commit SHA cannot be triggered"));
    }
    if ref_name.chars().any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')) {
        return invalid("it contains a space, a control character or one of ~^:?*[\\");
    }
    if ref_name.contains("..") || ref_name.contains("@{") || ref_name.contains("//") || ref_name == "@" {
        return invalid("it contains '..', '@{' or '//', or is '@'");
    }
    if ref_name.starts_with('/') || ref_name.ends_with('/') || ref_name.ends_with('.') || ref_name.ends_with(".lock") {
        return invalid("it starts or ends with '/', or ends with '.' or '.lock'");
    }
    if ref_name.split('/').any(|component| component.starts_with('.')) {
        return invalid("a component starts with '.'");
    }
    Ok(())
}

/// GitLab's limits on trigger variables, used for every source of variables.
/// The most inputs a call may carry, and the most bytes one may take as JSON.
pub const MAX_INPUTS: usize = 100;
pub const MAX_INPUT_BYTES: usize = 10 * 1024;

pub const MAX_VARIABLES: usize = 200;
const MAX_VARIABLE_KEY_BYTES: usize = 255;
const MAX_VARIABLE_VALUE_BYTES: usize = 10 * 1024;

/// A variable key is 1 to 255 letters, digits or `_`; a value at most 10 KiB.
pub fn validate_variable(key: &str, value: &str) -> Result<(), Error> {
    if key.is_empty()
        || key.len() > MAX_VARIABLE_KEY_BYTES
        || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(Error::bad_request(format!(
            "variables: key '{}' must be 1 to 255 letters, digits or '_'",
            printable(key).chars().take(64).collect::<String>()
        )));
    }
    if value.len() > MAX_VARIABLE_VALUE_BYTES {
        return Err(Error::bad_request(format!("variables: the value of {key} is larger than 10 KiB")));
    }
    Ok(())
}

fn is_commit_sha(ref_name: &str) -> bool {
    matches!(ref_name.len(), 40 | 64) && ref_name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_and_tags_are_valid_refs() {
        for ok in ["main", "release/1.0", "v1.2.3", "refs/heads/main", "feature/JIRA-12_x", "deadbeef"] {
            assert_eq!(validate_ref(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn commit_shas_are_refused_with_a_clear_message() {
        let sha1 = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";
        let sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        for sha in [sha1, sha256, &sha1.to_uppercase()] {
            let err = validate_ref(sha).unwrap_err();
            assert!(err.message().contains("commit SHA"), "{sha}");
        }
    }

    #[test]
    fn malformed_refs_are_refused() {
        for bad in [
            "",
            "a b",
            "a..b",
            "a~1",
            "x^",
            "a:b",
            "/main",
            "main/",
            "a//b",
            "x.lock",
            "x.",
            ".hidden",
            "a/.b",
            "@",
            "a@{1}",
            "a\nb",
            &"x".repeat(256),
        ] {
            assert!(validate_ref(bad).is_err(), "{bad:?}");
        }
    }
}
