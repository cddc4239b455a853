//! `[platform]`: health thresholds over the cluster.
//! Every field documents its default; unknown keys are errors.

use std::fmt;

use serde::Deserialize;

/// A critical workload of `[platform]`: pods selected by label in a namespace.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CriticalWorkload {
    /// Its namespace.
    pub namespace: String,
    /// A label selector, e.g. `app=trino-coordinator`.
    pub selector: String,
}

/// `[platform]`: the plan's health thresholds (defaults: staging, from PLATFORM.md). Needs
/// `[kubernetes]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformConfig {
    /// Namespaces the pod, workload, volume and job checks look at. Default: the platform's
    /// (PLATFORM.md): `data-platform`, `monitoring`, `velero`, `argocd`, `kyverno`. Each must
    /// exist, and together they must hold at least one pod: a mistyped scope fails every
    /// scoped check naming this key, it never passes over nothing.
    pub namespaces: Vec<String>,
    /// Check every namespace instead of `namespaces` (still minus `exclude_namespaces` and the
    /// namespaces carbon-e2e runs create). Default false: the platform's own namespaces only.
    pub cluster_wide: bool,
    /// Namespaces they skip.
    pub exclude_namespaces: Vec<String>,
    /// The nodes the nodes check looks at, as a Kubernetes label selector (e.g. a node pool:
    /// `cloud.google.com/gke-nodepool=data-platform`). Default: none, every node of the
    /// cluster. A selector that matches no node fails the check naming this key; an empty
    /// string is refused at load time (remove the key to check every node).
    pub node_selector: Option<String>,
    /// Object kinds the scope must hold at least one of (`DaemonSet`, `PersistentVolumeClaim`,
    /// `Job`): a check over a kind listed here fails when the scope has none. A kind not
    /// listed may be absent; the check then passes saying so. Default: `DaemonSet` (Fluent
    /// Bit) and `PersistentVolumeClaim` (MinIO's volume), which the platform has.
    pub required_kinds: Vec<String>,
    /// Pods neither Running and Ready nor Succeeded must be fewer than this.
    pub max_unhealthy_pods: usize,
    /// Healthy running pods over all non-completed pods, in percent, at least.
    pub min_running_percent: f64,
    /// Workloads that must be available with all replicas ready.
    pub critical_workloads: Vec<CriticalWorkload>,
    /// Failed Jobs allowed.
    pub max_failed_jobs: usize,
    /// Where ArgoCD's Applications live.
    pub argocd_namespace: String,
    /// Applications meeting `argocd_counts`, at least.
    pub min_argocd_healthy: usize,
    /// Which Applications count towards `min_argocd_healthy`. Default `synced-and-healthy`.
    pub argocd_counts: ArgoCounts,
    /// Where Kyverno's PolicyExceptions are counted (empty: all namespaces).
    pub kyverno_namespace: String,
    /// PolicyExceptions, at least.
    pub min_policy_exceptions: usize,
}

/// Which ArgoCD Applications meet `[platform] min_argocd_healthy`. Whatever counts, the check
/// reports Synced n/N and Healthy n/N and lists every Application that is not both.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ArgoCounts {
    /// Synced and Healthy (the default: an Application that is either alone is not done).
    #[default]
    SyncedAndHealthy,
    /// Synced or Healthy (the plan's wording of its hand check).
    SyncedOrHealthy,
    /// Synced, whatever its health.
    Synced,
    /// Healthy, whatever its sync status.
    Healthy,
}

impl ArgoCounts {
    /// Whether an Application with this sync and health status counts.
    pub fn counts(self, synced: bool, healthy: bool) -> bool {
        match self {
            Self::SyncedAndHealthy => synced && healthy,
            Self::SyncedOrHealthy => synced || healthy,
            Self::Synced => synced,
            Self::Healthy => healthy,
        }
    }
}

impl fmt::Display for ArgoCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SyncedAndHealthy => "Synced and Healthy",
            Self::SyncedOrHealthy => "Synced or Healthy",
            Self::Synced => "Synced",
            Self::Healthy => "Healthy",
        })
    }
}

impl Default for PlatformConfig {
    fn default() -> Self {
        let dp = |app: &str| CriticalWorkload {
            namespace: "data-platform".into(),
            selector: format!("app={app}"),
        };
        Self {
            namespaces: ["data-platform", "monitoring", "velero", "argocd", "kyverno"]
                .map(String::from)
                .to_vec(),
            cluster_wide: false,
            exclude_namespaces: Vec::new(),
            node_selector: None,
            required_kinds: vec!["DaemonSet".into(), "PersistentVolumeClaim".into()],
            max_unhealthy_pods: 15,
            min_running_percent: 85.0,
            critical_workloads: vec![
                dp("dolphinscheduler-master"),
                dp("dolphinscheduler-worker"),
                dp("dolphinscheduler-api"),
                dp("trino-coordinator"),
                dp("minio"),
                dp("superset"),
            ],
            max_failed_jobs: 0,
            argocd_namespace: "argocd".into(),
            min_argocd_healthy: 15,
            argocd_counts: ArgoCounts::default(),
            kyverno_namespace: String::new(),
            min_policy_exceptions: 11,
        }
    }
}
