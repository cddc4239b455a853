//! Running a statement: submit, follow `nextUri` page by page (retrying overload answers), cancel.

use std::time::{Duration, Instant};

use carbon_core::http::excerpt;
use carbon_core::wait::{Check, WaitError, wait_until};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use crate::{Column, Page, QueryOutput, TrinoClient, TrinoError};

/// Which request of the protocol a page comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fetch {
    /// `POST /v1/statement`: creates a query.
    Submit,
    /// `GET nextUri`: reads a page of a query that exists.
    NextPage,
}

impl Fetch {
    fn method(self) -> Method {
        match self {
            Fetch::Submit => Method::POST,
            Fetch::NextPage => Method::GET,
        }
    }
}

/// Whether an answer with HTTP `status` is asked again.
///
/// A `nextUri` GET names a page by its token, so asking again returns the same page: every
/// overload answer (429, 502, 503, 504) is retried. A `POST /v1/statement` that got a 5xx may
/// have reached the coordinator and started the statement before the answer was lost (a proxy's
/// 502/504, a coordinator's 503 while it fails over): sending it again could run an `INSERT`
/// or `DROP` twice, so it is never retried. A 429 is retried: it says the request was turned
/// away before anything ran.
pub(crate) fn retryable(fetch: Fetch, status: u16) -> bool {
    match fetch {
        Fetch::Submit => status == 429,
        Fetch::NextPage => matches!(status, 429 | 502 | 503 | 504),
    }
}

impl TrinoClient {
    /// Submits `sql` and returns the running query with its first page read.
    ///
    /// # Errors
    /// As [`Query::advance`].
    pub async fn submit(&self, sql: &str) -> Result<Query<'_>, TrinoError> {
        let url = self.join("/v1/statement")?;
        let started = Instant::now();
        let page = self
            .page_with_retries(
                "the statement to be accepted",
                Fetch::Submit,
                &url,
                Some(sql),
                None,
            )
            .await?;
        let mut query = Query {
            client: self,
            columns: Vec::new(),
            rows: Vec::new(),
            last: page.clone(),
            started,
        };
        query.absorb(page)?;
        Ok(query)
    }

    /// Runs `sql` to completion and returns every row.
    ///
    /// # Errors
    /// [`TrinoError::Query`] with Trino's error when the query fails, [`TrinoError::Timeout`]
    /// after `trino.query_timeout_secs`, and the transport errors of [`Self::info`].
    pub async fn execute(&self, sql: &str) -> Result<QueryOutput, TrinoError> {
        self.submit(sql).await?.finish().await
    }

    /// Fetches one page, retrying what [`retryable`] allows until the query timeout passes.
    async fn page_with_retries(
        &self,
        what: &str,
        fetch: Fetch,
        url: &Url,
        body: Option<&str>,
        query_id: Option<&str>,
    ) -> Result<Page, TrinoError> {
        let probe = || async move {
            let mut request = self.request(fetch.method(), url.clone())?;
            if let Some(sql) = body {
                request = request.body(sql.to_string());
            }
            let (line, response) = self.send(request).await?;
            let status = response.status();
            if retryable(fetch, status.as_u16()) {
                return Ok(Check::Pending(format!("{line}: HTTP {status} (retrying)")));
            }
            if !status.is_success() {
                let error = self.http.status_error(line, response).await;
                return Err(if fetch == Fetch::Submit && status.is_server_error() {
                    TrinoError::SubmitNotRetried {
                        error: Box::new(error),
                    }
                } else {
                    error.into()
                });
            }
            let text = self.http.body(&line, response).await?;
            Page::parse(&text)
                .map(Check::Ready)
                .map_err(|e| TrinoError::Protocol {
                    request: line,
                    message: format!("not a Trino statement page ({e}): {}", excerpt(&text)),
                })
        };
        wait_until(what, self.query_timeout, probe)
            .await
            .map_err(|e| match e {
                WaitError::Probe { source, .. } => source,
                timed_out => TrinoError::Timeout {
                    query_id: query_id.unwrap_or("(not yet accepted)").to_string(),
                    limit: self.query_timeout,
                    detail: timed_out.to_string(),
                },
            })
    }
}

/// A query the server has accepted; pages are read with [`Query::advance`].
#[derive(Debug)]
pub struct Query<'a> {
    client: &'a TrinoClient,
    columns: Vec<Column>,
    rows: Vec<Vec<Value>>,
    last: Page,
    started: Instant,
}

impl Query<'_> {
    /// The query id.
    pub fn id(&self) -> &str {
        &self.last.id
    }

    /// The state the last page reported.
    pub fn state(&self) -> &str {
        self.last.state()
    }

    /// Whether the last page was the final one.
    pub fn is_done(&self) -> bool {
        self.last.next_uri.is_none()
    }

    fn absorb(&mut self, page: Page) -> Result<(), TrinoError> {
        if let Some(failure) = &page.error {
            return Err(TrinoError::Query {
                query_id: page.id.clone(),
                failure: failure.clone(),
            });
        }
        if self.columns.is_empty()
            && let Some(c) = &page.columns
        {
            self.columns = c.clone();
        }
        if let Some(rows) = &page.data {
            self.rows.extend(rows.iter().cloned());
        }
        self.last = page;
        Ok(())
    }

    /// Reads the next page; returns `false` when there is none.
    ///
    /// # Errors
    /// [`TrinoError::Query`] when the query failed, [`TrinoError::Timeout`] when it is past
    /// `trino.query_timeout_secs`, and transport errors.
    pub async fn advance(&mut self) -> Result<bool, TrinoError> {
        let Some(next) = self.last.next_uri.clone() else {
            return Ok(false);
        };
        let elapsed = self.started.elapsed();
        if elapsed > self.client.query_timeout {
            return Err(TrinoError::Timeout {
                query_id: self.id().to_string(),
                limit: self.client.query_timeout,
                detail: format!("still {} after {elapsed:.1?}", self.state()),
            });
        }
        let id = self.id().to_string();
        let page = self
            .client
            .page_with_retries("the next page", Fetch::NextPage, &next, None, Some(&id))
            .await?;
        self.absorb(page)?;
        Ok(!self.is_done())
    }

    /// Reads pages until the query ends; returns its result.
    ///
    /// # Errors
    /// As [`Self::advance`].
    pub async fn finish(mut self) -> Result<QueryOutput, TrinoError> {
        while self.advance().await? {}
        Ok(QueryOutput {
            query_id: self.last.id.clone(),
            columns: self.columns,
            rows: self.rows,
            update_type: self.last.update_type.clone(),
            server_elapsed: Duration::from_millis(
                self.last
                    .stats
                    .as_ref()
                    .map_or(0, |s| s.elapsed_time_millis),
            ),
            client_elapsed: self.started.elapsed(),
        })
    }

    /// Cancels the query (`DELETE` on its next page). A query that has already ended is left as
    /// it is.
    ///
    /// # Errors
    /// Transport errors, or a status other than 2xx, 404 or 410.
    pub async fn cancel(self) -> Result<(), TrinoError> {
        let Some(next) = self.last.next_uri.clone() else {
            return Ok(());
        };
        let (line, response) = self
            .client
            .send(self.client.request(Method::DELETE, next)?)
            .await?;
        let status = response.status();
        if status.is_success() || matches!(status, StatusCode::GONE | StatusCode::NOT_FOUND) {
            Ok(())
        } else {
            Err(self.client.http.status_error(line, response).await.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::submit_rate_limited(Fetch::Submit, 429, true)]
    #[case::submit_bad_gateway(Fetch::Submit, 502, false)]
    #[case::submit_unavailable(Fetch::Submit, 503, false)]
    #[case::submit_gateway_timeout(Fetch::Submit, 504, false)]
    #[case::submit_internal_error(Fetch::Submit, 500, false)]
    #[case::submit_ok(Fetch::Submit, 200, false)]
    #[case::page_rate_limited(Fetch::NextPage, 429, true)]
    #[case::page_bad_gateway(Fetch::NextPage, 502, true)]
    #[case::page_unavailable(Fetch::NextPage, 503, true)]
    #[case::page_gateway_timeout(Fetch::NextPage, 504, true)]
    #[case::page_internal_error(Fetch::NextPage, 500, false)]
    #[case::page_not_found(Fetch::NextPage, 404, false)]
    fn only_next_page_gets_are_retried_on_5xx(
        #[case] fetch: Fetch,
        #[case] status: u16,
        #[case] retried: bool,
    ) {
        assert_eq!(retryable(fetch, status), retried);
    }
}
