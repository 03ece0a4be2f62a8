//! Who may call: admin identities from `ADMIN_TOKENS` and `ADMIN_ACCESS_KEYS`, and trigger tokens.
//! Trigger tokens are generated here, stored only as SHA-256, and compared in constant time.
//! Nothing here logs or returns a secret.

use crate::access_keys::{AccessKeys, MemoryNonces, NonceMemory};
use crate::error::Error;
use crate::http::Request;
use sha2::{Digest, Sha256};
use std::rc::Rc;

pub use crate::crypto::{constant_time_eq, TriggerToken, TOKEN_PREFIX};

/// An administrator, as named in `ADMIN_TOKENS` or `ADMIN_ACCESS_KEYS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub name: String,
}

/// The admins known to this deployment. Tokens are kept as SHA-256 only; access key secrets as
/// they are, since they key the MACs.
#[derive(Clone)]
pub struct AdminDirectory {
    entries: Vec<(String, [u8; 32])>,
    access_keys: AccessKeys,
    /// Where the nonces of accepted Alibaba signatures are remembered (see `access_keys`).
    nonces: Rc<dyn NonceMemory>,
}

impl Default for AdminDirectory {
    fn default() -> Self {
        AdminDirectory {
            entries: Vec::new(),
            access_keys: AccessKeys::default(),
            nonces: Rc::new(MemoryNonces::default()),
        }
    }
}

impl std::fmt::Debug for AdminDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|(name, _)| name.as_str()).collect();
        write!(f, "AdminDirectory({names:?}, tokens=***, {:?})", self.access_keys)
    }
}

impl AdminDirectory {
    /// Parses `alice:tok-a,bob:tok-b`. Entries without a name or token are skipped.
    pub fn parse(spec: &str) -> Self {
        let entries = spec
            .split(',')
            .filter_map(|entry| {
                let (name, token) = entry.trim().split_once(':')?;
                let (name, token) = (name.trim(), token.trim());
                (!name.is_empty() && !token.is_empty()).then(|| (name.to_string(), sha256(token)))
            })
            .collect();
        AdminDirectory { entries, ..AdminDirectory::default() }
    }

    /// Adds the pairs of `ADMIN_ACCESS_KEYS` (`name:ACCESS_KEY_ID:ACCESS_KEY_SECRET,...`).
    pub fn with_access_keys(self, spec: &str) -> Self {
        AdminDirectory { access_keys: AccessKeys::parse(spec), ..self }
    }

    /// Remembers nonces in `nonces` rather than in this directory's own memory, so that they
    /// outlive it (the shell builds a directory per request).
    pub fn with_nonce_memory(self, nonces: Rc<dyn NonceMemory>) -> Self {
        AdminDirectory { nonces, ..self }
    }

    /// How many tokens and access keys it holds.
    pub fn len(&self) -> usize {
        self.entries.len() + self.access_keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finds the admin who signed the request with an access key (`access_keys`, its signing date
    /// checked against `now_ms`), or else whose token it carries in `Authorization: Bearer`,
    /// `PRIVATE-TOKEN`, `X-Auth-Token` or `x-acs-bearer-token` (Alibaba's bearer mode). Every
    /// token is compared, so the time taken does not tell which admin, if any, was close. A
    /// refused signature says why, naming headers only.
    pub fn authenticate(&self, request: &Request, now_ms: u64) -> Result<Admin, Error> {
        if let Some(verdict) = self.access_keys.verify(request, now_ms, self.nonces.as_ref()) {
            return match verdict {
                Ok(name) => Ok(Admin { name: name.to_string() }),
                Err(refusal) => Err(Error::BadSignature(refusal.message())),
            };
        }
        let presented = presented_admin_token(request).ok_or(Error::Unauthorized)?;
        let digest = sha256(presented);
        let mut found = None;
        for (name, expected) in &self.entries {
            if constant_time_eq(&digest, expected) && found.is_none() {
                found = Some(name);
            }
        }
        found.map(|name| Admin { name: name.clone() }).ok_or(Error::Unauthorized)
    }
}

fn presented_admin_token(request: &Request) -> Option<&str> {
    let bearer = request.header("authorization").and_then(|value| {
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    bearer
        .or_else(|| request.header("private-token"))
        .or_else(|| request.header("x-auth-token"))
        .or_else(|| request.header("x-acs-bearer-token"))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

pub fn sha256(input: &str) -> [u8; 32] {
    Sha256::digest(input.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::SequenceRandom;

    #[test]
    fn tokens_have_the_prefix_and_192_random_bits() {
        let random = SequenceRandom::new(7);
        let first = TriggerToken::generate(&random);
        let second = TriggerToken::generate(&random);
        assert!(first.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(first.expose().len(), TOKEN_PREFIX.len() + 48);
        assert_ne!(first.expose(), second.expose());
    }

    #[test]
    fn hash_is_sha256_hex_and_id_is_its_first_128_bits() {
        let token = TriggerToken::from_presented("abc");
        assert_eq!(token.hash(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(token.trigger_id(), "ba7816bf8f01cfea414140de5dae2223");
    }

    #[test]
    fn debug_never_shows_a_token() {
        let token = TriggerToken::from_presented("hrtt_secret");
        assert!(!format!("{token:?}").contains("secret"));
        let admins = AdminDirectory::parse("alice:tok-a");
        assert!(!format!("{admins:?}").contains("tok-a"));
    }

    #[test]
    fn gitlab_shortens_to_four_characters() {
        assert_eq!(TriggerToken::shortened("hrtt_0123"), "hrtt");
        assert_eq!(TriggerToken::shortened("ab"), "ab");
    }

    #[test]
    fn constant_time_eq_checks_every_byte_and_the_length() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"samf"));
        assert!(!constant_time_eq(b"same", b"sam"));
    }

    #[test]
    fn admins_authenticate_by_any_of_the_three_headers() {
        let admins = AdminDirectory::parse(" alice:tok-a , bob:tok-b,broken,:x,y:");
        assert_eq!(admins.len(), 2);
        let by = |name: &str, value: &str| admins.authenticate(&Request::new("GET", "/").with_header(name, value), 0);
        assert_eq!(by("Authorization", "Bearer tok-a").unwrap().name, "alice");
        assert_eq!(by("PRIVATE-TOKEN", "tok-b").unwrap().name, "bob");
        assert_eq!(by("X-Auth-Token", "tok-a").unwrap().name, "alice");
        assert_eq!(by("x-acs-bearer-token", "tok-b").unwrap().name, "bob");
        assert_eq!(by("Authorization", "Basic tok-a"), Err(Error::Unauthorized));
        assert_eq!(by("PRIVATE-TOKEN", "tok-c"), Err(Error::Unauthorized));
        assert_eq!(admins.authenticate(&Request::new("GET", "/"), 0), Err(Error::Unauthorized));
    }
}
