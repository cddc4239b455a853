//! Building the client, credentials and sessions, and the request/envelope plumbing.

use std::sync::{Arc, Mutex};

use carbon_config::{DsApi, Secret, Target};
use carbon_core::http::{ClientOptions, HttpClient, RequestLine, excerpt};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::api::{classify, probe_answer};
use crate::envelope::{MAX_PAGES, Page, open_envelope, typed, unexpected};
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
        let http = HttpClient::new(
            SERVICE,
            ClientOptions {
                timeout,
                ca_file: None,
            },
        )?;
        Ok(Self::with_http(url, auth, api, http))
    }

    /// Builds a client for the API at `url` over `http` (made by [`Target::http_client`] from
    /// a target, or by [`Self::new`]).
    pub fn with_http(url: Url, auth: Auth, api: DsApi, http: HttpClient) -> Self {
        let base = carbon_core::http::base_url(&url);
        let generation = match api {
            DsApi::Auto => None,
            DsApi::UpTo3_2 => Some(ApiGeneration::UpTo3_2),
            DsApi::From3_3 => Some(ApiGeneration::From3_3),
        };
        Self {
            http,
            base,
            auth,
            setting: api,
            session: Arc::new(Mutex::new(None)),
            generation: Arc::new(Mutex::new(generation)),
        }
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

    /// The version the server reports: always `Ok(None)`, and nothing is sent
    /// ([`NO_VERSION_ENDPOINT`](crate::NO_VERSION_ENDPOINT) says why). DolphinScheduler 3.1
    /// (the local stack's 3.1.1) reports its version nowhere in its API: not in `actuator`
    /// (`health`, `metrics`, `prometheus` by default, none with the version), not in
    /// `/monitor/*` (hosts and resources only), not at login. It is in the metadata database's
    /// `t_ds_version` table and an installation's `soft_version` file (upstream issue 11537);
    /// an authenticated product-info endpoint came later (upstream pull request 15933, 2024):
    /// `GET ui-plugins/query-product-info`, which a 3.3-dev build answers with
    /// `{"version": "3.3.0"}` and 3.1.1 with code 110003 ("query plugins error"). Not asked
    /// yet: it needs a login, and `carbon-e2e versions` reports this as "nothing sent". Kept
    /// as a method so callers treat every service alike and a later release can answer here.
    ///
    /// # Errors
    /// None today.
    #[allow(clippy::unused_async)] // the shape every client's `server_version` has
    pub async fn server_version(&self) -> Result<Option<String>, DsError> {
        Ok(None)
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
        let session = session_id(&data.1).ok_or_else(|| DsError::Unexpected {
            request: data.0.clone(),
            message: "login answered without a sessionId".into(),
            body: excerpt(&data.1.to_string()),
        })?;
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(Secret::new(session));
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

    /// Every item of a paged list at `path`: pages of `page_size` asked in turn until the server
    /// says the list ends ([`Page::more_after`]), at most [`MAX_PAGES`].
    ///
    /// # Errors
    /// The first refusal; [`DsError::Unexpected`] for a server that does not page the list or
    /// whose list does not end within [`MAX_PAGES`].
    pub(crate) async fn every_page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        page_size: u32,
    ) -> Result<Vec<T>, DsError> {
        let mut out = Vec::new();
        for page_no in 1..=MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("pageNo", page_no.to_string()));
            q.push(("pageSize", page_size.to_string()));
            let (line, data) = self.call_query(path, &q).await?;
            let page: Page<T> = typed(line.clone(), data)?;
            let more = page.more_after(page_no, page_size, out.len() + page.total_list.len());
            out.extend(page.total_list);
            match more {
                Ok(true) => {}
                Ok(false) => return Ok(out),
                Err(message) => {
                    return Err(DsError::Unexpected {
                        request: line,
                        message,
                        body: String::new(),
                    });
                }
            }
        }
        Err(DsError::Unexpected {
            request: RequestLine {
                method: Method::GET,
                url: format!("{}{path}", self.base),
            },
            message: format!(
                "the list did not end within {MAX_PAGES} pages of {page_size}: the server keeps saying there is more"
            ),
            body: String::new(),
        })
    }

    /// The API generation in use: the target's setting, or for `auto` the answer of a probe:
    /// one project's definitions listed at 3.3's path (`workflow-definition`) and at the older
    /// one (`process-definition`); only the server's own generation lists them
    /// ([`crate::api::classify`]). The project is the first the user can see, or code 0 when
    /// there is none (then the API's "project not found" on one path against a plain 404 on the
    /// other decides).
    ///
    /// # Errors
    /// When the answers do not tell, naming the setting to pin.
    pub async fn generation(&self) -> Result<ApiGeneration, DsError> {
        if let Some(g) = *self.generation.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(g);
        }
        let (line, data) = self
            .call_query(
                "projects",
                &[("pageNo", "1".into()), ("pageSize", "1".into())],
            )
            .await?;
        let project = typed::<Page<crate::Project>>(line, data)?
            .total_list
            .first()
            .map_or(0, |p| p.code);
        let mut answers = Vec::new();
        for g in [ApiGeneration::From3_3, ApiGeneration::UpTo3_2] {
            let url = self.join(&format!("{}?pageNo=1&pageSize=1", g.definitions(project)))?;
            let r = self.authed(Method::GET, url).await?;
            let (line, response) = self.http.send_any(r).await?;
            let status = response.status();
            let body = self.http.body(&line, response).await?;
            answers.push((line, status, probe_answer(status, &body), excerpt(&body)));
        }
        let generation = classify(answers[0].2, answers[1].2).ok_or_else(|| {
            let (new, old) = (&answers[0], &answers[1]);
            DsError::Unexpected {
                request: new.0.clone(),
                message: format!(
                    "cannot tell the API generation: 3.3's path answered HTTP {} ({:?}), the older {} answered HTTP {} ({:?}); set dolphinscheduler.api to \"pre-3.3\" or \"3.3+\"",
                    new.1, new.2, old.0, old.1, old.2
                ),
                body: new.3.clone(),
            }
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
        user_id_and_name(&data)
            .ok_or_else(|| unexpected(line, "user info without id and userName", &data))
    }
}

/// The session id in a login answer's data (`{"securityConfigType": ..., "sessionId": ...}`
/// on 3.1.1 and 3.3).
pub(crate) fn session_id(data: &Value) -> Option<&str> {
    data.get("sessionId").and_then(Value::as_str)
}

/// The id and name in `users/get-user-info`'s data.
pub(crate) fn user_id_and_name(data: &Value) -> Option<(i64, String)> {
    let id = data.get("id").and_then(Value::as_i64)?;
    let name = data.get("userName").and_then(Value::as_str)?;
    Some((id, name.to_string()))
}

impl carbon_config::FromTarget for DsClient {
    const SECTION: &'static str = "dolphinscheduler";
    type Error = DsError;

    fn from_target(target: &Target) -> Result<Self, DsError> {
        let cfg = target.section("dolphinscheduler", &target.dolphinscheduler)?;
        // A token variable the target names but the environment lacks is a configuration
        // error: falling back to a password login would test another identity than intended.
        let token = cfg
            .token_env
            .as_deref()
            .map(|var| target.credential(SERVICE, var))
            .transpose()?;
        let auth = match token {
            Some(token) => Auth::Token(token),
            None => Auth::Password {
                user: cfg.user.clone(),
                password: target.credential(SERVICE, &cfg.password_env)?,
            },
        };
        let http = target.http_client(carbon_config::Service::DolphinScheduler, cfg)?;
        Ok(Self::with_http(cfg.url.clone(), auth, cfg.api, http))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carbon_config::FromTarget as _;

    fn target(section: &str, env: &[(&str, &str)]) -> Target {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            format!("[target]\nkind = \"cluster\"\n\n[dolphinscheduler]\nurl = \"http://127.0.0.1:1/dolphinscheduler\"\n{section}\n"),
        )
        .unwrap();
        let paths = carbon_config::Paths {
            targets: dir.path().into(),
            stack: dir.path().join("stack"),
            cache: dir.path().join("cache"),
        };
        let env = carbon_config::Env::from_pairs(env.iter().copied());
        carbon_config::load_from_file(&path, &env, &paths).unwrap()
    }

    #[test]
    fn a_named_token_variable_that_is_missing_is_a_config_error_not_a_password_login() {
        let section = "password_env = \"DS_PW\"\ntoken_env = \"DS_TOKEN\"";
        let e = DsClient::from_target(&target(section, &[("DS_PW", "pw")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("DS_TOKEN"), "{e}");
        let with =
            DsClient::from_target(&target(section, &[("DS_PW", "pw"), ("DS_TOKEN", "t")])).unwrap();
        assert!(matches!(with.auth, Auth::Token(_)));
        let without =
            DsClient::from_target(&target("password_env = \"DS_PW\"", &[("DS_PW", "pw")])).unwrap();
        assert!(matches!(without.auth, Auth::Password { .. }));
    }

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
