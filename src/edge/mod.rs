//! The shell: the only module that sees `worker`. It converts the platform's request, queue batch
//! and cron event into ours, runs the core, and converts the answer back; and it implements the
//! ports on KV, `Fetch`, Queues, the platform clock and `crypto.getRandomValues`. It decides
//! nothing and never logs a secret.

use crate::app::{App, Settings};
use crate::auth::AdminDirectory;
use crate::error::Error;
use crate::http;
use crate::outbound::{Outbound, OutboundRequest, OutboundResponse, OUTBOUND_TIMEOUT_MS};
use crate::ports::{Clock, Lane, LocalFuture, Queue, Random};
use crate::store::{KeyPage, Store, MAX_LIST_PAGE};
use wasm_bindgen::prelude::*;
use worker::{event, Context, Env, Fetch, Headers, MessageBatch, MessageExt, Method, RequestInit, RequestRedirect};

/// The app with the platform's ports, as `wrangler.toml` binds them.
fn app(env: &Env) -> worker::Result<App<KvStore, FetchClient>> {
    let admins = env.secret("ADMIN_TOKENS").map(|s| s.to_string()).unwrap_or_default();
    Ok(App {
        store: KvStore(env.kv("TRIGGERS")?),
        outbound: FetchClient,
        clock: Box::new(PlatformClock),
        random: Box::new(CryptoRandom),
        queue: Box::new(Queues {
            deliveries: env.queue("DELIVERIES").ok(),
            dead_letters: env.queue("DEAD_LETTERS").ok(),
        }),
        admins: AdminDirectory::parse(&admins),
        settings: Settings::from_vars(|name| env.var(name).ok().map(|var| var.to_string())),
    })
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, _ctx: Context) -> worker::Result<worker::Response> {
    let request = into_core_request(req).await?;
    into_worker_response(app(&env)?.handle(request).await)
}

/// The deliveries queue's consumer. A message the core could not settle (storage or the queue
/// failed) is retried by the platform; everything else is acknowledged. Never returns `Err`:
/// the macro would turn it into a panic.
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> worker::Result<()> {
    let Ok(app) = app(&env) else {
        batch.retry_all();
        return Ok(());
    };
    for message in batch.raw_iter() {
        let body = message.body().as_string().unwrap_or_default();
        match crate::relay::consume(&app, &body).await {
            Ok(()) => message.ack(),
            Err(_) => message.retry(),
        }
    }
    Ok(())
}

async fn into_core_request(mut req: worker::Request) -> worker::Result<http::Request> {
    // The URL as the platform gives it, already normalized: split it by hand rather than
    // parse it again (the `url` crate's IDNA tables would cost ~10% of the wasm).
    let url = req.inner().url();
    let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let path_and_query = after_scheme.find('/').map_or("/", |start| &after_scheme[start..]);
    let path_and_query = path_and_query.split_once('#').map_or(path_and_query, |(before, _)| before);
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let headers = req.headers().entries().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
    // Bodies over the limit are refused by the core before anything is parsed.
    let body = req.bytes().await.unwrap_or_default();
    Ok(http::Request {
        method: req.method().to_string().to_ascii_uppercase(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
    })
}

fn into_worker_response(response: http::Response) -> worker::Result<worker::Response> {
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    let body = (!response.body.is_empty()).then_some(response.body);
    let builder = worker::ResponseBuilder::new().with_status(response.status).with_headers(headers);
    match body {
        Some(bytes) => builder.from_bytes(bytes),
        None => Ok(builder.empty()),
    }
}

struct KvStore(worker::KvStore);

fn store_error(err: impl std::fmt::Display) -> Error {
    Error::Store(err.to_string())
}

impl Store for KvStore {
    async fn get(&self, key: &str) -> Result<Option<String>, Error> {
        self.0.get(key).text().await.map_err(store_error)
    }

    async fn put(&self, key: &str, value: &str, ttl_seconds: Option<u64>) -> Result<(), Error> {
        let mut put = self.0.put(key, value).map_err(store_error)?;
        if let Some(ttl) = ttl_seconds {
            put = put.expiration_ttl(ttl.max(60));
        }
        put.execute().await.map_err(store_error)
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        self.0.delete(key).await.map_err(store_error)
    }

    async fn list(&self, prefix: &str, cursor: Option<&str>, limit: usize) -> Result<KeyPage, Error> {
        let mut list = self.0.list().prefix(prefix.to_string()).limit(limit.clamp(1, MAX_LIST_PAGE) as u64);
        if let Some(cursor) = cursor {
            list = list.cursor(cursor.to_string());
        }
        let page = list.execute().await.map_err(store_error)?;
        let keys = page.keys.into_iter().map(|key| key.name).collect();
        let cursor = if page.list_complete { None } else { page.cursor };
        Ok(KeyPage { keys, cursor })
    }
}

struct Queues {
    deliveries: Option<worker::Queue>,
    dead_letters: Option<worker::Queue>,
}

impl Queue for Queues {
    fn send(&self, lane: Lane, body: String, delay_seconds: u32) -> LocalFuture<'_, Result<(), String>> {
        let (queue, binding) = match lane {
            Lane::Deliveries => (&self.deliveries, "DELIVERIES"),
            Lane::DeadLetters => (&self.dead_letters, "DEAD_LETTERS"),
        };
        Box::pin(async move {
            let queue = queue.as_ref().ok_or_else(|| format!("no {binding} queue is bound (see wrangler.toml)"))?;
            let message = worker::RawMessageBuilder::new(JsValue::from_str(&body))
                .delay_seconds(delay_seconds)
                .build_with_content_type(worker::QueueContentType::Text);
            queue.send_raw(message).await.map_err(|err| err.to_string())
        })
    }
}

struct FetchClient;

impl Outbound for FetchClient {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers.append(name, value).map_err(|_| format!("invalid header {name}"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(request.method.clone())).with_headers(headers);
        // A target's redirect is its answer; following it could reach places the admin did not configure.
        init.redirect = RequestRedirect::Manual;
        if !request.body.is_empty() {
            init.with_body(Some(worker::js_sys::Uint8Array::from(request.body.as_slice()).into()));
        }
        let outbound = worker::Request::new_with_init(&request.url, &init).map_err(|err| err.to_string())?;
        let timeout = worker::AbortSignal::from(worker::web_sys::AbortSignal::timeout_with_u32(OUTBOUND_TIMEOUT_MS));
        let mut answer = Fetch::Request(outbound).send_with_signal(&timeout).await.map_err(|err| {
            if timeout.aborted() {
                format!("no answer within {} s", OUTBOUND_TIMEOUT_MS / 1000)
            } else {
                err.to_string()
            }
        })?;
        let headers = answer.headers().entries().collect();
        let body = answer.bytes().await.unwrap_or_default();
        Ok(OutboundResponse { status: answer.status_code(), headers, body })
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
