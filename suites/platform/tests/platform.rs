//! The `platform` suite: the plan's health checks against the cluster of `[kubernetes]`, with
//! the thresholds of `[platform]` (staging defaults from PLATFORM.md when absent).
//!
//! Locally the cluster is the stack's control plane: real API server, scheduler and
//! controllers, kwok's simulated node beside one real node (kubelet, containerd, runc), and
//! ArgoCD Application status written by a kwok stage (simulation: no ArgoCD runs). The exec and
//! port-forward trials run their pod on the real node (`[kubernetes] probe_*`). The namespace of broken things is excluded here and checked
//! by the self test.

use carbon_config::PlatformConfig;
use carbon_harness::anyhow::Result;
use carbon_harness::{Ctx, Service, Suite};

mod kubelet;

const KUBE: &[Service] = &[Service::Kubernetes];
const VELERO: &[Service] = &[Service::Velero];

/// The cluster client for the target's `[kubernetes]` (connecting is async, so it is built here
/// rather than through the harness's client registry; it is cheap).
async fn kube(ctx: &Ctx) -> Result<carbon_kube::KubeClient> {
    Ok(carbon_kube::KubeClient::from_target(ctx.target()).await?)
}

fn main() -> std::process::ExitCode {
    Suite::new("platform")
        .smoke("api_server_answers_with_its_version", KUBE, version)
        .smoke(
            "identity_has_every_permission_the_suite_needs",
            KUBE,
            permissions,
        )
        .smoke("every_node_is_ready", KUBE, nodes)
        .smoke("unhealthy_pods_stay_below_the_maximum", KUBE, unhealthy)
        .smoke("running_pod_share_meets_the_minimum", KUBE, share)
        .smoke(
            "critical_workloads_are_available_with_all_replicas_ready",
            KUBE,
            critical,
        )
        .smoke("daemonsets_are_fully_scheduled_and_ready", KUBE, daemonsets)
        .smoke("persistent_volume_claims_are_bound", KUBE, volumes)
        .smoke("failed_jobs_stay_within_the_maximum", KUBE, jobs)
        .smoke(
            "argocd_applications_synced_and_healthy_meet_the_minimum",
            KUBE,
            argocd,
        )
        .smoke("kyverno_policy_exceptions_meet_the_minimum", KUBE, kyverno)
        .smoke(
            "velero_location_is_available_and_schedules_are_present",
            VELERO,
            velero,
        )
        .smoke(
            "a_running_pods_log_is_served_through_its_kubelet",
            KUBE,
            kubelet::logs,
        )
        .full(
            "exec_runs_a_command_in_a_pod_of_the_run",
            KUBE,
            kubelet::exec,
        )
        .writes(kubelet::CREATES, kubelet::CLEANUP)
        .full(
            "port_forward_reaches_a_pod_of_the_run",
            KUBE,
            kubelet::port_forward,
        )
        .writes(kubelet::CREATES, kubelet::CLEANUP)
        .run()
}

fn cfg(ctx: &Ctx) -> PlatformConfig {
    ctx.target().platform.clone().unwrap_or_default()
}

async fn version(ctx: Ctx) -> Result<()> {
    let kube = kube(&ctx).await?;
    let v = kube.version().await?;
    ctx.step(format!("{} answers {v} ({})", kube.server(), kube.source()));
    Ok(())
}

async fn permissions(ctx: Ctx) -> Result<()> {
    let kube = kube(&ctx).await?;
    let (user, _) = kube.user().await?;
    let needed = carbon_kube::read_permissions(ctx.target());
    let missing = kube.missing(&needed).await?;
    carbon_harness::anyhow::ensure!(
        missing.is_empty(),
        "user {user} lacks: {} (grant kind-config/rbac/readonly.yaml)",
        missing
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    ctx.step(format!("user {user} may do all {} reads", needed.len()));
    Ok(())
}

macro_rules! check {
    ($name:ident, $f:path) => {
        async fn $name(ctx: Ctx) -> Result<()> {
            let kube = kube(&ctx).await?;
            let summary = $f(&kube, &cfg(&ctx)).await?;
            ctx.step(summary);
            Ok(())
        }
    };
}

check!(nodes, suite_platform::nodes_ready);
check!(unhealthy, suite_platform::unhealthy_pods_below_maximum);
check!(share, suite_platform::running_share_meets_minimum);
check!(critical, suite_platform::critical_workloads_available);
check!(daemonsets, suite_platform::daemonsets_fully_ready);
check!(volumes, suite_platform::volumes_bound);
check!(jobs, suite_platform::failed_jobs_within_maximum);
check!(argocd, suite_platform::argocd_applications_healthy);
check!(kyverno, suite_platform::policy_exceptions_present);

/// The plan's Velero health line (location available, schedules present); the `velero` suite
/// goes further (validation age, retention, last backups) and runs the backup workflow.
async fn velero(ctx: Ctx) -> Result<()> {
    let v = carbon_velero::VeleroClient::from_target(ctx.target()).await?;
    ctx.step(v.check_location().await?);
    ctx.step(v.check_schedules().await?);
    Ok(())
}
