//! The one error type, and the one place where it becomes an HTTP answer.
//!
//! Messages are written for the caller; they must never contain a secret or a token. An internal
//! failure (the store, the queue, a record that does not read) answers an opaque message with the
//! request's id: its detail is for the log (`detail`), never for the caller, as in svix's error.rs.

use crate::http::Response;

/// Every way a request can fail. Handlers return it; [`Error::into_response`] turns it into JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input is malformed or breaks a rule; the message names the field.
    BadRequest(String),
    /// No admin token, or an unknown one.
    Unauthorized,
    /// The client sent more admin requests than its limit allows this period.
    RateLimited,
    /// A webhook's signature or token is missing or wrong, or an admin request's access-key
    /// signature is refused (`access_keys::Refusal`); the message names the header, never a value.
    BadSignature(String),
    /// Nothing there, or (for trigger tokens) nothing the caller may know about.
    NotFound(String),
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The request would break a uniqueness or reference rule, or races one in flight.
    Conflict(String),
    /// Well-formed, but not what its `Idempotency-Key` was first used with (422).
    Unprocessable(String),
    /// The body is larger than the limit.
    PayloadTooLarge,
    /// A webhook asks for more work than one call may cause (events, deliveries); the message
    /// names the bound.
    TooMuchWork(String),
    /// The body's Content-Type is not one the route reads.
    UnsupportedMediaType(String),
    /// The request came through this many hookrelay deliveries (`X-Hookrelay-Hops`, see `loops`):
    /// a delivery or notification that calls hookrelay itself, refused so that the chain ends.
    LoopDetected(u32),
    /// The target's stored delivery records would pass its storage budget (`STORAGE_BUDGET_MB`);
    /// nothing was stored. The message says so, never what is stored.
    InsufficientStorage(String),
    /// The target could not be reached at all (DNS, connection, TLS).
    TargetUnreachable { target: String, detail: String },
    /// The store (KV) failed.
    Store(String),
    /// The delivery queue refused a message.
    Queue(String),
    /// Something that should not happen did (a stored record that does not read); a bug or
    /// corruption, not the caller's fault.
    Internal(String),
    /// The deployment's settings keep this from working (no `ENCRYPTION_KEY` for a credential);
    /// the message names the setting, never its value.
    Misconfigured(String),
    /// A refusal that came after a delivery was recorded (a token call its target could not be
    /// built for): answered as `error`, with the trigger and delivery named in
    /// `X-Hookrelay-Trigger` and `X-Hookrelay-Delivery`, as every fired call's answer is.
    OfDelivery { error: Box<Error>, trigger: String, delivery: String },
}

/// How a family of routes words its errors, so that clients of the API it imitates keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"error": code, "message": text}`.
    Native,
    /// GitLab answers 401 and 404 as `{"message": "404 Not Found"}`; other errors as native.
    GitLab,
    /// ServiceStage: `{"error_code": "SVCSTG.REPO.0400", "error_msg": text}`.
    ServiceStage,
    /// Huawei SWR: `{"error_code": "SVCSTG.SWR.400", "error_msg": text}`.
    Swr,
    /// Alibaba Cloud (the ACK routes): `{"code": "NotFound", "message": text, "requestId": id}`;
    /// its SDK raises on `code`.
    Alibaba,
}

impl Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    /// The error itself, past the delivery it may name.
    fn inner(&self) -> &Error {
        match self {
            Error::OfDelivery { error, .. } => error.inner(),
            other => other,
        }
    }

    pub fn status(&self) -> u16 {
        match self.inner() {
            Error::BadRequest(_) => 400,
            Error::Unauthorized | Error::BadSignature(_) => 401,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed => 405,
            Error::Conflict(_) => 409,
            Error::Unprocessable(_) => 422,
            Error::RateLimited => 429,
            Error::PayloadTooLarge | Error::TooMuchWork(_) => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::TargetUnreachable { .. } => 502,
            Error::LoopDetected(_) => 508,
            Error::InsufficientStorage(_) => 507,
            Error::Store(_) | Error::Queue(_) | Error::Misconfigured(_) => 503,
            Error::Internal(_) | Error::OfDelivery { .. } => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self.inner() {
            Error::BadRequest(_) => "bad_request",
            Error::Unauthorized => "unauthorized",
            Error::BadSignature(_) => "invalid_signature",
            Error::NotFound(_) => "not_found",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::Conflict(_) => "conflict",
            Error::Unprocessable(_) => "unprocessable",
            Error::RateLimited => "rate_limited",
            Error::PayloadTooLarge | Error::TooMuchWork(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::TargetUnreachable { .. } => "target_unreachable",
            Error::LoopDetected(_) => "loop_detected",
            Error::InsufficientStorage(_) => "insufficient_storage",
            Error::Store(_) => "store_unavailable",
            Error::Queue(_) => "queue_unavailable",
            Error::Internal(_) | Error::OfDelivery { .. } => "internal",
            Error::Misconfigured(_) => "misconfigured",
        }
    }

    pub fn message(&self) -> String {
        match self.inner() {
            Error::BadRequest(m) | Error::NotFound(m) | Error::Conflict(m) | Error::BadSignature(m) => m.clone(),
            Error::Unprocessable(m) => m.clone(),
            Error::UnsupportedMediaType(m) | Error::TooMuchWork(m) | Error::Misconfigured(m) => m.clone(),
            Error::InsufficientStorage(m) => m.clone(),
            Error::Unauthorized => "a valid admin token is required".into(),
            Error::RateLimited => "too many admin requests from this client; try again in a minute".into(),
            Error::MethodNotAllowed => "method not allowed on this route".into(),
            Error::PayloadTooLarge => "the request body is larger than 1 MiB".into(),
            Error::TargetUnreachable { target, detail } => {
                format!("target '{target}' is unreachable: {detail}")
            }
            Error::LoopDetected(hops) => format!(
                "loop detected: this request comes from a chain of {hops} hookrelay deliveries (X-Hookrelay-Hops)"
            ),
            Error::Store(_) => "storage is unavailable; try again".into(),
            Error::Queue(_) => "the delivery queue is unavailable; try again".into(),
            Error::Internal(_) | Error::OfDelivery { .. } => "internal error".into(),
        }
    }

    /// What happened inside, for the log only: store keys and the platform's own error text.
    pub fn detail(&self) -> Option<&str> {
        match self.inner() {
            Error::Store(detail) | Error::Queue(detail) | Error::Internal(detail) => Some(detail),
            _ => None,
        }
    }

    /// The message with the detail, for the log and admin-only records, never for an answer.
    pub fn for_the_log(&self) -> String {
        match self.inner() {
            Error::Store(detail) => format!("storage is unavailable: {detail}"),
            Error::Queue(detail) => format!("the delivery queue is unavailable: {detail}"),
            Error::Internal(detail) => format!("internal error: {detail}"),
            _ => self.message(),
        }
    }

    /// The single mapping from an error to an HTTP answer. An internal failure's answer carries
    /// `request_id`, by which the log finds its detail.
    pub fn into_response(self, dialect: Dialect, request_id: &str) -> Response {
        if let Error::OfDelivery { error, trigger, delivery } = self {
            let mut response = error.into_response(dialect, request_id);
            response.headers.push(("x-hookrelay-trigger".into(), trigger));
            response.headers.push(("x-hookrelay-delivery".into(), delivery));
            return response;
        }
        let status = self.status();
        let body = match (dialect, &self) {
            (Dialect::ServiceStage, _) if self.detail().is_some() => serde_json::json!({
                "error_code": format!("SVCSTG.REPO.{status:04}"),
                "error_msg": format!("{} (request {request_id})", self.message()),
            }),
            (Dialect::Swr, _) if self.detail().is_some() => serde_json::json!({
                "error_code": format!("SVCSTG.SWR.{status}"),
                "error_msg": format!("{} (request {request_id})", self.message()),
            }),
            (Dialect::Alibaba, _) => serde_json::json!({
                "code": pascal_case(self.code()),
                "message": self.message(),
                "requestId": request_id,
            }),
            _ if self.detail().is_some() => {
                serde_json::json!({"error": self.code(), "message": self.message(), "request_id": request_id})
            }
            (Dialect::GitLab, Error::NotFound(_)) => serde_json::json!({"message": "404 Not Found"}),
            (Dialect::GitLab, Error::Unauthorized) => {
                serde_json::json!({"message": "401 Unauthorized"})
            }
            (Dialect::ServiceStage, _) => serde_json::json!({
                "error_code": format!("SVCSTG.REPO.{status:04}"),
                "error_msg": self.message(),
            }),
            (Dialect::Swr, _) => serde_json::json!({
                "error_code": format!("SVCSTG.SWR.{status}"),
                "error_msg": self.message(),
            }),
            _ => serde_json::json!({"error": self.code(), "message": self.message()}),
        };
        let mut response = Response::json(status, &body);
        if let Error::TargetUnreachable { target, .. } = &self {
            response.headers.push(("x-hookrelay-target".into(), target.clone()));
        }
        if let Error::RateLimited = self {
            response.headers.push(("retry-after".into(), "60".into()));
        }
        response
    }
}

/// `bad_request` as Alibaba's error codes are spelled: `BadRequest`.
fn pascal_case(code: &str) -> String {
    code.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::BadRequest(format!("invalid JSON: {}", json_error(&err)))
    }
}

/// What was wrong with a JSON text and where, never a value from it. serde's own message quotes
/// the value it did not expect (`invalid type: string "hunter2", expected a sequence`), and that
/// value can be a credential sent in the wrong shape; this keeps only what was expected and the
/// position: `invalid type at line 1 column 89: expected a list`. Used for every JSON error that
/// reaches an answer, a record or the log.
pub fn json_error(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&position).unwrap_or(&full);
    let at = if err.line() == 0 { String::new() } else { position };
    // The part after the last ", expected " is serde's description of the wanted type (ours, not
    // the caller's); the value before it may itself hold that phrase.
    let expected = message.rfind(", expected ").map(|i| &message[i + ", expected ".len()..]);
    let plain = |wanted: &str| wanted.replace("a sequence", "a list").replace("a map", "an object");
    let kinds = [
        ("invalid type", "invalid type"),
        ("invalid value", "invalid value"),
        ("invalid length", "invalid length"),
        ("unknown variant", "unknown variant"),
    ];
    for (start, said) in kinds {
        if message.starts_with(start) {
            return match expected {
                Some(wanted) => format!("{said}{at}: expected {}", plain(wanted)),
                None => format!("{said}{at}"),
            };
        }
    }
    match err.classify() {
        // A field's name, a missing or duplicate field, or the syntax: names and positions only.
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => full,
        serde_json::error::Category::Data if message.starts_with("unknown field") => match expected {
            Some(wanted) => format!("{}{at}: expected {wanted}", &message[..message.find(", expected").unwrap_or(0)]),
            None => full,
        },
        serde_json::error::Category::Data if message.starts_with("missing field") => full,
        serde_json::error::Category::Data if message.starts_with("duplicate field") => full,
        // A custom message is kept when it quotes nothing (serde quotes a value as "…" or `…`).
        _ if !message.contains(['"', '`']) => full,
        _ => format!("the JSON does not fit{at}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response) -> serde_json::Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn alibaba_and_swr_routes_answer_in_their_vendors_shapes() {
        let body = |error: Error, dialect| {
            serde_json::from_slice::<serde_json::Value>(&error.into_response(dialect, "r9").body).unwrap()
        };
        assert_eq!(
            body(Error::not_found("no trigger 'x'"), Dialect::Alibaba),
            serde_json::json!({"code": "NotFound", "message": "no trigger 'x'", "requestId": "r9"})
        );
        assert_eq!(body(Error::Unauthorized, Dialect::Alibaba)["code"], "Unauthorized");
        assert_eq!(
            body(Error::bad_request("name is missing"), Dialect::Swr),
            serde_json::json!({"error_code": "SVCSTG.SWR.400", "error_msg": "name is missing"})
        );
        let internal = body(Error::Store("kv down at target:t1".into()), Dialect::Swr);
        assert!(!internal.to_string().contains("target:t1") && internal["error_msg"].as_str().unwrap().contains("r9"));
    }

    #[test]
    fn native_errors_carry_code_and_message() {
        let response = Error::bad_request("ref is missing").into_response(Dialect::Native, "r1");
        assert_eq!(response.status, 400);
        assert_eq!(body_of(&response), serde_json::json!({"error": "bad_request", "message": "ref is missing"}));
    }

    #[test]
    fn gitlab_not_found_matches_gitlab_exactly() {
        let response = Error::not_found("no such trigger").into_response(Dialect::GitLab, "r1");
        assert_eq!(response.status, 404);
        assert_eq!(body_of(&response), serde_json::json!({"message": "404 Not Found"}));
    }

    #[test]
    fn servicestage_errors_use_its_error_codes() {
        let response = Error::bad_request("secret is missing").into_response(Dialect::ServiceStage, "r1");
        assert_eq!(response.status, 400);
        assert_eq!(
            body_of(&response),
            serde_json::json!({"error_code": "SVCSTG.REPO.0400", "error_msg": "secret is missing"})
        );
    }

    #[test]
    fn a_loop_is_508_in_every_dialect() {
        let body = |dialect| {
            let response = Error::LoopDetected(3).into_response(dialect, "r4");
            assert_eq!(response.status, 508);
            body_of(&response)
        };
        let message = "loop detected: this request comes from a chain of 3 hookrelay deliveries (X-Hookrelay-Hops)";
        assert_eq!(body(Dialect::Native), serde_json::json!({"error": "loop_detected", "message": message}));
        assert_eq!(body(Dialect::GitLab), serde_json::json!({"error": "loop_detected", "message": message}));
        assert_eq!(
            body(Dialect::ServiceStage),
            serde_json::json!({"error_code": "SVCSTG.REPO.0508", "error_msg": message})
        );
        assert_eq!(body(Dialect::Swr), serde_json::json!({"error_code": "SVCSTG.SWR.508", "error_msg": message}));
        assert_eq!(
            body(Dialect::Alibaba),
            serde_json::json!({"code": "LoopDetected", "message": message, "requestId": "r4"})
        );
    }

    #[test]
    fn a_storage_budget_refusal_is_507_in_every_dialect() {
        let full = || Error::InsufficientStorage("the target's storage budget is used up".into());
        for dialect in [Dialect::Native, Dialect::GitLab, Dialect::ServiceStage, Dialect::Swr, Dialect::Alibaba] {
            let response = full().into_response(dialect, "r1");
            assert_eq!(response.status, 507, "{dialect:?}");
            assert!(body_of(&response).to_string().contains("storage budget"), "{dialect:?}: the message is shown");
        }
        assert_eq!(body_of(&full().into_response(Dialect::Native, "r1"))["error"], "insufficient_storage");
        assert_eq!(body_of(&full().into_response(Dialect::Alibaba, "r1"))["code"], "InsufficientStorage");
        assert_eq!(body_of(&full().into_response(Dialect::Swr, "r1"))["error_code"], "SVCSTG.SWR.507");
        assert_eq!(body_of(&full().into_response(Dialect::ServiceStage, "r1"))["error_code"], "SVCSTG.REPO.0507");
    }

    #[test]
    fn unreachable_target_names_the_target() {
        let err = Error::TargetUnreachable { target: "web-ci".into(), detail: "connection refused".into() };
        let response = err.into_response(Dialect::GitLab, "r1");
        assert_eq!(response.status, 502);
        assert!(body_of(&response)["message"].as_str().unwrap().contains("'web-ci'"));
    }

    #[test]
    fn an_internal_failure_answers_opaquely_with_the_request_id() {
        let store = Error::Store("corrupt record at trigger:abc: expected value".into());
        let response = store.into_response(Dialect::Native, "req-7");
        assert_eq!(response.status, 503);
        let body = body_of(&response);
        assert_eq!(body["request_id"], "req-7");
        assert!(!body.to_string().contains("trigger:abc"), "no store key reaches the caller: {body}");
        let internal = Error::Internal("record at target:t1 does not read".into()).into_response(Dialect::GitLab, "r2");
        assert_eq!(
            (internal.status, body_of(&internal)),
            (500, serde_json::json!({"error": "internal", "message": "internal error", "request_id": "r2"}))
        );
        let servicestage = Error::Queue("queue.send: boom".into()).into_response(Dialect::ServiceStage, "r3");
        assert!(!body_of(&servicestage).to_string().contains("boom"));
    }
}
