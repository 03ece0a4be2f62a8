//! Admin requests signed with access keys (`ADMIN_ACCESS_KEYS`), checked against the requests the
//! vendors' own SDKs signed (tests/fixtures/sdk-signatures: Alibaba ACS3 and legacy ROA, Huawei
//! SDK-HMAC-SHA256), each valid one and each derived refusal; then the date window, nonce replay,
//! Alibaba's bearer mode, the setting's problems, the rate limit and the audit trail, through the
//! router with in-memory ports.

mod common;

use hookrelay::auth::AdminDirectory;
use hookrelay::error::Error;
use hookrelay::http::{Request, Response};
use hookrelay::ports::{block_on, FixedClock, Limiter, SequenceRandom};
use hookrelay::testing::TestApp;
use serde::Deserialize;
use serde_json::{json, Value};
use std::rc::Rc;

/// One case of vectors.json (see its NOTES.md, section 5).
#[derive(Deserialize, Clone)]
struct Case {
    id: String,
    scheme: String,
    method: String,
    path: String,
    query: String,
    headers_ordered: Vec<(String, String)>,
    body: String,
    access_key_id: String,
    access_key_secret: String,
    signed_at: String,
    expected: String,
}

impl Case {
    /// The request as the shell hands it to the core: header names lower-cased.
    fn request(&self) -> Request {
        let target = if self.query.is_empty() { self.path.clone() } else { format!("{}?{}", self.path, self.query) };
        let mut request = Request::new(&self.method, &target);
        for (name, value) in &self.headers_ordered {
            request = request.with_header(name, value);
        }
        request.body = self.body.clone().into_bytes();
        request
    }

    fn keys(&self) -> String {
        format!("vectors:{}:{}", self.access_key_id, self.access_key_secret)
    }

    fn signed_at_ms(&self) -> u64 {
        hookrelay::time::parse_rfc3339(&self.signed_at).unwrap()
    }

    fn valid(&self) -> bool {
        self.expected == "valid"
    }

    /// Valid as the SDK signs, but with a body it left unsigned (`UNSIGNED-PAYLOAD`, a non-JSON
    /// type): hookrelay refuses it, since its routes read wider JSON types and GitLab's read forms.
    fn unsigned_body(&self) -> bool {
        !self.body.is_empty()
            && self
                .headers_ordered
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("x-sdk-content-sha256") && v == "UNSIGNED-PAYLOAD")
    }

    /// Valid as the SDK signs, but an ROA query whose value holds `&` or `=`: ROA signs the query
    /// decoded, so `a=1%26b%3D2` and `a=1&b=2` sign alike, and hookrelay refuses both (no name it
    /// reads can hold either).
    fn ambiguous_roa_query(&self) -> bool {
        self.scheme == "ACS-ROA-HMAC-SHA1" && self.query.contains("%26")
    }

    /// Why hookrelay refuses what the SDK signed, if it does.
    fn refused_though_signed(&self) -> Option<&'static str> {
        if self.unsigned_body() {
            Some("access key signature refused: the body must be sent and signed")
        } else if self.ambiguous_roa_query() {
            Some("access key signature refused: a query key is repeated, or a key or value holds '&' or '='")
        } else {
            None
        }
    }

    /// Whether hookrelay admits it.
    fn admitted(&self) -> bool {
        self.valid() && self.refused_though_signed().is_none()
    }

    /// The `Authorization` value's signature, which must never be echoed.
    fn signature(&self) -> String {
        let authorization = self.request().header("authorization").unwrap().to_string();
        let signature = match authorization.split_once("Signature=") {
            Some((_, signature)) => signature,
            None => authorization.rsplit_once(':').unwrap().1,
        };
        assert!(signature.len() >= 28, "{signature}");
        signature.to_string()
    }
}

fn cases() -> Vec<Case> {
    #[derive(Deserialize)]
    struct Vectors {
        cases: Vec<Case>,
    }
    let text = String::from_utf8(common::fixture("sdk-signatures/vectors.json")).unwrap();
    serde_json::from_str::<Vectors>(&text).unwrap().cases
}

fn case(id: &str) -> Case {
    cases().into_iter().find(|case| case.id == id).unwrap_or_else(|| panic!("no vector {id}"))
}

fn directory(case: &Case) -> AdminDirectory {
    AdminDirectory::parse("alice:tok-a").with_access_keys(&case.keys())
}

/// What each derived refusal must say: its kind, by the suffix of its id.
fn expected_reason(id: &str) -> &'static str {
    let kinds = [
        ("--wrong-secret", "the signature does not match"),
        // Worded as a mismatch, so that a refusal does not tell which key ids exist.
        ("--unknown-access-key", "the signature does not match"),
        // ACS3 declares the body's hash in a header; Huawei's JSON bodies are hashed into the signature.
        ("acs3-create-trigger-post-json--tampered-body", "the body does not match x-acs-content-sha256"),
        ("--tampered-body", "the signature does not match"),
        ("--signed-header-removed-x-acs-date", "the signed header 'x-acs-date' is missing"),
        ("--signed-header-removed-x-sdk-date", "the signed header 'x-sdk-date' is missing"),
        ("--signed-header-removed-date", "Date must be sent and signed"),
        ("--signed-header-altered-", "the signature does not match"),
        ("--tampered-path", "the signature does not match"),
        ("--tampered-query", "the signature does not match"),
        ("--added-query", "the signature does not match"),
    ];
    kinds.iter().find(|(suffix, _)| id.contains(suffix)).map(|(_, reason)| *reason).expect(id)
}

#[test]
fn every_sdk_vector_gets_its_label_and_each_refusal_its_reason() {
    let cases = cases();
    assert_eq!(cases.len(), 139);
    assert_eq!(cases.iter().filter(|case| case.valid()).count(), 19 + 2, "19 signed by the SDKs, 2 derived");
    let unsigned: Vec<&str> = cases.iter().filter(|c| c.valid() && c.unsigned_body()).map(|c| c.id.as_str()).collect();
    assert_eq!(unsigned, ["hw-unsigned-payload-text-plain", "hw-unsigned-payload-text-plain--tampered-body"]);
    let mut wrong = Vec::new();
    for case in &cases {
        let verdict = directory(case).authenticate(&case.request(), case.signed_at_ms());
        let fine = match (&verdict, case.admitted()) {
            (Ok(admin), true) => admin.name == "vectors",
            (Err(Error::BadSignature(message)), false) if case.valid() => {
                Some(message.as_str()) == case.refused_though_signed()
            }
            // A derived refusal of an ambiguous query is refused for its own reason or for that.
            (Err(Error::BadSignature(message)), false) => {
                *message == format!("access key signature refused: {}", expected_reason(&case.id))
                    || (case.ambiguous_roa_query() && message.contains("a query key is repeated"))
            }
            _ => false,
        };
        if !fine {
            wrong.push(format!("{} ({}, expected {}): {verdict:?}", case.id, case.scheme, case.expected));
        }
    }
    assert!(wrong.is_empty(), "{} of {} vectors misjudged:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
}

/// An app whose admins are alice (token `tok-a`) and the vector's key, at the vector's signing time.
fn app_for(case: &Case, limiter: Box<dyn Limiter>) -> TestApp {
    let clock = Rc::new(FixedClock::new(case.signed_at_ms()));
    {
        let mut app =
            TestApp::new(Box::new(clock), Box::new(SequenceRandom::new(3)), Box::new(common::queue()), directory(case));
        app.limiter = limiter;
        app
    }
}

fn logged_request(app: &TestApp) -> Value {
    let lines = app.log.lines.borrow();
    lines.iter().rev().find(|line| line["type"] == "request").cloned().unwrap()
}

#[test]
fn every_vector_on_an_admin_route_is_admitted_or_refused_401_without_a_secret() {
    let on_a_route = |case: &Case| hookrelay::router::find_route(&case.method, &case.path).is_ok();
    let cases: Vec<Case> = cases().into_iter().filter(on_a_route).collect();
    // Not routed (404 before any authentication): SWR's list-repos and ServiceStage's list-commits
    // (7 cases each), and the other 17 tampered paths (`.../triggerz`).
    assert_eq!(cases.len(), 139 - 7 - 7 - 17);
    for case in cases {
        let app = app_for(&case, Box::new(hookrelay::ports::Unlimited));
        let response = block_on(app.handle(case.request()));
        let logged = logged_request(&app);
        if case.admitted() {
            assert_ne!(response.status, 401, "{}", case.id);
            assert_eq!(logged["admin"], "vectors", "{}", case.id);
            continue;
        }
        assert_eq!(response.status, 401, "{}", case.id);
        assert_eq!(logged["admin"], Value::Null);
        let said = String::from_utf8_lossy(&response.body).into_owned();
        let reason = logged["reason"].as_str().unwrap().to_string();
        let logged = serde_json::to_string(&*app.log.lines.borrow()).unwrap();
        assert!(reason.starts_with("access key signature refused: "), "{}: {reason}", case.id);
        let nonce = case.request().header("x-acs-signature-nonce").unwrap_or("no nonce").to_string();
        for secret in [case.access_key_secret.as_str(), "hookrelay-test-secret", &case.signature(), &nonce] {
            assert!(!said.contains(secret) && !logged.contains(secret), "{} tells {secret}", case.id);
        }
    }
}

/// A vector's request verified at `offset_ms` from its signing time, by a fresh directory.
fn verdict_at(case: &Case, offset_ms: i64) -> Result<String, Error> {
    let now = case.signed_at_ms().checked_add_signed(offset_ms).unwrap();
    directory(case).authenticate(&case.request(), now).map(|admin| admin.name)
}

#[test]
fn a_signing_date_more_than_15_minutes_off_is_refused_in_each_scheme() {
    const FIFTEEN_MINUTES: i64 = 15 * 60 * 1000;
    let schemes = [
        ("acs3-describe-trigger-get-query", "x-acs-date"),
        ("roa-describe-trigger-get-query", "Date"),
        ("hw-swr-list-triggers-details-get", "X-Sdk-Date"),
    ];
    for (id, header) in schemes {
        let case = case(id);
        for offset in [-FIFTEEN_MINUTES, -1, 0, 1, FIFTEEN_MINUTES] {
            assert_eq!(verdict_at(&case, offset), Ok("vectors".into()), "{id} at {offset} ms");
        }
        let refused = format!("access key signature refused: the signing date ({header}) is more than 15 minutes off");
        for offset in [-FIFTEEN_MINUTES - 1000, FIFTEEN_MINUTES + 1000, 24 * 3600 * 1000] {
            assert_eq!(verdict_at(&case, offset), Err(Error::BadSignature(refused.clone())), "{id} at {offset} ms");
        }
    }
}

#[test]
fn an_alibaba_nonce_is_refused_the_second_time_and_huawei_has_none() {
    for id in ["acs3-create-trigger-post-json", "roa-delete-trigger"] {
        let case = case(id);
        let admins = directory(&case);
        let now = case.signed_at_ms();
        assert_eq!(admins.authenticate(&case.request(), now).map(|a| a.name), Ok("vectors".into()), "{id}");
        let replay = admins.authenticate(&case.request(), now + 60_000);
        let reused = "access key signature refused: the signature nonce was used before";
        assert_eq!(replay, Err(Error::BadSignature(reused.into())), "{id}");
    }
    // Huawei's signature carries no nonce: within the window a replay verifies (see the README).
    let huawei = case("hw-swr-delete-trigger");
    let admins = directory(&huawei);
    for _ in 0..2 {
        assert!(admins.authenticate(&huawei.request(), huawei.signed_at_ms()).is_ok());
    }
}

#[test]
fn the_nonce_memory_outlives_a_directory_when_shared_as_the_shell_does() {
    let case = case("acs3-delete-trigger");
    let shared = Rc::new(hookrelay::access_keys::MemoryNonces::default());
    let fresh = || directory(&case).with_nonce_memory(shared.clone());
    assert!(fresh().authenticate(&case.request(), case.signed_at_ms()).is_ok());
    assert!(fresh().authenticate(&case.request(), case.signed_at_ms()).is_err());
}

#[test]
fn an_alibaba_signature_must_cover_its_date_and_nonce() {
    let case = case("acs3-describe-trigger-get-query");
    let strip = |request: Request, listed: &str| {
        let mut request = request;
        for (name, value) in request.headers.iter_mut() {
            if name == "authorization" {
                *value = value.replace(&format!(";{listed}"), "");
            }
        }
        request
    };
    for listed in ["x-acs-date", "x-acs-signature-nonce"] {
        let verdict = directory(&case).authenticate(&strip(case.request(), listed), case.signed_at_ms());
        let message = format!("access key signature refused: {listed} must be sent and signed");
        assert_eq!(verdict, Err(Error::BadSignature(message)));
    }
}

#[test]
fn alibaba_bearer_mode_is_an_admin_token() {
    let case = case("acs3-describe-trigger-get-query");
    let app = app_for(&case, Box::new(hookrelay::ports::Unlimited));
    let bearer = |token: &str| Request::new("GET", "/clusters/c1/triggers").with_header("x-acs-bearer-token", token);
    let response = block_on(app.handle(bearer("tok-a")));
    assert_ne!(response.status, 401);
    assert_eq!(logged_request(&app)["admin"], "alice");
    let refused = block_on(app.handle(bearer("tok-wrong")));
    assert_eq!(refused.status, 401);
    assert_eq!(logged_request(&app)["admin"], Value::Null);
}

#[test]
fn a_malformed_admin_access_keys_is_a_problem_named_without_its_value() {
    let secrets = |name: &str| (name == "ADMIN_ACCESS_KEYS").then(|| "alice:AK1:sk-one,bob:AK2-and-sk-two".to_string());
    let found = hookrelay::settings::problems(|_| None, secrets, |_| true);
    assert_eq!(found, ["ADMIN_ACCESS_KEYS: entry 2 is not name:access_key_id:access_key_secret"]);
    let repeated = |name: &str| (name == "ADMIN_ACCESS_KEYS").then(|| "alice:AK1:sk-one,bob:AK1:sk-two".to_string());
    let found = hookrelay::settings::problems(|_| None, repeated, |_| true);
    assert_eq!(found, ["ADMIN_ACCESS_KEYS: entry 2 repeats an earlier access key id"]);
    // The well-formed entries still authenticate; the malformed one is skipped.
    let case = case("hw-swr-list-triggers-details-get");
    let spec = format!("bob:AK2-and-sk-two,{}", case.keys());
    let admins = AdminDirectory::parse("").with_access_keys(&spec);
    assert_eq!(admins.len(), 1);
    assert!(!format!("{admins:?}").contains(&case.access_key_secret));
    assert_eq!(admins.authenticate(&case.request(), case.signed_at_ms()).map(|a| a.name), Ok("vectors".into()));
}

#[test]
fn signed_requests_count_against_the_admin_rate_limit() {
    let first = case("hw-swr-list-triggers-details-get");
    let second = case("hw-swr-delete-trigger");
    let app = app_for(&first, Box::new(hookrelay::ports::MemoryLimiter::new(1)));
    assert_ne!(block_on(app.handle(first.request())).status, 401);
    let limited: Response = block_on(app.handle(second.request()));
    assert_eq!(limited.status, 429);
}

#[test]
fn a_signed_creation_is_audited_under_the_access_keys_admin() {
    let case = case("acs3-create-trigger-post-json");
    let app = app_for(&case, Box::new(hookrelay::ports::Unlimited));
    let cluster = json!({"name": "c8155823d057948c69a4ee7e1a2d8e2f4", "kind": "kubernetes",
        "api_server": "https://k8s.example.com", "token": "sa-token"});
    let create = Request::new("POST", "/api/v1/targets")
        .with_header("authorization", "Bearer tok-a")
        .with_body("application/json", cluster.to_string());
    assert_eq!(block_on(app.handle(create)).status, 201);
    let response = block_on(app.handle(case.request()));
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    let audit = Request::new("GET", "/api/v1/audit").with_header("authorization", "Bearer tok-a");
    let trail: Value = serde_json::from_slice(&block_on(app.handle(audit)).body).unwrap();
    let admins: Vec<&str> = trail["entries"].as_array().unwrap().iter().map(|e| e["admin"].as_str().unwrap()).collect();
    assert!(admins.contains(&"vectors") && admins.contains(&"alice"), "{trail}");
}

/// Found by review: a query read one way by the signature and another by the handlers.
#[test]
fn a_signed_query_cannot_be_read_differently_by_the_handlers() {
    // ROA signs the last value of a key the handlers read first: a repeated key is refused.
    let mut roa = case("roa-describe-trigger-get-query");
    roa.query = format!("Name=api&{}", roa.query);
    let refused = directory(&roa).authenticate(&roa.request(), roa.signed_at_ms()).unwrap_err();
    assert_eq!(
        refused.message(),
        "access key signature refused: a query key is repeated, or a key or value holds '&' or '='"
    );
    // ...and so is a value holding `&` or `=`, which ROA's decoded query signs as two pairs.
    let mut roa = case("roa-describe-trigger-get-query");
    roa.query = roa.query.replacen("Name=web-app&Namespace", "Name=web-app%26Namespace", 1);
    let refused = directory(&roa).authenticate(&roa.request(), roa.signed_at_ms()).unwrap_err();
    assert!(refused.message().contains("a key or value holds '&' or '='"), "{}", refused.message());
    // ACS3 and Huawei sort the canonical query: swapped repeated values would sign alike, so a
    // repeated key is refused before the signature is compared.
    for id in ["acs3-describe-trigger-get-query", "hw-swr-list-repos-get-query"] {
        let mut repeated = case(id);
        repeated.query = format!("{}&{}", repeated.query, repeated.query.split('&').next().unwrap());
        let refused = directory(&repeated).authenticate(&repeated.request(), repeated.signed_at_ms()).unwrap_err();
        assert_eq!(refused.message(), "access key signature refused: a query key is repeated", "{id}");
    }
    // ACS3 encodes keys: `Name%3Dweb-app%26Namespace` no longer signs as `Name=web-app&Namespace`.
    let mut acs3 = case("acs3-describe-trigger-get-query");
    acs3.query = acs3.query.replacen("Name=web-app&Namespace", "Name%3Dweb-app%26Namespace", 1);
    let refused = directory(&acs3).authenticate(&acs3.request(), acs3.signed_at_ms()).unwrap_err();
    assert_eq!(refused.message(), "access key signature refused: the signature does not match");
    // And an unknown key id reads as any mismatch: a refusal does not tell which ids exist.
    let mut unknown = case("acs3-describe-trigger-get-query");
    unknown.access_key_id = "LTAI5tSomeoneElse".into();
    let refused =
        directory(&unknown).authenticate(&case("acs3-describe-trigger-get-query").request(), unknown.signed_at_ms());
    assert_eq!(refused.unwrap_err().message(), "access key signature refused: the signature does not match");
}
