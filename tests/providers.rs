//! Every provider on its real payload: accepts a correctly signed call; rejects a signature over
//! another body, a wrong secret, a missing header and (where signed) a stale timestamp; rotates.

mod common;
use common::{fixture, source};

use hookrelay::error::Error;
use hookrelay::http::Request;
use hookrelay::model::source::Encoding;
use hookrelay::model::{Event, EventKind, ProviderSource};
use hookrelay::signature::{base64_decode, base64_encode, hmac, hmac_sha256, Algorithm};
use hookrelay::sources::{self, gitee, standard::signing_key, HookCall};
use serde_json::Value;

const NOW_MS: u64 = 1_700_000_000_000;
const SECRET: &str = "s3cret-for-tests";

/// How each provider signs a body: the headers it sends for (body, secret, now).
type Signer = fn(&[u8], &str, u64) -> Vec<(String, String)>;

fn h(name: &str, value: String) -> (String, String) {
    (name.to_string(), value)
}

fn github_signer(body: &[u8], secret: &str, _: u64) -> Vec<(String, String)> {
    vec![
        h("X-Hub-Signature-256", format!("sha256={}", hex::encode(hmac_sha256(secret.as_bytes(), &[body])))),
        h("X-GitHub-Event", "push".into()),
        h("X-GitHub-Delivery", "d-1".into()),
    ]
}
fn gitlab_token_signer(_: &[u8], secret: &str, _: u64) -> Vec<(String, String)> {
    vec![h("X-Gitlab-Token", secret.into()), h("X-Gitlab-Event", "Push Hook".into())]
}
fn standard_headers(body: &[u8], secret: &str, now_ms: u64) -> Vec<(String, String)> {
    let (id, ts) = ("msg_1".to_string(), (now_ms / 1000).to_string());
    let mac = hmac_sha256(&signing_key(secret), &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    vec![h("webhook-id", id), h("webhook-timestamp", ts), h("webhook-signature", format!("v1,{}", base64_encode(&mac)))]
}
fn gitlab_signing_signer(body: &[u8], secret: &str, now: u64) -> Vec<(String, String)> {
    let mut headers = standard_headers(body, secret, now);
    headers.push(h("X-Gitlab-Event", "Push Hook".into()));
    headers
}
fn gitea_signer(body: &[u8], secret: &str, _: u64) -> Vec<(String, String)> {
    vec![
        h("X-Gitea-Signature", hex::encode(hmac_sha256(secret.as_bytes(), &[body]))),
        h("X-Gitea-Event", "push".into()),
    ]
}
fn gogs_signer(body: &[u8], secret: &str, _: u64) -> Vec<(String, String)> {
    vec![h("X-Gogs-Signature", hex::encode(hmac_sha256(secret.as_bytes(), &[body]))), h("X-Gogs-Event", "push".into())]
}
fn gitee_signer(_: &[u8], secret: &str, now: u64) -> Vec<(String, String)> {
    let ts = now.to_string();
    vec![
        h("X-Gitee-Token", gitee::sign(&ts, secret)),
        h("X-Gitee-Timestamp", ts),
        h("X-Gitee-Event", "Push Hook".into()),
    ]
}
fn bitbucket_signer(body: &[u8], secret: &str, _: u64) -> Vec<(String, String)> {
    vec![
        h("X-Hub-Signature", format!("sha256={}", hex::encode(hmac_sha256(secret.as_bytes(), &[body])))),
        h("X-Event-Key", "repo:push".into()),
    ]
}
fn hmac_signer(body: &[u8], secret: &str, _: u64) -> Vec<(String, String)> {
    vec![h("X-Signature", format!("sha512:{}", base64_encode(&hmac(Algorithm::Sha512, secret.as_bytes(), &[body]))))]
}

fn hmac_source(secrets: &[&str]) -> ProviderSource {
    ProviderSource {
        header: Some("X-Signature".into()),
        algorithm: Some(Algorithm::Sha512),
        encoding: Some(Encoding::Base64),
        prefix: Some("sha512:".into()),
        ..source("hmac", secrets)
    }
}

fn whsec() -> String {
    format!("whsec_{}", base64_encode(SECRET.as_bytes()))
}

/// What the real GitHub and GitLab push payloads parse into: (repository, ref, commit, sender).
const GITHUB_PUSH: (&str, &str, &str, &str) =
    ("Codertocat/Hello-World", "refs/heads/master", "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "Codertocat");
const GITLAB_PUSH: (&str, &str, &str, &str) =
    ("mike/diaspora", "refs/heads/master", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "jsmith");

struct Case {
    kind: &'static str,
    fixture: &'static str,
    signer: Signer,
    /// The header whose absence or wrongness the 401 must name.
    header: &'static str,
    timestamped: bool,
    /// (repository, ref, commit, sender) the real payload must parse into.
    expect: (&'static str, &'static str, &'static str, &'static str),
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            kind: "github",
            fixture: "github/push.json",
            signer: github_signer,
            header: "X-Hub-Signature-256",
            timestamped: false,
            expect: GITHUB_PUSH,
        },
        Case {
            kind: "gitlab",
            fixture: "gitlab/push.json",
            signer: gitlab_token_signer,
            header: "X-Gitlab-Token",
            timestamped: false,
            expect: GITLAB_PUSH,
        },
        Case {
            kind: "gitlab",
            fixture: "gitlab/tag_push.json",
            signer: gitlab_signing_signer,
            header: "webhook-signature",
            timestamped: true,
            expect: ("jsmith/example", "refs/tags/v1.0.0", "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", "John Smith"),
        },
        Case {
            kind: "gitea",
            fixture: "gitea/push.json",
            signer: gitea_signer,
            header: "X-Gitea-Signature",
            timestamped: false,
            expect: ("gitea/webhooks", "refs/heads/develop", "bffeb74224043ba2feb48d137756c8a9331c449a", "gitea"),
        },
        Case {
            kind: "gitea",
            fixture: "gogs/push.json",
            signer: gogs_signer,
            header: "X-Gogs-Signature",
            timestamped: false,
            expect: ("unknwon/webhooks", "refs/heads/develop", "bffeb74224043ba2feb48d137756c8a9331c449a", "unknwon"),
        },
        Case {
            kind: "gitee",
            fixture: "github/push.json",
            signer: gitee_signer,
            header: "X-Gitee-Token",
            timestamped: true,
            expect: GITHUB_PUSH,
        },
        Case {
            kind: "bitbucket",
            fixture: "bitbucket/repo-push.json",
            signer: bitbucket_signer,
            header: "X-Hub-Signature",
            timestamped: false,
            expect: (
                "team_name/repo_name",
                "refs/heads/name-of-branch",
                "709d658dc5b6d6afcd46049c2f332ee3f515a67d",
                "emmap1",
            ),
        },
        Case {
            kind: "hmac",
            fixture: "github/push.json",
            signer: hmac_signer,
            header: "X-Signature",
            timestamped: false,
            expect: GITHUB_PUSH,
        },
        Case {
            kind: "standard",
            fixture: "gitlab/push.json",
            signer: standard_headers,
            header: "webhook-signature",
            timestamped: true,
            expect: GITLAB_PUSH,
        },
    ]
}

fn source_for(case: &Case, secrets: &[&str]) -> ProviderSource {
    match case.kind {
        "hmac" => hmac_source(secrets),
        _ => source(case.kind, secrets),
    }
}

fn secret_for(case: &Case) -> String {
    if case.kind == "standard" || case.header == "webhook-signature" {
        whsec()
    } else {
        SECRET.to_string()
    }
}

fn request(body: &[u8], headers: &[(String, String)]) -> Request {
    let mut request = Request::new("POST", "/hooks/x").with_body("application/json", body.to_vec());
    for (name, value) in headers {
        request = request.with_header(name, value);
    }
    request
}

fn verify(case: &Case, source: &ProviderSource, request: &Request, now_ms: u64) -> Result<(), Error> {
    sources::provider(case.kind).unwrap().verify(&HookCall { request, source, now_ms })
}

fn parse(case: &Case, source: &ProviderSource, request: &Request) -> Vec<Event> {
    sources::provider(case.kind).unwrap().parse(&HookCall { request, source, now_ms: NOW_MS }).unwrap()
}

#[test]
fn every_provider_accepts_its_real_signed_payload_and_parses_it() {
    for case in cases() {
        let secret = secret_for(&case);
        let body = fixture(case.fixture);
        let src = source_for(&case, &[&secret]);
        sources::validate_provider(&src).unwrap_or_else(|e| panic!("{}: {e}", case.kind));
        let req = request(&body, &(case.signer)(&body, &secret, NOW_MS));
        assert_eq!(verify(&case, &src, &req, NOW_MS), Ok(()), "{} {}", case.kind, case.fixture);
        let events = parse(&case, &src, &req);
        let event = &events[0];
        let got = (event.repository.as_str(), event.git_ref.as_str(), event.commit.as_str(), event.sender.as_str());
        assert_eq!(got, case.expect, "{} {}", case.kind, case.fixture);
        assert!(!event.deleted);
    }
}

#[test]
fn every_provider_rejects_a_signature_over_another_body() {
    for case in cases() {
        let secret = secret_for(&case);
        let body = fixture(case.fixture);
        let mut headers = (case.signer)(b"{\"ref\":\"refs/heads/evil\"}", &secret, NOW_MS);
        if case.kind == "gitlab" && case.header == "X-Gitlab-Token" || case.kind == "gitee" {
            // Token providers do not sign the body; a different body with the right token is
            // their design. What they must refuse is the wrong token, checked below.
            headers = vec![];
        }
        let err = verify(&case, &source_for(&case, &[&secret]), &request(&body, &headers), NOW_MS).unwrap_err();
        assert!(matches!(err, Error::BadSignature(_)), "{}: {err:?}", case.kind);
    }
}

#[test]
fn every_provider_rejects_a_wrong_secret_naming_the_header() {
    for case in cases() {
        let body = fixture(case.fixture);
        let wrong = if case.header == "webhook-signature" {
            format!("whsec_{}", base64_encode(b"other key"))
        } else {
            "wrong".into()
        };
        let req = request(&body, &(case.signer)(&body, &wrong, NOW_MS));
        let err = verify(&case, &source_for(&case, &[&secret_for(&case)]), &req, NOW_MS).unwrap_err();
        assert_eq!(err.status(), 401);
        assert!(err.message().contains(case.header), "{}: {}", case.kind, err.message());
    }
}

#[test]
fn every_provider_rejects_a_missing_header() {
    for case in cases() {
        let body = fixture(case.fixture);
        let secret = secret_for(&case);
        let headers: Vec<_> = (case.signer)(&body, &secret, NOW_MS)
            .into_iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case(case.header))
            .collect();
        let err = verify(&case, &source_for(&case, &[&secret]), &request(&body, &headers), NOW_MS).unwrap_err();
        assert!(err.message().contains("missing"), "{}: {}", case.kind, err.message());
    }
}

#[test]
fn signed_timestamps_are_checked_against_their_tolerance() {
    for case in cases().into_iter().filter(|c| c.timestamped) {
        let body = fixture(case.fixture);
        let secret = secret_for(&case);
        let src = source_for(&case, &[&secret]);
        let signed_long_ago = request(&body, &(case.signer)(&body, &secret, NOW_MS - 2 * 60 * 60 * 1000));
        let err = verify(&case, &src, &signed_long_ago, NOW_MS).unwrap_err();
        assert!(err.message().contains("away from now"), "{}: {}", case.kind, err.message());
        let slightly_old = request(&body, &(case.signer)(&body, &secret, NOW_MS - 60 * 1000));
        assert_eq!(verify(&case, &src, &slightly_old, NOW_MS), Ok(()), "{}", case.kind);
    }
}

#[test]
fn rotation_two_live_secrets_both_verify() {
    for case in cases() {
        let body = fixture(case.fixture);
        let (old, new) = if case.header == "webhook-signature" {
            (format!("whsec_{}", base64_encode(b"old key")), whsec())
        } else {
            ("old-secret".to_string(), "new-secret".to_string())
        };
        let src = source_for(&case, &[&old, &new]);
        for secret in [&old, &new] {
            let req = request(&body, &(case.signer)(&body, secret, NOW_MS));
            assert_eq!(verify(&case, &src, &req, NOW_MS), Ok(()), "{} with {secret}", case.kind);
        }
    }
}

#[test]
fn github_published_vector_verifies() {
    let vector: Value = serde_json::from_slice(&fixture("github-signature-vector.json")).unwrap();
    let src = source("github", &[vector["secret"].as_str().unwrap()]);
    let req = request(
        vector["payload"].as_str().unwrap().as_bytes(),
        &[h("X-Hub-Signature-256", vector["x_hub_signature_256"].as_str().unwrap().into())],
    );
    let github = sources::provider("github").unwrap();
    assert_eq!(github.verify(&HookCall { request: &req, source: &src, now_ms: NOW_MS }), Ok(()));
}

#[test]
fn github_has_no_sha1_fallback() {
    let body = fixture("github/push.json");
    let sha1 = format!("sha1={}", hex::encode(hmac(Algorithm::Sha1, SECRET.as_bytes(), &[&body])));
    let req = request(&body, &[h("X-Hub-Signature", sha1)]);
    let err = sources::provider("github")
        .unwrap()
        .verify(&HookCall { request: &req, source: &source("github", &[SECRET]), now_ms: NOW_MS })
        .unwrap_err();
    assert!(err.message().contains("X-Hub-Signature-256 is missing"));
}

#[test]
fn standard_webhooks_published_vector_verifies() {
    let vector: Value = serde_json::from_slice(&fixture("standard-webhooks-vector.json")).unwrap();
    let timestamp = vector["timestamp"].as_u64().unwrap();
    let src = source("standard", &[vector["secret"].as_str().unwrap()]);
    let headers = [
        h("webhook-id", vector["msg_id"].as_str().unwrap().into()),
        h("webhook-timestamp", timestamp.to_string()),
        h("webhook-signature", format!("v1,bm9wZQ== {}", vector["expected_signature"].as_str().unwrap())),
    ];
    let req = request(vector["payload"].as_str().unwrap().as_bytes(), &headers);
    let standard = sources::provider("standard").unwrap();
    assert_eq!(standard.verify(&HookCall { request: &req, source: &src, now_ms: timestamp * 1000 }), Ok(()));
    let later = standard.verify(&HookCall { request: &req, source: &src, now_ms: (timestamp + 301) * 1000 });
    assert!(later.is_err(), "outside the 5-minute tolerance");
    assert!(base64_decode(vector["expected_signature"].as_str().unwrap().trim_start_matches("v1,")).is_some());
}

#[test]
fn gitee_accepts_the_plain_password_too() {
    let body = fixture("github/push.json");
    let req = request(&body, &[h("X-Gitee-Token", SECRET.into()), h("X-Gitee-Timestamp", NOW_MS.to_string())]);
    let gitee = sources::provider("gitee").unwrap();
    assert_eq!(gitee.verify(&HookCall { request: &req, source: &source("gitee", &[SECRET]), now_ms: NOW_MS }), Ok(()));
}

#[test]
fn a_webhook_call_carries_its_events_facts_and_the_variables_as_their_view() {
    let github = sources::provider("github").unwrap();
    let src = source("github", &[SECRET]);
    let parse_as = |file: &str| {
        let req = request(&fixture(file), &[h("X-GitHub-Event", "push".into())]);
        github.parse(&HookCall { request: &req, source: &src, now_ms: NOW_MS }).unwrap().remove(0)
    };
    let trigger: hookrelay::model::Trigger = serde_json::from_value(
        serde_json::json!({"id": "t", "target": "g", "owner": "o", "created_at": 0, "updated_at": 0,
            "variables": {"HOOKRELAY_COMMIT": "a trigger's variable"}}),
    )
    .unwrap();
    let payload = || hookrelay::model::Payload { content_type: "application/json".into(), body: Vec::new() };
    let push = hookrelay::hooks::call_for(&trigger, &parse_as("github/push.json"), payload());
    let facts = push.facts.clone().expect("a webhook's call has facts");
    assert_eq!(
        (facts.branch.as_str(), facts.tag.as_str(), facts.repository.as_str(), facts.commit.as_str()),
        ("master", "", "Codertocat/Hello-World", "6113728f27ae82c7b1a177c8d03f9e96e0adf246")
    );
    assert_eq!(push.variables["HOOKRELAY_REF"], "refs/heads/master");
    let tag = hookrelay::hooks::call_for(&trigger, &parse_as("github/push-tag-created-ghes.json"), payload());
    let facts = tag.facts.expect("a webhook's call has facts");
    assert_eq!((facts.branch.as_str(), facts.tag.as_str()), ("", "simple-tag"));
}

#[test]
fn event_kinds_follow_the_real_payloads() {
    let github = sources::provider("github").unwrap();
    let src = source("github", &[SECRET]);
    let parse_as = |file: &str, event: &str| {
        let req = request(&fixture(file), &[h("X-GitHub-Event", event.into())]);
        github.parse(&HookCall { request: &req, source: &src, now_ms: NOW_MS }).unwrap().remove(0)
    };
    assert_eq!(parse_as("github/ping.json", "ping").kind, EventKind::Ping);
    let created = parse_as("github/push-tag-created-ghes.json", "push");
    assert_eq!((created.kind, created.tag()), (EventKind::TagPush, Some("simple-tag")));
    let deleted = parse_as("github/push-tag-deleted.json", "push");
    assert!(deleted.deleted, "all-zero after marks a deleted ref");
    assert_eq!(parse_as("github/create-tag.json", "create").kind, EventKind::Other);
    let gitea = sources::provider("gitea").unwrap();
    let req = request(&fixture("gitea/create-branch.json"), &[h("X-Gitea-Event", "create".into())]);
    assert_eq!(
        gitea.parse(&HookCall { request: &req, source: &src, now_ms: NOW_MS }).unwrap()[0].kind,
        EventKind::Other
    );
}

#[test]
fn github_form_mode_payload_parses_like_json() {
    let body = fixture("github/push.json");
    let form = format!("payload={}", hookrelay::http::percent_encode(std::str::from_utf8(&body).unwrap()));
    let req = Request::new("POST", "/hooks/x")
        .with_body("application/x-www-form-urlencoded", form)
        .with_header("X-GitHub-Event", "push");
    let event = sources::provider("github")
        .unwrap()
        .parse(&HookCall { request: &req, source: &source("github", &[SECRET]), now_ms: NOW_MS })
        .unwrap()
        .remove(0);
    assert_eq!(event.repository, "Codertocat/Hello-World");
}

#[test]
fn malformed_json_is_a_bad_request_not_a_panic_except_where_any_body_goes() {
    for case in cases() {
        let req = request(b"{\"ref\": ", &[]);
        let result = sources::provider(case.kind).unwrap().parse(&HookCall {
            request: &req,
            source: &source_for(&case, &["x"]),
            now_ms: NOW_MS,
        });
        match case.kind {
            // The generic sources read any body: one that is not JSON carries no facts.
            "hmac" | "standard" => {
                let event = &result.unwrap()[0];
                assert_eq!((event.kind, event.git_ref.as_str(), event.repository.as_str()), (EventKind::Other, "", ""));
            }
            _ => assert!(matches!(result, Err(Error::BadRequest(_))), "{}", case.kind),
        }
    }
}

/// The generic sources' cases, with `fields` set to `pointers`.
fn mapped(kind: &str, pointers: Value) -> (Case, ProviderSource) {
    let case = cases().into_iter().find(|case| case.kind == kind).unwrap();
    let mut source = source_for(&case, &[&secret_for(&case)]);
    source.fields = Some(serde_json::from_value(pointers).unwrap());
    (case, source)
}

fn parse_mapped(case: &Case, source: &ProviderSource, body: &[u8]) -> Event {
    let req = request(body, &(case.signer)(body, &secret_for(case), NOW_MS));
    assert_eq!(verify(case, source, &req, NOW_MS), Ok(()));
    sources::validate_provider(source).unwrap();
    parse(case, source, &req).remove(0)
}

#[test]
fn generic_sources_read_real_payloads_where_their_fields_point() {
    let pointers = serde_json::json!({"ref": "/ref", "repository": "/repository/full_name",
        "commit": "/head_commit/id", "event": "/hook/type"});
    let (case, src) = mapped("hmac", pointers);
    let event = parse_mapped(&case, &src, &fixture("github/push.json"));
    let (repository, git_ref, commit, _) = GITHUB_PUSH;
    assert_eq!(
        (event.kind, event.repository.as_str(), event.git_ref.as_str(), event.commit.as_str(), event.sender.as_str()),
        (EventKind::Push, repository, git_ref, commit, ""),
        "the mapped facts only"
    );
    let tag = parse_mapped(&case, &src, &fixture("github/push-tag-created-ghes.json"));
    assert_eq!((tag.kind, tag.tag()), (EventKind::TagPush, Some("simple-tag")));
    let pointers = serde_json::json!({"ref": "/ref", "repository": "/project/path_with_namespace",
        "commit": "/checkout_sha", "event": "/object_kind"});
    let (case, src) = mapped("standard", pointers);
    let event = parse_mapped(&case, &src, &fixture("gitlab/push.json"));
    let (repository, git_ref, commit, _) = GITLAB_PUSH;
    assert_eq!(
        (event.provider_event.as_str(), event.repository.as_str(), event.git_ref.as_str(), event.commit.as_str()),
        ("push", repository, git_ref, commit)
    );
}

#[test]
fn a_mapped_ref_is_a_branch_unless_it_names_a_tag_and_a_missing_one_is_unknown() {
    let (case, src) = mapped("standard", serde_json::json!({"ref": "/data/ref", "repository": "/data/repo"}));
    for (body, kind, git_ref) in [
        (r#"{"data":{"ref":"main"}}"#, EventKind::Push, "refs/heads/main"),
        (r#"{"data":{"ref":"refs/heads/release/1"}}"#, EventKind::Push, "refs/heads/release/1"),
        (r#"{"data":{"ref":"refs/tags/v1.2"}}"#, EventKind::TagPush, "refs/tags/v1.2"),
        (r#"{"data":{"ref":7}}"#, EventKind::Other, ""),
        (r#"{"data":{"ref":null,"repo":"acme/app"}}"#, EventKind::Other, ""),
        (r#"{"data":[]}"#, EventKind::Other, ""),
        (r#"{"ref":"main"}"#, EventKind::Other, ""),
        ("not json", EventKind::Other, ""),
    ] {
        let event = parse_mapped(&case, &src, body.as_bytes());
        assert_eq!((event.kind, event.git_ref.as_str()), (kind, git_ref), "{body}");
        assert_eq!(event.provider_event, "webhook", "no event pointer: the generic name");
    }
    let event = parse_mapped(&case, &src, br#"{"data":{"ref":"main","repo":"acme/app"}}"#);
    assert_eq!(event.repository, "acme/app");
    let long = format!(r#"{{"data":{{"ref":"{}"}}}}"#, "b".repeat(256));
    let event = parse_mapped(&case, &src, long.as_bytes());
    assert_eq!(sources::check_events(&[event]).unwrap_err().message(), "ref is longer than 255 bytes");
}

#[test]
fn fields_are_validated_by_name() {
    let with = |kind: &str, pointers: Value| {
        let mut src = if kind == "hmac" { hmac_source(&["x"]) } else { source(kind, &[&whsec()]) };
        src.fields = Some(serde_json::from_value(pointers).unwrap());
        sources::validate_provider(&src).map_err(|err| err.message())
    };
    assert_eq!(with("standard", serde_json::json!({"ref": "", "event": "/a~0b~1c"})), Ok(()));
    assert_eq!(with("hmac", serde_json::json!({"repository": "/data/repo"})), Ok(()));
    let refused = with("hmac", serde_json::json!({"commit": "data/sha"})).unwrap_err();
    assert!(refused.starts_with("source.fields.commit is not a JSON pointer"), "{refused}");
    let refused = with("standard", serde_json::json!({"event": "/a~b"})).unwrap_err();
    assert!(refused.starts_with("source.fields.event is not a JSON pointer"), "{refused}");
    let long = format!("/{}", "x".repeat(255));
    assert_eq!(
        with("standard", serde_json::json!({"ref": long})),
        Err("source.fields.ref is longer than 255 bytes".to_string())
    );
    assert!(with("github", serde_json::json!({"ref": "/ref"})).unwrap_err().contains("hmac and standard"));
    let unknown = serde_json::from_value::<hookrelay::model::FieldPointers>(serde_json::json!({"branch": "/b"}));
    assert!(unknown.unwrap_err().to_string().contains("unknown field `branch`"));
}

#[test]
fn sources_are_validated_on_create() {
    assert!(sources::validate_provider(&source("teamcity", &["x"])).unwrap_err().message().contains("github"));
    assert!(sources::validate_provider(&source("github", &[])).is_err());
    assert!(sources::validate_provider(&source("standard", &["not-whsec"])).is_err());
    assert!(sources::validate_provider(&source("hmac", &["x"])).unwrap_err().message().contains("header"));
}

// ---- replay ids: only what the provider signs, or its own id header beside the body's hash

fn replay_ids(case: &Case, request: &Request) -> Vec<sources::ReplayId> {
    let source = source_for(case, &[&secret_for(case)]);
    sources::provider(case.kind).unwrap().replay_ids(&HookCall { request, source: &source, now_ms: NOW_MS })
}

#[test]
fn every_provider_ignores_generic_id_headers() {
    for case in cases() {
        let body = fixture(case.fixture);
        let headers = (case.signer)(&body, &secret_for(&case), NOW_MS);
        let plain = request(&body, &headers);
        let decorated = plain.clone().with_header("Idempotency-Key", "k-1").with_header("X-Request-Id", "r-1");
        assert_eq!(replay_ids(&case, &plain), replay_ids(&case, &decorated), "{} {}", case.kind, case.fixture);
    }
}

#[test]
fn every_provider_has_a_replay_id_its_signature_covers() {
    for case in cases() {
        let body = fixture(case.fixture);
        let ids = replay_ids(&case, &request(&body, &(case.signer)(&body, &secret_for(&case), NOW_MS)));
        let signed = ids.iter().any(|id| matches!(id, sources::ReplayId::Signed(_)));
        let content = ids.contains(&sources::ReplayId::content(&[&body]));
        assert!(signed || content, "{} {}: {ids:?}", case.kind, case.fixture);
    }
}

#[test]
fn a_github_replay_is_the_same_whatever_its_delivery_header() {
    let github = &cases()[0];
    let body = fixture(github.fixture);
    let headers = github_signer(&body, SECRET, NOW_MS);
    let ids = replay_ids(github, &request(&body, &headers));
    assert_eq!(ids, vec![sources::ReplayId::Provider("d-1".into()), sources::ReplayId::content(&[&body])]);
    let without: Vec<_> = headers.into_iter().filter(|(name, _)| name != "X-GitHub-Delivery").collect();
    assert_eq!(replay_ids(github, &request(&body, &without)), vec![sources::ReplayId::content(&[&body])]);
}

#[test]
fn standard_webhooks_replay_id_is_the_signed_webhook_id_only() {
    let vector: Value = serde_json::from_slice(&fixture("standard-webhooks-vector.json")).unwrap();
    let headers = [
        h("webhook-id", vector["msg_id"].as_str().unwrap().into()),
        h("webhook-timestamp", vector["timestamp"].to_string()),
        h("webhook-signature", vector["expected_signature"].as_str().unwrap().into()),
        h("Idempotency-Key", "unsigned".into()),
    ];
    let req = request(vector["payload"].as_str().unwrap().as_bytes(), &headers);
    let src = source("standard", &[vector["secret"].as_str().unwrap()]);
    let ids =
        sources::provider("standard").unwrap().replay_ids(&HookCall { request: &req, source: &src, now_ms: NOW_MS });
    assert_eq!(ids, vec![sources::ReplayId::Signed(vector["msg_id"].as_str().unwrap().into())]);
}

#[test]
fn a_gitee_sign_is_a_replay_id_and_a_password_is_not() {
    let gitee = sources::provider("gitee").unwrap();
    let src = source("gitee", &[SECRET]);
    let ids_of = |req: &Request| gitee.replay_ids(&HookCall { request: req, source: &src, now_ms: NOW_MS });
    let body = fixture("github/push.json");
    let other = fixture("github/push-tag-created-ghes.json");
    let signed = gitee_signer(&body, SECRET, NOW_MS);
    let (ids, replayed) = (ids_of(&request(&body, &signed)), ids_of(&request(&other, &signed)));
    assert_eq!(ids.len(), 2, "the body's hash and the (timestamp, sign) pair");
    assert_eq!(ids[1], replayed[1], "the pair is the same whatever body it carries");
    let password = [h("X-Gitee-Token", SECRET.into()), h("X-Gitee-Timestamp", NOW_MS.to_string())];
    assert_eq!(ids_of(&request(&body, &password)), vec![sources::ReplayId::content(&[&body])]);
}
