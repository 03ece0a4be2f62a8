//! Forwarding a delivery: hand it to its target's ledger, attempt it when the ledger says so,
//! report the outcome, and queue what comes next. Token calls and replays are attempted at once
//! (`fire_now`); webhooks and schedules are queued (`queue_arrivals`) and the queue consumer makes
//! each attempt (`consume`). The ledger decides (once per delivery id, order per key, retries);
//! this module only carries out what it decides. No `worker` import.
//!
//! A queue message carries the target and the delivery id, never the call: the record (with its
//! payload, up to 1 MiB) is in the target's ledger, strongly consistent, so that a consumer in
//! another location reads it as written.
//!
//! Cost of a webhook's delivery on the success path: KV 2 reads at the consumer (the trigger, to
//! see it is still live, and the target), the ledger 3 requests (accept, next, outcome).

use crate::context::App;
use crate::error::Error;
use crate::ledger::{AcceptAnswer, Accepted, AfterAttempt, Arrival, Cause, NextAttempt, WireReport, SEEN_FOR_MS};
use crate::model::{Call, Delivery, DeliveryState, Target, Trigger};
use crate::outbound::{OutboundRequest, OutboundResponse};
use crate::ports::Lane;
use serde::{Deserialize, Serialize};

/// A queue message: which delivery of which target's ledger to attempt.
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    target: String,
    delivery: String,
}

/// A new, pending delivery of `call` for `trigger_id` to `target_id`.
pub fn new_delivery(app: &App, trigger_id: &str, target_id: &str, call: Call) -> Delivery {
    app.catalog().new_delivery(trigger_id, target_id, call)
}

/// What arrives at the ledger for `delivery` of `trigger` to `target`: its order key (the
/// workload of a `kubernetes` or `ack` target, the ref otherwise) and the trigger's order.
pub fn arrival(target: &Target, trigger: &Trigger, delivery: Delivery, cause: Cause) -> Arrival {
    let key = target.spec.kind().order_key(&delivery.call);
    let order = trigger
        .order
        .unwrap_or_else(|| crate::model::trigger::Order::default_for(target.spec.kind_name(), trigger.origin.as_ref()));
    Arrival { delivery, key, order, cause }
}

/// A webhook's or schedule's replay ids, remembered 72 hours.
pub fn event(replay_ids: Vec<String>) -> Cause {
    Cause::Event { replay_ids, remember_ms: SEEN_FOR_MS }
}

/// What an attempt made at once came to, for the caller to answer with.
#[derive(Debug)]
pub enum TryOutcome {
    /// The target could not take it now (or an older delivery for its key is still out): the
    /// queue tries it later.
    Pending,
    /// The target's answer; the delivery is settled by it (delivered, failed, dead, superseded).
    Answered(OutboundResponse),
    /// No answer came, and none will: why.
    Unanswered(Error),
}

/// A call fired at once.
#[derive(Debug)]
pub enum Fired {
    /// Its replay id or `Idempotency-Key` was seen: nothing was sent. The first delivery's id and
    /// its state (none once its record is gone).
    Repeat { first: String, state: Option<DeliveryState> },
    /// Taken in as `id` and tried: its state after the attempt, the attempt's status, and what
    /// the caller is told.
    Tried { id: String, state: DeliveryState, status: Option<u16>, outcome: TryOutcome },
}

/// Hands `arrival` to `target`'s ledger and attempts it now, if the ledger says so. `Err` only
/// when the ledger or the queue could not be reached.
pub async fn fire_now(app: &App, trigger: &Trigger, target: &Target, arrival: Arrival) -> Result<Fired, Error> {
    let catalog = app.catalog();
    let mut answers = catalog.admit(&target.id, vec![arrival], true).await?;
    log_superseded(app, &target.id, &answers);
    let Some(AcceptAnswer { id, accepted, next }) = answers.pop() else {
        return Err(Error::Internal("the ledger answered no arrival".into()));
    };
    if let Accepted::Duplicate { first_delivery_id, state } = accepted {
        return Ok(Fired::Repeat { first: first_delivery_id, state });
    }
    let pending =
        |status| Fired::Tried { id: id.clone(), state: DeliveryState::Pending, status, outcome: TryOutcome::Pending };
    match next {
        Some(NextAttempt::Send { call, number }) => {
            let (outcome, after) = match attempt_and_report(app, target, &id, &call, number).await {
                Ok(done) => done,
                Err(error) => {
                    // Its outcome never reached the ledger: a message comes back once the
                    // attempt's lease lapses, so the delivery is not left pending with none.
                    let lapsed = (crate::ledger::ATTEMPT_LEASE_MS / 1000) as u32 + 1;
                    let _ = queue(app, &target.id, &id, lapsed).await;
                    return Err(error);
                }
            };
            let status = outcome.as_ref().ok().map(|answer| answer.status);
            if let AfterAttempt::Retry { delay_seconds } = after {
                if let Err(error) = queue(app, &target.id, &id, delay_seconds).await {
                    let why = format!("its retry could not be queued: {}", error.for_the_log());
                    let _ = catalog.abandon_delivery(&target.id, &id, &why).await;
                    return Err(error);
                }
                return Ok(pending(status));
            }
            let state = state_after(after, &outcome);
            if state == DeliveryState::Dead {
                dead_letter(app, &target.id, &id).await;
            }
            if after != AfterAttempt::Ignored {
                crate::notify::settled(app, trigger, target, &id, state, status, number, call.hops).await;
            }
            let outcome = match outcome {
                Ok(answer) => TryOutcome::Answered(answer),
                Err(error) => TryOutcome::Unanswered(error),
            };
            Ok(Fired::Tried { id, state, status, outcome })
        }
        // An older delivery for its key is still out: the queue brings it back when that is over.
        Some(NextAttempt::Wait { until_ms }) => {
            let delay = seconds_until(app, until_ms);
            if let Err(error) = queue(app, &target.id, &id, delay).await {
                let _ = catalog.release_delivery(&target.id, &id, "it could not be queued").await;
                return Err(error);
            }
            Ok(pending(None))
        }
        Some(
            NextAttempt::Superseded { .. }
            | NextAttempt::Dead { .. }
            | NextAttempt::Settled { .. }
            | NextAttempt::Unknown,
        )
        | None => Err(Error::Internal("a new delivery was not sent: the ledger handed out no attempt".into())),
    }
}

/// Hands a webhook's or schedule's deliveries (all for `target`) to its ledger and queues each new
/// one. If the queue refuses, the new ones are released (failed, their replay ids forgotten), so
/// that the provider's redelivery is taken as new, and the error is returned.
pub async fn queue_arrivals(app: &App, target: &str, arrivals: Vec<Arrival>) -> Result<Vec<AcceptAnswer>, Error> {
    let catalog = app.catalog();
    let answers = catalog.admit(target, arrivals, false).await?;
    log_superseded(app, target, &answers);
    let new: Vec<&str> =
        answers.iter().filter(|a| matches!(a.accepted, Accepted::New { .. })).map(|a| a.id.as_str()).collect();
    for (index, id) in new.iter().enumerate() {
        if let Err(error) = queue(app, target, id, 0).await {
            for id in &new[index..] {
                let _ = catalog.release_delivery(target, id, "it could not be queued").await;
            }
            return Err(error);
        }
    }
    Ok(answers)
}

/// Queues again the deliveries (target, id) whose messages were lost, as a ledger's sweep found
/// them, with a `requeued` log line each.
pub async fn requeue(app: &App, lost: &[(String, String)]) -> Result<(), Error> {
    for (target, id) in lost {
        app.log.line(serde_json::json!({"type": "requeued", "delivery_id": id, "target": target}));
        queue(app, target, id, 0).await?;
    }
    Ok(())
}

/// Queues delivery `id` of `target` for an attempt after `delay_seconds`.
async fn queue(app: &App, target: &str, id: &str, delay_seconds: u32) -> Result<(), Error> {
    let body = serde_json::to_string(&Message { target: target.to_string(), delivery: id.to_string() })
        .map_err(|err| Error::Queue(err.to_string()))?;
    app.queue.send(Lane::Deliveries, body, delay_seconds).await.map_err(Error::Queue)
}

/// The dead-letter copy: for inspection (the record, in the ledger, says `dead` either way), so a
/// failure to send it changes nothing.
async fn dead_letter(app: &App, target: &str, id: &str) {
    let body = serde_json::json!({"target": target, "delivery": id, "state": "dead"}).to_string();
    let _ = app.queue.send(Lane::DeadLetters, body, 0).await;
}

/// Makes the attempt the ledger handed out and reports it back.
async fn attempt_and_report(
    app: &App,
    target: &Target,
    id: &str,
    call: &Call,
    number: u32,
) -> Result<(Result<OutboundResponse, Error>, AfterAttempt), Error> {
    let started = app.clock.now_ms();
    // What the ledger keeps of a call leaves out what each attempt stamps on it.
    let trigger_id = trigger_of(id);
    let call = &Call { delivery: id.to_string(), trigger_id: trigger_id.to_string(), now_ms: started, ..call.clone() };
    let outcome = attempt(app, target, call).await;
    let duration = app.clock.now_ms().saturating_sub(started);
    let report = WireReport::new(started, duration, &outcome, &target.spec.kind().secrets());
    // The target has been asked. Its outcome is reported again if the ledger could not be reached
    // (a repeat is ignored: the ledger takes one report per attempt handed out); only if it never
    // is does the attempt count as unknown once its lease lapses.
    let mut tries = 0;
    let after = loop {
        tries += 1;
        match app.catalog().report_attempt(&target.id, id, report.clone()).await {
            Ok(after) => break after,
            Err(error) if tries >= REPORT_TRIES => return Err(error),
            Err(_) => continue,
        }
    };
    let status = outcome.as_ref().ok().map(|answer| answer.status);
    log_attempt(app, target, id, call, number, status, duration, after, &outcome);
    Ok((outcome, after))
}

/// How many times an attempt's outcome is offered to the ledger before the attempt is left to its
/// lease.
const REPORT_TRIES: u32 = 3;

/// How often a message whose trigger or target cannot be read yet comes back, and how long it
/// waits each time: past KV's minute of propagation and its cached miss, several times over.
const MAX_HANDOVERS_UNSEEN: u32 = 6;
const UNSEEN_RETRY_SECONDS: u32 = 60;
/// The longest a queue message may be delayed.
const MAX_QUEUE_DELAY_SECONDS: u32 = 12 * 60 * 60;

/// What the queue does with a message once the consumer has handled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Done with: delivered, failed, dead, superseded, or nothing left to deliver.
    Ack,
    /// Deliver this same message again after `delay_seconds` (`message.retry({delaySeconds})`).
    Retry { delay_seconds: u32 },
}

/// Handles one message from the deliveries queue: the delivery's next attempt, if its ledger says
/// so. `handover` is how many times the platform has handed over this very message (its
/// `attempts`, 1 the first time). However often a message is handed over (a duplicate, an
/// invocation that died), the ledger hands each attempt out once.
pub async fn consume(app: &App, body: &str, handover: u32) -> Settlement {
    match consume_once(app, body, handover).await {
        Ok(settlement) => settlement,
        // Storage failed: the same message comes back.
        Err(_) => Settlement::Retry { delay_seconds: app.settings.retry.delay_seconds(handover, 0) },
    }
}

async fn consume_once(app: &App, body: &str, handover: u32) -> Result<Settlement, Error> {
    // Not ours (or from an older version): dropping it is all that can be done.
    let Ok(message) = serde_json::from_slice::<Message>(body.as_bytes()) else { return Ok(Settlement::Ack) };
    let Message { target: target_id, delivery: id } = &message;
    let catalog = app.catalog();
    let now = app.clock.now_ms();
    // KV may not show a trigger or target written in another location for up to a minute (and
    // caches the miss): the message comes back later rather than the delivery failing.
    let wait_for_kv = handover < MAX_HANDOVERS_UNSEEN;
    let later = Settlement::Retry { delay_seconds: UNSEEN_RETRY_SECONDS };
    let trigger_id = trigger_of(id);
    let trigger = catalog.trigger_by_id(trigger_id).await?;
    let why = match &trigger {
        Some(trigger) if trigger.is_live(now) => None,
        Some(_) => Some("the trigger was disabled or expired before this attempt"),
        None if wait_for_kv => return Ok(later),
        None => Some("the trigger was deleted before this attempt"),
    };
    let target = match why {
        Some(_) => None,
        None => match catalog.target_by_id(target_id).await? {
            None if wait_for_kv => return Ok(later),
            found => found,
        },
    };
    let (Some(target), Some(trigger)) = (target, trigger) else {
        let why = why.unwrap_or("the target was deleted before this attempt");
        // `false`: settled already, or an attempt of it is out; either way nothing is left to do.
        catalog.abandon_delivery(target_id, id, why).await?;
        return Ok(Settlement::Ack);
    };
    match catalog.next_attempt(target_id, id).await? {
        NextAttempt::Send { call, number } => {
            let (outcome, after) = attempt_and_report(app, &target, id, &call, number).await?;
            if let AfterAttempt::Retry { delay_seconds } = after {
                return Ok(Settlement::Retry { delay_seconds });
            }
            let state = state_after(after, &outcome);
            if state == DeliveryState::Dead {
                dead_letter(app, target_id, id).await;
            }
            if after != AfterAttempt::Ignored {
                let status = outcome.as_ref().ok().map(|answer| answer.status);
                crate::notify::settled(app, &trigger, &target, id, state, status, number, call.hops).await;
            }
            Ok(Settlement::Ack)
        }
        NextAttempt::Wait { until_ms } => Ok(Settlement::Retry { delay_seconds: seconds_until(app, until_ms) }),
        NextAttempt::Dead { attempts } => {
            dead_letter(app, target_id, id).await;
            // The answer holds no call (its attempt lapsed): its hop count is in the record, read
            // only when a notification goes out; a record that cannot be read counts as at the
            // limit, so that no loop outlives it.
            let notifies = trigger.notify.is_some() && trigger.notify_on.contains(&DeliveryState::Dead);
            let record = match notifies {
                true => catalog.delivery_of(target_id, id).await.ok().flatten(),
                false => None,
            };
            let hops = record.map_or(crate::loops::MAX_HOPS, |delivery| delivery.call.hops);
            crate::notify::settled(app, &trigger, &target, id, DeliveryState::Dead, None, attempts, hops).await;
            Ok(Settlement::Ack)
        }
        NextAttempt::Superseded { by } => {
            log_superseded_one(app, target_id, id, &by);
            Ok(Settlement::Ack)
        }
        NextAttempt::Settled { .. } => Ok(Settlement::Ack),
        NextAttempt::Unknown => {
            // The ledger is strongly consistent: a delivery it does not have has expired (its
            // retention is over) or was never taken in. Said, then dropped.
            app.log.line(
                serde_json::json!({"type": "expired", "delivery_id": id, "target": target_id, "handovers": handover}),
            );
            Ok(Settlement::Ack)
        }
    }
}

/// The trigger a delivery id names (`{trigger}-{stamp}`); empty for an id that is none.
fn trigger_of(id: &str) -> &str {
    Delivery::split_id(id).map(|(trigger, _)| trigger).unwrap_or_default()
}

fn seconds_until(app: &App, until_ms: u64) -> u32 {
    let wait = until_ms.saturating_sub(app.clock.now_ms()).div_ceil(1000);
    (wait as u32).clamp(1, MAX_QUEUE_DELAY_SECONDS)
}

/// One log line per delivery that a newer one for its key made `superseded`, when that happens.
fn log_superseded(app: &App, target: &str, answers: &[AcceptAnswer]) {
    for answer in answers {
        if let Accepted::New { superseded, .. } = &answer.accepted {
            for old in superseded {
                log_superseded_one(app, target, old, &answer.id);
            }
        }
    }
}

fn log_superseded_one(app: &App, target: &str, id: &str, by: &str) {
    app.log.line(serde_json::json!({"type": "superseded", "delivery_id": id, "superseded_by": by, "target": target}));
}

/// The Analytics Engine data point of one attempt: indexed (sampled) by trigger; `blob1` trigger,
/// `blob2` target kind, `blob3` outcome, `blob4` target id; `double1` status (0 without an
/// answer), `double2` duration in ms, `double3` attempt number. The README's queries read these.
pub fn attempt_point(
    trigger: &str,
    target: &Target,
    outcome: &str,
    status: Option<u16>,
    duration_ms: u64,
    number: u32,
) -> crate::ports::DataPoint {
    crate::ports::DataPoint {
        index: trigger.to_string(),
        blobs: vec![trigger.to_string(), target.spec.kind_name().to_string(), outcome.to_string(), target.id.clone()],
        doubles: vec![f64::from(status.unwrap_or(0)), duration_ms as f64, f64::from(number)],
    }
}

/// The state a delivery is in after an attempt: settled, or `pending` for a retry.
fn state_after(after: AfterAttempt, outcome: &Result<OutboundResponse, Error>) -> DeliveryState {
    match after {
        AfterAttempt::Retry { .. } => DeliveryState::Pending,
        AfterAttempt::Dead => DeliveryState::Dead,
        AfterAttempt::Superseded => DeliveryState::Superseded,
        AfterAttempt::Done | AfterAttempt::Ignored => match outcome {
            Ok(answer) if (200..300).contains(&answer.status) => DeliveryState::Delivered,
            _ => DeliveryState::Failed,
        },
    }
}

/// One log line per attempt: ids, the target's kind, the attempt's number, the status, how long it
/// took and what comes of it. Never the call, the answer or a credential.
#[allow(clippy::too_many_arguments)]
fn log_attempt(
    app: &App,
    target: &Target,
    id: &str,
    call: &Call,
    number: u32,
    status: Option<u16>,
    duration_ms: u64,
    after: AfterAttempt,
    outcome: &Result<OutboundResponse, Error>,
) {
    let outcome = match after {
        AfterAttempt::Retry { .. } => "retry".to_string(),
        _ => crate::model::wire_name(&state_after(after, outcome)),
    };
    app.log.line(serde_json::json!({
        "type": "attempt",
        "delivery_id": id,
        "trigger": call.trigger_id,
        "target_kind": target.spec.kind_name(),
        "attempt": number,
        "status": status,
        "duration_ms": duration_ms,
        "outcome": outcome,
    }));
    app.analytics.write(attempt_point(&call.trigger_id, target, &outcome, status, duration_ms, number));
}

/// Sends a delivery again as a new delivery, linked to the old one, and tries it at once. An
/// admin's replay is always sent: it is no repeat, and under `latest` it is the newest. Its hop
/// count is the replay request's (`hops`), since that request is what causes it.
pub async fn replay(app: &App, id: &str, hops: u32) -> Result<Delivery, Error> {
    let catalog = app.catalog();
    let old = catalog.find_delivery(id).await?;
    let trigger = catalog.find_trigger(&old.trigger).await.map_err(|_| Error::not_found("its trigger was deleted"))?;
    if !trigger.is_live(app.clock.now_ms()) {
        return Err(Error::Conflict("its trigger is disabled or expired; enable or extend it to replay".into()));
    }
    let target = catalog
        .target_by_id(&trigger.target)
        .await?
        .ok_or_else(|| Error::not_found("its trigger's target was deleted"))?;
    let delivery = new_delivery(app, &trigger.id, &target.id, Call { hops, ..old.call.clone() });
    let new_id = delivery.id.clone();
    let arrival = arrival(&target, &trigger, delivery, Cause::AdminReplay { of: old.id });
    // The outcome is in the delivery's attempts.
    fire_now(app, &trigger, &target, arrival).await?;
    catalog.delivery_of(&target.id, &new_id).await?.ok_or_else(|| Error::Internal("a replay vanished".into()))
}

/// The optional lookup, then the request itself, each carrying the delivery id as its
/// `Idempotency-Key`, so that a target can drop a repeat (a retry, a replay of a lost answer), and
/// the call's hop count plus one as `X-Hookrelay-Hops` (`loops`).
async fn attempt(app: &App, target: &Target, call: &Call) -> Result<OutboundResponse, Error> {
    let kind = target.spec.kind();
    // A target stored before a rule was added, or whose credential was dropped when its URL moved,
    // is refused here rather than sent half-made: never retried.
    kind.validate().map_err(|error| Error::bad_request(format!("the target's {}", error.message())))?;
    // The platform's error text may quote the URL, and a URL may hold a credential (its query).
    let unreachable = |detail: String| Error::TargetUnreachable {
        target: target.name.clone(),
        detail: crate::model::delivery::redact(&detail, &kind.secrets()),
    };
    let send = |mut request: OutboundRequest| {
        request.headers.push(("idempotency-key".into(), call.delivery.clone()));
        crate::loops::mark(&mut request, call.hops);
        app.outbound.send(request)
    };
    // Checked again here, for targets stored before the policy changed (a refusal is never
    // retried), and sent as checked: the URL fetch receives is the checked URL's serialization.
    let checked = |request| crate::outbound::checked_request(request, app.settings.allow_local_targets);
    let looked_up = match kind.lookup(call)? {
        Some(request) => {
            let answer = send(checked(request)?).await.map_err(unreachable)?;
            if !(200..300).contains(&answer.status) {
                // The lookup's own failure (a 404 for a missing workload) is the answer.
                return Ok(answer);
            }
            Some(answer)
        }
        None => None,
    };
    let request = kind.build_with(call, looked_up.as_ref())?;
    send(checked(request)?).await.map_err(unreachable)
}
