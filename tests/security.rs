//! The red team's second round, natively through the router: what an admin or a caller gets wrong
//! must never put a secret in an answer or a log line, cost a store call it cannot name, or slip a
//! value past the checks.

mod common;

use hookrelay::auth::AdminDirectory;
use hookrelay::http::{Request, Response};
use hookrelay::ports::{block_on, FixedClock, SequenceRandom};
use hookrelay::testing::TestApp;
use serde_json::{json, Value};
use std::rc::Rc;

const NOW: u64 = 1_700_000_000_000;

fn app() -> TestApp {
    TestApp::new(
        Box::new(Rc::new(FixedClock::new(NOW))),
        Box::new(SequenceRandom::new(7)),
        Box::new(common::queue()),
        AdminDirectory::parse("alice:tok-a"),
    )
}

fn send(app: &TestApp, request: Request) -> Response {
    block_on(app.handle(request))
}

fn admin(app: &TestApp, method: &str, path: &str, body: &str) -> Response {
    let request = Request::new(method, path).with_header("authorization", "Bearer tok-a");
    send(app, if body.is_empty() { request } else { request.with_body("application/json", body) })
}

fn json_of(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

/// Every field that holds a credential, of every target kind, source, registry and vendor API,
/// sent in the wrong JSON type: the answer is a 4xx that says what and where, and neither it nor
/// any log line holds the value.
#[test]
fn a_credential_of_the_wrong_type_is_never_echoed_or_logged() {
    let app = app();
    let target = r#"{"name":"t","kind":"gitlab","url":"https://gitlab.example.com","project":"9","token":"glptt-ok"}"#;
    assert_eq!(admin(&app, "POST", "/api/v1/targets", target).status, 201);
    let leaks: &[(&str, &str, &str, &str)] = &[
        // (method, path, body with the value, the value)
        (
            "POST",
            "/api/v1/targets",
            r#"{"name":"a","kind":"gitlab","url":"https://g.example.com","project":"9","token":918273645}"#,
            "918273645",
        ),
        (
            "POST",
            "/api/v1/targets",
            r#"{"name":"a","kind":"gitlab","url":"https://g.example.com","project":"9","token":["LEAK-gl-list"]}"#,
            "LEAK-gl-list",
        ),
        (
            "POST",
            "/api/v1/targets",
            r#"{"name":"a","kind":"github","repository":"o/r","workflow":"d.yml","token":{"t":"LEAK-gh-map"}}"#,
            "LEAK-gh-map",
        ),
        (
            "POST",
            "/api/v1/targets",
            r#"{"name":"a","kind":"github","repository":"o/r","workflow":"d.yml","token":827364519}"#,
            "827364519",
        ),
        (
            "POST",
            "/api/v1/targets",
            r#"{"name":"a","kind":"jenkins","url":"https://ci.example.com","job":"j","user":"u","api_token":736451928}"#,
            "736451928",
        ),
        (
            "POST",
            "/api/v1/targets",
            r#"{"name":"a","kind":"jenkins","url":"https://ci.example.com","job":"j","user":"u","api_token":true}"#,
            "true",
        ),
        (
            "POST",
            "/api/v1/targets",
            r#"{"name":"a","kind":"kubernetes","api_server":"https://k.example.com","token":645192837}"#,
            "645192837",
        ),
        ("POST", "/api/v1/targets", r#"{"name":"a","kind":"ack","url":519283746}"#, "519283746"),
        (
            "POST",
            "/api/v1/targets",
            r#"{"name":"a","kind":"http","url":"https://h.example.com","headers":"Authorization: LEAK-header-string"}"#,
            "LEAK-header-string",
        ),
        (
            "POST",
            "/api/v1/targets",
            r#"{"name":"a","kind":"http","url":"https://h.example.com","headers":{"Authorization":192837465}}"#,
            "192837465",
        ),
        (
            "POST",
            "/api/v1/targets",
            r#"{"name":"a","kind":"http","url":"https://h.example.com","headers":["LEAK-header-list"]}"#,
            "LEAK-header-list",
        ),
        ("PATCH", "/api/v1/targets/t", r#"{"token":283746519}"#, "283746519"),
        (
            "PATCH",
            "/api/v1/triggers/x",
            r#"{"source":{"kind":"github","secrets":"LEAK-x, expected a string"}}"#,
            "LEAK-x",
        ),
        (
            "POST",
            "/api/v1/triggers",
            r#"{"target":"t","source":{"kind":"github","secrets":"LEAKME-secrets"}}"#,
            "LEAKME-secrets",
        ),
        ("POST", "/api/v1/triggers", r#"{"target":"t","source":{"kind":"gitlab","secrets":[374651928]}}"#, "374651928"),
        (
            "POST",
            "/api/v1/triggers",
            r#"{"target":"t","source":{"kind":"gitea","secrets":[{"s":"LEAK-nested"}]}}"#,
            "LEAK-nested",
        ),
        ("POST", "/api/v1/registries", r#"{"name":"r","kind":"harbor","secret":465192837}"#, "465192837"),
        ("POST", "/api/v1/registries", r#"{"name":"r","kind":"harbor","secret":["LEAK-registry"]}"#, "LEAK-registry"),
        (
            "POST",
            "/v1/p/git/repos/group/app/hooks",
            r#"{"secret":561928374,"url":"https://example.com/w"}"#,
            "561928374",
        ),
        (
            "POST",
            "/v1/p/git/repos/group/app/hooks",
            r#"{"secret":["LEAK-ss"],"url":"https://example.com/w"}"#,
            "LEAK-ss",
        ),
    ];
    for (method, path, body, value) in leaks {
        let lines_before = app.log.lines.borrow().len();
        let request = Request::new(method, path)
            .with_header("authorization", "Bearer tok-a")
            .with_header("x-auth-token", "tok-a")
            .with_body("application/json", *body);
        let response = send(&app, request);
        let answer = String::from_utf8_lossy(&response.body).into_owned();
        assert!((400..500).contains(&response.status), "{method} {path} {body}: {} {answer}", response.status);
        let secret = *value;
        assert!(!answer.contains(secret), "{method} {path}: the answer holds {secret}: {answer}");
        for line in app.log.lines.borrow().iter().skip(lines_before) {
            assert!(!line.to_string().contains(secret), "{method} {path}: a log line holds {secret}: {line}");
        }
    }
    // The answer still says what and where.
    let response =
        admin(&app, "POST", "/api/v1/triggers", r#"{"target":"t","source":{"kind":"github","secrets":"LEAKME"}}"#);
    let message = json_of(&response)["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("invalid type at line 1 column") && message.ends_with("expected a list"), "{message}");
}

/// A name or id longer than KV's 512-byte key could be (from a body, a query or a path) names
/// nothing: it is answered 400 or 404 before any store call, never 503.
#[test]
fn a_name_longer_than_any_key_is_refused_before_the_store() {
    let app = app();
    let target = r#"{"name":"t","kind":"kubernetes","api_server":"https://k.example.com","token":"sa-token"}"#;
    assert_eq!(admin(&app, "POST", "/api/v1/targets", target).status, 201);
    let long = "n".repeat(600);
    let calls: Vec<(&str, String, String)> = vec![
        ("POST", "/api/v1/triggers".into(), json!({"target": long}).to_string()),
        ("POST", "/api/v1/triggers".into(), json!({"target": "t", "notify": long}).to_string()),
        ("GET", format!("/api/v1/triggers?target={long}"), String::new()),
        ("GET", format!("/api/v1/audit?cursor={}", "c".repeat(5000)), String::new()),
        ("POST", "/api/v1/targets".into(), json!({"name": long, "kind": "ack", "url": "https://a.example.com/x?token=y"}).to_string()),
        ("POST", "/triggers".into(), json!({"cluster_id": long, "project_id": "default/web", "type": "deployment", "action": "redeploy"}).to_string()),
        ("POST", "/api/v1/triggers".into(), json!({"target": "t", "source": {"kind": "github", "secrets": ["s3cret-value"]}, "repository": format!("group/{long}")}).to_string()),
        ("POST", "/v2/manage/namespaces/ns/repos/app/triggers".into(), json!({"name": "sw", "action": "update", "app_type": "deployments", "application": "web", "cluster_id": long, "cluster_name": "c", "cluster_ns": "default", "condition_type": "all", "condition_value": ".*", "container": "", "trigger_mode": "cce", "trigger_type": "all", "enable": "true"}).to_string()),
        ("POST", "/v2/manage/namespaces/ns/repos/app/triggers".into(), json!({"name": "sw", "action": "update", "app_type": "deployments", "application": "web", "cluster_id": "t", "cluster_name": long, "cluster_ns": "default", "condition_type": "all", "condition_value": ".*", "container": "", "trigger_mode": "cce", "trigger_type": "all", "enable": "true"}).to_string()),
    ];
    for (method, path, body) in calls {
        let response = admin(&app, method, &path, &body);
        let answer = String::from_utf8_lossy(&response.body).into_owned();
        assert!(
            matches!(response.status, 400 | 404),
            "{method} {}: {} {answer}",
            &path[..40.min(path.len())],
            response.status
        );
        let logged = app.log.lines.borrow().iter().any(|line| line["type"] == "error");
        assert!(!logged, "{method} {path}: no error is logged");
    }
}

/// A template's values are escaped for the target's one media type; a list of types would escape
/// nothing, so it is refused at creation and on PATCH.
#[test]
fn a_content_type_that_is_not_one_media_type_is_refused() {
    let app = app();
    let target = |content_type: &str| {
        json!({"name": "h", "kind": "http", "url": "https://h.example.com", "body_template": "{\"env\":\"{{ref}}\"}",
               "content_type": content_type})
        .to_string()
    };
    let listed = admin(&app, "POST", "/api/v1/targets", &target("application/json, text/plain"));
    assert_eq!(listed.status, 400, "{}", String::from_utf8_lossy(&listed.body));
    assert!(json_of(&listed)["message"].as_str().unwrap().contains("one media type"));
    assert_eq!(admin(&app, "POST", "/api/v1/targets", &target("application/json; charset=utf-8")).status, 201);
    let patched = admin(&app, "PATCH", "/api/v1/targets/h", r#"{"content_type":"application/json, text/plain"}"#);
    assert_eq!(patched.status, 400);
    assert_eq!(admin(&app, "PATCH", "/api/v1/targets/h", r#"{"content_type":"text/plain"}"#).status, 200);
}

/// Headers every caller may rely on: `nosniff` on every answer, `no-store` on an answer that may
/// carry a full token, and a token call refused after its delivery was recorded still names it.
#[test]
fn answers_carry_nosniff_no_store_and_the_delivery_they_recorded() {
    let app = app();
    let target = r#"{"name":"prod","kind":"kubernetes","api_server":"https://k.example.com","token":"sa-token"}"#;
    assert_eq!(admin(&app, "POST", "/api/v1/targets", target).status, 201);
    let trigger = r#"{"target":"prod","workload":{"namespace":"default","name":"web","action":"set-image"}}"#;
    let created = admin(&app, "POST", "/api/v1/triggers", trigger);
    assert_eq!(created.status, 201);
    assert_eq!(created.header("cache-control"), Some("no-store"), "the answer holds the full token");
    assert_eq!(created.header("x-content-type-options"), Some("nosniff"));
    let token = json_of(&created)["token"].as_str().unwrap().to_string();
    let id = json_of(&created)["id"].as_str().unwrap().to_string();
    let read = admin(&app, "GET", &format!("/api/v1/triggers/{id}"), "");
    assert_eq!((read.status, read.header("cache-control")), (200, Some("no-store")));
    let refused = send(&app, Request::new("GET", "/nowhere"));
    assert_eq!((refused.status, refused.header("x-content-type-options")), (404, Some("nosniff")));

    // A set-image trigger fired with no image: its delivery is recorded, then refused before
    // anything is sent; the 4xx still names the trigger and the delivery.
    let call = Request::new("POST", "/api/v4/projects/prod/trigger/pipeline")
        .with_body("application/x-www-form-urlencoded", format!("token={token}&ref=main"));
    let answer = send(&app, call);
    assert!((400..500).contains(&answer.status), "{} {}", answer.status, String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.header("x-hookrelay-trigger"), Some(id.as_str()));
    let delivery = answer.header("x-hookrelay-delivery").expect("the delivery is named").to_string();
    let record = admin(&app, "GET", &format!("/api/v1/deliveries/{delivery}"), "");
    assert_eq!(record.status, 200, "{}", String::from_utf8_lossy(&record.body));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    // ACK's token route too: a GET whose answer relays the target's, or replays a kept one.
    let ack = send(&app, Request::new("GET", &format!("/hook/trigger?token={token}")));
    assert_eq!(ack.header("cache-control"), Some("no-store"), "{}", ack.status);
}
