//! The client's one error type.

use carbon_config::ConfigError;
use carbon_core::http::{HttpError, RequestLine};

use crate::fixture;

/// Errors of the DolphinScheduler client.
#[derive(Debug, thiserror::Error)]
pub enum DsError {
    /// No usable HTTP answer: refused, timed out, or a status without an envelope (such as the
    /// bare 401 the server sends for a missing, invalid or expired session or token).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The target does not configure the service or its credentials.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server answered with a non-zero code.
    #[error("dolphinscheduler: {request}: code {code}: {msg}")]
    Api {
        /// What was sent (method and URL; form values, passwords included, are never shown).
        request: RequestLine,
        /// The server's status code, e.g. 10019 for a project name that already exists.
        code: i64,
        /// The server's message.
        msg: String,
    },
    /// A successful envelope whose data is not what this client expects.
    #[error("dolphinscheduler: {request}: unexpected data ({message}): {body}")]
    Unexpected {
        /// What was sent.
        request: RequestLine,
        /// What is wrong.
        message: String,
        /// A body excerpt.
        body: String,
    },
    /// A URL that cannot be formed.
    #[error("dolphinscheduler: invalid URL {0}")]
    Url(String),
    /// A workflow fixture that cannot be filled in.
    #[error(transparent)]
    Fixture(#[from] fixture::FixtureError),
}

impl DsError {
    /// The server's code, for [`DsError::Api`].
    pub fn code(&self) -> Option<i64> {
        match self {
            DsError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl carbon_core::failure::Classify for DsError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        match self {
            DsError::Http(e) => e.kind(),
            DsError::Config(e) => e.kind(),
            DsError::Api { .. } => Some(Kind::Answer),
            DsError::Unexpected { .. } => Some(Kind::Unreadable),
            DsError::Url(_) | DsError::Fixture(_) => Some(Kind::Runner),
        }
    }
}
