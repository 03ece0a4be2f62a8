//! The `jenkins` target: `POST {url}/job/{job}/buildWithParameters` with the call's variables
//! (and `REF`, the ref) as form parameters, authenticated with Basic `user:api_token`. A job in
//! folders is written `a/b` and sent as `/job/a/job/b`. Jenkins answers 201 with `Location`.
//! An API token needs no CSRF crumb. The token is write-only.

use super::{join_url, query_secrets, shown_url, validate_base_url, TargetKind, USER_AGENT};
use crate::error::Error;
use crate::http::{encode_form, percent_encode};
use crate::model::{Call, Secret};
use crate::outbound::OutboundRequest;
use crate::signature::base64_encode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JenkinsTarget {
    /// The Jenkins root, `https://jenkins.example.com` (or `.../jenkins` behind a prefix).
    pub url: String,
    /// The job, folders separated by `/`.
    pub job: String,
    pub user: String,
    pub api_token: Secret,
}

impl JenkinsTarget {
    /// `base64(user:api_token)`, as the Basic `Authorization` header carries it.
    fn basic_credentials(&self) -> String {
        base64_encode(format!("{}:{}", self.user, self.api_token.expose()).as_bytes())
    }

    fn job_path(&self) -> String {
        self.job.split('/').map(|part| format!("/job/{}", percent_encode(part))).collect()
    }
}

impl TargetKind for JenkinsTarget {
    fn validate(&self) -> Result<(), Error> {
        validate_base_url("url", &self.url)?;
        crate::model::validate_name("job", &self.job)?;
        if self.job.split('/').any(|part| part.trim().is_empty() || part == "." || part == "..") {
            return Err(Error::bad_request("job must be a name, or folders and a name separated by '/'"));
        }
        crate::model::validate_name("user", &self.user)?;
        if self.user.contains(':') {
            return Err(Error::bad_request("user must not contain ':'"));
        }
        if !self.api_token.is_set() {
            return Err(Error::bad_request("api_token is missing"));
        }
        Ok(())
    }

    fn secrets(&self) -> Vec<String> {
        // The Basic credential as sent, too: an answer that quotes the request's headers shows it
        // base64-encoded, where the token's own text never appears.
        let basic = self.basic_credentials();
        [self.api_token.expose().to_string(), basic].into_iter().chain(query_secrets(&self.url)).collect()
    }

    fn destinations(&self) -> Vec<(&'static str, &str)> {
        vec![("url", &self.url)]
    }

    fn drop_credentials(&mut self, supplied: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
        super::drop_secret(&mut self.api_token, "api_token", supplied)
    }

    fn public_fields(&self) -> Map<String, Value> {
        let view = json!({"url": shown_url(&self.url), "job": self.job, "user": self.user, "api_token_set": self.api_token.is_set()});
        view.as_object().cloned().unwrap_or_default()
    }

    fn build(&self, call: &Call) -> Result<OutboundRequest, Error> {
        let mut parameters: Vec<(String, String)> =
            call.variables.iter().map(|(key, value)| (key.clone(), value.clone())).collect();
        if !call.ref_name.is_empty() {
            parameters.push(("REF".into(), call.ref_name.clone()));
        }
        let credentials = self.basic_credentials();
        let headers = vec![
            ("authorization".to_string(), format!("Basic {credentials}")),
            ("content-type".to_string(), "application/x-www-form-urlencoded".to_string()),
            ("user-agent".to_string(), USER_AGENT.to_string()),
        ];
        Ok(OutboundRequest {
            method: "POST".into(),
            url: join_url(&self.url, &format!("{}/buildWithParameters", self.job_path())),
            headers,
            body: encode_form(&parameters).into_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_urlencoded;

    fn target(job: &str) -> JenkinsTarget {
        JenkinsTarget {
            url: "https://jenkins.example.com/".into(),
            job: job.into(),
            user: "bot".into(),
            api_token: Secret::new("11aa"),
        }
    }

    #[test]
    fn builds_with_parameters_as_a_form_with_basic_auth() {
        let call = Call {
            ref_name: "main".into(),
            variables: [("ENV".to_string(), "prod & qa".to_string())].into_iter().collect(),
            ..Call::default()
        };
        let request = target("deploy").build(&call).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "https://jenkins.example.com/job/deploy/buildWithParameters");
        assert_eq!(request.header("authorization"), Some("Basic Ym90OjExYWE="), "base64 of bot:11aa");
        let form = parse_urlencoded(std::str::from_utf8(&request.body).unwrap());
        assert_eq!(form, vec![("ENV".to_string(), "prod & qa".to_string()), ("REF".to_string(), "main".to_string())]);
    }

    #[test]
    fn folders_become_nested_job_segments() {
        let request = target("team a/web").build(&Call::default()).unwrap();
        assert_eq!(request.url, "https://jenkins.example.com/job/team%20a/job/web/buildWithParameters");
    }

    #[test]
    fn validation_names_the_field_and_the_token_is_write_only() {
        assert!(target("a//b").validate().unwrap_err().message().starts_with("job"));
        assert!(target("../x").validate().is_err());
        assert!(!Value::Object(target("web").public_fields()).to_string().contains("11aa"));
    }
}
