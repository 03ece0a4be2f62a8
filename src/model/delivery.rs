//! A delivery: the record of one firing of a trigger: what fired it, and how the target answered.
//! SWR's `trigger_history` is read from these. Never holds a credential: the outbound request
//! (with its headers) is not recorded, only the target's status and a short excerpt of its answer.

use super::{Call, Target, Trigger};
use crate::error::Error;
use crate::outbound::OutboundResponse;
use serde::{Deserialize, Serialize};

/// How long a delivery record is kept.
pub const DELIVERY_RETENTION_SECONDS: u64 = 7 * 24 * 60 * 60;
/// At most this much of the target's answer is kept.
const EXCERPT_BYTES: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryResult {
    Success,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `{trigger id}-{stamp}`: the record's key is derived from it, so one read finds it.
    pub id: String,
    pub trigger: String,
    pub target: String,
    pub at: u64,
    /// The branch or tag fired; empty when there was none.
    #[serde(rename = "ref", default)]
    pub ref_name: String,
    /// The pushed image's tag, for image pushes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// The pushed image, `repository:tag` (or `@digest`), for image pushes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    pub result: DeliveryResult,
    /// The target's HTTP status; none when it could not be reached or the request not built.
    #[serde(default)]
    pub status: Option<u16>,
    /// Why it failed, or the start of the target's answer.
    #[serde(default)]
    pub detail: String,
}

/// A key suffix that sorts newest first: the time subtracted from a 13-digit ceiling, then
/// randomness so that two firings in one millisecond do not collide.
pub fn delivery_stamp(now_ms: u64, random: [u8; 4]) -> String {
    format!("{:013}{}", 9_999_999_999_999u64.saturating_sub(now_ms), hex::encode(random))
}

impl Delivery {
    /// The record of `call`'s firing of `target` for `trigger`, given what came of it.
    pub fn record(
        trigger: &Trigger,
        target: &Target,
        call: &Call,
        outcome: &Result<OutboundResponse, Error>,
        stamp: &str,
    ) -> Delivery {
        let (result, status, detail) = match outcome {
            Ok(answer) => {
                let ok = (200..300).contains(&answer.status);
                let result = if ok { DeliveryResult::Success } else { DeliveryResult::Failed };
                (result, Some(answer.status), excerpt(&answer.body))
            }
            Err(error) => (DeliveryResult::Failed, None, error.message()),
        };
        Delivery {
            id: Delivery::id_for(&trigger.id, stamp),
            trigger: trigger.id.clone(),
            target: target.id.clone(),
            at: call.now_ms,
            ref_name: call.ref_name.clone(),
            tag: call.image.as_ref().map(|image| image.tag.clone()).unwrap_or_default(),
            image: call.image.as_ref().map(|image| image.reference()).unwrap_or_default(),
            result,
            status,
            detail,
        }
    }

    pub fn id_for(trigger_id: &str, stamp: &str) -> String {
        format!("{trigger_id}-{stamp}")
    }

    /// The trigger id and stamp in a delivery id, or `None` for an id that cannot be one.
    pub fn split_id(id: &str) -> Option<(&str, &str)> {
        let (trigger, stamp) = id.split_once('-')?;
        let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        (plain(trigger) && plain(stamp)).then_some((trigger, stamp))
    }
}

/// The start of a target's answer, cut at a character boundary.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_BYTES)]);
    text.trim_end_matches('\u{fffd}').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Image;

    fn fixtures() -> (Trigger, Target) {
        let trigger: Trigger =
            serde_json::from_str(r#"{"id":"t1","target":"g1","owner":"alice","created_at":0,"updated_at":0}"#).unwrap();
        let target: Target = serde_json::from_str(
            r#"{"id":"g1","name":"web","kind":"http","url":"https://x.example","created_at":0,"updated_at":0}"#,
        )
        .unwrap();
        (trigger, target)
    }

    #[test]
    fn stamps_sort_newest_first() {
        let older = delivery_stamp(1_000, [0xff; 4]);
        let newer = delivery_stamp(2_000, [0; 4]);
        assert!(newer < older, "{newer} {older}");
        assert_eq!(newer.len(), 21);
    }

    #[test]
    fn a_2xx_is_a_success_and_anything_else_a_failure_with_its_reason() {
        let (trigger, target) = fixtures();
        let call = Call {
            now_ms: 5,
            image: Some(Image { repository: "ns/app".into(), tag: "v2".into(), digest: String::new() }),
            ..Call::default()
        };
        let ok = OutboundResponse { status: 200, headers: Vec::new(), body: b"{}".to_vec() };
        let delivered = Delivery::record(&trigger, &target, &call, &Ok(ok), "s");
        assert_eq!(
            (delivered.id.as_str(), delivered.result, delivered.status),
            ("t1-s", DeliveryResult::Success, Some(200))
        );
        assert_eq!((delivered.tag.as_str(), delivered.image.as_str()), ("v2", "ns/app:v2"));
        let missing = OutboundResponse { status: 404, headers: Vec::new(), body: "x".repeat(5000).into_bytes() };
        let failed = Delivery::record(&trigger, &target, &call, &Ok(missing), "s");
        assert_eq!((failed.result, failed.detail.len()), (DeliveryResult::Failed, EXCERPT_BYTES));
        let unreachable = Error::TargetUnreachable { target: "web".into(), detail: "refused".into() };
        let failed = Delivery::record(&trigger, &target, &call, &Err(unreachable), "s");
        assert_eq!((failed.status, failed.detail.contains("refused")), (None, true));
    }

    #[test]
    fn ids_split_into_trigger_and_stamp() {
        assert_eq!(Delivery::split_id("abc-0001ff"), Some(("abc", "0001ff")));
        for bad in ["abc", "-1", "a-", "a:b-1", "a-1:2", "a-b-c"] {
            assert_eq!(Delivery::split_id(bad), None, "{bad}");
        }
    }
}
