//! `[victoriametrics]`: the metrics store.
//! Every field documents its default; unknown keys are errors.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

/// `[victoriametrics]`: the metrics store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VictoriaMetricsConfig {
    /// Where queries go: a single-node VictoriaMetrics (`http://host:8428`) or a vmselect tenant
    /// URL (`http://vmselect:8481/select/0/prometheus`).
    pub url: Url,
    /// Where writes go when they differ from `url` (vminsert). Default: `url`.
    #[serde(default)]
    pub write_url: Option<Url>,
    /// Environment variable holding a bearer token, when the endpoint needs one.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// The `up` series the platform's scrape targets produce, e.g.
    /// `up{kubernetes_namespace="data-platform"}`.
    pub up_selector: String,
    /// How many of those targets must be up (staging: 19).
    pub min_up_targets: usize,
    /// How long a written sample may take to become queryable. Default 60 s.
    #[serde(default = "default_visibility_timeout")]
    pub visibility_timeout_secs: u64,
    /// A PEM file of extra CA certificates this service's client trusts (TLS verification stays
    /// on; the system store and the bundled roots are trusted too). Default: `target.ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

pub(crate) fn default_visibility_timeout() -> u64 {
    60
}

impl super::ServiceSection for VictoriaMetricsConfig {
    fn name(&self) -> &'static str {
        "victoriametrics"
    }

    fn credentials(&self) -> Vec<(&'static str, &str)> {
        self.bearer_token_env
            .iter()
            .map(|t| ("victoriametrics.bearer_token_env", t.as_str()))
            .collect()
    }

    fn urls_mut(&mut self) -> Vec<(&'static str, &mut url::Url)> {
        let mut urls = vec![("victoriametrics.url", &mut self.url)];
        urls.extend(
            self.write_url
                .iter_mut()
                .map(|u| ("victoriametrics.write_url", u)),
        );
        urls
    }

    fn tls(&self) -> super::Tls<'_> {
        super::Tls::CaFile {
            key: "victoriametrics.ca_file",
            file: self.ca_file.as_deref(),
        }
    }
}
