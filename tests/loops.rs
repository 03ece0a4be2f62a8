//! The loop guard through the router (issue 23, item 1): every request made for a delivery carries
//! `X-Hookrelay-Hops` one above the count its delivery came in with, the count survives the ledger
//! and the queue, a request at the limit is refused with 508 before any read, and a target on
//! `PUBLIC_URL`'s host is refused. The loops themselves run against a loopback outbound that hands
//! every request hookrelay makes back to hookrelay's own router, as a target pointing at the
//! deployment does.

mod common;

use hookrelay::auth::AdminDirectory;
use hookrelay::http::{Request, Response};
use hookrelay::loops::MAX_HOPS;
use hookrelay::model::delivery::RetryPolicy;
use hookrelay::outbound::{Outbound, OutboundRequest, OutboundResponse};
use hookrelay::ports::{block_on, FixedClock, Lane, LocalFuture, SequenceRandom};
use hookrelay::relay;
use hookrelay::testing::TestApp;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::{Rc, Weak};

const NOW: u64 = 1_700_000_000_000;

fn app(seed: u64) -> TestApp {
    TestApp::new(
        Box::new(FixedClock::new(NOW)),
        Box::new(SequenceRandom::new(seed)),
        Box::new(common::queue()),
        AdminDirectory::parse("alice:tok-a"),
    )
}

fn send(app: &TestApp, request: Request) -> Response {
    block_on(app.handle(request))
}

fn admin(app: &TestApp, method: &str, path: &str, body: Value) -> (u16, Value) {
    let request = Request::new(method, path)
        .with_header("authorization", "Bearer tok-a")
        .with_body("application/json", body.to_string());
    let response = send(app, request);
    (response.status, serde_json::from_slice(&response.body).unwrap_or(Value::Null))
}

fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, created) = admin(app, "POST", path, body);
    assert_eq!(status, 201, "{created}");
    created
}

fn token_call(project: &str, token: &str, hops: Option<&str>) -> Request {
    let request = Request::new("POST", &format!("/api/v4/projects/{project}/trigger/pipeline"))
        .with_body("application/x-www-form-urlencoded", format!("token={token}&ref=main"));
    match hops {
        Some(hops) => request.with_header("X-Hookrelay-Hops", hops),
        None => request,
    }
}

fn hops_sent(app: &TestApp) -> Vec<Option<String>> {
    app.outbound.sent.borrow().iter().map(|request| request.header("x-hookrelay-hops").map(str::to_string)).collect()
}

fn record(app: &TestApp, id: &str) -> Value {
    let (status, record) = admin(app, "GET", &format!("/api/v1/deliveries/{id}"), Value::Null);
    assert_eq!(status, 200, "{record}");
    record
}

fn gitlab(name: &str, url: &str) -> Value {
    json!({"name": name, "kind": "gitlab", "url": url, "project": "9", "token": "glptt-real"})
}

#[test]
fn every_attempt_carries_one_more_than_its_call_came_in_with_and_the_record_keeps_it() {
    let app = app(1);
    created(&app, "/api/v1/targets", gitlab("web-ci", "https://gitlab.example.com"));
    let token = created(&app, "/api/v1/triggers", json!({"target": "web-ci"}))["token"].as_str().unwrap().to_string();
    let first = send(&app, token_call("web-ci", &token, None));
    let second = send(&app, token_call("web-ci", &token, Some("2")));
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(hops_sent(&app), [Some("1".to_string()), Some("3".to_string())]);
    let id = second.header("x-hookrelay-delivery").unwrap();
    assert_eq!(record(&app, id)["call"]["hops"], 2, "kept with the call in the ledger");
    let id = first.header("x-hookrelay-delivery").unwrap();
    assert_eq!(record(&app, id)["call"].get("hops"), None, "0 is not written");
}

#[test]
fn a_call_or_webhook_at_the_limit_is_508_before_any_read_and_its_log_line_says_why() {
    let app = app(2);
    created(&app, "/api/v1/targets", gitlab("web-ci", "https://gitlab.example.com"));
    let token = created(&app, "/api/v1/triggers", json!({"target": "web-ci"}))["token"].as_str().unwrap().to_string();
    let hook = created(
        &app,
        "/api/v1/triggers",
        json!({"target": "web-ci", "source": {"kind": "gitlab", "secrets": ["s3cret-hook"]}}),
    );
    let at_limit = MAX_HOPS.to_string();
    let requests = [
        token_call("web-ci", &token, Some(&at_limit)),
        Request::new("POST", &format!("/api/v3/projects/web-ci/trigger/builds?token={token}&ref=main"))
            .with_header("X-Hookrelay-Hops", "7"),
        Request::new("POST", &format!("/hooks/{}", hook["id"].as_str().unwrap()))
            .with_header("x-gitlab-token", "s3cret-hook")
            .with_header("x-hookrelay-hops", &at_limit)
            .with_body("application/json", common::fixture("gitlab/push.json")),
        Request::new("POST", &format!("/hook/trigger?token={token}")).with_header("X-Hookrelay-Hops", "1, 3"),
    ];
    app.store.reset_counts();
    for request in requests {
        let path = request.path.clone();
        let answer = send(&app, request);
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(answer.status, 508, "{path}: {body}");
        let code = body.get("error").or_else(|| body.get("code")).unwrap();
        assert!(code == "loop_detected" || code == "LoopDetected", "{path}: {body}");
        let line = app.log.lines.borrow().last().cloned().unwrap();
        assert_eq!(line["status"], 508);
        assert!(line["reason"].as_str().unwrap().starts_with("loop detected"), "{line}");
    }
    let counts = app.store.counts();
    assert_eq!((counts.reads, counts.writes, counts.lists), (0, 0, 0), "nothing read or stored");
    assert!(app.ledger.requests.borrow().is_empty(), "no ledger request");
    assert!(app.outbound.sent.borrow().is_empty());
    let malformed = send(&app, token_call("web-ci", &token, Some("two")));
    assert_eq!(malformed.status, 400);
    // One below the limit still fires.
    assert_eq!(send(&app, token_call("web-ci", &token, Some(&(MAX_HOPS - 1).to_string()))).status, 200);
}

#[test]
fn the_count_survives_the_queue_a_retry_and_a_lookup() {
    let mut app = app(3);
    app.settings.allow_local_targets = true;
    created(&app, "/api/v1/targets", gitlab("web-ci", "https://gitlab.example.com"));
    let hook = created(
        &app,
        "/api/v1/triggers",
        json!({"target": "web-ci", "source": {"kind": "gitlab", "secrets": ["s3cret-hook"]}}),
    );
    let webhook = Request::new("POST", &format!("/hooks/{}", hook["id"].as_str().unwrap()))
        .with_header("x-gitlab-token", "s3cret-hook")
        .with_header("x-hookrelay-hops", "1")
        .with_body("application/json", common::fixture("gitlab/push.json"));
    assert_eq!(send(&app, webhook).status, 202);
    app.outbound.answer(503, "busy");
    app.outbound.answer(201, "{}");
    common::drain(&app);
    assert_eq!(hops_sent(&app), [Some("2".to_string()), Some("2".to_string())], "first attempt and retry");

    // A kubernetes set-image (a registry push, fanned out) reads the workload first: the lookup
    // carries the count too.
    app.outbound.sent.borrow_mut().clear();
    let cluster =
        json!({"name": "prod", "kind": "kubernetes", "api_server": "https://k8s.example.com", "token": "sa-token"});
    created(&app, "/api/v1/targets", cluster);
    let registry =
        created(&app, "/api/v1/registries", json!({"name": "harbor", "kind": "harbor", "secret": "auth-header"}));
    let swr = json!({
        "action": "update", "app_type": "deployments", "application": "web", "cluster_name": "prod",
        "cluster_ns": "default", "condition": ".*", "container": "", "enable": "true", "name": "web",
        "trigger_mode": "cce", "trigger_type": "all"
    });
    let swr = Request::new("POST", "/v2/manage/namespaces/harbor/repos/alpine/triggers")
        .with_header("X-Auth-Token", "tok-a")
        .with_body("application/json", swr.to_string());
    assert_eq!(send(&app, swr).status, 201);
    // The published example pushes by digest; a tag makes it fire.
    let mut pushed: Value = serde_json::from_slice(&common::fixture("harbor/push_artifact.json")).unwrap();
    pushed["event_data"]["resources"][0]["tag"] = "v2".into();
    let push = Request::new("POST", registry["hook_url"].as_str().unwrap())
        .with_header("Authorization", "auth-header")
        .with_header("x-hookrelay-hops", "1")
        .with_body("application/json", pushed.to_string());
    assert_eq!(send(&app, push).status, 202);
    app.outbound.answer(200, r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"harbor.example.com/harbor/alpine:v1"}]}}}}"#);
    common::drain(&app);
    let methods: Vec<String> = app.outbound.sent.borrow().iter().map(|request| request.method.clone()).collect();
    assert_eq!(methods, ["GET", "PATCH"], "the lookup, then the patch");
    assert_eq!(hops_sent(&app), [Some("2".to_string()), Some("2".to_string())]);
}

#[test]
fn a_508_is_final_and_a_replay_counts_from_its_own_request() {
    let app = app(4);
    created(&app, "/api/v1/targets", gitlab("web-ci", "https://gitlab.example.com"));
    let token = created(&app, "/api/v1/triggers", json!({"target": "web-ci"}))["token"].as_str().unwrap().to_string();
    app.outbound.answer(508, r#"{"error":"loop_detected"}"#);
    let answer = send(&app, token_call("web-ci", &token, None));
    assert_eq!(answer.status, 508, "relayed");
    assert!(common::queue().take(Lane::Deliveries).is_empty(), "a loop refused is not retried");
    let id = answer.header("x-hookrelay-delivery").unwrap().to_string();
    assert_eq!(record(&app, &id)["state"], "failed");
    // A replay asked for by a delivery (an http target calling the admin API) continues its count.
    let replay = Request::new("POST", &format!("/api/v1/deliveries/{id}/replay"))
        .with_header("authorization", "Bearer tok-a")
        .with_header("x-hookrelay-hops", "2");
    assert_eq!(send(&app, replay).status, 201);
    assert_eq!(hops_sent(&app).last().cloned().flatten().as_deref(), Some("3"));
}

#[test]
fn a_notification_carries_one_more_than_its_delivery_even_after_a_lapsed_attempt() {
    let mut app = app(5);
    app.settings.retry = RetryPolicy { base_seconds: 1, max_attempts: 2 };
    created(&app, "/api/v1/targets", gitlab("web-ci", "https://gitlab.example.com"));
    created(&app, "/api/v1/targets", json!({"name": "alerts", "kind": "http", "url": "https://alerts.example.com/in"}));
    let trigger = json!({"target": "web-ci", "notify": "alerts", "notify_on": ["failed", "dead"]});
    let token = created(&app, "/api/v1/triggers", trigger)["token"].as_str().unwrap().to_string();
    // Failed at once: the notification follows the attempt.
    app.outbound.answer(400, "{}");
    assert_eq!(send(&app, token_call("web-ci", &token, Some("1"))).status, 400);
    let notified = app.outbound.last().unwrap();
    assert_eq!(
        (notified.url.as_str(), notified.header("x-hookrelay-hops")),
        ("https://alerts.example.com/in", Some("2"))
    );

    // Dead once an attempt's invocation died: the ledger's answer holds no call, the record does.
    app.outbound.answer(503, "busy");
    let answer = send(&app, token_call("web-ci", &token, Some("2")));
    assert_eq!(answer.status, 202);
    let message = common::queue().take(Lane::Deliveries).remove(0);
    let parsed: Value = serde_json::from_str(&message.body).unwrap();
    let (target, id) = (parsed["target"].as_str().unwrap(), parsed["delivery"].as_str().unwrap());
    app.clock.advance(60_000);
    let out = block_on(app.catalog().next_attempt(target, id)).unwrap();
    assert!(matches!(out, hookrelay::ledger::NextAttempt::Send { number: 2, .. }), "{out:?}");
    app.clock.advance(hookrelay::ledger::ATTEMPT_LEASE_MS + 1);
    let before = app.outbound.sent.borrow().len();
    assert_eq!(block_on(relay::consume(&app, &message.body, 2)), relay::Settlement::Ack);
    assert_eq!(record(&app, id)["state"], "dead");
    assert_eq!(app.outbound.sent.borrow().len(), before + 1, "only the notification");
    assert_eq!(app.outbound.last().unwrap().header("x-hookrelay-hops"), Some("3"));
}

#[test]
fn a_target_on_public_urls_host_is_refused_on_create_and_on_patch() {
    let mut app = app(6);
    app.settings.public_url = Some("https://hooks.example.com".into());
    for (kind, body) in [
        ("gitlab", gitlab("self", "https://hooks.example.com")),
        ("http", json!({"name": "self", "kind": "http", "url": "https://HOOKS.example.com./hooks/abc"})),
        (
            "github",
            json!({"name": "self", "kind": "github", "api_url": "https://hooks.example.com:8443/api", "repository": "o/r", "workflow": "ci.yml", "token": "ghp_x"}),
        ),
    ] {
        let (status, body) = admin(&app, "POST", "/api/v1/targets", body);
        assert_eq!(status, 400, "{kind}: {body}");
        assert!(body["message"].as_str().unwrap().contains("hookrelay's own host (PUBLIC_URL)"), "{kind}: {body}");
    }
    let target = created(&app, "/api/v1/targets", gitlab("web-ci", "https://gitlab.example.com"));
    let path = format!("/api/v1/targets/{}", target["id"].as_str().unwrap());
    let (status, body) = admin(&app, "PATCH", &path, json!({"url": "https://hooks.example.com/"}));
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("own host"), "{body}");
    let (status, _) = admin(&app, "PATCH", &path, json!({"url": "https://gitlab2.example.com/"}));
    assert_eq!(status, 200, "another host is fine");
}

/// Hands every request hookrelay makes back to the same hookrelay's router, as a target whose URL
/// is the deployment would. Past 12 requests it answers none (as a runaway chain's timeouts would),
/// so that a loop without a guard fails the test rather than overflowing its stack.
#[derive(Default)]
struct Loopback {
    app: RefCell<Weak<TestApp>>,
    sent: RefCell<Vec<OutboundRequest>>,
}

impl Outbound for Loopback {
    fn send(&self, request: OutboundRequest) -> LocalFuture<'_, Result<OutboundResponse, String>> {
        self.sent.borrow_mut().push(request.clone());
        if self.sent.borrow().len() > 12 {
            return Box::pin(async { Err("the loop ran away".to_string()) });
        }
        let app = self.app.borrow().upgrade().expect("the app is alive");
        let rest = request.url.split_once("://").map_or(request.url.as_str(), |(_, rest)| rest);
        let mut incoming = Request::new(&request.method, rest.find('/').map_or("/", |at| &rest[at..]));
        incoming.headers =
            request.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.clone())).collect();
        incoming.body = request.body;
        Box::pin(async move {
            let answer = app.handle(incoming).await;
            Ok(OutboundResponse { status: answer.status, headers: answer.headers, body: answer.body })
        })
    }
}

/// An app whose outbound is the loopback.
fn looped(seed: u64) -> (Rc<TestApp>, Rc<Loopback>) {
    let mut app = app(seed);
    app.settings.retry = RetryPolicy { base_seconds: 1, max_attempts: 3 };
    let loopback = Rc::new(Loopback::default());
    app.app.outbound = Box::new(loopback.clone());
    let app = Rc::new(app);
    *loopback.app.borrow_mut() = Rc::downgrade(&app);
    (app, loopback)
}

fn deliveries_of(app: &TestApp, trigger: &str) -> Vec<Value> {
    let (status, page) = admin(app, "GET", &format!("/api/v1/triggers/{trigger}/deliveries?limit=100"), Value::Null);
    assert_eq!(status, 200, "{page}");
    page["deliveries"].as_array().unwrap().clone()
}

#[test]
fn a_gitlab_target_that_calls_its_own_trigger_stops_at_the_limit() {
    // The issue's self-target: a gitlab target whose URL is hookrelay, with the token of a trigger
    // on that same target (set by PATCH once the trigger exists).
    let (app, loopback) = looped(7);
    let target = created(&app, "/api/v1/targets", gitlab("self", "https://relay.example.com"));
    let trigger = created(&app, "/api/v1/triggers", json!({"target": "self"}));
    let token = trigger["token"].as_str().unwrap();
    let path = format!("/api/v1/targets/{}", target["id"].as_str().unwrap());
    let (status, _) = admin(&app, "PATCH", &path, json!({"project": "self", "token": token}));
    assert_eq!(status, 200);
    let answer = send(&app, token_call("self", token, None));
    assert_eq!(
        answer.status,
        508,
        "the innermost refusal, relayed back out: {}",
        String::from_utf8_lossy(&answer.body)
    );
    common::drain(&app);
    let sent = loopback.sent.borrow().len();
    assert_eq!(sent, MAX_HOPS as usize, "one attempt per hop, the last refused");
    let deliveries = deliveries_of(&app, trigger["id"].as_str().unwrap());
    assert_eq!(deliveries.len(), MAX_HOPS as usize);
    for delivery in &deliveries {
        assert_eq!(
            (delivery["state"].clone(), delivery["attempts"][0]["status"].clone()),
            (json!("failed"), json!(508))
        );
    }
}

#[test]
fn two_triggers_that_notify_each_other_stop_at_the_limit() {
    let (app, loopback) = looped(8);
    // Both deliver to a URL that refuses them (no route: 404, failed), and notify on failure.
    created(
        &app,
        "/api/v1/targets",
        json!({"name": "nowhere", "kind": "http", "url": "https://relay.example.com/nowhere"}),
    );
    let a = created(&app, "/api/v1/triggers", json!({"target": "nowhere"}));
    let b = created(&app, "/api/v1/triggers", json!({"target": "nowhere"}));
    for (name, other) in [("calls-a", &a), ("calls-b", &b)] {
        let notify = json!({"name": name, "kind": "gitlab", "url": "https://relay.example.com", "project": "nowhere", "token": other["token"]});
        created(&app, "/api/v1/targets", notify);
    }
    for (trigger, notify) in [(&a, "calls-b"), (&b, "calls-a")] {
        let path = format!("/api/v1/triggers/{}", trigger["id"].as_str().unwrap());
        let (status, body) = admin(&app, "PATCH", &path, json!({"notify": notify, "notify_on": ["failed"]}));
        assert_eq!(status, 200, "{body}");
    }
    send(&app, token_call("nowhere", a["token"].as_str().unwrap(), None));
    common::drain(&app);
    let (of_a, of_b) = (deliveries_of(&app, a["id"].as_str().unwrap()), deliveries_of(&app, b["id"].as_str().unwrap()));
    assert_eq!(of_a.len() + of_b.len(), MAX_HOPS as usize, "a: {of_a:?} b: {of_b:?}");
    let last = of_a.iter().chain(&of_b).find(|delivery| delivery["call"]["hops"] == MAX_HOPS - 1).unwrap();
    assert_eq!(last["notification"]["status"], 508, "{last}");
    assert_eq!(loopback.sent.borrow().len(), 2 * MAX_HOPS as usize, "an attempt and a notification per hop");
}
