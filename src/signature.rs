//! Signature primitives shared by the providers: HMAC over SHA-1/256/512, base64 (the `base64` crate), and
//! "does any live secret verify this", always in constant time. Pure; never logs a secret.

use hmac::{Hmac, Mac};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// Compares two byte strings in time that depends only on their lengths (`subtle`, which the
/// RustCrypto crates already link, rather than a loop the optimizer may shortcut).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// HMAC of the concatenated `parts`, keyed with `key`.
pub fn hmac(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <M as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        Algorithm::Sha1 => run::<Hmac<sha1::Sha1>>(key, parts),
        Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(key, parts),
        Algorithm::Sha512 => run::<Hmac<sha2::Sha512>>(key, parts),
    }
}

pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    hmac(Algorithm::Sha256, key, parts)
}

/// Whether `presented` equals the MAC that any of the `secrets` produces. Every secret is tried,
/// so the time does not depend on which one (if any) matched.
pub fn any_secret_matches<S: AsRef<str>>(secrets: &[S], presented: &[u8], mac_for: impl Fn(&str) -> Vec<u8>) -> bool {
    let mut matched = false;
    for secret in secrets {
        matched |= constant_time_eq(&mac_for(secret.as_ref()), presented);
    }
    matched
}

/// Whether `presented` equals any of the `secrets` (plain-token providers), in constant time.
pub fn any_secret_equals<S: AsRef<str>>(secrets: &[S], presented: &str) -> bool {
    secrets
        .iter()
        .fold(false, |matched, secret| matched | constant_time_eq(secret.as_ref().as_bytes(), presented.as_bytes()))
}

/// Base64 from the `base64` crate: standard alphabet with padding out, either alphabet with or
/// without padding in (Standard Webhooks keys and signatures, Jenkins credentials, sealed records).
pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Standard or URL-safe alphabet, padding optional. `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
    use base64::{alphabet, Engine};
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
    STANDARD.decode(text).or_else(|_| URL_SAFE.decode(text)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_published_vector() {
        let vector: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/github-signature-vector.json")).unwrap();
        let field = |name: &str| vector[name].as_str().unwrap().to_string();
        let mac = hmac_sha256(field("secret").as_bytes(), &[field("payload").as_bytes()]);
        assert_eq!(hex::encode(mac), field("signature"));
    }

    #[test]
    fn base64_round_trips_and_matches_rfc4648() {
        for (raw, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64_encode(raw.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded).unwrap(), raw.as_bytes());
        }
        assert_eq!(base64_decode("Zm9v!"), None);
        assert_eq!(base64_decode("Z"), None);
    }

    #[test]
    fn any_secret_matches_supports_rotation() {
        let body = b"payload";
        let presented = hmac_sha256(b"new", &[body]);
        let mac_for = |secret: &str| hmac_sha256(secret.as_bytes(), &[body]);
        assert!(any_secret_matches(&["old", "new"], &presented, mac_for));
        assert!(!any_secret_matches(&["old"], &presented, mac_for));
        assert!(!any_secret_matches::<&str>(&[], &presented, mac_for));
    }

    #[test]
    fn sha1_and_sha512_have_their_lengths() {
        assert_eq!(hmac(Algorithm::Sha1, b"k", &[b"m"]).len(), 20);
        assert_eq!(hmac(Algorithm::Sha512, b"k", &[b"m"]).len(), 64);
    }
}
