//! Receiving a webhook at `/hooks/{id}`. The id names either a hook trigger (its own provider and
//! secret) or a registry endpoint (`reg_...`), whose image pushes fan out to every image trigger of
//! the pushed repository. Then, the same for both: verify, parse into normalized events, filter,
//! refuse replays, and queue a delivery for each matching (trigger, event) pair. The answer (202)
//! comes as soon as they are queued, well within a provider's timeout; the queue consumer
//! (`relay::consume`) makes the attempts.
//! KV cost here for a hook trigger: the trigger and its target (whose kind names the order key);
//! for a registry: the registry, one index listing per pushed repository, a read per candidate
//! trigger and one per distinct target. Then one request per fired target to its ledger, which
//! takes the deliveries in and answers repeats (replay ids), and no KV write. Each delivery then
//! costs the consumer two KV reads (trigger, target) and two ledger requests (attempt, outcome).
//! Bounded per webhook, whoever sends it: at most 100 events (so at most 100 index listings) and
//! 1,000 deliveries, or nothing is queued; an answer lists at most 100 deliveries and 5 reasons,
//! quoting at most 64 bytes of any value it repeats.
//! Never logs the body or a secret.

use crate::context::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use crate::ledger::Accepted;
use crate::model::{quoted, Call, DeliveryState, Event, EventKind, Payload, Registry, Source, Target, Trigger};
use crate::relay;
use crate::sources::{self, replay, HookCall, ReplayId};
use crate::targets::TargetSpec;
use serde_json::json;
use std::collections::BTreeMap;

/// The most deliveries (matching trigger and event pairs) one webhook may cause.
pub const MAX_DELIVERIES: usize = 1000;

/// The most deliveries a 202 answer lists (the rest are counted), and reasons a `matched: false`
/// gives: an answer never grows with the webhook.
const MAX_LISTED: usize = 100;
const MAX_REASONS: usize = 5;

/// GitLab's pipeline events must never trigger GitLab pipelines, or a pipeline would trigger itself.
const LOOP_EVENTS: [&str; 2] = ["Pipeline Hook", "Job Hook"];

/// What answers at a hook URL: one hook trigger, or a registry endpoint and its fan-out.
struct Endpoint {
    /// The id the replay markers are scoped to.
    id: String,
    source: crate::model::ProviderSource,
    trigger: Option<Trigger>,
}

async fn endpoint(app: &App, id: &str, now: u64) -> Result<Endpoint, Error> {
    let unknown = |error: Error| match error {
        Error::NotFound(_) => Error::not_found("unknown hook"),
        other => other,
    };
    let catalog = app.catalog();
    if Registry::is_registry_id(id) {
        let registry = catalog.find_registry(id).await.map_err(unknown)?;
        return Ok(Endpoint { id: registry.id, source: registry.source, trigger: None });
    }
    let trigger = catalog.find_trigger(id).await.map_err(unknown)?;
    // A schedule has no hook URL: it answers as an unknown provider did, 404.
    match trigger.source.clone().filter(|_| !trigger.is_expired(now)) {
        Some(Source::Provider(source)) => Ok(Endpoint { id: trigger.id.clone(), source, trigger: Some(trigger) }),
        Some(Source::Schedule(_)) | None => Err(Error::not_found("unknown hook")),
    }
}

pub async fn receive(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let now = app.clock.now_ms();
    let endpoint = endpoint(app, ctx.param("id"), now).await?;
    let provider = sources::provider(&endpoint.source.kind).ok_or_else(|| Error::not_found("unknown hook"))?;
    let call = HookCall { request: &ctx.request, source: &endpoint.source, now_ms: now };
    if let Err(error) = provider.verify(&call) {
        if let Some(trigger) = &endpoint.trigger {
            count_refusal(app, trigger).await;
        }
        return Err(error);
    }
    let events = provider.parse(&call)?;
    sources::check_events(&events)?;
    if events.iter().any(|event| event.kind == EventKind::Ping) {
        return Ok(Response::json(200, &json!({"ok": true, "event": "ping"})));
    }
    let candidates = match &endpoint.trigger {
        Some(trigger) => vec![trigger.clone()],
        None => image_triggers(app, &events).await?,
    };
    let (matching, reasons) = pair_up(&candidates, &events, now)?;
    if matching.is_empty() {
        let reason = format!("filtered: {}", reasons.summary());
        return Ok(refused(app, &endpoint, &reason, not_matched(&reasons.summary()), true).await);
    }
    let replay_ids = provider.replay_ids(&call);
    let delivery_id = replay::delivery_label(&replay_ids);
    let mut gone = Reasons::default();
    let (firings, looped) = with_targets(app, matching, &mut gone).await?;
    if firings.is_empty() {
        let reason = match looped {
            true => "a GitLab pipeline event is never forwarded to a GitLab target (loop guard)".to_string(),
            false => format!("filtered: {}", gone.summary()),
        };
        return Ok(refused(app, &endpoint, &reason, not_matched(&reason), true).await);
    }
    let markers: Vec<String> = replay_ids.iter().map(ReplayId::ledger_key).collect();
    // The signature covered the raw body; what is kept and passed on holds no credential of the
    // source's (Gitee's `password` field, a token a provider echoes).
    let secrets = endpoint.source.secret_values();
    let mut payload = sources::payload::without_secrets(&ctx.request, provider.credential_field(), &secrets)?;
    if ctx.request.header("content-type").is_none() {
        payload.content_type = "application/json".into();
    }
    let total = firings.len();
    let (mut listed, mut new) = (Vec::new(), 0);
    for (target, firings) in by_target(firings) {
        let mut nth: BTreeMap<&str, usize> = BTreeMap::new();
        let arrivals = firings
            .into_iter()
            .map(|(trigger, mut event)| {
                event.delivery_id = delivery_id.clone();
                let call =
                    Call { hops: crate::loops::incoming(&ctx.request), ..call_for(trigger, &event, payload.clone()) };
                let delivery = relay::new_delivery(app, &trigger.id, &target.id, call);
                // Scoped to the endpoint, the trigger and the event's place among the trigger's
                // (a webhook may push several tags): one webhook's deliveries stay apart, and its
                // redelivery, parsed alike, names each the same.
                let n = nth.entry(trigger.id.as_str()).or_default();
                *n += 1;
                let ids = markers.iter().map(|marker| format!("{}|{}|{n}|{marker}", endpoint.id, trigger.id)).collect();
                relay::arrival(&target, trigger, delivery, relay::event(ids))
            })
            .collect::<Vec<_>>();
        let refs: Vec<(String, String)> = arrivals
            .iter()
            .map(|a| (a.delivery.trigger.clone(), quoted(&a.delivery.call.ref_name).into_owned()))
            .collect();
        // The deliveries of the targets before this one are queued; a provider's redelivery finds
        // them seen and fires only what was not.
        let answers = relay::queue_arrivals(app, &target.id, arrivals).await?;
        for ((trigger, ref_name), answer) in refs.into_iter().zip(answers) {
            let mut line = json!({"trigger": trigger, "target": target.id, "ref": ref_name});
            match answer.accepted {
                Accepted::New { .. } => {
                    new += 1;
                    line["delivery_id"] = json!(answer.id);
                    line["state"] = json!(DeliveryState::Pending);
                }
                Accepted::Duplicate { first_delivery_id, state } => {
                    line["delivery_id"] = json!(first_delivery_id);
                    line["state"] = json!(state);
                    line["duplicate"] = json!(true);
                }
            }
            if listed.len() < MAX_LISTED {
                listed.push(line);
            }
        }
    }
    if new == 0 {
        // Answered with the first delivery's id and state; every one, when it fanned out.
        let first = listed.first().cloned().unwrap_or_default();
        let mut answer = json!({"duplicate": true, "delivery_id": first["delivery_id"], "state": first["state"]});
        if listed.len() > 1 {
            answer["deliveries"] = json!(listed);
        }
        let answer = Response::json(200, &answer);
        return Ok(refused(app, &endpoint, "duplicate: a replay id seen before", answer, false).await);
    }
    let one = (total == 1).then(|| listed[0]["delivery_id"].as_str().map(str::to_string)).flatten();
    let mut answer = json!({"matched": true, "delivery_id": delivery_id, "deliveries": listed});
    if total > listed.len() {
        answer["not_listed"] = json!(total - listed.len());
    }
    let mut response = Response::json(202, &answer);
    // As a token call's answer does: the trigger of a hook trigger's URL, and a lone delivery.
    if let Some(trigger) = &endpoint.trigger {
        response.headers.push(("x-hookrelay-trigger".into(), trigger.id.clone()));
    }
    if let Some(one) = one {
        response.headers.push(("x-hookrelay-delivery".into(), one));
    }
    Ok(response)
}

/// The firings grouped by target, each group with its target: one ledger request per target.
fn by_target<'t>(firings: Vec<(&'t Trigger, Event, Target)>) -> Vec<(Target, Vec<(&'t Trigger, Event)>)> {
    let mut groups: Vec<(Target, Vec<(&'t Trigger, Event)>)> = Vec::new();
    for (trigger, event, target) in firings {
        match groups.iter_mut().find(|(known, _)| known.id == target.id) {
            Some((_, group)) => group.push((trigger, event)),
            None => groups.push((target, vec![(trigger, event)])),
        }
    }
    groups
}

/// The image triggers of every repository pushed in `events`.
async fn image_triggers(app: &App, events: &[Event]) -> Result<Vec<Trigger>, Error> {
    // Lower case, as the index is: `App` and `app` are one listing, and their triggers fire once.
    let mut repositories: Vec<String> = events
        .iter()
        .filter(|event| event.kind == EventKind::ImagePush)
        .filter_map(|event| event.image.as_ref().map(|image| image.repository.to_ascii_lowercase()))
        .collect();
    crate::sorting::sort_by(&mut repositories, |a, b| a.cmp(b));
    repositories.dedup();
    let mut triggers = Vec::new();
    for repository in repositories {
        triggers.extend(app.catalog().image_triggers(&repository).await?);
    }
    Ok(triggers)
}

type Pairs<'t> = Vec<(&'t Trigger, Event)>;

/// Every (trigger, event) pair that should fire, and the reasons the others should not. More than
/// [`MAX_DELIVERIES`] pairs is a 413 before anything is queued: nothing is dropped silently.
fn pair_up<'t>(triggers: &'t [Trigger], events: &[Event], now: u64) -> Result<(Pairs<'t>, Reasons), Error> {
    let mut matching = Vec::new();
    let mut reasons = Reasons::default();
    for trigger in triggers {
        if !trigger.enabled || trigger.is_expired(now) {
            reasons.push(format!("trigger {} is disabled or expired", trigger.id));
            continue;
        }
        for event in events {
            match trigger.filter.check(event) {
                Ok(()) if matching.len() == MAX_DELIVERIES => {
                    return Err(Error::TooMuchWork(format!(
                        "a webhook may cause at most {MAX_DELIVERIES} deliveries (matching trigger and event pairs); \
                         this one would cause more, so none was queued"
                    )))
                }
                Ok(()) => matching.push((trigger, event.clone())),
                Err(reason) => reasons.push(reason),
            }
        }
    }
    Ok((matching, reasons))
}

/// Why nothing matched, as the answer says it: the first few reasons and a count of the rest.
#[derive(Default)]
struct Reasons {
    shown: Vec<String>,
    more: usize,
}

impl Reasons {
    fn push(&mut self, reason: String) {
        if self.shown.len() < MAX_REASONS {
            self.shown.push(reason);
        } else {
            self.more += 1;
        }
    }

    fn summary(&self) -> String {
        match (self.shown.is_empty(), self.more) {
            (true, _) => "no image trigger for this repository".into(),
            (false, 0) => self.shown.join("; "),
            (false, more) => format!("{}; and {more} more", self.shown.join("; ")),
        }
    }
}

/// Reads each firing's target (each once: its kind decides the order key) and drops the pairs
/// that would loop: a GitLab pipeline or job event forwarded to a GitLab target. A pair whose
/// target is gone (deleted under its trigger) is dropped with a reason.
async fn with_targets<'t>(
    app: &App,
    matching: Vec<(&'t Trigger, Event)>,
    reasons: &mut Reasons,
) -> Result<(Vec<(&'t Trigger, Event, Target)>, bool), Error> {
    let mut targets: BTreeMap<String, Option<Target>> = BTreeMap::new();
    let (mut firings, mut looped) = (Vec::new(), false);
    for (trigger, event) in matching {
        if !targets.contains_key(&trigger.target) {
            targets.insert(trigger.target.clone(), app.catalog().target_by_id(&trigger.target).await?);
        }
        let Some(target) = targets.get(&trigger.target).cloned().flatten() else {
            reasons.push(format!("trigger {}'s target was deleted", trigger.id));
            continue;
        };
        let is_gitlab = matches!(target.spec, TargetSpec::Gitlab(_));
        if is_gitlab && LOOP_EVENTS.contains(&event.provider_event.as_str()) {
            looped = true;
        } else {
            firings.push((trigger, event, target));
        }
    }
    Ok((firings, looped))
}

/// Logs why a verified webhook is not forwarded, with its trigger's id, and (when `counted`: a
/// filter, not a repeat) counts it in the trigger's statistics; a registry endpoint is not named,
/// since its id is the only secret of its URL, and its refusals are not counted (no one trigger
/// refused them).
async fn refused(app: &App, endpoint: &Endpoint, reason: &str, answer: Response, counted: bool) -> Response {
    let trigger = endpoint.trigger.as_ref().map(|trigger| trigger.id.as_str());
    app.log.line(json!({"type": "refusal", "route": "/hooks/{id}", "trigger": trigger, "reason": reason}));
    if let (Some(trigger), true) = (&endpoint.trigger, counted) {
        count_refusal(app, trigger).await;
    }
    answer
}

/// Counts a refused webhook in its trigger's statistics: in the isolate's tally, sent to the
/// ledger at once only when the trigger's last send is a minute old (`ledger::refusals`). A failure
/// to send is logged, never answered: the webhook's answer does not depend on it.
async fn count_refusal(app: &App, trigger: &Trigger) {
    let now = app.clock.now_ms();
    if !app.refusals.count(&trigger.target, &trigger.id, now, app.settings.refusal_flush_ms) {
        return;
    }
    if let Err(error) = app.catalog().flush_refusals(&trigger.target).await {
        app.log.line(json!({"type": "error", "what": "counting a refusal", "trigger": trigger.id, "detail": error.for_the_log()}));
    }
}

fn not_matched(reason: &str) -> Response {
    Response::json(202, &json!({"matched": false, "reason": reason}))
}

/// What the target is asked to run for `event`: its branch or tag (unless the trigger pins a ref),
/// the HOOKRELAY_* variables, the trigger's own variables, and the payload as it came.
pub fn call_for(trigger: &Trigger, event: &Event, payload: Payload) -> Call {
    let ref_name = trigger.pinned_ref.clone().unwrap_or_else(|| event.short_ref().to_string());
    let event_ref = if event.git_ref.is_empty() { event.short_ref() } else { &event.git_ref };
    let facts =
        crate::model::EventFacts::new(event_ref, &ref_name, event.image.as_ref(), &event.repository, &event.commit);
    let mut variables: BTreeMap<String, String> = crate::sorting::map_of(
        [
            ("HOOKRELAY_EVENT", crate::model::wire_name(&event.kind)),
            ("HOOKRELAY_REPOSITORY", event.repository.clone()),
            ("HOOKRELAY_REF", event_ref.to_string()),
            ("HOOKRELAY_COMMIT", event.commit.clone()),
            ("HOOKRELAY_DELIVERY", event.delivery_id.clone().unwrap_or_default()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value)),
    );
    if let Some(image) = &event.image {
        variables.insert("HOOKRELAY_IMAGE".into(), image.reference());
        variables.insert("HOOKRELAY_TAG".into(), image.tag.clone());
        variables.insert("HOOKRELAY_DIGEST".into(), image.digest.clone());
    }
    variables.extend(trigger.variables.clone());
    Call {
        ref_name,
        variables,
        payload: Some(payload),
        image: event.image.clone(),
        facts: Some(facts),
        workload: trigger.workload.clone(),
        ..Call::default()
    }
}
