//! Target kinds: one module each behind [`TargetKind`], and the registry below, which is the only
//! place that matches on the kind. A target builds an [`OutboundRequest`]; it never sends it.
//! No `worker` import.

pub mod ack;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod jenkins;
pub mod kubernetes;

use crate::error::Error;
use crate::model::Call;
use crate::outbound::{OutboundRequest, OutboundResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What every target kind does.
pub trait TargetKind {
    /// Checks a new or patched configuration; the message names the field.
    fn validate(&self) -> Result<(), Error>;
    /// Its settings as admins may see them: credentials appear only as `*_set` flags.
    fn public_fields(&self) -> Map<String, Value>;
    /// The request that fires this target for `call`.
    fn build(&self, call: &Call) -> Result<OutboundRequest, Error>;
    /// A request to read current state first, when firing depends on it (set-image reads the
    /// workload's containers). Its 2xx answer is handed to `build_with`.
    fn lookup(&self, _call: &Call) -> Result<Option<OutboundRequest>, Error> {
        Ok(None)
    }
    /// Its credentials, so that a delivery record can scrub them from what the target answered.
    fn secrets(&self) -> Vec<String>;
    /// The URLs it sends to, by field, for the outbound policy (`outbound::check_destination`).
    fn destinations(&self) -> Vec<(&'static str, &str)>;
    /// Clears the credentials whose field `supplied` does not name (the URL moved to another
    /// origin, and they were meant for the old one). Returns the fields cleared.
    fn drop_credentials(&mut self, supplied: &dyn Fn(&str) -> bool) -> Vec<&'static str>;
    /// What its deliveries are ordered by (`"order": "latest"` keeps only the newest per key): the
    /// ref, unless the target acts on a workload, whose key is then the workload.
    fn order_key(&self, call: &Call) -> String {
        format!("ref:{}", call.ref_name)
    }
    /// `build`, given the lookup's answer when there was one.
    fn build_with(&self, call: &Call, _looked_up: Option<&OutboundResponse>) -> Result<OutboundRequest, Error> {
        self.build(call)
    }
}

/// The registry: one line per kind. Serialized with the kind's name in `kind`; read by
/// [`TargetSpec::from_fields`].
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TargetSpec {
    Ack(ack::AckTarget),
    Github(github::GithubTarget),
    Gitlab(gitlab::GitlabTarget),
    Http(http::HttpTarget),
    Jenkins(jenkins::JenkinsTarget),
    Kubernetes(kubernetes::KubernetesTarget),
}

impl TargetSpec {
    pub fn kind(&self) -> &dyn TargetKind {
        match self {
            TargetSpec::Ack(target) => target,
            TargetSpec::Github(target) => target,
            TargetSpec::Gitlab(target) => target,
            TargetSpec::Http(target) => target,
            TargetSpec::Jenkins(target) => target,
            TargetSpec::Kubernetes(target) => target,
        }
    }

    pub fn kind_mut(&mut self) -> &mut dyn TargetKind {
        match self {
            TargetSpec::Ack(target) => target,
            TargetSpec::Github(target) => target,
            TargetSpec::Gitlab(target) => target,
            TargetSpec::Http(target) => target,
            TargetSpec::Jenkins(target) => target,
            TargetSpec::Kubernetes(target) => target,
        }
    }

    /// The kind's settings from the fields of a target's JSON object: its `kind` (a name, or as
    /// serde reads a variant, its index) and the kind's own fields; others are ignored. What a derived
    /// `#[serde(tag = "kind")]` reads, with the same errors, but from the object already read rather
    /// than through serde's buffering of it, which `flatten` needed and which cost several KB of wasm.
    pub fn from_fields(mut fields: Map<String, Value>) -> Result<TargetSpec, serde_json::Error> {
        use serde::de::{Error as _, Unexpected};
        let unexpected = |kind: &Value| match kind {
            Value::Number(number) if number.is_i64() => Unexpected::Signed(number.as_i64().unwrap_or_default()),
            Value::Number(number) => Unexpected::Float(number.as_f64().unwrap_or_default()),
            Value::Bool(value) => Unexpected::Bool(*value),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
            _ => Unexpected::Unit,
        };
        let index = match fields.remove("kind") {
            None => return Err(serde_json::Error::missing_field("kind")),
            Some(Value::String(kind)) => KINDS
                .iter()
                .position(|name| *name == kind)
                .ok_or_else(|| serde_json::Error::unknown_variant(&kind, KINDS))?,
            Some(Value::Number(number)) if number.is_u64() => match number.as_u64().unwrap_or_default() {
                index if index < KINDS.len() as u64 => index as usize,
                index => {
                    let expected = &"variant index 0 <= i < 6";
                    return Err(serde_json::Error::invalid_value(Unexpected::Unsigned(index), expected));
                }
            },
            Some(other) => return Err(serde_json::Error::invalid_type(unexpected(&other), &"variant identifier")),
        };
        // From the map itself, which serde_json reads as an object only (a `Value` may also be an
        // array, which serde would read a struct from too: code for a case that cannot occur here).
        Ok(match index {
            0 => TargetSpec::Ack(Deserialize::deserialize(fields)?),
            1 => TargetSpec::Github(Deserialize::deserialize(fields)?),
            2 => TargetSpec::Gitlab(Deserialize::deserialize(fields)?),
            3 => TargetSpec::Http(Deserialize::deserialize(fields)?),
            4 => TargetSpec::Jenkins(Deserialize::deserialize(fields)?),
            _ => TargetSpec::Kubernetes(Deserialize::deserialize(fields)?),
        })
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            TargetSpec::Ack(_) => "ack",
            TargetSpec::Github(_) => "github",
            TargetSpec::Gitlab(_) => "gitlab",
            TargetSpec::Http(_) => "http",
            TargetSpec::Jenkins(_) => "jenkins",
            TargetSpec::Kubernetes(_) => "kubernetes",
        }
    }
}

/// The kinds' names, in the registry's order (a kind's index is its place here).
const KINDS: &[&str] = &["ack", "github", "gitlab", "http", "jenkins", "kubernetes"];

/// The user agent every outbound request carries.
pub const USER_AGENT: &str = concat!("hookrelay/", env!("CARGO_PKG_VERSION"));

/// A target URL: `http` or `https`, a host, no embedded credentials (parsed as fetch parses it,
/// see `outbound::parse_target_url`), and, as written, no whitespace and at most 2 KiB.
pub fn validate_url(field: &str, url: &str) -> Result<(), Error> {
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::bad_request(format!("{field} is too long or contains whitespace")));
    }
    crate::outbound::parse_target_url(field, url).map(|_| ())
}

/// A base URL that API paths are appended to: a target URL with no query or fragment, which
/// the appended path would land in.
pub fn validate_base_url(field: &str, url: &str) -> Result<(), Error> {
    validate_url(field, url)?;
    if url.contains(['?', '#']) {
        return Err(Error::bad_request(format!("{field} must not have a query or fragment (it is the API's base)")));
    }
    Ok(())
}

/// A URL as views show it: its query, which may hold a credential (Render's `?key=`), hidden.
pub fn shown_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?***"),
        None => url.to_string(),
    }
}

/// A URL's query, whole and value by value, as credentials to scrub from answers.
pub fn query_secrets(url: &str) -> Vec<String> {
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or_default();
    let values = query.split('&').filter_map(|pair| pair.split_once('=').map(|(_, value)| value));
    // Each value as written and decoded: an answer may echo either (`a%2Fb` or `a/b`).
    let decoded = values.clone().map(|value| crate::http::percent_decode(value, true));
    std::iter::once(query.to_string())
        .chain(values.map(str::to_string))
        .chain(decoded)
        .filter(|part| !part.is_empty())
        .collect()
}

/// What a path segment leaves unescaped: RFC 3986's unreserved characters.
const PATH_SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `text` as one URL path segment. `.` and `..` must be refused before: URL parsers resolve them
/// (even as `%2e%2e`), so they would climb out of the API path.
pub fn path_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, PATH_SEGMENT).to_string()
}

pub fn is_dot_segment(text: &str) -> bool {
    matches!(text, "." | "..")
}

/// Clears `secret` unless the request supplied `field` again; says whether it cleared one.
pub fn drop_secret(
    secret: &mut crate::model::Secret,
    field: &'static str,
    supplied: &dyn Fn(&str) -> bool,
) -> Vec<&'static str> {
    if supplied(field) || !secret.is_set() {
        return Vec::new();
    }
    *secret = crate::model::Secret::default();
    vec![field]
}

/// `https://host/base/` and `https://host/base` mean the same base.
pub fn join_url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// Accepts `"9"` or `9` where a vendor API lets an id be either.
pub fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(number.to_string()),
        _ => Err(serde::de::Error::custom("expected a string or a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_scheme_and_host_and_no_credentials() {
        assert!(validate_url("url", "https://gitlab.example.com").is_ok());
        assert!(validate_url("url", "http://127.0.0.1:9000/x").is_ok());
        for bad in ["gitlab.example.com", "ftp://x", "https://", "https://user:pw@host", "https://a b"] {
            assert!(validate_url("url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_urls_query_is_hidden_in_views_and_scrubbed_as_a_credential() {
        let url = "https://api.render.com/deploy/srv-1?key=rnd_abc&x=1#top";
        assert_eq!(shown_url(url), "https://api.render.com/deploy/srv-1?***");
        assert_eq!(query_secrets(url), ["key=rnd_abc&x=1", "rnd_abc", "1", "rnd_abc", "1"]);
        let encoded = query_secrets("https://h/p?key=a%2Fb%2Bc+d");
        assert!(
            encoded.contains(&"a%2Fb%2Bc+d".to_string()) && encoded.contains(&"a/b+c d".to_string()),
            "{encoded:?}"
        );
        assert!(query_secrets("https://h/p").is_empty());
        assert!(validate_base_url("url", "https://gitlab.example.com/").is_ok());
        assert!(validate_base_url("url", url).unwrap_err().message().starts_with("url must not have a query"));
    }

    #[test]
    fn unknown_kind_is_refused_with_the_known_ones_named() {
        let fields = |text: &str| serde_json::from_str::<Map<String, Value>>(text).unwrap();
        let err = TargetSpec::from_fields(fields(r#"{"kind":"teamcity","url":"https://x"}"#)).unwrap_err();
        assert!(err.to_string().contains("gitlab"), "{err}");
        for (text, error) in [
            (r#"{"url":"https://x"}"#, "missing field `kind`"),
            (r#"{"kind":null}"#, "invalid type: null, expected variant identifier"),
            (r#"{"kind":-1}"#, "invalid type: integer `-1`, expected variant identifier"),
            (r#"{"kind":6}"#, "invalid value: integer `6`, expected variant index 0 <= i < 6"),
            (r#"{"kind":"http"}"#, "missing field `url`"),
            (r#"{"kind":"http","url":5}"#, "invalid type: integer `5`, expected a string"),
        ] {
            assert_eq!(TargetSpec::from_fields(fields(text)).unwrap_err().to_string(), error, "{text}");
        }
        // A variant's index names it, as serde reads an internally tagged enum's tag.
        let by_index = TargetSpec::from_fields(fields(r#"{"kind":5,"api_server":"https://k","token":"t"}"#));
        assert_eq!(by_index.unwrap().kind_name(), "kubernetes");
    }
}
