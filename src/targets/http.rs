//! The `http` target: a plain deploy hook. It receives a JSON description of the call.

use super::{validate_url, TargetKind, USER_AGENT};
use crate::error::Error;
use crate::model::{Call, Secret};
use crate::outbound::OutboundRequest;
use serde::{Deserialize, Serialize};
use serde_json::{json, value::RawValue, Map, Value};
use std::collections::BTreeMap;

const METHODS: [&str; 4] = ["POST", "PUT", "PATCH", "GET"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpTarget {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    /// Extra headers. Their values may be credentials, so they are write-only.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
}

fn default_method() -> String {
    "POST".into()
}

/// The body an `http` target receives.
#[derive(Serialize)]
struct CallDescription<'a> {
    trigger: &'a str,
    #[serde(rename = "ref")]
    ref_name: &'a str,
    variables: &'a BTreeMap<String, String>,
    /// The payload that caused the call: embedded as JSON when it is JSON, else as text.
    payload: Option<PayloadValue<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum PayloadValue<'a> {
    Json(&'a RawValue),
    Text(String),
}

impl TargetKind for HttpTarget {
    fn validate(&self) -> Result<(), Error> {
        validate_url("url", &self.url)?;
        if !METHODS.contains(&self.method.as_str()) {
            return Err(Error::bad_request(format!("method must be one of {}", METHODS.join(", "))));
        }
        for (name, value) in &self.headers {
            let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if !valid_name || value.expose().chars().any(|c| c.is_control()) {
                return Err(Error::bad_request(format!("headers: '{name}' is not a valid header")));
            }
        }
        Ok(())
    }

    fn public_fields(&self) -> Map<String, Value> {
        let header_names: Vec<&String> = self.headers.keys().collect();
        let view = json!({"url": self.url, "method": self.method, "header_names": header_names});
        view.as_object().cloned().unwrap_or_default()
    }

    fn build(&self, call: &Call) -> Result<OutboundRequest, Error> {
        let payload = call.payload.as_ref().map(|payload| match serde_json::from_slice::<&RawValue>(&payload.body) {
            Ok(raw) => PayloadValue::Json(raw),
            Err(_) => PayloadValue::Text(String::from_utf8_lossy(&payload.body).into_owned()),
        });
        let description = CallDescription {
            trigger: &call.trigger_id,
            ref_name: &call.ref_name,
            variables: &call.variables,
            payload,
        };
        let mut headers: Vec<(String, String)> =
            self.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.expose().to_string())).collect();
        headers.push(("user-agent".into(), USER_AGENT.into()));
        let body = if self.method == "GET" {
            Vec::new()
        } else {
            headers.push(("content-type".into(), "application/json".into()));
            serde_json::to_vec(&description).map_err(|err| Error::bad_request(err.to_string()))?
        };
        Ok(OutboundRequest { method: self.method.clone(), url: self.url.clone(), headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Payload;

    fn hook() -> HttpTarget {
        serde_json::from_str(r#"{"url":"https://deploy.example.com/hook","headers":{"X-Key":"s3cret"}}"#).unwrap()
    }

    fn call(payload: Option<&[u8]>) -> Call {
        Call {
            trigger_id: "t1".into(),
            ref_name: "main".into(),
            variables: [("A".to_string(), "1".to_string())].into_iter().collect(),
            payload: payload.map(|body| Payload { content_type: "application/json".into(), body: body.to_vec() }),
            ..Default::default()
        }
    }

    #[test]
    fn sends_a_json_description_of_the_call() {
        let request = hook().build(&call(Some(br#"{"after":"abc"}"#))).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "https://deploy.example.com/hook");
        assert_eq!(request.header("x-key"), Some("s3cret"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body, json!({"trigger": "t1", "ref": "main", "variables": {"A": "1"}, "payload": {"after": "abc"}}));
    }

    #[test]
    fn a_payload_that_is_not_json_is_sent_as_text() {
        let request = hook().build(&call(Some(b"plain words"))).unwrap();
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["payload"], json!("plain words"));
    }

    #[test]
    fn header_values_are_write_only() {
        let view = Value::Object(hook().public_fields()).to_string();
        assert!(!view.contains("s3cret"));
        assert!(view.contains("X-Key"));
    }

    #[test]
    fn validation_names_the_field() {
        let mut target = hook();
        target.method = "TRACE".into();
        assert!(target.validate().unwrap_err().message().starts_with("method"));
    }
}
