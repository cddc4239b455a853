//! Client for Apache Superset's REST API (`/api/v1`, Superset 4 to 6): health and version,
//! JWT login, the database connections and Superset's own connection test, SQL Lab, and the
//! dashboards with their charts' data. Creation calls (database, dataset, chart, dashboard,
//! saved query) exist for the local stack's setup and the suite's declared writes.
//!
//! Requests carry the bearer token of `POST /api/v1/security/login` (provider `db` or `ldap`),
//! logged in once per client. Superset protects its API's writes (POST, PUT, DELETE) against
//! CSRF by default (`WTF_CSRF_ENABLED`), bearer token or not: every such request also carries
//! the token of `GET /api/v1/security/csrf_token/`, the session cookie that answer sets (the
//! token is bound to it) and a `Referer` of the server's own origin. The local stack keeps
//! Superset's default, so this path is the one CI runs.

mod declare;

use std::sync::{Arc, Mutex};

use carbon_config::{ConfigError, Secret, Target};
use carbon_core::http::{HttpClient, HttpError, RequestLine};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

/// Errors of the Superset client.
#[derive(Debug, thiserror::Error)]
pub enum SupersetError {
    /// The request failed or the server refused it.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The target does not configure the service or its password.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The login was refused: wrong user, password or provider.
    #[error(
        "superset: {request}: login of user `{user}` refused (HTTP {status}): {message}; check superset.user, superset.password_env and superset.provider"
    )]
    Unauthorized {
        /// What was sent (no password).
        request: RequestLine,
        /// The user.
        user: String,
        /// The status.
        status: StatusCode,
        /// Superset's message.
        message: String,
    },
    /// The API answered, but not with what the client expects.
    #[error("superset: {request}: {message}")]
    Unexpected {
        /// What was sent.
        request: RequestLine,
        /// What was wrong.
        message: String,
    },
    /// A URL that cannot be formed.
    #[error("superset: invalid URL {0}")]
    Url(String),
}

/// A Superset server.
#[derive(Debug, Clone)]
pub struct SupersetClient {
    http: HttpClient,
    base: Url,
    user: String,
    password: Secret,
    provider: String,
    token: Arc<Mutex<Option<Secret>>>,
    /// The CSRF token and the session cookie it is bound to.
    csrf: Arc<Mutex<Option<(Secret, Secret)>>>,
}

/// A database connection (`GET /api/v1/database/`).
#[derive(Debug, Clone, Deserialize)]
pub struct Database {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub database_name: String,
    /// The SQLAlchemy backend (`trino`, `postgresql`...).
    #[serde(default)]
    pub backend: Option<String>,
}

/// A dashboard (`GET /api/v1/dashboard/`).
#[derive(Debug, Clone, Deserialize)]
pub struct Dashboard {
    /// Its id.
    pub id: i64,
    /// Its title.
    pub dashboard_title: String,
}

/// A chart of a dashboard (`GET /api/v1/dashboard/{id}/charts`).
#[derive(Debug, Clone, Deserialize)]
pub struct Chart {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub slice_name: String,
}

/// One answer of a chart's data endpoint, or of SQL Lab.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// How many rows came back.
    pub count: usize,
    /// The rows, as JSON objects.
    pub data: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct List<T> {
    #[serde(default)]
    count: usize,
    result: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: i64,
}

const PAGE: usize = 100;

impl SupersetClient {
    /// A client of the Superset at `base`, logging in as `user` with `provider`, over `http`
    /// (made by [`Target::http_client`] from a target).
    pub fn new(base: Url, user: &str, password: Secret, provider: &str, http: HttpClient) -> Self {
        let base = carbon_core::http::base_url(&base);
        Self {
            http,
            base,
            user: user.to_string(),
            password,
            provider: provider.to_string(),
            token: Arc::new(Mutex::new(None)),
            csrf: Arc::new(Mutex::new(None)),
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Result<Url, SupersetError> {
        self.base
            .join(path)
            .map_err(|e| SupersetError::Url(format!("{}{path}: {e}", self.base)))
    }

    /// `GET /health` answers `OK`.
    ///
    /// # Errors
    /// [`SupersetError::Http`] naming the request; [`SupersetError::Unexpected`] for another body.
    pub async fn health(&self) -> Result<(), SupersetError> {
        let url = self.url("health")?;
        let (line, body) = self.http.text(self.http.request(Method::GET, url)).await?;
        if body.trim() != "OK" {
            return Err(SupersetError::Unexpected {
                request: line,
                message: format!(
                    "health answered {:?}, not OK",
                    carbon_core::http::excerpt(&body)
                ),
            });
        }
        Ok(())
    }

    /// The server's clock (its `Date` header), unix seconds: what the markers of created
    /// things carry and what the reaper measures their age by.
    ///
    /// # Errors
    /// [`SupersetError::Unexpected`] when the answer has no readable `Date` header.
    pub async fn server_clock(&self) -> Result<i64, SupersetError> {
        let url = self.url("health")?;
        let (request, response) = self
            .http
            .send_any(self.http.request(Method::GET, url))
            .await?;
        carbon_core::http::server_date(&response).ok_or_else(|| SupersetError::Unexpected {
            request,
            message: "the response has no readable Date header".into(),
        })
    }

    /// `GET /version` (no login): `version_string`.
    ///
    /// # Errors
    /// [`SupersetError::Http`] naming the request.
    pub async fn server_version(&self) -> Result<Option<String>, SupersetError> {
        #[derive(Deserialize)]
        struct Version {
            #[serde(default)]
            version_string: Option<String>,
        }
        let url = self.url("version")?;
        let v: Version = self.http.json(self.http.request(Method::GET, url)).await?;
        Ok(v.version_string.filter(|s| !s.is_empty()))
    }

    /// Logs in with `password` (not the configured one when testing a refusal); returns the
    /// access token.
    ///
    /// # Errors
    /// [`SupersetError::Unauthorized`] when refused.
    pub async fn login_with(&self, password: &Secret) -> Result<Secret, SupersetError> {
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
        }
        let url = self.url("api/v1/security/login")?;
        let body = json!({
            "username": self.user,
            "password": password.expose(),
            "provider": self.provider,
            "refresh": false,
        });
        let (line, response) = self
            .http
            .send_any(self.http.request(Method::POST, url).json(&body))
            .await?;
        let status = response.status();
        let text = self.http.body(&line, response).await?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(SupersetError::Unauthorized {
                request: line,
                user: self.user.clone(),
                status,
                message: carbon_core::http::excerpt(&text),
            });
        }
        if !status.is_success() {
            return Err(refused(line, status, &text));
        }
        let t: Token = self.http.decode(&line, &text)?;
        Ok(Secret::new(t.access_token))
    }

    /// Logs in with the configured password (once per client).
    ///
    /// # Errors
    /// As [`Self::login_with`].
    pub async fn login(&self) -> Result<Secret, SupersetError> {
        if let Some(t) = self.token.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(t);
        }
        let token = self.login_with(&self.password).await?;
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok(token)
    }

    async fn authed(&self, method: Method, path: &str) -> Result<RequestBuilder, SupersetError> {
        let token = self.login().await?;
        Ok(self
            .http
            .request(method, self.url(path)?)
            .bearer_auth(token.expose()))
    }

    /// The CSRF token and its session cookie (fetched once per client).
    async fn csrf(&self) -> Result<(Secret, Secret), SupersetError> {
        if let Some(c) = self.csrf.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(c);
        }
        let request = self
            .authed(Method::GET, "api/v1/security/csrf_token/")
            .await?;
        let (line, response) = self.http.send(request).await?;
        let cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|c| c.split(';').next())
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let text = self.http.body(&line, response).await?;
        let v: Value = self.http.decode(&line, &text)?;
        let Some(token) = v.get("result").and_then(Value::as_str) else {
            return Err(SupersetError::Unexpected {
                request: line,
                message: "the CSRF token answer has no `result`".into(),
            });
        };
        let pair = (Secret::new(token.to_string()), Secret::new(cookie));
        *self.csrf.lock().unwrap_or_else(|p| p.into_inner()) = Some(pair.clone());
        Ok(pair)
    }

    /// A write request: bearer token, CSRF token, its session cookie and a same-origin Referer.
    async fn write(&self, method: Method, path: &str) -> Result<RequestBuilder, SupersetError> {
        let (token, cookie) = self.csrf().await?;
        let mut r = self
            .authed(method, path)
            .await?
            .header("X-CSRFToken", token.expose())
            .header(reqwest::header::REFERER, self.base.as_str());
        if !cookie.expose().is_empty() {
            r = r.header(reqwest::header::COOKIE, cookie.expose());
        }
        Ok(r)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, SupersetError> {
        Ok(self
            .http
            .json(self.authed(Method::GET, path).await?)
            .await?)
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, SupersetError> {
        Ok(self
            .http
            .json(self.write(Method::POST, path).await?.json(body))
            .await?)
    }

    /// Every item of a list endpoint (`?q=(page:N,page_size:100)`), page by page.
    async fn list_all<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, SupersetError> {
        let mut out = Vec::new();
        for page in 0.. {
            let l: List<T> = self
                .get(&format!("{path}?q=(page:{page},page_size:{PAGE})"))
                .await?;
            let n = l.result.len();
            out.extend(l.result);
            if n < PAGE || out.len() >= l.count {
                break;
            }
        }
        Ok(out)
    }

    /// The database connections.
    ///
    /// # Errors
    /// [`SupersetError::Http`] naming the request.
    pub async fn databases(&self) -> Result<Vec<Database>, SupersetError> {
        self.list_all("api/v1/database/").await
    }

    /// Superset's own connection test of an existing database: its stored URI (password
    /// masked, which Superset fills in from the stored one) through
    /// `POST /api/v1/database/test_connection/`.
    ///
    /// # Errors
    /// [`SupersetError::Http`] with Superset's reason when the test fails.
    pub async fn test_connection(&self, db: &Database) -> Result<(), SupersetError> {
        #[derive(Deserialize)]
        struct Conn {
            result: Value,
        }
        let c: Conn = self
            .get(&format!("api/v1/database/{}/connection", db.id))
            .await?;
        let uri = c
            .result
            .get("sqlalchemy_uri")
            .cloned()
            .unwrap_or(Value::Null);
        let _: Value = self
            .post(
                "api/v1/database/test_connection/",
                &json!({ "database_name": db.database_name, "sqlalchemy_uri": uri }),
            )
            .await?;
        Ok(())
    }

    /// Runs `sql` in SQL Lab on database `db` (synchronously) and returns its rows.
    ///
    /// # Errors
    /// [`SupersetError::Http`] with Superset's error (a Trino error comes back as 500
    /// `GENERIC_DB_ENGINE_ERROR`).
    pub async fn sqllab(&self, db: i64, sql: &str) -> Result<Rows, SupersetError> {
        let v: Value = self
            .post(
                "api/v1/sqllab/execute/",
                &json!({ "database_id": db, "sql": sql, "runAsync": false }),
            )
            .await?;
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(Rows {
            count: data.len(),
            data,
        })
    }

    /// The dashboards.
    ///
    /// # Errors
    /// [`SupersetError::Http`] naming the request.
    pub async fn dashboards(&self) -> Result<Vec<Dashboard>, SupersetError> {
        self.list_all("api/v1/dashboard/").await
    }

    /// The charts of dashboard `id`.
    ///
    /// # Errors
    /// [`SupersetError::Http`] naming the request.
    pub async fn dashboard_charts(&self, id: i64) -> Result<Vec<Chart>, SupersetError> {
        let l: List<Chart> = self.get(&format!("api/v1/dashboard/{id}/charts")).await?;
        Ok(l.result)
    }

    /// A chart's data (`GET /api/v1/chart/{id}/data/`, from its saved query context).
    ///
    /// # Errors
    /// [`SupersetError::Http`] with Superset's reason (a missing table is a 400 or 500).
    pub async fn chart_data(&self, id: i64) -> Result<Rows, SupersetError> {
        // `force`: past Superset's cache, so a chart that broke since it was cached fails.
        let v: Value = self
            .get(&format!("api/v1/chart/{id}/data/?force=true"))
            .await?;
        Ok(chart_rows(&v))
    }

    /// Creates a database connection; returns its id.
    ///
    /// # Errors
    /// [`SupersetError::Http`] with Superset's reason.
    pub async fn create_database(&self, name: &str, uri: &str) -> Result<i64, SupersetError> {
        let c: Created = self
            .post(
                "api/v1/database/",
                &json!({ "database_name": name, "sqlalchemy_uri": uri, "expose_in_sqllab": true }),
            )
            .await?;
        Ok(c.id)
    }

    /// Creates a dataset over `schema.table` of database `db`; returns its id.
    ///
    /// # Errors
    /// [`SupersetError::Http`] with Superset's reason.
    pub async fn create_dataset(
        &self,
        db: i64,
        catalog: Option<&str>,
        schema: &str,
        table: &str,
    ) -> Result<i64, SupersetError> {
        let mut body = json!({ "database": db, "schema": schema, "table_name": table });
        if let Some(c) = catalog {
            body["catalog"] = json!(c);
        }
        let c: Created = self.post("api/v1/dataset/", &body).await?;
        Ok(c.id)
    }

    /// Creates a dashboard; returns its id.
    ///
    /// # Errors
    /// [`SupersetError::Http`] with Superset's reason.
    pub async fn create_dashboard(&self, title: &str) -> Result<i64, SupersetError> {
        let c: Created = self
            .post(
                "api/v1/dashboard/",
                &json!({ "dashboard_title": title, "published": true }),
            )
            .await?;
        Ok(c.id)
    }

    /// Creates a table chart of dataset `dataset` showing `columns` (raw rows, at most
    /// `limit`), on dashboard `dashboard`; returns its id. The query context is saved with it,
    /// so its data endpoint answers without a form.
    ///
    /// # Errors
    /// [`SupersetError::Http`] with Superset's reason.
    pub async fn create_table_chart(
        &self,
        name: &str,
        dataset: i64,
        columns: &[&str],
        limit: u32,
        dashboard: i64,
    ) -> Result<i64, SupersetError> {
        let params = json!({
            "datasource": format!("{dataset}__table"),
            "viz_type": "table",
            "query_mode": "raw",
            "all_columns": columns,
            "row_limit": limit,
        });
        let context = json!({
            "datasource": { "id": dataset, "type": "table" },
            "force": false,
            "queries": [{ "columns": columns, "row_limit": limit }],
            "result_format": "json",
            "result_type": "full",
        });
        let c: Created = self
            .post(
                "api/v1/chart/",
                &json!({
                    "slice_name": name,
                    "viz_type": "table",
                    "datasource_id": dataset,
                    "datasource_type": "table",
                    "params": params.to_string(),
                    "query_context": context.to_string(),
                    "dashboards": [dashboard],
                }),
            )
            .await?;
        Ok(c.id)
    }

    /// Saves a SQL Lab query; returns its id.
    ///
    /// # Errors
    /// [`SupersetError::Http`] with Superset's reason.
    pub async fn create_saved_query(
        &self,
        db: i64,
        label: &str,
        description: &str,
        sql: &str,
    ) -> Result<i64, SupersetError> {
        let c: Created = self
            .post(
                "api/v1/saved_query/",
                &json!({ "db_id": db, "label": label, "description": description, "sql": sql }),
            )
            .await?;
        Ok(c.id)
    }

    /// A saved query's label and SQL, `None` when it does not exist.
    ///
    /// # Errors
    /// [`SupersetError::Http`] naming the request.
    pub async fn saved_query(&self, id: i64) -> Result<Option<(String, String)>, SupersetError> {
        let request = self
            .authed(Method::GET, &format!("api/v1/saved_query/{id}"))
            .await?;
        let (line, response) = self.http.send_any(request).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let status = response.status();
        let text = self.http.body(&line, response).await?;
        if !status.is_success() {
            return Err(refused(line, status, &text));
        }
        let v: Value = self.http.decode(&line, &text)?;
        let r = &v["result"];
        Ok(Some((
            r["label"].as_str().unwrap_or_default().to_string(),
            r["sql"].as_str().unwrap_or_default().to_string(),
        )))
    }

    /// The saved queries whose label starts with `prefix`: (id, label, description).
    ///
    /// # Errors
    /// [`SupersetError::Http`] naming the request.
    pub async fn saved_queries(
        &self,
        prefix: &str,
    ) -> Result<Vec<(i64, String, String)>, SupersetError> {
        #[derive(Deserialize)]
        struct Saved {
            id: i64,
            #[serde(default)]
            label: String,
            #[serde(default)]
            description: Option<String>,
        }
        let all: Vec<Saved> = self.list_all("api/v1/saved_query/").await?;
        Ok(all
            .into_iter()
            .filter(|s| s.label.starts_with(prefix))
            .map(|s| (s.id, s.label, s.description.unwrap_or_default()))
            .collect())
    }

    /// Deletes saved query `id` (gone already is fine).
    ///
    /// # Errors
    /// [`SupersetError::Http`] with Superset's reason.
    pub async fn delete_saved_query(&self, id: i64) -> Result<(), SupersetError> {
        let request = self
            .write(Method::DELETE, &format!("api/v1/saved_query/{id}"))
            .await?;
        let (line, response) = self.http.send_any(request).await?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        let text = self.http.body(&line, response).await?;
        Err(refused(line, status, &text))
    }
}

/// A status the caller did not accept, with a body excerpt (for the calls that read the
/// status themselves: 401 at login, 404 of a saved query).
fn refused(request: RequestLine, status: StatusCode, body: &str) -> SupersetError {
    HttpError::Status {
        service: "superset",
        request,
        status,
        body: carbon_core::http::excerpt(body),
    }
    .into()
}

/// The rows of a chart data answer: every query result's `data`, together.
fn chart_rows(answer: &Value) -> Rows {
    let data: Vec<Value> = answer
        .get("result")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|r| {
            r.get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    Rows {
        count: data.len(),
        data,
    }
}

impl carbon_config::FromTarget for SupersetClient {
    const SECTION: &'static str = "superset";
    type Error = SupersetError;

    fn from_target(target: &Target) -> Result<Self, SupersetError> {
        let cfg = target.section("superset", &target.superset)?;
        let password = target.credential("superset", &cfg.password_env)?;
        let http = target.http_client(carbon_config::Service::Superset, cfg)?;
        Ok(Self::new(
            cfg.url.clone(),
            &cfg.user,
            password,
            &cfg.provider,
            http,
        ))
    }
}

impl carbon_core::failure::Classify for SupersetError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        match self {
            SupersetError::Http(e) => e.kind(),
            SupersetError::Config(e) => e.kind(),
            SupersetError::Unauthorized { .. } => Some(Kind::Credentials),
            SupersetError::Unexpected { .. } => Some(Kind::Unreadable),
            SupersetError::Url(_) => Some(Kind::Runner),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Parsing only, on answers recorded from the local stack's Superset 6.1.0
    //! (`tests/data/`); the client itself is verified against that real server by the
    //! `superset` suite.
    use super::*;

    fn recorded(name: &str) -> String {
        let path = format!(
            "{}/tests/data/{name}",
            carbon_core::manifest_dir(env!("CARGO_MANIFEST_DIR")).display()
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn chart_data_rows_are_counted() {
        let v: Value = serde_json::from_str(&recorded("chart_data.json")).expect("json");
        let rows = chart_rows(&v);
        assert_eq!(rows.count, 25);
        assert_eq!(rows.data[0]["name"], "ALGERIA");
    }

    #[test]
    fn a_refused_chart_has_no_rows_and_a_message() {
        let v: Value =
            serde_json::from_str(&recorded("chart_data_missing_column.json")).expect("json");
        assert_eq!(chart_rows(&v).count, 0);
        assert!(
            v["message"]
                .as_str()
                .expect("message")
                .contains("n_nationkey")
        );
    }

    #[test]
    fn dashboards_and_their_charts_parse() {
        let l: List<Dashboard> = serde_json::from_str(&recorded("dashboards.json")).expect("json");
        assert_eq!(l.count, l.result.len());
        assert!(
            l.result
                .iter()
                .any(|d| d.dashboard_title == "Data Platform")
        );
        let c: List<Chart> =
            serde_json::from_str(&recorded("dashboard_charts.json")).expect("json");
        assert_eq!(c.result[0].slice_name, "Nations");
    }
}
