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

/// The alarm of each scheduled trigger (a `TriggerSchedule` Durable Object per trigger, at the
/// edge): armed with the trigger's cron expression, it wakes at each due minute and fires the
/// trigger (`schedules::fire`); nothing lists the schedules every minute.
pub trait Alarms {
    /// Arms the alarm of `trigger_id` for `cron`, or disarms it (`None`).
    fn set<'a>(&'a self, trigger_id: &'a str, cron: Option<&'a str>) -> LocalFuture<'a, Result<(), String>>;
}

impl<T: Alarms + ?Sized> Alarms for std::rc::Rc<T> {
    fn set<'a>(&'a self, trigger_id: &'a str, cron: Option<&'a str>) -> LocalFuture<'a, Result<(), String>> {
        (**self).set(trigger_id, cron)
    }
}

/// The alarms in memory, for native tests: which trigger is armed with which cron expression.
#[derive(Default)]
pub struct MemoryAlarms {
    pub armed: RefCell<std::collections::BTreeMap<String, String>>,
}

impl Alarms for MemoryAlarms {
    fn set<'a>(&'a self, trigger_id: &'a str, cron: Option<&'a str>) -> LocalFuture<'a, Result<(), String>> {
        let mut armed = self.armed.borrow_mut();
        match cron {
            Some(cron) => armed.insert(trigger_id.to_string(), cron.to_string()),
            None => armed.remove(trigger_id),
        };
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
    /// Moves a test clock on (a native test's stand-in for waiting); real clocks ignore it.
    fn advance(&self, _ms: u64) {}
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

    fn advance(&self, ms: u64) {
        FixedClock::advance(self, ms)
    }
}

impl<T: Clock + ?Sized> Clock for std::rc::Rc<T> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }

    fn advance(&self, ms: u64) {
        (**self).advance(ms)
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

/// The static files served beside the worker (Workers Static Assets, the `ASSETS` binding): the
/// admin page's HTML, script and style, and the OpenAPI document. They are not in the wasm; the
/// routes that serve them still go through the route table and add their own headers.
pub trait Assets {
    /// The file at `path` (`admin/index.html`, say), or `None` when there is none.
    fn get<'a>(&'a self, path: &'a str) -> LocalFuture<'a, Result<Option<Vec<u8>>, String>>;
}

/// The files in memory, by path, for native tests (`testing::TestApp` loads the repository's own).
#[derive(Default)]
pub struct MemoryAssets {
    pub files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl Assets for MemoryAssets {
    fn get<'a>(&'a self, path: &'a str) -> LocalFuture<'a, Result<Option<Vec<u8>>, String>> {
        let file = self.files.get(path).cloned();
        Box::pin(async move { Ok(file) })
    }
}

/// One Workers Analytics Engine data point (`writeDataPoint`): an index, blobs and doubles, in
/// the order the README's SQL reads them (`blob1`, `double1`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    pub index: String,
    pub blobs: Vec<String>,
    pub doubles: Vec<f64>,
}

/// Where one data point per delivery attempt goes, when the `ANALYTICS` dataset is bound. Writing
/// never fails the caller: the platform buffers points and drops them on its side.
pub trait Analytics {
    fn write(&self, point: DataPoint);
}

/// No dataset bound: nothing is written (and nothing else changes).
pub struct NoAnalytics;

impl Analytics for NoAnalytics {
    fn write(&self, _point: DataPoint) {}
}

/// Keeps every point, for native tests to read.
#[derive(Default)]
pub struct MemoryAnalytics {
    pub points: RefCell<Vec<DataPoint>>,
}

impl Analytics for MemoryAnalytics {
    fn write(&self, point: DataPoint) {
        self.points.borrow_mut().push(point);
    }
}

impl<T: Analytics + ?Sized> Analytics for std::rc::Rc<T> {
    fn write(&self, point: DataPoint) {
        (**self).write(point)
    }
}
