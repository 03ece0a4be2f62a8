//! The native admin API (`/api/v1`), JSON in and out. Thin: parse, call the catalog, shape views.

pub mod deliveries;
pub mod registries;
pub mod targets;
pub mod triggers;
