//! The admin lists stay small and cheap however much is stored: a trigger's deliveries carry no
//! payload (its size and SHA-256 instead, the body through `GET /api/v1/deliveries/{id}`) and a
//! page stops before `ledger::PAGE_BYTES`; a page of the trigger list, and of the statistics
//! overview, asks each target's ledger at most once and stays far below the Workers platform's 50
//! subrequests per invocation.

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

// ---- the trigger list and the statistics overview, at 300 triggers

/// 300 token triggers: 40 targets with 5 each, then 100 targets with one each. Their ids, by
/// target id.
fn three_hundred(app: &TestApp) -> Vec<(String, Vec<String>)> {
    let mut made = Vec::new();
    for n in 0..140 {
        let target_id = target(app, &format!("target-{n:03}"));
        let count = if n < 40 { 5 } else { 1 };
        let triggers: Vec<String> =
            (0..count).map(|k| trigger(app, &target_id, &format!("deploy {n}-{k}")).0).collect();
        made.push((target_id, triggers));
    }
    assert_eq!(made.iter().map(|(_, t)| t.len()).sum::<usize>(), 300);
    made
}

#[test]
fn a_page_of_the_trigger_list_asks_each_of_its_targets_ledger_once_and_stays_under_50_subrequests() {
    let (app, _) = app(4);
    let made = three_hundred(&app);
    let target_of = |trigger: &str| made.iter().find(|(_, t)| t.iter().any(|id| id == trigger)).unwrap().0.clone();
    let (mut listed, mut page_count, mut capped) = (Vec::new(), 0, false);
    let mut cursor: Option<String> = None;
    loop {
        app.store.reset_counts();
        app.ledger.requests.borrow_mut().clear();
        let url = match &cursor {
            Some(cursor) => format!("/api/v1/triggers?cursor={}", hookrelay::http::percent_encode(cursor)),
            None => "/api/v1/triggers".to_string(),
        };
        let (status, page, _) = admin(&app, "GET", &url, Value::Null);
        assert_eq!(status, 200, "{page}");
        page_count += 1;
        let ids: Vec<String> =
            page["triggers"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().into()).collect();
        assert!((1..=20).contains(&ids.len()), "at most 20 a page: {}", ids.len());
        let targets: BTreeSet<String> = ids.iter().map(|id| target_of(id)).collect();
        assert!(targets.len() <= 10, "at most 10 targets a page: {}", targets.len());
        capped |= targets.len() == 10 && ids.len() < 20;
        let requests = app.ledger.requests.borrow().clone();
        assert_eq!(requests.keys().cloned().collect::<BTreeSet<_>>(), targets, "the ledgers of the page's targets");
        assert!(requests.values().all(|&n| n == 1), "each asked once: {requests:?}");
        let counts = app.store.counts();
        assert_eq!((counts.lists, counts.reads as usize), (1, ids.len()), "one listing, one read per trigger");
        let subrequests = counts.lists as usize + counts.reads as usize + requests.len();
        // One listing, 20 reads and 10 ledger requests at most: 31 of the 50 allowed.
        assert!(subrequests <= 31, "{subrequests} KV operations and ledger requests");
        listed.extend(ids);
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let all: BTreeSet<String> = made.iter().flat_map(|(_, t)| t.clone()).collect();
    assert_eq!(listed.len(), 300, "each listed once");
    assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), all);
    assert!(page_count >= 15, "{page_count} pages");
    assert!(capped, "a page of one-trigger targets stops at the tenth target");
    // One target's triggers: one ledger request.
    app.ledger.requests.borrow_mut().clear();
    let (status, page, _) = admin(&app, "GET", &format!("/api/v1/triggers?target={}", made[0].0), Value::Null);
    assert_eq!((status, page["triggers"].as_array().unwrap().len()), (200, 5));
    assert_eq!(app.ledger.requests.borrow().values().sum::<u32>(), 1);
    for bad in ["limit=21", "limit=0", "limit=x"] {
        assert_eq!(admin(&app, "GET", &format!("/api/v1/triggers?{bad}"), Value::Null).0, 400, "{bad}");
    }
}

#[test]
fn a_page_of_the_statistics_overview_reads_at_most_20_targets_and_its_cursor_the_rest() {
    let (app, _) = app(5);
    let made = three_hundred(&app);
    // The first trigger of the first target and the last target's trigger are called.
    for (target, triggers) in [&made[0], &made[139]] {
        let token = {
            let (_, view, _) = admin(&app, "GET", &format!("/api/v1/triggers/{}", triggers[0]), Value::Null);
            view["token"].as_str().unwrap().to_string()
        };
        app.outbound.answer(201, "{}");
        let body = format!("token={token}&ref=main");
        let answer = send(
            &app,
            Request::new("POST", &format!("/api/v4/projects/{target}/trigger/pipeline"))
                .with_body("application/x-www-form-urlencoded", body),
        );
        assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    }
    let (mut called, mut read) = (BTreeSet::new(), BTreeSet::new());
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        app.store.reset_counts();
        app.ledger.requests.borrow_mut().clear();
        let url = match &cursor {
            Some(cursor) => format!("/api/v1/stats?series=true&cursor={}", hookrelay::http::percent_encode(cursor)),
            None => "/api/v1/stats?series=true".to_string(),
        };
        let (status, page, _) = admin(&app, "GET", &url, Value::Null);
        assert_eq!(status, 200, "{page}");
        count += 1;
        let requests = app.ledger.requests.borrow().clone();
        assert!(requests.len() <= 20 && requests.values().all(|&n| n == 1), "{requests:?}");
        assert_eq!(app.store.counts().lists, 1);
        read.extend(requests.into_keys());
        called.extend(page["triggers"].as_array().unwrap().iter().map(|t| t["trigger"].as_str().unwrap().to_string()));
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(count, 7, "140 targets, 20 a page");
    assert_eq!(read.len(), 140, "every target's ledger, once");
    assert_eq!(called, [made[0].1[0].clone(), made[139].1[0].clone()].into(), "both called triggers, on their pages");
}
