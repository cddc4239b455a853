//! Workflow instances: start, list, stop, delete; task instances and their logs.

use reqwest::Method;
use serde_json::Value;

use crate::envelope::{typed, unexpected};
use crate::model::{log_text, started_instance_id};
use crate::{ApiGeneration, DsClient, DsError, TaskInstance, WorkflowInstance};

/// What a DELETE of an instance may take beyond the request timeout (see `delete_instance`).
const SLOW_DELETE_EXTRA: std::time::Duration = std::time::Duration::from_secs(15);

/// The task list in an instance's `tasks` answer: `{"taskList": [...], "processInstanceState":
/// ...}` on 3.1; 3.3 names the second field `workflowInstanceState`.
pub(crate) fn task_list(data: &Value) -> Value {
    data.get("taskList").cloned().unwrap_or(Value::Null)
}

impl DsClient {
    /// Starts an instance of an online workflow definition on `worker_group`, its tasks running
    /// as `tenant`. Returns the instance id when the server tells it (3.3 and after); older
    /// servers answer without it, and the caller finds the instance with [`Self::instances`].
    ///
    /// The tenant is always sent as `tenantCode`: from 3.2 on the start form is where the run's
    /// tenant comes from (a definition no longer carries one, and without the field the server
    /// uses `default`); 3.1 takes the tenant from the definition and ignores the field.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn start_workflow(
        &self,
        project: i64,
        workflow: i64,
        worker_group: &str,
        tenant: &str,
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
                    ("tenantCode", tenant.into()),
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
        self.every_page(
            &g.instances(project),
            &[(g.instance_filter_param(), workflow.to_string())],
            100,
        )
        .await
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
        typed(line, task_list(&data))
    }

    /// Deletes a finished instance and its task instances.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn delete_instance(&self, project: i64, id: i64) -> Result<(), DsError> {
        let path = format!("{}/{id}", self.generation().await?.instances(project));
        // Deleting an instance asks the worker to remove each task's log over DolphinScheduler's
        // own RPC, which waits up to 10 s when a task was killed before it had a log (seen on
        // 3.1.1: `RemotingTimeoutException ... timeout 10000`), then deletes anyway. So this one
        // request may take the server's 10 s on top of an ordinary answer.
        self.call_with_extra_time(Method::DELETE, &path, SLOW_DELETE_EXTRA)
            .await
            .map(drop)
    }

    /// Stops a running instance.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn stop_instance(&self, project: i64, id: i64) -> Result<(), DsError> {
        let g = self.generation().await?;
        let id_param = match g {
            ApiGeneration::UpTo3_2 => "processInstanceId",
            ApiGeneration::From3_3 => "workflowInstanceId",
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
}
