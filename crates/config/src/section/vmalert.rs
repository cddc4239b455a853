//! `[vmalert]`: the alerting rules evaluator.
//! Every field documents its default; unknown keys are errors.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

/// `[vmalert]`: the alerting rules evaluator (vmalert over VictoriaMetrics).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmAlertConfig {
    /// vmalert's base URL, e.g. `http://127.0.0.1:18880`.
    pub url: Url,
    /// Environment variable holding a bearer token, when the endpoint needs one.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// Alerting rules that must exist and be healthy (no evaluation error), by name.
    pub required_rules: Vec<String>,
    /// A rule that fires for `probe_metric{e2e_run="<run id>"} 1` written to
    /// `[victoriametrics]`; the trial that makes it fire is skipped when absent.
    #[serde(default)]
    pub probe_rule: Option<String>,
    /// The metric the probe rule watches. Default `carbon_e2e_alert_probe`.
    #[serde(default = "default_probe_metric")]
    pub probe_metric: String,
    /// Time allowed on top of the probe rule's `for` and two evaluation intervals for the
    /// written sample to become visible to queries. Default 60 s.
    #[serde(default = "super::victoriametrics::default_visibility_timeout")]
    pub visibility_timeout_secs: u64,
    /// A PEM file of extra CA certificates this service's client trusts (TLS verification stays
    /// on; the system store and the bundled roots are trusted too). Default: `target.ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_probe_metric() -> String {
    "carbon_e2e_alert_probe".into()
}

impl super::ServiceSection for VmAlertConfig {
    fn name(&self) -> &'static str {
        "vmalert"
    }

    fn credentials(&self) -> Vec<(&'static str, &str)> {
        self.bearer_token_env
            .iter()
            .map(|t| ("vmalert.bearer_token_env", t.as_str()))
            .collect()
    }

    fn urls_mut(&mut self) -> Vec<(&'static str, &mut url::Url)> {
        vec![("vmalert.url", &mut self.url)]
    }

    fn tls(&self) -> super::Tls<'_> {
        super::Tls::CaFile {
            key: "vmalert.ca_file",
            file: self.ca_file.as_deref(),
        }
    }
}
