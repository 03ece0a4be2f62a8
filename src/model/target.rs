//! A target: where a trigger delivers. Its kind-specific settings live in `targets/`.

use crate::targets::TargetSpec;
use crate::time::format_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub spec: TargetSpec,
    pub created_at: u64,
    pub updated_at: u64,
}

impl Target {
    /// Whether a path segment that names a target (its id, or its URL-decoded name) means this one.
    pub fn answers_to(&self, id_or_name: &str) -> bool {
        self.id == id_or_name || self.name == id_or_name
    }

    /// The target as admins see it: credentials replaced by `*_set` flags.
    pub fn public_view(&self) -> Value {
        let mut view = json!({
            "id": self.id,
            "name": self.name,
            "kind": self.spec.kind_name(),
            "created_at": format_rfc3339(self.created_at),
            "updated_at": format_rfc3339(self.updated_at),
        });
        if let Value::Object(fields) = &mut view {
            fields.extend(self.spec.kind().public_fields());
        }
        view
    }
}
