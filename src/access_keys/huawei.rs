//! Huawei Cloud SDK-HMAC-SHA256 (huaweicloudsdkcore `signer/signer.py`): `Authorization:
//! SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=<hex>` over the path decoded, split on
//! `/`, each segment re-quoted and a trailing `/` added, the query sorted and re-encoded, the signed
//! headers (first value, trimmed), and the body's SHA-256, or `UNSIGNED-PAYLOAD` when
//! `X-Sdk-Content-Sha256` says so (the SDK does for any body that is not JSON). The string to sign
//! carries `X-Sdk-Date`. No `worker` import; never logs.

use super::{canonical_query, credential_field, macs_match, sha256_hex, signed_headers, AccessKeys, Refusal, Signed};
use crate::http::{percent_decode, percent_encode, Request};
use crate::signature::hmac_sha256;

const ALGORITHM: &str = "SDK-HMAC-SHA256";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

pub(super) fn verify<'k>(request: &Request, credentials: &str, keys: &'k AccessKeys) -> Result<Signed<'k>, Refusal> {
    let malformed =
        || Refusal::Malformed("the SDK-HMAC-SHA256 Authorization needs Access, SignedHeaders and Signature");
    let field = |name| credential_field(credentials, name).ok_or_else(malformed);
    let (key_id, list, signature) = (field("Access")?, field("SignedHeaders")?, field("Signature")?);
    let key = keys.find(key_id)?;
    let names = signed_headers(request, list)?;
    let date = request.header("x-sdk-date").ok_or(Refusal::NotSigned("X-Sdk-Date"))?.trim();
    let canonical_headers: String =
        names.iter().map(|name| format!("{name}:{}\n", request.header(name).unwrap_or_default().trim())).collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{list}\n{}",
        request.method,
        canonical_uri(&request.path),
        canonical_query(request, true)?,
        payload_hash(request)?
    );
    let string_to_sign = format!("{ALGORITHM}\n{date}\n{}", sha256_hex(canonical_request.as_bytes()));
    let ours = hmac_sha256(key.secret.expose().as_bytes(), &[string_to_sign.as_bytes()]);
    macs_match(&ours, hex::decode(signature).ok())?;
    // The SDK leaves a body unsigned for any type but JSON; hookrelay reads JSON by a wider rule
    // (`+json`, any case), and GitLab's routes read forms: an unsigned body is never taken.
    if !request.body.is_empty() && request.header("x-sdk-content-sha256").map(str::trim) == Some(UNSIGNED_PAYLOAD) {
        return Err(Refusal::NotSigned("the body"));
    }
    let at_ms = crate::time::parse_basic_utc(date).ok_or(Refusal::Malformed("X-Sdk-Date is not yyyyMMddTHHmmssZ"))?;
    Ok(Signed { key, at_ms, nonce: None })
}

/// The path decoded first and then split, so an encoded `/` separates segments here as it did
/// for the SDK, each segment re-encoded, and always a trailing `/`.
fn canonical_uri(path: &str) -> String {
    let segments: Vec<String> = percent_decode(path, false).split('/').map(percent_encode).collect();
    let mut uri = segments.join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The body's hash, or `UNSIGNED-PAYLOAD` when the signer declared it so; a declared hash must
/// be the body's.
fn payload_hash(request: &Request) -> Result<String, Refusal> {
    let body_hash = sha256_hex(&request.body);
    match request.header("x-sdk-content-sha256").map(str::trim) {
        _ if request.body.is_empty() => Ok(body_hash),
        Some(UNSIGNED_PAYLOAD) => Ok(UNSIGNED_PAYLOAD.into()),
        Some(declared) if !declared.eq_ignore_ascii_case(&body_hash) => {
            Err(Refusal::BodyHashMismatch("X-Sdk-Content-Sha256"))
        }
        _ => Ok(body_hash),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_is_decoded_split_requoted_and_ends_with_a_slash() {
        assert_eq!(
            canonical_uri("/v1/p/git/repos/devops%2Fplatform%20team/hookrelay%2Bci/hooks"),
            "/v1/p/git/repos/devops/platform%20team/hookrelay%2Bci/hooks/"
        );
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri(""), "/");
    }

    #[test]
    fn a_declared_body_hash_must_be_the_bodys_and_unsigned_payload_is_taken_as_declared() {
        let body = Request::new("POST", "/").with_body("application/octet-stream", "abc");
        let declared = |value: &str| body.clone().with_header("X-Sdk-Content-Sha256", value);
        assert_eq!(payload_hash(&body), Ok(sha256_hex(b"abc")));
        assert_eq!(payload_hash(&declared(UNSIGNED_PAYLOAD)), Ok(UNSIGNED_PAYLOAD.into()));
        assert_eq!(payload_hash(&declared(&sha256_hex(b"abc"))), Ok(sha256_hex(b"abc")));
        let other = declared(&sha256_hex(b"abd"));
        assert_eq!(payload_hash(&other), Err(Refusal::BodyHashMismatch("X-Sdk-Content-Sha256")));
    }
}
