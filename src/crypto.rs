//! The key types, in one place (as svix's core/cryptography.rs): a credential held for a target
//! (`Secret`), a trigger token (`TriggerToken`, stored only as SHA-256), the keys that seal records
//! at rest (`Keyring`, XChaCha20-Poly1305); constant-time comparison is `signature`'s, below this.
//! `Debug` never shows a secret: it prints `***` or key ids only. No `worker` import; nothing here
//! logs.

use crate::error::Error;
pub use crate::signature::constant_time_eq;
use crate::signature::{base64_decode, base64_encode};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A credential held for a target. It is serialized into storage, but `Debug` never shows it,
/// and views show only that it is set.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl AsRef<str> for Secret {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The fixed, recognisable start of every trigger token, so secret scanners can find leaked ones.
pub const TOKEN_PREFIX: &str = "hrtt_";
/// 192 bits of randomness behind the prefix (the issue asks for at least 160).
const TOKEN_RANDOM_BYTES: usize = 24;

/// A trigger token in the clear. It exists only while a request is handled; `Debug` hides it.
pub struct TriggerToken(String);

impl TriggerToken {
    pub fn generate(random: &dyn crate::ports::Random) -> Self {
        let mut bytes = [0u8; TOKEN_RANDOM_BYTES];
        random.fill(&mut bytes);
        TriggerToken(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
    }

    pub fn from_presented(token: &str) -> Self {
        TriggerToken(token.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the token, hex encoded: the only form that is ever stored.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The storage id of the trigger that owns this token: the first 128 bits of its hash.
    /// Deriving the id from the token makes a token call a single KV read with no index to keep
    /// consistent; the id reveals nothing usable about the token.
    pub fn trigger_id(&self) -> String {
        self.hash()[..32].to_string()
    }

    /// What GitLab shows to anyone but the owner: the first four characters.
    pub fn shortened(token: &str) -> String {
        token.chars().take(4).collect()
    }
}

impl std::fmt::Debug for TriggerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TriggerToken(***)")
    }
}

/// What a sealed record starts with: `enc:v1:<key id>:<base64(nonce ‖ ciphertext)>`.
pub const SEALED_MARK: &str = "enc:v1:";
const MARK: &str = SEALED_MARK;

/// The keys, newest first: `ENCRYPTION_KEY` is `<id>:<base64 of 32 bytes>[,<id>:<key>...]`.
pub struct Keyring {
    keys: Vec<(String, XChaCha20Poly1305)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "Keyring({ids:?})")
    }
}

impl Keyring {
    pub fn parse(text: &str) -> Result<Keyring, String> {
        let mut keys = Vec::new();
        // Errors name a key by its position, never by its text: a malformed entry may be key
        // material written where the id belongs.
        for (position, entry) in text.split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
            let n = position + 1;
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| format!("ENCRYPTION_KEY: key {n} is not <id>:<base64 of 32 bytes> (no ':')"))?;
            let valid_id =
                !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            let bytes = base64_decode(encoded).filter(|bytes| bytes.len() == 32);
            match (valid_id, bytes) {
                (true, Some(bytes)) => keys.push((id.to_string(), XChaCha20Poly1305::new(bytes.as_slice().into()))),
                (false, _) => return Err(format!("ENCRYPTION_KEY: key {n} needs a plain id (letters, digits, _)")),
                (true, None) => return Err(format!("ENCRYPTION_KEY: key {n} needs 32 bytes of base64 after its id")),
            }
        }
        if keys.is_empty() {
            return Err("ENCRYPTION_KEY is empty".into());
        }
        Ok(Keyring { keys })
    }

    /// Seals `plaintext` under the newest key with a fresh 192-bit nonce.
    pub fn seal(&self, plaintext: &str, nonce: [u8; 24]) -> Result<String, Error> {
        let (id, cipher) = &self.keys[0];
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| Error::Store("could not encrypt a record".into()))?;
        Ok(format!("{MARK}{id}:{}", base64_encode(&[nonce.as_slice(), &sealed].concat())))
    }

    /// Opens a sealed record; a record that is not sealed (written before encryption) reads as is.
    pub fn open(&self, stored: String) -> Result<String, Error> {
        let Some(rest) = stored.strip_prefix(MARK) else { return Ok(stored) };
        let corrupt = |why: &str| Error::Internal(format!("a sealed record {why}"));
        let (id, encoded) = rest.split_once(':').ok_or_else(|| corrupt("is malformed"))?;
        let (_, cipher) = self.keys.iter().find(|(known, _)| known == id).ok_or_else(|| {
            Error::Misconfigured(format!("a sealed record needs key '{id}', which ENCRYPTION_KEY no longer holds"))
        })?;
        let bytes = base64_decode(encoded).filter(|b| b.len() > 24).ok_or_else(|| corrupt("is malformed"))?;
        let plain =
            cipher.decrypt(XNonce::from_slice(&bytes[..24]), &bytes[24..]).map_err(|_| corrupt("fails its check"))?;
        String::from_utf8(plain).map_err(|_| corrupt("is not text"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_type_shows_its_secret_in_debug() {
        let secret = Secret::new("glptt-very-secret");
        let token = TriggerToken::from_presented("hrtt_0123456789abcdef");
        let keyring = Keyring::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let shown = format!("{secret:?} {token:?} {keyring:?}");
        assert_eq!(shown, "*** TriggerToken(***) Keyring([\"k1\"])");
    }

    #[test]
    fn constant_time_eq_checks_every_byte_and_the_length() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"samf"));
        assert!(!constant_time_eq(b"same", b"sam"));
    }
}
