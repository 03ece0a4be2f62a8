//! The admin lists stay small and cheap however much is stored: a trigger's deliveries carry no
//! payload (its size and SHA-256 instead, the body through `GET /api/v1/deliveries/{id}`) and a
//! page stops before `ledger::PAGE_BYTES`.

mod common;

use hookrelay::auth::AdminDirectory;
use hookrelay::http::{Request, Response};
use hookrelay::ledger::{Entry, PAGE_BYTES};
use hookrelay::model::trigger::Order;
use hookrelay::model::Delivery;
use hookrelay::ports::{block_on, FixedClock, SequenceRandom};
use hookrelay::testing::TestApp;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::rc::Rc;

const NOW: u64 = 1_700_000_000_000;

fn app(seed: u64) -> (TestApp, Rc<FixedClock>) {
    let clock = Rc::new(FixedClock::new(NOW));
    let app = TestApp::new(
        Box::new(clock.clone()),
        Box::new(SequenceRandom::new(seed)),
        Box::new(common::queue()),
        AdminDirectory::parse("alice:tok-a"),
    );
    (app, clock)
}

fn send(app: &TestApp, request: Request) -> Response {
    block_on(app.handle(request))
}

fn admin(app: &TestApp, method: &str, path: &str, body: Value) -> (u16, Value, usize) {
    let request = Request::new(method, path)
        .with_header("authorization", "Bearer tok-a")
        .with_body("application/json", body.to_string());
    let answer = send(app, request);
    (answer.status, serde_json::from_slice(&answer.body).unwrap_or(Value::Null), answer.body.len())
}

fn target(app: &TestApp, name: &str) -> String {
    let body = json!({"name": name, "kind": "gitlab", "url": "https://gitlab.example.com", "project": "9", "token": "glptt-x"});
    let (status, target, _) = admin(app, "POST", "/api/v1/targets", body);
    assert_eq!(status, 201, "{target}");
    target["id"].as_str().unwrap().to_string()
}

/// A token trigger of `target`: its id and token.
fn trigger(app: &TestApp, target: &str, description: &str) -> (String, String) {
    let (status, trigger, _) =
        admin(app, "POST", "/api/v1/triggers", json!({"target": target, "description": description}));
    assert_eq!(status, 201, "{trigger}");
    (trigger["id"].as_str().unwrap().to_string(), trigger["token"].as_str().unwrap_or_default().to_string())
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every page of `path` (which takes `?cursor=`), following the cursors: each page's answer and
/// the size of its body.
fn pages(app: &TestApp, path: &str, mut each: impl FnMut(&Value, usize)) {
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(cursor) => format!("{path}{separator}cursor={}", hookrelay::http::percent_encode(cursor)),
            None => path.to_string(),
        };
        let (status, page, size) = admin(app, "GET", &url, Value::Null);
        assert_eq!(status, 200, "{url}: {page}");
        each(&page, size);
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return,
        }
    }
    panic!("the cursors never ended");
}

// ---- a trigger's deliveries

#[test]
fn a_delivery_list_carries_each_payloads_size_and_sha256_and_the_delivery_its_payload() {
    let (app, clock) = app(1);
    target(&app, "web-ci");
    let (trigger_id, token) = trigger(&app, "web-ci", "webhook form");
    // Five webhook-form calls of 900 KiB each, as in the report (there, of 1 MiB).
    let bodies: Vec<String> =
        (0..5).map(|n| json!({"object_kind": "push", "n": n, "pad": "x".repeat(900 * 1024)}).to_string()).collect();
    for body in &bodies {
        let url = format!("/api/v4/projects/web-ci/ref/main/trigger/pipeline?token={token}");
        let answer = send(&app, Request::new("POST", &url).with_body("application/json", body.clone()));
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        clock.advance(1_000);
    }
    let (status, page, size) =
        admin(&app, "GET", &format!("/api/v1/triggers/{trigger_id}/deliveries?limit=20"), Value::Null);
    assert_eq!(status, 200, "{page}");
    assert!(size < 20 * 1024, "no payload in the list: {size} bytes");
    let listed = page["deliveries"].as_array().unwrap();
    assert_eq!(listed.len(), 5);
    for (delivery, body) in listed.iter().zip(bodies.iter().rev()) {
        let digest = json!({"content_type": "application/json", "size": body.len(), "sha256": sha256(body.as_bytes())});
        assert_eq!(delivery["call"]["payload"], digest, "only its size and SHA-256");
        // The delivery itself has the payload, with the same digest.
        let (status, one, _) =
            admin(&app, "GET", &format!("/api/v1/deliveries/{}", delivery["id"].as_str().unwrap()), Value::Null);
        assert_eq!(status, 200);
        assert_eq!(one["call"]["payload"]["text"], body.as_str());
        assert_eq!(
            (&one["call"]["payload"]["size"], &one["call"]["payload"]["sha256"]),
            (&digest["size"], &digest["sha256"])
        );
        assert_eq!(one["call"]["ref"], delivery["call"]["ref"]);
    }
}

#[test]
fn a_page_of_deliveries_stops_before_its_byte_budget_and_its_cursor_goes_on() {
    let (app, clock) = app(2);
    target(&app, "web-ci");
    let (trigger_id, token) = trigger(&app, "web-ci", "big variables");
    // No payload, but a call of about 400 KiB of variables: a record that large still counts.
    let variables: serde_json::Map<String, Value> =
        (0..80).map(|n| (format!("V{n}"), json!("v".repeat(5 * 1024)))).collect();
    for _ in 0..7 {
        let body = json!({"token": token, "ref": "main", "variables": variables}).to_string();
        let answer = send(
            &app,
            Request::new("POST", "/api/v4/projects/web-ci/trigger/pipeline").with_body("application/json", body),
        );
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        clock.advance(1_000);
    }
    let (mut seen, mut sizes) = (BTreeSet::new(), Vec::new());
    pages(&app, &format!("/api/v1/triggers/{trigger_id}/deliveries?limit=100"), |page, size| {
        let listed = page["deliveries"].as_array().unwrap();
        assert!(size <= PAGE_BYTES, "a page of {} deliveries is {size} bytes", listed.len());
        sizes.push(listed.len());
        seen.extend(listed.iter().map(|d| d["id"].as_str().unwrap().to_string()));
    });
    assert_eq!(sizes, [2, 2, 2, 1], "two records of 400 KiB a page, and every one listed");
    assert_eq!(seen.len(), 7);
}

#[test]
fn deliveries_stored_before_digests_were_kept_list_theirs_from_their_payload() {
    let (app, _) = app(3);
    let target_id = target(&app, "web-ci");
    let (trigger_id, _) = trigger(&app, "web-ci", "old records");
    // The records as the code before digests wrote them (tests/fixtures/stored/deliveries.jsonl),
    // moved to this trigger, in its target's ledger.
    let fixture = String::from_utf8(common::fixture("stored/deliveries.jsonl")).unwrap();
    let mut payloads = Vec::new();
    {
        let mut ledgers = app.ledger.targets.borrow_mut();
        let rows = ledgers.entry(target_id.clone()).or_default();
        for (n, line) in fixture.lines().enumerate() {
            assert!(!line.contains("payload_digest"));
            let mut delivery: Delivery = serde_json::from_str(line).unwrap();
            let (_, stamp) = Delivery::split_id(&delivery.id).unwrap();
            delivery.id = format!("{trigger_id}-{stamp}");
            delivery.trigger = trigger_id.clone();
            delivery.target = target_id.clone();
            payloads.push((delivery.id.clone(), delivery.call.payload.clone()));
            let entry = Entry {
                seq: n as u64 + 1,
                key: "main".into(),
                order: Order::All,
                due_at: 0,
                in_flight_since: None,
                delivery,
            };
            rows.entries.insert(entry.delivery.id.clone(), entry);
        }
        rows.next_seq = 100;
    }
    assert!(payloads.iter().any(|(_, payload)| payload.is_some()), "the fixture has a payload");
    let (status, page, _) = admin(&app, "GET", &format!("/api/v1/triggers/{trigger_id}/deliveries"), Value::Null);
    assert_eq!(status, 200, "{page}");
    let listed = page["deliveries"].as_array().unwrap();
    assert_eq!(listed.len(), payloads.len());
    for (id, payload) in &payloads {
        let shown = &listed.iter().find(|d| d["id"] == id.as_str()).unwrap()["call"]["payload"];
        let (status, one, _) = admin(&app, "GET", &format!("/api/v1/deliveries/{id}"), Value::Null);
        assert_eq!(status, 200);
        match payload {
            Some(payload) => {
                let digest = json!({"content_type": payload.content_type, "size": payload.body.len(), "sha256": sha256(&payload.body)});
                assert_eq!(shown, &digest, "taken from the stored payload");
                assert_eq!(one["call"]["payload"]["text"].as_str().unwrap().as_bytes(), payload.body.as_slice());
                assert_eq!(one["call"]["payload"]["sha256"], digest["sha256"]);
            }
            None => assert_eq!((shown, &one["call"]["payload"]), (&Value::Null, &Value::Null)),
        }
    }
}
