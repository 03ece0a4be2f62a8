//! Receiving a git webhook at `/hooks/{trigger_id}`: verify with the trigger's provider, parse
//! into normalized events, filter, refuse replays, and fire the target once per matching event.
//! KV cost: the trigger, the replay marker and the target (3 reads), one marker write, and the
//! throttled `last_used`. Never logs the body or a secret.

use crate::app::{App, Ctx};
use crate::error::Error;
use crate::fire::send_call;
use crate::http::Response;
use crate::model::{Call, Event, EventKind, Payload, Target, Trigger};
use crate::outbound::Outbound;
use crate::sources::{self, HookCall};
use crate::store::{keys, Store};
use crate::targets::TargetSpec;
use serde_json::json;
use std::collections::BTreeMap;

/// A delivery id is remembered this long (providers redeliver for up to a few days).
const DELIVERY_MEMORY_SECONDS: u64 = 3 * 24 * 60 * 60;

/// GitLab's pipeline events must never trigger GitLab pipelines, or a pipeline would trigger itself.
const LOOP_EVENTS: [&str; 2] = ["Pipeline Hook", "Job Hook"];

pub async fn receive<S: Store, O: Outbound>(app: &App<S, O>, ctx: &Ctx) -> Result<Response, Error> {
    let now = app.clock.now_ms();
    let unknown = || Error::not_found("unknown hook");
    let trigger = match app.catalog().find_trigger(ctx.param("id")).await {
        Ok(trigger) => trigger,
        Err(Error::NotFound(_)) => return Err(unknown()),
        Err(other) => return Err(other),
    };
    let source = trigger.source.as_ref().filter(|_| !trigger.is_expired(now)).ok_or_else(unknown)?;
    let provider = sources::provider(&source.kind).ok_or_else(unknown)?;
    let call = HookCall { request: &ctx.request, source, now_ms: now };
    provider.verify(&call)?;
    let events = provider.parse(&call)?;
    if events.iter().any(|event| event.kind() == EventKind::Ping) {
        return Ok(Response::json(200, &json!({"ok": true, "event": "ping"})));
    }
    let mut matching = Vec::new();
    let mut reasons = Vec::new();
    for event in events {
        match trigger.filter.check(&event) {
            Ok(()) => matching.push(event),
            Err(reason) => reasons.push(reason),
        }
    }
    if matching.is_empty() {
        return Ok(not_matched(&reasons.join("; ")));
    }
    let delivery_id = sources::delivery_id(&ctx.request);
    let seen_key = delivery_id.as_ref().map(|id| keys::delivery_seen(&trigger.id, id));
    if let Some(key) = &seen_key {
        if app.store.get(key).await?.is_some() {
            return Ok(Response::json(200, &json!({"duplicate": true, "delivery_id": delivery_id})));
        }
    }
    let target: Target = app.store.get_json(&keys::target(&trigger.target)).await?.ok_or_else(unknown)?;
    if matches!(target.spec, TargetSpec::Gitlab(_))
        && matching.iter().any(|e| LOOP_EVENTS.contains(&e.provider_event.as_str()))
    {
        return Ok(not_matched("a GitLab pipeline event is never forwarded to a GitLab target (loop guard)"));
    }
    let payload = Payload {
        content_type: ctx.request.header("content-type").unwrap_or("application/json").to_string(),
        body: ctx.request.body.clone(),
    };
    let mut deliveries = Vec::new();
    let mut retry_wanted = false;
    for mut event in matching {
        event.delivery_id = delivery_id.clone();
        let call = call_for(&trigger, &event, payload.clone(), now);
        let ref_name = call.ref_name.clone();
        match send_call(app, &trigger, &target, call).await {
            Ok(answer) => {
                retry_wanted |= answer.status >= 500 || answer.status == 429;
                deliveries.push(json!({"ref": ref_name, "target": target.name, "status": answer.status}));
            }
            Err(error) => {
                retry_wanted = true;
                deliveries.push(json!({"ref": ref_name, "target": target.name, "error": error.message()}));
            }
        }
    }
    let summary = json!({"matched": true, "delivery_id": delivery_id, "deliveries": deliveries});
    if retry_wanted {
        // Not remembered, so that the provider's own redelivery gets another try.
        return Ok(Response::json(502, &summary));
    }
    if let Some(key) = &seen_key {
        app.store.put(key, "1", Some(DELIVERY_MEMORY_SECONDS)).await?;
    }
    Ok(Response::json(202, &summary))
}

fn not_matched(reason: &str) -> Response {
    Response::json(202, &json!({"matched": false, "reason": reason}))
}

/// What the target is asked to run for `event`: its branch or tag (unless the trigger pins a ref),
/// the HOOKRELAY_* variables, the trigger's own variables, and the payload as it came.
pub fn call_for(trigger: &Trigger, event: &Event, payload: Payload, now_ms: u64) -> Call {
    let ref_name = trigger.pinned_ref.clone().unwrap_or_else(|| event.short_ref().to_string());
    let mut variables: BTreeMap<String, String> = [
        ("HOOKRELAY_EVENT", event.kind().as_str().to_string()),
        ("HOOKRELAY_REPOSITORY", event.repository.clone()),
        ("HOOKRELAY_REF", if event.git_ref.is_empty() { event.short_ref().to_string() } else { event.git_ref.clone() }),
        ("HOOKRELAY_COMMIT", event.commit.clone()),
        ("HOOKRELAY_DELIVERY", event.delivery_id.clone().unwrap_or_default()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    if let Some(image) = &event.image {
        variables.insert("HOOKRELAY_IMAGE".into(), image.reference());
        variables.insert("HOOKRELAY_TAG".into(), image.tag.clone());
        variables.insert("HOOKRELAY_DIGEST".into(), image.digest.clone());
    }
    variables.extend(trigger.variables.clone());
    Call {
        trigger_id: trigger.id.clone(),
        ref_name,
        variables,
        payload: Some(payload),
        image: event.image.clone(),
        workload: trigger.workload.clone(),
        containers: Vec::new(),
        now_ms,
    }
}
