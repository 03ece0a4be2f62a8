//! The webhook hot path, natively: verify, parse, filter and build the outbound request for each
//! real fixture, next to its floor (a bare HMAC-SHA256 over the same bytes) in the same run.
//! A dev-only harness (`harness = false`): medians over many samples, no timed assertions.
//! `cargo bench --bench hot_path` prints a table, then one JSON line per case for bench/run.mjs.

use hookrelay::http::Request;
use hookrelay::model::{Payload, Target, Trigger};
use hookrelay::signature::{base64_encode, hmac_sha256};
use hookrelay::sources::{self, standard::signing_key, HookCall};
use std::hint::black_box;
use std::time::Instant;

const SECRET: &str = "bench-secret";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW_MS: u64 = 1_700_000_000_000;
const SAMPLES: usize = 31;

struct Case {
    name: &'static str,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    trigger: Trigger,
    target: Target,
    /// The key the floor's HMAC uses.
    key: Vec<u8>,
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

fn trigger(source: &str, extra: &str) -> Trigger {
    let text = format!(
        r#"{{"id":"t1","target":"g1","owner":"bench","created_at":0,"updated_at":0,"source":{source}{extra}}}"#
    );
    serde_json::from_str(&text).expect("trigger")
}

fn target(spec: &str) -> Target {
    serde_json::from_str(&format!(r#"{{"id":"g1","name":"ci","created_at":0,"updated_at":0,{spec}}}"#)).expect("target")
}

fn gitlab_target() -> Target {
    target(r#""kind":"gitlab","url":"https://gitlab.example.com","project":"9","token":"glptt-bench""#)
}

fn h(name: &str, value: String) -> (String, String) {
    (name.to_ascii_lowercase(), value)
}

fn cases() -> Vec<Case> {
    let github = fixture("github/push.json");
    let gitlab = fixture("gitlab/push.json");
    let harbor = fixture("harbor/push_artifact.json");
    let secret = SECRET.as_bytes().to_vec();
    let (id, ts) = ("msg_1", (NOW_MS / 1000).to_string());
    let standard_mac = hmac_sha256(&signing_key(WHSEC), &[id.as_bytes(), b".", ts.as_bytes(), b".", &gitlab]);
    vec![
        Case {
            name: "GitHub push",
            headers: vec![
                h("X-Hub-Signature-256", format!("sha256={}", hex::encode(hmac_sha256(&secret, &[&github])))),
                h("X-GitHub-Event", "push".into()),
                h("X-GitHub-Delivery", "d-1".into()),
            ],
            body: github,
            trigger: trigger(&format!(r#"{{"kind":"github","secrets":["{SECRET}"]}}"#), ""),
            target: gitlab_target(),
            key: secret.clone(),
        },
        Case {
            name: "GitLab push",
            headers: vec![h("X-Gitlab-Token", SECRET.into()), h("X-Gitlab-Event", "Push Hook".into())],
            body: gitlab.clone(),
            trigger: trigger(&format!(r#"{{"kind":"gitlab","secrets":["{SECRET}"]}}"#), ""),
            target: gitlab_target(),
            key: secret.clone(),
        },
        Case {
            name: "Harbor push",
            headers: vec![h("Authorization", SECRET.into())],
            body: harbor,
            trigger: trigger(
                &format!(r#"{{"kind":"harbor","secrets":["{SECRET}"]}}"#),
                r#","events":["image_push"],"workload":{"namespace":"prod","name":"web"}"#,
            ),
            target: target(r#""kind":"kubernetes","api_server":"https://k8s.example.com","token":"sa-bench""#),
            key: secret,
        },
        Case {
            name: "Standard Webhooks",
            headers: vec![
                h("webhook-id", id.into()),
                h("webhook-timestamp", ts),
                h("webhook-signature", format!("v1,{}", base64_encode(&standard_mac))),
            ],
            body: gitlab,
            trigger: trigger(&format!(r#"{{"kind":"standard","secrets":["{WHSEC}"]}}"#), ""),
            target: gitlab_target(),
            key: signing_key(WHSEC),
        },
    ]
}

/// Verify, parse, filter, and build the request of every matching event: the core of a webhook.
fn hot_path(case: &Case, request: &Request) -> usize {
    let source = case.trigger.source.as_ref().and_then(|source| source.as_provider()).expect("a hook trigger");
    let provider = sources::provider(&source.kind).expect("a provider");
    let call = HookCall { request, source, now_ms: NOW_MS };
    provider.verify(&call).expect("verifies");
    let events = provider.parse(&call).expect("parses");
    let mut built = 0;
    for event in &events {
        if case.trigger.filter.check(event).is_ok() {
            let payload = Payload { content_type: "application/json".into(), body: request.body.clone() };
            let fired = hookrelay::hooks::call_for(&case.trigger, event, payload);
            built += case.target.spec.kind().build(&fired).expect("builds").body.len();
        }
    }
    assert!(built > 0, "{}: nothing was built", case.name);
    built
}

/// The median of `SAMPLES` samples, each the mean ns of enough runs of `f` to last ~5 ms; and the
/// spread (max - min over the middle half) as a fraction of the median.
fn measure(mut f: impl FnMut()) -> (f64, f64) {
    let start = Instant::now();
    let mut calibration = 0u32;
    while start.elapsed().as_millis() < 5 {
        f();
        calibration += 1;
    }
    let runs = calibration.max(1);
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..runs {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(runs)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    let median = samples[SAMPLES / 2];
    let spread = (samples[3 * SAMPLES / 4] - samples[SAMPLES / 4]) / median;
    (median, spread)
}

/// Where a GitHub push's CPU goes, part by part, beside the whole path: the signature, the parse,
/// the filter and request build, opening the sealed trigger record (KV returns it sealed), and
/// the request to the target's ledger (the delivery with its payload), and the ledger object's own
/// work on it (parsing it, deciding, and the rows it writes, kept in memory). Storage itself is left
/// out.
fn breakdown(case: &Case, request: &Request) -> Vec<(&'static str, f64)> {
    let source = case.trigger.source.as_ref().and_then(|source| source.as_provider()).expect("a hook trigger");
    let provider = sources::provider(&source.kind).expect("a provider");
    let call = HookCall { request, source, now_ms: NOW_MS };
    let events = provider.parse(&call).expect("parses");
    let keyring = hookrelay::crypto::Keyring::parse("bench:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    let sealed = keyring.seal(&serde_json::to_string(&case.trigger).unwrap(), [7; 24]).unwrap();
    let payload = Payload { content_type: "application/json".into(), body: request.body.clone() };
    let fired = hookrelay::hooks::call_for(&case.trigger, &events[0], payload);
    let delivery = hookrelay::model::Delivery::new("t1", "g1", "0000000001abcd", fired.clone(), NOW_MS);
    let cause = hookrelay::relay::event(vec!["hook|t1|1|id:a".into(), "hook|t1|1|content:b".into()]);
    let arrival = hookrelay::relay::arrival(&case.target, &case.trigger, delivery, cause);
    let envelope = hookrelay::ledger::Envelope {
        now_ms: NOW_MS,
        random: 0,
        base_seconds: 30,
        max_attempts: 10,
        retention_ms: 7 * 86_400_000,
        budget_bytes: 100_000_000,
        refused: String::new(),
        request: hookrelay::ledger::Request::Accept { arrivals: vec![arrival], attempt_now: false },
    };
    let envelope_json = serde_json::to_string(&envelope).unwrap();
    let accept = || {
        let envelope: hookrelay::ledger::Envelope = serde_json::from_str(&envelope_json).unwrap();
        let mut rows = hookrelay::ledger::MemoryRows::default();
        let answer = hookrelay::ledger::serve(&mut rows, envelope).unwrap();
        drop(black_box(serde_json::to_string(&answer)));
    };
    vec![
        ("signature (verify)", measure(|| drop(black_box(provider.verify(black_box(&call))))).0),
        ("parse into events", measure(|| drop(black_box(provider.parse(black_box(&call))))).0),
        (
            "filter and build the request",
            measure(|| {
                black_box(case.trigger.filter.check(&events[0]).is_ok());
                black_box(case.target.spec.kind().build(black_box(&fired)).map(|r| r.body.len()).ok());
            })
            .0,
        ),
        ("open the sealed trigger record", measure(|| drop(black_box(keyring.open(black_box(sealed.clone()))))).0),
        ("serialize the ledger request", measure(|| drop(black_box(serde_json::to_string(black_box(&envelope))))).0),
        ("the ledger object: accept (rows in memory)", measure(accept).0),
    ]
}

fn main() {
    println!("{:<18} {:>8} {:>12} {:>12} {:>10}", "payload", "bytes", "path ns", "floor ns", "path/floor");
    let mut lines = Vec::new();
    for case in cases() {
        let mut request = Request::new("POST", "/hooks/t1").with_body("application/json", case.body.clone());
        for (name, value) in &case.headers {
            request = request.with_header(name, value);
        }
        let (path, path_spread) = measure(|| {
            black_box(hot_path(&case, black_box(&request)));
        });
        let (floor, floor_spread) = measure(|| {
            black_box(hmac_sha256(black_box(&case.key), &[black_box(&case.body)]));
        });
        let ratio = path / floor;
        println!("{:<18} {:>8} {:>12.0} {:>12.0} {:>10.2}", case.name, case.body.len(), path, floor, ratio);
        lines.push(format!(
            r#"{{"case":"{}","bytes":{},"path_ns":{path:.0},"floor_ns":{floor:.0},"ratio":{ratio:.3},"path_spread":{path_spread:.3},"floor_spread":{floor_spread:.3},"samples":{SAMPLES}}}"#,
            case.name,
            case.body.len()
        ));
    }
    let github = &cases()[0];
    let mut request = Request::new("POST", "/hooks/t1").with_body("application/json", github.body.clone());
    for (name, value) in &github.headers {
        request = request.with_header(name, value);
    }
    for (part, ns) in breakdown(github, &request) {
        println!("{:<34} {:>10.0} ns", part, ns);
        lines.push(format!(r#"{{"case":"{}","part":"{part}","ns":{ns:.0}}}"#, github.name));
    }
    for line in lines {
        println!("BENCH {line}");
    }
}
