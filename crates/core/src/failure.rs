//! Whose failure a failed trial is: the **infrastructure**'s (the runner, the network between
//! it and the platform, its credentials or its RBAC: the run could not look) or the
//! **platform**'s (a service answered, and answered wrongly). A nightly run whose runner lost
//! the network must not read as a platform regression, so the gate makes the first
//! INCONCLUSIVE and only the second NO-GO.
//!
//! The harness classifies a failed trial's error chain with [`classify`] and prints the
//! result as one structured line, `carbon-e2e-failure {"class":"infrastructure","kind":"network"}`,
//! which nextest keeps in the JUnit's `system-out` and `carbon-gate` reads back with
//! [`Failure::parse`]: printing and parsing live here, side by side.
//!
//! Classification reads the error kinds the clients already have: each client's error type
//! implements [`Classify`] (its transport errors, 401s and 403s, unreadable answers) and is
//! [`register`]ed when a client is built; [`HttpError`] is known here. An error no
//! classifier knows (a check's own `anyhow!` message, a timed-out wait) is the platform's:
//! misreading a platform failure as the runner's would soften NO-GO to INCONCLUSIVE, so the
//! default is the verdict that blocks.

use std::any::TypeId;
use std::error::Error;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::http::HttpError;

/// What starts every failure line.
pub const PREFIX: &str = "carbon-e2e-failure ";

/// Whose failure it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// The run could not look: runner, network, credentials, RBAC.
    Infrastructure,
    /// A service answered, and not as the platform should.
    Platform,
}

impl Class {
    /// `infrastructure` or `platform`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Infrastructure => "infrastructure",
            Class::Platform => "platform",
        }
    }
}

/// What kind of failure, within its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// No answer: refused, reset, unresolvable, timed out, or a service the run already
    /// recorded as unreachable.
    Network,
    /// The TLS handshake failed on the server's certificate.
    Tls,
    /// The credentials were refused (HTTP 401), or are missing.
    Credentials,
    /// The identity has no right to do this (HTTP 403, an RBAC refusal).
    Permission,
    /// The runner itself: its target, its configuration, a client it cannot build, a signal.
    Runner,
    /// The service answered with an error status or an error of its own API.
    Answer,
    /// The service answered with something its client cannot read.
    Unreadable,
    /// A check found the platform not as it should be (the default).
    Check,
}

impl Kind {
    /// Every kind, infrastructure first.
    pub const ALL: [Kind; 8] = [
        Kind::Network,
        Kind::Tls,
        Kind::Credentials,
        Kind::Permission,
        Kind::Runner,
        Kind::Answer,
        Kind::Unreadable,
        Kind::Check,
    ];

    /// Its class.
    pub fn class(self) -> Class {
        match self {
            Kind::Network | Kind::Tls | Kind::Credentials | Kind::Permission | Kind::Runner => {
                Class::Infrastructure
            }
            Kind::Answer | Kind::Unreadable | Kind::Check => Class::Platform,
        }
    }

    /// Its name in the failure line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Network => "network",
            Kind::Tls => "tls",
            Kind::Credentials => "credentials",
            Kind::Permission => "permission",
            Kind::Runner => "runner",
            Kind::Answer => "answer",
            Kind::Unreadable => "unreadable",
            Kind::Check => "check",
        }
    }

    /// What it means for the reader of a report.
    pub fn meaning(self) -> &'static str {
        match self {
            Kind::Network => "the runner could not reach the service",
            Kind::Tls => "the runner does not trust the service's certificate",
            Kind::Credentials => "the runner's credentials were refused or are missing",
            Kind::Permission => "the runner's identity may not do this (RBAC)",
            Kind::Runner => "the runner's own setup failed",
            Kind::Answer => "the service answered with an error",
            Kind::Unreadable => "the service answered with something unreadable",
            Kind::Check => "the platform is not as it should be",
        }
    }
}

/// A failed trial's classification, as its line carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Whose failure.
    pub class: Class,
    /// What kind.
    pub kind: Kind,
}

impl From<Kind> for Failure {
    fn from(kind: Kind) -> Self {
        Self {
            class: kind.class(),
            kind,
        }
    }
}

impl Failure {
    /// The line, without its newline.
    pub fn line(&self) -> String {
        format!(
            "{PREFIX}{}",
            serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
        )
    }

    /// The failure a line holds, if it is one whose class agrees with its kind.
    pub fn parse(line: &str) -> Option<Self> {
        let json = line.trim_start().strip_prefix(PREFIX)?;
        let f: Self = serde_json::from_str(json.trim()).ok()?;
        (f.kind.class() == f.class).then_some(f)
    }

    /// The last failure line in a trial's output.
    pub fn last_in(output: &str) -> Option<Self> {
        output.lines().rev().find_map(Self::parse)
    }

    /// `infrastructure (network: the runner could not reach the service)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}: {})",
            self.class.as_str(),
            self.kind.as_str(),
            self.kind.meaning()
        )
    }
}

/// An error type that can say what kind of failure it is.
pub trait Classify: Error + 'static {
    /// Its kind; `None` when only its cause can tell (the chain is read on).
    fn kind(&self) -> Option<Kind>;
}

impl Classify for HttpError {
    fn kind(&self) -> Option<Kind> {
        Some(match self {
            HttpError::Transport { .. } => Kind::Network,
            HttpError::Certificate { .. } => Kind::Tls,
            HttpError::Setup { .. } => Kind::Runner,
            HttpError::Status { status, .. } => status_kind(status.as_u16()),
            HttpError::Decode { .. } => Kind::Unreadable,
        })
    }
}

/// The kind of an HTTP (or Kubernetes API) error status: 401 is the credentials', 403 the
/// identity's rights, 407 the runner's proxy; any other is the service's answer.
pub fn status_kind(code: u16) -> Kind {
    match code {
        401 => Kind::Credentials,
        403 => Kind::Permission,
        407 => Kind::Network,
        _ => Kind::Answer,
    }
}

type Classifier = Arc<dyn Fn(&(dyn Error + 'static)) -> Option<Kind> + Send + Sync>;

static CLASSIFIERS: Mutex<Vec<(TypeId, Classifier)>> = Mutex::new(Vec::new());

/// Makes [`classify`] know `E` for the rest of this process (once per type).
pub fn register<E: Classify>() {
    register_foreign::<E>(Classify::kind);
}

/// Makes [`classify`] know `E`, a type of another crate that cannot implement [`Classify`]
/// here (`kube::Error`), through `read` (once per type).
pub fn register_foreign<E: Error + 'static>(read: fn(&E) -> Option<Kind>) {
    let mut list = CLASSIFIERS.lock().unwrap_or_else(|p| p.into_inner());
    if !list.iter().any(|(t, _)| *t == TypeId::of::<E>()) {
        list.push((
            TypeId::of::<E>(),
            Arc::new(move |e: &(dyn Error + 'static)| e.downcast_ref::<E>().and_then(read)),
        ));
    }
}

/// The kind of an error chain, outermost first (the outer error knows its context best):
/// the first link a classifier knows decides; [`Kind::Check`] when none does.
pub fn classify<'a>(chain: impl IntoIterator<Item = &'a (dyn Error + 'static)>) -> Failure {
    let list = CLASSIFIERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for link in chain {
        if let Some(k) = link.downcast_ref::<HttpError>().and_then(Classify::kind) {
            return k.into();
        }
        if let Some(k) = list.iter().find_map(|(_, read)| read(link)) {
            return k.into();
        }
    }
    Kind::Check.into()
}

/// The chain of `e`: `e`, its source, its source's source...
pub fn chain<'a>(e: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(e), |e: &&'a (dyn Error + 'static)| (*e).source())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::RequestLine;

    fn request() -> RequestLine {
        RequestLine {
            method: reqwest::Method::GET,
            url: "http://127.0.0.1:9/x".into(),
        }
    }

    #[derive(Debug, thiserror::Error)]
    enum Wrapper {
        #[error(transparent)]
        Http(#[from] HttpError),
        #[error("wrapped refusal")]
        Refused,
        #[error("context: {0}")]
        Context(#[source] std::io::Error),
    }

    impl Classify for Wrapper {
        fn kind(&self) -> Option<Kind> {
            match self {
                Wrapper::Http(e) => e.kind(),
                Wrapper::Refused => Some(Kind::Permission),
                Wrapper::Context(_) => None,
            }
        }
    }

    #[rstest::rstest]
    #[case::refused(HttpError::Transport { service: "minio", request: request(), detail: "refused".into(), timed_out: false }, Kind::Network)]
    #[case::unauthorized(HttpError::Status { service: "minio", request: request(), status: reqwest::StatusCode::UNAUTHORIZED, body: String::new() }, Kind::Credentials)]
    #[case::forbidden(HttpError::Status { service: "minio", request: request(), status: reqwest::StatusCode::FORBIDDEN, body: String::new() }, Kind::Permission)]
    #[case::server_error(HttpError::Status { service: "minio", request: request(), status: reqwest::StatusCode::BAD_GATEWAY, body: String::new() }, Kind::Answer)]
    #[case::not_found(HttpError::Status { service: "minio", request: request(), status: reqwest::StatusCode::NOT_FOUND, body: String::new() }, Kind::Answer)]
    #[case::decode(HttpError::Decode { service: "minio", request: request(), message: "eof".into(), body: String::new() }, Kind::Unreadable)]
    #[case::setup(HttpError::Setup { service: "minio", message: "bad CA".into() }, Kind::Runner)]
    fn an_http_error_is_classified_by_its_kind(#[case] e: HttpError, #[case] want: Kind) {
        assert_eq!(classify(chain(&e)).kind, want);
        // Wrapped transparently in a client's error, once that type is registered.
        register::<Wrapper>();
        let w = Wrapper::from(e);
        assert_eq!(classify(chain(&w)).kind, want);
    }

    #[test]
    fn the_outer_error_decides_and_an_unknown_one_is_the_platforms() {
        register::<Wrapper>();
        assert_eq!(classify(chain(&Wrapper::Refused)).kind, Kind::Permission);
        // A link that cannot tell leaves it to its cause; an unknown cause is a check's.
        let unknown = Wrapper::Context(std::io::Error::other("boom"));
        assert_eq!(
            classify(chain(&unknown)),
            Failure {
                class: Class::Platform,
                kind: Kind::Check
            }
        );
    }

    #[test]
    fn a_line_reads_back_and_a_contradictory_one_does_not() {
        for kind in Kind::ALL {
            let f = Failure::from(kind);
            assert_eq!(Failure::parse(&f.line()), Some(f));
        }
        let out = "step\ncarbon-e2e-failure {\"class\":\"infrastructure\",\"kind\":\"network\"}\n";
        assert_eq!(Failure::last_in(out), Some(Kind::Network.into()));
        assert_eq!(
            Failure::parse("carbon-e2e-failure {\"class\":\"platform\",\"kind\":\"network\"}"),
            None
        );
        assert_eq!(Failure::parse("carbon-e2e-failure {}"), None);
    }
}
