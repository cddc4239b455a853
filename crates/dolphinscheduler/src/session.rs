//! Building the client, credentials and sessions, and the request/envelope plumbing.

use std::sync::{Arc, Mutex};

use carbon_config::{DsApi, Secret, Target};
use carbon_core::http::{ClientOptions, HttpClient, RequestLine, excerpt};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use url::Url;

use crate::api::detect_generation;
use crate::envelope::{open_envelope, unexpected};
use crate::{ApiGeneration, DsClient, DsError, SERVICE};

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Log in with user and password; send the session id in the `sessionId` header.
    Password {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// Send an access token in the `token` header.
    Token(Secret),
}

impl DsClient {
    /// Builds a client for the API at `url` (context path included).
    ///
    /// # Errors
    /// [`DsError::Http`] when the HTTP client cannot be built.
    pub fn new(
        url: Url,
        auth: Auth,
        api: DsApi,
        timeout: std::time::Duration,
    ) -> Result<Self, DsError> {
        Self::with_options(
            url,
            auth,
            api,
            ClientOptions {
                timeout,
                ca_file: None,
            },
        )
    }

    /// Builds a client for the API at `url` with HTTP options (timeout, CA file).
    ///
    /// # Errors
    /// [`DsError::Http`] when the HTTP client cannot be built (e.g. an unreadable CA file).
    pub fn with_options(
        url: Url,
        auth: Auth,
        api: DsApi,
        options: ClientOptions<'_>,
    ) -> Result<Self, DsError> {
        let http = HttpClient::new(SERVICE, options)?;
        let mut base = url;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let generation = match api {
            DsApi::Auto => None,
            DsApi::UpTo3_2 => Some(ApiGeneration::UpTo3_2),
            DsApi::From3_3 => Some(ApiGeneration::From3_3),
        };
        Ok(Self {
            http,
            base,
            auth,
            setting: api,
            session: Arc::new(Mutex::new(None)),
            generation: Arc::new(Mutex::new(generation)),
        })
    }

    /// The same server with other credentials (a fresh session).
    pub fn with_auth(&self, auth: Auth) -> Self {
        Self {
            auth,
            session: Arc::new(Mutex::new(None)),
            ..self.clone()
        }
    }

    /// The base URL (context path included).
    pub fn url(&self) -> &Url {
        &self.base
    }

    fn join(&self, path: &str) -> Result<Url, DsError> {
        self.base
            .join(path)
            .map_err(|e| DsError::Url(format!("{}{path}: {e}", self.base)))
    }

    /// Checks `actuator/health` answers `"status":"UP"`.
    ///
    /// # Errors
    /// [`DsError::Http`] when it does not answer 2xx, [`DsError::Unexpected`] when it is not UP.
    pub async fn health(&self) -> Result<(), DsError> {
        let url = self.join("actuator/health")?;
        let (request, body) = self.http.text(self.http.request(Method::GET, url)).await?;
        let status = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_string));
        if status.as_deref() == Some("UP") {
            Ok(())
        } else {
            Err(DsError::Unexpected {
                request,
                message: format!("health status is {status:?}, not UP"),
                body: excerpt(&body),
            })
        }
    }

    /// The server's clock: the `Date` header of a health request, in unix seconds. Times the
    /// server writes into its objects have no zone (DolphinScheduler's chart runs in
    /// Asia/Shanghai); ages and markers use this clock instead.
    ///
    /// # Errors
    /// [`DsError::Http`] when the server does not answer; [`DsError::Unexpected`] when it sends
    /// no readable `Date` header.
    pub async fn server_clock(&self) -> Result<i64, DsError> {
        let url = self.join("actuator/health")?;
        let (request, response) = self
            .http
            .send_any(self.http.request(Method::HEAD, url))
            .await?;
        carbon_core::http::server_date(&response).ok_or_else(|| DsError::Unexpected {
            request,
            message: "the response has no readable Date header".into(),
            body: String::new(),
        })
    }

    /// Logs in with the configured user and password and keeps the session.
    ///
    /// # Errors
    /// [`DsError::Api`] with the server's code (10013 for a wrong user or password).
    pub async fn login(&self) -> Result<(), DsError> {
        let Auth::Password { user, password } = &self.auth else {
            return Ok(());
        };
        let url = self.join("login")?;
        let request = self.http.request(Method::POST, url).form(&[
            ("userName", user.as_str()),
            ("userPassword", password.expose()),
        ]);
        let data = self.envelope(request).await?;
        let session = data
            .1
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| DsError::Unexpected {
                request: data.0.clone(),
                message: "login answered without a sessionId".into(),
                body: excerpt(&data.1.to_string()),
            })?;
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(Secret::new(session));
        Ok(())
    }

    /// Ends the session, if there is one. The server hands a user the same session for every
    /// login from one address, so this logs out every client of that user there too.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn sign_out(&self) -> Result<(), DsError> {
        if self.current_session().is_none() {
            return Ok(());
        }
        let url = self.join("signOut")?;
        let r = self.authed(Method::POST, url).await?;
        self.envelope(r).await?;
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    fn current_session(&self) -> Option<Secret> {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A request carrying the credentials (logging in first when needed).
    async fn authed(&self, method: Method, url: Url) -> Result<RequestBuilder, DsError> {
        let r = self.http.request(method, url);
        Ok(match &self.auth {
            Auth::Token(token) => r.header("token", token.expose()),
            Auth::Password { .. } => {
                if self.current_session().is_none() {
                    self.login().await?;
                }
                match self.current_session() {
                    Some(s) => r.header("sessionId", s.expose()),
                    None => r,
                }
            }
        })
    }

    /// Sends a request and opens the envelope: data on code 0, [`DsError::Api`] otherwise.
    async fn envelope(&self, request: RequestBuilder) -> Result<(RequestLine, Value), DsError> {
        let (line, response) = self.http.send_any(request).await?;
        let status = response.status();
        let body = self.http.body(&line, response).await?;
        open_envelope(line, status, &body)
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
    ) -> Result<(RequestLine, Value), DsError> {
        let url = self.join(path)?;
        let r = self.authed(method, url).await?;
        self.envelope(r).await
    }

    /// [`Self::call`] for the one request that may legitimately take longer than the target's
    /// request timeout: it gets `extra` on top.
    pub(crate) async fn call_with_extra_time(
        &self,
        method: Method,
        path: &str,
        extra: std::time::Duration,
    ) -> Result<(RequestLine, Value), DsError> {
        let url = self.join(path)?;
        let r = self
            .authed(method, url)
            .await?
            .timeout(self.http.timeout() + extra);
        self.envelope(r).await
    }

    pub(crate) async fn call_form(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<(RequestLine, Value), DsError> {
        let url = self.join(path)?;
        let r = self.authed(method, url).await?.form(form);
        self.envelope(r).await
    }

    pub(crate) async fn call_query(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(RequestLine, Value), DsError> {
        let mut url = self.join(path)?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let r = self.authed(Method::GET, url).await?;
        self.envelope(r).await
    }

    /// The API generation in use: the target's setting, or for `auto` the answer of one probe.
    /// Servers of 3.3 and after know `projects/<code>/workflow-instances` and answer it with an
    /// envelope (for project 0: "project not found"); older ones answer 404.
    ///
    /// # Errors
    /// When the probe gets neither answer.
    pub async fn generation(&self) -> Result<ApiGeneration, DsError> {
        if let Some(g) = *self.generation.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(g);
        }
        let url = self.join("projects/0/workflow-instances?pageNo=1&pageSize=1")?;
        let r = self.authed(Method::GET, url).await?;
        let (line, response) = self.http.send_any(r).await?;
        let status = response.status();
        let body = self.http.body(&line, response).await?;
        let generation = detect_generation(status, &body).ok_or_else(|| DsError::Unexpected {
            request: line,
            message: format!(
                "cannot tell the API generation (HTTP {status}); set dolphinscheduler.api to \"pre-3.3\" or \"3.3+\""
            ),
            body: excerpt(&body),
        })?;
        *self.generation.lock().unwrap_or_else(|p| p.into_inner()) = Some(generation);
        Ok(generation)
    }

    /// How the generation was chosen, for reports.
    pub fn generation_setting(&self) -> DsApi {
        self.setting
    }

    /// The logged-in user's id and name.
    ///
    /// # Errors
    /// When the credentials are refused.
    pub async fn current_user(&self) -> Result<(i64, String), DsError> {
        let (line, data) = self.call(Method::GET, "users/get-user-info").await?;
        let id = data.get("id").and_then(Value::as_i64);
        let name = data.get("userName").and_then(Value::as_str);
        match (id, name) {
            (Some(id), Some(name)) => Ok((id, name.to_string())),
            _ => Err(unexpected(line, "user info without id and userName", &data)),
        }
    }
}

impl carbon_config::FromTarget for DsClient {
    const SECTION: &'static str = "dolphinscheduler";
    type Error = DsError;

    fn from_target(target: &Target) -> Result<Self, DsError> {
        let cfg = target.section("dolphinscheduler", &target.dolphinscheduler)?;
        let token = cfg
            .token_env
            .as_deref()
            .and_then(|var| target.credential(SERVICE, var).ok());
        let auth = match token {
            Some(token) => Auth::Token(token),
            None => Auth::Password {
                user: cfg.user.clone(),
                password: target.credential(SERVICE, &cfg.password_env)?,
            },
        };
        let ca_file = target.ca_file(cfg.ca_file.as_deref());
        Self::with_options(
            cfg.url.clone(),
            auth,
            cfg.api,
            ClientOptions {
                timeout: target.settings.request_timeout(),
                ca_file: ca_file.as_deref(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_setting_pins_the_generation_without_a_probe() {
        let url = Url::parse("http://127.0.0.1:1/dolphinscheduler").unwrap();
        let auth = Auth::Token(Secret::new("t"));
        let timeout = std::time::Duration::from_secs(1);
        let c = DsClient::new(url.clone(), auth.clone(), DsApi::From3_3, timeout).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Nothing listens on port 1: a pinned generation must not touch the network.
        assert_eq!(rt.block_on(c.generation()).unwrap(), ApiGeneration::From3_3);
        let c = DsClient::new(url, auth, DsApi::UpTo3_2, timeout).unwrap();
        assert_eq!(rt.block_on(c.generation()).unwrap(), ApiGeneration::UpTo3_2);
        assert_eq!(c.url().as_str(), "http://127.0.0.1:1/dolphinscheduler/");
    }
}
