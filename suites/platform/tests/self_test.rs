//! Self test of the `platform` checks: pointed at the local cluster's namespace of broken
//! things (kind-config/broken), each check must fail and name the right offender. A check
//! that cannot fail would pass here, and this test would fail.
//!
//! Needs the target's `[kubernetes]` (the local stack's control plane: `carbon-e2e stack up`);
//! without it the test fails saying so, it never passes unchecked.

use std::time::Duration;

use carbon_config::{CriticalWorkload, PlatformConfig};
use carbon_core::wait::{Check, wait_until};
use carbon_kube::{CustomKind, KubeClient, KubeError};

const BROKEN: &str = "carbon-e2e-broken";

fn broken_scope() -> PlatformConfig {
    PlatformConfig {
        namespaces: vec![BROKEN.into()],
        exclude_namespaces: Vec::new(),
        max_unhealthy_pods: 1,
        min_running_percent: 100.0,
        critical_workloads: vec![CriticalWorkload {
            namespace: BROKEN.into(),
            selector: "app=crashloop".into(),
        }],
        max_failed_jobs: 0,
        argocd_namespace: BROKEN.into(),
        min_argocd_healthy: 1,
        kyverno_namespace: BROKEN.into(),
        min_policy_exceptions: 1,
    }
}

async fn client() -> KubeClient {
    let target = carbon_config::load().expect("loading the target");
    KubeClient::from_target(&target).await.expect(
        "the target needs [kubernetes] pointing at the local control plane (carbon-e2e stack up)",
    )
}

/// The check's error, which must exist and mention every `needle`.
fn assert_fails_naming(what: &str, outcome: anyhow::Result<String>, needles: &[&str]) {
    let err = match outcome {
        Ok(summary) => panic!("{what} passed on the broken namespace: {summary}"),
        Err(e) => format!("{e:#}"),
    };
    for n in needles {
        assert!(
            err.contains(n),
            "{what}: the failure does not name `{n}`:\n{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_fails_on_the_broken_namespace_naming_its_offender() {
    let kube = client().await;
    let cfg = broken_scope();
    // The broken objects are applied by `stack up`; kwok and the controllers need a moment to
    // put them in their broken state: wait (bounded) until the crash loop shows.
    wait_until(
        "the broken namespace to reach its broken state",
        Duration::from_secs(60),
        || async {
            let (_, _, offenders) = suite_platform::pod_offenders(&kube, &cfg)
                .await
                .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
            let crash = offenders.iter().any(|o| o.contains("CrashLoopBackOff"));
            let pending = offenders
                .iter()
                .filter(|o| o.contains("Unschedulable"))
                .count();
            Ok::<_, std::io::Error>(if crash && pending >= 2 {
                Check::Ready(())
            } else {
                Check::Pending(format!("{offenders:?}"))
            })
        },
    )
    .await
    .expect("broken state");
    assert_fails_naming(
        "unhealthy pods",
        suite_platform::unhealthy_pods_below_maximum(&kube, &cfg).await,
        &[
            "carbon-e2e-broken/pending-",
            "Pending: Unschedulable",
            "carbon-e2e-broken/crashloop-",
            "CrashLoopBackOff",
            "restarts 7",
            "last event: BackOff",
            "carbon-e2e-broken/broken-agent-",
        ],
    );
    assert_fails_naming(
        "running share",
        suite_platform::running_share_meets_minimum(&kube, &cfg).await,
        &["below the minimum 100", "carbon-e2e-broken/crashloop-"],
    );
    assert_fails_naming(
        "critical workloads",
        suite_platform::critical_workloads_available(&kube, &cfg).await,
        &["Deployment carbon-e2e-broken/crashloop", "0/1 ready"],
    );
    assert_fails_naming(
        "daemonsets",
        suite_platform::daemonsets_fully_ready(&kube, &cfg).await,
        &["carbon-e2e-broken/broken-agent", "0 ready of 1 desired"],
    );
    assert_fails_naming(
        "volumes",
        suite_platform::volumes_bound(&kube, &cfg).await,
        &["carbon-e2e-broken/missing-volume: Pending"],
    );
    assert_fails_naming(
        "failed jobs",
        failed_jobs_eventually(&kube, &cfg).await,
        &[
            "1 failed Job(s), at most 0 allowed",
            "carbon-e2e-broken/failing-import: BackoffLimitExceeded",
        ],
    );
    assert_fails_naming(
        "argocd",
        suite_platform::argocd_applications_healthy(&kube, &cfg).await,
        &[
            "broken-app: sync OutOfSync, health Degraded",
            "0 of 1 Applications",
        ],
    );
    assert_fails_naming(
        "kyverno",
        suite_platform::policy_exceptions_present(&kube, &cfg).await,
        &["0 PolicyException(s) in carbon-e2e-broken, fewer than 1"],
    );
}

/// The failed-Jobs check once the Job controller has marked the broken Job Failed (its pod
/// fails at once, the controller reacts within seconds): the check's error, or a pass if the
/// Job never failed within the bound (which the caller reports as the check passing).
async fn failed_jobs_eventually(kube: &KubeClient, cfg: &PlatformConfig) -> anyhow::Result<String> {
    let waited = wait_until(
        "the broken Job to be marked Failed",
        Duration::from_secs(60),
        || async {
            Ok::<_, std::io::Error>(
                match suite_platform::failed_jobs_within_maximum(kube, cfg).await {
                    Err(e) => Check::Ready(e),
                    Ok(summary) => Check::Pending(summary),
                },
            )
        },
    )
    .await;
    match waited {
        Ok(e) => Err(e),
        Err(timeout) => Ok(timeout.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absent_crd_is_a_failure_naming_it() {
    let kube = client().await;
    let absent = CustomKind {
        group: "carbon-e2e.invalid",
        version: "v1",
        kind: "Nothing",
        plural: "nothings",
    };
    match kube.list_custom(absent, None).await {
        Err(e @ KubeError::MissingCrd { .. }) => {
            assert!(e.to_string().contains("nothings.carbon-e2e.invalid"), "{e}");
        }
        other => panic!("expected MissingCrd, got {other:?}"),
    }
}
