//! Helpers the native integration tests share.
#![allow(dead_code)]

use hookrelay::model::{Secret, Source};

/// A real provider payload from `tests/fixtures/` (copied unchanged from shared/fixtures).
pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A hook source of `kind` with these secrets and no generic-HMAC settings.
pub fn source(kind: &str, secrets: &[&str]) -> Source {
    Source {
        kind: kind.into(),
        secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
        header: None,
        algorithm: None,
        encoding: None,
        prefix: None,
    }
}
