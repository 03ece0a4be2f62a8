//! Secrets at rest: a `Store` wrapper that encrypts the records holding credentials (targets,
//! triggers with their hook secrets, registries) with XChaCha20-Poly1305 under the newest key of
//! the `ENCRYPTION_KEY` secret, and decrypts them with whichever key sealed them. No `worker`
//! import. A record reads as `enc:v1:<key id>:<base64(nonce ‖ ciphertext)>`.

pub use crate::crypto::Keyring;
use crate::crypto::SEALED_MARK as MARK;
use crate::error::Error;
use crate::ports::{LocalFuture, Random};
use crate::store::{KeyPage, Store};

/// The key prefixes whose records are sealed.
pub const SEALED_PREFIXES: [&str; 3] = ["target:", "trigger:", "registry:"];

/// The store with sealing: records under `SEALED_PREFIXES` are sealed on write and opened on read.
/// Without a keyring, such a write is refused: credentials are never stored in the clear.
pub struct SealedStore<S: Store> {
    pub inner: S,
    pub keyring: Option<Keyring>,
    pub random: Box<dyn Random>,
}

fn sealed(key: &str) -> bool {
    SEALED_PREFIXES.iter().any(|prefix| key.starts_with(prefix))
}

impl<S: Store> Store for SealedStore<S> {
    fn get<'a>(&'a self, key: &'a str) -> LocalFuture<'a, Result<Option<String>, Error>> {
        Box::pin(async move {
            let stored = self.inner.get(key).await?;
            match (&self.keyring, stored) {
                (Some(keyring), Some(text)) if sealed(key) => keyring.open(text).map(Some),
                (None, Some(text)) if sealed(key) && text.starts_with(MARK) => {
                    Err(Error::Misconfigured("a sealed record needs ENCRYPTION_KEY, which is not set".into()))
                }
                (_, stored) => Ok(stored),
            }
        })
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a str, ttl_seconds: Option<u64>) -> LocalFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if !sealed(key) {
                return self.inner.put(key, value, ttl_seconds).await;
            }
            let keyring = self.keyring.as_ref().ok_or_else(|| {
                Error::Misconfigured("ENCRYPTION_KEY is not set, and credentials are never stored in the clear".into())
            })?;
            let mut nonce = [0u8; 24];
            self.random.fill(&mut nonce);
            self.inner.put(key, &keyring.seal(value, nonce)?, ttl_seconds).await
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> LocalFuture<'a, Result<(), Error>> {
        self.inner.delete(key)
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalFuture<'a, Result<KeyPage, Error>> {
        self.inner.list(prefix, cursor, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{block_on, SequenceRandom};
    use crate::store::MemoryStore;

    const OLD: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const NEW: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    fn store(keys: Option<&str>) -> SealedStore<MemoryStore> {
        SealedStore {
            inner: MemoryStore::new(),
            keyring: keys.map(|k| Keyring::parse(k).unwrap()),
            random: Box::new(SequenceRandom::new(1)),
        }
    }

    #[test]
    fn credential_records_are_sealed_and_read_back() {
        let s = store(Some(OLD));
        block_on(s.put("target:t1", r#"{"token":"glpat-secret"}"#, None)).unwrap();
        block_on(s.put("delivery:t1:1", "plain", None)).unwrap();
        let raw = s.inner.raw("target:t1").unwrap();
        assert!(raw.starts_with("enc:v1:k1:") && !raw.contains("glpat"), "{raw}");
        assert_eq!(s.inner.raw("delivery:t1:1").unwrap(), "plain", "only the credential prefixes");
        assert_eq!(block_on(s.get("target:t1")).unwrap().unwrap(), r#"{"token":"glpat-secret"}"#);
        block_on(s.put("target:t2", "same", None)).unwrap();
        block_on(s.put("target:t3", "same", None)).unwrap();
        assert_ne!(s.inner.raw("target:t2"), s.inner.raw("target:t3"), "a fresh nonce each time");
    }

    #[test]
    fn an_old_key_still_opens_and_a_tampered_record_is_an_error_not_a_panic() {
        let old = store(Some(OLD));
        block_on(old.put("trigger:a", "hook secret", None)).unwrap();
        let raw = old.inner.raw("trigger:a").unwrap();
        let rotated = Keyring::parse(&format!("{NEW},{OLD}")).unwrap();
        assert!(raw.starts_with("enc:v1:k1:"), "sealed under the old key");
        assert_eq!(rotated.open(raw.clone()).unwrap(), "hook secret");
        let resealed = rotated.seal("hook secret", [7; 24]).unwrap();
        assert!(resealed.starts_with("enc:v1:k2:"), "sealed under the newest key");
        let without_old = Keyring::parse(NEW).unwrap();
        assert!(without_old.open(raw.clone()).unwrap_err().message().contains("'k1'"));
        let mut tampered = raw.into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(rotated.open(String::from_utf8(tampered).unwrap()).is_err());
        assert_eq!(rotated.open("{\"plain\":1}".into()).unwrap(), "{\"plain\":1}", "records from before encryption");
    }

    #[test]
    fn without_a_key_credentials_are_refused_not_stored_in_the_clear() {
        let s = store(None);
        assert!(block_on(s.put("registry:r", "secret", None)).unwrap_err().message().contains("ENCRYPTION_KEY"));
        assert_eq!(s.inner.raw("registry:r"), None);
        block_on(s.put("audit:1", "ok", None)).unwrap();
        for bad in ["", "k1", "k1:short", "bad id:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="] {
            assert!(Keyring::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", Keyring::parse(OLD).unwrap()).contains("AAEC"), "Debug shows ids only");
    }
}
