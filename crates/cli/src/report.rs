//! Reading the JUnit report nextest wrote (with quick-junit) into a per-suite summary.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use quick_junit::{Report, TestCaseStatus};

/// One row of the summary.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SuiteRow {
    /// The test binary, e.g. `suite-minio::minio`.
    pub name: String,
    /// Trials that passed.
    pub passed: usize,
    /// Trials that failed or errored.
    pub failed: usize,
    /// Trials reported as skipped.
    pub skipped: usize,
    /// Summed trial time.
    pub time: Duration,
}

/// A failed trial with its message.
#[derive(Debug, Clone)]
pub struct FailedTrial {
    /// `binary::trial`.
    pub name: String,
    /// The first line of its failure output.
    pub first_line: String,
}

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

/// Per-suite counts, and the failed trials.
pub fn summarise(report: &Report) -> (Vec<SuiteRow>, Vec<FailedTrial>) {
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for suite in &report.test_suites {
        let mut row = SuiteRow {
            name: suite.name.as_str().to_string(),
            ..SuiteRow::default()
        };
        for case in &suite.test_cases {
            row.time += case.time.unwrap_or_default();
            match &case.status {
                TestCaseStatus::Success { .. } => row.passed += 1,
                TestCaseStatus::Skipped { .. } => row.skipped += 1,
                TestCaseStatus::NonSuccess { .. } => {
                    row.failed += 1;
                    let text = failure_text(case);
                    // The harness prints the failure as `error: ...`; a plain test panics.
                    let first_line = text
                        .lines()
                        .find(|l| l.starts_with("error: ") || l.contains("panicked at"))
                        .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    let name = format!("{}::{}", suite.name.as_str(), case.name.as_str());
                    failed.push(FailedTrial { name, first_line });
                }
            }
        }
        rows.push(row);
    }
    (rows, failed)
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
        description.as_ref(),
        message.as_ref(),
        case.system_out.as_ref(),
        case.system_err.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|s| s.as_str())
    .collect::<Vec<_>>()
    .join("\n")
}

/// Prints the summary table.
pub fn print(rows: &[SuiteRow], failed: &[FailedTrial]) {
    println!(
        "\n{:<52} {:>6} {:>6} {:>7} {:>9}",
        "suite", "passed", "failed", "skipped", "time"
    );
    for r in rows {
        println!(
            "{:<52} {:>6} {:>6} {:>7} {:>8.1}s",
            r.name,
            r.passed,
            r.failed,
            r.skipped,
            r.time.as_secs_f64()
        );
    }
    if !failed.is_empty() {
        println!("\nfailed trials:");
        for f in failed {
            println!("  {}\n      {}", f.name, f.first_line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_suite_and_keeps_the_failure_line() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="3" failures="1" errors="0" uuid="45c50e3c-3a9d-4bfa-94a4-6e4f2a1b8c11" timestamp="2026-11-26T05:00:00.000+00:00" time="1.5">
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
        let report = Report::deserialize_from_str(xml).unwrap();
        let (rows, failed) = summarise(&report);
        assert_eq!(rows[0].passed, 1);
        assert_eq!(rows[0].failed, 1);
        assert_eq!(
            failed[0].first_line,
            "error: required buckets missing at http://127.0.0.1:17070/: velero-backups"
        );
    }
}
