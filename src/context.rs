//! The context every handler and flow works in: the ports bundle (`App`: store, outbound,
//! clock, randomness, queues, limiter, settings) and one request's `Ctx` (the request, its path
//! parameters, its admin, its JSON body). It sits below everything that uses it: it imports no
//! handler, flow or router, and no `worker` (the shell supplies the platform's ports).

use crate::auth::{Admin, AdminDirectory};
use crate::catalog::Catalog;
use crate::error::Error;
use crate::http::Request;
use crate::ledger::{LedgerPort, Refusals};
use crate::outbound::Outbound;
use crate::ports::{Alarms, Analytics, Assets, Clock, Limiter, Log, Queue, Random};
use crate::settings::Settings;
use crate::store::Store;
use serde::de::DeserializeOwned;

/// The service with its ports. The shell builds one per request; tests build one with in-memory
/// ports. Every port is a trait object of the same style (`crate::ports`).
pub struct App {
    pub store: Box<dyn Store>,
    pub outbound: Box<dyn Outbound>,
    pub clock: Box<dyn Clock>,
    pub random: Box<dyn Random>,
    /// The delivery queue and its dead-letter queue.
    pub queue: Box<dyn Queue>,
    pub admins: AdminDirectory,
    /// Slows down a client that sends too many admin requests (the `ADMIN_RATE_LIMIT` binding).
    pub limiter: Box<dyn Limiter>,
    /// hookrelay's own log lines.
    pub log: Box<dyn Log>,
    /// The per-target ledger (a Durable Object per target at the edge).
    pub ledger: Box<dyn LedgerPort>,
    /// Refused webhooks not yet sent to their ledgers: the isolate's tally at the edge.
    pub refusals: Box<dyn Refusals>,
    /// The scheduled triggers' alarms (a Durable Object per scheduled trigger at the edge).
    pub alarms: Box<dyn Alarms>,
    /// The static files (the admin page, the OpenAPI document): Workers Static Assets at the edge.
    pub assets: Box<dyn Assets>,
    /// One data point per delivery attempt, when an Analytics Engine dataset is bound.
    pub analytics: Box<dyn Analytics>,
    pub settings: Settings,
}

impl App {
    /// The catalog over this app's store: the one owner of every storage key.
    pub fn catalog(&self) -> Catalog<'_> {
        Catalog {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            random: self.random.as_ref(),
            ledger: self.ledger.as_ref(),
            refusals: self.refusals.as_ref(),
            storage_budget_bytes: self.settings.storage_budget_bytes,
            retry: self.settings.retry,
            delivery_ttl_seconds: self.settings.delivery_ttl_seconds,
            allow_local_targets: self.settings.allow_local_targets,
            public_url: self.settings.public_url.as_deref(),
        }
    }
}

/// Path parameters captured by a route, by name.
pub type Captures = Vec<(&'static str, String)>;

/// What a handler gets: the request, the captured path parameters, and the admin, if any.
pub struct Ctx {
    pub request: Request,
    pub params: Captures,
    pub admin: Option<Admin>,
}

impl Ctx {
    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn admin(&self) -> Result<&Admin, Error> {
        self.admin.as_ref().ok_or(Error::Unauthorized)
    }

    /// The body as JSON of type `T`. A body that says it is something else gets 415.
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let declared = self.request.header("content-type").is_some();
        if declared && !self.request.is_json() {
            return Err(Error::UnsupportedMediaType("send the body as application/json".into()));
        }
        if self.request.body.is_empty() {
            return Err(Error::bad_request("the body is empty; send a JSON object"));
        }
        crate::http::check_json_depth(&self.request.body)?;
        Ok(serde_json::from_slice(&self.request.body)?)
    }
}
