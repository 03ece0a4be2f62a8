//! The shell: the only module that sees `worker`. It converts the platform's request, queue batch
//! and cron event into ours, builds the app on the platform's ports (`ports.rs`), runs the core,
//! and converts the answer back. It decides nothing and never logs a secret.

mod ledger;
mod ports;
mod schedule;

use ports::{
    binding, namespace, object, AnalyticsDataset, AnalyticsEngine, ConsoleLog, CryptoRandom, FetchClient, KvStore,
    ObjectNamespace, PlatformClock, Queues, RateLimit, RateLimitBinding, StaticAssets,
};

use crate::access_keys::MemoryNonces;
use crate::auth::AdminDirectory;
use crate::context::App;
use crate::http;
use crate::ledger::MemoryRefusals;
use crate::ports::Log;
use crate::sealed::{Keyring, SealedStore};
use crate::settings::Settings;
use wasm_bindgen::prelude::*;
use worker::js_sys::{Array, Object};
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
    /// The refused webhooks this isolate counted and has not yet sent to their targets' ledgers
    /// (`ledger::refusals`): lost if the isolate ends first.
    static REFUSALS: std::rc::Rc<MemoryRefusals> = std::rc::Rc::new(MemoryRefusals::default());
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
        refusals: Box::new(REFUSALS.with(|refusals| refusals.clone())),
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
