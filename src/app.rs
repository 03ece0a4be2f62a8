//! The router: our `Request` value in, a handler, our `Response` value out. The route table is
//! data, so `/openapi.json` can be checked against it. No `worker` import.

use crate::auth::{Admin, AdminDirectory};
use crate::catalog::Catalog;
use crate::error::{Dialect, Error};
use crate::http::{percent_decode, Request, Response, MAX_BODY_BYTES};
use crate::model::delivery::delivery_stamp;
use crate::model::AuditEntry;
use crate::outbound::Outbound;
use crate::ports::{Clock, Limiter, Queue, Random};
use crate::settings::Settings;
use crate::store::Store;
use crate::{api, compat};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// The service with its ports. The shell builds one per request; tests build one with in-memory ports.
pub struct App<S: Store, O: Outbound> {
    pub store: S,
    pub outbound: O,
    pub clock: Box<dyn Clock>,
    pub random: Box<dyn Random>,
    /// The delivery queue and its dead-letter queue.
    pub queue: Box<dyn Queue>,
    pub admins: AdminDirectory,
    /// Slows down a client that sends too many admin requests (the `ADMIN_RATE_LIMIT` binding).
    pub limiter: Box<dyn Limiter>,
    pub settings: Settings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Admin,
}

/// Every handler, named. `App::dispatch` is the one place that maps a name to code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Health,
    OpenApi,
    AdminPage,
    AdminScript,
    AdminStyle,
    TargetList,
    TargetCreate,
    TargetGet,
    TargetUpdate,
    TargetDelete,
    TriggerList,
    TriggerCreate,
    TriggerGet,
    TriggerUpdate,
    TriggerDelete,
    DeliveryList,
    DeliveryGet,
    DeliveryReplay,
    AuditList,
    KeysRotate,
    RegistryList,
    RegistryCreate,
    RegistryGet,
    RegistryUpdate,
    RegistryDelete,
    GitlabTriggerList,
    GitlabTriggerCreate,
    GitlabTriggerGet,
    GitlabTriggerUpdate,
    GitlabTriggerDelete,
    GitlabInvoke,
    GitlabInvokeWebhook,
    HookReceive,
    ServiceStageHookList,
    ServiceStageHookCreate,
    ServiceStageHookDelete,
    SwrTriggerList,
    SwrTriggerCreate,
    SwrTriggerGet,
    SwrTriggerUpdate,
    SwrTriggerDelete,
    AckTriggerCreate,
    AckTriggerDescribe,
    AckTriggerDelete,
    AckInvoke,
}

pub struct Route {
    pub method: &'static str,
    /// OpenAPI-style: `{name}` captures one URL-decoded path segment.
    pub pattern: &'static str,
    pub access: Access,
    pub dialect: Dialect,
    pub handler: Handler,
}

const fn route(
    method: &'static str,
    pattern: &'static str,
    access: Access,
    dialect: Dialect,
    handler: Handler,
) -> Route {
    Route { method, pattern, access, dialect, handler }
}

use Access::{Admin as A, Public as P};
use Dialect::{GitLab as GL, Native as N, ServiceStage as SS};
use Handler::*;

pub const ROUTES: &[Route] = &[
    route("GET", "/healthz", P, N, Health),
    route("GET", "/openapi.json", P, N, OpenApi),
    route("GET", "/admin", P, N, AdminPage),
    route("GET", "/admin/app.js", P, N, AdminScript),
    route("GET", "/admin/app.css", P, N, AdminStyle),
    route("GET", "/api/v1/targets", A, N, TargetList),
    route("POST", "/api/v1/targets", A, N, TargetCreate),
    route("GET", "/api/v1/targets/{id}", A, N, TargetGet),
    route("PATCH", "/api/v1/targets/{id}", A, N, TargetUpdate),
    route("DELETE", "/api/v1/targets/{id}", A, N, TargetDelete),
    route("GET", "/api/v1/triggers", A, N, TriggerList),
    route("POST", "/api/v1/triggers", A, N, TriggerCreate),
    route("GET", "/api/v1/triggers/{id}", A, N, TriggerGet),
    route("PATCH", "/api/v1/triggers/{id}", A, N, TriggerUpdate),
    route("DELETE", "/api/v1/triggers/{id}", A, N, TriggerDelete),
    route("GET", "/api/v1/triggers/{id}/deliveries", A, N, DeliveryList),
    route("GET", "/api/v1/deliveries/{id}", A, N, DeliveryGet),
    route("POST", "/api/v1/deliveries/{id}/replay", A, N, DeliveryReplay),
    route("GET", "/api/v1/audit", A, N, AuditList),
    route("POST", "/api/v1/admin/rotate", A, N, KeysRotate),
    route("GET", "/api/v1/registries", A, N, RegistryList),
    route("POST", "/api/v1/registries", A, N, RegistryCreate),
    route("GET", "/api/v1/registries/{id}", A, N, RegistryGet),
    route("PATCH", "/api/v1/registries/{id}", A, N, RegistryUpdate),
    route("DELETE", "/api/v1/registries/{id}", A, N, RegistryDelete),
    route("GET", "/api/v4/projects/{id}/triggers", A, GL, GitlabTriggerList),
    route("POST", "/api/v4/projects/{id}/triggers", A, GL, GitlabTriggerCreate),
    route("GET", "/api/v4/projects/{id}/triggers/{trigger_id}", A, GL, GitlabTriggerGet),
    route("PUT", "/api/v4/projects/{id}/triggers/{trigger_id}", A, GL, GitlabTriggerUpdate),
    route("DELETE", "/api/v4/projects/{id}/triggers/{trigger_id}", A, GL, GitlabTriggerDelete),
    route("POST", "/api/v4/projects/{id}/trigger/pipeline", P, GL, GitlabInvoke),
    route("POST", "/api/v4/projects/{id}/ref/{ref}/trigger/pipeline", P, GL, GitlabInvokeWebhook),
    route("POST", "/api/v3/projects/{id}/trigger/builds", P, GL, GitlabInvoke),
    route("POST", "/api/v3/projects/{id}/ref/{ref}/trigger/builds", P, GL, GitlabInvokeWebhook),
    route("POST", "/hooks/{id}", P, N, HookReceive),
    route("GET", "/v1/{project_id}/git/repos/{namespace}/{project}/hooks", A, SS, ServiceStageHookList),
    route("POST", "/v1/{project_id}/git/repos/{namespace}/{project}/hooks", A, SS, ServiceStageHookCreate),
    route("DELETE", "/v1/{project_id}/git/repos/{namespace}/{project}/hooks/{hook_id}", A, SS, ServiceStageHookDelete),
    route("GET", "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers", A, N, SwrTriggerList),
    route("POST", "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers", A, N, SwrTriggerCreate),
    route("GET", "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers/{trigger}", A, N, SwrTriggerGet),
    route("PATCH", "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers/{trigger}", A, N, SwrTriggerUpdate),
    route("DELETE", "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers/{trigger}", A, N, SwrTriggerDelete),
    route("POST", "/triggers", A, N, AckTriggerCreate),
    route("POST", "/clusters/{cluster_id}/triggers", A, N, AckTriggerCreate),
    route("GET", "/clusters/{cluster_id}/triggers", A, N, AckTriggerDescribe),
    route("GET", "/triggers/{cluster_id}", A, N, AckTriggerDescribe),
    route("DELETE", "/clusters/{cluster_id}/triggers/{id}", A, N, AckTriggerDelete),
    route("DELETE", "/triggers/revoke/{id}", A, N, AckTriggerDelete),
    route("GET", "/hook/trigger", P, N, AckInvoke),
    route("POST", "/hook/trigger", P, N, AckInvoke),
];

/// What a handler gets: the request, the captured path parameters, and the admin, if any.
pub struct Ctx {
    pub request: Request,
    params: Captures,
    admin: Option<Admin>,
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

/// Matches a path against a pattern, capturing `{name}` segments (percent-decoded).
fn match_pattern(pattern: &'static str, path: &str) -> Option<Captures> {
    let mut wanted = pattern.split('/');
    let mut given = path.split('/');
    let mut params = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return None;
                }
                params.push((&w[1..w.len() - 1], percent_decode(g, false)));
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

/// The longest path parameter that can name anything: ids, names, refs and repositories are at
/// most 255 bytes (`model::MAX_NAME_BYTES`).
const MAX_PATH_PARAM_BYTES: usize = crate::model::MAX_NAME_BYTES;

/// Path parameters captured by a route, by name.
pub type Captures = Vec<(&'static str, String)>;

/// The route for a method and path: `Ok` with its captures, or the error to answer with.
pub fn find_route(method: &str, path: &str) -> Result<(&'static Route, Captures), (Error, Dialect)> {
    let mut path_dialect = None;
    for route in ROUTES {
        if let Some(params) = match_pattern(route.pattern, path) {
            if route.method == method {
                return Ok((route, params));
            }
            path_dialect.get_or_insert(route.dialect);
        }
    }
    match path_dialect {
        Some(dialect) => Err((Error::MethodNotAllowed, dialect)),
        None => Err((Error::not_found(format!("no route for {method} {path}")), Dialect::Native)),
    }
}

/// The methods some route takes at `path`, for a 405's `Allow` header.
fn allowed_methods(path: &str) -> Vec<&'static str> {
    let mut methods = Vec::new();
    for route in ROUTES.iter().filter(|route| match_pattern(route.pattern, path).is_some()) {
        if !methods.contains(&route.method) {
            methods.push(route.method);
        }
    }
    methods
}

/// Who is asking, for the admin rate limit: the address Cloudflare puts in front of every request
/// (a client cannot set it at the edge). An IPv6 client is its /64, which it could otherwise
/// rotate through.
fn client_address(request: &Request) -> String {
    let address = request.header("cf-connecting-ip").map(str::trim).filter(|ip| !ip.is_empty()).unwrap_or("unknown");
    match address.parse::<std::net::Ipv6Addr>() {
        Ok(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => address.to_string(),
    }
}

impl<S: Store, O: Outbound> App<S, O> {
    pub fn catalog(&self) -> Catalog<'_, S> {
        Catalog {
            store: &self.store,
            clock: self.clock.as_ref(),
            random: self.random.as_ref(),
            delivery_ttl_seconds: self.settings.delivery_ttl_seconds,
            allow_local_targets: self.settings.allow_local_targets,
        }
    }

    pub async fn handle(&self, request: Request) -> Response {
        let (route, params) = match find_route(&request.method, &request.path) {
            Ok(found) => found,
            Err((error, dialect)) => {
                let mut response = error.into_response(dialect);
                if response.status == 405 {
                    response.headers.push(("allow".into(), allowed_methods(&request.path).join(", ")));
                }
                return response;
            }
        };
        // A path segment names something stored under it; one longer than any name can be names
        // nothing, so it is unknown here, before it could make a key longer than KV takes.
        if params.iter().any(|(_, value)| value.len() > MAX_PATH_PARAM_BYTES) {
            return Error::not_found("no such resource").into_response(route.dialect);
        }
        if request.body.len() > MAX_BODY_BYTES {
            return Error::PayloadTooLarge.into_response(route.dialect);
        }
        let admin = match route.access {
            Access::Public => None,
            Access::Admin => {
                // Counted before the token is checked: a client over its limit is refused either
                // way, so it cannot tell a right guess from a wrong one while it is slowed down.
                if !self.limiter.allow(&client_address(&request)).await {
                    return Error::RateLimited.into_response(route.dialect);
                }
                match self.admins.authenticate(&request) {
                    Ok(admin) => Some(admin),
                    Err(error) => return error.into_response(route.dialect),
                }
            }
        };
        let ctx = Ctx { request, params, admin };
        let response = match self.dispatch(route.handler, &ctx).await {
            Ok(response) => response,
            Err(error) => error.into_response(route.dialect),
        };
        if let Some(admin) = &ctx.admin {
            if ctx.request.method != "GET" && (200..300).contains(&response.status) {
                // The mutation happened; a trail that cannot be written must not undo its answer.
                let _ = self.catalog().record_audit(&self.audit_entry(admin, route, &ctx.params, &response)).await;
            }
        }
        response
    }

    /// Who changed what, when: the route and its ids, and the id a creation answered with.
    fn audit_entry(&self, admin: &Admin, route: &Route, params: &Captures, response: &Response) -> AuditEntry {
        let mut ids: BTreeMap<String, String> =
            params.iter().map(|(name, value)| (name.to_string(), value.clone())).collect();
        #[derive(serde::Deserialize)]
        struct Created {
            id: serde_json::Value,
        }
        // Every admin POST creates (a target, trigger, registry, vendor trigger or hook, or a replay's
        // delivery), whether it answers 201 or, as ACK and ServiceStage do, 200. A PATCH or PUT
        // answers with the id it changed, which its path already holds.
        let creates = route.method == "POST";
        if let (true, Ok(Created { id })) = (creates, serde_json::from_slice::<Created>(&response.body)) {
            let id = id.as_str().map(str::to_string).unwrap_or_else(|| id.to_string());
            ids.insert("created".into(), id);
        }
        let mut random = [0u8; 4];
        self.random.fill(&mut random);
        let now = self.clock.now_ms();
        AuditEntry {
            id: delivery_stamp(now, random),
            at: crate::time::format_rfc3339(now),
            admin: admin.name.clone(),
            action: format!("{} {}", route.method, route.pattern),
            status: response.status,
            ids,
        }
    }

    async fn dispatch(&self, handler: Handler, ctx: &Ctx) -> Result<Response, Error> {
        match handler {
            Health => Ok(Response::json(200, &serde_json::json!({"status": "ok"}))),
            OpenApi => Ok(Response {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: crate::OPENAPI_JSON.as_bytes().to_vec(),
            }),
            AdminPage => Ok(crate::admin::serve(crate::admin::Asset::Page)),
            AdminScript => Ok(crate::admin::serve(crate::admin::Asset::Script)),
            AdminStyle => Ok(crate::admin::serve(crate::admin::Asset::Style)),
            TargetList => api::targets::list(self, ctx).await,
            TargetCreate => api::targets::create(self, ctx).await,
            TargetGet => api::targets::get(self, ctx).await,
            TargetUpdate => api::targets::update(self, ctx).await,
            TargetDelete => api::targets::delete(self, ctx).await,
            TriggerList => api::triggers::list(self, ctx).await,
            TriggerCreate => api::triggers::create(self, ctx).await,
            TriggerGet => api::triggers::get(self, ctx).await,
            TriggerUpdate => api::triggers::update(self, ctx).await,
            TriggerDelete => api::triggers::delete(self, ctx).await,
            DeliveryList => api::deliveries::list(self, ctx).await,
            DeliveryGet => api::deliveries::get(self, ctx).await,
            DeliveryReplay => api::deliveries::replay(self, ctx).await,
            AuditList => api::audit::list(self, ctx).await,
            KeysRotate => api::admin::rotate(self, ctx).await,
            RegistryList => api::registries::list(self, ctx).await,
            RegistryCreate => api::registries::create(self, ctx).await,
            RegistryGet => api::registries::get(self, ctx).await,
            RegistryUpdate => api::registries::update(self, ctx).await,
            RegistryDelete => api::registries::delete(self, ctx).await,
            GitlabTriggerList => compat::gitlab::list(self, ctx).await,
            GitlabTriggerCreate => compat::gitlab::create(self, ctx).await,
            GitlabTriggerGet => compat::gitlab::get(self, ctx).await,
            GitlabTriggerUpdate => compat::gitlab::update(self, ctx).await,
            GitlabTriggerDelete => compat::gitlab::delete(self, ctx).await,
            GitlabInvoke => compat::gitlab::invoke(self, ctx).await,
            GitlabInvokeWebhook => compat::gitlab::invoke_webhook(self, ctx).await,
            HookReceive => crate::hooks::receive(self, ctx).await,
            ServiceStageHookList => compat::servicestage::list(self, ctx).await,
            ServiceStageHookCreate => compat::servicestage::create(self, ctx).await,
            ServiceStageHookDelete => compat::servicestage::delete(self, ctx).await,
            SwrTriggerList => compat::swr::list(self, ctx).await,
            SwrTriggerCreate => compat::swr::create(self, ctx).await,
            SwrTriggerGet => compat::swr::get(self, ctx).await,
            SwrTriggerUpdate => compat::swr::update(self, ctx).await,
            SwrTriggerDelete => compat::swr::delete(self, ctx).await,
            AckTriggerCreate => compat::ack::create(self, ctx).await,
            AckTriggerDescribe => compat::ack::describe(self, ctx).await,
            AckTriggerDelete => compat::ack::delete(self, ctx).await,
            AckInvoke => compat::ack::invoke(self, ctx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_slashes_stay_in_one_segment() {
        let (route, params) =
            find_route("POST", "/api/v4/projects/group%2Fapp/ref/release%2F1.0/trigger/pipeline").unwrap();
        assert_eq!(route.handler, GitlabInvokeWebhook);
        assert_eq!(params, vec![("id", "group/app".to_string()), ("ref", "release/1.0".to_string())]);
    }

    #[test]
    fn legacy_v3_routes_reach_the_same_handlers() {
        assert_eq!(find_route("POST", "/api/v3/projects/9/trigger/builds").unwrap().0.handler, GitlabInvoke);
        assert_eq!(
            find_route("POST", "/api/v3/projects/9/ref/main/trigger/builds").unwrap().0.handler,
            GitlabInvokeWebhook
        );
    }

    #[test]
    fn wrong_method_is_405_and_unknown_path_is_404() {
        assert!(matches!(
            find_route("GET", "/api/v4/projects/9/trigger/pipeline"),
            Err((Error::MethodNotAllowed, Dialect::GitLab))
        ));
        assert!(matches!(find_route("GET", "/nope"), Err((Error::NotFound(_), Dialect::Native))));
        assert!(find_route("GET", "/api/v1/targets/").is_err());
        assert!(find_route("GET", "/api/v1/targets/a/b").is_err());
        assert_eq!(allowed_methods("/api/v1/targets/t1"), ["GET", "PATCH", "DELETE"]);
        assert_eq!(allowed_methods("/hook/trigger"), ["GET", "POST"]);
    }

    #[test]
    fn an_ipv6_client_is_limited_by_its_64() {
        let from = |ip: &str| client_address(&Request::new("GET", "/").with_header("cf-connecting-ip", ip));
        assert_eq!(from("2001:db8:1:2:aaaa::1"), from("2001:db8:1:2:bbbb::2"));
        assert_eq!(from("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_ne!(from("2001:db8:1:3::1"), from("2001:db8:1:2::1"));
        assert_eq!(from("203.0.113.9"), "203.0.113.9");
        assert_eq!(from("::ffff:203.0.113.9"), "::ffff:203.0.113.9");
        assert_eq!(Request::new("GET", "/").header("cf-connecting-ip"), None);
        assert_eq!(client_address(&Request::new("GET", "/")), "unknown");
    }

    #[test]
    fn openapi_describes_every_route_and_nothing_else() {
        let spec: serde_json::Value = serde_json::from_str(crate::OPENAPI_JSON).unwrap();
        let paths = spec["paths"].as_object().unwrap();
        let mut described = std::collections::BTreeSet::new();
        for (path, item) in paths {
            for method in item.as_object().unwrap().keys().filter(|k| *k != "parameters") {
                described.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
        let routed: std::collections::BTreeSet<String> =
            ROUTES.iter().map(|r| format!("{} {}", r.method, r.pattern)).collect();
        assert_eq!(described, routed);
    }
}
