//! Runs the `minio` suite through nextest against two broken targets and reads back the JUnit
//! report nextest writes: a failing trial's context (request, endpoint, cause) must be in it,
//! and a credential must never be, in the report or on the console; each failure says whose it
//! is (the runner's network, its credentials).
//!
//! The wrong-credentials half talks to the local stack's real object store, so it needs the
//! stack up (`carbon-e2e validate` brings it up before running the tests).

use quick_junit::{Report, TestCaseStatus};

const CANARY: &str = "canary-secret-7f3a9c0d";

mod common;

/// Runs the minio suite with extra environment; returns the console output and the report.
fn run_minio_suite(env: &[(&str, &str)]) -> (String, Report) {
    let root = carbon_config::workspace_root();
    let mut cmd = common::nextest("package(suite-minio)", &common::run_id("junit"));
    cmd.env("E2E_STRICT", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let junit = root.join("target/nextest/selftest/junit.xml");
    // A run that wrote no report must not be judged by an older one.
    let _ = std::fs::remove_file(&junit);
    let out = cmd.output().expect("cargo nextest runs");
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "the suite must fail against a broken target:\n{console}"
    );
    let xml = std::fs::read_to_string(&junit)
        .unwrap_or_else(|e| panic!("no JUnit at {}: {e}\n{console}", junit.display()));
    assert!(
        !xml.contains(CANARY),
        "a credential leaked into the JUnit report"
    );
    assert!(
        !console.contains(CANARY),
        "a credential leaked onto the console"
    );
    (
        console,
        Report::deserialize_from_str(&xml).expect("valid JUnit"),
    )
}

/// Each trial's name and all the report keeps of its output (nextest stores a trial's output
/// in `system-out` and `system-err`).
fn failures(report: &Report) -> Vec<(String, String)> {
    let cases = report.test_suites.iter().flat_map(|s| &s.test_cases);
    cases
        .map(|c| {
            assert!(
                matches!(c.status, TestCaseStatus::NonSuccess { .. }),
                "{} passed against a broken target",
                c.name.as_str()
            );
            let out = [c.system_out.as_ref(), c.system_err.as_ref()]
                .into_iter()
                .flatten()
                .map(|s| s.as_str());
            (
                c.name.as_str().to_string(),
                out.collect::<Vec<_>>().join("\n"),
            )
        })
        .collect()
}

#[test]
fn junit_keeps_each_failures_context_and_never_a_credential() {
    // 1. An endpoint that refuses: every trial fails, naming the endpoint and the cause.
    let (_, report) = run_minio_suite(&[
        ("E2E_MINIO_ENDPOINT", "http://127.0.0.1:9"),
        ("CARBON_STACK_S3_ACCESS_KEY", "canary-access"),
        ("CARBON_STACK_S3_SECRET_KEY", CANARY),
    ]);
    let cases = failures(&report);
    assert_eq!(cases.len(), 7, "{cases:?}");
    for (name, text) in &cases {
        assert!(
            text.contains("minio: ")
                && text.contains("http://127.0.0.1:9/")
                && text.contains("cannot connect"),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!("trial {name}")),
            "{name}: the trial's own output is kept: {text}"
        );
        // Whose failure: the runner could not reach the store, not the store's answer.
        assert!(
            text.contains(
                "failure class: infrastructure (network: the runner could not reach the service)"
            ) && text.contains(r#"carbon-e2e-failure {"class":"infrastructure","kind":"network"}"#),
            "{name}: {text}"
        );
    }

    // 2. The real store with a wrong secret: the store's refusal (status and body) is reported.
    let (_, report) = run_minio_suite(&[("CARBON_STACK_S3_SECRET_KEY", CANARY)]);
    for (name, text) in failures(&report) {
        assert!(
            text.contains("HTTP 403"),
            "{name}: expected the store's 403: {text}"
        );
        // A refused signature is the runner's credentials (S3's error code says so; a HEAD's
        // 403 has no body to say it, and reads as a refused permission).
        assert!(
            text.contains("failure class: infrastructure (credentials")
                || (text.contains("HEAD http")
                    && text.contains("failure class: infrastructure (permission")),
            "{name}: a refused signature is not the platform's failure: {text}"
        );
        assert!(
            text.contains("X-Amz-Signature=***")
                || text.contains("GET http")
                || text.contains("HEAD http"),
            "{name}: the request is shown: {text}"
        );
    }
}
