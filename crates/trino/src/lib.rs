//! Client for Trino's HTTP protocol: submit a statement, follow `nextUri` page by page, read
//! columns, rows and Trino's own errors, cancel a running query, ask the server about a query.
//!
//! Spoken directly over the workspace's `reqwest` (through [`HttpClient`]) rather than through
//! a Trino client crate: the two candidates mishandle `timestamp(6)` and cancellation and each
//! adds about 80 packages (see ARCHITECTURE.md). What this client always does:
//!
//! - sends `X-Trino-Client-Capabilities: PARAMETRIC_DATETIME`, so that `timestamp(6)` arrives
//!   with its six fractional digits and its real type;
//! - retries a page on 429, 502, 503 and 504 (through `wait_until`, never a sleep);
//! - sends a password (HTTP basic auth) only over `https://` and refuses to build otherwise;
//! - turns a failed query into [`TrinoError::Query`], which shows Trino's error name, code,
//!   type and message.

use std::path::Path;
use std::time::{Duration, Instant};

use carbon_config::{ConfigError, Secret, Target};
use carbon_core::http::{ClientOptions, HttpClient, HttpError, RequestLine, excerpt};
use carbon_core::wait::{Check, WaitError, wait_until};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// The client capabilities every request announces.
pub const CLIENT_CAPABILITIES: &str = "PARAMETRIC_DATETIME";

/// Errors of the Trino client.
#[derive(Debug, thiserror::Error)]
pub enum TrinoError {
    /// No answer, or an HTTP status the protocol does not expect.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// No answer over TLS, with a hint at the likely cause (e.g. `https://` to a plain-HTTP port).
    // The transport error is part of the message rather than a `#[source]`, so that a chain
    // printer (`{:#}`) does not show it twice.
    #[error("{error}; hint: {hint}")]
    Tls {
        /// The transport error.
        error: Box<HttpError>,
        /// What probably went wrong.
        hint: String,
    },
    /// The target does not configure the service or its password.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The target pairs a password with a plain-HTTP coordinator URL.
    #[error(
        "trino: refusing to send the password of user `{user}` (from {var}) over plain HTTP to {url}: basic auth needs an https:// coordinator URL (trino.url)"
    )]
    PasswordOverHttp {
        /// The user.
        user: String,
        /// The variable holding the password.
        var: String,
        /// The coordinator URL.
        url: String,
    },
    /// The coordinator rejected the request's credentials (HTTP 401).
    #[error("trino: {request}: HTTP 401: {reason}; the server said: {body}")]
    Unauthorized {
        /// What was sent.
        request: RequestLine,
        /// Which setting to check.
        reason: String,
        /// A body excerpt.
        body: String,
    },
    /// The coordinator takes authentication only over HTTPS and was asked over plain HTTP
    /// (HTTP 403 "Authentication over HTTP is not enabled").
    #[error(
        "trino: {request}: HTTP 403: the coordinator accepts authentication only over HTTPS: set trino.url to its https:// address (and trino.password_env); the server said: {body}"
    )]
    HttpsRequired {
        /// What was sent.
        request: RequestLine,
        /// A body excerpt.
        body: String,
    },
    /// The query reached Trino and failed there.
    #[error("trino: query {query_id} failed: {failure}")]
    Query {
        /// Trino's query id.
        query_id: String,
        /// Trino's error.
        failure: QueryFailure,
    },
    /// A valid HTTP answer that is not Trino's protocol.
    #[error("trino: {request}: {message}")]
    Protocol {
        /// What was sent.
        request: RequestLine,
        /// What is wrong with the answer.
        message: String,
    },
    /// The query did not finish in time.
    #[error(
        "trino: query {query_id} did not finish within {limit:?} (trino.query_timeout_secs): {detail}"
    )]
    Timeout {
        /// Trino's query id.
        query_id: String,
        /// The limit.
        limit: Duration,
        /// The wait's report (with the last state seen).
        detail: String,
    },
    /// A URL that cannot be formed.
    #[error("trino: invalid URL: {0}")]
    Url(String),
}

impl TrinoError {
    /// Trino's error, when the query failed on the server.
    pub fn failure(&self) -> Option<&QueryFailure> {
        match self {
            TrinoError::Query { failure, .. } => Some(failure),
            _ => None,
        }
    }
}

/// Trino's description of a failed query (`error` of the last page).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryFailure {
    /// The message, e.g. `line 1:15: Table 'tpch.tiny.nope' does not exist`.
    pub message: String,
    /// The numeric code, e.g. 46.
    pub error_code: i64,
    /// The name, e.g. `TABLE_NOT_FOUND`.
    pub error_name: String,
    /// The kind: `USER_ERROR`, `INTERNAL_ERROR`, `INSUFFICIENT_RESOURCES`, `EXTERNAL`.
    pub error_type: String,
}

impl std::fmt::Display for QueryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (code {}, {}): {}",
            self.error_name, self.error_code, self.error_type, self.message
        )
    }
}

/// A result column.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type as Trino writes it, e.g. `timestamp(6)` or `decimal(10, 2)`.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// A page's statistics (the fields the client uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// `QUEUED`, `PLANNING`, `STARTING`, `RUNNING`, `FINISHING`, `FINISHED` or `FAILED`.
    pub state: String,
    /// Time since the server received the query.
    #[serde(default)]
    pub elapsed_time_millis: u64,
    /// Time the query spent queued.
    #[serde(default)]
    pub queued_time_millis: u64,
}

/// One page of `/v1/statement`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// The query id.
    pub id: String,
    /// The next page; absent on the last one.
    #[serde(default)]
    pub next_uri: Option<Url>,
    /// The columns, once known.
    #[serde(default)]
    pub columns: Option<Vec<Column>>,
    /// Rows of this page.
    #[serde(default)]
    pub data: Option<Vec<Vec<Value>>>,
    /// Statistics.
    #[serde(default)]
    pub stats: Option<Stats>,
    /// Trino's error, on the last page of a failed query.
    #[serde(default)]
    pub error: Option<QueryFailure>,
    /// For statements without rows, what they did, e.g. `CREATE TABLE`.
    #[serde(default)]
    pub update_type: Option<String>,
}

impl Page {
    /// Parses a page.
    ///
    /// # Errors
    /// The parser's message.
    pub fn parse(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    fn state(&self) -> &str {
        self.stats.as_ref().map_or("UNKNOWN", |s| s.state.as_str())
    }
}

/// A finished query's result.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// The query id.
    pub query_id: String,
    /// The columns (empty for statements without rows).
    pub columns: Vec<Column>,
    /// All rows, values as Trino sends them (numbers, strings, booleans, null, arrays).
    pub rows: Vec<Vec<Value>>,
    /// What the statement did, for statements without rows.
    pub update_type: Option<String>,
    /// Elapsed time as the server reports it on the last page.
    pub server_elapsed: Duration,
    /// Wall time on the client, from submission to the last page.
    pub client_elapsed: Duration,
}

impl QueryOutput {
    /// The single value of a one-row, one-column result.
    ///
    /// # Errors
    /// A description of the shape when it is not one value.
    pub fn single(&self) -> Result<&Value, String> {
        match self.rows.as_slice() {
            [row] if row.len() == 1 => Ok(&row[0]),
            _ => Err(format!(
                "query {} returned {} row(s) of {} column(s), expected one value",
                self.query_id,
                self.rows.len(),
                self.columns.len()
            )),
        }
    }
}

/// `GET /v1/info`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// The version.
    pub node_version: NodeVersion,
    /// `node.environment`.
    pub environment: String,
    /// Whether this node is a coordinator.
    pub coordinator: bool,
    /// Whether the server is still starting (it does not take queries yet).
    pub starting: bool,
    /// Uptime as Trino formats it, e.g. `5.21m`.
    #[serde(default)]
    pub uptime: Option<String>,
}

/// The version part of [`ServerInfo`].
#[derive(Debug, Clone, Deserialize)]
pub struct NodeVersion {
    /// E.g. `476`.
    pub version: String,
}

/// `GET /v1/query/{id}`: the server's view of one query (the fields the client uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryInfo {
    /// The query id.
    pub query_id: String,
    /// Its state, e.g. `RUNNING`, `FAILED`.
    pub state: String,
    /// Its error, when it failed.
    #[serde(default)]
    pub error_code: Option<ErrorCode>,
}

impl QueryInfo {
    /// Parses the server's answer.
    ///
    /// # Errors
    /// The parser's message.
    pub fn parse(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// Whether the query still runs (any state before `FINISHED` or `FAILED`).
    pub fn is_running(&self) -> bool {
        !matches!(self.state.as_str(), "FINISHED" | "FAILED")
    }
}

/// An error code in [`QueryInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorCode {
    /// Numeric code.
    pub code: i64,
    /// Name, e.g. `USER_CANCELED`.
    pub name: String,
    /// Kind, e.g. `USER_ERROR`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A client for one Trino coordinator.
#[derive(Debug, Clone)]
pub struct TrinoClient {
    http: HttpClient,
    base: Url,
    user: String,
    password: Option<(String, Secret)>,
    query_timeout: Duration,
}

/// Options for [`TrinoClient::new`].
#[derive(Debug, Clone)]
pub struct TrinoOptions<'a> {
    /// The user (`X-Trino-User`).
    pub user: String,
    /// The password and the name of the variable it came from (for messages).
    pub password: Option<(String, Secret)>,
    /// Extra CA certificates to trust.
    pub ca_file: Option<&'a Path>,
    /// Limit for one HTTP request.
    pub request_timeout: Duration,
    /// Limit for one query, submission to last page.
    pub query_timeout: Duration,
}

impl TrinoClient {
    /// Builds a client from the target's `[trino]` section and its password, if it names one.
    ///
    /// # Errors
    /// [`TrinoError::Config`] when the section or the password is missing,
    /// [`TrinoError::PasswordOverHttp`] for a password with an `http://` URL.
    fn build_from_target(target: &Target) -> Result<Self, TrinoError> {
        let cfg = target.section("trino", &target.trino)?;
        let password = cfg
            .password_env
            .as_deref()
            .map(|var| Ok::<_, ConfigError>((var.to_string(), target.credential("trino", var)?)))
            .transpose()?;
        Self::new(
            cfg.url.clone(),
            TrinoOptions {
                user: cfg.user.clone(),
                password,
                ca_file: cfg.ca_file.as_deref(),
                request_timeout: target.settings.request_timeout(),
                query_timeout: cfg.query_timeout(),
            },
        )
    }

    /// Builds a client for the coordinator at `base`.
    ///
    /// # Errors
    /// [`TrinoError::PasswordOverHttp`] for a password with an `http://` URL;
    /// [`TrinoError::Http`] when the CA file cannot be read.
    pub fn new(base: Url, options: TrinoOptions<'_>) -> Result<Self, TrinoError> {
        if let Some((var, _)) = &options.password
            && base.scheme() != "https"
        {
            return Err(TrinoError::PasswordOverHttp {
                user: options.user,
                var: var.clone(),
                url: base.to_string(),
            });
        }
        let http = HttpClient::new(
            "trino",
            ClientOptions {
                timeout: options.request_timeout,
                ca_file: options.ca_file,
            },
        )?;
        Ok(Self {
            http,
            base,
            user: options.user,
            password: options.password,
            query_timeout: options.query_timeout,
        })
    }

    /// The coordinator URL.
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// The user queries run as.
    pub fn user(&self) -> &str {
        &self.user
    }

    fn join(&self, path: &str) -> Result<Url, TrinoError> {
        self.base
            .join(path)
            .map_err(|e| TrinoError::Url(format!("{}{path}: {e}", self.base)))
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let r = self
            .http
            .request(method, url)
            .header("X-Trino-User", &self.user)
            .header("X-Trino-Client-Capabilities", CLIENT_CAPABILITIES)
            .header("X-Trino-Source", "carbon-e2e");
        match &self.password {
            Some((_, pw)) => r.basic_auth(&self.user, Some(pw.expose())),
            None => r,
        }
    }

    /// Sends a request; a 401 becomes [`TrinoError::Unauthorized`] saying which setting to check,
    /// a TLS failure gets a hint.
    async fn send(
        &self,
        request: RequestBuilder,
    ) -> Result<(RequestLine, reqwest::Response), TrinoError> {
        let (line, response) = self
            .http
            .send_any(request)
            .await
            .map_err(|e| tls_hint(e, &self.base))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let body = self.http.body(&line, response).await.unwrap_or_default();
            return Err(TrinoError::Unauthorized {
                request: line,
                reason: unauthorized_reason(
                    &self.user,
                    self.password.as_ref().map(|(v, _)| v.as_str()),
                    &body,
                ),
                body: excerpt(&body),
            });
        }
        if response.status() == StatusCode::FORBIDDEN {
            let body = self.http.body(&line, response).await.unwrap_or_default();
            if body.contains("Authentication over HTTP is not enabled") {
                return Err(TrinoError::HttpsRequired {
                    request: line,
                    body: excerpt(&body),
                });
            }
            return Err(HttpError::Status {
                service: "trino",
                request: line,
                status: StatusCode::FORBIDDEN,
                body: excerpt(&body),
            }
            .into());
        }
        Ok((line, response))
    }

    /// `GET /v1/info`: version, environment, whether the server is still starting.
    ///
    /// # Errors
    /// [`TrinoError::Http`] naming the URL when the coordinator does not answer.
    pub async fn info(&self) -> Result<ServerInfo, TrinoError> {
        let url = self.join("/v1/info")?;
        let (line, response) = self.send(self.request(Method::GET, url)).await?;
        if !response.status().is_success() {
            return Err(self.http.status_error(line, response).await.into());
        }
        let body = self.http.body(&line, response).await?;
        Ok(self.http.decode(&line, &body)?)
    }

    /// Submits `sql` and returns the running query with its first page read.
    ///
    /// # Errors
    /// As [`Query::advance`].
    pub async fn submit(&self, sql: &str) -> Result<Query<'_>, TrinoError> {
        let url = self.join("/v1/statement")?;
        let started = Instant::now();
        let page = self
            .page_with_retries(
                "the statement to be accepted",
                Method::POST,
                &url,
                Some(sql),
                None,
            )
            .await?;
        let mut query = Query {
            client: self,
            columns: Vec::new(),
            rows: Vec::new(),
            last: page.clone(),
            started,
        };
        query.absorb(page)?;
        Ok(query)
    }

    /// Runs `sql` to completion and returns every row.
    ///
    /// # Errors
    /// [`TrinoError::Query`] with Trino's error when the query fails, [`TrinoError::Timeout`]
    /// after `trino.query_timeout_secs`, and the transport errors of [`Self::info`].
    pub async fn execute(&self, sql: &str) -> Result<QueryOutput, TrinoError> {
        self.submit(sql).await?.finish().await
    }

    /// The catalogs the server has (`SHOW CATALOGS`).
    ///
    /// # Errors
    /// As [`Self::execute`].
    pub async fn catalogs(&self) -> Result<Vec<String>, TrinoError> {
        let out = self.execute("SHOW CATALOGS").await?;
        Ok(out
            .rows
            .iter()
            .filter_map(|r| r.first().and_then(Value::as_str).map(str::to_string))
            .collect())
    }

    /// `GET /v1/query/{id}`: the server's view of a query; `None` once the server has
    /// forgotten it (HTTP 410 or 404).
    ///
    /// # Errors
    /// Transport and status errors, [`TrinoError::Http`] with a decode error for a bad body.
    pub async fn query_info(&self, query_id: &str) -> Result<Option<QueryInfo>, TrinoError> {
        let url = self.join(&format!("/v1/query/{query_id}"))?;
        let (line, response) = self.send(self.request(Method::GET, url)).await?;
        match response.status() {
            StatusCode::GONE | StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let body = self.http.body(&line, response).await?;
                Ok(Some(self.http.decode(&line, &body)?))
            }
            _ => Err(self.http.status_error(line, response).await.into()),
        }
    }

    /// `DELETE /v1/query/{id}`: stops a query by id (whoever started it, when allowed).
    ///
    /// # Errors
    /// Transport errors, or a status other than 2xx, 404 or 410.
    pub async fn kill(&self, query_id: &str) -> Result<(), TrinoError> {
        let url = self.join(&format!("/v1/query/{query_id}"))?;
        let (line, response) = self.send(self.request(Method::DELETE, url)).await?;
        let status = response.status();
        if status.is_success() || matches!(status, StatusCode::GONE | StatusCode::NOT_FOUND) {
            Ok(())
        } else {
            Err(self.http.status_error(line, response).await.into())
        }
    }

    /// Fetches one page, retrying 429/502/503/504 until `deadline` passes.
    async fn page_with_retries(
        &self,
        what: &str,
        method: Method,
        url: &Url,
        body: Option<&str>,
        query_id: Option<&str>,
    ) -> Result<Page, TrinoError> {
        let probe = || {
            let method = method.clone();
            async move {
                let mut request = self.request(method, url.clone());
                if let Some(sql) = body {
                    request = request.body(sql.to_string());
                }
                let (line, response) = self.send(request).await?;
                let status = response.status();
                if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
                    return Ok(Check::Pending(format!("{line}: HTTP {status} (retrying)")));
                }
                if !status.is_success() {
                    return Err(self.http.status_error(line, response).await.into());
                }
                let text = self.http.body(&line, response).await?;
                Page::parse(&text)
                    .map(Check::Ready)
                    .map_err(|e| TrinoError::Protocol {
                        request: line,
                        message: format!("not a Trino statement page ({e}): {}", excerpt(&text)),
                    })
            }
        };
        wait_until(what, self.query_timeout, probe)
            .await
            .map_err(|e| match e {
                WaitError::Probe { source, .. } => source,
                timed_out => TrinoError::Timeout {
                    query_id: query_id.unwrap_or("(not yet accepted)").to_string(),
                    limit: self.query_timeout,
                    detail: timed_out.to_string(),
                },
            })
    }
}

/// A query the server has accepted; pages are read with [`Query::advance`].
#[derive(Debug)]
pub struct Query<'a> {
    client: &'a TrinoClient,
    columns: Vec<Column>,
    rows: Vec<Vec<Value>>,
    last: Page,
    started: Instant,
}

impl Query<'_> {
    /// The query id.
    pub fn id(&self) -> &str {
        &self.last.id
    }

    /// The state the last page reported.
    pub fn state(&self) -> &str {
        self.last.state()
    }

    /// Whether the last page was the final one.
    pub fn is_done(&self) -> bool {
        self.last.next_uri.is_none()
    }

    fn absorb(&mut self, page: Page) -> Result<(), TrinoError> {
        if let Some(failure) = &page.error {
            return Err(TrinoError::Query {
                query_id: page.id.clone(),
                failure: failure.clone(),
            });
        }
        if self.columns.is_empty()
            && let Some(c) = &page.columns
        {
            self.columns = c.clone();
        }
        if let Some(rows) = &page.data {
            self.rows.extend(rows.iter().cloned());
        }
        self.last = page;
        Ok(())
    }

    /// Reads the next page; returns `false` when there is none.
    ///
    /// # Errors
    /// [`TrinoError::Query`] when the query failed, [`TrinoError::Timeout`] when it is past
    /// `trino.query_timeout_secs`, and transport errors.
    pub async fn advance(&mut self) -> Result<bool, TrinoError> {
        let Some(next) = self.last.next_uri.clone() else {
            return Ok(false);
        };
        let elapsed = self.started.elapsed();
        if elapsed > self.client.query_timeout {
            return Err(TrinoError::Timeout {
                query_id: self.id().to_string(),
                limit: self.client.query_timeout,
                detail: format!("still {} after {elapsed:.1?}", self.state()),
            });
        }
        let id = self.id().to_string();
        let page = self
            .client
            .page_with_retries("the next page", Method::GET, &next, None, Some(&id))
            .await?;
        self.absorb(page)?;
        Ok(!self.is_done())
    }

    /// Reads pages until the query ends; returns its result.
    ///
    /// # Errors
    /// As [`Self::advance`].
    pub async fn finish(mut self) -> Result<QueryOutput, TrinoError> {
        while self.advance().await? {}
        Ok(QueryOutput {
            query_id: self.last.id.clone(),
            columns: self.columns,
            rows: self.rows,
            update_type: self.last.update_type.clone(),
            server_elapsed: Duration::from_millis(
                self.last
                    .stats
                    .as_ref()
                    .map_or(0, |s| s.elapsed_time_millis),
            ),
            client_elapsed: self.started.elapsed(),
        })
    }

    /// Cancels the query (`DELETE` on its next page). A query that has already ended is left as
    /// it is.
    ///
    /// # Errors
    /// Transport errors, or a status other than 2xx, 404 or 410.
    pub async fn cancel(self) -> Result<(), TrinoError> {
        let Some(next) = self.last.next_uri.clone() else {
            return Ok(());
        };
        let (line, response) = self
            .client
            .send(self.client.request(Method::DELETE, next))
            .await?;
        let status = response.status();
        if status.is_success() || matches!(status, StatusCode::GONE | StatusCode::NOT_FOUND) {
            Ok(())
        } else {
            Err(self.client.http.status_error(line, response).await.into())
        }
    }
}

/// Which setting a 401 points at.
fn unauthorized_reason(user: &str, password_var: Option<&str>, body: &str) -> String {
    if body.contains("impersonate") {
        return format!(
            "the coordinator refused to let user `{user}` act as itself (check trino.user)"
        );
    }
    match password_var {
        Some(var) => format!(
            "the coordinator rejected the credentials of user `{user}`: either no such user (trino.user) or a wrong password in {var}"
        ),
        None => format!(
            "the coordinator requires authentication and the target gives user `{user}` no password: set trino.password_env (and use an https:// trino.url)"
        ),
    }
}

/// Adds a hint to a TLS failure on an `https://` URL, or to a TLS answer on an `http://` one.
fn tls_hint(e: HttpError, base: &Url) -> TrinoError {
    let text = e.to_string().to_ascii_lowercase();
    if base.scheme() == "http" && e.is_transport() && text.contains("invalid http version") {
        return TrinoError::Tls {
            error: Box::new(e),
            hint: "the answer was not HTTP: is the port serving HTTPS? (trino.url says http://)"
                .to_string(),
        };
    }
    let tls = base.scheme() == "https"
        && e.is_transport()
        && [
            "tls",
            "certificate",
            "invalidcontenttype",
            "corrupt message",
            "handshake",
        ]
        .iter()
        .any(|w| text.contains(w));
    if !tls {
        return TrinoError::Http(e);
    }
    let hint = if text.contains("certificate") || text.contains("unknown issuer") {
        "the server's certificate is not trusted: name its CA in trino.ca_file"
    } else {
        "the TLS handshake failed: is the port serving plain HTTP? (trino.url says https://)"
    };
    TrinoError::Tls {
        error: Box::new(e),
        hint: hint.to_string(),
    }
}

/// The catalogs of `required` that `present` lacks.
pub fn missing_catalogs<'a>(required: &'a [String], present: &[String]) -> Vec<&'a str> {
    required
        .iter()
        .filter(|c| !present.iter().any(|p| p == *c))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
    }

    fn options(password: Option<(String, Secret)>) -> TrinoOptions<'static> {
        TrinoOptions {
            user: "alice".into(),
            password,
            ca_file: None,
            request_timeout: Duration::from_secs(10),
            query_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn missing_table_error_carries_name_code_type_and_message() {
        let page = Page::parse(&data("missing_table.json")).unwrap();
        let failure = page.error.clone().unwrap();
        assert_eq!(failure.error_name, "TABLE_NOT_FOUND");
        assert_eq!(failure.error_code, 46);
        let e = TrinoError::Query {
            query_id: page.id,
            failure,
        }
        .to_string();
        assert_eq!(
            e,
            "trino: query 20261126_040503_00004_rs9tt failed: TABLE_NOT_FOUND (code 46, USER_ERROR): line 1:15: Table 'tpch.tiny.nope' does not exist"
        );
    }

    #[test]
    fn syntax_error_is_user_error_1() {
        let page = Page::parse(&data("syntax_error.json")).unwrap();
        let f = page.error.unwrap();
        assert_eq!(
            (f.error_name.as_str(), f.error_code, f.error_type.as_str()),
            ("SYNTAX_ERROR", 1, "USER_ERROR")
        );
        assert!(page.next_uri.is_none());
    }

    #[test]
    fn running_page_has_next_uri_columns_and_state() {
        let page = Page::parse(&data("running_before_cancel.json")).unwrap();
        assert_eq!(page.state(), "RUNNING");
        assert!(page.next_uri.is_some());
        let cols = page.columns.unwrap();
        assert_eq!(cols[1].type_name, "double");
        assert_eq!(page.stats.unwrap().elapsed_time_millis, 524);
    }

    #[test]
    fn cancelled_query_info_shows_user_canceled() {
        let info = QueryInfo::parse(&data("query_info_after_cancel.json")).unwrap();
        assert!(!info.is_running());
        assert_eq!(info.error_code.unwrap().name, "USER_CANCELED");
    }

    #[test]
    fn finished_page_with_timestamp6_and_decimal_keeps_them_as_text() {
        let page = Page::parse(
            r#"{"id":"q1","columns":[{"name":"ts","type":"timestamp(6)"},{"name":"d","type":"decimal(10,2)"}],
               "data":[["2024-01-02 03:04:05.123456","12.34"]],"stats":{"state":"FINISHED","elapsedTimeMillis":41}}"#,
        )
        .unwrap();
        assert_eq!(page.columns.unwrap()[0].type_name, "timestamp(6)");
        assert_eq!(
            page.data.unwrap()[0],
            vec![
                Value::from("2024-01-02 03:04:05.123456"),
                Value::from("12.34")
            ]
        );
    }

    #[test]
    fn password_is_never_sent_over_plain_http() {
        let e = TrinoClient::new(
            Url::parse("http://trino.example.com:8080").unwrap(),
            options(Some(("TRINO_PW".into(), Secret::new("pw-value")))),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("refusing to send the password")
                && e.contains("TRINO_PW")
                && e.contains("http://trino.example.com:8080"),
            "{e}"
        );
        assert!(!e.contains("pw-value"), "{e}");
        TrinoClient::new(
            Url::parse("https://trino.example.com").unwrap(),
            options(Some(("TRINO_PW".into(), Secret::new("pw-value")))),
        )
        .unwrap();
    }

    #[test]
    fn unauthorized_says_which_setting_to_check() {
        let with_pw = unauthorized_reason("alice", Some("TRINO_PW"), "Invalid credentials");
        assert!(
            with_pw.contains("TRINO_PW") && with_pw.contains("trino.user"),
            "{with_pw}"
        );
        let without = unauthorized_reason("alice", None, "Unauthorized");
        assert!(without.contains("trino.password_env"), "{without}");
    }

    fn transport(url: &str, detail: &str) -> HttpError {
        HttpError::Transport {
            service: "trino",
            request: RequestLine {
                method: Method::GET,
                url: url.to_string(),
            },
            detail: detail.to_string(),
            timed_out: false,
        }
    }

    /// Details as reqwest/rustls reported them against a real Trino 476 (HTTP on 18080,
    /// HTTPS with a private CA on 28443).
    #[test]
    fn scheme_and_certificate_mistakes_get_a_hint() {
        let cases = [
            (
                "https://127.0.0.1:18080",
                "cannot connect: client error (Connect): received corrupt message of type InvalidContentType",
                "is the port serving plain HTTP?",
            ),
            (
                "http://127.0.0.1:28443",
                "request failed: client error (SendRequest): invalid HTTP version parsed",
                "is the port serving HTTPS?",
            ),
            (
                "https://127.0.0.1:28443",
                "cannot connect: client error (Connect): invalid peer certificate: UnknownIssuer",
                "trino.ca_file",
            ),
        ];
        for (url, detail, hint) in cases {
            let base = Url::parse(url).unwrap();
            let e = tls_hint(transport(url, detail), &base).to_string();
            assert!(e.contains(hint) && e.contains(url), "{e}");
        }
        let refused = tls_hint(
            transport("http://127.0.0.1:9", "cannot connect: Connection refused"),
            &Url::parse("http://127.0.0.1:9").unwrap(),
        );
        assert!(matches!(refused, TrinoError::Http(_)));
    }

    #[test]
    fn missing_catalogs_are_named() {
        let req = vec!["iceberg".to_string(), "tpch".into(), "hive".into()];
        let present = vec!["tpch".to_string(), "iceberg".into(), "system".into()];
        assert_eq!(missing_catalogs(&req, &present), ["hive"]);
    }

    /// A coordinator that is down: the error names the URL, well within 10 s.
    #[tokio::test]
    async fn refused_connection_names_the_coordinator_url() {
        let client =
            TrinoClient::new(Url::parse("http://127.0.0.1:9").unwrap(), options(None)).unwrap();
        let t0 = Instant::now();
        let e = client.execute("SELECT 1").await.unwrap_err().to_string();
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert!(
            e.contains("http://127.0.0.1:9/v1/statement") && e.contains("cannot connect"),
            "{e}"
        );
    }
}

impl carbon_config::FromTarget for TrinoClient {
    const SECTION: &'static str = "trino";
    type Error = TrinoError;

    fn from_target(target: &Target) -> Result<Self, TrinoError> {
        Self::build_from_target(target)
    }
}
