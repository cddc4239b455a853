//! The JUnit report: read what nextest wrote (quick-junit), complete it for an auditor, and
//! summarise it per suite.
//!
//! nextest leaves ignored trials out of JUnit and gives a failure only the exit code as its
//! message. [`complete`] adds every trial that did not run as `<skipped>` with its status
//! (`skip`, `refused`, `live-only`) and reason, gives each failure its one-line cause as the
//! `message`, and names the report after the target.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use quick_junit::{Report, TestCase, TestCaseStatus};

use crate::nextest::PlannedTrial;

/// Reads a JUnit file.
///
/// # Errors
/// When the file is missing or not JUnit.
pub fn read(path: &Path) -> anyhow::Result<Report> {
    let xml = std::fs::read_to_string(path)
        .with_context(|| format!("reading the JUnit report {}", path.display()))?;
    Report::deserialize_from_str(&xml)
        .with_context(|| format!("parsing the JUnit report {}", path.display()))
}

/// The cause given to a trial the plan said would run and nextest's JUnit does not hold.
pub const ABSENT: &str = "planned to run but absent from nextest's JUnit: nextest stopped before \
                          it, or its binary failed to list";

/// Reads a JUnit file written by this run: one older than `since` (the run's start) is another
/// run's and is refused rather than summarised.
///
/// # Errors
/// When the file is missing, older than `since`, or not JUnit.
pub fn read_fresh(path: &Path, since: std::time::SystemTime) -> anyhow::Result<Report> {
    let written = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("reading the JUnit report {}", path.display()))?;
    anyhow::ensure!(
        written >= since,
        "the JUnit report {} was written before this run started: nextest wrote none for it",
        path.display()
    );
    read(path)
}

/// Writes a JUnit file (creating its directory).
///
/// # Errors
/// When it cannot be serialised or written.
pub fn write(report: &Report, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let xml = report.to_string().context("serialising the JUnit report")?;
    std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))
}

/// Makes the report say everything: named after the target, failures with their one-line
/// cause, every planned trial nextest did not run as `<skipped>` with its reason, and every
/// trial the plan said would run that the JUnit lacks as a failure ([`ABSENT`]). `filtered`:
/// the run was given extra nextest arguments that may deselect trials; such a trial is then
/// listed as `not-selected` instead.
pub fn complete(
    report: &mut Report,
    target: &str,
    plans: &[PlannedTrial],
    strict: bool,
    filtered: bool,
) {
    report.name = Some(format!("carbon-e2e {target}").into());
    for suite in &mut report.test_suites {
        for case in &mut suite.test_cases {
            let first = first_line(&failure_text(case));
            if let TestCaseStatus::NonSuccess { message, .. } = &mut case.status
                && !first.is_empty()
            {
                *message = Some(first.into());
            }
        }
    }
    for plan in plans {
        let runs = match plan.status.as_str() {
            "refused" | "live-only" => false,
            "skip" => strict, // strict mode runs it: it fails, naming what is not configured
            _ => true,        // `run`, `broken-target`
        };
        // nextest's profile (its default filter) leaves it out: not this run's to hold.
        if runs && plan.selected == Some(false) {
            continue;
        }
        let suite = match report
            .test_suites
            .iter_mut()
            .position(|s| s.name.as_str() == plan.binary)
        {
            Some(i) => &mut report.test_suites[i],
            None => {
                report
                    .test_suites
                    .push(quick_junit::TestSuite::new(plan.binary.clone()));
                report.test_suites.last_mut().expect("just pushed")
            }
        };
        if suite
            .test_cases
            .iter()
            .any(|c| c.name.as_str() == plan.trial)
        {
            continue;
        }
        let status = if !runs {
            let mut status = TestCaseStatus::skipped();
            status
                .set_type(plan.status.clone())
                .set_message(format!("{}: {}", plan.status, plan.reason));
            status
        } else if filtered {
            let mut status = TestCaseStatus::skipped();
            status
                .set_type("not-selected")
                .set_message("not-selected: not in this run's selection (extra nextest arguments)");
            status
        } else {
            let mut status = TestCaseStatus::non_success(quick_junit::NonSuccessKind::Failure);
            status.set_type("absent").set_message(ABSENT);
            status
        };
        let mut case = TestCase::new(plan.trial.clone(), status);
        case.set_classname(plan.binary.clone());
        suite.add_test_case(case);
    }
    // quick-junit counts when cases are added; nextest's own counts stay as they were read.
    for suite in &mut report.test_suites {
        suite.tests = suite.test_cases.len();
        suite.skipped = suite
            .test_cases
            .iter()
            .filter(|c| matches!(c.status, TestCaseStatus::Skipped { .. }))
            .count();
        suite.failures = suite
            .test_cases
            .iter()
            .filter(|c| {
                matches!(
                    c.status,
                    TestCaseStatus::NonSuccess {
                        kind: quick_junit::NonSuccessKind::Failure,
                        ..
                    }
                )
            })
            .count();
    }
    report.tests = report.test_suites.iter().map(|s| s.tests).sum();
    report.failures = report.test_suites.iter().map(|s| s.failures).sum();
}

/// One row of the summary.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SuiteRow {
    /// The test binary, e.g. `suite-minio::minio`.
    pub name: String,
    /// Trials that passed.
    pub passed: usize,
    /// Trials that failed or errored.
    pub failed: usize,
    /// Trials not run, by status (`skip`, `refused`, `live-only`).
    pub not_run: BTreeMap<String, usize>,
    /// Summed trial time.
    pub time: Duration,
}

/// A trial that failed or did not run, with its one line.
#[derive(Debug, Clone)]
pub struct Listed {
    /// `binary::trial`.
    pub name: String,
    /// `failed`, `skip`, `refused` or `live-only`.
    pub status: String,
    /// The first line of its failure, or why it did not run.
    pub line: String,
}

/// The summary of a report.
#[derive(Debug, Default)]
pub struct Summary {
    /// Per suite.
    pub rows: Vec<SuiteRow>,
    /// Failed and not-run trials.
    pub listed: Vec<Listed>,
    /// Failures outside any trial (nextest itself failed).
    pub extra_failures: usize,
}

impl Summary {
    /// Trials that passed.
    pub fn passed(&self) -> usize {
        self.rows.iter().map(|r| r.passed).sum()
    }

    /// Trials that failed, plus failures outside trials.
    pub fn failed(&self) -> usize {
        self.rows.iter().map(|r| r.failed).sum::<usize>() + self.extra_failures
    }

    /// Trials not run with `status`.
    pub fn count(&self, status: &str) -> usize {
        self.rows
            .iter()
            .map(|r| r.not_run.get(status).copied().unwrap_or(0))
            .sum()
    }

    /// Trials not run, whatever the reason.
    pub fn not_run(&self) -> usize {
        self.rows.iter().flat_map(|r| r.not_run.values()).sum()
    }

    /// The summary as one JSON object.
    pub fn to_json(&self, target: &str, run_id: &str, junit: Option<&Path>) -> serde_json::Value {
        serde_json::json!({
            "target": target,
            "run_id": run_id,
            "passed": self.passed(),
            "failed": self.failed(),
            "skipped": self.count("skip"),
            "refused": self.count("refused"),
            "live_only": self.count("live-only"),
            "junit": junit,
            "suites": self.rows.iter().map(|r| serde_json::json!({
                "suite": r.name, "passed": r.passed, "failed": r.failed,
                "not_run": r.not_run, "seconds": r.time.as_secs_f64(),
            })).collect::<Vec<_>>(),
            "trials": self.listed.iter().map(|l| serde_json::json!({
                "trial": l.name, "status": l.status, "line": l.line,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Per-suite counts, and the failed and not-run trials.
pub fn summarise(report: &Report) -> Summary {
    let mut summary = Summary::default();
    for suite in &report.test_suites {
        let mut row = SuiteRow {
            name: suite.name.as_str().to_string(),
            ..SuiteRow::default()
        };
        for case in &suite.test_cases {
            row.time += case.time.unwrap_or_default();
            let name = format!("{}::{}", suite.name.as_str(), case.name.as_str());
            match &case.status {
                TestCaseStatus::Success { .. } => row.passed += 1,
                TestCaseStatus::Skipped { ty, message, .. } => {
                    let status = ty.as_ref().map_or("skip", |t| t.as_str()).to_string();
                    *row.not_run.entry(status.clone()).or_default() += 1;
                    let line = message.as_ref().map(|m| m.to_string()).unwrap_or_default();
                    summary.listed.push(Listed { name, status, line });
                }
                TestCaseStatus::NonSuccess { .. } => {
                    row.failed += 1;
                    summary.listed.push(Listed {
                        name,
                        status: "failed".into(),
                        line: first_line(&failure_text(case)),
                    });
                }
            }
        }
        summary.rows.push(row);
    }
    summary
}

/// The line that says why a trial failed: the harness prints `error: ...`; a plain test panics.
fn first_line(text: &str) -> String {
    text.lines()
        .find(|l| l.starts_with("error: ") || l.contains("panicked at"))
        .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Everything the report keeps about a failure: nextest puts the trial's output in
/// `system-out` and `system-err`, not in the `failure` element.
pub fn failure_text(case: &quick_junit::TestCase) -> String {
    let TestCaseStatus::NonSuccess {
        message,
        description,
        ..
    } = &case.status
    else {
        return String::new();
    };
    [
        case.system_out.as_ref(),
        case.system_err.as_ref(),
        description.as_ref(),
        message.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|s| s.as_str())
    .collect::<Vec<_>>()
    .join("\n")
}

/// Prints the summary table, then every failed and not-run trial with its line.
pub fn print(summary: &Summary) {
    println!(
        "\n{:<44} {:>6} {:>6} {:>7} {:>7} {:>9} {:>8}",
        "suite", "passed", "failed", "skipped", "refused", "live-only", "time"
    );
    for r in &summary.rows {
        let n = |s: &str| r.not_run.get(s).copied().unwrap_or(0);
        println!(
            "{:<44} {:>6} {:>6} {:>7} {:>7} {:>9} {:>7.1}s",
            r.name,
            r.passed,
            r.failed,
            n("skip"),
            n("refused"),
            n("live-only"),
            r.time.as_secs_f64()
        );
    }
    for (status, title) in [
        ("failed", "failed trials"),
        (
            "live-only",
            "live-only trials (not run on this target by design, never passed)",
        ),
        ("refused", "refused by policy (nothing was sent)"),
        ("skip", "skipped (service not configured)"),
        (
            "not-selected",
            "not selected (deselected by the extra nextest arguments)",
        ),
    ] {
        let listed: Vec<&Listed> = summary
            .listed
            .iter()
            .filter(|l| l.status == status)
            .collect();
        if listed.is_empty() {
            continue;
        }
        println!("\n{title}:");
        for l in listed {
            println!("  {}\n      {}", l.name, l.line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="2" failures="1" errors="0" uuid="45c50e3c-3a9d-4bfa-94a4-6e4f2a1b8c11" timestamp="2026-11-26T05:00:00.000+00:00" time="1.5">
  <testsuite name="suite-minio::minio" tests="2" disabled="0" errors="0" failures="1">
    <testcase name="minio::smoke::required_buckets_exist" classname="suite-minio::minio" timestamp="2026-11-26T05:00:00.000+00:00" time="0.5">
      <failure type="test failure with exit code 101"/>
      <system-out>trial minio::smoke::required_buckets_exist
[  0.010s] bucket velero-backups: MISSING
error: required buckets missing at http://127.0.0.1:17070/: velero-backups
</system-out>
    </testcase>
    <testcase name="minio::smoke::health" classname="suite-minio::minio" timestamp="2026-11-26T05:00:00.000+00:00" time="0.25"/>
  </testsuite>
</testsuites>"#;

    fn planned(trial: &str, status: &str, reason: &str) -> PlannedTrial {
        PlannedTrial {
            binary: "suite-minio::minio".into(),
            trial: trial.into(),
            status: status.into(),
            reason: reason.into(),
            creates: None,
            cleanup: None,
            opt_in: None,
            selected: None,
        }
    }

    #[test]
    fn the_completed_report_names_the_target_every_cause_and_every_trial_not_run() {
        let mut report = Report::deserialize_from_str(XML).unwrap();
        let plans = [
            planned("minio::smoke::health", "run", ""),
            planned(
                "minio::full::deleted_object_is_gone",
                "refused",
                "target `prod` is read-only",
            ),
            planned("grafana::smoke::health", "live-only", "Grafana is AGPL"),
        ];
        complete(&mut report, "prod", &plans, true, false);
        let xml = report.to_string().unwrap();
        let report = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(report.name.as_ref().unwrap().as_str(), "carbon-e2e prod");
        let s = summarise(&report);
        assert_eq!((s.passed(), s.failed()), (1, 1));
        assert_eq!((s.count("refused"), s.count("live-only")), (1, 1));
        let failed = s.listed.iter().find(|l| l.status == "failed").unwrap();
        assert_eq!(
            failed.line,
            "error: required buckets missing at http://127.0.0.1:17070/: velero-backups"
        );
        assert!(xml.contains(
            r#"message="error: required buckets missing at http://127.0.0.1:17070/: velero-backups""#
        ));
        assert!(xml.contains("refused: target `prod` is read-only"), "{xml}");
        assert!(xml.contains("live-only: Grafana is AGPL"), "{xml}");
    }

    #[test]
    fn a_trial_planned_to_run_but_absent_from_the_junit_is_a_named_failure() {
        let plans = [
            planned("minio::smoke::health", "run", ""),
            planned("minio::smoke::required_buckets_exist", "run", ""),
            planned("minio::full::multipart_round_trip", "run", ""),
            planned(
                "minio::full::listed_elsewhere",
                "broken-target",
                "cannot load",
            ),
        ];
        let mut report = Report::deserialize_from_str(XML).unwrap();
        complete(&mut report, "local", &plans, false, false);
        let report = Report::deserialize_from_str(&report.to_string().unwrap()).unwrap();
        let s = summarise(&report);
        assert_eq!((s.passed(), s.failed()), (1, 3));
        for trial in [
            "minio::full::multipart_round_trip",
            "minio::full::listed_elsewhere",
        ] {
            let l = s.listed.iter().find(|l| l.name.ends_with(trial)).unwrap();
            assert_eq!((l.status.as_str(), l.line.as_str()), ("failed", ABSENT));
        }
        assert_eq!(report.failures, 3);

        // A binary that never reached the JUnit: all of its planned trials fail.
        let mut other = planned("trino::smoke::health", "run", "");
        other.binary = "suite-trino::trino".into();
        let mut report = Report::deserialize_from_str(XML).unwrap();
        complete(&mut report, "local", &[other.clone()], false, false);
        let s = summarise(&report);
        assert!(
            s.listed
                .iter()
                .any(|l| l.name == "suite-trino::trino::trino::smoke::health"
                    && l.status == "failed"),
            "{:?}",
            s.listed
        );

        // Left out by the profile's filter: expected to be absent.
        other.selected = Some(false);
        let mut report = Report::deserialize_from_str(XML).unwrap();
        complete(&mut report, "local", &[other.clone()], false, false);
        assert_eq!(summarise(&report).failed(), 1);

        // Extra nextest arguments may deselect it: listed as such, not counted as run.
        other.selected = None;
        let mut report = Report::deserialize_from_str(XML).unwrap();
        complete(&mut report, "local", &[other], false, true);
        let s = summarise(&report);
        assert_eq!((s.failed(), s.count("not-selected")), (1, 1));
    }

    #[test]
    fn a_junit_older_than_the_run_is_refused() {
        let path =
            std::env::temp_dir().join(format!("carbon-e2e-junit-{:x}.xml", rand::random::<u64>()));
        std::fs::write(&path, XML).unwrap();
        let written = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert!(read_fresh(&path, written).is_ok());
        let later = written + Duration::from_secs(1);
        let e = read_fresh(&path, later).unwrap_err().to_string();
        assert!(e.contains("before this run started"), "{e}");
        std::fs::remove_file(&path).unwrap();
        assert!(read_fresh(&path, written).is_err());
    }
}
