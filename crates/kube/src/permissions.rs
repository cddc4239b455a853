//! What a run may do in the cluster: the permissions its reads need, listed once (the suites,
//! `doctor` and the permissions trial read them from here), and the SelfSubjectAccessReview
//! that asks the API server.

use std::fmt;

use carbon_config::Target;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use crate::{KubeClient, KubeError, api_err};

/// One permission a run needs: verb, API group, resource and namespace (`None`: cluster-wide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `get`, `list`, `watch`, `create`, ...
    pub verb: &'static str,
    /// The API group (`""` for core).
    pub group: &'static str,
    /// The resource, with subresource after a slash (`pods/log`).
    pub resource: &'static str,
    /// The namespace; `None` for all namespaces or cluster-scoped resources.
    pub namespace: Option<String>,
}

impl Permission {
    /// A cluster-wide permission.
    pub const fn cluster(verb: &'static str, group: &'static str, resource: &'static str) -> Self {
        Self {
            verb,
            group,
            resource,
            namespace: None,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!(".{}", self.group)
        };
        match &self.namespace {
            Some(ns) => write!(
                f,
                "{} {}{group} in namespace {ns}",
                self.verb, self.resource
            ),
            None => write!(f, "{} {}{group} (all namespaces)", self.verb, self.resource),
        }
    }
}

/// What the `platform` suite reads (kind-config/rbac/readonly.yaml grants them).
pub const PLATFORM_PERMISSIONS: &[Permission] = &[
    Permission::cluster("list", "", "nodes"),
    Permission::cluster("list", "", "namespaces"),
    Permission::cluster("list", "", "pods"),
    Permission::cluster("list", "", "events"),
    Permission::cluster("list", "", "persistentvolumeclaims"),
    // The dashboards Grafana's sidecar provisions (the `dashboards` suite).
    Permission::cluster("list", "", "configmaps"),
    Permission::cluster("list", "apps", "deployments"),
    Permission::cluster("list", "apps", "statefulsets"),
    Permission::cluster("list", "apps", "daemonsets"),
    Permission::cluster("list", "storage.k8s.io", "storageclasses"),
    Permission::cluster("list", "batch", "jobs"),
    Permission::cluster("list", "batch", "cronjobs"),
    Permission::cluster("get", "apiextensions.k8s.io", "customresourcedefinitions"),
    Permission::cluster("list", "argoproj.io", "applications"),
    Permission::cluster("list", "kyverno.io", "policyexceptions"),
];

/// What reading Velero's state needs (with `[velero]`: the `platform` and `velero` suites'
/// smoke tiers).
pub const VELERO_PERMISSIONS: &[Permission] = &[
    Permission::cluster("list", "velero.io", "backupstoragelocations"),
    Permission::cluster("list", "velero.io", "schedules"),
    Permission::cluster("list", "velero.io", "backups"),
];

/// The reads a run needs in the cluster of `target`: the platform checks', and Velero's when
/// the target has `[velero]`.
pub fn read_permissions(target: &Target) -> Vec<Permission> {
    let mut out = PLATFORM_PERMISSIONS.to_vec();
    if target.velero.is_some() {
        out.extend_from_slice(VELERO_PERMISSIONS);
    }
    out
}

/// What reaching services through the API server needs.
pub const REACH_PERMISSIONS: &[Permission] = &[
    Permission::cluster("list", "discovery.k8s.io", "endpointslices"),
    Permission::cluster("get", "", "services"),
    // The WebSocket port-forward kube speaks is an upgraded GET: API servers since 1.30 check
    // `get` on pods/portforward for it (and `create` for the SPDY one kubectl may use).
    Permission::cluster("get", "", "pods/portforward"),
    Permission::cluster("create", "", "pods/portforward"),
];

impl KubeClient {
    /// Whether we may do `p` (SelfSubjectAccessReview).
    ///
    /// # Errors
    /// When the review cannot be created.
    pub async fn can(&self, p: &Permission) -> Result<bool, KubeError> {
        let (resource, subresource) = match p.resource.split_once('/') {
            Some((r, s)) => (r, Some(s.to_string())),
            None => (p.resource, None),
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(p.verb.to_string()),
                    group: Some(p.group.to_string()),
                    resource: Some(resource.to_string()),
                    subresource,
                    namespace: p.namespace.clone(),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let out = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(api_err(format!("ask whether we may {p}")))?;
        Ok(out.status.is_some_and(|s| s.allowed))
    }

    /// The permissions of `needed` we lack.
    ///
    /// # Errors
    /// When a review cannot be created.
    pub async fn missing(&self, needed: &[Permission]) -> Result<Vec<Permission>, KubeError> {
        let mut out = Vec::new();
        for p in needed {
            if !self.can(p).await? {
                out.push(p.clone());
            }
        }
        Ok(out)
    }
}
