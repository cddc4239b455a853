//! Answers recorded from a DolphinScheduler 3.3 server (a standalone build of the `dev` branch
//! at 7e0095dca1, October 2024, which reports itself as 3.3.0), read by the client's own parsing.
//! The files are under `tests/data/3.3-dev/`; session ids are replaced, the task log is cut
//! down. Where 3.3 differs from 3.1.1: the `workflow-*` names (`workflowDefinitionCode`,
//! `workflowInstanceState`, ...), a start answers the new instance ids, a project that does
//! not exist is code 10190 (3.1.1: 10018), a path it does not have is Jetty's HTML 404 (3.1.1:
//! Spring's JSON), stopping a finished instance is code 10000 (3.1.1: 50006), and a task
//! definition without `isCache` is refused with code 10001.

use carbon_core::http::RequestLine;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::admin::access_token;
use crate::api::{ApiGeneration, ProbeAnswer, classify, probe_answer};
use crate::envelope::{Page, open_envelope, typed};
use crate::instances::task_list;
use crate::model::{log_text, started_instance_id};
use crate::session::{session_id, user_id_and_name};
use crate::{DsError, Project, TaskInstance, WorkflowDefinition, WorkflowInstance, parse_time};

macro_rules! recorded {
    ($name:literal) => {
        include_str!(concat!("../tests/data/3.3-dev/", $name))
    };
}

fn line() -> RequestLine {
    RequestLine {
        method: Method::GET,
        url: "http://ds/dolphinscheduler/recorded".into(),
    }
}

/// The data of a successful answer.
fn data(body: &str) -> Value {
    open_envelope(line(), StatusCode::OK, body)
        .expect("a recorded success opens")
        .1
}

fn parsed<T: serde::de::DeserializeOwned>(body: &str) -> T {
    typed(line(), data(body)).expect("recorded data has the client's type")
}

#[test]
fn login_and_user_info() {
    assert_eq!(
        session_id(&data(recorded!("login.json"))),
        Some("00000000-0000-4000-8000-000000000000")
    );
    assert_eq!(
        user_id_and_name(&data(recorded!("user_info.json"))),
        Some((1, "admin".to_string()))
    );
}

#[test]
fn projects_created_and_listed() {
    let p: Project = parsed(recorded!("project_create.json"));
    assert_eq!((p.code, p.name.as_str()), (191_655_519_712_608, "rec-ds33"));
    assert_eq!(p.create_time.as_deref(), Some("2026-12-07 05:53:13"));
    let page: Page<Project> = parsed(recorded!("project_list_empty.json"));
    assert!(page.total_list.is_empty());
    assert_eq!(page.more_after(1, 10, 0), Ok(false));
}

#[test]
fn workflow_definition_created_listed_released() {
    let codes: Vec<i64> = parsed(recorded!("gen_task_codes.json"));
    assert_eq!(codes, [191_655_521_199_456]);
    // The create answers version 0 and no release state; the list then says version 1, OFFLINE.
    let wf: WorkflowDefinition = parsed(recorded!("workflow_create.json"));
    assert_eq!((wf.code, wf.name.as_str()), (191_655_541_257_568, "rec-wf"));
    assert_eq!((wf.version, wf.release_state.as_deref()), (0, None));
    let page: Page<WorkflowDefinition> = parsed(recorded!("workflow_list.json"));
    assert_eq!(page.more_after(1, 100, 1), Ok(false));
    let listed = &page.total_list[0];
    assert_eq!(listed.code, wf.code);
    assert_eq!(
        (listed.version, listed.release_state.as_deref()),
        (1, Some("OFFLINE"))
    );
    assert_eq!(data(recorded!("workflow_release.json")), Value::Bool(true));
}

#[test]
fn started_instance_listed_with_its_tasks_and_log() {
    assert_eq!(
        started_instance_id(&data(recorded!("start_workflow_instance.json"))),
        Some(1)
    );
    let page: Page<WorkflowInstance> = parsed(recorded!("workflow_instance_list.json"));
    assert_eq!(page.more_after(1, 100, 1), Ok(false));
    let i = &page.total_list[0];
    assert_eq!((i.id, i.state.as_str()), (1, "SUCCESS"));
    assert!(i.is_finished());
    assert_eq!(i.host.as_deref(), Some("192.0.2.2:15678"));
    let (start, end) = (
        parse_time(i.start_time.as_deref().unwrap()).unwrap(),
        parse_time(i.end_time.as_deref().unwrap()).unwrap(),
    );
    assert_eq!((end - start).whole_seconds(), 6);

    let tasks: Vec<TaskInstance> = typed(
        line(),
        task_list(&data(recorded!("workflow_instance_tasks.json"))),
    )
    .unwrap();
    let t = &tasks[0];
    assert_eq!(
        (t.id, t.name.as_str(), t.state.as_str()),
        (1, "echo-marker", "SUCCESS")
    );
    assert_eq!(t.task_code, 191_655_521_199_456);
    assert_eq!(t.host.as_deref(), Some("192.0.2.2:11234"));

    let log = log_text(&data(recorded!("log_detail.json"))).unwrap();
    assert!(log.contains("marker rec-marker-1"), "{log}");
}

#[test]
fn access_tokens_created_listed_deleted() {
    let created = access_token(&data(recorded!("access_token_create.json"))).unwrap();
    assert_eq!(created.id, 5);
    let page: Page<Value> = parsed(recorded!("access_token_list.json"));
    let listed: Vec<_> = page.total_list.iter().filter_map(access_token).collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, 5);
    assert_eq!(listed[0].token.expose(), created.token.expose());
    // The delete worked (the list was empty after it) although its data says `false`: the
    // client goes by the code alone.
    assert_eq!(
        data(recorded!("access_token_delete.json")),
        Value::Bool(false)
    );
}

#[rstest::rstest]
#[case::wrong_password(recorded!("login_wrong_password.json"), 10013)]
#[case::duplicate_project(recorded!("project_duplicate.json"), 10019)]
#[case::no_such_project(recorded!("definitions_of_project_0.json"), 10190)]
#[case::task_without_is_cache(recorded!("workflow_create_without_is_cache.json"), 10001)]
#[case::relation_to_a_missing_task(recorded!("workflow_rejected.json"), 50030)]
#[case::stop_a_finished_instance(recorded!("stop_finished_instance.json"), 10000)]
fn refusals_carry_the_servers_code_and_message(#[case] body: &str, #[case] code: i64) {
    let e = open_envelope(line(), StatusCode::OK, body).unwrap_err();
    assert_eq!(e.code(), Some(code), "{e}");
    assert!(
        matches!(&e, DsError::Api { msg, .. } if !msg.trim().is_empty()),
        "{e}"
    );
}

#[test]
fn the_probe_tells_3_3_by_its_answers() {
    // No project visible (code 0): 3.3's path refuses with its "not found" code, the old path
    // is not there at all (Jetty's HTML page).
    let new = probe_answer(StatusCode::OK, recorded!("definitions_of_project_0.json"));
    let old = probe_answer(
        StatusCode::NOT_FOUND,
        recorded!("process_definition_404.html"),
    );
    assert_eq!((new, old), (ProbeAnswer::Refused, ProbeAnswer::NoSuchPath));
    assert_eq!(classify(new, old), Some(ApiGeneration::From3_3));
    // With a project, 3.3's listing works.
    assert_eq!(
        probe_answer(StatusCode::OK, recorded!("workflow_list.json")),
        ProbeAnswer::Success
    );
}
