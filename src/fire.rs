//! Firing a trigger by its token: the hot path that every token invocation form shares
//! (GitLab's form, query, JSON, webhook and v3 forms). Two KV reads (trigger, target), and at
//! most one throttled write for `last_used`; never a listing. Never logs the token.

use crate::app::App;
use crate::auth::{constant_time_eq, TriggerToken};
use crate::error::Error;
use crate::http::Response;
use crate::model::call::validate_ref;
use crate::model::call::ContainerImage;
use crate::model::{Call, Delivery, Payload, Target, Trigger};
use crate::outbound::{Outbound, OutboundRequest, OutboundResponse};
use crate::store::{keys, Store};
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
}

/// Authenticates the token, checks the trigger's rules, fires its target, and relays the answer.
pub async fn fire_by_token<S: Store, O: Outbound>(app: &App<S, O>, call: TokenCall) -> Result<Response, Error> {
    // Cheap checks first: malformed input costs no KV read.
    if !call.ref_name.is_empty() {
        validate_ref(&call.ref_name)?;
    }
    let trigger = find_by_token(&app.store, &call.token, app.clock.now_ms()).await?;
    let target: Target = app
        .store
        .get_json(&keys::target(&trigger.target))
        .await?
        .ok_or_else(|| Error::not_found("the trigger's target is gone"))?;
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
    // The trigger's own variables first, so that the caller's win on a clash.
    let mut variables = trigger.variables.clone();
    variables.extend(call.variables);
    let answer = send_call(
        app,
        &trigger,
        &target,
        Call {
            trigger_id: trigger.id.clone(),
            ref_name: call.ref_name,
            variables,
            payload: call.payload,
            containers: call.containers,
            workload: trigger.workload.clone(),
            now_ms: app.clock.now_ms(),
            ..Call::default()
        },
    )
    .await?;
    let content_type = answer.header("content-type").unwrap_or("application/json").to_string();
    Ok(Response {
        status: answer.status,
        headers: vec![("content-type".into(), content_type), ("x-hookrelay-trigger".into(), trigger.id)],
        body: answer.body,
    })
}

/// Builds the target's request for `call`, sends it, and records the delivery and the trigger's
/// use (throttled). `Err` only when no answer came back at all, or the request could not be built;
/// the target's own error statuses are answers.
pub async fn send_call<S: Store, O: Outbound>(
    app: &App<S, O>,
    trigger: &Trigger,
    target: &Target,
    mut call: Call,
) -> Result<OutboundResponse, Error> {
    let catalog = app.catalog();
    let stamp = catalog.delivery_stamp();
    call.delivery = Delivery::id_for(&trigger.id, &stamp);
    let outcome = attempt(app, target, &call).await;
    // Bookkeeping must not turn a fired target into an error for the caller.
    let _ = catalog.record_use(trigger).await;
    let delivery = Delivery::record(trigger, target, &call, &outcome, &stamp);
    let _ = catalog.record_delivery(&delivery).await;
    outcome
}

/// The optional lookup, then the request itself.
async fn attempt<S: Store, O: Outbound>(
    app: &App<S, O>,
    target: &Target,
    call: &Call,
) -> Result<OutboundResponse, Error> {
    let kind = target.spec.kind();
    let unreachable = |detail| Error::TargetUnreachable { target: target.name.clone(), detail };
    let send = |mut request: OutboundRequest| {
        // Lets a target drop a repeat of the same delivery (a retry, a replay of a lost answer).
        request.headers.push(("idempotency-key".into(), call.delivery.clone()));
        app.outbound.send(request)
    };
    let looked_up = match kind.lookup(call)? {
        Some(request) => {
            let answer = send(request).await.map_err(unreachable)?;
            if !(200..300).contains(&answer.status) {
                // The lookup's own failure (a 404 for a missing workload) is the answer.
                return Ok(answer);
            }
            Some(answer)
        }
        None => None,
    };
    let request = kind.build_with(call, looked_up.as_ref())?;
    send(request).await.map_err(unreachable)
}

/// The live trigger that owns `token`, or `NotFound` for an unknown, revoked or expired one.
/// One read: the storage id is derived from the token's hash.
pub async fn find_by_token<S: Store>(store: &S, token: &TriggerToken, now_ms: u64) -> Result<Trigger, Error> {
    let not_found = || Error::not_found("unknown, revoked, expired or disabled trigger token");
    let trigger: Trigger = store.get_json(&keys::trigger(&token.trigger_id())).await?.ok_or_else(not_found)?;
    let stored_hash = trigger.token_hash.as_deref().unwrap_or("");
    let genuine = constant_time_eq(stored_hash.as_bytes(), token.hash().as_bytes());
    if !genuine || trigger.is_expired(now_ms) || !trigger.enabled {
        return Err(not_found());
    }
    Ok(trigger)
}
