//! KV operations per call, counted by the in-memory store through the router, for each path: a
//! token call, a git webhook (the edge, then the queue consumer), a registry push fanned out to two
//! image triggers, and a scheduled tick. `cargo bench --bench kv_cost` prints one JSON line each.

use hookrelay::auth::AdminDirectory;
use hookrelay::http::Request;
use hookrelay::ports::{block_on, FixedClock, Lane, MemoryQueue, SequenceRandom};
use hookrelay::signature::hmac_sha256;
use hookrelay::store::OperationCounts;
use hookrelay::testing::TestApp;
use hookrelay::{relay, schedules};
use serde_json::{json, Value};
use std::rc::Rc;

type Bench = TestApp;

const SECRET: &str = "bench-secret";
/// 2026-11-23T00:30:00Z: the schedule below is due.
const NOW: u64 = 1_795_393_800_000;

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

fn app(queue: &Rc<MemoryQueue>) -> Bench {
    TestApp::new(
        Box::new(FixedClock::new(NOW)),
        Box::new(SequenceRandom::new(1)),
        Box::new(queue.clone()),
        AdminDirectory::parse("alice:tok-a"),
    )
}

fn admin(app: &Bench, path: &str, body: Value) -> Value {
    let request = Request::new("POST", path)
        .with_header("authorization", "Bearer tok-a")
        .with_body("application/json", body.to_string());
    let response = block_on(app.handle(request));
    assert!(response.status < 300, "{path}: {}", String::from_utf8_lossy(&response.body));
    serde_json::from_slice(&response.body).expect("json")
}

/// What one path costs: KV operations, and requests and SQLite rows in the targets' ledgers.
struct Cost {
    kv: OperationCounts,
    ledger_requests: u32,
    rows_read: u64,
    rows_written: u64,
}

/// The counts of `f`, from zeroed counters.
fn count(app: &Bench, f: impl FnOnce()) -> Cost {
    app.store.reset_counts();
    app.ledger.requests.borrow_mut().clear();
    app.ledger.rows_read.set(0);
    app.ledger.rows_written.set(0);
    f();
    Cost {
        kv: app.store.counts(),
        ledger_requests: app.ledger.requests.borrow().values().sum(),
        rows_read: app.ledger.rows_read.get(),
        rows_written: app.ledger.rows_written.get(),
    }
}

/// Consumes every queued delivery, as the platform's consumer would.
fn drain(app: &Bench, queue: &MemoryQueue) -> usize {
    let messages = queue.take(Lane::Deliveries);
    for message in &messages {
        let settled = block_on(relay::consume(app, &message.body, message.handover));
        assert_eq!(settled, relay::Settlement::Ack, "the bench's targets take every call");
    }
    messages.len()
}

fn print(path: &str, part: &str, cost: Cost, deliveries: usize) {
    let Cost { kv, ledger_requests, rows_read, rows_written } = cost;
    println!(
        r#"BENCH {{"path":"{path}","part":"{part}","reads":{},"writes":{},"lists":{},"deletes":{},"do_requests":{ledger_requests},"rows_read":{rows_read},"rows_written":{rows_written},"deliveries":{deliveries}}}"#,
        kv.reads, kv.writes, kv.lists, kv.deletes
    );
}

fn main() {
    let queue = Rc::new(MemoryQueue::default());
    let app = app(&queue);
    admin(&app, "/api/v1/targets", json!({"name": "ci", "kind": "http", "url": "https://ci.example.com/hook"}));
    admin(
        &app,
        "/api/v1/targets",
        json!({"name": "prod", "kind": "kubernetes", "api_server": "https://k8s.example.com", "token": "sa"}),
    );

    // A token call (GitLab's form).
    let token = admin(&app, "/api/v1/triggers", json!({"target": "ci"}))["token"].as_str().unwrap().to_string();
    let call = Request::new("POST", "/api/v4/projects/ci/trigger/pipeline")
        .with_body("application/x-www-form-urlencoded", format!("token={token}&ref=main"));
    print("token call", "inline", count(&app, || assert_eq!(block_on(app.handle(call)).status, 200)), 1);

    // A signed GitHub push: the edge answers, the consumer delivers.
    let hook =
        admin(&app, "/api/v1/triggers", json!({"target": "ci", "source": {"kind": "github", "secrets": [SECRET]}}));
    let body = fixture("github/push.json");
    let signature = format!("sha256={}", hex::encode(hmac_sha256(SECRET.as_bytes(), &[&body])));
    let push = Request::new("POST", hook["hook_url"].as_str().unwrap())
        .with_body("application/json", body)
        .with_header("X-Hub-Signature-256", &signature)
        .with_header("X-GitHub-Event", "push")
        .with_header("X-GitHub-Delivery", "bench-1");
    print("git webhook", "edge", count(&app, || assert_eq!(block_on(app.handle(push)).status, 202)), 0);
    let mut delivered = 0;
    print("git webhook", "consumer", count(&app, || delivered = drain(&app, &queue)), delivered);

    // A Harbor push fanned out to two image triggers of its repository.
    let registry = admin(&app, "/api/v1/registries", json!({"name": "harbor", "kind": "harbor", "secret": SECRET}));
    for name in ["web", "worker"] {
        let trigger = json!({"target": "prod", "kind": "image", "repository": "harbor/alpine", "workload": {"namespace": "default", "name": name}});
        admin(&app, "/api/v1/triggers", trigger);
    }
    let image_push = Request::new("POST", registry["hook_url"].as_str().unwrap())
        .with_header("Authorization", SECRET)
        .with_body("application/json", fixture("harbor/push_artifact.json"));
    print("registry fan-out to 2", "edge", count(&app, || assert_eq!(block_on(app.handle(image_push)).status, 202)), 0);
    print("registry fan-out to 2", "consumer", count(&app, || delivered = drain(&app, &queue)), delivered);

    // A scheduled trigger's alarm at its due minute.
    let nightly = json!({"target": "ci", "source": {"kind": "schedule", "cron": "30 0 * * *", "ref": "main"}});
    let id = admin(&app, "/api/v1/triggers", nightly)["id"].as_str().unwrap().to_string();
    let tick = count(&app, || assert!(block_on(schedules::fire(&app, &id, NOW)).expect("fires")));
    print("scheduled tick", "alarm", tick, 0);
    print("scheduled tick", "consumer", count(&app, || delivered = drain(&app, &queue)), delivered);
}
