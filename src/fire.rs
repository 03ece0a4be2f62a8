//! Firing a trigger by its token: the hot path that every token invocation form shares
//! (GitLab's form, query, JSON, webhook and v3 forms, ACK's `/hook/trigger`). Two KV reads
//! (trigger, target), no KV write, and two requests to the target's ledger (the delivery taken in
//! with its first attempt handed out, then the outcome; a third with an `Idempotency-Key`, to keep
//! the answer for its repeats); never a listing. Never logs the token.
//! The target is tried at once and its answer relayed, scrubbed of the target's credentials; if it
//! cannot take the call now (no answer, 5xx, 408, 429), the delivery is queued for retry and the
//! caller gets 202 with its id.

use crate::catalog::Catalog;
use crate::context::App;
use crate::crypto::{constant_time_eq, TriggerToken};
use crate::error::Error;
use crate::http::Response;
use crate::ledger::Cause;
use crate::model::call::validate_ref;
use crate::model::call::ContainerImage;
use crate::model::delivery::{redact, redact_bytes, FirstAnswer, Idempotency};
use crate::model::{Call, Payload, Trigger};
use crate::relay::{self, Fired, TryOutcome};

/// How long after its first call a repeat without a kept answer is told 409 (the first call is
/// still being answered: an attempt and a notification take 9 s each at most), not `duplicate`.
const ANSWER_GRACE_MS: u64 = 60_000;

/// How long a token call's `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_MEMORY_MS: u64 = 24 * 60 * 60 * 1000;
use serde_json::json;
use sha2::Digest;
use std::collections::BTreeMap;

/// A token call, whichever vendor form it came in.
#[derive(Debug)]
pub struct TokenCall {
    /// The target the caller addressed (GitLab's `:id`), if the form names one.
    pub project: Option<String>,
    pub token: TriggerToken,
    /// Empty for forms that name no ref (ACK's); then a trigger with a ref allow-list refuses.
    pub ref_name: String,
    pub variables: BTreeMap<String, String>,
    pub payload: Option<Payload>,
    /// Container images the caller sets (ACK's application form).
    pub containers: Vec<ContainerImage>,
    /// The caller's `Idempotency-Key`: a repeat within 24 hours fires nothing.
    pub idempotency_key: Option<String>,
    /// GitLab pipeline inputs, typed as sent.
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// The `X-Hookrelay-Hops` it came with (`loops::incoming`).
    pub hops: u32,
}

/// The caller's `Idempotency-Key`, if it sent one: 1 to 255 printable ASCII characters, or a 400.
pub fn idempotency_key(request: &crate::http::Request) -> Result<Option<String>, Error> {
    match request.header("idempotency-key").map(str::trim) {
        None => Ok(None),
        Some(key) if !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_string()))
        }
        Some(_) => Err(Error::bad_request("Idempotency-Key must be 1 to 255 printable ASCII characters")),
    }
}

/// Authenticates the token, checks the trigger's rules, fires its target, and relays the answer.
/// With an `Idempotency-Key`, the answer is kept on the delivery, and a repeat within 24 hours is
/// answered with it (`Idempotent-Replayed: true`): 422 when the key came with another request,
/// 409 while the first call is still being answered.
pub async fn fire_by_token(app: &App, call: TokenCall) -> Result<Response, Error> {
    // Cheap checks first: malformed input costs no KV read.
    if !call.ref_name.is_empty() {
        validate_ref(&call.ref_name)?;
    }
    let fingerprint = call.idempotency_key.as_ref().map(|_| fingerprint(&call));
    let catalog = app.catalog();
    let trigger = find_by_token(&catalog, &call.token, app.clock.now_ms()).await?;
    let target =
        catalog.target_by_id(&trigger.target).await?.ok_or_else(|| Error::not_found("the trigger's target is gone"))?;
    if call.project.as_deref().is_some_and(|project| !target.answers_to(project)) {
        return Err(Error::not_found("the token belongs to another project"));
    }
    if !trigger.allows_ref(&call.ref_name) {
        return Err(Error::bad_request(format!(
            "ref '{}' is not allowed by this trigger (allowed: {})",
            call.ref_name,
            trigger.refs.join(", ")
        )));
    }
    // Before anything is stored or sent: a token grants no image beyond its trigger's own.
    let containers = trigger.admit_caller_images(call.containers)?;
    // The trigger's own variables first, so that the caller's win on a clash.
    let mut variables = trigger.variables.clone();
    variables.extend(call.variables);
    // The vendor form already dropped the token field it read (`sources::payload::without_secrets`);
    // this second line catches the token's literal text anywhere else in the payload.
    let token = call.token.expose();
    let payload = call.payload.map(|mut payload| {
        payload.body = redact_bytes(&payload.body, &[token]);
        payload
    });
    let fired = Call {
        ref_name: call.ref_name,
        variables,
        payload,
        containers,
        workload: trigger.workload.clone(),
        inputs: call.inputs,
        hops: call.hops,
        ..Call::default()
    };
    let mut delivery = relay::new_delivery(app, &trigger.id, &target.id, fired);
    delivery.idempotency = fingerprint.clone().map(|request| Idempotency { request, answer: None });
    // The key is kept as a hash, scoped to the trigger, for a day.
    let replay_ids = call
        .idempotency_key
        .iter()
        .map(|key| format!("idempotency:{}|key:{}", trigger.id, hex::encode(sha2::Sha256::digest(key.as_bytes()))))
        .collect();
    let cause = Cause::Event { replay_ids, remember_ms: IDEMPOTENCY_MEMORY_MS };
    let fired = relay::fire_now(app, &trigger, &target, relay::arrival(&target, &trigger, delivery, cause)).await?;
    let id = match &fired {
        Fired::Repeat { first, state } => {
            let answer = repeat_answer(app, &target.id, first, *state, fingerprint.as_deref()).await;
            return named(answer, &trigger.id, first);
        }
        Fired::Tried { id, .. } => id.clone(),
    };
    let answer = first_answer(fired, &target.spec.kind().secrets());
    if fingerprint.is_some() {
        keep_first_answer(app, &target.id, &id, &answer, token).await;
    }
    named(answer, &trigger.id, &id)
}

/// Every answer names the trigger and the delivery (`X-Hookrelay-Trigger`,
/// `X-Hookrelay-Delivery`), a refusal too: a relayed answer has no room of its own for them, and
/// the request's log line reads them.
fn named(answer: Result<Response, Error>, trigger: &str, delivery: &str) -> Result<Response, Error> {
    match answer {
        Ok(mut response) => {
            response.headers.push(("x-hookrelay-trigger".into(), trigger.to_string()));
            response.headers.push(("x-hookrelay-delivery".into(), delivery.to_string()));
            Ok(response)
        }
        Err(error) => {
            Err(Error::OfDelivery { error: Box::new(error), trigger: trigger.into(), delivery: delivery.into() })
        }
    }
}

/// What a call that was tried is answered: the target's answer relayed (scrubbed of the target's
/// `secrets`: the caller holds a trigger token, not the target's credentials, and an error page or
/// an echo service may quote them), 202 when it is queued for retry, or why it could not be sent.
fn first_answer(fired: Fired, secrets: &[String]) -> Result<Response, Error> {
    match fired {
        Fired::Tried { outcome: TryOutcome::Answered(answer), .. } => {
            let content_type = redact(answer.header("content-type").unwrap_or("application/json"), secrets);
            Ok(Response {
                status: answer.status,
                headers: vec![("content-type".into(), content_type)],
                body: redact_bytes(&answer.body, secrets),
            })
        }
        Fired::Tried { outcome: TryOutcome::Unanswered(error), .. } => Err(error),
        Fired::Tried { id, status, outcome: TryOutcome::Pending, .. } => {
            Ok(Response::json(202, &json!({"delivery_id": id, "state": "pending", "status": status})))
        }
        Fired::Repeat { first, state } => Ok(duplicate(&first, state)),
    }
}

/// The answer of a repeat whose first call kept no answer (a record from before answers were
/// kept, or one whose answer could not be written): its delivery id and state.
fn duplicate(first: &str, state: Option<crate::model::DeliveryState>) -> Response {
    Response::json(200, &json!({"duplicate": true, "delivery_id": first, "state": state}))
}

/// Keeps the answer the first call got on its delivery, for its repeats (one more ledger request,
/// for calls with a key only). The token is scrubbed from it, as from everything stored. A
/// failure is not the caller's: the answer stands, and a repeat then gets `duplicate`.
async fn keep_first_answer(app: &App, target: &str, id: &str, answer: &Result<Response, Error>, token: &str) {
    let (status, content_type, body) = match answer {
        Ok(response) => {
            let content_type = response.header("content-type").unwrap_or("application/json").to_string();
            (response.status, content_type, response.body.clone())
        }
        // A refusal is kept as the native API words it.
        Err(error) => {
            let response = error.clone().into_response(crate::error::Dialect::Native, "");
            (response.status, "application/json".to_string(), response.body)
        }
    };
    let body = Payload { content_type, body: redact_bytes(&body, &[token]) };
    // A large answer is not kept (the budget counted the room for one of this size when the
    // delivery was taken in): its repeats get the first call's delivery id and state instead.
    if (body.body.len() + body.content_type.len()) as u64 > crate::ledger::budget::KEPT_ANSWER_BYTES {
        return;
    }
    if let Err(error) = app.catalog().note_first_answer(target, id, FirstAnswer { status, body }).await {
        app.log.line(json!({"type": "error", "delivery": id, "detail": format!("keeping the first answer: {}", error.for_the_log())}));
    }
}

/// A repeat of an `Idempotency-Key`: the first call's answer, read from its delivery.
async fn repeat_answer(
    app: &App,
    target: &str,
    first: &str,
    state: Option<crate::model::DeliveryState>,
    fingerprint: Option<&str>,
) -> Result<Response, Error> {
    let record = app.catalog().delivery_of(target, first).await?;
    let Some((at, idempotency)) = record.and_then(|delivery| Some((delivery.at, delivery.idempotency?))) else {
        return Ok(duplicate(first, state));
    };
    if Some(idempotency.request.as_str()) != fingerprint {
        return Err(Error::Unprocessable(
            "this Idempotency-Key was used with another request in the last 24 hours".into(),
        ));
    }
    match idempotency.answer {
        Some(FirstAnswer { status, body }) => Ok(Response {
            status,
            headers: vec![("content-type".into(), body.content_type), ("idempotent-replayed".into(), "true".into())],
            body: body.body,
        }),
        // Settled but not yet kept: the first call is still between its outcome and its answer
        // (its notification goes first). Past that, the answer was too large to keep, or its
        // invocation ended first.
        None if state == Some(crate::model::DeliveryState::Pending) || app.clock.now_ms() < at + ANSWER_GRACE_MS => {
            Err(Error::Conflict(
                "the first call with this Idempotency-Key is still being answered; retry in a moment".into(),
            ))
        }
        None => Ok(duplicate(first, state)),
    }
}

/// SHA-256 (hex) of what the caller sent, for telling a key's repeat from its reuse: the ref,
/// variables, inputs, images and payload, each length-prefixed, each list after its count.
fn fingerprint(call: &TokenCall) -> String {
    let mut hash = sha2::Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part(call.ref_name.as_bytes());
    part(&(call.variables.len() as u64).to_le_bytes());
    for (name, value) in &call.variables {
        part(name.as_bytes());
        part(value.as_bytes());
    }
    part(b"inputs");
    part(serde_json::to_string(&call.inputs).unwrap_or_default().as_bytes());
    part(&(call.containers.len() as u64).to_le_bytes());
    for container in &call.containers {
        part(container.name.as_bytes());
        part(container.image.as_bytes());
    }
    part(b"payload");
    part(call.payload.as_ref().map_or(&[][..], |payload| &payload.body));
    hex::encode(hash.finalize())
}

/// The live trigger that owns `token`, or `NotFound` for an unknown, revoked or expired one.
/// One read: the storage id is derived from the token's hash. Every failure takes the same path
/// (one read, one hash, one constant-time comparison) and the same answer, so neither the time nor
/// the body tells an unknown token from a revoked, disabled or expired one.
pub async fn find_by_token(catalog: &Catalog<'_>, token: &TriggerToken, now_ms: u64) -> Result<Trigger, Error> {
    let found = catalog.trigger_by_id(&token.trigger_id()).await?;
    let presented = token.hash();
    // With nothing stored, the presented hash is compared with a stand-in of the same length.
    let stand_in = "0".repeat(presented.len());
    let stored_hash = found.as_ref().and_then(|trigger| trigger.token_hash.as_deref()).unwrap_or(&stand_in);
    let genuine = constant_time_eq(stored_hash.as_bytes(), presented.as_bytes());
    match found {
        Some(trigger) if genuine && trigger.is_live(now_ms) => Ok(trigger),
        _ => Err(Error::not_found("unknown, revoked, expired or disabled trigger token")),
    }
}
