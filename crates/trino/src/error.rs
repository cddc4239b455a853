//! The client's one error type, and the hints it gives for 401s and TLS mistakes.

use std::time::Duration;

use carbon_config::ConfigError;
use carbon_core::http::{HttpError, RequestLine};
use url::Url;

use crate::QueryFailure;

/// Errors of the Trino client.
#[derive(Debug, thiserror::Error)]
pub enum TrinoError {
    /// No answer, or an HTTP status the protocol does not expect.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// No answer over TLS, with a hint at the likely cause (e.g. `https://` to a plain-HTTP port).
    // The transport error is part of the message rather than a `#[source]`, so that a chain
    // printer (`{:#}`) does not show it twice.
    #[error("{error}; hint: {hint}")]
    Tls {
        /// The transport error.
        error: Box<HttpError>,
        /// What probably went wrong.
        hint: String,
    },
    /// The target does not configure the service or its password.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The target pairs a password with a plain-HTTP coordinator URL.
    #[error(
        "trino: refusing to send the password of user `{user}` (from {var}) over plain HTTP to {url}: basic auth needs an https:// coordinator URL (trino.url)"
    )]
    PasswordOverHttp {
        /// The user.
        user: String,
        /// The variable holding the password.
        var: String,
        /// The coordinator URL.
        url: String,
    },
    /// The coordinator rejected the request's credentials (HTTP 401).
    #[error("trino: {request}: HTTP 401: {reason}; the server said: {body}")]
    Unauthorized {
        /// What was sent.
        request: RequestLine,
        /// Which setting to check.
        reason: String,
        /// A body excerpt.
        body: String,
    },
    /// The coordinator takes authentication only over HTTPS and was asked over plain HTTP
    /// (HTTP 403 "Authentication over HTTP is not enabled").
    #[error(
        "trino: {request}: HTTP 403: the coordinator accepts authentication only over HTTPS: set trino.url to its https:// address (and trino.password_env); the server said: {body}"
    )]
    HttpsRequired {
        /// What was sent.
        request: RequestLine,
        /// A body excerpt.
        body: String,
    },
    /// The query reached Trino and failed there.
    #[error("trino: query {query_id} failed: {failure}")]
    Query {
        /// Trino's query id.
        query_id: String,
        /// Trino's error.
        failure: QueryFailure,
    },
    /// A valid HTTP answer that is not Trino's protocol.
    #[error("trino: {request}: {message}")]
    Protocol {
        /// What was sent.
        request: RequestLine,
        /// What is wrong with the answer.
        message: String,
    },
    /// The query did not finish in time.
    #[error(
        "trino: query {query_id} did not finish within {limit:?} (trino.query_timeout_secs): {detail}"
    )]
    Timeout {
        /// Trino's query id.
        query_id: String,
        /// The limit.
        limit: Duration,
        /// The wait's report (with the last state seen).
        detail: String,
    },
    /// `POST /v1/statement` got a 5xx: the statement may have started, so it is not sent again.
    #[error(
        "{error}; not retried: the coordinator may have started the statement before the answer was lost, and sending it again could run it twice"
    )]
    SubmitNotRetried {
        /// The request, status and body excerpt.
        error: Box<HttpError>,
    },
    /// The coordinator named a URL (a `nextUri`) on another origin than `trino.url`: following it
    /// would send the user and credentials elsewhere, possibly over plain HTTP.
    #[error(
        "trino: refusing to follow {url_origin}{path}: the coordinator named another origin than the configured {configured} (trino.url), and the credentials go only there; behind a proxy, Trino needs `http-server.process-forwarded=true` to name its public URL"
    )]
    ForeignOrigin {
        /// Scheme, host and port of the URL the coordinator named.
        url_origin: String,
        /// Its path (no query string).
        path: String,
        /// Scheme, host and port of `trino.url`.
        configured: String,
    },
    /// A URL that cannot be formed.
    #[error("trino: invalid URL: {0}")]
    Url(String),
}

impl TrinoError {
    /// Trino's error, when the query failed on the server.
    pub fn failure(&self) -> Option<&QueryFailure> {
        match self {
            TrinoError::Query { failure, .. } => Some(failure),
            _ => None,
        }
    }
}

/// `Ok` when `url` has the scheme, host and port of `base` (ports compared after filling in the
/// scheme's default), else [`TrinoError::ForeignOrigin`] naming both origins. Since a password is
/// only accepted with an `https://` base, a URL that passes goes over `https://` whenever a
/// password is sent.
pub(crate) fn same_origin(base: &Url, url: &Url) -> Result<(), TrinoError> {
    // An opaque origin (a scheme without host) equals nothing, not even itself.
    if base.origin().is_tuple() && base.origin() == url.origin() {
        return Ok(());
    }
    Err(TrinoError::ForeignOrigin {
        url_origin: url.origin().ascii_serialization(),
        path: url.path().to_string(),
        configured: base.origin().ascii_serialization(),
    })
}

/// Which setting a 401 points at.
pub(crate) fn unauthorized_reason(user: &str, password_var: Option<&str>, body: &str) -> String {
    if body.contains("impersonate") {
        return format!(
            "the coordinator refused to let user `{user}` act as itself (check trino.user)"
        );
    }
    match password_var {
        Some(var) => format!(
            "the coordinator rejected the credentials of user `{user}`: either no such user (trino.user) or a wrong password in {var}"
        ),
        None => format!(
            "the coordinator requires authentication and the target gives user `{user}` no password: set trino.password_env (and use an https:// trino.url)"
        ),
    }
}

/// Adds a hint to a TLS failure on an `https://` URL, or to a TLS answer on an `http://` one.
pub(crate) fn tls_hint(e: HttpError, base: &Url) -> TrinoError {
    if matches!(e, HttpError::Certificate { .. }) {
        return TrinoError::Http(e); // already says which setting to fix
    }
    let text = e.to_string().to_ascii_lowercase();
    if base.scheme() == "http" && e.is_transport() && text.contains("invalid http version") {
        return TrinoError::Tls {
            error: Box::new(e),
            hint: "the answer was not HTTP: is the port serving HTTPS? (trino.url says http://)"
                .to_string(),
        };
    }
    let tls = base.scheme() == "https"
        && e.is_transport()
        && [
            "tls",
            "certificate",
            "invalidcontenttype",
            "corrupt message",
            "handshake",
        ]
        .iter()
        .any(|w| text.contains(w));
    if !tls {
        return TrinoError::Http(e);
    }
    let hint = if text.contains("certificate") || text.contains("unknown issuer") {
        "the server's certificate is not trusted: name its CA in trino.ca_file"
    } else {
        "the TLS handshake failed: is the port serving plain HTTP? (trino.url says https://)"
    };
    TrinoError::Tls {
        error: Box::new(e),
        hint: hint.to_string(),
    }
}

impl carbon_core::failure::Classify for TrinoError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        match self {
            TrinoError::Http(e) => e.kind(),
            TrinoError::Config(e) => e.kind(),
            TrinoError::Tls { error, .. } | TrinoError::SubmitNotRetried { error } => error.kind(),
            TrinoError::PasswordOverHttp { .. } | TrinoError::Url(_) => Some(Kind::Runner),
            TrinoError::Unauthorized { .. } => Some(Kind::Credentials),
            TrinoError::HttpsRequired { .. } => Some(Kind::Runner),
            // Trino's access control refuses a statement as PERMISSION_DENIED.
            TrinoError::Query { failure, .. } if failure.error_name == "PERMISSION_DENIED" => {
                Some(Kind::Permission)
            }
            TrinoError::Query { .. } | TrinoError::Timeout { .. } => Some(Kind::Check),
            TrinoError::Protocol { .. } => Some(Kind::Unreadable),
            TrinoError::ForeignOrigin { .. } => Some(Kind::Runner),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;
    use rstest::rstest;

    #[rstest]
    #[case::same(
        "https://trino.example.com",
        "https://trino.example.com/v1/statement/queued/q/x/1",
        true
    )]
    #[case::explicit_default_port(
        "https://trino.example.com",
        "https://trino.example.com:443/v1/statement/q",
        true
    )]
    #[case::same_http_port(
        "http://127.0.0.1:18080",
        "http://127.0.0.1:18080/v1/statement/executing/q/y/2",
        true
    )]
    #[case::downgraded_to_http(
        "https://trino.example.com",
        "http://trino.example.com/v1/statement/q",
        false
    )]
    #[case::other_host(
        "https://trino.example.com",
        "https://trino-coordinator.internal/v1/statement/q",
        false
    )]
    #[case::other_port(
        "https://trino.example.com",
        "https://trino.example.com:8443/v1/statement/q",
        false
    )]
    #[case::internal_http_port(
        "https://trino.example.com",
        "http://trino.example.com:8080/v1/statement/q",
        false
    )]
    #[case::upgraded_scheme(
        "http://127.0.0.1:18080",
        "https://127.0.0.1:18080/v1/statement/q",
        false
    )]
    #[case::ip_for_name(
        "http://localhost:18080",
        "http://127.0.0.1:18080/v1/statement/q",
        false
    )]
    fn credentials_follow_only_the_configured_origin(
        #[case] base: &str,
        #[case] url: &str,
        #[case] allowed: bool,
    ) {
        let (base, url) = (Url::parse(base).unwrap(), Url::parse(url).unwrap());
        match same_origin(&base, &url) {
            Ok(()) => assert!(allowed, "{url} passed against {base}"),
            Err(e) => {
                assert!(!allowed, "{url} refused against {base}: {e}");
                let text = e.to_string();
                assert!(
                    text.contains(&base.origin().ascii_serialization())
                        && text.contains(&url.origin().ascii_serialization())
                        && text.contains("trino.url"),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn unauthorized_says_which_setting_to_check() {
        let with_pw = unauthorized_reason("alice", Some("TRINO_PW"), "Invalid credentials");
        assert!(
            with_pw.contains("TRINO_PW") && with_pw.contains("trino.user"),
            "{with_pw}"
        );
        let without = unauthorized_reason("alice", None, "Unauthorized");
        assert!(without.contains("trino.password_env"), "{without}");
    }

    fn transport(url: &str, detail: &str) -> HttpError {
        HttpError::Transport {
            service: "trino",
            request: RequestLine {
                method: Method::GET,
                url: url.to_string(),
            },
            detail: detail.to_string(),
            timed_out: false,
        }
    }

    /// Details as reqwest/rustls reported them against a real Trino 476 (HTTP on 18080,
    /// HTTPS with a private CA on 28443).
    #[test]
    fn scheme_and_certificate_mistakes_get_a_hint() {
        let cases = [
            (
                "https://127.0.0.1:18080",
                "cannot connect: client error (Connect): received corrupt message of type InvalidContentType",
                "is the port serving plain HTTP?",
            ),
            (
                "http://127.0.0.1:28443",
                "request failed: client error (SendRequest): invalid HTTP version parsed",
                "is the port serving HTTPS?",
            ),
            (
                "https://127.0.0.1:28443",
                "cannot connect: client error (Connect): invalid peer certificate: UnknownIssuer",
                "trino.ca_file",
            ),
        ];
        for (url, detail, hint) in cases {
            let base = Url::parse(url).unwrap();
            let e = tls_hint(transport(url, detail), &base).to_string();
            assert!(e.contains(hint) && e.contains(url), "{e}");
        }
        let refused = tls_hint(
            transport("http://127.0.0.1:9", "cannot connect: Connection refused"),
            &Url::parse("http://127.0.0.1:9").unwrap(),
        );
        assert!(matches!(refused, TrinoError::Http(_)));
    }
}
