//! The ledger as one target's object serves it: a request in, an answer out, over rows that the
//! adapter keeps (SQLite in the Durable Object, [`MemoryRows`] in native tests). The adapter only
//! implements [`Rows`] and calls [`serve`]; everything that decides is here or in the ledger.
//! Each request reads only the rows it needs and writes back only the rows it changed.

use super::stats::{hour_of, HourStats, StatsRow, Tally};
use super::{budget, Accepted, AfterAttempt, Arrival, AttemptReport, Entry, KeyState, Ledger, NextAttempt, Seen};
use crate::error::Error;
use crate::model::delivery::{excerpt, redact, redact_bytes, RetryPolicy};
use crate::model::{Call, Delivery, DeliveryState};
use crate::outbound::OutboundResponse;
use serde::{Deserialize, Serialize};

/// The rows of one target's ledger. `Err` is the storage's own reason.
///
/// A delivery's call (with its payload, up to 1 MiB) never changes once it is taken in, while its
/// state changes with every attempt: an adapter may keep the call apart, write it once
/// (`put_entry` with `with_call`), and read it only when asked (`call`), so that an attempt's
/// bookkeeping never moves the payload. Entries it returns may then hold an empty call; `serve`
/// asks for the call where one is needed.
pub trait Rows {
    fn seen(&self, replay_id: &str) -> Result<Option<Seen>, String>;
    fn entry(&self, id: &str) -> Result<Option<Entry>, String>;
    /// The call of delivery `id`, as it was taken in.
    fn call(&self, id: &str) -> Result<Option<Call>, String>;
    /// The same, without its payload where the storage can leave it out (a list's view of it).
    fn call_less_payload(&self, id: &str) -> Result<Option<Call>, String> {
        self.call(id)
    }
    fn key_state(&self, key: &str) -> Result<Option<KeyState>, String>;
    /// The pending deliveries of `key` that are `latest` (supersession looks at them) or out
    /// being attempted (a newer `latest` one waits for them). Not the other `all` ones: a busy key
    /// may have thousands queued, and nothing decides on them.
    fn pending_of_key(&self, key: &str) -> Result<Vec<Entry>, String>;
    fn next_seq(&self) -> Result<u64, String>;
    /// Writes the entry; its call too when `with_call` (it was just taken in), else the stored
    /// call stays.
    fn put_entry(&mut self, entry: &Entry, with_call: bool) -> Result<(), String>;
    fn put_key(&mut self, key: &str, state: &KeyState) -> Result<(), String>;
    fn put_seen(&mut self, replay_id: &str, seen: &Seen) -> Result<(), String>;
    fn forget_seen(&mut self, replay_id: &str) -> Result<(), String>;
    /// Forgets every replay id that came with `delivery_id`.
    fn forget_seen_of(&mut self, delivery_id: &str) -> Result<(), String>;
    fn put_next_seq(&mut self, seq: u64) -> Result<(), String>;
    /// A trigger's deliveries, newest arrival first, older than arrival `before` when given.
    fn page(
        &self,
        trigger: &str,
        state: Option<DeliveryState>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Entry>, String>;
    /// When the trigger's newest delivery was made.
    fn last_used(&self, trigger: &str) -> Result<Option<u64>, String>;
    /// At most `limit` pending deliveries that were due before `before_ms`, oldest first.
    fn overdue(&self, before_ms: u64, limit: usize) -> Result<Vec<Entry>, String>;
    /// Whether any delivery is pending.
    fn any_pending(&self) -> Result<bool, String>;
    /// Deletes the replay ids whose time is over by `now_ms`, the settled deliveries made before
    /// `deliveries_before` (their retention is over; a pending one is kept until it settles), the
    /// order keys of the deleted deliveries that no delivery still has (nothing pending or kept
    /// refers to them), and the statistics of hours more than `stats::KEPT_HOURS` before
    /// `now_ms`'s. The deleted deliveries' bytes come off [`Rows::stored_bytes`].
    fn expire(&mut self, now_ms: u64, deliveries_before: u64) -> Result<(), String>;
    /// The bytes the stored deliveries take, as `budget::stored_size` counted each when
    /// `put_entry` wrote it with its call: a running total, never a scan.
    fn stored_bytes(&self) -> Result<u64, String>;
    /// A trigger's counts for one hour.
    fn stats(&self, trigger: &str, hour: u64) -> Result<Option<HourStats>, String>;
    fn put_stats(&mut self, row: &StatsRow) -> Result<(), String>;
    /// The counts from hour `from_hour` on, of one trigger or of all.
    fn stats_since(&self, trigger: Option<&str>, from_hour: u64) -> Result<Vec<StatsRow>, String>;
}

/// One request to a target's ledger, with what it is decided under.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub now_ms: u64,
    /// Spreads retries (the backoff's jitter).
    pub random: u32,
    pub base_seconds: u32,
    pub max_attempts: u32,
    /// How long a delivery record is kept (`DELIVERY_TTL_SECONDS`).
    pub retention_ms: u64,
    /// The target's storage budget in bytes (`STORAGE_BUDGET_MB`); 0: none.
    #[serde(default)]
    pub budget_bytes: u64,
    /// Refused webhooks counted by the worker since its last request to this ledger, by trigger
    /// (`refusals::encode`): counted before the request is served, whatever it is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub refused: String,
    pub request: Request,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Takes deliveries in; with `attempt_now`, each new one is also handed out for its first
    /// attempt (`next_attempt`), in the same step.
    Accept {
        arrivals: Vec<Arrival>,
        attempt_now: bool,
    },
    /// Whether delivery `id` is sent now.
    Next {
        id: String,
    },
    /// An attempt's outcome.
    Outcome {
        id: String,
        report: WireReport,
    },
    /// Ends a pending delivery that can no longer be attempted.
    Abandon {
        id: String,
        why: String,
    },
    /// A delivery whose first attempt could not be queued: it fails, and its replay ids are
    /// forgotten, so that the provider's redelivery is taken as new.
    Release {
        id: String,
        why: String,
    },
    Get {
        id: String,
    },
    Page {
        trigger: String,
        state: Option<DeliveryState>,
        before: Option<u64>,
        limit: usize,
    },
    /// When each of these triggers last fired.
    LastUsed {
        triggers: Vec<String>,
    },
    /// Records how the notification of settled delivery `id` went.
    Notified {
        id: String,
        notification: crate::model::delivery::Notification,
    },
    /// Records the answer the first call of an `Idempotency-Key` got, for its repeats.
    Answered {
        id: String,
        answer: crate::model::delivery::FirstAnswer,
    },
    /// Nothing but the envelope's `refused` counts (a worker's tally that waited a minute).
    Flush,
    /// The statistics from hour `from_hour` on, of one trigger or of every trigger of the target.
    Stats {
        trigger: Option<String>,
        from_hour: u64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Accepted {
        answers: Vec<AcceptAnswer>,
    },
    Next {
        next: NextAttempt,
    },
    After {
        after: AfterAttempt,
    },
    Done {
        changed: bool,
    },
    Delivery {
        delivery: Option<Box<Delivery>>,
    },
    /// `next` is the cursor (an arrival number) of the page after this one. The deliveries have
    /// no payload, only its digest, and stop before [`PAGE_BYTES`].
    Page {
        deliveries: Vec<Delivery>,
        next: Option<u64>,
    },
    /// In the order the triggers were asked for, separated by spaces, 0 for never (one string:
    /// a list of numbers' serde code costs the wasm more).
    LastUsed {
        at: String,
    },
    Stats {
        rows: Vec<StatsRow>,
    },
    /// Nothing was taken in: the new deliveries would take the target's stored bytes past its
    /// budget.
    OverBudget,
}

impl Answer {
    /// Its variant's name, for a log line (not `Debug`: the wasm need not carry every record's
    /// `Debug` code for one unlikely line).
    pub fn name(&self) -> &'static str {
        match self {
            Answer::Accepted { .. } => "accepted",
            Answer::Next { .. } => "next",
            Answer::After { .. } => "after",
            Answer::Done { .. } => "done",
            Answer::Delivery { .. } => "delivery",
            Answer::Page { .. } => "page",
            Answer::LastUsed { .. } => "last_used",
            Answer::Stats { .. } => "stats",
            Answer::OverBudget => "over_budget",
        }
    }
}

/// What became of one arrival.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptAnswer {
    pub id: String,
    pub accepted: Accepted,
    /// Its first attempt, when asked for at once and it was new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<NextAttempt>,
}

/// An attempt's report as it travels to the object: already scrubbed of the target's secrets
/// and cut to the excerpt kept, so that no credential crosses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireReport {
    pub started_ms: u64,
    pub duration_ms: u64,
    pub outcome: WireOutcome,
    /// No answer came, and the target may have acted on the request.
    pub unknown: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireOutcome {
    Answer {
        status: u16,
        excerpt: String,
    },
    Unreachable {
        target: String,
        detail: String,
    },
    /// Refused before it was sent (a request that could not be built, a destination refused).
    Refused {
        message: String,
    },
}

impl WireReport {
    /// The report of an attempt that began at `started_ms`, scrubbed of `secrets`.
    pub fn new(
        started_ms: u64,
        duration_ms: u64,
        outcome: &Result<OutboundResponse, Error>,
        secrets: &[String],
    ) -> WireReport {
        let (outcome, unknown) = match outcome {
            Ok(answer) => {
                let text = excerpt(&redact_bytes(&answer.body, secrets));
                (WireOutcome::Answer { status: answer.status, excerpt: text }, false)
            }
            // Sent, maybe, and no answer: the target may have acted on it.
            Err(Error::TargetUnreachable { target, detail }) => {
                (WireOutcome::Unreachable { target: target.clone(), detail: redact(detail, secrets) }, true)
            }
            Err(error) => (WireOutcome::Refused { message: redact(&error.message(), secrets) }, false),
        };
        WireReport { started_ms, duration_ms, outcome, unknown }
    }

    fn outcome(&self) -> Result<OutboundResponse, Error> {
        match &self.outcome {
            WireOutcome::Answer { status, excerpt } => {
                Ok(OutboundResponse { status: *status, headers: Vec::new(), body: excerpt.as_bytes().to_vec() })
            }
            WireOutcome::Unreachable { target, detail } => {
                Err(Error::TargetUnreachable { target: target.clone(), detail: detail.clone() })
            }
            WireOutcome::Refused { message } => Err(Error::BadRequest(message.clone())),
        }
    }
}

/// Serves one request over `rows`.
pub fn serve(rows: &mut dyn Rows, envelope: Envelope) -> Result<Answer, String> {
    let Envelope { now_ms: now, random, base_seconds, max_attempts, retention_ms, budget_bytes, refused, request } =
        envelope;
    if !refused.is_empty() {
        let deltas = super::refusals::decode(&refused)
            .into_iter()
            .map(|(trigger, n)| (trigger, HourStats { refused: n, ..HourStats::default() }));
        add(rows, now, deltas.collect())?;
    }
    let mut ledger = Ledger::new(RetryPolicy { base_seconds, max_attempts });
    let answer = match request {
        Request::Accept { arrivals, attempt_now } => {
            rows.expire(now, now.saturating_sub(retention_ms))?;
            ledger.next_seq = rows.next_seq()?.max(1);
            let mut answers = Vec::with_capacity(arrivals.len());
            for arrival in arrivals {
                load_for_accept(rows, &mut ledger, &arrival)?;
                let id = arrival.delivery.id.clone();
                let accepted = ledger.accept(arrival, now);
                let next =
                    (attempt_now && matches!(accepted, Accepted::New { .. })).then(|| ledger.next_attempt(&id, now));
                answers.push(AcceptAnswer { id, accepted, next });
            }
            // Refused whole, before anything is written: what is stored stays as it was.
            let created = ledger.changes.created.iter().filter_map(|id| ledger.entries.get(id));
            let incoming: u64 = created.map(|entry| budget::stored_size(&entry.delivery)).sum();
            if incoming > 0 && budget_bytes > 0 {
                if budget::over(rows.stored_bytes()?, incoming, budget_bytes) {
                    return Ok(Answer::OverBudget);
                }
            }
            Answer::Accepted { answers }
        }
        Request::Next { id } => {
            load_with_key(rows, &mut ledger, &id)?;
            let mut next = ledger.next_attempt(&id, now);
            if let NextAttempt::Send { call, .. } = &mut next {
                if let Some(stored) = rows.call(&id)? {
                    **call = stored;
                }
            }
            Answer::Next { next }
        }
        Request::Outcome { id, report } => {
            load_with_key(rows, &mut ledger, &id)?;
            let outcome = report.outcome();
            let attempt = AttemptReport {
                started_ms: report.started_ms,
                duration_ms: report.duration_ms,
                outcome: &outcome,
                unknown: report.unknown,
                secrets: &[],
            };
            Answer::After { after: ledger.record_outcome(&id, &attempt, now, random) }
        }
        Request::Abandon { id, why } => {
            load(rows, &mut ledger, &id)?;
            Answer::Done { changed: ledger.abandon(&id, now, &why) }
        }
        Request::Release { id, why } => {
            rows.forget_seen_of(&id)?;
            load(rows, &mut ledger, &id)?;
            let changed = ledger.abandon(&id, now, &why);
            // Never attempted, and the provider's redelivery is taken as new: not a failure.
            ledger.drop_tallies();
            Answer::Done { changed }
        }
        Request::Notified { id, notification } => {
            load(rows, &mut ledger, &id)?;
            Answer::Done { changed: ledger.note_notification(&id, notification) }
        }
        Request::Answered { id, answer } => {
            load(rows, &mut ledger, &id)?;
            Answer::Done { changed: ledger.note_first_answer(&id, answer) }
        }
        Request::Get { id } => {
            let delivery = match rows.entry(&id)? {
                Some(entry) => Some(Box::new(with_call(rows, entry)?)),
                None => None,
            };
            return Ok(Answer::Delivery { delivery });
        }
        Request::Page { trigger, state, before, limit } => {
            let entries = rows.page(&trigger, state, before, limit)?;
            let full = entries.len() == limit;
            // The answer's own braces and cursor.
            let (mut deliveries, mut bytes, mut next) = (Vec::new(), 64, None);
            for entry in entries {
                let seq = entry.seq;
                let delivery = listed(rows, entry)?;
                // Its JSON, and more than the API's view adds: a comma, a digest's field names,
                // and 13 characters to each time (a date for the number).
                let view = serde_json::to_vec(&delivery).map_or(0, |json| json.len());
                bytes += view + 64 + 16 * delivery.attempts.len();
                if bytes > PAGE_BYTES && !deliveries.is_empty() {
                    // The next page begins with this one.
                    return Ok(Answer::Page { deliveries, next });
                }
                deliveries.push(delivery);
                next = Some(seq);
            }
            return Ok(Answer::Page { deliveries, next: next.filter(|_| full) });
        }
        Request::LastUsed { triggers } => {
            let mut at = Vec::with_capacity(triggers.len());
            for trigger in &triggers {
                at.push(rows.last_used(trigger)?.unwrap_or(0).to_string());
            }
            return Ok(Answer::LastUsed { at: at.join(" ") });
        }
        Request::Flush => return Ok(Answer::Done { changed: true }),
        Request::Stats { trigger, from_hour } => {
            return Ok(Answer::Stats { rows: rows.stats_since(trigger.as_deref(), from_hour)? });
        }
    };
    save(rows, &mut ledger, now)?;
    Ok(answer)
}

/// How long past its time a pending delivery must be before the sweep queues it again: past any
/// queue lag and any attempt's lease, so that it is one whose message was lost (an invocation that
/// died between taking it in and queuing it, a report that never arrived).
pub const SWEEP_GRACE_MS: u64 = 20 * 60 * 1000;
/// How often a ledger with pending deliveries sweeps (its object's alarm).
pub const SWEEP_EVERY_MS: u64 = 10 * 60 * 1000;
/// The most deliveries one sweep queues again.
const SWEEP_LIMIT: usize = 100;

/// The sweep, when the object's alarm wakes: the deliveries (target, id) whose queue message must
/// have been lost, to be queued again (a message too many is harmless: the ledger hands each
/// attempt out once), and whether any delivery is still pending (the alarm is set again).
pub fn sweep(rows: &mut dyn Rows, now_ms: u64) -> Result<(Vec<(String, String)>, bool), String> {
    let cutoff = now_ms.saturating_sub(SWEEP_GRACE_MS);
    let mut ledger = Ledger::new(RetryPolicy::default());
    for entry in rows.overdue(cutoff, SWEEP_LIMIT)? {
        ledger.entries.insert(entry.delivery.id.clone(), entry);
    }
    let lost = ledger
        .due(cutoff)
        .into_iter()
        .filter_map(|id| ledger.entries.get(&id).map(|entry| (entry.delivery.target.clone(), id)))
        .collect();
    Ok((lost, rows.any_pending()?))
}

/// The rows `accept` reads: the arrival's replay ids (and the deliveries they name), its key's
/// state and that key's pending deliveries.
fn load_for_accept(rows: &dyn Rows, ledger: &mut Ledger, arrival: &Arrival) -> Result<(), String> {
    if let super::Cause::Event { replay_ids, .. } = &arrival.cause {
        for replay_id in replay_ids {
            if ledger.seen.contains_key(replay_id) {
                continue;
            }
            if let Some(seen) = rows.seen(replay_id)? {
                load(rows, ledger, &seen.delivery_id)?;
                ledger.seen.insert(replay_id.clone(), seen);
            }
        }
    }
    load_key(rows, ledger, &arrival.key)
}

fn load(rows: &dyn Rows, ledger: &mut Ledger, id: &str) -> Result<(), String> {
    if !ledger.entries.contains_key(id) {
        if let Some(entry) = rows.entry(id)? {
            ledger.entries.insert(id.to_string(), entry);
        }
    }
    Ok(())
}

/// A key's state and the pending deliveries of it that supersession and the wait for an older
/// attempt look at (see [`Rows::pending_of_key`]).
fn load_key(rows: &dyn Rows, ledger: &mut Ledger, key: &str) -> Result<(), String> {
    if ledger.keys.contains_key(key) {
        return Ok(());
    }
    if let Some(state) = rows.key_state(key)? {
        ledger.keys.insert(key.to_string(), state);
    }
    for entry in rows.pending_of_key(key)? {
        ledger.entries.entry(entry.delivery.id.clone()).or_insert(entry);
    }
    Ok(())
}

fn load_with_key(rows: &dyn Rows, ledger: &mut Ledger, id: &str) -> Result<(), String> {
    load(rows, ledger, id)?;
    match ledger.entries.get(id).map(|entry| entry.key.clone()) {
        Some(key) => load_key(rows, ledger, &key),
        None => Ok(()),
    }
}

/// The most bytes a page of a trigger's deliveries takes as the API's JSON answer: it stops before
/// the record that would pass it, unless that record is its first.
pub const PAGE_BYTES: usize = 1024 * 1024;

/// The delivery of `entry` as a list shows it: its call without the payload, which its digest
/// stands for (taken when it was taken in; from the payload itself in an older record).
fn listed(rows: &dyn Rows, entry: Entry) -> Result<Delivery, String> {
    let mut delivery = entry.delivery;
    let id = &delivery.id;
    let call = if delivery.payload_digest.is_some() { rows.call_less_payload(id)? } else { rows.call(id)? };
    if let Some(call) = call {
        delivery.call = call;
    }
    if let Some(payload) = delivery.call.payload.take() {
        delivery.payload_digest.get_or_insert_with(|| payload.digest());
    }
    Ok(delivery)
}

/// The delivery of `entry`, with its call.
fn with_call(rows: &dyn Rows, entry: Entry) -> Result<Delivery, String> {
    let mut delivery = entry.delivery;
    if let Some(call) = rows.call(&delivery.id)? {
        delivery.call = call;
    }
    Ok(delivery)
}

/// Adds `tallies` to their triggers' counts for the hour of `now`: one row read and written per
/// trigger.
fn count(rows: &mut dyn Rows, now: u64, tallies: Vec<(String, Tally)>) -> Result<(), String> {
    let mut by_trigger: Vec<(String, HourStats)> = Vec::new();
    for (trigger, tally) in tallies {
        match by_trigger.iter_mut().find(|(t, _)| *t == trigger) {
            Some((_, delta)) => delta.count(tally),
            None => {
                let mut delta = HourStats::default();
                delta.count(tally);
                by_trigger.push((trigger, delta));
            }
        }
    }
    add(rows, now, by_trigger)
}

/// Adds each trigger's `delta` to its counts for the hour of `now`.
fn add(rows: &mut dyn Rows, now: u64, deltas: Vec<(String, HourStats)>) -> Result<(), String> {
    let hour = hour_of(now);
    for (trigger, delta) in deltas {
        let mut stats = rows.stats(&trigger, hour)?.unwrap_or_default();
        stats.add(&delta);
        rows.put_stats(&StatsRow { trigger, hour, stats })?;
    }
    Ok(())
}

/// Writes back the rows the ledger changed, and counts what it settled.
fn save(rows: &mut dyn Rows, ledger: &mut Ledger, now: u64) -> Result<(), String> {
    let changes = ledger.take_changes();
    count(rows, now, changes.tallies)?;
    for id in &changes.deliveries {
        if let Some(entry) = ledger.entries.get(id) {
            rows.put_entry(entry, changes.created.contains(id))?;
        }
    }
    for key in &changes.keys {
        if let Some(state) = ledger.keys.get(key) {
            rows.put_key(key, state)?;
        }
    }
    for id in &changes.seen {
        if let Some(seen) = ledger.seen.get(id) {
            rows.put_seen(id, seen)?;
        }
    }
    for id in &changes.forgotten {
        rows.forget_seen(id)?;
    }
    if changes.next_seq {
        rows.put_next_seq(ledger.next_seq)?;
    }
    Ok(())
}
