//! Gitee: `X-Gitee-Token` is the plain password, or the sign: base64 HMAC-SHA256 of
//! `"{X-Gitee-Timestamp}\n{secret}"` keyed with the secret. A timestamp (milliseconds) more than
//! one hour away from now is refused. The sign covers the timestamp only, never the body: the
//! (timestamp, sign) pair is made single-use, so a captured sign cannot carry another body.

use super::payload::parse_git_payload;
use super::{required_header, verdict, HookCall, Provider, ReplayId};
use crate::error::Error;
use crate::model::{Event, EventKind};
use crate::signature::{any_secret_equals, base64_encode, hmac_sha256};

pub struct Gitee;

const TOLERANCE_MS: u64 = 60 * 60 * 1000;

/// The sign Gitee sends for `timestamp` (milliseconds, as text) and `secret`.
pub fn sign(timestamp: &str, secret: &str) -> String {
    base64_encode(&hmac_sha256(secret.as_bytes(), &[timestamp.as_bytes(), b"\n", secret.as_bytes()]))
}

impl Provider for Gitee {
    fn verify(&self, call: &HookCall) -> Result<(), Error> {
        let presented = required_header(call.request, "X-Gitee-Token")?;
        let timestamp = call.request.header("x-gitee-timestamp").map(str::trim);
        if let Some(timestamp) = timestamp {
            let millis: u64 =
                timestamp.parse().map_err(|_| Error::BadSignature("X-Gitee-Timestamp is not a timestamp".into()))?;
            if millis.abs_diff(call.now_ms) > TOLERANCE_MS {
                return Err(Error::BadSignature("X-Gitee-Timestamp is more than one hour away from now".into()));
            }
        }
        let secrets = call.source.secret_values();
        let signs: Vec<String> =
            timestamp.map(|ts| secrets.iter().map(|secret| sign(ts, secret)).collect()).unwrap_or_default();
        // Both checks always run, so the time does not tell which form (if any) matched.
        let as_password = any_secret_equals(&secrets, presented);
        let as_sign = any_secret_equals(&signs, presented);
        verdict(as_password | as_sign, "X-Gitee-Token")
    }

    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        let event_name = call.request.header("x-gitee-event").unwrap_or("Push Hook");
        let payload = parse_git_payload(call.request)?;
        let event = match event_name {
            "Push Hook" | "Tag Push Hook" => payload.into_push(event_name),
            _ => payload.into_other(EventKind::Other, event_name),
        };
        Ok(vec![event])
    }

    fn credential_field(&self) -> Option<&'static str> {
        Some("password")
    }

    /// The body's hash and, for a sign, the (timestamp, sign) pair: a pair seen once is spent,
    /// whatever body comes with it. A plain password is no proof of anything single-use, so it
    /// adds no id (nor would a key derived from the password be written anywhere).
    fn replay_ids(&self, call: &HookCall) -> Vec<ReplayId> {
        let mut ids = vec![ReplayId::content(&[&call.request.body])];
        let token = call.request.header("x-gitee-token").map(str::trim).unwrap_or_default();
        let timestamp = call.request.header("x-gitee-timestamp").map(str::trim);
        if let Some(timestamp) = timestamp.filter(|_| !any_secret_equals(&call.source.secret_values(), token)) {
            ids.push(ReplayId::content(&[b"gitee-sign", timestamp.as_bytes(), token.as_bytes()]));
        }
        ids
    }
}
