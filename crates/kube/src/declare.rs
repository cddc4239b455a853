//! The cluster's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Artifact, Declared, Leftovers, ProbeError, Service, Target};
use carbon_core::naming;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams};

use crate::{KubeClient, Permission, REACH_PERMISSIONS, SecretRef, read_permissions};

impl Declared for KubeClient {
    const SERVICE: Service = Service::Kubernetes;
    const VERSION_SOURCE: &'static str = "GET /version gitVersion";
    const NO_VERSION: &'static str = carbon_config::NO_VERSION_IN_ANSWER;

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target).await?)
    }

    /// API server, version, user, and the permissions the suites need that the user lacks.
    async fn probe(&self, target: &Target) -> Result<String, ProbeError> {
        let version = self.version().await?;
        let (user, groups) = self.user().await?;
        let mut needed = read_permissions(target);
        needed.extend_from_slice(REACH_PERMISSIONS);
        // `get secrets` in each namespace whose Secrets the target's credentials name.
        let mut namespaces: Vec<String> = target
            .credential_vars()
            .into_iter()
            .filter_map(SecretRef::parse)
            .map(|r| r.namespace)
            .collect();
        namespaces.sort();
        namespaces.dedup();
        needed.extend(namespaces.into_iter().map(|ns| Permission {
            namespace: Some(ns),
            ..Permission::cluster("get", "", "secrets")
        }));
        let missing = self.missing(&needed).await?;
        if !missing.is_empty() {
            return Err(format!(
                "{} {version}, user {user}: lacks {} (grant kind-config/rbac/readonly.yaml)",
                self.server(),
                missing
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into());
        }
        Ok(format!(
            "{} {version} via {}, user {user} (groups {}), may do all {} checked operations",
            self.server(),
            self.source(),
            groups.join(","),
            needed.len()
        ))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version().await?)
    }

    const ARTIFACTS: Option<&'static str> =
        Some("namespaces e2e-<run>-<what> labelled with the run and carbon-e2e as owner");

    /// Namespaces with the run's name shape, aged by `creationTimestamp` on the API server's
    /// clock; one already being deleted is left to finish.
    async fn leftovers(&self, _target: &Target) -> Result<Leftovers, ProbeError> {
        let now = self.server_time().await?;
        let api: Api<Namespace> = Api::all(self.client());
        let params = ListParams::default().labels(&format!(
            "{}={}",
            naming::KUBE_OWNER_LABEL,
            naming::OWNER
        ));
        let list = api
            .list(&params)
            .await
            .map_err(crate::api_err("list namespaces"))?;
        let artifacts = list
            .items
            .iter()
            .filter(|ns| ns.metadata.deletion_timestamp.is_none())
            .filter_map(|ns| {
                let name = ns.metadata.name.clone().unwrap_or_default();
                leftover(
                    format!("namespace {name}"),
                    &name,
                    ns.metadata.labels.as_ref(),
                    ns.metadata
                        .creation_timestamp
                        .as_ref()
                        .map(|t| t.0.as_second()),
                    vec![name.clone()],
                )
            })
            .collect();
        Ok(Leftovers {
            now,
            artifacts,
            ..Leftovers::default()
        })
    }

    async fn remove(&self, _target: &Target, artifact: &Artifact) -> Result<String, ProbeError> {
        let name = artifact
            .handle
            .first()
            .ok_or("a namespace without a name")?;
        Api::<Namespace>::all(self.client())
            .delete(name, &DeleteParams::default())
            .await
            .map_err(crate::api_err(format!("delete namespace {name}")))?;
        Ok(artifact.what.clone())
    }
}

/// A Kubernetes object named `name` with `labels`, created at `created` (API server seconds),
/// as the reaper sees it: `None` when its name is not a run's (not even counted); kept when it
/// lacks the run's labels.
pub fn leftover(
    what: String,
    name: &str,
    labels: Option<&std::collections::BTreeMap<String, String>>,
    created: Option<i64>,
    handle: Vec<String>,
) -> Option<Artifact> {
    let named = naming::parse_resource(name)?;
    let (run, keep) = match naming::kube_object_run(name, labels) {
        Some(run) => (run.to_string(), None),
        None => (
            named.to_string(),
            Some(format!(
                "no labels {}=<its run>, {}={}: not a run's",
                naming::KUBE_RUN_LABEL,
                naming::KUBE_OWNER_LABEL,
                naming::OWNER
            )),
        ),
    };
    Some(Artifact {
        what,
        run,
        created,
        keep,
        handle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_objects_need_the_name_shape_and_the_runs_labels() {
        let ours = naming::kube_labels("1f2e3d4c");
        let of = |name: &str, labels| leftover(name.into(), name, labels, Some(0), Vec::new());
        let mine = of("e2e-1f2e3d4c-files", Some(&ours)).expect("a run's");
        assert_eq!((mine.run.as_str(), mine.keep), ("1f2e3d4c", None));
        // A team's namespace with the prefix: not even counted.
        assert_eq!(of("e2e-orders", Some(&ours)), None);
        // Our shape with another run's labels, or with none: kept, saying why.
        for labels in [Some(&ours), None] {
            let kept = of("e2e-9a8b7c6d-files", labels).expect("listed");
            assert!(kept.keep.is_some_and(|why| why.contains("not a run's")));
        }
    }
}
