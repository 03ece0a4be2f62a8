//! The Kubernetes workload a trigger acts on, and what it does to it; and which container images
//! a caller may set on it. No `worker` import.

use super::call::ContainerImage;
use super::image_reference::ImageReference;
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
    /// The one repository (`registry/namespace/name`, no tag) that a caller's images may come from
    /// (ACK's application form). Without it, and without `container`, a caller sets no image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
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
        if let Some(repository) = &self.image_repository {
            let parsed = ImageReference::parse("workload.image_repository", repository)?;
            if parsed.tag.is_some() || parsed.digest.is_some() {
                return Err(Error::bad_request(
                    "workload.image_repository names a repository, without a tag or digest",
                ));
            }
        }
        Ok(())
    }

    /// The images a caller asks for, admitted only for a set-image workload, only for its own
    /// container and only from its own image repository, compared canonically. Each comes back
    /// as its canonical reference, so that the image checked is the image sent.
    pub fn admit_caller_images(&self, containers: Vec<ContainerImage>) -> Result<Vec<ContainerImage>, Error> {
        let refuse = |why: String| Err(Error::bad_request(why));
        if self.action != WorkloadAction::SetImage {
            return refuse("this trigger restarts its workload; it sets no container image".into());
        }
        let (Some(own_container), Some(own_repository)) = (&self.container, &self.image_repository) else {
            return refuse(
                "this trigger takes no container images: its workload names no container and image_repository".into(),
            );
        };
        let allowed = ImageReference::parse("workload.image_repository", own_repository)?;
        let mut admitted: Vec<ContainerImage> = Vec::with_capacity(containers.len());
        for container in containers {
            if &container.name != own_container {
                return refuse(format!(
                    "containers[].name '{}' is not this trigger's container '{own_container}'",
                    container.name
                ));
            }
            if admitted.iter().any(|c| c.name == container.name) {
                return refuse(format!("containers[].name '{}' is named twice", container.name));
            }
            let image = ImageReference::parse("containers[].image", &container.image)?;
            if !image.same_repository(&allowed) {
                return refuse(format!(
                    "containers[].image must come from this trigger's image repository {}/{}",
                    allowed.registry, allowed.repository
                ));
            }
            admitted.push(ContainerImage { name: container.name, image: image.to_string() });
        }
        Ok(admitted)
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

    fn set_image(container: Option<&str>, image_repository: Option<&str>) -> Workload {
        Workload {
            namespace: "default".into(),
            kind: WorkloadKind::Deployments,
            name: "web".into(),
            container: container.map(str::to_string),
            action: WorkloadAction::SetImage,
            image_repository: image_repository.map(str::to_string),
        }
    }

    fn images(pairs: &[(&str, &str)]) -> Vec<ContainerImage> {
        pairs.iter().map(|(name, image)| ContainerImage { name: name.to_string(), image: image.to_string() }).collect()
    }

    #[test]
    fn caller_images_are_admitted_for_the_own_container_from_the_own_repository_only() {
        let workload = set_image(Some("app"), Some("registry.example.com/shop/web"));
        assert_eq!(
            workload.admit_caller_images(images(&[("app", "Registry.Example.com/shop/web:v9")])).unwrap(),
            images(&[("app", "registry.example.com/shop/web:v9")]),
            "canonical, so that what was checked is what is sent"
        );
        for (attempt, why) in [
            (images(&[("sidecar", "evil.example/backdoor:latest")]), "containers[].name 'sidecar'"),
            (images(&[("sidecar", "registry.example.com/shop/web:v9")]), "containers[].name 'sidecar'"),
            (images(&[("app", "evil.example/backdoor:latest")]), "containers[].image must come from"),
            (images(&[("app", "registry.example.com/shop/web-evil:v9")]), "containers[].image must come from"),
            (images(&[("app", "registry.example.com:444/shop/web:v9")]), "containers[].image must come from"),
            (images(&[("app", "shop/web:v9")]), "containers[].image must come from"),
            (
                images(&[("app", "registry.example.com/shop/web:v9"), ("app", "registry.example.com/shop/web:v8")]),
                "twice",
            ),
        ] {
            let err = workload.admit_caller_images(attempt).unwrap_err();
            assert!(err.message().contains(why), "{}", err.message());
        }
    }

    #[test]
    fn docker_hub_repositories_compare_with_their_implicit_parts() {
        let workload = set_image(Some("app"), Some("nginx"));
        let admitted = workload.admit_caller_images(images(&[("app", "docker.io/library/nginx:1.25")])).unwrap();
        assert_eq!(admitted[0].image, "docker.io/library/nginx:1.25");
        assert!(workload.admit_caller_images(images(&[("app", "evil/nginx:1.25")])).is_err());
    }

    #[test]
    fn without_a_container_and_repository_or_for_a_restart_no_caller_image_is_taken() {
        let attempt = || images(&[("app", "registry.example.com/shop/web:v9")]);
        for workload in [set_image(None, Some("registry.example.com/shop/web")), set_image(Some("app"), None)] {
            let err = workload.admit_caller_images(attempt()).unwrap_err();
            assert!(err.message().contains("takes no container images"), "{}", err.message());
        }
        let restart = Workload {
            action: WorkloadAction::Restart,
            ..set_image(Some("app"), Some("registry.example.com/shop/web"))
        };
        assert!(restart.admit_caller_images(attempt()).unwrap_err().message().contains("restarts"));
    }

    #[test]
    fn an_image_repository_is_a_valid_reference_without_tag() {
        assert!(set_image(Some("app"), Some("registry.example.com/shop/web")).validate().is_ok());
        for bad in ["registry.example.com/shop/web:v1", "Registry/Shop", "registry.example.com/"] {
            let err = set_image(Some("app"), Some(bad)).validate().unwrap_err();
            assert!(err.message().starts_with("workload.image_repository"), "{bad}: {}", err.message());
        }
    }
}
