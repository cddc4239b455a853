//! The Velero server's version, read without writing anything.
//!
//! **Decision.** `velero version` asks the server through a ServerStatusRequest: an object it
//! *creates*, which a read-only target must never do. Velero's metrics carry no build
//! information (only backup, restore and snapshot counters and Go's own `go_info`), and its
//! objects record the cluster's Kubernetes version, not Velero's. What is left, read-only and
//! in one request, is how the server is deployed: one LIST of the Deployments in Velero's
//! namespace (`get`/`list deployments` is in `kind-config/rbac/readonly.yaml`), and the tag of
//! the image its server container runs. That is the version the cluster was told to run, which
//! is what the server runs once its pods are up (the platform suite checks they are).

use carbon_kube::k8s_openapi::api::apps::v1::Deployment;

use crate::{VeleroClient, VeleroError};

impl VeleroClient {
    /// The Velero server's version: the tag of its image ([`server_image`] of the Deployments
    /// in Velero's namespace, one LIST), e.g. `v1.18.3`. `Ok(None)` when the image has no tag
    /// (pinned by digest alone, or implicitly `latest`). See the module's decision for why not
    /// a ServerStatusRequest.
    ///
    /// # Errors
    /// [`VeleroError::Kube`] when the list fails (a 403 names the permission);
    /// [`VeleroError::Check`] when no Deployment there runs a `velero` image.
    pub async fn server_version(&self) -> Result<Option<String>, VeleroError> {
        let deployments: Vec<Deployment> = self.kube().list(Some(self.namespace())).await?;
        let (_, _, image) = server_image(&deployments).ok_or_else(|| {
            VeleroError::Check(format!(
                "no Deployment in namespace {} runs a `velero` image (of {} Deployment(s)): check `[velero] namespace`",
                self.namespace(),
                deployments.len()
            ))
        })?;
        Ok(image_tag(&image).map(str::to_string))
    }
}

/// The server container among `deployments`: `(deployment, container, image)` of the first
/// container (not init container: those are Velero's plugins) whose image's repository is
/// named `velero` (`velero/velero:v1.18.3`, `registry/mirror/velero@sha256:…`), looking at a
/// Deployment named `velero` (the name both `velero install` and the Helm chart's default
/// release give it) before the others.
pub fn server_image(deployments: &[Deployment]) -> Option<(String, String, String)> {
    let mut ordered: Vec<&Deployment> = deployments.iter().collect();
    ordered.sort_by_key(|d| d.metadata.name.as_deref() != Some("velero"));
    ordered.into_iter().find_map(|d| {
        let containers = &d.spec.as_ref()?.template.spec.as_ref()?.containers;
        containers.iter().find_map(|c| {
            let image = c.image.as_deref()?;
            (repository_name(image) == "velero").then(|| {
                (
                    d.metadata.name.clone().unwrap_or_default(),
                    c.name.clone(),
                    image.to_string(),
                )
            })
        })
    })
}

/// An image reference without its digest and tag: `registry:5000/velero/velero`.
fn repository(image: &str) -> &str {
    let image = image.split_once('@').map_or(image, |(r, _)| r);
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

/// The last path segment of an image's repository: `velero` for `velero/velero:v1.18.3`.
fn repository_name(image: &str) -> &str {
    let repo = repository(image);
    repo.rsplit('/').next().unwrap_or(repo)
}

/// An image reference's tag: `v1.18.3` for `velero/velero:v1.18.3@sha256:…`; `None` when it
/// has none (digest only, or implicitly `latest`).
pub fn image_tag(image: &str) -> Option<&str> {
    let image = image.split_once('@').map_or(image, |(r, _)| r);
    let i = image.rfind(':')?;
    let tag = &image[i + 1..];
    (!tag.contains('/') && !tag.is_empty()).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(name: &str, containers: &[&str], init: &[&str]) -> Deployment {
        let list = |images: &[&str], prefix: &str| -> Vec<serde_json::Value> {
            images
                .iter()
                .enumerate()
                .map(|(i, image)| serde_json::json!({"name": format!("{prefix}{i}"), "image": image}))
                .collect()
        };
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "velero"},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "template": {"spec": {
                    "containers": list(containers, "c"),
                    "initContainers": list(init, "init"),
                }},
            },
        }))
        .expect("deployment")
    }

    /// Deployments as the local stack (`kind-config/platform/velero.yaml`), the Helm chart and
    /// `velero install` lay them out, and namespaces where no server is found.
    #[rstest::rstest]
    #[case::local_stack(
        vec![deployment("velero", &["carbon-e2e.local/native/velero:v1.18.3"], &[])],
        Some(Some("v1.18.3"))
    )]
    #[case::helm_chart_with_plugin_init_containers(
        vec![
            deployment("velero-ui", &["otwld/velero-ui:0.9.0"], &[]),
            deployment("backups-velero", &["velero/velero:v1.15.2"], &["velero/velero-plugin-for-aws:v1.11.0"]),
        ],
        Some(Some("v1.15.2"))
    )]
    #[case::named_velero_first(
        vec![
            deployment("velero-old", &["velero/velero:v1.12.0"], &[]),
            deployment("velero", &["velero/velero:v1.16.1"], &[]),
        ],
        Some(Some("v1.16.1"))
    )]
    #[case::tag_and_digest(
        vec![deployment("velero", &["registry.local:5000/mirror/velero:v1.14.0@sha256:0123abcd"], &[])],
        Some(Some("v1.14.0"))
    )]
    #[case::digest_only(vec![deployment("velero", &["velero/velero@sha256:0123abcd"], &[])], Some(None))]
    #[case::implicit_latest(vec![deployment("velero", &["registry.local:5000/velero"], &[])], Some(None))]
    #[case::plugin_only(
        vec![deployment("velero", &["busybox:1.36"], &["velero/velero-plugin-for-aws:v1.11.0"])],
        None
    )]
    #[case::empty_namespace(vec![], None)]
    fn server_version_is_the_server_image_tag(
        #[case] deployments: Vec<Deployment>,
        #[case] want: Option<Option<&str>>,
    ) {
        let got = server_image(&deployments);
        assert_eq!(
            got.as_ref().map(|(_, _, image)| image_tag(image)),
            want,
            "{got:?}"
        );
    }
}
