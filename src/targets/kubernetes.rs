//! The `kubernetes` target: acts on the trigger's workload through the API server.
//! - restart: the strategic-merge PATCH `kubectl rollout restart` sends (a `restartedAt` annotation);
//! - set-image: reads the workload (GET), then PATCHes the named container, or every container
//!   running the pushed image's repository, to the new tag, keeping each image's registry host.

use super::{join_url, query_secrets, shown_url, validate_base_url, TargetKind, USER_AGENT};
use crate::error::Error;
use crate::model::call::ContainerImage;
use crate::model::workload::{WorkloadAction, WorkloadManifest};
use crate::model::{wire_name, Call, Image, Secret, Workload};
use crate::outbound::{OutboundRequest, OutboundResponse};
use crate::time::format_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KubernetesTarget {
    /// The API server, such as `https://k8s.example.com:6443` (or a Cloudflare Tunnel hostname).
    pub api_server: String,
    /// A service-account bearer token allowed to get and patch the workloads.
    pub token: Secret,
}

const STRATEGIC_MERGE: &str = "application/strategic-merge-patch+json";

/// `host/ns/app:tag@sha256:..` -> `host/ns/app`.
fn image_base(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rfind(':') {
        Some(colon) if !without_digest[colon..].contains('/') => &without_digest[..colon],
        _ => without_digest,
    }
}

/// Whether a container image is the pushed repository, on whatever registry host.
fn runs_repository(current: &str, repository: &str) -> bool {
    let base = image_base(current);
    let short = repository.strip_prefix("library/").unwrap_or(repository);
    [repository, short].iter().any(|repo| base == *repo || base.ends_with(&format!("/{repo}")))
}

fn retagged(current: &str, image: &Image) -> String {
    let base = image_base(current);
    if image.tag.is_empty() {
        format!("{base}@{}", image.digest)
    } else {
        format!("{base}:{}", image.tag)
    }
}

impl KubernetesTarget {
    fn workload<'c>(&self, call: &'c Call) -> Result<&'c Workload, Error> {
        call.workload.as_ref().ok_or_else(|| Error::bad_request("a kubernetes target needs the trigger's workload"))
    }

    fn request(&self, method: &str, workload: &Workload, body: Option<Value>) -> OutboundRequest {
        let path =
            format!("/apis/apps/v1/namespaces/{}/{}/{}", workload.namespace, wire_name(&workload.kind), workload.name);
        let mut headers = vec![
            ("authorization".to_string(), format!("Bearer {}", self.token.expose())),
            ("accept".to_string(), "application/json".to_string()),
            ("user-agent".to_string(), USER_AGENT.to_string()),
        ];
        if body.is_some() {
            headers.push(("content-type".into(), STRATEGIC_MERGE.into()));
        }
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        OutboundRequest { method: method.into(), url: join_url(&self.api_server, &path), headers, body }
    }

    fn set_image_patch(&self, call: &Call, workload: &Workload, current: &OutboundResponse) -> Result<Value, Error> {
        let image = call.image.as_ref().ok_or_else(|| Error::bad_request("set-image needs an image push"))?;
        let manifest: WorkloadManifest = serde_json::from_slice(&current.body).map_err(|err| {
            let why = crate::error::json_error(&err);
            Error::bad_request(format!("the API server's workload could not be read: {why}"))
        })?;
        let containers: Vec<Value> = manifest
            .containers()
            .iter()
            .filter(|c| match &workload.container {
                Some(name) => &c.name == name,
                None => runs_repository(&c.image, &image.repository),
            })
            .map(|c| json!({"name": c.name, "image": retagged(&c.image, image)}))
            .collect();
        if containers.is_empty() {
            let which = workload.container.clone().unwrap_or_else(|| format!("running {}", image.repository));
            return Err(Error::bad_request(format!(
                "no container {which} in {}/{}",
                workload.namespace, workload.name
            )));
        }
        Ok(json!({"spec": {"template": {"spec": {"containers": containers}}}}))
    }
}

/// What `kubectl rollout restart` sends; with `containers`, their new images in the same PATCH.
fn restart_patch(call: &Call, containers: &[ContainerImage]) -> Value {
    let restarted_at = format_rfc3339(call.now_ms);
    let mut patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": restarted_at}}}}});
    if !containers.is_empty() {
        let containers: Vec<Value> = containers.iter().map(|c| json!({"name": c.name, "image": c.image})).collect();
        patch["spec"]["template"]["spec"] = json!({ "containers": containers });
    }
    patch
}

impl TargetKind for KubernetesTarget {
    /// The workload and what is done to it: a restart, or setting the image of one container (or
    /// of the containers running one repository). So a newer image for `app` never drops a
    /// pending one for `sidecar`, nor a restart a pending image.
    fn order_key(&self, call: &Call) -> String {
        let Some(w) = &call.workload else { return format!("ref:{}", call.ref_name) };
        let workload = format!("workload:{}/{}/{}", w.namespace, crate::model::wire_name(&w.kind), w.name);
        match (w.action, &w.container, &call.image) {
            (WorkloadAction::Restart, _, _) => format!("{workload}/restart"),
            (WorkloadAction::SetImage, Some(container), _) => format!("{workload}/container:{container}"),
            (WorkloadAction::SetImage, None, Some(image)) => format!("{workload}/repository:{}", image.repository),
            (WorkloadAction::SetImage, None, None) => format!("{workload}/set-image"),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        validate_base_url("api_server", &self.api_server)?;
        if !self.token.is_set() {
            return Err(Error::bad_request("token is missing"));
        }
        Ok(())
    }

    fn secrets(&self) -> Vec<String> {
        std::iter::once(self.token.expose().to_string()).chain(query_secrets(&self.api_server)).collect()
    }

    fn destinations(&self) -> Vec<(&'static str, &str)> {
        vec![("api_server", &self.api_server)]
    }

    fn drop_credentials(&mut self, supplied: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
        super::drop_secret(&mut self.token, "token", supplied)
    }

    fn public_fields(&self) -> Map<String, Value> {
        let view = json!({"api_server": shown_url(&self.api_server), "token_set": self.token.is_set()});
        view.as_object().cloned().unwrap_or_default()
    }

    fn build(&self, call: &Call) -> Result<OutboundRequest, Error> {
        self.build_with(call, None)
    }

    /// Set-image reads the workload, unless the caller named each container's image.
    fn lookup(&self, call: &Call) -> Result<Option<OutboundRequest>, Error> {
        let workload = self.workload(call)?;
        if workload.action != WorkloadAction::SetImage || !call.containers.is_empty() {
            return Ok(None);
        }
        if call.image.is_none() {
            return Err(Error::bad_request("set-image needs an image push, or the containers' images"));
        }
        Ok(Some(self.request("GET", workload, None)))
    }

    fn build_with(&self, call: &Call, looked_up: Option<&OutboundResponse>) -> Result<OutboundRequest, Error> {
        let workload = self.workload(call)?;
        let patch = match (workload.action, looked_up) {
            (WorkloadAction::Restart, _) => restart_patch(call, &[]),
            (WorkloadAction::SetImage, _) if !call.containers.is_empty() => restart_patch(call, &call.containers),
            (WorkloadAction::SetImage, Some(current)) => self.set_image_patch(call, workload, current)?,
            (WorkloadAction::SetImage, None) => return Err(Error::bad_request("set-image reads the workload first")),
        };
        Ok(self.request("PATCH", workload, Some(patch)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::workload::WorkloadKind;

    fn target() -> KubernetesTarget {
        KubernetesTarget { api_server: "https://k8s.example.com:6443/".into(), token: Secret::new("sa-token") }
    }

    #[test]
    fn the_order_key_is_the_workload_and_what_is_done_to_it() {
        let key = |action, container| target().order_key(&call(action, container));
        assert_eq!(key(WorkloadAction::SetImage, Some("app")), key(WorkloadAction::SetImage, Some("app")));
        assert_ne!(key(WorkloadAction::SetImage, Some("app")), key(WorkloadAction::SetImage, Some("sidecar")));
        assert_ne!(key(WorkloadAction::SetImage, Some("app")), key(WorkloadAction::Restart, None));
        assert!(
            key(WorkloadAction::Restart, None).starts_with("workload:prod/"),
            "{}",
            key(WorkloadAction::Restart, None)
        );
        let mut other_ref = call(WorkloadAction::Restart, None);
        other_ref.ref_name = "v2".into();
        assert_eq!(target().order_key(&other_ref), key(WorkloadAction::Restart, None), "not the ref");
    }

    fn call(action: WorkloadAction, container: Option<&str>) -> Call {
        Call {
            workload: Some(Workload {
                namespace: "prod".into(),
                kind: WorkloadKind::Statefulsets,
                name: "web".into(),
                container: container.map(str::to_string),
                action,
                image_repository: None,
            }),
            image: Some(Image { repository: "library/app".into(), tag: "v2".into(), digest: "sha256:abc".into() }),
            now_ms: 1_452_160_438_235,
            ..Call::default()
        }
    }

    fn current() -> OutboundResponse {
        let deployment = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "harbor.example.com/library/app:v1"},
            {"name": "sidecar", "image": "envoyproxy/envoy:v1.30"},
            {"name": "app-debug", "image": "app@sha256:old"}
        ]}}}});
        OutboundResponse { status: 200, headers: Vec::new(), body: deployment.to_string().into_bytes() }
    }

    fn body(request: &OutboundRequest) -> Value {
        serde_json::from_slice(&request.body).unwrap()
    }

    #[test]
    fn restart_patches_the_restarted_at_annotation_like_kubectl() {
        let k8s = target();
        let c = call(WorkloadAction::Restart, None);
        assert_eq!(k8s.lookup(&c).unwrap(), None, "no read needed");
        let request = k8s.build(&c).unwrap();
        assert_eq!(request.method, "PATCH");
        assert_eq!(request.url, "https://k8s.example.com:6443/apis/apps/v1/namespaces/prod/statefulsets/web");
        assert_eq!(request.header("content-type"), Some(STRATEGIC_MERGE));
        assert_eq!(request.header("authorization"), Some("Bearer sa-token"));
        assert_eq!(
            body(&request)["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "2016-01-07T09:53:58.235Z"
        );
    }

    #[test]
    fn set_image_reads_first_then_retags_every_container_of_the_repository() {
        let k8s = target();
        let c = call(WorkloadAction::SetImage, None);
        let lookup = k8s.lookup(&c).unwrap().unwrap();
        assert_eq!((lookup.method.as_str(), lookup.body.is_empty()), ("GET", true));
        let request = k8s.build_with(&c, Some(&current())).unwrap();
        assert_eq!(
            body(&request)["spec"]["template"]["spec"]["containers"],
            json!([
                {"name": "app", "image": "harbor.example.com/library/app:v2"},
                {"name": "app-debug", "image": "app:v2"}
            ])
        );
    }

    #[test]
    fn set_image_with_a_named_container_touches_only_it() {
        let request = target().build_with(&call(WorkloadAction::SetImage, Some("sidecar")), Some(&current())).unwrap();
        assert_eq!(
            body(&request)["spec"]["template"]["spec"]["containers"],
            json!([{"name": "sidecar", "image": "envoyproxy/envoy:v2"}])
        );
    }

    #[test]
    fn set_image_fails_clearly_when_nothing_runs_the_image() {
        let mut c = call(WorkloadAction::SetImage, None);
        c.image = Some(Image { repository: "other/thing".into(), tag: "v2".into(), digest: String::new() });
        let err = target().build_with(&c, Some(&current())).unwrap_err();
        assert!(err.message().contains("other/thing"));
        let missing = target().build_with(&call(WorkloadAction::SetImage, Some("nope")), Some(&current())).unwrap_err();
        assert!(missing.message().contains("nope"));
    }

    #[test]
    fn set_image_with_the_callers_container_images_patches_them_and_restarts_without_reading() {
        let k8s = target();
        let mut c = call(WorkloadAction::SetImage, None);
        c.image = None;
        assert!(k8s.lookup(&c).unwrap_err().message().contains("image push"), "nothing to set");
        c.containers = vec![ContainerImage { name: "app".into(), image: "reg.example/ns/app:v3".into() }];
        assert_eq!(k8s.lookup(&c).unwrap(), None);
        let template = body(&k8s.build(&c).unwrap())["spec"]["template"].clone();
        assert_eq!(template["spec"]["containers"], json!([{"name": "app", "image": "reg.example/ns/app:v3"}]));
        assert_eq!(
            template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "2016-01-07T09:53:58.235Z"
        );
        let restart = body(&k8s.build(&call(WorkloadAction::Restart, None)).unwrap());
        assert!(restart["spec"]["template"].get("spec").is_none(), "a plain restart sets no image");
    }

    #[test]
    fn image_names_split_into_base_tag_and_digest() {
        assert_eq!(image_base("host:5000/ns/app:v1"), "host:5000/ns/app");
        assert_eq!(image_base("host:5000/ns/app"), "host:5000/ns/app");
        assert_eq!(image_base("app@sha256:abc"), "app");
        assert!(runs_repository("nginx:1.25", "library/nginx"));
        assert!(!runs_repository("mynginx:1", "library/nginx"));
    }

    #[test]
    fn the_token_is_write_only() {
        assert!(!Value::Object(target().public_fields()).to_string().contains("sa-token"));
    }
}
