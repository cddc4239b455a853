//! Pod health: what counts as healthy, the offenders in scope, and the two pod checks.

use anyhow::{Result, ensure};
use carbon_config::PlatformConfig;
use carbon_kube::KubeClient;
use carbon_kube::k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use crate::{Scope, key};

/// Waiting reasons that are not trouble: a container on its way up.
const STARTING: &[&str] = &["ContainerCreating", "PodInitializing"];

/// A container's trouble, if any: waiting for a reason other than starting (with how it last
/// ended, which a kubelet keeps in `lastState`: `OOMKilled`, `Error` and the exit code), or not
/// ready after being OOMKilled.
fn container_problem(c: &ContainerStatus, init: bool) -> Option<String> {
    let which = if init { "init container" } else { "container" };
    let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    if let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
        let reason = w.reason.as_deref().unwrap_or("Waiting");
        if !STARTING.contains(&reason) {
            let message = w.message.as_deref().unwrap_or_default();
            let ended = last
                .map(|t| {
                    format!(
                        "; last ended: {} (exit code {})",
                        t.reason.as_deref().unwrap_or("terminated"),
                        t.exit_code
                    )
                })
                .unwrap_or_default();
            return Some(if message.is_empty() {
                format!("{reason} ({which} {}{ended})", c.name)
            } else {
                format!("{reason} ({which} {}: {message}{ended})", c.name)
            });
        }
    }
    let oom = last.is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"));
    (oom && !c.ready).then(|| format!("OOMKilled ({which} {})", c.name))
}

/// One pod's health: `None` when healthy, that is phase Succeeded, or phase Running with its
/// Ready condition true and no container in trouble. Anything else is described: a container
/// waiting in an error reason (CrashLoopBackOff, ImagePullBackOff, ErrImagePull,
/// CreateContainerConfigError, ...), OOMKilled, Running but not Ready, Pending (with the
/// scheduler's message), Failed or Unknown (with the reason), or no status at all.
pub fn pod_problem(pod: &Pod) -> Option<String> {
    let Some(status) = pod.status.as_ref() else {
        return Some("no status reported (not yet seen by the scheduler)".into());
    };
    let phase = status.phase.as_deref().unwrap_or_default();
    if phase == "Succeeded" {
        return None;
    }
    let init = status.init_container_statuses.iter().flatten();
    let main = status.container_statuses.iter().flatten();
    if let Some(p) = init
        .map(|c| container_problem(c, true))
        .chain(main.map(|c| container_problem(c, false)))
        .flatten()
        .next()
    {
        return Some(p);
    }
    let condition = |t: &str| status.conditions.iter().flatten().find(|c| c.type_ == t);
    match phase {
        "Running" => match condition("Ready") {
            Some(c) if c.status == "True" => None,
            Some(c) => Some(format!(
                "Running, not Ready ({}{})",
                c.reason.as_deref().unwrap_or("Ready=False"),
                c.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )),
            None => Some("Running, no Ready condition reported".into()),
        },
        "Pending" => Some(
            match condition("PodScheduled").filter(|c| c.status == "False") {
                Some(c) => format!(
                    "Pending: {}: {}",
                    c.reason.as_deref().unwrap_or_default(),
                    c.message.as_deref().unwrap_or_default()
                ),
                None => "Pending".to_string(),
            },
        ),
        "" => Some("no phase reported".into()),
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

/// The pods in scope, how many Succeeded, and the offenders among them, each described in
/// full (reason, restarts, last event).
///
/// # Errors
/// An unsound scope ([`Scope::resolve`]) or the API's error.
pub async fn pod_offenders(
    kube: &KubeClient,
    cfg: &PlatformConfig,
) -> Result<(Scope, usize, Vec<String>)> {
    let scope = Scope::resolve(kube, cfg).await?;
    let events = scope.last_events(kube).await?;
    let succeeded = scope
        .pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded"))
        .count();
    let mut offenders = Vec::new();
    for p in &scope.pods {
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
    Ok((scope, succeeded, offenders))
}

/// The measurement of [`running_share_meets_minimum`]: healthy pods of the pods in scope that
/// have not completed (the share `[platform] min_running_percent` is compared with).
pub const MEASURE_HEALTHY: &str = "platform.pods_healthy";

/// The measurement of [`running_share_meets_minimum`]: pods in scope in phase Running (a count,
/// the plan's "Running Pods").
pub const MEASURE_RUNNING: &str = "platform.pods_running";

/// The offenders as evidence lines (or "none").
fn listed(offenders: &[String]) -> String {
    if offenders.is_empty() {
        "none".into()
    } else {
        format!("\n  {}", offenders.join("\n  "))
    }
}

/// Unhealthy pods are fewer than the maximum; the evidence names every one of them.
///
/// # Errors
/// Listing every offender.
pub async fn unhealthy_pods_below_maximum(
    kube: &KubeClient,
    cfg: &PlatformConfig,
) -> Result<String> {
    let (scope, _, offenders) = pod_offenders(kube, cfg).await?;
    let total = scope.pods.len();
    ensure!(
        offenders.len() < cfg.max_unhealthy_pods,
        "{} of {total} pods in {} are unhealthy, the maximum is fewer than {}:{}",
        offenders.len(),
        scope.describe(),
        cfg.max_unhealthy_pods,
        listed(&offenders)
    );
    Ok(format!(
        "{} of {total} pods in {} unhealthy (fewer than {} allowed); unhealthy: {}",
        offenders.len(),
        scope.describe(),
        cfg.max_unhealthy_pods,
        listed(&offenders)
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
    let (scope, succeeded, offenders) = pod_offenders(kube, cfg).await?;
    let live = scope.pods.len() - succeeded;
    let running = scope
        .pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .count();
    #[allow(clippy::cast_precision_loss)]
    {
        carbon_core::measure::emit(MEASURE_RUNNING, running as f64, None);
        carbon_core::measure::emit(
            MEASURE_HEALTHY,
            (live - offenders.len()) as f64,
            Some(live as f64),
        );
    }
    ensure!(
        live > 0,
        "every pod in {} has completed: no running pod to measure",
        scope.describe()
    );
    #[allow(clippy::cast_precision_loss)]
    let share = (live - offenders.len()) as f64 * 100.0 / live as f64;
    ensure!(
        share >= cfg.min_running_percent,
        "{share:.1} % of {live} pods in {} are running and healthy, below the minimum {} %; offenders:{}",
        scope.describe(),
        cfg.min_running_percent,
        listed(&offenders)
    );
    Ok(format!(
        "{share:.1} % of {live} pods in {} running and healthy (at least {} %); not: {}",
        scope.describe(),
        cfg.min_running_percent,
        listed(&offenders)
    ))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "data-platform"},
            "status": status,
        }))
        .expect("a pod")
    }

    fn ready(s: &str) -> serde_json::Value {
        json!([{"type": "Ready", "status": s, "reason": "ContainersNotReady",
                "message": "containers with unready status: [app]"}])
    }

    #[rstest]
    #[case::running_and_ready(json!({"phase": "Running", "conditions": ready("True")}), None)]
    #[case::succeeded(json!({"phase": "Succeeded"}), None)]
    #[case::running_not_ready(
        json!({"phase": "Running", "conditions": ready("False")}),
        Some("Running, not Ready (ContainersNotReady: containers with unready status: [app])")
    )]
    #[case::running_without_ready_condition(
        json!({"phase": "Running"}),
        Some("Running, no Ready condition reported")
    )]
    #[case::crash_loop(
        json!({"phase": "Running", "conditions": ready("False"), "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 7,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}}]}),
        Some("CrashLoopBackOff (container app: back-off 5m0s)")
    )]
    #[case::crash_loop_after_oom(
        json!({"phase": "Running", "conditions": ready("False"), "containerStatuses": [{
            "name": "hog", "image": "i", "imageID": "", "ready": false, "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}),
        Some("CrashLoopBackOff (container hog: back-off 20s; last ended: OOMKilled (exit code 137))")
    )]
    #[case::image_pull(
        json!({"phase": "Pending", "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
        Some("ImagePullBackOff (container app)")
    )]
    #[case::config_error_in_init(
        json!({"phase": "Pending", "initContainerStatuses": [{
            "name": "init", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "CreateContainerConfigError",
                                  "message": "secret \"x\" not found"}}}]}),
        Some("CreateContainerConfigError (init container init: secret \"x\" not found)")
    )]
    #[case::oom_killed_not_ready(
        json!({"phase": "Running", "conditions": ready("False"), "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 1,
            "state": {"running": {}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}),
        Some("OOMKilled (container app)")
    )]
    #[case::starting_is_pending(
        json!({"phase": "Pending", "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        Some("Pending")
    )]
    #[case::failed(json!({"phase": "Failed", "reason": "Evicted"}), Some("Failed: Evicted"))]
    #[case::no_phase(json!({}), Some("no phase reported"))]
    fn pod_health(#[case] status: serde_json::Value, #[case] want: Option<&str>) {
        assert_eq!(pod_problem(&pod(status)).as_deref(), want);
    }

    #[test]
    fn a_pod_without_status_is_unhealthy() {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}})).expect("a pod");
        assert_eq!(
            pod_problem(&p).as_deref(),
            Some("no status reported (not yet seen by the scheduler)")
        );
    }
}
