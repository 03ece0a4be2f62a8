//! RFC 3339 timestamps to and from Unix milliseconds, without a date crate; also the two other UTC
//! forms request signers send (HTTP dates and ISO 8601 basic).
//! The clock itself is a port (see `ports.rs`), so these functions are pure.
//! Home-made on purpose: `chrono` and `time` bring calendars, zones and format languages for the
//! one UTC form we write and read (not measured in wasm); the day arithmetic here is a few dozen lines.

/// `2016-01-07T09:53:58.235Z`, the form GitLab answers with.
pub fn format_rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`; `None` for anything else or a date before 1970.
pub fn parse_rfc3339(input: &str) -> Option<u64> {
    let b = input.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let text = input.get(from..to)?;
        text.bytes().all(|c| c.is_ascii_digit()).then(|| text.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &input[19..];
    let mut millis = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (hours * 60 + minutes)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    u64::try_from(secs * 1000 + millis).ok()
}

/// Parses an HTTP date in its one current form (IMF-fixdate, RFC 9110), `Wed, 15 Jan 2025 08:30:00 GMT`,
/// as Alibaba's legacy signature sends it in `Date`. The weekday is not checked.
pub fn parse_http_date(input: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let rest = input.get(3..)?.strip_prefix(", ")?.strip_suffix(" GMT")?;
    let [day, month, year, time] = rest.split(' ').collect::<Vec<_>>().try_into().ok()?;
    let month = MONTHS.iter().position(|name| *name == month)? + 1;
    if day.len() != 2 || year.len() != 4 || time.len() != 8 {
        return None;
    }
    parse_rfc3339(&format!("{year}-{month:02}-{day}T{time}Z"))
}

/// Parses the ISO 8601 basic form `20250115T083000Z`, as Huawei's signature sends it in `X-Sdk-Date`.
pub fn parse_basic_utc(input: &str) -> Option<u64> {
    let shape = |(at, byte): (usize, u8)| match at {
        8 => byte == b'T',
        15 => byte == b'Z',
        _ => byte.is_ascii_digit(),
    };
    if input.len() != 16 || !input.bytes().enumerate().all(shape) {
        return None;
    }
    let (date, time) = (&input[..8], &input[9..15]);
    parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[..4],
        &date[4..6],
        &date[6..],
        &time[..2],
        &time[2..4],
        &time[4..]
    ))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_gitlab() {
        assert_eq!(format_rfc3339(1_452_160_438_235), "2016-01-07T09:53:58.235Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_offsets_fractions_and_leap_days() {
        assert_eq!(parse_rfc3339("2016-01-07T09:53:58.235Z"), Some(1_452_160_438_235));
        assert_eq!(parse_rfc3339("2016-01-07T10:53:58.235+01:00"), Some(1_452_160_438_235));
        assert_eq!(parse_rfc3339("2016-01-07T09:53:58Z"), Some(1_452_160_438_000));
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z").map(format_rfc3339).as_deref(),
            Some("2024-02-29T00:00:00.000Z")
        );
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for bad in [
            "",
            "tomorrow",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00.Z",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_the_http_and_basic_forms_the_signers_send() {
        let signed_at = parse_rfc3339("2025-01-15T08:30:00Z");
        assert!(signed_at.is_some());
        assert_eq!(parse_http_date("Wed, 15 Jan 2025 08:30:00 GMT"), signed_at);
        assert_eq!(parse_basic_utc("20250115T083000Z"), signed_at);
        for bad in
            ["Wed, 15 Jan 2025 08:30:00 UTC", "Wed, 15 Foo 2025 08:30:00 GMT", "Wed, 5 Jan 2025 08:30:00 GMT", ""]
        {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
        for bad in [
            "20250115T083000",
            "2025011TT083000Z",
            "20251315T083000Z",
            "2025-01-15T08:30Z",
            "２０２５0115T0Z",
            "20２115T083000Z",
        ] {
            assert_eq!(parse_basic_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_across_centuries() {
        for ms in [951_782_400_000u64, 4_102_444_800_000, 1_700_000_000_123] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Some(ms));
        }
    }
}
