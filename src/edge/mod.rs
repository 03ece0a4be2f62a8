//! The shell: the only module that sees `worker`. It converts the platform's request, queue batch
//! and cron event into ours, runs the core, and converts the answer back; and it implements the
//! ports on KV, `Fetch`, Queues, the platform clock and `crypto.getRandomValues`. It decides
//! nothing and never logs a secret.

mod ledger;
mod schedule;

use crate::access_keys::MemoryNonces;
use crate::auth::AdminDirectory;
use crate::context::App;
use crate::error::Error;
use crate::http;
use crate::outbound::{Outbound, OutboundRequest, OutboundResponse, OUTBOUND_TIMEOUT_MS};
use crate::ports::{Analytics, Assets, Clock, DataPoint, Lane, Limiter, LocalFuture, Log, Queue, Random};
use crate::sealed::{Keyring, SealedStore};
use crate::settings::Settings;
use crate::store::{KeyPage, Store, MAX_LIST_PAGE};
use wasm_bindgen::prelude::*;
use worker::js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{event, Context, Env, Headers};

/// What keeps this deployment from working (`settings::problems`), from its vars, secrets and
/// bindings. Never their values.
fn problems(env: &Env) -> Vec<String> {
    crate::settings::problems(
        |name| env.var(name).ok().map(|var| var.to_string()),
        |name| env.secret(name).ok().map(|secret| secret.to_string()),
        |name| binding::<JsValue>(env, name).is_some(),
    )
}

thread_local! {
    /// The nonces of the Alibaba signatures this isolate accepted, for 15 minutes each: kept across
    /// requests, per isolate (a replay to another isolate is not caught; see `access_keys`).
    static NONCES: std::rc::Rc<MemoryNonces> = std::rc::Rc::new(MemoryNonces::default());
}

/// The app with the platform's ports, as `wrangler.toml` binds them. `Err` only for a deployment
/// that `problems` finds misconfigured.
fn app(env: &Env) -> worker::Result<App> {
    let secret = |name| env.secret(name).map(|s| s.to_string()).unwrap_or_default();
    let admins = AdminDirectory::parse(&secret("ADMIN_TOKENS"))
        .with_access_keys(&secret("ADMIN_ACCESS_KEYS"))
        .with_nonce_memory(NONCES.with(|nonces| nonces.clone()));
    // A malformed key is refused loudly rather than ignored: nothing would decrypt.
    let keyring = match env.secret("ENCRYPTION_KEY").map(|key| key.to_string()) {
        Ok(key) if !key.trim().is_empty() => Some(Keyring::parse(&key).map_err(worker::Error::RustError)?),
        _ => None,
    };
    let kv = KvStore(binding(env, "TRIGGERS").ok_or("no TRIGGERS KV namespace is bound (see wrangler.toml)")?);
    Ok(App {
        store: Box::new(SealedStore { inner: kv, keyring, random: Box::new(CryptoRandom) }),
        outbound: Box::new(FetchClient),
        clock: Box::new(PlatformClock),
        random: Box::new(CryptoRandom),
        queue: Box::new(Queues { deliveries: binding(env, "DELIVERIES"), dead_letters: binding(env, "DEAD_LETTERS") }),
        admins,
        limiter: match binding::<RateLimitBinding>(env, "ADMIN_RATE_LIMIT") {
            Some(limiter) => Box::new(RateLimit(limiter)),
            None => Box::new(crate::ports::Unlimited),
        },
        log: Box::new(ConsoleLog),
        ledger: Box::new(ledger::DurableLedger(namespace(env, "LEDGER")?)),
        alarms: Box::new(schedule::DurableAlarms(namespace(env, "SCHEDULES")?)),
        assets: Box::new(StaticAssets(binding(env, "ASSETS"))),
        analytics: match binding::<AnalyticsDataset>(env, "ANALYTICS") {
            Some(dataset) => Box::new(AnalyticsEngine(dataset)),
            None => Box::new(crate::ports::NoAnalytics),
        },
        settings: Settings::from_vars(|name| env.var(name).ok().map(|var| var.to_string())),
    })
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, _ctx: Context) -> worker::Result<worker::Response> {
    let request = into_core_request(req).await?;
    let problems = problems(&env);
    if !problems.is_empty() {
        ConsoleLog.line(serde_json::json!({"type": "misconfigured", "problems": problems}));
        return into_worker_response(crate::router::misconfigured(&request, &problems));
    }
    into_worker_response(crate::router::handle(&app(&env)?, request).await)
}

/// The Cron Trigger (`wrangler.toml`, once a day): re-arms every scheduled trigger's alarm, in
/// case one was lost. The alarms fire the schedules; nothing runs every minute.
#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    if let Some(app) = configured_app(&env) {
        if let Err(error) = crate::schedules::rearm_all(&app).await {
            ConsoleLog.line(
                serde_json::json!({"type": "error", "what": "re-arming the schedules", "detail": error.for_the_log()}),
            );
        }
    }
}

/// The app, unless the deployment is misconfigured: then a log line says why, and there is none.
fn configured_app(env: &Env) -> Option<App> {
    let problems = problems(env);
    if !problems.is_empty() {
        ConsoleLog.line(serde_json::json!({"type": "misconfigured", "problems": problems}));
        return None;
    }
    app(env).ok()
}

/// How long a batch waits before it is handed back when the worker cannot start (5 minutes: 100
/// handovers then span over 8 hours).
const MISCONFIGURED_RETRY_SECONDS: u32 = 300;

/// The deliveries queue's consumer. Each message is acknowledged or handed back for its next
/// attempt with `message.retry({delaySeconds})`, as the core settles it: a retry is the same
/// message again, never a new one, so a redelivery cannot multiply attempts.
///
/// Exported by hand rather than with `#[event(queue)]`: `worker` 0.8's message type hides the
/// platform's `attempts` count, which the core needs to number the attempt (worker-build's shim
/// finds the handler by its export name, as it does for the macro's).
#[wasm_bindgen(js_name = queue, wasm_bindgen_futures = worker::wasm_bindgen_futures, js_sys = worker::js_sys)]
pub async fn queue_handler(batch: QueueBatch, env: Env, _ctx: JsValue) -> Result<JsValue, JsValue> {
    let Some(app) = configured_app(&env) else {
        // Misconfigured (a malformed ENCRYPTION_KEY, say): hand the batch back for later, slowly
        // enough that a fix can land before max_retries runs out.
        batch.retry_all(&object(&[("delaySeconds", JsValue::from(MISCONFIGURED_RETRY_SECONDS))]));
        return Ok(JsValue::UNDEFINED);
    };
    for message in batch.messages().iter() {
        let message: QueueMessage = message.unchecked_into();
        let body = message.body().as_string().unwrap_or_default();
        let handover = message.attempts().as_f64().map_or(1, |n| n.max(1.0) as u32);
        match crate::relay::consume(&app, &body, handover).await {
            crate::relay::Settlement::Ack => message.ack(),
            crate::relay::Settlement::Retry { delay_seconds } => {
                message.retry(&object(&[("delaySeconds", JsValue::from(delay_seconds))]))
            }
        }
    }
    Ok(JsValue::UNDEFINED)
}

#[wasm_bindgen]
extern "C" {
    /// A batch of queue messages, as the platform hands it to `queue`.
    pub type QueueBatch;
    #[wasm_bindgen(method, getter)]
    fn messages(this: &QueueBatch) -> Array;
    #[wasm_bindgen(method, js_name = retryAll)]
    fn retry_all(this: &QueueBatch, options: &Object);
    /// One message of a batch, called directly for its `attempts` (which `worker` 0.8 does not
    /// expose) and a `retry` with options that needs no serde-wasm-bindgen.
    type QueueMessage;
    #[wasm_bindgen(method, getter)]
    fn body(this: &QueueMessage) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn attempts(this: &QueueMessage) -> JsValue;
    #[wasm_bindgen(method)]
    fn ack(this: &QueueMessage);
    #[wasm_bindgen(method)]
    fn retry(this: &QueueMessage, options: &Object);
}

async fn into_core_request(mut req: worker::Request) -> worker::Result<http::Request> {
    // The URL as the platform gives it, already normalized: split it by hand rather than
    // parse it again (the `url` crate's IDNA tables would cost ~10% of the wasm).
    let url = req.inner().url();
    let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let path_and_query = after_scheme.find('/').map_or("/", |start| &after_scheme[start..]);
    let origin = url[..url.len() - path_and_query.len()].to_string();
    let path_and_query = path_and_query.split_once('#').map_or(path_and_query, |(before, _)| before);
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let headers = req.headers().entries().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
    // Bodies over the limit are refused by the core before anything is parsed.
    let body = req.bytes().await.unwrap_or_default();
    Ok(http::Request {
        // The raw method: `worker::Method` reads an unknown one (QUERY, say) as GET.
        method: req.inner().method().to_ascii_uppercase(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
        origin,
    })
}

fn into_worker_response(response: http::Response) -> worker::Result<worker::Response> {
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    let body = (!response.body.is_empty()).then_some(response.body);
    let builder = worker::ResponseBuilder::new().with_status(response.status).with_headers(headers);
    // `fixed`, not `from_bytes`: that one replaces the core's Content-Type with octet-stream.
    match body {
        Some(bytes) => Ok(builder.fixed(bytes)),
        None => Ok(builder.empty()),
    }
}

#[wasm_bindgen]
extern "C" {
    /// The KV namespace binding, called directly: `worker::KvStore` reads list answers and writes
    /// put options through serde-wasm-bindgen, which costs more wasm than these four calls.
    type KvBinding;
    #[wasm_bindgen(method, catch)]
    fn get(this: &KvBinding, key: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn put(this: &KvBinding, key: &str, value: &str, options: &Object) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn delete(this: &KvBinding, key: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn list(this: &KvBinding, options: &Object) -> Result<Promise, JsValue>;
}

#[wasm_bindgen]
extern "C" {
    /// A Durable Object namespace binding (`LEDGER`, `SCHEDULES`), called directly: `worker`'s
    /// stub wraps the request and the answer in its own types, reading the platform's `cf` and
    /// the answer's body as a stream, chunk by chunk, which a CPU profile showed costing more
    /// than the ledger's own work.
    pub type ObjectNamespace;
    #[wasm_bindgen(method, catch, js_name = idFromName)]
    fn id_from_name(this: &ObjectNamespace, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &ObjectNamespace, id: &JsValue) -> Result<ObjectStub, JsValue>;

    type ObjectStub;
    #[wasm_bindgen(method, catch)]
    fn fetch(this: &ObjectStub, url: &str, init: &Object) -> Result<Promise, JsValue>;
}

impl ObjectNamespace {
    /// POSTs `body` to the object named `name`; its status and its answer as text.
    pub async fn post(&self, name: &str, url: &str, body: &str) -> Result<(u16, String), String> {
        let failed = |err: JsValue| err.as_string().unwrap_or_else(|| format!("{err:?}"));
        let stub = self.id_from_name(name).and_then(|id| self.get(&id)).map_err(failed)?;
        let init = object(&[("method", JsValue::from_str("POST")), ("body", JsValue::from_str(body))]);
        let answer: worker::web_sys::Response = settle(stub.fetch(url, &init)).await?.unchecked_into();
        let text = match answer.text() {
            Ok(promise) => JsFuture::from(promise).await.ok().and_then(|text| text.as_string()).unwrap_or_default(),
            Err(_) => String::new(),
        };
        Ok((answer.status(), text))
    }
}

/// A Durable Object namespace by its binding's name.
fn namespace(env: &Env, name: &str) -> worker::Result<ObjectNamespace> {
    binding(env, name).ok_or_else(|| worker::Error::RustError(format!("no {name} Durable Object namespace is bound")))
}

/// A binding by name, or `None` when `wrangler.toml` does not declare it.
fn binding<T: JsCast>(env: &Env, name: &str) -> Option<T> {
    let value = Reflect::get(env, &JsValue::from_str(name)).ok()?;
    (!value.is_undefined()).then(|| value.unchecked_into())
}

/// A plain JS object with these fields.
fn object(fields: &[(&str, JsValue)]) -> Object {
    let object = Object::new();
    for (key, value) in fields {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object
}

/// Awaits a platform call; its error becomes text.
async fn settle(call: Result<Promise, JsValue>) -> Result<JsValue, String> {
    let text = |err: JsValue| {
        let message = Reflect::get(&err, &JsValue::from_str("message")).ok().and_then(|m| m.as_string());
        message.or_else(|| err.as_string()).unwrap_or_else(|| format!("{err:?}"))
    };
    JsFuture::from(call.map_err(text)?).await.map_err(text)
}

struct KvStore(KvBinding);

impl Store for KvStore {
    fn get<'a>(&'a self, key: &'a str) -> LocalFuture<'a, Result<Option<String>, Error>> {
        Box::pin(async move { Ok(settle(self.0.get(key)).await.map_err(Error::Store)?.as_string()) })
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a str, ttl_seconds: Option<u64>) -> LocalFuture<'a, Result<(), Error>> {
        // KV's shortest TTL is a minute.
        let options = match ttl_seconds {
            Some(ttl) => object(&[("expirationTtl", JsValue::from(ttl.max(60) as f64))]),
            None => Object::new(),
        };
        Box::pin(async move { settle(self.0.put(key, value, &options)).await.map(|_| ()).map_err(Error::Store) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> LocalFuture<'a, Result<(), Error>> {
        Box::pin(async move { settle(self.0.delete(key)).await.map(|_| ()).map_err(Error::Store) })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalFuture<'a, Result<KeyPage, Error>> {
        Box::pin(self.list_page(prefix, cursor, limit))
    }
}

impl KvStore {
    async fn list_page(&self, prefix: &str, cursor: Option<&str>, limit: usize) -> Result<KeyPage, Error> {
        let mut fields =
            vec![("prefix", JsValue::from_str(prefix)), ("limit", JsValue::from(limit.clamp(1, MAX_LIST_PAGE) as u32))];
        if let Some(cursor) = cursor {
            fields.push(("cursor", JsValue::from_str(cursor)));
        }
        let page = settle(self.0.list(&object(&fields))).await.map_err(Error::Store)?;
        let field = |name: &str| Reflect::get(&page, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
        let keys = Array::from(&field("keys"))
            .iter()
            .filter_map(|key| Reflect::get(&key, &JsValue::from_str("name")).ok()?.as_string())
            .collect();
        let cursor = if field("list_complete").is_truthy() { None } else { field("cursor").as_string() };
        Ok(KeyPage { keys, cursor })
    }
}

#[wasm_bindgen]
extern "C" {
    /// A Queue producer binding, called directly: `worker::Queue` serializes its send options
    /// through serde-wasm-bindgen, which costs 16 KB of wasm for two fields.
    type QueueBinding;
    #[wasm_bindgen(method, catch)]
    fn send(
        this: &QueueBinding,
        body: &str,
        options: &worker::js_sys::Object,
    ) -> Result<worker::js_sys::Promise, JsValue>;
}

struct Queues {
    deliveries: Option<QueueBinding>,
    dead_letters: Option<QueueBinding>,
}

impl Queue for Queues {
    fn send(&self, lane: Lane, body: String, delay_seconds: u32) -> LocalFuture<'_, Result<(), String>> {
        let (queue, binding) = match lane {
            Lane::Deliveries => (&self.deliveries, "DELIVERIES"),
            Lane::DeadLetters => (&self.dead_letters, "DEAD_LETTERS"),
        };
        Box::pin(async move {
            let queue = queue.as_ref().ok_or_else(|| format!("no {binding} queue is bound (see wrangler.toml)"))?;
            let options = worker::js_sys::Object::new();
            let set =
                |key: &str, value: JsValue| worker::js_sys::Reflect::set(&options, &JsValue::from_str(key), &value);
            let _ = set("contentType", JsValue::from_str("text"));
            let _ = set("delaySeconds", JsValue::from(delay_seconds));
            let failed = |err: JsValue| err.as_string().unwrap_or_else(|| format!("{err:?}"));
            let sent = queue.send(&body, &options).map_err(failed)?;
            worker::wasm_bindgen_futures::JsFuture::from(sent).await.map(|_| ()).map_err(failed)
        })
    }
}

struct FetchClient;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, called directly: `worker::Fetch` builds its request through
    /// `worker::RequestInit`, whose `cf` properties go through serde-wasm-bindgen.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(url: &str, init: &Object) -> Result<Promise, JsValue>;
}

impl Outbound for FetchClient {
    fn send(&self, request: OutboundRequest) -> LocalFuture<'_, Result<OutboundResponse, String>> {
        Box::pin(fetch_once(request))
    }
}

async fn fetch_once(request: OutboundRequest) -> Result<OutboundResponse, String> {
    {
        let headers: Array = request
            .headers
            .iter()
            .map(|(name, value)| Array::of2(&JsValue::from_str(name), &JsValue::from_str(value)))
            .collect();
        let timeout = worker::web_sys::AbortSignal::timeout_with_u32(OUTBOUND_TIMEOUT_MS);
        let mut fields = vec![
            ("method", JsValue::from_str(&request.method)),
            ("headers", headers.into()),
            // A target's redirect is its answer; following it could reach places the admin did not configure.
            ("redirect", JsValue::from_str("manual")),
            ("signal", timeout.clone().into()),
        ];
        if !request.body.is_empty() {
            fields.push(("body", Uint8Array::from(request.body.as_slice()).into()));
        }
        let answer = settle(global_fetch(&request.url, &object(&fields))).await.map_err(|err| {
            if timeout.aborted() {
                format!("no answer within {} s", OUTBOUND_TIMEOUT_MS / 1000)
            } else {
                err
            }
        })?;
        let answer: worker::web_sys::Response = answer.unchecked_into();
        let headers = Array::from(&answer.headers())
            .iter()
            .filter_map(|pair| {
                let pair = Array::from(&pair);
                Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
            })
            .collect();
        let body = match answer.array_buffer() {
            Ok(buffer) => JsFuture::from(buffer).await.map(|b| Uint8Array::new(&b).to_vec()).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        Ok(OutboundResponse { status: answer.status(), headers, body })
    }
}

#[wasm_bindgen]
extern "C" {
    /// The Workers rate-limiting binding (`[[ratelimits]]` in `wrangler.toml`).
    type RateLimitBinding;
    #[wasm_bindgen(method, catch)]
    fn limit(this: &RateLimitBinding, options: &Object) -> Result<Promise, JsValue>;
}

struct RateLimit(RateLimitBinding);

impl Limiter for RateLimit {
    fn allow(&self, client: &str) -> LocalFuture<'_, bool> {
        let call = self.0.limit(&object(&[("key", JsValue::from_str(client))]));
        Box::pin(async move {
            // Only a plain "no" refuses: a limiter that cannot answer lets the request through,
            // and the token check still applies.
            match settle(call).await {
                Ok(outcome) => {
                    Reflect::get(&outcome, &JsValue::from_str("success")).map_or(true, |ok| ok.as_bool() != Some(false))
                }
                Err(_) => true,
            }
        })
    }
}

/// Log lines through `console.log`, one JSON text each, for `wrangler tail` and Workers Logs.
struct ConsoleLog;

impl Log for ConsoleLog {
    fn line(&self, line: serde_json::Value) {
        worker::console_log!("{line}");
    }
}

struct PlatformClock;

impl Clock for PlatformClock {
    fn now_ms(&self) -> u64 {
        worker::Date::now().as_millis()
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

struct CryptoRandom;

impl Random for CryptoRandom {
    fn fill(&self, buf: &mut [u8]) {
        // getRandomValues takes at most 65536 bytes at a time.
        for chunk in buf.chunks_mut(65_536) {
            get_random_values(chunk);
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// The Workers Static Assets binding (`[assets]` in `wrangler.toml`): a fetcher of its files.
    type AssetsBinding;
    #[wasm_bindgen(method, catch)]
    fn fetch(this: &AssetsBinding, url: &str) -> Result<Promise, JsValue>;

    /// A Workers Analytics Engine dataset (`[[analytics_engine_datasets]]`).
    type AnalyticsDataset;
    #[wasm_bindgen(method, catch, js_name = writeDataPoint)]
    fn write_data_point(this: &AnalyticsDataset, point: &Object) -> Result<(), JsValue>;
}

/// The static files, read through the `ASSETS` binding (none bound: every file is missing).
struct StaticAssets(Option<AssetsBinding>);

impl Assets for StaticAssets {
    fn get<'a>(&'a self, path: &'a str) -> LocalFuture<'a, Result<Option<Vec<u8>>, String>> {
        Box::pin(async move {
            let Some(assets) = &self.0 else { return Ok(None) };
            // The host is never looked up: the binding serves its own files by path.
            let answer = settle(assets.fetch(&format!("https://assets.invalid/{path}"))).await?;
            let answer: worker::web_sys::Response = answer.unchecked_into();
            if answer.status() != 200 {
                return Ok(None);
            }
            let buffer = answer.array_buffer().map_err(|err| format!("{err:?}"))?;
            let bytes = JsFuture::from(buffer).await.map_err(|err| format!("{err:?}"))?;
            Ok(Some(Uint8Array::new(&bytes).to_vec()))
        })
    }
}

/// The `ANALYTICS` dataset: each point as `{indexes, blobs, doubles}`.
struct AnalyticsEngine(AnalyticsDataset);

impl Analytics for AnalyticsEngine {
    fn write(&self, point: DataPoint) {
        let blobs: Array = point.blobs.iter().map(|blob| JsValue::from_str(blob)).collect();
        let doubles: Array = point.doubles.iter().map(|double| JsValue::from_f64(*double)).collect();
        let fields = [
            ("indexes", Array::of1(&JsValue::from_str(&point.index)).into()),
            ("blobs", blobs.into()),
            ("doubles", doubles.into()),
        ];
        if let Err(err) = self.0.write_data_point(&object(&fields)) {
            ConsoleLog.line(serde_json::json!({"type": "error", "what": "writing an analytics data point", "detail": format!("{err:?}")}));
        }
    }
}
