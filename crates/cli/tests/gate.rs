//! `carbon-e2e gate` on hand-made JUnit reports (no stack needed): the exit code is the
//! verdict's, the last line says it, the reports land beside the JUnit and in the step summary.

mod common;

use std::path::PathBuf;

fn run_dir(tag: &str, junit: Option<&str>) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("carbon-e2e-gate-{tag}-{:x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("a temporary run directory");
    if let Some(xml) = junit {
        std::fs::write(dir.join("junit.xml"), xml).expect("writing the run's junit.xml");
    }
    dir
}

fn fixture() -> String {
    let path = carbon_config::workspace_root().join("crates/gate/tests/data/junit-staging.xml");
    std::fs::read_to_string(path).expect("the gate crate's JUnit fixture")
}

#[test]
fn a_required_failure_is_no_go_with_exit_3_and_the_reports_beside_the_junit() {
    let dir = run_dir("nogo", Some(&fixture()));
    let summary = dir.join("step-summary.md");
    let out = common::carbon_e2e(&["gate", "--run", dir.to_str().unwrap()])
        .env("E2E_TARGET", "staging")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let console = common::console(&out);
    assert_eq!(out.status.code(), Some(3), "{console}");
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        last, "gate: NO-GO (readiness 93.1/100, minimum 95; exit code 3)",
        "{console}"
    );
    assert!(
        console.contains("why:\n  platform::smoke::critical_workloads_are_available_with_all_replicas_ready: error: 1 critical workload(s) not available"),
        "{console}"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.starts_with("# Acceptance gate: staging — **NO-GO**"),
        "{md}"
    );
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap().trim_end(),
        md.trim_end()
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        (json["schema_version"].as_u64(), json["exit_code"].as_u64()),
        (Some(1), Some(3))
    );

    // Another target's thresholds judge the same run: the minimum is the environment's.
    let out = common::carbon_e2e(&["gate", "--run", dir.to_str().unwrap()])
        .env("E2E_TARGET", "staging")
        .env("E2E_GATE_MIN_READINESS", "98")
        .output()
        .unwrap();
    assert!(
        common::console(&out).contains("minimum 98; exit code 3"),
        "{}",
        common::console(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_run_or_one_validate_did_not_complete_is_exit_2() {
    let empty = run_dir("empty", None);
    let raw = run_dir(
        "raw",
        Some(&fixture().replace("carbon-e2e staging", "nextest-run")),
    );
    for (dir, says) in [
        (&empty, "No such file"),
        (&raw, "not completed by `carbon-e2e validate`"),
    ] {
        let out = common::carbon_e2e(&["gate", "--run", dir.to_str().unwrap()])
            .env("E2E_TARGET", "staging")
            .output()
            .unwrap();
        let console = common::console(&out);
        assert_eq!(out.status.code(), Some(2), "{console}");
        assert!(console.contains(says), "{console}");
        assert!(
            console
                .trim_end()
                .ends_with("gate: no verdict: there is no completed run to gate (exit code 2)"),
            "{console}"
        );
        assert!(!dir.join("report.md").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
