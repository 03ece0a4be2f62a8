//! Generic HMAC: the header, algorithm (sha1, sha256, sha512), encoding (hex, base64) and an
//! optional prefix are set on the trigger's source. The body may be anything (`generic`).

use super::{require_secrets, required_header, verdict, HookCall, Provider};
use crate::error::Error;
use crate::model::source::Encoding;
use crate::model::{Event, ProviderSource};
use crate::signature::{any_secret_matches, base64_decode, hmac, Algorithm};

pub struct GenericHmac;

impl Provider for GenericHmac {
    fn verify(&self, call: &HookCall) -> Result<(), Error> {
        let source = call.source;
        let header = source.header.as_deref().unwrap_or("X-Signature");
        let value = required_header(call.request, header)?;
        let prefix = source.prefix.as_deref().unwrap_or("");
        let encoded = value
            .strip_prefix(prefix)
            .ok_or_else(|| Error::BadSignature(format!("{header} must start with '{prefix}'")))?;
        let presented = match source.encoding.unwrap_or(Encoding::Hex) {
            Encoding::Hex => hex::decode(encoded.trim()).ok(),
            Encoding::Base64 => base64_decode(encoded.trim()),
        }
        .ok_or_else(|| Error::BadSignature(format!("{header} is not in the configured encoding")))?;
        let algorithm = source.algorithm.unwrap_or(Algorithm::Sha256);
        let body = &call.request.body;
        verdict(
            any_secret_matches(&source.secret_values(), &presented, |secret| {
                hmac(algorithm, secret.as_bytes(), &[body])
            }),
            header,
        )
    }

    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error> {
        Ok(super::generic::parse(call))
    }

    fn maps_fields(&self) -> bool {
        true
    }

    fn validate(&self, source: &ProviderSource) -> Result<(), Error> {
        require_secrets(source)?;
        let header = source.header.as_deref().ok_or_else(|| Error::bad_request("source.header is missing"))?;
        if header.is_empty()
            || header.len() > 100
            || !header.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::bad_request("source.header is not a valid header name"));
        }
        if source.prefix.as_deref().is_some_and(|p| p.len() > 50) {
            return Err(Error::bad_request("source.prefix is longer than 50 bytes"));
        }
        Ok(())
    }
}
