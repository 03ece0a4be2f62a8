//! The clock, the source of randomness and the delivery queue, as ports. The shell supplies the
//! real ones; native tests supply these deterministic ones. Also a tiny executor for native tests,
//! since the in-memory ports never wait.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so that a port with async methods can sit behind `Box<dyn _>`.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Which queue a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Deliveries waiting for an attempt (the `DELIVERIES` queue, consumed by this worker).
    Deliveries,
    /// Deliveries that ran out of attempts (the `DEAD_LETTERS` queue, which keeps them).
    DeadLetters,
}

/// The queue producer. `Err` says why a message could not be queued.
pub trait Queue {
    fn send(&self, lane: Lane, body: String, delay_seconds: u32) -> LocalFuture<'_, Result<(), String>>;
}

/// A message sent to a [`MemoryQueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub lane: Lane,
    pub body: String,
    pub delay_seconds: u32,
    /// How many times this message has been handed to the consumer so far, plus one: the
    /// platform's `message.attempts` on its next handover.
    pub handover: u32,
}

/// Keeps what is sent, for native tests to inspect and consume.
#[derive(Default)]
pub struct MemoryQueue {
    pub sent: RefCell<Vec<Queued>>,
    /// When set, every send fails with this reason.
    pub broken: RefCell<Option<String>>,
}

impl MemoryQueue {
    /// Takes the messages waiting in `lane`, oldest first.
    pub fn take(&self, lane: Lane) -> Vec<Queued> {
        let (taken, kept) = self.sent.take().into_iter().partition(|message| message.lane == lane);
        *self.sent.borrow_mut() = kept;
        taken
    }

    /// Puts a taken message back for another handover after `delay_seconds`, as the platform does
    /// on `message.retry({delaySeconds})` or when a consumer invocation fails.
    pub fn redeliver(&self, message: Queued, delay_seconds: u32) {
        let handover = message.handover + 1;
        self.sent.borrow_mut().push(Queued { delay_seconds, handover, ..message });
    }

    pub fn waiting(&self, lane: Lane) -> Vec<Queued> {
        self.sent.borrow().iter().filter(|message| message.lane == lane).cloned().collect()
    }
}

impl Queue for MemoryQueue {
    fn send(&self, lane: Lane, body: String, delay_seconds: u32) -> LocalFuture<'_, Result<(), String>> {
        let result = match self.broken.borrow().clone() {
            Some(reason) => Err(reason),
            None => {
                self.sent.borrow_mut().push(Queued { lane, body, delay_seconds, handover: 1 });
                Ok(())
            }
        };
        Box::pin(async move { result })
    }
}

impl<T: Queue + ?Sized> Queue for std::rc::Rc<T> {
    fn send(&self, lane: Lane, body: String, delay_seconds: u32) -> LocalFuture<'_, Result<(), String>> {
        (**self).send(lane, body, delay_seconds)
    }
}

/// Counts a client's requests to the admin API: `false` once the client is over its limit for the
/// current period. One call both counts and answers, as the Workers rate-limiting binding does.
pub trait Limiter {
    fn allow(&self, client: &str) -> LocalFuture<'_, bool>;
}

/// No limit: native tests, and a deployment without the binding.
pub struct Unlimited;

impl Limiter for Unlimited {
    fn allow(&self, _client: &str) -> LocalFuture<'_, bool> {
        Box::pin(async { true })
    }
}

/// At most `limit` requests per client, for native tests (one period that never ends).
pub struct MemoryLimiter {
    pub limit: u32,
    pub counts: RefCell<std::collections::HashMap<String, u32>>,
}

impl MemoryLimiter {
    pub fn new(limit: u32) -> Self {
        MemoryLimiter { limit, counts: RefCell::default() }
    }
}

impl Limiter for MemoryLimiter {
    fn allow(&self, client: &str) -> LocalFuture<'_, bool> {
        let mut counts = self.counts.borrow_mut();
        let count = counts.entry(client.to_string()).or_insert(0);
        *count += 1;
        let allowed = *count <= self.limit;
        Box::pin(async move { allowed })
    }
}

/// The per-target ledger: at the edge a Durable Object per target, the single writer for what must
/// be consistent across locations (KV is not: a write may be invisible elsewhere for a minute).
/// Today it holds the replay ids of webhooks and the `Idempotency-Key`s of token calls, so that a
/// repeat, concurrent or in another location, is never forwarded twice.
pub trait Ledger {
    /// Claims `claim.ids` in `target`'s ledger: `Ok(None)` when none of them was claimed within
    /// `claim.window_ms` of `claim.now_ms` (all are claimed now), `Ok(Some(first))` with the first
    /// claim's label when one was. `Err` says why the ledger could not answer.
    fn claim<'a>(&'a self, target: &'a str, claim: &'a Claim) -> LocalFuture<'a, Result<Option<String>, String>>;
    /// Forgets a claim whose deliveries could not be queued, so that the provider's own redelivery
    /// is not taken for a duplicate.
    fn release<'a>(&'a self, target: &'a str, scope: &'a str, ids: &'a [String])
        -> LocalFuture<'a, Result<(), String>>;
}

/// One claim: ids (hashes, never a header's text) at a scope, for the delivery labelled `label`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Claim {
    /// The hook endpoint, or `idempotency:<trigger>` for a token call's key.
    pub scope: String,
    pub ids: Vec<String>,
    pub label: String,
    pub now_ms: u64,
    /// How far back a claim of the same id makes this one a repeat.
    pub window_ms: u64,
}

impl<T: Ledger + ?Sized> Ledger for std::rc::Rc<T> {
    fn claim<'a>(&'a self, target: &'a str, claim: &'a Claim) -> LocalFuture<'a, Result<Option<String>, String>> {
        (**self).claim(target, claim)
    }

    fn release<'a>(
        &'a self,
        target: &'a str,
        scope: &'a str,
        ids: &'a [String],
    ) -> LocalFuture<'a, Result<(), String>> {
        (**self).release(target, scope, ids)
    }
}

/// What the shell sends a target's ledger object, and what a claim answers: plain values, so that
/// the object's adapter only moves them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum LedgerRequest {
    Claim(Claim),
    Release { scope: String, ids: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ClaimAnswer {
    /// The first claim's label when one of the ids was claimed within the window; none when all
    /// are claimed now.
    pub first: Option<String>,
}

/// How long a webhook's replay id is remembered (providers redeliver for up to a few days); the
/// longest window, after which the object forgets a claim.
pub const REPLAY_MEMORY_MS: u64 = 72 * 60 * 60 * 1000;
/// How long a token call's `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_MEMORY_MS: u64 = 24 * 60 * 60 * 1000;

/// The ledger in memory, for native tests (one process: strongly consistent, as the object is).
#[derive(Default)]
pub struct MemoryLedger {
    /// (target, scope, id) -> the first claim's label and time.
    pub seen: RefCell<std::collections::HashMap<(String, String, String), (String, u64)>>,
}

impl Ledger for MemoryLedger {
    fn claim<'a>(&'a self, target: &'a str, claim: &'a Claim) -> LocalFuture<'a, Result<Option<String>, String>> {
        let mut seen = self.seen.borrow_mut();
        let key = |id: &String| (target.to_string(), claim.scope.clone(), id.clone());
        let recent = |at: u64| at.saturating_add(claim.window_ms) > claim.now_ms;
        let first =
            claim.ids.iter().find_map(|id| seen.get(&key(id)).filter(|(_, at)| recent(*at)).map(|(l, _)| l.clone()));
        if first.is_none() {
            for id in &claim.ids {
                seen.insert(key(id), (claim.label.clone(), claim.now_ms));
            }
        }
        Box::pin(async move { Ok(first) })
    }

    fn release<'a>(
        &'a self,
        target: &'a str,
        scope: &'a str,
        ids: &'a [String],
    ) -> LocalFuture<'a, Result<(), String>> {
        let mut seen = self.seen.borrow_mut();
        for id in ids {
            seen.remove(&(target.to_string(), scope.to_string(), id.clone()));
        }
        Box::pin(async { Ok(()) })
    }
}

/// Where hookrelay's own log lines go: one JSON object each. The shell prints them with
/// `console.log`, so that `wrangler tail` and Workers Logs read them as JSON. A line holds ids,
/// routes, statuses, reasons and internal details; never a token, secret, signature or body.
pub trait Log {
    fn line(&self, line: serde_json::Value);
}

/// Keeps every line, for native tests to read.
#[derive(Default)]
pub struct MemoryLog {
    pub lines: RefCell<Vec<serde_json::Value>>,
}

impl Log for MemoryLog {
    fn line(&self, line: serde_json::Value) {
        self.lines.borrow_mut().push(line);
    }
}

impl<T: Log + ?Sized> Log for std::rc::Rc<T> {
    fn line(&self, line: serde_json::Value) {
        (**self).line(line)
    }
}

/// Drops every line (benchmarks, and tests that read none).
pub struct NoLog;

impl Log for NoLog {
    fn line(&self, _line: serde_json::Value) {}
}

pub trait Clock {
    fn now_ms(&self) -> u64;
}

pub trait Random {
    /// Fills `buf` with cryptographically secure random bytes (in production).
    fn fill(&self, buf: &mut [u8]);
}

/// A clock that stands still until told to move.
pub struct FixedClock(Cell<u64>);

impl FixedClock {
    pub fn new(now_ms: u64) -> Self {
        FixedClock(Cell::new(now_ms))
    }

    pub fn advance(&self, ms: u64) {
        self.0.set(self.0.get() + ms);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
}

impl<T: Clock + ?Sized> Clock for std::rc::Rc<T> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}

/// Deterministic bytes (SplitMix64) for tests. Never for production.
pub struct SequenceRandom(Cell<u64>);

impl SequenceRandom {
    pub fn new(seed: u64) -> Self {
        SequenceRandom(Cell::new(seed))
    }
}

impl Random for SequenceRandom {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut z = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
            self.0.set(z);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Runs a future that never waits on I/O (the in-memory ports) to completion.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
