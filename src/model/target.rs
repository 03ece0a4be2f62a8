//! A target: where a trigger delivers. Its kind-specific settings live in `targets/`.

use crate::targets::TargetSpec;
use crate::time::format_rfc3339;
use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

/// Stored as one flat object: `id`, `name`, the kind's settings with `kind`, and the times. Read by
/// [`TargetVisitor`].
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub spec: TargetSpec,
    pub created_at: u64,
    pub updated_at: u64,
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Target, D::Error> {
        deserializer.deserialize_map(TargetVisitor { stored: true })
    }
}

/// Reads a target's JSON object in one pass, as a derived `Deserialize` with the settings
/// `#[serde(flatten)]` read it (the same fields, errors and positions), without serde's buffering of
/// every other field: those are kept as JSON values, for [`TargetSpec::from_fields`]. A stored
/// target has all four fields of its own; a new one (`stored: false`, the catalog's input) only
/// `name`, and its `id` and times are 0 and empty, whatever the object says.
pub struct TargetVisitor {
    pub stored: bool,
}

impl<'de> Visitor<'de> for TargetVisitor {
    type Value = Target;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str(if self.stored { "struct Target" } else { "struct TargetInput" })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Target, A::Error> {
        let (mut id, mut name, mut created_at, mut updated_at) = (None, None, None, None);
        let mut rest = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => name = Some(map.next_value_once(&name, "name")?),
                "id" if self.stored => id = Some(map.next_value_once(&id, "id")?),
                "created_at" if self.stored => created_at = Some(map.next_value_once(&created_at, "created_at")?),
                "updated_at" if self.stored => updated_at = Some(map.next_value_once(&updated_at, "updated_at")?),
                _ => {
                    rest.insert(key, map.next_value()?);
                }
            }
        }
        let missing = A::Error::missing_field;
        let id = match self.stored {
            true => id.ok_or_else(|| missing("id"))?,
            false => String::new(),
        };
        let name = name.ok_or_else(|| missing("name"))?;
        let created_at = if self.stored { created_at.ok_or_else(|| missing("created_at"))? } else { 0 };
        let updated_at = if self.stored { updated_at.ok_or_else(|| missing("updated_at"))? } else { 0 };
        let spec = TargetSpec::from_fields(rest).map_err(A::Error::custom)?;
        Ok(Target { id, name, spec, created_at, updated_at })
    }
}

/// A field's value, refused before it is read when the object named the field already (as derived
/// code refuses it).
trait NextValueOnce<'de>: MapAccess<'de> {
    fn next_value_once<T: Deserialize<'de>>(
        &mut self,
        slot: &Option<T>,
        field: &'static str,
    ) -> Result<T, Self::Error> {
        match slot {
            Some(_) => Err(Self::Error::duplicate_field(field)),
            None => self.next_value(),
        }
    }
}

impl<'de, A: MapAccess<'de>> NextValueOnce<'de> for A {}

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
