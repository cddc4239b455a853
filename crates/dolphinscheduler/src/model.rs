//! What the API returns: projects, definitions, instances, task instances, tokens, times.

use carbon_config::Secret;
use serde::Deserialize;
use serde_json::Value;
use time::PrimitiveDateTime;
use time::macros::format_description;

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

/// The server's UTC offset, from one of its zone-less times `naive` and an instant `near` that
/// is within a few minutes of it (e.g. when the request that made it was sent). Zones are
/// whole quarter hours, so the difference rounds to the offset. The API never states its zone
/// (the platform's chart runs it in Asia/Shanghai): this reads it instead of assuming UTC.
pub fn server_offset(naive: PrimitiveDateTime, near: time::OffsetDateTime) -> time::UtcOffset {
    let diff = (naive.assume_utc() - near).whole_seconds();
    let quarter = 900;
    let rounded = (diff + diff.signum() * quarter / 2) / quarter * quarter;
    time::UtcOffset::from_whole_seconds(i32::try_from(rounded).unwrap_or(0))
        .unwrap_or(time::UtcOffset::UTC)
}

/// 3.3+ answers a start with the new instance ids; older servers with null.
pub(crate) fn started_instance_id(data: &Value) -> Option<i64> {
    match data {
        Value::Number(n) => n.as_i64(),
        Value::Array(a) => a.first().and_then(Value::as_i64),
        _ => None,
    }
}

/// The log text: a bare string, or `{lineNum, message}`.
pub(crate) fn log_text(data: &Value) -> Option<String> {
    match data {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_string),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Page, typed};
    use carbon_core::http::RequestLine;
    use reqwest::Method;

    fn line() -> RequestLine {
        RequestLine {
            method: Method::POST,
            url: "http://ds/dolphinscheduler/projects".into(),
        }
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

#[cfg(test)]
mod zone_tests {
    use time::macros::datetime;

    #[test]
    fn the_servers_zone_is_read_from_one_of_its_times() {
        // Asia/Shanghai: 08:00:07 local for an instant seen at 00:00:05 UTC.
        let local = datetime!(2026-11-27 08:00:07);
        let near = datetime!(2026-11-27 00:00:05 UTC);
        assert_eq!(super::server_offset(local, near).whole_hours(), 8);
        // America/St_Johns (-03:30), and UTC itself.
        let local = datetime!(2026-11-26 20:31:00);
        assert_eq!(super::server_offset(local, near).whole_minutes(), -210);
        assert_eq!(
            super::server_offset(datetime!(2026-11-27 00:01:00), near),
            time::UtcOffset::UTC
        );
    }
}
