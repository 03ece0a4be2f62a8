//! The `http` target: a plain deploy hook. It receives a JSON description of the call, or, with a
//! `body_template`, that template filled in (see `template.rs`): one target kind serves Render,
//! Vercel, Netlify, Buildkite and CircleCI hooks.

use super::{query_secrets, shown_url, validate_url, TargetKind, USER_AGENT};
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
    /// The body to send instead of the call's description, with placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_template: Option<String>,
    /// The template's Content-Type; default `application/json`. Values are JSON-escaped when it is
    /// JSON and percent-encoded when it is a form (`template::Escaping`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The shape of the notifications sent to it (a trigger's `notify`); by default the URL's host
    /// decides (`NotifyFormat::for_url`). Deliveries are sent as they always are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<NotifyFormat>,
}

/// The JSON a notification is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyFormat {
    /// A Slack incoming webhook: `{"text"}` in Slack's markup.
    Slack,
    /// A Discord webhook: `{"content"}`, mentioning no one.
    Discord,
    /// A Microsoft Teams webhook (an incoming webhook or a Workflows one): an Adaptive Card.
    Teams,
    /// Any other receiver: the facts as JSON fields.
    Json,
}

impl NotifyFormat {
    /// By the URL's host (as fetch parses it): Slack's, Discord's and Teams' webhook hosts, else JSON.
    pub fn for_url(url: &str) -> NotifyFormat {
        let parsed = crate::outbound::parse_target_url("url", url).ok();
        let host = parsed.as_ref().and_then(|url| url.host_str()).unwrap_or_default().to_ascii_lowercase();
        let is = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if host == "hooks.slack.com" {
            NotifyFormat::Slack
        } else if is("discord.com") || is("discordapp.com") {
            NotifyFormat::Discord
        } else if is("webhook.office.com") || is("logic.azure.com") || is("powerplatform.com") {
            NotifyFormat::Teams
        } else {
            NotifyFormat::Json
        }
    }
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
        if let Some(template) = &self.body_template {
            crate::template::validate(template)?;
        }
        // Exactly one media type: the escaping of template values is chosen by it, and a list
        // (`application/json, text/plain`) would escape nothing while a target still read JSON.
        if self.content_type.as_deref().is_some_and(|c| !crate::http::is_one_media_type(c)) {
            return Err(Error::bad_request(
                "content_type must be one media type, such as application/json; charset=utf-8",
            ));
        }
        for (name, value) in &self.headers {
            let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if !valid_name || value.expose().chars().any(|c| c.is_control()) {
                return Err(Error::bad_request(format!("headers: '{name}' is not a valid header")));
            }
        }
        Ok(())
    }

    /// The header values, and the URL's query (Render's `?key=`).
    fn secrets(&self) -> Vec<String> {
        self.headers.values().map(|value| value.expose().to_string()).chain(query_secrets(&self.url)).collect()
    }

    fn destinations(&self) -> Vec<(&'static str, &str)> {
        vec![("url", &self.url)]
    }

    /// The header values. The URL's query moves with the URL: the new one was just supplied.
    fn drop_credentials(&mut self, supplied: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
        if supplied("headers") || self.headers.is_empty() {
            return Vec::new();
        }
        self.headers.clear();
        vec!["headers"]
    }

    fn public_fields(&self) -> Map<String, Value> {
        let header_names: Vec<&String> = self.headers.keys().collect();
        let view = json!({"url": shown_url(&self.url), "url_query_set": self.url.contains('?'),
            "method": self.method, "header_names": header_names,
            "body_template": self.body_template, "content_type": self.content_type, "format": self.format});
        view.as_object().cloned().unwrap_or_default()
    }

    fn build(&self, call: &Call) -> Result<OutboundRequest, Error> {
        let mut headers: Vec<(String, String)> =
            self.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.expose().to_string())).collect();
        headers.push(("user-agent".into(), USER_AGENT.into()));
        let content_type = self.content_type.clone().unwrap_or_else(|| "application/json".into());
        let body = match (&self.body_template, self.method.as_str()) {
            (_, "GET") => Vec::new(),
            (Some(template), _) => {
                let escaping = crate::template::Escaping::for_media_type(&content_type);
                crate::template::render(template, call, escaping)?.into_bytes()
            }
            (None, _) => self.description(call)?,
        };
        if !body.is_empty() {
            headers.push(("content-type".into(), content_type));
        }
        Ok(OutboundRequest { method: self.method.clone(), url: self.url.clone(), headers, body })
    }
}

impl HttpTarget {
    /// The default body: the call described as JSON, with the payload that caused it.
    fn description(&self, call: &Call) -> Result<Vec<u8>, Error> {
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
        serde_json::to_vec(&description).map_err(|err| Error::bad_request(err.to_string()))
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
    fn a_body_template_is_filled_in_and_sent_with_its_content_type() {
        let mut target = hook();
        target.body_template = Some(r#"{"ref":"{{ref}}","env":"{{variables.A}}"}"#.into());
        let request = target.build(&call(None)).unwrap();
        assert_eq!(request.body, br#"{"ref":"main","env":"1"}"#);
        assert_eq!(request.header("content-type"), Some("application/json"));
        target.body_template = Some("ref={{ref}}".into());
        target.content_type = Some("application/x-www-form-urlencoded".into());
        let form = target.build(&call(None)).unwrap();
        assert_eq!(
            (form.body.as_slice(), form.header("content-type")),
            (&b"ref=main"[..], Some("application/x-www-form-urlencoded"))
        );
        target.body_template = Some("{{token}}".into());
        assert!(target.validate().unwrap_err().message().starts_with("body_template"));
    }

    /// The red team's two injections (issue 14, F7): a value closing its JSON string in an upper-case
    /// `application/JSON` body, and a ref adding a form pair.
    #[test]
    fn template_values_cannot_inject_fields_whatever_the_content_type_spelling() {
        let mut target = hook();
        target.body_template = Some(r#"{"env":"{{variables.ENV}}"}"#.into());
        let mut injecting = call(None);
        injecting.variables.insert("ENV".into(), r#"x","admin":true,"y":""#.into());
        for content_type in ["application/JSON", "application/json; charset=utf-8", "application/vnd.deploy+JSON"] {
            target.content_type = Some(content_type.into());
            let request = target.build(&injecting).unwrap();
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            assert_eq!(body, json!({"env": r#"x","admin":true,"y":""#}), "{content_type}");
            assert_eq!(request.header("content-type"), Some(content_type), "sent as configured");
        }
        target.body_template = Some("ref={{ref}}&env=prod".into());
        injecting.ref_name = "main&deploy_all=true".into();
        for content_type in ["application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded; charset=UTF-8"] {
            target.content_type = Some(content_type.into());
            let body = String::from_utf8(target.build(&injecting).unwrap().body).unwrap();
            let pairs = crate::http::parse_urlencoded(&body);
            assert_eq!(
                pairs,
                vec![("ref".into(), "main&deploy_all=true".into()), ("env".into(), "prod".into())],
                "{content_type}: {body}"
            );
        }
    }

    #[test]
    fn header_values_are_write_only() {
        let view = Value::Object(hook().public_fields()).to_string();
        assert!(!view.contains("s3cret"));
        assert!(view.contains("X-Key"));
    }

    #[test]
    fn the_urls_query_is_write_only_and_scrubbed() {
        let mut target = hook();
        target.url = "https://api.render.com/deploy/srv-1?key=rnd_s3cret".into();
        let view = Value::Object(target.public_fields());
        assert_eq!(
            (view["url"].as_str(), view["url_query_set"].as_bool()),
            (Some("https://api.render.com/deploy/srv-1?***"), Some(true))
        );
        assert!(target.secrets().contains(&"rnd_s3cret".to_string()));
        assert_eq!(target.build(&call(None)).unwrap().url, "https://api.render.com/deploy/srv-1?key=rnd_s3cret");
    }

    #[test]
    fn validation_names_the_field() {
        let mut target = hook();
        target.method = "TRACE".into();
        assert!(target.validate().unwrap_err().message().starts_with("method"));
    }
}
