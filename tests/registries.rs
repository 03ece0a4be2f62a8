//! Every registry parser on its real payload, the unsigned registries' optional secret, and
//! image hook triggers through the router with SWR-style conditions.

mod common;
use common::{fixture, source};

use hookrelay::auth::AdminDirectory;
use hookrelay::http::Request;
use hookrelay::model::{Event, EventKind};
use hookrelay::ports::{block_on, FixedClock, SequenceRandom};
use hookrelay::signature::hmac_sha256;
use hookrelay::sources::{self, HookCall};
use hookrelay::testing::TestApp;
use serde_json::{json, Value};

const NOW_MS: u64 = 1_700_000_000_000;

fn parse(kind: &str, file: &str, headers: &[(&str, &str)]) -> Vec<Event> {
    let mut request = Request::new("POST", "/hooks/x").with_body("application/json", fixture(file));
    for (name, value) in headers {
        request = request.with_header(name, value);
    }
    let src = source(kind, &[]);
    sources::provider(kind).unwrap().parse(&HookCall { request: &request, source: &src, now_ms: NOW_MS }).unwrap()
}

fn image_of(event: &Event) -> (EventKind, &str, &str, &str) {
    let image = event.image.as_ref().unwrap();
    (event.kind, image.repository.as_str(), image.tag.as_str(), image.digest.as_str())
}

#[test]
fn dockerhub_push() {
    let events = parse("dockerhub", "dockerhub/push.json", &[]);
    assert_eq!(image_of(&events[0]), (EventKind::ImagePush, "svendowideit/testhook", "latest", ""));
    assert_eq!(events[0].sender, "trustedbuilder");
}

#[test]
fn acr_push_uses_namespace_and_name() {
    let events = parse("acr", "dockerhub/push.json", &[]);
    assert_eq!(image_of(&events[0]), (EventKind::ImagePush, "svendowideit/testhook", "latest", ""));
}

#[test]
fn harbor_push_artifact_and_pull_artifact() {
    let events = parse("harbor", "harbor/push_artifact.json", &[]);
    assert_eq!(events.len(), 1);
    let digest = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4";
    assert_eq!(
        image_of(&events[0]),
        (EventKind::ImagePush, "harbor/alpine", "", digest),
        "a digest in `tag` is a push by digest"
    );
    let pulled = parse("harbor", "harbor/pull_artifact.json", &[]);
    assert_eq!(pulled[0].kind, EventKind::Other);
}

#[test]
fn quay_one_event_per_updated_tag() {
    let events = parse("quay", "quay/repo_push.json", &[]);
    assert_eq!(
        events.iter().map(image_of).collect::<Vec<_>>(),
        vec![(EventKind::ImagePush, "dgangaia/test", "latest", "")]
    );
}

#[test]
fn distribution_counts_manifest_pushes_only() {
    let events = parse("distribution", "distribution/push-envelope.json", &[]);
    assert_eq!(events.len(), 1, "two of the three events are layer (blob) pushes");
    assert_eq!(
        image_of(&events[0]),
        (
            EventKind::ImagePush,
            "library/test",
            "",
            "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf"
        )
    );
    assert_eq!(events[0].sender, "test-actor");
    assert_eq!(parse("distribution", "distribution/pull-envelope.json", &[])[0].kind, EventKind::Other);
}

#[test]
fn ghcr_container_package_and_non_container_package() {
    let events = parse("ghcr", "github/registry_package-published.json", &[("X-GitHub-Event", "registry_package")]);
    assert_eq!(
        image_of(&events[0]),
        (EventKind::ImagePush, "codertocat/hello-world-npm", "", "sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b")
    );
    let npm = parse("ghcr", "github/package-published-npm.json", &[("X-GitHub-Event", "package")]);
    assert_eq!(npm[0].kind, EventKind::Other);
}

#[test]
fn ghcr_is_verified_like_github() {
    let body = fixture("github/registry_package-published.json");
    let signature = format!("sha256={}", hex::encode(hmac_sha256(b"ghcr-secret", &[&body])));
    let request = Request::new("POST", "/hooks/x")
        .with_body("application/json", body)
        .with_header("X-Hub-Signature-256", &signature);
    let ghcr = sources::provider("ghcr").unwrap();
    assert!(ghcr
        .verify(&HookCall { request: &request, source: &source("ghcr", &["ghcr-secret"]), now_ms: NOW_MS })
        .is_ok());
    assert!(ghcr.verify(&HookCall { request: &request, source: &source("ghcr", &["other"]), now_ms: NOW_MS }).is_err());
}

#[test]
fn unsigned_registries_take_an_optional_secret_in_authorization_or_the_query() {
    for kind in ["dockerhub", "harbor", "acr", "quay", "distribution"] {
        let provider = sources::provider(kind).unwrap();
        let bare = Request::new("POST", "/hooks/x").with_body("application/json", "{}");
        let open = source(kind, &[]);
        assert!(sources::validate_provider(&open).is_ok(), "{kind}: secrets are optional");
        assert!(
            provider.verify(&HookCall { request: &bare, source: &open, now_ms: NOW_MS }).is_ok(),
            "{kind}: the URL is the secret"
        );
        let guarded = source(kind, &["reg-secret"]);
        let err = provider.verify(&HookCall { request: &bare, source: &guarded, now_ms: NOW_MS }).unwrap_err();
        assert!(err.message().contains("Authorization"), "{kind}");
        let with_header = bare.clone().with_header("Authorization", "reg-secret");
        assert!(
            provider.verify(&HookCall { request: &with_header, source: &guarded, now_ms: NOW_MS }).is_ok(),
            "{kind}"
        );
        let with_query = Request { query: "secret=reg-secret".into(), ..bare.clone() };
        assert!(
            provider.verify(&HookCall { request: &with_query, source: &guarded, now_ms: NOW_MS }).is_ok(),
            "{kind}"
        );
        let wrong = bare.clone().with_header("Authorization", "Bearer nope");
        assert!(provider.verify(&HookCall { request: &wrong, source: &guarded, now_ms: NOW_MS }).is_err(), "{kind}");
    }
}

// ---- image hook triggers through the router

fn app() -> TestApp {
    TestApp::new(
        Box::new(FixedClock::new(NOW_MS)),
        Box::new(SequenceRandom::new(3)),
        Box::new(common::queue()),
        AdminDirectory::parse("alice:tok-a"),
    )
}

fn admin(app: &TestApp, method: &str, path: &str, body: Value) -> (u16, Value) {
    let request = Request::new(method, path)
        .with_header("authorization", "Bearer tok-a")
        .with_body("application/json", body.to_string());
    let response = block_on(app.handle(request));
    (response.status, serde_json::from_slice(&response.body).unwrap_or(Value::Null))
}

fn quay_push(app: &TestApp, url: &str, tags: &[&str]) -> (u16, Value) {
    let mut payload: Value = serde_json::from_slice(&fixture("quay/repo_push.json")).unwrap();
    payload["updated_tags"] = json!(tags);
    let response = block_on(app.handle(Request::new("POST", url).with_body("application/json", payload.to_string())));
    common::drain(app);
    (response.status, serde_json::from_slice(&response.body).unwrap_or(Value::Null))
}

#[test]
fn an_image_trigger_fires_with_the_tag_and_image_variables_only_when_the_condition_holds() {
    let app = &app();
    admin(
        app,
        "POST",
        "/api/v1/targets",
        json!({"name": "deploy", "kind": "http", "url": "https://deploy.example.com/hook"}),
    );
    let (status, trigger) = admin(
        app,
        "POST",
        "/api/v1/triggers",
        json!({
            "target": "deploy", "source": {"kind": "quay"}, "repository": "dgangaia/test",
            "trigger_type": "regular", "condition": "v\\d+"
        }),
    );
    assert_eq!(status, 201, "{trigger}");
    assert_eq!(trigger["trigger_type"], "regular");
    let url = trigger["hook_url"].as_str().unwrap().to_string();

    let (status, body) = quay_push(app, &url, &["latest"]);
    assert_eq!((status, body["matched"].clone()), (202, json!(false)), "{body}");
    assert!(app.outbound.sent.borrow().is_empty());

    let (status, body) = quay_push(app, &url, &["latest", "v2"]);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["deliveries"].as_array().unwrap().len(), 1, "only v2 meets the condition");
    let sent: Value = serde_json::from_slice(&app.outbound.last().unwrap().body).unwrap();
    assert_eq!(sent["ref"], "v2");
    assert_eq!(sent["variables"]["HOOKRELAY_EVENT"], "image_push");
    assert_eq!(sent["variables"]["HOOKRELAY_IMAGE"], "dgangaia/test:v2");
    assert_eq!(sent["variables"]["HOOKRELAY_TAG"], "v2");
    assert_eq!(sent["variables"]["HOOKRELAY_REPOSITORY"], "dgangaia/test");
}

#[test]
fn image_condition_input_is_validated() {
    let app = app();
    admin(
        &app,
        "POST",
        "/api/v1/targets",
        json!({"name": "deploy", "kind": "http", "url": "https://deploy.example.com/hook"}),
    );
    for (trigger_type, condition) in [("tag", ""), ("regular", "("), ("sometimes", "x")] {
        let body = json!({"target": "deploy", "source": {"kind": "harbor"}, "trigger_type": trigger_type, "condition": condition});
        assert_eq!(admin(&app, "POST", "/api/v1/triggers", body).0, 400, "{trigger_type} {condition}");
    }
}

#[test]
fn registries_replay_on_the_bodys_hash_except_quay_whose_pushes_repeat_their_body() {
    for (kind, file) in [
        ("dockerhub", "dockerhub/push.json"),
        ("acr", "dockerhub/push.json"),
        ("harbor", "harbor/push_artifact.json"),
        ("distribution", "distribution/push-envelope.json"),
        ("quay", "quay/repo_push.json"),
    ] {
        let body = fixture(file);
        let request = Request::new("POST", "/hooks/x")
            .with_body("application/json", body.clone())
            .with_header("Idempotency-Key", "k-1")
            .with_header("X-Request-Id", "r-1");
        let src = source(kind, &[]);
        let ids =
            sources::provider(kind).unwrap().replay_ids(&HookCall { request: &request, source: &src, now_ms: NOW_MS });
        let expected = if kind == "quay" { vec![] } else { vec![sources::ReplayId::content(&[&body])] };
        assert_eq!(ids, expected, "{kind}");
    }
}

// ---- bounds: what one request to an unsigned endpoint may cause (issue 14, F6)

/// A distribution registry endpoint and `triggers` image triggers on `library/test`.
fn distribution_endpoint(app: &TestApp, triggers: usize) -> String {
    let target = json!({"name": "deploy", "kind": "http", "url": "https://deploy.example.com/hook"});
    assert_eq!(admin(app, "POST", "/api/v1/targets", target).0, 201);
    for i in 0..triggers {
        let trigger =
            json!({"target": "deploy", "kind": "image", "repository": "library/test", "description": format!("t{i}")});
        assert_eq!(admin(app, "POST", "/api/v1/triggers", trigger).0, 201);
    }
    let (status, registry) = admin(app, "POST", "/api/v1/registries", json!({"name": "dist", "kind": "distribution"}));
    assert_eq!(status, 201, "{registry}");
    registry["hook_url"].as_str().unwrap().to_string()
}

/// The real envelope's manifest push, repeated once per (repository, tag).
fn envelope(pushes: &[(String, String)]) -> String {
    let real: Value = serde_json::from_slice(&fixture("distribution/push-envelope.json")).unwrap();
    let events: Vec<Value> = pushes
        .iter()
        .map(|(repository, tag)| {
            let mut event = real["events"][0].clone();
            event["target"]["repository"] = json!(repository);
            event["target"]["tag"] = json!(tag);
            event
        })
        .collect();
    json!({"events": events}).to_string()
}

fn tags(repository: &str, count: usize) -> Vec<(String, String)> {
    (0..count).map(|i| (repository.to_string(), format!("v{i}"))).collect()
}

fn post(app: &TestApp, url: &str, body: String) -> (u16, Value, usize) {
    let response = block_on(app.handle(Request::new("POST", url).with_body("application/json", body)));
    let queued = common::queue().waiting(hookrelay::ports::Lane::Deliveries).len();
    common::drain(app);
    (response.status, serde_json::from_slice(&response.body).unwrap_or(Value::Null), queued)
}

fn seen_markers(app: &TestApp) -> usize {
    app.ledger.targets.borrow().values().map(|rows| rows.seen.len()).sum()
}

#[test]
fn a_tag_or_repository_over_255_bytes_is_refused_naming_the_field() {
    let app = app();
    let url = distribution_endpoint(&app, 1);
    let (status, body, queued) = post(&app, &url, envelope(&[("library/test".into(), "t".repeat(256))]));
    assert_eq!((status, body["message"].clone(), queued), (400, json!("tag is longer than 255 bytes"), 0));
    let (status, body, _) = post(&app, &url, envelope(&[("r".repeat(256), "v1".into())]));
    assert_eq!((status, body["message"].clone()), (400, json!("repository is longer than 255 bytes")));
    assert!(app.outbound.sent.borrow().is_empty() && seen_markers(&app) == 0, "nothing forwarded or remembered");
    let (status, body, queued) = post(&app, &url, envelope(&[("library/test".into(), "t".repeat(255))]));
    assert_eq!((status, queued), (202, 1), "255 bytes is allowed: {body}");
    assert!(body["deliveries"][0]["ref"].as_str().unwrap().len() <= 64 + "…".len(), "the answer quotes it short");
}

#[test]
fn more_than_100_events_or_repositories_is_a_413_before_any_listing() {
    let app = app();
    let url = distribution_endpoint(&app, 1);
    app.store.reset_counts();
    let (status, body, queued) = post(&app, &url, envelope(&tags("library/test", 101)));
    assert_eq!((status, queued), (413, 0), "{body}");
    assert!(body["message"].as_str().unwrap().contains("at most 100 events"), "{body}");
    let repositories: Vec<(String, String)> = (0..101).map(|i| (format!("library/test{i}"), "v1".into())).collect();
    let (status, _, queued) = post(&app, &url, envelope(&repositories));
    assert_eq!((status, queued), (413, 0));
    assert_eq!(app.store.counts().lists, 0, "no repository index was listed");
    assert!(app.outbound.sent.borrow().is_empty() && seen_markers(&app) == 0);
    assert_eq!(post(&app, &url, envelope(&tags("library/test", 100))).0, 202, "100 is allowed");
}

#[test]
fn more_than_1000_deliveries_is_a_413_and_nothing_is_queued() {
    let app = app();
    let url = distribution_endpoint(&app, 11);
    let (status, body, queued) = post(&app, &url, envelope(&tags("library/test", 100)));
    assert_eq!((status, queued), (413, 0), "11 triggers × 100 tags: {body}");
    assert!(body["message"].as_str().unwrap().contains("at most 1000 deliveries"), "{body}");
    assert!(app.outbound.sent.borrow().is_empty() && seen_markers(&app) == 0);
}

#[test]
fn a_1000_delivery_answer_lists_100_and_counts_the_rest() {
    let app = app();
    let url = distribution_endpoint(&app, 10);
    let response = block_on(
        app.handle(Request::new("POST", &url).with_body("application/json", envelope(&tags("library/test", 100)))),
    );
    assert_eq!(response.status, 202);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!((body["deliveries"].as_array().unwrap().len(), body["not_listed"].clone()), (100, json!(900)));
    assert_eq!(common::queue().waiting(hookrelay::ports::Lane::Deliveries).len(), 1000, "all of them are queued");
}

#[test]
fn a_repository_in_another_case_is_listed_once_and_fires_its_triggers_once_per_event() {
    let app = app();
    let url = distribution_endpoint(&app, 1);
    app.store.reset_counts();
    let pushes = [("library/test".to_string(), "v1".to_string()), ("Library/Test".to_string(), "v2".to_string())];
    let (status, body, queued) = post(&app, &url, envelope(&pushes));
    assert_eq!((status, queued), (202, 2), "{body}");
}

#[test]
fn a_not_matched_answer_gives_five_short_reasons_and_counts_the_rest() {
    let app = app();
    let url = distribution_endpoint(&app, 0);
    let trigger = json!({"target": "deploy", "kind": "image", "repository": "library/test", "tags": ["release-*"]});
    assert_eq!(admin(&app, "POST", "/api/v1/triggers", trigger).0, 201);
    let long_tags: Vec<(String, String)> =
        (0..100).map(|i| ("library/test".into(), format!("{i}{}", "x".repeat(250)))).collect();
    let response = block_on(app.handle(Request::new("POST", &url).with_body("application/json", envelope(&long_tags))));
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!((response.status, body["matched"].clone()), (202, json!(false)));
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.ends_with("; and 95 more"), "{reason}");
    assert!(response.body.len() < 1024, "{} bytes", response.body.len());
}

#[test]
fn a_malformed_payload_is_not_echoed_at_length() {
    let app = app();
    let url = distribution_endpoint(&app, 1);
    let (status, body, _) = post(&app, &url, json!({"events": "e".repeat(100_000)}).to_string());
    assert_eq!(status, 400);
    let message = body["message"].as_str().unwrap();
    assert_eq!(
        message, "malformed JSON: invalid type at line 1 column 100012: expected a list",
        "no value of the caller's"
    );
}
