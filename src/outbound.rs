//! The Outbound port: a plain request value that a target builds and the shell sends with
//! `Fetch`, and a scripted client for native tests. Building never sends.

use crate::error::Error;
use crate::ports::LocalFuture;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Every outbound request is abandoned after this long, so that a hung target cannot hold a
/// webhook past its provider's own timeout (GitHub waits 10 s).
pub const OUTBOUND_TIMEOUT_MS: u32 = 9_000;

/// A target URL as fetch will read it: parsed by the WHATWG rules (the `url` crate), which map
/// what a hand-written parser would miss (`https://0x7f.1/`, `https://%31%32%37.0.0.1/`,
/// `https:\127.0.0.1`) to the address fetch connects to. It must be `http` or `https`, have a
/// host, and carry no credentials (those go in the target's token or headers). A host that is not
/// ASCII (full-width digits, `ｌｏｃａｌｈｏｓｔ`) is refused: see `idna_adapter` in Cargo.toml.
pub fn parse_target_url(field: &str, text: &str) -> Result<Url, Error> {
    let bad = |why: &str| Error::bad_request(format!("{field} {why}"));
    let url = Url::parse(text).map_err(|err| match err {
        // Cargo.toml pins the IDNA back end without Unicode tables.
        url::ParseError::IdnaError => bad("must write an international host name in its ASCII (xn--) form"),
        _ => bad("must be an absolute http or https URL"),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must use http or https"));
    }
    if url.host().is_none() {
        return Err(bad("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() || has_userinfo(text) {
        return Err(bad("must not embed credentials; use the target's token or headers"));
    }
    if url.port() == Some(0) {
        return Err(bad("must not use port 0"));
    }
    Ok(url)
}

/// Whether the URL's authority holds a `user:password@` part, even an empty one (`https://:@h/`,
/// which the parse forgets): the authority as WHATWG finds it, after the scheme and any slashes,
/// up to the first `/`, `\`, `?` or `#`, with tabs and newlines removed as fetch removes them.
fn has_userinfo(text: &str) -> bool {
    let cleaned: String = text.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let after_scheme = cleaned.split_once(':').map_or("", |(_, rest)| rest);
    let authority = after_scheme.trim_start_matches(['/', '\\']);
    let end = authority.find(['/', '\\', '?', '#']).unwrap_or(authority.len());
    authority[..end].contains('@')
}

/// A URL that passed the outbound policy, kept as parsed: the request sent carries exactly its
/// serialization, so that what was checked is what fetch receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination(Url);

impl Destination {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

/// Where hookrelay may send (SSRF): `https` only, to a public host. Refused: every IPv4 and IPv6
/// special-purpose range that is not global unicast (and the IPv4 address inside NAT64, 6to4 and
/// IPv4-mapped ones), single-label names, and names under suffixes that only resolve inside a
/// network (`localhost`, `.internal`, `.local`, `.svc`...). A name that public DNS resolves to a
/// private address cannot be seen here; Cloudflare's edge refuses to fetch those itself. With
/// `allow_local` (the var `ALLOW_HTTP_TARGETS`, for local development and the tests) `http` and
/// local addresses are allowed, but the URL is still parsed as fetch will parse it.
pub fn check_destination(field: &str, text: &str, allow_local: bool) -> Result<Destination, Error> {
    let url = parse_target_url(field, text)?;
    if allow_local {
        return Ok(Destination(url));
    }
    let why = match url.host() {
        _ if url.scheme() != "https" => Some("must use https"),
        Some(Host::Ipv4(ip)) if is_internal_v4(ip) => Some(INTERNAL_ADDRESS),
        Some(Host::Ipv6(ip)) if is_internal_v6(ip) => Some(INTERNAL_ADDRESS),
        Some(Host::Domain(name)) => internal_name(name),
        Some(_) => None,
        None => Some("has no host"),
    };
    match why {
        Some(why) => {
            Err(Error::bad_request(format!("{field} {why} (set ALLOW_HTTP_TARGETS only for local development)")))
        }
        None => Ok(Destination(url)),
    }
}

/// `request` with its URL checked and replaced by the checked parse's serialization.
pub fn checked_request(mut request: OutboundRequest, allow_local: bool) -> Result<OutboundRequest, Error> {
    let destination = check_destination("the target's URL", &request.url, allow_local)?;
    request.url = destination.as_str().to_string();
    Ok(request)
}

const INTERNAL_ADDRESS: &str = "must not point at a private, loopback or link-local address";

/// Name suffixes that resolve only inside a network (RFC 6761, 6762, 8375, ICANN's `.internal`,
/// Kubernetes' `.svc`), or never publicly (names that ICANN keeps undelegated for that reason).
const INTERNAL_SUFFIXES: [&str; 12] = [
    "localhost",
    "local",
    "internal",
    "svc",
    "cluster.local",
    "localdomain",
    "arpa",
    "lan",
    "home",
    "corp",
    "intranet",
    "private",
];

/// Why a (lower-case, IDNA-mapped) host name is refused, if it is.
fn internal_name(name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches('.');
    if INTERNAL_SUFFIXES.iter().any(|suffix| name == *suffix || name.ends_with(&format!(".{suffix}"))) {
        return Some("must not point at localhost or an internal name");
    }
    if !name.contains('.') {
        return Some("must name a public host (a single-label name resolves only inside a network)");
    }
    // `10.0.0.1.nip.io`, `app-127-0-0-1.sslip.io`, `7f000001.sslip.io`, `fe80--1.sslip.io`:
    // services whose names spell the address, in each spelling they answer to.
    let spells = SPELLING_SERVICES.iter().any(|domain| name.ends_with(&format!(".{domain}")));
    let spelled_v6 = || spells && spelled_v6_addresses(name).any(is_internal_v6);
    let hex = || spells && hex_addresses(name).any(is_internal_v4);
    if spelled_addresses(name).any(is_internal_v4) || spelled_v6() || hex() {
        return Some(INTERNAL_ADDRESS);
    }
    if LOOPBACK_DOMAINS.iter().any(|domain| name == *domain || name.ends_with(&format!(".{domain}"))) {
        return Some("must not point at localhost or an internal name");
    }
    None
}

/// Wildcard DNS services that also answer to an address in hex (`7f000001`) or an IPv6 address
/// with `-` for `:` (`fe80--1`). Those spellings are read under these names only: elsewhere a
/// label of eight hex digits is as likely a commit hash as an address.
const SPELLING_SERVICES: [&str; 3] = ["sslip.io", "nip.io", "xip.io"];

/// Public names whose every subdomain resolves to 127.0.0.1 (for local development), so that the
/// same rule that refuses `127.0.0.1` refuses them.
const LOOPBACK_DOMAINS: [&str; 6] =
    ["localtest.me", "lvh.me", "vcap.me", "lacolhost.com", "localhost.direct", "fuf.me"];

/// The IPv6 addresses spelled in labels with `-` for `:` (sslip.io's `--1` is `::1`), as sslip.io
/// reads them: from the label's start or after a `-` (`app-fe80--1`), the leftmost that parses.
fn spelled_v6_addresses(name: &str) -> impl Iterator<Item = Ipv6Addr> + '_ {
    name.split('.').filter_map(|label| {
        let starts = std::iter::once(0).chain(label.match_indices('-').map(|(at, _)| at + 1));
        starts.map(|start| label[start..].replace('-', ":")).find_map(|text| text.parse::<Ipv6Addr>().ok())
    })
}

/// The IPv4 addresses spelled in a name, as four dot-separated labels or one label's last four
/// dash-separated numbers.
fn spelled_addresses(name: &str) -> impl Iterator<Item = Ipv4Addr> + '_ {
    let labels: Vec<&str> = name.split('.').collect();
    let dotted: Vec<Ipv4Addr> = labels.windows(4).filter_map(|four| four.join(".").parse().ok()).collect();
    let dashed = labels.into_iter().filter_map(|label| {
        let parts: Vec<&str> = label.rsplitn(5, '-').take(4).collect();
        if parts.len() != 4 {
            return None;
        }
        format!("{}.{}.{}.{}", parts[3], parts[2], parts[1], parts[0]).parse().ok()
    });
    dotted.into_iter().chain(dashed)
}

/// The IPv4 addresses spelled as eight hex digits, alone or after a label's last `-`.
fn hex_addresses(name: &str) -> impl Iterator<Item = Ipv4Addr> + '_ {
    name.split('.').filter_map(|label| {
        let last = label.rsplit('-').next().unwrap_or(label);
        let digits = last.len() == 8 && last.bytes().all(|b| b.is_ascii_hexdigit());
        digits.then(|| u32::from_str_radix(last, 16).ok().map(Ipv4Addr::from)).flatten()
    })
}

/// The IANA IPv4 special-purpose ranges that are not globally reachable, and multicast.
fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_loopback()
        || ip.is_link_local() // 169.254/16, cloud metadata
        || ip.is_multicast()
        || a == 0 // "this network", 0.0.0.0 included
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // the deprecated 6to4 relay anycast
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 240 // reserved, and the broadcast address
}

/// Only global unicast (2000::/3) is reachable, less its special-purpose blocks; an address that
/// carries an IPv4 address (IPv4-mapped, NAT64's 64:ff9b::/96, 6to4) is judged by that address.
fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_internal_v4(v4);
    }
    let s = ip.segments();
    // Outside 2000::/3: loopback, unspecified, IPv4-compatible, 64:ff9b:1::/48, discard-only,
    // unique-local, link-local, site-local, multicast, and what is not yet allocated.
    (s[0] & 0xe000) != 0x2000
        || (s[0] == 0x2001 && s[1] < 0x0200) // 2001::/23: Teredo, benchmarking, ORCHID...
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation (3fff::/20)
        || s[0] == 0x5f00 // SRv6 segment identifiers
}

fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    match s {
        [0, 0, 0, 0, 0, 0xffff, high, low] => Some(v4(high, low)),
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => Some(v4(high, low)),
        [0x2002, high, low, ..] => Some(v4(high, low)),
        _ => None,
    }
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
/// A port like the others (`crate::ports`): the context holds it as `Box<dyn Outbound>`.
pub trait Outbound {
    fn send(&self, request: OutboundRequest) -> LocalFuture<'_, Result<OutboundResponse, String>>;
}

impl<T: Outbound + ?Sized> Outbound for std::rc::Rc<T> {
    fn send(&self, request: OutboundRequest) -> LocalFuture<'_, Result<OutboundResponse, String>> {
        (**self).send(request)
    }
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
    fn send(&self, request: OutboundRequest) -> LocalFuture<'_, Result<OutboundResponse, String>> {
        self.sent.borrow_mut().push(request);
        let answer = self
            .script
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Ok(OutboundResponse { status: 200, headers: Vec::new(), body: b"{}".to_vec() }));
        Box::pin(async move { answer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form the red team used (issue 14), and more that WHATWG parsing turns into an
    /// internal destination.
    const REFUSED: &[&str] = &[
        // the forms
        "https://2130706433/",
        "https://0x7f.1/",
        "https://127.1/",
        "https://0/",
        "https://%31%32%37.0.0.1/",
        "https://１２７.０.０.１/",
        "https://ｌｏｃａｌｈｏｓｔ/",
        "https://\\127.0.0.1/",
        "https://2852039166/",
        "https://10.1/",
        "https://[::127.0.0.1]/",
        "https://[64:ff9b::7f00:1]/",
        "https://metadata.google.internal/",
        // IPv4 spellings
        "https://0177.0.0.1/",
        "https://0x7f.0.0.1/",
        "https://0x7F000001/",
        "https://017700000001/",
        "https://127.0.1/",
        "https://127.0.0.1./",
        "https://127.0.0.1:443/",
        "https://127.000.000.001/",
        "https://0x7f.0x0.0x0.0x1/",
        "https://%30x7f.1/",
        "https://127%2e0%2e0%2e1/",
        "https://127。0。0。1/",
        "https://0xa9fea9fe/",
        "https://169.254.169.254/latest/meta-data",
        "https://169.254.43518/",
        "https://0251.0376.0251.0376/",
        "https://0.0.0.0/",
        "https://0x0/",
        "https://4294967295/",
        "https://255.255.255.255/",
        "https://10.0.0.1/",
        "https://172.16.0.1/",
        "https://172.31.255.255/",
        "https://192.168.1.1/",
        "https://100.64.0.1/",
        "https://100.127.255.254/",
        "https://192.0.0.8/",
        "https://192.0.2.1/",
        "https://198.18.0.1/",
        "https://198.19.255.1/",
        "https://198.51.100.7/",
        "https://203.0.113.9/",
        "https://192.88.99.1/",
        "https://224.0.0.1/",
        "https://239.255.255.250/",
        "https://240.0.0.1/",
        "https://0.1.2.3/",
        // IPv6
        "https://[::1]/",
        "https://[::]/",
        "https://[0:0:0:0:0:0:0:1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[::8.8.8.8]/",
        "https://[::ffff:0:7f00:1]/",
        "https://[64:ff9b::127.0.0.1]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[64:ff9b:1::8.8.8.8]/",
        "https://[2002:7f00:1::]/",
        "https://[2002:a9fe:a9fe::1]/",
        "https://[2002:c0a8:101::]/",
        "https://[2001::1]/",
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "https://[2001:2::1]/",
        "https://[2001:10::1]/",
        "https://[2001:20::1]/",
        "https://[2001:db8::1]/",
        "https://[3fff::1]/",
        "https://[100::1]/",
        "https://[fc00::1]/",
        "https://[fd12:3456::1]/",
        "https://[fe80::1]/",
        "https://[fe80::1%25eth0]/",
        "https://[febf::1]/",
        "https://[fec0::1]/",
        "https://[ff02::1]/",
        "https://[ff0e::1]/",
        "https://[5f00::1]/",
        // names
        "https://localhost/",
        "https://LOCALHOST:8787/",
        "https://localhost./",
        "https://localhost../",
        "https://local%68ost/",
        "https://localhost%2e/",
        "https://api.localhost./",
        "https://x.LocalHost/",
        "https://metadata.google.internal./",
        "https://metadata/",
        "https://metadata./",
        "https://printer.local/",
        "https://kubernetes.default.svc/",
        "https://kubernetes.default.svc.cluster.local/",
        "https://nas.home.arpa/",
        "https://1.0.0.127.in-addr.arpa/",
        "https://router.lan/",
        "https://db.localdomain/",
        "https://intranet/",
        "https://./",
        "https://10.0.0.1.nip.io/",
        "https://app-127-0-0-1.sslip.io/",
        "https://169-254-169-254.sslip.io/",
        "https://--1.sslip.io/",
        "https://0--1.sslip.io/",
        "https://fe80--1.sslip.io/",
        "https://app-fe80--1.sslip.io/",
        "https://x---1.sslip.io/",
        "https://7f000001.sslip.io/",
        "https://app-0a000001.sslip.io/",
        "https://localtest.me/",
        "https://api.localtest.me/",
        "https://:@example.com/",
        "https://@example.com/",
        "https://example.com:0/",
        // scheme, slashes and whitespace forms
        "http://deploy.example.com/",
        "HTTP://deploy.example.com/",
        "https:127.0.0.1",
        "https:/127.0.0.1",
        "https:///127.0.0.1/",
        "https:\\\\127.0.0.1\\",
        "HTTPS://127.0.0.1/",
        "hTtPs://[::1]/",
        "https://127.0.0.\t1/",
        "https://127.0\n.0.1/",
        "https://loc\talhost/",
        " https://127.0.0.1/ ",
        "\u{0}https://127.0.0.1/",
        "https://127.0.0.1:443@evil.example/",
        "https://evil.example@127.0.0.1/",
        "https://user:pass@deploy.example.com/",
        "https://deploy.example.com:@127.0.0.1/",
        "ftp://deploy.example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/plain,x",
        "blob:https://deploy.example.com/x",
        "ws://deploy.example.com/",
        "//127.0.0.1/",
        "/relative",
        "https://",
        "https:///",
        "",
    ];

    #[test]
    fn production_refuses_every_url_form_that_reaches_an_internal_host() {
        for bad in REFUSED {
            let refused = check_destination("url", bad, false);
            let message = refused.as_ref().map_err(Error::message).err().unwrap_or_else(|| panic!("accepted {bad:?}"));
            assert!(message.starts_with("url "), "{bad:?}: {message}");
        }
    }

    #[test]
    fn production_sends_to_public_https_hosts() {
        for (ok, sent) in [
            ("https://gitlab.example.com/api", "https://gitlab.example.com/api"),
            ("https://8.8.8.8/x", "https://8.8.8.8/x"),
            ("https://[2606:4700::1111]:8443/x", "https://[2606:4700::1111]:8443/x"),
            ("HTTPS://CI.Example.com:8443", "https://ci.example.com:8443/"),
            ("https://ci.example.com:443/", "https://ci.example.com/"),
            ("https://172.32.0.1/", "https://172.32.0.1/"),
            ("https://100.128.0.1/", "https://100.128.0.1/"),
            ("https://[::ffff:8.8.8.8]/", "https://[::ffff:808:808]/"),
            ("https://[64:ff9b::8.8.8.8]/", "https://[64:ff9b::808:808]/"),
            ("https://[2002:808:808::1]/", "https://[2002:808:808::1]/"),
            ("https://deploy.example.com./hook", "https://deploy.example.com./hook"),
            // A hash-like label is an address only under a service that spells addresses.
            ("https://pr-7f3a2b1c.preview.example.com/", "https://pr-7f3a2b1c.preview.example.com/"),
            ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
            ("https://8-8-8-8.sslip.io/", "https://8-8-8-8.sslip.io/"),
            ("https://2606-4700--1111.sslip.io/", "https://2606-4700--1111.sslip.io/"),
            ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
            ("https://hooks.local.example.com/x?key=1", "https://hooks.local.example.com/x?key=1"),
            ("https://api.render.com/deploy/srv-1?key=abc", "https://api.render.com/deploy/srv-1?key=abc"),
        ] {
            let destination = check_destination("url", ok, false).unwrap_or_else(|e| panic!("{ok}: {}", e.message()));
            assert_eq!(destination.as_str(), sent, "{ok}");
        }
    }

    #[test]
    fn refusals_name_the_field_and_say_why() {
        for (bad, why) in [
            ("http://gitlab.example.com", "must use https"),
            ("ftp://x.example", "must use http or https"),
            ("https://2130706433/", "private, loopback"),
            ("https://[64:ff9b::7f00:1]/", "private, loopback"),
            ("https://ｌｏｃａｌｈｏｓｔ/", "xn--"),
            ("https://bücher.example/", "xn--"),
            ("https://metadata.google.internal/", "internal name"),
            ("https://metadata/", "single-label"),
            ("https://a:b@deploy.example.com", "credentials"),
            ("https://[fe80::1%25eth0]/", "absolute http or https URL"),
        ] {
            let message = check_destination("api_url", bad, false).unwrap_err().message();
            assert!(message.starts_with("api_url ") && message.contains(why), "{bad}: {message}");
        }
    }

    #[test]
    fn local_development_may_send_anywhere_but_still_as_fetch_parses_it() {
        let local = check_destination("url", "http://127.1:9000/x", true).unwrap();
        assert_eq!(local.as_str(), "http://127.0.0.1:9000/x");
        assert!(check_destination("url", "http://u:p@127.0.0.1/", true).is_err(), "never credentials");
        assert!(check_destination("url", "gopher://127.0.0.1/", true).is_err());
    }

    #[test]
    fn the_request_sent_carries_the_checked_serialization() {
        let request = OutboundRequest {
            method: "POST".into(),
            url: "HTTPS://Deploy.Example.COM:443/a/../hook?x=1 2".into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let checked = checked_request(request, false).unwrap();
        assert_eq!(checked.url, "https://deploy.example.com/hook?x=1%202");
        let hidden = OutboundRequest { url: "https://0x7f.1/".into(), ..checked };
        assert!(checked_request(hidden, false).is_err());
    }
}
