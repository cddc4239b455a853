//! Trino's wire format: statement pages, columns, stats, errors, server and query info.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// Trino's description of a failed query (`error` of the last page).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryFailure {
    /// The message, e.g. `line 1:15: Table 'tpch.tiny.nope' does not exist`.
    pub message: String,
    /// The numeric code, e.g. 46.
    pub error_code: i64,
    /// The name, e.g. `TABLE_NOT_FOUND`.
    pub error_name: String,
    /// The kind: `USER_ERROR`, `INTERNAL_ERROR`, `INSUFFICIENT_RESOURCES`, `EXTERNAL`.
    pub error_type: String,
}

impl std::fmt::Display for QueryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (code {}, {}): {}",
            self.error_name, self.error_code, self.error_type, self.message
        )
    }
}

/// A result column.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type as Trino writes it, e.g. `timestamp(6)` or `decimal(10, 2)`.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// A page's statistics (the fields the client uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// `QUEUED`, `PLANNING`, `STARTING`, `RUNNING`, `FINISHING`, `FINISHED` or `FAILED`.
    pub state: String,
    /// Time since the server received the query.
    #[serde(default)]
    pub elapsed_time_millis: u64,
    /// Time the query spent queued.
    #[serde(default)]
    pub queued_time_millis: u64,
}

/// One page of `/v1/statement`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// The query id.
    pub id: String,
    /// The next page; absent on the last one.
    #[serde(default)]
    pub next_uri: Option<Url>,
    /// The columns, once known.
    #[serde(default)]
    pub columns: Option<Vec<Column>>,
    /// Rows of this page.
    #[serde(default)]
    pub data: Option<Vec<Vec<Value>>>,
    /// Statistics.
    #[serde(default)]
    pub stats: Option<Stats>,
    /// Trino's error, on the last page of a failed query.
    #[serde(default)]
    pub error: Option<QueryFailure>,
    /// For statements without rows, what they did, e.g. `CREATE TABLE`.
    #[serde(default)]
    pub update_type: Option<String>,
}

impl Page {
    /// Parses a page.
    ///
    /// # Errors
    /// The parser's message.
    pub fn parse(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    pub(crate) fn state(&self) -> &str {
        self.stats.as_ref().map_or("UNKNOWN", |s| s.state.as_str())
    }
}

/// A finished query's result.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// The query id.
    pub query_id: String,
    /// The columns (empty for statements without rows).
    pub columns: Vec<Column>,
    /// All rows, values as Trino sends them (numbers, strings, booleans, null, arrays).
    pub rows: Vec<Vec<Value>>,
    /// What the statement did, for statements without rows.
    pub update_type: Option<String>,
    /// Elapsed time as the server reports it on the last page.
    pub server_elapsed: Duration,
    /// Wall time on the client, from submission to the last page.
    pub client_elapsed: Duration,
}

impl QueryOutput {
    /// The single value of a one-row, one-column result.
    ///
    /// # Errors
    /// A description of the shape when it is not one value.
    pub fn single(&self) -> Result<&Value, String> {
        match self.rows.as_slice() {
            [row] if row.len() == 1 => Ok(&row[0]),
            _ => Err(format!(
                "query {} returned {} row(s) of {} column(s), expected one value",
                self.query_id,
                self.rows.len(),
                self.columns.len()
            )),
        }
    }
}

/// `GET /v1/info`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// The version.
    pub node_version: NodeVersion,
    /// `node.environment`.
    pub environment: String,
    /// Whether this node is a coordinator.
    pub coordinator: bool,
    /// Whether the server is still starting (it does not take queries yet).
    pub starting: bool,
    /// Uptime as Trino formats it, e.g. `5.21m`.
    #[serde(default)]
    pub uptime: Option<String>,
}

impl ServerInfo {
    /// `nodeVersion.version` as the server reports it (`476`), `None` when empty.
    pub fn reported_version(&self) -> Option<String> {
        Some(self.node_version.version.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
}

/// The version part of [`ServerInfo`].
#[derive(Debug, Clone, Deserialize)]
pub struct NodeVersion {
    /// E.g. `476`.
    pub version: String,
}

/// `GET /v1/query/{id}`: the server's view of one query (the fields the client uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryInfo {
    /// The query id.
    pub query_id: String,
    /// Its state, e.g. `RUNNING`, `FAILED`.
    pub state: String,
    /// Its error, when it failed.
    #[serde(default)]
    pub error_code: Option<ErrorCode>,
}

impl QueryInfo {
    /// Parses the server's answer.
    ///
    /// # Errors
    /// The parser's message.
    pub fn parse(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// Whether the query still runs (any state before `FINISHED` or `FAILED`).
    pub fn is_running(&self) -> bool {
        !matches!(self.state.as_str(), "FINISHED" | "FAILED")
    }
}

/// One entry of `GET /v1/query`: a query the coordinator knows (running or recently ended),
/// the fields the client uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuerySummary {
    /// The query id.
    pub query_id: String,
    /// Its state, e.g. `QUEUED`, `RUNNING`, `FINISHED`, `FAILED`.
    pub state: String,
    /// Who sent it and how it was tagged.
    pub session: QuerySession,
    /// Its SQL text.
    #[serde(default)]
    pub query: String,
    /// Its timings.
    #[serde(default)]
    pub query_stats: Option<QuerySummaryStats>,
}

/// The session part of [`QuerySummary`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuerySession {
    /// The user it runs as.
    #[serde(default)]
    pub user: String,
    /// `X-Trino-Source` of its submission.
    #[serde(default)]
    pub source: Option<String>,
    /// `X-Trino-Client-Tags` of its submission.
    #[serde(default)]
    pub client_tags: Vec<String>,
}

/// The timings part of [`QuerySummary`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuerySummaryStats {
    /// When the coordinator received it, RFC 3339 on the coordinator's clock.
    #[serde(default)]
    pub create_time: Option<String>,
}

impl QuerySummary {
    /// Parses the server's answer to `GET /v1/query`.
    ///
    /// # Errors
    /// The parser's message.
    pub fn parse_list(body: &str) -> Result<Vec<Self>, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// Whether the query still runs (any state before `FINISHED` or `FAILED`).
    pub fn is_running(&self) -> bool {
        !matches!(self.state.as_str(), "FINISHED" | "FAILED")
    }

    /// The run that submitted it: its source is [`crate::SOURCE`] and a client tag is
    /// [`crate::run_tag`] of a run id. `None` for anyone else's query.
    pub fn run(&self) -> Option<&str> {
        if self.session.source.as_deref() != Some(crate::SOURCE) {
            return None;
        }
        self.session
            .client_tags
            .iter()
            .find_map(|t| crate::tag_run(t))
    }

    /// When the coordinator received it (RFC 3339), if it says.
    pub fn created(&self) -> Option<&str> {
        self.query_stats.as_ref()?.create_time.as_deref()
    }
}

/// An error code in [`QueryInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorCode {
    /// Numeric code.
    pub code: i64,
    /// Name, e.g. `USER_CANCELED`.
    pub name: String,
    /// Kind, e.g. `USER_ERROR`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TrinoError;

    fn data(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/data/{name}",
            carbon_core::manifest_dir(env!("CARGO_MANIFEST_DIR")).display()
        ))
        .unwrap()
    }

    /// `GET /v1/info` in the shape Trino 476 answers (a coordinator, started or starting)
    /// and the shape of an older release without `uptime`.
    #[rstest::rstest]
    #[case::started(
        r#"{"nodeVersion":{"version":"476"},"environment":"carbon_e2e","coordinator":true,"starting":false,"uptime":"5.21m"}"#,
        Some("476")
    )]
    #[case::starting(
        r#"{"nodeVersion":{"version":"476"},"environment":"production","coordinator":true,"starting":true,"uptime":"2.00s"}"#,
        Some("476")
    )]
    #[case::without_uptime(
        r#"{"nodeVersion":{"version":"351-e.2"},"environment":"prod","coordinator":false,"starting":false}"#,
        Some("351-e.2")
    )]
    #[case::empty(
        r#"{"nodeVersion":{"version":""},"environment":"x","coordinator":true,"starting":false}"#,
        None
    )]
    fn server_version_is_node_version(#[case] body: &str, #[case] want: Option<&str>) {
        let info: ServerInfo = serde_json::from_str(body).expect("json");
        assert_eq!(info.reported_version().as_deref(), want);
    }

    #[test]
    fn missing_table_error_carries_name_code_type_and_message() {
        let page = Page::parse(&data("missing_table.json")).unwrap();
        let failure = page.error.clone().unwrap();
        assert_eq!(failure.error_name, "TABLE_NOT_FOUND");
        assert_eq!(failure.error_code, 46);
        let e = TrinoError::Query {
            query_id: page.id,
            failure,
        }
        .to_string();
        assert_eq!(
            e,
            "trino: query 20261126_040503_00004_rs9tt failed: TABLE_NOT_FOUND (code 46, USER_ERROR): line 1:15: Table 'tpch.tiny.nope' does not exist"
        );
    }

    #[test]
    fn syntax_error_is_user_error_1() {
        let page = Page::parse(&data("syntax_error.json")).unwrap();
        let f = page.error.unwrap();
        assert_eq!(
            (f.error_name.as_str(), f.error_code, f.error_type.as_str()),
            ("SYNTAX_ERROR", 1, "USER_ERROR")
        );
        assert!(page.next_uri.is_none());
    }

    #[test]
    fn running_page_has_next_uri_columns_and_state() {
        let page = Page::parse(&data("running_before_cancel.json")).unwrap();
        assert_eq!(page.state(), "RUNNING");
        assert!(page.next_uri.is_some());
        let cols = page.columns.unwrap();
        assert_eq!(cols[1].type_name, "double");
        assert_eq!(page.stats.unwrap().elapsed_time_millis, 524);
    }

    /// Written after the shape of Trino 476's `BasicQueryInfo` (the fields of
    /// `query_info_after_cancel.json` plus `session`), while no coordinator was at hand to record
    /// one: our run's running query, its finished one, and look-alikes that are not ours.
    #[test]
    fn query_list_ties_only_our_sources_tagged_queries_to_a_run() {
        let list = QuerySummary::parse_list(&data("query_list_written.json")).unwrap();
        let ours: Vec<(&str, &str, bool)> = list
            .iter()
            .filter_map(|q| q.run().map(|r| (q.query_id.as_str(), r, q.is_running())))
            .collect();
        assert_eq!(
            ours,
            [
                ("20261126_050000_00001_abcde", "1f2e3d4c", true),
                ("20261126_050001_00002_abcde", "1f2e3d4c", false),
                ("20261126_050002_00003_abcde", "9a8b7c6d", true),
            ]
        );
        assert_eq!(list.len(), 7);
        assert_eq!(list[0].created(), Some("2026-11-26T05:00:00.120Z"));
    }

    #[test]
    fn cancelled_query_info_shows_user_canceled() {
        let info = QueryInfo::parse(&data("query_info_after_cancel.json")).unwrap();
        assert!(!info.is_running());
        assert_eq!(info.error_code.unwrap().name, "USER_CANCELED");
    }

    #[test]
    fn finished_page_with_timestamp6_and_decimal_keeps_them_as_text() {
        let page = Page::parse(
            r#"{"id":"q1","columns":[{"name":"ts","type":"timestamp(6)"},{"name":"d","type":"decimal(10,2)"}],
               "data":[["2024-01-02 03:04:05.123456","12.34"]],"stats":{"state":"FINISHED","elapsedTimeMillis":41}}"#,
        )
        .unwrap();
        assert_eq!(page.columns.unwrap()[0].type_name, "timestamp(6)");
        assert_eq!(
            page.data.unwrap()[0],
            vec![
                Value::from("2024-01-02 03:04:05.123456"),
                Value::from("12.34")
            ]
        );
    }
}
