//! Client for Trino's HTTP protocol: submit a statement, follow `nextUri` page by page, read
//! columns, rows and Trino's own errors, cancel a running query, ask the server about a query.
//!
//! Spoken directly over the workspace's `reqwest` (through [`HttpClient`]) rather than through
//! a Trino client crate: the two candidates mishandle `timestamp(6)` and cancellation and each
//! adds about 80 packages (see ARCHITECTURE.md). What this client always does:
//!
//! - sends `X-Trino-Client-Capabilities: PARAMETRIC_DATETIME`, so that `timestamp(6)` arrives
//!   with its six fractional digits and its real type;
//! - retries a `nextUri` page on 429, 502, 503 and 504 (through `wait_until`, never a sleep),
//!   but a statement's `POST` only on 429: after a 5xx it may already run, and is not sent twice;
//! - sends a password (HTTP basic auth) only over `https://` and refuses to build otherwise;
//! - sends nothing to a URL off the configured origin (scheme, host, port): a `nextUri` that
//!   points elsewhere is refused with [`TrinoError::ForeignOrigin`];
//! - turns a failed query into [`TrinoError::Query`], which shows Trino's error name, code,
//!   type and message.

mod client;
mod declare;
mod error;
mod protocol;
mod query;
mod rest_catalog;

use std::time::Duration;

use carbon_config::Secret;
use carbon_core::http::HttpClient;
use url::Url;

pub use client::TrinoOptions;
pub use error::TrinoError;
pub use protocol::{
    Column, ErrorCode, NodeVersion, Page, QueryFailure, QueryInfo, QueryOutput, QuerySession,
    QuerySummary, QuerySummaryStats, ServerInfo, Stats,
};
pub use query::Query;
pub use rest_catalog::{CatalogConfig, RestCatalogClient};

/// The client capabilities every request announces.
pub const CLIENT_CAPABILITIES: &str = "PARAMETRIC_DATETIME";
/// The source every request names (`X-Trino-Source`): how the server's query list shows them.
pub const SOURCE: &str = "carbon-e2e";
/// The prefix of the client tag that ties a query to the run that sent it.
const RUN_TAG_PREFIX: &str = "carbon-e2e-run=";

/// The client tag (`X-Trino-Client-Tags`) of every query run `run` sends:
/// `carbon-e2e-run=<run>`. The coordinator shows it in its query list, so a query a killed
/// trial left running can be found and cancelled (`carbon-e2e reap`).
pub fn run_tag(run: &str) -> String {
    format!("{RUN_TAG_PREFIX}{run}")
}

/// The run a client tag made by [`run_tag`] names; `None` for any other tag.
pub fn tag_run(tag: &str) -> Option<&str> {
    tag.strip_prefix(RUN_TAG_PREFIX)
        .filter(|run| carbon_core::naming::is_run_id(run))
}

/// A client for one Trino coordinator.
#[derive(Debug, Clone)]
pub struct TrinoClient {
    http: HttpClient,
    base: Url,
    user: String,
    password: Option<(String, Secret)>,
    query_timeout: Duration,
    /// [`run_tag`] of the run this client works for, sent with every request; `None` for a
    /// client that works for no run (the reaper, `doctor`).
    run_tag: Option<String>,
}

/// The catalogs of `required` that `present` lacks.
pub fn missing_catalogs<'a>(required: &'a [String], present: &[String]) -> Vec<&'a str> {
    required
        .iter()
        .filter(|c| !present.iter().any(|p| p == *c))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_tags_name_a_run_and_nothing_else() {
        assert_eq!(run_tag("1f2e3d4c"), "carbon-e2e-run=1f2e3d4c");
        assert_eq!(tag_run(&run_tag("1f2e3d4c")), Some("1f2e3d4c"));
        for foreign in [
            "carbon-e2e-run=",
            "carbon-e2e-run=e2e-orders",
            "carbon-e2e-run=1F2E3D4C",
            "team=etl",
            "1f2e3d4c",
        ] {
            assert_eq!(tag_run(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn missing_catalogs_are_named() {
        let req = vec!["iceberg".to_string(), "tpch".into(), "hive".into()];
        let present = vec!["tpch".to_string(), "iceberg".into(), "system".into()];
        assert_eq!(missing_catalogs(&req, &present), ["hive"]);
    }
}
