//! Native integration tests through the router with in-memory ports: deterministic clock and
//! randomness, a counting store, and a scripted outbound client.

use hookrelay::app::App;
use hookrelay::auth::AdminDirectory;
use hookrelay::http::{Request, Response};
use hookrelay::outbound::ScriptedOutbound;
use hookrelay::ports::{block_on, FixedClock, SequenceRandom};
use hookrelay::store::MemoryStore;
use serde_json::{json, Value};
use std::rc::Rc;

const NOW: u64 = 1_700_000_000_000;

struct Harness {
    app: App<MemoryStore, ScriptedOutbound>,
    clock: Rc<FixedClock>,
}

fn harness(seed: u64) -> Harness {
    let clock = Rc::new(FixedClock::new(NOW));
    let app = App {
        store: MemoryStore::new(),
        outbound: ScriptedOutbound::new(),
        clock: Box::new(clock.clone()),
        random: Box::new(SequenceRandom::new(seed)),
        admins: AdminDirectory::parse("alice:tok-a,bob:tok-b"),
    };
    Harness { app, clock }
}

impl Harness {
    fn send(&self, request: Request) -> Response {
        block_on(self.app.handle(request))
    }

    fn admin_json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let request = Request::new(method, path)
            .with_header("authorization", "Bearer tok-a")
            .with_body("application/json", body.to_string());
        let response = self.send(request);
        (response.status, serde_json::from_slice(&response.body).unwrap_or(Value::Null))
    }

    fn setup_target_and_trigger(&self, target: Value) -> (Value, String) {
        let (status, target) = self.admin_json("POST", "/api/v1/targets", target);
        assert_eq!(status, 201, "{target}");
        let (status, trigger) = self.admin_json("POST", "/api/v1/triggers", json!({"target": target["id"]}));
        assert_eq!(status, 201, "{trigger}");
        (target, trigger["token"].as_str().unwrap().to_string())
    }

    fn fire(&self, project: &str, token: &str, ref_name: &str) -> Response {
        let body = format!("token={token}&ref={ref_name}");
        self.send(
            Request::new("POST", &format!("/api/v4/projects/{project}/trigger/pipeline"))
                .with_body("application/x-www-form-urlencoded", body),
        )
    }
}

fn gitlab_target() -> Value {
    json!({"name": "web-ci", "kind": "gitlab", "url": "https://gitlab.example.com", "project": "9", "token": "glptt-real"})
}

#[test]
fn token_call_costs_two_reads_a_delivery_record_and_a_throttled_write() {
    let h = harness(1);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.store.reset_counts();

    assert_eq!(h.fire("web-ci", &token, "main").status, 200);
    let first = h.app.store.counts();
    assert_eq!((first.reads, first.writes, first.lists), (2, 2, 0), "the delivery, and last_used on first use");

    h.app.store.reset_counts();
    h.clock.advance(59_000);
    assert_eq!(h.fire("web-ci", &token, "main").status, 200);
    let second = h.app.store.counts();
    assert_eq!((second.reads, second.writes, second.lists), (2, 1, 0), "within a minute: only the delivery");

    h.app.store.reset_counts();
    h.clock.advance(1_000);
    h.fire("web-ci", &token, "main");
    assert_eq!(h.app.store.counts().writes, 2, "a minute later: last_used written again");
}

#[test]
fn hot_path_cost_does_not_grow_with_the_number_of_triggers() {
    let h = harness(2);
    let (target, token) = h.setup_target_and_trigger(gitlab_target());
    for _ in 0..500 {
        h.admin_json("POST", "/api/v1/triggers", json!({"target": target["id"]}));
    }
    h.app.store.reset_counts();
    assert_eq!(h.fire(target["id"].as_str().unwrap(), &token, "main").status, 200);
    let counts = h.app.store.counts();
    assert_eq!((counts.reads, counts.lists), (2, 0));
}

#[test]
fn malformed_calls_cost_no_kv_read() {
    let h = harness(3);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.store.reset_counts();
    assert_eq!(h.fire("web-ci", &token, "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3").status, 400);
    assert_eq!(h.send(Request::new("POST", "/api/v4/projects/web-ci/trigger/pipeline?ref=main")).status, 400);
    assert_eq!(h.app.store.counts().reads, 0);
}

#[test]
fn the_outbound_request_carries_the_real_token_never_the_trigger_token() {
    let h = harness(4);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.fire("web-ci", &token, "main");
    let sent = h.app.outbound.last().unwrap();
    let body = String::from_utf8(sent.body.clone()).unwrap();
    assert_eq!(sent.url, "https://gitlab.example.com/api/v4/projects/9/trigger/pipeline");
    assert!(body.contains("token=glptt-real"));
    assert!(!body.contains(&token));
}

#[test]
fn only_the_sha256_of_a_token_is_stored() {
    let h = harness(5);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    for key in h.app.store.keys() {
        let value = h.app.store.raw(&key).unwrap();
        assert!(!value.contains(&token) && !key.contains(&token), "{key} holds the token");
    }
}

#[test]
fn an_http_target_receives_a_json_description_of_the_call() {
    let h = harness(6);
    let hook =
        json!({"name": "hook", "kind": "http", "url": "https://deploy.example.com/x", "headers": {"X-Key": "k"}});
    let (_, token) = h.setup_target_and_trigger(hook);
    let request =
        Request::new("POST", &format!("/api/v4/projects/hook/trigger/pipeline?token={token}&ref=v1.0&variables[A]=1"));
    assert_eq!(h.send(request).status, 200);
    let sent = h.app.outbound.last().unwrap();
    assert_eq!(sent.header("x-key"), Some("k"));
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["ref"], "v1.0");
    assert_eq!(body["variables"], json!({"A": "1"}));
    assert_eq!(body["payload"], Value::Null);
}

#[test]
fn same_seed_same_tokens_so_tests_are_deterministic() {
    let (a, b) = (harness(9), harness(9));
    assert_eq!(a.setup_target_and_trigger(gitlab_target()).1, b.setup_target_and_trigger(gitlab_target()).1);
}

#[test]
fn oversized_bodies_are_refused_before_anything_is_stored() {
    let h = harness(7);
    let huge = "x".repeat(hookrelay::http::MAX_BODY_BYTES + 1);
    let request = Request::new("POST", "/api/v1/targets")
        .with_header("authorization", "Bearer tok-a")
        .with_body("application/json", huge);
    assert_eq!(h.send(request).status, 413);
    assert!(h.app.store.keys().is_empty());
}

#[test]
fn native_api_rejects_unknown_fields_and_wrong_content_types() {
    let h = harness(8);
    h.setup_target_and_trigger(gitlab_target());
    let (status, body) = h.admin_json("POST", "/api/v1/triggers", json!({"target": "web-ci", "refz": ["main"]}));
    assert_eq!(status, 400, "{body}");
    let form = Request::new("POST", "/api/v1/targets")
        .with_header("authorization", "Bearer tok-a")
        .with_body("text/plain", "{}");
    assert_eq!(h.send(form).status, 415);
    let (status, _) = h.admin_json("POST", "/api/v1/triggers", json!({"target": "nope"}));
    assert_eq!(status, 400);
    let (status, _) = h.admin_json("POST", "/api/v1/triggers", json!({"target": "web-ci", "expires_at": "soon"}));
    assert_eq!(status, 400);
}

#[test]
fn patching_a_target_keeps_credentials_not_named() {
    let h = harness(10);
    let (target, token) = h.setup_target_and_trigger(gitlab_target());
    let (status, patched) =
        h.admin_json("PATCH", &format!("/api/v1/targets/{}", target["id"].as_str().unwrap()), json!({"project": "10"}));
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["token_set"], true);
    h.fire("web-ci", &token, "main");
    let sent = h.app.outbound.last().unwrap();
    assert!(sent.url.contains("/projects/10/"));
    assert!(String::from_utf8(sent.body).unwrap().contains("token=glptt-real"));
}

#[test]
fn a_token_triggers_own_variables_are_sent_and_the_callers_win() {
    let h = harness(11);
    let (status, target) = h.admin_json("POST", "/api/v1/targets", gitlab_target());
    assert_eq!(status, 201);
    let (_, trigger) = h.admin_json(
        "POST",
        "/api/v1/triggers",
        json!({"target": target["id"], "variables": {"A": "trigger", "B": "trigger"}}),
    );
    let token = trigger["token"].as_str().unwrap();
    let request = Request::new(
        "POST",
        &format!("/api/v4/projects/web-ci/trigger/pipeline?token={token}&ref=main&variables[B]=caller"),
    );
    assert_eq!(h.send(request).status, 200);
    let body = String::from_utf8(h.app.outbound.last().unwrap().body).unwrap();
    assert!(body.contains("variables%5BA%5D=trigger"), "{body}");
    assert!(body.contains("variables%5BB%5D=caller"), "{body}");
}

#[test]
fn every_firing_is_a_delivery_listed_newest_first_in_pages_without_credentials() {
    let h = harness(3);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.outbound.answer(201, r#"{"id":1}"#);
    h.app.outbound.answer(500, "boom");
    h.app.outbound.fail("connection refused");
    for ref_name in ["main", "dev", "qa"] {
        h.fire("web-ci", &token, ref_name);
        h.clock.advance(1_000);
    }
    let (_, triggers) = h.admin_json("GET", "/api/v1/triggers", Value::Null);
    let trigger_id = triggers[0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/triggers/{trigger_id}/deliveries");
    let (status, first) = h.admin_json("GET", &format!("{path}?limit=2"), Value::Null);
    assert_eq!(status, 200, "{first}");
    let summary = |page: &Value| -> Vec<(String, String, Value)> {
        page["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["ref"].as_str().unwrap().into(), d["result"].as_str().unwrap().into(), d["status"].clone()))
            .collect()
    };
    assert_eq!(
        summary(&first),
        vec![("qa".into(), "failed".into(), Value::Null), ("dev".into(), "failed".into(), json!(500))]
    );
    let cursor = first["cursor"].as_str().unwrap();
    let (_, second) = h.admin_json("GET", &format!("{path}?limit=2&cursor={cursor}"), Value::Null);
    assert_eq!(summary(&second), vec![("main".into(), "success".into(), json!(201))]);
    assert_eq!(second["cursor"], Value::Null);
    let first_sent = h.app.outbound.sent.borrow()[0].clone();
    assert_eq!(
        first_sent.header("idempotency-key"),
        second["deliveries"][0]["id"].as_str(),
        "the delivery id goes out"
    );
    let id = first["deliveries"][0]["id"].as_str().unwrap();
    let (status, one) = h.admin_json("GET", &format!("/api/v1/deliveries/{id}"), Value::Null);
    assert_eq!((status, &one), (200, &first["deliveries"][0]));
    assert!(one["detail"].as_str().unwrap().contains("connection refused"));
    assert_eq!(h.admin_json("GET", "/api/v1/deliveries/nope", Value::Null).0, 404);
    assert_eq!(h.admin_json("GET", &format!("{path}?limit=0"), Value::Null).0, 400);
    for key in h.app.store.keys().iter().filter(|k| k.starts_with("delivery:")) {
        let record = h.app.store.raw(key).unwrap();
        assert!(!record.contains("glptt-real") && !record.contains(&token), "a delivery holds no credential");
    }
}
