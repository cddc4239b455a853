//! Whose failure it is: a trial the runner could not run (network, credentials, RBAC) leaves
//! what it measures undecided, so the verdict is INCONCLUSIVE, never NO-GO; the same trial
//! failing on the platform is NO-GO; a platform failure anywhere still blocks beside one of
//! the infrastructure.

use carbon_config::GateCategory;
use carbon_core::failure::{Failure, Kind};
use carbon_gate::{
    CategoryStatus, EXIT_INCONCLUSIVE, EXIT_REQUIRED_FAILED, Settings, Status, Trial, Verdict,
    evaluate,
};
use rstest::rstest;

mod common;
use common::*;

fn failed(name: &str, line: &str, kind: Option<Kind>) -> Trial {
    let t = Trial::new(name, Status::Failed, line);
    match kind {
        Some(k) => t.classified(Failure::from(k)),
        None => t,
    }
}

const REFUSED: &str = "error: kube: list pods in all namespaces: cannot connect to https://10.0.0.1:6443: Connection refused";

#[rstest]
#[case::network(Kind::Network)]
#[case::credentials(Kind::Credentials)]
#[case::rbac(Kind::Permission)]
#[case::runner(Kind::Runner)]
fn a_required_trial_that_could_not_look_is_inconclusive_and_says_why(#[case] kind: Kind) {
    let trials = with(healthy(), CRITICAL, failed(CRITICAL, REFUSED, Some(kind)));
    let e = evaluate(&run(trials), &Settings::default());
    assert_eq!(
        (e.verdict, e.exit_code),
        (Verdict::Inconclusive, EXIT_INCONCLUSIVE),
        "{:?}",
        e.reasons
    );
    let row = e
        .categories
        .iter()
        .find(|c| c.settings.category == GateCategory::CriticalServices)
        .expect("a row");
    assert_eq!(row.status, CategoryStatus::Inconclusive);
    assert!(row.failures.is_empty(), "{:?}", row.failures);
    let why = e.reasons.join("\n");
    assert!(
        why.contains(CRITICAL)
            && why.contains(&format!("infrastructure ({}", kind.as_str()))
            && why.contains("Connection refused"),
        "{why}"
    );
    assert_eq!(e.infrastructure.len(), 1);
    assert_eq!(e.infrastructure[0].trial, CRITICAL);
    // Counted in the suite's failures all the same: it did not pass.
    assert_eq!(e.suites["platform"].failed, 1);
}

#[rstest]
#[case::check(Some(Kind::Check))]
#[case::answer(Some(Kind::Answer))]
#[case::unreadable(Some(Kind::Unreadable))]
#[case::unclassified(None)]
fn the_same_trial_failing_on_the_platform_is_no_go(#[case] kind: Option<Kind>) {
    let line = "error: Deployment data-platform/trino: 0 of 2 replicas available";
    let trials = with(healthy(), CRITICAL, failed(CRITICAL, line, kind));
    let e = evaluate(&run(trials), &Settings::default());
    assert_eq!(
        (e.verdict, e.exit_code),
        (Verdict::NoGo, EXIT_REQUIRED_FAILED),
        "{:?}",
        e.reasons
    );
    assert!(e.infrastructure.is_empty());
}

#[test]
fn a_platform_failure_blocks_beside_an_infrastructure_one() {
    let trials = with(
        healthy(),
        CRITICAL,
        failed(CRITICAL, REFUSED, Some(Kind::Network)),
    );
    let trials = with(
        trials,
        ARGOCD,
        failed(ARGOCD, "error: 3 Applications OutOfSync", Some(Kind::Check)),
    );
    let e = evaluate(&run(trials), &Settings::default());
    assert_eq!(e.verdict, Verdict::NoGo, "{:?}", e.reasons);
    assert!(e.reasons[0].contains(ARGOCD), "{:?}", e.reasons);
}

#[test]
fn a_whole_suite_unreachable_leaves_its_category_undecided() {
    // Every trial of the workflows' suite failed to reach DolphinScheduler.
    let line = "error: dolphinscheduler: GET http://ds:12345/dolphinscheduler/ui/: cannot connect";
    let trials = with(
        healthy(),
        "dolphinscheduler::smoke::api_health",
        failed(
            "dolphinscheduler::smoke::api_health",
            line,
            Some(Kind::Network),
        ),
    );
    let e = evaluate(&run(trials), &Settings::default());
    assert_eq!(e.verdict, Verdict::Inconclusive, "{:?}", e.reasons);
    assert!(
        e.reasons.iter().any(|r| r.contains("api_health")),
        "{:?}",
        e.reasons
    );
}
