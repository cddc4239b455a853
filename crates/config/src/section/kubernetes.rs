//! `[kubernetes]`: the cluster. Every field documents its default; unknown keys are errors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[kubernetes]`: the cluster's API server, reached the way `kubectl` reaches it.
///
/// Which configuration is used, first match wins: `in_cluster = true` (the pod's service
/// account); `kubeconfig`; the file named by the variable `kubeconfig_env`; then kube's own
/// inference (`KUBECONFIG`, `~/.kube/config`, in-cluster service account).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// A kubeconfig file.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// Environment variable holding a kubeconfig path (the local stack's
    /// `CARBON_STACK_KUBECONFIG`).
    #[serde(default)]
    pub kubeconfig_env: Option<String>,
    /// The kubeconfig context to use. Default: its current context.
    #[serde(default)]
    pub context: Option<String>,
    /// Use the pod's service account (running inside the cluster).
    #[serde(default)]
    pub in_cluster: bool,
    /// How long a wait on a Kubernetes object may take. Default 60 s.
    #[serde(default = "super::victoriametrics::default_visibility_timeout")]
    pub wait_timeout_secs: u64,
    /// The image of the pods trials create (the Velero restore's Deployment, the Loki shipper
    /// trial's pod, the exec and port-forward trials' pod). It must exist for the cluster and
    /// hold busybox's applets (`sh`, `httpd`, `sleep`). Default [`DEFAULT_PROBE_IMAGE`]; a
    /// mirror of it on an air-gapped cluster.
    #[serde(default)]
    pub probe_image: Option<String>,
    /// Node labels those pods select. Default none: the scheduler places them.
    #[serde(default)]
    pub probe_node_selector: BTreeMap<String, String>,
    /// Taint keys those pods tolerate (effect NoSchedule). Default none.
    #[serde(default)]
    pub probe_tolerations: Vec<String>,
}

/// A small public image with busybox's applets.
pub const DEFAULT_PROBE_IMAGE: &str = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1";

impl KubernetesConfig {
    /// [`Self::probe_image`] or its default.
    pub fn probe_image(&self) -> &str {
        self.probe_image.as_deref().unwrap_or(DEFAULT_PROBE_IMAGE)
    }

    /// [`Self::wait_timeout_secs`] as a duration.
    pub fn wait_timeout(&self) -> Duration {
        Duration::from_secs(self.wait_timeout_secs)
    }
}

impl super::ServiceSection for KubernetesConfig {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    /// Reached through the kube client of `[kubernetes]`: no location, credential or CA of its own.
    fn tls(&self) -> super::Tls<'_> {
        super::Tls::Kubeconfig
    }
}
