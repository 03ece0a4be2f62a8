//! The Kubernetes workload a trigger acts on, and what it does to it.

use crate::error::Error;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub namespace: String,
    #[serde(default)]
    pub kind: WorkloadKind,
    pub name: String,
    /// The container to set the image of; without it, every container running the image's repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default)]
    pub action: WorkloadAction,
}

/// The part of a Kubernetes workload manifest that names its containers' images:
/// `spec.template.spec.containers[{name, image}]`. The API server's answer to a GET has it, and
/// so does the body of an ACK application trigger.
#[derive(Deserialize)]
pub struct WorkloadManifest {
    spec: ManifestSpec,
}
#[derive(Deserialize)]
struct ManifestSpec {
    template: PodTemplate,
}
#[derive(Deserialize)]
struct PodTemplate {
    spec: PodSpec,
}
#[derive(Deserialize)]
struct PodSpec {
    #[serde(default)]
    containers: Vec<ContainerSpec>,
}
#[derive(Deserialize)]
pub struct ContainerSpec {
    pub name: String,
    #[serde(default)]
    pub image: String,
}

impl WorkloadManifest {
    pub fn containers(&self) -> &[ContainerSpec] {
        &self.spec.template.spec.containers
    }

    pub fn into_containers(self) -> Vec<ContainerSpec> {
        self.spec.template.spec.containers
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    #[default]
    Deployments,
    Statefulsets,
    Daemonsets,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadAction {
    /// What `kubectl rollout restart` does.
    #[default]
    Restart,
    /// Point containers at the pushed image.
    SetImage,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployments => "deployments",
            WorkloadKind::Statefulsets => "statefulsets",
            WorkloadKind::Daemonsets => "daemonsets",
        }
    }
}

/// A DNS-1123 label or subdomain, as Kubernetes names are; the error names `field`.
pub fn validate_k8s_name(field: &str, name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(Error::bad_request(format!("{field} '{name}' is not a valid Kubernetes name")))
    }
}

impl Workload {
    pub fn validate(&self) -> Result<(), Error> {
        self.validate_as(["workload.namespace", "workload.name", "workload.container"])
    }

    /// `validate`, with the fields named as the caller's API names them (namespace, name, container).
    pub fn validate_as(&self, fields: [&str; 3]) -> Result<(), Error> {
        validate_k8s_name(fields[0], &self.namespace)?;
        validate_k8s_name(fields[1], &self.name)?;
        if let Some(container) = &self.container {
            validate_k8s_name(fields[2], container)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_restarting_a_deployment_and_validates_names() {
        let workload: Workload = serde_json::from_str(r#"{"namespace":"prod","name":"web"}"#).unwrap();
        assert_eq!((workload.kind, workload.action), (WorkloadKind::Deployments, WorkloadAction::Restart));
        assert!(workload.validate().is_ok());
        let bad = Workload { name: "Web_App".into(), ..workload };
        assert!(bad.validate().unwrap_err().message().contains("workload.name"));
        assert!(serde_json::from_str::<Workload>(r#"{"namespace":"a","name":"b","action":"scale"}"#).is_err());
    }
}
