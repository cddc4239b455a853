//! Mutation self test of the `platform` checks. Pointed at the local cluster's namespace of
//! broken things (kind-config/broken), each check must fail and name the right offender, and
//! must not name the look-alikes that are valid (a DaemonSet selecting no node, a claim
//! waiting for its first consumer). Pointed at a mistyped or an empty scope, every scoped
//! check must fail naming `[platform] namespaces`. A check that cannot fail would pass here,
//! and this test would fail.
//!
//! Needs the target's `[kubernetes]` (the local stack's control plane: `carbon-e2e stack up`);
//! without it the test fails saying so, it never passes unchecked.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use carbon_config::{ArgoCounts, CriticalWorkload, PlatformConfig};
use carbon_core::wait::{Check, wait_until};
use carbon_kube::{CustomKind, KubeClient, KubeError};

const BROKEN: &str = "carbon-e2e-broken";

fn scope_of(namespace: &str) -> PlatformConfig {
    PlatformConfig {
        namespaces: vec![namespace.into()],
        cluster_wide: false,
        exclude_namespaces: Vec::new(),
        node_selector: Some("carbon-e2e.io/pool=broken".into()),
        required_kinds: vec!["DaemonSet".into(), "PersistentVolumeClaim".into()],
        max_unhealthy_pods: 1,
        min_running_percent: 100.0,
        critical_workloads: vec![
            CriticalWorkload {
                namespace: namespace.into(),
                selector: "app=crashloop".into(),
            },
            CriticalWorkload {
                namespace: namespace.into(),
                selector: "app=scaled-down".into(),
            },
            CriticalWorkload {
                namespace: namespace.into(),
                selector: "app=no-such-workload".into(),
            },
        ],
        max_failed_jobs: 0,
        argocd_namespace: namespace.into(),
        min_argocd_healthy: 1,
        argocd_counts: ArgoCounts::SyncedAndHealthy,
        kyverno_namespace: namespace.into(),
        min_policy_exceptions: 1,
    }
}

async fn client() -> KubeClient {
    let target = carbon_config::load().expect("loading the target");
    KubeClient::from_target(&target).await.expect(
        "the target needs [kubernetes] pointing at the local control plane (carbon-e2e stack up)",
    )
}

type Outcome<'a> = Pin<Box<dyn Future<Output = anyhow::Result<String>> + 'a>>;
type CheckFn = for<'a> fn(&'a KubeClient, &'a PlatformConfig) -> Outcome<'a>;

/// The scoped checks, by name (they resolve `[platform] namespaces` first).
fn scoped_checks() -> Vec<(&'static str, CheckFn)> {
    vec![
        ("unhealthy pods", |k, c| {
            Box::pin(suite_platform::unhealthy_pods_below_maximum(k, c))
        }),
        ("running share", |k, c| {
            Box::pin(suite_platform::running_share_meets_minimum(k, c))
        }),
        ("daemonsets", |k, c| {
            Box::pin(suite_platform::daemonsets_fully_ready(k, c))
        }),
        ("volumes", |k, c| {
            Box::pin(suite_platform::volumes_bound(k, c))
        }),
        ("failed jobs", |k, c| {
            Box::pin(suite_platform::failed_jobs_within_maximum(k, c))
        }),
    ]
}

/// The check's error, which must exist and mention every `needle`.
fn assert_fails_naming(what: &str, outcome: anyhow::Result<String>, needles: &[&str]) {
    let err = match outcome {
        Ok(summary) => panic!("{what} passed where it must fail: {summary}"),
        Err(e) => format!("{e:#}"),
    };
    for n in needles {
        assert!(
            err.contains(n),
            "{what}: the failure does not name `{n}`:\n{err}"
        );
    }
    eprintln!(
        "{what}: fails as it must: {}",
        err.lines().next().unwrap_or("")
    );
}

/// Waits (bounded) until the broken namespace shows every broken pod state: `stack up` applies
/// the objects, and the real node's kubelet and the controllers need a moment (the first
/// restart of a crashing container comes 10 s after its first exit).
async fn broken_state(kube: &KubeClient, cfg: &PlatformConfig) {
    wait_until(
        "the broken namespace to reach its broken state",
        Duration::from_secs(60),
        || async {
            let (_, _, offenders) = suite_platform::pod_offenders(kube, cfg)
                .await
                .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
            let has = |s: &str| offenders.iter().any(|o| o.contains(s));
            let pending = offenders
                .iter()
                .filter(|o| o.contains("Unschedulable"))
                .count();
            Ok::<_, std::io::Error>(
                if has("CrashLoopBackOff")
                    && has("last event: BackOff")
                    && has("ImagePull")
                    && has("OOMKilled")
                    && has("Running, not Ready")
                    && pending >= 2
                {
                    Check::Ready(())
                } else {
                    Check::Pending(format!("{offenders:?}"))
                },
            )
        },
    )
    .await
    .expect("broken state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_fails_on_the_broken_namespace_naming_its_offender() {
    let kube = client().await;
    let cfg = scope_of(BROKEN);
    broken_state(&kube, &cfg).await;
    let mut shown = 0;
    let mut show = |what, outcome, needles: &[&str]| {
        assert_fails_naming(what, outcome, needles);
        shown += 1;
    };
    show(
        "unhealthy pods",
        suite_platform::unhealthy_pods_below_maximum(&kube, &cfg).await,
        &[
            "carbon-e2e-broken/pending-",
            "Pending: Unschedulable",
            "carbon-e2e-broken/crashloop-",
            "CrashLoopBackOff",
            "last ended: Error (exit code 1)",
            "last event: BackOff",
            "carbon-e2e-broken/broken-agent-",
            "carbon-e2e-broken/notready-",
            "Running, not Ready (ContainersNotReady",
            "carbon-e2e-broken/imagepull-",
            // ErrImagePull at each attempt, ImagePullBackOff between: both the kubelet's.
            "ImagePull",
            "carbon-e2e-broken/oomkilled-",
            "OOMKilled",
        ],
    );
    show(
        "running share",
        suite_platform::running_share_meets_minimum(&kube, &cfg).await,
        &[
            "below the minimum 100",
            "carbon-e2e-broken/crashloop-",
            "carbon-e2e-broken/notready-",
        ],
    );
    show(
        "critical workloads",
        suite_platform::critical_workloads_available(&kube, &cfg).await,
        &[
            "Deployment carbon-e2e-broken/crashloop",
            "0/1 ready",
            "Deployment carbon-e2e-broken/scaled-down (app=scaled-down): scaled to 0 replicas",
            "carbon-e2e-broken app=no-such-workload: no Deployment or StatefulSet has this label",
        ],
    );
    show(
        "daemonsets",
        suite_platform::daemonsets_fully_ready(&kube, &cfg).await,
        &["carbon-e2e-broken/broken-agent", "0 ready of 1 desired"],
    );
    show(
        "volumes",
        suite_platform::volumes_bound(&kube, &cfg).await,
        &["carbon-e2e-broken/missing-volume: Pending"],
    );
    show(
        "failed jobs",
        failed_jobs_eventually(&kube, &cfg).await,
        &[
            "1 failed Job(s), at most 0 allowed",
            "carbon-e2e-broken/failing-import: BackoffLimitExceeded",
        ],
    );
    show(
        "argocd",
        suite_platform::argocd_applications_healthy(&kube, &cfg).await,
        &[
            "Synced 0/1, Healthy 0/1",
            "broken-app: sync OutOfSync, health Degraded (Deployment crashloop",
        ],
    );
    show(
        "kyverno",
        suite_platform::policy_exceptions_present(&kube, &cfg).await,
        &["0 PolicyException(s) in carbon-e2e-broken, fewer than 1"],
    );
    eprintln!(
        "{shown} platform checks shown failing on their case here; the nodes check in \
         the_nodes_check_reports_each_node_and_names_one_in_trouble; the API version, \
         permissions and Velero checks in crates/cli/tests/mutation.rs"
    );
}

/// The valid look-alikes pass: a DaemonSet selecting no node and a claim waiting for its
/// first consumer are named in the evidence, not as offenders (a real cluster has both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_look_alikes_pass_and_are_named_in_the_evidence() {
    let kube = client().await;
    let cfg = scope_of("carbon-e2e-lookalikes");
    let pods = wait_until(
        "the look-alikes' healthy pod to be Ready",
        Duration::from_secs(60),
        || async {
            Ok::<_, std::io::Error>(
                match suite_platform::unhealthy_pods_below_maximum(&kube, &cfg).await {
                    Ok(evidence) => Check::Ready(evidence),
                    Err(e) => Check::Pending(format!("{e:#}")),
                },
            )
        },
    )
    .await
    .expect("a healthy scope");
    assert!(pods.contains("0 of 1 pods"), "{pods}");
    let daemonsets = suite_platform::daemonsets_fully_ready(&kube, &cfg)
        .await
        .expect("a DaemonSet with 0 desired pods is valid");
    assert!(
        daemonsets.contains("carbon-e2e-lookalikes/idle-agent: 0 desired"),
        "{daemonsets}"
    );
    let volumes = suite_platform::volumes_bound(&kube, &cfg)
        .await
        .expect("a WaitForFirstConsumer claim with no consumer is valid");
    assert!(
        volumes.contains("waiting for their first consumer")
            && volumes.contains("carbon-e2e-lookalikes/waiting-volume"),
        "{volumes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_scope_fails_every_scoped_check_naming_the_setting() {
    let kube = client().await;
    let cfg = scope_of("data-platfrom");
    for (what, check) in scoped_checks() {
        assert_fails_naming(
            what,
            check(&kube, &cfg).await,
            &[
                "namespace `data-platfrom` does not exist",
                "check `[platform] namespaces`",
            ],
        );
    }
    assert_fails_naming(
        "critical workloads",
        suite_platform::critical_workloads_available(&kube, &cfg).await,
        &["namespace `data-platfrom` does not exist"],
    );
    assert_fails_naming(
        "argocd",
        suite_platform::argocd_applications_healthy(&kube, &cfg).await,
        &["no ArgoCD Application in namespace data-platfrom"],
    );
    assert_fails_naming(
        "kyverno",
        suite_platform::policy_exceptions_present(&kube, &cfg).await,
        &["0 PolicyException(s) in data-platfrom"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_without_pods_fails_every_scoped_check() {
    let kube = client().await;
    let cfg = scope_of("carbon-e2e-empty");
    for (what, check) in scoped_checks() {
        assert_fails_naming(
            what,
            check(&kube, &cfg).await,
            &["holds no pods at all", "check `[platform] namespaces`"],
        );
    }
    let empty = PlatformConfig {
        namespaces: Vec::new(),
        ..scope_of(BROKEN)
    };
    assert_fails_naming(
        "an empty namespace list",
        suite_platform::unhealthy_pods_below_maximum(&kube, &empty).await,
        &["`[platform] namespaces` is empty"],
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

/// The nodes check on the local mixed cluster. The platform's pool (kwok's simulated node and
/// the real node, a kubelet with containerd) passes, each node reported with what it is. The
/// broken pool's node, which no kubelet ever reports for, fails it, named; a selector that
/// matches no node fails naming the key. Pressure has no real case here (it would take filling
/// the machine's disk or memory): it is shown on the platform's nodes as read, with a
/// condition set as a kubelet reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_check_reports_each_node_and_names_one_in_trouble() {
    use carbon_kube::k8s_openapi::api::core::v1::{Node, NodeCondition};
    use carbon_kube::kube::api::{Api, ListParams};
    let kube = client().await;
    let pool = |selector: &str| PlatformConfig {
        node_selector: Some(selector.into()),
        ..scope_of(BROKEN)
    };
    let evidence = suite_platform::nodes_ready(&kube, &pool("carbon-e2e.io/pool=platform"))
        .await
        .expect("the platform's nodes are Ready");
    for needle in [
        "2 node(s) Ready",
        "carbon-kwok-0 (",
        "simulated by kwok",
        "carbon-node-0 (kubelet v1.34.4, containerd://",
        "taint carbon-e2e.io/real-node:NoSchedule",
        "nodes matching `carbon-e2e.io/pool=platform` (`[platform] node_selector`): ",
    ] {
        assert!(
            evidence.contains(needle),
            "`{needle}` missing from: {evidence}"
        );
    }
    assert_fails_naming(
        "nodes",
        suite_platform::nodes_ready(&kube, &scope_of(BROKEN)).await,
        &[
            "nodes matching `carbon-e2e.io/pool=broken`",
            "1 of 1 node(s) not Ready or under pressure",
            // No Ready condition at first, then the node lifecycle controller's Ready=Unknown.
            "carbon-e2e-broken-node: ",
            "carbon-e2e-broken-node (no kubelet has reported, taint carbon-e2e.io/broken-node:NoSchedule",
        ],
    );
    assert_fails_naming(
        "nodes, a selector matching none",
        suite_platform::nodes_ready(&kube, &pool("carbon-e2e.io/pool=platfrom")).await,
        &[
            "no node matches `carbon-e2e.io/pool=platfrom`",
            "check `[platform] node_selector`",
        ],
    );
    let mut pressed = Api::<Node>::all(kube.client())
        .list(&ListParams::default().labels("carbon-e2e.io/pool=platform"))
        .await
        .expect("listing nodes")
        .items;
    for n in &mut pressed {
        n.status
            .get_or_insert_with(Default::default)
            .conditions
            .get_or_insert_with(Vec::new)
            .push(NodeCondition {
                type_: "DiskPressure".into(),
                status: "True".into(),
                message: Some("kubelet has disk pressure".into()),
                ..Default::default()
            });
    }
    assert_fails_naming(
        "nodes under pressure",
        suite_platform::nodes_verdict(&pressed),
        &[
            "2 of 2 node(s) not Ready or under pressure",
            "carbon-node-0: DiskPressure (kubelet has disk pressure)",
            "carbon-kwok-0: DiskPressure (kubelet has disk pressure)",
        ],
    );
}
