//! The webhook path through the router, with in-memory ports: replay protection, filters,
//! firing variables, the GitLab loop guard, answers, KV cost, and the ServiceStage API.

mod common;
use common::fixture;

use hookrelay::auth::AdminDirectory;
use hookrelay::http::{Request, Response};
use hookrelay::ports::{block_on, FixedClock, Lane, SequenceRandom};
use hookrelay::signature::hmac_sha256;
use hookrelay::testing::TestApp;
use serde_json::{json, Value};

const SECRET: &str = "hook-secret";

fn app() -> TestApp {
    app_at(1_700_000_000_000)
}

fn app_at(now_ms: u64) -> TestApp {
    TestApp::new(
        Box::new(FixedClock::new(now_ms)),
        Box::new(SequenceRandom::new(42)),
        Box::new(common::queue()),
        AdminDirectory::parse("alice:tok-a"),
    )
}

/// Sends a request, then lets the queue consumer make the attempts it queued.
fn send(app: &TestApp, request: Request) -> (u16, Value) {
    let Response { status, body, .. } = block_on(app.handle(request));
    common::drain(app);
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn admin(app: &TestApp, method: &str, path: &str, body: Value) -> (u16, Value) {
    let request =
        Request::new(method, path).with_header("X-Auth-Token", "tok-a").with_body("application/json", body.to_string());
    send(app, request)
}

/// A gitlab target and a GitHub hook trigger with `extra` fields; returns the hook URL.
fn github_hook(app: &TestApp, kind: &str, extra: Value) -> String {
    let target = match kind {
        "gitlab" => {
            json!({"name": "ci", "kind": "gitlab", "url": "https://gitlab.example.com", "project": "9", "token": "glptt-real"})
        }
        _ => json!({"name": "ci", "kind": "http", "url": "https://deploy.example.com/hook"}),
    };
    assert_eq!(admin(app, "POST", "/api/v1/targets", target).0, 201);
    let mut trigger = json!({"target": "ci", "source": {"kind": "github", "secrets": [SECRET]}});
    trigger.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, created) = admin(app, "POST", "/api/v1/triggers", trigger);
    assert_eq!(status, 201, "{created}");
    assert!(created.get("token").is_none(), "hook triggers have no token");
    assert!(!created.to_string().contains(SECRET), "secrets are write-only");
    assert_eq!(created["source"]["secrets_set"], 1);
    created["hook_url"].as_str().unwrap().to_string()
}

fn github_delivery(url: &str, file: &str, event: &str, delivery: &str) -> Request {
    let body = fixture(file);
    let signature = format!("sha256={}", hex::encode(hmac_sha256(SECRET.as_bytes(), &[&body])));
    Request::new("POST", url)
        .with_body("application/json", body)
        .with_header("X-Hub-Signature-256", &signature)
        .with_header("X-GitHub-Event", event)
        .with_header("X-GitHub-Delivery", delivery)
}

#[test]
fn hook_ids_are_unguessable_and_urls_point_at_them() {
    let app = app();
    let url = github_hook(&app, "gitlab", json!({}));
    let id = url.strip_prefix("/hooks/").unwrap();
    assert_eq!(id.len(), 32, "128 bits, hex");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn a_push_fires_the_target_with_the_ref_variables_and_payload() {
    let app = app();
    let url = github_hook(&app, "gitlab", json!({"variables": {"DEPLOY_ENV": "prod"}}));
    let (status, body) = send(&app, github_delivery(&url, "github/push.json", "push", "d-1"));
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["matched"], true);
    assert_eq!(body["deliveries"][0]["ref"], "master");
    let sent = app.outbound.last().unwrap();
    let (path, query) = sent.url.split_once('?').unwrap();
    assert_eq!(path, "https://gitlab.example.com/api/v4/projects/9/ref/master/trigger/pipeline", "webhook form");
    let vars: std::collections::BTreeMap<String, String> =
        hookrelay::http::parse_urlencoded(query).into_iter().collect();
    assert_eq!(vars["token"], "glptt-real");
    assert_eq!(vars["variables[HOOKRELAY_EVENT]"], "push");
    assert_eq!(vars["variables[HOOKRELAY_REPOSITORY]"], "Codertocat/Hello-World");
    assert_eq!(vars["variables[HOOKRELAY_REF]"], "refs/heads/master");
    assert_eq!(vars["variables[HOOKRELAY_COMMIT]"], "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    assert_eq!(vars["variables[HOOKRELAY_DELIVERY]"], "d-1");
    assert_eq!(vars["variables[DEPLOY_ENV]"], "prod");
    assert_eq!(sent.body, fixture("github/push.json"), "the payload reaches GitLab as TRIGGER_PAYLOAD");
}

#[test]
fn a_pinned_ref_wins_over_the_events_ref() {
    let app = app();
    let url = github_hook(&app, "gitlab", json!({"ref": "deploy"}));
    send(&app, github_delivery(&url, "github/push.json", "push", "d-1"));
    assert!(app.outbound.last().unwrap().url.contains("/ref/deploy/trigger/pipeline"));
}

#[test]
fn a_duplicate_delivery_is_forwarded_once() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    let (status, first) = send(&app, github_delivery(&url, "github/push.json", "push", "same-id"));
    assert_eq!(status, 202);
    let (status, body) = send(&app, github_delivery(&url, "github/push.json", "push", "same-id"));
    let first_id = first["deliveries"][0]["delivery_id"].clone();
    assert_eq!((status, body), (200, json!({"duplicate": true, "delivery_id": first_id, "state": "delivered"})));
    let other_push = github_delivery(&url, "github/push-tag-created-ghes.json", "push", "other-id");
    assert_eq!(send(&app, other_push).0, 202, "another real push passes");
    assert_eq!(app.outbound.sent.borrow().len(), 2);
}

#[test]
fn a_replayed_github_push_is_a_duplicate_with_a_new_delivery_id_or_none() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    assert_eq!(send(&app, github_delivery(&url, "github/push.json", "push", "d-1")).0, 202);
    let renamed = github_delivery(&url, "github/push.json", "push", "d-2");
    assert_eq!(send(&app, renamed).1["duplicate"], true, "a new X-GitHub-Delivery");
    let mut anonymous = github_delivery(&url, "github/push.json", "push", "-");
    anonymous.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("x-github-delivery"));
    assert_eq!(send(&app, anonymous).1["duplicate"], true, "no X-GitHub-Delivery");
    let generic = github_delivery(&url, "github/push.json", "push", "d-3").with_header("Idempotency-Key", "k-1");
    assert_eq!(send(&app, generic).1["duplicate"], true, "a generic id header changes nothing");
    assert_eq!(app.outbound.sent.borrow().len(), 1, "forwarded once");
}

#[test]
fn a_repeated_github_delivery_id_is_a_duplicate_even_over_another_body() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    assert_eq!(send(&app, github_delivery(&url, "github/push.json", "push", "d-1")).0, 202);
    let reused = github_delivery(&url, "github/push-tag-created-ghes.json", "push", "d-1");
    assert_eq!(send(&app, reused).1["duplicate"], true);
    assert_eq!(app.outbound.sent.borrow().len(), 1);
}

#[test]
fn a_webhook_without_a_provider_id_is_named_by_its_content_hash() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    let mut anonymous = github_delivery(&url, "github/push.json", "push", "-");
    anonymous.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("x-github-delivery"));
    let (status, body) = send(&app, anonymous);
    assert_eq!(status, 202, "{body}");
    let id = body["delivery_id"].as_str().unwrap().to_string();
    assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let sent: Value = serde_json::from_slice(&app.outbound.last().unwrap().body).unwrap();
    assert_eq!(sent["variables"]["HOOKRELAY_DELIVERY"], id.as_str());
}

#[test]
fn a_duplicate_answer_never_echoes_a_long_delivery_header() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    let long_id = "x".repeat(10_000);
    assert_eq!(send(&app, github_delivery(&url, "github/push.json", "push", &long_id)).0, 202);
    let answer = block_on(app.handle(github_delivery(&url, "github/push.json", "push", &long_id)));
    assert_eq!(answer.status, 200);
    let text = String::from_utf8_lossy(&answer.body);
    assert!(answer.body.len() < 200 && !text.contains("xxxx"), "{text}");
    let markers: Vec<String> =
        app.ledger.targets.borrow().values().flat_map(|rows| rows.seen.keys().cloned().collect::<Vec<_>>()).collect();
    assert_eq!(markers.len(), 2, "the provider's id and the content, hashed: {markers:?}");
    assert!(markers.iter().all(|key| key.len() < 200 && !key.contains("xxxx")), "{markers:?}");
}

/// A trigger of `source` (Standard Webhooks, Gitee, ...) on an http target; returns the hook URL.
fn hook_of(app: &TestApp, source: Value, extra: Value) -> String {
    admin(app, "POST", "/api/v1/targets", json!({"name": "ci", "kind": "http", "url": "https://deploy.example.com"}));
    let mut trigger = json!({"target": "ci", "source": source});
    trigger.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, created) = admin(app, "POST", "/api/v1/triggers", trigger);
    assert_eq!(status, 201, "{created}");
    created["hook_url"].as_str().unwrap().to_string()
}

/// The published Standard Webhooks vector, as its sender posts it (clock at its timestamp).
fn standard_vector() -> (Value, Request) {
    let vector: Value = serde_json::from_slice(&fixture("standard-webhooks-vector.json")).unwrap();
    let request = Request::new("POST", "/")
        .with_body("application/json", vector["payload"].as_str().unwrap())
        .with_header("webhook-id", vector["msg_id"].as_str().unwrap())
        .with_header("webhook-timestamp", &vector["timestamp"].to_string())
        .with_header("webhook-signature", vector["expected_signature"].as_str().unwrap());
    (vector, request)
}

#[test]
fn standard_webhooks_replays_are_caught_by_the_signed_id_alone() {
    let (vector, signed) = standard_vector();
    let app = app_at(vector["timestamp"].as_u64().unwrap() * 1000);
    let source = json!({"kind": "standard", "secrets": [vector["secret"]]});
    let url = hook_of(&app, source, json!({"events": ["other"]}));
    let post = |request: &Request| Request { path: url.clone(), ..request.clone() };
    let (status, body) = send(&app, post(&signed));
    assert_eq!((status, body["delivery_id"].clone()), (202, vector["msg_id"].clone()), "{body}");
    let with_key = post(&signed).with_header("Idempotency-Key", "fresh-key").with_header("X-Request-Id", "r-2");
    assert_eq!(send(&app, with_key).1["duplicate"], true, "an added Idempotency-Key changes nothing");
    let mut renamed = post(&signed);
    renamed.headers.retain(|(name, _)| name != "webhook-id");
    let (status, body) = send(&app, renamed.with_header("webhook-id", "msg_other"));
    assert_eq!(status, 401, "the webhook-id is signed: {body}");
    assert!(body["message"].as_str().unwrap().contains("webhook-signature"));
    assert_eq!(app.outbound.sent.borrow().len(), 1);
}

/// Gitee's headers for a sign made at `now_ms` (the sign covers the timestamp, not the body).
fn gitee_delivery(url: &str, file: &str, now_ms: u64) -> Request {
    let timestamp = now_ms.to_string();
    Request::new("POST", url)
        .with_body("application/json", fixture(file))
        .with_header("X-Gitee-Token", &hookrelay::sources::gitee::sign(&timestamp, SECRET))
        .with_header("X-Gitee-Timestamp", &timestamp)
        .with_header("X-Gitee-Event", "Push Hook")
}

#[test]
fn a_gitee_sign_is_single_use_and_cannot_carry_another_body() {
    let app = app();
    let url = hook_of(&app, json!({"kind": "gitee", "secrets": [SECRET]}), json!({}));
    let now = 1_700_000_000_000;
    assert_eq!(send(&app, gitee_delivery(&url, "github/push.json", now)).0, 202);
    let replayed = gitee_delivery(&url, "github/push-tag-created-ghes.json", now);
    let (status, body) = send(&app, replayed);
    assert_eq!((status, body["duplicate"].clone()), (200, json!(true)), "{body}");
    assert_eq!(app.outbound.sent.borrow().len(), 1, "the other body is not forwarded");
    let fresh = gitee_delivery(&url, "github/push-tag-created-ghes.json", now + 1);
    assert_eq!(send(&app, fresh).0, 202, "a new sign with another body passes");
    let resent = gitee_delivery(&url, "github/push.json", now + 2);
    assert_eq!(send(&app, resent).1["duplicate"], true, "the same body under a new sign");
    assert_eq!(app.outbound.sent.borrow().len(), 2);
}

/// Gitee's password mode: the password is the `X-Gitee-Token` header and a top-level `password`
/// field of the body (the real GitHub push, given that field as Gitee sends it). The signature
/// mode checks the raw body; what is stored, shown to admins and forwarded holds no password,
/// nor does any other spelling of a source's secret (a JSON `\u` escape, a provider echoing it).
#[test]
fn a_source_secret_in_the_body_is_neither_stored_nor_forwarded() {
    let app = app();
    let url = hook_of(&app, json!({"kind": "gitee", "secrets": [SECRET]}), json!({}));
    let mut body: Value = serde_json::from_slice(&fixture("github/push.json")).unwrap();
    body["password"] = json!(SECRET);
    body["head_commit"]["message"] = json!(format!("echoed {SECRET} here"));
    // A provider echoing its hook URL with the secret percent-encoded, in either case.
    body["hook_url"] = json!("https://h.example/x?secret=hook%2Dsecret");
    body["hook_url_lower"] = json!("https://h.example/x?secret=hook%2dsecret&x=1");
    let escaped = body.to_string().replace("\"echoed hook-", "\"echoed \\u0068ook-");
    assert!(escaped.contains("\\u0068ook-secret"), "the secret spelled with an escape");
    let request = Request::new("POST", &url)
        .with_body("application/json", escaped)
        .with_header("X-Gitee-Token", SECRET)
        .with_header("X-Gitee-Event", "Push Hook");
    let (status, answer) = send(&app, request);
    assert_eq!(status, 202, "{answer}");
    common::drain(&app);
    let sent = app.outbound.sent.borrow();
    assert_eq!(sent.len(), 1);
    let forwarded: Value = serde_json::from_slice(&sent[0].body).unwrap();
    let forwarded = forwarded.get("payload").cloned().unwrap_or(forwarded);
    assert_eq!(forwarded.get("password"), None, "the password field is dropped: {forwarded}");
    assert_eq!(forwarded["head_commit"]["message"], "echoed [redacted] here");
    assert_eq!(forwarded["hook_url"], "https://h.example/x?secret=[redacted]");
    assert_eq!(forwarded["hook_url_lower"], "[redacted]", "a spelling redact cannot cut out goes whole");
    assert_eq!(forwarded["after"], body["after"], "the rest passes on");
    drop(sent);
    let id = answer["deliveries"][0]["delivery_id"].as_str().unwrap();
    let (_, record) = admin(&app, "GET", &format!("/api/v1/deliveries/{id}"), Value::Null);
    assert!(record.to_string().contains("echoed [redacted] here"), "{record}");
    assert!(!record.to_string().contains(SECRET) && !record.to_string().contains("password"), "{record}");

    // A payload that names no secret passes on byte for byte, unparsed.
    let plain = fixture("github/push.json");
    let request = Request::new("POST", &url)
        .with_body("application/json", plain.clone())
        .with_header("X-Gitee-Token", SECRET)
        .with_header("X-Gitee-Event", "Push Hook");
    assert_eq!(send(&app, request).0, 202);
    common::drain(&app);
    let sent = app.outbound.sent.borrow();
    let forwarded = String::from_utf8_lossy(&sent[1].body).into_owned();
    assert!(forwarded.contains(std::str::from_utf8(&plain).unwrap().trim()), "unchanged");
}

/// A webhook's ref is checked as a token call's is, whatever signed it: a NUL in it, or a push
/// with `"ref": null`, is refused (400) and nothing is forwarded.
#[test]
fn a_signed_push_with_a_ref_no_branch_can_have_is_refused() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    let mut push: Value = serde_json::from_slice(&fixture("github/push.json")).unwrap();
    for bad in [json!("refs/heads/main\u{0}x"), Value::Null, json!("refs/heads/a..b"), json!("refs/heads/")] {
        push["ref"] = bad.clone();
        let body = push.to_string();
        let signature = format!("sha256={}", hex::encode(hmac_sha256(SECRET.as_bytes(), &[body.as_bytes()])));
        let request = Request::new("POST", &url)
            .with_body("application/json", body)
            .with_header("X-Hub-Signature-256", &signature)
            .with_header("X-GitHub-Event", "push")
            .with_header("X-GitHub-Delivery", &format!("d-{bad}"));
        let (status, answer) = send(&app, request);
        assert_eq!(status, 400, "{bad}: {answer}");
        assert!(answer["message"].as_str().unwrap().starts_with("ref"), "{answer}");
    }
    common::drain(&app);
    assert!(app.outbound.sent.borrow().is_empty(), "nothing forwarded");
}

#[test]
fn a_webhook_is_answered_once_queued_and_a_failed_target_is_retried_by_the_queue() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    let answer = block_on(app.handle(github_delivery(&url, "github/push.json", "push", "d-9")));
    let (status, body): (u16, Value) = (answer.status, serde_json::from_slice(&answer.body).unwrap());
    assert_eq!((status, body["deliveries"][0]["state"].clone()), (202, json!("pending")), "{body}");
    assert!(app.outbound.sent.borrow().is_empty(), "nothing is sent before the consumer runs");
    let queued = common::queue().waiting(Lane::Deliveries);
    assert_eq!((queued.len(), queued[0].delay_seconds), (1, 0));

    app.outbound.answer(503, "{}");
    common::drain(&app);
    let sent = app.outbound.sent.borrow();
    assert_eq!(sent.len(), 2, "the 503, then the retry");
    let key = |i: usize| sent[i].headers.iter().find(|(n, _)| n == "idempotency-key").unwrap().1.clone();
    assert_eq!(key(0), key(1), "the same delivery");
    drop(sent);
    let id = body["deliveries"][0]["delivery_id"].as_str().unwrap();
    let (status, record) = admin(&app, "GET", &format!("/api/v1/deliveries/{id}"), Value::Null);
    assert_eq!((status, record["state"].clone()), (200, json!("delivered")), "{record}");
    let statuses: Vec<Value> = record["attempts"].as_array().unwrap().iter().map(|a| a["status"].clone()).collect();
    assert_eq!(statuses, [json!(503), json!(200)]);
    // The provider redelivering the same webhook is a duplicate now: the queue owns the retries.
    assert_eq!(send(&app, github_delivery(&url, "github/push.json", "push", "d-9")).1["duplicate"], true);
}

#[test]
fn filtered_events_are_answered_202_and_not_forwarded() {
    let app = app();
    let url = github_hook(&app, "http", json!({"repository": "someone/else"}));
    let (status, body) = send(&app, github_delivery(&url, "github/push.json", "push", "d-1"));
    assert_eq!((status, body["matched"].clone()), (202, json!(false)));
    assert!(body["reason"].as_str().unwrap().contains("repository"));

    let app2 = self::app();
    let url = github_hook(&app2, "http", json!({"branches": ["main"], "tags": ["v*"]}));
    assert_eq!(
        send(&app2, github_delivery(&url, "github/push.json", "push", "d-1")).1["matched"],
        false,
        "master is not main"
    );
    assert_eq!(
        send(&app2, github_delivery(&url, "github/push-tag-deleted.json", "push", "d-2")).1["matched"],
        false,
        "deleted"
    );
    assert_eq!(
        send(&app2, github_delivery(&url, "github/create-tag.json", "create", "d-3")).1["matched"],
        false,
        "not a push"
    );
    assert!(app.outbound.sent.borrow().is_empty() && app2.outbound.sent.borrow().is_empty());
}

#[test]
fn a_tag_push_fires_with_the_tag_as_ref() {
    let app = app();
    let url = github_hook(&app, "http", json!({"tags": ["simple-*"], "condition": "^simple"}));
    let (status, body) = send(&app, github_delivery(&url, "github/push-tag-created-ghes.json", "push", "t-1"));
    assert_eq!(status, 202, "{body}");
    let sent: Value = serde_json::from_slice(&app.outbound.last().unwrap().body).unwrap();
    assert_eq!(sent["ref"], "simple-tag");
    assert_eq!(sent["variables"]["HOOKRELAY_EVENT"], "tag_push");
}

#[test]
fn ping_is_200_and_bad_signatures_401_and_unknown_hooks_404() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    assert_eq!(send(&app, github_delivery(&url, "github/ping.json", "ping", "p-1")).0, 200);
    let mut forged = github_delivery(&url, "github/push.json", "push", "d-1");
    forged.body.push(b' ');
    let (status, body) = send(&app, forged);
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().contains("X-Hub-Signature-256"));
    assert_eq!(
        send(&app, github_delivery("/hooks/00000000000000000000000000000000", "github/push.json", "push", "d")).0,
        404
    );
    let malformed = Request::new("POST", &url).with_body("application/json", "{\"ref\":").with_header(
        "X-Hub-Signature-256",
        &format!("sha256={}", hex::encode(hmac_sha256(SECRET.as_bytes(), &[b"{\"ref\":"]))),
    );
    assert_eq!(send(&app, malformed).0, 400);
    let huge = Request::new("POST", &url).with_body("application/json", vec![b' '; 1024 * 1024 + 1]);
    assert_eq!(send(&app, huge).0, 413);
    assert!(app.outbound.sent.borrow().is_empty());
}

#[test]
fn a_token_trigger_has_no_hook_url() {
    let app = app();
    admin(&app, "POST", "/api/v1/targets", json!({"name": "ci", "kind": "http", "url": "https://x.example"}));
    let (_, trigger) = admin(&app, "POST", "/api/v1/triggers", json!({"target": "ci"}));
    let id = trigger["id"].as_str().unwrap();
    assert_eq!(send(&app, github_delivery(&format!("/hooks/{id}"), "github/push.json", "push", "d")).0, 404);
}

#[test]
fn gitlab_pipeline_events_never_reach_a_gitlab_target() {
    let app = app();
    admin(
        &app,
        "POST",
        "/api/v1/targets",
        json!({"name": "ci", "kind": "gitlab", "url": "https://g.example", "project": "1", "token": "t"}),
    );
    let (_, trigger) = admin(
        &app,
        "POST",
        "/api/v1/triggers",
        json!({"target": "ci", "events": ["push", "other"], "source": {"kind": "gitlab", "secrets": [SECRET]}}),
    );
    let url = trigger["hook_url"].as_str().unwrap();
    let pipeline = Request::new("POST", url)
        .with_body("application/json", fixture("gitlab/push.json"))
        .with_header("X-Gitlab-Token", SECRET)
        .with_header("X-Gitlab-Event", "Pipeline Hook");
    let (status, body) = send(&app, pipeline);
    assert_eq!((status, body["matched"].clone()), (202, json!(false)));
    assert!(body["reason"].as_str().unwrap().contains("loop guard"));
    assert!(app.outbound.sent.borrow().is_empty());
}

#[test]
fn secrets_rotate_by_patching_the_source() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    let id = url.trim_start_matches("/hooks/");
    app.store.reset_counts();
    let (status, patched) = admin(
        &app,
        "PATCH",
        &format!("/api/v1/triggers/{id}"),
        json!({"source": {"kind": "github", "secrets": [SECRET, "next"]}}),
    );
    assert_eq!((status, patched["source"]["secrets_set"].clone()), (200, json!(2)));
    assert_eq!(app.store.counts().writes, 2, "a rotation is one write, and its audit entry another");
    let (_, token_trigger) = admin(&app, "POST", "/api/v1/triggers", json!({"target": "ci"}));
    let path = format!("/api/v1/triggers/{}", token_trigger["id"].as_str().unwrap());
    let (status, refused) = admin(&app, "PATCH", &path, json!({"source": {"kind": "github", "secrets": ["s"]}}));
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().contains("token trigger"));
    assert_eq!(send(&app, github_delivery(&url, "github/push.json", "push", "r-1")).0, 202);
}

#[test]
fn hook_kv_cost_is_constant() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    for i in 0..200 {
        admin(
            &app,
            "POST",
            "/api/v1/triggers",
            json!({"target": "ci", "source": {"kind": "github", "secrets": [format!("s{i}")]}}),
        );
    }
    app.store.reset_counts();
    let answer = block_on(app.handle(github_delivery(&url, "github/push.json", "push", "c-1")));
    assert_eq!(answer.status, 202);
    let counts = app.store.counts();
    assert_eq!(
        (counts.reads, counts.lists, counts.writes),
        (2, 0, 0),
        "the trigger and its target (whose kind names the order key); the replay ids go to the target's ledger"
    );
    assert_eq!(seen(&app), 2, "the id's and the content's claims, in the ledger");
    app.store.reset_counts();
    assert_eq!(common::drain(&app), 1);
    let counts = app.store.counts();
    assert_eq!(
        (counts.reads, counts.lists, counts.writes),
        (2, 0, 0),
        "the consumer: the trigger (still live?) and the target; the record is in the ledger"
    );
}

#[test]
fn invalid_filters_are_refused_on_create() {
    let app = app();
    admin(&app, "POST", "/api/v1/targets", json!({"name": "ci", "kind": "http", "url": "https://x.example"}));
    for bad in [
        json!({"condition": "("}),
        json!({"events": ["merge"]}),
        json!({"ref": "a..b"}),
        json!({"variables": {"a-b": "1"}}),
        json!({"source": {"kind": "github", "secrets": []}}),
    ] {
        let mut trigger = json!({"target": "ci", "source": {"kind": "github", "secrets": ["s"]}});
        trigger.as_object_mut().unwrap().extend(bad.as_object().unwrap().clone());
        assert_eq!(admin(&app, "POST", "/api/v1/triggers", trigger.clone()).0, 400, "{trigger}");
    }
}

// ---- ServiceStage

const SS: &str = "/v1/proj-1/git/repos/group/app:sub/hooks";

#[test]
fn servicestage_hooks_create_list_fire_and_delete() {
    let app = app();
    let (status, hook) = admin(&app, "POST", SS, json!({"secret": SECRET, "url": "https://example.com/webhook"}));
    assert_eq!(status, 200, "{hook}");
    assert_eq!(hook["type"], "github");
    assert_eq!(hook["callback_url"], "https://example.com/webhook");
    let hook_url = hook["hook_url"].as_str().unwrap().to_string();
    // The SDK drops `hook_url` from its create answer: its users build it from the id.
    assert_eq!(hook_url, format!("/hooks/{}", hook["id"].as_str().unwrap()));

    let (_, listed) = admin(&app, "GET", SS, Value::Null);
    assert_eq!(listed["hooks"].as_array().unwrap().len(), 1);
    assert_eq!(listed["hooks"][0]["id"], hook["id"]);
    let (_, other_tenant) = admin(&app, "GET", "/v1/proj-2/git/repos/group/app:sub/hooks", Value::Null);
    assert_eq!(other_tenant["hooks"].as_array().unwrap().len(), 0);

    // The hook filters on its repository: a push from another repository does not fire.
    assert_eq!(send(&app, github_delivery(&hook_url, "github/push.json", "push", "s-1")).1["matched"], false);

    let delete =
        Request::new("DELETE", &format!("{SS}/{}", hook["id"].as_str().unwrap())).with_header("X-Auth-Token", "tok-a");
    assert_eq!(send(&app, delete).0, 204);
    assert_eq!(admin(&app, "GET", SS, Value::Null).1["hooks"].as_array().unwrap().len(), 0);
    assert!(app.store.keys().iter().all(|k| !k.starts_with("target:")), "its target is gone too");
}

#[test]
fn servicestage_errors_use_its_shape() {
    let app = app();
    let (status, body) = admin(&app, "POST", SS, json!({"url": "https://example.com/webhook"}));
    assert_eq!(status, 400);
    assert_eq!(body["error_code"], "SVCSTG.REPO.0400");
    assert!(body["error_msg"].as_str().unwrap().contains("secret"));
    let (status, body) = admin(&app, "POST", SS, json!({"secret": "s", "url": "https://e.example", "type": "svn"}));
    assert_eq!((status, body["error_code"].clone()), (400, json!("SVCSTG.REPO.0400")));
    for hidden in ["https://0x7f.1/", "https://[::ffff:a9fe:a9fe]/", "https://metadata.google.internal/"] {
        let (status, body) = admin(&app, "POST", SS, json!({"secret": "s", "url": hidden}));
        assert_eq!((status, body["error_code"].clone()), (400, json!("SVCSTG.REPO.0400")), "{hidden}");
    }
    let unauthenticated = send(&app, Request::new("GET", SS));
    assert_eq!((unauthenticated.0, unauthenticated.1["error_code"].clone()), (401, json!("SVCSTG.REPO.0401")));
    assert!(app.store.keys().is_empty(), "nothing half-made is left behind");
}

#[test]
fn a_webhook_whose_deliveries_cannot_be_queued_leaves_no_claim_so_the_redelivery_is_forwarded() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    *common::queue().broken.borrow_mut() = Some("queue down".into());
    let (status, body) = send(&app, github_delivery(&url, "github/push.json", "push", "q-1"));
    assert_eq!((status, body["error"].as_str()), (503, Some("queue_unavailable")), "{body}");
    assert_eq!(seen(&app), 0, "the claims were released");
    *common::queue().broken.borrow_mut() = None;
    let (status, body) = send(&app, github_delivery(&url, "github/push.json", "push", "q-1"));
    assert_eq!((status, body["matched"].clone()), (202, json!(true)), "the provider's redelivery: {body}");
    assert_eq!(app.outbound.sent.borrow().len(), 1);
}

#[test]
fn a_duplicate_is_answered_with_the_first_deliverys_id() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    let (status, first) = send(&app, github_delivery(&url, "github/push.json", "push", "first-id"));
    assert_eq!(status, 202);
    let (status, body) = send(&app, github_delivery(&url, "github/push.json", "push", "second-id"));
    let first_id = first["deliveries"][0]["delivery_id"].clone();
    assert_eq!((status, body), (200, json!({"duplicate": true, "delivery_id": first_id, "state": "delivered"})));
    assert_eq!(app.outbound.sent.borrow().len(), 1);
}

/// How many replay ids the targets' ledgers remember.
fn seen(app: &TestApp) -> usize {
    app.ledger.targets.borrow().values().map(|rows| rows.seen.len()).sum()
}

// ---- generic sources (`standard`, `hmac`): any body, facts where `fields` point

/// The body issue 17 was refused with (400, "expected struct Repository").
const ISSUE_BODY: &str = r#"{"type":"push","ref":"refs/heads/main","repository":"acme/app"}"#;
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW_MS: u64 = 1_700_000_000_000;

/// An http target (with `template` as its body, if any) and a trigger of `source` with `extra`.
fn generic_hook(app: &TestApp, source: Value, template: Option<&str>, extra: Value) -> (u16, Value) {
    let mut target = json!({"name": "ci", "kind": "http", "url": "https://deploy.example.com"});
    if let Some(template) = template {
        target["body_template"] = json!(template);
        target["content_type"] = json!("application/json");
    }
    admin(app, "POST", "/api/v1/targets", target);
    let mut trigger = json!({"target": "ci", "source": source});
    trigger.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    admin(app, "POST", "/api/v1/triggers", trigger)
}

fn generic_url(app: &TestApp, source: Value, template: Option<&str>, extra: Value) -> String {
    let (status, created) = generic_hook(app, source, template, extra);
    assert_eq!(status, 201, "{created}");
    created["hook_url"].as_str().unwrap().to_string()
}

fn standard_source(fields: Option<Value>) -> Value {
    let mut source = json!({"kind": "standard", "secrets": [WHSEC]});
    if let Some(fields) = fields {
        source["fields"] = fields;
    }
    source
}

/// `body` signed as a Standard Webhooks sender signs it, as message `id`, at `NOW_MS`.
fn standard_message(url: &str, id: &str, content_type: &str, body: &str) -> Request {
    let timestamp = (NOW_MS / 1000).to_string();
    let signature = hookrelay::sources::standard::sign(WHSEC, id, &timestamp, body.as_bytes());
    Request::new("POST", url)
        .with_body(content_type, body)
        .with_header("webhook-id", id)
        .with_header("webhook-timestamp", &timestamp)
        .with_header("webhook-signature", &signature)
}

fn last_sent(app: &TestApp) -> String {
    String::from_utf8(app.outbound.last().expect("a call reached the target").body).unwrap()
}

#[test]
fn a_standard_webhooks_message_of_any_shape_is_accepted_and_forwarded_whole() {
    // Without `fields`, a body that is not a git server's payload is an `other` event with no facts.
    let app = app_at(NOW_MS);
    let url = generic_url(&app, standard_source(None), None, json!({"events": ["other"]}));
    let (status, body) = send(&app, standard_message(&url, "msg_1", "application/json", ISSUE_BODY));
    assert_eq!((status, body["matched"].clone()), (202, json!(true)), "{body}");
    let sent = last_sent(&app);
    assert!(sent.contains(ISSUE_BODY), "the body, byte for byte: {sent}");
    let sent: Value = serde_json::from_str(&sent).unwrap();
    assert_eq!((sent["variables"]["HOOKRELAY_EVENT"].clone(), sent["ref"].clone()), (json!("other"), json!("")));

    // With them, the same message is a push of main to acme/app, as it says.
    let app = app_at(NOW_MS);
    let fields = json!({"ref": "/ref", "repository": "/repository", "event": "/type"});
    let filter = json!({"repository": "acme/app", "branches": ["main"]});
    let url = generic_url(&app, standard_source(Some(fields)), None, filter);
    let (status, body) = send(&app, standard_message(&url, "msg_1", "application/json", ISSUE_BODY));
    assert_eq!((status, body["deliveries"][0]["ref"].clone()), (202, json!("main")), "{body}");
    let sent = last_sent(&app);
    assert!(sent.contains(ISSUE_BODY), "{sent}");
    let sent: Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(sent["variables"]["HOOKRELAY_EVENT"], "push");
    assert_eq!(sent["variables"]["HOOKRELAY_REF"], "refs/heads/main");
    assert_eq!(sent["variables"]["HOOKRELAY_REPOSITORY"], "acme/app");
}

#[test]
fn mapped_fields_feed_the_filters_and_the_body_template() {
    let fields = json!({"ref": "/data/branch", "repository": "/data/repo", "commit": "/data/sha", "event": "/type"});
    let template =
        r#"{"branch":"{{branch}}","tag":"{{tag}}","repo":"{{repository}}","sha":"{{commit}}","ref":"{{ref}}"}"#;
    let app = app_at(NOW_MS);
    let url = generic_url(&app, standard_source(Some(fields)), Some(template), json!({"branches": ["release/*"]}));
    let message = |id: &str, branch: &str| {
        let body = json!({"type": "deploy.requested", "data": {"branch": branch, "repo": "acme/app", "sha": "abc123"}});
        standard_message(&url, id, "application/json", &body.to_string())
    };
    let (status, body) = send(&app, message("msg_1", "release/2"));
    assert_eq!((status, body["matched"].clone()), (202, json!(true)), "{body}");
    let sent: Value = serde_json::from_str(&last_sent(&app)).unwrap();
    assert_eq!(
        sent,
        json!({"branch": "release/2", "tag": "", "repo": "acme/app", "sha": "abc123", "ref": "release/2"})
    );
    let (status, body) = send(&app, message("msg_2", "main"));
    assert_eq!((status, body["matched"].clone()), (202, json!(false)), "{body}");
    assert!(body["reason"].as_str().unwrap().contains("branch 'main'"), "{body}");
    let (status, body) = send(&app, message("msg_3", "refs/heads/release/3"));
    assert_eq!((status, body["deliveries"][0]["ref"].clone()), (202, json!("release/3")), "a full ref reads alike");
    let (status, body) = send(&app, message("msg_4", "refs/tags/release/4"));
    assert_eq!((status, body["matched"].clone()), (202, json!(false)), "a tag is no branch: {body}");
    assert_eq!(app.outbound.sent.borrow().len(), 2);
}

#[test]
fn a_missing_or_non_string_field_is_an_unknown_fact_that_matches_no_ref_filter() {
    let fields = json!({"ref": "/data/branch", "repository": "/data/repo", "commit": "/data/sha"});
    let app = app_at(NOW_MS);
    let filter = json!({"events": ["push", "other"], "branches": ["*", "**"]});
    let url = generic_url(&app, standard_source(Some(fields)), None, filter);
    // The Standard Webhooks specification's own example message, and shapes that miss the pointers.
    let vector: Value = serde_json::from_slice(&fixture("standard-webhooks-vector.json")).unwrap();
    let spec_example = vector["spec_example_without_secret"]["signed_content_minified"].as_str().unwrap();
    let spec_body = spec_example.splitn(3, '.').nth(2).unwrap().to_string();
    let bodies = [
        spec_body.as_str(),
        r#"{"data":{"branch":5,"repo":["acme/app"],"sha":null}}"#,
        r#"{"data":{"branch":{"name":"main"}}}"#,
        r#"{"data":{"branch":""}}"#,
        r#"{"data":"main"}"#,
        r#"["main"]"#,
        "null",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let (status, answer) = send(&app, standard_message(&url, &format!("msg_{i}"), "application/json", body));
        assert_eq!((status, answer["matched"].clone()), (202, json!(false)), "{body}: {answer}");
        assert!(answer["reason"].as_str().unwrap().contains("no ref"), "{body}: {answer}");
    }
    assert!(app.outbound.sent.borrow().is_empty());
    // Without a ref filter, the same `other` event fires, its facts empty.
    let app = app_at(NOW_MS);
    let url =
        generic_url(&app, standard_source(Some(json!({"ref": "/data/branch"}))), None, json!({"events": ["other"]}));
    let (status, answer) = send(&app, standard_message(&url, "msg_1", "application/json", bodies[1]));
    assert_eq!((status, answer["matched"].clone()), (202, json!(true)), "{answer}");
    let sent: Value = serde_json::from_str(&last_sent(&app)).unwrap();
    assert_eq!((sent["ref"].clone(), sent["variables"]["HOOKRELAY_REPOSITORY"].clone()), (json!(""), json!("")));
}

#[test]
fn a_signed_body_that_is_not_json_is_accepted_with_no_facts() {
    let hmac_source = json!({"kind": "hmac", "secrets": [SECRET], "header": "X-Signature", "prefix": "sha256=",
        "fields": {"ref": "/ref"}});
    for (content_type, body) in [
        ("text/plain", "deploy main, please"),
        ("application/json", "{\"ref\": "),
        ("application/json", &format!("{}1{}", "[".repeat(100), "]".repeat(100))),
        ("application/x-www-form-urlencoded", "ref=main"),
    ] {
        let app = app();
        let url = generic_url(&app, hmac_source.clone(), None, json!({"events": ["other"]}));
        let signature = format!("sha256={}", hex::encode(hmac_sha256(SECRET.as_bytes(), &[body.as_bytes()])));
        let request =
            Request::new("POST", &url).with_body(content_type, body.to_string()).with_header("X-Signature", &signature);
        let (status, answer) = send(&app, request);
        assert_eq!((status, answer["matched"].clone()), (202, json!(true)), "{body}: {answer}");
        let sent = last_sent(&app);
        let sent: Value = serde_json::from_str(&sent).unwrap();
        let payload = sent["payload"].as_str().map(str::to_string).unwrap_or_else(|| sent["payload"].to_string());
        assert_eq!(payload.replace(' ', ""), body.replace(' ', ""), "forwarded whole");
        assert_eq!(sent["variables"]["HOOKRELAY_REF"], "", "{body}");
    }
    // A signed body that is not JSON is accepted by a standard source without `fields` too.
    let app = app_at(NOW_MS);
    let url = generic_url(&app, standard_source(None), None, json!({"events": ["other"]}));
    let (status, answer) = send(&app, standard_message(&url, "msg_1", "text/plain", "plain words"));
    assert_eq!((status, answer["matched"].clone()), (202, json!(true)), "{answer}");
}

#[test]
fn invalid_fields_are_refused_naming_the_field() {
    let app = app();
    for (fields, named) in [
        (json!({"ref": "data/branch"}), "source.fields.ref"),
        (json!({"repository": "/data/~2repo"}), "source.fields.repository"),
        (json!({"commit": format!("/{}", "a".repeat(255))}), "source.fields.commit is longer than 255 bytes"),
        (json!({"event": "#/type"}), "source.fields.event"),
        (json!({"branch": "/data/branch"}), "branch"),
        (json!({"ref": 5}), "invalid type"),
    ] {
        let (status, refused) = generic_hook(&app, standard_source(Some(fields.clone())), None, json!({}));
        assert_eq!(status, 400, "{fields}: {refused}");
        assert!(refused["message"].as_str().unwrap().contains(named), "{fields}: {refused}");
    }
    let github = json!({"kind": "github", "secrets": [SECRET], "fields": {"ref": "/ref"}});
    let (status, refused) = generic_hook(&app, github, None, json!({}));
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().contains("source.fields is for the hmac and standard sources"));
    let schedule = json!({"kind": "schedule", "cron": "0 0 * * *", "fields": {"ref": "/ref"}});
    assert_eq!(generic_hook(&app, schedule, None, json!({})).0, 400);

    // Valid pointers are kept, shown, and checked again on update.
    let fields = json!({"ref": "", "repository": "/a~1b/~0c", "commit": "/data/0/sha", "event": "/type"});
    let (status, created) = generic_hook(&app, standard_source(Some(fields.clone())), None, json!({}));
    assert_eq!((status, created["source"]["fields"].clone()), (201, fields), "{created}");
    let path = format!("/api/v1/triggers/{}", created["id"].as_str().unwrap());
    let (status, refused) = admin(&app, "PATCH", &path, json!({"source": standard_source(Some(json!({"ref": "x"})))}));
    assert_eq!(status, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("source.fields.ref"), "{refused}");
    let (status, patched) = admin(&app, "PATCH", &path, json!({"source": standard_source(Some(json!({"ref": "/x"})))}));
    assert_eq!((status, patched["source"]["fields"].clone()), (200, json!({"ref": "/x"})), "{patched}");
}

#[test]
fn a_triggers_statistics_count_deliveries_attempts_and_refusals_by_the_hour() {
    let app = app();
    let url = github_hook(&app, "http", json!({"branches": ["master"]}));
    let trigger = url.rsplit('/').next().unwrap().to_string();
    // Delivered on its second attempt (one 503 first).
    app.outbound.answer(503, "{}");
    assert_eq!(send(&app, github_delivery(&url, "github/push.json", "push", "d-1")).0, 202);
    // Refused twice: a bad signature, and a filter (a tag is not a branch in the list).
    let forged = Request::new("POST", &url)
        .with_body("application/json", fixture("github/push.json"))
        .with_header("X-Hub-Signature-256", &format!("sha256={}", "0".repeat(64)))
        .with_header("X-GitHub-Event", "push")
        .with_header("X-GitHub-Delivery", "d-2");
    assert_eq!(send(&app, forged).0, 401);
    assert_eq!(send(&app, github_delivery(&url, "github/create-tag.json", "create", "d-3")).1["matched"], false);
    // A repeat is neither a delivery nor a refusal.
    assert_eq!(send(&app, github_delivery(&url, "github/push.json", "push", "d-1")).1["duplicate"], true);

    let (status, stats) = admin(&app, "GET", &format!("/api/v1/triggers/{trigger}/stats?hours=2"), Value::Null);
    assert_eq!(status, 200, "{stats}");
    let totals = &stats["totals"];
    assert_eq!(
        (totals["delivered"].clone(), totals["dead"].clone(), totals["refused"].clone(), totals["attempts"].clone()),
        (json!(1), json!(0), json!(2), json!(2)),
        "{stats}"
    );
    assert_eq!(totals["success_rate"], 1.0);
    let series = stats["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[1]["delivered"], 1, "the current hour is the last");
    assert!(totals["p95_ms"].is_u64());

    // Each request's log line names the trigger and the delivery it concerned, where known.
    let lines = app.log.lines.borrow().clone();
    let request_line = |route: &str, status: u16| {
        lines.iter().find(|l| l["type"] == "request" && l["route"] == route && l["status"] == status).cloned().unwrap()
    };
    let hook = request_line("/hooks/{id}", 202);
    assert_eq!(hook["trigger"], trigger.as_str());
    assert!(hook["delivery"].as_str().unwrap().starts_with(&format!("{trigger}-")), "{hook}");
    assert_eq!(request_line("/api/v1/triggers/{id}/stats", 200)["trigger"], trigger.as_str());
    assert_eq!(request_line("/hooks/{id}", 401)["delivery"], Value::Null);

    let (status, overview) = admin(&app, "GET", "/api/v1/stats?hours=24", Value::Null);
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["triggers"][0]["trigger"], trigger.as_str());
    assert_eq!(overview["totals"]["refused"], 2);
    for bad in ["0", "169", "x"] {
        let (status, body) = admin(&app, "GET", &format!("/api/v1/stats?hours={bad}"), Value::Null);
        assert_eq!((status, body["error"].clone()), (400, json!("bad_request")), "hours={bad}");
    }
}

/// Refused webhooks are tallied where they are refused: 50 forged ones in a minute cost at most one
/// ledger request of their own, and every one is counted, sent with the next request to the
/// ledger or on its own once a minute has passed.
#[test]
fn fifty_refused_webhooks_cost_at_most_one_ledger_request_a_minute_and_all_are_counted() {
    let app = app();
    let url = github_hook(&app, "http", json!({}));
    let trigger = url.rsplit('/').next().unwrap().to_string();
    let forged = || {
        Request::new("POST", &url)
            .with_body("application/json", fixture("github/push.json"))
            .with_header("X-Hub-Signature-256", &format!("sha256={}", "0".repeat(64)))
            .with_header("X-GitHub-Event", "push")
    };
    let requests = || app.ledger.requests.borrow().values().sum::<u32>();
    let stored = || {
        let targets = app.ledger.targets.borrow();
        targets.values().flat_map(|rows| rows.stats.values()).map(|stats| stats.refused).sum::<u64>()
    };
    let before = requests();
    for _ in 0..50 {
        assert_eq!(send(&app, forged()).0, 401);
        app.clock.advance(1000);
    }
    assert!(requests() - before <= 1, "{} ledger requests for 50 refusals", requests() - before);
    assert!(stored() < 50, "not counted one by one");
    // A minute after the last send, the next refusal sends every waiting count, in one request.
    app.clock.advance(10_000);
    assert_eq!(send(&app, forged()).0, 401);
    assert_eq!(requests() - before, 2);
    assert_eq!(stored(), 51, "none lost");
    // Within the next minute they wait again, and go with the next request to the ledger: here
    // the statistics' own.
    for _ in 0..9 {
        assert_eq!(send(&app, forged()).0, 401);
    }
    assert_eq!(requests() - before, 2);
    let (status, stats) = admin(&app, "GET", &format!("/api/v1/triggers/{trigger}/stats"), Value::Null);
    assert_eq!((status, stats["totals"]["refused"].clone()), (200, json!(60)), "{stats}");
    assert_eq!(requests() - before, 3, "the statistics' request carried them");
}

#[test]
fn a_dead_delivery_notifies_its_triggers_notify_target_once_and_records_how_it_went() {
    let app = app();
    let slack = json!({"name": "alerts", "kind": "http", "url": "https://hooks.slack.com/services/T0/B0/xyz"});
    assert_eq!(admin(&app, "POST", "/api/v1/targets", slack).0, 201);
    let (status, refused) = admin(&app, "POST", "/api/v1/triggers", json!({"target": "alerts", "notify": "nowhere"}));
    assert_eq!((status, refused["message"].as_str().unwrap()), (400, "notify: target 'nowhere' does not exist"));
    let (status, _) = admin(
        &app,
        "POST",
        "/api/v1/triggers",
        json!({"target": "alerts", "notify": "alerts", "notify_on": ["pending"]}),
    );
    assert_eq!(status, 400, "pending is no outcome");
    let url = github_hook(&app, "http", json!({"notify": "alerts", "description": "Deploy web"}));
    let trigger = url.rsplit('/').next().unwrap().to_string();
    let (_, view) = admin(&app, "GET", &format!("/api/v1/triggers/{trigger}"), Value::Null);
    assert_eq!(view["notify_on"], json!(["dead"]), "dead by default: {view}");

    let attempts = hookrelay::model::delivery::RetryPolicy::default().max_attempts as usize;
    for _ in 0..attempts {
        app.outbound.answer(500, "{}");
    }
    app.outbound.answer(404, "no_service"); // Slack's answer for a removed webhook
    let (status, answer) = send(&app, github_delivery(&url, "github/push.json", "push", "d-1"));
    assert_eq!(status, 202);
    let id = answer["deliveries"][0]["delivery_id"].as_str().unwrap().to_string();
    let sent = app.outbound.sent.borrow().clone();
    assert_eq!(sent.len(), attempts + 1, "every attempt, then one notification");
    let notice = sent.last().unwrap();
    assert_eq!(notice.url, "https://hooks.slack.com/services/T0/B0/xyz");
    let text: Value = serde_json::from_slice(&notice.body).unwrap();
    let text = text["text"].as_str().unwrap();
    assert!(text.contains(&id) && text.contains("Deploy web") && text.contains("is dead"), "{text}");
    assert!(text.contains("last status 500") && text.contains(&format!("/admin#delivery={id}|open>")), "{text}");

    let (_, record) = admin(&app, "GET", &format!("/api/v1/deliveries/{id}"), Value::Null);
    assert_eq!(record["state"], "dead");
    assert_eq!(record["notification"]["status"], 404, "{record}");
    assert!(record["notification"]["error"].as_str().unwrap().contains("404"));
    // Never retried: nothing more is sent, whatever runs next.
    common::drain(&app);
    assert_eq!(app.outbound.sent.borrow().len(), attempts + 1);
    let (_, stats) = admin(&app, "GET", &format!("/api/v1/triggers/{trigger}/stats"), Value::Null);
    assert_eq!((stats["totals"]["dead"].clone(), stats["totals"]["attempts"].clone()), (json!(1), json!(attempts)));

    // One Analytics Engine point per attempt, the last one dead.
    let points = app.analytics.points.borrow();
    assert_eq!(points.len(), attempts);
    let last = points.last().unwrap();
    assert_eq!(
        (last.index.as_str(), last.blobs[1].as_str(), last.blobs[2].as_str()),
        (trigger.as_str(), "http", "dead")
    );
    assert_eq!((last.doubles[0], last.doubles[2]), (500.0, attempts as f64));
    assert!(
        last.blobs.len() <= 20 && last.doubles.len() <= 20 && last.index.len() <= 96,
        "within the platform's limits"
    );
}

#[test]
fn a_delivered_delivery_notifies_only_when_notify_on_says_so() {
    let app = app();
    let hook = json!({"name": "alerts", "kind": "http", "url": "https://alerts.example.com/in", "format": "discord"});
    assert_eq!(admin(&app, "POST", "/api/v1/targets", hook).0, 201);
    let url = github_hook(&app, "http", json!({"notify": "alerts", "notify_on": ["delivered", "dead"]}));
    assert_eq!(send(&app, github_delivery(&url, "github/push.json", "push", "d-1")).0, 202);
    let sent = app.outbound.sent.borrow().clone();
    assert_eq!(sent.len(), 2, "the delivery, then its notification");
    let body: Value = serde_json::from_slice(&sent[1].body).unwrap();
    assert!(body["content"].as_str().unwrap().contains("is delivered"), "the target's format: {body}");
    let trigger = url.rsplit('/').next().unwrap();
    let (_, patched) = admin(&app, "PATCH", &format!("/api/v1/triggers/{trigger}"), json!({"notify": null}));
    assert!(patched.get("notify").is_none() && patched.get("notify_on").is_none(), "{patched}");
    let tag = send(&app, github_delivery(&url, "github/push-tag-created-ghes.json", "push", "d-2"));
    assert_eq!(tag.0, 202, "{}", tag.1);
    assert_eq!(app.outbound.sent.borrow().len(), 3, "no notification any more");
}
