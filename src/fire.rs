//! Firing a trigger by its token: the hot path that every token invocation form shares
//! (GitLab's form, query, JSON, webhook and v3 forms, ACK's `/hook/trigger`). Two KV reads
//! (trigger, target), no KV write, and two requests to the target's ledger (the delivery taken in
//! with its first attempt handed out, then the outcome); never a listing. Never logs the token.
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
use crate::model::delivery::{redact, redact_bytes};
use crate::model::{Call, Payload, Trigger};
use crate::relay::{self, Fired, TryOutcome};

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
pub async fn fire_by_token(app: &App, call: TokenCall) -> Result<Response, Error> {
    // Cheap checks first: malformed input costs no KV read.
    if !call.ref_name.is_empty() {
        validate_ref(&call.ref_name)?;
    }
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
    // The vendor form already dropped the token field it read (`gitlab::payload_without_token`);
    // this second line catches the token's literal text anywhere else in the payload.
    let payload = call.payload.map(|mut payload| {
        payload.body = redact_bytes(&payload.body, &[call.token.expose()]);
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
    let delivery = relay::new_delivery(app, &trigger.id, &target.id, fired);
    // The key is kept as a hash, scoped to the trigger, for a day.
    let replay_ids = call
        .idempotency_key
        .iter()
        .map(|key| format!("idempotency:{}|key:{}", trigger.id, hex::encode(sha2::Sha256::digest(key.as_bytes()))))
        .collect();
    let cause = Cause::Event { replay_ids, remember_ms: IDEMPOTENCY_MEMORY_MS };
    let fired = relay::fire_now(app, &trigger, &target, relay::arrival(&target, &trigger, delivery, cause)).await?;
    // Every answer names the trigger and the delivery (`X-Hookrelay-Trigger`, `X-Hookrelay-Delivery`):
    // a relayed answer has no room of its own for them, and the request's log line reads them.
    let named = |mut response: Response, delivery: &str| {
        response.headers.push(("x-hookrelay-trigger".into(), trigger.id.clone()));
        response.headers.push(("x-hookrelay-delivery".into(), delivery.to_string()));
        response
    };
    let (answer, id) = match fired {
        // A repeat within 24 hours: the first call's delivery id and state; nothing fires.
        Fired::Repeat { first, state } => {
            let body = json!({"duplicate": true, "delivery_id": first, "state": state});
            return Ok(named(Response::json(200, &body), &first));
        }
        Fired::Tried { id, outcome: TryOutcome::Answered(answer), .. } => (answer, id),
        Fired::Tried { outcome: TryOutcome::Unanswered(error), .. } => return Err(error),
        Fired::Tried { id, status, outcome: TryOutcome::Pending, .. } => {
            let body = json!({"delivery_id": id, "state": "pending", "status": status});
            return Ok(named(Response::json(202, &body), &id));
        }
    };
    // The caller holds a trigger token, not the target's credentials: an answer that echoes them
    // (an error page quoting the request, an echo service) must not hand them over.
    let secrets = target.spec.kind().secrets();
    let content_type = redact(answer.header("content-type").unwrap_or("application/json"), &secrets);
    let relayed = Response {
        status: answer.status,
        headers: vec![("content-type".into(), content_type)],
        body: redact_bytes(&answer.body, &secrets),
    };
    Ok(named(relayed, &id))
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
