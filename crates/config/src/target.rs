//! The schema of a target file. Every field documents its default; unknown keys are errors.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::section::{ServiceSection, Tls};
use crate::{ConfigError, Env, Secret};

pub use crate::section::dashboards::DashboardsConfig;
pub use crate::section::dolphinscheduler::{DolphinSchedulerConfig, DsApi};
pub use crate::section::entrypoints::EntryPointsConfig;
pub use crate::section::grafana::GrafanaConfig;
pub use crate::section::kubernetes::KubernetesConfig;
pub use crate::section::loki::LokiConfig;
pub use crate::section::minio::MinioConfig;
pub use crate::section::platform::{ArgoCounts, CriticalWorkload, PlatformConfig};
pub use crate::section::superset::SupersetConfig;
pub use crate::section::trino::TrinoConfig;
pub use crate::section::velero::VeleroConfig;
pub use crate::section::victoriametrics::VictoriaMetricsConfig;
pub use crate::section::vmalert::VmAlertConfig;

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
    /// `failed-login`, `platform-backup`; and the writes of a gated run: `upload-report` (the
    /// evidence bundle) and `push-results` (the results as metrics, allowed on a read-only
    /// target with this opt-in). Default: every one for `local` and `kind`, none for
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
pub const OPT_INS: [&str; 7] = [
    "heavy-query",
    "delete-series",
    "admin-token",
    "failed-login",
    "platform-backup",
    "upload-report",
    "push-results",
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

/// The platform's services: each is a server the suites talk to, with a section of its own (the
/// Iceberg REST catalog's settings are in `[trino]`), a readiness probe and a version. The
/// declarations (probe, version, client) are in the client crates, listed by `carbon-e2e`'s
/// registry; what a section declares (locations, credentials, TLS) is beside its fields
/// ([`crate::ServiceSection`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `[minio]`: the S3-compatible object store.
    Minio,
    /// `[victoriametrics]`.
    VictoriaMetrics,
    /// `[trino]`.
    Trino,
    /// `[trino] rest_catalog_url`: the Iceberg REST catalog Trino's Iceberg uses.
    IcebergRestCatalog,
    /// `[dolphinscheduler]`.
    DolphinScheduler,
    /// `[loki]`.
    Loki,
    /// `[vmalert]`.
    VmAlert,
    /// `[grafana]`.
    Grafana,
    /// `[superset]`.
    Superset,
    /// `[kubernetes]`.
    Kubernetes,
    /// `[velero]` (and `[kubernetes]`): Velero's resources in the cluster.
    Velero,
    /// `[entrypoints]`: the platform's public URLs.
    EntryPoints,
}

impl Service {
    /// All services, in the order `doctor` and the run manifest show them.
    pub const ALL: [Service; 12] = [
        Service::Kubernetes,
        Service::Minio,
        Service::VictoriaMetrics,
        Service::VmAlert,
        Service::Trino,
        Service::IcebergRestCatalog,
        Service::Superset,
        Service::DolphinScheduler,
        Service::Loki,
        Service::Grafana,
        Service::Velero,
        Service::EntryPoints,
    ];

    /// The section of a target file that configures it.
    pub fn section(self) -> &'static str {
        match self {
            Service::Minio => "minio",
            Service::VictoriaMetrics => "victoriametrics",
            Service::Trino | Service::IcebergRestCatalog => "trino",
            Service::DolphinScheduler => "dolphinscheduler",
            Service::Loki => "loki",
            Service::VmAlert => "vmalert",
            Service::Grafana => "grafana",
            Service::Superset => "superset",
            Service::Kubernetes => "kubernetes",
            Service::Velero => "velero",
            Service::EntryPoints => "entrypoints",
        }
    }

    /// Its name in `doctor`, the run manifest (`component`) and its clients' errors.
    pub fn name(self) -> &'static str {
        match self {
            Service::IcebergRestCatalog => "iceberg-rest",
            other => other.section(),
        }
    }
}

/// What a service can do for a trial beyond answering its API, when the target says how:
/// each belongs to a service and needs settings of its own. A trial that needs one declares it
/// beside its services; `doctor` probes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// `[trino] warehouse_bucket` (and `[minio]`): the Iceberg warehouse's files are visible.
    IcebergWarehouse,
    /// `[dolphinscheduler] database_url_env`: its metadata database can be queried.
    DolphinSchedulerDatabase,
    /// `[loki] shipper_dir`: a directory the log shipper watches on this machine.
    LokiShipper,
    /// `[vmalert] probe_rule` (and `[victoriametrics]` to write the probe sample).
    VmAlertProbe,
}

impl Capability {
    /// All capabilities, in `doctor`'s order.
    pub const ALL: [Capability; 4] = [
        Capability::IcebergWarehouse,
        Capability::DolphinSchedulerDatabase,
        Capability::LokiShipper,
        Capability::VmAlertProbe,
    ];

    /// Its name, for people.
    pub fn name(self) -> &'static str {
        match self {
            Capability::IcebergWarehouse => "iceberg warehouse",
            Capability::DolphinSchedulerDatabase => "dolphinscheduler db",
            Capability::LokiShipper => "loki shipper",
            Capability::VmAlertProbe => "vmalert probe",
        }
    }

    /// The service it belongs to.
    pub fn service(self) -> Service {
        match self {
            Capability::IcebergWarehouse => Service::Trino,
            Capability::DolphinSchedulerDatabase => Service::DolphinScheduler,
            Capability::LokiShipper => Service::Loki,
            Capability::VmAlertProbe => Service::VmAlert,
        }
    }
}

/// Declares a target file's sections once: the raw file layout ([`TargetFile`]), the resolved
/// [`Target`]'s fields, the move from one to the other, and the list of service sections
/// (those holding a [`ServiceSection`]) that everything iterating them goes through (the
/// credential scrubber, `k8s://` reach, the load checks, the override names, whether a service
/// is configured). A new service's section is one line under `services`.
macro_rules! target_sections {
    (
        services { $( $(#[$sdoc:meta])* $sfield:ident: $sty:ty, )* }
        others { $( $(#[$odoc:meta])* $ofield:ident: $oty:ty, )* }
    ) => {
        /// The service sections a target file may hold.
        pub const SERVICE_SECTIONS: &[&str] = &[$(stringify!($sfield)),*];

        /// The raw file layout.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct TargetFile {
            pub target: Settings,
            $( #[serde(default)] pub $sfield: Option<$sty>, )*
            $( #[serde(default)] pub $ofield: Option<$oty>, )*
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
            $( $(#[$sdoc])* pub $sfield: Option<$sty>, )*
            $( $(#[$odoc])* pub $ofield: Option<$oty>, )*
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
                    $( $sfield: file.$sfield, )*
                    $( $ofield: file.$ofield, )*
                    allow_writes: false,
                    env,
                }
            }

            /// The service sections this target configures.
            pub fn sections(&self) -> Vec<&dyn ServiceSection> {
                let mut out: Vec<&dyn ServiceSection> = Vec::new();
                $(if let Some(s) = &self.$sfield { out.push(s); })*
                out
            }

            /// The same, to rewrite their locations.
            pub fn sections_mut(&mut self) -> Vec<&mut dyn ServiceSection> {
                let mut out: Vec<&mut dyn ServiceSection> = Vec::new();
                $(if let Some(s) = &mut self.$sfield { out.push(s); })*
                out
            }
        }
    };
}

target_sections! {
    services {
        /// `[minio]`, when the target has an object store to validate.
        minio: MinioConfig,
        /// `[victoriametrics]`, when the target has a metrics store to validate.
        victoriametrics: VictoriaMetricsConfig,
        /// `[trino]`, when the target has a SQL engine to validate.
        trino: TrinoConfig,
        /// `[dolphinscheduler]`, when the target has a workflow scheduler to validate.
        dolphinscheduler: DolphinSchedulerConfig,
        /// `[loki]`, when the target has a log store to validate.
        loki: LokiConfig,
        /// `[vmalert]`, when the target has alerting rules to validate.
        vmalert: VmAlertConfig,
        /// `[grafana]`, when the target has a Grafana to validate (live platforms).
        grafana: GrafanaConfig,
        /// `[superset]`, when the target has a Superset to validate.
        superset: SupersetConfig,
        /// `[kubernetes]`, when the target has a cluster to reach.
        kubernetes: KubernetesConfig,
        /// `[velero]`, when the target has a Velero to validate.
        velero: VeleroConfig,
        /// `[entrypoints]`, when the target has public URLs to reach.
        entrypoints: EntryPointsConfig,
    }
    others {
        /// `[platform]`: health thresholds (absent: the staging defaults).
        platform: PlatformConfig,
        /// `[dashboards]`: the platform's dashboards, counted with data without Grafana (absent:
        /// the defaults, the platform's three).
        dashboards: DashboardsConfig,
        /// `[gate]`: the acceptance gate's settings (absent: the defaults, staging's numbers).
        gate: crate::GateConfig,
        /// `[report]`: where the evidence bundle is uploaded (absent: it is not).
        report: crate::ReportConfig,
    }
}

/// Every section an `E2E_<SECTION>_<KEY>` override may address.
pub(crate) fn section_names() -> impl Iterator<Item = &'static str> {
    ["target", "platform", "dashboards", "gate", "report"]
        .into_iter()
        .chain(SERVICE_SECTIONS.iter().copied())
}

impl Target {
    /// Whether the target has the service section `name`.
    fn has_section(&self, name: &str) -> bool {
        self.sections().iter().any(|s| s.name() == name)
    }

    /// `Ok` when the target configures `service`, else the reason its trials are skipped.
    pub fn service_configured(&self, service: Service) -> Result<(), String> {
        let present = match service {
            Service::IcebergRestCatalog => {
                let Some(t) = &self.trino else {
                    return self.service_configured(Service::Trino);
                };
                if t.rest_catalog_url.is_none() {
                    return Err(format!(
                        "no Iceberg REST catalog named for target `{}`: set trino.rest_catalog_url in {} to the REST catalog Trino's Iceberg catalog uses",
                        self.name,
                        self.source.display()
                    ));
                }
                true
            }
            Service::Velero => {
                if self.velero.is_some() {
                    return self.service_configured(Service::Kubernetes);
                }
                false
            }
            // Every other service is configured by its own section.
            other => self.has_section(other.section()),
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

    /// `Ok` when the target gives what `capability` needs (its service included), else the
    /// reason the trials that need it are skipped.
    pub fn capability_available(&self, capability: Capability) -> Result<(), String> {
        self.service_configured(capability.service())?;
        match capability {
            Capability::IcebergWarehouse => {
                if self
                    .trino
                    .as_ref()
                    .is_some_and(|t| t.warehouse_bucket.is_none())
                {
                    return Err(format!(
                        "the Iceberg warehouse's files are not visible to target `{}`: set trino.warehouse_bucket (and warehouse_prefix) in {} to the [minio] bucket that holds the warehouse",
                        self.name,
                        self.source.display()
                    ));
                }
                self.service_configured(Service::Minio)
            }
            Capability::DolphinSchedulerDatabase => {
                let Some(var) = self
                    .dolphinscheduler
                    .as_ref()
                    .and_then(|d| d.database_url_env.as_ref())
                else {
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
                Ok(())
            }
            Capability::LokiShipper => {
                if self
                    .loki
                    .as_ref()
                    .is_some_and(|l| l.shipper_dir.is_none() || l.shipper_selector.is_none())
                {
                    return Err(format!(
                        "no log-shipper directory on this machine for target `{}`: set loki.shipper_dir and loki.shipper_selector in {} (the local stack exports E2E_LOKI_SHIPPER_DIR); on a live platform, shipping from a pod the trial runs is not implemented yet",
                        self.name,
                        self.source.display()
                    ));
                }
                Ok(())
            }
            Capability::VmAlertProbe => {
                if let Some(vmalert) = &self.vmalert
                    && vmalert.probe_rule.is_none()
                {
                    return Err(format!(
                        "no probe rule for target `{}`: set vmalert.probe_rule in {} to a rule that fires on {}{{e2e_run=\"<run id>\"}} > 0",
                        self.name,
                        self.source.display(),
                        vmalert.probe_metric
                    ));
                }
                self.service_configured(Service::VictoriaMetrics)
            }
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

    /// The credential settings with their keys (`trino.password_env`, ...), as each section
    /// declares them.
    pub fn credential_settings(&self) -> Vec<(&'static str, &str)> {
        self.sections()
            .into_iter()
            .flat_map(|s| s.credentials())
            .collect()
    }

    /// Every service location the target names, with its key (`minio.endpoint`, ...), as each
    /// section declares them.
    pub fn service_urls(&self) -> Vec<(&'static str, Url)> {
        let mut copy = self.clone();
        copy.service_urls_mut()
            .into_iter()
            .map(|(key, url)| (key, url.clone()))
            .collect()
    }

    /// The same locations, to rewrite (e.g. a `k8s://` reference into the loopback URL of
    /// its port-forward).
    pub fn service_urls_mut(&mut self) -> Vec<(&'static str, &mut Url)> {
        self.sections_mut()
            .into_iter()
            .flat_map(|s| s.urls_mut())
            .collect()
    }

    /// The HTTP client of a service's section, made the one way every client is: the target's
    /// request timeout, and the section's TLS (its `ca_file`, else `[target] ca_file`, a
    /// relative path taken from the target file's directory). The client names `service` in
    /// its errors.
    ///
    /// # Errors
    /// When the CA file cannot be read or holds no certificate, or the client cannot be made.
    pub fn http_client(
        &self,
        service: Service,
        section: &dyn ServiceSection,
    ) -> Result<carbon_core::http::HttpClient, carbon_core::http::HttpError> {
        let ca_file = match section.tls() {
            Tls::CaFile { file, .. } => self.ca_file(file),
            Tls::Kubeconfig => None,
        };
        carbon_core::http::HttpClient::new(
            service.name(),
            carbon_core::http::ClientOptions {
                timeout: self.settings.request_timeout(),
                ca_file: ca_file.as_deref(),
            },
        )
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
