//! `[dolphinscheduler]`: the workflow scheduler.
//! Every field documents its default; unknown keys are errors.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

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

impl super::ServiceSection for DolphinSchedulerConfig {
    fn name(&self) -> &'static str {
        "dolphinscheduler"
    }

    fn credentials(&self) -> Vec<(&'static str, &str)> {
        let mut vars = vec![("dolphinscheduler.password_env", self.password_env.as_str())];
        vars.extend(
            self.token_env
                .as_deref()
                .map(|t| ("dolphinscheduler.token_env", t)),
        );
        vars.extend(
            self.database_url_env
                .as_deref()
                .map(|u| ("dolphinscheduler.database_url_env", u)),
        );
        vars
    }

    fn urls_mut(&mut self) -> Vec<(&'static str, &mut url::Url)> {
        vec![("dolphinscheduler.url", &mut self.url)]
    }

    fn tls(&self) -> super::Tls<'_> {
        super::Tls::CaFile {
            key: "dolphinscheduler.ca_file",
            file: self.ca_file.as_deref(),
        }
    }
}
