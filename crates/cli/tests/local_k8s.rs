//! Runs every suite of the local stack through nextest against the `local-k8s` target, which
//! reaches each service through a `k8s://` Service reference (a port-forward through the local
//! control plane's API server to the pod kwok ties to the native server) and reads each
//! credential from a Kubernetes Secret: all must pass, none skipped (strict mode). Then shows
//! the reach can fail: a reference to a Service whose pods never become Ready, and one to a
//! Secret key that does not exist, fail the trial at once naming the reference and the reason.
//!
//! Needs the local stack up with its control plane (`carbon-e2e stack up`).

use quick_junit::{Report, TestCaseStatus};

mod common;

const SUITES: &[&str] = &[
    "suite-minio",
    "suite-trino",
    "suite-victoriametrics",
    "suite-dolphinscheduler",
    "suite-loki",
    "suite-alerts",
    "suite-velero",
    "suite-superset",
    "suite-dashboards",
    "suite-entrypoints",
];

fn run(filter: &str, env: &[(&str, &str)]) -> (bool, String, Report) {
    let mut cmd = common::nextest(filter, &common::run_id("k8s"));
    cmd.env("E2E_TARGET", "local-k8s").env("E2E_STRICT", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    common::run_with_junit(cmd)
}

#[test]
fn every_local_suite_passes_through_k8s_references_secrets_and_port_forwards() {
    let filter = SUITES
        .iter()
        .map(|s| format!("package({s})"))
        .collect::<Vec<_>>()
        .join(" | ");
    let (ok, console, report) = run(&filter, &[]);
    assert!(ok, "a suite failed against local-k8s:\n{console}");
    let cases: Vec<_> = report
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .collect();
    for c in &cases {
        assert!(
            matches!(c.status, TestCaseStatus::Success { .. }),
            "{} did not pass:\n{console}",
            c.name.as_str()
        );
    }
    for s in SUITES {
        let name = s.trim_start_matches("suite-");
        assert!(
            cases
                .iter()
                .any(|c| c.name.as_str().starts_with(&format!("{name}::"))),
            "no trial of {s} ran:\n{console}"
        );
    }
    assert!(
        cases.len() >= 52,
        "only {} trials ran:\n{console}",
        cases.len()
    );
    // Two references under one key (`entrypoints.urls`) each reach their own Service: the
    // evidence shows Superset's login page and Trino's, not one of them twice.
    let entrypoints = cases
        .iter()
        .find(|c| c.name.as_str().starts_with("entrypoints::"))
        .and_then(|c| c.system_out.as_ref())
        .map(|o| o.as_str().to_string())
        .unwrap_or_default();
    assert!(
        entrypoints.contains("/login/?next=") && entrypoints.contains("/ui/login.html"),
        "each entry point must reach its own Service:\n{entrypoints}"
    );
}

#[test]
fn an_unready_service_or_a_missing_secret_key_fails_the_trial_naming_it() {
    let filter = "test(=minio::smoke::required_buckets_exist)";
    let (ok, console, _) = run(
        filter,
        &[("E2E_MINIO_ENDPOINT", "k8s://carbon-e2e-broken/pending:80")],
    );
    assert!(!ok, "a Service without Ready pods must fail:\n{console}");
    assert!(
        console.contains("minio.endpoint = k8s://carbon-e2e-broken/pending:80")
            && console.contains("no Ready pod")
            && console.contains("Pending"),
        "the failure must name the reference and what its pods do:\n{console}"
    );
    let (ok, console, _) = run(
        filter,
        &[(
            "E2E_MINIO_SECRET_KEY_ENV",
            "k8s:data-platform/minio#noSuchKey",
        )],
    );
    assert!(!ok, "a missing Secret key must fail:\n{console}");
    assert!(
        console.contains("k8s:data-platform/minio#noSuchKey")
            && console.contains("has no key noSuchKey")
            && console.contains("accessKey"),
        "the failure must name the reference and the keys there are:\n{console}"
    );
}
