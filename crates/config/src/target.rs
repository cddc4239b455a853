//! The schema of a target file. Every field documents its default; unknown keys are errors.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::{ConfigError, Env, Secret};

/// What kind of platform a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The local stack of native processes (`carbon-e2e stack up`).
    Local,
    /// A kind cluster stood up with the platform's charts.
    Kind,
    /// A live cluster: staging or production.
    Cluster,
}

/// The `[target]` section: settings for the whole run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// What kind of platform this is.
    pub kind: TargetKind,
    /// One line for humans.
    #[serde(default)]
    pub description: String,
    /// Timeout of one HTTP request, connect included. Default 10 s: a service that is down or
    /// hangs fails its trial within this.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Time a trial may take before the harness stops it and runs its cleanup. Default 300 s.
    #[serde(default = "default_trial_timeout")]
    pub trial_timeout_secs: u64,
}

fn default_request_timeout() -> u64 {
    10
}

fn default_trial_timeout() -> u64 {
    300
}

impl Settings {
    /// [`Self::request_timeout_secs`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// [`Self::trial_timeout_secs`] as a duration.
    pub fn trial_timeout(&self) -> Duration {
        Duration::from_secs(self.trial_timeout_secs)
    }
}

/// `[minio]`: the platform's object store (MinIO on the platform; any S3-compatible store that
/// answers path-style requests works).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinioConfig {
    /// The S3 endpoint, e.g. `http://127.0.0.1:17070` or `https://minio.example.com`.
    pub endpoint: Url,
    /// The region requests are signed for. Default `us-east-1` (MinIO's default).
    #[serde(default = "default_region")]
    pub region: String,
    /// Environment variable holding the access key.
    pub access_key_env: String,
    /// Environment variable holding the secret key.
    pub secret_key_env: String,
    /// The bucket the suite writes its objects to (under an `e2e/<run id>/` prefix).
    pub test_bucket: String,
    /// Buckets the platform must have, e.g. `velero-backups`.
    #[serde(default)]
    pub required_buckets: Vec<String>,
    /// A health path that answers 200 when the store is live, e.g. MinIO's
    /// `/minio/health/live`. When absent, health is a signed request to the test bucket.
    #[serde(default)]
    pub health_path: Option<String>,
    /// Size in MiB of the multipart object the suite uploads. Default 16.
    #[serde(default = "default_multipart_mib")]
    pub multipart_object_mib: u64,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_multipart_mib() -> u64 {
    16
}

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
}

fn default_visibility_timeout() -> u64 {
    60
}

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
    /// A PEM file with extra CA certificates to trust (TLS verification stays on).
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
    /// How long a cancelled query may still show as running on the server. Default 10 s.
    #[serde(default = "default_cancel_timeout")]
    pub cancel_timeout_secs: u64,
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

/// The services a trial can depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `[minio]`.
    Minio,
    /// `[victoriametrics]`.
    VictoriaMetrics,
    /// `[trino]`.
    Trino,
}

impl Service {
    /// All services, in the order `doctor` shows them.
    pub const ALL: [Service; 3] = [Service::Minio, Service::VictoriaMetrics, Service::Trino];

    /// The section name in a target file.
    pub fn section(self) -> &'static str {
        match self {
            Service::Minio => "minio",
            Service::VictoriaMetrics => "victoriametrics",
            Service::Trino => "trino",
        }
    }
}

/// The sections an `E2E_<SECTION>_<KEY>` override may address.
pub(crate) const SECTIONS: [&str; 4] = ["target", "minio", "victoriametrics", "trino"];

/// The raw file layout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetFile {
    pub target: Settings,
    #[serde(default)]
    pub minio: Option<MinioConfig>,
    #[serde(default)]
    pub victoriametrics: Option<VictoriaMetricsConfig>,
    #[serde(default)]
    pub trino: Option<TrinoConfig>,
}

/// A resolved target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The target's name (its file stem).
    pub name: String,
    /// The file it was read from.
    pub source: PathBuf,
    /// `[target]`.
    pub settings: Settings,
    /// `[minio]`, when the target has an object store to validate.
    pub minio: Option<MinioConfig>,
    /// `[victoriametrics]`, when the target has a metrics store to validate.
    pub victoriametrics: Option<VictoriaMetricsConfig>,
    /// `[trino]`, when the target has a SQL engine to validate.
    pub trino: Option<TrinoConfig>,
    /// The environment credentials are read from (process over stack env file).
    pub(crate) env: Env,
}

impl Target {
    pub(crate) fn from_file(name: String, source: PathBuf, file: TargetFile, env: Env) -> Self {
        Self {
            name,
            source,
            settings: file.target,
            minio: file.minio,
            victoriametrics: file.victoriametrics,
            trino: file.trino,
            env,
        }
    }

    /// `Ok` when the target configures `service`, else the reason its trials are skipped.
    pub fn service_configured(&self, service: Service) -> Result<(), String> {
        let present = match service {
            Service::Minio => self.minio.is_some(),
            Service::VictoriaMetrics => self.victoriametrics.is_some(),
            Service::Trino => self.trino.is_some(),
        };
        if present {
            Ok(())
        } else {
            Err(format!(
                "{} is not configured for target `{}`: add a [{}] section to {} or set E2E_{}_* variables",
                service.section(),
                self.name,
                service.section(),
                self.source.display(),
                service.section().to_uppercase()
            ))
        }
    }

    /// Reads the credential held by the environment variable `var`.
    ///
    /// # Errors
    /// [`ConfigError::MissingCredential`] naming `var` when it is unset or empty.
    pub fn credential(&self, service: &'static str, var: &str) -> Result<Secret, ConfigError> {
        self.env
            .get(var)
            .map(Secret::new)
            .ok_or_else(|| ConfigError::MissingCredential {
                service,
                var: var.to_string(),
            })
    }

    /// Every credential value the target resolves, for scrubbing them from output.
    pub fn secret_values(&self) -> Vec<Secret> {
        let mut vars: Vec<&str> = Vec::new();
        if let Some(m) = &self.minio {
            vars.extend([m.access_key_env.as_str(), m.secret_key_env.as_str()]);
        }
        if let Some(v) = &self.victoriametrics {
            vars.extend(v.bearer_token_env.as_deref());
        }
        if let Some(t) = &self.trino {
            vars.extend(t.password_env.as_deref());
        }
        vars.into_iter()
            .filter_map(|v| self.env.get(v))
            .map(Secret::new)
            .collect()
    }
}
