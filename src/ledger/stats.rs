//! Per-trigger statistics, by the hour, kept where the ledger keeps its state (table `stats` of
//! the target's object): how many deliveries were delivered, failed, died, were superseded or
//! refused, how many attempts were made, and the attempts' latency as a histogram (so that the
//! p50 and p95 of any span of hours can be read back). No KV write: the counts change in the same
//! SQL stretch as the delivery they count. Hours older than [`KEPT_HOURS`] are deleted.

use crate::model::DeliveryState;
use serde::{Deserialize, Serialize};

pub const HOUR_MS: u64 = 3_600_000;
/// Seven days of hours are kept, and the most a query may ask for.
pub const KEPT_HOURS: u64 = 7 * 24;

/// The hour (since the epoch) that `ms` falls in.
pub fn hour_of(ms: u64) -> u64 {
    ms / HOUR_MS
}

/// One event counted: a delivery settled in a state, an attempt made, or a webhook refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    Settled(DeliveryState),
    Attempt { duration_ms: u64 },
    Refused,
}

/// One trigger's counts for one hour (or, summed, for a span of hours). Stored and sent as one
/// line of numbers (`encode`), not a JSON object: the object's serde code would cost the wasm
/// more than the whole of this module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourStats {
    pub delivered: u64,
    pub failed: u64,
    pub dead: u64,
    pub superseded: u64,
    pub refused: u64,
    pub attempts: u64,
    /// Attempt latencies: the count in each bucket (see [`bucket`]), trailing zeros left out.
    pub latency: Vec<u64>,
}

impl HourStats {
    pub fn count(&mut self, tally: Tally) {
        match tally {
            Tally::Settled(DeliveryState::Delivered) => self.delivered += 1,
            Tally::Settled(DeliveryState::Failed) => self.failed += 1,
            Tally::Settled(DeliveryState::Dead) => self.dead += 1,
            Tally::Settled(DeliveryState::Superseded) => self.superseded += 1,
            Tally::Settled(DeliveryState::Pending) => {}
            Tally::Attempt { duration_ms } => {
                self.attempts += 1;
                let bucket = usize::from(bucket(duration_ms));
                if self.latency.len() <= bucket {
                    self.latency.resize(bucket + 1, 0);
                }
                self.latency[bucket] += 1;
            }
            Tally::Refused => self.refused += 1,
        }
    }

    pub fn add(&mut self, other: &HourStats) {
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.dead += other.dead;
        self.superseded += other.superseded;
        self.refused += other.refused;
        self.attempts += other.attempts;
        if self.latency.len() < other.latency.len() {
            self.latency.resize(other.latency.len(), 0);
        }
        for (mine, theirs) in self.latency.iter_mut().zip(&other.latency) {
            *mine += theirs;
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == HourStats::default()
    }

    /// `delivered failed dead superseded refused attempts`, then the latency buckets: numbers
    /// separated by spaces.
    pub fn encode(&self) -> String {
        let counts = [self.delivered, self.failed, self.dead, self.superseded, self.refused, self.attempts];
        let numbers: Vec<String> = counts.iter().chain(&self.latency).map(u64::to_string).collect();
        numbers.join(" ")
    }

    /// What `encode` wrote; `None` for anything else.
    pub fn decode(text: &str) -> Option<HourStats> {
        let numbers: Vec<u64> = text.split(' ').map(|n| n.parse().ok()).collect::<Option<_>>()?;
        let [delivered, failed, dead, superseded, refused, attempts] = *numbers.get(..6)? else { return None };
        let latency = numbers[6..].to_vec();
        Some(HourStats { delivered, failed, dead, superseded, refused, attempts, latency })
    }

    /// The `p`-th percentile (0 < p <= 100) of the attempts' latency, in ms, within the
    /// histogram's resolution (an eighth of the value, plus one ms, at most); `None` without
    /// attempts.
    pub fn percentile(&self, p: u64) -> Option<u64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (total * p).div_ceil(100).max(1);
        let mut seen = 0;
        for (bucket, count) in self.latency.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(representative(bucket as u16));
            }
        }
        None
    }

    /// The figures the API shows: the counts, p50 and p95, and the success rate.
    pub fn summary(&self) -> serde_json::Value {
        let settled = self.delivered + self.failed + self.dead;
        serde_json::json!({
            "delivered": self.delivered,
            "failed": self.failed,
            "dead": self.dead,
            "superseded": self.superseded,
            "refused": self.refused,
            "attempts": self.attempts,
            "p50_ms": self.percentile(50),
            "p95_ms": self.percentile(95),
            "success_rate": (settled > 0).then(|| rate(self.delivered, settled)),
        })
    }

    /// Failed and dead deliveries: how an overview ranks triggers, most failing first.
    pub fn failures(&self) -> u64 {
        self.failed + self.dead
    }

    /// The success rate in thousandths (for ordering without floats); 1000 with nothing settled.
    pub fn success_permille(&self) -> u64 {
        let settled = self.delivered + self.failed + self.dead;
        (self.delivered * 1000).checked_div(settled).unwrap_or(1000)
    }
}

/// `part / whole`, cut to four decimals.
fn rate(part: u64, whole: u64) -> f64 {
    (part * 10_000 / whole) as f64 / 10_000.0
}

/// The latency bucket of `ms`: four buckets per doubling (the value's top three bits), exact
/// below 4 ms, so that a bucket spans at most a quarter of its start.
pub fn bucket(ms: u64) -> u16 {
    let v = ms.saturating_add(1);
    let e = 63 - v.leading_zeros() as u64;
    let sub = if e >= 2 { (v >> (e - 2)) & 3 } else { (v << (2 - e)) & 3 };
    (4 * e + sub) as u16
}

/// The value a bucket stands for: the middle of the range it holds.
pub fn representative(bucket: u16) -> u64 {
    let (e, sub) = (u64::from(bucket / 4), u64::from(bucket % 4));
    if e < 2 {
        return ((4 + sub) >> (2 - e)) - 1;
    }
    let low = (4 + sub) << (e - 2);
    let high = (5 + sub) << (e - 2);
    (low + high) / 2 - 1
}

/// One stored row: a trigger's counts for one hour. It travels from the object as
/// `[trigger, hour, "counts"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRow {
    pub trigger: String,
    pub hour: u64,
    pub stats: HourStats,
}

impl Serialize for StatsRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.trigger, self.hour, self.stats.encode()).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StatsRow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (trigger, hour, text) = <(String, u64, String)>::deserialize(deserializer)?;
        let stats = HourStats::decode(&text).ok_or_else(|| serde::de::Error::custom("malformed statistics"))?;
        Ok(StatsRow { trigger, hour, stats })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_values_within_an_eighth() {
        for ms in (0..5000).chain([9_999, 29_999, 120_000, 3_600_000]) {
            let back = representative(bucket(ms));
            // Within an eighth of one more than the value (the histogram counts ms + 1).
            assert!(back.abs_diff(ms) * 8 <= ms + 1, "{ms} ms stands as {back} ms");
        }
        assert!((0..1000).map(bucket).collect::<Vec<_>>().windows(2).all(|w| w[0] <= w[1]), "buckets are ordered");
    }

    #[test]
    fn percentiles_read_from_the_histogram_match_the_samples() {
        let mut stats = HourStats::default();
        let samples: Vec<u64> = (1..=100).map(|i| i * 10).collect();
        for ms in &samples {
            stats.count(Tally::Attempt { duration_ms: *ms });
        }
        let p50 = stats.percentile(50).unwrap();
        let p95 = stats.percentile(95).unwrap();
        assert!(p50.abs_diff(500) <= 500 / 8, "p50 {p50}");
        assert!(p95.abs_diff(950) <= 950 / 8, "p95 {p95}");
        assert_eq!(HourStats::default().percentile(50), None);
    }

    #[test]
    fn counts_add_up_and_summarize() {
        let mut hour = HourStats::default();
        for tally in [
            Tally::Settled(DeliveryState::Delivered),
            Tally::Settled(DeliveryState::Delivered),
            Tally::Settled(DeliveryState::Delivered),
            Tally::Settled(DeliveryState::Dead),
            Tally::Settled(DeliveryState::Superseded),
            Tally::Refused,
            Tally::Attempt { duration_ms: 12 },
        ] {
            hour.count(tally);
        }
        let mut sum = HourStats::default();
        sum.add(&hour);
        sum.add(&hour);
        let summary = sum.summary();
        assert_eq!(summary["delivered"], 6);
        assert_eq!(summary["dead"], 2);
        assert_eq!(summary["superseded"], 2);
        assert_eq!(summary["refused"], 2);
        assert_eq!(summary["attempts"], 2);
        assert_eq!(summary["success_rate"], 0.75);
        assert_eq!(summary["p50_ms"], 12);
        assert_eq!(HourStats::default().summary()["success_rate"], serde_json::Value::Null);
        assert_eq!(HourStats::decode(&sum.encode()), Some(sum.clone()));
        let row = StatsRow { trigger: "t1".into(), hour: 7, stats: sum };
        let wire = serde_json::to_string(&row).unwrap();
        assert_eq!(serde_json::from_str::<StatsRow>(&wire).unwrap(), row);
        for bad in ["", "1 2 3", "1 2 3 4 5 x", "1  2 3 4 5 6"] {
            assert_eq!(HourStats::decode(bad), None, "{bad:?}");
        }
    }

    /// Through `serve` over the rows, as the object runs it: a superseded, a dead and a delivered
    /// delivery, each counted once in the hour it settled, and hours past seven days deleted.
    #[test]
    fn the_ledger_counts_what_it_settles_in_the_hour_it_settles() {
        use super::super::tests::arrival;
        use super::super::{serve, Answer, Envelope, MemoryRows, Order, Request, WireOutcome, WireReport};
        let mut rows = MemoryRows::default();
        let mut ask = |now_ms: u64, request: Request| {
            let refused = match request {
                Request::Flush => "t1 1".to_string(),
                _ => String::new(),
            };
            let envelope = Envelope {
                now_ms,
                random: 0,
                base_seconds: 1,
                max_attempts: 2,
                retention_ms: 30 * 24 * HOUR_MS,
                budget_bytes: 0,
                refused,
                request,
            };
            serve(&mut rows, envelope).unwrap()
        };
        let report = |status: u16| WireReport {
            started_ms: 0,
            duration_ms: 40,
            outcome: WireOutcome::Answer { status, excerpt: String::new() },
            unknown: false,
        };
        let t0 = 1000 * HOUR_MS;
        let arrivals = vec![arrival("v1", "web", Order::Latest, &[]), arrival("v2", "web", Order::Latest, &[])];
        ask(t0, Request::Accept { arrivals, attempt_now: false });
        ask(t0, Request::Next { id: "v2".into() });
        ask(t0, Request::Outcome { id: "v2".into(), report: report(503) });
        ask(t0 + HOUR_MS, Request::Next { id: "v2".into() });
        ask(t0 + HOUR_MS, Request::Outcome { id: "v2".into(), report: report(503) });
        ask(t0 + HOUR_MS, Request::Accept { arrivals: vec![arrival("v3", "web", Order::All, &[])], attempt_now: true });
        ask(t0 + HOUR_MS, Request::Outcome { id: "v3".into(), report: report(200) });
        ask(t0 + HOUR_MS, Request::Flush);
        let Answer::Stats { rows: stats } =
            ask(t0 + HOUR_MS, Request::Stats { trigger: Some("t1".into()), from_hour: 0 })
        else {
            panic!("not stats")
        };
        let hours: Vec<(u64, u64, u64, u64, u64, u64)> = stats
            .iter()
            .map(|row| {
                let s = &row.stats;
                (row.hour - 1000, s.delivered, s.dead, s.superseded, s.refused, s.attempts)
            })
            .collect();
        assert_eq!(hours, [(0, 0, 0, 1, 0, 1), (1, 1, 1, 0, 1, 2)]);
        assert_eq!(stats[1].stats.percentile(95), Some(representative(bucket(40))));
        // Seven days on, the first hour is gone (deleted as deliveries are taken in).
        ask(t0 + (KEPT_HOURS + 1) * HOUR_MS, Request::Accept { arrivals: vec![], attempt_now: false });
        let Answer::Stats { rows: stats } = ask(t0, Request::Stats { trigger: None, from_hour: 0 }) else { panic!() };
        assert_eq!(stats.iter().map(|row| row.hour - 1000).collect::<Vec<_>>(), [1]);
    }
}
