//! `[superset]`: dashboards and SQL over Trino.
//! Every field documents its default; unknown keys are errors.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

/// `[superset]`: Apache Superset (`app=superset` on the platform): its API, the Trino database
/// connection it queries through, and the dashboards that must show data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupersetConfig {
    /// The server's URL, e.g. `http://127.0.0.1:18088` or `https://superset.example.com`.
    pub url: Url,
    /// The user the suite logs in as (`POST /api/v1/security/login`). Default `admin`.
    #[serde(default = "default_user")]
    pub user: String,
    /// Environment variable holding that user's password.
    pub password_env: String,
    /// The login provider: `db` (Superset's own users, the default) or `ldap`.
    #[serde(default = "default_provider")]
    pub provider: String,
    /// A PEM file of extra CA certificates this service's client trusts. Default:
    /// `target.ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The name of Superset's database connection to Trino. Default `trino`.
    #[serde(default = "default_database")]
    pub database: String,
    /// The SQL Lab query the suite runs through that connection. Default: the 25 nations of
    /// Trino's `tpch.tiny.nation`.
    #[serde(default = "default_query")]
    pub query: String,
    /// The rows that query must return. Default 25.
    #[serde(default = "default_query_rows")]
    pub query_rows: usize,
    /// Dashboards (by title) that must exist with every chart returning rows. An empty list
    /// fails the dashboards trial (nothing to check).
    #[serde(default)]
    pub dashboards: Vec<String>,
}

fn default_user() -> String {
    "admin".into()
}

fn default_provider() -> String {
    "db".into()
}

fn default_database() -> String {
    "trino".into()
}

fn default_query() -> String {
    "SELECT nationkey, name FROM tpch.tiny.nation ORDER BY nationkey".into()
}

fn default_query_rows() -> usize {
    25
}

impl super::ServiceSection for SupersetConfig {
    fn name(&self) -> &'static str {
        "superset"
    }

    fn credentials(&self) -> Vec<(&'static str, &str)> {
        vec![("superset.password_env", self.password_env.as_str())]
    }

    fn urls_mut(&mut self) -> Vec<(&'static str, &mut url::Url)> {
        vec![("superset.url", &mut self.url)]
    }

    fn tls(&self) -> super::Tls<'_> {
        super::Tls::CaFile {
            key: "superset.ca_file",
            file: self.ca_file.as_deref(),
        }
    }
}
