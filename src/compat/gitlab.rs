//! GitLab's pipeline-trigger API: token management under `/api/v4/projects/:id/triggers`, and
//! invocation by `trigger/pipeline`, its webhook form and the legacy v3 `trigger/builds`.
//! `:id` names a target by id or URL-encoded name.

use crate::auth::{Admin, TriggerToken};
use crate::catalog::TriggerInput;
use crate::context::{App, Ctx};
use crate::error::Error;
use crate::fire::{fire_by_token, TokenCall};
use crate::http::{utf8, Request, Response};
use crate::model::call::{validate_variable, MAX_INPUTS, MAX_INPUT_BYTES, MAX_VARIABLES};
use crate::model::{Target, Trigger};
use crate::time::format_rfc3339;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The trigger as GitLab shows it. The token is in full only in `fresh_token`, which exists only
/// in the answer to its creation (hookrelay keeps just the hash); otherwise its first 4 characters.
/// `last_used` comes from its newest delivery record (`Catalog::last_used`).
/// `viewer` is the admin asking: its owner sees the full token, as GitLab shows it.
pub fn trigger_entity(
    trigger: &Trigger,
    fresh_token: Option<&TriggerToken>,
    last_used: Option<u64>,
    viewer: &str,
) -> Value {
    let token = fresh_token.map(|t| t.expose().to_string()).unwrap_or_else(|| trigger.token_for(viewer));
    json!({
        "id": trigger.id,
        "token": token,
        "description": trigger.description,
        "created_at": format_rfc3339(trigger.created_at),
        "updated_at": format_rfc3339(trigger.updated_at),
        "last_used": last_used.map(format_rfc3339),
        "expires_at": trigger.expires_at.map(format_rfc3339),
        "owner": {"username": trigger.owner, "name": trigger.owner},
    })
}

/// The GitLab API level these routes answer as (`GET /api/v4/version`).
const GITLAB_VERSION: &str = "17.0.0";

/// `GET /api/v4/user`: the admin as GitLab describes a user, so that python-gitlab's `gl.auth()`
/// and the `gitlab` CLI, which ask for it first, work. The id is stable per admin name.
pub async fn current_user(_app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let admin = ctx.admin()?;
    let digest = crate::auth::sha256(&admin.name);
    let id = u32::from_be_bytes([digest[0] & 0x7f, digest[1], digest[2], digest[3]]);
    let web_url = format!("{}/{}", ctx.request.origin(), crate::targets::path_segment(&admin.name));
    let user = json!({"id": id, "username": admin.name, "name": admin.name, "state": "active", "web_url": web_url});
    Ok(Response::json(200, &user))
}

/// `GET /api/v4/version`: the GitLab API level, and hookrelay's own version as the revision.
pub async fn version(_app: &App, _ctx: &Ctx) -> Result<Response, Error> {
    let revision = concat!("hookrelay-", env!("CARGO_PKG_VERSION"));
    Ok(Response::json(200, &json!({"version": GITLAB_VERSION, "revision": revision})))
}

async fn project(app: &App, ctx: &Ctx) -> Result<Target, Error> {
    app.catalog().find_target(ctx.param("id")).await
}

/// A trigger of this project, or 404 (also when it belongs to another one).
async fn project_trigger(app: &App, ctx: &Ctx) -> Result<(Target, Trigger), Error> {
    let target = project(app, ctx).await?;
    let trigger = app.catalog().find_trigger(ctx.param("trigger_id")).await?;
    if trigger.target != target.id {
        return Err(Error::not_found("no such trigger in this project"));
    }
    Ok((target, trigger))
}

pub async fn list(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let target = project(app, ctx).await?;
    let catalog = app.catalog();
    let triggers = catalog.list_triggers(&target).await?;
    let page = Pagination::of(&ctx.request)?;
    let shown = page.slice(&triggers);
    // One ledger request for the page (all of one target), not one per trigger.
    let used = catalog.last_used_of(shown).await?;
    let viewer = &ctx.admin()?.name;
    let entities: Vec<_> =
        shown.iter().zip(used).map(|(trigger, used)| trigger_entity(trigger, None, used, viewer)).collect();
    let mut response = Response::json(200, &entities);
    response.headers.extend(page.headers(triggers.len(), &ctx.request));
    Ok(response)
}

/// GitLab's offset pagination: `page` (from 1) and `per_page` (20 by default, at most 100), and
/// the headers its clients follow (`X-Next-Page`, `Link`, ...).
struct Pagination {
    page: usize,
    per_page: usize,
}

impl Pagination {
    fn of(request: &Request) -> Result<Pagination, Error> {
        let number = |name: &str, default: usize| match request.query_field(name) {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(Error::bad_request(format!("{name} must be a positive whole number"))),
            },
        };
        Ok(Pagination { page: number("page", 1)?, per_page: number("per_page", 20)?.min(100) })
    }

    fn slice<'a, T>(&self, all: &'a [T]) -> &'a [T] {
        let start = (self.page - 1).saturating_mul(self.per_page).min(all.len());
        &all[start..(start + self.per_page).min(all.len())]
    }

    fn headers(&self, total: usize, request: &Request) -> Vec<(String, String)> {
        let pages = total.div_ceil(self.per_page).max(1);
        let next = (self.page < pages).then(|| self.page + 1);
        let prev = (self.page > 1).then(|| (self.page - 1).min(pages));
        let link = |page: usize, rel: &str| {
            format!("<{}{}?page={page}&per_page={}>; rel=\"{rel}\"", request.origin(), request.path, self.per_page)
        };
        let mut links: Vec<String> = Vec::new();
        links.extend(prev.map(|page| link(page, "prev")));
        links.extend(next.map(|page| link(page, "next")));
        links.push(link(1, "first"));
        links.push(link(pages, "last"));
        let shown = |page: Option<usize>| page.map(|p| p.to_string()).unwrap_or_default();
        vec![
            ("x-page".into(), self.page.to_string()),
            ("x-per-page".into(), self.per_page.to_string()),
            ("x-total".into(), total.to_string()),
            ("x-total-pages".into(), pages.to_string()),
            ("x-next-page".into(), shown(next)),
            ("x-prev-page".into(), shown(prev)),
            ("link".into(), links.join(", ")),
        ]
    }
}

pub async fn get(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let (_, trigger) = project_trigger(app, ctx).await?;
    Ok(Response::json(
        200,
        &trigger_entity(&trigger, None, app.catalog().last_used(&trigger).await?, &ctx.admin()?.name),
    ))
}

pub async fn create(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let admin: &Admin = ctx.admin()?;
    let target = project(app, ctx).await?;
    let input = management_input(&ctx.request)?;
    if input.description.as_deref().is_none_or(|d| d.trim().is_empty()) {
        return Err(Error::bad_request("description is missing"));
    }
    let (trigger, token) = app.catalog().create_trigger(admin, &target, input).await?;
    Ok(Response::json(201, &trigger_entity(&trigger, token.as_ref(), None, &ctx.admin()?.name)))
}

pub async fn update(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let (_, trigger) = project_trigger(app, ctx).await?;
    let input = management_input(&ctx.request)?;
    let trigger = app.catalog().update_trigger(trigger, input).await?;
    Ok(Response::json(
        200,
        &trigger_entity(&trigger, None, app.catalog().last_used(&trigger).await?, &ctx.admin()?.name),
    ))
}

pub async fn delete(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let (_, trigger) = project_trigger(app, ctx).await?;
    app.catalog().delete_trigger(&trigger).await?;
    Ok(Response::empty(204))
}

/// `description` (and `expires_at`) from a JSON body, a form, or the query string, as Grape reads them.
fn management_input(request: &Request) -> Result<TriggerInput, Error> {
    let mut fields: BTreeMap<String, String> = crate::sorting::map_of(request.query_pairs());
    if request.is_json() && !request.body.is_empty() {
        crate::http::check_json_depth(&request.body)?;
        let body: Value = serde_json::from_slice(&request.body)?;
        for key in ["description", "expires_at"] {
            match body.get(key) {
                Some(Value::String(text)) => {
                    fields.insert(key.into(), text.clone());
                }
                Some(Value::Null) | None => {}
                Some(_) => return Err(Error::bad_request(format!("{key} must be a string"))),
            }
        }
    } else {
        fields.extend(request.form_pairs()?);
    }
    Ok(TriggerInput {
        description: fields.remove("description"),
        expires_at: fields.remove("expires_at").map(Some),
        ..TriggerInput::default()
    })
}

/// `POST .../trigger/pipeline` (and v3 `trigger/builds`): token and ref from form, query or JSON.
pub async fn invoke(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let call = parse_invocation(&ctx.request, ctx.param("id"), None)?;
    fire_by_token(app, call).await
}

/// `POST .../ref/:ref/trigger/pipeline?token=`: the webhook form. The path's ref wins, and the
/// body is passed on so that the target sees it as the trigger payload.
pub async fn invoke_webhook(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let call = parse_invocation(&ctx.request, ctx.param("id"), Some(ctx.param("ref")))?;
    fire_by_token(app, call).await
}

/// The parameters of an invocation, merged as Rails does: query first, then the body.
#[derive(Default)]
struct InvocationParams {
    token: Option<String>,
    ref_name: Option<String>,
    variables: BTreeMap<String, String>,
    inputs: BTreeMap<String, Value>,
}

impl InvocationParams {
    fn absorb_pair(&mut self, key: String, value: String) -> Result<(), Error> {
        match key.as_str() {
            "token" => self.token = Some(value),
            "ref" => self.ref_name = Some(value),
            _ => {
                if let Some(name) = key.strip_prefix("variables[").and_then(|rest| rest.strip_suffix(']')) {
                    self.add_variable(name, value)?;
                } else if let Some(name) = key.strip_prefix("inputs[").and_then(|rest| rest.strip_suffix(']')) {
                    self.add_input(name, Value::String(value))?;
                }
            }
        }
        Ok(())
    }

    fn add_variable(&mut self, key: &str, value: String) -> Result<(), Error> {
        validate_variable(key, &value)?;
        self.variables.insert(key.to_string(), value);
        if self.variables.len() > MAX_VARIABLES {
            return Err(Error::bad_request(format!("variables: more than {MAX_VARIABLES} variables")));
        }
        Ok(())
    }

    /// A pipeline input: a name as a variable's, any JSON value as GitLab takes it (a form's are
    /// strings), bounded in count and size.
    fn add_input(&mut self, key: &str, value: Value) -> Result<(), Error> {
        validate_variable(key, "").map_err(|_| Error::bad_request(format!("inputs: '{key}' is not a valid name")))?;
        if value.to_string().len() > MAX_INPUT_BYTES {
            return Err(Error::bad_request(format!("inputs: {key} is larger than {MAX_INPUT_BYTES} bytes")));
        }
        self.inputs.insert(key.to_string(), value);
        if self.inputs.len() > MAX_INPUTS {
            return Err(Error::bad_request(format!("inputs: more than {MAX_INPUTS} inputs")));
        }
        Ok(())
    }

    /// `{"token","ref","variables":{},"inputs":{}}`; other fields (a webhook payload's) are skipped unparsed.
    fn absorb_json(&mut self, body: &[u8]) -> Result<(), Error> {
        #[derive(Deserialize)]
        struct JsonInvocation {
            token: Option<Value>,
            #[serde(rename = "ref")]
            ref_name: Option<Value>,
            variables: Option<Value>,
            inputs: Option<Value>,
        }
        let parsed: JsonInvocation = crate::sources::payload::parse_json(body)?;
        let text = |field: &str, value: Option<Value>| -> Result<Option<String>, Error> {
            match value {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text)),
                Some(_) => Err(Error::bad_request(format!("{field} must be a string"))),
            }
        };
        if let Some(token) = text("token", parsed.token)? {
            self.token = Some(token);
        }
        if let Some(ref_name) = text("ref", parsed.ref_name)? {
            self.ref_name = Some(ref_name);
        }
        match parsed.variables {
            None | Some(Value::Null) => {}
            Some(Value::Object(variables)) => {
                for (key, value) in variables {
                    let value = match value {
                        Value::String(text) => text,
                        Value::Number(_) | Value::Bool(_) => value.to_string(),
                        _ => return Err(Error::bad_request(format!("variables: {key} must be a string"))),
                    };
                    self.add_variable(&key, value)?;
                }
            }
            Some(_) => return Err(Error::bad_request("variables must be an object of strings")),
        }
        match parsed.inputs {
            None | Some(Value::Null) => {}
            Some(Value::Object(inputs)) => {
                for (key, value) in inputs {
                    self.add_input(&key, value)?;
                }
            }
            Some(_) => return Err(Error::bad_request("inputs must be an object")),
        }
        Ok(())
    }
}

fn parse_invocation(request: &Request, project: &str, path_ref: Option<&str>) -> Result<TokenCall, Error> {
    let mut params = InvocationParams::default();
    for (key, value) in request.query_pairs() {
        params.absorb_pair(key, value)?;
    }
    if request.is_json() {
        if !request.body.is_empty() {
            params.absorb_json(&request.body)?;
        }
    } else {
        for (key, value) in request.form_pairs()? {
            params.absorb_pair(key, value)?;
        }
    }
    let token = params.token.filter(|t| !t.is_empty()).ok_or_else(|| Error::bad_request("token is missing"))?;
    let ref_name = match path_ref {
        Some(path_ref) => path_ref.to_string(),
        None => params.ref_name.filter(|r| !r.is_empty()).ok_or_else(|| Error::bad_request("ref is missing"))?,
    };
    // The webhook form passes the body on as the trigger payload, less the token.
    let payload = match path_ref {
        Some(_) if !request.body.is_empty() => {
            utf8(&request.body)?;
            Some(crate::sources::payload::without_secrets(request, Some("token"), &[token.as_str()])?)
        }
        _ => None,
    };
    Ok(TokenCall {
        project: Some(project.to_string()),
        token: TriggerToken::from_presented(&token),
        ref_name,
        variables: params.variables,
        payload,
        containers: Vec::new(),
        idempotency_key: crate::fire::idempotency_key(request)?,
        inputs: params.inputs,
        hops: crate::loops::incoming(request),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(request: Request) -> Result<TokenCall, Error> {
        parse_invocation(&request, "9", None)
    }

    fn vars(call: &TokenCall) -> Vec<(&str, &str)> {
        call.variables.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn reads_an_urlencoded_form() {
        let request = Request::new("POST", "/").with_body(
            "application/x-www-form-urlencoded",
            "token=T&ref=main&variables%5BUPLOAD_TO_S3%5D=true&variables[B]=x+y",
        );
        let call = parse(request).unwrap();
        assert_eq!(call.token.expose(), "T");
        assert_eq!(call.ref_name, "main");
        assert_eq!(vars(&call), vec![("B", "x y"), ("UPLOAD_TO_S3", "true")]);
        assert_eq!(call.project.as_deref(), Some("9"));
        assert!(call.payload.is_none());
    }

    #[test]
    fn reads_a_multipart_form_as_curl_form_sends_it() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nT\r\n--b\r\nContent-Disposition: form-data; name=\"ref\"\r\n\r\nv1.0\r\n--b\r\nContent-Disposition: form-data; name=\"variables[X]\"\r\n\r\n1\r\n--b--\r\n";
        let call = parse(Request::new("POST", "/").with_body("multipart/form-data; boundary=b", body)).unwrap();
        assert_eq!((call.token.expose(), call.ref_name.as_str()), ("T", "v1.0"));
        assert_eq!(vars(&call), vec![("X", "1")]);
    }

    #[test]
    fn reads_the_query_string() {
        let call = parse(Request::new("POST", "/p?token=T&ref=master&variables[A]=1")).unwrap();
        assert_eq!((call.token.expose(), call.ref_name.as_str()), ("T", "master"));
        assert_eq!(vars(&call), vec![("A", "1")]);
    }

    #[test]
    fn reads_json_and_the_body_wins_over_the_query() {
        let request = Request::new("POST", "/p?ref=from-query&variables[Q]=q")
            .with_body("application/json", r#"{"token":"T","ref":"main","variables":{"A":"1","N":2,"B":true}}"#);
        let call = parse(request).unwrap();
        assert_eq!(call.ref_name, "main");
        assert_eq!(vars(&call), vec![("A", "1"), ("B", "true"), ("N", "2"), ("Q", "q")]);
    }

    #[test]
    fn webhook_form_takes_the_path_ref_and_keeps_the_payload() {
        let payload = r#"{"object_kind":"push","ref":"refs/heads/other"}"#;
        let request = Request::new("POST", "/p?token=T&variables[A]=1").with_body("application/json", payload);
        let call = parse_invocation(&request, "9", Some("release/1.0")).unwrap();
        assert_eq!(call.ref_name, "release/1.0");
        let kept = call.payload.unwrap();
        assert_eq!(kept.body, payload.as_bytes());
        assert_eq!(kept.content_type, "application/json");
    }

    #[test]
    fn the_webhook_payload_loses_the_token_wherever_it_was_read_and_however_encoded() {
        let webhook = |content_type: &str, body: &str| {
            let request = Request::new("POST", "/p?token=hrtt_0123456789").with_body(content_type, body);
            parse_invocation(&request, "9", Some("main")).unwrap().payload.unwrap()
        };
        let json = webhook(
            "application/json",
            r#"{"token":"\u0068rtt_0123456789","note":"was hrtt_0123456789","list":["hrtt_0123456789"]}"#,
        );
        assert_eq!(json.body, br#"{"list":["[redacted]"],"note":"was [redacted]"}"#);
        let multipart = "--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nhrtt_0123456789\r\n--b\r\nContent-Disposition: form-data; name=\"env\"\r\n\r\nprod\r\n--b--\r\n";
        let form = webhook("multipart/form-data; boundary=b", multipart);
        assert_eq!(
            (form.content_type.as_str(), form.body.as_slice()),
            ("application/x-www-form-urlencoded", &b"env=prod"[..])
        );
        let untouched = r#"{"b":1,"a":2}"#;
        assert_eq!(webhook("application/json", untouched).body, untouched.as_bytes(), "passed on byte for byte");
        assert_eq!(webhook("text/plain", "plain").body, b"plain");
    }

    #[test]
    fn missing_token_or_ref_is_a_clear_bad_request() {
        let no_token = parse(Request::new("POST", "/p?ref=main")).unwrap_err();
        assert_eq!(no_token.message(), "token is missing");
        let no_ref = parse(Request::new("POST", "/p?token=T")).unwrap_err();
        assert_eq!(no_ref.message(), "ref is missing");
    }

    #[test]
    fn bad_variables_and_bad_json_are_refused() {
        assert!(parse(Request::new("POST", "/p?token=T&ref=m&variables[a-b]=1")).is_err());
        let big = format!("/p?token=T&ref=m&variables[A]={}", "x".repeat(10 * 1024 + 1));
        assert!(parse(Request::new("POST", &big)).is_err());
        let nested =
            Request::new("POST", "/p").with_body("application/json", r#"{"token":"T","ref":"m","variables":{"A":{}}}"#);
        assert!(parse(nested).is_err());
        let truncated = Request::new("POST", "/p").with_body("application/json", r#"{"token":"T","#);
        assert!(parse(truncated).unwrap_err().message().starts_with("malformed JSON"));
        let wrong_type = Request::new("POST", "/p").with_body("application/json", r#"{"token":5,"ref":"m"}"#);
        assert_eq!(parse(wrong_type).unwrap_err().message(), "token must be a string");
    }

    #[test]
    fn too_many_variables_are_refused() {
        let query: String = (0..=MAX_VARIABLES).map(|i| format!("&variables[V{i}]=1")).collect();
        let err = parse(Request::new("POST", &format!("/p?token=T&ref=m{query}"))).unwrap_err();
        assert!(err.message().contains("more than 200"));
    }
}
