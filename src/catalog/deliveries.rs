//! Delivery records, in the ledger of their target (a Durable Object each at the edge, see
//! `ledger::LedgerPort`), never in KV: taking deliveries in, handing out attempts and recording their
//! outcomes, a page of a trigger's newest, one by id, and a trigger's last use. Every request is
//! one round trip to one target's ledger. No `worker` import; records hold no credential (see
//! `model/delivery.rs`).

use super::Catalog;
use crate::error::Error;
use crate::ledger::stats::StatsRow;
use crate::ledger::{AcceptAnswer, AfterAttempt, Answer, Arrival, Envelope, NextAttempt, Request, WireReport};
use crate::model::delivery::{delivery_stamp, FirstAnswer, Notification};
use crate::model::{Call, Delivery, DeliveryState, Trigger};

/// The most deliveries one page lists.
pub const MAX_PAGE: usize = 100;

impl<'a> Catalog<'a> {
    /// A new, pending delivery. One clock reading makes both its time and its stamp (unique within
    /// a millisecond), and its id names its trigger, so that one id finds its ledger.
    pub fn new_delivery(&self, trigger_id: &str, target_id: &str, call: Call) -> Delivery {
        let mut random = [0u8; 4];
        self.random.fill(&mut random);
        let now = self.clock.now_ms();
        Delivery::new(trigger_id, target_id, &delivery_stamp(now, random), call, now)
    }

    /// One request to `target`'s ledger, with the refused webhooks waiting for it (lost, not put
    /// back, if the request fails: they may have been written before it did).
    async fn ask(&self, target: &str, request: Request) -> Result<Answer, Error> {
        let mut random = [0u8; 4];
        self.random.fill(&mut random);
        let refused = self.refusals.take(target);
        let envelope = Envelope {
            now_ms: self.clock.now_ms(),
            random: u32::from_le_bytes(random),
            base_seconds: self.retry.base_seconds,
            max_attempts: self.retry.max_attempts,
            retention_ms: self.delivery_ttl_seconds.saturating_mul(1000),
            budget_bytes: self.storage_budget_bytes,
            refused: crate::ledger::refusals::encode(&refused),
            request,
        };
        let answer = self.ledger.ask(target, &envelope).await;
        answer.map_err(|why| Error::Store(format!("the ledger of target {target}: {why}")))
    }

    /// Hands `arrivals` (all for `target`) to its ledger: each is new or a repeat. With
    /// `attempt_now`, each new one comes back with its first attempt decided.
    pub async fn admit(
        &self,
        target: &str,
        arrivals: Vec<Arrival>,
        attempt_now: bool,
    ) -> Result<Vec<AcceptAnswer>, Error> {
        match self.ask(target, Request::Accept { arrivals, attempt_now }).await? {
            Answer::Accepted { answers } => Ok(answers),
            Answer::OverBudget => Err(Error::InsufficientStorage(format!(
                "the target's delivery records would pass its storage budget ({} MB); nothing was stored. \
                 Records older than DELIVERY_TTL_SECONDS make room as they are deleted, or an admin raises STORAGE_BUDGET_MB",
                self.storage_budget_bytes / 1_000_000
            ))),
            other => Err(unexpected(&other)),
        }
    }

    /// Whether delivery `id` is attempted now (and if so, it is out until its outcome is reported).
    pub async fn next_attempt(&self, target: &str, id: &str) -> Result<NextAttempt, Error> {
        match self.ask(target, Request::Next { id: id.to_string() }).await? {
            Answer::Next { next } => Ok(next),
            other => Err(unexpected(&other)),
        }
    }

    /// Records an attempt's outcome; says what comes next.
    pub async fn report_attempt(&self, target: &str, id: &str, report: WireReport) -> Result<AfterAttempt, Error> {
        match self.ask(target, Request::Outcome { id: id.to_string(), report }).await? {
            Answer::After { after } => Ok(after),
            other => Err(unexpected(&other)),
        }
    }

    /// Ends a pending delivery that can no longer be attempted; `false` if it was settled or out.
    pub async fn abandon_delivery(&self, target: &str, id: &str, why: &str) -> Result<bool, Error> {
        self.done(target, Request::Abandon { id: id.to_string(), why: why.to_string() }).await
    }

    /// Fails a delivery whose first attempt could not be queued and forgets its replay ids.
    pub async fn release_delivery(&self, target: &str, id: &str, why: &str) -> Result<bool, Error> {
        self.done(target, Request::Release { id: id.to_string(), why: why.to_string() }).await
    }

    async fn done(&self, target: &str, request: Request) -> Result<bool, Error> {
        match self.ask(target, request).await? {
            Answer::Done { changed } => Ok(changed),
            other => Err(unexpected(&other)),
        }
    }

    /// One delivery, by its id: its trigger (one KV read) names the target whose ledger has it.
    pub async fn find_delivery(&self, id: &str) -> Result<Delivery, Error> {
        let missing = || Error::not_found(format!("no delivery '{id}'"));
        let (trigger_id, _) = Delivery::split_id(id).ok_or_else(missing)?;
        let trigger = self.trigger_by_id(trigger_id).await?.ok_or_else(missing)?;
        self.delivery_of(&trigger.target, id).await?.ok_or_else(missing)
    }

    /// One delivery in `target`'s ledger.
    pub async fn delivery_of(&self, target: &str, id: &str) -> Result<Option<Delivery>, Error> {
        match self.ask(target, Request::Get { id: id.to_string() }).await? {
            Answer::Delivery { delivery } => Ok(delivery.map(|delivery| *delivery)),
            other => Err(unexpected(&other)),
        }
    }

    /// A page of a trigger's deliveries, newest first, in `state` when given: at most `limit`,
    /// from `cursor` on, and the cursor of the next page.
    pub async fn deliveries(
        &self,
        trigger: &Trigger,
        state: Option<DeliveryState>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Delivery>, Option<String>), Error> {
        let before = match cursor {
            Some(cursor) => {
                Some(cursor.parse::<u64>().map_err(|_| Error::bad_request("cursor is not one this API gave"))?)
            }
            None => None,
        };
        let request = Request::Page { trigger: trigger.id.clone(), state, before, limit: limit.clamp(1, MAX_PAGE) };
        match self.ask(&trigger.target, request).await? {
            Answer::Page { deliveries, next } => Ok((deliveries, next.map(|seq| seq.to_string()))),
            other => Err(unexpected(&other)),
        }
    }

    /// When the trigger last fired: its newest delivery's time (GitLab's `last_used`).
    pub async fn last_used(&self, trigger: &Trigger) -> Result<Option<u64>, Error> {
        Ok(self.last_used_of(std::slice::from_ref(trigger)).await?.pop().flatten())
    }

    /// When each of `triggers` last fired, in their order: one request per target among them,
    /// never one per trigger.
    pub async fn last_used_of(&self, triggers: &[Trigger]) -> Result<Vec<Option<u64>>, Error> {
        let mut used = vec![None; triggers.len()];
        for (n, trigger) in triggers.iter().enumerate() {
            if triggers[..n].iter().any(|asked| asked.target == trigger.target) {
                continue;
            }
            let of_target: Vec<usize> = (n..triggers.len()).filter(|&k| triggers[k].target == trigger.target).collect();
            let ids = of_target.iter().map(|&k| triggers[k].id.clone()).collect();
            match self.ask(&trigger.target, Request::LastUsed { triggers: ids }).await? {
                Answer::LastUsed { at } => {
                    for (k, at) in of_target.into_iter().zip(at.split(' ')) {
                        used[k] = at.parse().ok().filter(|&at| at > 0);
                    }
                }
                other => return Err(unexpected(&other)),
            }
        }
        Ok(used)
    }
}

impl<'a> Catalog<'a> {
    /// Records on delivery `id` how its notification went.
    pub async fn note_notification(&self, target: &str, id: &str, notification: Notification) -> Result<bool, Error> {
        self.done(target, Request::Notified { id: id.to_string(), notification }).await
    }

    /// Records on delivery `id` the answer its `Idempotency-Key`'s first call got.
    pub async fn note_first_answer(&self, target: &str, id: &str, answer: FirstAnswer) -> Result<bool, Error> {
        self.done(target, Request::Answered { id: id.to_string(), answer }).await
    }

    /// Sends the refused webhooks waiting for `target`'s ledger (`ledger::refusals`) on their own.
    pub async fn flush_refusals(&self, target: &str) -> Result<(), Error> {
        self.done(target, Request::Flush).await.map(|_| ())
    }

    /// The statistics kept by `target`'s ledger from hour `from_hour` on, of `trigger` or of
    /// every trigger that sent to it.
    pub async fn stats(&self, target: &str, trigger: Option<&str>, from_hour: u64) -> Result<Vec<StatsRow>, Error> {
        let request = Request::Stats { trigger: trigger.map(str::to_string), from_hour };
        match self.ask(target, request).await? {
            Answer::Stats { rows } => Ok(rows),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(answer: &Answer) -> Error {
    Error::Internal(format!("the ledger answered out of turn: {}", answer.name()))
}
