//! The one error type, and the one place where it becomes an HTTP answer.
//!
//! Messages are written for the caller; they must never contain a secret or a token.

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
    /// A webhook's signature or token is missing or wrong; the message names the header.
    BadSignature(String),
    /// Nothing there, or (for trigger tokens) nothing the caller may know about.
    NotFound(String),
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The request would break a uniqueness or reference rule.
    Conflict(String),
    /// The body is larger than the limit.
    PayloadTooLarge,
    /// A webhook asks for more work than one call may cause (events, deliveries); the message
    /// names the bound.
    TooMuchWork(String),
    /// The body's Content-Type is not one the route reads.
    UnsupportedMediaType(String),
    /// The target could not be reached at all (DNS, connection, TLS).
    TargetUnreachable { target: String, detail: String },
    /// The store (KV) failed.
    Store(String),
    /// The delivery queue refused a message.
    Queue(String),
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
}

impl Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unauthorized | Error::BadSignature(_) => 401,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed => 405,
            Error::Conflict(_) => 409,
            Error::RateLimited => 429,
            Error::PayloadTooLarge | Error::TooMuchWork(_) => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::TargetUnreachable { .. } => 502,
            Error::Store(_) | Error::Queue(_) => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad_request",
            Error::Unauthorized => "unauthorized",
            Error::BadSignature(_) => "invalid_signature",
            Error::NotFound(_) => "not_found",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::Conflict(_) => "conflict",
            Error::RateLimited => "rate_limited",
            Error::PayloadTooLarge | Error::TooMuchWork(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::TargetUnreachable { .. } => "target_unreachable",
            Error::Store(_) => "store_unavailable",
            Error::Queue(_) => "queue_unavailable",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Error::BadRequest(m) | Error::NotFound(m) | Error::Conflict(m) | Error::BadSignature(m) => m.clone(),
            Error::UnsupportedMediaType(m) | Error::TooMuchWork(m) => m.clone(),
            Error::Unauthorized => "a valid admin token is required".into(),
            Error::RateLimited => "too many admin requests from this client; try again in a minute".into(),
            Error::MethodNotAllowed => "method not allowed on this route".into(),
            Error::PayloadTooLarge => "the request body is larger than 1 MiB".into(),
            Error::TargetUnreachable { target, detail } => {
                format!("target '{target}' is unreachable: {detail}")
            }
            Error::Store(m) => format!("storage is unavailable: {m}"),
            Error::Queue(m) => format!("the delivery queue is unavailable: {m}"),
        }
    }

    /// The single mapping from an error to an HTTP answer.
    pub fn into_response(self, dialect: Dialect) -> Response {
        let status = self.status();
        let body = match (dialect, &self) {
            (Dialect::GitLab, Error::NotFound(_)) => serde_json::json!({"message": "404 Not Found"}),
            (Dialect::GitLab, Error::Unauthorized) => {
                serde_json::json!({"message": "401 Unauthorized"})
            }
            (Dialect::ServiceStage, _) => serde_json::json!({
                "error_code": format!("SVCSTG.REPO.{status:04}"),
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

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::BadRequest(format!("invalid JSON: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response) -> serde_json::Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn native_errors_carry_code_and_message() {
        let response = Error::bad_request("ref is missing").into_response(Dialect::Native);
        assert_eq!(response.status, 400);
        assert_eq!(body_of(&response), serde_json::json!({"error": "bad_request", "message": "ref is missing"}));
    }

    #[test]
    fn gitlab_not_found_matches_gitlab_exactly() {
        let response = Error::not_found("no such trigger").into_response(Dialect::GitLab);
        assert_eq!(response.status, 404);
        assert_eq!(body_of(&response), serde_json::json!({"message": "404 Not Found"}));
    }

    #[test]
    fn servicestage_errors_use_its_error_codes() {
        let response = Error::bad_request("secret is missing").into_response(Dialect::ServiceStage);
        assert_eq!(response.status, 400);
        assert_eq!(
            body_of(&response),
            serde_json::json!({"error_code": "SVCSTG.REPO.0400", "error_msg": "secret is missing"})
        );
    }

    #[test]
    fn unreachable_target_names_the_target() {
        let err = Error::TargetUnreachable { target: "web-ci".into(), detail: "connection refused".into() };
        let response = err.into_response(Dialect::GitLab);
        assert_eq!(response.status, 502);
        assert!(body_of(&response)["message"].as_str().unwrap().contains("'web-ci'"));
    }
}
