//! `[kubernetes]`: the cluster. Every field documents its default; unknown keys are errors.

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
}

impl KubernetesConfig {
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
