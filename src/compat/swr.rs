//! Huawei SWR image triggers: `/v2/manage/namespaces/{namespace}/repos/{repository}/triggers[/{name}]`
//! (`$` in `{repository}` stands for `/`). An SWR trigger is an image trigger on the repository
//! `namespace/repository` whose target is the `kubernetes` target that `cluster_id` or
//! `cluster_name` names, and whose workload is set-image on `{cluster_ns}/{application}`.
//! Its `trigger_history` is read from the trigger's delivery records.

use crate::catalog::TriggerInput;
use crate::context::{App, Ctx};
use crate::error::Error;
use crate::filters::TagConditionType;
use crate::http::Response;
use crate::model::origin::{Origin, SwrMode};
use crate::model::workload::{WorkloadAction, WorkloadKind};
use crate::model::{Delivery, DeliveryState, Target, Trigger, TriggerKind, Workload};
use crate::time::format_rfc3339;
use serde_json::{json, Map, Value};

/// How many firings `trigger_history` shows, newest first.
const HISTORY_LENGTH: usize = 20;

fn repository(ctx: &Ctx) -> String {
    format!("{}/{}", ctx.param("namespace"), ctx.param("repository").replace('$', "/"))
}

/// A string field of the body; the error names it.
fn text<'v>(body: &'v Map<String, Value>, field: &str, required: bool) -> Result<Option<&'v str>, Error> {
    match body.get(field) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(Error::bad_request(format!("{field} is missing"))),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(Error::bad_request(format!("{field} must be a string"))),
    }
}

/// One of `allowed`, or a 400 that names the field and the choices.
fn one_of<'a>(
    body: &Map<String, Value>,
    field: &str,
    allowed: &[&'a str],
    default: Option<&'a str>,
) -> Result<&'a str, Error> {
    let value = text(body, field, default.is_none())?;
    let Some(value) = value else { return Ok(default.unwrap_or_default()) };
    allowed
        .iter()
        .find(|choice| **choice == value)
        .copied()
        .ok_or_else(|| Error::bad_request(format!("{field} must be one of {}", allowed.join(", "))))
}

fn enable(body: &Map<String, Value>) -> Result<bool, Error> {
    Ok(one_of(body, "enable", &["true", "false"], None)? == "true")
}

/// The cluster (a `kubernetes` target) that `cluster_id`, else `cluster_name`, names.
async fn cluster(app: &App, body: &Map<String, Value>) -> Result<Target, Error> {
    match (text(body, "cluster_id", false)?, text(body, "cluster_name", false)?) {
        (Some(id), _) if !id.is_empty() => super::cluster(app, "cluster_id", id).await,
        (_, Some(name)) if !name.is_empty() => super::cluster(app, "cluster_name", name).await,
        _ => Err(Error::bad_request("cluster_id or cluster_name is missing")),
    }
}

/// The trigger the body describes, as the catalog takes it.
fn trigger_input(body: &Map<String, Value>, repository: String) -> Result<TriggerInput, Error> {
    one_of(body, "action", &["update"], None)?;
    let app_type = one_of(body, "app_type", &["deployments", "statefulsets"], None)?;
    let mode =
        if one_of(body, "trigger_mode", &["cce", "cci"], Some("cce"))? == "cci" { SwrMode::Cci } else { SwrMode::Cce };
    let trigger_type = match one_of(body, "trigger_type", &["all", "tag", "regular"], None)? {
        "all" => TagConditionType::All,
        "tag" => TagConditionType::Tag,
        _ => TagConditionType::Regular,
    };
    let name = text(body, "name", true)?.unwrap_or_default();
    crate::model::validate_path_name("name", name)?;
    let workload = Workload {
        namespace: text(body, "cluster_ns", true)?.unwrap_or_default().to_string(),
        kind: if app_type == "statefulsets" { WorkloadKind::Statefulsets } else { WorkloadKind::Deployments },
        name: text(body, "application", true)?.unwrap_or_default().to_string(),
        container: text(body, "container", false)?.filter(|c| !c.is_empty()).map(str::to_string),
        action: WorkloadAction::SetImage,
        image_repository: None,
    };
    workload.validate_as(["cluster_ns", "application", "container"])?;
    Ok(TriggerInput {
        kind: Some(TriggerKind::Image),
        description: Some(name.to_string()),
        repository: Some(Some(repository)),
        trigger_type: Some(Some(trigger_type)),
        condition: Some(Some(text(body, "condition", true)?.unwrap_or_default().to_string())),
        workload: Some(Some(workload)),
        enabled: Some(enable(body)?),
        origin: Some(Origin::Swr { mode }),
        ..TriggerInput::default()
    })
}

/// The SWR triggers of the path's repository, with their clusters.
async fn own_triggers(app: &App, ctx: &Ctx) -> Result<Vec<(Trigger, Option<Target>)>, Error> {
    let catalog = app.catalog();
    let mut triggers = Vec::new();
    for trigger in catalog.image_triggers(&repository(ctx)).await? {
        if matches!(trigger.origin, Some(Origin::Swr { .. })) {
            let target = catalog.find_target(&trigger.target).await.ok();
            triggers.push((trigger, target));
        }
    }
    Ok(triggers)
}

async fn own_trigger(app: &App, ctx: &Ctx) -> Result<(Trigger, Option<Target>), Error> {
    let name = ctx.param("trigger");
    own_triggers(app, ctx)
        .await?
        .into_iter()
        .find(|(trigger, _)| trigger.description == name)
        .ok_or_else(|| Error::not_found(format!("no trigger '{name}' on repository {}", repository(ctx))))
}

/// The fields SWR shows for a trigger, and that every history entry repeats.
fn trigger_fields(trigger: &Trigger, cluster: Option<&Target>) -> Map<String, Value> {
    let workload = trigger.workload.clone().unwrap_or(Workload {
        namespace: String::new(),
        kind: WorkloadKind::Deployments,
        name: String::new(),
        container: None,
        action: WorkloadAction::SetImage,
        image_repository: None,
    });
    let view = json!({
        "action": "update",
        "app_type": crate::model::wire_name(&workload.kind),
        "application": workload.name,
        "cluster_id": cluster.map(|c| c.id.as_str()).unwrap_or(""),
        "cluster_name": cluster.map(|c| c.name.as_str()).unwrap_or(""),
        "cluster_ns": workload.namespace,
        "condition": trigger.filter.condition.clone().unwrap_or_default(),
        "container": workload.container.unwrap_or_default(),
    });
    view.as_object().cloned().unwrap_or_default()
}

fn trigger_view(trigger: &Trigger, cluster: Option<&Target>) -> Map<String, Value> {
    let mut view = trigger_fields(trigger, cluster);
    let trigger_type = trigger.filter.trigger_type.map(|t| crate::model::wire_name(&t)).unwrap_or_default();
    let mode = match trigger.origin {
        Some(Origin::Swr { mode }) => mode,
        _ => SwrMode::Cce,
    };
    view.insert("enable".into(), trigger.enabled.to_string().into());
    view.insert("name".into(), trigger.description.clone().into());
    view.insert("trigger_mode".into(), crate::model::wire_name(&mode).into());
    view.insert("trigger_type".into(), trigger_type.into());
    view
}

fn history_entry(trigger: &Trigger, cluster: Option<&Target>, delivery: &Delivery) -> Value {
    let mut entry = trigger_fields(trigger, cluster);
    let result = match delivery.state {
        DeliveryState::Delivered => "success",
        DeliveryState::Pending => "running",
        DeliveryState::Failed | DeliveryState::Dead => "failed",
        // Not an error: a newer push for the same workload went out instead.
        DeliveryState::Superseded => "superseded",
    };
    let detail = match &delivery.superseded_by {
        Some(newer) => format!("superseded by delivery {newer}, a newer push for the same workload"),
        None => delivery.attempts.last().map(|attempt| attempt.excerpt.clone()).unwrap_or_default(),
    };
    let tag = delivery.call.image.as_ref().map(|image| image.tag.clone()).unwrap_or_default();
    entry.insert("created_at".into(), format_rfc3339(delivery.at).into());
    entry.insert("creator_name".into(), trigger.owner.clone().into());
    entry.insert("detail".into(), detail.into());
    entry.insert("result".into(), result.into());
    entry.insert("tag".into(), tag.into());
    Value::Object(entry)
}

pub async fn create(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let admin = ctx.admin()?;
    let body: Map<String, Value> = ctx.json_body()?;
    let input = trigger_input(&body, repository(ctx))?;
    let name = input.description.clone().unwrap_or_default();
    let target = cluster(app, &body).await?;
    if own_triggers(app, ctx).await?.iter().any(|(trigger, _)| trigger.description == name) {
        return Err(Error::Conflict(format!("name: a trigger named '{name}' exists on this repository")));
    }
    app.catalog().create_trigger(admin, &target, input).await?;
    Ok(Response::json(201, &json!({})))
}

pub async fn list(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let views: Vec<Value> = own_triggers(app, ctx)
        .await?
        .iter()
        .map(|(t, cluster)| Value::Object(trigger_view(t, cluster.as_ref())))
        .collect();
    Ok(Response::json(200, &views))
}

pub async fn get(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let (trigger, cluster) = own_trigger(app, ctx).await?;
    let history: Vec<Value> = app
        .catalog()
        .deliveries(&trigger, None, None, HISTORY_LENGTH)
        .await?
        .0
        .iter()
        .map(|delivery| history_entry(&trigger, cluster.as_ref(), delivery))
        .collect();
    let mut view = trigger_view(&trigger, cluster.as_ref());
    view.insert("created_at".into(), format_rfc3339(trigger.created_at).into());
    view.insert("creator_name".into(), trigger.owner.clone().into());
    view.insert("trigger_history".into(), history.into());
    Ok(Response::json(200, &view))
}

/// Enables or disables it: `{"enable": "true" | "false"}`.
pub async fn update(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let body: Map<String, Value> = ctx.json_body()?;
    let enabled = enable(&body)?;
    let (trigger, _) = own_trigger(app, ctx).await?;
    let input = TriggerInput { enabled: Some(enabled), ..TriggerInput::default() };
    app.catalog().update_trigger(trigger, input).await?;
    Ok(Response::json(201, &json!({})))
}

pub async fn delete(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let (trigger, _) = own_trigger(app, ctx).await?;
    app.catalog().delete_trigger(&trigger).await?;
    Ok(Response::empty(204))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn seed_example() -> Value {
        // The request example of the SWR API reference (the seed), with a valid application name.
        json!({
            "action": "update", "app_type": "deployments", "application": "adsfa",
            "cluster_id": "5b28c12f-dc10-11e9-97b3-0255ac1001b5", "cluster_name": "test",
            "cluster_ns": "default", "condition": ".*", "container": "", "enable": "true",
            "name": "test", "trigger_mode": "cce", "trigger_type": "all"
        })
    }

    #[test]
    fn the_seed_example_becomes_an_enabled_set_image_trigger() {
        let input = trigger_input(&body(seed_example()), "group/busybox".into()).unwrap();
        let workload = input.workload.clone().flatten().unwrap();
        assert_eq!(
            (workload.namespace.as_str(), workload.name.as_str(), workload.container),
            ("default", "adsfa", None)
        );
        assert_eq!(workload.action, WorkloadAction::SetImage);
        assert_eq!(input.enabled, Some(true));
        assert_eq!(input.repository, Some(Some("group/busybox".to_string())));
        assert_eq!(input.origin.map(String::from).as_deref(), Some("swr:cce"));
    }

    #[test]
    fn each_invalid_field_is_named() {
        for (field, bad) in [
            ("action", json!("delete")),
            ("app_type", json!("daemonsets")),
            ("enable", json!(true)),
            ("enable", json!("yes")),
            ("trigger_type", json!("some")),
            ("trigger_mode", json!("ecs")),
            ("application", json!("Bad_Name")),
            ("cluster_ns", json!(null)),
            ("name", json!("")),
            ("container", json!(7)),
        ] {
            let mut input = body(seed_example());
            input.insert(field.into(), bad.clone());
            let err = trigger_input(&input, "g/r".into()).err().unwrap_or_else(|| panic!("{field}={bad} accepted"));
            assert!(err.message().starts_with(field), "{field}={bad}: {}", err.message());
        }
    }
}
