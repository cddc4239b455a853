//! Client for vmalert's HTTP API: rule groups with each rule's health, and the active alerts.
//!
//! Spoken: `GET /api/v1/rules` and `GET /api/v1/alerts` (vmalert's Prometheus-like API, as of
//! VictoriaMetrics 1.79), `GET /health`. A rule that never evaluated yet reports health `ok`
//! with `lastEvaluation` at the zero time; [`Rule::evaluated`] tells the two apart.

mod declare;

use std::collections::BTreeMap;

use carbon_config::{ConfigError, Secret, Target};
use carbon_core::http::{HttpClient, HttpError, RequestLine};
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use url::Url;

/// Errors of the vmalert client.
#[derive(Debug, thiserror::Error)]
pub enum VmAlertError {
    /// The request failed or the server refused it.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The target does not configure the service or its token.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The API answered, but not with what the client expects.
    #[error("vmalert: {request}: {message}")]
    Unexpected {
        /// What was sent.
        request: RequestLine,
        /// What was wrong.
        message: String,
    },
    /// A URL that cannot be formed.
    #[error("vmalert: invalid URL {0}")]
    Url(String),
}

/// One rule of a group.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Rule {
    /// The rule's name (`alert:` or `record:`).
    pub name: String,
    /// `alerting` or `recording`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `inactive`, `pending` or `firing` (alerting rules).
    #[serde(default)]
    pub state: String,
    /// The expression.
    #[serde(default)]
    pub query: String,
    /// `for`, in seconds.
    #[serde(default)]
    pub duration: f64,
    /// `ok` or `err`.
    #[serde(default)]
    pub health: String,
    /// The last evaluation's error, empty when it succeeded.
    #[serde(rename = "lastError", default)]
    pub last_error: String,
    /// When it was last evaluated (RFC 3339; year 1 when never).
    #[serde(rename = "lastEvaluation", default)]
    pub last_evaluation: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Rule {
    /// Whether it has been evaluated at least once.
    pub fn evaluated(&self) -> bool {
        !self.last_evaluation.is_empty() && !self.last_evaluation.starts_with("0001-")
    }

    /// Whether its last evaluation failed.
    pub fn in_error(&self) -> bool {
        !self.last_error.is_empty() || !matches!(self.health.as_str(), "ok" | "")
    }
}

/// A rule group.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// Evaluation interval, in seconds.
    #[serde(default)]
    pub interval: f64,
    /// Its rules (`rules` in current vmalert; older releases split them in two lists).
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    alerting_rules: Vec<Rule>,
    #[serde(default)]
    recording_rules: Vec<Rule>,
}

impl Group {
    /// Every rule of the group, whichever list the server put it in.
    pub fn all_rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules
            .iter()
            .chain(&self.alerting_rules)
            .chain(&self.recording_rules)
    }
}

/// An active (pending or firing) alert.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Alert {
    /// The rule's name.
    pub name: String,
    /// `pending` or `firing`.
    pub state: String,
    /// The alert's labels (the series' and the rule's).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The value that triggered it.
    #[serde(default)]
    pub value: String,
    /// When it became active (RFC 3339).
    #[serde(rename = "activeAt", default)]
    pub active_at: String,
}

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
}

#[derive(Debug, Deserialize)]
struct GroupsData {
    groups: Option<Vec<Group>>,
}

#[derive(Debug, Deserialize)]
struct AlertsData {
    alerts: Option<Vec<Alert>>,
}

/// A client for one vmalert.
#[derive(Debug, Clone)]
pub struct VmAlertClient {
    http: HttpClient,
    base: Url,
    token: Option<Secret>,
}

impl VmAlertClient {
    fn request(&self, path: &str) -> Result<RequestBuilder, VmAlertError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| VmAlertError::Url(format!("{}{path}: {e}", self.base)))?;
        let r = self.http.request(Method::GET, url);
        Ok(match &self.token {
            Some(t) => r.bearer_auth(t.expose()),
            None => r,
        })
    }

    /// Checks `/health` answers `OK`.
    ///
    /// # Errors
    /// [`VmAlertError::Http`] naming the endpoint.
    pub async fn health(&self) -> Result<(), VmAlertError> {
        self.http.text(self.request("health")?).await?;
        Ok(())
    }

    /// The version the server reports, from one `GET /metrics`: the `version` label of
    /// `vm_app_version`, as for VictoriaMetrics (vmalert is built from the same tree and
    /// exposes the same build metric). `Ok(None)` when the label is empty: a build without
    /// version stamping, such as Debian's `victoria-metrics` package (the local stack's).
    ///
    /// # Errors
    /// [`VmAlertError::Http`], or [`VmAlertError::Unexpected`] without `vm_app_version`.
    pub async fn server_version(&self) -> Result<Option<String>, VmAlertError> {
        let (line, text) = self.http.text(self.request("metrics")?).await?;
        app_version(line, &text)
    }

    /// The rule groups and their rules.
    ///
    /// # Errors
    /// [`VmAlertError::Http`] or [`VmAlertError::Unexpected`].
    pub async fn groups(&self) -> Result<Vec<Group>, VmAlertError> {
        let (line, body) = self.http.text(self.request("api/v1/rules")?).await?;
        let env: Envelope<GroupsData> = self.http.decode(&line, &body)?;
        Ok(open(line, env)?.groups.unwrap_or_default())
    }

    /// The active alerts.
    ///
    /// # Errors
    /// [`VmAlertError::Http`] or [`VmAlertError::Unexpected`].
    pub async fn alerts(&self) -> Result<Vec<Alert>, VmAlertError> {
        let (line, body) = self.http.text(self.request("api/v1/alerts")?).await?;
        let env: Envelope<AlertsData> = self.http.decode(&line, &body)?;
        Ok(open(line, env)?.alerts.unwrap_or_default())
    }
}

fn open<T>(request: RequestLine, env: Envelope<T>) -> Result<T, VmAlertError> {
    if env.status != "success" {
        return Err(VmAlertError::Unexpected {
            request,
            message: format!("status {}", env.status),
        });
    }
    env.data.ok_or_else(|| VmAlertError::Unexpected {
        request,
        message: "success without data".into(),
    })
}

/// The `version` label of `vm_app_version` in a `/metrics` text (`None` when empty).
fn app_version(request: RequestLine, text: &str) -> Result<Option<String>, VmAlertError> {
    let labels = carbon_core::promtext::sample_labels(text, "vm_app_version").ok_or_else(|| {
        VmAlertError::Unexpected {
            request,
            message: "no vm_app_version sample: not a vmalert /metrics".into(),
        }
    })?;
    Ok(labels.get("version").filter(|v| !v.is_empty()).cloned())
}

/// Finds a rule by name across groups, with its group.
pub fn find_rule<'a>(groups: &'a [Group], name: &str) -> Option<(&'a Group, &'a Rule)> {
    groups
        .iter()
        .find_map(|g| g.all_rules().find(|r| r.name == name).map(|r| (g, r)))
}

impl carbon_config::FromTarget for VmAlertClient {
    const SECTION: &'static str = "vmalert";
    type Error = VmAlertError;

    fn from_target(target: &Target) -> Result<Self, VmAlertError> {
        let cfg = target.section("vmalert", &target.vmalert)?;
        let token = cfg
            .bearer_token_env
            .as_deref()
            .map(|var| target.credential("vmalert", var))
            .transpose()?;
        let http = target.http_client(carbon_config::Service::VmAlert, cfg)?;
        let base = carbon_core::http::base_url(&cfg.url);
        Ok(Self { http, base, token })
    }
}

impl carbon_core::failure::Classify for VmAlertError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        match self {
            VmAlertError::Http(e) => e.kind(),
            VmAlertError::Config(e) => e.kind(),
            VmAlertError::Unexpected { .. } => Some(Kind::Unreadable),
            VmAlertError::Url(_) => Some(Kind::Runner),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Parsing only, on responses recorded from the stack's vmalert (VictoriaMetrics 1.79.5);
    //! the client itself is verified against that vmalert by the `alerts` suite.
    use super::*;

    fn line() -> RequestLine {
        RequestLine {
            method: Method::GET,
            url: "http://vmalert/api/v1/rules".into(),
        }
    }

    fn recorded(name: &str) -> String {
        let path = format!(
            "{}/tests/data/{name}",
            carbon_core::manifest_dir(env!("CARGO_MANIFEST_DIR")).display()
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// `/metrics` excerpts: a release build, Debian's unstamped build (the local stack's
    /// 1.79.5 package), and a server that is not vmalert.
    #[rstest::rstest]
    #[case::release(
        "vm_app_version{version=\"vmalert-20240201-143520-tags-v1.97.1-0-gd3d5c5b7a\", short_version=\"v1.97.1\"} 1\n",
        Ok(Some("vmalert-20240201-143520-tags-v1.97.1-0-gd3d5c5b7a"))
    )]
    #[case::debian_unstamped("vm_app_version{version=\"\", short_version=\"\"} 1\n", Ok(None))]
    #[case::not_vmalert("process_cpu_seconds_total 3.2\n", Err("no vm_app_version"))]
    fn server_version_is_vm_app_version(
        #[case] text: &str,
        #[case] want: Result<Option<&str>, &str>,
    ) {
        let got = app_version(line(), text);
        match want {
            Ok(v) => assert_eq!(got.expect("version").as_deref(), v),
            Err(e) => assert!(got.expect_err("error").to_string().contains(e)),
        }
    }

    #[test]
    fn groups_and_rules_parse_with_for_and_health() {
        let env: Envelope<GroupsData> =
            serde_json::from_str(&recorded("rules_not_yet_evaluated.json")).expect("json");
        let groups = open(line(), env).expect("data").groups.unwrap_or_default();
        let (group, down) = find_rule(&groups, "ServiceDown").expect("ServiceDown");
        assert_eq!(group.name, "carbon-e2e-platform");
        assert_eq!(down.duration, 300.0);
        assert_eq!(down.labels["severity"], "critical");
        assert!(!down.evaluated(), "never evaluated yet");
        assert!(!down.in_error());
        let (_, probe) = find_rule(&groups, "CarbonE2eProbe").expect("probe");
        assert!(probe.evaluated());
    }

    #[test]
    fn failing_rule_is_in_error() {
        let env: Envelope<GroupsData> =
            serde_json::from_str(&recorded("rules_in_error.json")).expect("json");
        let groups = open(line(), env).expect("data").groups.unwrap_or_default();
        let bad = groups
            .iter()
            .flat_map(Group::all_rules)
            .find(|r| r.in_error())
            .expect("a rule in error");
        assert!(
            bad.last_error.contains("error getting response"),
            "{}",
            bad.last_error
        );
    }

    #[test]
    fn alerts_parse_and_none_is_empty() {
        let env: Envelope<AlertsData> =
            serde_json::from_str(&recorded("alerts_none.json")).expect("json");
        assert!(open(line(), env).expect("data").alerts.is_none());
        let env: Envelope<AlertsData> =
            serde_json::from_str(&recorded("alerts_firing.json")).expect("json");
        let alerts = open(line(), env).expect("data").alerts.unwrap_or_default();
        let a = alerts
            .iter()
            .find(|a| a.name == "CarbonE2eProbe")
            .expect("probe alert");
        assert_eq!(a.state, "firing");
        assert!(a.labels.contains_key("e2e_run"));
    }
}
