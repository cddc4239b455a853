//! The two API generations: paths and parameter names, and telling them apart.

use reqwest::StatusCode;

use crate::envelope::Envelope;

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
    pub(crate) fn priority_param(self) -> &'static str {
        match self {
            ApiGeneration::V1 => "processInstancePriority",
            ApiGeneration::V2 => "workflowInstancePriority",
        }
    }
}

/// The generation a probe of `projects/0/workflow-instances` reveals.
pub(crate) fn detect_generation(status: StatusCode, body: &str) -> Option<ApiGeneration> {
    if status == StatusCode::NOT_FOUND && serde_json::from_str::<Envelope>(body).is_err() {
        return Some(ApiGeneration::V1);
    }
    serde_json::from_str::<Envelope>(body)
        .ok()
        .map(|_| ApiGeneration::V2)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
