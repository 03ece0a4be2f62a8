//! The `ack` target: an Alibaba Cloud ACK trigger URL (`https://cs.console.aliyun.com/hook/trigger?token=...`).
//! A `deployment` trigger is a bare POST (ACK redeploys); an `application` trigger's POST carries
//! the deployment's container and the pushed image. The URL's token is a credential: write-only.

use super::{query_secrets, shown_url, validate_url, TargetKind, USER_AGENT};
use crate::error::Error;
use crate::model::{Call, Secret};
use crate::outbound::OutboundRequest;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AckTarget {
    /// The trigger URL that ACK shows; its query holds the trigger's token.
    pub url: Secret,
    #[serde(rename = "type", default)]
    pub trigger_type: AckTriggerType,
    /// For `application`: the registry host in front of the pushed repository
    /// (`registry.cn-hangzhou.aliyuncs.com`), since registry events name the repository without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
}

/// ACK's trigger types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AckTriggerType {
    /// A stateless application (Deployment): redeployed as it is.
    #[default]
    Deployment,
    /// An application-center application: redeployed with a new image.
    Application,
}

impl AckTarget {
    /// The body of an application trigger: which container of which deployment gets which image.
    fn application_body(&self, call: &Call) -> Result<Value, Error> {
        let workload = call.workload.as_ref().filter(|w| w.container.is_some()).ok_or_else(|| {
            Error::bad_request("an application ACK target needs the trigger's workload with its container")
        })?;
        let image =
            call.image.as_ref().ok_or_else(|| Error::bad_request("an application ACK target needs an image push"))?;
        let reference = match &self.registry {
            Some(host) => format!("{}/{}", host.trim_end_matches('/'), image.reference()),
            None => image.reference(),
        };
        let container = json!({"name": workload.container, "image": reference});
        Ok(json!({"resource": {"deployment": {
            "metadata": {"name": workload.name},
            "spec": {"template": {"spec": {"containers": [container]}}}
        }}}))
    }
}

impl TargetKind for AckTarget {
    /// An ACK trigger URL redeploys one workload: every delivery to it shares one key, but for an
    /// application trigger's container, whose image is its own.
    fn order_key(&self, call: &Call) -> String {
        match call.workload.as_ref().and_then(|w| w.container.as_ref().map(|c| (w, c))) {
            Some((w, container)) => format!("workload:{}/{}/container:{container}", w.namespace, w.name),
            None => "workload".to_string(),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        validate_url("url", self.url.expose())?;
        if let Some(host) = &self.registry {
            crate::model::validate_name("registry", host)?;
        }
        Ok(())
    }

    /// The URL, and its query's token on its own (an answer may quote only that).
    fn secrets(&self) -> Vec<String> {
        let url = self.url.expose();
        std::iter::once(url.to_string()).chain(query_secrets(url)).collect()
    }

    fn destinations(&self) -> Vec<(&'static str, &str)> {
        vec![("url", self.url.expose())]
    }

    /// Its one credential is the URL itself, which a move supplies anew.
    fn drop_credentials(&mut self, _supplied: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
        Vec::new()
    }

    fn public_fields(&self) -> Map<String, Value> {
        let view = json!({"url": shown_url(self.url.expose()), "type": self.trigger_type, "registry": self.registry});
        view.as_object().cloned().unwrap_or_default()
    }

    fn build(&self, call: &Call) -> Result<OutboundRequest, Error> {
        let mut headers = vec![("user-agent".to_string(), USER_AGENT.to_string())];
        let body = match self.trigger_type {
            AckTriggerType::Deployment => Vec::new(),
            AckTriggerType::Application => {
                headers.push(("content-type".into(), "application/json".into()));
                self.application_body(call)?.to_string().into_bytes()
            }
        };
        Ok(OutboundRequest { method: "POST".into(), url: self.url.expose().to_string(), headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Image, Workload};

    const URL: &str = "https://cs.console.aliyun.com/hook/trigger?token=eyJhbGciOi.secret";

    fn target(trigger_type: AckTriggerType) -> AckTarget {
        AckTarget { url: Secret::new(URL), trigger_type, registry: Some("registry.cn-hangzhou.aliyuncs.com".into()) }
    }

    fn image_call() -> Call {
        Call {
            workload: Some(
                serde_json::from_str::<Workload>(r#"{"namespace":"default","name":"web","container":"app"}"#).unwrap(),
            ),
            image: Some(Image { repository: "shop/web".into(), tag: "v2".into(), digest: String::new() }),
            ..Call::default()
        }
    }

    #[test]
    fn a_deployment_trigger_is_a_bare_post_to_the_trigger_url() {
        let request = target(AckTriggerType::Deployment).build(&Call::default()).unwrap();
        assert_eq!((request.method.as_str(), request.url.as_str(), request.body.len()), ("POST", URL, 0));
    }

    #[test]
    fn an_application_trigger_sends_the_container_and_the_full_image() {
        let request = target(AckTriggerType::Application).build(&image_call()).unwrap();
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({"resource": {"deployment": {"metadata": {"name": "web"}, "spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "registry.cn-hangzhou.aliyuncs.com/shop/web:v2"}
            ]}}}}}})
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
        let no_image = target(AckTriggerType::Application).build(&Call { image: None, ..image_call() });
        assert!(no_image.unwrap_err().message().contains("image push"));
    }

    #[test]
    fn the_url_token_is_write_only() {
        let view = Value::Object(target(AckTriggerType::Deployment).public_fields());
        assert_eq!(view["url"], "https://cs.console.aliyun.com/hook/trigger?***");
        assert!(!view.to_string().contains("secret"));
    }
}
