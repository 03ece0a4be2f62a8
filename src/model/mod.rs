//! The one model: targets, triggers and calls, defined once. Vendor-compatible APIs translate
//! onto these types; they never keep a second copy. No `worker` import.

pub mod audit;
pub mod call;
pub mod delivery;
pub mod event;
pub mod image_reference;
pub mod origin;
pub mod registry;
pub mod source;
pub mod target;
pub mod trigger;
pub mod workload;

pub use audit::AuditEntry;
pub use call::{Call, EventFacts, Payload};
pub use delivery::{Delivery, DeliveryState};
pub use event::{Event, EventKind, Image};
pub use origin::Origin;
pub use registry::Registry;
pub use source::{FieldPointers, ProviderSource, Schedule, Source, SourceFields};
pub use target::Target;
pub use trigger::{Trigger, TriggerKind};
pub use workload::Workload;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

pub use crate::crypto::Secret;

/// The name serde gives a unit variant on the wire (`tag_push`, `set-image`, `regular`): the one
/// source of enum names in answers, reasons and variables, so that no hand-written table or
/// `Debug` spelling can drift from what is stored. Empty for a value that is not a plain name.
pub fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// The unit variant whose [`wire_name`] is `name`, if there is one.
pub fn from_wire_name<T: DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

/// For PATCH bodies: distinguishes a missing field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A name that an API path addresses (a target's, an SWR trigger's): `validate_name`, and never
/// `.` or `..`, which URL parsers (WHATWG, so the runtime's too) remove from a path as dot segments,
/// also when written `%2e`, so that no request could ever name it.
pub fn validate_path_name(field: &str, value: &str) -> Result<(), crate::error::Error> {
    validate_name(field, value)?;
    if value == "." || value == ".." {
        return Err(crate::error::Error::bad_request(format!("{field} must not be '.' or '..'")));
    }
    Ok(())
}

/// A name or description fits in this many bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// The most of a caller's value an answer or a reason quotes.
pub const MAX_QUOTED_BYTES: usize = 64;

/// `value` as an answer may quote it: cut at a character boundary after [`MAX_QUOTED_BYTES`],
/// marked with `…`, so that no answer grows with what a webhook sent.
pub fn quoted(value: &str) -> std::borrow::Cow<'_, str> {
    if value.len() <= MAX_QUOTED_BYTES {
        return value.into();
    }
    let mut end = MAX_QUOTED_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end]).into()
}

pub fn validate_name(field: &str, value: &str) -> Result<(), crate::error::Error> {
    if value.trim().is_empty() {
        return Err(crate::error::Error::bad_request(format!("{field} is missing")));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(crate::error::Error::bad_request(format!("{field} is longer than {MAX_NAME_BYTES} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(crate::error::Error::bad_request(format!("{field} contains control characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::wire_name;
    use super::workload::WorkloadKind;
    use super::{EventKind, TriggerKind};
    use crate::filters::TagConditionType;

    #[test]
    fn wire_names_are_the_stored_spellings() {
        // The names the hand-written tables and `Debug` spellings gave before serde did: stored
        // records, `HOOKRELAY_EVENT`, Kubernetes paths and SWR views all carry them.
        let events = [EventKind::Push, EventKind::TagPush, EventKind::ImagePush, EventKind::Ping, EventKind::Other];
        let names: Vec<String> = events.iter().map(wire_name).collect();
        assert_eq!(names, ["push", "tag_push", "image_push", "ping", "other"]);
        let kinds = [TriggerKind::Token, TriggerKind::Hook, TriggerKind::Image, TriggerKind::Schedule];
        assert_eq!(kinds.iter().map(wire_name).collect::<Vec<_>>(), ["token", "hook", "image", "schedule"]);
        let workloads = [WorkloadKind::Deployments, WorkloadKind::Statefulsets, WorkloadKind::Daemonsets];
        assert_eq!(workloads.iter().map(wire_name).collect::<Vec<_>>(), ["deployments", "statefulsets", "daemonsets"]);
        let conditions = [TagConditionType::All, TagConditionType::Tag, TagConditionType::Regular];
        assert_eq!(conditions.iter().map(wire_name).collect::<Vec<_>>(), ["all", "tag", "regular"]);
    }
}
