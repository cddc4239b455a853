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

/// How the server answered one probe request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeAnswer {
    /// An envelope with code 0: the path exists and the call worked.
    Success,
    /// An envelope with another code (e.g. 10018 "project not found"): the server's API code
    /// answered, the call did not work.
    Refused,
    /// A 404 without an envelope: Spring found no such path.
    NoSuchPath,
    /// Anything else (a proxy's page, a 5xx, a bare 401).
    Other,
}

/// Classifies one answer.
pub(crate) fn probe_answer(status: StatusCode, body: &str) -> ProbeAnswer {
    match serde_json::from_str::<Envelope>(body) {
        Ok(env) if env.code == 0 && status.is_success() => ProbeAnswer::Success,
        Ok(_) => ProbeAnswer::Refused,
        Err(_) if status == StatusCode::NOT_FOUND => ProbeAnswer::NoSuchPath,
        Err(_) => ProbeAnswer::Other,
    }
}

/// The generation revealed by listing one project's definitions at 3.3's path
/// (`workflow-definition`, `new`) and at the older one (`process-definition`, `old`).
///
/// A listing that works (code 0) at exactly one of the paths decides. Without a project the
/// user can see, neither can work: then only one path refused by the API while the other does
/// not exist decides. Anything else (both work, both refused: a proxy or filter that answers
/// every path) is `None`, and the target must name the generation.
pub(crate) fn classify(new: ProbeAnswer, old: ProbeAnswer) -> Option<ApiGeneration> {
    use ProbeAnswer::{NoSuchPath, Refused, Success};
    match (new, old) {
        (Success, Success) => None,
        (Success, _) => Some(ApiGeneration::From3_3),
        (_, Success) => Some(ApiGeneration::UpTo3_2),
        (Refused, NoSuchPath) => Some(ApiGeneration::From3_3),
        (NoSuchPath, Refused) => Some(ApiGeneration::UpTo3_2),
        _ => None,
    }
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

    /// 3.1.1's plain 404 for a path it does not have (the shape recorded from the local stack's
    /// answer for `workflow-instances`).
    const SPRING_404: &str = r#"{"timestamp":"2026-11-26T04:40:00.000+00:00","status":404,"error":"Not Found","path":"/dolphinscheduler/projects/0/workflow-definition"}"#;
    const NOT_FOUND_10018: &str = r#"{"code":10018,"msg":"project 0 not found ","data":null}"#;
    const LISTED: &str = r#"{"code":0,"msg":"success","data":{"totalList":[],"total":0,"totalPage":1,"pageSize":1,"currentPage":1,"pageNo":0}}"#;

    #[rstest::rstest]
    #[case::success(StatusCode::OK, LISTED, ProbeAnswer::Success)]
    #[case::refused(StatusCode::OK, NOT_FOUND_10018, ProbeAnswer::Refused)]
    #[case::no_such_path(StatusCode::NOT_FOUND, SPRING_404, ProbeAnswer::NoSuchPath)]
    #[case::proxy_page(StatusCode::BAD_GATEWAY, "<html>", ProbeAnswer::Other)]
    #[case::bare_401(StatusCode::UNAUTHORIZED, "", ProbeAnswer::Other)]
    fn probe_answers_are_classified(
        #[case] status: StatusCode,
        #[case] body: &str,
        #[case] answer: ProbeAnswer,
    ) {
        assert_eq!(probe_answer(status, body), answer);
    }

    #[rstest::rstest]
    // A visible project: the listing that works decides.
    #[case::new_lists(
        ProbeAnswer::Success,
        ProbeAnswer::NoSuchPath,
        Some(ApiGeneration::From3_3)
    )]
    #[case::old_lists(
        ProbeAnswer::NoSuchPath,
        ProbeAnswer::Success,
        Some(ApiGeneration::UpTo3_2)
    )]
    // No visible project (probe on code 0): the API refuses on one path, the other is absent.
    #[case::new_refuses(
        ProbeAnswer::Refused,
        ProbeAnswer::NoSuchPath,
        Some(ApiGeneration::From3_3)
    )]
    #[case::old_refuses(
        ProbeAnswer::NoSuchPath,
        ProbeAnswer::Refused,
        Some(ApiGeneration::UpTo3_2)
    )]
    // Whatever answers both paths alike proves nothing: the target must say.
    #[case::both_list(ProbeAnswer::Success, ProbeAnswer::Success, None)]
    #[case::both_refuse(ProbeAnswer::Refused, ProbeAnswer::Refused, None)]
    #[case::both_absent(ProbeAnswer::NoSuchPath, ProbeAnswer::NoSuchPath, None)]
    #[case::gateway(ProbeAnswer::Other, ProbeAnswer::Other, None)]
    #[case::half_gateway(ProbeAnswer::Refused, ProbeAnswer::Other, None)]
    fn only_a_one_sided_answer_names_the_generation(
        #[case] new: ProbeAnswer,
        #[case] old: ProbeAnswer,
        #[case] generation: Option<ApiGeneration>,
    ) {
        assert_eq!(classify(new, old), generation);
    }
}
