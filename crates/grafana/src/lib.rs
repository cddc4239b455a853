//! Client for Grafana's HTTP API: health, datasources and their health checks, dashboards by
//! title, `/api/ds/query`, and Grafana-managed alert rules with their health.
//!
//! Spoken as documented for Grafana 12 (HTTP API reference: `developer-resources/api-reference/
//! http-api`; alert rule status through the Prometheus-compatible
//! `/api/prometheus/grafana/api/v1/rules`). Grafana is AGPL and not installed here: parsing is
//! unit-tested on responses written from that documentation, which is no evidence that the
//! client works against a real Grafana; only the `grafana` suite against a live one is.
//!
//! Auth: a service-account token (`Authorization: Bearer`, preferred) or basic auth. Credentials
//! go only over `https://` or to a loopback host; the client refuses to be built otherwise.

mod declare;

use std::collections::BTreeMap;

use carbon_config::{ConfigError, Secret, Target};
use carbon_core::http::{HttpClient, HttpError, RequestLine};
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

/// Errors of the Grafana client.
#[derive(Debug, thiserror::Error)]
pub enum GrafanaError {
    /// The request failed or the server refused it.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The target does not configure the service or its credentials.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Credentials would travel in clear text.
    #[error(
        "grafana: refusing to send credentials to {0} over plain http://; use https:// (or a loopback host)"
    )]
    InsecureCredentials(String),
    /// A URL that cannot be formed.
    #[error("grafana: invalid URL {0}")]
    Url(String),
}

/// `/api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Health {
    /// `ok` when Grafana reaches its database.
    #[serde(default)]
    pub database: String,
    /// Grafana's version.
    #[serde(default)]
    pub version: String,
    /// Its commit.
    #[serde(default)]
    pub commit: String,
}

impl Health {
    /// `version` as Grafana reports it (`12.3.1`), `None` when absent or empty: Grafana leaves
    /// `version` and `commit` out of `/api/health` for every caller when
    /// `[auth.anonymous] hide_version` is set.
    pub fn reported_version(&self) -> Option<String> {
        Some(self.version.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
}

/// A datasource (`/api/datasources`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Datasource {
    /// Its uid.
    pub uid: String,
    /// Its name.
    pub name: String,
    /// Its plugin type: `prometheus`, `loki`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it points.
    #[serde(default)]
    pub url: String,
    /// Whether it is the default.
    #[serde(rename = "isDefault", default)]
    pub is_default: bool,
}

/// A datasource's own health check (`/api/datasources/uid/<uid>/health`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DatasourceHealth {
    /// `OK` or `ERROR`.
    #[serde(default)]
    pub status: String,
    /// The plugin's message.
    #[serde(default)]
    pub message: String,
}

impl DatasourceHealth {
    /// Whether the check passed.
    pub fn ok(&self) -> bool {
        self.status.eq_ignore_ascii_case("ok")
    }
}

/// A dashboard search hit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DashboardHit {
    /// Its uid.
    pub uid: String,
    /// Its title.
    pub title: String,
    /// Its path in the UI.
    #[serde(default)]
    pub url: String,
    /// Its folder's title.
    #[serde(rename = "folderTitle", default)]
    pub folder_title: String,
}

/// A panel of a dashboard, rows flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Its id.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// Its type (`timeseries`, `stat`, `logs`, ...).
    pub kind: String,
    /// Its datasource reference, as stored (an object with `uid`/`type`, or a name).
    pub datasource: Option<Value>,
    /// Its queries, as stored.
    pub targets: Vec<Value>,
}

/// A dashboard: title, panels, and the current values of its template variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    /// Its uid.
    pub uid: String,
    /// Its title.
    pub title: String,
    /// Its panels (the panels inside rows included).
    pub panels: Vec<Panel>,
    /// Template variables and their current value.
    pub variables: BTreeMap<String, String>,
    /// The datasource variables (`"type": "datasource"`) and the plugin type each selects
    /// (`prometheus`, `loki`): how a panel's `${datasource}` is known without Grafana.
    pub datasource_types: BTreeMap<String, String>,
}

/// One data frame of a query result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Frame {
    /// Column names and types.
    #[serde(default)]
    pub schema: Value,
    /// Column values.
    #[serde(default)]
    pub data: FrameData,
}

/// The values of a frame, column by column.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct FrameData {
    /// One array per field.
    #[serde(default)]
    pub values: Vec<Vec<Value>>,
}

/// One query's result in `/api/ds/query`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueryResult {
    /// The status Grafana gives the query (200, 400, 500...).
    #[serde(default)]
    pub status: Option<u16>,
    /// The error, when it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Its frames.
    #[serde(default)]
    pub frames: Vec<Frame>,
}

impl QueryResult {
    /// Rows in all frames (the length of each frame's first column).
    pub fn rows(&self) -> usize {
        self.frames
            .iter()
            .map(|f| f.data.values.first().map_or(0, Vec::len))
            .sum()
    }
}

#[derive(Debug, Deserialize)]
struct QueryResponse {
    #[serde(default)]
    results: BTreeMap<String, QueryResult>,
}

/// A Grafana-managed alert rule and its evaluation health.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AlertRule {
    /// Its title.
    pub name: String,
    /// `firing`, `pending`, `inactive`, `nodata`...
    #[serde(default)]
    pub state: String,
    /// `ok`, `nodata`, `error` (or `err`).
    #[serde(default)]
    pub health: String,
    /// The last evaluation's error.
    #[serde(rename = "lastError", default)]
    pub last_error: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl AlertRule {
    /// Whether its evaluation is failing.
    pub fn in_error(&self) -> bool {
        matches!(self.health.as_str(), "error" | "err") || !self.last_error.is_empty()
    }
}

#[derive(Debug, Deserialize)]
struct RulesEnvelope {
    #[serde(default)]
    data: RulesData,
}

#[derive(Debug, Default, Deserialize)]
struct RulesData {
    #[serde(default)]
    groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
struct RuleGroup {
    #[serde(default)]
    rules: Vec<AlertRule>,
}

#[derive(Debug, Deserialize)]
struct DashboardEnvelope {
    dashboard: Value,
}

enum Auth {
    Token(Secret),
    Basic(String, Secret),
}

/// A client for one Grafana.
pub struct GrafanaClient {
    http: HttpClient,
    base: Url,
    auth: std::sync::Arc<Auth>,
}

impl Clone for GrafanaClient {
    fn clone(&self) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            auth: std::sync::Arc::clone(&self.auth),
        }
    }
}

impl std::fmt::Debug for GrafanaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrafanaClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl GrafanaClient {
    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, GrafanaError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| GrafanaError::Url(format!("{}{path}: {e}", self.base)))?;
        let r = self.http.request(method, url);
        Ok(match self.auth.as_ref() {
            Auth::Token(t) => r.bearer_auth(t.expose()),
            Auth::Basic(u, p) => r.basic_auth(u, Some(p.expose())),
        })
    }

    /// `/api/health`.
    ///
    /// # Errors
    /// [`GrafanaError::Http`].
    pub async fn health(&self) -> Result<Health, GrafanaError> {
        Ok(self
            .http
            .json(self.request(Method::GET, "api/health")?)
            .await?)
    }

    /// The version the server reports, from one `GET /api/health`: its `version`
    /// ([`Health::reported_version`]).
    ///
    /// # Errors
    /// As [`Self::health`].
    pub async fn server_version(&self) -> Result<Option<String>, GrafanaError> {
        Ok(self.health().await?.reported_version())
    }

    /// Every datasource.
    ///
    /// # Errors
    /// [`GrafanaError::Http`] (401/403 name a token without the right).
    pub async fn datasources(&self) -> Result<Vec<Datasource>, GrafanaError> {
        Ok(self
            .http
            .json(self.request(Method::GET, "api/datasources")?)
            .await?)
    }

    /// A datasource's own health check. A failing check is `Ok` with status `ERROR` and the
    /// plugin's message (Grafana answers it with HTTP 400).
    ///
    /// # Errors
    /// [`GrafanaError::Http`] when the answer is not a health result.
    pub async fn datasource_health(&self, uid: &str) -> Result<DatasourceHealth, GrafanaError> {
        let r = self.request(Method::GET, &format!("api/datasources/uid/{uid}/health"))?;
        let (line, response) = self.http.send_any(r).await?;
        let status = response.status();
        let body = self.http.body(&line, response).await?;
        parse_ds_health(&self.http, &line, status, &body)
    }

    /// Dashboards whose title matches `title` (Grafana's search is a substring match).
    ///
    /// # Errors
    /// [`GrafanaError::Http`].
    pub async fn search_dashboards(&self, title: &str) -> Result<Vec<DashboardHit>, GrafanaError> {
        let r = self
            .request(Method::GET, "api/search")?
            .query(&[("type", "dash-db"), ("query", title)]);
        Ok(self.http.json(r).await?)
    }

    /// A dashboard by uid.
    ///
    /// # Errors
    /// [`GrafanaError::Http`].
    pub async fn dashboard(&self, uid: &str) -> Result<Dashboard, GrafanaError> {
        let env: DashboardEnvelope = self
            .http
            .json(self.request(Method::GET, &format!("api/dashboards/uid/{uid}"))?)
            .await?;
        Ok(parse_dashboard(uid, &env.dashboard))
    }

    /// Runs queries through `/api/ds/query` over `[from, to]` (Grafana time: `now-1h`, `now`,
    /// or epoch milliseconds); results by refId. A failed query is a result with `error`.
    ///
    /// # Errors
    /// [`GrafanaError::Http`] when Grafana refuses the request as a whole.
    pub async fn query(
        &self,
        queries: &[Value],
        from: &str,
        to: &str,
    ) -> Result<BTreeMap<String, QueryResult>, GrafanaError> {
        let body = json!({ "queries": queries, "from": from, "to": to });
        let r = self.request(Method::POST, "api/ds/query")?.json(&body);
        let (line, response) = self.http.send_any(r).await?;
        let status = response.status();
        let text = self.http.body(&line, response).await?;
        // A failing query answers 400/500 with the same shape; keep its per-query error.
        match self.http.decode::<QueryResponse>(&line, &text) {
            Ok(q) if !q.results.is_empty() => Ok(q.results),
            _ if status.is_success() => Ok(BTreeMap::new()),
            _ => Err(HttpError::Status {
                service: "grafana",
                request: line,
                status,
                body: carbon_core::http::excerpt(&text),
            }
            .into()),
        }
    }

    /// Grafana-managed alert rules with their health.
    ///
    /// # Errors
    /// [`GrafanaError::Http`].
    pub async fn alert_rules(&self) -> Result<Vec<AlertRule>, GrafanaError> {
        let env: RulesEnvelope = self
            .http
            .json(self.request(Method::GET, "api/prometheus/grafana/api/v1/rules")?)
            .await?;
        Ok(env.data.groups.into_iter().flat_map(|g| g.rules).collect())
    }
}

fn parse_ds_health(
    http: &HttpClient,
    line: &RequestLine,
    status: reqwest::StatusCode,
    body: &str,
) -> Result<DatasourceHealth, GrafanaError> {
    match http.decode::<DatasourceHealth>(line, body) {
        Ok(h) if !h.status.is_empty() => Ok(h),
        _ => Err(HttpError::Status {
            service: "grafana",
            request: line.clone(),
            status,
            body: carbon_core::http::excerpt(body),
        }
        .into()),
    }
}

/// A dashboard's JSON model (as Grafana stores it, or as a provisioning file or ConfigMap
/// holds it) read into its panels, rows flattened, and its variables.
pub fn parse_dashboard(uid: &str, dashboard: &Value) -> Dashboard {
    let mut panels = Vec::new();
    collect_panels(dashboard.get("panels"), &mut panels);
    // Old-style dashboards keep panels under rows[].panels.
    if let Some(rows) = dashboard.get("rows").and_then(Value::as_array) {
        for row in rows {
            collect_panels(row.get("panels"), &mut panels);
        }
    }
    let mut variables = BTreeMap::new();
    let mut datasource_types = BTreeMap::new();
    if let Some(list) = dashboard
        .pointer("/templating/list")
        .and_then(Value::as_array)
    {
        for v in list {
            let Some(name) = v.get("name").and_then(Value::as_str) else {
                continue;
            };
            if v.get("type").and_then(Value::as_str) == Some("datasource")
                && let Some(kind) = v.get("query").and_then(Value::as_str)
            {
                datasource_types.insert(name.to_string(), kind.to_string());
            }
            let current = v.pointer("/current/value");
            let value = match current {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(a)) => a
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                _ => String::new(),
            };
            let value = if value == "$__all" {
                ".*".to_string()
            } else {
                value
            };
            variables.insert(name.to_string(), value);
        }
    }
    Dashboard {
        uid: uid.to_string(),
        title: dashboard
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        panels,
        variables,
        datasource_types,
    }
}

fn collect_panels(list: Option<&Value>, out: &mut Vec<Panel>) {
    let Some(list) = list.and_then(Value::as_array) else {
        return;
    };
    for p in list {
        let kind = p
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if kind == "row" {
            collect_panels(p.get("panels"), out);
            continue;
        }
        out.push(Panel {
            id: p.get("id").and_then(Value::as_i64).unwrap_or_default(),
            title: p
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            kind,
            datasource: p.get("datasource").filter(|d| !d.is_null()).cloned(),
            targets: p
                .get("targets")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        });
    }
}

/// Replaces `$var`, `${var}` and `[[var]]` by the dashboard variable's current value, so a
/// panel's query can be sent on its own. Grafana's own `$__...` macros are left to Grafana.
pub fn interpolate(text: &str, variables: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    // Longest names first, so `$namespace` is not cut by a variable named `$name`.
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        if name.starts_with("__") {
            continue;
        }
        let value = &variables[name];
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("[[{name}]]"), value)
            .replace(&format!("${name}"), value);
    }
    out
}

/// A panel's queries made ready for `/api/ds/query`: variables interpolated in every string,
/// the panel's datasource set on targets that have none, datasource names resolved to uids.
/// Returns the queries and the panel targets that cannot be sent (with why).
pub fn panel_queries(
    panel: &Panel,
    variables: &BTreeMap<String, String>,
    datasources: &[Datasource],
) -> (Vec<Value>, Vec<String>) {
    let resolve = |ds: &Value| -> Option<Value> {
        let ds = interpolate_value(ds, variables);
        let by = |pred: &dyn Fn(&Datasource) -> bool| {
            datasources
                .iter()
                .find(|d| pred(d))
                .map(|d| json!({ "uid": d.uid, "type": d.kind }))
        };
        match &ds {
            Value::String(name) => by(&|d| &d.name == name || &d.uid == name),
            Value::Object(o) => match o.get("uid").and_then(Value::as_str) {
                Some(uid) => by(&|d| d.uid == uid || d.name == uid).or(Some(ds.clone())),
                None => None,
            },
            _ => None,
        }
    };
    let default = datasources
        .iter()
        .find(|d| d.is_default)
        .map(|d| json!({ "uid": d.uid, "type": d.kind }));
    let panel_ds = panel.datasource.as_ref().and_then(resolve);
    let mut queries = Vec::new();
    let mut unsendable = Vec::new();
    for (i, t) in panel.targets.iter().enumerate() {
        if t.get("hide").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let mut q = interpolate_value(t, variables);
        let ds = t
            .get("datasource")
            .filter(|d| !d.is_null())
            .and_then(resolve)
            .or_else(|| panel_ds.clone())
            .or_else(|| default.clone());
        let Some(ds) = ds else {
            unsendable.push(format!("target {i}: no datasource it can be sent to"));
            continue;
        };
        if let Value::Object(o) = &mut q {
            o.insert("datasource".into(), ds);
            o.entry("refId")
                .or_insert_with(|| Value::String(format!("Q{i}")));
        }
        queries.push(q);
    }
    (queries, unsendable)
}

fn interpolate_value(v: &Value, variables: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(interpolate(s, variables)),
        Value::Array(a) => {
            Value::Array(a.iter().map(|x| interpolate_value(x, variables)).collect())
        }
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), interpolate_value(x, variables)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl carbon_config::FromTarget for GrafanaClient {
    const SECTION: &'static str = "grafana";
    type Error = GrafanaError;

    fn from_target(target: &Target) -> Result<Self, GrafanaError> {
        let cfg = target.section("grafana", &target.grafana)?;
        let auth = match (&cfg.token_env, &cfg.user, &cfg.password_env) {
            (Some(var), _, _) => Auth::Token(target.credential("grafana", var)?),
            (None, Some(user), Some(var)) => {
                Auth::Basic(user.clone(), target.credential("grafana", var)?)
            }
            _ => {
                return Err(ConfigError::Invalid {
                    target: target.name.clone(),
                    key: "grafana.token_env".into(),
                    message: "set token_env or user and password_env".into(),
                }
                .into());
            }
        };
        let loopback = matches!(
            cfg.url.host_str(),
            Some("127.0.0.1" | "localhost" | "[::1]")
        );
        if cfg.url.scheme() != "https" && !loopback {
            return Err(GrafanaError::InsecureCredentials(cfg.url.to_string()));
        }
        let http = target.http_client(carbon_config::Service::Grafana, cfg)?;
        let base = carbon_core::http::base_url(&cfg.url);
        Ok(Self {
            http,
            base,
            auth: std::sync::Arc::new(auth),
        })
    }
}

impl carbon_core::failure::Classify for GrafanaError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        match self {
            GrafanaError::Http(e) => e.kind(),
            GrafanaError::Config(e) => e.kind(),
            GrafanaError::InsecureCredentials(_) | GrafanaError::Url(_) => Some(Kind::Runner),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Parsing only, on responses written from Grafana 12's documented HTTP API
    //! (`tests/data/`, not recorded from a running Grafana: Grafana is AGPL and not installed
    //! here). Passing them is no evidence the client works against a real Grafana.
    use super::*;

    fn recorded(name: &str) -> String {
        let path = format!(
            "{}/tests/data/{name}",
            carbon_core::manifest_dir(env!("CARGO_MANIFEST_DIR")).display()
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn line() -> RequestLine {
        RequestLine {
            method: Method::GET,
            url: "https://grafana/api".into(),
        }
    }

    fn http() -> HttpClient {
        HttpClient::new(
            "grafana",
            carbon_core::http::ClientOptions {
                timeout: std::time::Duration::from_secs(1),
                ca_file: None,
            },
        )
        .expect("client")
    }

    /// `/api/health` as documented (tests/data/health.json), with the version hidden
    /// (`[auth.anonymous] hide_version`), and an empty one.
    #[rstest::rstest]
    #[case::documented(recorded("health.json"), Some("12.3.1"))]
    #[case::hidden(r#"{"database":"ok"}"#.to_string(), None)]
    #[case::empty(r#"{"commit":"","database":"ok","version":""}"#.to_string(), None)]
    fn server_version_is_health_version(#[case] body: String, #[case] want: Option<&str>) {
        let h: Health = serde_json::from_str(&body).expect("health");
        assert_eq!(h.reported_version().as_deref(), want);
    }

    #[test]
    fn health_and_datasources_parse() {
        let h: Health = serde_json::from_str(&recorded("health.json")).expect("health");
        assert_eq!(h.database, "ok");
        assert!(!h.version.is_empty());
        let ds: Vec<Datasource> =
            serde_json::from_str(&recorded("datasources.json")).expect("datasources");
        assert!(
            ds.iter()
                .any(|d| d.kind == "prometheus" && d.name == "VictoriaMetrics")
        );
        assert!(ds.iter().any(|d| d.kind == "loki"));
    }

    #[test]
    fn datasource_health_ok_and_error() {
        let ok = parse_ds_health(
            &http(),
            &line(),
            reqwest::StatusCode::OK,
            &recorded("datasource_health_ok.json"),
        )
        .expect("ok");
        assert!(ok.ok());
        let bad = parse_ds_health(
            &http(),
            &line(),
            reqwest::StatusCode::BAD_REQUEST,
            &recorded("datasource_health_error.json"),
        )
        .expect("parsed");
        assert!(!bad.ok());
        assert!(!bad.message.is_empty());
        let other = parse_ds_health(
            &http(),
            &line(),
            reqwest::StatusCode::NOT_FOUND,
            r#"{"message":"Data source not found"}"#,
        );
        assert!(other.is_err());
    }

    #[test]
    fn dashboard_panels_rows_and_variables() {
        let hits: Vec<DashboardHit> =
            serde_json::from_str(&recorded("search.json")).expect("search");
        assert_eq!(hits[0].title, "Platform Overview");
        let env: DashboardEnvelope =
            serde_json::from_str(&recorded("dashboard.json")).expect("dashboard");
        let d = parse_dashboard("platform-overview", &env.dashboard);
        assert_eq!(d.title, "Platform Overview");
        // Two top-level panels and one inside a collapsed row.
        assert_eq!(d.panels.len(), 3, "{:?}", d.panels);
        assert_eq!(d.variables["namespace"], "data-platform");
        let ds: Vec<Datasource> =
            serde_json::from_str(&recorded("datasources.json")).expect("datasources");
        let logs = d
            .panels
            .iter()
            .find(|p| p.kind == "logs")
            .expect("logs panel");
        let (q, bad) = panel_queries(logs, &d.variables, &ds);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(q[0]["expr"], r#"{namespace="data-platform"}"#);
        assert_eq!(q[0]["datasource"]["type"], "loki");
    }

    #[test]
    fn ds_query_results_count_rows_and_keep_errors() {
        let r: QueryResponse = serde_json::from_str(&recorded("ds_query.json")).expect("ds query");
        assert!(r.results["A"].rows() > 0);
        assert!(r.results["B"].error.is_none());
        assert_eq!(r.results["B"].rows(), 0, "B returned no data");
        let e: QueryResponse =
            serde_json::from_str(&recorded("ds_query_error.json")).expect("ds query error");
        assert!(
            e.results["A"]
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("parse error")
        );
    }

    #[test]
    fn alert_rules_flatten_with_health() {
        let env: RulesEnvelope =
            serde_json::from_str(&recorded("alert_rules.json")).expect("rules");
        let rules: Vec<AlertRule> = env.data.groups.into_iter().flat_map(|g| g.rules).collect();
        assert_eq!(rules.len(), 3);
        let mem = rules
            .iter()
            .find(|r| r.name == "HighMemoryUsage")
            .expect("rule");
        assert!(mem.in_error());
        assert!(
            !rules
                .iter()
                .find(|r| r.name == "ServiceDown")
                .expect("rule")
                .in_error()
        );
    }

    #[test]
    fn interpolation_prefers_longest_names() {
        let vars: BTreeMap<String, String> = [("name", "x"), ("namespace", "data-platform")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            interpolate(
                r#"up{ns="$namespace",n="${name}",o="[[name]]"}[$__rate_interval]"#,
                &vars
            ),
            r#"up{ns="data-platform",n="x",o="x"}[$__rate_interval]"#
        );
    }
}
