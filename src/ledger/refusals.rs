//! Refused webhooks (a bad signature, a filter, at a trigger's hook URL), tallied where they are
//! refused rather than sent one by one: whoever knows a hook URL could otherwise make each forged
//! webhook cost a ledger request and a SQLite write. The tally is a port: at the edge it lives in
//! the isolate's memory (a `thread_local`, kept across requests), in native tests in the app.
//!
//! A trigger's first refusal goes to its target's ledger at once (one request); the ones after it
//! wait, and go along with the next request this worker makes to that ledger for anything
//! (`Envelope::refused`), or with the first refusal of that trigger a period (a minute) after the
//! last send: at most one request of its own per trigger and period. What an isolate holds when
//! the platform ends it is lost, so the `refused` figure is a lower bound, not a sample.

use std::cell::RefCell;

/// How often, at most, a trigger's refusals cost a ledger request of their own.
pub const FLUSH_EVERY_MS: u64 = 60_000;

/// Past this many triggers tallied, the ones with nothing waiting and no recent send are forgotten.
const PRUNE_ABOVE: usize = 1000;

pub trait Refusals {
    /// Counts one refused webhook of `trigger` (whose target is `target`) at `now_ms`. `true` when
    /// the target's waiting counts are to be sent now: the trigger's first refusal here, or its
    /// first `every_ms` or more after the last send it caused.
    fn count(&self, target: &str, trigger: &str, now_ms: u64, every_ms: u64) -> bool;
    /// Takes the counts waiting for `target`'s ledger, by trigger. Counts whose request fails are
    /// not put back: the ledger may have written them before the failure (an answer lost on the
    /// way back), and the figure is a lower bound, never a count twice.
    fn take(&self, target: &str) -> Vec<(String, u64)>;
}

impl<T: Refusals + ?Sized> Refusals for std::rc::Rc<T> {
    fn count(&self, target: &str, trigger: &str, now_ms: u64, every_ms: u64) -> bool {
        (**self).count(target, trigger, now_ms, every_ms)
    }
    fn take(&self, target: &str) -> Vec<(String, u64)> {
        (**self).take(target)
    }
}

/// The tally in memory, one entry per trigger: the isolate's at the edge, the app's in native
/// tests. A list, not a map: it holds the few triggers refused lately, and costs the wasm less.
#[derive(Default)]
pub struct MemoryRefusals {
    tallies: RefCell<Vec<Tally>>,
}

struct Tally {
    trigger: String,
    target: String,
    waiting: u64,
    /// When a refusal of this trigger last caused a send.
    sent_at: Option<u64>,
}

impl MemoryRefusals {
    fn add(&self, target: &str, trigger: &str, n: u64) -> std::cell::RefMut<'_, Tally> {
        let mut tallies = self.tallies.borrow_mut();
        let found = match tallies.iter().position(|tally| tally.trigger == trigger) {
            Some(found) => found,
            None => {
                let tally = Tally { trigger: trigger.to_string(), target: String::new(), waiting: 0, sent_at: None };
                tallies.push(tally);
                tallies.len() - 1
            }
        };
        let mut tally = std::cell::RefMut::map(tallies, |tallies| &mut tallies[found]);
        tally.target = target.to_string();
        tally.waiting += n;
        tally
    }
}

impl Refusals for MemoryRefusals {
    fn count(&self, target: &str, trigger: &str, now_ms: u64, every_ms: u64) -> bool {
        let mut tallies = self.tallies.borrow_mut();
        if tallies.len() >= PRUNE_ABOVE {
            tallies.retain(|tally| tally.waiting > 0 || tally.sent_at.is_some_and(|at| now_ms < at + every_ms));
        }
        drop(tallies);
        let mut tally = self.add(target, trigger, 1);
        let due = tally.sent_at.is_none_or(|at| now_ms >= at.saturating_add(every_ms));
        if due {
            tally.sent_at = Some(now_ms);
        }
        due
    }

    fn take(&self, target: &str) -> Vec<(String, u64)> {
        let mut tallies = self.tallies.borrow_mut();
        let waiting = tallies.iter_mut().filter(|tally| tally.waiting > 0 && tally.target == target);
        waiting.map(|tally| (tally.trigger.clone(), std::mem::take(&mut tally.waiting))).collect()
    }
}

/// Counts as they travel in a ledger request: `<trigger> <n>` pairs separated by commas (trigger
/// ids hold neither), not a JSON list, whose serde code would cost the wasm more.
pub fn encode(counts: &[(String, u64)]) -> String {
    let pairs: Vec<String> = counts.iter().map(|(trigger, n)| format!("{trigger} {n}")).collect();
    pairs.join(",")
}

/// What [`encode`] wrote; a malformed pair is skipped.
pub fn decode(text: &str) -> Vec<(String, u64)> {
    let pair = |pair: &str| {
        let (trigger, n) = pair.split_once(' ')?;
        Some((trigger.to_string(), n.parse().ok()?))
    };
    text.split(',').filter_map(pair).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_sends_at_once_then_at_most_once_a_period_and_nothing_is_lost() {
        let tally = MemoryRefusals::default();
        assert!(tally.count("g1", "t1", 0, FLUSH_EVERY_MS), "the first refusal is sent at once");
        assert_eq!(tally.take("g1"), [("t1".to_string(), 1)]);
        let sends = (1..=50).filter(|i| tally.count("g1", "t1", i * 1000, FLUSH_EVERY_MS)).count();
        assert_eq!(sends, 0, "within the minute, nothing of its own");
        assert!(tally.count("g2", "t2", 1000, FLUSH_EVERY_MS), "another trigger has its own minute");
        assert_eq!(tally.take("g2"), [("t2".to_string(), 1)]);
        assert_eq!(tally.take("g1"), [("t1".to_string(), 50)], "taken by any request to its ledger");
        assert_eq!(tally.take("g1"), [], "once");
        assert!(tally.count("g1", "t1", FLUSH_EVERY_MS, FLUSH_EVERY_MS), "a minute on, sent");
        assert_eq!(tally.take("g1"), [("t1".to_string(), 1)]);
    }

    #[test]
    fn counts_travel_as_one_line() {
        let counts = vec![("t1".to_string(), 50), ("t2".to_string(), 1)];
        assert_eq!(encode(&counts), "t1 50,t2 1");
        assert_eq!(decode(&encode(&counts)), counts);
        assert_eq!(decode("t1 x,t2,t3 3"), [("t3".to_string(), 3)]);
        assert_eq!(decode(""), []);
    }
}
