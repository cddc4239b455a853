//! A pod's health as a kubelet reports it: what counts as healthy ([`pod_problem`], which the
//! platform suite's pod checks count), and when waiting for a pod is pointless ([`pod_stuck`],
//! which [`crate::KubeClient::wait_pod`] fails on at once).

use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Pod};

/// Waiting reasons that are not trouble: a container on its way up.
const STARTING: &[&str] = &["ContainerCreating", "PodInitializing"];

/// How a container last ended, as a kubelet keeps it: `; last ended: OOMKilled (exit code 137)`.
fn ended(t: &ContainerStateTerminated) -> String {
    format!(
        "; last ended: {} (exit code {})",
        t.reason.as_deref().unwrap_or("terminated"),
        t.exit_code
    )
}

/// A container's trouble, if any, in a pod that should be running: waiting for a reason other
/// than starting, exited and not yet restarted, or running but not ready after a restart. Each
/// says how the container last ended when the kubelet kept it (`OOMKilled`, `Error` and the exit
/// code), so a crash loop caught between restarts still names its cause.
fn container_problem(c: &ContainerStatus, init: bool) -> Option<String> {
    let which = if init { "init container" } else { "container" };
    let state = c.state.as_ref();
    let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
        let reason = w.reason.as_deref().unwrap_or("Waiting");
        if !STARTING.contains(&reason) {
            let message = w.message.as_deref().unwrap_or_default();
            let ended = last.map(ended).unwrap_or_default();
            return Some(if message.is_empty() {
                format!("{reason} ({which} {}{ended})", c.name)
            } else {
                format!("{reason} ({which} {}: {message}{ended})", c.name)
            });
        }
    }
    if c.ready {
        return None;
    }
    if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
        if init && t.exit_code == 0 {
            return None; // an init container that completed
        }
        return Some(format!(
            "Terminated ({which} {}, restarts {}{})",
            c.name,
            c.restart_count,
            ended(t)
        ));
    }
    last.map(|t| {
        let reason = if t.reason.as_deref() == Some("OOMKilled") {
            "OOMKilled"
        } else {
            "Restarted, not ready"
        };
        format!(
            "{reason} ({which} {}, restarts {}{})",
            c.name,
            c.restart_count,
            ended(t)
        )
    })
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
    // A Failed pod's containers have all ended: its phase and reason say it (below).
    let init = status.init_container_statuses.iter().flatten();
    let main = status.container_statuses.iter().flatten();
    let trouble = init
        .map(|c| container_problem(c, true))
        .chain(main.map(|c| container_problem(c, false)))
        .flatten()
        .next();
    if let Some(p) = trouble.filter(|_| phase != "Failed") {
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

/// The node the pod was scheduled to (empty before scheduling).
pub fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default()
}

/// The pod's Ready condition is true.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The pod's containers have started: phase Running or Succeeded.
pub fn has_run(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Running" | "Succeeded")
    )
}

/// Waiting reasons from which a container does not recover by itself: the image cannot be
/// pulled or named, its configuration is wrong, or it keeps crashing.
const STUCK: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "CrashLoopBackOff",
];

/// Why waiting for this pod to run or become Ready is pointless, if it is: phase Failed, or a
/// container waiting in a reason it does not leave by itself ([`STUCK`]). The description is
/// [`pod_problem`]'s (reason, container, message, how it last ended). A pod still being
/// scheduled, pulling or starting is not stuck.
pub fn pod_stuck(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let waiting_stuck = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.as_deref())
        .any(|r| STUCK.contains(&r));
    let failed = status.phase.as_deref() == Some("Failed");
    (waiting_stuck || failed)
        .then(|| pod_problem(pod))
        .flatten()
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
        Some("OOMKilled (container app, restarts 1; last ended: OOMKilled (exit code 137))")
    )]
    #[case::exited_between_restarts(
        json!({"phase": "Running", "conditions": ready("False"), "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 4,
            "state": {"terminated": {"reason": "Error", "exitCode": 1}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}),
        Some("Terminated (container app, restarts 4; last ended: Error (exit code 1))")
    )]
    #[case::running_again_after_a_crash(
        json!({"phase": "Running", "conditions": ready("False"), "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 4,
            "state": {"running": {}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}),
        Some("Restarted, not ready (container app, restarts 4; last ended: Error (exit code 1))")
    )]
    #[case::failed_pod_names_its_phase(
        json!({"phase": "Failed", "reason": "BackoffLimitExceeded", "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"reason": "Error", "exitCode": 1}}}]}),
        Some("Failed: BackoffLimitExceeded")
    )]
    #[case::completed_init_container_is_fine(
        json!({"phase": "Running", "conditions": ready("True"), "initContainerStatuses": [{
            "name": "init", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}),
        None
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

    #[rstest]
    #[case::image_pull(json!({"phase": "Pending", "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}]}),
        Some("ErrImagePull (container app: not found)"))]
    #[case::crash_loop(json!({"phase": "Running", "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}),
        Some("CrashLoopBackOff (container app; last ended: Error (exit code 1))"))]
    #[case::failed(json!({"phase": "Failed", "reason": "DeadlineExceeded"}),
        Some("Failed: DeadlineExceeded"))]
    #[case::starting(json!({"phase": "Pending", "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}}}]}), None)]
    #[case::not_ready_yet(json!({"phase": "Running", "conditions": ready("False")}), None)]
    #[case::unscheduled(json!({"phase": "Pending"}), None)]
    fn stuck(#[case] status: serde_json::Value, #[case] want: Option<&str>) {
        assert_eq!(pod_stuck(&pod(status)).as_deref(), want);
    }
}
