//! A target's storage budget: the bytes its ledger's delivery records may take together
//! (`STORAGE_BUDGET_MB`). Counted as each record is taken in ([`stored_size`]), kept as a running
//! total beside the records (no scan), and taken off as records expire; a call whose deliveries
//! would take the total past the budget is refused whole (507) and nothing stored is touched.

use crate::model::{Call, Delivery};

/// What a record costs besides its call's own bytes: its ids, times and states, and a few
/// attempts' excerpts.
pub const RECORD_BYTES: u64 = 1024;

/// The most a token call's answer kept for its `Idempotency-Key` may take (GitLab's pipeline
/// object is about 1 KiB): counted with the record when it is taken in, before the answer is known,
/// so that keeping it later never passes the budget. A larger answer is not kept.
pub const KEPT_ANSWER_BYTES: u64 = 16 * 1024;

/// The bytes a delivery's record takes, as the budget counts them: its call's
/// ([`call_size`]), and room for the answer of an `Idempotency-Key`'s first call when it has one.
pub fn stored_size(delivery: &Delivery) -> u64 {
    let kept_answer = if delivery.idempotency.is_some() { KEPT_ANSWER_BYTES } else { 0 };
    call_size(&delivery.call) + kept_answer
}

/// The bytes a call's record takes, as the budget counts them: its payload and variables as
/// they are stored (JSON text, escapes included; a payload that is not UTF-8 as base64), its
/// inputs, and [`RECORD_BYTES`]. The same number for the same call wherever it is counted.
pub fn call_size(call: &Call) -> u64 {
    let payload =
        call.payload.as_ref().map_or(0, |payload| json_text_len(&payload.body) + payload.content_type.len() as u64);
    let variables: u64 =
        call.variables.iter().map(|(key, value)| json_text_len(key.as_bytes()) + json_text_len(value.as_bytes())).sum();
    let inputs: u64 = call.inputs.iter().map(|(key, value)| (key.len() + value.to_string().len()) as u64).sum();
    RECORD_BYTES + payload + variables + inputs
}

/// Whether taking in `incoming` more bytes, with `used` stored, passes `budget` (0: no budget).
pub fn over(used: u64, incoming: u64, budget: u64) -> bool {
    budget > 0 && used.saturating_add(incoming) > budget
}

/// The length of `bytes` inside a JSON string, as serde_json writes it; base64's when not UTF-8.
fn json_text_len(bytes: &[u8]) -> u64 {
    if std::str::from_utf8(bytes).is_err() {
        return bytes.len().div_ceil(3) as u64 * 4;
    }
    bytes
        .iter()
        .map(|&byte| match byte {
            b'"' | b'\\' | b'\x08' | b'\t' | b'\n' | b'\x0c' | b'\r' => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Payload;

    #[test]
    fn a_record_counts_its_payload_as_stored() {
        for text in ["plain", "quotes \" and \\ slashes", "lines\n\ttabs\u{1}\u{1f}", "ünïcode ✓", ""] {
            let stored = serde_json::to_string(text).unwrap().len() as u64 - 2;
            assert_eq!(json_text_len(text.as_bytes()), stored, "{text:?}");
        }
        assert_eq!(json_text_len(&[0xff, 0xfe, 0x00, 0x01]), 8, "base64 of 4 bytes");
        let call = |body: Vec<u8>| Call {
            payload: Some(Payload { content_type: "text/plain".into(), body }),
            variables: [("K".to_string(), "v\"".to_string())].into(),
            ..Call::default()
        };
        assert_eq!(call_size(&Call::default()), RECORD_BYTES);
        // A token call with an Idempotency-Key: room for its kept answer is counted up front.
        let mut keyed = Delivery::new("t", "g", "s", Call::default(), 0);
        assert_eq!(stored_size(&keyed), RECORD_BYTES);
        keyed.idempotency = Some(crate::model::delivery::Idempotency { request: "h".into(), answer: None });
        assert_eq!(stored_size(&keyed), RECORD_BYTES + KEPT_ANSWER_BYTES);
        assert_eq!(call_size(&call(vec![b'a'; 1000])), RECORD_BYTES + 1000 + 10 + 1 + 3);
        // A payload of control characters takes six times its size as JSON: counted so.
        assert_eq!(call_size(&call(vec![1; 1000])), RECORD_BYTES + 6000 + 10 + 1 + 3);
    }

    /// Through `serve` over the rows, as the object runs it: a budget of three 10 kB deliveries.
    #[test]
    fn a_call_that_would_pass_the_budget_stores_nothing_and_keeps_what_is_stored() {
        use super::super::tests::arrival;
        use super::super::{serve, Accepted, Answer, Envelope, MemoryRows, Order, Request, Rows};
        let day = 86_400_000;
        let mut rows = MemoryRows::default();
        let ask = |rows: &mut MemoryRows, now_ms: u64, arrivals| {
            let request = Request::Accept { arrivals, attempt_now: false };
            let budget_bytes = 3 * (RECORD_BYTES + 10_010);
            let envelope = Envelope {
                now_ms,
                random: 0,
                base_seconds: 1,
                max_attempts: 2,
                retention_ms: day,
                budget_bytes,
                refused: String::new(),
                request,
            };
            serve(rows, envelope).unwrap()
        };
        let big = |id: &str, replay: &str| {
            let mut arrival = arrival(id, id, Order::All, &[replay]);
            arrival.delivery.call.payload =
                Some(Payload { content_type: "text/plain".into(), body: vec![b'x'; 10_000] });
            arrival
        };
        assert_eq!(stored_size(&big("d0", "r0").delivery), RECORD_BYTES + 10_010, "payload and content type");
        let accepted = |answer: Answer| match answer {
            Answer::Accepted { answers } => answers.into_iter().map(|a| a.accepted).collect::<Vec<_>>(),
            other => panic!("not accepted: {other:?}"),
        };
        assert_eq!(accepted(ask(&mut rows, 0, vec![big("d1", "r1"), big("d2", "r2")])).len(), 2);
        let full = ask(&mut rows, 1, vec![big("d3", "r3"), big("d4", "r4")]);
        assert!(matches!(full, Answer::OverBudget), "{full:?}");
        assert_eq!(rows.stored_bytes, 2 * (RECORD_BYTES + 10_010));
        assert_eq!(accepted(ask(&mut rows, 2, vec![big("d3", "r3")])).len(), 1, "one more fits");
        let before = (rows.entries.clone(), rows.keys.clone(), rows.seen.clone(), rows.stored_bytes);
        assert!(matches!(ask(&mut rows, 3, vec![big("d4", "r4")]), Answer::OverBudget));
        let after = (rows.entries.clone(), rows.keys.clone(), rows.seen.clone(), rows.stored_bytes);
        assert_eq!(before, after, "refused whole: nothing written, nothing lost");
        assert!(rows.entries.contains_key("d1") && rows.entry("d1").unwrap().is_some());
        // A repeat stores nothing, so a full ledger still answers it.
        assert!(matches!(accepted(ask(&mut rows, 4, vec![big("d5", "r1")]))[0], Accepted::Duplicate { .. }));
        // Settled records past their retention are deleted, and their bytes make room.
        for entry in rows.entries.values_mut() {
            entry.delivery.state = crate::model::DeliveryState::Delivered;
        }
        assert_eq!(accepted(ask(&mut rows, day + 10, vec![big("d4", "r4")])).len(), 1);
        assert_eq!(rows.stored_bytes, RECORD_BYTES + 10_010, "only d4's bytes are left");
    }

    #[test]
    fn a_call_is_over_the_budget_only_when_it_would_pass_it() {
        assert!(!over(0, 100, 100), "up to the budget fits");
        assert!(over(1, 100, 100));
        assert!(over(200, 1, 100), "already over: nothing more");
        assert!(!over(u64::MAX, u64::MAX, 0), "0: no budget");
    }
}
