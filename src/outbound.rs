//! The Outbound port: a plain request value that a target builds and the shell sends with
//! `Fetch`, and a scripted client for native tests. Building never sends.

use crate::error::Error;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Every outbound request is abandoned after this long, so that a hung target cannot hold a
/// webhook past its provider's own timeout (GitHub waits 10 s).
pub const OUTBOUND_TIMEOUT_MS: u32 = 9_000;

/// Where hookrelay may send (SSRF): `https` only, and never to an IP literal in a private,
/// loopback, link-local or otherwise internal range, nor to `localhost`. With `allow_local`
/// (the var `ALLOW_HTTP_TARGETS`, which local development and the tests set) `http` and local
/// addresses are allowed. Credentials in the URL are refused by `targets::validate_url`.
pub fn check_destination(field: &str, url: &str, allow_local: bool) -> Result<(), Error> {
    if allow_local {
        return Ok(());
    }
    let refuse = |why: &str| {
        Err(Error::bad_request(format!("{field} {why} (set ALLOW_HTTP_TARGETS only for local development)")))
    };
    let Some(rest) = url.get(..8).filter(|scheme| scheme.eq_ignore_ascii_case("https://")).map(|_| &url[8..]) else {
        return refuse("must use https");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    }
    .trim_end_matches('.')
    .to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return refuse("must not point at localhost");
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if is_internal(ip) => refuse("must not point at a private, loopback or link-local address"),
        _ => Ok(()),
    }
}

fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => is_internal_v6(v6),
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OutboundRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OutboundResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends a request. `Err` means no HTTP answer came back at all; its text must not hold secrets.
#[allow(async_fn_in_trait)]
pub trait Outbound {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String>;
}

/// Records every request and answers from a script (default: 200 `{}`), for native tests.
#[derive(Default)]
pub struct ScriptedOutbound {
    pub sent: RefCell<Vec<OutboundRequest>>,
    script: RefCell<VecDeque<Result<OutboundResponse, String>>>,
}

impl ScriptedOutbound {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn answer(&self, status: u16, body: &str) {
        let headers = vec![("content-type".to_string(), "application/json".to_string())];
        self.script.borrow_mut().push_back(Ok(OutboundResponse { status, headers, body: body.into() }));
    }

    pub fn fail(&self, reason: &str) {
        self.script.borrow_mut().push_back(Err(reason.to_string()));
    }

    pub fn last(&self) -> Option<OutboundRequest> {
        self.sent.borrow().last().cloned()
    }
}

impl Outbound for ScriptedOutbound {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String> {
        self.sent.borrow_mut().push(request);
        self.script
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Ok(OutboundResponse { status: 200, headers: Vec::new(), body: b"{}".to_vec() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_sends_only_to_public_https_hosts() {
        for ok in [
            "https://gitlab.example.com/api",
            "https://8.8.8.8/x",
            "https://[2606:4700::1111]:8443/x",
            "HTTPS://ci.example.com:8443",
            "https://172.32.0.1/",
        ] {
            assert_eq!(check_destination("url", ok, false), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("http://gitlab.example.com", "https"),
            ("ftp://x", "https"),
            ("https://127.0.0.1:6443", "private"),
            ("https://10.1.2.3", "private"),
            ("https://172.16.0.1", "private"),
            ("https://192.168.1.1/", "private"),
            ("https://169.254.169.254/latest/meta-data", "private"),
            ("https://100.64.0.1", "private"),
            ("https://0.0.0.0", "private"),
            ("https://[::1]:443/", "private"),
            ("https://[fd00::1]/", "private"),
            ("https://[fe80::1]/", "private"),
            ("https://[::ffff:127.0.0.1]/", "private"),
            ("https://localhost:8787", "localhost"),
            ("https://api.localhost./", "localhost"),
        ] {
            let message = check_destination("url", bad, false).unwrap_err().message();
            assert!(message.starts_with("url ") && message.contains(why), "{bad}: {message}");
        }
    }

    #[test]
    fn local_development_may_send_anywhere() {
        assert_eq!(check_destination("url", "http://127.0.0.1:9000/x", true), Ok(()));
    }
}
