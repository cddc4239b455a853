//! Client for Loki's HTTP API: readiness, version, push, `query`, `query_range`, labels, series.
//!
//! Everything here is LogQL 1.x and the `/loki/api/v1` paths, which Loki 1.6 and every 2.x and
//! 3.x release answer alike. Features that need Loki 2.0 or later (`| json`, `| logfmt`, label
//! filters) are for callers to gate on [`LokiVersion::logql_v2`]: 1.6 has no build-info
//! endpoint, so the version comes from `/loki/api/v1/status/buildinfo` (2.x and later) or else
//! from the `loki_build_info` metric on `/metrics`. A version that is no release number
//! (`k231-…`, `main-…`, `HEAD`) says nothing; [`LokiClient::probe_logql_v2`] then asks the
//! server with a v2 query and reads a parse error as "no". Queries, labels and series get
//! `loki.query_timeout_secs` rather than the request timeout: over a long window they take longer.

mod declare;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use carbon_config::{ConfigError, Secret, Target};
use carbon_core::http::{HttpClient, HttpError, RequestLine};
use carbon_core::wait::Check;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::{Deserialize, Serialize};
use url::Url;

/// Errors of the Loki client.
#[derive(Debug, thiserror::Error)]
pub enum LokiError {
    /// The request failed or the server refused it for another reason than the query.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The target does not configure the service or its token.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Loki rejected the query (HTTP 400): a parse error, a limit, a bad parameter.
    #[error("loki: {request}: HTTP {status}: {message}")]
    Query {
        /// What was sent.
        request: RequestLine,
        /// The status code.
        status: StatusCode,
        /// Loki's own message.
        message: String,
    },
    /// The API answered, but not with what the client expects.
    #[error("loki: {request}: {message}")]
    Unexpected {
        /// What was sent.
        request: RequestLine,
        /// What was wrong.
        message: String,
    },
    /// A URL that cannot be formed.
    #[error("loki: invalid URL {0}")]
    Url(String),
}

/// Labels of a stream or series.
pub type Labels = BTreeMap<String, String>;

/// One log stream of a query result: its labels and its entries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Stream {
    /// The stream's labels.
    pub stream: Labels,
    /// Entries: timestamp in nanoseconds (as text, as Loki sends it) and line.
    pub values: Vec<(String, String)>,
}

impl Stream {
    /// Entries with parsed timestamps (nanoseconds); an unparsable one becomes 0.
    pub fn entries(&self) -> Vec<(i128, &str)> {
        self.values
            .iter()
            .map(|(ts, line)| (ts.parse().unwrap_or_default(), line.as_str()))
            .collect()
    }
}

/// One series of a metric query over a range.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MatrixSeries {
    /// Labels.
    pub metric: Labels,
    /// Samples: time in seconds and value as text.
    pub values: Vec<(f64, String)>,
}

/// One series of an instant metric query.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VectorSample {
    /// Labels.
    pub metric: Labels,
    /// Time in seconds and value as text.
    pub value: (f64, String),
}

impl VectorSample {
    /// The value as a number, if it is one.
    pub fn number(&self) -> Option<f64> {
        self.value.1.parse().ok()
    }
}

/// What a query returned.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// Log lines (a log query).
    Streams(Vec<Stream>),
    /// A metric query over a range.
    Matrix(Vec<MatrixSeries>),
    /// A metric query at one instant.
    Vector(Vec<VectorSample>),
}

impl QueryResult {
    /// The streams of a log query (empty for a metric result).
    pub fn streams(&self) -> &[Stream] {
        match self {
            QueryResult::Streams(s) => s,
            _ => &[],
        }
    }

    /// How many streams or series it holds (what a dashboard panel would draw).
    pub fn series_count(&self) -> usize {
        match self {
            QueryResult::Streams(s) => s.len(),
            QueryResult::Matrix(m) => m.len(),
            QueryResult::Vector(v) => v.len(),
        }
    }

    /// The kind of result, as Loki names it.
    pub fn kind(&self) -> &'static str {
        match self {
            QueryResult::Streams(_) => "streams",
            QueryResult::Matrix(_) => "matrix",
            QueryResult::Vector(_) => "vector",
        }
    }
}

/// A Loki version, as the server reports it (`1.6.1`, `2.9.4`, `3.1.0`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LokiVersion {
    /// The version text.
    pub text: String,
    /// Major and minor, when the text starts with them.
    pub major_minor: Option<(u32, u32)>,
}

impl LokiVersion {
    /// Parses a version text (an optional leading `v` is ignored). `major_minor` is set only
    /// when the text starts with two numbers (`2.9.4`, `v3.1.0`, `2.2.1-rc.1`); a build name
    /// such as `k231-abc123`, `main-4a5b6c` or `HEAD` has none.
    pub fn parse(text: &str) -> Self {
        let t = text.trim().trim_start_matches('v');
        let mut parts = t.split(['.', '-', '+']);
        let number = |p: Option<&str>| {
            p.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u32>().ok())
        };
        let major = number(parts.next());
        let minor = number(parts.next());
        Self {
            text: text.trim().to_string(),
            major_minor: major.zip(minor),
        }
    }

    /// What the version says about LogQL v2 (`| json`, `| logfmt`, label filters, which
    /// arrived in Loki 2.0): `Some(true)` from 2.0, `Some(false)` before, `None` when the text
    /// is no release number (a weekly `k231-…`, a `main-…` build, `HEAD`): then only the server
    /// can tell ([`LokiClient::probe_logql_v2`]).
    pub fn logql_v2(&self) -> Option<bool> {
        self.major_minor.map(|(major, _)| major >= 2)
    }
}

/// Whether `e` is Loki rejecting a query's syntax (`parse error at line 1, col 12: ...`), the
/// answer a server without LogQL v2 gives a v2 pipeline, as opposed to a limit, a timeout or a
/// server that does not answer.
pub fn is_parse_rejection(e: &LokiError) -> bool {
    matches!(e, LokiError::Query { message, .. } if message.contains("parse error"))
}

impl std::fmt::Display for LokiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The direction of a log query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Newest first (Loki's default).
    Backward,
    /// Oldest first.
    Forward,
}

/// One stream to push.
#[derive(Debug, Clone, Serialize)]
pub struct PushStream {
    /// Its labels.
    pub stream: Labels,
    /// Entries: timestamp in nanoseconds (as text) and line.
    pub values: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
struct PushBody<'a> {
    streams: &'a [PushStream],
}

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
}

#[derive(Debug, Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct BuildInfo {
    version: String,
}

/// A client for one Loki (single binary, or a gateway in front of querier and distributor).
#[derive(Debug, Clone)]
pub struct LokiClient {
    http: HttpClient,
    base: Url,
    push_base: Url,
    token: Option<Secret>,
    org_id: Option<String>,
    /// Limit for one log query (`loki.query_timeout_secs`).
    query_timeout: std::time::Duration,
}

/// Whether Loki has answered a request of this process (one trial): see `LokiClient::get`.
static ANSWERED: AtomicBool = AtomicBool::new(false);

use carbon_core::http::base_url as base;

impl LokiClient {
    /// Loki's base URL.
    pub fn url(&self) -> &Url {
        &self.base
    }

    fn url_for(base: &Url, path: &str) -> Result<Url, LokiError> {
        base.join(path)
            .map_err(|e| LokiError::Url(format!("{base}{path}: {e}")))
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let mut r = self.http.request(method, url);
        if let Some(t) = &self.token {
            r = r.bearer_auth(t.expose());
        }
        if let Some(org) = &self.org_id {
            r = r.header("X-Scope-OrgID", org);
        }
        r
    }

    /// Checks `/ready` answers 200 (`ready`).
    ///
    /// # Errors
    /// [`LokiError::Http`] naming the endpoint, with Loki's reason (e.g. the ingester still
    /// waiting) as the body excerpt.
    pub async fn ready(&self) -> Result<(), LokiError> {
        let url = Self::url_for(&self.base, "ready")?;
        self.http.text(self.request(Method::GET, url)).await?;
        Ok(())
    }

    /// The server's version: `/loki/api/v1/status/buildinfo` (Loki 2.x and later), else the
    /// `loki_build_info` metric (Loki 1.x).
    ///
    /// # Errors
    /// [`LokiError::Unexpected`] when neither says.
    pub async fn version(&self) -> Result<LokiVersion, LokiError> {
        let url = Self::url_for(&self.base, "loki/api/v1/status/buildinfo")?;
        let (line, response) = self.http.send_any(self.request(Method::GET, url)).await?;
        if response.status().is_success() {
            let body = self.http.body(&line, response).await?;
            if let Ok(info) = serde_json::from_str::<BuildInfo>(&body)
                && !info.version.is_empty()
            {
                return Ok(LokiVersion::parse(&info.version));
            }
        }
        let url = Self::url_for(&self.base, "metrics")?;
        let (line, text) = self.http.text(self.request(Method::GET, url)).await?;
        version_from_metrics(&text)
            .map(|v| LokiVersion::parse(&v))
            .ok_or_else(|| LokiError::Unexpected {
                request: line,
                message:
                    "no loki_build_info version on /metrics (and no /loki/api/v1/status/buildinfo)"
                        .into(),
            })
    }

    /// The version the server reports, from exactly one request: `GET /metrics`, the
    /// `version` label of `loki_build_info`. Chosen over `/loki/api/v1/status/buildinfo`
    /// because every Loki from 1.x (the local stack's 1.6.1 has no build-info endpoint) to 3.x
    /// exposes `loki_build_info`, so one request answers on all of them, where the endpoint
    /// would need a second request as a fallback ([`Self::version`] makes both, for the suites
    /// that need [`LokiVersion`]). A gateway that forwards only `/loki/api/...` makes this an
    /// error naming the request. `Ok(None)` when the label is empty.
    ///
    /// # Errors
    /// [`LokiError::Http`], or [`LokiError::Unexpected`] without `loki_build_info`.
    pub async fn server_version(&self) -> Result<Option<String>, LokiError> {
        let url = Self::url_for(&self.base, "metrics")?;
        let (line, text) = self.http.text(self.request(Method::GET, url)).await?;
        build_version(line, &text)
    }

    /// Label names seen between `start_ns` and `end_ns`.
    ///
    /// # Errors
    /// [`LokiError::Http`] or [`LokiError::Unexpected`].
    pub async fn labels(&self, start_ns: i128, end_ns: i128) -> Result<Vec<String>, LokiError> {
        let mut url = Self::url_for(&self.base, "loki/api/v1/labels")?;
        url.query_pairs_mut()
            .append_pair("start", &start_ns.to_string())
            .append_pair("end", &end_ns.to_string());
        self.get_data(url).await
    }

    /// Values of label `name` seen between `start_ns` and `end_ns`.
    ///
    /// # Errors
    /// [`LokiError::Http`] or [`LokiError::Unexpected`].
    pub async fn label_values(
        &self,
        name: &str,
        start_ns: i128,
        end_ns: i128,
    ) -> Result<Vec<String>, LokiError> {
        let mut url = Self::url_for(&self.base, &format!("loki/api/v1/label/{name}/values"))?;
        url.query_pairs_mut()
            .append_pair("start", &start_ns.to_string())
            .append_pair("end", &end_ns.to_string());
        Ok(self
            .get_data::<Option<Vec<String>>>(url)
            .await?
            .unwrap_or_default())
    }

    /// Label sets of the streams matching `selector` between `start_ns` and `end_ns`.
    ///
    /// # Errors
    /// [`LokiError::Query`] for a bad selector, [`LokiError::Http`], [`LokiError::Unexpected`].
    pub async fn series(
        &self,
        selector: &str,
        start_ns: i128,
        end_ns: i128,
    ) -> Result<Vec<Labels>, LokiError> {
        let mut url = Self::url_for(&self.base, "loki/api/v1/series")?;
        url.query_pairs_mut()
            .append_pair("match[]", selector)
            .append_pair("start", &start_ns.to_string())
            .append_pair("end", &end_ns.to_string());
        Ok(self
            .get_data::<Option<Vec<Labels>>>(url)
            .await?
            .unwrap_or_default())
    }

    /// Pushes streams (JSON push API). Loki answers 204.
    ///
    /// # Errors
    /// [`LokiError::Http`] with Loki's reason (e.g. an entry too far in the past).
    pub async fn push(&self, streams: &[PushStream]) -> Result<(), LokiError> {
        let url = Self::url_for(&self.push_base, "loki/api/v1/push")?;
        let body = serde_json::to_vec(&PushBody { streams }).map_err(|e| {
            LokiError::Url(format!("cannot encode the push body: {e}")) // never happens: plain data
        })?;
        self.http
            .send(
                self.request(Method::POST, url)
                    .header("Content-Type", "application/json")
                    .body(body),
            )
            .await?;
        Ok(())
    }

    /// Runs a query over `[start_ns, end_ns]`: log lines (at most `limit`) or a matrix.
    ///
    /// # Errors
    /// [`LokiError::Query`] with Loki's message for a query it rejects.
    pub async fn query_range(
        &self,
        query: &str,
        start_ns: i128,
        end_ns: i128,
        limit: u64,
        direction: Direction,
    ) -> Result<QueryResult, LokiError> {
        let mut url = Self::url_for(&self.base, "loki/api/v1/query_range")?;
        url.query_pairs_mut()
            .append_pair("query", query)
            .append_pair("start", &start_ns.to_string())
            .append_pair("end", &end_ns.to_string())
            .append_pair("limit", &limit.to_string())
            .append_pair(
                "direction",
                match direction {
                    Direction::Backward => "backward",
                    Direction::Forward => "forward",
                },
            );
        self.run_query(url).await
    }

    /// One poll of "has the line arrived yet?" for [`carbon_core::wait::wait_until`]: the
    /// streams [`Self::query_range`] returns, `Pending` while it returns none.
    ///
    /// # Errors
    /// As [`Self::query_range`].
    pub async fn poll_streams(
        &self,
        query: &str,
        start_ns: i128,
        end_ns: i128,
        limit: u64,
        direction: Direction,
    ) -> Result<Check<Vec<Stream>>, LokiError> {
        let r = self
            .query_range(query, start_ns, end_ns, limit, direction)
            .await?;
        Ok(if r.streams().is_empty() {
            Check::Pending("no matching line yet".to_string())
        } else {
            Check::Ready(r.streams().to_vec())
        })
    }

    /// Asks the server whether it parses LogQL v2, for a version that does not say
    /// ([`LokiVersion::logql_v2`]): `{selector} | logfmt` over `[start_ns, end_ns]`, limit 1.
    /// `true` when answered, `false` when rejected as a parse error ([`is_parse_rejection`]).
    ///
    /// # Errors
    /// Any other failure of the query: it says nothing about LogQL v2.
    pub async fn probe_logql_v2(
        &self,
        selector: &str,
        start_ns: i128,
        end_ns: i128,
    ) -> Result<bool, LokiError> {
        let query = format!("{selector} | logfmt");
        match self
            .query_range(&query, start_ns, end_ns, 1, Direction::Backward)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_parse_rejection(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Runs an instant query at `time_ns` (metric queries answer a vector).
    ///
    /// # Errors
    /// [`LokiError::Query`] with Loki's message for a query it rejects.
    pub async fn query(
        &self,
        query: &str,
        time_ns: i128,
        limit: u64,
    ) -> Result<QueryResult, LokiError> {
        let mut url = Self::url_for(&self.base, "loki/api/v1/query")?;
        url.query_pairs_mut()
            .append_pair("query", query)
            .append_pair("time", &time_ns.to_string())
            .append_pair("limit", &limit.to_string());
        self.run_query(url).await
    }

    async fn run_query(&self, url: Url) -> Result<QueryResult, LokiError> {
        let (line, body) = self.get(url).await?;
        let envelope: Envelope<QueryData> = self.http.decode(&line, &body)?;
        parse_query(line, envelope)
    }

    /// GET of a query (log lines, labels, series over a window), with the query timeout rather
    /// than the request timeout; Loki's 400 becomes [`LokiError::Query`].
    async fn get(&self, url: Url) -> Result<(RequestLine, String), LokiError> {
        // A query may take the query timeout (60 s by default); a server that never answers
        // should cost one ordinary request timeout. Until Loki has answered this process (a
        // trial) once, a query is preceded by `GET /ready` within the request timeout: any
        // HTTP answer, even a 503 or a gateway's 404, shows the server is alive.
        if self.query_timeout > self.http.timeout() && !ANSWERED.load(Ordering::Relaxed) {
            let ready = Self::url_for(&self.base, "ready")?;
            self.http.send_any(self.request(Method::GET, ready)).await?;
            ANSWERED.store(true, Ordering::Relaxed);
        }
        let request = self.request(Method::GET, url).timeout(self.query_timeout);
        let (line, response) = self.http.send_any(request).await?;
        ANSWERED.store(true, Ordering::Relaxed);
        let status = response.status();
        if status.is_success() {
            let body = self.http.body(&line, response).await?;
            return Ok((line, body));
        }
        if status == StatusCode::BAD_REQUEST {
            let body = self.http.body(&line, response).await?;
            return Err(LokiError::Query {
                request: line,
                status,
                message: error_message(&body),
            });
        }
        Err(self.http.status_error(line, response).await.into())
    }

    async fn get_data<T: serde::de::DeserializeOwned>(&self, url: Url) -> Result<T, LokiError> {
        let (line, body) = self.get(url).await?;
        let envelope: Envelope<T> = self.http.decode(&line, &body)?;
        open(line, envelope)
    }
}

fn open<T>(request: RequestLine, envelope: Envelope<T>) -> Result<T, LokiError> {
    if envelope.status != "success" {
        return Err(LokiError::Unexpected {
            request,
            message: format!("status {}", envelope.status),
        });
    }
    envelope.data.ok_or_else(|| LokiError::Unexpected {
        request,
        message: "success without data".into(),
    })
}

fn parse_query(
    request: RequestLine,
    envelope: Envelope<QueryData>,
) -> Result<QueryResult, LokiError> {
    let data = open(request.clone(), envelope)?;
    let unexpected = |e: serde_json::Error| LokiError::Unexpected {
        request: request.clone(),
        message: format!("unreadable {} result: {e}", data.result_type),
    };
    // Loki 1.x sends `null` for an empty result.
    let result = if data.result.is_null() {
        serde_json::Value::Array(Vec::new())
    } else {
        data.result.clone()
    };
    match data.result_type.as_str() {
        "streams" => serde_json::from_value(result)
            .map(QueryResult::Streams)
            .map_err(unexpected),
        "matrix" => serde_json::from_value(result)
            .map(QueryResult::Matrix)
            .map_err(unexpected),
        "vector" => serde_json::from_value(result)
            .map(QueryResult::Vector)
            .map_err(unexpected),
        other => Err(LokiError::Unexpected {
            request,
            message: format!("unknown result type {other}"),
        }),
    }
}

/// Loki's error bodies are plain text in 1.x (`parse error at line 1, col 12: ...`) and in
/// most 2.x/3.x paths; some answer JSON with `message` or `error`. Either way: the message.
fn error_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        for key in ["message", "error"] {
            if let Some(m) = v.get(key).and_then(|m| m.as_str()) {
                return m.trim().to_string();
            }
        }
    }
    carbon_core::http::excerpt(body)
}

/// [`LokiClient::server_version`]'s reading of `/metrics`: `loki_build_info`'s `version`.
fn build_version(request: RequestLine, text: &str) -> Result<Option<String>, LokiError> {
    let labels = carbon_core::promtext::sample_labels(text, "loki_build_info").ok_or(
        LokiError::Unexpected {
            request,
            message: "no loki_build_info sample on /metrics".into(),
        },
    )?;
    Ok(labels.get("version").filter(|v| !v.is_empty()).cloned())
}

/// The `version` label of `loki_build_info` in Prometheus text.
fn version_from_metrics(text: &str) -> Option<String> {
    carbon_core::promtext::sample_labels(text, "loki_build_info")?
        .remove("version")
        .filter(|v| !v.is_empty())
}

impl carbon_config::FromTarget for LokiClient {
    const SECTION: &'static str = "loki";
    type Error = LokiError;

    fn from_target(target: &Target) -> Result<Self, LokiError> {
        let cfg = target.section("loki", &target.loki)?;
        let token = cfg
            .bearer_token_env
            .as_deref()
            .map(|var| target.credential("loki", var))
            .transpose()?;
        let http = target.http_client(carbon_config::Service::Loki, cfg)?;
        Ok(Self {
            http,
            base: base(&cfg.url),
            push_base: base(cfg.push_url.as_ref().unwrap_or(&cfg.url)),
            token,
            org_id: cfg.org_id.clone(),
            query_timeout: std::time::Duration::from_secs(cfg.query_timeout_secs),
        })
    }
}

impl carbon_core::failure::Classify for LokiError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        match self {
            LokiError::Http(e) => e.kind(),
            LokiError::Config(e) => e.kind(),
            LokiError::Query { status, .. } => {
                Some(carbon_core::failure::status_kind(status.as_u16()))
            }
            LokiError::Unexpected { .. } => Some(Kind::Unreadable),
            LokiError::Url(_) => Some(Kind::Runner),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Parsing only, on responses recorded from a real Loki: 1.6.1 (`tests/data/`, the local
    //! stack's server until 2026-12) and 2.2.1 (`tests/data/2.2.1/`, the stack's server now).
    //! The client itself is verified against the stack's real Loki by the `loki` suite; these
    //! keep a 1.x server's answers (no LogQL v2, no build-info endpoint) handled.
    use super::*;

    fn line() -> RequestLine {
        RequestLine {
            method: Method::GET,
            url: "http://loki/loki/api/v1/query_range".into(),
        }
    }

    fn recorded(name: &str) -> String {
        let path = format!(
            "{}/tests/data/{name}",
            carbon_core::manifest_dir(env!("CARGO_MANIFEST_DIR")).display()
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn query(name: &str) -> QueryResult {
        let env: Envelope<QueryData> = serde_json::from_str(&recorded(name)).expect("json");
        parse_query(line(), env).expect("parsed")
    }

    #[test]
    fn streams_keep_labels_nanosecond_timestamps_and_lines() {
        let r = query("query_range_streams.json");
        let s = &r.streams()[0];
        assert_eq!(s.stream["app"], "e2e-record");
        let (ts, text) = s.entries()[0];
        assert!(ts > 1_000_000_000_000_000_000, "{ts}");
        assert!(text.contains("recorded line"), "{text}");
    }

    /// Loki 2.2.1 with a LogQL v2 pipeline: the parser's extracted labels come back in each
    /// stream's labels, one stream per distinct label set.
    #[test]
    fn logfmt_pipeline_streams_carry_extracted_labels() {
        let r = query("2.2.1/query_range_streams_logfmt.json");
        assert!(!r.streams().is_empty());
        for s in r.streams() {
            assert_eq!(s.stream["level"], "info", "{:?}", s.stream);
            assert_eq!(s.stream["app"], "loki");
            assert!(!s.entries().is_empty());
        }
    }

    #[test]
    fn metric_range_query_is_a_matrix() {
        let QueryResult::Matrix(m) = query("query_range_matrix.json") else {
            panic!("not a matrix")
        };
        assert!(!m.is_empty());
        assert!(m[0].values.iter().all(|(_, v)| v.parse::<f64>().is_ok()));
    }

    #[test]
    fn instant_metric_query_is_a_vector() {
        let QueryResult::Vector(v) = query("query_vector.json") else {
            panic!("not a vector")
        };
        assert!(v.iter().all(|s| s.number().is_some()));
        assert!(v.iter().any(|s| s.metric.contains_key("pod")));
    }

    #[test]
    fn empty_result_is_no_streams() {
        let r = query("query_range_empty.json");
        assert!(r.streams().is_empty());
    }

    #[test]
    fn labels_and_series_parse() {
        let env: Envelope<Vec<String>> =
            serde_json::from_str(&recorded("labels.json")).expect("json");
        let labels = open(line(), env).expect("labels");
        assert!(labels.iter().any(|l| l == "namespace"), "{labels:?}");
        let env: Envelope<Option<Vec<Labels>>> =
            serde_json::from_str(&recorded("series.json")).expect("json");
        let series = open(line(), env).expect("series").unwrap_or_default();
        assert!(series.iter().all(|s| s.contains_key("namespace")));
    }

    #[test]
    fn plain_text_errors_are_the_message() {
        let parse = recorded("error_parse.txt");
        assert!(error_message(&parse).contains("parse error"), "{parse}");
        let limit = recorded("error_limit.txt");
        assert!(
            error_message(&limit).contains("max entries limit"),
            "{limit}"
        );
        assert_eq!(
            error_message(r#"{"message":"too many outstanding requests"}"#),
            "too many outstanding requests"
        );
    }

    #[test]
    fn version_comes_from_build_info_metric_or_endpoint() {
        let v = version_from_metrics(&recorded("metrics_build_info.txt")).expect("version");
        assert_eq!(v, "1.6.1");
        let v = LokiVersion::parse(&v);
        assert_eq!(v.major_minor, Some((1, 6)));
        assert_eq!(v.logql_v2(), Some(false));
        let info: BuildInfo = serde_json::from_str(
            r#"{"version":"2.9.4","revision":"f599ebc","branch":"HEAD","buildUser":"","buildDate":"","goVersion":""}"#,
        )
        .expect("json");
        assert_eq!(LokiVersion::parse(&info.version).logql_v2(), Some(true));
        assert_eq!(LokiVersion::parse("v3.1.0").major_minor, Some((3, 1)));
    }

    /// `/metrics` as Loki 1.6.1 and 2.2.1 (recorded from the stack) and 3.x write it, and one without
    /// the build metric.
    #[rstest::rstest]
    #[case::recorded_1_6_1(recorded("metrics_build_info.txt"), Ok(Some("1.6.1")))]
    #[case::recorded_2_2_1(recorded("2.2.1/metrics_build_info.txt"), Ok(Some("2.2.1")))]
    #[case::loki_3(
        "loki_build_info{branch=\"release-3.1.x\",goversion=\"go1.22.5\",revision=\"935aee77ed\",tags=\"netgo\",version=\"3.1.0\"} 1\n".to_string(),
        Ok(Some("3.1.0"))
    )]
    #[case::empty_version("loki_build_info{version=\"\"} 1\n".to_string(), Ok(None))]
    #[case::not_loki("go_goroutines 12\n".to_string(), Err("no loki_build_info"))]
    fn server_version_is_loki_build_info(
        #[case] text: String,
        #[case] want: Result<Option<&str>, &str>,
    ) {
        let got = build_version(line(), &text);
        match want {
            Ok(v) => assert_eq!(got.expect("version").as_deref(), v),
            Err(e) => assert!(got.expect_err("error").to_string().contains(e)),
        }
    }

    /// Only a release number decides; anything else is `None`, which makes the caller ask the
    /// server with a v2 query rather than pass or fail on a guess.
    #[rstest::rstest]
    #[case::release("2.2.1", Some(true))]
    #[case::v_prefix("v2.9.4", Some(true))]
    #[case::three("3.1.0", Some(true))]
    #[case::release_candidate("2.0.0-rc.1", Some(true))]
    #[case::one_six("1.6.1", Some(false))]
    #[case::zero("0.4.0", Some(false))]
    #[case::weekly("k231-abc123", None)]
    #[case::main_build("main-4a5b6c", None)]
    #[case::head("HEAD", None)]
    #[case::empty("", None)]
    #[case::garbage("not a version", None)]
    #[case::half_number("2x.9", None)]
    #[case::major_only("3", None)]
    fn version_text_decides_logql_v2_only_when_it_is_a_release(
        #[case] text: &str,
        #[case] v2: Option<bool>,
    ) {
        assert_eq!(LokiVersion::parse(text).logql_v2(), v2);
    }

    #[test]
    fn only_a_parse_error_means_no_logql_v2() {
        let query = |message: &str| LokiError::Query {
            request: line(),
            status: StatusCode::BAD_REQUEST,
            message: message.to_string(),
        };
        // What Loki 1.6.1 and 2.2.1 answered the suite's malformed query and a query over the
        // entries limit (recorded).
        for dir in ["", "2.2.1/"] {
            assert!(is_parse_rejection(&query(&error_message(&recorded(
                &format!("{dir}error_parse.txt")
            )))));
            assert!(!is_parse_rejection(&query(&error_message(&recorded(
                &format!("{dir}error_limit.txt")
            )))));
        }
        assert!(!is_parse_rejection(&LokiError::Unexpected {
            request: line(),
            message: "status error".into(),
        }));
    }
}
