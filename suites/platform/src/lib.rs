//! The plan's platform health checks, each a function of a cluster client and the target's
//! `[platform]` thresholds that returns a summary or an error listing every offender.
//!
//! Offenders are named `namespace/name` with their reason (Pending with the scheduler's
//! message, CrashLoopBackOff, ImagePullBackOff, OOMKilled, ...), restarts and last event.

use std::collections::HashMap;

use anyhow::{Result, bail, ensure};
use carbon_config::{CriticalWorkload, PlatformConfig};
use carbon_kube::k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use carbon_kube::k8s_openapi::api::batch::v1::{CronJob, Job};
use carbon_kube::k8s_openapi::api::core::v1::{Event, Node, PersistentVolumeClaim, Pod};
use carbon_kube::kube::api::{Api, ListParams};
use carbon_kube::kube::{Resource, ResourceExt};
use carbon_kube::{ARGOCD_APPLICATION, KYVERNO_POLICY_EXCEPTION, KubeClient};

/// Waiting reasons that are not trouble: a container on its way up.
const STARTING: &[&str] = &["ContainerCreating", "PodInitializing"];

/// Whether a namespace is in the checks' scope.
fn in_scope(cfg: &PlatformConfig, ns: &str) -> bool {
    (cfg.namespaces.is_empty() || cfg.namespaces.iter().any(|n| n == ns))
        && !cfg.exclude_namespaces.iter().any(|n| n == ns)
}

fn scoped<K: Resource>(cfg: &PlatformConfig, items: Vec<K>) -> Vec<K> {
    items
        .into_iter()
        .filter(|o| in_scope(cfg, o.meta().namespace.as_deref().unwrap_or_default()))
        .collect()
}

fn key<K: Resource>(o: &K) -> String {
    format!(
        "{}/{}",
        o.meta().namespace.as_deref().unwrap_or_default(),
        o.meta().name.as_deref().unwrap_or_default()
    )
}

/// The latest event of each object (`namespace/name`): `reason: message`. A Warning wins over
/// any Normal event (a pod's `Scheduled` may carry a finer timestamp than the kubelet's
/// `BackOff` that follows it).
async fn last_events(kube: &KubeClient) -> Result<HashMap<String, String>> {
    let mut events: Vec<Event> = kube.list(None).await?;
    events.sort_by_key(|e| {
        let at = e
            .series
            .as_ref()
            .and_then(|s| s.last_observed_time.as_ref())
            .or(e.event_time.as_ref())
            .map(|t| t.0)
            .or_else(|| e.last_timestamp.as_ref().map(|t| t.0));
        (e.type_.as_deref() == Some("Warning"), at)
    });
    let mut out = HashMap::new();
    for e in events {
        let k = format!(
            "{}/{}",
            e.involved_object.namespace.as_deref().unwrap_or_default(),
            e.involved_object.name.as_deref().unwrap_or_default()
        );
        out.insert(
            k,
            format!(
                "{}: {}",
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default().trim()
            ),
        );
    }
    Ok(out)
}

/// Every node is Ready; there is at least one.
///
/// # Errors
/// Listing each node that is not Ready, with its condition's reason and message.
pub async fn nodes_ready(kube: &KubeClient) -> Result<String> {
    let api: Api<Node> = Api::all(kube.client());
    let nodes = api
        .list(&ListParams::default())
        .await
        .map_err(|e| anyhow::anyhow!("list nodes: {e}"))?
        .items;
    ensure!(!nodes.is_empty(), "the cluster has no nodes");
    let mut bad = Vec::new();
    for n in &nodes {
        let ready = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
        match ready {
            Some(c) if c.status == "True" => {}
            Some(c) => bad.push(format!(
                "{}: Ready={} ({}: {})",
                n.name_any(),
                c.status,
                c.reason.as_deref().unwrap_or_default(),
                c.message.as_deref().unwrap_or_default()
            )),
            None => bad.push(format!("{}: no Ready condition", n.name_any())),
        }
    }
    ensure!(
        bad.is_empty(),
        "{} of {} node(s) not Ready: {}",
        bad.len(),
        nodes.len(),
        bad.join("; ")
    );
    Ok(format!("{} node(s) Ready", nodes.len()))
}

/// One pod's health: `None` when healthy (Running and not in a back-off, or Succeeded).
pub fn pod_problem(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let phase = status.phase.as_deref().unwrap_or("Unknown");
    let containers = status.container_statuses.iter().flatten();
    for c in containers.clone() {
        if let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.as_deref().unwrap_or("Waiting");
            if !STARTING.contains(&reason) {
                return Some(format!(
                    "{reason} (container {}: {})",
                    c.name,
                    w.message.as_deref().unwrap_or_default()
                ));
            }
        }
        let oom = c
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"));
        if oom && !c.ready {
            return Some(format!("OOMKilled (container {})", c.name));
        }
    }
    match phase {
        "Running" | "Succeeded" => None,
        "Pending" => {
            let unscheduled = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False");
            Some(match unscheduled {
                Some(c) => format!(
                    "Pending: {}: {}",
                    c.reason.as_deref().unwrap_or_default(),
                    c.message.as_deref().unwrap_or_default()
                ),
                None => "Pending".to_string(),
            })
        }
        other => Some(format!(
            "{other}{}",
            status
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )),
    }
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| cs.iter().map(|c| c.restart_count).sum())
}

/// The pods in scope and the offenders among them, each described in full.
pub async fn pod_offenders(
    kube: &KubeClient,
    cfg: &PlatformConfig,
) -> Result<(usize, usize, Vec<String>)> {
    let pods = scoped(cfg, kube.list::<Pod>(None).await?);
    let events = last_events(kube).await?;
    let succeeded = pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded"))
        .count();
    let mut offenders = Vec::new();
    for p in &pods {
        if let Some(problem) = pod_problem(p) {
            let k = key(p);
            offenders.push(format!(
                "{k}: {problem}; restarts {}; last event: {}",
                restarts(p),
                events.get(&k).map_or("none", String::as_str)
            ));
        }
    }
    offenders.sort();
    Ok((pods.len(), succeeded, offenders))
}

/// Pods neither Running nor Succeeded (or in a back-off) are fewer than the maximum.
///
/// # Errors
/// Listing every offender.
pub async fn unhealthy_pods_below_maximum(
    kube: &KubeClient,
    cfg: &PlatformConfig,
) -> Result<String> {
    let (total, _, offenders) = pod_offenders(kube, cfg).await?;
    ensure!(
        offenders.len() < cfg.max_unhealthy_pods,
        "{} of {total} pods are unhealthy, the maximum is fewer than {}:\n  {}",
        offenders.len(),
        cfg.max_unhealthy_pods,
        offenders.join("\n  ")
    );
    Ok(format!(
        "{} of {total} pods unhealthy (fewer than {} allowed)",
        offenders.len(),
        cfg.max_unhealthy_pods
    ))
}

/// Healthy running pods over all non-completed pods meet the minimum share.
///
/// # Errors
/// With the share and every offender.
pub async fn running_share_meets_minimum(
    kube: &KubeClient,
    cfg: &PlatformConfig,
) -> Result<String> {
    let (total, succeeded, offenders) = pod_offenders(kube, cfg).await?;
    let live = total - succeeded;
    ensure!(
        live > 0,
        "no pods in scope (namespaces {:?})",
        cfg.namespaces
    );
    #[allow(clippy::cast_precision_loss)]
    let share = (live - offenders.len()) as f64 * 100.0 / live as f64;
    ensure!(
        share >= cfg.min_running_percent,
        "{share:.1} % of {live} pods are running and healthy, below the minimum {} %; offenders:\n  {}",
        cfg.min_running_percent,
        offenders.join("\n  ")
    );
    Ok(format!("{share:.1} % of {live} pods running and healthy"))
}

fn available(
    conds: Option<&Vec<carbon_kube::k8s_openapi::api::apps::v1::DeploymentCondition>>,
) -> bool {
    conds
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Available" && c.status == "True")
}

/// Each critical workload exists, is available, and has all replicas ready.
///
/// # Errors
/// Naming each workload that is missing or short of ready replicas.
pub async fn critical_workloads_available(
    kube: &KubeClient,
    cfg: &PlatformConfig,
) -> Result<String> {
    let mut bad = Vec::new();
    let mut good = Vec::new();
    for CriticalWorkload {
        namespace,
        selector,
    } in &cfg.critical_workloads
    {
        let lp = ListParams::default().labels(selector);
        let deps: Api<Deployment> = Api::namespaced(kube.client(), namespace);
        let sets: Api<StatefulSet> = Api::namespaced(kube.client(), namespace);
        let deps = deps
            .list(&lp)
            .await
            .map_err(|e| anyhow::anyhow!("list deployments {selector} in {namespace}: {e}"))?;
        let sets = sets
            .list(&lp)
            .await
            .map_err(|e| anyhow::anyhow!("list statefulsets {selector} in {namespace}: {e}"))?;
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
            if ready < want || !available(st.conditions.as_ref()) {
                bad.push(format!(
                    "Deployment {} ({selector}): {ready}/{want} ready, available {}",
                    key(d),
                    available(st.conditions.as_ref())
                ));
            } else {
                good.push(key(d));
            }
        }
        for s in &sets.items {
            let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let ready = s
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            if ready < want {
                bad.push(format!(
                    "StatefulSet {} ({selector}): {ready}/{want} ready",
                    key(s)
                ));
            } else {
                good.push(key(s));
            }
        }
    }
    ensure!(
        bad.is_empty(),
        "critical workloads not available: {}",
        bad.join("; ")
    );
    Ok(format!(
        "available with all replicas ready: {}",
        good.join(", ")
    ))
}

/// Every DaemonSet in scope is scheduled on every node it should be and ready there.
///
/// # Errors
/// Naming each DaemonSet with its scheduled/ready/desired counts.
pub async fn daemonsets_fully_ready(kube: &KubeClient, cfg: &PlatformConfig) -> Result<String> {
    let sets = scoped(cfg, kube.list::<DaemonSet>(None).await?);
    let mut bad = Vec::new();
    for d in &sets {
        let s = d.status.clone().unwrap_or_default();
        if s.current_number_scheduled < s.desired_number_scheduled
            || s.number_ready < s.desired_number_scheduled
            || s.desired_number_scheduled == 0
        {
            bad.push(format!(
                "{}: {} scheduled, {} ready of {} desired",
                key(d),
                s.current_number_scheduled,
                s.number_ready,
                s.desired_number_scheduled
            ));
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
        sets.iter().map(key).collect::<Vec<_>>().join(", ")
    ))
}

/// Every PersistentVolumeClaim in scope is Bound.
///
/// # Errors
/// Naming each claim with its phase and last event.
pub async fn volumes_bound(kube: &KubeClient, cfg: &PlatformConfig) -> Result<String> {
    let claims = scoped(cfg, kube.list::<PersistentVolumeClaim>(None).await?);
    let events = last_events(kube).await?;
    let bad: Vec<String> = claims
        .iter()
        .filter_map(|c| {
            let phase = c
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            (phase != "Bound").then(|| {
                format!(
                    "{}: {phase}; last event: {}",
                    key(c),
                    events.get(&key(c)).map_or("none", String::as_str)
                )
            })
        })
        .collect();
    ensure!(
        bad.is_empty(),
        "PersistentVolumeClaims not Bound: {}",
        bad.join("; ")
    );
    Ok(format!("{} claim(s) Bound", claims.len()))
}

/// Failed Jobs are at most the maximum; suspended CronJobs are listed in the summary.
///
/// # Errors
/// Naming each failed Job with its condition's reason and message.
pub async fn failed_jobs_within_maximum(kube: &KubeClient, cfg: &PlatformConfig) -> Result<String> {
    let jobs = scoped(cfg, kube.list::<Job>(None).await?);
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
    let suspended: Vec<String> = scoped(cfg, kube.list::<CronJob>(None).await?)
        .iter()
        .filter(|c| c.spec.as_ref().and_then(|s| s.suspend) == Some(true))
        .map(key)
        .collect();
    Ok(format!(
        "{} failed Job(s) of {} (at most {}); suspended CronJobs: {}",
        failed.len(),
        jobs.len(),
        cfg.max_failed_jobs,
        if suspended.is_empty() {
            "none".into()
        } else {
            suspended.join(", ")
        }
    ))
}

fn str_at<'a>(v: &'a carbon_kube::kube::api::DynamicObject, path: &[&str]) -> &'a str {
    let mut cur = &v.data;
    for p in path {
        cur = &cur[p];
    }
    cur.as_str().unwrap_or("")
}

/// ArgoCD Applications Synced and Healthy are at least the minimum.
///
/// # Errors
/// With the count and each offender's sync and health status and message; a clear failure
/// naming the CRD when ArgoCD's Application CRD is absent.
pub async fn argocd_applications_healthy(
    kube: &KubeClient,
    cfg: &PlatformConfig,
) -> Result<String> {
    let apps = kube
        .list_custom(ARGOCD_APPLICATION, Some(&cfg.argocd_namespace))
        .await?;
    let mut offenders = Vec::new();
    for a in &apps {
        let sync = str_at(a, &["status", "sync", "status"]);
        let health = str_at(a, &["status", "health", "status"]);
        if sync != "Synced" || health != "Healthy" {
            offenders.push(format!(
                "{}: sync {}, health {}{}",
                a.name_any(),
                if sync.is_empty() { "unknown" } else { sync },
                if health.is_empty() { "unknown" } else { health },
                match str_at(a, &["status", "health", "message"]) {
                    "" => String::new(),
                    m => format!(" ({m})"),
                }
            ));
        }
    }
    let ok = apps.len() - offenders.len();
    ensure!(
        ok >= cfg.min_argocd_healthy,
        "{ok} of {} Applications in {} are Synced and Healthy, fewer than {}; offenders: {}",
        apps.len(),
        cfg.argocd_namespace,
        cfg.min_argocd_healthy,
        offenders.join("; ")
    );
    Ok(format!(
        "{ok} of {} Applications Synced and Healthy (at least {}){}",
        apps.len(),
        cfg.min_argocd_healthy,
        if offenders.is_empty() {
            String::new()
        } else {
            format!("; not: {}", offenders.join("; "))
        }
    ))
}

/// Kyverno PolicyExceptions are at least the minimum.
///
/// # Errors
/// With the count; a clear failure naming the CRD when it is absent.
pub async fn policy_exceptions_present(kube: &KubeClient, cfg: &PlatformConfig) -> Result<String> {
    let ns = (!cfg.kyverno_namespace.is_empty()).then_some(cfg.kyverno_namespace.as_str());
    let found = kube.list_custom(KYVERNO_POLICY_EXCEPTION, ns).await?;
    ensure!(
        found.len() >= cfg.min_policy_exceptions,
        "{} PolicyException(s) in {}, fewer than {}",
        found.len(),
        ns.unwrap_or("all namespaces"),
        cfg.min_policy_exceptions
    );
    Ok(format!(
        "{} PolicyException(s) (at least {})",
        found.len(),
        cfg.min_policy_exceptions
    ))
}
