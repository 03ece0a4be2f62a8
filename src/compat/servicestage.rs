//! Huawei ServiceStage repository hooks: `POST/GET /v1/{project_id}/git/repos/{namespace}/{project}/hooks`
//! and `DELETE .../hooks/{hook_id}`. A hook becomes an `http` target for its `url` and a hook
//! trigger for repository `namespace/project` (`:` in `{project}` stands for `/`).

use crate::catalog::TriggerInput;
use crate::context::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use crate::model::{Origin, Secret, SourceFields, Trigger};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HookInput {
    secret: String,
    url: String,
    #[serde(rename = "type", default = "default_type")]
    kind: String,
}

fn default_type() -> String {
    "github".into()
}

fn repository(ctx: &Ctx) -> String {
    format!("{}/{}", ctx.param("namespace"), ctx.param("project").replace(':', "/"))
}

fn origin(ctx: &Ctx) -> Origin {
    Origin::ServiceStage { project_id: ctx.param("project_id").to_string() }
}

fn hook_view(trigger: &Trigger, callback_url: &str) -> Value {
    json!({
        "id": trigger.id,
        "type": trigger.source.as_ref().map(|s| s.kind()).unwrap_or(""),
        "callback_url": callback_url,
        "hook_url": trigger.hook_url(),
    })
}

pub async fn create(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let admin = ctx.admin()?;
    let input: HookInput = ctx.json_body()?;
    if input.secret.is_empty() {
        return Err(Error::bad_request("secret is missing"));
    }
    let repository = repository(ctx);
    crate::model::validate_name("repository", &repository)?;
    let source = SourceFields { kind: input.kind, secrets: vec![Secret::new(input.secret)], ..Default::default() };
    crate::sources::validate_source(source.clone())?;
    let catalog = app.catalog();
    // Each hook gets its own target, named after the hook's repository and a fresh suffix.
    let mut suffix = [0u8; 4];
    app.random.fill(&mut suffix);
    let target_name = format!("servicestage {repository} {}", hex::encode(suffix));
    let target = catalog.create_target(json!({"name": target_name, "kind": "http", "url": input.url})).await?;
    let trigger_input = TriggerInput {
        description: Some(format!("ServiceStage hook for {repository}")),
        source: Some(source),
        repository: Some(Some(repository)),
        origin: Some(origin(ctx)),
        ..TriggerInput::default()
    };
    match catalog.create_trigger(admin, &target, trigger_input).await {
        Ok((trigger, _)) => Ok(Response::json(200, &hook_view(&trigger, &input.url))),
        Err(error) => {
            // Leave nothing half-made behind.
            let _ = catalog.delete_target(&target).await;
            Err(error)
        }
    }
}

async fn own_hooks(app: &App, ctx: &Ctx) -> Result<Vec<(Trigger, String)>, Error> {
    let catalog = app.catalog();
    let origin = origin(ctx);
    let mut hooks = Vec::new();
    for trigger in catalog.triggers_for_repository(&repository(ctx)).await? {
        if trigger.origin.as_ref() != Some(&origin) {
            continue;
        }
        let callback_url = match catalog.find_target(&trigger.target).await {
            Ok(target) => target.public_view()["url"].as_str().unwrap_or("").to_string(),
            Err(_) => String::new(),
        };
        hooks.push((trigger, callback_url));
    }
    Ok(hooks)
}

pub async fn list(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let hooks: Vec<Value> = own_hooks(app, ctx).await?.iter().map(|(t, url)| hook_view(t, url)).collect();
    Ok(Response::json(200, &json!({"hooks": hooks})))
}

pub async fn delete(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let hook_id = ctx.param("hook_id");
    let (trigger, _) = own_hooks(app, ctx)
        .await?
        .into_iter()
        .find(|(trigger, _)| trigger.id == hook_id)
        .ok_or_else(|| Error::not_found(format!("no hook '{hook_id}' on this repository")))?;
    let catalog = app.catalog();
    catalog.delete_trigger(&trigger).await?;
    if let Ok(target) = catalog.find_target(&trigger.target).await {
        catalog.delete_target(&target).await?;
    }
    Ok(Response::empty(204))
}
