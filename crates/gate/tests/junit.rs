//! Reading a run from a JUnit report completed by `validate`, and the reports written from it.

use carbon_config::GateCategory;
use carbon_gate::{
    CategoryStatus, EXIT_REQUIRED_FAILED, GateError, Run, Settings, Status, evaluate, report,
};

fn data(name: &str) -> std::path::PathBuf {
    carbon_core::manifest_dir(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn a_completed_report_gives_every_trial_its_status_cause_and_measurements() {
    let run = Run::read(&data("junit-staging.xml")).unwrap();
    assert_eq!(run.target, "staging");
    assert_eq!(run.trials.len(), 9);
    // The workspace's own tests (validate --workspace) belong to their binary.
    let own = run.trial("load::tests::shipped_targets_parse").unwrap();
    assert_eq!(
        (own.suite.as_str(), own.tier.as_str()),
        ("carbon-config", "")
    );
    let share = run
        .trial("platform::smoke::running_pod_share_meets_the_minimum")
        .unwrap();
    assert_eq!(
        (share.suite.as_str(), share.tier.as_str()),
        ("platform", "smoke")
    );
    assert_eq!(share.status, Status::Passed);
    let healthy = share.measurement("platform.pods_healthy").unwrap();
    assert_eq!((healthy.value, healthy.of), (115.0, Some(118.0)));
    let critical = run
        .trial("platform::smoke::critical_workloads_are_available_with_all_replicas_ready")
        .unwrap();
    assert_eq!(critical.status, Status::Failed);
    assert_eq!(
        critical.line,
        "error: 1 critical workload(s) not available: data-platform app=superset: no Deployment or StatefulSet has this label"
    );
    let location = run
        .trial("velero::smoke::storage_location_is_available_and_recently_validated")
        .unwrap();
    assert_eq!(location.status, Status::Flaky);
    assert_eq!(
        location.line,
        "passed after 1 failed attempt(s); the first: error: velero: the location default was validated 700 s ago"
    );
    let restore = run
        .trial(
            "velero::full::restore_into_a_mapped_namespace_recreates_equal_objects_and_ready_pods",
        )
        .unwrap();
    assert_eq!(
        restore.status,
        Status::NotRun {
            kind: "refused".into()
        }
    );
}

#[test]
fn the_reports_say_the_verdict_the_table_and_why() {
    let run = Run::read(&data("junit-staging.xml")).unwrap();
    let e = evaluate(&run, &Settings::default());
    assert_eq!(e.exit_code, EXIT_REQUIRED_FAILED);
    let status = |c: GateCategory| {
        e.categories
            .iter()
            .find(|r| r.settings.category == c)
            .unwrap()
            .status
    };
    assert_eq!(status(GateCategory::CriticalServices), CategoryStatus::Fail);
    assert_eq!(status(GateCategory::Argocd), CategoryStatus::Pass);
    assert_eq!(
        status(GateCategory::Dashboards),
        CategoryStatus::Inconclusive
    );
    assert_eq!(status(GateCategory::Backups), CategoryStatus::Inconclusive);

    let md = report::markdown(&e);
    assert!(
        md.starts_with("# Acceptance gate: staging — **NO-GO**"),
        "{md}"
    );
    assert!(
        md.contains("- platform::smoke::critical_workloads_are_available_with_all_replicas_ready: error: 1 critical workload(s) not available"),
        "{md}"
    );
    assert!(
        md.contains("| Pod health | 115 of 118 (97.5 %) | ≥ 85 % | pass |"),
        "{md}"
    );
    assert!(
        md.contains("| Dashboards with data | — | ≥ 2 | inconclusive |"),
        "{md}"
    );
    assert!(
        md.contains("## Flaky (passed on retry; not blocking"),
        "{md}"
    );
    assert!(
        md.contains("refused: target `staging` is read-only"),
        "{md}"
    );

    let json = report::json(&e);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["verdict"], "NO-GO");
    assert_eq!(json["exit_code"], 3);
    assert_eq!(json["categories"][4]["category"], "critical_services");
    assert_eq!(json["categories"][4]["status"], "fail");

    let text = report::text(&e);
    assert!(
        text.ends_with("gate: NO-GO (readiness 93.1/100, minimum 95; exit code 3)"),
        "{text}"
    );
}

#[test]
fn a_report_validate_did_not_complete_cannot_be_gated() {
    let dir = std::env::temp_dir().join(format!("carbon-gate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw = std::fs::read_to_string(data("junit-staging.xml"))
        .unwrap()
        .replace("carbon-e2e staging", "nextest-run");
    let path = dir.join("junit.xml");
    std::fs::write(&path, raw).unwrap();
    let e = Run::read(&path).unwrap_err();
    assert!(matches!(e, GateError::NotCompleted { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("not completed by `carbon-e2e validate`"),
        "{e}"
    );
    let e = Run::read(&dir.join("absent.xml")).unwrap_err();
    assert!(matches!(e, GateError::Read { .. }), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_suite_crates_own_tests_belong_to_its_binary_not_to_a_suite() {
    use quick_junit::{Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("carbon-e2e local");
    let mut lib = TestSuite::new("suite-platform");
    lib.add_test_case(TestCase::new(
        "pods::tests::a_pending_pod_is_unhealthy",
        TestCaseStatus::success(),
    ));
    let mut trials = TestSuite::new("suite-platform::platform");
    trials.add_test_case(TestCase::new(
        "platform::smoke::every_node_is_ready",
        TestCaseStatus::success(),
    ));
    report.add_test_suites([lib, trials]);
    let run = Run::from_report(&report).unwrap();
    let suites: Vec<(&str, &str)> = run
        .trials
        .iter()
        .map(|t| (t.suite.as_str(), t.tier.as_str()))
        .collect();
    assert_eq!(suites, vec![("suite-platform", ""), ("platform", "smoke")]);
}
