//! The `{code, msg, data}` envelope every answer comes in, and list pages.

use carbon_core::http::{HttpError, RequestLine, excerpt};
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{DsError, SERVICE};

#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    pub(crate) code: i64,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    data: Value,
}

/// A page of a list endpoint (the server's `PageInfo`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page<T> {
    #[serde(default = "Vec::new")]
    pub(crate) total_list: Vec<T>,
    /// How many items the whole list has.
    #[serde(default)]
    pub(crate) total: Option<u64>,
    /// How many pages of this size the whole list has (1 for an empty list).
    #[serde(default)]
    pub(crate) total_page: Option<u64>,
    /// The page this is (1-based). (`pageNo` in the answer is the offset of its first item.)
    #[serde(default)]
    pub(crate) current_page: Option<u64>,
}

/// The most pages one listing reads: far above any real list at 100 per page, and a stop for a
/// server that never says the list ends.
pub(crate) const MAX_PAGES: u32 = 1000;

impl<T> Page<T> {
    /// Whether to ask for page `page_no + 1`, this being the answer for `page_no`, asked
    /// `page_size` at a time, with `seen` items collected so far (this page's included).
    ///
    /// The server's `total` decides when it says one, else its `totalPage`, else a full page
    /// means there may be more. An empty page always ends the listing (the list shrank while
    /// being read). `Err` when the server answered another page than the one asked for: it
    /// ignores `pageNo`, and reading on would collect the same items again and again.
    pub(crate) fn more_after(
        &self,
        page_no: u32,
        page_size: u32,
        seen: usize,
    ) -> Result<bool, String> {
        if let Some(current) = self.current_page
            && current != u64::from(page_no)
        {
            return Err(format!(
                "asked for page {page_no}, the server answered page {current}: it does not page this list"
            ));
        }
        if self.total_list.is_empty() {
            return Ok(false);
        }
        Ok(match (self.total, self.total_page) {
            (Some(total), _) => (seen as u64) < total,
            (None, Some(pages)) => u64::from(page_no) < pages,
            (None, None) => self.total_list.len() >= page_size as usize,
        })
    }
}

pub(crate) fn unexpected(request: RequestLine, message: &str, data: &Value) -> DsError {
    DsError::Unexpected {
        request,
        message: message.to_string(),
        body: excerpt(&data.to_string()),
    }
}

pub(crate) fn typed<T: DeserializeOwned>(request: RequestLine, data: Value) -> Result<T, DsError> {
    serde_json::from_value::<T>(data.clone()).map_err(|e| DsError::Unexpected {
        request,
        message: e.to_string(),
        body: excerpt(&data.to_string()),
    })
}

/// Reads an envelope whatever the HTTP status: the API reports its own errors in it.
pub(crate) fn open_envelope(
    request: RequestLine,
    status: StatusCode,
    body: &str,
) -> Result<(RequestLine, Value), DsError> {
    match serde_json::from_str::<Envelope>(body) {
        Ok(env) if env.code == 0 && status.is_success() => Ok((request, env.data)),
        Ok(env) => Err(DsError::Api {
            request,
            code: env.code,
            msg: env.msg.unwrap_or_else(|| "(no message)".into()),
        }),
        Err(_) if !status.is_success() => Err(HttpError::Status {
            service: SERVICE,
            request,
            status,
            body: excerpt(body),
        }
        .into()),
        Err(e) => Err(HttpError::Decode {
            service: SERVICE,
            request,
            message: e.to_string(),
            body: excerpt(body),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Project;
    use reqwest::Method;

    fn line() -> RequestLine {
        RequestLine {
            method: Method::POST,
            url: "http://ds/dolphinscheduler/projects".into(),
        }
    }

    #[test]
    fn non_zero_code_is_an_error_with_code_and_message() {
        let body = r#"{"code":10019,"msg":"project e2e-1 already exists","data":null,"failed":true,"success":false}"#;
        let e = open_envelope(line(), StatusCode::OK, body).unwrap_err();
        assert_eq!(e.code(), Some(10019));
        assert_eq!(
            e.to_string(),
            "dolphinscheduler: POST http://ds/dolphinscheduler/projects: code 10019: project e2e-1 already exists"
        );
    }

    #[test]
    fn bare_401_is_an_http_error_with_the_status() {
        let e = open_envelope(line(), StatusCode::UNAUTHORIZED, "").unwrap_err();
        assert!(matches!(e, DsError::Http(ref h) if h.status() == Some(StatusCode::UNAUTHORIZED)));
        assert!(e.to_string().contains("HTTP 401"), "{e}");
    }

    /// A page as DolphinScheduler 3.1.1's `PageInfo` serialises it (`pageNo` is the offset).
    fn page(current: u64, items: usize, total: Option<u64>, size: u64) -> Page<Value> {
        let mut v = serde_json::json!({
            "totalList": (0..items).map(|i| serde_json::json!({"id": i})).collect::<Vec<_>>(),
            "pageSize": size,
            "currentPage": current,
            "pageNo": (current - 1) * size,
        });
        if let Some(t) = total {
            v["total"] = t.into();
            v["totalPage"] = (if t == 0 { 1 } else { t.div_ceil(size) }).into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[rstest::rstest]
    // 25 items, 10 a page: pages 1 and 2 lead on, page 3 (5 items) ends it.
    #[case::first_of_three(page(1, 10, Some(25), 10), 1, 10, Ok(true))]
    #[case::second_of_three(page(2, 10, Some(25), 10), 2, 20, Ok(true))]
    #[case::last_partial(page(3, 5, Some(25), 10), 3, 25, Ok(false))]
    // Exactly one full page: the total says there is no second one.
    #[case::exactly_full(page(1, 10, Some(10), 10), 1, 10, Ok(false))]
    #[case::empty_list(page(1, 0, Some(0), 10), 1, 0, Ok(false))]
    // The list shrank while being read: an empty page ends it whatever the total said.
    #[case::shrank(page(3, 0, Some(25), 10), 3, 20, Ok(false))]
    // No total: a full page may have a successor, a short one does not.
    #[case::no_total_full(page(1, 10, None, 10), 1, 10, Ok(true))]
    #[case::no_total_short(page(1, 3, None, 10), 1, 3, Ok(false))]
    fn pages_are_read_until_the_server_says_the_list_ends(
        #[case] p: Page<Value>,
        #[case] page_no: u32,
        #[case] seen: usize,
        #[case] more: Result<bool, String>,
    ) {
        assert_eq!(p.more_after(page_no, 10, seen), more);
    }

    #[test]
    fn a_server_that_ignores_page_no_is_an_error_not_a_loop() {
        let e = page(1, 10, Some(25), 10).more_after(2, 10, 20).unwrap_err();
        assert!(e.contains("page 2") && e.contains("page 1"), "{e}");
    }

    #[test]
    fn total_page_alone_decides_when_total_is_absent() {
        let p: Page<Value> = serde_json::from_value(serde_json::json!({
            "totalList": [{"id": 1}, {"id": 2}], "totalPage": 2, "currentPage": 1
        }))
        .unwrap();
        assert_eq!(p.more_after(1, 2, 2), Ok(true));
        assert_eq!(
            p.more_after(2, 2, 4),
            Err("asked for page 2, the server answered page 1: it does not page this list".into())
        );
    }

    #[test]
    fn success_envelope_yields_typed_data() {
        let body = r#"{"code":0,"msg":"success","data":{"id":1,"userId":1,"userName":"admin","code":23838287871808,"name":"e2e-1795667023","description":"e2e","createTime":"2026-11-26 04:23:43","updateTime":"2026-11-26 04:23:43","perm":0,"defCount":0,"instRunningCount":0},"failed":false,"success":true}"#;
        let (l, data) = open_envelope(line(), StatusCode::CREATED, body).unwrap();
        let p: Project = typed(l, data).unwrap();
        assert_eq!(p.code, 23_838_287_871_808);
        assert_eq!(p.name, "e2e-1795667023");
    }
}
