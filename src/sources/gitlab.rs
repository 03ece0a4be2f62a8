//! GitLab: `X-Gitlab-Token` equal to the secret, or the newer signing token, which signs with
//! the Standard Webhooks scheme (`webhook-signature: v1,<base64>`).

use super::payload::parse_git_payload;
use super::standard::{signed_id, verify_standard};
use super::{replay, required_header, verdict, HookCall, Provider, ReplayId};
use crate::error::Error;
use crate::model::{Event, EventKind};
use crate::signature::any_secret_equals;

pub struct GitLab;

/// A signing token signs with the Standard Webhooks scheme; without one, the plain token is checked.
fn has_signing_token(call: &HookCall) -> bool {
    call.request.header("webhook-signature").is_some()
}

impl Provider for GitLab {
    fn verify(&self, call: &HookCall) -> Result<(), Error> {
        if has_signing_token(call) {
            return verify_standard(call);
        }
        let presented = required_header(call.request, "X-Gitlab-Token")?;
        verdict(any_secret_equals(&call.source.secret_values(), presented), "X-Gitlab-Token")
    }

    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let event_name = call.request.header("x-gitlab-event").unwrap_or("Push Hook");
        let payload = parse_git_payload(call.request)?;
        let is_push = matches!(event_name, "Push Hook" | "Tag Push Hook")
            || (event_name == "System Hook" && matches!(payload.object_kind.as_deref(), Some("push" | "tag_push")));
        let event =
            if is_push { payload.into_push(event_name) } else { payload.into_other(EventKind::Other, event_name) };
        Ok(vec![event])
    }

    /// With a signing token, the signed `webhook-id` (GitLab's `Idempotency-Key`, the same across
    /// retries); with a plain token, `X-Gitlab-Event-UUID` and the body's hash.
    fn replay_ids(&self, call: &HookCall) -> Vec<ReplayId> {
        if has_signing_token(call) {
            signed_id(call)
        } else {
            replay::unsigned(call, &["x-gitlab-event-uuid"])
        }
    }
}
