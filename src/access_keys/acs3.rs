//! Alibaba Cloud ACS3-HMAC-SHA256, the default of alibabacloud-tea-openapi (`Utils.get_authorization`):
//! `Authorization: ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=<hex>`. The SDK signs
//! every header it set (names lower-cased, values trimmed, repeats joined), the path as
//! sent, the query re-encoded, and the body's SHA-256, which it also sends as
//! `x-acs-content-sha256`. No `worker` import; never logs.

use super::{
    canonical_query, credential_field, header_values, macs_match, sha256_hex, signed_headers, AccessKeys, Refusal,
    Signed,
};
use crate::http::Request;
use crate::signature::hmac_sha256;

const ALGORITHM: &str = "ACS3-HMAC-SHA256";

pub(super) fn verify<'k>(request: &Request, credentials: &str, keys: &'k AccessKeys) -> Result<Signed<'k>, Refusal> {
    let malformed = || Refusal::Malformed("the ACS3 Authorization needs Credential, SignedHeaders and Signature");
    let field = |name| credential_field(credentials, name).ok_or_else(malformed);
    let (key_id, list, signature) = (field("Credential")?, field("SignedHeaders")?, field("Signature")?);
    let key = keys.find(key_id)?;
    let names = signed_headers(request, list)?;
    // The date and the nonce bound a replay only when the signature covers them.
    for required in ["x-acs-date", "x-acs-signature-nonce"] {
        if !names.iter().any(|name| name.eq_ignore_ascii_case(required)) {
            return Err(Refusal::NotSigned(required));
        }
    }
    // The signature covers the declared hash; the body must have it.
    let payload_hash = sha256_hex(&request.body);
    if let Some(declared) = request.header("x-acs-content-sha256") {
        if !declared.trim().eq_ignore_ascii_case(&payload_hash) {
            return Err(Refusal::BodyHashMismatch("x-acs-content-sha256"));
        }
    }
    let mut canonical_headers = String::new();
    for name in &names {
        // The SDK sorts a repeated header's values; the platform hands over one value per name.
        let values: Vec<&str> = header_values(request, name).into_iter().map(str::trim).collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let path = if request.path.is_empty() { "/" } else { &request.path };
    let canonical_request = format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{list}\n{payload_hash}",
        request.method,
        // Keys encoded too, so that `a%3Db` and `a=b` never sign alike (the SDKs' keys are plain names).
        canonical_query(request, true)?
    );
    let string_to_sign = format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()));
    let ours = hmac_sha256(key.secret.expose().as_bytes(), &[string_to_sign.as_bytes()]);
    macs_match(&ours, hex::decode(signature).ok())?;
    let date = request.header("x-acs-date").unwrap_or_default();
    let at_ms =
        crate::time::parse_rfc3339(date.trim()).ok_or(Refusal::Malformed("x-acs-date is not an ISO 8601 date"))?;
    let nonce = request.header("x-acs-signature-nonce").map(|nonce| nonce.trim().to_string());
    Ok(Signed { key, at_ms, nonce })
}
