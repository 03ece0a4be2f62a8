//! hookrelay: a webhook and pipeline-trigger relay, compiled to WebAssembly for Cloudflare Workers.
//!
//! The core (everything but `edge`) is plain Rust that decides everything: routing, token and
//! signature checks, parsing, matching, building outbound requests, vendor translations. It is
//! tested natively. `edge` is the thin shell: it converts `worker` values and implements the
//! ports (KV store, `Fetch` client, clock, randomness), and is compiled for wasm32 only, so a
//! `worker` import anywhere else fails the native build.

pub mod access_keys;
pub mod admin;
pub mod api;
pub mod auth;
pub mod catalog;
pub mod compat;
pub mod context;
pub mod cron;
pub mod crypto;
pub mod error;
pub mod filters;
pub mod fire;
pub mod hooks;
pub mod http;
pub mod ledger;
pub mod loops;
pub mod model;
pub mod notify;
pub mod outbound;
pub mod ports;
pub mod relay;
pub mod router;
pub mod schedules;
pub mod sealed;
pub mod settings;
pub mod signature;
pub mod sorting;
pub mod sources;
pub mod store;
pub mod targets;
pub mod template;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod edge;
