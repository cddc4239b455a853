//! `[loki]`: the log store. Every field documents its default; unknown keys are errors.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// `[loki]`: the log store and, through it, the log shipper (Fluent Bit on the platform,
/// promtail in the local stack).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiConfig {
    /// Loki's base URL (querier or gateway), e.g. `http://127.0.0.1:13100`.
    pub url: Url,
    /// Where pushes go when they differ from `url` (distributor). Default: `url`.
    #[serde(default)]
    pub push_url: Option<Url>,
    /// Environment variable holding a bearer token, when the endpoint needs one.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// The tenant (`X-Scope-OrgID`) on a multi-tenant Loki. Default: none (auth off).
    #[serde(default)]
    pub org_id: Option<String>,
    /// A PEM file with extra CA certificates to trust (TLS verification stays on).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The namespace whose logs must arrive, e.g. `data-platform`.
    pub namespace: String,
    /// The label holding the namespace. Default `namespace`.
    #[serde(default = "default_namespace_label")]
    pub namespace_label: String,
    /// The label naming the pod a stream came from. Default `pod`.
    #[serde(default = "default_pod_label")]
    pub pod_label: String,
    /// The label naming the app. Default `app`.
    #[serde(default = "default_app_label")]
    pub app_label: String,
    /// How far back the smoke checks look for logs. Default 60 minutes.
    #[serde(default = "default_loki_window")]
    pub window_minutes: u64,
    /// How many distinct pods must have shipped logs in the window (staging: 99).
    pub min_streams: usize,
    /// Apps (values of `app_label`) that must have logs in the window.
    #[serde(default)]
    pub critical_apps: Vec<String>,
    /// A directory the log shipper watches, on this machine (local stack: promtail's trial
    /// directory). A trial writes a file there and waits for its line in Loki. Absent: that
    /// trial is skipped.
    #[serde(default)]
    pub shipper_dir: Option<PathBuf>,
    /// The stream selector the shipper gives files in `shipper_dir`, e.g.
    /// `{namespace="carbon-e2e", app="e2e-trial"}`.
    #[serde(default)]
    pub shipper_selector: Option<String>,
    /// How long a shipped line may take to become queryable. Default 30 s.
    #[serde(default = "default_ship_latency")]
    pub ship_latency_secs: u64,
    /// How long a pushed line may take to become queryable. Default 30 s.
    #[serde(default = "default_ship_latency")]
    pub push_latency_secs: u64,
    /// The server's `max_entries_limit_per_query`. Default 5000 (Loki's default).
    #[serde(default = "default_max_entries")]
    pub max_entries_limit: u64,
    /// Limit for one log query (`query`, `query_range`, `series`, `labels`), which over a long
    /// window can take far longer than an ordinary request (`target.request_timeout_secs`).
    /// Default 60 s.
    #[serde(default = "default_loki_query_timeout")]
    pub query_timeout_secs: u64,
}

fn default_loki_query_timeout() -> u64 {
    60
}

fn default_namespace_label() -> String {
    "namespace".into()
}

fn default_pod_label() -> String {
    "pod".into()
}

fn default_app_label() -> String {
    "app".into()
}

pub(crate) fn default_loki_window() -> u64 {
    60
}

fn default_ship_latency() -> u64 {
    30
}

fn default_max_entries() -> u64 {
    5000
}

impl LokiConfig {
    /// [`Self::window_minutes`] as a duration.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_minutes * 60)
    }
}

impl super::ServiceSection for LokiConfig {
    fn name(&self) -> &'static str {
        "loki"
    }

    fn credentials(&self) -> Vec<(&'static str, &str)> {
        self.bearer_token_env
            .iter()
            .map(|t| ("loki.bearer_token_env", t.as_str()))
            .collect()
    }

    fn urls_mut(&mut self) -> Vec<(&'static str, &mut url::Url)> {
        let mut urls = vec![("loki.url", &mut self.url)];
        urls.extend(self.push_url.iter_mut().map(|u| ("loki.push_url", u)));
        urls
    }

    fn tls(&self) -> super::Tls<'_> {
        super::Tls::CaFile {
            key: "loki.ca_file",
            file: self.ca_file.as_deref(),
        }
    }
}
