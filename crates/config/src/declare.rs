//! A service declared once, in its client crate: how its client is made from a target, the
//! probe `doctor` runs, and how its version is read for the run manifest. What its section
//! declares (locations, credentials, TLS) is [`crate::ServiceSection`], beside its fields.
//! `carbon-e2e`'s registry lists one declaration per [`Service`]; its unit test walks the list.

use std::future::Future;

use crate::{Service, Target};

/// Why a probe failed: the client's own error (which names the request, the status and a
/// body excerpt), or what the probe found wrong with an answer.
pub type ProbeError = Box<dyn std::error::Error + Send + Sync>;

/// The usual [`Declared::NO_VERSION`]: the server answered, without a version.
pub const NO_VERSION_IN_ANSWER: &str = "the server answered but reports no version";

/// One service of the platform, as its client crate declares it.
pub trait Declared: Sized + Send + Sync {
    /// The service.
    const SERVICE: Service;
    /// How [`Self::version`] reads the version, for `run.json`'s `source`: the request and the
    /// field, or `none: <why>` when nothing is sent.
    const VERSION_SOURCE: &'static str;
    /// Why an answer can come without a version (the entry's `error` then).
    const NO_VERSION: &'static str;

    /// Builds the client from the target: its section, credentials, TLS and timeouts (HTTP
    /// clients through [`Target::http_client`]).
    fn connect(target: &Target) -> impl Future<Output = Result<Self, ProbeError>> + Send;

    /// The readiness probe `doctor` runs: what it saw, for people; an error when the service
    /// cannot be validated as configured (down, credentials refused, a required part missing).
    fn probe(&self, target: &Target) -> impl Future<Output = Result<String, ProbeError>> + Send;

    /// The server's version, in one request at most (`None`: the answer carries none).
    fn version(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Option<String>, ProbeError>> + Send;
}
