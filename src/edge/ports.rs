//! The ports on the platform's bindings: KV, Queues, `fetch`, the rate limiter, `console.log`, the
//! clock, `crypto.getRandomValues`, Static Assets, Analytics Engine and the Durable Object
//! namespaces, each called through its own JS binding. They convert values; they decide nothing.

use crate::error::Error;
use crate::outbound::{Outbound, OutboundRequest, OutboundResponse, OUTBOUND_TIMEOUT_MS};
use crate::ports::{Analytics, Assets, Clock, DataPoint, Lane, Limiter, LocalFuture, Log, Queue, Random};
use crate::store::{KeyPage, Store, MAX_LIST_PAGE};
use wasm_bindgen::prelude::*;
use worker::js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;
use worker::Env;

#[wasm_bindgen]
extern "C" {
    /// The KV namespace binding, called directly: `worker::KvStore` reads list answers and writes
    /// put options through serde-wasm-bindgen, which costs more wasm than these four calls.
    pub(super) type KvBinding;
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
    pub(super) type ObjectNamespace;
    #[wasm_bindgen(method, catch, js_name = idFromName)]
    fn id_from_name(this: &ObjectNamespace, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &ObjectNamespace, id: &JsValue) -> Result<ObjectStub, JsValue>;

    pub(super) type ObjectStub;
    #[wasm_bindgen(method, catch)]
    fn fetch(this: &ObjectStub, url: &str, init: &Object) -> Result<Promise, JsValue>;
}

impl ObjectNamespace {
    /// POSTs `body` to the object named `name`; its status and its answer as text.
    pub(super) async fn post(&self, name: &str, url: &str, body: &str) -> Result<(u16, String), String> {
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
pub(super) fn namespace(env: &Env, name: &str) -> worker::Result<ObjectNamespace> {
    binding(env, name).ok_or_else(|| worker::Error::RustError(format!("no {name} Durable Object namespace is bound")))
}

/// A binding by name, or `None` when `wrangler.toml` does not declare it.
pub(super) fn binding<T: JsCast>(env: &Env, name: &str) -> Option<T> {
    let value = Reflect::get(env, &JsValue::from_str(name)).ok()?;
    (!value.is_undefined()).then(|| value.unchecked_into())
}

/// A plain JS object with these fields.
pub(super) fn object(fields: &[(&str, JsValue)]) -> Object {
    let object = Object::new();
    for (key, value) in fields {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object
}

/// Awaits a platform call; its error becomes text.
pub(super) async fn settle(call: Result<Promise, JsValue>) -> Result<JsValue, String> {
    let text = |err: JsValue| {
        let message = Reflect::get(&err, &JsValue::from_str("message")).ok().and_then(|m| m.as_string());
        message.or_else(|| err.as_string()).unwrap_or_else(|| format!("{err:?}"))
    };
    JsFuture::from(call.map_err(text)?).await.map_err(text)
}

pub(super) struct KvStore(pub(super) KvBinding);

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
    pub(super) type QueueBinding;
    #[wasm_bindgen(method, catch)]
    fn send(
        this: &QueueBinding,
        body: &str,
        options: &worker::js_sys::Object,
    ) -> Result<worker::js_sys::Promise, JsValue>;
}

pub(super) struct Queues {
    pub(super) deliveries: Option<QueueBinding>,
    pub(super) dead_letters: Option<QueueBinding>,
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

pub(super) struct FetchClient;

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

pub(super) async fn fetch_once(request: OutboundRequest) -> Result<OutboundResponse, String> {
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
    pub(super) type RateLimitBinding;
    #[wasm_bindgen(method, catch)]
    fn limit(this: &RateLimitBinding, options: &Object) -> Result<Promise, JsValue>;
}

pub(super) struct RateLimit(pub(super) RateLimitBinding);

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
pub(super) struct ConsoleLog;

impl Log for ConsoleLog {
    fn line(&self, line: serde_json::Value) {
        worker::console_log!("{line}");
    }
}

pub(super) struct PlatformClock;

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

pub(super) struct CryptoRandom;

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
    pub(super) type AssetsBinding;
    #[wasm_bindgen(method, catch)]
    fn fetch(this: &AssetsBinding, url: &str) -> Result<Promise, JsValue>;

    /// A Workers Analytics Engine dataset (`[[analytics_engine_datasets]]`).
    pub(super) type AnalyticsDataset;
    #[wasm_bindgen(method, catch, js_name = writeDataPoint)]
    fn write_data_point(this: &AnalyticsDataset, point: &Object) -> Result<(), JsValue>;
}

/// The static files, read through the `ASSETS` binding (none bound: every file is missing).
pub(super) struct StaticAssets(pub(super) Option<AssetsBinding>);

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
pub(super) struct AnalyticsEngine(pub(super) AnalyticsDataset);

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
