//! The body of a generic source (`hmac`, `standard`), which may be anything: any JSON shape, or
//! not JSON at all. It is never refused for its shape, and is forwarded whole; what the filters
//! and templates learn from it depends on the source's `fields`:
//! - set: the string at each JSON pointer (RFC 6901). A pointer that finds nothing, or finds
//!   anything but a non-empty string, leaves that fact unknown. A ref `refs/heads/x` or
//!   `refs/tags/x` is a branch or tag push, a bare name a branch; no ref is an `other` event;
//! - unset: a git server's push payload (`payload::GitPayload`) as it always was; any other body
//!   is an `other` event with no facts.
//!
//! The bounds are the usual ones: the body's size, its nesting (a deeper body is read as
//! opaque), and 255 bytes per fact (`Event::check_sizes`).

use super::payload::{json_body, GitPayload};
use super::HookCall;
use crate::error::Error;
use crate::http::check_json_depth;
use crate::model::{Event, EventKind, FieldPointers};
use serde_json::Value;
use std::borrow::Cow;

/// The generic sources' name for an event their body does not name.
const UNNAMED: &str = "webhook";

/// The longest pointer a source may set.
pub const MAX_POINTER_BYTES: usize = 255;

/// The one event in a generic source's body.
pub fn parse(call: &HookCall) -> Vec<Event> {
    let request = call.request;
    let body = json_body(request).unwrap_or(Cow::Borrowed(&request.body));
    let json = check_json_depth(&body).is_ok();
    let event = match &call.source.fields {
        Some(pointers) => {
            let value = json.then(|| serde_json::from_slice(&body).ok()).flatten().unwrap_or(Value::Null);
            mapped(&value, pointers)
        }
        None => match json.then(|| serde_json::from_slice::<GitPayload>(&body).ok()).flatten() {
            Some(payload) => payload.into_guessed(UNNAMED),
            None => Event { provider_event: UNNAMED.into(), ..Event::default() },
        },
    };
    vec![event]
}

/// The event the pointers find in `body`.
fn mapped(body: &Value, pointers: &FieldPointers) -> Event {
    let fact = |pointer: &Option<String>| {
        let found = pointer.as_deref().and_then(|pointer| body.pointer(pointer));
        found.and_then(Value::as_str).filter(|value| !value.is_empty()).map(str::to_string)
    };
    let git_ref = fact(&pointers.git_ref).map(|name| match name.starts_with("refs/") {
        true => name,
        false => format!("refs/heads/{name}"),
    });
    Event {
        kind: git_ref.as_deref().map_or(EventKind::Other, Event::push_kind),
        provider_event: fact(&pointers.event).unwrap_or_else(|| UNNAMED.into()),
        repository: fact(&pointers.repository).unwrap_or_default(),
        commit: fact(&pointers.commit).unwrap_or_default(),
        git_ref: git_ref.unwrap_or_default(),
        ..Event::default()
    }
}

/// Refuses (400, naming it) a pointer that is not one: neither empty nor starting with `/`, with a
/// `~` not followed by `0` or `1`, or longer than [`MAX_POINTER_BYTES`].
pub fn validate(pointers: &FieldPointers) -> Result<(), Error> {
    for (name, pointer) in pointers.named() {
        let Some(pointer) = pointer else { continue };
        if pointer.len() > MAX_POINTER_BYTES {
            return Err(Error::bad_request(format!("source.fields.{name} is longer than {MAX_POINTER_BYTES} bytes")));
        }
        let escapes = pointer.split('~').skip(1).all(|rest| rest.starts_with(['0', '1']));
        if !(pointer.is_empty() || pointer.starts_with('/')) || !escapes {
            return Err(Error::bad_request(format!(
                "source.fields.{name} is not a JSON pointer (RFC 6901): empty, or '/' before each key, as in \"/data/branch\""
            )));
        }
    }
    Ok(())
}
