//! The cluster's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Declared, ProbeError, Service, Target};

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
}
