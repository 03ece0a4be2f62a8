//! A trigger's source: which provider calls it and the secrets that prove it, or (kind `schedule`)
//! the cron expression that fires it and what it runs.

use super::Secret;
use crate::signature::Algorithm;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The source kind of scheduled triggers; every other kind is a provider.
pub const SCHEDULE: &str = "schedule";

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A provider in the registry (`sources::PROVIDERS`), or `schedule`.
    pub kind: String,
    /// Any one of them verifies, so a secret can be rotated with no downtime. Write-only.
    #[serde(default)]
    pub secrets: Vec<Secret>,
    /// `hmac` only: the header that carries the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// `hmac` only: sha1, sha256 (default) or sha512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    /// `hmac` only: hex (default) or base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// `hmac` only: text before the signature, such as `sha256=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `schedule` only: when it fires, five cron fields in UTC (`crate::cron`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// `schedule` only: the ref it runs.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    /// `schedule` only: variables for each run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Hex,
    Base64,
}

impl Source {
    pub fn secret_values(&self) -> Vec<&str> {
        self.secrets.iter().map(Secret::expose).collect()
    }

    pub fn is_schedule(&self) -> bool {
        self.kind == SCHEDULE
    }

    /// The source as admins see it: the number of secrets, never their values.
    pub fn public_view(&self) -> serde_json::Value {
        if self.is_schedule() {
            return serde_json::to_value(self).unwrap_or_default();
        }
        let mut view = serde_json::json!({"kind": self.kind, "secrets_set": self.secrets.len()});
        if let serde_json::Value::Object(fields) = &mut view {
            if let Some(header) = &self.header {
                fields.insert("header".into(), header.clone().into());
            }
            if let Some(algorithm) = self.algorithm {
                fields.insert("algorithm".into(), serde_json::to_value(algorithm).unwrap_or_default());
            }
            if let Some(encoding) = self.encoding {
                fields.insert("encoding".into(), serde_json::to_value(encoding).unwrap_or_default());
            }
            if let Some(prefix) = &self.prefix {
                fields.insert("prefix".into(), prefix.clone().into());
            }
        }
        view
    }
}
