//! The real node's section of `bench` (`bench --only node`, which restarts only containerd and
//! the kubelet of the local stack).
//!
//! 1. Node start: containerd and the kubelet stopped (the host put back), the Node object
//!    deleted so it must register anew, then `stack up` until the node is Ready. Reports the
//!    time `up` took (what the node adds to `stack up`) and the kubelet's start to node Ready.
//! 2. Pod create → Ready on the real node, `--repeat` times (default 10 here): a busybox pod
//!    without probes, so the time is the scheduler's, the sandbox's (network included) and the
//!    container's.
//! 3. Resident memory of containerd, the kubelet and every shim (one per pod sandbox: the
//!    broken namespace's pods and any bench pod still stopping) after 2.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use carbon_config::Env;
use carbon_kube::k8s_openapi::api::core::v1::{Node, Pod};
use carbon_kube::kube::api::{Api, DeleteParams, PostParams};

use crate::bench::{median, secs};
use crate::bench_kube::rss_kib;

const NODE_SERVICES: [&str; 3] = ["promtail", "kubelet", "containerd"];

/// Resident memory of processes whose command line names every one of `needles` (the shims
/// carry the node's containerd socket), in KiB, and how many there are.
fn rss_of(needles: &[&str]) -> (u64, usize) {
    let mut total = (0, 0);
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if needles.iter().all(|n| cmd.contains(n)) {
            total.0 += rss_kib(pid);
            total.1 += 1;
        }
    }
    total
}

async fn node_start(
    env: &Env,
    kube: &carbon_kube::KubeClient,
) -> anyhow::Result<(Duration, Duration)> {
    for s in NODE_SERVICES {
        carbon_stack::stop_service(env, s).await?;
    }
    let nodes: Api<Node> = Api::all(kube.client());
    let _ = nodes
        .delete(carbon_stack::REAL_NODE, &DeleteParams::default())
        .await;
    let t0 = Instant::now();
    let started = carbon_stack::up(env).await?;
    let took = t0.elapsed();
    let kubelet = started
        .iter()
        .find(|s| s.name == "kubelet")
        .context("`stack up` did not report the kubelet")?;
    Ok((took, kubelet.ready_after))
}

async fn pod_ready(kube: &carbon_kube::KubeClient, ns: &str, i: usize) -> anyhow::Result<Duration> {
    let name = format!("bench-{i}");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"app": "carbon-e2e-bench"}},
        "spec": {
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 0,
            "nodeSelector": {carbon_stack::REAL_NODE_LABEL: "real"},
            "tolerations": [{"key": carbon_stack::REAL_NODE_TAINT, "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "c", "image": carbon_stack::busybox_image(),
                            "imagePullPolicy": "IfNotPresent", "command": ["sleep", "600"]}]
        }
    }))?;
    let pods: Api<Pod> = Api::namespaced(kube.client(), ns);
    let t0 = Instant::now();
    pods.create(&PostParams::default(), &pod).await?;
    kube.wait_for(
        pods.clone(),
        &name,
        &format!("bench pod {ns}/{name} to be Ready"),
        Duration::from_secs(60),
        |p: Option<&Pod>| {
            p.and_then(|p| p.status.as_ref())
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        },
    )
    .await?;
    let took = t0.elapsed();
    pods.delete(&name, &DeleteParams::default().grace_period(0))
        .await?;
    Ok(took)
}

pub async fn run(env: &Env, repeat: usize, repeat_slow: usize) -> anyhow::Result<()> {
    carbon_stack::up(env).await?;
    let target = carbon_config::load()?;
    let kube = carbon_kube::KubeClient::from_target(&target).await?;
    let (mut ups, mut readies) = (Vec::new(), Vec::new());
    for _ in 0..repeat_slow {
        let (up, ready) = node_start(env, &kube).await?;
        ups.push(up);
        readies.push(ready);
    }
    let ns = format!("carbon-e2e-bench-{}", std::process::id());
    let namespaces: Api<carbon_kube::k8s_openapi::api::core::v1::Namespace> =
        Api::all(kube.client());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}}))?,
        )
        .await?;
    let mut pods = Vec::new();
    for i in 0..repeat.max(10) {
        match pod_ready(&kube, &ns, i).await {
            Ok(t) => pods.push(t),
            Err(e) => {
                let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
                return Err(e);
            }
        }
    }
    // Memory while the bench's pods still run: one shim per pod sandbox.
    let stack_dir = carbon_config::Paths::from_env(env).stack;
    let socket = stack_dir.join("data/node/containerd.sock");
    let (shims, n_shims) = rss_of(&[
        "containerd-shim-runc-v2 -namespace k8s.io",
        &format!("-address {}", socket.display()),
    ]);
    let (containerd, _) = rss_of(&[&format!(
        "containerd --config {}",
        stack_dir.join("data/node/containerd/config.toml").display()
    )]);
    let (kubelet, _) = rss_of(&["kubelet-v1.34.4 --config"]);
    namespaces.delete(&ns, &DeleteParams::default()).await?;
    let n = pods.len();
    println!("\n## The real node (containerd, runc, kubelet; {repeat_slow} starts, {n} pods)\n");
    println!("| measure | median |\n|---|---|");
    println!(
        "| node start: `stack up` with containerd and the kubelet stopped and the Node deleted (host put back, images imported, node registered and Ready) | {} |",
        secs(median(ups))
    );
    println!(
        "| of which the kubelet's start to node Ready | {} |",
        secs(median(readies))
    );
    println!(
        "| pod create → Ready on the real node (busybox, no probe) | {} |",
        secs(median(pods))
    );
    println!(
        "| resident memory with {n_shims} pod sandboxes on the node (one shim each): containerd {} MiB, kubelet {} MiB, {n_shims} shims {} MiB ({} MiB each) | {} MiB |",
        containerd / 1024,
        kubelet / 1024,
        shims / 1024,
        shims / 1024 / (n_shims.max(1) as u64),
        (containerd + kubelet + shims) / 1024
    );
    Ok(())
}
