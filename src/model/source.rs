//! A trigger's source: a provider that calls it and the secrets that prove it ([`ProviderSource`]),
//! or a [`Schedule`] whose cron expression fires it. One enum, so that no code reads a provider's
//! field on a schedule or the reverse; stored in the one flat shape records have always had
//! ([`SourceFields`]). No `worker` import; never shows a secret (views give only their count).

use super::Secret;
use crate::signature::Algorithm;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The source kind of scheduled triggers; every other kind is a provider.
pub const SCHEDULE: &str = "schedule";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "SourceFields", try_from = "SourceFields")]
pub enum Source {
    Provider(ProviderSource),
    Schedule(Schedule),
}

/// A provider in the registry (`sources::PROVIDERS`), its secrets, the generic-HMAC settings, and
/// the generic sources' field pointers.
/// Stored as it is in [`SourceFields`] (a registry endpoint keeps one directly).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSource {
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
    /// `hmac` and `standard` only: where the event's facts are in the body (`sources::generic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldPointers>,
}

/// JSON pointers (RFC 6901) to the event's facts in any JSON body, such as `/data/branch`. A fact
/// whose pointer is unset, missing from the body or not a string is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldPointers {
    /// A branch or tag: `refs/heads/x`, `refs/tags/x`, or a bare name, which is a branch.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The sender's name for the event, kept as the event's provider name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

impl FieldPointers {
    /// Each fact's name as the source spells it, and its pointer.
    pub fn named(&self) -> [(&'static str, Option<&str>); 4] {
        [
            ("ref", self.git_ref.as_deref()),
            ("repository", self.repository.as_deref()),
            ("commit", self.commit.as_deref()),
            ("event", self.event.as_deref()),
        ]
    }
}

/// When a scheduled trigger fires, and what it runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// Five cron fields in UTC (`crate::cron`).
    pub cron: String,
    /// The ref it runs; the trigger's pinned ref without it.
    pub ref_name: Option<String>,
    /// Variables for each run, over the trigger's.
    pub variables: BTreeMap<String, String>,
}

/// A source as an admin sends it and as records store it: every field of both kinds in one bag,
/// `kind` saying which. `sources::validate_source` turns it into a [`Source`], refusing (400,
/// naming them) the fields that do not belong to its kind.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFields {
    /// A provider, or `schedule`.
    pub kind: String,
    #[serde(default)]
    pub secrets: Vec<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldPointers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Hex,
    Base64,
}

impl SourceFields {
    pub fn is_schedule(&self) -> bool {
        self.kind == SCHEDULE
    }

    /// Set fields that only a schedule has.
    pub fn has_schedule_fields(&self) -> bool {
        self.cron.is_some() || self.ref_name.is_some() || !self.variables.is_empty()
    }

    /// Set fields that only a provider has.
    pub fn has_provider_fields(&self) -> bool {
        let SourceFields { secrets, header, algorithm, encoding, prefix, fields, .. } = self;
        !secrets.is_empty()
            || header.is_some()
            || algorithm.is_some()
            || encoding.is_some()
            || prefix.is_some()
            || fields.is_some()
    }

    /// The provider fields; the schedule's are left behind.
    pub fn provider(self) -> ProviderSource {
        let SourceFields { kind, secrets, header, algorithm, encoding, prefix, fields, .. } = self;
        ProviderSource { kind, secrets, header, algorithm, encoding, prefix, fields }
    }
}

/// Reading a stored source: the kind decides the variant. Only a schedule without its cron
/// expression is unreadable; misplaced fields were refused when the source was written.
impl TryFrom<SourceFields> for Source {
    type Error = &'static str;

    fn try_from(fields: SourceFields) -> Result<Source, Self::Error> {
        if !fields.is_schedule() {
            return Ok(Source::Provider(fields.provider()));
        }
        let SourceFields { cron, ref_name, variables, .. } = fields;
        let cron = cron.ok_or("source: a schedule without its cron expression")?;
        Ok(Source::Schedule(Schedule { cron, ref_name, variables }))
    }
}

impl From<Source> for SourceFields {
    fn from(source: Source) -> SourceFields {
        match source {
            Source::Provider(ProviderSource { kind, secrets, header, algorithm, encoding, prefix, fields }) => {
                SourceFields { kind, secrets, header, algorithm, encoding, prefix, fields, ..SourceFields::default() }
            }
            Source::Schedule(Schedule { cron, ref_name, variables }) => {
                SourceFields { kind: SCHEDULE.into(), cron: Some(cron), ref_name, variables, ..SourceFields::default() }
            }
        }
    }
}

impl ProviderSource {
    pub fn secret_values(&self) -> Vec<&str> {
        self.secrets.iter().map(Secret::expose).collect()
    }

    /// The source as admins see it: the number of secrets, never their values.
    pub fn public_view(&self) -> serde_json::Value {
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
            if let Some(pointers) = &self.fields {
                fields.insert("fields".into(), serde_json::to_value(pointers).unwrap_or_default());
            }
        }
        view
    }
}

impl Source {
    pub fn is_schedule(&self) -> bool {
        matches!(self, Source::Schedule(_))
    }

    /// The provider's name, or `schedule`.
    pub fn kind(&self) -> &str {
        match self {
            Source::Provider(provider) => &provider.kind,
            Source::Schedule(_) => SCHEDULE,
        }
    }

    pub fn as_provider(&self) -> Option<&ProviderSource> {
        match self {
            Source::Provider(provider) => Some(provider),
            Source::Schedule(_) => None,
        }
    }

    pub fn as_schedule(&self) -> Option<&Schedule> {
        match self {
            Source::Schedule(schedule) => Some(schedule),
            Source::Provider(_) => None,
        }
    }

    /// The source as admins see it: a schedule whole (it holds no secret), a provider's
    /// secrets only counted.
    pub fn public_view(&self) -> serde_json::Value {
        match self {
            Source::Provider(provider) => provider.public_view(),
            Source::Schedule(_) => serde_json::to_value(self).unwrap_or_default(),
        }
    }
}
