//! A registry endpoint: one webhook URL, configured in a container registry, whose image pushes
//! fan out to every image trigger of the pushed repository.

use super::{ProviderSource, Secret};
use crate::error::Error;
use serde::{Deserialize, Serialize};

/// Registry ids start with this, so `/hooks/{id}` knows which record to read without a second read.
pub const REGISTRY_ID_PREFIX: &str = "reg_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub id: String,
    pub name: String,
    /// The provider (a registry kind) and its optional secret.
    pub source: ProviderSource,
    pub owner: String,
    pub created_at: u64,
    pub updated_at: u64,
}

/// `POST /api/v1/registries`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryInput {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub secret: Option<Secret>,
}

/// `PATCH /api/v1/registries/{id}`: `secret: null` removes the secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    pub secret: Option<Option<Secret>>,
}

impl Registry {
    pub fn is_registry_id(id: &str) -> bool {
        id.starts_with(REGISTRY_ID_PREFIX)
    }

    pub fn hook_url(&self) -> String {
        format!("/hooks/{}", self.id)
    }

    pub fn source_for(kind: String, secret: Option<Secret>) -> ProviderSource {
        ProviderSource { kind, secrets: secret.into_iter().collect(), ..Default::default() }
    }

    /// Checks the name, and that the kind is a container registry with valid secrets.
    pub fn validate(&self) -> Result<(), Error> {
        super::validate_name("name", &self.name)?;
        let provider = crate::sources::provider(&self.source.kind).filter(|p| p.emits_images());
        if provider.is_none() {
            let kinds: Vec<&str> = crate::sources::provider_names()
                .into_iter()
                .filter(|name| crate::sources::provider(name).is_some_and(|p| p.emits_images()))
                .collect();
            return Err(Error::bad_request(format!(
                "kind '{}' is not a container registry; use one of {}",
                self.source.kind,
                kinds.join(", ")
            )));
        }
        crate::sources::validate_provider(&self.source)
            .map_err(|err| Error::bad_request(format!("secret: {}", err.message())))
    }

    /// The registry as admins see it: whether a secret is set, never its value.
    pub fn public_view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "kind": self.source.kind,
            "secret_set": !self.source.secrets.is_empty(),
            "hook_url": self.hook_url(),
            "owner": self.owner,
            "created_at": crate::time::format_rfc3339(self.created_at),
            "updated_at": crate::time::format_rfc3339(self.updated_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(kind: &str, secret: Option<&str>) -> Registry {
        Registry {
            id: "reg_1".into(),
            name: "harbor".into(),
            source: Registry::source_for(kind.into(), secret.map(Secret::new)),
            owner: "alice".into(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn only_container_registries_may_be_registry_endpoints() {
        assert!(registry("harbor", None).validate().is_ok());
        assert!(registry("quay", Some("s")).validate().is_ok());
        let git = registry("github", Some("s")).validate().unwrap_err();
        assert!(git.message().contains("not a container registry") && git.message().contains("dockerhub"));
        assert!(registry("ghcr", None).validate().unwrap_err().message().contains("secret"), "ghcr is signed");
    }

    #[test]
    fn the_view_never_shows_the_secret() {
        let view = registry("harbor", Some("hunter2")).public_view();
        assert_eq!((view["secret_set"].clone(), view["hook_url"].clone()), (true.into(), "/hooks/reg_1".into()));
        assert!(!view.to_string().contains("hunter2"));
    }
}
