//! A run as the gate reads it: every trial of the completed JUnit report with its status, its
//! cause or reason, and what it measured.

use std::path::Path;

use carbon_core::failure::{Class, Failure};
use carbon_core::measure::Measurement;
use quick_junit::{Report, TestCase, TestCaseStatus};
use serde::Serialize;

use crate::GateError;

/// What happened to a trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Status {
    /// It passed on its first attempt.
    Passed,
    /// It passed only after a retry (nextest's `flakyFailure`).
    Flaky,
    /// It failed (or errored, or was planned and absent from nextest's report).
    Failed,
    /// It did not run: `kind` is `skip` (service not configured), `refused` (policy),
    /// `live-only`, `not-selected`, or nextest's own skip.
    NotRun {
        /// Why, as `validate` typed the `<skipped>` element.
        kind: String,
    },
}

/// One trial of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trial {
    /// Its suite: the first part of its name (`platform` of `platform::smoke::…`); for a test
    /// of the workspace's own (not a suite's trial), its test binary.
    pub suite: String,
    /// Its tier: `smoke` or `full` (empty for a trial named otherwise).
    pub tier: String,
    /// Its full name, `<suite>::<tier>::<behaviour>`.
    pub name: String,
    /// What happened to it.
    #[serde(flatten)]
    pub status: Status,
    /// A failure's one-line cause, or why it did not run.
    pub line: String,
    /// What it measured.
    pub measurements: Vec<Measurement>,
    /// How long it took, in seconds (nextest's `time`; its last attempt's for a retried one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    /// A failed trial's class and kind, as the harness printed them (none for a trial that
    /// passed, or for a failure of a runner older than the classification: the platform's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

impl Trial {
    /// A trial of `name`; suite and tier are read from the name.
    pub fn new(name: &str, status: Status, line: impl Into<String>) -> Self {
        let mut parts = name.split("::");
        let suite = parts.next().unwrap_or_default().to_string();
        let tier = parts.next().unwrap_or_default().to_string();
        Self {
            suite,
            tier,
            name: name.to_string(),
            status,
            line: line.into(),
            measurements: Vec::new(),
            duration_secs: None,
            failure: None,
        }
    }

    /// With this failure class.
    #[must_use]
    pub fn classified(mut self, failure: Failure) -> Self {
        self.failure = Some(failure);
        self
    }

    /// Whether it failed because the run could not look (runner, network, credentials,
    /// RBAC), not because the platform answered wrongly.
    pub fn failed_on_infrastructure(&self) -> bool {
        self.status == Status::Failed
            && self
                .failure
                .is_some_and(|f| f.class == Class::Infrastructure)
    }

    /// With these measurements.
    #[must_use]
    pub fn measured(mut self, measurements: Vec<Measurement>) -> Self {
        self.measurements = measurements;
        self
    }

    /// Its last measurement of `key`.
    pub fn measurement(&self, key: &str) -> Option<&Measurement> {
        self.measurements.iter().rev().find(|m| m.key == key)
    }

    /// Whether it ran (passed, flaky or failed).
    pub fn ran(&self) -> bool {
        !matches!(self.status, Status::NotRun { .. })
    }
}

/// A finished run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Run {
    /// The target it ran against (from the report's name `carbon-e2e <target>`).
    pub target: String,
    /// Every trial, in the report's order.
    pub trials: Vec<Trial>,
    /// Its `run.json`, when the run directory holds one.
    #[serde(skip)]
    pub manifest: Option<crate::Manifest>,
}

impl Run {
    /// The trial of this name, if the run holds it.
    pub fn trial(&self, name: &str) -> Option<&Trial> {
        self.trials.iter().find(|t| t.name == name)
    }

    /// Reads a run's directory: the `junit.xml` `validate` completed and its `run.json` (what
    /// was validated) when there is one.
    ///
    /// # Errors
    /// As [`Run::read`]; a `run.json` that is there but unreadable.
    pub fn read_dir(dir: &Path) -> Result<Self, GateError> {
        let mut run = Self::read(&dir.join("junit.xml"))?;
        run.manifest = crate::Manifest::read(dir)?;
        Ok(run)
    }

    /// Reads a JUnit report completed by `carbon-e2e validate`.
    ///
    /// # Errors
    /// [`GateError::Read`], [`GateError::Parse`], or [`GateError::NotCompleted`] for a report
    /// `validate` did not complete.
    pub fn read(path: &Path) -> Result<Self, GateError> {
        let xml = std::fs::read_to_string(path).map_err(|source| GateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let report = Report::deserialize_from_str(&xml).map_err(|e| GateError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_report(&report).ok_or_else(|| GateError::NotCompleted {
            path: path.to_path_buf(),
            name: report
                .name
                .as_ref()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        })
    }

    /// The run a completed report holds; `None` when `validate` did not complete it (its name
    /// is not `carbon-e2e <target>`).
    pub fn from_report(report: &Report) -> Option<Self> {
        let target = report
            .name
            .as_ref()?
            .as_str()
            .strip_prefix("carbon-e2e ")?
            .to_string();
        let trials = report
            .test_suites
            .iter()
            .flat_map(|s| s.test_cases.iter().map(move |c| trial(s.name.as_str(), c)))
            .collect();
        Some(Self {
            target,
            trials,
            manifest: None,
        })
    }
}

/// `binary` is nextest's test binary (`suite-minio::minio`, `carbon-config`): a suite's trials
/// name their suite and tier; any other test (the workspace's own under `validate
/// --workspace`, a suite crate's unit and self tests) belongs to its binary.
fn trial(binary: &str, case: &TestCase) -> Trial {
    let out = case.system_out.as_ref().map_or("", |s| s.as_str());
    let (status, line) = match &case.status {
        TestCaseStatus::Success { flaky_runs } if flaky_runs.is_empty() => {
            (Status::Passed, String::new())
        }
        TestCaseStatus::Success { flaky_runs } => (
            Status::Flaky,
            format!(
                "passed after {} failed attempt(s); the first: {}",
                flaky_runs.len(),
                flaky_runs.first().map_or_else(String::new, |r| cause(
                    r.message.as_ref(),
                    r.description.as_ref(),
                    r.system_out.as_ref().map_or("", |s| s.as_str())
                ))
            ),
        ),
        TestCaseStatus::NonSuccess {
            message,
            description,
            ..
        } => (
            Status::Failed,
            cause(message.as_ref(), description.as_ref(), out),
        ),
        TestCaseStatus::Skipped { ty, message, .. } => (
            Status::NotRun {
                kind: ty.as_ref().map_or("skip", |t| t.as_str()).to_string(),
            },
            message.as_ref().map(|m| m.to_string()).unwrap_or_default(),
        ),
    };
    let mut t = Trial::new(case.name.as_str(), status, line).measured(Measurement::all_in(out));
    t.duration_secs = case.time.map(|d| d.as_secs_f64());
    if t.status == Status::Failed {
        t.failure = Failure::last_in(out);
    }
    // A suite's trial is `<suite>::<smoke|full>::<behaviour>` in a `suite-*` binary; a suite
    // crate's own unit or self test (`pods::tests::…`) is named otherwise.
    if !binary.starts_with("suite-") || !matches!(t.tier.as_str(), "smoke" | "full") {
        t.suite = binary.to_string();
        t.tier = String::new();
    }
    t
}

/// A failure's one line: `validate` puts it in the message; else the harness's `error: …`
/// line of the output, else the first line of the description.
fn cause(
    message: Option<&quick_junit::XmlString>,
    description: Option<&quick_junit::XmlString>,
    out: &str,
) -> String {
    if let Some(m) = message.map(|m| m.as_str().trim()).filter(|m| !m.is_empty())
        && !m.starts_with("test failure with exit code")
    {
        return m.lines().next().unwrap_or(m).to_string();
    }
    out.lines()
        .find(|l| l.starts_with("error: ") || l.contains("panicked at"))
        .or_else(|| description.and_then(|d| d.as_str().lines().find(|l| !l.trim().is_empty())))
        .or(message.map(|m| m.as_str()))
        .unwrap_or("failed (no cause recorded)")
        .trim()
        .to_string()
}
