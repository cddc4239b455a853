//! What the gate's tests share: the trial names of the categories and a healthy run.
#![allow(dead_code)] // each test file uses some of these

use carbon_core::measure::Measurement;
use carbon_gate::{Run, Status, Trial};

pub const SHARE: &str = "platform::smoke::running_pod_share_meets_the_minimum";
pub const UNHEALTHY: &str = "platform::smoke::unhealthy_pods_stay_below_the_maximum";
pub const ARGOCD: &str = "platform::smoke::argocd_applications_synced_and_healthy_meet_the_minimum";
pub const CRITICAL: &str =
    "platform::smoke::critical_workloads_are_available_with_all_replicas_ready";
pub const NODES: &str = "platform::smoke::every_node_is_ready";
pub const PANELS: &str = "dashboards::smoke::every_panel_of_the_platforms_dashboards_returns_data";
pub const RULES: &str = "alerts::smoke::required_rules_exist_and_evaluate_without_error";
pub const VMALERT: &str = "alerts::smoke::vmalert_health_answers_ok";
pub const LOCATION: &str = "velero::smoke::storage_location_is_available_and_recently_validated";
pub const SCHEDULES: &str =
    "velero::smoke::schedules_exist_are_enabled_keep_the_retention_and_did_not_fail";
pub const RECENT: &str = "velero::smoke::a_recent_backup_of_the_platform_namespace_completed";
pub const RESTORE: &str =
    "velero::full::restore_into_a_mapped_namespace_recreates_equal_objects_and_ready_pods";
pub const TRINO: &str = "trino::smoke::select_one_returns_one";

pub fn m(key: &str, value: f64, of: Option<f64>) -> Measurement {
    Measurement::new(key, value, of)
}

pub fn passed(name: &str, measurements: Vec<Measurement>) -> Trial {
    Trial::new(name, Status::Passed, "").measured(measurements)
}

/// A run of a healthy platform: every category measured and passing.
pub fn healthy() -> Vec<Trial> {
    vec![
        passed("minio::smoke::health", vec![]),
        passed(TRINO, vec![]),
        passed("dolphinscheduler::smoke::api_health", vec![]),
        passed("victoriametrics::smoke::health", vec![]),
        passed("loki::smoke::ready", vec![]),
        passed(
            SHARE,
            vec![
                m("platform.pods_running", 120.0, None),
                m("platform.pods_healthy", 100.0, Some(100.0)),
            ],
        ),
        passed(UNHEALTHY, vec![]),
        passed(NODES, vec![]),
        passed(ARGOCD, vec![m("platform.argocd_ready", 17.0, Some(17.0))]),
        passed(
            CRITICAL,
            vec![m("platform.critical_available", 6.0, Some(6.0))],
        ),
        passed(PANELS, vec![m("dashboards.with_data", 2.0, Some(2.0))]),
        passed(RULES, vec![m("alerts.required_rules_ok", 3.0, Some(3.0))]),
        passed(VMALERT, vec![]),
        passed(
            LOCATION,
            vec![m("velero.location_available", 1.0, Some(1.0))],
        ),
        passed(SCHEDULES, vec![m("velero.schedules_ok", 1.0, Some(1.0))]),
        passed(RECENT, vec![m("velero.recent_backup", 1.0, Some(1.0))]),
        passed(RESTORE, vec![m("velero.restore_verified", 1.0, Some(1.0))]),
    ]
}

/// `healthy()` with the trial `name` replaced.
pub fn with(mut trials: Vec<Trial>, name: &str, t: Trial) -> Vec<Trial> {
    match trials.iter().position(|x| x.name == name) {
        Some(i) => trials[i] = t,
        None => trials.push(t),
    }
    trials
}

pub fn run(trials: Vec<Trial>) -> Run {
    Run {
        target: "staging".into(),
        trials,
        manifest: None,
    }
}
