//! `[grafana]`: dashboards. Every field documents its default; unknown keys are errors.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

/// `[grafana]`: dashboards over the platform's datasources (live platforms only: Grafana is
/// AGPL and not part of the local stack).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrafanaConfig {
    /// Grafana's base URL, e.g. `https://grafana.example.com`.
    pub url: Url,
    /// Environment variable holding a service-account token (preferred).
    #[serde(default)]
    pub token_env: Option<String>,
    /// The user for basic auth, when no token is given.
    #[serde(default)]
    pub user: Option<String>,
    /// Environment variable holding that user's password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A PEM file with extra CA certificates to trust (TLS verification stays on).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The Prometheus-type datasource backed by VictoriaMetrics, by name.
    pub metrics_datasource: String,
    /// The Loki datasource, by name.
    pub logs_datasource: String,
    /// The query sent to the metrics datasource. Default `up`.
    #[serde(default = "default_grafana_metrics_query")]
    pub metrics_query: String,
    /// The LogQL query sent to the logs datasource, e.g. `{namespace="data-platform"}`.
    pub logs_query: String,
    /// Dashboards that must exist (by title) and whose panels must all return data.
    #[serde(default)]
    pub dashboards: Vec<String>,
    /// Alert rules that must exist (by title) and not be in error.
    #[serde(default)]
    pub alert_rules: Vec<String>,
    /// How far back queries look. Default 60 minutes.
    #[serde(default = "super::loki::default_loki_window")]
    pub window_minutes: u64,
}

fn default_grafana_metrics_query() -> String {
    "up".into()
}

impl super::ServiceSection for GrafanaConfig {
    fn name(&self) -> &'static str {
        "grafana"
    }

    fn credentials(&self) -> Vec<(&'static str, &str)> {
        let mut vars: Vec<(&'static str, &str)> = Vec::new();
        vars.extend(self.token_env.as_deref().map(|t| ("grafana.token_env", t)));
        vars.extend(
            self.password_env
                .as_deref()
                .map(|p| ("grafana.password_env", p)),
        );
        vars
    }

    fn urls_mut(&mut self) -> Vec<(&'static str, &mut url::Url)> {
        vec![("grafana.url", &mut self.url)]
    }

    fn tls(&self) -> super::Tls<'_> {
        super::Tls::CaFile {
            key: "grafana.ca_file",
            file: self.ca_file.as_deref(),
        }
    }
}
