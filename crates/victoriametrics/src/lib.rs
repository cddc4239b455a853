//! Client for VictoriaMetrics' Prometheus-compatible HTTP API: health, import, instant query,
//! export and series deletion.
//!
//! Queries are answered with VictoriaMetrics' default `-search.latencyOffset` (30 s): a sample
//! stamped "now" is not visible to an instant query for about 30 s. Callers that need to read
//! back what they wrote should stamp it in the past or poll (see the `victoriametrics` suite).

mod declare;

use std::collections::BTreeMap;

use carbon_config::{ConfigError, Secret, Target};
use std::time::Duration;

use carbon_core::http::{HttpClient, HttpError, RequestLine};
use carbon_core::wait::{Check, WaitError, wait_until};
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use url::Url;

/// Errors of the VictoriaMetrics client.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The request failed or the server refused it.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The target does not configure the service or its token.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The API answered `status: error`.
    #[error("victoriametrics: {request}: {error_type}: {error}")]
    Api {
        /// What was sent.
        request: RequestLine,
        /// Prometheus' error type, e.g. `bad_data`.
        error_type: String,
        /// The server's message.
        error: String,
    },
    /// A URL that cannot be formed.
    #[error("victoriametrics: invalid URL {0}")]
    Url(String),
}

/// One series of an instant-vector result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InstantSample {
    /// Labels, `__name__` included.
    pub metric: BTreeMap<String, String>,
    /// Timestamp (seconds) and value (as text, as Prometheus sends it).
    pub value: (f64, String),
}

impl InstantSample {
    /// The value as a number, if it is one.
    pub fn number(&self) -> Option<f64> {
        self.value.1.parse().ok()
    }
}

/// One series from `/api/v1/export`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExportedSeries {
    /// Labels, `__name__` included.
    pub metric: BTreeMap<String, String>,
    /// Raw values.
    pub values: Vec<f64>,
    /// Raw timestamps in milliseconds.
    pub timestamps: Vec<i64>,
}

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RangeData {
    result: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct VectorData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<InstantSample>,
}

/// A client for one VictoriaMetrics (single node, or a vmselect/vminsert pair).
#[derive(Debug, Clone)]
pub struct VmClient {
    http: HttpClient,
    query_base: Url,
    write_base: Url,
    token: Option<Secret>,
}

use carbon_core::http::base_url as base;

impl VmClient {
    fn url(base: &Url, path: &str) -> Result<Url, VmError> {
        base.join(path)
            .map_err(|e| VmError::Url(format!("{base}{path}: {e}")))
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let r = self.http.request(method, url);
        match &self.token {
            Some(t) => r.bearer_auth(t.expose()),
            None => r,
        }
    }

    /// Checks `/health` on the query endpoint's host answers `OK`.
    ///
    /// # Errors
    /// [`VmError::Http`] naming the endpoint.
    pub async fn health(&self) -> Result<(), VmError> {
        let url = Self::url(&self.query_base, "/health")?;
        self.http.text(self.request(Method::GET, url)).await?;
        Ok(())
    }

    /// The version the server reports, from one `GET /metrics` on the query endpoint's host:
    /// the `version` label of `vm_app_version` (e.g.
    /// `victoria-metrics-20240201-143207-tags-v1.97.1-0-gd3d5c5b7a`). Not
    /// `/api/v1/status/buildinfo`: that answers a fixed Prometheus version for Grafana's sake,
    /// not VictoriaMetrics'. `Ok(None)` when the label is empty: a build without version
    /// stamping, such as Debian's `victoria-metrics` package (the local stack's), reports
    /// `vm_app_version{version="", short_version=""}`.
    ///
    /// # Errors
    /// [`VmError::Http`] when the server does not answer, or answers without `vm_app_version`.
    pub async fn server_version(&self) -> Result<Option<String>, VmError> {
        let url = Self::url(&self.query_base, "/metrics")?;
        let (line, text) = self.http.text(self.request(Method::GET, url)).await?;
        app_version(&line, &text)
    }

    /// The server's clock: the `Date` header of `/health`, in unix seconds.
    ///
    /// # Errors
    /// [`VmError::Http`] when the server does not answer or sends no readable `Date`.
    pub async fn server_clock(&self) -> Result<i64, VmError> {
        let url = Self::url(&self.query_base, "/health")?;
        let (line, response) = self.http.send(self.request(Method::GET, url)).await?;
        carbon_core::http::server_date(&response).ok_or_else(|| {
            VmError::Http(HttpError::Decode {
                service: "victoriametrics",
                request: line,
                message: "no readable Date header".into(),
                body: String::new(),
            })
        })
    }

    /// Writes samples in Prometheus text format (`name{labels} value timestamp_ms` per line).
    ///
    /// # Errors
    /// [`VmError::Http`] when the server refuses.
    pub async fn import_prometheus(&self, lines: &str) -> Result<(), VmError> {
        let url = Self::url(&self.write_base, "api/v1/import/prometheus")?;
        self.http
            .send(self.request(Method::POST, url).body(lines.to_string()))
            .await?;
        Ok(())
    }

    /// Runs an instant query, at `time` (seconds) or now.
    ///
    /// # Errors
    /// [`VmError::Api`] with the server's error type and message for a bad query.
    pub async fn query(
        &self,
        expr: &str,
        time: Option<f64>,
    ) -> Result<Vec<InstantSample>, VmError> {
        let mut url = Self::url(&self.query_base, "api/v1/query")?;
        url.query_pairs_mut().append_pair("query", expr);
        if let Some(t) = time {
            url.query_pairs_mut()
                .append_pair("time", &format!("{t:.3}"));
        }
        let (line, envelope) = self.get_envelope::<VectorData>(url).await?;
        parse_vector(line, envelope)
    }

    /// GETs a query API `url` and reads its envelope; an answer that is not the API's JSON at
    /// all is reported with its status and body.
    async fn get_envelope<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<(RequestLine, Envelope<T>), VmError> {
        let (line, response) = self.http.send_any(self.request(Method::GET, url)).await?;
        let status = response.status();
        let body = self.http.body(&line, response).await?;
        match self.http.decode(&line, &body) {
            Ok(e) => Ok((line, e)),
            Err(_) if !status.is_success() => Err(HttpError::Status {
                service: "victoriametrics",
                request: line,
                status,
                body: carbon_core::http::excerpt(&body),
            }
            .into()),
            Err(e) => Err(e.into()),
        }
    }

    /// How many series `expr` returns over `[start, end]` (unix seconds) at `step_secs`, as a
    /// dashboard panel's range query shows them: a series is only there when it has a point.
    ///
    /// # Errors
    /// [`VmError::Http`] on refusal; [`VmError::Api`] for the server's own error (a query it
    /// cannot parse, named with its message).
    pub async fn range_series(
        &self,
        expr: &str,
        start: f64,
        end: f64,
        step_secs: u64,
    ) -> Result<usize, VmError> {
        let mut url = Self::url(&self.query_base, "api/v1/query_range")?;
        url.query_pairs_mut()
            .append_pair("query", expr)
            .append_pair("start", &format!("{start:.3}"))
            .append_pair("end", &format!("{end:.3}"))
            .append_pair("step", &format!("{step_secs}s"));
        let (line, envelope) = self.get_envelope::<RangeData>(url).await?;
        if envelope.status != "success" {
            return Err(VmError::Api {
                request: line,
                error_type: envelope.error_type.unwrap_or_else(|| "unknown".into()),
                error: envelope.error.unwrap_or_else(|| "(no message)".into()),
            });
        }
        Ok(envelope.data.map_or(0, |d| {
            d.result
                .iter()
                .filter(|r| {
                    r.get("values")
                        .and_then(serde_json::Value::as_array)
                        .is_some_and(|v| !v.is_empty())
                })
                .count()
        }))
    }

    /// Exports the raw samples of the series matching `selector`.
    ///
    /// # Errors
    /// [`VmError::Http`] on refusal or unreadable lines.
    pub async fn export(&self, selector: &str) -> Result<Vec<ExportedSeries>, VmError> {
        let mut url = Self::url(&self.query_base, "api/v1/export")?;
        url.query_pairs_mut().append_pair("match[]", selector);
        let (line, body) = self.http.text(self.request(Method::GET, url)).await?;
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| self.http.decode(&line, l).map_err(VmError::from))
            .collect()
    }

    /// Deletes the series matching `selector` (single-node API).
    ///
    /// # Errors
    /// [`VmError::Http`] when the server refuses (e.g. deletion is not allowed).
    pub async fn delete_series(&self, selector: &str) -> Result<(), VmError> {
        let mut url = Self::url(&self.query_base, "api/v1/admin/tsdb/delete_series")?;
        url.query_pairs_mut().append_pair("match[]", selector);
        self.http.send(self.request(Method::POST, url)).await?;
        Ok(())
    }

    /// Asks the server to make the samples it holds in memory searchable now (single-node
    /// `/internal/force_flush`). `Ok(false)` when the server does not offer it (4xx).
    ///
    /// # Errors
    /// [`VmError::Http`] when the server cannot be reached or answers 5xx.
    pub async fn force_flush(&self) -> Result<bool, VmError> {
        let url = Self::url(&self.write_base, "/internal/force_flush")?;
        match self.http.send(self.request(Method::GET, url)).await {
            Ok(_) => Ok(true),
            Err(e) if e.status().is_some_and(|s| s.is_client_error()) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the series matching `selector` and confirms that none is left, within `timeout`.
    ///
    /// A delete alone can leave a series behind: samples an import (one still in flight when a
    /// run was cancelled, say) had put in the server's buffer are flushed after the delete and
    /// recreate it. So each round flushes, deletes, flushes and exports; it ends when the export
    /// is empty. A server without `force_flush` is given [`UNFLUSHED_SETTLE`] after the first
    /// delete to make its buffer searchable before an empty export counts.
    ///
    /// # Errors
    /// [`VmError::Http`] from the calls, or [`VmError::Api`] naming the series still present when
    /// the time runs out.
    pub async fn delete_series_settled(
        &self,
        selector: &str,
        timeout: Duration,
    ) -> Result<(), VmError> {
        let mut url = Self::url(&self.query_base, "api/v1/admin/tsdb/delete_series")?;
        url.query_pairs_mut().append_pair("match[]", selector);
        let request = RequestLine {
            method: Method::POST,
            url: carbon_core::http::redact_url(&url),
        };
        let started = tokio::time::Instant::now();
        let outcome = wait_until(
            format!("series {selector} to stay deleted"),
            timeout,
            || async {
                let flushed = self.force_flush().await?;
                self.delete_series(selector).await?;
                let flushed = flushed && self.force_flush().await?;
                let left = self.export(selector).await?;
                Ok::<_, VmError>(if !left.is_empty() {
                    Check::Pending(format!("{} series still exported", left.len()))
                } else if !flushed && started.elapsed() < UNFLUSHED_SETTLE {
                    Check::Pending(
                        "none exported yet; the server's buffer may not be searchable".into(),
                    )
                } else {
                    Check::Ready(())
                })
            },
        )
        .await;
        outcome.map_err(|e| match e {
            WaitError::Probe { source, .. } => source,
            timed_out => VmError::Api {
                request,
                error_type: "not_deleted".into(),
                error: timed_out.to_string(),
            },
        })
    }
}

/// What a trial's cleanup gives [`VmClient::delete_series_settled`].
pub const SERIES_CLEANUP: Duration = Duration::from_secs(10);

/// How long a server without `force_flush` may keep imported samples unsearchable.
pub const UNFLUSHED_SETTLE: Duration = Duration::from_secs(3);

fn parse_vector(
    request: RequestLine,
    envelope: Envelope<VectorData>,
) -> Result<Vec<InstantSample>, VmError> {
    if envelope.status != "success" {
        return Err(VmError::Api {
            request,
            error_type: envelope.error_type.unwrap_or_else(|| "unknown".into()),
            error: envelope.error.unwrap_or_else(|| "(no message)".into()),
        });
    }
    match envelope.data {
        Some(d) if d.result_type == "vector" => Ok(d.result),
        Some(d) => Err(VmError::Api {
            request,
            error_type: "unexpected_result".into(),
            error: format!("expected a vector, got {}", d.result_type),
        }),
        None => Err(VmError::Api {
            request,
            error_type: "no_data".into(),
            error: "success without data".into(),
        }),
    }
}

impl carbon_config::FromTarget for VmClient {
    const SECTION: &'static str = "victoriametrics";
    type Error = VmError;

    fn from_target(target: &Target) -> Result<Self, VmError> {
        let cfg = target.section("victoriametrics", &target.victoriametrics)?;
        let token = cfg
            .bearer_token_env
            .as_deref()
            .map(|var| target.credential("victoriametrics", var))
            .transpose()?;
        let http = target.http_client(carbon_config::Service::VictoriaMetrics, cfg)?;
        Ok(Self {
            http,
            query_base: base(&cfg.url),
            write_base: base(cfg.write_url.as_ref().unwrap_or(&cfg.url)),
            token,
        })
    }
}

/// The `version` label of `vm_app_version` in a `/metrics` text (`None` when empty).
fn app_version(line: &RequestLine, text: &str) -> Result<Option<String>, VmError> {
    let labels = carbon_core::promtext::sample_labels(text, "vm_app_version").ok_or_else(|| {
        HttpError::Decode {
            service: "victoriametrics",
            request: line.clone(),
            message: "no vm_app_version sample: not a VictoriaMetrics /metrics".into(),
            body: carbon_core::http::excerpt(text),
        }
    })?;
    Ok(labels.get("version").filter(|v| !v.is_empty()).cloned())
}

impl carbon_core::failure::Classify for VmError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        match self {
            VmError::Http(e) => e.kind(),
            VmError::Config(e) => e.kind(),
            VmError::Api { .. } => Some(Kind::Answer),
            VmError::Url(_) => Some(Kind::Runner),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Parsing only, on recorded responses; the client itself is verified against a real
    //! VictoriaMetrics by the `victoriametrics` suite.
    use super::*;

    fn line() -> RequestLine {
        RequestLine {
            method: Method::GET,
            url: "http://vm/api/v1/query".into(),
        }
    }

    /// `/metrics` excerpts: a release build, Debian's unstamped build (the local stack's
    /// 1.79.5 package), and a server that is not VictoriaMetrics.
    #[rstest::rstest]
    #[case::release(
        "# HELP vm_app_version\nvm_app_version{version=\"victoria-metrics-20240201-143207-tags-v1.97.1-0-gd3d5c5b7a\", short_version=\"v1.97.1\"} 1\nvm_app_uptime_seconds 12.5\n",
        Ok(Some("victoria-metrics-20240201-143207-tags-v1.97.1-0-gd3d5c5b7a"))
    )]
    #[case::debian_unstamped(
        "vm_app_version{version=\"\", short_version=\"\"} 1\nvm_app_start_timestamp 1796580177\n",
        Ok(None)
    )]
    #[case::not_victoriametrics("go_info{version=\"go1.22.1\"} 1\n", Err("no vm_app_version"))]
    fn server_version_is_vm_app_version(
        #[case] text: &str,
        #[case] want: Result<Option<&str>, &str>,
    ) {
        let got = app_version(&line(), text);
        match want {
            Ok(v) => assert_eq!(got.expect("version").as_deref(), v),
            Err(e) => assert!(got.expect_err("error").to_string().contains(e)),
        }
    }

    #[test]
    fn vector_result_parses_labels_and_value() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"vm"},"value":[1700000000.5,"1"]}]}}"#;
        let env: Envelope<VectorData> = serde_json::from_str(body).unwrap();
        let r = parse_vector(line(), env).unwrap();
        assert_eq!(r[0].metric["job"], "vm");
        assert_eq!(r[0].number(), Some(1.0));
    }

    #[test]
    fn api_error_carries_type_and_message() {
        let body = r#"{"status":"error","errorType":"422","error":"error when executing query=\"up{\": cannot parse"}"#;
        let env: Envelope<VectorData> = serde_json::from_str(body).unwrap();
        let e = parse_vector(line(), env).unwrap_err().to_string();
        assert!(
            e.contains("GET http://vm/api/v1/query: 422: error when executing"),
            "{e}"
        );
    }

    #[test]
    fn export_line_parses() {
        let l = r#"{"metric":{"__name__":"m","e2e_run":"r1"},"values":[42],"timestamps":[1700000000000]}"#;
        let s: ExportedSeries = serde_json::from_str(l).unwrap();
        assert_eq!(s.values, vec![42.0]);
        assert_eq!(s.timestamps, vec![1_700_000_000_000]);
    }
}
