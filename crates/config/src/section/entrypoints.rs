//! `[entrypoints]`: the platform's public URLs, as its users reach them.
//! Every field documents its default; unknown keys are errors.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

/// `[entrypoints]`: the platform's public entry points (PLATFORM.md: `https://dolphin.<domain>`,
/// `https://grafana.<domain>`, `https://superset.<domain>`, `https://trino.<domain>`), each
/// fetched as a browser would.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryPointsConfig {
    /// The URLs, each fetched with `GET`, redirects followed (at most 10, as a browser would: a
    /// `302` to a login page counts by the login page's answer). An empty list is refused at
    /// load time: it would check nothing.
    pub urls: Vec<Url>,
    /// The statuses of the last answer that count as up. Default `[200]`. Add `401` for an
    /// entry point behind HTTP authentication the runner has no credentials for.
    #[serde(default = "default_accept_status")]
    pub accept_status: Vec<u16>,
    /// Days an `https://` entry point's certificate must still be valid (the certificate of
    /// the server the redirects ended at, as a browser sees it). Default 14: a certificate
    /// that expires during the migration window fails the check, naming its expiry.
    #[serde(default = "default_min_certificate_days")]
    pub min_certificate_days: u64,
    /// A PEM file of extra CA certificates this service's client trusts (TLS verification stays
    /// on; the system store and the bundled roots are trusted too). Default: `target.ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_accept_status() -> Vec<u16> {
    vec![200]
}

fn default_min_certificate_days() -> u64 {
    14
}

impl super::ServiceSection for EntryPointsConfig {
    fn name(&self) -> &'static str {
        "entrypoints"
    }

    fn urls_mut(&mut self) -> Vec<(&'static str, &mut Url)> {
        self.urls
            .iter_mut()
            .map(|u| ("entrypoints.urls", u))
            .collect()
    }

    fn tls(&self) -> super::Tls<'_> {
        super::Tls::CaFile {
            key: "entrypoints.ca_file",
            file: self.ca_file.as_deref(),
        }
    }
}
