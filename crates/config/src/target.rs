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

/// Which generation of DolphinScheduler's REST API to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DsApi {
    /// Ask the server once (see `carbon-dolphinscheduler`); the default.
    #[default]
    Auto,
    /// 3.2 and before: `process-definition`, `process-instances`, `start-process-instance`.
    V1,
    /// 3.3 and after: `workflow-definition`, `workflow-instances`, `start-workflow-instance`.
    V2,
}

/// `[dolphinscheduler]`: the workflow scheduler's API server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DolphinSchedulerConfig {
    /// The API's base URL, context path included, e.g.
    /// `http://dolphinscheduler-api.data-platform:12345/dolphinscheduler`.
    pub url: Url,
    /// The user to log in as. Default `admin`.
    #[serde(default = "default_ds_user")]
    pub user: String,
    /// Environment variable holding that user's password (session login).
    pub password_env: String,
    /// Environment variable holding an access token; when set and non-empty the client sends
    /// it (`token` header) instead of logging in.
    #[serde(default)]
    pub token_env: Option<String>,
    /// API generation: `auto` (default), `v1` (3.2 and before) or `v2` (3.3 and after).
    #[serde(default)]
    pub api: DsApi,
    /// The tenant workflows run as (an OS user on the workers). Default `default`.
    #[serde(default = "default_ds_tenant")]
    pub tenant: String,
    /// The worker group tasks are sent to. Default `default`.
    #[serde(default = "default_ds_worker_group")]
    pub worker_group: String,
    /// How long a workflow instance may take to finish. Default 120 s.
    #[serde(default = "default_ds_workflow_timeout")]
    pub workflow_timeout_secs: u64,
    /// Environment variable holding a `postgres://` URL of the metadata database, for the
    /// trial that reads it with SQL. Absent: that trial is skipped.
    #[serde(default)]
    pub database_url_env: Option<String>,
}

fn default_ds_user() -> String {
    "admin".into()
}

fn default_ds_tenant() -> String {
    "default".into()
}

fn default_ds_worker_group() -> String {
    "default".into()
}

fn default_ds_workflow_timeout() -> u64 {
    120
}

impl DolphinSchedulerConfig {
    /// [`Self::workflow_timeout_secs`] as a duration.
    pub fn workflow_timeout(&self) -> Duration {
        Duration::from_secs(self.workflow_timeout_secs)
    }
}

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
    #[serde(default = "default_visibility_timeout")]
    pub wait_timeout_secs: u64,
}

/// A critical workload of `[platform]`: pods selected by label in a namespace.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CriticalWorkload {
    /// Its namespace.
    pub namespace: String,
    /// A label selector, e.g. `app=trino-coordinator`.
    pub selector: String,
}

/// `[platform]`: the plan's health thresholds (defaults: staging, from PLATFORM.md). Needs
/// `[kubernetes]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformConfig {
    /// Namespaces the pod, workload, volume and job checks look at (empty: all).
    pub namespaces: Vec<String>,
    /// Namespaces they skip.
    pub exclude_namespaces: Vec<String>,
    /// Pods neither Running nor Succeeded (or in a crash/pull back-off) must be fewer than this.
    pub max_unhealthy_pods: usize,
    /// Healthy running pods over all non-completed pods, in percent, at least.
    pub min_running_percent: f64,
    /// Workloads that must be available with all replicas ready.
    pub critical_workloads: Vec<CriticalWorkload>,
    /// Failed Jobs allowed.
    pub max_failed_jobs: usize,
    /// Where ArgoCD's Applications live.
    pub argocd_namespace: String,
    /// Applications Synced and Healthy, at least.
    pub min_argocd_healthy: usize,
    /// Where Kyverno's PolicyExceptions are counted (empty: all namespaces).
    pub kyverno_namespace: String,
    /// PolicyExceptions, at least.
    pub min_policy_exceptions: usize,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        let dp = |app: &str| CriticalWorkload {
            namespace: "data-platform".into(),
            selector: format!("app={app}"),
        };
        Self {
            namespaces: Vec::new(),
            exclude_namespaces: Vec::new(),
            max_unhealthy_pods: 15,
            min_running_percent: 85.0,
            critical_workloads: vec![
                dp("dolphinscheduler-master"),
                dp("dolphinscheduler-worker"),
                dp("dolphinscheduler-api"),
                dp("trino-coordinator"),
                dp("minio"),
                dp("superset"),
            ],
            max_failed_jobs: 0,
            argocd_namespace: "argocd".into(),
            min_argocd_healthy: 15,
            kyverno_namespace: String::new(),
            min_policy_exceptions: 11,
        }
    }
}

impl KubernetesConfig {
    /// [`Self::wait_timeout_secs`] as a duration.
    pub fn wait_timeout(&self) -> Duration {
        Duration::from_secs(self.wait_timeout_secs)
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
    /// `[dolphinscheduler]`.
    DolphinScheduler,
    /// `[dolphinscheduler]` with `database_url_env` set: its metadata database.
    DolphinSchedulerDatabase,
    /// `[kubernetes]`.
    Kubernetes,
}

impl Service {
    /// All services, in the order `doctor` shows them.
    pub const ALL: [Service; 6] = [
        Service::Minio,
        Service::VictoriaMetrics,
        Service::Trino,
        Service::DolphinScheduler,
        Service::DolphinSchedulerDatabase,
        Service::Kubernetes,
    ];

    /// The section name in a target file.
    pub fn section(self) -> &'static str {
        match self {
            Service::Minio => "minio",
            Service::VictoriaMetrics => "victoriametrics",
            Service::Trino => "trino",
            Service::DolphinScheduler | Service::DolphinSchedulerDatabase => "dolphinscheduler",
            Service::Kubernetes => "kubernetes",
        }
    }
}

/// The sections an `E2E_<SECTION>_<KEY>` override may address.
pub(crate) const SECTIONS: [&str; 7] = [
    "target",
    "minio",
    "victoriametrics",
    "trino",
    "dolphinscheduler",
    "kubernetes",
    "platform",
];

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
    pub dolphinscheduler: Option<DolphinSchedulerConfig>,
    #[serde(default)]
    pub kubernetes: Option<KubernetesConfig>,
    #[serde(default)]
    pub platform: Option<PlatformConfig>,
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
    /// `[dolphinscheduler]`, when the target has a workflow scheduler to validate.
    pub dolphinscheduler: Option<DolphinSchedulerConfig>,
    /// `[kubernetes]`, when the target has a cluster to reach.
    pub kubernetes: Option<KubernetesConfig>,
    /// `[platform]`: health thresholds (absent: the staging defaults).
    pub platform: Option<PlatformConfig>,
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
            dolphinscheduler: file.dolphinscheduler,
            kubernetes: file.kubernetes,
            platform: file.platform,
            env,
        }
    }

    /// `Ok` when the target configures `service`, else the reason its trials are skipped.
    pub fn service_configured(&self, service: Service) -> Result<(), String> {
        let present = match service {
            Service::Minio => self.minio.is_some(),
            Service::VictoriaMetrics => self.victoriametrics.is_some(),
            Service::Trino => self.trino.is_some(),
            Service::DolphinScheduler => self.dolphinscheduler.is_some(),
            Service::Kubernetes => self.kubernetes.is_some(),
            Service::DolphinSchedulerDatabase => {
                let Some(ds) = &self.dolphinscheduler else {
                    return self.service_configured(Service::DolphinScheduler);
                };
                let Some(var) = &ds.database_url_env else {
                    return Err(format!(
                        "the dolphinscheduler metadata database is not exposed by target `{}`: set dolphinscheduler.database_url_env in {} (or E2E_DOLPHINSCHEDULER_DATABASE_URL_ENV) to the variable holding a postgres:// URL",
                        self.name,
                        self.source.display()
                    ));
                };
                if self.env.get(var).is_none() {
                    return Err(format!(
                        "the dolphinscheduler metadata database URL is not available: the variable {var} (dolphinscheduler.database_url_env) is unset"
                    ));
                }
                true
            }
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

    /// The section a client needs, or an error naming it: `target.section("trino", &target.trino)`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the section when the target lacks it.
    pub fn section<'a, T>(&self, name: &str, section: &'a Option<T>) -> Result<&'a T, ConfigError> {
        section.as_ref().ok_or_else(|| ConfigError::Invalid {
            target: self.name.clone(),
            key: name.to_string(),
            message: "section missing".into(),
        })
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

    /// A variable of the target's environment (process over stack env file) that is not a
    /// secret, e.g. the path `[kubernetes] kubeconfig_env` names.
    pub fn env_var(&self, var: &str) -> Option<String> {
        self.env.get(var)
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
        if let Some(d) = &self.dolphinscheduler {
            vars.push(d.password_env.as_str());
            vars.extend(d.token_env.as_deref());
            vars.extend(d.database_url_env.as_deref());
        }
        vars.into_iter()
            .filter_map(|v| self.env.get(v))
            .map(Secret::new)
            .collect()
    }
}
