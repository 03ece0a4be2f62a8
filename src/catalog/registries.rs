//! Registry endpoints in the catalog: create, find, list, update, delete. No `worker` import;
//! never logs a secret.

use super::Catalog;
use crate::auth::Admin;
use crate::error::Error;
use crate::model::registry::{RegistryInput, RegistryPatch, REGISTRY_ID_PREFIX};
use crate::model::Registry;
use crate::store::keys;

impl<'a> Catalog<'a> {
    pub async fn create_registry(&self, owner: &Admin, input: RegistryInput) -> Result<Registry, Error> {
        let now = self.clock.now_ms();
        let registry = Registry {
            id: format!("{REGISTRY_ID_PREFIX}{}", self.new_id()),
            name: input.name,
            source: Registry::source_for(input.kind, input.secret),
            owner: owner.name.clone(),
            created_at: now,
            updated_at: now,
        };
        registry.validate()?;
        self.store.put_json(&keys::registry(&registry.id), &registry).await?;
        Ok(registry)
    }

    pub async fn find_registry(&self, id: &str) -> Result<Registry, Error> {
        let missing = || Error::not_found(format!("no registry '{id}'"));
        if !Registry::is_registry_id(id) || id.contains(':') {
            return Err(missing());
        }
        self.store.get_json(&keys::registry(id)).await?.ok_or_else(missing)
    }

    pub async fn list_registries(&self) -> Result<Vec<Registry>, Error> {
        let mut registries = Vec::new();
        for key in self.store.list_all(keys::REGISTRY_PREFIX).await? {
            if let Some(registry) = self.store.get_json::<Registry>(&key).await? {
                registries.push(registry);
            }
        }
        crate::sorting::sort_by(&mut registries, |a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(registries)
    }

    /// Renames it or replaces its secret (`null` removes it); the hook URL stays.
    pub async fn update_registry(&self, mut registry: Registry, patch: RegistryPatch) -> Result<Registry, Error> {
        if let Some(name) = patch.name {
            registry.name = name;
        }
        if let Some(secret) = patch.secret {
            registry.source.secrets = secret.into_iter().collect();
        }
        registry.validate()?;
        registry.updated_at = self.clock.now_ms();
        self.store.put_json(&keys::registry(&registry.id), &registry).await?;
        Ok(registry)
    }

    /// Its URL stops answering; the image triggers stay, for other registries to feed.
    pub async fn delete_registry(&self, registry: &Registry) -> Result<(), Error> {
        self.store.delete(&keys::registry(&registry.id)).await
    }
}
