//! Forwarding a delivery: attempt it, record it, and queue its retry or its dead letter. Token
//! calls and replays try at once (`try_now`); webhooks and schedules queue the first attempt
//! (`enqueue`) and the queue consumer makes it (`consume`). No `worker` import.
//!
//! KV cost of a delivery on the success path: the target (1 read) and the record (1 write); a
//! token call adds the trigger's read. A retry reads the trigger again (it may have been disabled)
//! and writes the record once per attempt.

use crate::context::App;
use crate::error::Error;
use crate::model::delivery::Next;
use crate::model::{Call, Delivery, DeliveryState, Target};
use crate::outbound::{OutboundRequest, OutboundResponse};
use crate::ports::Lane;
use serde::{Deserialize, Serialize};

/// Queue messages are at most 128 KB; a delivery larger than this goes through KV instead.
const MAX_MESSAGE_BYTES: usize = 100 * 1024;

/// A queue message: the delivery itself, or (when it is too large) the id of its stored record.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Message {
    /// The record's id, and how many attempts had been made when it was queued (the record goes
    /// on counting, the message must not).
    Stored {
        stored: String,
        #[serde(default)]
        queued_attempts: u32,
    },
    Inline(Box<Delivery>),
}

/// A new, pending delivery of `call` for `trigger_id` to `target_id`.
pub fn new_delivery(app: &App, trigger_id: &str, target_id: &str, call: Call) -> Delivery {
    app.catalog().new_delivery(trigger_id, target_id, call)
}

/// What an attempt made at once came to, for the caller to answer with.
#[derive(Debug)]
pub enum TryOutcome {
    /// The target could not take it now; the queue retries it.
    Pending,
    /// The target's answer, and the delivery is settled by it (delivered, failed or dead).
    Answered(OutboundResponse),
    /// No answer came, and none will: why.
    Unanswered(Error),
}

/// Attempts `delivery` now, then records it and queues what comes next. `Err` only when that
/// could not be recorded or queued.
pub async fn try_now(app: &App, target: &Target, delivery: &mut Delivery) -> Result<TryOutcome, Error> {
    let started = app.clock.now_ms();
    let outcome = attempt(app, target, &delivery.call_at(started)).await;
    let duration = app.clock.now_ms().saturating_sub(started);
    let next = delivery.note(started, duration, &outcome, &target.spec.kind().secrets(), &app.settings.retry);
    log_attempt(app, target, delivery, delivery.attempts.len() as u32, duration, next);
    settle(app, delivery, next).await?;
    Ok(match outcome {
        _ if delivery.state == DeliveryState::Pending => TryOutcome::Pending,
        Ok(answer) => TryOutcome::Answered(answer),
        Err(error) => TryOutcome::Unanswered(error),
    })
}

/// Queues the delivery's retry (with backoff) or its dead letter, then records it as it stands.
/// A retry that cannot be queued is recorded `failed`, saying so, and the error is returned.
async fn settle(app: &App, delivery: &mut Delivery, next: Next) -> Result<(), Error> {
    let queued = match next {
        Next::Done => Ok(()),
        Next::Retry => {
            let mut random = [0u8; 4];
            app.random.fill(&mut random);
            let attempts = delivery.attempts.len() as u32;
            let delay = app.settings.retry.delay_seconds(attempts, u32::from_le_bytes(random));
            enqueue(app, delivery, delay).await
        }
        // The record says `dead` either way; the dead-letter copy is for inspection, and failing
        // to send it must not make the platform repeat the attempt.
        Next::Dead => send(app, Lane::DeadLetters, delivery, 0).await.or(Ok(())),
    };
    if let Err(error) = &queued {
        // The record is for admins: it keeps the platform's reason, which a caller never sees.
        delivery.fail(app.clock.now_ms(), &format!("its retry could not be queued: {}", error.for_the_log()));
    }
    // The target has answered: a record that cannot be written must not turn that answer into an
    // error, or the caller (or the queue) would fire the target again.
    let _ = app.catalog().record_delivery(delivery).await;
    queued
}

/// Queues `delivery` for an attempt after `delay_seconds`.
pub async fn enqueue(app: &App, delivery: &Delivery, delay_seconds: u32) -> Result<(), Error> {
    send(app, Lane::Deliveries, delivery, delay_seconds).await
}

async fn send(app: &App, lane: Lane, delivery: &Delivery, delay: u32) -> Result<(), Error> {
    let mut body = serde_json::to_string(delivery).map_err(|err| Error::Queue(err.to_string()))?;
    if body.len() > MAX_MESSAGE_BYTES {
        // One more write (and a read when consumed), only for a payload this large.
        app.catalog().record_delivery(delivery).await?;
        let stored = Message::Stored { stored: delivery.id.clone(), queued_attempts: delivery.attempts.len() as u32 };
        body = serde_json::to_string(&stored).unwrap_or_default();
    }
    app.queue.send(lane, body, delay).await.map_err(Error::Queue)
}

/// How often a message whose stored delivery cannot be read yet comes back, and how long it waits
/// each time: past KV's minute of propagation and its cached miss, several times over.
const MAX_HANDOVERS_UNSEEN: u32 = 6;
const UNSEEN_RETRY_SECONDS: u32 = 60;

/// What the queue does with a message once the consumer has handled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Done with: delivered, failed, dead, or nothing left to deliver.
    Ack,
    /// Deliver this same message again after `delay_seconds` (`message.retry({delaySeconds})`).
    Retry { delay_seconds: u32 },
}

/// Handles one message from the deliveries queue: the delivery's next attempt.
///
/// `delivered` is how many times the platform has handed over this very message (its `attempts`,
/// 1 the first time). A retry is this same message delivered again, never a new one, so however
/// often the platform redelivers it (an invocation that failed after the attempt, say), each
/// (delivery, attempt number) is attempted at most once and the attempts stay bounded by
/// `RETRY_MAX_ATTEMPTS`: the attempt number is the message's own attempts plus `delivered`, or one
/// more than the record already holds, whichever is larger.
pub async fn consume(app: &App, body: &str, delivered: u32) -> Settlement {
    match consume_once(app, body, delivered).await {
        Ok(settlement) => settlement,
        // Storage failed: the same message comes back, as a later attempt number.
        Err(_) => Settlement::Retry { delay_seconds: app.settings.retry.delay_seconds(delivered, 0) },
    }
}

async fn consume_once(app: &App, body: &str, delivered: u32) -> Result<Settlement, Error> {
    let carried = match serde_json::from_str::<Message>(body) {
        Ok(Message::Inline(delivery)) => Some((delivery.attempts.len() as u32, *delivery, false)),
        Ok(Message::Stored { stored, queued_attempts }) => match app.catalog().find_delivery(&stored).await {
            Ok(delivery) => Some((queued_attempts, delivery, true)),
            // Not found yet: KV may not show another location's write here for up to a minute (and
            // caches the miss), so the message comes back later rather than the delivery vanishing.
            Err(Error::NotFound(_)) if delivered < MAX_HANDOVERS_UNSEEN => {
                return Ok(Settlement::Retry { delay_seconds: UNSEEN_RETRY_SECONDS });
            }
            // Still not found after several minutes: the record truly expired. Said, then dropped.
            Err(Error::NotFound(_)) => {
                app.log.line(serde_json::json!({"type": "expired", "delivery_id": stored, "handovers": delivered}));
                None
            }
            Err(other) => return Err(other),
        },
        // Not ours (or from an older version): dropping it is all that can be done.
        Err(_) => None,
    };
    let Some((queued_attempts, carried, is_record)) = carried else { return Ok(Settlement::Ack) };
    // A stored delivery was just read from its record: no second read.
    let mut delivery = if is_record { carried } else { latest_record(app, carried, delivered).await? };
    if delivery.state != DeliveryState::Pending {
        // A redelivered message whose delivery was settled already.
        return Ok(Settlement::Ack);
    }
    let number = (queued_attempts + delivered.max(1)).max(delivery.attempts.len() as u32 + 1);
    let now = app.clock.now_ms();
    if number > app.settings.retry.max_attempts {
        // Only after an invocation died mid-attempt: that attempt counted, and it was the last.
        delivery.state = DeliveryState::Dead;
        settle(app, &mut delivery, Next::Dead).await?;
        return Ok(Settlement::Ack);
    }
    if !delivery.attempts.is_empty() {
        // A retry, maybe an hour later: the trigger must still be there and enabled.
        let live = app.catalog().find_trigger(&delivery.trigger).await.ok().filter(|t| t.is_live(now));
        if live.is_none() {
            delivery.fail(now, "the trigger was deleted, disabled or expired before this retry");
            app.catalog().record_delivery(&delivery).await?;
            return Ok(Settlement::Ack);
        }
    }
    let Some(target) = app.catalog().target_by_id(&delivery.target).await? else {
        delivery.fail(now, "the target was deleted");
        app.catalog().record_delivery(&delivery).await?;
        return Ok(Settlement::Ack);
    };
    let started = app.clock.now_ms();
    let outcome = attempt(app, &target, &delivery.call_at(started)).await;
    let duration = app.clock.now_ms().saturating_sub(started);
    let secrets = target.spec.kind().secrets();
    let next = delivery.note_attempt(number, started, duration, &outcome, &secrets, &app.settings.retry);
    log_attempt(app, &target, &delivery, number, duration, next);
    match next {
        Next::Retry => {
            let _ = app.catalog().record_delivery(&delivery).await;
            Ok(Settlement::Retry { delay_seconds: retry_delay(app, number) })
        }
        next => {
            // Never `Err` from here on: the target has answered, and an `Err` would attempt it again.
            let _ = settle(app, &mut delivery, next).await;
            Ok(Settlement::Ack)
        }
    }
}

/// One log line per attempt: ids, the target's kind, the attempt's number, the status, how long it
/// took and what comes of it. Never the call, the answer or a credential.
fn log_attempt(app: &App, target: &Target, delivery: &Delivery, number: u32, duration_ms: u64, next: Next) {
    let outcome = match next {
        Next::Retry => "retry".to_string(),
        Next::Dead => "dead".to_string(),
        // Delivered or failed, as the record says.
        Next::Done => crate::model::wire_name(&delivery.state),
    };
    app.log.line(serde_json::json!({
        "type": "attempt",
        "delivery_id": delivery.id,
        "trigger": delivery.trigger,
        "target_kind": target.spec.kind_name(),
        "attempt": number,
        "status": delivery.last_status(),
        "duration_ms": duration_ms,
        "outcome": outcome,
    }));
}

/// The delivery as its record has it when the record knows more than the message: a message
/// handed over again carries the delivery as it was first queued, the record every attempt since.
/// A first handover of a delivery never attempted costs no read: it has no record yet.
async fn latest_record(app: &App, carried: Delivery, delivered: u32) -> Result<Delivery, Error> {
    if delivered <= 1 && carried.attempts.is_empty() {
        return Ok(carried);
    }
    match app.catalog().find_delivery(&carried.id).await {
        Ok(recorded) if recorded.attempts.len() >= carried.attempts.len() => Ok(recorded),
        Ok(_) | Err(Error::NotFound(_)) => Ok(carried),
        Err(other) => Err(other),
    }
}

/// The wait before the attempt after `attempt`, with jitter.
fn retry_delay(app: &App, attempt: u32) -> u32 {
    let mut random = [0u8; 4];
    app.random.fill(&mut random);
    app.settings.retry.delay_seconds(attempt, u32::from_le_bytes(random))
}

/// Sends a delivery again as a new delivery, linked to the old one, and tries it at once.
pub async fn replay(app: &App, id: &str) -> Result<Delivery, Error> {
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
    let mut delivery = new_delivery(app, &trigger.id, &target.id, old.call.clone());
    delivery.replay_of = Some(old.id);
    // The outcome is in the delivery's attempts.
    try_now(app, &target, &mut delivery).await?;
    Ok(delivery)
}

/// The optional lookup, then the request itself, each carrying the delivery id as its
/// `Idempotency-Key`, so that a target can drop a repeat (a retry, a replay of a lost answer).
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
