//! Projects and workflow definitions: create, list, release, delete, remove.

use carbon_core::http::RequestLine;
use carbon_core::wait::{Check, WaitError, wait_until};
use reqwest::Method;
use serde_json::Value;

use crate::envelope::typed;
use crate::{DsClient, DsError, Project, WorkflowDefinition, WorkflowSpec, fixture};

/// Task-definition fields a server may require although older servers do not know them, with
/// the value that changes nothing: `isCache` (task result caching, added in 3.2) is `"NO"`.
/// 3.2 and after fail a definition without it with a bare code 10001 ("request parameter {0}
/// is not valid": a `NullPointerException` on `getIsCache()` in the server log, seen on a
/// 3.3-dev build); 3.1 ignores fields it does not know. A value the definition sets is kept.
/// The server's code for a workflow that still has instances running ("delete process
/// definition by code fail, for there are 1 process instances in executing using it").
const INSTANCES_EXECUTING: i64 = 10163;

pub(crate) fn with_server_defaults(task_definitions: &Value) -> Value {
    const DEFAULTS: [(&str, &str); 1] = [("isCache", "NO")];
    let mut out = task_definitions.clone();
    if let Value::Array(tasks) = &mut out {
        for task in tasks.iter_mut().filter_map(Value::as_object_mut) {
            for (key, value) in DEFAULTS {
                task.entry(key).or_insert_with(|| value.into());
            }
        }
    }
    out
}

impl DsClient {
    /// Every project the user can see, optionally filtered by a name fragment, read
    /// `page_size` at a time.
    ///
    /// # Errors
    /// When the server refuses, or does not page the list.
    pub async fn projects(
        &self,
        search: Option<&str>,
        page_size: u32,
    ) -> Result<Vec<Project>, DsError> {
        let query: Vec<(&str, String)> = search
            .map(|s| ("searchVal", s.to_string()))
            .into_iter()
            .collect();
        self.every_page("projects", &query, page_size).await
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

    /// Creates a workflow definition (offline). Task definitions without `isCache` are sent
    /// with `"isCache": "NO"` (`with_server_defaults`).
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
                    (
                        "taskDefinitionJson",
                        with_server_defaults(&spec.task_definitions).to_string(),
                    ),
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

    /// Every workflow definition of a project.
    ///
    /// # Errors
    /// When the server refuses, or does not page the list.
    pub async fn workflows(&self, project: i64) -> Result<Vec<WorkflowDefinition>, DsError> {
        let path = self.generation().await?.definitions(project);
        self.every_page(&path, &[], 100).await
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
        // A start the server accepted just before (a trial stopped right after it) creates its
        // instance asynchronously: one listing may miss it, and the delete then answers
        // `INSTANCES_EXECUTING`. Until `stop_timeout`, the instances are listed, stopped and
        // deleted again before the next try.
        wait_until(
            format!("workflow {workflow} to be deleted with its instances"),
            stop_timeout,
            || async move {
                self.remove_instances(project, workflow, stop_timeout)
                    .await?;
                match self.delete_workflow(project, workflow).await {
                    Ok(()) => Ok(Check::Ready(())),
                    Err(e) if e.code() == Some(INSTANCES_EXECUTING) => {
                        Ok(Check::Pending(e.to_string()))
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await
        .map_err(|e| self.wait_error(e, Method::DELETE, format!("projects/{project}")))
    }

    /// A wait's failure as the client's error: the probe's own error, or the timeout against
    /// the request it waited for.
    fn wait_error(&self, e: WaitError<DsError>, method: Method, path: String) -> DsError {
        match e {
            WaitError::Probe { source, .. } => source,
            timed_out => DsError::Unexpected {
                request: RequestLine {
                    method,
                    url: format!("{}{path}", self.base),
                },
                message: timed_out.to_string(),
                body: String::new(),
            },
        }
    }

    /// Stops (waiting up to `stop_timeout` each) and deletes every instance of `workflow`.
    async fn remove_instances(
        &self,
        project: i64,
        workflow: i64,
        stop_timeout: std::time::Duration,
    ) -> Result<(), DsError> {
        for instance in self.instances(project, workflow).await? {
            if !instance.is_finished() {
                if let Err(e) = self.stop_instance(project, instance.id).await {
                    // It may have finished between the listing and the stop (3.1.1 then
                    // answers 50006, "cannot perform STOP"; 3.3 answers 10000, "... status
                    // is SUCCESS, can not stop"): only a live one is an error.
                    if !self.instance(project, instance.id).await?.is_finished() {
                        return Err(e);
                    }
                }
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
                .map_err(|e| {
                    self.wait_error(
                        e,
                        Method::POST,
                        format!("projects/{project}/executors/execute"),
                    )
                })?;
            }
            self.delete_instance(project, instance.id).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::with_server_defaults;
    use serde_json::json;

    #[test]
    fn task_definitions_get_is_cache_no_unless_they_set_it() {
        let given = json!([
            {"code": 1, "name": "a", "taskType": "SHELL"},
            {"code": 2, "name": "b", "taskType": "SHELL", "isCache": "YES"}
        ]);
        assert_eq!(
            with_server_defaults(&given),
            json!([
                {"code": 1, "name": "a", "taskType": "SHELL", "isCache": "NO"},
                {"code": 2, "name": "b", "taskType": "SHELL", "isCache": "YES"}
            ])
        );
        // Not a list of objects: sent as it is, for the server to refuse.
        assert_eq!(with_server_defaults(&json!("x")), json!("x"));
    }
}
