//! The `{code, msg, data}` envelope every answer comes in, and list pages.

use carbon_core::http::{HttpError, RequestLine, excerpt};
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{DsError, SERVICE};

#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    code: i64,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    data: Value,
}

/// A page of a list endpoint.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page<T> {
    #[serde(default = "Vec::new")]
    pub(crate) total_list: Vec<T>,
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

    #[test]
    fn success_envelope_yields_typed_data() {
        let body = r#"{"code":0,"msg":"success","data":{"id":1,"userId":1,"userName":"admin","code":23838287871808,"name":"e2e-1795667023","description":"e2e","createTime":"2026-11-26 04:23:43","updateTime":"2026-11-26 04:23:43","perm":0,"defCount":0,"instRunningCount":0},"failed":false,"success":true}"#;
        let (l, data) = open_envelope(line(), StatusCode::CREATED, body).unwrap();
        let p: Project = typed(l, data).unwrap();
        assert_eq!(p.code, 23_838_287_871_808);
        assert_eq!(p.name, "e2e-1795667023");
    }
}
