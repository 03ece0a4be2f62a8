//! Native integration tests through the router with in-memory ports: deterministic clock and
//! randomness, a counting store, and a scripted outbound client.

mod common;

use hookrelay::auth::AdminDirectory;
use hookrelay::http::{Request, Response};
use hookrelay::model::delivery::RetryPolicy;
use hookrelay::ports::{block_on, FixedClock, Lane, SequenceRandom};
use hookrelay::testing::TestApp;
use hookrelay::{relay, schedules};
use serde_json::{json, Value};
use std::rc::Rc;

const NOW: u64 = 1_700_000_000_000;

struct Harness {
    app: TestApp,
    clock: Rc<FixedClock>,
}

fn harness(seed: u64) -> Harness {
    let clock = Rc::new(FixedClock::new(NOW));
    let app = TestApp::new(
        Box::new(clock.clone()),
        Box::new(SequenceRandom::new(seed)),
        Box::new(common::queue()),
        AdminDirectory::parse("alice:tok-a,bob:tok-b"),
    );
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

    /// The delivery log's path for the oldest trigger.
    fn first_trigger_deliveries(&self) -> String {
        let (_, listed) = self.admin_json("GET", "/api/v1/triggers", Value::Null);
        format!("/api/v1/triggers/{}/deliveries", listed["triggers"][0]["id"].as_str().unwrap())
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
fn token_call_costs_two_reads_and_two_ledger_requests_and_last_used_comes_from_the_records() {
    let h = harness(1);
    let (target, token) = h.setup_target_and_trigger(gitlab_target());
    let project = format!("/api/v4/projects/{}/triggers", target["id"].as_str().unwrap());
    let (_, listed) = h.admin_json("GET", &project, Value::Null);
    assert_eq!(listed[0]["last_used"], Value::Null, "never used");
    for _ in 0..2 {
        h.app.store.reset_counts();
        h.app.ledger.requests.borrow_mut().clear();
        assert_eq!(h.fire("web-ci", &token, "main").status, 200);
        let counts = h.app.store.counts();
        assert_eq!((counts.reads, counts.writes, counts.lists), (2, 0, 0), "trigger, target; no KV write");
        let requests: u32 = h.app.ledger.requests.borrow().values().sum();
        assert_eq!(requests, 2, "the ledger: accept with the first attempt handed out, then its outcome");
        h.clock.advance(1_500);
    }
    let (_, listed) = h.admin_json("GET", &project, Value::Null);
    assert_eq!(listed[0]["last_used"], hookrelay::time::format_rfc3339(NOW + 1_500), "the newest delivery");
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
fn a_token_is_found_by_its_sha256_and_kept_only_in_its_trigger_record() {
    // The trigger record holds the owner's copy; the shell seals that record at rest under
    // ENCRYPTION_KEY (tests/e2e/secrets.test.mjs reads KV raw). Lookups use the hash alone.
    let h = harness(5);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    let trigger =
        h.admin_json("GET", "/api/v1/triggers", Value::Null).1["triggers"][0]["id"].as_str().unwrap().to_string();
    for key in h.app.store.keys() {
        let value = h.app.store.raw(&key).unwrap();
        assert!(!key.contains(&token), "{key} names the token");
        if key != format!("trigger:{trigger}") {
            assert!(!value.contains(&token), "{key} holds the token");
        }
    }
    let record: Value = serde_json::from_str(&h.app.store.raw(&format!("trigger:{trigger}")).unwrap()).unwrap();
    assert_eq!(record["token_hash"], hex::encode(hookrelay::auth::sha256(&token)));
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
fn retargeting_drops_the_credentials_not_supplied_again() {
    let h = harness(33);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    let (status, patched) = h.admin_json("PATCH", "/api/v1/targets/web-ci", json!({"url": "https://attacker.example"}));
    assert_eq!(status, 200, "{patched}");
    assert_eq!((&patched["credentials_dropped"], &patched["token_set"]), (&json!(["token"]), &json!(false)));
    let refused = h.fire("web-ci", &token, "main");
    let body: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!((refused.status, body["message"].as_str()), (400, Some("the target's token is missing")));
    assert!(h.app.outbound.sent.borrow().is_empty(), "nothing went to the new host");

    // Supplied again with the move, or the same URL written another way: kept.
    let (_, patched) =
        h.admin_json("PATCH", "/api/v1/targets/web-ci", json!({"url": "https://ci.example", "token": "glptt-new"}));
    assert_eq!((&patched["credentials_dropped"], &patched["token_set"]), (&json!([]), &json!(true)));
    let (_, patched) = h.admin_json("PATCH", "/api/v1/targets/web-ci", json!({"url": "HTTPS://CI.example:443"}));
    assert_eq!(patched["credentials_dropped"], json!([]));
    // A new path on the same host is a move too: on a shared host it can be someone else's.
    let (_, patched) = h.admin_json("PATCH", "/api/v1/targets/web-ci", json!({"url": "https://ci.example/gitlab/"}));
    assert_eq!(patched["credentials_dropped"], json!(["token"]));
    h.admin_json("PATCH", "/api/v1/targets/web-ci", json!({"url": "https://ci.example/gitlab/", "token": "glptt-new"}));
    assert_eq!(h.fire("web-ci", &token, "main").status, 200);
    let sent = h.app.outbound.last().unwrap();
    assert!(
        sent.url.starts_with("https://ci.example/gitlab/api/v4/")
            && String::from_utf8_lossy(&sent.body).contains("token=glptt-new")
    );

    // Another port, or another kind that sends the old token to a new field, is a move too.
    let (_, patched) = h.admin_json("PATCH", "/api/v1/targets/web-ci", json!({"url": "https://ci.example:8443"}));
    assert_eq!(patched["credentials_dropped"], json!(["token"]));
    h.admin_json("PATCH", "/api/v1/targets/web-ci", json!({"url": "https://ci.example:8443", "token": "glptt-3"}));
    let to_github =
        json!({"kind": "github", "repository": "o/r", "workflow": "w.yml", "api_url": "https://api.evil.example"});
    let (status, patched) = h.admin_json("PATCH", "/api/v1/targets/web-ci", to_github);
    assert_eq!((status, &patched["credentials_dropped"]), (200, &json!(["token"])), "{patched}");

    let headers =
        json!({"name": "echo", "kind": "http", "url": "https://echo.example.com/", "headers": {"X-Key": "xk-1"}});
    h.setup_target_and_trigger(headers);
    let (_, patched) = h.admin_json("PATCH", "/api/v1/targets/echo", json!({"url": "https://other.example.com/"}));
    assert_eq!((&patched["credentials_dropped"], &patched["header_names"]), (&json!(["headers"]), &json!([])));
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
    let (_, listed) = h.admin_json("GET", "/api/v1/triggers", Value::Null);
    let trigger_id = listed["triggers"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/triggers/{trigger_id}/deliveries");
    let (status, first) = h.admin_json("GET", &format!("{path}?limit=2"), Value::Null);
    assert_eq!(status, 200, "{first}");
    let summary = |page: &Value| -> Vec<(String, String, Value)> {
        page["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let last = d["attempts"].as_array().unwrap().last().unwrap();
                (d["call"]["ref"].as_str().unwrap().into(), d["state"].as_str().unwrap().into(), last["status"].clone())
            })
            .collect()
    };
    assert_eq!(
        summary(&first),
        vec![("qa".into(), "pending".into(), Value::Null), ("dev".into(), "pending".into(), json!(500))],
        "both wait for a retry"
    );
    let cursor = first["cursor"].as_str().unwrap();
    let (_, second) = h.admin_json("GET", &format!("{path}?limit=2&cursor={cursor}"), Value::Null);
    assert_eq!(summary(&second), vec![("main".into(), "delivered".into(), json!(201))]);
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
    assert!(one["attempts"][0]["excerpt"].as_str().unwrap().contains("connection refused"));
    assert_eq!(h.admin_json("GET", "/api/v1/deliveries/nope", Value::Null).0, 404);
    assert_eq!(h.admin_json("GET", &format!("{path}?limit=0"), Value::Null).0, 400);
    for key in h.app.store.keys().iter().filter(|k| k.starts_with("delivery:")) {
        let record = h.app.store.raw(key).unwrap();
        assert!(!record.contains("glptt-real") && !record.contains(&token), "a delivery holds no credential");
    }
}

// ---- durable delivery: retries through the queue, dead letters, replay

fn delivery(h: &Harness, id: &str) -> Value {
    let (status, record) = h.admin_json("GET", &format!("/api/v1/deliveries/{id}"), Value::Null);
    assert_eq!(status, 200, "{record}");
    record
}

fn statuses(record: &Value) -> Vec<Value> {
    record["attempts"].as_array().unwrap().iter().map(|a| a["status"].clone()).collect()
}

#[test]
fn a_busy_target_is_retried_with_backoff_until_it_takes_the_call() {
    let h = harness(4);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.outbound.answer(503, "busy");
    let answer = h.fire("web-ci", &token, "main");
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!((answer.status, body["state"].clone(), body["status"].clone()), (202, json!("pending"), json!(503)));
    let id = body["delivery_id"].as_str().unwrap().to_string();

    let queued = common::queue().waiting(Lane::Deliveries);
    assert!((24..=30).contains(&queued[0].delay_seconds), "30 s less jitter: {queued:?}");
    h.app.outbound.answer(503, "busy");
    let message = common::queue().take(Lane::Deliveries).remove(0);
    h.clock.advance(u64::from(message.delay_seconds) * 1000);
    let settled = block_on(relay::consume(&h.app, &message.body, message.handover));
    let relay::Settlement::Retry { delay_seconds } = settled else { panic!("a retry, not {settled:?}") };
    assert!((48..=60).contains(&delay_seconds), "then a minute: {delay_seconds}");
    assert!(common::queue().waiting(Lane::Deliveries).is_empty(), "the same message comes back, no new one");
    common::queue().redeliver(message, delay_seconds);
    h.app.outbound.answer(201, r#"{"id":7}"#);
    assert_eq!(common::drain(&h.app), 1);

    let record = delivery(&h, &id);
    assert_eq!(record["state"], "delivered");
    assert_eq!(statuses(&record), [json!(503), json!(503), json!(201)]);
    let sent = h.app.outbound.sent.borrow();
    let keys: Vec<Option<&str>> = sent.iter().map(|r| r.header("idempotency-key")).collect();
    assert_eq!(keys, [Some(id.as_str()); 3], "one delivery, one Idempotency-Key");
}

#[test]
fn a_target_that_stays_down_ends_dead_in_the_dead_letter_queue() {
    let mut h = harness(5);
    h.app.settings.retry = RetryPolicy { base_seconds: 1, max_attempts: 3 };
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    for _ in 0..3 {
        h.app.outbound.fail("connection refused");
    }
    let body: Value = serde_json::from_slice(&h.fire("web-ci", &token, "main").body).unwrap();
    assert_eq!(common::drain(&h.app), 2);
    let record = delivery(&h, body["delivery_id"].as_str().unwrap());
    assert_eq!((record["state"].clone(), record["attempts"].as_array().unwrap().len()), (json!("dead"), 3));
    let dead = common::queue().take(Lane::DeadLetters);
    assert_eq!(dead.len(), 1);
    let kept: Value = serde_json::from_str(&dead[0].body).unwrap();
    assert_eq!((kept["delivery"].clone(), kept["state"].clone()), (record["id"].clone(), json!("dead")));
}

#[test]
fn a_message_handed_back_again_and_again_never_multiplies_attempts() {
    // The red-team's 438 attempts: a consumer invocation that failed after its attempt had the
    // platform hand the message back, and each handover queued one more retry. Here every message
    // comes back after every handover, whatever the consumer said, as if every invocation failed.
    let mut h = harness(15);
    h.app.settings.retry = RetryPolicy { base_seconds: 1, max_attempts: 3 };
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    for _ in 0..50 {
        h.app.outbound.fail("no such host");
    }
    let body: Value = serde_json::from_slice(&h.fire("web-ci", &token, "main").body).unwrap();
    for _round in 0..20 {
        let messages = common::queue().take(Lane::Deliveries);
        assert!(messages.len() <= 1, "one delivery is one message: {}", messages.len());
        for message in messages {
            block_on(relay::consume(&h.app, &message.body, message.handover));
            common::queue().redeliver(message, 0);
        }
        // Long enough for any retry to be due: the ledger, not the handovers, counts attempts.
        h.clock.advance(2 * 60 * 60 * 1000);
    }
    assert_eq!(h.app.outbound.sent.borrow().len(), 3, "exactly RETRY_MAX_ATTEMPTS attempts");
    let record = delivery(&h, body["delivery_id"].as_str().unwrap());
    assert_eq!((record["state"].clone(), record["attempts"].as_array().unwrap().len()), (json!("dead"), 3));
    assert_eq!(common::queue().take(Lane::DeadLetters).len(), 1, "one dead letter");
}

#[test]
fn an_attempt_whose_invocation_died_counts_as_unknown_once_its_lease_lapses() {
    // An invocation that died between its attempt and its report: the ledger hands the delivery
    // out to no one else while the attempt may still be running (15 minutes), then counts it, as
    // an attempt whose outcome is unknown, so the attempts stay bounded.
    let mut h = harness(16);
    h.app.settings.retry = RetryPolicy { base_seconds: 1, max_attempts: 3 };
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    for _ in 0..10 {
        h.app.outbound.fail("no such host");
    }
    h.fire("web-ci", &token, "main");
    let message = common::queue().take(Lane::Deliveries).remove(0);
    let parsed: Value = serde_json::from_str(&message.body).unwrap();
    let (target, id) = (parsed["target"].as_str().unwrap(), parsed["delivery"].as_str().unwrap());
    h.clock.advance(60_000);
    // Attempt 2 handed out to an invocation that then died, unreported.
    let out = block_on(h.app.catalog().next_attempt(target, id)).unwrap();
    assert!(matches!(out, hookrelay::ledger::NextAttempt::Send { number: 2, .. }), "{out:?}");
    h.clock.advance(60_000);
    let settled = block_on(relay::consume(&h.app, &message.body, 2));
    assert!(matches!(settled, relay::Settlement::Retry { .. }), "still out: {settled:?}");
    assert_eq!(h.app.outbound.sent.borrow().len(), 1, "nothing sent while attempt 2 may be running");
    h.clock.advance(hookrelay::ledger::ATTEMPT_LEASE_MS);
    assert_eq!(block_on(relay::consume(&h.app, &message.body, 3)), relay::Settlement::Ack, "attempt 3 is the last");
    assert_eq!(h.app.outbound.sent.borrow().len(), 2);
    let record = delivery(&h, id);
    assert_eq!(
        (record["state"].clone(), record["attempts"][1]["outcome_unknown"].clone()),
        (json!("dead"), json!(true))
    );
    assert_eq!(block_on(relay::consume(&h.app, &message.body, 4)), relay::Settlement::Ack);
    assert_eq!(h.app.outbound.sent.borrow().len(), 2, "nothing past RETRY_MAX_ATTEMPTS");
}

#[test]
fn a_4xx_is_relayed_and_not_retried_but_408_and_429_are() {
    let h = harness(6);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.outbound.answer(400, r#"{"message":"Reference not found"}"#);
    let answer = h.fire("web-ci", &token, "nope");
    assert_eq!(answer.status, 400, "the target's answer, relayed");
    assert!(common::queue().waiting(Lane::Deliveries).is_empty(), "a 400 is not retried");
    for status in [408, 429] {
        h.app.outbound.answer(status, "{}");
        assert_eq!(h.fire("web-ci", &token, "main").status, 202, "{status}");
    }
    assert_eq!(common::queue().take(Lane::Deliveries).len(), 2);
}

#[test]
fn a_retry_stops_when_its_trigger_is_deleted() {
    let h = harness(7);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.outbound.answer(502, "{}");
    let body: Value = serde_json::from_slice(&h.fire("web-ci", &token, "main").body).unwrap();
    let id = body["delivery_id"].as_str().unwrap();
    let trigger = id.split('-').next().unwrap();
    assert_eq!(h.admin_json("DELETE", &format!("/api/v1/triggers/{trigger}"), Value::Null).0, 204);
    common::drain(&h.app);
    assert_eq!(h.app.outbound.sent.borrow().len(), 1, "no retry for a deleted trigger");
    let targets = h.app.ledger.targets.borrow();
    let record = targets.values().find_map(|rows| rows.entries.get(id)).expect("the record, in the ledger");
    assert_eq!(record.delivery.state, hookrelay::model::DeliveryState::Failed);
}

/// Makes the trigger behind `delivery_id` not live: disabled, or expired by the clock.
fn make_not_live(h: &Harness, delivery_id: &str, how: &str) {
    let trigger = delivery_id.split('-').next().unwrap();
    let patch = match how {
        "disabled" => json!({"enabled": false}),
        _ => json!({"expires_at": "2023-11-15T00:00:00Z"}),
    };
    let (status, body) = h.admin_json("PATCH", &format!("/api/v1/triggers/{trigger}"), patch);
    assert_eq!(status, 200, "{body}");
    h.clock.advance(2 * 60 * 60 * 1000);
}

#[test]
fn a_retry_stops_when_its_trigger_is_disabled_or_expired() {
    for (seed, how) in [(18, "disabled"), (19, "expired")] {
        let h = harness(seed);
        let (_, token) = h.setup_target_and_trigger(gitlab_target());
        h.app.outbound.answer(502, "{}");
        let body: Value = serde_json::from_slice(&h.fire("web-ci", &token, "main").body).unwrap();
        let id = body["delivery_id"].as_str().unwrap().to_string();
        make_not_live(&h, &id, how);
        common::drain(&h.app);
        assert_eq!(h.app.outbound.sent.borrow().len(), 1, "no retry once the trigger is {how}");
        let record = delivery(&h, &id);
        assert_eq!(record["state"], "failed", "{how}: {record}");
        common::queue().take(Lane::Deliveries);
    }
}

#[test]
fn a_replay_is_refused_while_its_trigger_is_disabled_or_expired() {
    for (seed, how) in [(20, "disabled"), (21, "expired")] {
        let h = harness(seed);
        let (_, token) = h.setup_target_and_trigger(gitlab_target());
        h.app.outbound.answer(400, "{}");
        assert_eq!(h.fire("web-ci", &token, "main").status, 400);
        let path = h.first_trigger_deliveries();
        let old = h.admin_json("GET", &path, Value::Null).1["deliveries"][0]["id"].as_str().unwrap().to_string();
        make_not_live(&h, &old, how);
        let (status, body) = h.admin_json("POST", &format!("/api/v1/deliveries/{old}/replay"), Value::Null);
        assert_eq!(status, 409, "{how}: {body}");
        assert_eq!(h.app.outbound.sent.borrow().len(), 1, "nothing forwarded for a {how} trigger");
    }
}

#[test]
fn a_replay_is_a_new_delivery_of_the_same_call_linked_to_the_old() {
    let h = harness(8);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.outbound.answer(400, "{}");
    let request = Request::new(
        "POST",
        &format!("/api/v4/projects/web-ci/trigger/pipeline?token={token}&ref=main&variables[A]=1"),
    );
    assert_eq!(h.send(request).status, 400);
    let path = h.first_trigger_deliveries();
    let old = h.admin_json("GET", &path, Value::Null).1["deliveries"][0].clone();
    assert_eq!(old["state"], "failed");

    h.clock.advance(5_000);
    let (status, replayed) =
        h.admin_json("POST", &format!("/api/v1/deliveries/{}/replay", old["id"].as_str().unwrap()), Value::Null);
    assert_eq!(status, 201, "{replayed}");
    assert_eq!((replayed["state"].clone(), replayed["replay_of"].clone()), (json!("delivered"), old["id"].clone()));
    assert_ne!(replayed["id"], old["id"]);
    assert_eq!(replayed["call"], old["call"], "the same ref and variables");
    let sent = h.app.outbound.sent.borrow();
    assert_eq!(sent[0].body, sent[1].body, "the target is asked the same");
    assert_eq!(sent[1].header("idempotency-key"), replayed["id"].as_str());
    drop(sent);
    let page = h.admin_json("GET", &path, Value::Null).1;
    assert_eq!(page["deliveries"][0]["id"], replayed["id"], "newest first");
    assert_eq!(h.admin_json("POST", "/api/v1/deliveries/nope-1/replay", Value::Null).0, 404);
}

#[test]
fn an_answer_that_echoes_the_targets_credential_is_recorded_redacted() {
    let h = harness(9);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.outbound.answer(401, r#"{"message":"token glptt-real is invalid"}"#);
    assert_eq!(h.fire("web-ci", &token, "main").status, 401);
    let path = h.first_trigger_deliveries();
    let record = h.admin_json("GET", &path, Value::Null).1["deliveries"][0].clone();
    assert_eq!(record["attempts"][0]["excerpt"], r#"{"message":"token [redacted] is invalid"}"#);
}

#[test]
fn a_token_caller_never_reads_the_targets_credentials_in_its_answer() {
    let h = harness(32);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.outbound.answer(400, r#"{"message":"token glptt-real is invalid","url":"?token=glptt%2Dreal"}"#);
    let answer = h.fire("web-ci", &token, "main");
    let body = String::from_utf8(answer.body).unwrap();
    assert_eq!((answer.status, body.contains("glptt")), (400, false), "{body}");
    assert!(body.contains("[redacted]"), "{body}");

    let echo = json!({"name": "echo", "kind": "http", "url": "https://echo.example.com/",
        "headers": {"X-Key": "xk-s3cret/value"}});
    let (_, token) = h.setup_target_and_trigger(echo);
    h.app.outbound.answer(200, r#"{"headers":{"x-key":"xk-s3cret\/value"},"raw":"xk-s3cret/value"}"#);
    let answer = h.fire("echo", &token, "main");
    let body = String::from_utf8(answer.body).unwrap();
    assert_eq!(h.app.outbound.last().unwrap().header("x-key"), Some("xk-s3cret/value"), "the target got it");
    assert_eq!((answer.status, body.contains("s3cret")), (200, false), "{body}");
}

// ---- scheduled triggers

#[test]
fn a_schedule_fires_once_in_each_due_minute_with_its_ref_and_variables() {
    let h = harness(10);
    h.setup_target_and_trigger(gitlab_target());
    let nightly = json!({"target": "web-ci", "source": {"kind": "schedule", "cron": "30 0 * * *", "ref": "main", "variables": {"NIGHTLY": "1"}}});
    let (status, created) = h.admin_json("POST", "/api/v1/triggers", nightly);
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["kind"].clone(), created["source"]["cron"].clone()), (json!("schedule"), json!("30 0 * * *")));
    assert!(created.get("hook_url").is_none() && created.get("token").is_none());

    let id = created["id"].as_str().unwrap();
    let armed = |h: &Harness| h.app.alarms.armed.borrow().get(id).cloned();
    assert_eq!(armed(&h).as_deref(), Some("30 0 * * *"), "its alarm is armed");
    // The alarm wakes at the due minute (as `TriggerSchedule` computes it), and fires.
    let due = hookrelay::time::parse_rfc3339("2026-11-23T00:30:00Z").unwrap();
    assert_eq!(schedules::next_due("30 0 * * *", due - 60_000), Some(due));
    let alarm = |h: &Harness, at: u64| block_on(schedules::fire(&h.app, id, at)).unwrap();
    h.app.store.reset_counts();
    assert!(alarm(&h, due));
    let counts = h.app.store.counts();
    assert_eq!(
        (counts.lists, counts.reads, counts.writes),
        (0, 2, 0),
        "no listing; the trigger and its target; the minute is a replay id in the target's ledger"
    );
    assert!(!alarm(&h, due), "the platform retrying the same minute's alarm fires nothing");
    assert_eq!(schedules::after_firing("30 0 * * *", due, due + 1_000), Some(due + 86_400_000), "the next night");
    assert_eq!(common::drain(&h.app), 1);
    let sent = h.app.outbound.last().unwrap();
    let form = String::from_utf8(sent.body.clone()).unwrap();
    assert!(form.contains("ref=main") && form.contains("variables%5BNIGHTLY%5D=1"), "{form}");
    assert!(form.contains("variables%5BHOOKRELAY_EVENT%5D=schedule"), "{form}");
    assert!(form.contains("variables%5BHOOKRELAY_SCHEDULED_AT%5D=2026-11-23T00%3A30%3A00.000Z"), "{form}");
    assert!(alarm(&h, due + 86_400_000), "the next night");

    assert_eq!(h.admin_json("PATCH", &format!("/api/v1/triggers/{id}"), json!({"enabled": false})).0, 200);
    assert!(!alarm(&h, due + 2 * 86_400_000), "disabled: the alarm wakes and fires nothing");
    let every_minute = json!({"source": {"kind": "schedule", "cron": "* * * * *"}, "enabled": true});
    assert_eq!(h.admin_json("PATCH", &format!("/api/v1/triggers/{id}"), every_minute).0, 200);
    assert_eq!(armed(&h).as_deref(), Some("* * * * *"), "re-armed with the new expression");
    assert_eq!(h.admin_json("DELETE", &format!("/api/v1/triggers/{id}"), Value::Null).0, 204);
    assert_eq!(armed(&h), None, "disarmed");
    assert!(!alarm(&h, due + 3 * 86_400_000), "deleted");
    // The daily Cron Trigger re-arms what the index holds: one listing, no reads.
    h.app.store.reset_counts();
    assert_eq!(block_on(schedules::rearm_all(&h.app)).unwrap(), 0);
    assert_eq!((h.app.store.counts().lists, h.app.store.counts().reads), (1, 0));
}

#[test]
fn a_late_alarm_does_not_fire_the_minutes_it_missed() {
    let due = hookrelay::time::parse_rfc3339("2026-11-23T00:30:00Z").unwrap();
    assert_eq!(schedules::after_firing("* * * * *", due, due + 5_000), Some(due + 60_000));
    assert_eq!(schedules::after_firing("* * * * *", due, due + 10 * 60_000 + 5_000), Some(due + 10 * 60_000));
    assert_eq!(schedules::next_due("not a cron", due), None);
}

#[test]
fn an_invalid_schedule_is_refused_naming_the_field() {
    let h = harness(11);
    h.setup_target_and_trigger(gitlab_target());
    for (source, expected) in [
        (json!({"kind": "schedule", "cron": "61 * * * *"}), "the minute field"),
        (json!({"kind": "schedule", "cron": "0 0 * * funday"}), "the day of week field"),
        (json!({"kind": "schedule"}), "source.cron is missing"),
        (json!({"kind": "schedule", "cron": "0 0 30 2 *"}), "never fires"),
        (json!({"kind": "schedule", "cron": "* * * * *", "ref": "a..b"}), "source.ref"),
        (json!({"kind": "schedule", "cron": "* * * * *", "secrets": ["x"]}), "no secrets"),
        (json!({"kind": "github", "secrets": ["x"], "cron": "* * * * *"}), "schedules only"),
    ] {
        let (status, body) = h.admin_json("POST", "/api/v1/triggers", json!({"target": "web-ci", "source": source}));
        assert_eq!(status, 400, "{body}");
        assert!(body["message"].as_str().unwrap().contains(expected), "{expected}: {body}");
    }
}

#[test]
fn a_retry_that_cannot_be_queued_is_answered_503_and_recorded_failed() {
    let h = harness(12);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    *common::queue().broken.borrow_mut() = Some("queue down".into());
    h.app.outbound.answer(503, "busy");
    let answer = h.fire("web-ci", &token, "main");
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!((answer.status, body["error"].clone()), (503, json!("queue_unavailable")), "{body}");
    let path = h.first_trigger_deliveries();
    let record = h.admin_json("GET", &path, Value::Null).1["deliveries"][0].clone();
    assert_eq!(record["state"], "failed");
    assert!(record["attempts"][1]["excerpt"]
        .as_str()
        .unwrap()
        .contains("could not be queued: the delivery queue is unavailable: queue down"));
}

#[test]
fn a_webhook_form_body_that_carries_the_trigger_token_passes_on_without_it() {
    let h = harness(13);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    let webhook = "/api/v4/projects/web-ci/ref/main/trigger/pipeline";
    let push: Value = serde_json::from_slice(&common::fixture("gitlab/push.json")).unwrap();
    let mut with_token = push.clone();
    with_token["token"] = token.clone().into();
    let body = with_token.to_string();
    // Issue 14, F9: the token's first letter JSON-escaped escaped the literal replacement.
    let escaped = body.replace(&format!("\"{token}\""), &format!("\"\\u0068{}\"", &token[1..]));
    assert_ne!(escaped, body);
    for (query, body) in [(String::new(), escaped), (format!("?token={token}"), body)] {
        let request = Request::new("POST", &format!("{webhook}{query}")).with_body("application/json", body);
        assert_eq!(h.send(request).status, 200);
        let sent: Value = serde_json::from_slice(&h.app.outbound.last().unwrap().body).unwrap();
        assert_eq!(sent, push, "the payload less its token field");
    }
    assert_token_nowhere(&h, &token);
}

/// Issue 14, F9: `%68rtt_...` in a form escaped the literal replacement.
#[test]
fn a_webhook_form_with_a_percent_encoded_token_passes_on_without_it() {
    let h = harness(13);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    let body = format!("object_kind=push&token=%68{}&note=a%2Bb", &token[1..]);
    let request = Request::new("POST", "/api/v4/projects/web-ci/ref/main/trigger/pipeline")
        .with_body("application/x-www-form-urlencoded", body);
    assert_eq!(h.send(request).status, 200);
    let sent = h.app.outbound.last().unwrap();
    assert_eq!(String::from_utf8(sent.body).unwrap(), "object_kind=push&note=a%2Bb");
    assert_token_nowhere(&h, &token);
}

/// Neither the target nor any stored record saw the token's secret part, in any encoding.
fn assert_token_nowhere(h: &Harness, token: &str) {
    let secret = token.strip_prefix("hrtt_").unwrap();
    for request in h.app.outbound.sent.borrow().iter() {
        assert!(!String::from_utf8_lossy(&request.body).contains(secret), "forwarded: {request:?}");
        assert!(!request.url.contains(secret));
    }
    let records: Vec<String> = h
        .app
        .ledger
        .targets
        .borrow()
        .values()
        .flat_map(|rows| rows.entries.values().map(|entry| serde_json::to_string(entry).unwrap()).collect::<Vec<_>>())
        .collect();
    assert!(!records.is_empty(), "the deliveries were recorded");
    for record in &records {
        assert!(!record.contains(secret), "recorded: {record}");
    }
    // Only the trigger's own record keeps it (its owner's copy, sealed at rest by the shell).
    for key in h.app.store.keys().into_iter().filter(|key| !key.starts_with("trigger:")) {
        assert!(!h.app.store.raw(&key).unwrap().contains(secret), "stored in {key}");
    }
}

#[test]
fn the_outbound_policy_is_checked_again_before_every_send() {
    let mut h = harness(14);
    h.app.settings.allow_local_targets = true;
    let local = json!({"name": "local", "kind": "http", "url": "http://127.0.0.1:9000/hook"});
    let (_, token) = h.setup_target_and_trigger(local);
    h.app.settings.allow_local_targets = false;
    let answer = h.fire("local", &token, "main");
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(answer.status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("the target's URL must use https"), "{body}");
    assert!(h.app.outbound.sent.borrow().is_empty(), "nothing was sent");
    let record = h.admin_json("GET", &h.first_trigger_deliveries(), Value::Null).1["deliveries"][0].clone();
    assert_eq!(record["state"], "failed", "and it is not retried");
}

/// Issue 14: `.` and `..` are dot segments that URL parsers drop, so no path could name them.
#[test]
fn targets_named_dot_or_dot_dot_are_refused_on_create_and_rename() {
    let h = harness(16);
    for name in [".", ".."] {
        let mut target = gitlab_target();
        target["name"] = name.into();
        let (status, err) = h.admin_json("POST", "/api/v1/targets", target);
        assert_eq!(status, 400, "{name}");
        assert_eq!(err["message"], "name must not be '.' or '..'");
    }
    let (status, target) = h.admin_json("POST", "/api/v1/targets", gitlab_target());
    assert_eq!(status, 201);
    let path = format!("/api/v1/targets/{}", target["id"].as_str().unwrap());
    assert_eq!(h.admin_json("PATCH", &path, json!({"name": ".."})).0, 400);
    assert_eq!(h.admin_json("PATCH", &path, json!({"name": "..web"})).0, 200, "dots inside a name are fine");
    assert_eq!(h.admin_json("GET", "/api/v1/targets/..web", Value::Null).0, 200);
}

#[test]
fn the_url_sent_is_the_serialization_of_the_url_checked() {
    let h = harness(30);
    let written = json!({"name": "hook", "kind": "http", "url": "HTTPS://Deploy.Example.COM:443/a/../hook?x=1"});
    let (_, token) = h.setup_target_and_trigger(written);
    assert_eq!(h.fire("hook", &token, "main").status, 200);
    assert_eq!(h.app.outbound.last().unwrap().url, "https://deploy.example.com/hook?x=1");
    // Stored while local targets were allowed: `127.1` is sent as the address fetch would use,
    // and refused as that address once they are not.
    let mut h = harness(31);
    h.app.settings.allow_local_targets = true;
    let (_, token) =
        h.setup_target_and_trigger(json!({"name": "local", "kind": "http", "url": "https://0x7f.1:9000/x"}));
    h.fire("local", &token, "main");
    assert_eq!(h.app.outbound.last().unwrap().url, "https://127.0.0.1:9000/x");
    h.app.settings.allow_local_targets = false;
    let refused = h.fire("local", &token, "main");
    assert_eq!(refused.status, 400, "refused before sending");
    assert!(String::from_utf8_lossy(&refused.body).contains("private, loopback"));
    assert_eq!(h.app.outbound.sent.borrow().len(), 1);
}

#[test]
fn every_admin_mutation_is_in_the_audit_trail_without_secrets() {
    let h = harness(15);
    let (target, _) = h.setup_target_and_trigger(gitlab_target());
    let target_id = target["id"].as_str().unwrap();
    h.clock.advance(1_000); // entries of one millisecond have no order among themselves
    assert_eq!(
        h.admin_json("PATCH", &format!("/api/v1/targets/{target_id}"), json!({"token": "glptt-rotated"})).0,
        200
    );
    assert_eq!(
        h.admin_json("POST", "/api/v1/targets", json!({"name": "bad"})).0,
        400,
        "a refused one is not a mutation"
    );
    h.admin_json("GET", "/api/v1/targets", Value::Null);
    h.clock.advance(1_000);
    let (status, page) = h.admin_json("GET", "/api/v1/audit?limit=2", Value::Null);
    assert_eq!(status, 200, "{page}");
    let actions: Vec<&str> =
        page["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["PATCH /api/v1/targets/{id}", "POST /api/v1/triggers"], "newest first");
    assert_eq!(page["entries"][0]["ids"], json!({"id": target_id}), "a PATCH created nothing");
    assert_eq!(page["entries"][0]["admin"], "alice");
    let cursor = page["cursor"].as_str().unwrap();
    let (_, rest) = h.admin_json("GET", &format!("/api/v1/audit?cursor={cursor}"), Value::Null);
    let created = &rest["entries"][0];
    assert_eq!(
        (created["action"].as_str(), created["ids"]["created"].as_str()),
        (Some("POST /api/v1/targets"), Some(target_id))
    );
    assert_eq!(rest["entries"].as_array().unwrap().len(), 1);
    for key in h.app.store.keys().iter().filter(|k| k.starts_with("audit:")) {
        let entry = h.app.store.raw(key).unwrap();
        assert!(!entry.contains("glptt"), "no secret in {entry}");
    }
}

/// Issue 14: PATCH and PUT answers carry the id they changed, and were recorded as `created`.
#[test]
fn updates_are_audited_with_the_ids_they_changed_and_creations_with_the_new_id() {
    let h = harness(17);
    h.admin_json("POST", "/api/v1/targets", gitlab_target());
    // Entries of one millisecond sort by a random suffix: one second apart, they sort by time.
    h.clock.advance(1_000);
    h.admin_json("POST", "/api/v1/triggers", json!({"target": "web-ci"}));
    let (_, listed) = h.admin_json("GET", "/api/v1/triggers", Value::Null);
    let trigger_id = listed["triggers"][0]["id"].as_str().unwrap().to_string();
    h.clock.advance(1_000);
    let native = format!("/api/v1/triggers/{trigger_id}");
    assert_eq!(h.admin_json("PATCH", &native, json!({"description": "nightly"})).0, 200);
    h.clock.advance(1_000);
    let gitlab = format!("/api/v4/projects/web-ci/triggers/{trigger_id}");
    assert_eq!(h.admin_json("PUT", &gitlab, json!({"description": "nightly"})).0, 200);
    h.clock.advance(1_000);
    let (_, page) = h.admin_json("GET", "/api/v1/audit?limit=4", Value::Null);
    let entries: Vec<(&str, Value)> =
        page["entries"].as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["ids"].clone())).collect();
    assert_eq!(
        entries[..3],
        [
            ("PUT /api/v4/projects/{id}/triggers/{trigger_id}", json!({"id": "web-ci", "trigger_id": trigger_id})),
            ("PATCH /api/v1/triggers/{id}", json!({"id": trigger_id})),
            ("POST /api/v1/triggers", json!({"created": trigger_id})),
        ]
    );
}

// ---- fault injection: KV failing at every step

/// Every trigger's target exists and knows of it (the reverse, an index key without its trigger,
/// is allowed: readers skip it).
fn assert_consistent(h: &Harness) {
    let keys = h.app.store.keys();
    for key in keys.iter().filter(|k| k.starts_with("trigger:")) {
        let trigger: Value = serde_json::from_str(&h.app.store.raw(key).unwrap()).unwrap();
        let (id, target) = (trigger["id"].as_str().unwrap(), trigger["target"].as_str().unwrap());
        assert!(keys.contains(&format!("target:{target}")), "{id}: its target exists");
        assert!(keys.contains(&format!("target-trigger:{target}:{id}")), "{id}: its target knows of it");
    }
}

#[test]
fn a_store_failing_at_any_step_gets_a_clear_503_and_leaves_state_consistent() {
    let operations: Vec<(&str, &str, Value)> = vec![
        (
            "POST",
            "/api/v1/triggers",
            json!({"target": "web-ci", "source": {"kind": "github", "secrets": ["s"]}, "repository": "a/b"}),
        ),
        ("POST", "/api/v1/triggers", json!({"target": "web-ci", "kind": "image", "repository": "ns/app"})),
        ("POST", "/api/v1/triggers", json!({"target": "web-ci", "source": {"kind": "schedule", "cron": "* * * * *"}})),
        ("POST", "/api/v1/targets", json!({"name": "other", "kind": "http", "url": "https://x.example"})),
    ];
    for (method, path, body) in operations {
        for fail_at in 0..12 {
            let h = harness(16);
            let (target, token) = h.setup_target_and_trigger(gitlab_target());
            h.app.store.fail_after(Some(fail_at));
            let (status, answer) = h.admin_json(method, path, body.clone());
            h.app.store.fail_after(None);
            if status != 201 {
                assert_eq!((status, answer["error"].as_str()), (503, Some("store_unavailable")), "{path} at {fail_at}");
            }
            assert_consistent(&h);
            // The rest still works: the token fires, and the target cannot be deleted while triggers point at it.
            assert_eq!(h.fire("web-ci", &token, "main").status, 200, "{path} at {fail_at}");
            let target_path = format!("/api/v1/targets/{}", target["id"].as_str().unwrap());
            assert_eq!(h.admin_json("DELETE", &target_path, Value::Null).0, 409);
        }
    }
}

#[test]
fn a_store_failing_during_a_token_call_is_a_503_before_firing_and_never_hides_a_fired_target() {
    for fail_at in 0..3 {
        let h = harness(17);
        let (_, token) = h.setup_target_and_trigger(gitlab_target());
        h.app.store.fail_after(Some(fail_at));
        let answer = h.fire("web-ci", &token, "main");
        h.app.store.fail_after(None);
        let fired = h.app.outbound.sent.borrow().len();
        if fail_at < 2 {
            let body: Value = serde_json::from_slice(&answer.body).unwrap();
            assert_eq!((answer.status, body["error"].as_str()), (503, Some("store_unavailable")), "at {fail_at}");
            assert_eq!(fired, 0, "the trigger or target could not be read: nothing fired");
        } else {
            assert_eq!((answer.status, fired), (200, 1), "the record's write failed: the target's answer stands");
        }
    }
}

#[test]
fn every_failed_token_call_costs_one_read_and_gets_the_same_answer() {
    let h = harness(40);
    let (target, _) = h.setup_target_and_trigger(gitlab_target());
    let make = |patch: Value| {
        let (_, trigger) = h.admin_json("POST", "/api/v1/triggers", json!({"target": target["id"]}));
        let id = trigger["id"].as_str().unwrap().to_string();
        if !patch.is_null() {
            assert_eq!(h.admin_json("PATCH", &format!("/api/v1/triggers/{id}"), patch).0, 200);
        }
        (id, trigger["token"].as_str().unwrap().to_string())
    };
    let (_, disabled) = make(json!({"enabled": false}));
    let (_, expired) = make(json!({"expires_at": "2023-01-01T00:00:00Z"}));
    let (revoked_id, revoked) = make(Value::Null);
    assert_eq!(h.admin_json("DELETE", &format!("/api/v1/triggers/{revoked_id}"), Value::Null).0, 204);
    // Same shape as a real token, never issued.
    let unknown = format!("glptt-{}", "7".repeat(revoked.len() - "glptt-".len()));
    let mut answers = Vec::new();
    for token in [&unknown, &revoked, &disabled, &expired] {
        h.app.store.reset_counts();
        let response = h.fire("web-ci", token, "main");
        let counts = h.app.store.counts();
        assert_eq!((counts.reads, counts.writes, counts.lists), (1, 0, 0), "one read, nothing else");
        answers.push((response.status, response.body));
    }
    assert_eq!(answers[0].0, 404);
    assert!(answers.iter().all(|answer| *answer == answers[0]), "{answers:?}");
}

#[test]
fn admin_requests_over_the_limit_are_refused_before_the_token_is_checked() {
    let mut h = harness(41);
    h.app.limiter = Box::new(hookrelay::ports::MemoryLimiter::new(3));
    let (_, token) = h.setup_target_and_trigger(gitlab_target()); // two admin requests
    let from = |ip: &str, admin_token: &str| {
        h.send(
            Request::new("GET", "/api/v1/targets")
                .with_header("authorization", &format!("Bearer {admin_token}"))
                .with_header("cf-connecting-ip", ip),
        )
    };
    assert_eq!(from("unknown", "wrong").status, 401, "the third request is still answered");
    for admin_token in ["wrong", "tok-a"] {
        let refused = from("unknown", admin_token);
        assert_eq!(refused.status, 429, "a right guess looks like a wrong one");
        assert_eq!(refused.header("retry-after"), Some("60"));
        let body: Value = serde_json::from_slice(&refused.body).unwrap();
        assert_eq!(body["error"], "rate_limited");
    }
    assert_eq!(from("203.0.113.9", "tok-a").status, 200, "another client is not slowed down");
    assert_eq!(h.fire("web-ci", &token, "main").status, 200, "trigger calls are not admin requests");
    assert_eq!(h.send(Request::new("GET", "/healthz")).status, 200);
}

#[test]
fn deliveries_can_be_listed_by_state() {
    let h = harness(42);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    for status in [201, 400, 201, 400, 400] {
        h.app.outbound.answer(status, "{}");
        h.fire("web-ci", &token, "main");
        h.clock.advance(1_000);
    }
    let path = h.first_trigger_deliveries();
    let states = |query: &str| {
        let (status, page) = h.admin_json("GET", &format!("{path}{query}"), Value::Null);
        assert_eq!(status, 200, "{page}");
        let states: Vec<String> =
            page["deliveries"].as_array().unwrap().iter().map(|d| d["state"].as_str().unwrap().to_string()).collect();
        (states, page["cursor"].clone())
    };
    assert_eq!(states("?state=failed").0, ["failed"; 3]);
    assert_eq!(states("?state=delivered").0, ["delivered"; 2]);
    assert!(states("?state=dead").0.is_empty());
    // The ledger filters: a page holds `limit` deliveries in the state, and its cursor goes on.
    let (newest_two, cursor) = states("?state=failed&limit=2");
    assert_eq!(newest_two, ["failed"; 2]);
    let cursor = cursor.as_str().expect("older deliveries remain").to_string();
    assert_eq!(states(&format!("?state=failed&limit=2&cursor={cursor}")).0, ["failed"]);
    let (status, error) = h.admin_json("GET", &format!("{path}?state=lost"), Value::Null);
    assert_eq!((status, error["error"].as_str()), (400, Some("bad_request")));
}

#[test]
fn an_id_longer_than_any_name_is_unknown_on_every_route_before_any_store_call() {
    // `DELETE /api/v1/triggers/` + 600 × `a` used to reach KV, which refused the key (414) and
    // the caller got 503 with KV's own message.
    let h = harness(17);
    let long = "a".repeat(600);
    for route in hookrelay::router::ROUTES.iter().filter(|route| route.pattern.contains('{')) {
        let path: String = route
            .pattern
            .split('/')
            .map(|segment| if segment.starts_with('{') { long.as_str() } else { segment })
            .collect::<Vec<_>>()
            .join("/");
        h.app.store.reset_counts();
        let request = Request::new(route.method, &path)
            .with_header("authorization", "Bearer tok-a")
            .with_header("x-auth-token", "tok-a")
            .with_body("application/json", "{}");
        let answer = h.send(request);
        assert_eq!(answer.status, 404, "{} {}: {}", route.method, route.pattern, String::from_utf8_lossy(&answer.body));
        let counts = h.app.store.counts();
        assert_eq!((counts.reads, counts.writes, counts.lists, counts.deletes), (0, 0, 0, 0), "{}", route.pattern);
    }
}

#[test]
fn the_memory_store_refuses_keys_longer_than_kv_takes() {
    let store = hookrelay::store::MemoryStore::new();
    let long = "k".repeat(513);
    assert!(block_on(hookrelay::store::Store::get(&store, &long)).is_err());
    assert!(block_on(hookrelay::store::Store::put(&store, &long, "v", None)).is_err());
    assert!(block_on(hookrelay::store::Store::get(&store, &"k".repeat(512))).is_ok());
}

// ---- found by review: secrets and attempts on paths the red team did not take

#[test]
fn a_delivery_of_any_size_travels_as_its_id_and_gets_every_attempt() {
    let mut h = harness(21);
    h.app.settings.retry = RetryPolicy { base_seconds: 1, max_attempts: 5 };
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    for _ in 0..20 {
        h.app.outbound.fail("connection refused");
    }
    let big = json!({"object_kind": "push", "pad": "x".repeat(150 * 1024)}).to_string();
    let request = Request::new("POST", &format!("/api/v4/projects/web-ci/ref/main/trigger/pipeline?token={token}"))
        .with_body("application/json", big);
    let answer = h.send(request);
    assert_eq!(answer.status, 202, "{}", String::from_utf8_lossy(&answer.body));
    let queued = common::queue().waiting(Lane::Deliveries);
    assert!(queued[0].body.len() < 200, "the message names the delivery: {}", queued[0].body);
    common::drain(&h.app);
    let sent = h.app.outbound.sent.borrow();
    assert_eq!(sent.len(), 5, "exactly RETRY_MAX_ATTEMPTS attempts");
    assert!(sent.iter().all(|request| request.body.len() > 150 * 1024), "each with the whole payload");
}

#[test]
fn an_escaped_token_in_json_labelled_text_plain_is_not_forwarded() {
    let h = harness(22);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    let secret = token.strip_prefix("hrtt_").unwrap();
    let first = secret.chars().next().unwrap();
    let escaped = format!("hrtt_\\u{:04x}{}", first as u32, &secret[first.len_utf8()..]);
    let body = format!("{{\"object_kind\":\"push\",\"note\":\"{escaped}\"}}");
    let request = Request::new("POST", &format!("/api/v4/projects/web-ci/ref/main/trigger/pipeline?token={token}"))
        .with_body("text/plain", body);
    let answer = h.send(request);
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let sent = h.app.outbound.last().unwrap();
    let decoded: Value = serde_json::from_slice(&sent.body).unwrap();
    assert!(
        !decoded.to_string().contains(secret),
        "the target would decode the token from {}",
        String::from_utf8_lossy(&sent.body)
    );
}

#[test]
fn a_jenkins_basic_credential_echoed_by_the_target_is_scrubbed() {
    use base64::Engine;
    let h = harness(23);
    let jenkins = json!({"name": "ci", "kind": "jenkins", "url": "https://jenkins.example.com", "job": "deploy", "user": "bot", "api_token": "11aa22bb33cc"});
    let (_, token) = h.setup_target_and_trigger(jenkins);
    let b64 = base64::engine::general_purpose::STANDARD.encode("bot:11aa22bb33cc");
    h.app.outbound.answer(401, &format!("{{\"error\":\"bad credentials in Authorization: Basic {b64}\"}}"));
    let answer = h.fire("ci", &token, "main");
    let text = String::from_utf8_lossy(&answer.body).to_string();
    assert!(!text.contains(&b64), "the caller would read base64(user:api_token): {text}");
}

#[test]
fn a_credential_in_the_platforms_error_text_is_scrubbed() {
    let mut h = harness(24);
    h.app.settings.retry = RetryPolicy { base_seconds: 1, max_attempts: 1 };
    let target =
        json!({"name": "render", "kind": "http", "url": "https://api.render.com/deploy/srv-1?key=rnd_s3cretkey"});
    let (_, token) = h.setup_target_and_trigger(target);
    h.app.outbound.fail("Fetch API cannot load: https://api.render.com/deploy/srv-1?key=rnd_s3cretkey");
    let answer = h.fire("render", &token, "main");
    let text = String::from_utf8_lossy(&answer.body).to_string();
    assert!(!text.contains("rnd_s3cretkey"), "{} {text}", answer.status);
}

#[test]
fn a_new_path_on_the_same_host_drops_the_headers_not_supplied_again() {
    let h = harness(25);
    let target = json!({"name": "bin", "kind": "http", "url": "https://webhook.site/victim-bin", "headers": {"X-Key": "s3cret-key"}});
    let (created, token) = h.setup_target_and_trigger(target);
    let (status, patched) = h.admin_json(
        "PATCH",
        &format!("/api/v1/targets/{}", created["id"].as_str().unwrap()),
        json!({"url": "https://webhook.site/attacker-bin"}),
    );
    assert_eq!((status, &patched["credentials_dropped"]), (200, &json!(["headers"])));
    h.fire("bin", &token, "main");
    let sent = h.app.outbound.last().unwrap();
    assert!(
        sent.header("x-key").is_none(),
        "{} got X-Key {:?}; dropped={}",
        sent.url,
        sent.header("x-key"),
        patched["credentials_dropped"]
    );
}

// ---- request ids, log lines and opaque internal failures (svix's error.rs)

#[test]
fn an_internal_failure_answers_500_with_a_request_id_and_only_the_log_has_its_detail() {
    let h = harness(26);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    let (_, listed) = h.admin_json("GET", "/api/v1/triggers", Value::Null);
    let trigger_id = listed["triggers"][0]["id"].as_str().unwrap().to_string();
    let key = format!("trigger:{trigger_id}");
    block_on(hookrelay::store::Store::put(h.app.store.as_ref(), &key, "{not json", None)).unwrap();
    let answer = h.send(
        Request::new("GET", &format!("/api/v1/triggers/{trigger_id}")).with_header("authorization", "Bearer tok-a"),
    );
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    let request_id = answer.header("x-request-id").unwrap().to_string();
    assert_eq!(
        (answer.status, body),
        (500, json!({"error": "internal", "message": "internal error", "request_id": request_id}))
    );
    let lines = h.app.log.lines.borrow();
    let error = lines.iter().find(|line| line["type"] == "error").expect("an error line");
    assert_eq!((&error["request_id"], &error["route"]), (&json!(request_id), &json!("/api/v1/triggers/{id}")));
    assert!(error["detail"].as_str().unwrap().contains(&format!("corrupt record at {key}")), "{error}");
    assert!(!lines.iter().any(|line| line.to_string().contains(&token) || line.to_string().contains("tok-a")));
}

#[test]
fn every_answer_carries_its_request_id_and_leaves_one_line_with_the_routes_pattern() {
    let h = harness(27);
    let given = h.send(Request::new("GET", "/healthz").with_header("x-request-id", "deploy-42.a_b"));
    assert_eq!(given.header("x-request-id"), Some("deploy-42.a_b"), "a plain id is kept");
    for odd in ["has space", &"x".repeat(65), "new\nline", ""] {
        let made = h.send(Request::new("GET", "/healthz").with_header("x-request-id", odd));
        let id = made.header("x-request-id").unwrap();
        assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{odd:?} replaced by {id}");
    }
    let before = h.app.log.lines.borrow().len();
    let missing = h.send(Request::new("GET", "/api/v1/targets/web-ci").with_header("authorization", "Bearer tok-a"));
    assert_eq!(missing.status, 404);
    let lines = h.app.log.lines.borrow();
    assert_eq!(lines.len(), before + 1, "one line per request");
    let line = lines.last().unwrap();
    assert_eq!(
        (&line["type"], &line["method"], &line["route"], &line["status"], &line["admin"]),
        (&json!("request"), &json!("GET"), &json!("/api/v1/targets/{id}"), &json!(404), &json!("alice"))
    );
    assert_eq!(line["request_id"].as_str(), missing.header("x-request-id"));
    assert!(line["duration_ms"].is_u64());
}

#[test]
fn each_attempt_leaves_a_log_line_with_its_number_status_and_outcome() {
    let h = harness(28);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.outbound.answer(503, "busy");
    let body: Value = serde_json::from_slice(&h.fire("web-ci", &token, "main").body).unwrap();
    h.app.outbound.answer(201, r#"{"id":7}"#);
    common::drain(&h.app);
    let lines = h.app.log.lines.borrow();
    let attempts: Vec<(Value, Value, Value, Value)> = lines
        .iter()
        .filter(|line| line["type"] == "attempt")
        .map(|l| (l["attempt"].clone(), l["status"].clone(), l["outcome"].clone(), l["target_kind"].clone()))
        .collect();
    assert_eq!(
        attempts,
        [
            (json!(1), json!(503), json!("retry"), json!("gitlab")),
            (json!(2), json!(201), json!("delivered"), json!("gitlab"))
        ]
    );
    assert!(lines.iter().filter(|l| l["type"] == "attempt").all(|l| l["delivery_id"] == body["delivery_id"]));
    assert!(!lines.iter().any(|line| line.to_string().contains("glptt-real") || line.to_string().contains(&token)));
}

#[test]
fn a_refused_webhook_is_logged_with_its_reason_and_trigger() {
    let h = harness(29);
    h.admin_json("POST", "/api/v1/targets", gitlab_target());
    let source = json!({"kind": "github", "secrets": ["gh-secret"]});
    let (_, hook) = h.admin_json(
        "POST",
        "/api/v1/triggers",
        json!({"target": "web-ci", "source": source, "branches": ["release/*"]}),
    );
    let hook_url = hook["hook_url"].as_str().unwrap().to_string();
    let push = common::fixture("github/push.json");
    let signature = format!("sha256={}", hex::encode(hookrelay::signature::hmac_sha256(b"gh-secret", &[&push])));
    let send = |signature: &str| {
        h.send(
            Request::new("POST", &hook_url)
                .with_header("x-github-event", "push")
                .with_header("x-hub-signature-256", signature)
                .with_body("application/json", push.clone()),
        )
    };
    assert_eq!(send("sha256=00").status, 401);
    assert_eq!(send(&signature).status, 202, "verified, but filtered out by its branches");
    let lines = h.app.log.lines.borrow();
    let refused = lines.iter().find(|line| line["type"] == "request" && line["status"] == 401).expect("the 401's line");
    assert!(refused["reason"].as_str().unwrap().contains("X-Hub-Signature-256"), "{refused}");
    let filtered = lines.iter().find(|line| line["type"] == "refusal").expect("a refusal line");
    assert_eq!(filtered["trigger"], hook["id"]);
    assert!(filtered["reason"].as_str().unwrap().starts_with("filtered: "), "{filtered}");
    assert!(!lines.iter().any(|line| line.to_string().contains("gh-secret")));
}

#[test]
fn a_trigger_not_visible_yet_is_waited_for_and_a_delivery_its_ledger_lacks_is_said_expired() {
    // At the edge, the consumer can run where KV does not show a new trigger yet (up to a minute,
    // and a cached miss): that is not deletion, and a delivery accepted with 202 must not vanish.
    let h = harness(30);
    let unseen = r#"{"target":"0123","delivery":"0123456789abcdef0123456789abcdef-8299999999999aabbccdd"}"#;
    for handover in 1..6 {
        let settled = block_on(relay::consume(&h.app, unseen, handover));
        assert_eq!(settled, relay::Settlement::Retry { delay_seconds: 60 }, "handover {handover}");
    }
    assert_eq!(block_on(relay::consume(&h.app, unseen, 6)), relay::Settlement::Ack, "deleted, then");
    // The ledger is strongly consistent: a delivery it does not have has expired.
    let (target, _) = h.setup_target_and_trigger(gitlab_target());
    let trigger =
        h.admin_json("GET", "/api/v1/triggers", Value::Null).1["triggers"][0]["id"].as_str().unwrap().to_string();
    let gone = json!({"target": target["id"], "delivery": format!("{trigger}-8299999999999aabbccdd")}).to_string();
    assert_eq!(block_on(relay::consume(&h.app, &gone, 1)), relay::Settlement::Ack);
    let lines = h.app.log.lines.borrow();
    let expired = lines.iter().find(|line| line["type"] == "expired").expect("an expired line");
    assert_eq!(expired["delivery_id"], format!("{trigger}-8299999999999aabbccdd"));
    assert!(h.app.outbound.sent.borrow().is_empty());
}

// ---- Idempotency-Key on token calls: a repeat within 24 hours fires nothing

fn fire_with_key(h: &Harness, token: &str, key: &str) -> (u16, Value) {
    let request = Request::new("POST", "/api/v4/projects/web-ci/trigger/pipeline")
        .with_header("idempotency-key", key)
        .with_body("application/x-www-form-urlencoded", format!("token={token}&ref=main"));
    let answer = h.send(request);
    (answer.status, serde_json::from_slice(&answer.body).unwrap_or(Value::Null))
}

#[test]
fn a_repeated_idempotency_key_fires_nothing_and_answers_the_first_calls_delivery() {
    let h = harness(31);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    let (status, _) = fire_with_key(&h, &token, "deploy-2026-11-30");
    assert_eq!(status, 200, "the target's answer, relayed");
    let first = h.admin_json("GET", &h.first_trigger_deliveries(), Value::Null).1["deliveries"][0]["id"].clone();
    h.clock.advance(60_000);
    let (status, body) = fire_with_key(&h, &token, "deploy-2026-11-30");
    assert_eq!((status, body), (200, json!({})), "the repeat gets the first call's answer");
    let repeat = h.send(
        Request::new("POST", "/api/v4/projects/web-ci/trigger/pipeline")
            .with_header("idempotency-key", "deploy-2026-11-30")
            .with_body("application/x-www-form-urlencoded", format!("token={token}&ref=main")),
    );
    assert_eq!(repeat.header("idempotent-replayed"), Some("true"));
    assert_eq!(repeat.header("x-hookrelay-delivery"), first.as_str());
    assert_eq!(h.app.outbound.sent.borrow().len(), 1, "fired once");
    // The same key with another request: 422, and nothing fires.
    let other = h.send(
        Request::new("POST", "/api/v4/projects/web-ci/trigger/pipeline")
            .with_header("idempotency-key", "deploy-2026-11-30")
            .with_body("application/x-www-form-urlencoded", format!("token={token}&ref=main&variables[A]=1")),
    );
    assert_eq!(other.status, 422, "{}", String::from_utf8_lossy(&other.body));
    assert_eq!(h.app.outbound.sent.borrow().len(), 1, "still fired once");
    assert_eq!(fire_with_key(&h, &token, "another-key").0, 200);
    assert_eq!(h.app.outbound.sent.borrow().len(), 2, "another key fires");
    h.clock.advance(24 * 60 * 60 * 1000);
    assert_eq!(fire_with_key(&h, &token, "deploy-2026-11-30").0, 200, "after 24 hours the key is new again");
    assert_eq!(h.app.outbound.sent.borrow().len(), 3);
}

/// An answer too large to keep (over 16 KiB): a repeat right after is told 409 (its first call
/// might still be keeping it), and a repeat a minute later gets the first call's delivery.
#[test]
fn a_repeat_of_a_call_whose_answer_was_not_kept_is_409_at_first_then_its_delivery() {
    let h = harness(33);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    h.app.outbound.answer(201, &format!(r#"{{"id":9,"log":"{}"}}"#, "x".repeat(20 * 1024)));
    assert_eq!(fire_with_key(&h, &token, "big-answer").0, 201);
    assert_eq!(fire_with_key(&h, &token, "big-answer").0, 409, "in the first minute");
    h.clock.advance(61_000);
    let (status, body) = fire_with_key(&h, &token, "big-answer");
    assert_eq!((status, body["duplicate"].clone(), body["state"].clone()), (200, json!(true), json!("delivered")));
    assert_eq!(h.app.outbound.sent.borrow().len(), 1, "fired once");
}

#[test]
fn an_idempotency_key_that_is_not_plain_is_refused_and_nothing_fires() {
    let h = harness(32);
    let (_, token) = h.setup_target_and_trigger(gitlab_target());
    for key in ["", &"k".repeat(256), "two words"] {
        let (status, body) = fire_with_key(&h, &token, key);
        assert_eq!(status, 400, "{key:?}: {body}");
        assert!(body["message"].as_str().unwrap().contains("Idempotency-Key"), "{body}");
    }
    assert!(h.app.outbound.sent.borrow().is_empty());
}

// ---- the sweep: a delivery taken in is never left pending without a queue message

#[test]
fn a_delivery_whose_message_was_lost_is_found_by_the_sweep_and_delivered() {
    let h = harness(31);
    let (target, _) = h.setup_target_and_trigger(gitlab_target());
    let target_id = target["id"].as_str().unwrap().to_string();
    let catalog = h.app.catalog();
    let target = block_on(catalog.target_by_id(&target_id)).unwrap().unwrap();
    let trigger_id =
        h.admin_json("GET", "/api/v1/triggers", Value::Null).1["triggers"][0]["id"].as_str().unwrap().to_string();
    let trigger = block_on(catalog.find_trigger(&trigger_id)).unwrap();
    let call = hookrelay::model::Call { ref_name: "main".into(), ..Default::default() };
    let made = relay::new_delivery(&h.app, &trigger.id, &target.id, call);
    let id = made.id.clone();
    // Taken in, and then the invocation died before queuing it.
    let arrival = relay::arrival(&target, &trigger, made, relay::event(vec!["hook|x|1|id:lost".into()]));
    block_on(catalog.admit(&target.id, vec![arrival], false)).unwrap();
    assert!(common::queue().waiting(Lane::Deliveries).is_empty());
    let sweep = |h: &Harness| {
        let mut targets = h.app.ledger.targets.borrow_mut();
        hookrelay::ledger::sweep(targets.get_mut(&target_id).unwrap(), hookrelay::ports::Clock::now_ms(&*h.clock))
            .unwrap()
    };
    assert_eq!(sweep(&h), (vec![], true), "not overdue yet: its message may still come");
    h.clock.advance(hookrelay::ledger::SWEEP_GRACE_MS + 1_000);
    let (lost, pending) = sweep(&h);
    assert_eq!((lost.clone(), pending), (vec![(target_id.clone(), id.clone())], true));
    block_on(relay::requeue(&h.app, &lost)).unwrap();
    h.app.outbound.answer(201, "{}");
    assert_eq!(common::drain(&h.app), 1);
    assert_eq!(delivery(&h, &id)["state"], "delivered");
    assert_eq!(sweep(&h), (vec![], false), "nothing pending: the alarm is not set again");
    assert!(h
        .app
        .log
        .lines
        .borrow()
        .iter()
        .any(|line| line["type"] == "requeued" && line["delivery_id"] == id.as_str()));
}

// ---- what GitLab's own clients ask first

#[test]
fn gitlab_clients_find_the_admin_as_their_user_and_the_api_version() {
    let h = harness(40);
    let as_bob = |path: &str| {
        let answer = h
            .send(Request::new("GET", path).with_header("private-token", "tok-b").with_header("host", "relay.example"));
        (answer.status, serde_json::from_slice::<Value>(&answer.body).unwrap_or(Value::Null))
    };
    let (status, user) = h.admin_json("GET", "/api/v4/user", Value::Null);
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        (user["username"].clone(), user["name"].clone(), user["state"].clone()),
        (json!("alice"), json!("alice"), json!("active"))
    );
    assert!(user["id"].is_u64() && user["web_url"].as_str().unwrap().ends_with("/alice"), "{user}");
    assert_eq!(h.admin_json("GET", "/api/v4/user", Value::Null).1["id"], user["id"], "stable");
    let (status, bob) = as_bob("/api/v4/user");
    assert_eq!((status, bob["username"].clone()), (200, json!("bob")));
    assert_ne!(bob["id"], user["id"]);
    assert_eq!(bob["web_url"], "https://relay.example/bob");
    assert_eq!(h.send(Request::new("GET", "/api/v4/user")).status, 401, "GitLab's 401 without a token");
    let (status, version) = as_bob("/api/v4/version");
    assert_eq!((status, version["version"].clone()), (200, json!("17.0.0")));
    assert!(version["revision"].as_str().unwrap().starts_with("hookrelay-"));
}

#[test]
fn gitlab_trigger_lists_are_paged_with_gitlabs_headers() {
    let h = harness(42);
    let (target, _) = h.setup_target_and_trigger(gitlab_target());
    for i in 0..24 {
        assert_eq!(
            h.admin_json("POST", "/api/v1/triggers", json!({"target": target["id"], "description": format!("t{i}")})).0,
            201
        );
    }
    let project = format!("/api/v4/projects/{}/triggers", target["id"].as_str().unwrap());
    let page = |query: &str| {
        let answer = h.send(
            Request::new("GET", &format!("{project}{query}"))
                .with_header("private-token", "tok-a")
                .with_header("host", "relay.example"),
        );
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        (answer.status, body, answer.headers)
    };
    let header = |headers: &[(String, String)], name: &str| {
        headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    h.app.ledger.requests.borrow_mut().clear();
    let (status, first, headers) = page("");
    assert_eq!((status, first.as_array().unwrap().len()), (200, 20), "20 by default");
    let requests: u32 = h.app.ledger.requests.borrow().values().sum();
    assert_eq!(requests, 1, "last_used is read for the page's triggers, in one request to their target's ledger");
    assert_eq!(
        ["x-page", "x-per-page", "x-total", "x-total-pages", "x-next-page", "x-prev-page"].map(|n| header(&headers, n)),
        ["1", "20", "25", "2", "2", ""].map(String::from)
    );
    let link = header(&headers, "link");
    assert!(link.contains(&format!("<https://relay.example{project}?page=2&per_page=20>; rel=\"next\"")), "{link}");
    assert!(link.contains("rel=\"last\"") && !link.contains("rel=\"prev\""), "{link}");
    let (_, second, headers) = page("?page=2");
    assert_eq!(second.as_array().unwrap().len(), 5);
    assert_eq!((header(&headers, "x-next-page"), header(&headers, "x-prev-page")), (String::new(), "1".into()));
    let ids: std::collections::BTreeSet<String> = first
        .as_array()
        .unwrap()
        .iter()
        .chain(second.as_array().unwrap())
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 25, "every trigger once");
    let (_, all, headers) = page("?per_page=500");
    assert_eq!((all.as_array().unwrap().len(), header(&headers, "x-per-page")), (25, "100".into()), "at most 100");
    assert_eq!(page("?page=0").0, 400);
    assert_eq!(page("?per_page=x").0, 400);
}

/// python-gitlab's `trigger_pipeline(ref, token, variables=..., inputs=...)`, as it sent it
/// (`tests/fixtures/python-gitlab/requests.json`, captured from python-gitlab 8.6.0).
#[test]
fn python_gitlabs_pipeline_inputs_reach_a_gitlab_target_with_their_types() {
    let h = harness(43);
    let (target, token) = h.setup_target_and_trigger(gitlab_target());
    let captured: Value = serde_json::from_slice(&common::fixture("python-gitlab/requests.json")).unwrap();
    let sent = captured
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["path"].as_str().is_some_and(|p| p.ends_with("/trigger/pipeline"))
                && r["body"].as_str().is_some_and(|b| b.contains("inputs"))
        })
        .unwrap();
    let mut body: Value = serde_json::from_str(sent["body"].as_str().unwrap()).unwrap();
    body["token"] = token.as_str().into();
    let path = format!("/api/v4/projects/{}/trigger/pipeline", target["id"].as_str().unwrap());
    h.app.outbound.answer(201, r#"{"id":1}"#);
    let answer = h.send(Request::new("POST", &path).with_body("application/json", body.to_string()));
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    let forwarded = h.app.outbound.last().unwrap();
    assert_eq!(forwarded.header("content-type"), Some("application/json"));
    let forwarded: Value = serde_json::from_slice(&forwarded.body).unwrap();
    assert_eq!(forwarded["inputs"], json!({"replicas": 3, "dry_run": false, "regions": ["a", "b"]}), "types kept");
    assert_eq!(forwarded["variables"]["DEPLOY_ENV"], "prod");
    assert_eq!((forwarded["ref"].clone(), forwarded["token"].clone()), (json!("main"), json!("glptt-real")));
    // A form's inputs are strings; a bad one is refused before anything is sent.
    let form = format!("token={token}&ref=main&inputs[replicas]=3");
    assert_eq!(h.send(Request::new("POST", &path).with_body("application/x-www-form-urlencoded", form)).status, 200);
    let forwarded: Value = serde_json::from_slice(&h.app.outbound.last().unwrap().body).unwrap();
    assert_eq!(forwarded["inputs"]["replicas"], "3");
    let before = h.app.outbound.sent.borrow().len();
    for bad in
        [json!({"inputs": [1]}), json!({"inputs": {"bad name": 1}}), json!({"inputs": {"x": "y".repeat(20_000)}})]
    {
        let mut body = bad;
        body["token"] = token.as_str().into();
        body["ref"] = "main".into();
        let answer = h.send(Request::new("POST", &path).with_body("application/json", body.to_string()));
        assert_eq!(answer.status, 400, "{}", String::from_utf8_lossy(&answer.body));
    }
    assert_eq!(h.app.outbound.sent.borrow().len(), before, "nothing sent");
}

// ---- tokens as GitLab and ACK show them: in full to their owner, 4 characters to anyone else

#[test]
fn a_token_is_shown_in_full_to_its_owner_and_as_four_characters_to_others() {
    let h = harness(44);
    let (target, token) = h.setup_target_and_trigger(gitlab_target());
    let project = format!("/api/v4/projects/{}/triggers", target["id"].as_str().unwrap());
    let as_bob = |path: &str| {
        let answer = h.send(Request::new("GET", path).with_header("private-token", "tok-b"));
        serde_json::from_slice::<Value>(&answer.body).unwrap()
    };
    let (_, mine) = h.admin_json("GET", &project, Value::Null);
    assert_eq!(mine[0]["token"], token.as_str(), "GitLab shows its owner the token");
    let (_, native) = h.admin_json("GET", "/api/v1/triggers", Value::Null);
    assert_eq!(native["triggers"][0]["token"], token.as_str());
    assert_eq!(as_bob(&project)[0]["token"], &token[..4], "anyone else sees 4 characters");
    assert_eq!(as_bob("/api/v1/triggers")["triggers"][0]["token"], &token[..4]);
    // A trigger stored before the copy was kept shows 4 characters, to its owner too, and works.
    let id = mine[0]["id"].as_str().unwrap();
    let mut record = block_on(h.app.catalog().find_trigger(id)).unwrap();
    record.token = None;
    let store: &dyn hookrelay::store::Store = &*h.app.store;
    block_on(store.put_json(&format!("trigger:{id}"), &record)).unwrap();
    assert_eq!(h.admin_json("GET", &project, Value::Null).1[0]["token"], &token[..4]);
    assert_eq!(h.fire(target["id"].as_str().unwrap(), &token, "main").status, 200, "its token still works");
}
