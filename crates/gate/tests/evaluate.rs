//! The gate's decisions as data: each case a run (built from trials) and the verdict, exit code
//! and category statuses it must give.

use carbon_config::{GateCategory, GateConfig, PlatformConfig};
use carbon_gate::{
    CategoryStatus, EXIT_BELOW_READINESS, EXIT_GO, EXIT_INCONCLUSIVE, EXIT_REQUIRED_FAILED,
    Settings, Status, Trial, Verdict, evaluate,
};
use rstest::rstest;

mod common;
use common::*;

fn not_run(kind: &str, why: &str) -> impl Fn(Trial) -> Trial {
    move |t| {
        Trial::new(
            &t.name,
            Status::NotRun { kind: kind.into() },
            format!("{kind}: {why}"),
        )
    }
}

fn settings(min_readiness: f64) -> Settings {
    let gate = GateConfig {
        min_readiness,
        ..GateConfig::default()
    };
    Settings::new(&gate, &PlatformConfig::default())
}

fn status_of(e: &carbon_gate::Evaluation, c: GateCategory) -> CategoryStatus {
    e.categories
        .iter()
        .find(|r| r.settings.category == c)
        .expect("every category has a row")
        .status
}

#[rstest]
#[case::healthy(healthy(), 95.0, Verdict::Go, EXIT_GO, Some(100.0))]
#[case::empty_run(vec![], 95.0, Verdict::Inconclusive, EXIT_INCONCLUSIVE, None)]
#[case::all_skipped(
    healthy().into_iter().map(not_run("skip", "not configured")).collect(),
    95.0, Verdict::Inconclusive, EXIT_INCONCLUSIVE, None
)]
#[case::all_refused(
    healthy().into_iter().map(not_run("refused", "target is read-only")).collect(),
    95.0, Verdict::Inconclusive, EXIT_INCONCLUSIVE, None
)]
#[case::one_required_failure(
    with(healthy(), CRITICAL, Trial::new(CRITICAL, Status::Failed,
        "error: 1 critical workload(s) not available: Deployment data-platform/minio (app=minio): scaled to 0 replicas")
        .measured(vec![m("platform.critical_available", 5.0, Some(6.0))])),
    // Critical services 5 of 6, weight 3 of 15: 100 × (15 − 0.5) / 15.
    95.0, Verdict::NoGo, EXIT_REQUIRED_FAILED, Some(96.7)
)]
// Running pods (not required) 11 of the plan's 110: score 0.1, weight 1 of 15.
#[case::below_score(
    with(healthy(), SHARE, passed(SHARE, vec![
        m("platform.pods_running", 11.0, None),
        m("platform.pods_healthy", 11.0, Some(11.0)),
    ])),
    95.0, Verdict::NoGo, EXIT_BELOW_READINESS, Some(94.0)
)]
// 99 of 110 running pods: 100 × (15 − 0.1) / 15 = 99.33…, shown and compared as 99.3.
#[case::exactly_at_threshold(
    with(healthy(), SHARE, passed(SHARE, vec![
        m("platform.pods_running", 99.0, None),
        m("platform.pods_healthy", 100.0, Some(100.0)),
    ])),
    99.3, Verdict::Go, EXIT_GO, Some(99.3)
)]
#[case::just_below_threshold(
    with(healthy(), SHARE, passed(SHARE, vec![
        m("platform.pods_running", 99.0, None),
        m("platform.pods_healthy", 100.0, Some(100.0)),
    ])),
    99.4, Verdict::NoGo, EXIT_BELOW_READINESS, Some(99.3)
)]
// Grafana is live-only on the local stack: dashboards are inconclusive (not required), never
// passed, and left out of the mean.
#[case::live_only_grafana(
    with(healthy(), PANELS, Trial::new(PANELS, Status::NotRun { kind: "live-only".into() },
        "live-only: Grafana is AGPL and not part of the local stack")),
    95.0, Verdict::Go, EXIT_GO, Some(100.0)
)]
// A read-only target refuses the restore: backups (required) cannot be said to pass.
#[case::restore_refused(
    with(healthy(), RESTORE, Trial::new(RESTORE, Status::NotRun { kind: "refused".into() },
        "refused: target `staging` is read-only")),
    95.0, Verdict::Inconclusive, EXIT_INCONCLUSIVE, Some(100.0)
)]
// A trial outside every category blocks: its suite is not optional.
#[case::failure_outside_the_categories(
    with(
        healthy(),
        NODES,
        Trial::new(NODES, Status::Failed, "error: node carbon-kwok-1 is not Ready")
    ),
    95.0,
    Verdict::NoGo,
    EXIT_REQUIRED_FAILED,
    Some(100.0)
)]
// A failure in a category that is not required does not block; it lowers the score.
#[case::failure_in_a_category_not_required(
    with(healthy(), PANELS, Trial::new(PANELS, Status::Failed, "error: 1 panel finding(s)")
        .measured(vec![m("dashboards.with_data", 1.0, Some(2.0))])),
    95.0, Verdict::Go, EXIT_GO, Some(96.7)
)]
// A workflow that failed without measuring anything: workflows 5 of 6.
#[case::workflow_failed(
    with(
        healthy(),
        TRINO,
        Trial::new(
            TRINO,
            Status::Failed,
            "error: trino: POST http://trino/v1/statement: connection refused"
        )
    ),
    95.0,
    Verdict::NoGo,
    EXIT_REQUIRED_FAILED,
    Some(96.7)
)]
fn the_verdict_follows_the_documented_rules(
    #[case] trials: Vec<Trial>,
    #[case] min_readiness: f64,
    #[case] verdict: Verdict,
    #[case] exit: u8,
    #[case] readiness: Option<f64>,
) {
    let e = evaluate(&run(trials), &settings(min_readiness));
    assert_eq!(
        (e.verdict, e.exit_code, e.readiness),
        (verdict, exit, readiness),
        "{e:#?}"
    );
    if verdict != Verdict::Go {
        assert!(!e.reasons.is_empty(), "a verdict other than GO says why");
    }
}

#[test]
fn an_empty_category_is_inconclusive_never_a_pass() {
    for trials in [
        vec![],
        healthy()
            .into_iter()
            .map(not_run("refused", "read-only"))
            .collect(),
    ] {
        let e = evaluate(&run(trials), &Settings::default());
        for c in &e.categories {
            assert_eq!(c.status, CategoryStatus::Inconclusive, "{c:#?}");
            assert_eq!(c.score, None);
        }
    }
}

#[test]
fn dashboards_not_counted_are_inconclusive_and_say_why() {
    let trials = with(
        healthy(),
        PANELS,
        Trial::new(
            PANELS,
            Status::NotRun {
                kind: "skip".into(),
            },
            "loki is not configured for target `staging`",
        ),
    );
    let e = evaluate(&run(trials), &Settings::default());
    assert_eq!(
        status_of(&e, GateCategory::Dashboards),
        CategoryStatus::Inconclusive
    );
    let row = &e.categories[5];
    assert_eq!(row.measured(), "—");
    assert!(
        row.unmeasured[0].contains("loki is not configured"),
        "{row:#?}"
    );
    assert_eq!(e.not_run.len(), 1);
}

#[test]
fn the_blocking_reason_names_the_trial_and_its_cause_first() {
    let cause = "error: 1 critical workload(s) not available: Deployment data-platform/minio (app=minio): scaled to 0 replicas";
    let trials = with(
        healthy(),
        CRITICAL,
        Trial::new(CRITICAL, Status::Failed, cause).measured(vec![m(
            "platform.critical_available",
            5.0,
            Some(6.0),
        )]),
    );
    let e = evaluate(&run(trials), &Settings::default());
    assert_eq!(e.reasons[0], format!("{CRITICAL}: {cause}"));
    let row = e
        .categories
        .iter()
        .find(|c| c.settings.category == GateCategory::CriticalServices)
        .unwrap();
    assert_eq!(
        (row.status, row.measured(), row.target()),
        (
            CategoryStatus::Fail,
            "5 of 6 (83.3 %)".to_string(),
            "all".to_string()
        )
    );
    assert!((row.score.unwrap() - 5.0 / 6.0).abs() < 1e-9);
}

#[test]
fn pod_health_and_argocd_take_their_targets_from_platform() {
    let platform = PlatformConfig {
        min_running_percent: 99.0,
        min_argocd_healthy: 17,
        ..PlatformConfig::default()
    };
    let trials = with(
        with(
            healthy(),
            SHARE,
            passed(
                SHARE,
                vec![
                    m("platform.pods_running", 120.0, None),
                    m("platform.pods_healthy", 98.0, Some(100.0)),
                ],
            ),
        ),
        ARGOCD,
        passed(ARGOCD, vec![m("platform.argocd_ready", 16.0, Some(17.0))]),
    );
    let e = evaluate(
        &run(trials),
        &Settings::new(&GateConfig::default(), &platform),
    );
    // The checks passed (their own thresholds were lower when they ran), but the gate reads
    // today's [platform]: both required categories are short, and each says where its target is.
    assert_eq!(e.exit_code, EXIT_REQUIRED_FAILED);
    assert!(
        e.reasons.iter().any(|r| r.contains("Pod health: measured 98 of 100 (98.0 %), target ≥ 99 % ([platform] min_running_percent)")),
        "{:#?}",
        e.reasons
    );
    assert!(
        e.reasons
            .iter()
            .any(|r| r.contains("ArgoCD: measured 16 of 17") && r.contains("min_argocd_healthy")),
        "{:#?}",
        e.reasons
    );
}

#[test]
fn an_optional_suite_does_not_block() {
    let trials = with(
        healthy(),
        NODES,
        Trial::new(NODES, Status::Failed, "error: node not Ready"),
    );
    let gate = GateConfig {
        optional_suites: vec!["platform".into()],
        ..GateConfig::default()
    };
    let e = evaluate(
        &run(trials),
        &Settings::new(&gate, &PlatformConfig::default()),
    );
    assert_eq!((e.verdict, e.exit_code), (Verdict::Go, EXIT_GO));
    assert_eq!(e.non_blocking_failures.len(), 1);
}

fn waiver(trial: &str, expires: &str) -> carbon_config::Waiver {
    carbon_config::Waiver {
        trial: trial.into(),
        reason: "OPS-42: minio scaled down for the storage migration".into(),
        owner: "data-platform-team".into(),
        expires: expires.into(),
    }
}

fn gated(trials: Vec<Trial>, gate: GateConfig) -> carbon_gate::Evaluation {
    evaluate(
        &run(trials),
        &Settings::new(&gate, &PlatformConfig::default()).on(time::macros::date!(2026 - 12 - 06)),
    )
}

fn critical_failed() -> Vec<Trial> {
    with(
        healthy(),
        CRITICAL,
        Trial::new(
            CRITICAL,
            Status::Failed,
            "error: 1 critical workload(s) not available: Deployment data-platform/minio",
        )
        .measured(vec![m("platform.critical_available", 5.0, Some(6.0))]),
    )
}

#[rstest]
// Waived: the failure is listed apart, left out of the score; the rest decides.
#[case::waived(
    "platform::smoke::critical_*",
    "2026-12-31",
    Verdict::Go,
    EXIT_GO,
    Some(100.0)
)]
// The last day of a waiver still counts.
#[case::waived_on_its_last_day(CRITICAL, "2026-12-06", Verdict::Go, EXIT_GO, Some(100.0))]
// Expired: the failure blocks again, and so does the waiver itself.
#[case::expired(
    CRITICAL,
    "2026-12-05",
    Verdict::NoGo,
    EXIT_REQUIRED_FAILED,
    Some(96.7)
)]
fn a_waiver_takes_a_failure_out_until_it_expires(
    #[case] pattern: &str,
    #[case] expires: &str,
    #[case] verdict: Verdict,
    #[case] exit: u8,
    #[case] readiness: Option<f64>,
) {
    let gate = GateConfig {
        waiver: vec![waiver(pattern, expires)],
        ..GateConfig::default()
    };
    let e = gated(critical_failed(), gate);
    assert_eq!(
        (e.verdict, e.exit_code, e.readiness),
        (verdict, exit, readiness),
        "{e:#?}"
    );
    if verdict == Verdict::Go {
        assert_eq!(e.waived.len(), 1);
        assert_eq!(e.waived[0].trial, CRITICAL);
        assert_eq!(e.waived[0].waiver.owner, "data-platform-team");
        assert_eq!(
            status_of(&e, GateCategory::CriticalServices),
            CategoryStatus::Waived
        );
        assert!(e.stale_waivers.is_empty() && e.expired_waivers.is_empty());
    } else {
        assert!(e.waived.is_empty());
        assert!(
            e.reasons.iter().any(|r| r.starts_with(&format!(
                "waiver `{pattern}` (owner data-platform-team: OPS-42"
            )) && r.contains("expired on 2026-12-05")),
            "{:#?}",
            e.reasons
        );
    }
}

#[test]
fn an_expired_waiver_blocks_even_when_nothing_failed() {
    let gate = GateConfig {
        waiver: vec![waiver(CRITICAL, "2026-11-30")],
        ..GateConfig::default()
    };
    let e = gated(healthy(), gate);
    assert_eq!(
        (e.verdict, e.exit_code),
        (Verdict::NoGo, EXIT_REQUIRED_FAILED)
    );
    assert_eq!(e.expired_waivers.len(), 1);
}

#[rstest]
#[case::no_such_trial("trino::full::no_such_trial", "matched no trial of the run")]
#[case::trial_passed(CRITICAL, "matched 1 trial(s), none failed")]
fn a_waiver_that_matched_no_failure_is_stale_not_blocking(
    #[case] pattern: &str,
    #[case] says: &str,
) {
    let gate = GateConfig {
        waiver: vec![waiver(pattern, "2027-01-31")],
        ..GateConfig::default()
    };
    let e = gated(healthy(), gate);
    assert_eq!((e.verdict, e.exit_code), (Verdict::Go, EXIT_GO));
    assert_eq!(e.stale_waivers.len(), 1, "{e:#?}");
    assert!(e.stale_waivers[0].line.contains(says), "{e:#?}");
}

#[test]
fn every_failure_waived_is_inconclusive_not_go() {
    let trials: Vec<Trial> = healthy()
        .into_iter()
        .map(|t| Trial::new(&t.name, Status::Failed, "error: down"))
        .collect();
    let gate = GateConfig {
        waiver: vec![waiver("*::*", "2027-01-31")],
        ..GateConfig::default()
    };
    let e = gated(trials, gate);
    assert_eq!(
        (e.verdict, e.exit_code, e.readiness),
        (Verdict::Inconclusive, EXIT_INCONCLUSIVE, None),
        "{e:#?}"
    );
    assert_eq!(e.waived.len(), healthy().len());
}

#[rstest]
#[case::warn(carbon_config::FlakyPolicy::Warn, None, Verdict::Go, EXIT_GO)]
#[case::fail(
    carbon_config::FlakyPolicy::Fail,
    None,
    Verdict::NoGo,
    EXIT_REQUIRED_FAILED
)]
#[case::fail_but_waived(carbon_config::FlakyPolicy::Fail, Some(TRINO), Verdict::Go, EXIT_GO)]
fn a_flaky_trial_blocks_only_when_the_policy_says_fail(
    #[case] policy: carbon_config::FlakyPolicy,
    #[case] waived: Option<&str>,
    #[case] verdict: Verdict,
    #[case] exit: u8,
) {
    let trials = with(
        healthy(),
        TRINO,
        Trial::new(
            TRINO,
            Status::Flaky,
            "passed after 1 failed attempt(s); the first: error: trino: 503",
        ),
    );
    let gate = GateConfig {
        flaky: Some(policy),
        waiver: waived
            .map(|w| waiver(w, "2027-01-31"))
            .into_iter()
            .collect(),
        ..GateConfig::default()
    };
    let e = gated(trials, gate);
    assert_eq!((e.verdict, e.exit_code), (verdict, exit), "{e:#?}");
    assert_eq!(e.flaky.len(), 1, "a flaky trial is always listed apart");
    if verdict != Verdict::Go {
        assert!(
            e.reasons[0].starts_with(&format!("{TRINO}: flaky (passed only on retry")),
            "{:#?}",
            e.reasons
        );
    }
}

fn versions(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

#[rstest]
#[case::drift_listed(false, Verdict::Go, EXIT_GO)]
#[case::drift_blocks(true, Verdict::NoGo, EXIT_REQUIRED_FAILED)]
fn a_baseline_shows_new_and_fixed_failures_and_the_versions_that_drifted(
    #[case] block_on_drift: bool,
    #[case] verdict: Verdict,
    #[case] exit: u8,
) {
    let before = run(with(
        healthy(),
        NODES,
        Trial::new(
            NODES,
            Status::Failed,
            "error: node carbon-kwok-1 is not Ready",
        ),
    ));
    let after = run(healthy());
    let s = Settings::default();
    let (eb, mut ea) = (evaluate(&before, &s), evaluate(&after, &s));
    let c = carbon_gate::diff::compare(
        "staging run 1a2b3c4d",
        (
            &before,
            &eb,
            &versions(&[
                ("trino", "476"),
                ("dolphinscheduler", "3.1.1"),
                ("loki", "2.9.4"),
            ]),
        ),
        (
            &after,
            &ea,
            &versions(&[
                ("trino", "475"),
                ("dolphinscheduler", "3.1.1"),
                ("loki", "2.9.4"),
            ]),
        ),
    );
    assert_eq!(c.fixed, vec![NODES.to_string()]);
    assert!(c.new_failures.is_empty());
    assert_eq!(
        c.drift.iter().map(|d| d.line()).collect::<Vec<_>>(),
        vec!["trino: 476 → 475".to_string()]
    );
    carbon_gate::diff::apply_baseline(&mut ea, c, block_on_drift);
    assert_eq!((ea.verdict, ea.exit_code), (verdict, exit), "{ea:#?}");
    if block_on_drift {
        assert_eq!(
            ea.reasons[0],
            "drift from the baseline staging run 1a2b3c4d ([gate] block_on_drift): trino: 476 → 475"
        );
    }
    let md = carbon_gate::report::markdown(&ea);
    assert!(
        md.contains("## Compared with the baseline staging run 1a2b3c4d"),
        "{md}"
    );
    assert!(md.contains("- trino: 476 → 475"), "{md}");
}

#[test]
fn a_new_failure_is_named_against_the_baseline() {
    let before = run(healthy());
    let after = run(critical_failed());
    let s = Settings::default();
    let c = carbon_gate::diff::compare(
        "A",
        (&before, &evaluate(&before, &s), &versions(&[])),
        (&after, &evaluate(&after, &s), &versions(&[])),
    );
    assert_eq!(c.new_failures.len(), 1);
    assert!(c.new_failures[0].starts_with(CRITICAL), "{c:#?}");
    assert_eq!(c.categories.len(), 1, "{c:#?}");
    assert_eq!(c.categories[0].category, "critical_services");
    assert!(
        c.drift.is_empty(),
        "no run.json on either side: nothing to compare"
    );
}
