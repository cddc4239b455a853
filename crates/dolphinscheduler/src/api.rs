//! The two API generations, named by the server versions they cover: paths and parameter
//! names, and telling them apart.

use reqwest::StatusCode;

use crate::envelope::Envelope;

/// Which generation of the REST API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiGeneration {
    /// 3.2 and before: process definitions and process instances.
    UpTo3_2,
    /// 3.3 and after: workflow definitions and workflow instances.
    From3_3,
}

impl std::fmt::Display for ApiGeneration {
    /// As the `dolphinscheduler.api` setting names it, with the resource it calls workflows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApiGeneration::UpTo3_2 => "pre-3.3 (process definitions)",
            ApiGeneration::From3_3 => "3.3+ (workflow definitions)",
        })
    }
}

impl ApiGeneration {
    /// `projects/<p>/process-definition` or `projects/<p>/workflow-definition`.
    pub fn definitions(self, project: i64) -> String {
        match self {
            ApiGeneration::UpTo3_2 => format!("projects/{project}/process-definition"),
            ApiGeneration::From3_3 => format!("projects/{project}/workflow-definition"),
        }
    }

    /// `projects/<p>/process-instances` or `projects/<p>/workflow-instances`.
    pub fn instances(self, project: i64) -> String {
        match self {
            ApiGeneration::UpTo3_2 => format!("projects/{project}/process-instances"),
            ApiGeneration::From3_3 => format!("projects/{project}/workflow-instances"),
        }
    }

    /// The executor endpoint that starts an instance.
    pub fn start(self, project: i64) -> String {
        match self {
            ApiGeneration::UpTo3_2 => {
                format!("projects/{project}/executors/start-process-instance")
            }
            ApiGeneration::From3_3 => {
                format!("projects/{project}/executors/start-workflow-instance")
            }
        }
    }

    /// The form field naming the definition to start.
    pub fn start_code_param(self) -> &'static str {
        match self {
            ApiGeneration::UpTo3_2 => "processDefinitionCode",
            ApiGeneration::From3_3 => "workflowDefinitionCode",
        }
    }

    /// The query parameter that filters the instance list by definition.
    pub fn instance_filter_param(self) -> &'static str {
        match self {
            ApiGeneration::UpTo3_2 => "processDefineCode",
            ApiGeneration::From3_3 => "workflowDefinitionCode",
        }
    }

    /// The priority field of the start form.
    pub(crate) fn priority_param(self) -> &'static str {
        match self {
            ApiGeneration::UpTo3_2 => "processInstancePriority",
            ApiGeneration::From3_3 => "workflowInstancePriority",
        }
    }
}

/// The generation a probe of `projects/0/workflow-instances` reveals.
pub(crate) fn detect_generation(status: StatusCode, body: &str) -> Option<ApiGeneration> {
    if status == StatusCode::NOT_FOUND && serde_json::from_str::<Envelope>(body).is_err() {
        return Some(ApiGeneration::UpTo3_2);
    }
    serde_json::from_str::<Envelope>(body)
        .ok()
        .map(|_| ApiGeneration::From3_3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_generation_uses_its_own_paths_and_parameters() {
        let old = ApiGeneration::UpTo3_2;
        assert_eq!(old.definitions(7), "projects/7/process-definition");
        assert_eq!(old.instances(7), "projects/7/process-instances");
        assert_eq!(old.start(7), "projects/7/executors/start-process-instance");
        assert_eq!(old.start_code_param(), "processDefinitionCode");
        assert_eq!(old.instance_filter_param(), "processDefineCode");
        let new = ApiGeneration::From3_3;
        assert_eq!(new.definitions(7), "projects/7/workflow-definition");
        assert_eq!(new.instances(7), "projects/7/workflow-instances");
        assert_eq!(new.start(7), "projects/7/executors/start-workflow-instance");
        assert_eq!(new.start_code_param(), "workflowDefinitionCode");
        assert_eq!(new.instance_filter_param(), "workflowDefinitionCode");
    }

    #[test]
    fn probe_answers_map_to_generations() {
        // 3.1.1 has no such path: Spring's plain 404.
        assert_eq!(
            detect_generation(
                StatusCode::NOT_FOUND,
                r#"{"timestamp":"2026-11-26T04:40:00.000+00:00","status":404,"error":"Not Found","path":"/dolphinscheduler/projects/0/workflow-instances"}"#
            ),
            Some(ApiGeneration::UpTo3_2)
        );
        assert_eq!(
            detect_generation(
                StatusCode::OK,
                r#"{"code":10018,"msg":"project 0 not found ","data":null}"#
            ),
            Some(ApiGeneration::From3_3)
        );
        assert_eq!(detect_generation(StatusCode::BAD_GATEWAY, "<html>"), None);
    }
}
