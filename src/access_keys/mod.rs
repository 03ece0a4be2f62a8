//! Admin requests signed with an access key pair (`ADMIN_ACCESS_KEYS`), as the vendors' SDKs sign
//! them: Alibaba ACS3-HMAC-SHA256 (`acs3`), Alibaba's legacy ROA signature (`roa`) and Huawei
//! SDK-HMAC-SHA256 (`huawei`). Each scheme rebuilds the string its SDK signed from the request as
//! received (tests/fixtures/sdk-signatures/NOTES.md quotes the SDKs' code) and compares MACs in
//! constant time; this module looks the key up, bounds the signing date and remembers Alibaba's
//! nonces. No `worker` import; a refusal names headers, never a secret, signature or nonce.

mod acs3;
mod huawei;
mod roa;

use crate::crypto::Secret;
use crate::http::{parse_urlencoded, percent_encode, Request};
use sha2::{Digest, Sha256};
use std::cell::RefCell;

/// How far a signing date may be from now, either way: 15 minutes, as the vendors allow.
pub const SIGNING_WINDOW_MS: u64 = 15 * 60 * 1000;

/// The longest `x-acs-signature-nonce` remembered (the SDK sends 32 hex digits).
const MAX_NONCE_BYTES: usize = 128;

/// One pair from `ADMIN_ACCESS_KEYS`: the admin it authenticates, its public id and its secret.
#[derive(Clone)]
pub struct AccessKey {
    pub admin: String,
    pub id: String,
    secret: Secret,
}

/// The pairs of `ADMIN_ACCESS_KEYS`. `Debug` shows the admins only.
#[derive(Clone, Default)]
pub struct AccessKeys {
    keys: Vec<AccessKey>,
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let admins: Vec<&str> = self.keys.iter().map(|key| key.admin.as_str()).collect();
        write!(f, "AccessKeys({admins:?}, secrets=***)")
    }
}

/// `name:ACCESS_KEY_ID:ACCESS_KEY_SECRET`, trimmed; the secret is the rest, so it may hold `:`.
fn parse_entry(entry: &str) -> Option<AccessKey> {
    let mut parts = entry.splitn(3, ':').map(str::trim);
    let (admin, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
    let filled = !admin.is_empty() && !id.is_empty() && !secret.is_empty();
    filled.then(|| AccessKey { admin: admin.into(), id: id.into(), secret: Secret::new(secret) })
}

fn entries(spec: &str) -> impl Iterator<Item = &str> {
    spec.split(',').map(str::trim).filter(|entry| !entry.is_empty())
}

impl AccessKeys {
    /// Parses `alice:AK1:SK1,bob:AK2:SK2`. A malformed entry is skipped (`problem` reports it).
    pub fn parse(spec: &str) -> Self {
        AccessKeys { keys: entries(spec).filter_map(parse_entry).collect() }
    }

    /// What is wrong with the setting, naming the entry by its position, never by its text.
    pub fn problem(spec: &str) -> Option<String> {
        let mut ids = Vec::new();
        for (position, entry) in entries(spec).enumerate() {
            let n = position + 1;
            let Some(key) = parse_entry(entry) else {
                return Some(format!("ADMIN_ACCESS_KEYS: entry {n} is not name:access_key_id:access_key_secret"));
            };
            if ids.contains(&key.id) {
                return Some(format!("ADMIN_ACCESS_KEYS: entry {n} repeats an earlier access key id"));
            }
            ids.push(key.id);
        }
        None
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The pair named by an access key id. Ids are public (they travel in the clear), so a plain
    /// lookup; only the MACs are compared in constant time.
    fn find(&self, id: &str) -> Result<&AccessKey, Refusal> {
        self.keys.iter().find(|key| key.id == id).ok_or(Refusal::UnknownAccessKey)
    }

    /// The admin whose access key signed `request`: `None` when its `Authorization` is no
    /// access-key signature (a token may still authenticate it), else the verdict. `nonces`
    /// remembers the Alibaba nonces of accepted requests, so that a replay is refused.
    pub fn verify(&self, request: &Request, now_ms: u64, nonces: &dyn NonceMemory) -> Option<Result<&str, Refusal>> {
        let authorization = request.header("authorization")?.trim();
        let (word, credentials) = authorization.split_once(' ')?;
        let scheme = SCHEMES.iter().find(|scheme| scheme.word.eq_ignore_ascii_case(word))?;
        Some(self.check(request, credentials.trim(), scheme, now_ms, nonces))
    }

    fn check(
        &self,
        request: &Request,
        credentials: &str,
        scheme: &Scheme,
        now_ms: u64,
        nonces: &dyn NonceMemory,
    ) -> Result<&str, Refusal> {
        let signed = (scheme.verify)(request, credentials, self)?;
        if now_ms.abs_diff(signed.at_ms) > SIGNING_WINDOW_MS {
            return Err(Refusal::DateOutsideWindow(scheme.date_header));
        }
        if let Some(nonce) = signed.nonce {
            if nonce.len() > MAX_NONCE_BYTES {
                return Err(Refusal::Malformed("x-acs-signature-nonce is longer than 128 bytes"));
            }
            let remembered = format!("{}:{nonce}", signed.key.id);
            match nonces.first_use(&remembered, now_ms, signed.at_ms + SIGNING_WINDOW_MS) {
                NonceUse::First => {}
                NonceUse::Replayed => return Err(Refusal::NonceReplayed),
                NonceUse::NoRoom => return Err(Refusal::TooManyNonces),
            }
        }
        Ok(&signed.key.admin)
    }
}

/// A signing scheme: the word that opens its `Authorization` value, the header its signing date
/// is read from, and its verifier, which checks the MAC and returns what it covered.
struct Scheme {
    word: &'static str,
    date_header: &'static str,
    verify: for<'k> fn(&Request, &str, &'k AccessKeys) -> Result<Signed<'k>, Refusal>,
}

/// The schemes, one line each.
const SCHEMES: [Scheme; 3] = [
    Scheme { word: "ACS3-HMAC-SHA256", date_header: "x-acs-date", verify: acs3::verify },
    Scheme { word: "acs", date_header: "Date", verify: roa::verify },
    Scheme { word: "SDK-HMAC-SHA256", date_header: "X-Sdk-Date", verify: huawei::verify },
];

/// What a verified signature covered: its key, its signing date and, for Alibaba, its nonce.
struct Signed<'k> {
    key: &'k AccessKey,
    at_ms: u64,
    nonce: Option<String>,
}

/// Why a signed request was refused, for the 401's message and the log: header names only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The `Authorization` value or a signed header cannot be read.
    Malformed(&'static str),
    UnknownAccessKey,
    SignatureMismatch,
    /// A header named in the signed-header list is not in the request.
    SignedHeaderMissing(String),
    /// The scheme's date or nonce header is absent or not covered by the signature.
    NotSigned(&'static str),
    DateOutsideWindow(&'static str),
    /// The body does not hash to the value the named header declares.
    BodyHashMismatch(&'static str),
    NonceReplayed,
    TooManyNonces,
}

impl Refusal {
    pub fn message(&self) -> String {
        let why = match self {
            Refusal::Malformed(what) => what.to_string(),
            // Worded as a mismatch: a refusal does not tell which key ids exist.
            Refusal::UnknownAccessKey => "the signature does not match".into(),
            Refusal::SignatureMismatch => "the signature does not match".into(),
            Refusal::SignedHeaderMissing(name) => format!("the signed header '{name}' is missing"),
            Refusal::NotSigned(name) => format!("{name} must be sent and signed"),
            Refusal::DateOutsideWindow(name) => format!("the signing date ({name}) is more than 15 minutes off"),
            Refusal::BodyHashMismatch(name) => format!("the body does not match {name}"),
            Refusal::NonceReplayed => "the signature nonce was used before".into(),
            Refusal::TooManyNonces => "too many signed requests within 15 minutes; try again later".into(),
        };
        format!("access key signature refused: {why}")
    }
}

/// Whether a nonce is new (and is now remembered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceUse {
    First,
    Replayed,
    /// Nothing more can be remembered before older nonces expire; refused to stay safe.
    NoRoom,
}

/// Remembers the nonces of accepted requests until their signatures expire. A port: the shell
/// keeps one per isolate, which is where it is cheap (a replay sent to another isolate within the
/// 15 minutes is not caught); a shared store would cost a write per admin request.
pub trait NonceMemory {
    /// `First` when `nonce` is unseen or expired, and remembers it until `until_ms`.
    fn first_use(&self, nonce: &str, now_ms: u64, until_ms: u64) -> NonceUse;
}

/// Nonces in memory, at most `capacity` unexpired ones per access key (a nonce is remembered as
/// `<key id>:<nonce>`), each with the time it expires: one key's caller cannot crowd out
/// another's. A list scanned in full: 10,000 short strings take microseconds, and a map type of its
/// own would cost 2 KB of gzipped wasm.
pub struct MemoryNonces {
    capacity: usize,
    seen: RefCell<Vec<(String, u64)>>,
}

impl MemoryNonces {
    pub fn new(capacity: usize) -> Self {
        MemoryNonces { capacity, seen: RefCell::default() }
    }
}

impl Default for MemoryNonces {
    /// Room for 10,000 signed requests per key per 15 minutes, about 1 MB a key at most.
    fn default() -> Self {
        MemoryNonces::new(10_000)
    }
}

impl NonceMemory for MemoryNonces {
    fn first_use(&self, nonce: &str, now_ms: u64, until_ms: u64) -> NonceUse {
        let mut seen = self.seen.borrow_mut();
        if seen.iter().any(|(known, until)| known == nonce && *until >= now_ms) {
            return NonceUse::Replayed;
        }
        let key = |remembered: &str| remembered.split(':').next().unwrap_or_default().to_string();
        let mine = key(nonce);
        let held = |seen: &Vec<(String, u64)>| seen.iter().filter(|(known, _)| key(known) == mine).count();
        if held(&seen) >= self.capacity {
            seen.retain(|(_, until)| *until >= now_ms);
            if held(&seen) >= self.capacity {
                return NonceUse::NoRoom;
            }
        }
        seen.push((nonce.to_string(), until_ms));
        NonceUse::First
    }
}

// What the schemes share.

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every value of a header, in the order received.
fn header_values<'r>(request: &'r Request, name: &str) -> Vec<&'r str> {
    request.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

/// `Key=value` fields separated by `,`, spaces around them ignored (ACS3 and Huawei credentials).
fn credential_field<'a>(credentials: &'a str, name: &str) -> Option<&'a str> {
    credentials
        .split(',')
        .filter_map(|field| field.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, v)| v)
}

/// The signed-header list, refused when it is empty or a listed header is absent.
fn signed_headers<'a>(request: &Request, list: &'a str) -> Result<Vec<&'a str>, Refusal> {
    let names: Vec<&str> = list.split(';').collect();
    if names.iter().any(|name| name.is_empty()) {
        return Err(Refusal::Malformed("the signed-header list has an empty name"));
    }
    match names.iter().find(|name| request.header(name).is_none()) {
        Some(name) => Err(Refusal::SignedHeaderMissing(printable(name))),
        None => Ok(names),
    }
}

/// A header name for a message: as sent when it is a plain short name, else a placeholder.
fn printable(name: &str) -> String {
    let plain = name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        name.to_string()
    } else {
        "(unprintable)".into()
    }
}

/// The query's pairs, form-decoded (`+` is a space) and sorted by key, re-encoded with RFC 3986's
/// rules; the key too when `encode_keys`. A repeated key is refused: sorting puts its values in
/// one order whatever order they came in, so swapping them would keep the signature and change
/// the value a handler reads first.
fn canonical_query(request: &Request, encode_keys: bool) -> Result<String, Refusal> {
    let mut pairs = parse_urlencoded(&request.query);
    crate::sorting::sort_by(&mut pairs, Ord::cmp);
    if pairs.windows(2).any(|two| two[0].0 == two[1].0) {
        return Err(REPEATED_KEY);
    }
    let line: Vec<String> = pairs
        .iter()
        .map(|(key, value)| {
            let key = if encode_keys { percent_encode(key) } else { key.clone() };
            format!("{key}={}", percent_encode(value))
        })
        .collect();
    Ok(line.join("&"))
}

const REPEATED_KEY: Refusal = Refusal::Malformed("a query key is repeated");

/// A presented MAC against ours, in constant time.
fn macs_match(ours: &[u8], presented: Option<Vec<u8>>) -> Result<(), Refusal> {
    match presented {
        Some(presented) if crate::signature::constant_time_eq(ours, &presented) => Ok(()),
        _ => Err(Refusal::SignatureMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_whole_entries_and_problem_names_the_entry_not_its_value() {
        let keys = AccessKeys::parse(" alice:AK1:sk:with:colons , broken:AK2, :AK3:sk3,bob:AK4:sk4");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.find("AK1").unwrap().secret.expose(), "sk:with:colons");
        assert!(!format!("{keys:?}").contains("sk4"));
        assert_eq!(AccessKeys::problem("alice:AK1:sk1,,bob:AK2:sk2"), None);
        let broken = AccessKeys::problem("alice:AK1:sk1,bob:AK2-secret-ish").unwrap();
        assert_eq!(broken, "ADMIN_ACCESS_KEYS: entry 2 is not name:access_key_id:access_key_secret");
        let repeated = AccessKeys::problem("alice:AK1:sk1,bob:AK1:sk2").unwrap();
        assert_eq!(repeated, "ADMIN_ACCESS_KEYS: entry 2 repeats an earlier access key id");
    }

    #[test]
    fn nonces_are_refused_until_they_expire_and_when_memory_is_full() {
        let nonces = MemoryNonces::new(2);
        assert_eq!(nonces.first_use("k:a", 0, 100), NonceUse::First);
        assert_eq!(nonces.first_use("k:a", 50, 150), NonceUse::Replayed);
        assert_eq!(nonces.first_use("k:b", 50, 150), NonceUse::First);
        assert_eq!(nonces.first_use("k:c", 60, 160), NonceUse::NoRoom);
        assert_eq!(nonces.first_use("k:a", 101, 201), NonceUse::First, "expired, so room again");
        // Per key: one key's full memory leaves room for another's.
        let nonces = MemoryNonces::new(2);
        assert_eq!(nonces.first_use("k1:a", 0, 100), NonceUse::First);
        assert_eq!(nonces.first_use("k1:b", 0, 100), NonceUse::First);
        assert_eq!(nonces.first_use("k1:c", 0, 100), NonceUse::NoRoom);
        assert_eq!(nonces.first_use("k2:a", 0, 100), NonceUse::First, "another key still has room");
        assert_eq!(nonces.first_use("k2:a", 1, 100), NonceUse::Replayed);
    }

    #[test]
    fn query_is_sorted_and_reencoded_with_rfc3986_rules() {
        let request = Request::new("GET", "/?b=2&a=web+app%2A~%2F&k%20y=");
        assert_eq!(canonical_query(&request, false), Ok("a=web%20app%2A~%2F&b=2&k y=".into()));
        assert_eq!(canonical_query(&request, true), Ok("a=web%20app%2A~%2F&b=2&k%20y=".into()));
        let repeated = Request::new("GET", "/?a=1&b=2&a=0");
        assert_eq!(canonical_query(&repeated, true), Err(REPEATED_KEY), "whatever the values' order");
    }
}
