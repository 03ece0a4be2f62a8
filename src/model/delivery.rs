//! A delivery: one call forwarded to one target, and what came of each attempt. It is kept in KV
//! (with a TTL) and travels through the retry queue, so it carries the call itself: a retry or a
//! replay asks the target the same. Never holds a credential: requests (with their headers) are
//! not recorded, and every excerpt of an answer is scrubbed of the target's secrets.

use super::{Call, Payload};
use crate::error::Error;
use crate::outbound::OutboundResponse;
use serde::{Deserialize, Serialize};

/// How long a delivery record is kept unless `DELIVERY_TTL_SECONDS` says otherwise.
pub const DELIVERY_RETENTION_SECONDS: u64 = 7 * 24 * 60 * 60;
/// At most this much of the target's answer is kept per attempt.
const EXCERPT_BYTES: usize = 2048;
/// What a scrubbed secret reads as.
pub const REDACTED: &str = "[redacted]";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Queued: not yet tried, or waiting for its next retry.
    Pending,
    /// The target answered 2xx.
    Delivered,
    /// An answer that retrying cannot change (a 4xx other than 408 and 429, a 508, a request
    /// that could not be built, a target that is gone).
    Failed,
    /// Every attempt failed; the dead-letter queue keeps it.
    Dead,
    /// Never sent, or not sent again: a newer delivery for the same key (workload or ref) came
    /// first under `"order": "latest"` (its id is in `superseded_by`).
    Superseded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: u64,
    /// The target's HTTP status; none when no answer came back.
    #[serde(default)]
    pub status: Option<u16>,
    pub duration_ms: u64,
    /// The start of the answer, or why there was none; scrubbed of the target's secrets.
    #[serde(default)]
    pub excerpt: String,
    /// The target may have acted on it without saying so (a timeout, an invocation that died
    /// mid-attempt): the one case where a delivery id may reach its target twice.
    #[serde(default, skip_serializing_if = "is_false")]
    pub outcome_unknown: bool,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `{trigger id}-{stamp}`: the record's key is derived from it, so one read finds it.
    pub id: String,
    pub trigger: String,
    pub target: String,
    /// When it was created.
    pub at: u64,
    pub state: DeliveryState,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// The delivery this one replays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<String>,
    /// The newer delivery for the same key that made this one `superseded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// What the target is asked: ref, variables, payload, image, containers.
    pub call: Call,
    /// The notification sent when it settled (the trigger's `notify`), and how it went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
    /// A token call's `Idempotency-Key`: what its call was, and the answer its caller got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<Idempotency>,
    /// The digest of the call's payload (`Payload::digest`), taken when the ledger took the
    /// delivery in: what a list shows in its place. None without a payload, and in a record from
    /// before it was taken (a list then takes it from the payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_digest: Option<String>,
}

/// What an `Idempotency-Key` repeat is answered from (IETF's Idempotency-Key draft): the first
/// call's fingerprint, so that the key used with another request is told apart (422), and the
/// first call's answer, replayed as it was once known (until then the first call is in flight:
/// 409).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idempotency {
    /// SHA-256 (hex) of what the caller sent: ref, variables, inputs, images and payload.
    pub request: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<FirstAnswer>,
}

/// The answer a token call's caller got: its status, and its body with its content type (already
/// scrubbed of the target's credentials, as it was relayed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstAnswer {
    pub status: u16,
    pub body: Payload,
}

/// One notification of a settled delivery: sent once, never retried; its failure is recorded
/// here and changes nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub at: u64,
    /// The notify target's id.
    pub target: String,
    /// Its answer's status; none when no answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed (no answer, a refused destination, a non-2xx status); empty when it did not.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Delivered or failed for good: record it.
    Done,
    /// Try again after `RetryPolicy::delay_seconds(attempts)`.
    Retry,
    /// Out of attempts: record it and hand it to the dead-letter queue.
    Dead,
}

/// Exponential backoff with jitter: `base`, 2·`base`, 4·`base`, ... capped at an hour, and at most
/// `max_attempts` attempts in all (the vars `RETRY_BASE_SECONDS` and `RETRY_MAX_ATTEMPTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_seconds: u32,
    pub max_attempts: u32,
}

pub const MAX_RETRY_DELAY_SECONDS: u32 = 3600;

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base_seconds: 30, max_attempts: 10 }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt, after `attempts` of them failed: `base·2^(attempts-1)`,
    /// capped at an hour, less up to a fifth of it (from `random`) so that failures spread out.
    pub fn delay_seconds(&self, attempts: u32, random: u32) -> u32 {
        let exponent = attempts.saturating_sub(1).min(31);
        let full = u64::from(self.base_seconds).saturating_mul(1u64 << exponent).min(MAX_RETRY_DELAY_SECONDS.into());
        let jitter = u64::from(random) % (full / 5 + 1);
        (full - jitter) as u32
    }

    /// Whether an outcome is worth another try: no answer, a 5xx, a 408 or a 429. Not a 508: a
    /// loop refused (`loops`, or another server's loop detection) is refused again.
    pub fn retryable(outcome: &Result<OutboundResponse, Error>) -> bool {
        match outcome {
            Ok(answer) => (answer.status >= 500 && answer.status != 508) || matches!(answer.status, 408 | 429),
            Err(error) => matches!(error, Error::TargetUnreachable { .. }),
        }
    }
}

/// A key suffix that sorts newest first: the time subtracted from a 13-digit ceiling, then
/// randomness so that two firings in one millisecond do not collide.
pub fn delivery_stamp(now_ms: u64, random: [u8; 4]) -> String {
    format!("{:013}{}", STAMP_CEILING.saturating_sub(now_ms), hex::encode(random))
}

const STAMP_CEILING: u64 = 9_999_999_999_999;

/// When a stamp was made, read back from it (a trigger's `last_used` costs a listing, no read).
pub fn stamp_time(stamp: &str) -> Option<u64> {
    let millis: u64 = stamp.get(..13)?.parse().ok()?;
    Some(STAMP_CEILING - millis)
}

impl Delivery {
    /// A new, pending delivery of `call` to `target` for `trigger_id`.
    pub fn new(trigger_id: &str, target_id: &str, stamp: &str, mut call: Call, now_ms: u64) -> Delivery {
        let id = Delivery::id_for(trigger_id, stamp);
        call.delivery = id.clone();
        call.trigger_id = trigger_id.to_string();
        Delivery {
            id,
            trigger: trigger_id.to_string(),
            target: target_id.to_string(),
            at: now_ms,
            state: DeliveryState::Pending,
            attempts: Vec::new(),
            replay_of: None,
            superseded_by: None,
            notification: None,
            idempotency: None,
            payload_digest: None,
            call,
        }
    }

    /// The call for the next attempt, stamped with its time and this delivery's id.
    pub fn call_at(&self, now_ms: u64) -> Call {
        Call { trigger_id: self.trigger.clone(), delivery: self.id.clone(), now_ms, ..self.call.clone() }
    }

    /// Notes an attempt's outcome (its excerpt scrubbed of `secrets`) and moves the state on.
    pub fn note(
        &mut self,
        at: u64,
        duration_ms: u64,
        outcome: &Result<OutboundResponse, Error>,
        secrets: &[impl AsRef<str>],
        policy: &RetryPolicy,
    ) -> Next {
        let number = self.attempts.len() as u32 + 1;
        self.note_attempt(number, at, duration_ms, outcome, secrets, policy)
    }

    /// `note` for attempt `number`, which may be more than the attempts recorded (a record that
    /// missed an attempt of an invocation that died): the policy counts attempts made, not noted.
    pub fn note_attempt(
        &mut self,
        number: u32,
        at: u64,
        duration_ms: u64,
        outcome: &Result<OutboundResponse, Error>,
        secrets: &[impl AsRef<str>],
        policy: &RetryPolicy,
    ) -> Next {
        let (status, text) = match outcome {
            // Scrubbed before it is cut: a secret across the cut would keep its first part.
            Ok(answer) => (Some(answer.status), excerpt(&redact_bytes(&answer.body, secrets))),
            Err(error) => (None, redact(&error.message(), secrets)),
        };
        self.attempts.push(Attempt { at, status, duration_ms, excerpt: text, outcome_unknown: false });
        let (state, next) = match outcome {
            Ok(answer) if (200..300).contains(&answer.status) => (DeliveryState::Delivered, Next::Done),
            _ if !RetryPolicy::retryable(outcome) => (DeliveryState::Failed, Next::Done),
            _ if number.max(self.attempts.len() as u32) >= policy.max_attempts => (DeliveryState::Dead, Next::Dead),
            _ => (DeliveryState::Pending, Next::Retry),
        };
        self.state = state;
        next
    }

    /// Ends a delivery that cannot be attempted at all (its trigger or target is gone).
    pub fn fail(&mut self, at: u64, why: &str) {
        self.attempts.push(Attempt {
            at,
            status: None,
            duration_ms: 0,
            excerpt: why.to_string(),
            outcome_unknown: false,
        });
        self.state = DeliveryState::Failed;
    }

    /// The status of the last attempt, if it got an answer.
    pub fn last_status(&self) -> Option<u16> {
        self.attempts.last().and_then(|attempt| attempt.status)
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

/// `text` with every secret (of four characters or more) replaced by `[redacted]`, as written,
/// percent-encoded (an echoed URL or form) or JSON-escaped (an echoed JSON string, `/` escaped
/// or not).
pub fn redact<S: AsRef<str>>(text: &str, secrets: &[S]) -> String {
    let scrubbed = redact_bytes(text.as_bytes(), secrets);
    // Whole UTF-8 secrets replaced by UTF-8 text leave UTF-8.
    String::from_utf8(scrubbed).unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

/// What a URL or form leaves unescaped (RFC 3986's unreserved characters); some escape them too.
const URL_ESCAPED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `redact` for a body that need not be text (a target's answer relayed to a token caller).
pub fn redact_bytes<S: AsRef<str>>(body: &[u8], secrets: &[S]) -> Vec<u8> {
    let mut spellings: Vec<String> = secrets
        .iter()
        .map(AsRef::as_ref)
        .filter(|secret| secret.len() >= 4)
        .flat_map(|secret| {
            let encode = |set| percent_encoding::utf8_percent_encode(secret, set).to_string();
            let (encoded, all_encoded) = (encode(URL_ESCAPED), encode(percent_encoding::NON_ALPHANUMERIC));
            let quoted = serde_json::to_string(secret).unwrap_or_default();
            let escaped = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default().to_string();
            // Some serializers (PHP's) escape `/` too.
            let slashes = escaped.replace('/', "\\/");
            [secret.to_string(), encoded, all_encoded, escaped, slashes]
        })
        .collect();
    // Longest first, so that a secret inside another does not leave the rest of the other.
    crate::sorting::sort_by(&mut spellings, |a, b| b.len().cmp(&a.len()));
    spellings.into_iter().fold(body.to_vec(), |body, secret| replace_all(&body, secret.as_bytes(), REDACTED.as_bytes()))
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    // Jumping to each candidate first byte keeps a large answer's scrub linear.
    while let Some(at) = rest.iter().position(|&byte| Some(&byte) == needle.first()) {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with(needle) {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out.extend_from_slice(rest);
    out
}

/// The start of a target's answer, cut at a character boundary.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_BYTES)]);
    text.trim_end_matches('\u{fffd}').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Image, Payload};

    fn answer(status: u16, body: &str) -> Result<OutboundResponse, Error> {
        Ok(OutboundResponse { status, headers: Vec::new(), body: body.as_bytes().to_vec() })
    }

    fn unreachable() -> Result<OutboundResponse, Error> {
        Err(Error::TargetUnreachable { target: "web".into(), detail: "connection refused".into() })
    }

    fn delivery() -> Delivery {
        Delivery::new("t1", "g1", "s", Call { ref_name: "main".into(), ..Call::default() }, 5)
    }

    #[test]
    fn stamps_sort_newest_first_and_tell_their_time() {
        let older = delivery_stamp(1_000, [0xff; 4]);
        let newer = delivery_stamp(2_000, [0; 4]);
        assert!(newer < older, "{newer} {older}");
        assert_eq!(newer.len(), 21);
        assert_eq!((stamp_time(&older), stamp_time(&newer)), (Some(1_000), Some(2_000)));
        assert_eq!(stamp_time("12x"), None);
    }

    #[test]
    fn the_backoff_doubles_from_the_base_and_stops_at_an_hour() {
        let policy = RetryPolicy::default();
        let delays: Vec<u32> = (1..=10).map(|n| policy.delay_seconds(n, 0)).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(policy.delay_seconds(200, 0), 3600, "no overflow");
        let short = RetryPolicy { base_seconds: 1, max_attempts: 3 };
        assert_eq!((short.delay_seconds(1, 0), short.delay_seconds(2, 0)), (1, 2));
    }

    #[test]
    fn jitter_takes_off_at_most_a_fifth() {
        let policy = RetryPolicy::default();
        let delays: Vec<u32> = (0..1000).map(|random| policy.delay_seconds(3, random)).collect();
        assert!(delays.iter().all(|d| (96..=120).contains(d)), "{delays:?}");
        assert!(delays.iter().any(|&d| d < 120) && delays.contains(&96), "the whole range is used");
    }

    #[test]
    fn the_retry_decision_for_each_status() {
        for status in [500, 502, 503, 504, 408, 429] {
            assert!(RetryPolicy::retryable(&answer(status, "")), "{status}");
        }
        for status in [200, 201, 204, 301, 400, 401, 403, 404, 409, 410, 422, 508] {
            assert!(!RetryPolicy::retryable(&answer(status, "")), "{status}");
        }
        assert!(RetryPolicy::retryable(&unreachable()), "no answer at all");
        assert!(!RetryPolicy::retryable(&Err(Error::bad_request("no such container"))), "cannot be built");
    }

    #[test]
    fn states_move_from_pending_to_delivered_failed_or_dead() {
        let policy = RetryPolicy { base_seconds: 1, max_attempts: 3 };
        let mut d = delivery();
        assert_eq!(d.state, DeliveryState::Pending);
        assert_eq!(d.note(10, 7, &answer(503, "busy"), &[] as &[&str], &policy), Next::Retry);
        assert_eq!(d.state, DeliveryState::Pending);
        assert_eq!(d.note(20, 3, &unreachable(), &[] as &[&str], &policy), Next::Retry);
        assert_eq!(d.note(30, 4, &answer(201, "{\"id\":1}"), &[] as &[&str], &policy), Next::Done);
        assert_eq!(d.state, DeliveryState::Delivered);
        let statuses: Vec<Option<u16>> = d.attempts.iter().map(|a| a.status).collect();
        assert_eq!(statuses, [Some(503), None, Some(201)]);
        assert_eq!((d.attempts[0].at, d.attempts[0].duration_ms, d.attempts[0].excerpt.as_str()), (10, 7, "busy"));

        let mut bad = delivery();
        assert_eq!(bad.note(10, 1, &answer(400, "bad ref"), &[] as &[&str], &policy), Next::Done);
        assert_eq!(bad.state, DeliveryState::Failed);

        let mut down = delivery();
        let nexts: Vec<Next> = (0..3).map(|n| down.note(n, 1, &answer(503, ""), &[] as &[&str], &policy)).collect();
        assert_eq!(nexts, [Next::Retry, Next::Retry, Next::Dead]);
        assert_eq!((down.state, down.attempts.len()), (DeliveryState::Dead, 3));
    }

    #[test]
    fn excerpts_are_cut_at_2_kib_and_scrubbed_of_secrets() {
        let policy = RetryPolicy::default();
        let mut d = delivery();
        d.note(1, 1, &answer(502, &"x".repeat(5000)), &[] as &[&str], &policy);
        assert_eq!(d.attempts[0].excerpt.len(), EXCERPT_BYTES);
        let echo = answer(401, "bad token glpat-SECRET1 for https://h/?token=glpat-SECRET1 and key sk-2");
        d.note(2, 1, &echo, &["glpat-SECRET1", "sk-2", ""], &policy);
        assert_eq!(d.attempts[1].excerpt, "bad token [redacted] for https://h/?token=[redacted] and key [redacted]");
        let encoded = answer(400, r#"{"url":"https://h/?k=a%2Fb%3D","header":"a\/b=\"c\""}"#);
        d.note(3, 1, &encoded, &["a/b=", "a/b=\"c\""], &policy);
        assert_eq!(d.attempts[2].excerpt, r#"{"url":"https://h/?k=[redacted]","header":"[redacted]"}"#);
        let bytes = redact_bytes(b"\xff glptt-x.y glptt%2Dx%2Ey glptt-x.y\xfe", &["glptt-x.y"]);
        assert_eq!(bytes, b"\xff [redacted] [redacted] [redacted]\xfe", "not only text");
        let text = serde_json::to_string(&d).unwrap();
        assert!(!text.contains("SECRET1"), "{text}");
    }

    #[test]
    fn a_record_keeps_the_call_and_reads_back_the_same() {
        let call = Call {
            ref_name: "v1".into(),
            variables: [("A".to_string(), "1".to_string())].into(),
            payload: Some(Payload { content_type: "application/json".into(), body: br#"{"k":"v"}"#.to_vec() }),
            image: Some(Image { repository: "ns/app".into(), tag: "v2".into(), digest: String::new() }),
            ..Call::default()
        };
        let d = Delivery::new("t1", "g1", "s", call, 5);
        let text = serde_json::to_string(&d).unwrap();
        let back: Delivery = serde_json::from_str(&text).unwrap();
        assert_eq!(back.call_at(9), d.call_at(9), "the attempt fields come back from the record");
        assert_eq!(back.call_at(9).delivery, "t1-s");
        assert!(text.contains(r#""text":"{\"k\":\"v\"}""#), "{text}");
        let binary = Payload { content_type: "application/octet-stream".into(), body: vec![0xff, 0, 0x80] };
        let stored = serde_json::to_string(&binary).unwrap();
        assert!(stored.contains("base64"), "{stored}");
        assert_eq!(serde_json::from_str::<Payload>(&stored).unwrap(), binary);
    }

    #[test]
    fn a_superseded_record_names_its_successor_and_an_older_record_still_reads() {
        let older = r#"{"id":"t1-s","trigger":"t1","target":"g1","at":5,"state":"pending","attempts":[{"at":1,"status":503,"duration_ms":2,"excerpt":"busy"}],"call":{"ref":"main"}}"#;
        let mut d: Delivery = serde_json::from_str(older).unwrap();
        assert_eq!((d.superseded_by.as_deref(), d.attempts[0].outcome_unknown), (None, false));
        assert_eq!(serde_json::to_string(&d).unwrap(), older, "written back unchanged");
        d.state = DeliveryState::Superseded;
        d.superseded_by = Some("t1-n".into());
        d.attempts[0].outcome_unknown = true;
        let text = serde_json::to_string(&d).unwrap();
        assert!(text.contains(r#""state":"superseded""#) && text.contains(r#""superseded_by":"t1-n""#), "{text}");
        assert!(text.contains(r#""outcome_unknown":true"#), "{text}");
        assert_eq!(serde_json::from_str::<Delivery>(&text).unwrap(), d);
    }

    #[test]
    fn ids_split_into_trigger_and_stamp() {
        assert_eq!(Delivery::split_id("abc-0001ff"), Some(("abc", "0001ff")));
        for bad in ["abc", "-1", "a-", "a:b-1", "a-1:2", "a-b-c"] {
            assert_eq!(Delivery::split_id(bad), None, "{bad}");
        }
    }
}
