//! The `github` target: GitHub Actions. With `workflow`, a workflow_dispatch
//! (`POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with `{ref, inputs}`);
//! with `event_type`, a repository_dispatch (`POST /repos/{owner}/{repo}/dispatches` with
//! `{event_type, client_payload}`). GitHub answers 204 on success. The token is write-only.

use super::{
    is_dot_segment, join_url, path_segment, query_secrets, shown_url, validate_base_url, TargetKind, USER_AGENT,
};
use crate::error::Error;
use crate::model::{Call, Secret};
use crate::outbound::OutboundRequest;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const API_VERSION: &str = "2022-11-28";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GithubTarget {
    /// `owner/repo`.
    pub repository: String,
    /// A fine-grained token with Actions: write (workflow_dispatch) or Contents: write (repository_dispatch).
    pub token: Secret,
    /// The workflow's file name (`deploy.yml`) or id: makes it a workflow_dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// Makes it a repository_dispatch with this `event_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The ref a workflow runs on when the call names none.
    #[serde(default = "default_ref", rename = "ref")]
    pub default_ref: String,
    /// GitHub Enterprise's API (`https://github.example.com/api/v3`), or a test server.
    #[serde(default = "default_api_url")]
    pub api_url: String,
}

fn default_ref() -> String {
    "main".into()
}

fn default_api_url() -> String {
    "https://api.github.com".into()
}

/// `owner/name` as GitHub allows them: an owner of letters, digits and `-` (`_` on GitHub
/// Enterprise), a name of letters, digits, `-`, `_` and `.`, and neither `.` nor `..`, which would
/// climb out of the API path.
fn validate_repository(repository: &str) -> Result<(), Error> {
    let allowed = |part: &str, extra: &[u8], max: usize| {
        !part.is_empty()
            && part.len() <= max
            && !is_dot_segment(part)
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    };
    match repository.split_once('/') {
        Some((owner, name)) if allowed(owner, b"-_", 39) && allowed(name, b"-_.", 100) => Ok(()),
        _ => Err(Error::bad_request("repository must be owner/repo")),
    }
}

impl TargetKind for GithubTarget {
    fn validate(&self) -> Result<(), Error> {
        validate_base_url("api_url", &self.api_url)?;
        validate_repository(&self.repository)?;
        if !self.token.is_set() {
            return Err(Error::bad_request("token is missing"));
        }
        match (&self.workflow, &self.event_type) {
            (Some(workflow), None) if is_dot_segment(workflow) || workflow.contains('/') => {
                Err(Error::bad_request("workflow must be a workflow file name or id"))
            }
            (Some(workflow), None) => crate::model::validate_name("workflow", workflow),
            (None, Some(event_type)) if event_type.len() <= 100 => {
                crate::model::validate_name("event_type", event_type)
            }
            (None, Some(_)) => Err(Error::bad_request("event_type is longer than 100 characters")),
            _ => Err(Error::bad_request("workflow or event_type: set exactly one")),
        }?;
        crate::model::call::validate_ref(&self.default_ref)
            .map_err(|err| Error::bad_request(format!("ref: {}", err.message())))
    }

    fn secrets(&self) -> Vec<String> {
        std::iter::once(self.token.expose().to_string()).chain(query_secrets(&self.api_url)).collect()
    }

    fn destinations(&self) -> Vec<(&'static str, &str)> {
        vec![("api_url", &self.api_url)]
    }

    fn drop_credentials(&mut self, supplied: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
        super::drop_secret(&mut self.token, "token", supplied)
    }

    fn public_fields(&self) -> Map<String, Value> {
        let view = json!({
            "repository": self.repository, "workflow": self.workflow, "event_type": self.event_type,
            "ref": self.default_ref, "api_url": shown_url(&self.api_url), "token_set": self.token.is_set(),
        });
        view.as_object().cloned().unwrap_or_default()
    }

    fn build(&self, call: &Call) -> Result<OutboundRequest, Error> {
        let ref_name = if call.ref_name.is_empty() { self.default_ref.as_str() } else { call.ref_name.as_str() };
        let repository = self.repository.split('/').map(path_segment).collect::<Vec<_>>().join("/");
        let (path, body) = match &self.workflow {
            Some(workflow) => {
                // A workflow accepts only the inputs it declares; hookrelay's own variables go to
                // repository_dispatch, whose client_payload takes anything.
                let inputs: BTreeMap<&String, &String> =
                    crate::sorting::map_of(call.variables.iter().filter(|(key, _)| !key.starts_with("HOOKRELAY_")));
                let path = format!("/repos/{repository}/actions/workflows/{}/dispatches", path_segment(workflow));
                (path, json!({"ref": ref_name, "inputs": inputs}))
            }
            None => {
                let path = format!("/repos/{repository}/dispatches");
                let payload = json!({"ref": ref_name, "variables": call.variables, "delivery_id": call.delivery});
                (path, json!({"event_type": self.event_type, "client_payload": payload}))
            }
        };
        let headers = vec![
            ("authorization".to_string(), format!("Bearer {}", self.token.expose())),
            ("accept".to_string(), "application/vnd.github+json".to_string()),
            ("x-github-api-version".to_string(), API_VERSION.to_string()),
            ("user-agent".to_string(), USER_AGENT.to_string()),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        Ok(OutboundRequest {
            method: "POST".into(),
            url: join_url(&self.api_url, &path),
            headers,
            body: body.to_string().into_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(extra: Value) -> GithubTarget {
        let mut config = json!({"repository": "octo/app", "token": "ghp_secret"});
        config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(config).unwrap()
    }

    fn call() -> Call {
        let variables = [("ENV", "prod"), ("HOOKRELAY_COMMIT", "abc")];
        Call {
            ref_name: "release/1".into(),
            delivery: "t-1".into(),
            variables: variables.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Call::default()
        }
    }

    fn body(request: &OutboundRequest) -> Value {
        serde_json::from_slice(&request.body).unwrap()
    }

    #[test]
    fn workflow_dispatch_sends_ref_and_declared_inputs_with_githubs_headers() {
        let request = target(json!({"workflow": "deploy.yml"})).build(&call()).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "https://api.github.com/repos/octo/app/actions/workflows/deploy.yml/dispatches");
        assert_eq!(body(&request), json!({"ref": "release/1", "inputs": {"ENV": "prod"}}));
        assert_eq!(request.header("authorization"), Some("Bearer ghp_secret"));
        assert_eq!(request.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(request.header("x-github-api-version"), Some(API_VERSION));
        assert!(
            request.header("user-agent").is_some_and(|ua| ua.starts_with("hookrelay/")),
            "GitHub refuses requests without one"
        );
    }

    #[test]
    fn repository_dispatch_sends_event_type_and_client_payload() {
        let request =
            target(json!({"event_type": "deploy", "api_url": "http://127.0.0.1:9/api/v3/"})).build(&call()).unwrap();
        assert_eq!(request.url, "http://127.0.0.1:9/api/v3/repos/octo/app/dispatches");
        let sent = body(&request);
        assert_eq!(sent["event_type"], "deploy");
        assert_eq!(sent["client_payload"]["ref"], "release/1");
        assert_eq!(sent["client_payload"]["variables"]["HOOKRELAY_COMMIT"], "abc");
    }

    #[test]
    fn a_call_without_a_ref_runs_the_default_ref() {
        let request = target(json!({"workflow": "1234", "ref": "trunk"})).build(&Call::default()).unwrap();
        assert_eq!(body(&request)["ref"], "trunk");
    }

    #[test]
    fn validation_names_the_field_and_the_token_is_write_only() {
        assert!(target(json!({})).validate().unwrap_err().message().starts_with("workflow or event_type"));
        assert!(target(json!({"workflow": "a", "event_type": "b"})).validate().is_err());
        let mut bad = target(json!({"workflow": "a"}));
        bad.repository = "octo".into();
        assert!(bad.validate().unwrap_err().message().starts_with("repository"));
        assert!(!Value::Object(target(json!({"workflow": "a"})).public_fields()).to_string().contains("ghp_secret"));
    }

    #[test]
    fn the_repository_and_workflow_cannot_climb_out_of_the_api_path() {
        for repository in
            ["../..", "octo/..", "../app", "./app", "octo/.", "octo/app/x", "octo", "octo/a b", "o%2F/x", "/app"]
        {
            let mut bad = target(json!({"workflow": "a.yml"}));
            bad.repository = repository.into();
            assert!(bad.validate().unwrap_err().message().starts_with("repository"), "{repository}");
        }
        for workflow in ["..", ".", "../../user", "%2e%2e"] {
            let bad = target(json!({"workflow": workflow}));
            let refused = bad.validate().is_err() || !bad.build(&call()).unwrap().url.contains("/..");
            assert!(refused, "{workflow}");
        }
        let ok = target(json!({"workflow": "deploy prod.yml"}));
        ok.validate().unwrap();
        assert!(ok
            .build(&call())
            .unwrap()
            .url
            .ends_with("/repos/octo/app/actions/workflows/deploy%20prod.yml/dispatches"));
        let mut dotted = target(json!({"event_type": "deploy"}));
        dotted.repository = "my-org/site.github.io".into();
        dotted.validate().unwrap();
        assert!(dotted.build(&call()).unwrap().url.ends_with("/repos/my-org/site.github.io/dispatches"));
    }
}
