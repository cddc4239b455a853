//! A service declared once, in its client crate: how its client is made from a target, the
//! probe `doctor` runs, how its version is read for the run manifest, and the artifacts runs
//! leave there (listed with their age on the server's clock, removed one by one) for the
//! reaper. What its section
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

    /// What runs leave on this service, for people (`None`: trials leave nothing here, and
    /// the reaper does not look).
    const ARTIFACTS: Option<&'static str> = None;

    /// The artifacts whose names have a run's shape, each with its owner, its age on the
    /// server's clock and whatever keeps it. Reads only.
    fn leftovers(
        &self,
        _target: &Target,
    ) -> impl Future<Output = Result<Leftovers, ProbeError>> + Send {
        async { Ok(Leftovers::default()) }
    }

    /// Removes one artifact [`Self::leftovers`] listed; says what went (e.g. `schema x and
    /// its 2 table(s)`).
    fn remove(
        &self,
        _target: &Target,
        artifact: &Artifact,
    ) -> impl Future<Output = Result<String, ProbeError>> + Send {
        let what = artifact.what.clone();
        async move { Err(format!("{what}: this service removes nothing").into()) }
    }
}

/// Something a run left on a service, as its declaration lists it. The reaper removes it when
/// nothing keeps it and it is old enough on the server's clock (or belongs to the run named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// What it is, for people: `schema iceberg.e2e_ab12cd34_x_1700000000`.
    pub what: String,
    /// The run its name gives.
    pub run: String,
    /// When it was created (or last written), in seconds on the server's clock; `None` when
    /// that cannot be read, and then it is kept.
    pub created: Option<i64>,
    /// Why it stays whatever its age: its ownership marker is missing or names another run,
    /// or removing it needs an opt-in the target lacks.
    pub keep: Option<String>,
    /// What removing it takes (its kind, names, ids), as the declaration wrote them.
    pub handle: Vec<String>,
}

/// What a service holds of runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// The server's clock when listed (seconds), which ages are measured on.
    pub now: i64,
    /// The artifacts whose names have a run's shape.
    pub artifacts: Vec<Artifact>,
    /// Lines for people about what was left alone without being listed (e.g. a count of
    /// objects that are no run's).
    pub notes: Vec<String>,
    /// What could not be judged, and why (e.g. an object whose marker could not be read): left
    /// alone, and counted as failures.
    pub failures: Vec<(String, String)>,
}
