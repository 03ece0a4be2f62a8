//! `/api/v1/registries`: webhook endpoints for container registries. Each answers at its
//! `hook_url` and fans an image push out to the image triggers of the pushed repository.

use crate::context::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use crate::model::registry::{RegistryInput, RegistryPatch};
use serde_json::Value;

pub async fn list(app: &App, _ctx: &Ctx) -> Result<Response, Error> {
    let registries = app.catalog().list_registries().await?;
    let views: Vec<Value> = registries.iter().map(|r| r.public_view()).collect();
    Ok(Response::json(200, &views))
}

pub async fn create(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let input: RegistryInput = ctx.json_body()?;
    let registry = app.catalog().create_registry(ctx.admin()?, input).await?;
    Ok(Response::json(201, &registry.public_view()))
}

pub async fn get(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let registry = app.catalog().find_registry(ctx.param("id")).await?;
    Ok(Response::json(200, &registry.public_view()))
}

pub async fn update(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let patch: RegistryPatch = ctx.json_body()?;
    let catalog = app.catalog();
    let registry = catalog.find_registry(ctx.param("id")).await?;
    let registry = catalog.update_registry(registry, patch).await?;
    Ok(Response::json(200, &registry.public_view()))
}

pub async fn delete(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let catalog = app.catalog();
    let registry = catalog.find_registry(ctx.param("id")).await?;
    catalog.delete_registry(&registry).await?;
    Ok(Response::empty(204))
}
