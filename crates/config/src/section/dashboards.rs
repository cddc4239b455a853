//! `[dashboards]`: the platform's Grafana dashboards, counted with data without Grafana.
//! Every field documents its default; unknown keys are errors.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `[dashboards]`: where the platform's dashboards are defined and which must show data. The
/// `dashboards` suite reads each dashboard's JSON (from ConfigMaps carrying `label`, as
/// Grafana's sidecar provisions them, or from `dir`) and sends every panel's queries straight
/// to the datasource they name: Prometheus-type to `[victoriametrics]`, Loki to `[loki]`.
/// Absent: the defaults below (the platform's three dashboards, PLATFORM.md).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardsConfig {
    /// Dashboards (by title) that must exist and whose every panel must return data. Default:
    /// `Platform Overview`, `Data Platform`, `DolphinScheduler Metrics`. Empty is refused: a
    /// count over nothing is not a measurement.
    pub required: Vec<String>,
    /// The label Grafana's sidecar provisions dashboards from (any value). Default
    /// `grafana_dashboard`.
    pub label: String,
    /// The namespace whose ConfigMaps are read. Default: every namespace (the sidecar's
    /// `searchNamespace: ALL`); reading them needs `list configmaps` there
    /// (`kind-config/rbac/readonly.yaml`).
    pub namespace: Option<String>,
    /// A directory of dashboard JSON files to read instead of the cluster (files provisioned
    /// from disk, or a chart's `dashboards/` folder). Relative to the target file.
    pub dir: Option<PathBuf>,
    /// Values for template variables, over each variable's current value in the JSON.
    pub variables: BTreeMap<String, String>,
    /// Datasource names (or uids) that stand for `[victoriametrics]`, for panels that name
    /// their datasource without its type. Default `VictoriaMetrics`, `Prometheus`.
    pub metrics_datasources: Vec<String>,
    /// Datasource names (or uids) that stand for `[loki]`. Default `Loki`.
    pub logs_datasources: Vec<String>,
    /// How far back a panel's queries look, as on the dashboard's time picker. Default 60
    /// minutes.
    pub window_minutes: u64,
}

impl Default for DashboardsConfig {
    fn default() -> Self {
        Self {
            required: [
                "Platform Overview",
                "Data Platform",
                "DolphinScheduler Metrics",
            ]
            .map(String::from)
            .to_vec(),
            label: "grafana_dashboard".into(),
            namespace: None,
            dir: None,
            variables: BTreeMap::new(),
            metrics_datasources: vec!["VictoriaMetrics".into(), "Prometheus".into()],
            logs_datasources: vec!["Loki".into()],
            window_minutes: 60,
        }
    }
}
