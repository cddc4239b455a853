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
//! `start-workflow-instance`). The target picks one, or `auto` asks the server once (by listing a
//! project's definitions at both paths: only the server's own generation lists them; 3.1.1 has
//! no endpoint that reports the server's version).
//!
//! Lists (projects, definitions, instances, access tokens) are read page by page until the
//! server's `total` says they end.

mod declare;
pub mod fixture;

mod admin;
mod api;
mod envelope;
mod error;
mod instances;
mod model;
mod projects;
mod session;

#[cfg(test)]
mod recorded;

use std::sync::{Arc, Mutex};

use carbon_config::{DsApi, Secret};
use carbon_core::http::HttpClient;
use url::Url;

/// Why [`DsClient::server_version`] answers `None`: DolphinScheduler 3.1 has no API that
/// reports its version.
pub const NO_VERSION_ENDPOINT: &str = "no version endpoint";

pub use api::ApiGeneration;
pub use error::DsError;
pub use model::{
    AccessToken, Project, TaskInstance, WorkflowDefinition, WorkflowInstance, WorkflowSpec,
    is_final_state, parse_time, server_offset,
};
pub use session::Auth;

const SERVICE: &str = "dolphinscheduler";

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
