//! Records in KV as the code before the typed model wrote them (tests/fixtures/stored/, serialized
//! by that code at f8b980c) still read, as the right variants, and are written back unchanged.

mod common;

use hookrelay::model::origin::{AckTriggerType, Origin, SwrMode};
use hookrelay::model::{Delivery, EventFacts, Registry, Schedule, Source, Target, Trigger};
use hookrelay::signature::Algorithm;
use hookrelay::template::{render, Escaping};

fn records(file: &str) -> Vec<String> {
    let text = String::from_utf8(common::fixture(&format!("stored/{file}"))).unwrap();
    text.lines().map(str::to_string).collect()
}

fn triggers() -> Vec<(String, Trigger)> {
    let read = |line: String| (serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")), line);
    records("triggers.jsonl").into_iter().map(read).map(|(trigger, line)| (line, trigger)).collect()
}

#[test]
fn stored_triggers_are_written_back_byte_for_byte() {
    for (line, trigger) in triggers() {
        assert_eq!(serde_json::to_string(&trigger).unwrap(), line);
    }
}

#[test]
fn a_stored_source_reads_as_a_provider_or_a_schedule() {
    let triggers = triggers();
    let source = |id: &str| triggers.iter().find(|(_, t)| t.id == id).unwrap().1.source.clone().unwrap();
    let Source::Provider(hmac) = source("hook1") else { panic!("hook1 is a provider source") };
    assert_eq!((hmac.kind.as_str(), hmac.secret_values()), ("hmac", vec!["s3cret"]));
    assert_eq!(
        (hmac.header.as_deref(), hmac.algorithm, hmac.prefix.as_deref()),
        (Some("X-Sig"), Some(Algorithm::Sha512), Some("sha512="))
    );
    let Source::Provider(github) = source("hook2") else { panic!("hook2 is a provider source") };
    assert_eq!((github.kind.as_str(), github.secret_values()), ("github", vec!["a", "b"]));
    let schedule = Schedule {
        cron: "*/5 * * * *".into(),
        ref_name: Some("main".into()),
        variables: [("A".to_string(), "1".to_string())].into(),
    };
    assert_eq!(source("sched1"), Source::Schedule(schedule));
}

#[test]
fn a_stored_origin_reads_as_the_api_that_made_the_trigger() {
    let origins: Vec<(String, Option<Origin>)> = triggers().into_iter().map(|(_, t)| (t.id, t.origin)).collect();
    let expected = [
        ("hook1", Some(Origin::ServiceStage { project_id: "proj-1".into() })),
        ("hook2", None),
        ("sched1", None),
        ("swr1", Some(Origin::Swr { mode: SwrMode::Cci })),
        ("swr2", Some(Origin::Swr { mode: SwrMode::Cce })),
        ("ack1", Some(Origin::Ack { trigger_type: AckTriggerType::Application })),
        ("ack2", Some(Origin::Ack { trigger_type: AckTriggerType::Deployment })),
    ];
    let expected: Vec<(String, Option<Origin>)> = expected.into_iter().map(|(id, o)| (id.to_string(), o)).collect();
    assert_eq!(origins, expected);
}

#[test]
fn an_origin_this_version_does_not_know_is_refused_not_misread() {
    let (line, _) = triggers().into_iter().find(|(_, t)| t.id == "swr1").unwrap();
    for unknown in ["swr:ecs", "ack:", "gitlab:x", "swr"] {
        let changed = line.replace("\"swr:cci\"", &format!("{unknown:?}"));
        assert!(serde_json::from_str::<Trigger>(&changed).is_err(), "{unknown}");
    }
}

/// Every target kind, as the code with `#[serde(flatten)]` over the internally tagged `TargetSpec`
/// wrote it (at 835b37d): read as its kind, and written back byte for byte.
#[test]
fn stored_targets_read_as_their_kind_and_are_written_back_byte_for_byte() {
    let mut kinds = Vec::new();
    for line in records("targets.jsonl") {
        let target: Target = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(serde_json::to_string(&target).unwrap(), line);
        kinds.push((target.id.clone(), target.spec.kind_name(), target.created_at, target.updated_at));
    }
    let expected = [
        ("tgt1", "gitlab", 1700000000000, 1700000000001),
        ("tgt2", "github", 1700000000000, 1700000000000),
        ("tgt3", "github", 1700000000000, 1700000000000),
        ("tgt4", "http", 1700000000000, 1700000000000),
        ("tgt5", "http", 1700000000000, 1700000000000),
        ("tgt6", "jenkins", 1700000000000, 1700000000000),
        ("tgt7", "kubernetes", 1700000000000, 1700000000000),
        ("tgt8", "ack", 1700000000000, 1700000000000),
        ("tgt9", "ack", 1700000000000, 1700000000000),
    ];
    let expected: Vec<_> = expected.into_iter().map(|(id, kind, c, u)| (id.to_string(), kind, c, u)).collect();
    assert_eq!(kinds, expected);
    // A record missing one of the target's own fields, or with a kind this version does not know,
    // is refused, never misread.
    let first = &records("targets.jsonl")[0];
    for broken in [
        first.replace(r#""id":"tgt1","#, ""),
        first.replace(r#","updated_at":1700000000001"#, ""),
        first.replace(r#""kind":"gitlab""#, r#""kind":"teamcity""#),
        first.replace(r#""token":"glptt-real","#, ""),
    ] {
        assert!(serde_json::from_str::<Target>(&broken).is_err(), "{broken}");
    }
}

#[test]
fn stored_registries_read_and_are_written_back_byte_for_byte() {
    for line in records("registries.jsonl") {
        let registry: Registry = serde_json::from_str(&line).unwrap();
        assert!(["harbor", "dockerhub"].contains(&registry.source.kind.as_str()));
        assert_eq!(serde_json::to_string(&registry).unwrap(), line);
    }
}

#[test]
fn stored_deliveries_without_event_facts_read_and_are_written_back_byte_for_byte() {
    for line in records("deliveries.jsonl") {
        let delivery: Delivery = serde_json::from_str(&line).unwrap();
        assert_eq!(delivery.call.facts, None, "today's records keep no facts");
        assert_eq!(delivery.call.hops, 0, "a record from before the hop count came from no hookrelay");
        assert_eq!(serde_json::to_string(&delivery).unwrap(), line);
    }
}

/// What the renderer before typed facts made of each stored delivery's call (captured at f8b980c).
const RENDERED_BEFORE: [&str; 3] = [
    "ref=main branch=main tag= repository=group/app commit=0123456789abcdef0123456789abcdef01234567 image= digest=",
    "ref=v2 branch= tag=v2 repository=ns/app commit=sha256:dd image=ns/app:v2 digest=sha256:dd",
    "ref=deploy branch= tag=v1.0 repository=group/app commit=89abcdef0123456789abcdef0123456789abcdef image= digest=",
];
const TEMPLATE: &str = "ref={{ref}} branch={{branch}} tag={{tag}} repository={{repository}} commit={{commit}} image={{image}} digest={{digest}}";

#[test]
fn a_replayed_old_delivery_renders_its_template_as_before() {
    for (line, before) in records("deliveries.jsonl").iter().zip(RENDERED_BEFORE) {
        let delivery: Delivery = serde_json::from_str(line).unwrap();
        assert_eq!(render(TEMPLATE, &delivery.call, Escaping::Raw).unwrap(), before);
    }
}

#[test]
fn a_new_call_keeps_its_facts_through_the_record_and_renders_the_same() {
    for (line, before) in records("deliveries.jsonl").iter().zip(RENDERED_BEFORE) {
        let mut delivery: Delivery = serde_json::from_str(line).unwrap();
        let facts: EventFacts = delivery.call.event_facts();
        delivery.call.facts = Some(facts.clone());
        let written = serde_json::to_string(&delivery).unwrap();
        let read: Delivery = serde_json::from_str(&written).unwrap();
        assert_eq!(read.call.facts, Some(facts));
        assert_eq!(render(TEMPLATE, &read.call, Escaping::Raw).unwrap(), before);
    }
}
