//! `[trino]`: the SQL engine. Every field documents its default; unknown keys are errors.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// `[trino]`: the SQL engine (the platform's Trino coordinator).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrinoConfig {
    /// The coordinator's URL, e.g. `http://127.0.0.1:18080` or `https://trino.example.com`.
    pub url: Url,
    /// The user queries run as (`X-Trino-User`). Default `carbon-e2e`.
    #[serde(default = "default_trino_user")]
    pub user: String,
    /// Environment variable holding the user's password (HTTP basic auth). Only sent over
    /// `https://`; with an `http://` URL the client refuses to send it.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A PEM file of extra CA certificates this service's client trusts (TLS verification stays
    /// on; the system store and the bundled roots are trusted too). Default: `target.ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Catalogs the server must have (`SHOW CATALOGS`), e.g. `["iceberg", "tpch"]`.
    #[serde(default)]
    pub required_catalogs: Vec<String>,
    /// The Iceberg catalog the round trip writes to. Default `iceberg`.
    #[serde(default = "default_iceberg_catalog")]
    pub iceberg_catalog: String,
    /// The bucket of `[minio]` that holds the Iceberg warehouse, so the suite can see the files
    /// Trino writes. When absent, the round trip skips the object-store check (and says so).
    #[serde(default)]
    pub warehouse_bucket: Option<String>,
    /// The key prefix of the warehouse inside that bucket (empty: the bucket's root).
    #[serde(default)]
    pub warehouse_prefix: String,
    /// How long one query may take from submission to its last page. Default 120 s.
    #[serde(default = "default_query_timeout")]
    pub query_timeout_secs: u64,
    /// The Iceberg REST catalog the Iceberg catalog of Trino uses (its base URL, without
    /// `/v1`), e.g. `http://iceberg-rest.data-platform:8181` or a `k8s://` reference. When set,
    /// the suite checks the catalog answers the REST protocol and serves every schema Trino's
    /// Iceberg catalog shows. Absent: those trials are skipped, saying this key is unset.
    #[serde(default)]
    pub rest_catalog_url: Option<Url>,
    /// Environment variable holding a bearer token for the REST catalog (OAuth2 token or
    /// static key). Absent: requests carry no credentials.
    #[serde(default)]
    pub rest_catalog_token_env: Option<String>,
    /// The warehouse the REST catalog's `/v1/config` is asked for (`?warehouse=`), for catalogs
    /// that serve several (Polaris, Lakekeeper). Absent: none is named.
    #[serde(default)]
    pub rest_catalog_warehouse: Option<String>,
    /// How long a cancelled query may still show as running on the server. Default 10 s.
    #[serde(default = "default_cancel_timeout")]
    pub cancel_timeout_secs: u64,
    /// Whether the Iceberg catalog deletes a table's files on `DROP TABLE`. `true`: files still
    /// in the warehouse `purge_timeout_secs` after the drop fail the round trip. `false` (the
    /// default; many catalogs purge late or leave it to maintenance): they are reported as a
    /// warning, and the trial's cleanup removes them.
    #[serde(default)]
    pub purge_on_drop: bool,
    /// How long the round trip waits for a dropped table's files to leave the warehouse.
    /// Default 30 s.
    #[serde(default = "default_purge_timeout")]
    pub purge_timeout_secs: u64,
}

fn default_purge_timeout() -> u64 {
    30
}

fn default_trino_user() -> String {
    "carbon-e2e".into()
}

fn default_iceberg_catalog() -> String {
    "iceberg".into()
}

fn default_query_timeout() -> u64 {
    120
}

fn default_cancel_timeout() -> u64 {
    10
}

impl TrinoConfig {
    /// [`Self::query_timeout_secs`] as a duration.
    pub fn query_timeout(&self) -> Duration {
        Duration::from_secs(self.query_timeout_secs)
    }

    /// [`Self::cancel_timeout_secs`] as a duration.
    pub fn cancel_timeout(&self) -> Duration {
        Duration::from_secs(self.cancel_timeout_secs)
    }
}

impl super::ServiceSection for TrinoConfig {
    fn name(&self) -> &'static str {
        "trino"
    }

    fn credentials(&self) -> Vec<(&'static str, &str)> {
        let mut vars: Vec<(&'static str, &str)> = Vec::new();
        vars.extend(
            self.password_env
                .as_deref()
                .map(|p| ("trino.password_env", p)),
        );
        vars.extend(
            self.rest_catalog_token_env
                .as_deref()
                .map(|p| ("trino.rest_catalog_token_env", p)),
        );
        vars
    }

    fn urls_mut(&mut self) -> Vec<(&'static str, &mut url::Url)> {
        let mut urls = vec![("trino.url", &mut self.url)];
        urls.extend(
            self.rest_catalog_url
                .iter_mut()
                .map(|u| ("trino.rest_catalog_url", u)),
        );
        urls
    }

    fn tls(&self) -> super::Tls<'_> {
        super::Tls::CaFile {
            key: "trino.ca_file",
            file: self.ca_file.as_deref(),
        }
    }
}
