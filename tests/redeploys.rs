//! Registry endpoints, image triggers and the SWR- and ACK-compatible APIs through the router,
//! with in-memory ports: fan-out, conditions, enable, trigger_history, redeploys, KV cost.

mod common;
use common::fixture;

use hookrelay::auth::AdminDirectory;
use hookrelay::http::{Request, Response};
use hookrelay::ports::{block_on, FixedClock, Lane, SequenceRandom};
use hookrelay::testing::TestApp;
use serde_json::{json, Value};
use std::rc::Rc;

const SWR_TRIGGERS: &str = "/v2/manage/namespaces/harbor/repos/alpine/triggers";
const DEPLOYMENT: &str =
    r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"harbor.example.com/harbor/alpine:v1"}]}}}}"#;

fn app() -> TestApp {
    app_with_clock(Rc::new(FixedClock::new(1_700_000_000_000)))
}

fn app_with_clock(clock: Rc<FixedClock>) -> TestApp {
    let app = TestApp::new(
        Box::new(clock),
        Box::new(SequenceRandom::new(7)),
        Box::new(common::queue()),
        AdminDirectory::parse("alice:tok-a"),
    );
    let cluster =
        json!({"name": "prod", "kind": "kubernetes", "api_server": "https://k8s.example.com", "token": "sa-token"});
    assert_eq!(admin(&app, "POST", "/api/v1/targets", cluster).0, 201);
    app
}

/// Sends a request, then lets the queue consumer make the attempts it queued.
fn send(app: &TestApp, request: Request) -> (u16, Value) {
    let Response { status, body, .. } = block_on(app.handle(request));
    common::drain(app);
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// SWR's clients send `X-Auth-Token`.
fn admin(app: &TestApp, method: &str, path: &str, body: Value) -> (u16, Value) {
    let request =
        Request::new(method, path).with_header("X-Auth-Token", "tok-a").with_body("application/json", body.to_string());
    send(app, request)
}

fn swr_trigger(name: &str, application: &str, trigger_type: &str, condition: &str) -> Value {
    json!({
        "action": "update", "app_type": "deployments", "application": application, "cluster_name": "prod",
        "cluster_ns": "default", "condition": condition, "container": "", "enable": "true", "name": name,
        "trigger_mode": "cce", "trigger_type": trigger_type
    })
}

fn harbor_registry(app: &TestApp) -> String {
    let (status, registry) =
        admin(app, "POST", "/api/v1/registries", json!({"name": "harbor", "kind": "harbor", "secret": "auth-header"}));
    assert_eq!(status, 201, "{registry}");
    assert!(!registry.to_string().contains("auth-header"), "the secret is write-only");
    registry["hook_url"].as_str().unwrap().to_string()
}

/// The real Harbor PUSH_ARTIFACT payload, pushed as `tag` (the published example pushes by digest).
fn harbor_push(url: &str, tag: &str) -> Request {
    harbor_push_with(url, tag, "auth-header")
}

fn harbor_push_with(url: &str, tag: &str, authorization: &str) -> Request {
    let mut payload: Value = serde_json::from_slice(&fixture("harbor/push_artifact.json")).unwrap();
    payload["event_data"]["resources"][0]["tag"] = tag.into();
    Request::new("POST", url)
        .with_header("Authorization", authorization)
        .with_body("application/json", payload.to_string())
}

/// The PATCHes sent to the API server, as (path, body).
fn patches(app: &TestApp) -> Vec<(String, Value)> {
    let sent = app.outbound.sent.borrow();
    sent.iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| (r.url.replace("https://k8s.example.com", ""), serde_json::from_slice(&r.body).unwrap()))
        .collect()
}

#[test]
fn an_swr_trigger_sets_the_image_on_a_matching_harbor_push_only() {
    let app = app();
    let url = harbor_registry(&app);
    let (status, _) = admin(&app, "POST", SWR_TRIGGERS, swr_trigger("release", "web", "regular", r"v\d+\.\d+"));
    assert_eq!(status, 201);
    app.outbound.answer(200, DEPLOYMENT);
    let (status, answer) = send(&app, harbor_push(&url, "v1.2"));
    assert_eq!(status, 202, "{answer}");
    let sent = patches(&app);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "/apis/apps/v1/namespaces/default/deployments/web");
    assert_eq!(
        sent[0].1["spec"]["template"]["spec"]["containers"],
        json!([{"name": "app", "image": "harbor.example.com/harbor/alpine:v1.2"}])
    );
    let (status, answer) = send(&app, harbor_push(&url, "v1.2-rc1"));
    assert_eq!((status, answer["matched"].clone()), (202, json!(false)), "the regex must match the whole tag");
    let (status, _) = send(&app, harbor_push(&url, ""));
    assert_eq!(status, 202);
    assert_eq!(patches(&app).len(), 1, "neither a partial match nor an empty tag fires");
}

#[test]
fn a_registry_endpoint_refuses_a_wrong_secret_and_unknown_ids() {
    let app = app();
    let url = harbor_registry(&app);
    assert_eq!(send(&app, harbor_push_with(&url, "v1", "guess")).0, 401);
    assert_eq!(send(&app, harbor_push("/hooks/reg_00000000000000000000000000000000", "v1")).0, 404);
    assert!(app.outbound.sent.borrow().is_empty());
}

#[test]
fn one_push_fans_out_to_every_image_trigger_of_the_repository_at_constant_kv_cost() {
    let app = app();
    let url = harbor_registry(&app);
    for (name, application) in [("web", "web"), ("worker", "worker")] {
        assert_eq!(admin(&app, "POST", SWR_TRIGGERS, swr_trigger(name, application, "tag", " v2 ; v3 ")).0, 201);
    }
    // Image triggers on other repositories are never read.
    for i in 0..50 {
        let path = format!("/v2/manage/namespaces/other/repos/app{i}/triggers");
        assert_eq!(admin(&app, "POST", &path, swr_trigger("t", "web", "all", ".*")).0, 201);
    }
    app.store.reset_counts();
    app.outbound.answer(200, DEPLOYMENT);
    app.outbound.answer(200, "{}");
    app.outbound.answer(200, DEPLOYMENT);
    let answer = block_on(app.handle(harbor_push(&url, "v3")));
    assert_eq!(answer.status, 202);
    let counts = app.store.counts();
    assert_eq!(counts.lists, 1, "one index listing for the pushed repository");
    assert_eq!(
        counts.reads, 4,
        "the registry, the two triggers and their one target, read once (the body's hash goes to the ledger)"
    );
    assert_eq!(counts.writes, 0, "no replay marker in KV");
    app.store.reset_counts();
    assert_eq!(common::drain(&app), 2, "a delivery per trigger");
    let counts = app.store.counts();
    assert_eq!(
        (counts.reads, counts.writes),
        (4, 0),
        "each delivery: its trigger and target; the record is in the ledger"
    );
    let mut paths: Vec<String> = patches(&app).into_iter().map(|(path, _)| path).collect();
    paths.sort();
    assert_eq!(
        paths,
        vec!["/apis/apps/v1/namespaces/default/deployments/web", "/apis/apps/v1/namespaces/default/deployments/worker"]
    );
}

#[test]
fn a_disabled_trigger_does_not_fire_until_enabled_again() {
    let app = app();
    let url = harbor_registry(&app);
    let mut disabled = swr_trigger("web", "web", "all", ".*");
    disabled["enable"] = "false".into();
    assert_eq!(admin(&app, "POST", SWR_TRIGGERS, disabled).0, 201);
    let (status, answer) = send(&app, harbor_push(&url, "v1"));
    assert_eq!((status, answer["matched"].clone()), (202, json!(false)));
    assert!(app.outbound.sent.borrow().is_empty());
    let (status, _) = admin(&app, "PATCH", &format!("{SWR_TRIGGERS}/web"), json!({"enable": "true"}));
    assert_eq!(status, 201);
    app.outbound.answer(200, DEPLOYMENT);
    assert_eq!(send(&app, harbor_push(&url, "v1")).0, 202);
    assert_eq!(patches(&app).len(), 1);
}

#[test]
fn trigger_history_records_success_and_failure_newest_first() {
    let clock = Rc::new(FixedClock::new(1_700_000_000_000));
    let app = app_with_clock(clock.clone());
    let url = harbor_registry(&app);
    assert_eq!(admin(&app, "POST", SWR_TRIGGERS, swr_trigger("web", "web", "all", ".*")).0, 201);
    app.outbound.answer(200, DEPLOYMENT);
    assert_eq!(send(&app, harbor_push(&url, "v1")).0, 202);
    clock.advance(1_000);
    app.outbound.answer(404, r#"{"kind":"Status","message":"deployments.apps \"web\" not found"}"#);
    assert_eq!(send(&app, harbor_push(&url, "v2")).0, 202, "a 404 is not retried");
    let (status, trigger) = admin(&app, "GET", &format!("{SWR_TRIGGERS}/web"), Value::Null);
    assert_eq!(status, 200, "{trigger}");
    assert_eq!((trigger["creator_name"].clone(), trigger["enable"].clone()), (json!("alice"), json!("true")));
    let history = trigger["trigger_history"].as_array().unwrap();
    let results: Vec<(&str, &str)> =
        history.iter().map(|h| (h["result"].as_str().unwrap(), h["tag"].as_str().unwrap())).collect();
    assert_eq!(results, vec![("failed", "v2"), ("success", "v1")]);
    assert!(history[0]["detail"].as_str().unwrap().contains("not found"));
    assert_eq!((history[1]["cluster_name"].clone(), history[1]["application"].clone()), (json!("prod"), json!("web")));
}

/// The issue's scenario, across two triggers on one deployment: v1's PATCH gets 503, v2 is pushed
/// 4 s later and delivered, and v1's retry, when it comes, sends nothing: the cluster ends on v2.
#[test]
fn an_older_image_is_never_rolled_out_after_a_newer_one_whichever_trigger_sent_it() {
    let clock = Rc::new(FixedClock::new(1_700_000_000_000));
    let app = app_with_clock(clock.clone());
    let url = harbor_registry(&app);
    assert_eq!(admin(&app, "POST", SWR_TRIGGERS, swr_trigger("web-v1", "web", "tag", "v1")).0, 201);
    assert_eq!(admin(&app, "POST", SWR_TRIGGERS, swr_trigger("web-v2", "web", "tag", "v2")).0, 201);
    let pushed = |tag: &str| {
        let answer = block_on(app.handle(harbor_push(&url, tag)));
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(answer.status, 202, "{body}");
        body["deliveries"][0]["delivery_id"].as_str().unwrap().to_string()
    };
    let v1 = pushed("v1");
    app.outbound.answer(200, DEPLOYMENT);
    app.outbound.answer(503, "{}");
    let message = common::queue().take(Lane::Deliveries).remove(0);
    let settled = block_on(hookrelay::relay::consume(&app, &message.body, 1));
    let hookrelay::relay::Settlement::Retry { delay_seconds } = settled else { panic!("{settled:?}") };
    clock.advance(4_000);
    let v2 = pushed("v2");
    app.outbound.answer(200, DEPLOYMENT);
    app.outbound.answer(200, "{}");
    assert_eq!(common::drain(&app), 1, "v2");
    common::queue().redeliver(message, delay_seconds);
    assert_eq!(common::drain(&app), 1, "v1's retry, handed over");
    let images: Vec<String> = patches(&app)
        .iter()
        .map(|(_, patch)| patch["spec"]["template"]["spec"]["containers"][0]["image"].to_string())
        .collect();
    assert_eq!(images.len(), 2, "v1's failed PATCH, then v2's: {images:?}");
    assert!(images[1].contains(":v2"), "the cluster ends on v2: {images:?}");
    let (_, record) = admin(&app, "GET", &format!("/api/v1/deliveries/{v1}"), Value::Null);
    assert_eq!(
        (record["state"].clone(), record["superseded_by"].clone()),
        (json!("superseded"), json!(v2)),
        "{record}"
    );
    let (_, history) = admin(&app, "GET", &format!("{SWR_TRIGGERS}/web-v1"), Value::Null);
    assert_eq!(history["trigger_history"][0]["result"], "superseded", "{history}");
    let lines = app.log.lines.borrow();
    let said = lines.iter().find(|line| line["type"] == "superseded").expect("a superseded log line");
    assert_eq!((said["delivery_id"].clone(), said["superseded_by"].clone()), (json!(v1), json!(v2)));
    drop(lines);
    let listed = format!("/api/v1/triggers/{}/deliveries?state=superseded", v1.split('-').next().unwrap());
    assert_eq!(admin(&app, "GET", &listed, Value::Null).1["deliveries"][0]["id"], json!(v1));
}

#[test]
fn the_swr_api_answers_as_swr_does() {
    let app = app();
    assert_eq!(admin(&app, "POST", SWR_TRIGGERS, swr_trigger("web", "web", "all", ".*")).0, 201);
    let (status, dup) = admin(&app, "POST", SWR_TRIGGERS, swr_trigger("web", "web", "all", ".*"));
    assert_eq!(status, 409);
    assert!(dup["error_msg"].as_str().unwrap().starts_with("name"));
    assert_eq!(dup["error_code"], "SVCSTG.SWR.409", "SWR's error shape: {dup}");
    let mut missing = swr_trigger("x", "web", "all", ".*");
    missing["cluster_name"] = "nowhere".into();
    let (status, err) = admin(&app, "POST", SWR_TRIGGERS, missing);
    assert_eq!(status, 404);
    assert!(err["error_msg"].as_str().unwrap().starts_with("cluster_name"));
    for (trigger_type, condition, field) in
        [("regular", "(", "condition"), ("tag", " ; ", "condition"), ("any", ".*", "trigger_type")]
    {
        let (status, err) = admin(&app, "POST", SWR_TRIGGERS, swr_trigger("x", "web", trigger_type, condition));
        assert_eq!(status, 400, "{trigger_type} {condition}");
        assert!(err["error_msg"].as_str().unwrap().starts_with(field), "{err}");
    }
    let (_, listed) = admin(&app, "GET", SWR_TRIGGERS, Value::Null);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["cluster_ns"], "default");
    // `$` stands for `/` in the repository segment.
    let nested = "/v2/manage/namespaces/group/repos/team$api/triggers";
    assert_eq!(admin(&app, "POST", nested, swr_trigger("web", "api", "all", ".*")).0, 201);
    let (_, all) = admin(&app, "GET", "/api/v1/triggers", Value::Null);
    let repositories: Vec<&str> =
        all["triggers"].as_array().unwrap().iter().map(|t| t["repository"].as_str().unwrap()).collect();
    assert_eq!(repositories, vec!["harbor/alpine", "group/team/api"]);
    // Names and repositories that a path could never address are refused.
    let (status, err) = admin(&app, "POST", SWR_TRIGGERS, swr_trigger("..", "web", "all", ".*"));
    assert_eq!((status, err["error_msg"].as_str()), (400, Some("name must not be '.' or '..'")));
    let dotted = "/v2/manage/namespaces/group/repos/team$../triggers";
    let (status, err) = admin(&app, "POST", dotted, swr_trigger("web", "api", "all", ".*"));
    assert_eq!(status, 400);
    assert!(err["error_msg"].as_str().unwrap().starts_with("repository"), "{err}");
    assert_eq!(admin(&app, "DELETE", &format!("{SWR_TRIGGERS}/web"), Value::Null).0, 204);
    assert_eq!(admin(&app, "GET", &format!("{SWR_TRIGGERS}/web"), Value::Null).0, 404);
}

#[test]
fn an_ack_deployment_trigger_restarts_on_its_token_and_a_bad_token_is_404() {
    let app = app();
    let create = json!({"cluster_id": "prod", "project_id": "default/web", "action": "redeploy"});
    let (status, created) = admin(&app, "POST", "/triggers", create);
    assert_eq!(status, 200, "{created}");
    assert_eq!((created["type"].clone(), created["action"].clone()), (json!("deployment"), json!("redeploy")));
    let token = created["token"].as_str().unwrap();
    let (status, _) = send(&app, Request::new("GET", &format!("/hook/trigger?token={token}")));
    assert_eq!(status, 200);
    let sent = patches(&app);
    assert_eq!(sent[0].0, "/apis/apps/v1/namespaces/default/deployments/web");
    assert!(sent[0].1["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
    assert_eq!(send(&app, Request::new("POST", "/hook/trigger?token=hrtt_nope")).0, 404);
    let (status, described) = admin(&app, "GET", "/clusters/prod/triggers?Namespace=default&Name=web", Value::Null);
    assert_eq!(status, 200);
    assert_eq!(described[0]["id"], created["id"]);
    assert_eq!(described[0]["token"], created["token"], "its owner sees the full token, as ACK's describe shows it");
    let revoke = format!("/triggers/revoke/{}", created["id"].as_str().unwrap());
    assert_eq!(admin(&app, "DELETE", &revoke, Value::Null), (200, json!({})));
    assert_eq!(send(&app, Request::new("GET", &format!("/hook/trigger?token={token}"))).0, 404);
}

/// An ACK application trigger for container `app`, whose images come from `shop/web` on
/// registry.example.com; its invocation URL.
fn ack_application_trigger(app: &TestApp) -> String {
    let create = json!({"project_id": "default/web", "action": "redeploy", "type": "application",
        "container": "app", "image_repository": "registry.example.com/shop/web"});
    let (status, created) = admin(app, "POST", "/clusters/prod/triggers", create);
    assert_eq!(status, 200, "{created}");
    assert_eq!((created["container"].as_str(), created["type"].as_str()), (Some("app"), Some("application")));
    format!("/hook/trigger?token={}", created["token"].as_str().unwrap())
}

/// The body of ACK's application trigger call: these containers' new images.
fn ack_application_call(url: &str, containers: Value) -> Request {
    let body = json!({"resource": {"deployment": {"metadata": {"name": "web"}, "spec": {"template": {"spec": {
        "containers": containers}}}}}});
    Request::new("POST", url).with_body("application/json", body.to_string())
}

fn assert_nothing_sent_or_stored(app: &TestApp) {
    assert!(app.outbound.sent.borrow().is_empty(), "nothing was sent");
    assert!(app.store.keys().iter().all(|k| !k.starts_with("delivery:")), "no delivery was stored");
}

#[test]
fn an_ack_application_trigger_sets_the_sent_image_then_restarts() {
    let app = app();
    let url = ack_application_trigger(&app);
    let containers = json!([{"name": "app", "image": "registry.example.com/shop/web:v9"}]);
    let (status, _) = send(&app, ack_application_call(&url, containers));
    assert_eq!(status, 200);
    let template = patches(&app)[0].1["spec"]["template"].clone();
    assert_eq!(template["spec"]["containers"], json!([{"name": "app", "image": "registry.example.com/shop/web:v9"}]));
    assert!(template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
    let (_, typed) = admin(&app, "GET", "/triggers/prod?Namespace=default&Name=web&Type=deployment", Value::Null);
    assert_eq!(typed, json!([]), "Type filters");
}

/// Issue 14, F8: the red team set container `sidecar` to `evil.example/backdoor:latest` through a
/// trigger made for container `app`.
#[test]
fn an_ack_application_token_sets_no_other_container_and_no_image_from_another_repository() {
    let app = app();
    let url = ack_application_trigger(&app);
    for (containers, why) in [
        (json!([{"name": "sidecar", "image": "evil.example/backdoor:latest"}]), "containers[].name 'sidecar'"),
        (json!([{"name": "app", "image": "evil.example/backdoor:latest"}]), "image repository"),
        (json!([{"name": "app", "image": "evil.example/shop/web:v9"}]), "image repository"),
        (json!([{"name": "app", "image": "shop/web:v9"}]), "image repository"),
        (
            json!([{"name": "app", "image": "registry.example.com/shop/web:v9"},
            {"name": "sidecar", "image": "registry.example.com/shop/web:v9"}]),
            "containers[].name 'sidecar'",
        ),
    ] {
        let (status, err) = send(&app, ack_application_call(&url, containers.clone()));
        assert_eq!(status, 400, "{containers}");
        assert!(err["message"].as_str().unwrap().contains(why), "{containers}: {err}");
        assert_nothing_sent_or_stored(&app);
    }
}

#[test]
fn only_an_ack_application_trigger_with_a_container_and_repository_takes_caller_images() {
    let app = app();
    let attack = json!([{"name": "app", "image": "evil.example/backdoor:latest"}]);
    // An application trigger made by ACK's own create body names neither.
    let bare = json!({"project_id": "default/web", "action": "redeploy", "type": "application"});
    // A native set-image token trigger for container `app`, fired through ACK's route.
    let native = json!({"target": "prod", "workload": {"namespace": "default", "name": "web", "container": "app",
        "action": "set-image", "image_repository": "evil.example/backdoor"}});
    let deployment = json!({"project_id": "default/web", "action": "redeploy"});
    let mut tokens = Vec::new();
    for (path, create) in
        [("/clusters/prod/triggers", bare), ("/api/v1/triggers", native), ("/clusters/prod/triggers", deployment)]
    {
        let (status, created) = admin(&app, "POST", path, create);
        assert!(status == 200 || status == 201, "{created}");
        tokens.push(created["token"].as_str().unwrap().to_string());
    }
    for token in tokens {
        let (status, err) = send(&app, ack_application_call(&format!("/hook/trigger?token={token}"), attack.clone()));
        assert_eq!(status, 400, "{err}");
        assert!(err["message"].as_str().unwrap().contains("container images"), "{err}");
        assert_nothing_sent_or_stored(&app);
    }
    let with_deployment = json!({"project_id": "default/web", "action": "redeploy", "container": "app"});
    let (status, err) = admin(&app, "POST", "/clusters/prod/triggers", with_deployment);
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().contains("application triggers"), "{err}");
}

#[test]
fn the_ack_api_refuses_bad_input_with_400_and_unknown_clusters_with_404() {
    let app = app();
    for (body, field) in [
        (json!({"cluster_id": "prod", "project_id": "redeploy", "action": "redeploy"}), "project_id"),
        (json!({"cluster_id": "prod", "project_id": "default/web", "action": "scale"}), "action"),
        (json!({"cluster_id": "prod", "project_id": "default/web", "action": "redeploy", "type": "job"}), "type"),
        (json!({"project_id": "default/web", "action": "redeploy"}), "cluster_id"),
    ] {
        let (status, err) = admin(&app, "POST", "/triggers", body);
        assert_eq!(status, 400, "{field}");
        assert!(err["message"].as_str().unwrap().starts_with(field), "{err}");
    }
    let unknown = json!({"cluster_id": "staging", "project_id": "default/web", "action": "redeploy"});
    assert_eq!(admin(&app, "POST", "/triggers", unknown).0, 404);
    assert_eq!(admin(&app, "GET", "/clusters/prod/triggers?Name=web", Value::Null).0, 400, "Namespace is required");
    assert!(app.store.keys().iter().all(|k| !k.starts_with("trigger:")), "nothing was stored");
}

#[test]
fn registries_are_managed_and_only_container_registries_qualify() {
    let app = app();
    let (status, err) = admin(&app, "POST", "/api/v1/registries", json!({"name": "gh", "kind": "github"}));
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().contains("not a container registry"));
    let (status, quay) = admin(&app, "POST", "/api/v1/registries", json!({"name": "quay", "kind": "quay"}));
    assert_eq!(status, 201);
    let id = quay["id"].as_str().unwrap();
    assert!(id.starts_with("reg_") && id.len() == 36, "unguessable: 128 random bits");
    let path = format!("/api/v1/registries/{id}");
    let (status, renamed) = admin(&app, "PATCH", &path, json!({"name": "quay.io", "secret": "s3"}));
    assert_eq!(
        (status, renamed["secret_set"].clone(), renamed["hook_url"].clone()),
        (200, json!(true), quay["hook_url"].clone())
    );
    let (_, listed) = admin(&app, "GET", "/api/v1/registries", Value::Null);
    assert_eq!(listed[0]["name"], "quay.io");
    assert_eq!(admin(&app, "DELETE", &path, Value::Null).0, 204);
    assert_eq!(admin(&app, "GET", &path, Value::Null).0, 404);
}

#[test]
fn native_image_triggers_need_a_repository_and_never_get_a_token() {
    let app = app();
    let (status, err) = admin(&app, "POST", "/api/v1/triggers", json!({"target": "prod", "kind": "image"}));
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().starts_with("repository"));
    let image = json!({"target": "prod", "kind": "image", "repository": "harbor/alpine",
        "workload": {"namespace": "default", "name": "web", "action": "set-image"}});
    let (status, created) = admin(&app, "POST", "/api/v1/triggers", image);
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["kind"].clone(), created.get("token")), (json!("image"), None));
    assert_eq!(created["events"], json!(["image_push"]));
    let path = format!("/api/v1/triggers/{}", created["id"].as_str().unwrap());
    assert_eq!(admin(&app, "PATCH", &path, json!({"repository": null})).0, 400, "an image trigger keeps a repository");
    let url = harbor_registry(&app);
    app.outbound.answer(200, DEPLOYMENT);
    assert_eq!(send(&app, harbor_push(&url, "v5")).0, 202);
    assert_eq!(patches(&app).len(), 1);
}
