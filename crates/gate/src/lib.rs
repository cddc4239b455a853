//! The acceptance gate: the platform plan's readiness table, a readiness score and a GO /
//! NO-GO / INCONCLUSIVE verdict, computed from a finished run's JUnit report.
//!
//! Input: the JUnit report `carbon-e2e validate` completed ([`Run::read`]): every trial with
//! its status (passed, flaky, failed, not run and why) and the measurements its checks printed
//! (`carbon_core::measure`). Settings: `[gate]` and `[platform]` of the target
//! ([`Settings::from_target`]). Output: [`evaluate`]'s [`Evaluation`], written as
//! [`report::markdown`] and [`report::json`].
//!
//! **The formula.** Each category (workflows, pod health, running pods, ArgoCD, critical
//! services, dashboards with data, alerts, backups; [`categories::parts`] says which trials and
//! measurements feed each) is *pass*, *fail* or *inconclusive*:
//! - fail: a trial of it failed on the platform (the service answered wrongly), or its
//!   measured value is below its target;
//! - inconclusive: something of it was not measured (a trial skipped, refused, live-only,
//!   absent, or failed on **infrastructure**: the runner, the network, its credentials or RBAC
//!   kept it from looking, as the harness classified the error: `carbon_core::failure`) and
//!   nothing of it failed on the platform. It is never counted as a pass and scores nothing;
//! - pass: otherwise.
//!
//! A category's score is its pass share, value ÷ of (healthy pods ÷ pods, Applications ready ÷
//! Applications, workflows passed ÷ 6, backup checks passed ÷ 4, ...), or for a count without a
//! whole (running pods) value ÷ target, at most 1; one that failed without measuring scores 0.
//! **Readiness = 100 × Σ(weightᵢ × scoreᵢ) ÷ Σ weightᵢ** over the categories that are not
//! inconclusive, rounded to one decimal. Verdict, first match wins: **NO-GO, exit 3** when a
//! finding blocks (an unwaived trial of a required category failed, a required category is
//! below its target, an unwaived trial outside every category failed in a suite not in
//! `[gate] optional_suites`, a waiver expired, a flaky trial under `[gate] flaky = "fail"`, or
//! with a baseline a version drifted under `[gate] block_on_drift`); **INCONCLUSIVE, exit 5**
//! when a required category is inconclusive, a trial that would block failed on
//! infrastructure, or none is conclusive (an outage of the runner never reads as a platform
//! regression); **NO-GO, exit 4** when readiness < `[gate]
//! min_readiness`; else **GO, exit 0**. A run that cannot be read is exit 2
//! ([`EXIT_NOT_RUN`]).

pub mod categories;
pub mod diff;
mod error;
mod evaluate;
mod manifest;
pub mod metrics;
mod outcome;
pub mod report;
mod run;

pub use error::GateError;
pub use evaluate::{
    CategoryResult, CategorySettings, CategoryStatus, EXIT_BELOW_READINESS, EXIT_GO,
    EXIT_INCONCLUSIVE, EXIT_NOT_RUN, EXIT_REQUIRED_FAILED, Evaluation, Goal, Listed, Settings,
    SuiteCounts, Verdict, WaivedTrial, WaiverFinding, evaluate,
};
pub use manifest::{
    AppRevision, ComponentVersion, Components, MANIFEST_SCHEMA_VERSION, Manifest, Tool,
    WorkloadImage,
};
pub use run::{Run, Status, Trial};
