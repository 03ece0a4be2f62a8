//! Alibaba Cloud's legacy ROA signature (tea-openapi `Utils.get_string_to_sign` and
//! `get_roasignature`, used with `signature_algorithm='v2'`): `Authorization: acs AK:<base64 of
//! HMAC-SHA1>` over the method, `accept`, `content-md5`, `content-type`, `date`, every `x-acs-*`
//! header (sorted, untrimmed), and the path with the decoded query. The body is covered only by a
//! `Content-MD5`, which the SDK never sends, and which is signed here but not checked. No
//! `worker` import; never logs.

use super::{macs_match, AccessKeys, Refusal, Signed};
use crate::http::{parse_urlencoded, Request};
use crate::signature::{base64_decode, hmac, Algorithm};
use std::collections::BTreeMap;

pub(super) fn verify<'k>(request: &Request, credentials: &str, keys: &'k AccessKeys) -> Result<Signed<'k>, Refusal> {
    let (key_id, signature) =
        credentials.rsplit_once(':').ok_or(Refusal::Malformed("the acs Authorization is not acs AK:signature"))?;
    let key = keys.find(key_id)?;
    let date = request.header("date").ok_or(Refusal::NotSigned("Date"))?;
    let nonce = request.header("x-acs-signature-nonce").ok_or(Refusal::NotSigned("x-acs-signature-nonce"))?;
    let string_to_sign = string_to_sign(request)
        .ok_or(Refusal::Malformed("a query key is repeated, or a key or value holds '&' or '='"))?;
    let ours = hmac(Algorithm::Sha1, key.secret.expose().as_bytes(), &[string_to_sign.as_bytes()]);
    macs_match(&ours, base64_decode(signature))?;
    let at_ms = crate::time::parse_http_date(date.trim()).ok_or(Refusal::Malformed("Date is not an HTTP date"))?;
    Ok(Signed { key, at_ms, nonce: Some(nonce.trim().to_string()) })
}

fn string_to_sign(request: &Request) -> Option<String> {
    let header = |name| request.header(name).unwrap_or("");
    let mut signed = format!("{}\n", request.method);
    for name in ["accept", "content-md5", "content-type", "date"] {
        signed.push_str(header(name));
        signed.push('\n');
    }
    // One value per name, the first, as the SDK's dict held them; sorted by name.
    let mut acs_headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in request.headers.iter().filter(|(name, _)| name.to_ascii_lowercase().starts_with("x-acs-")) {
        acs_headers.entry(name.to_ascii_lowercase()).or_insert_with(|| value.clone());
    }
    for (name, value) in acs_headers {
        signed.push_str(&format!("{name}:{value}\n"));
    }
    signed.push_str(&request.path);
    // The query decoded and not re-encoded, `key` alone when empty. The SDK builds it from a dict:
    // a repeated key, or a key or value holding `&` or `=`, would sign one query and let another
    // be read (`a=1%26target%3Dx` signs as `a=1&target=x`).
    let decoded = parse_urlencoded(&request.query);
    let query: BTreeMap<String, String> = crate::sorting::map_of(decoded.iter().cloned());
    let ambiguous = |text: &String| text.contains(['&', '=']);
    if query.len() != decoded.len() || query.iter().any(|(key, value)| ambiguous(key) || ambiguous(value)) {
        return None;
    }
    let pairs: Vec<String> =
        query.into_iter().map(|(key, value)| if value.is_empty() { key } else { format!("{key}={value}") }).collect();
    if !pairs.is_empty() {
        signed.push('?');
        signed.push_str(&pairs.join("&"));
    }
    Some(signed)
}
