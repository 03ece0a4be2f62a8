//! `/api/v1/triggers`: who may fire a target. A token trigger's token is shown in full once, when
//! created; a hook trigger's secrets are never shown.

use crate::auth::TriggerToken;
use crate::catalog::TriggerInput;
use crate::context::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use crate::model::{Trigger, TriggerKind};
use crate::time::format_rfc3339;
use serde_json::{json, Value};

/// The trigger as the native API shows it; `token` is in full only right after creation.
/// `last_used` comes from its newest delivery record (`Catalog::last_used`).
/// `viewer` is the admin asking: the owner sees the full token (`Trigger::token_for`).
pub fn trigger_view(
    trigger: &Trigger,
    fresh_token: Option<&TriggerToken>,
    last_used: Option<u64>,
    viewer: &str,
) -> Value {
    let mut view = json!({
        "id": trigger.id,
        "kind": crate::model::wire_name(&trigger.kind()),
        "enabled": trigger.enabled,
        "order": trigger.order,
        "target": trigger.target,
        "description": trigger.description,
        "owner": trigger.owner,
        "created_at": format_rfc3339(trigger.created_at),
        "updated_at": format_rfc3339(trigger.updated_at),
        "last_used": last_used.map(format_rfc3339),
        "expires_at": trigger.expires_at.map(format_rfc3339),
    });
    let Value::Object(fields) = &mut view else { return view };
    if let Some(source) = &trigger.source {
        fields.insert("source".into(), source.public_view());
    }
    if let Some(hook_url) = trigger.hook_url() {
        fields.insert("hook_url".into(), hook_url.into());
    }
    if trigger.kind() == TriggerKind::Token {
        let token = fresh_token.map(|t| t.expose().to_string()).unwrap_or_else(|| trigger.token_for(viewer));
        fields.insert("token".into(), token.into());
        fields.insert("refs".into(), json!(trigger.refs));
    } else if let Ok(Value::Object(filter)) = serde_json::to_value(&trigger.filter) {
        fields.extend(filter);
    }
    if let Some(notify) = &trigger.notify {
        fields.insert("notify".into(), notify.clone().into());
        fields.insert("notify_on".into(), json!(trigger.notify_on));
    }
    if let Some(pinned_ref) = &trigger.pinned_ref {
        fields.insert("ref".into(), pinned_ref.clone().into());
    }
    if let Some(workload) = &trigger.workload {
        fields.insert("workload".into(), serde_json::to_value(workload).unwrap_or_default());
    }
    if !trigger.variables.is_empty() {
        fields.insert("variables".into(), json!(trigger.variables));
    }
    view
}

/// A page of the triggers: `?limit=` (1 to 20, default 20) of at most 10 targets, after
/// `?cursor=` (see `Catalog::trigger_page`), `?target=` one target's. Their `last_used` costs one
/// ledger request per target on the page.
pub async fn list(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let catalog = app.catalog();
    let target_filter = ctx.request.query_field("target");
    let target = match target_filter {
        Some(id_or_name) => Some(catalog.find_target(&id_or_name).await?),
        None => None,
    };
    let (limit, cursor) = super::page_params_upto(ctx, crate::catalog::PAGE_TRIGGERS)?;
    let (triggers, cursor) = catalog.trigger_page(target.as_ref(), cursor.as_deref(), limit).await?;
    let used = catalog.last_used_of(&triggers).await?;
    let viewer = &ctx.admin()?.name;
    let views: Vec<Value> =
        triggers.iter().zip(used).map(|(trigger, used)| trigger_view(trigger, None, used, viewer)).collect();
    Ok(Response::json(200, &json!({"triggers": views, "cursor": cursor})))
}

pub async fn create(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let admin = ctx.admin()?;
    let input: TriggerInput = ctx.json_body()?;
    let target_name = input.target.clone().ok_or_else(|| Error::bad_request("target is missing"))?;
    let catalog = app.catalog();
    let target = catalog.find_target(&target_name).await.map_err(|err| match err {
        Error::NotFound(_) => Error::bad_request(format!("target '{target_name}' does not exist")),
        other => other,
    })?;
    let (trigger, token) = catalog.create_trigger(admin, &target, TriggerInput { target: None, ..input }).await?;
    if trigger.kind() == TriggerKind::Schedule {
        crate::schedules::arm(app, &trigger).await?;
    }
    Ok(Response::json(201, &trigger_view(&trigger, token.as_ref(), None, &admin.name)))
}

pub async fn get(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let trigger = app.catalog().find_trigger(ctx.param("id")).await?;
    Ok(Response::json(200, &trigger_view(&trigger, None, app.catalog().last_used(&trigger).await?, &ctx.admin()?.name)))
}

/// Changes fields; a `source` in the body replaces the hook's source (how secrets are rotated).
pub async fn update(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let input: TriggerInput = ctx.json_body()?;
    let catalog = app.catalog();
    let trigger = catalog.find_trigger(ctx.param("id")).await?;
    let trigger = catalog.update_trigger(trigger, input).await?;
    if trigger.kind() == TriggerKind::Schedule {
        // Its cron expression may have changed.
        crate::schedules::arm(app, &trigger).await?;
    }
    Ok(Response::json(200, &trigger_view(&trigger, None, app.catalog().last_used(&trigger).await?, &ctx.admin()?.name)))
}

pub async fn delete(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let catalog = app.catalog();
    let trigger = catalog.find_trigger(ctx.param("id")).await?;
    catalog.delete_trigger(&trigger).await?;
    crate::schedules::disarm(app, &trigger).await?;
    Ok(Response::empty(204))
}
