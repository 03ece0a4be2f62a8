//! Five-field cron expressions in UTC (`minute hour day-of-month month day-of-week`): `*`, values,
//! ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, month and weekday names, and Sunday as 0 or
//! 7. As in Vixie cron, when both day fields are restricted a day matching either one is due.
//! No `worker` import.
//! Home-made on purpose: the cron crates (`cron`, `croner`) are built on chrono, a date library
//! whose time zones and formatting we would ship for five UTC fields (not measured in wasm).

use crate::error::Error;
use crate::time::civil_from_days;

const MINUTE_MS: u64 = 60_000;
const DAY_MINUTES: u64 = 24 * 60;
/// An expression longer than this is refused.
const MAX_CRON_BYTES: usize = 100;
/// How far `next_after` looks: far enough for a February 29 on any schedule.
const SEARCH_DAYS: u64 = 8 * 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Whether the day-of-month and day-of-week fields were `*` (unrestricted).
    any_day: bool,
    any_weekday: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field { name: "minute", min: 0, max: 59, names: &[] },
    Field { name: "hour", min: 0, max: 23, names: &[] },
    Field { name: "day of month", min: 1, max: 31, names: &[] },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    },
    // 7 is Sunday too; it is folded onto 0 after parsing.
    Field { name: "day of week", min: 0, max: 7, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

impl Cron {
    /// Parses and checks an expression; the error names the field that is wrong.
    pub fn parse(expression: &str) -> Result<Cron, Error> {
        if expression.len() > MAX_CRON_BYTES {
            return Err(Error::bad_request(format!("source.cron is longer than {MAX_CRON_BYTES} bytes")));
        }
        let parts: Vec<&str> = expression.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(Error::bad_request(format!(
                "source.cron needs 5 fields (minute hour day-of-month month day-of-week), got {}",
                parts.len()
            )));
        }
        let mut sets = [0u64; 5];
        for ((set, field), text) in sets.iter_mut().zip(&FIELDS).zip(&parts) {
            *set = parse_field(field, text)
                .map_err(|why| Error::bad_request(format!("source.cron: the {} field '{text}' {why}", field.name)))?;
        }
        let weekdays = (sets[4] | (sets[4] >> 7)) & 0x7f;
        let cron = Cron {
            minutes: sets[0],
            hours: sets[1],
            days: sets[2],
            months: sets[3],
            weekdays,
            any_day: parts[2] == "*",
            any_weekday: parts[4] == "*",
        };
        if cron.next_after(0).is_none() {
            return Err(Error::bad_request(format!("source.cron '{expression}' never fires (no such day)")));
        }
        Ok(cron)
    }

    /// Whether the minute that starts at `unix_ms` (rounded down to the minute) is due.
    pub fn is_due(&self, unix_ms: u64) -> bool {
        let minutes = unix_ms / MINUTE_MS;
        let minute_of_day = minutes % DAY_MINUTES;
        self.day_matches(minutes / DAY_MINUTES) && self.time_matches(minute_of_day)
    }

    /// The start of the first due minute strictly after `unix_ms`, if any within eight years.
    pub fn next_after(&self, unix_ms: u64) -> Option<u64> {
        let first = unix_ms / MINUTE_MS + 1;
        let first_day = first / DAY_MINUTES;
        for day in first_day..first_day + SEARCH_DAYS {
            if !self.day_matches(day) {
                continue;
            }
            let from = if day == first_day { first % DAY_MINUTES } else { 0 };
            if let Some(minute) = (from..DAY_MINUTES).find(|&m| self.time_matches(m)) {
                return Some((day * DAY_MINUTES + minute) * MINUTE_MS);
            }
        }
        None
    }

    fn time_matches(&self, minute_of_day: u64) -> bool {
        bit(self.hours, minute_of_day / 60) && bit(self.minutes, minute_of_day % 60)
    }

    fn day_matches(&self, days_since_epoch: u64) -> bool {
        let (_, month, day) = civil_from_days(days_since_epoch as i64);
        if !bit(self.months, month as u64) {
            return false;
        }
        // 1970-01-01 was a Thursday (4).
        let weekday = (days_since_epoch + 4) % 7;
        let by_day = bit(self.days, day as u64);
        let by_weekday = bit(self.weekdays, weekday);
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (false, true) => by_day,
            (true, false) => by_weekday,
            (false, false) => by_day || by_weekday,
        }
    }
}

fn bit(set: u64, n: u64) -> bool {
    n < 64 && set & (1 << n) != 0
}

/// The set of values a field allows, as bits.
fn parse_field(field: &Field, text: &str) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().ok().filter(|&s| s >= 1).ok_or("has a step that is not a positive number")?;
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = match range {
            "*" => (field.min, field.max),
            _ => match range.split_once('-') {
                Some((low, high)) => (value(field, low)?, value(field, high)?),
                // `a/n` runs from a to the field's end.
                None if step > 1 || item.contains('/') => (value(field, range)?, field.max),
                None => {
                    let v = value(field, range)?;
                    (v, v)
                }
            },
        };
        if low > high {
            return Err(format!("has a range {low}-{high} that runs backwards"));
        }
        for v in (low..=high).step_by(step as usize) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

fn value(field: &Field, text: &str) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let number = match field.names.iter().position(|name| *name == lower) {
        Some(index) => index as u32 + if field.min == 1 { 1 } else { 0 },
        None => text.parse().map_err(|_| format!("has '{text}', which is not a number or a name"))?,
    };
    if !(field.min..=field.max).contains(&number) {
        return Err(format!("has {number}, outside {}-{}", field.min, field.max));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_rfc3339, parse_rfc3339};

    fn at(text: &str) -> u64 {
        parse_rfc3339(text).unwrap()
    }

    fn next(expression: &str, after: &str) -> String {
        format_rfc3339(Cron::parse(expression).unwrap().next_after(at(after)).unwrap())
    }

    #[test]
    fn the_nightly_build_of_the_seed() {
        assert_eq!(next("30 0 * * *", "2026-11-22T05:00:00Z"), "2026-11-23T00:30:00.000Z");
        assert_eq!(next("30 0 * * *", "2026-11-22T00:29:59Z"), "2026-11-22T00:30:00.000Z");
        assert_eq!(next("30 0 * * *", "2026-11-22T00:30:00Z"), "2026-11-23T00:30:00.000Z", "strictly after");
    }

    #[test]
    fn ranges_lists_steps_and_names() {
        assert_eq!(next("*/15 * * * *", "2026-01-01T10:16:00Z"), "2026-01-01T10:30:00.000Z");
        assert_eq!(next("5-10/2 9,17 * * *", "2026-01-01T09:07:00Z"), "2026-01-01T09:09:00.000Z");
        assert_eq!(next("5-10/2 9,17 * * *", "2026-01-01T09:09:00Z"), "2026-01-01T17:05:00.000Z");
        assert_eq!(next("0 12 * JAN,jul MON-fri", "2026-02-01T00:00:00Z"), "2026-07-01T12:00:00.000Z");
        assert_eq!(next("0 0 1 */3 *", "2026-02-15T00:00:00Z"), "2026-04-01T00:00:00.000Z");
        assert_eq!(next("10/20 * * * *", "2026-01-01T00:00:00Z"), "2026-01-01T00:10:00.000Z");
        assert_eq!(next("10/20 * * * *", "2026-01-01T00:10:00Z"), "2026-01-01T00:30:00.000Z");
    }

    #[test]
    fn month_ends_and_leap_days() {
        assert_eq!(next("0 0 31 * *", "2026-04-01T00:00:00Z"), "2026-05-31T00:00:00.000Z", "April has 30 days");
        assert_eq!(next("0 0 30 * *", "2026-01-31T00:00:00Z"), "2026-03-30T00:00:00.000Z", "so does February not");
        assert_eq!(next("0 0 29 2 *", "2026-01-01T00:00:00Z"), "2028-02-29T00:00:00.000Z");
        assert_eq!(next("59 23 31 12 *", "2026-12-31T23:59:00Z"), "2027-12-31T23:59:00.000Z");
        assert_eq!(next("0 0 1 * *", "2026-12-31T23:59:30Z"), "2027-01-01T00:00:00.000Z", "over the year end");
    }

    #[test]
    fn sunday_is_0_and_7_and_either_day_field_may_match() {
        // 2026-11-22 is a Sunday.
        for sunday in ["0", "7", "sun", "SUN", "6-7"] {
            let cron = Cron::parse(&format!("0 9 * * {sunday}")).unwrap();
            assert!(cron.is_due(at("2026-11-22T09:00:00Z")), "{sunday}");
            assert!(!cron.is_due(at("2026-11-23T09:00:00Z")), "{sunday}: Monday");
        }
        // The 1st of the month, or any Monday.
        let cron = Cron::parse("0 0 1 * mon").unwrap();
        assert!(cron.is_due(at("2026-12-01T00:00:00Z")), "a Tuesday, the 1st");
        assert!(cron.is_due(at("2026-11-23T00:00:00Z")), "a Monday");
        assert!(!cron.is_due(at("2026-11-24T00:00:00Z")));
    }

    #[test]
    fn is_due_takes_the_whole_minute() {
        let cron = Cron::parse("30 0 * * *").unwrap();
        assert!(cron.is_due(at("2026-11-22T00:30:59Z")));
        assert!(!cron.is_due(at("2026-11-22T00:31:00Z")));
    }

    #[test]
    fn invalid_expressions_name_the_field() {
        for (bad, field) in [
            ("60 * * * *", "minute"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day of month"),
            ("* * * 13 *", "month"),
            ("* * * foo *", "month"),
            ("* * * * 8", "day of week"),
            ("*/0 * * * *", "minute"),
            ("5-1 * * * *", "minute"),
            ("* * * * mon-", "day of week"),
            ("1,,2 * * * *", "minute"),
        ] {
            let message = Cron::parse(bad).unwrap_err().message();
            assert!(message.contains(&format!("the {field} field")), "{bad}: {message}");
        }
        assert!(Cron::parse("* * * *").unwrap_err().message().contains("5 fields"));
        let long = format!("{} * * * *", vec!["1"; 60].join(","));
        assert!(Cron::parse(&long).unwrap_err().message().contains("longer than 100 bytes"));
        assert!(Cron::parse("0 0 30 2 *").unwrap_err().message().contains("never fires"));
        assert!(Cron::parse("0 0 31 4,6 *").is_err());
    }
}
