//! The schema of a target file. Every field documents its default; unknown keys are errors.

use std::fmt;
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
    /// Time a trial may take before the harness stops it and runs its cleanup. Default 240 s.
    /// Together with [`Self::cleanup_budget_secs`] it must stay below nextest's terminate-after
    /// (`.config/nextest.toml`), or a hung trial would be killed before its cleanup ran.
    #[serde(default = "default_trial_timeout")]
    pub trial_timeout_secs: u64,
    /// What a run may do to the platform: `read-write` or `read-only`. Default: `read-write`
    /// for `local` and `kind` targets, `read-only` for a live `cluster` (production must say
    /// `read-write` to be written to). In read-only mode a trial that writes is not run at all
    /// and is reported as refused by policy.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Heavy or disruptive trials this target allows (each trial names its key; see
    /// `carbon-e2e validate --plan`): `heavy-query`, `delete-series`, `admin-token`,
    /// `failed-login`, `platform-backup`. Default: every one for `local` and `kind`, none for
    /// `cluster`.
    #[serde(default)]
    pub opt_in: Option<Vec<String>>,
    /// Sections whose credential may go over plain `http://` to a host other than loopback
    /// (e.g. `["dolphinscheduler"]` for an in-cluster Service without TLS). Default: none, so
    /// such a target does not load. The object store is exempt: S3 signs requests and never
    /// sends its secret. `doctor` and the report print what this allows.
    #[serde(default)]
    pub allow_insecure_credentials: Vec<String>,
    /// Time all of a trial's cleanups may take together, after the trial ends, times out or is
    /// stopped by SIGTERM/SIGINT. Default 45 s.
    #[serde(default = "default_cleanup_budget")]
    pub cleanup_budget_secs: u64,
    /// Time one cleanup action may take (within the budget). Default 20 s.
    #[serde(default = "default_cleanup_step")]
    pub cleanup_step_timeout_secs: u64,
    /// Whether the target's services are the local stack's (`carbon-e2e stack up`), however
    /// they are reached: then the stack's env file (`<stack dir>/stack.env`, which names its
    /// kubeconfig, credentials and the log shipper's directory) is read under the process
    /// environment, `validate` brings the stack up and reaps leftovers before a run, and
    /// live-only trials are reported as such. Default: `true` for `kind = "local"`, else
    /// `false`. `local-k8s.toml` is a `cluster` that says `true`; a copy for a real cluster
    /// leaves it out.
    #[serde(default)]
    pub local_stack: Option<bool>,
    /// A PEM file of extra CA certificates every service's client trusts, unless its section
    /// names its own `ca_file`. The system's certificate store and the bundled webpki roots are
    /// always trusted; a relative path is read from the target file's directory.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_request_timeout() -> u64 {
    10
}

fn default_trial_timeout() -> u64 {
    240
}

fn default_cleanup_budget() -> u64 {
    45
}

fn default_cleanup_step() -> u64 {
    20
}

/// What a run may do to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Only reads: trials that create, change or load anything are refused by policy.
    ReadOnly,
    /// Trials may create what they need (named with the run id, owned, cleaned up).
    ReadWrite,
}

impl Mode {
    /// As written in a target file.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadOnly => "read-only",
            Mode::ReadWrite => "read-write",
        }
    }
}

/// The heavy or disruptive trial kinds a target can opt in to.
pub const OPT_INS: [&str; 6] = [
    "heavy-query",
    "delete-series",
    "admin-token",
    "failed-login",
    "platform-backup",
    "upload-report",
];

impl Settings {
    /// [`Self::request_timeout_secs`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// [`Self::trial_timeout_secs`] as a duration.
    pub fn trial_timeout(&self) -> Duration {
        Duration::from_secs(self.trial_timeout_secs)
    }

    /// [`Self::cleanup_budget_secs`] as a duration.
    pub fn cleanup_budget(&self) -> Duration {
        Duration::from_secs(self.cleanup_budget_secs)
    }

    /// [`Self::cleanup_step_timeout_secs`] as a duration.
    pub fn cleanup_step_timeout(&self) -> Duration {
        Duration::from_secs(self.cleanup_step_timeout_secs)
    }

    /// The mode in force: the file's, else the default for the target's kind.
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or(match self.kind {
            TargetKind::Local | TargetKind::Kind => Mode::ReadWrite,
            TargetKind::Cluster => Mode::ReadOnly,
        })
    }

    /// Whether the target's services are the local stack's: [`Self::local_stack`], else
    /// whether it is a `local` target.
    pub fn uses_local_stack(&self) -> bool {
        self.local_stack.unwrap_or(self.kind == TargetKind::Local)
    }

    /// Whether the target allows the heavy or disruptive trials of kind `key`.
    pub fn allows(&self, key: &str) -> bool {
        match &self.opt_in {
            Some(list) => list.iter().any(|k| k == key),
            None => self.kind != TargetKind::Cluster,
        }
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
    /// A PEM file of extra CA certificates this service's client trusts (TLS verification stays
    /// on; the system store and the bundled roots are trusted too). Default: `target.ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
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
    /// A PEM file of extra CA certificates this service's client trusts (TLS verification stays
    /// on; the system store and the bundled roots are trusted too). Default: `target.ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
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

/// Which generation of DolphinScheduler's REST API to speak, named by the server versions it
/// covers: `"auto"` (the default), `"pre-3.3"` or `"3.3+"`.
///
/// The names `v1`/`v2` of earlier releases are refused with a message naming these: DolphinScheduler
/// has a real `/v2` REST API, which is neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(try_from = "String")]
pub enum DsApi {
    /// Ask the server once (see `carbon-dolphinscheduler`); the default.
    #[default]
    Auto,
    /// `"pre-3.3"`: 3.2 and before: `process-definition`, `process-instances`,
    /// `start-process-instance`.
    UpTo3_2,
    /// `"3.3+"`: 3.3 and after: `workflow-definition`, `workflow-instances`,
    /// `start-workflow-instance`.
    From3_3,
}

impl DsApi {
    /// The setting's value as a target file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DsApi::Auto => "auto",
            DsApi::UpTo3_2 => "pre-3.3",
            DsApi::From3_3 => "3.3+",
        }
    }
}

impl TryFrom<String> for DsApi {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "auto" => Ok(DsApi::Auto),
            "pre-3.3" => Ok(DsApi::UpTo3_2),
            "3.3+" => Ok(DsApi::From3_3),
            "v1" => Err(
                "`v1` is no longer accepted: write \"pre-3.3\" (DolphinScheduler 3.2 and before), or \"auto\""
                    .into(),
            ),
            "v2" => Err(
                "`v2` is no longer accepted: write \"3.3+\" (DolphinScheduler 3.3 and after; not its /v2 REST API), or \"auto\""
                    .into(),
            ),
            other => Err(format!(
                "unknown API generation `{other}`: expected \"auto\", \"pre-3.3\" or \"3.3+\""
            )),
        }
    }
}

impl std::fmt::Display for DsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// API generation: `"auto"` (default), `"pre-3.3"` (3.2 and before) or `"3.3+"`.
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
    /// A PEM file of extra CA certificates this service's client trusts (TLS verification stays
    /// on; the system store and the bundled roots are trusted too). Default: `target.ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
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

fn default_loki_window() -> u64 {
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
    #[serde(default = "default_visibility_timeout")]
    pub visibility_timeout_secs: u64,
    /// A PEM file of extra CA certificates this service's client trusts (TLS verification stays
    /// on; the system store and the bundled roots are trusted too). Default: `target.ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_probe_metric() -> String {
    "carbon_e2e_alert_probe".into()
}

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
    #[serde(default = "default_loki_window")]
    pub window_minutes: u64,
}

fn default_grafana_metrics_query() -> String {
    "up".into()
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
    /// Namespaces the pod, workload, volume and job checks look at. Default: the platform's
    /// (PLATFORM.md): `data-platform`, `monitoring`, `velero`, `argocd`, `kyverno`. Each must
    /// exist, and together they must hold at least one pod: a mistyped scope fails every
    /// scoped check naming this key, it never passes over nothing.
    pub namespaces: Vec<String>,
    /// Check every namespace instead of `namespaces` (still minus `exclude_namespaces` and the
    /// namespaces carbon-e2e runs create). Default false: the platform's own namespaces only.
    pub cluster_wide: bool,
    /// Namespaces they skip.
    pub exclude_namespaces: Vec<String>,
    /// Object kinds the scope must hold at least one of (`DaemonSet`, `PersistentVolumeClaim`,
    /// `Job`): a check over a kind listed here fails when the scope has none. A kind not
    /// listed may be absent; the check then passes saying so. Default: `DaemonSet` (Fluent
    /// Bit) and `PersistentVolumeClaim` (MinIO's volume), which the platform has.
    pub required_kinds: Vec<String>,
    /// Pods neither Running and Ready nor Succeeded must be fewer than this.
    pub max_unhealthy_pods: usize,
    /// Healthy running pods over all non-completed pods, in percent, at least.
    pub min_running_percent: f64,
    /// Workloads that must be available with all replicas ready.
    pub critical_workloads: Vec<CriticalWorkload>,
    /// Failed Jobs allowed.
    pub max_failed_jobs: usize,
    /// Where ArgoCD's Applications live.
    pub argocd_namespace: String,
    /// Applications meeting `argocd_counts`, at least.
    pub min_argocd_healthy: usize,
    /// Which Applications count towards `min_argocd_healthy`. Default `synced-and-healthy`.
    pub argocd_counts: ArgoCounts,
    /// Where Kyverno's PolicyExceptions are counted (empty: all namespaces).
    pub kyverno_namespace: String,
    /// PolicyExceptions, at least.
    pub min_policy_exceptions: usize,
}

/// Which ArgoCD Applications meet `[platform] min_argocd_healthy`. Whatever counts, the check
/// reports Synced n/N and Healthy n/N and lists every Application that is not both.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ArgoCounts {
    /// Synced and Healthy (the default: an Application that is either alone is not done).
    #[default]
    SyncedAndHealthy,
    /// Synced or Healthy (the plan's wording of its hand check).
    SyncedOrHealthy,
    /// Synced, whatever its health.
    Synced,
    /// Healthy, whatever its sync status.
    Healthy,
}

impl ArgoCounts {
    /// Whether an Application with this sync and health status counts.
    pub fn counts(self, synced: bool, healthy: bool) -> bool {
        match self {
            Self::SyncedAndHealthy => synced && healthy,
            Self::SyncedOrHealthy => synced || healthy,
            Self::Synced => synced,
            Self::Healthy => healthy,
        }
    }
}

impl fmt::Display for ArgoCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SyncedAndHealthy => "Synced and Healthy",
            Self::SyncedOrHealthy => "Synced or Healthy",
            Self::Synced => "Synced",
            Self::Healthy => "Healthy",
        })
    }
}

impl Default for PlatformConfig {
    fn default() -> Self {
        let dp = |app: &str| CriticalWorkload {
            namespace: "data-platform".into(),
            selector: format!("app={app}"),
        };
        Self {
            namespaces: ["data-platform", "monitoring", "velero", "argocd", "kyverno"]
                .map(String::from)
                .to_vec(),
            cluster_wide: false,
            exclude_namespaces: Vec::new(),
            required_kinds: vec!["DaemonSet".into(), "PersistentVolumeClaim".into()],
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
            argocd_counts: ArgoCounts::default(),
            kyverno_namespace: String::new(),
            min_policy_exceptions: 11,
        }
    }
}

/// `[velero]`: the backup server, read and driven through its custom resources in the cluster
/// of `[kubernetes]`; a backup's files are read from the `[minio]` store its storage location
/// names. Defaults: the platform's (PLATFORM.md: four schedules keeping 30 days, backups of
/// `data-platform`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VeleroConfig {
    /// Velero's namespace.
    pub namespace: String,
    /// The BackupStorageLocation backups go to.
    pub storage_location: String,
    /// Its last validation must be this recent, in seconds (Velero validates every minute by
    /// default).
    pub max_validation_age_secs: u64,
    /// Schedules that must exist, by name (empty: any, counted against `min_schedules`).
    pub schedules: Vec<String>,
    /// Schedules, at least.
    pub min_schedules: usize,
    /// The retention every schedule's backups must keep, in hours.
    pub schedule_ttl_hours: u64,
    /// The namespace whose recent Completed backup the smoke tier looks for, and which the
    /// plan's own backup command (`--include-namespaces`, opt-in `platform-backup`) backs up.
    pub backup_namespace: String,
    /// That backup must have completed within this many hours.
    pub max_backup_age_hours: u64,
    /// How long a backup or restore may take to finish, in seconds.
    pub backup_timeout_secs: u64,
    /// How late past its due time a schedule's next backup may be, in seconds, before the
    /// schedule counts as not firing (default 3600).
    pub schedule_grace_secs: u64,
    /// The image of the pod the restore trial waits to be Ready: it must exist for the cluster
    /// (default `registry.k8s.io/pause:3.10`; a mirror of it on an air-gapped cluster).
    pub probe_image: String,
}

impl Default for VeleroConfig {
    fn default() -> Self {
        Self {
            namespace: "velero".into(),
            storage_location: "default".into(),
            max_validation_age_secs: 600,
            schedules: Vec::new(),
            min_schedules: 4,
            schedule_ttl_hours: 720,
            backup_namespace: "data-platform".into(),
            max_backup_age_hours: 26,
            backup_timeout_secs: 180,
            schedule_grace_secs: 3600,
            probe_image: "registry.k8s.io/pause:3.10".into(),
        }
    }
}

impl VeleroConfig {
    /// [`Self::backup_timeout_secs`] as a duration.
    pub fn backup_timeout(&self) -> Duration {
        Duration::from_secs(self.backup_timeout_secs)
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
    /// `[trino]` with `warehouse_bucket` set (and `[minio]`): the Iceberg warehouse's files.
    IcebergWarehouse,
    /// `[loki]`.
    Loki,
    /// `[loki]` with `shipper_dir` set: a directory the log shipper watches on this machine.
    LokiShipper,
    /// `[vmalert]`.
    VmAlert,
    /// `[vmalert]` with `probe_rule` set, and `[victoriametrics]` to write the probe sample.
    VmAlertProbe,
    /// `[grafana]`.
    Grafana,
    /// `[kubernetes]`.
    Kubernetes,
    /// `[velero]` and `[kubernetes]`: Velero's resources in the cluster.
    Velero,
}

impl Service {
    /// All services, in the order `doctor` shows them.
    pub const ALL: [Service; 13] = [
        Service::Minio,
        Service::VictoriaMetrics,
        Service::Trino,
        Service::IcebergWarehouse,
        Service::DolphinScheduler,
        Service::DolphinSchedulerDatabase,
        Service::Loki,
        Service::LokiShipper,
        Service::VmAlert,
        Service::VmAlertProbe,
        Service::Grafana,
        Service::Kubernetes,
        Service::Velero,
    ];

    /// The section name in a target file.
    pub fn section(self) -> &'static str {
        match self {
            Service::Minio => "minio",
            Service::VictoriaMetrics => "victoriametrics",
            Service::Trino | Service::IcebergWarehouse => "trino",
            Service::DolphinScheduler | Service::DolphinSchedulerDatabase => "dolphinscheduler",
            Service::Loki | Service::LokiShipper => "loki",
            Service::VmAlert | Service::VmAlertProbe => "vmalert",
            Service::Grafana => "grafana",
            Service::Kubernetes => "kubernetes",
            Service::Velero => "velero",
        }
    }
}

/// The sections an `E2E_<SECTION>_<KEY>` override may address.
pub(crate) const SECTIONS: [&str; 13] = [
    "target",
    "minio",
    "victoriametrics",
    "trino",
    "dolphinscheduler",
    "loki",
    "vmalert",
    "grafana",
    "kubernetes",
    "platform",
    "velero",
    "gate",
    "report",
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
    pub loki: Option<LokiConfig>,
    #[serde(default)]
    pub vmalert: Option<VmAlertConfig>,
    #[serde(default)]
    pub grafana: Option<GrafanaConfig>,
    pub kubernetes: Option<KubernetesConfig>,
    #[serde(default)]
    pub platform: Option<PlatformConfig>,
    #[serde(default)]
    pub velero: Option<VeleroConfig>,
    #[serde(default)]
    pub gate: Option<crate::GateConfig>,
    #[serde(default)]
    pub report: Option<crate::ReportConfig>,
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
    /// `[loki]`, when the target has a log store to validate.
    pub loki: Option<LokiConfig>,
    /// `[vmalert]`, when the target has alerting rules to validate.
    pub vmalert: Option<VmAlertConfig>,
    /// `[grafana]`, when the target has a Grafana to validate (live platforms).
    pub grafana: Option<GrafanaConfig>,
    /// `[kubernetes]`, when the target has a cluster to reach.
    pub kubernetes: Option<KubernetesConfig>,
    /// `[platform]`: health thresholds (absent: the staging defaults).
    pub platform: Option<PlatformConfig>,
    /// `[velero]`, when the target has a Velero to validate.
    pub velero: Option<VeleroConfig>,
    /// `[gate]`: the acceptance gate's settings (absent: the defaults, staging's numbers).
    pub gate: Option<crate::GateConfig>,
    /// `[report]`: where the evidence bundle is uploaded (absent: it is not).
    pub report: Option<crate::ReportConfig>,
    /// Whether this run writes to a target its file makes read-only, because `validate
    /// --allow-writes` (`E2E_ALLOW_WRITES=1`) said so: every report of the run says it.
    pub allow_writes: bool,
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
            loki: file.loki,
            vmalert: file.vmalert,
            grafana: file.grafana,
            kubernetes: file.kubernetes,
            platform: file.platform,
            velero: file.velero,
            gate: file.gate,
            report: file.report,
            allow_writes: false,
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
            Service::IcebergWarehouse => {
                let Some(t) = &self.trino else {
                    return self.service_configured(Service::Trino);
                };
                if t.warehouse_bucket.is_none() {
                    return Err(format!(
                        "the Iceberg warehouse's files are not visible to target `{}`: set trino.warehouse_bucket (and warehouse_prefix) in {} to the [minio] bucket that holds the warehouse",
                        self.name,
                        self.source.display()
                    ));
                }
                self.service_configured(Service::Minio)?;
                true
            }
            Service::Kubernetes => self.kubernetes.is_some(),
            Service::Velero => {
                if self.velero.is_some() {
                    return self.service_configured(Service::Kubernetes);
                }
                false
            }
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
                // A `k8s:` Secret reference is read when the trial starts (a missing Secret
                // fails it then, naming the reference); listing sends nothing.
                if self.env.get(var).is_none() && !var.starts_with("k8s:") {
                    return Err(format!(
                        "the dolphinscheduler metadata database URL is not available: the variable {var} (dolphinscheduler.database_url_env) is unset"
                    ));
                }
                true
            }
            Service::Loki => self.loki.is_some(),
            Service::LokiShipper => {
                let Some(loki) = &self.loki else {
                    return self.service_configured(Service::Loki);
                };
                if loki.shipper_dir.is_none() || loki.shipper_selector.is_none() {
                    return Err(format!(
                        "no log-shipper directory on this machine for target `{}`: set loki.shipper_dir and loki.shipper_selector in {} (the local stack exports E2E_LOKI_SHIPPER_DIR); on a live platform, shipping from a pod the trial runs is not implemented yet",
                        self.name,
                        self.source.display()
                    ));
                }
                true
            }
            Service::VmAlert => self.vmalert.is_some(),
            Service::VmAlertProbe => {
                let Some(vmalert) = &self.vmalert else {
                    return self.service_configured(Service::VmAlert);
                };
                if vmalert.probe_rule.is_none() {
                    return Err(format!(
                        "no probe rule for target `{}`: set vmalert.probe_rule in {} to a rule that fires on {}{{e2e_run=\"<run id>\"}} > 0",
                        self.name,
                        self.source.display(),
                        vmalert.probe_metric
                    ));
                }
                return self.service_configured(Service::VictoriaMetrics);
            }
            Service::Grafana => self.grafana.is_some(),
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

    /// The CA file a service's client trusts: its section's `ca_file`, else `target.ca_file`;
    /// a relative path is taken from the target file's directory.
    pub fn ca_file(&self, section_ca_file: Option<&std::path::Path>) -> Option<PathBuf> {
        let file = section_ca_file.or(self.settings.ca_file.as_deref())?;
        Some(match self.source.parent() {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file.to_path_buf(),
        })
    }

    /// Reads the credential held by the environment variable `var`.
    ///
    /// # Errors
    /// [`ConfigError::MissingCredential`] naming the setting and `var` when it is unset or
    /// empty (a `var` that is not a variable's name is never shown: it may be a secret).
    pub fn credential(&self, service: &'static str, var: &str) -> Result<Secret, ConfigError> {
        self.env.get(var).map(Secret::new).ok_or_else(|| {
            let key = self
                .credential_settings()
                .into_iter()
                .find(|(_, v)| *v == var)
                .map_or_else(
                    || "a credential setting".to_string(),
                    |(k, _)| display_key(k),
                );
            ConfigError::MissingCredential {
                service,
                key,
                var: if is_variable_name(var) || var.starts_with("k8s:") {
                    var.to_string()
                } else {
                    "(a value that is not a variable's name: not shown)".to_string()
                },
            }
        })
    }

    /// A variable of the target's environment (process over stack env file) that is not a
    /// secret, e.g. the path `[kubernetes] kubeconfig_env` names.
    pub fn env_var(&self, var: &str) -> Option<String> {
        self.env.get(var)
    }

    /// Every credential value the target resolves, for scrubbing them from output.
    pub fn secret_values(&self) -> Vec<Secret> {
        self.credential_vars()
            .into_iter()
            .filter_map(|v| self.env.get(v))
            .map(Secret::new)
            .collect()
    }

    /// Every credential setting (`*_env`) the target names: an environment variable or a
    /// `k8s:<namespace>/<name>#<key>` Secret reference.
    pub fn credential_vars(&self) -> Vec<&str> {
        self.credential_settings()
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// The credential settings with their keys (`trino.password_env`, ...).
    pub fn credential_settings(&self) -> Vec<(&'static str, &str)> {
        let mut vars: Vec<(&'static str, &str)> = Vec::new();
        if let Some(m) = &self.minio {
            vars.extend([
                ("minio.access_key_env", m.access_key_env.as_str()),
                ("minio.secret_key_env", m.secret_key_env.as_str()),
            ]);
        }
        if let Some(v) = &self.victoriametrics {
            vars.extend(
                v.bearer_token_env
                    .as_deref()
                    .map(|t| ("victoriametrics.bearer_token_env", t)),
            );
        }
        if let Some(t) = &self.trino {
            vars.extend(t.password_env.as_deref().map(|p| ("trino.password_env", p)));
        }
        if let Some(d) = &self.dolphinscheduler {
            vars.push(("dolphinscheduler.password_env", d.password_env.as_str()));
            vars.extend(
                d.token_env
                    .as_deref()
                    .map(|t| ("dolphinscheduler.token_env", t)),
            );
            vars.extend(
                d.database_url_env
                    .as_deref()
                    .map(|u| ("dolphinscheduler.database_url_env", u)),
            );
        }
        if let Some(l) = &self.loki {
            vars.extend(
                l.bearer_token_env
                    .as_deref()
                    .map(|t| ("loki.bearer_token_env", t)),
            );
        }
        if let Some(a) = &self.vmalert {
            vars.extend(
                a.bearer_token_env
                    .as_deref()
                    .map(|t| ("vmalert.bearer_token_env", t)),
            );
        }
        if let Some(g) = &self.grafana {
            vars.extend(g.token_env.as_deref().map(|t| ("grafana.token_env", t)));
            vars.extend(
                g.password_env
                    .as_deref()
                    .map(|p| ("grafana.password_env", p)),
            );
        }
        vars
    }

    /// Every service location the target names, with its key (`minio.endpoint`, ...).
    pub fn service_urls(&self) -> Vec<(&'static str, &Url)> {
        let mut urls: Vec<(&'static str, &Url)> = Vec::new();
        if let Some(m) = &self.minio {
            urls.push(("minio.endpoint", &m.endpoint));
        }
        if let Some(v) = &self.victoriametrics {
            urls.push(("victoriametrics.url", &v.url));
            urls.extend(v.write_url.iter().map(|u| ("victoriametrics.write_url", u)));
        }
        if let Some(t) = &self.trino {
            urls.push(("trino.url", &t.url));
        }
        if let Some(d) = &self.dolphinscheduler {
            urls.push(("dolphinscheduler.url", &d.url));
        }
        if let Some(l) = &self.loki {
            urls.push(("loki.url", &l.url));
            urls.extend(l.push_url.iter().map(|u| ("loki.push_url", u)));
        }
        if let Some(a) = &self.vmalert {
            urls.push(("vmalert.url", &a.url));
        }
        if let Some(g) = &self.grafana {
            urls.push(("grafana.url", &g.url));
        }
        urls
    }

    /// The same locations, to rewrite (e.g. a `k8s://` reference into the loopback URL of
    /// its port-forward).
    pub fn service_urls_mut(&mut self) -> Vec<(&'static str, &mut Url)> {
        let mut urls: Vec<(&'static str, &mut Url)> = Vec::new();
        if let Some(m) = &mut self.minio {
            urls.push(("minio.endpoint", &mut m.endpoint));
        }
        if let Some(v) = &mut self.victoriametrics {
            urls.push(("victoriametrics.url", &mut v.url));
            urls.extend(
                v.write_url
                    .iter_mut()
                    .map(|u| ("victoriametrics.write_url", u)),
            );
        }
        if let Some(t) = &mut self.trino {
            urls.push(("trino.url", &mut t.url));
        }
        if let Some(d) = &mut self.dolphinscheduler {
            urls.push(("dolphinscheduler.url", &mut d.url));
        }
        if let Some(l) = &mut self.loki {
            urls.push(("loki.url", &mut l.url));
            urls.extend(l.push_url.iter_mut().map(|u| ("loki.push_url", u)));
        }
        if let Some(a) = &mut self.vmalert {
            urls.push(("vmalert.url", &mut a.url));
        }
        if let Some(g) = &mut self.grafana {
            urls.push(("grafana.url", &mut g.url));
        }
        urls
    }

    /// Puts a resolved credential into the target's environment under `var` (for a `k8s:`
    /// reference, the reference itself), so [`Target::credential`] finds it and
    /// [`Target::secret_values`] scrubs it.
    pub fn set_credential(&mut self, var: &str, value: &Secret) {
        self.env.set(var, value.expose());
    }
}

/// Whether `url` is a `k8s://<namespace>/<service>:<port>[/path]` Service reference (the
/// harness opens a port-forward for it; `carbon-kube` resolves it).
pub fn is_service_ref(url: &Url) -> bool {
    k8s_service_ref_error(url).is_none()
}

/// Why a `k8s://` URL is not a valid Service reference, or `None` when it is one.
pub fn k8s_service_ref_error(url: &Url) -> Option<String> {
    if url.scheme() != "k8s" {
        return Some("not a k8s:// URL".into());
    }
    let ns = url.host_str().unwrap_or_default();
    let first = url
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    match first.split_once(':') {
        Some((svc, port)) if !ns.is_empty() && !svc.is_empty() && port.parse::<u16>().is_ok() => {
            None
        }
        _ => Some(format!(
            "`{url}` is not a Service reference: write k8s://<namespace>/<service>:<port>[/path]"
        )),
    }
}

/// Whether a credential setting is a `k8s:<namespace>/<name>#<key>` Secret reference, and
/// if it is malformed, why.
pub fn k8s_secret_ref_error(var: &str) -> Option<String> {
    let rest = var.strip_prefix("k8s:")?;
    let ok = rest.split_once('#').is_some_and(|(path, key)| {
        path.split_once('/').is_some_and(|(ns, name)| {
            [ns, name, key]
                .iter()
                .all(|s| !s.is_empty() && !s.contains('/'))
        })
    });
    (!ok).then(|| format!("`{var}` is not a Secret reference: write k8s:<namespace>/<name>#<key>"))
}

/// Whether `text` can be an environment variable's name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_variable_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A dotted key as people read it in a target file: `trino.password_env` → `[trino] password_env`.
pub(crate) fn display_key(dotted: &str) -> String {
    // `gate.pod_health.weight` is `[gate.pod_health] weight`.
    match dotted.rsplit_once('.') {
        Some((section, key)) => format!("[{section}] {key}"),
        None => format!("[{dotted}]"),
    }
}
