//! The `gitlab` target: GitLab's pipeline trigger API (`POST /projects/:id/trigger/pipeline`).
//! A call with a payload uses GitLab's webhook form, so the pipeline sees it as `TRIGGER_PAYLOAD`.

use super::{
    is_dot_segment, join_url, query_secrets, shown_url, string_or_number, validate_base_url, TargetKind, USER_AGENT,
};
use crate::error::Error;
use crate::http::{encode_form, percent_encode};
use crate::model::{Call, Secret};
use crate::outbound::OutboundRequest;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GitlabTarget {
    /// The GitLab instance, such as `https://gitlab.example.com`.
    pub url: String,
    /// The project id or path on that instance.
    #[serde(deserialize_with = "string_or_number")]
    pub project: String,
    /// The real GitLab pipeline trigger token.
    pub token: Secret,
}

impl GitlabTarget {
    fn form(&self, call: &Call, with_ref: bool) -> Vec<(String, String)> {
        let mut form = vec![("token".to_string(), self.token.expose().to_string())];
        if with_ref {
            form.push(("ref".to_string(), call.ref_name.clone()));
        }
        form.extend(call.variables.iter().map(|(key, value)| (format!("variables[{key}]"), value.clone())));
        // In a form (the webhook form's query), an input is its JSON text, or a string as it is.
        form.extend(call.inputs.iter().map(|(key, value)| {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
            (format!("inputs[{key}]"), text)
        }));
        form
    }
}

impl TargetKind for GitlabTarget {
    fn validate(&self) -> Result<(), Error> {
        validate_base_url("url", &self.url)?;
        crate::model::validate_name("project", &self.project)?;
        if is_dot_segment(&self.project) {
            return Err(Error::bad_request("project must be a project id or path"));
        }
        if !self.token.is_set() {
            return Err(Error::bad_request("token is missing"));
        }
        Ok(())
    }

    fn secrets(&self) -> Vec<String> {
        std::iter::once(self.token.expose().to_string()).chain(query_secrets(&self.url)).collect()
    }

    fn destinations(&self) -> Vec<(&'static str, &str)> {
        vec![("url", &self.url)]
    }

    fn drop_credentials(&mut self, supplied: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
        super::drop_secret(&mut self.token, "token", supplied)
    }

    fn public_fields(&self) -> Map<String, Value> {
        let view = json!({"url": shown_url(&self.url), "project": self.project, "token_set": self.token.is_set()});
        view.as_object().cloned().unwrap_or_default()
    }

    fn build(&self, call: &Call) -> Result<OutboundRequest, Error> {
        let project = percent_encode(&self.project);
        let common = vec![("user-agent".to_string(), USER_AGENT.to_string())];
        let request = match &call.payload {
            // Inputs keep their types only in JSON, which the trigger API takes as well as a form.
            None if !call.inputs.is_empty() => {
                let body = json!({
                    "token": self.token.expose(),
                    "ref": call.ref_name,
                    "variables": call.variables,
                    "inputs": call.inputs,
                });
                OutboundRequest {
                    method: "POST".into(),
                    url: join_url(&self.url, &format!("/api/v4/projects/{project}/trigger/pipeline")),
                    headers: [common, vec![("content-type".into(), "application/json".into())]].concat(),
                    body: body.to_string().into_bytes(),
                }
            }
            None => OutboundRequest {
                method: "POST".into(),
                url: join_url(&self.url, &format!("/api/v4/projects/{project}/trigger/pipeline")),
                headers: [common, vec![("content-type".into(), "application/x-www-form-urlencoded".into())]].concat(),
                body: encode_form(&self.form(call, true)).into_bytes(),
            },
            Some(payload) => {
                let path =
                    format!("/api/v4/projects/{project}/ref/{}/trigger/pipeline", percent_encode(&call.ref_name));
                OutboundRequest {
                    method: "POST".into(),
                    url: format!("{}?{}", join_url(&self.url, &path), encode_form(&self.form(call, false))),
                    headers: [common, vec![("content-type".into(), payload.content_type.clone())]].concat(),
                    body: payload.body.clone(),
                }
            }
        };
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_urlencoded;
    use crate::model::Payload;

    fn target() -> GitlabTarget {
        GitlabTarget {
            url: "https://gitlab.example.com/".into(),
            project: "group/app".into(),
            token: Secret::new("glptt-real"),
        }
    }

    fn call(payload: Option<Payload>) -> Call {
        Call {
            trigger_id: "t1".into(),
            ref_name: "release/1.0".into(),
            variables: [("DEPLOY".to_string(), "yes & more".to_string())].into_iter().collect(),
            payload,
            ..Default::default()
        }
    }

    #[test]
    fn builds_the_pipeline_trigger_form() {
        let request = target().build(&call(None)).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "https://gitlab.example.com/api/v4/projects/group%2Fapp/trigger/pipeline");
        assert_eq!(request.header("content-type"), Some("application/x-www-form-urlencoded"));
        let form = parse_urlencoded(std::str::from_utf8(&request.body).unwrap());
        assert_eq!(
            form,
            vec![
                ("token".to_string(), "glptt-real".to_string()),
                ("ref".to_string(), "release/1.0".to_string()),
                ("variables[DEPLOY]".to_string(), "yes & more".to_string()),
            ]
        );
    }

    #[test]
    fn a_payload_uses_the_webhook_form_and_passes_the_body_on() {
        let payload = Payload { content_type: "application/json".into(), body: br#"{"object_kind":"push"}"#.to_vec() };
        let request = target().build(&call(Some(payload))).unwrap();
        let (path, query) = request.url.split_once('?').unwrap();
        assert_eq!(path, "https://gitlab.example.com/api/v4/projects/group%2Fapp/ref/release%2F1.0/trigger/pipeline");
        assert_eq!(
            parse_urlencoded(query),
            vec![
                ("token".to_string(), "glptt-real".to_string()),
                ("variables[DEPLOY]".to_string(), "yes & more".to_string())
            ]
        );
        assert_eq!(request.body, br#"{"object_kind":"push"}"#);
        assert_eq!(request.header("content-type"), Some("application/json"));
    }

    #[test]
    fn the_token_is_write_only() {
        let view = Value::Object(target().public_fields()).to_string();
        assert!(!view.contains("glptt-real"));
        assert!(view.contains("\"token_set\":true"));
    }

    #[test]
    fn the_project_cannot_climb_out_of_the_api_path() {
        for project in [".", ".."] {
            let bad = GitlabTarget { project: project.into(), ..target() };
            assert!(bad.validate().unwrap_err().message().starts_with("project"), "{project}");
        }
    }

    #[test]
    fn project_may_be_a_number() {
        let parsed: GitlabTarget = serde_json::from_str(r#"{"url":"https://g","project":9,"token":"t"}"#).unwrap();
        assert_eq!(parsed.project, "9");
    }
}
