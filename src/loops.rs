//! The loop guard: a delivery or a notification whose target is hookrelay itself (directly, or
//! through another hookrelay) must not start a chain without end. Every request hookrelay makes
//! for a delivery (its attempts, their lookups, its notification) says how many hookrelay
//! deliveries came before it (`X-Hookrelay-Hops`, one more than its delivery came in with; the
//! count is kept in the delivery's call, so it survives the ledger and the queue), and a request
//! that arrives with [`MAX_HOPS`] or more is refused with `508 Loop Detected` before anything is
//! read or stored. A target on `PUBLIC_URL`'s host is refused when it is created or changed.
//! No `worker` import.

use crate::error::Error;
use crate::http::Request;
use crate::outbound::OutboundRequest;

/// The header, in lower case as requests keep header names.
pub const HOPS_HEADER: &str = "x-hookrelay-hops";

/// A request that has come through this many hookrelay deliveries is refused. Three lets a chain
/// of hookrelays that is meant (one deployment's target is another's trigger, which fires a third)
/// work, while a target that calls its own trigger makes three deliveries, not thousands; since a
/// refused call is cheap and its 508 is never retried, each loop ends within its first few
/// seconds.
pub const MAX_HOPS: u32 = 3;

/// The count a request carries: 0 without the header, the highest when it holds several (a header
/// sent twice arrives joined by `,`), and a 400 for anything but whole numbers. A number too large
/// for a `u32` counts as the largest one.
pub fn hops(request: &Request) -> Result<u32, Error> {
    let mut highest = 0;
    for (_, value) in request.headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case(HOPS_HEADER)) {
        for count in value.split(',').map(str::trim) {
            if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::bad_request("X-Hookrelay-Hops must be a whole number"));
            }
            highest = highest.max(count.parse::<u32>().unwrap_or(u32::MAX));
        }
    }
    Ok(highest)
}

/// The router's check, for every route: the request's count, or a 508 once it reaches
/// [`MAX_HOPS`] (and a 400 for a count that does not read).
pub fn admit(request: &Request) -> Result<u32, Error> {
    match hops(request)? {
        hops if hops >= MAX_HOPS => Err(Error::LoopDetected(hops)),
        hops => Ok(hops),
    }
}

/// The count a request that the router admitted came in with, for the call it starts.
pub fn incoming(request: &Request) -> u32 {
    hops(request).unwrap_or(MAX_HOPS)
}

/// Marks a request made for a delivery whose call came in with `hops`: the header at one more,
/// in place of any that the target's own settings (an `http` target's headers) put there.
pub fn mark(request: &mut OutboundRequest, hops: u32) {
    request.headers.retain(|(name, _)| !name.eq_ignore_ascii_case(HOPS_HEADER));
    request.headers.push((HOPS_HEADER.into(), hops.saturating_add(1).to_string()));
}

/// Refuses a target URL (as the outbound policy parsed it) on this deployment's own host
/// (`PUBLIC_URL`'s): a delivery would call hookrelay itself. Other names that reach the same
/// worker (its `workers.dev` name, other routes) cannot be known here; the hop count bounds those.
pub fn check_not_self(field: &str, url: &url::Url, public_url: Option<&str>) -> Result<(), Error> {
    let host = |url: &url::Url| Some(url.host_str()?.trim_end_matches('.').to_ascii_lowercase());
    let own = public_url.and_then(|text| host(&url::Url::parse(text).ok()?));
    if own.is_some() && own == host(url) {
        return Err(Error::bad_request(format!(
            "{field} is hookrelay's own host (PUBLIC_URL): a target must not call hookrelay itself"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> Request {
        values
            .iter()
            .fold(Request::new("POST", "/hooks/t1"), |request, value| request.with_header("X-Hookrelay-Hops", value))
    }

    #[test]
    fn the_count_reads_as_sent_and_is_0_without_the_header() {
        assert_eq!(hops(&Request::new("POST", "/hooks/t1")), Ok(0));
        assert_eq!(hops(&with(&["2"])), Ok(2));
        assert_eq!(hops(&with(&[" 1 "])), Ok(1));
        assert_eq!(hops(&with(&["1, 4"])), Ok(4), "joined values count as the highest");
        assert_eq!(hops(&with(&["0", "5"])), Ok(5), "so do repeated headers");
        assert_eq!(hops(&with(&["99999999999999999999"])), Ok(u32::MAX));
        for bad in ["", "-1", "one", "1.5", "0x3", "1,"] {
            let refused = hops(&with(&[bad])).unwrap_err();
            assert_eq!((refused.status(), refused.message()), (400, "X-Hookrelay-Hops must be a whole number".into()));
        }
    }

    #[test]
    fn a_request_at_the_limit_is_refused_as_a_loop() {
        assert_eq!(admit(&Request::new("POST", "/hooks/t1")), Ok(0));
        assert_eq!(admit(&with(&[&(MAX_HOPS - 1).to_string()])), Ok(MAX_HOPS - 1));
        for over in [MAX_HOPS, MAX_HOPS + 1, u32::MAX] {
            let refused = admit(&with(&[&over.to_string()])).unwrap_err();
            assert_eq!(refused, Error::LoopDetected(over));
            assert_eq!((refused.status(), refused.code()), (508, "loop_detected"));
        }
        assert_eq!(incoming(&with(&["x"])), MAX_HOPS, "a count that does not read counts as the limit");
    }

    #[test]
    fn an_outbound_request_carries_one_more_and_no_other_count() {
        let mut request = OutboundRequest {
            method: "POST".into(),
            url: "https://ci.example.com/hook".into(),
            headers: vec![("X-Hookrelay-Hops".into(), "0".into()), ("accept".into(), "*/*".into())],
            body: Vec::new(),
        };
        mark(&mut request, 1);
        let counts: Vec<&str> = request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(HOPS_HEADER))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(counts, ["2"]);
        assert_eq!(request.header("accept"), Some("*/*"));
        mark(&mut request, u32::MAX);
        assert_eq!(request.header(HOPS_HEADER), Some(u32::MAX.to_string().as_str()));
    }

    #[test]
    fn the_count_is_kept_with_the_call_and_an_older_call_reads_as_0() {
        let older: crate::model::Call = serde_json::from_str(r#"{"ref":"main"}"#).unwrap();
        assert_eq!(older.hops, 0);
        assert_eq!(serde_json::to_string(&older).unwrap(), r#"{"ref":"main"}"#, "written back unchanged");
        let counted = crate::model::Call { hops: 2, ..older };
        let text = serde_json::to_string(&counted).unwrap();
        assert_eq!(text, r#"{"ref":"main","hops":2}"#);
        assert_eq!(serde_json::from_str::<crate::model::Call>(&text).unwrap().hops, 2);
    }

    #[test]
    fn a_target_on_hookrelays_own_host_is_refused() {
        let public = Some("https://Hooks.Example.com/base");
        let check_not_self = |field, url: &str, public| check_not_self(field, &url::Url::parse(url).unwrap(), public);
        for own in ["https://hooks.example.com", "http://HOOKS.example.com:8443/api/v4", "https://hooks.example.com./x"]
        {
            let refused = check_not_self("url", own, public).unwrap_err();
            assert_eq!(refused.status(), 400, "{own}");
            assert!(refused.message().starts_with("url is hookrelay's own host (PUBLIC_URL)"), "{own}");
        }
        for other in ["https://ci.example.com", "https://hooks.example.com.evil.example", "https://example.com"] {
            assert_eq!(check_not_self("url", other, public), Ok(()), "{other}");
        }
        assert_eq!(check_not_self("url", "https://hooks.example.com", None), Ok(()), "without PUBLIC_URL");
    }
}
