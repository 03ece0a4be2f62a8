//! An audit entry: one admin mutation, who made it, when, and what it touched. It holds the
//! route and the ids only, never a request body, so it never holds a secret.

use serde::Serialize;
use std::collections::BTreeMap;

/// Stored as the JSON the audit API shows, and served as stored (no decoding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// A stamp that sorts newest first (as delivery stamps do); the record's key is derived from it.
    pub id: String,
    /// RFC 3339.
    pub at: String,
    /// The admin's name.
    pub admin: String,
    /// The method and the route's pattern, `DELETE /api/v1/triggers/{id}`.
    pub action: String,
    /// The HTTP status it was answered with.
    pub status: u16,
    /// The path's parameters, and `created` for the id a creation answered with.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ids: BTreeMap<String, String>,
}
