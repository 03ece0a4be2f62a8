//! `/api/v1/targets`: where triggers deliver. Credentials are write-only.

use crate::context::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use serde_json::{Map, Value};

pub async fn list(app: &App, _ctx: &Ctx) -> Result<Response, Error> {
    let targets = app.catalog().list_targets().await?;
    let views: Vec<Value> = targets.iter().map(|t| t.public_view()).collect();
    Ok(Response::json(200, &views))
}

pub async fn create(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let target = app.catalog().create_target(ctx.json_body()?).await?;
    Ok(Response::json(201, &target.public_view()))
}

pub async fn get(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let target = app.catalog().find_target(ctx.param("id")).await?;
    Ok(Response::json(200, &target.public_view()))
}

pub async fn update(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let patch: Map<String, Value> = ctx.json_body()?;
    let catalog = app.catalog();
    let target = catalog.find_target(ctx.param("id")).await?;
    let (target, dropped) = catalog.update_target(target, patch).await?;
    let mut view = target.public_view();
    // The credentials that a move to another origin dropped: they must be supplied again.
    view["credentials_dropped"] = Value::from(dropped);
    Ok(Response::json(200, &view))
}

pub async fn delete(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let catalog = app.catalog();
    let target = catalog.find_target(ctx.param("id")).await?;
    catalog.delete_target(&target).await?;
    Ok(Response::empty(204))
}
