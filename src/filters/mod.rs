//! Filters written once and shared by every provider: globs, the event filter, SWR tag
//! conditions. No `worker` import.

mod event;
mod glob;
mod tag;

pub use event::EventFilter;
pub use glob::{glob_match, validate_glob};
pub use tag::{compile_regex, condition_tags, tag_condition_matches, TagConditionType};
