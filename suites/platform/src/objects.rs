//! Checks over workloads, volumes, jobs and the platform's custom resources.

use anyhow::{Result, bail, ensure};
use carbon_config::{CriticalWorkload, PlatformConfig};
use carbon_kube::k8s_openapi::api::apps::v1::{
    DaemonSet, Deployment, DeploymentCondition, StatefulSet,
};
use carbon_kube::k8s_openapi::api::batch::v1::{CronJob, Job};
use carbon_kube::k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim};
use carbon_kube::k8s_openapi::api::storage::v1::StorageClass;
use carbon_kube::kube::ResourceExt;
use carbon_kube::kube::api::{Api, DynamicObject, ListParams};
use carbon_kube::{ARGOCD_APPLICATION, KYVERNO_POLICY_EXCEPTION, KubeClient, api_err};

use crate::{Scope, key, none_of};

/// The measurement of [`argocd_applications_healthy`]: Applications counted as
/// `[platform] argocd_counts` says, of all Applications.
pub const MEASURE_ARGOCD: &str = "platform.argocd_ready";

/// The measurement of [`critical_workloads_available`]: critical workloads available with all
/// replicas ready, of all (a `[platform] critical_workloads` entry that matches nothing counts
/// as one not available).
pub const MEASURE_CRITICAL: &str = "platform.critical_available";

fn available(conds: Option<&Vec<DeploymentCondition>>) -> bool {
    conds
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Available" && c.status == "True")
}

/// One workload's state against "available with all replicas ready": `Err` describes why not.
/// Scaled to 0 is not available: desired 0 is not "all ready".
pub fn replicas_problem(want: i32, ready: i32, available: bool) -> Option<String> {
    if want == 0 {
        Some("scaled to 0 replicas".into())
    } else if ready < want || !available {
        Some(format!("{ready}/{want} ready, available {available}"))
    } else {
        None
    }
}

/// Each critical workload exists, is available, and has all replicas ready.
///
/// # Errors
/// Naming each workload that is missing (with its namespace and selector), scaled to 0, or
/// short of ready replicas; an empty list of critical workloads.
pub async fn critical_workloads_available(
    kube: &KubeClient,
    cfg: &PlatformConfig,
) -> Result<String> {
    ensure!(
        !cfg.critical_workloads.is_empty(),
        "`[platform] critical_workloads` is empty: nothing would be checked"
    );
    let namespaces: Vec<String> = Api::<Namespace>::all(kube.client())
        .list(&ListParams::default())
        .await
        .map_err(api_err("list namespaces"))?
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let mut bad = Vec::new();
    let mut good = Vec::new();
    for CriticalWorkload {
        namespace,
        selector,
    } in &cfg.critical_workloads
    {
        if !namespaces.contains(namespace) {
            bad.push(format!(
                "{selector}: namespace `{namespace}` does not exist (check `[platform] critical_workloads`)"
            ));
            continue;
        }
        let lp = ListParams::default().labels(selector);
        let deps: Api<Deployment> = Api::namespaced(kube.client(), namespace);
        let sets: Api<StatefulSet> = Api::namespaced(kube.client(), namespace);
        let deps = deps.list(&lp).await.map_err(api_err(format!(
            "list deployments {selector} in namespace {namespace}"
        )))?;
        let sets = sets.list(&lp).await.map_err(api_err(format!(
            "list statefulsets {selector} in namespace {namespace}"
        )))?;
        if deps.items.is_empty() && sets.items.is_empty() {
            bad.push(format!(
                "{namespace} {selector}: no Deployment or StatefulSet has this label"
            ));
            continue;
        }
        for d in &deps.items {
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let st = d.status.clone().unwrap_or_default();
            let ready = st.ready_replicas.unwrap_or(0);
            match replicas_problem(want, ready, available(st.conditions.as_ref())) {
                Some(p) => bad.push(format!("Deployment {} ({selector}): {p}", key(d))),
                None => good.push(format!("{} {ready}/{want}", key(d))),
            }
        }
        for s in &sets.items {
            let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let ready = s
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            match replicas_problem(want, ready, true) {
                Some(p) => bad.push(format!("StatefulSet {} ({selector}): {p}", key(s))),
                None => good.push(format!("{} {ready}/{want}", key(s))),
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    carbon_core::measure::emit(
        MEASURE_CRITICAL,
        good.len() as f64,
        Some((good.len() + bad.len()) as f64),
    );
    ensure!(
        bad.is_empty(),
        "{} critical workload(s) not available: {}",
        bad.len(),
        bad.join("; ")
    );
    Ok(format!(
        "{} critical workload(s) available with all replicas ready: {}",
        good.len(),
        good.join(", ")
    ))
}

/// Every DaemonSet in scope is scheduled on every node it should be and ready there. A
/// DaemonSet whose node selector matches no node (0 desired) is valid and passes, said so in
/// the evidence.
///
/// # Errors
/// Naming each DaemonSet with its scheduled/ready/desired counts; none in scope when
/// `[platform] required_kinds` lists DaemonSet.
pub async fn daemonsets_fully_ready(kube: &KubeClient, cfg: &PlatformConfig) -> Result<String> {
    let scope = Scope::resolve(kube, cfg).await?;
    let sets: Vec<DaemonSet> = scope.list(kube).await?;
    if sets.is_empty() {
        return none_of(cfg, &scope, "DaemonSet");
    }
    let mut bad = Vec::new();
    let mut good = Vec::new();
    for d in &sets {
        let s = d.status.clone().unwrap_or_default();
        let counts = format!(
            "{} scheduled, {} ready of {} desired",
            s.current_number_scheduled, s.number_ready, s.desired_number_scheduled
        );
        if s.current_number_scheduled < s.desired_number_scheduled
            || s.number_ready < s.desired_number_scheduled
        {
            bad.push(format!("{}: {counts}", key(d)));
        } else if s.desired_number_scheduled == 0 {
            good.push(format!(
                "{}: 0 desired (its node selector matches no node)",
                key(d)
            ));
        } else {
            good.push(format!("{}: {counts}", key(d)));
        }
    }
    ensure!(
        bad.is_empty(),
        "DaemonSets not fully ready: {}",
        bad.join("; ")
    );
    Ok(format!(
        "{} DaemonSet(s) fully ready: {}",
        sets.len(),
        good.join("; ")
    ))
}

/// Whether a Pending claim waits by design: its storage class binds on first consumer and no
/// pod in its namespace uses it yet.
fn waits_for_consumer(
    claim: &PersistentVolumeClaim,
    classes: &[StorageClass],
    scope: &Scope,
) -> bool {
    let class = claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .or_else(|| {
            classes
                .iter()
                .find(|c| {
                    c.annotations()
                        .get("storageclass.kubernetes.io/is-default-class")
                        .is_some_and(|v| v == "true")
                })
                .map(ResourceExt::name_any)
        });
    let binds_late = class.is_some_and(|name| {
        classes.iter().any(|c| {
            c.name_any() == name && c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer")
        })
    });
    let ns = claim.namespace().unwrap_or_default();
    let consumed = scope.pods.iter().any(|p| {
        p.namespace().as_deref() == Some(ns.as_str())
            && p.spec
                .iter()
                .flat_map(|s| s.volumes.iter().flatten())
                .any(|v| {
                    v.persistent_volume_claim
                        .as_ref()
                        .is_some_and(|c| c.claim_name == claim.name_any())
                })
    });
    binds_late && !consumed
}

/// Every PersistentVolumeClaim in scope is Bound, except a claim waiting by design for its
/// first consumer (WaitForFirstConsumer storage class, no pod uses it yet), which the
/// evidence names.
///
/// # Errors
/// Naming each claim with its phase and last event; none in scope when
/// `[platform] required_kinds` lists PersistentVolumeClaim.
pub async fn volumes_bound(kube: &KubeClient, cfg: &PlatformConfig) -> Result<String> {
    let scope = Scope::resolve(kube, cfg).await?;
    let claims: Vec<PersistentVolumeClaim> = scope.list(kube).await?;
    if claims.is_empty() {
        return none_of(cfg, &scope, "PersistentVolumeClaim");
    }
    let classes: Vec<StorageClass> = Api::all(kube.client())
        .list(&ListParams::default())
        .await
        .map_err(api_err("list storageclasses.storage.k8s.io"))?
        .items;
    let events = scope.last_events(kube).await?;
    let mut bad = Vec::new();
    let mut waiting = Vec::new();
    for c in &claims {
        let phase = c
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if phase == "Bound" {
            continue;
        }
        if phase == "Pending" && waits_for_consumer(c, &classes, &scope) {
            waiting.push(key(c));
            continue;
        }
        bad.push(format!(
            "{}: {phase}; last event: {}",
            key(c),
            events.get(&key(c)).map_or("none", String::as_str)
        ));
    }
    ensure!(
        bad.is_empty(),
        "PersistentVolumeClaims not Bound: {}",
        bad.join("; ")
    );
    Ok(format!(
        "{} of {} claim(s) Bound{}",
        claims.len() - waiting.len(),
        claims.len(),
        if waiting.is_empty() {
            String::new()
        } else {
            format!(
                "; waiting for their first consumer (WaitForFirstConsumer, no pod uses them yet): {}",
                waiting.join(", ")
            )
        }
    ))
}

/// Failed Jobs are at most the maximum; the evidence names every failed Job and the
/// suspended CronJobs.
///
/// # Errors
/// Naming each failed Job with its condition's reason and message.
pub async fn failed_jobs_within_maximum(kube: &KubeClient, cfg: &PlatformConfig) -> Result<String> {
    let scope = Scope::resolve(kube, cfg).await?;
    let jobs: Vec<Job> = scope.list(kube).await?;
    if jobs.is_empty() && crate::required(cfg, "Job") {
        return none_of(cfg, &scope, "Job");
    }
    let failed: Vec<String> = jobs
        .iter()
        .filter_map(|j| {
            let c = j
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| c.type_ == "Failed" && c.status == "True")
                })?;
            Some(format!(
                "{}: {}: {}",
                key(j),
                c.reason.as_deref().unwrap_or_default(),
                c.message.as_deref().unwrap_or_default()
            ))
        })
        .collect();
    if failed.len() > cfg.max_failed_jobs {
        bail!(
            "{} failed Job(s), at most {} allowed: {}",
            failed.len(),
            cfg.max_failed_jobs,
            failed.join("; ")
        );
    }
    let suspended: Vec<String> = scope
        .list::<CronJob>(kube)
        .await?
        .iter()
        .filter(|c| c.spec.as_ref().and_then(|s| s.suspend) == Some(true))
        .map(key)
        .collect();
    let or_none = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join("; ")
        }
    };
    Ok(format!(
        "{} failed Job(s) of {} in {} (at most {}): {}; suspended CronJobs: {}",
        failed.len(),
        jobs.len(),
        scope.describe(),
        cfg.max_failed_jobs,
        or_none(&failed),
        or_none(&suspended)
    ))
}

fn str_at<'a>(v: &'a DynamicObject, path: &[&str]) -> &'a str {
    let mut cur = &v.data;
    for p in path {
        cur = &cur[p];
    }
    cur.as_str().unwrap_or("")
}

/// An Application's sync and health status (`Unknown` when absent) and what ArgoCD says about
/// it: the health message, else the first condition's message, else the last operation's.
fn app_status(a: &DynamicObject) -> (&str, &str, String) {
    let sync = match str_at(a, &["status", "sync", "status"]) {
        "" => "Unknown",
        s => s,
    };
    let health = match str_at(a, &["status", "health", "status"]) {
        "" => "Unknown",
        h => h,
    };
    let condition = a.data["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find_map(|c| c["message"].as_str()))
        .unwrap_or_default();
    let message = [
        str_at(a, &["status", "health", "message"]),
        condition,
        str_at(a, &["status", "operationState", "message"]),
    ]
    .into_iter()
    .find(|m| !m.is_empty())
    .unwrap_or_default()
    .to_string();
    (sync, health, message)
}

/// ArgoCD Applications meeting `[platform] argocd_counts` (default Synced and Healthy) are at
/// least the minimum. The evidence gives the plan's numbers exactly (Synced n/N, Healthy n/N)
/// and lists every Application that is OutOfSync, Degraded, Missing, Unknown or otherwise not
/// both, with ArgoCD's message.
///
/// # Errors
/// Under the minimum or with no Application at all, listing every offender; a clear failure
/// naming the CRD when ArgoCD's Application CRD is absent.
pub async fn argocd_applications_healthy(
    kube: &KubeClient,
    cfg: &PlatformConfig,
) -> Result<String> {
    let apps = kube
        .list_custom(ARGOCD_APPLICATION, Some(&cfg.argocd_namespace))
        .await?;
    ensure!(
        !apps.is_empty(),
        "no ArgoCD Application in namespace {}: check `[platform] argocd_namespace`",
        cfg.argocd_namespace
    );
    let n = apps.len();
    let (mut synced, mut healthy, mut counted) = (0, 0, 0);
    let mut offenders = Vec::new();
    for a in &apps {
        let (sync, health, message) = app_status(a);
        synced += usize::from(sync == "Synced");
        healthy += usize::from(health == "Healthy");
        counted += usize::from(
            cfg.argocd_counts
                .counts(sync == "Synced", health == "Healthy"),
        );
        if sync != "Synced" || health != "Healthy" {
            offenders.push(format!(
                "{}: sync {sync}, health {health}{}",
                a.name_any(),
                if message.is_empty() {
                    String::new()
                } else {
                    format!(" ({message})")
                }
            ));
        }
    }
    #[allow(clippy::cast_precision_loss)]
    carbon_core::measure::emit(MEASURE_ARGOCD, counted as f64, Some(n as f64));
    let numbers = format!(
        "Synced {synced}/{n}, Healthy {healthy}/{n}; {} {counted}/{n} (at least {})",
        cfg.argocd_counts, cfg.min_argocd_healthy
    );
    let listed = if offenders.is_empty() {
        "none".to_string()
    } else {
        offenders.join("; ")
    };
    ensure!(
        counted >= cfg.min_argocd_healthy,
        "too few Applications in {}: {numbers}; not Synced and Healthy: {listed}",
        cfg.argocd_namespace
    );
    Ok(format!("{numbers}; not Synced and Healthy: {listed}"))
}

/// Kyverno PolicyExceptions are at least the minimum (read in the version the cluster's
/// Kyverno serves).
///
/// # Errors
/// With the count; a clear failure naming the CRD when it is absent.
pub async fn policy_exceptions_present(kube: &KubeClient, cfg: &PlatformConfig) -> Result<String> {
    let ns = (!cfg.kyverno_namespace.is_empty()).then_some(cfg.kyverno_namespace.as_str());
    let found = kube.list_custom(KYVERNO_POLICY_EXCEPTION, ns).await?;
    let names = found.iter().map(ResourceExt::name_any).collect::<Vec<_>>();
    ensure!(
        found.len() >= cfg.min_policy_exceptions && !found.is_empty(),
        "{} PolicyException(s) in {}, fewer than {}{}",
        found.len(),
        ns.unwrap_or("all namespaces"),
        cfg.min_policy_exceptions.max(1),
        if names.is_empty() {
            String::new()
        } else {
            format!(": {}", names.join(", "))
        }
    );
    Ok(format!(
        "{} PolicyException(s) (at least {}): {}",
        found.len(),
        cfg.min_policy_exceptions,
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::replicas_problem;

    #[rstest]
    #[case::all_ready(3, 3, true, None)]
    #[case::scaled_to_zero(0, 0, true, Some("scaled to 0 replicas"))]
    #[case::short(3, 2, true, Some("2/3 ready, available true"))]
    #[case::unavailable(1, 1, false, Some("1/1 ready, available false"))]
    fn a_critical_workload_is_ready_only_with_replicas(
        #[case] want: i32,
        #[case] ready: i32,
        #[case] available: bool,
        #[case] problem: Option<&str>,
    ) {
        assert_eq!(replicas_problem(want, ready, available).as_deref(), problem);
    }
}
