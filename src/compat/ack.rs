//! Alibaba Cloud ACK application triggers (redeploy). An ACK trigger is a token trigger on the
//! `kubernetes` target that `cluster_id` names, acting on `project_id` = `{namespace}/{name}`:
//! a `deployment` trigger restarts the Deployment; an `application` trigger sets the images that
//! its caller sends, then restarts. Invoked with `GET|POST /hook/trigger?token=...`.
//!
//! Deviations: tokens are stored only as hashes, so the full token is in the create answer
//! (an extra `token` field) and describe shows its first characters. An application trigger sets
//! a caller's image only on its own `container` and only from its own `image_repository` (two
//! extra create fields); without them it takes no image (`Trigger::admit_caller_images`).

use crate::auth::TriggerToken;
use crate::catalog::TriggerInput;
use crate::context::{App, Ctx};
use crate::error::Error;
use crate::fire::{fire_by_token, TokenCall};
use crate::http::Response;
use crate::model::call::ContainerImage;
use crate::model::image_reference::ImageReference;
use crate::model::origin::{AckTriggerType, Origin};
use crate::model::workload::{validate_k8s_name, WorkloadAction, WorkloadKind, WorkloadManifest};
use crate::model::{from_wire_name, wire_name};
use crate::model::{Target, Trigger, TriggerKind, Workload};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct CreateInput {
    #[serde(default)]
    cluster_id: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(rename = "type", default)]
    trigger_type: Option<String>,
    /// hookrelay's: the container whose image an application trigger's caller may set.
    #[serde(default)]
    container: Option<String>,
    /// hookrelay's: the repository (`registry/namespace/name`) those images must come from.
    #[serde(default)]
    image_repository: Option<String>,
}

/// `namespace/name`, each a Kubernetes name.
fn project(project_id: &str) -> Result<(String, String), Error> {
    let invalid = || Error::bad_request("project_id must be {namespace}/{name}, such as default/test-app");
    let (namespace, name) = project_id.split_once('/').ok_or_else(invalid)?;
    validate_k8s_name("project_id", namespace).map_err(|_| invalid())?;
    validate_k8s_name("project_id", name).map_err(|_| invalid())?;
    Ok((namespace.to_string(), name.to_string()))
}

async fn cluster(app: &App, cluster_id: &str) -> Result<Target, Error> {
    super::cluster(app, "cluster_id", cluster_id).await
}

fn is_ack(trigger: &Trigger) -> bool {
    matches!(trigger.origin, Some(Origin::Ack { .. }))
}

fn trigger_type(trigger: &Trigger) -> String {
    match trigger.origin {
        Some(Origin::Ack { trigger_type }) => wire_name(&trigger_type),
        _ => wire_name(&AckTriggerType::Deployment),
    }
}

/// `viewer` is the admin asking: its owner sees the full token, as ACK's describe shows it (the
/// SDK's create answer has no token field, so describe is how an SDK user gets one).
fn trigger_view(trigger: &Trigger, cluster_id: &str, viewer: &str) -> Value {
    let (namespace, name) =
        trigger.workload.as_ref().map(|w| (w.namespace.as_str(), w.name.as_str())).unwrap_or_default();
    let mut view = json!({
        "id": trigger.id,
        "name": name,
        "cluster_id": cluster_id,
        "project_id": format!("{namespace}/{name}"),
        "type": trigger_type(trigger),
        "action": "redeploy",
        "token": trigger.token_for(viewer),
    });
    let workload = trigger.workload.as_ref();
    for (field, value) in [
        ("container", workload.and_then(|w| w.container.as_ref())),
        ("image_repository", workload.and_then(|w| w.image_repository.as_ref())),
    ] {
        if let Some(value) = value {
            view[field] = value.clone().into();
        }
    }
    view
}

/// `POST /triggers` and `POST /clusters/{cluster_id}/triggers`.
pub async fn create(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let admin = ctx.admin()?;
    let input: CreateInput = ctx.json_body()?;
    let path_cluster = ctx.param("cluster_id");
    let body_cluster = input.cluster_id.unwrap_or_default();
    if !path_cluster.is_empty() && !body_cluster.is_empty() && path_cluster != body_cluster {
        return Err(Error::bad_request("cluster_id in the body differs from the path's"));
    }
    let cluster_id = if path_cluster.is_empty() { body_cluster } else { path_cluster.to_string() };
    let (namespace, name) = project(input.project_id.as_deref().unwrap_or_default())?;
    if input.action.as_deref() != Some("redeploy") {
        return Err(Error::bad_request("action must be redeploy"));
    }
    let trigger_type = input.trigger_type.unwrap_or_else(|| "deployment".into());
    let ack_type: AckTriggerType =
        from_wire_name(&trigger_type).ok_or_else(|| Error::bad_request("type must be deployment or application"))?;
    let application = ack_type == AckTriggerType::Application;
    if !application && (input.container.is_some() || input.image_repository.is_some()) {
        return Err(Error::bad_request("container and image_repository are for application triggers"));
    }
    let target = cluster(app, &cluster_id).await?;
    let action = if application { WorkloadAction::SetImage } else { WorkloadAction::Restart };
    let workload = Workload {
        namespace,
        kind: WorkloadKind::Deployments,
        name,
        container: input.container,
        action,
        image_repository: input.image_repository,
    };
    workload.validate_as(["project_id", "project_id", "container"])?;
    let trigger_input = TriggerInput {
        kind: Some(TriggerKind::Token),
        description: Some(format!("ACK {trigger_type} trigger for {}/{}", workload.namespace, workload.name)),
        workload: Some(Some(workload)),
        origin: Some(Origin::Ack { trigger_type: ack_type }),
        ..TriggerInput::default()
    };
    let (trigger, token) = app.catalog().create_trigger(admin, &target, trigger_input).await?;
    let mut view = trigger_view(&trigger, &cluster_id, &ctx.admin()?.name);
    view["token"] = token.map(|t| t.expose().to_string()).unwrap_or_default().into();
    if let Value::Object(fields) = &mut view {
        fields.remove("name");
    }
    Ok(Response::json(200, &view))
}

/// `GET /clusters/{cluster_id}/triggers?Namespace=&Name=&Type=&action=` and `GET /triggers/{cluster_id}`.
pub async fn describe(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let query = ctx.request.query_pairs();
    let field = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let (namespace, name) = (field("Namespace"), field("Name"));
    for (label, value) in [("Namespace", namespace), ("Name", name)] {
        if value.is_empty() {
            return Err(Error::bad_request(format!("{label} is missing")));
        }
    }
    if !matches!(field("action"), "" | "redeploy") {
        return Err(Error::bad_request("action must be redeploy"));
    }
    let cluster_id = ctx.param("cluster_id");
    let target = cluster(app, cluster_id).await?;
    let wanted_type = field("Type");
    let viewer = ctx.admin()?.name.clone();
    let views: Vec<Value> = app
        .catalog()
        .list_triggers(&target)
        .await?
        .iter()
        .filter(|t| is_ack(t))
        .filter(|t| t.workload.as_ref().is_some_and(|w| w.namespace == namespace && w.name == name))
        .filter(|t| wanted_type.is_empty() || trigger_type(t) == wanted_type)
        .map(|t| trigger_view(t, cluster_id, &viewer))
        .collect();
    Ok(Response::json(200, &views))
}

/// `DELETE /clusters/{cluster_id}/triggers/{id}` and `DELETE /triggers/revoke/{id}`.
pub async fn delete(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let catalog = app.catalog();
    let id = ctx.param("id");
    let trigger = catalog.find_trigger(id).await?;
    let cluster_id = ctx.param("cluster_id");
    let in_cluster = cluster_id.is_empty() || cluster(app, cluster_id).await?.id == trigger.target;
    if !in_cluster || !is_ack(&trigger) {
        return Err(Error::not_found(format!("no ACK trigger '{id}'")));
    }
    catalog.delete_trigger(&trigger).await?;
    Ok(Response::json(200, &json!({})))
}

/// The body an application trigger's caller sends: the containers' new images.
#[derive(Deserialize)]
struct ApplicationBody {
    resource: Resource,
}
#[derive(Deserialize)]
struct Resource {
    deployment: WorkloadManifest,
}
fn containers(body: &[u8]) -> Result<Vec<ContainerImage>, Error> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    crate::http::check_json_depth(body)?;
    let parsed: ApplicationBody = serde_json::from_slice(body).map_err(|err| {
        let why = crate::error::json_error(&err);
        Error::bad_request(format!("the body must be resource.deployment.spec.template.spec.containers: {why}"))
    })?;
    let mut containers = Vec::new();
    for container in parsed.resource.deployment.into_containers() {
        validate_k8s_name("containers[].name", &container.name)?;
        // Syntax only, before any KV read; what the trigger admits is decided once it is known.
        ImageReference::parse("containers[].image", &container.image)?;
        containers.push(ContainerImage { name: container.name, image: container.image });
    }
    Ok(containers)
}

/// `GET|POST /hook/trigger?token=...`: no admin token; an unknown token answers 404.
pub async fn invoke(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let token = ctx.request.query_field("token");
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| Error::bad_request("token is missing"))?;
    let call = TokenCall {
        project: None,
        token: TriggerToken::from_presented(&token),
        ref_name: String::new(),
        variables: Default::default(),
        payload: None,
        containers: containers(&ctx.request.body)?,
        idempotency_key: crate::fire::idempotency_key(&ctx.request)?,
        inputs: std::collections::BTreeMap::new(),
        hops: crate::loops::incoming(&ctx.request),
    };
    fire_by_token(app, call).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_id_is_namespace_slash_name() {
        assert_eq!(project("default/test-app").unwrap(), ("default".into(), "test-app".into()));
        for bad in ["redeploy", "default/", "/app", "a/b/c", "Default/App"] {
            assert!(project(bad).unwrap_err().message().contains("project_id"), "{bad}");
        }
    }

    #[test]
    fn the_model_knows_application_triggers_by_this_modules_origin() {
        let origin = Origin::Ack { trigger_type: from_wire_name("application").unwrap() };
        assert_eq!(origin, Origin::Ack { trigger_type: AckTriggerType::Application });
        assert_eq!(String::from(origin), "ack:application");
    }

    #[test]
    fn the_application_body_names_containers_and_images() {
        let body = br#"{"resource":{"deployment":{"metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"app","image":"reg.example/ns/app:v2"}]}}}}}}"#;
        assert_eq!(
            containers(body).unwrap(),
            vec![ContainerImage { name: "app".into(), image: "reg.example/ns/app:v2".into() }]
        );
        assert!(containers(b"").unwrap().is_empty(), "a deployment trigger's call has no body");
        assert!(containers(br#"{"resource":{}}"#).unwrap_err().message().contains("containers"));
    }
}
