//! Client for DolphinScheduler's REST API: login or token, projects, workflow definitions,
//! release, start, instances, task instances and task logs.
//!
//! Every answer is an envelope `{"code": 0, "msg": "success", "data": ...}`; [`DsClient`] turns
//! it into a typed result, and a non-zero code into [`DsError::Api`] carrying the server's code
//! and message. Requests are form-encoded, as the API expects.
//!
//! Two generations of the API exist ([`ApiGeneration`]): up to 3.2 workflows are "process
//! definitions" (`process-definition`, `process-instances`, `start-process-instance`); from 3.3
//! they are "workflow definitions" (`workflow-definition`, `workflow-instances`,
//! `start-workflow-instance`). The target picks one, or `auto` asks the server once (by probing a
//! path only the newer API has: 3.1.1 has no endpoint that reports the server's version).

pub mod fixture;

use std::sync::{Arc, Mutex};

use carbon_config::{ConfigError, DsApi, Secret, Target};
use carbon_core::http::{ClientOptions, HttpClient, HttpError, RequestLine, excerpt};
use carbon_core::wait::{Check, WaitError, wait_until};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::PrimitiveDateTime;
use time::macros::format_description;
use url::Url;

const SERVICE: &str = "dolphinscheduler";

/// Errors of the DolphinScheduler client.
#[derive(Debug, thiserror::Error)]
pub enum DsError {
    /// No usable HTTP answer: refused, timed out, or a status without an envelope (such as the
    /// bare 401 the server sends for a missing, invalid or expired session or token).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The target does not configure the service or its credentials.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server answered with a non-zero code.
    #[error("dolphinscheduler: {request}: code {code}: {msg}")]
    Api {
        /// What was sent (method and URL; form values, passwords included, are never shown).
        request: RequestLine,
        /// The server's status code, e.g. 10019 for a project name that already exists.
        code: i64,
        /// The server's message.
        msg: String,
    },
    /// A successful envelope whose data is not what this client expects.
    #[error("dolphinscheduler: {request}: unexpected data ({message}): {body}")]
    Unexpected {
        /// What was sent.
        request: RequestLine,
        /// What is wrong.
        message: String,
        /// A body excerpt.
        body: String,
    },
    /// A URL that cannot be formed.
    #[error("dolphinscheduler: invalid URL {0}")]
    Url(String),
    /// A workflow fixture that cannot be filled in.
    #[error(transparent)]
    Fixture(#[from] fixture::FixtureError),
}

impl DsError {
    /// The server's code, for [`DsError::Api`].
    pub fn code(&self) -> Option<i64> {
        match self {
            DsError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Which generation of the REST API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiGeneration {
    /// 3.2 and before: process definitions and process instances.
    V1,
    /// 3.3 and after: workflow definitions and workflow instances.
    V2,
}

impl ApiGeneration {
    /// `projects/<p>/process-definition` or `projects/<p>/workflow-definition`.
    pub fn definitions(self, project: i64) -> String {
        match self {
            ApiGeneration::V1 => format!("projects/{project}/process-definition"),
            ApiGeneration::V2 => format!("projects/{project}/workflow-definition"),
        }
    }

    /// `projects/<p>/process-instances` or `projects/<p>/workflow-instances`.
    pub fn instances(self, project: i64) -> String {
        match self {
            ApiGeneration::V1 => format!("projects/{project}/process-instances"),
            ApiGeneration::V2 => format!("projects/{project}/workflow-instances"),
        }
    }

    /// The executor endpoint that starts an instance.
    pub fn start(self, project: i64) -> String {
        match self {
            ApiGeneration::V1 => format!("projects/{project}/executors/start-process-instance"),
            ApiGeneration::V2 => format!("projects/{project}/executors/start-workflow-instance"),
        }
    }

    /// The form field naming the definition to start.
    pub fn start_code_param(self) -> &'static str {
        match self {
            ApiGeneration::V1 => "processDefinitionCode",
            ApiGeneration::V2 => "workflowDefinitionCode",
        }
    }

    /// The query parameter that filters the instance list by definition.
    pub fn instance_filter_param(self) -> &'static str {
        match self {
            ApiGeneration::V1 => "processDefineCode",
            ApiGeneration::V2 => "workflowDefinitionCode",
        }
    }

    /// The priority field of the start form.
    fn priority_param(self) -> &'static str {
        match self {
            ApiGeneration::V1 => "processInstancePriority",
            ApiGeneration::V2 => "workflowInstancePriority",
        }
    }
}

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

/// A project.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Its code (the API addresses projects by code).
    pub code: i64,
    /// Its name.
    pub name: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// When it was created, as the server writes it (`yyyy-MM-dd HH:mm:ss`).
    #[serde(default)]
    pub create_time: Option<String>,
}

/// A workflow definition as the server returns it after creation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDefinition {
    /// Its code.
    pub code: i64,
    /// Its name.
    pub name: String,
    /// Its version.
    #[serde(default)]
    pub version: i64,
    /// `ONLINE` or `OFFLINE`, when the server says.
    #[serde(default)]
    pub release_state: Option<String>,
    /// When it was last changed.
    #[serde(default)]
    pub update_time: Option<String>,
}

/// What defines a workflow: its tasks, the edges between them, and where the UI draws them.
/// The three JSON arrays are the API's own format (the suites keep them as fixtures).
#[derive(Debug, Clone)]
pub struct WorkflowSpec {
    /// Unique within the project.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The tenant the tasks run as.
    pub tenant: String,
    /// `taskDefinitionJson`.
    pub task_definitions: Value,
    /// `taskRelationJson`.
    pub task_relations: Value,
    /// `locations`.
    pub locations: Value,
}

/// A workflow instance (one run).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowInstance {
    /// Its id.
    pub id: i64,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its state, e.g. `RUNNING_EXECUTION`, `SUCCESS`, `FAILURE`, `STOP`.
    pub state: String,
    /// When it started, server time.
    #[serde(default)]
    pub start_time: Option<String>,
    /// When it ended, server time.
    #[serde(default)]
    pub end_time: Option<String>,
    /// The master that ran it.
    #[serde(default)]
    pub host: Option<String>,
}

impl WorkflowInstance {
    /// Whether the state is final.
    pub fn is_finished(&self) -> bool {
        is_final_state(&self.state)
    }
}

/// A task instance of a workflow instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInstance {
    /// Its id (the log is read by it).
    pub id: i64,
    /// The task's name.
    pub name: String,
    /// The task definition's code.
    #[serde(default)]
    pub task_code: i64,
    /// Its state.
    pub state: String,
    /// When it started, server time.
    #[serde(default)]
    pub start_time: Option<String>,
    /// When it ended, server time.
    #[serde(default)]
    pub end_time: Option<String>,
    /// The worker that ran it.
    #[serde(default)]
    pub host: Option<String>,
}

/// An access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// Its id (for deletion).
    pub id: i64,
    /// The token.
    pub token: Secret,
}

/// States after which an instance no longer changes.
pub fn is_final_state(state: &str) -> bool {
    matches!(
        state,
        "SUCCESS" | "FAILURE" | "STOP" | "KILL" | "FORCED_SUCCESS" | "PAUSE"
    )
}

/// Parses the server's `yyyy-MM-dd HH:mm:ss` times (second resolution, server's zone).
pub fn parse_time(text: &str) -> Option<PrimitiveDateTime> {
    PrimitiveDateTime::parse(
        text,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .ok()
}

#[derive(Debug, Deserialize)]
struct Envelope {
    code: i64,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    data: Value,
}

/// A page of a list endpoint.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page<T> {
    #[serde(default = "Vec::new")]
    total_list: Vec<T>,
}

/// A client for one DolphinScheduler API server.
#[derive(Debug, Clone)]
pub struct DsClient {
    http: HttpClient,
    base: Url,
    auth: Auth,
    setting: DsApi,
    session: Arc<Mutex<Option<Secret>>>,
    generation: Arc<Mutex<Option<ApiGeneration>>>,
}

impl DsClient {
    /// Builds a client from the target's `[dolphinscheduler]` section: the token when
    /// `token_env` names a variable that is set, else user and password.
    ///
    /// # Errors
    /// [`DsError::Config`] when the section or the password is missing.
    fn build_from_target(target: &Target) -> Result<Self, DsError> {
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
        Self::new(
            cfg.url.clone(),
            auth,
            cfg.api,
            target.settings.request_timeout(),
        )
    }

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
        let mut base = url;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let generation = match api {
            DsApi::Auto => None,
            DsApi::V1 => Some(ApiGeneration::V1),
            DsApi::V2 => Some(ApiGeneration::V2),
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

    async fn call(&self, method: Method, path: &str) -> Result<(RequestLine, Value), DsError> {
        let url = self.join(path)?;
        let r = self.authed(method, url).await?;
        self.envelope(r).await
    }

    async fn call_form(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<(RequestLine, Value), DsError> {
        let url = self.join(path)?;
        let r = self.authed(method, url).await?.form(form);
        self.envelope(r).await
    }

    async fn call_query(
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
                "cannot tell the API generation (HTTP {status}); set dolphinscheduler.api to v1 or v2"
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

    /// One page of projects (up to `page_size`), optionally filtered by a name fragment.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn projects(
        &self,
        search: Option<&str>,
        page_size: u32,
    ) -> Result<Vec<Project>, DsError> {
        let mut query = vec![
            ("pageNo", "1".to_string()),
            ("pageSize", page_size.to_string()),
        ];
        if let Some(s) = search {
            query.push(("searchVal", s.to_string()));
        }
        let (line, data) = self.call_query("projects", &query).await?;
        Ok(typed::<Page<Project>>(line, data)?.total_list)
    }

    /// Creates a project.
    ///
    /// # Errors
    /// [`DsError::Api`] (10019 when the name exists).
    pub async fn create_project(&self, name: &str, description: &str) -> Result<Project, DsError> {
        let (line, data) = self
            .call_form(
                Method::POST,
                "projects",
                &[
                    ("projectName", name.to_string()),
                    ("description", description.to_string()),
                ],
            )
            .await?;
        typed(line, data)
    }

    /// Deletes a project (it must hold no workflow definitions).
    ///
    /// # Errors
    /// [`DsError::Api`] (10137 while it holds workflows).
    pub async fn delete_project(&self, project: i64) -> Result<(), DsError> {
        self.call(Method::DELETE, &format!("projects/{project}"))
            .await
            .map(drop)
    }

    /// Asks the server for `n` fresh task codes.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn gen_task_codes(&self, project: i64, n: u32) -> Result<Vec<i64>, DsError> {
        let (line, data) = self
            .call_query(
                &format!("projects/{project}/task-definition/gen-task-codes"),
                &[("genNum", n.to_string())],
            )
            .await?;
        typed(line, data)
    }

    /// Creates a workflow definition (offline).
    ///
    /// # Errors
    /// [`DsError::Api`] when the server rejects the definition (e.g. 10168, name exists).
    pub async fn create_workflow(
        &self,
        project: i64,
        spec: &WorkflowSpec,
    ) -> Result<WorkflowDefinition, DsError> {
        let path = self.generation().await?.definitions(project);
        let (line, data) = self
            .call_form(
                Method::POST,
                &path,
                &[
                    ("name", spec.name.clone()),
                    ("description", spec.description.clone()),
                    ("tenantCode", spec.tenant.clone()),
                    ("globalParams", "[]".into()),
                    ("timeout", "0".into()),
                    ("executionType", "PARALLEL".into()),
                    ("taskDefinitionJson", spec.task_definitions.to_string()),
                    ("taskRelationJson", spec.task_relations.to_string()),
                    ("locations", spec.locations.to_string()),
                ],
            )
            .await?;
        typed(line, data)
    }

    /// Creates a workflow definition from a [`fixture::Fixture`]: asks the server for one task
    /// code per task the fixture names, fills the placeholders, creates the definition.
    ///
    /// # Errors
    /// [`DsError::Api`] when the server rejects the definition; [`DsError::Fixture`] for a
    /// fixture that cannot be filled.
    pub async fn create_workflow_from_fixture(
        &self,
        project: i64,
        fixture: &fixture::Fixture,
        name: &str,
        tenant: &str,
        vars: &[(&str, &str)],
    ) -> Result<WorkflowDefinition, DsError> {
        let names = fixture.task_names();
        let n = u32::try_from(names.len()).unwrap_or(u32::MAX);
        let codes = if n == 0 {
            Vec::new()
        } else {
            self.gen_task_codes(project, n).await?
        };
        let codes = names.into_iter().zip(codes).collect();
        let spec = fixture.fill(name, tenant, &codes, vars)?;
        self.create_workflow(project, &spec).await
    }

    /// Workflow definitions of a project (first page of up to 100).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn workflows(&self, project: i64) -> Result<Vec<WorkflowDefinition>, DsError> {
        let path = self.generation().await?.definitions(project);
        let (line, data) = self
            .call_query(&path, &[("pageNo", "1".into()), ("pageSize", "100".into())])
            .await?;
        Ok(typed::<Page<WorkflowDefinition>>(line, data)?.total_list)
    }

    /// Sets a workflow definition `ONLINE` (startable) or `OFFLINE` (editable, deletable).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn release(&self, project: i64, workflow: i64, online: bool) -> Result<(), DsError> {
        let path = format!(
            "{}/{workflow}/release",
            self.generation().await?.definitions(project)
        );
        let state = if online { "ONLINE" } else { "OFFLINE" };
        self.call_form(Method::POST, &path, &[("releaseState", state.into())])
            .await
            .map(drop)
    }

    /// Deletes a workflow definition (it must be offline).
    ///
    /// # Errors
    /// [`DsError::Api`] (50021 while it is online).
    pub async fn delete_workflow(&self, project: i64, workflow: i64) -> Result<(), DsError> {
        let path = format!(
            "{}/{workflow}",
            self.generation().await?.definitions(project)
        );
        self.call(Method::DELETE, &path).await.map(drop)
    }

    /// Removes a workflow definition whatever its state: takes it offline, stops its running
    /// instances (waiting up to `stop_timeout` for each to stop), deletes its instances, deletes
    /// it. What cleanups and the reaper do.
    ///
    /// # Errors
    /// The first refusal, or an instance that does not stop in time.
    pub async fn remove_workflow(
        &self,
        project: i64,
        workflow: i64,
        stop_timeout: std::time::Duration,
    ) -> Result<(), DsError> {
        self.release(project, workflow, false).await?;
        for instance in self.instances(project, workflow).await? {
            if !instance.is_finished() {
                self.stop_instance(project, instance.id).await?;
                let id = instance.id;
                wait_until(
                    format!("instance {id} to stop"),
                    stop_timeout,
                    || async move {
                        let i = self.instance(project, id).await?;
                        Ok::<_, DsError>(if i.is_finished() {
                            Check::Ready(())
                        } else {
                            Check::Pending(format!("instance {id} is {}", i.state))
                        })
                    },
                )
                .await
                .map_err(|e| match e {
                    WaitError::Probe { source, .. } => source,
                    timed_out => DsError::Unexpected {
                        request: RequestLine {
                            method: Method::POST,
                            url: format!("{}projects/{project}/executors/execute", self.base),
                        },
                        message: timed_out.to_string(),
                        body: String::new(),
                    },
                })?;
            }
            self.delete_instance(project, instance.id).await?;
        }
        self.delete_workflow(project, workflow).await
    }

    /// Starts an instance of an online workflow definition on `worker_group`. Returns the
    /// instance id when the server tells it (3.3 and after); older servers answer without it,
    /// and the caller finds the instance with [`Self::instances`].
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn start_workflow(
        &self,
        project: i64,
        workflow: i64,
        worker_group: &str,
    ) -> Result<Option<i64>, DsError> {
        let g = self.generation().await?;
        let (_, data) = self
            .call_form(
                Method::POST,
                &g.start(project),
                &[
                    (g.start_code_param(), workflow.to_string()),
                    ("scheduleTime", String::new()),
                    ("failureStrategy", "END".into()),
                    ("warningType", "NONE".into()),
                    ("warningGroupId", "0".into()),
                    ("execType", "START_PROCESS".into()),
                    ("taskDependType", "TASK_POST".into()),
                    ("runMode", "RUN_MODE_SERIAL".into()),
                    (g.priority_param(), "MEDIUM".into()),
                    ("workerGroup", worker_group.into()),
                    ("environmentCode", "-1".into()),
                    ("dryRun", "0".into()),
                ],
            )
            .await?;
        Ok(started_instance_id(&data))
    }

    /// Instances of a workflow definition, newest first (first page of up to 20).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn instances(
        &self,
        project: i64,
        workflow: i64,
    ) -> Result<Vec<WorkflowInstance>, DsError> {
        let g = self.generation().await?;
        let (line, data) = self
            .call_query(
                &g.instances(project),
                &[
                    (g.instance_filter_param(), workflow.to_string()),
                    ("pageNo", "1".into()),
                    ("pageSize", "20".into()),
                ],
            )
            .await?;
        Ok(typed::<Page<WorkflowInstance>>(line, data)?.total_list)
    }

    /// One instance.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn instance(&self, project: i64, id: i64) -> Result<WorkflowInstance, DsError> {
        let path = format!("{}/{id}", self.generation().await?.instances(project));
        let (line, data) = self.call(Method::GET, &path).await?;
        typed(line, data)
    }

    /// The task instances of an instance.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn task_instances(
        &self,
        project: i64,
        instance: i64,
    ) -> Result<Vec<TaskInstance>, DsError> {
        let path = format!(
            "{}/{instance}/tasks",
            self.generation().await?.instances(project)
        );
        let (line, data) = self.call(Method::GET, &path).await?;
        let list = data.get("taskList").cloned().unwrap_or(Value::Null);
        typed(line, list)
    }

    /// Deletes a finished instance and its task instances.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn delete_instance(&self, project: i64, id: i64) -> Result<(), DsError> {
        let path = format!("{}/{id}", self.generation().await?.instances(project));
        self.call(Method::DELETE, &path).await.map(drop)
    }

    /// Stops a running instance.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn stop_instance(&self, project: i64, id: i64) -> Result<(), DsError> {
        let g = self.generation().await?;
        let id_param = match g {
            ApiGeneration::V1 => "processInstanceId",
            ApiGeneration::V2 => "workflowInstanceId",
        };
        self.call_form(
            Method::POST,
            &format!("projects/{project}/executors/execute"),
            &[(id_param, id.to_string()), ("executeType", "STOP".into())],
        )
        .await
        .map(drop)
    }

    /// The text of a task instance's log (up to `limit` lines).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn task_log(&self, task_instance: i64, limit: u32) -> Result<String, DsError> {
        let (line, data) = self
            .call_query(
                "log/detail",
                &[
                    ("taskInstanceId", task_instance.to_string()),
                    ("skipLineNum", "0".into()),
                    ("limit", limit.to_string()),
                ],
            )
            .await?;
        log_text(&data).ok_or_else(|| unexpected(line, "log without a message", &data))
    }

    /// Tenant codes.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn tenants(&self) -> Result<Vec<String>, DsError> {
        let (_, data) = self.call(Method::GET, "tenants/list").await?;
        Ok(data
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("tenantCode").and_then(Value::as_str))
            .map(str::to_string)
            .collect())
    }

    /// Creates a tenant on queue 1 (the default queue).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn create_tenant(&self, code: &str, description: &str) -> Result<(), DsError> {
        self.call_form(
            Method::POST,
            "tenants",
            &[
                ("tenantCode", code.into()),
                ("queueId", "1".into()),
                ("description", description.into()),
            ],
        )
        .await
        .map(drop)
    }

    /// Creates an access token for `user_id` that expires at `expire` (`yyyy-MM-dd HH:mm:ss`,
    /// server time).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn create_access_token(
        &self,
        user_id: i64,
        expire: &str,
    ) -> Result<AccessToken, DsError> {
        let (line, data) = self
            .call_form(
                Method::POST,
                "access-tokens/generate",
                &[
                    ("userId", user_id.to_string()),
                    ("expireTime", expire.into()),
                ],
            )
            .await?;
        let token = data
            .as_str()
            .ok_or_else(|| unexpected(line, "generated token is not a string", &data))?
            .to_string();
        let (line, data) = self
            .call_form(
                Method::POST,
                "access-tokens",
                &[
                    ("userId", user_id.to_string()),
                    ("expireTime", expire.into()),
                    ("token", token.clone()),
                ],
            )
            .await?;
        let id = data
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| unexpected(line, "stored token without id", &Value::Null))?;
        Ok(AccessToken {
            id,
            token: Secret::new(token),
        })
    }

    /// Deletes an access token.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn delete_access_token(&self, id: i64) -> Result<(), DsError> {
        self.call(Method::DELETE, &format!("access-tokens/{id}"))
            .await
            .map(drop)
    }
}

fn unexpected(request: RequestLine, message: &str, data: &Value) -> DsError {
    DsError::Unexpected {
        request,
        message: message.to_string(),
        body: excerpt(&data.to_string()),
    }
}

fn typed<T: DeserializeOwned>(request: RequestLine, data: Value) -> Result<T, DsError> {
    serde_json::from_value::<T>(data.clone()).map_err(|e| DsError::Unexpected {
        request,
        message: e.to_string(),
        body: excerpt(&data.to_string()),
    })
}

/// Reads an envelope whatever the HTTP status: the API reports its own errors in it.
fn open_envelope(
    request: RequestLine,
    status: StatusCode,
    body: &str,
) -> Result<(RequestLine, Value), DsError> {
    match serde_json::from_str::<Envelope>(body) {
        Ok(env) if env.code == 0 && status.is_success() => Ok((request, env.data)),
        Ok(env) => Err(DsError::Api {
            request,
            code: env.code,
            msg: env.msg.unwrap_or_else(|| "(no message)".into()),
        }),
        Err(_) if !status.is_success() => Err(HttpError::Status {
            service: SERVICE,
            request,
            status,
            body: excerpt(body),
        }
        .into()),
        Err(e) => Err(HttpError::Decode {
            service: SERVICE,
            request,
            message: e.to_string(),
            body: excerpt(body),
        }
        .into()),
    }
}

/// The generation a probe of `projects/0/workflow-instances` reveals.
fn detect_generation(status: StatusCode, body: &str) -> Option<ApiGeneration> {
    if status == StatusCode::NOT_FOUND && serde_json::from_str::<Envelope>(body).is_err() {
        return Some(ApiGeneration::V1);
    }
    serde_json::from_str::<Envelope>(body)
        .ok()
        .map(|_| ApiGeneration::V2)
}

/// 3.3+ answers a start with the new instance ids; older servers with null.
fn started_instance_id(data: &Value) -> Option<i64> {
    match data {
        Value::Number(n) => n.as_i64(),
        Value::Array(a) => a.first().and_then(Value::as_i64),
        _ => None,
    }
}

/// The log text: a bare string, or `{lineNum, message}`.
fn log_text(data: &Value) -> Option<String> {
    match data {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_string),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    //! Paths, parameters and parsing, on recorded responses of a real 3.1.1 server; the client
    //! itself is verified against a running server by the `dolphinscheduler` suite.
    use super::*;

    fn line() -> RequestLine {
        RequestLine {
            method: Method::POST,
            url: "http://ds/dolphinscheduler/projects".into(),
        }
    }

    #[test]
    fn each_generation_uses_its_own_paths_and_parameters() {
        let v1 = ApiGeneration::V1;
        assert_eq!(v1.definitions(7), "projects/7/process-definition");
        assert_eq!(v1.instances(7), "projects/7/process-instances");
        assert_eq!(v1.start(7), "projects/7/executors/start-process-instance");
        assert_eq!(v1.start_code_param(), "processDefinitionCode");
        assert_eq!(v1.instance_filter_param(), "processDefineCode");
        let v2 = ApiGeneration::V2;
        assert_eq!(v2.definitions(7), "projects/7/workflow-definition");
        assert_eq!(v2.instances(7), "projects/7/workflow-instances");
        assert_eq!(v2.start(7), "projects/7/executors/start-workflow-instance");
        assert_eq!(v2.start_code_param(), "workflowDefinitionCode");
        assert_eq!(v2.instance_filter_param(), "workflowDefinitionCode");
    }

    #[test]
    fn target_setting_pins_the_generation_without_a_probe() {
        let url = Url::parse("http://127.0.0.1:1/dolphinscheduler").unwrap();
        let auth = Auth::Token(Secret::new("t"));
        let timeout = std::time::Duration::from_secs(1);
        let c = DsClient::new(url.clone(), auth.clone(), DsApi::V2, timeout).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Nothing listens on port 1: a pinned generation must not touch the network.
        assert_eq!(rt.block_on(c.generation()).unwrap(), ApiGeneration::V2);
        let c = DsClient::new(url, auth, DsApi::V1, timeout).unwrap();
        assert_eq!(rt.block_on(c.generation()).unwrap(), ApiGeneration::V1);
        assert_eq!(c.url().as_str(), "http://127.0.0.1:1/dolphinscheduler/");
    }

    #[test]
    fn probe_answers_map_to_generations() {
        // 3.1.1 has no such path: Spring's plain 404.
        assert_eq!(
            detect_generation(
                StatusCode::NOT_FOUND,
                r#"{"timestamp":"2026-11-26T04:40:00.000+00:00","status":404,"error":"Not Found","path":"/dolphinscheduler/projects/0/workflow-instances"}"#
            ),
            Some(ApiGeneration::V1)
        );
        assert_eq!(
            detect_generation(
                StatusCode::OK,
                r#"{"code":10018,"msg":"project 0 not found ","data":null}"#
            ),
            Some(ApiGeneration::V2)
        );
        assert_eq!(detect_generation(StatusCode::BAD_GATEWAY, "<html>"), None);
    }

    #[test]
    fn non_zero_code_is_an_error_with_code_and_message() {
        let body = r#"{"code":10019,"msg":"project e2e-1 already exists","data":null,"failed":true,"success":false}"#;
        let e = open_envelope(line(), StatusCode::OK, body).unwrap_err();
        assert_eq!(e.code(), Some(10019));
        assert_eq!(
            e.to_string(),
            "dolphinscheduler: POST http://ds/dolphinscheduler/projects: code 10019: project e2e-1 already exists"
        );
    }

    #[test]
    fn bare_401_is_an_http_error_with_the_status() {
        let e = open_envelope(line(), StatusCode::UNAUTHORIZED, "").unwrap_err();
        assert!(matches!(e, DsError::Http(ref h) if h.status() == Some(StatusCode::UNAUTHORIZED)));
        assert!(e.to_string().contains("HTTP 401"), "{e}");
    }

    #[test]
    fn success_envelope_yields_typed_data() {
        let body = r#"{"code":0,"msg":"success","data":{"id":1,"userId":1,"userName":"admin","code":23838287871808,"name":"e2e-1795667023","description":"e2e","createTime":"2026-11-26 04:23:43","updateTime":"2026-11-26 04:23:43","perm":0,"defCount":0,"instRunningCount":0},"failed":false,"success":true}"#;
        let (l, data) = open_envelope(line(), StatusCode::CREATED, body).unwrap();
        let p: Project = typed(l, data).unwrap();
        assert_eq!(p.code, 23_838_287_871_808);
        assert_eq!(p.name, "e2e-1795667023");
    }

    #[test]
    fn instance_page_and_times_parse() {
        let data: Value = serde_json::from_str(r#"{"totalList":[{"id":1,"processDefinitionCode":23838288010816,"state":"SUCCESS","startTime":"2026-11-26 04:23:46","endTime":"2026-11-26 04:23:47","name":"wf-1-20261126042346680","host":"127.0.0.1:5678"}],"total":1}"#).unwrap();
        let page: Page<WorkflowInstance> = typed(line(), data).unwrap();
        let i = &page.total_list[0];
        assert!(i.is_finished());
        let (s, e) = (
            parse_time(i.start_time.as_deref().unwrap()).unwrap(),
            parse_time(i.end_time.as_deref().unwrap()).unwrap(),
        );
        assert_eq!((e - s).whole_seconds(), 1);
        assert!(!is_final_state("RUNNING_EXECUTION"));
    }

    #[test]
    fn start_answers_of_both_generations() {
        assert_eq!(started_instance_id(&Value::Null), None);
        assert_eq!(started_instance_id(&serde_json::json!([901])), Some(901));
        assert_eq!(started_instance_id(&serde_json::json!(42)), Some(42));
    }

    #[test]
    fn log_text_of_both_shapes() {
        assert_eq!(
            log_text(&serde_json::json!({"lineNum": 2, "message": "a\nb"})).as_deref(),
            Some("a\nb")
        );
        assert_eq!(log_text(&serde_json::json!("x")).as_deref(), Some("x"));
    }
}

impl carbon_config::FromTarget for DsClient {
    const SECTION: &'static str = "dolphinscheduler";
    type Error = DsError;

    fn from_target(target: &Target) -> Result<Self, DsError> {
        Self::build_from_target(target)
    }
}
