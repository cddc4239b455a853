//! Building the client, sending requests with its headers and credentials, server-level calls.

use std::time::Duration;

use carbon_config::{ConfigError, Secret, Target};
use carbon_core::http::{HttpClient, HttpError, RequestLine, excerpt};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use url::Url;

use crate::error::{same_origin, tls_hint, unauthorized_reason};
use crate::{
    CLIENT_CAPABILITIES, QueryInfo, QuerySummary, SOURCE, ServerInfo, TrinoClient, TrinoError,
};

/// Options for [`TrinoClient::new`].
#[derive(Debug, Clone)]
pub struct TrinoOptions {
    /// The user (`X-Trino-User`).
    pub user: String,
    /// The password and the name of the variable it came from (for messages).
    pub password: Option<(String, Secret)>,
    /// Limit for one query, submission to last page.
    pub query_timeout: Duration,
}
impl TrinoClient {
    /// Builds a client for the coordinator at `base` over `http` (made by
    /// [`Target::http_client`] from a target).
    ///
    /// # Errors
    /// [`TrinoError::PasswordOverHttp`] for a password with an `http://` URL.
    pub fn new(base: Url, http: HttpClient, options: TrinoOptions) -> Result<Self, TrinoError> {
        if let Some((var, _)) = &options.password
            && base.scheme() != "https"
        {
            return Err(TrinoError::PasswordOverHttp {
                user: options.user,
                var: var.clone(),
                url: base.to_string(),
            });
        }
        Ok(Self {
            http,
            base,
            user: options.user,
            password: options.password,
            query_timeout: options.query_timeout,
            run_tag: None,
        })
    }

    /// This client, tagging every query with run `run` ([`crate::run_tag`]), so that the
    /// coordinator's query list ties the run's queries to it.
    #[must_use]
    pub fn with_run(mut self, run: &str) -> Self {
        self.run_tag = Some(crate::run_tag(run));
        self
    }

    /// The coordinator URL.
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// The user queries run as.
    pub fn user(&self) -> &str {
        &self.user
    }

    pub(crate) fn join(&self, path: &str) -> Result<Url, TrinoError> {
        self.base
            .join(path)
            .map_err(|e| TrinoError::Url(format!("{}{path}: {e}", self.base)))
    }

    /// A request with the client's headers and credentials, to a URL on the configured origin
    /// only: a `nextUri` the coordinator names elsewhere (another host, port or scheme) is
    /// refused before anything is sent.
    pub(crate) fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, TrinoError> {
        same_origin(&self.base, &url)?;
        let r = self
            .http
            .request(method, url)
            .header("X-Trino-User", &self.user)
            .header("X-Trino-Client-Capabilities", CLIENT_CAPABILITIES)
            .header("X-Trino-Source", SOURCE);
        let r = match &self.run_tag {
            Some(tag) => r.header("X-Trino-Client-Tags", tag),
            None => r,
        };
        Ok(match &self.password {
            Some((_, pw)) => r.basic_auth(&self.user, Some(pw.expose())),
            None => r,
        })
    }

    /// Sends a request; a 401 becomes [`TrinoError::Unauthorized`] saying which setting to check,
    /// a TLS failure gets a hint.
    pub(crate) async fn send(
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
        let (line, response) = self.send(self.request(Method::GET, url)?).await?;
        if !response.status().is_success() {
            return Err(self.http.status_error(line, response).await.into());
        }
        let body = self.http.body(&line, response).await?;
        Ok(self.http.decode(&line, &body)?)
    }
    /// The version the server reports, from one `GET /v1/info`: `nodeVersion.version`
    /// (`476`); `Ok(None)` when empty. `/v1/info` needs no credentials and runs no query.
    ///
    /// # Errors
    /// As [`Self::info`].
    pub async fn server_version(&self) -> Result<Option<String>, TrinoError> {
        Ok(self.info().await?.reported_version())
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
        let (line, response) = self.send(self.request(Method::GET, url)?).await?;
        match response.status() {
            StatusCode::GONE | StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let body = self.http.body(&line, response).await?;
                Ok(Some(self.http.decode(&line, &body)?))
            }
            _ => Err(self.http.status_error(line, response).await.into()),
        }
    }

    /// `GET /v1/query`: the queries the coordinator knows that still run (queued, planning,
    /// running, finishing), as far as the user may see them.
    ///
    /// # Errors
    /// Transport and status errors, [`TrinoError::Http`] with a decode error for a bad body.
    pub async fn list_running_queries(&self) -> Result<Vec<QuerySummary>, TrinoError> {
        let url = self.join("/v1/query")?;
        let (line, response) = self.send(self.request(Method::GET, url)?).await?;
        if !response.status().is_success() {
            return Err(self.http.status_error(line, response).await.into());
        }
        let body = self.http.body(&line, response).await?;
        let all: Vec<QuerySummary> = self.http.decode(&line, &body)?;
        Ok(all.into_iter().filter(QuerySummary::is_running).collect())
    }

    /// `DELETE /v1/query/{id}`: stops a query by id (whoever started it, when allowed).
    ///
    /// # Errors
    /// Transport errors, or a status other than 2xx, 404 or 410.
    pub async fn kill(&self, query_id: &str) -> Result<(), TrinoError> {
        let url = self.join(&format!("/v1/query/{query_id}"))?;
        let (line, response) = self.send(self.request(Method::DELETE, url)?).await?;
        let status = response.status();
        if status.is_success() || matches!(status, StatusCode::GONE | StatusCode::NOT_FOUND) {
            Ok(())
        } else {
            Err(self.http.status_error(line, response).await.into())
        }
    }
}

impl carbon_config::FromTarget for TrinoClient {
    const SECTION: &'static str = "trino";
    type Error = TrinoError;

    fn from_target(target: &Target) -> Result<Self, TrinoError> {
        let cfg = target.section("trino", &target.trino)?;
        let http = target.http_client(carbon_config::Service::Trino, cfg)?;
        let password = cfg
            .password_env
            .as_deref()
            .map(|var| Ok::<_, ConfigError>((var.to_string(), target.credential("trino", var)?)))
            .transpose()?;
        Self::new(
            cfg.url.clone(),
            http,
            TrinoOptions {
                user: cfg.user.clone(),
                password,
                query_timeout: cfg.query_timeout(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn options(password: Option<(String, Secret)>) -> TrinoOptions {
        TrinoOptions {
            user: "alice".into(),
            password,
            query_timeout: Duration::from_secs(10),
        }
    }

    fn http() -> HttpClient {
        HttpClient::new(
            "trino",
            carbon_core::http::ClientOptions {
                timeout: Duration::from_secs(10),
                ca_file: None,
            },
        )
        .expect("client")
    }

    #[test]
    fn password_is_never_sent_over_plain_http() {
        let e = TrinoClient::new(
            Url::parse("http://trino.example.com:8080").unwrap(),
            http(),
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
            http(),
            options(Some(("TRINO_PW".into(), Secret::new("pw-value")))),
        )
        .unwrap();
    }

    /// A coordinator that is down: the error names the URL, well within 10 s.
    #[tokio::test]
    async fn refused_connection_names_the_coordinator_url() {
        let client = TrinoClient::new(
            Url::parse("http://127.0.0.1:9").unwrap(),
            http(),
            options(None),
        )
        .unwrap();
        let t0 = Instant::now();
        let e = client.execute("SELECT 1").await.unwrap_err().to_string();
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert!(
            e.contains("http://127.0.0.1:9/v1/statement") && e.contains("cannot connect"),
            "{e}"
        );
    }
}
