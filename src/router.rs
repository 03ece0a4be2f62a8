//! The router: the one route table (method, pattern, access, error dialect, handler function),
//! and `handle`, which takes our `Request` value to a handler and its `Response` back. The table is
//! data, so `/openapi.json` is checked against it. It sits on top: nothing below imports it.
//! No `worker` import.

use crate::auth::Admin;
use crate::context::{App, Captures, Ctx};
use crate::error::{Dialect, Error};
use crate::http::{percent_decode, Request, Response, MAX_BODY_BYTES};
use crate::model::delivery::delivery_stamp;
use crate::model::AuditEntry;
use crate::ports::LocalFuture;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Admin,
}

/// A handler: the context and the request in, an answer or the one error type out. Every route's
/// function is named once, in `ROUTES`, and `handler!` wraps it into this shape.
pub type HandlerFn = for<'a> fn(&'a App, &'a Ctx) -> LocalFuture<'a, Result<Response, Error>>;

/// A route's handler: its function, and its name (the function's path), for tests and logs.
#[derive(Clone, Copy)]
pub struct Handler {
    pub run: HandlerFn,
    /// Native builds only: the shipped wasm need not carry every function's path as text.
    #[cfg(not(target_arch = "wasm32"))]
    pub name: &'static str,
}

/// `handler!(path::to::async_fn)`: the async handler as a `Handler`.
macro_rules! handler {
    ($function:path) => {{
        fn boxed<'a>(app: &'a App, ctx: &'a Ctx) -> LocalFuture<'a, Result<Response, Error>> {
            Box::pin($function(app, ctx))
        }
        Handler {
            run: boxed,
            #[cfg(not(target_arch = "wasm32"))]
            name: stringify!($function),
        }
    }};
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
use Dialect::{Alibaba as AL, GitLab as GL, Native as N, ServiceStage as SS, Swr as SW};

pub static ROUTES: &[Route] = &[
    route("GET", "/healthz", P, N, handler!(health)),
    route("GET", "/openapi.json", P, N, handler!(openapi)),
    route("GET", "/admin", P, N, handler!(admin_page)),
    route("GET", "/admin/app.js", P, N, handler!(admin_script)),
    route("GET", "/admin/app.css", P, N, handler!(admin_style)),
    route("GET", "/api/v1/targets", A, N, handler!(crate::api::targets::list)),
    route("POST", "/api/v1/targets", A, N, handler!(crate::api::targets::create)),
    route("GET", "/api/v1/targets/{id}", A, N, handler!(crate::api::targets::get)),
    route("PATCH", "/api/v1/targets/{id}", A, N, handler!(crate::api::targets::update)),
    route("DELETE", "/api/v1/targets/{id}", A, N, handler!(crate::api::targets::delete)),
    route("GET", "/api/v1/triggers", A, N, handler!(crate::api::triggers::list)),
    route("POST", "/api/v1/triggers", A, N, handler!(crate::api::triggers::create)),
    route("GET", "/api/v1/triggers/{id}", A, N, handler!(crate::api::triggers::get)),
    route("PATCH", "/api/v1/triggers/{id}", A, N, handler!(crate::api::triggers::update)),
    route("DELETE", "/api/v1/triggers/{id}", A, N, handler!(crate::api::triggers::delete)),
    route("GET", "/api/v1/triggers/{id}/deliveries", A, N, handler!(crate::api::deliveries::list)),
    route("GET", "/api/v1/triggers/{id}/stats", A, N, handler!(crate::api::stats::trigger)),
    route("GET", "/api/v1/stats", A, N, handler!(crate::api::stats::all)),
    route("GET", "/api/v1/deliveries/{id}", A, N, handler!(crate::api::deliveries::get)),
    route("POST", "/api/v1/deliveries/{id}/replay", A, N, handler!(crate::api::deliveries::replay)),
    route("GET", "/api/v1/audit", A, N, handler!(crate::api::audit::list)),
    route("POST", "/api/v1/admin/rotate", A, N, handler!(crate::api::admin::rotate)),
    route("GET", "/api/v1/registries", A, N, handler!(crate::api::registries::list)),
    route("POST", "/api/v1/registries", A, N, handler!(crate::api::registries::create)),
    route("GET", "/api/v1/registries/{id}", A, N, handler!(crate::api::registries::get)),
    route("PATCH", "/api/v1/registries/{id}", A, N, handler!(crate::api::registries::update)),
    route("DELETE", "/api/v1/registries/{id}", A, N, handler!(crate::api::registries::delete)),
    route("GET", "/api/v4/user", A, GL, handler!(crate::compat::gitlab::current_user)),
    route("GET", "/api/v4/version", A, GL, handler!(crate::compat::gitlab::version)),
    route("GET", "/api/v4/projects/{id}/triggers", A, GL, handler!(crate::compat::gitlab::list)),
    route("POST", "/api/v4/projects/{id}/triggers", A, GL, handler!(crate::compat::gitlab::create)),
    route("GET", "/api/v4/projects/{id}/triggers/{trigger_id}", A, GL, handler!(crate::compat::gitlab::get)),
    route("PUT", "/api/v4/projects/{id}/triggers/{trigger_id}", A, GL, handler!(crate::compat::gitlab::update)),
    route("DELETE", "/api/v4/projects/{id}/triggers/{trigger_id}", A, GL, handler!(crate::compat::gitlab::delete)),
    route("POST", "/api/v4/projects/{id}/trigger/pipeline", P, GL, handler!(crate::compat::gitlab::invoke)),
    route(
        "POST",
        "/api/v4/projects/{id}/ref/{ref}/trigger/pipeline",
        P,
        GL,
        handler!(crate::compat::gitlab::invoke_webhook),
    ),
    route("POST", "/api/v3/projects/{id}/trigger/builds", P, GL, handler!(crate::compat::gitlab::invoke)),
    route(
        "POST",
        "/api/v3/projects/{id}/ref/{ref}/trigger/builds",
        P,
        GL,
        handler!(crate::compat::gitlab::invoke_webhook),
    ),
    route("POST", "/hooks/{id}", P, N, handler!(crate::hooks::receive)),
    route(
        "GET",
        "/v1/{project_id}/git/repos/{namespace}/{project}/hooks",
        A,
        SS,
        handler!(crate::compat::servicestage::list),
    ),
    route(
        "POST",
        "/v1/{project_id}/git/repos/{namespace}/{project}/hooks",
        A,
        SS,
        handler!(crate::compat::servicestage::create),
    ),
    route(
        "DELETE",
        "/v1/{project_id}/git/repos/{namespace}/{project}/hooks/{hook_id}",
        A,
        SS,
        handler!(crate::compat::servicestage::delete),
    ),
    route(
        "GET",
        "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers",
        A,
        SW,
        handler!(crate::compat::swr::list),
    ),
    route(
        "POST",
        "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers",
        A,
        SW,
        handler!(crate::compat::swr::create),
    ),
    route(
        "GET",
        "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers/{trigger}",
        A,
        SW,
        handler!(crate::compat::swr::get),
    ),
    route(
        "PATCH",
        "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers/{trigger}",
        A,
        SW,
        handler!(crate::compat::swr::update),
    ),
    route(
        "DELETE",
        "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers/{trigger}",
        A,
        SW,
        handler!(crate::compat::swr::delete),
    ),
    route("POST", "/triggers", A, AL, handler!(crate::compat::ack::create)),
    route("POST", "/clusters/{cluster_id}/triggers", A, AL, handler!(crate::compat::ack::create)),
    route("GET", "/clusters/{cluster_id}/triggers", A, AL, handler!(crate::compat::ack::describe)),
    route("GET", "/triggers/{cluster_id}", A, AL, handler!(crate::compat::ack::describe)),
    route("DELETE", "/clusters/{cluster_id}/triggers/{id}", A, AL, handler!(crate::compat::ack::delete)),
    route("DELETE", "/triggers/revoke/{id}", A, AL, handler!(crate::compat::ack::delete)),
    route("GET", "/hook/trigger", P, AL, handler!(crate::compat::ack::invoke)),
    route("POST", "/hook/trigger", P, AL, handler!(crate::compat::ack::invoke)),
];

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

/// Answers one request: finds its route, bounds its input, authenticates an admin route's caller
/// (after the rate limit), runs the handler, maps its error in the route's dialect, and records an
/// admin's successful mutation in the audit trail. Every answer carries the request's id
/// (`X-Request-Id`), and the request leaves one log line (an internal failure a second, with its
/// detail).
pub async fn handle(app: &App, request: Request) -> Response {
    let started = app.clock.now_ms();
    let request_id = request_id(app, &request);
    let method = request.method.clone();
    let served = serve(app, request, &request_id).await;
    let (trigger, delivery) = concerned(&served);
    let mut response = served.response;
    if let Some(detail) = &served.detail {
        app.log.line(serde_json::json!({
            "type": "error", "request_id": request_id, "route": served.pattern, "detail": detail,
        }));
    }
    app.log.line(serde_json::json!({
        "type": "request",
        "request_id": request_id,
        "method": method,
        "route": served.pattern,
        "status": response.status,
        "duration_ms": app.clock.now_ms().saturating_sub(started),
        "admin": served.admin,
        "trigger": trigger,
        "delivery": delivery,
        "reason": served.reason,
    }));
    response.headers.push(("x-request-id".into(), request_id));
    secure_headers(&mut response, served.admin.is_some() || served.pattern.is_some_and(carries_tokens));
    response
}

/// Every answer: `X-Content-Type-Options: nosniff` (a JSON answer is never read as a page). An
/// admin's answer, or a route's that can hold a full token, also `Cache-Control: no-store`: no
/// cache or browser keeps a trigger's token, a delivery or the audit trail.
fn secure_headers(response: &mut Response, sensitive: bool) {
    let mut add = |name: &str, value: &str| {
        if response.header(name).is_none() {
            response.headers.push((name.into(), value.into()));
        }
    };
    add("x-content-type-options", "nosniff");
    if sensitive {
        add("cache-control", "no-store");
    }
}

/// Routes whose answers may carry a full token or a relayed answer, admin or not.
fn carries_tokens(pattern: &str) -> bool {
    pattern.starts_with("/api/")
        || pattern.starts_with("/hook/")
        || pattern.starts_with("/triggers")
        || pattern.starts_with("/clusters")
}

/// The trigger and the delivery a request concerned, where known, for its log line: from the path
/// of a trigger's or a delivery's admin routes, or from what a token call's or a hook's answer names
/// (`X-Hookrelay-Trigger`, `X-Hookrelay-Delivery`). A registry endpoint's id (its URL's secret) is
/// never taken.
fn concerned(served: &Served) -> (Option<String>, Option<String>) {
    let response = &served.response;
    let id = served.params.iter().find(|(name, _)| *name == "id").map(|(_, id)| id.as_str());
    let pattern = served.pattern.unwrap_or_default();
    let trigger = response.header("x-hookrelay-trigger").or_else(|| {
        let from_path = pattern.starts_with("/api/v1/triggers/{id}");
        from_path.then_some(id).flatten()
    });
    let delivery = response.header("x-hookrelay-delivery").or_else(|| {
        let from_path = pattern.starts_with("/api/v1/deliveries/{id}");
        from_path.then_some(id).flatten()
    });
    (trigger.map(str::to_string), delivery.map(str::to_string))
}

/// One request's answer, and what its log line says of it.
struct Served {
    response: Response,
    /// The route's pattern (never the raw path), when one matched.
    pattern: Option<&'static str>,
    admin: Option<String>,
    /// An internal failure's detail, for the log only.
    detail: Option<String>,
    /// Why a request was refused (a 4xx): the error's message, written for callers, so never a
    /// secret.
    reason: Option<String>,
    /// The route's path parameters.
    params: Captures,
}

async fn serve(app: &App, request: Request, request_id: &str) -> Served {
    let refuse = |error: Error, dialect, pattern| Served {
        detail: error.detail().map(|_| error.for_the_log()),
        reason: error.detail().is_none().then(|| error.message()),
        response: error.into_response(dialect, request_id),
        pattern,
        admin: None,
        params: Vec::new(),
    };
    let (route, params) = match find_route(&request.method, &request.path) {
        Ok(found) => found,
        Err((error, dialect)) => {
            let mut refused = refuse(error, dialect, None);
            if refused.response.status == 405 {
                refused.response.headers.push(("allow".into(), allowed_methods(&request.path).join(", ")));
            }
            return refused;
        }
    };
    let pattern = Some(route.pattern);
    // A path segment names something stored under it; one longer than any name can be names
    // nothing, so it is unknown here, before it could make a key longer than KV takes.
    if params.iter().any(|(_, value)| value.len() > MAX_PATH_PARAM_BYTES) {
        return refuse(Error::not_found("no such resource"), route.dialect, pattern);
    }
    if request.body.len() > MAX_BODY_BYTES {
        return refuse(Error::PayloadTooLarge, route.dialect, pattern);
    }
    // A chain of hookrelay deliveries calling hookrelay ends here, before anything is read or
    // stored: on every route, since an admin route (a replay) can start a delivery too.
    if let Err(error) = crate::loops::admit(&request) {
        return refuse(error, route.dialect, pattern);
    }
    let admin = match route.access {
        Access::Public => None,
        Access::Admin => {
            // Counted before the token is checked: a client over its limit is refused either
            // way, so it cannot tell a right guess from a wrong one while it is slowed down.
            if !app.limiter.allow(&client_address(&request)).await {
                return refuse(Error::RateLimited, route.dialect, pattern);
            }
            match app.admins.authenticate(&request, app.clock.now_ms()) {
                Ok(admin) => Some(admin),
                Err(error) => return refuse(error, route.dialect, pattern),
            }
        }
    };
    let ctx = Ctx { request, params, admin };
    let (response, detail, reason) = match (route.handler.run)(app, &ctx).await {
        Ok(response) => (response, None, None),
        Err(error) => {
            let detail = error.detail().map(|_| error.for_the_log());
            let reason = error.detail().is_none().then(|| error.message());
            (error.into_response(route.dialect, request_id), detail, reason)
        }
    };
    if let Some(admin) = &ctx.admin {
        if ctx.request.method != "GET" && (200..300).contains(&response.status) {
            // The mutation happened; a trail that cannot be written must not undo its answer.
            let _ = app.catalog().record_audit(&audit_entry(app, admin, route, &ctx.params, &response)).await;
        }
    }
    Served { response, pattern, admin: ctx.admin.map(|admin| admin.name), detail, reason, params: ctx.params }
}

/// The caller's `X-Request-Id` when it is a plain id (at most 64 letters, digits, `-`, `_`, `.`).
fn callers_request_id(request: &Request) -> Option<&str> {
    let plain = |id: &&str| {
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    request.header("x-request-id").map(str::trim).filter(plain)
}

/// The caller's plain `X-Request-Id`, else a new one: 16 random hex digits.
fn request_id(app: &App, request: &Request) -> String {
    match callers_request_id(request) {
        Some(id) => id.to_string(),
        None => {
            let mut random = [0u8; 8];
            app.random.fill(&mut random);
            hex::encode(random)
        }
    }
}

/// The answer of a deployment whose settings keep it from working (`settings::problems`): the
/// health check lists every problem (503), and every other route says it is misconfigured (500).
/// No store or port is needed, so it answers even when the store cannot be built.
pub fn misconfigured(request: &Request, problems: &[String]) -> Response {
    let mut response = if request.method == "GET" && request.path == "/healthz" {
        Response::json(503, &serde_json::json!({"status": "error", "problems": problems}))
    } else {
        let message = format!("hookrelay is misconfigured: {}", problems.join("; "));
        Response::json(500, &serde_json::json!({"error": "misconfigured", "message": message}))
    };
    if let Some(id) = callers_request_id(request) {
        response.headers.push(("x-request-id".into(), id.to_string()));
    }
    response
}

/// Who changed what, when: the route and its ids, and the id a creation answered with.
fn audit_entry(app: &App, admin: &Admin, route: &Route, params: &Captures, response: &Response) -> AuditEntry {
    let mut ids: BTreeMap<String, String> =
        crate::sorting::map_of(params.iter().map(|(name, value)| (name.to_string(), value.clone())));
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
    app.random.fill(&mut random);
    let now = app.clock.now_ms();
    AuditEntry {
        id: delivery_stamp(now, random),
        at: crate::time::format_rfc3339(now),
        admin: admin.name.clone(),
        action: format!("{} {}", route.method, route.pattern),
        status: response.status,
        ids,
    }
}

fn health<'a>(_app: &'a App, _ctx: &'a Ctx) -> std::future::Ready<Result<Response, Error>> {
    std::future::ready(Ok(Response::json(200, &serde_json::json!({"status": "ok"}))))
}

/// A static file from the assets (`app.assets`), with its headers; one that is not there is an
/// internal error (a build that did not lay out `build/assets`), named in the log.
async fn static_file(app: &App, asset: crate::admin::Asset) -> Result<Response, Error> {
    match app.assets.get(asset.path()).await {
        Ok(Some(body)) => Ok(crate::admin::serve(asset, body)),
        Ok(None) => Err(Error::Internal(format!(
            "static asset {} is missing (scripts/build.sh lays out build/assets)",
            asset.path()
        ))),
        Err(error) => Err(Error::Internal(format!("reading static asset {}: {error}", asset.path()))),
    }
}

async fn openapi(app: &App, _ctx: &Ctx) -> Result<Response, Error> {
    static_file(app, crate::admin::Asset::OpenApi).await
}

async fn admin_page(app: &App, _ctx: &Ctx) -> Result<Response, Error> {
    static_file(app, crate::admin::Asset::Page).await
}

async fn admin_script(app: &App, _ctx: &Ctx) -> Result<Response, Error> {
    static_file(app, crate::admin::Asset::Script).await
}

async fn admin_style(app: &App, _ctx: &Ctx) -> Result<Response, Error> {
    static_file(app, crate::admin::Asset::Style).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_slashes_stay_in_one_segment() {
        let (route, params) =
            find_route("POST", "/api/v4/projects/group%2Fapp/ref/release%2F1.0/trigger/pipeline").unwrap();
        assert_eq!(route.handler.name, "crate::compat::gitlab::invoke_webhook");
        assert_eq!(params, vec![("id", "group/app".to_string()), ("ref", "release/1.0".to_string())]);
    }

    #[test]
    fn legacy_v3_routes_reach_the_same_handlers() {
        let handler = |path: &str| find_route("POST", path).unwrap().0.handler.name;
        assert_eq!(handler("/api/v3/projects/9/trigger/builds"), handler("/api/v4/projects/9/trigger/pipeline"));
        assert_eq!(
            handler("/api/v3/projects/9/ref/main/trigger/builds"),
            handler("/api/v4/projects/9/ref/main/trigger/pipeline")
        );
    }

    #[test]
    fn a_misconfigured_deployment_says_what_is_wrong_at_the_health_check_and_everywhere_else() {
        let problems = vec!["ENCRYPTION_KEY: key 1 needs 32 bytes of base64 after its id".to_string()];
        let health = misconfigured(&Request::new("GET", "/healthz").with_header("x-request-id", "r-1"), &problems);
        let body: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
        assert_eq!((health.status, body), (503, serde_json::json!({"status": "error", "problems": problems})));
        assert_eq!(health.header("x-request-id"), Some("r-1"));
        let other = misconfigured(&Request::new("POST", "/api/v1/targets"), &problems);
        let body: serde_json::Value = serde_json::from_slice(&other.body).unwrap();
        assert_eq!((other.status, body["error"].as_str()), (500, Some("misconfigured")));
        assert!(body["message"].as_str().unwrap().contains("ENCRYPTION_KEY: key 1"));
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

    /// Two routes of one method never match the same path: each segment pair differs as literals
    /// somewhere, so which handler answers never depends on the table's order.
    #[test]
    fn no_two_routes_of_a_method_match_the_same_path() {
        let segments = |pattern: &'static str| pattern.split('/').collect::<Vec<_>>();
        let is_param = |segment: &str| segment.starts_with('{');
        for (i, a) in ROUTES.iter().enumerate() {
            for b in ROUTES.iter().skip(i + 1).filter(|b| b.method == a.method) {
                let (sa, sb) = (segments(a.pattern), segments(b.pattern));
                let overlap =
                    sa.len() == sb.len() && sa.iter().zip(&sb).all(|(x, y)| x == y || is_param(x) || is_param(y));
                assert!(!overlap, "{} {} and {} overlap", a.method, a.pattern, b.pattern);
            }
        }
    }

    #[test]
    fn openapi_describes_every_route_and_nothing_else() {
        let spec: serde_json::Value = serde_json::from_str(include_str!("openapi.json")).unwrap();
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
