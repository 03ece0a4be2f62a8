//! The git push payload shapes the providers share (GitHub's, which Gitea, Gogs, Forgejo and
//! Gitee follow, and GitLab's), read field by field: serde skips everything else without
//! building a JSON tree, so a large payload costs little.

use crate::error::{json_error, Error};
use crate::http::Request;
use crate::model::delivery::{redact, redact_bytes};
use crate::model::{Event, EventKind, Payload};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;

#[derive(Debug, Default, Deserialize)]
pub struct GitPayload {
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub ref_type: Option<String>,
    pub after: Option<String>,
    pub checkout_sha: Option<String>,
    pub zen: Option<IgnoredAny>,
    pub object_kind: Option<String>,
    pub repository: Option<Repository>,
    pub project: Option<Project>,
    pub sender: Option<Person>,
    pub pusher: Option<Person>,
    pub user_username: Option<String>,
    pub user_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Repository {
    pub full_name: Option<String>,
    pub path_with_namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Project {
    pub path_with_namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Person {
    pub login: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
}

/// The JSON body: as sent, or from the `payload` field of a form (GitHub's and Gitea's form mode).
pub fn json_body(request: &Request) -> Result<Cow<'_, [u8]>, Error> {
    if request.media_type() == "application/x-www-form-urlencoded" {
        let form = request.form_pairs()?;
        let payload = form.into_iter().find(|(key, _)| key == "payload").map(|(_, value)| value);
        return payload
            .map(|p| Cow::Owned(p.into_bytes()))
            .ok_or_else(|| Error::bad_request("form body without a payload field"));
    }
    Ok(Cow::Borrowed(&request.body))
}

/// The payload as `T`; its error says what and where, never a value (`error::json_error`).
pub fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Error> {
    crate::http::check_json_depth(body)?;
    serde_json::from_slice(body).map_err(|err| Error::bad_request(format!("malformed JSON: {}", json_error(&err))))
}

/// A body as it is stored and forwarded: without the top-level `field` that carries a credential
/// (a JSON object's field, a form field or a multipart part: the GitLab webhook form's `token`,
/// Gitee's `password`), and without any of `secrets`' text in a decoded value or key. Replacing
/// the raw text alone would miss `\u0068rtt_...` in JSON and `%68rtt_...` in a form. A body that
/// holds neither passes on byte for byte, unparsed; a multipart one that does passes on as its
/// remaining fields, urlencoded. A body that is neither JSON nor a form and spells a secret once
/// decoded is refused: no scrub of its raw text could find it.
pub fn without_secrets(request: &Request, field: Option<&str>, secrets: &[&str]) -> Result<Payload, Error> {
    let content_type = request.header("content-type").unwrap_or("application/octet-stream").to_string();
    let unchanged = || Payload { content_type: content_type.clone(), body: request.body.clone() };
    let secrets: Vec<&str> = secrets.iter().copied().filter(|secret| secret.len() >= 4).collect();
    if !might_hold(&request.body, field, &secrets) {
        return Ok(unchanged());
    }
    // JSON whatever its label says: a target may well parse a `text/plain` body as JSON, and
    // `\u0068rtt_...` in it would then be the secret.
    let labelled_form =
        matches!(request.media_type().as_str(), "application/x-www-form-urlencoded" | "multipart/form-data");
    // Parsed once: as JSON when labelled so (an error is the caller's), else tried quietly.
    let json: Option<Value> = if request.is_json() {
        Some(parse_json(&request.body)?)
    } else if labelled_form {
        None
    } else {
        crate::http::check_json_depth(&request.body).ok().and_then(|()| serde_json::from_slice(&request.body).ok())
    };
    if let Some(mut value) = json {
        let had_field = value.as_object_mut().and_then(|fields| field.and_then(|field| fields.remove(field))).is_some();
        if !(scrub_json(&mut value, &secrets) || had_field) {
            return Ok(unchanged());
        }
        return Ok(Payload { content_type, body: value.to_string().into_bytes() });
    }
    if !labelled_form {
        let decoded = crate::http::percent_decode(&String::from_utf8_lossy(&request.body), true);
        if secrets.iter().any(|secret| decoded.contains(secret)) {
            return Err(Error::bad_request("the payload holds a credential; send it only where it is read"));
        }
        return Ok(unchanged());
    }
    let fields = request.form_pairs()?;
    let kept: Vec<(String, String)> = fields
        .iter()
        .filter(|(key, _)| Some(key.as_str()) != field)
        .map(|(key, value)| (redact(key, &secrets), redact(value, &secrets)))
        .collect();
    if kept == fields {
        return Ok(unchanged());
    }
    let form = "application/x-www-form-urlencoded".to_string();
    Ok(Payload { content_type: form, body: crate::http::encode_form(&kept).into_bytes() })
}

/// Whether a body could hold `field` or a secret in any spelling a reader decodes: its raw text,
/// an escape (`\u`, `%`) that could spell either, or a secret as `redact` finds it. Most bodies
/// hold none, and pass on unparsed.
fn might_hold(body: &[u8], field: Option<&str>, secrets: &[&str]) -> bool {
    let holds = |needle: &[u8]| !needle.is_empty() && body.windows(needle.len()).any(|window| window == needle);
    field.is_some_and(|field| holds(field.as_bytes()))
        || holds(b"\\u")
        || body.contains(&b'%')
        || redact_bytes(body, secrets) != body
}

/// Replaces every secret in every decoded string and key, in each spelling `redact` knows (as
/// written, percent-encoded, escaped); a string that still spells one once percent-decoded (a
/// lower-case escape) is replaced whole. Whether anything changed.
fn scrub_json(value: &mut Value, secrets: &[&str]) -> bool {
    let spelled = |text: &str| {
        let decoded = crate::http::percent_decode(text, true);
        secrets.iter().any(|secret| decoded.contains(secret))
    };
    let holds = |text: &str| redact(text, secrets) != text || spelled(text);
    let scrubbed = |text: &str| {
        let text = redact(text, secrets);
        if spelled(&text) {
            crate::model::delivery::REDACTED.to_string()
        } else {
            text
        }
    };
    match value {
        Value::String(text) if holds(text) => {
            *text = scrubbed(text);
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| scrub_json(item, secrets) | changed),
        Value::Object(fields) => {
            let mut changed = false;
            for (key, mut item) in std::mem::take(fields) {
                changed |= scrub_json(&mut item, secrets) | holds(&key);
                fields.insert(if holds(&key) { scrubbed(&key) } else { key }, item);
            }
            changed
        }
        _ => false,
    }
}

pub fn parse_git_payload(request: &Request) -> Result<GitPayload, Error> {
    parse_json(&json_body(request)?)
}

fn first(options: &[Option<&String>]) -> String {
    options.iter().flatten().next().map(|s| s.to_string()).unwrap_or_default()
}

impl GitPayload {
    pub fn repository_name(&self) -> String {
        let repo = self.repository.as_ref();
        first(&[
            repo.and_then(|r| r.full_name.as_ref()),
            repo.and_then(|r| r.path_with_namespace.as_ref()),
            self.project.as_ref().and_then(|p| p.path_with_namespace.as_ref()),
        ])
    }

    pub fn sender_name(&self) -> String {
        let sender = self.sender.as_ref();
        let pusher = self.pusher.as_ref();
        first(&[
            sender.and_then(|s| s.login.as_ref()),
            sender.and_then(|s| s.username.as_ref()),
            self.user_username.as_ref(),
            pusher.and_then(|p| p.username.as_ref()),
            pusher.and_then(|p| p.name.as_ref()),
            self.user_name.as_ref(),
        ])
    }

    /// The event for a push: its kind from the ref, deleted when `after` is all zeros.
    pub fn into_push(self, provider_event: &str) -> Event {
        let git_ref = self.git_ref.clone().unwrap_or_default();
        let after = self.after.clone().unwrap_or_default();
        let commit = self.checkout_sha.clone().filter(|sha| !sha.is_empty()).unwrap_or_else(|| after.clone());
        Event {
            kind: Event::push_kind(&git_ref),
            provider_event: provider_event.to_string(),
            repository: self.repository_name(),
            sender: self.sender_name(),
            deleted: Event::is_zero_sha(&after),
            git_ref,
            commit,
            ..Default::default()
        }
    }

    /// An event that is not a push: a ping, or anything else, kept for the filters to refuse.
    pub fn into_other(self, kind: EventKind, provider_event: &str) -> Event {
        Event {
            kind,
            provider_event: provider_event.to_string(),
            repository: self.repository_name(),
            sender: self.sender_name(),
            git_ref: self.git_ref.clone().unwrap_or_default(),
            ..Default::default()
        }
    }

    /// For senders that name no event (generic HMAC, Standard Webhooks): a ping if it says `zen`,
    /// a push if it has a ref, else other.
    pub fn into_guessed(self, provider_event: &str) -> Event {
        if self.zen.is_some() {
            self.into_other(EventKind::Ping, provider_event)
        } else if self.git_ref.as_deref().is_some_and(|r| r.starts_with("refs/")) {
            self.into_push(provider_event)
        } else {
            self.into_other(EventKind::Other, provider_event)
        }
    }
}

/// The usual mapping for GitHub-style event names (`push`, `ping`, anything else).
pub fn github_style_event(request: &Request, event_name: &str) -> Result<Vec<Event>, Error> {
    let payload = parse_git_payload(request)?;
    let event = match event_name {
        "push" => payload.into_push(event_name),
        "ping" => payload.into_other(EventKind::Ping, event_name),
        _ => payload.into_other(EventKind::Other, event_name),
    };
    Ok(vec![event])
}
