//! Pod health: what counts as healthy, the offenders in scope, and the two pod checks.

use anyhow::{Result, ensure};
use carbon_config::PlatformConfig;
use carbon_kube::KubeClient;
use carbon_kube::k8s_openapi::api::core::v1::Pod;
pub use carbon_kube::pods::pod_problem;

use crate::{Scope, key};

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
