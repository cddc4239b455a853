//! The Kubernetes section of `bench` (`bench --only kubernetes`, which restarts nothing but the
//! local control plane: kine, API server, controller manager, scheduler, kwok, and what holds
//! its certificates: the real node's containerd and kubelet, promtail).
//!
//! 1. Cold start: the five stopped by pid, their state (SQLite, PKI, generated objects)
//!    removed, then `stack up` until the node is Ready and the platform layout settled.
//! 2. Warm restart: the same with the state kept.
//! 3. Resident memory of the five after a start.
//! 4. The `platform` suite's wall time (self test included).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use carbon_config::Env;

use crate::bench::{median, nextest_run, secs};

/// The control plane's services, in stop order (Velero runs on it: its CRDs and objects go
/// with the cluster's state, so it restarts with it).
const SERVICES: [&str; 9] = [
    "velero",
    "kwok",
    // The real node and the log shipper hold the control plane's certificates: a cold start
    // makes new ones.
    "promtail",
    "kubelet",
    "containerd",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-apiserver",
    "kine",
];

async fn restart(env: &Env, cold: bool) -> anyhow::Result<(Duration, u64)> {
    for s in SERVICES {
        carbon_stack::stop_service(env, s).await?;
    }
    if cold {
        let dir = carbon_config::Paths::from_env(env).stack.join("data");
        for d in ["kine", "kube"] {
            let p = dir.join(d);
            if p.exists() {
                std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    }
    let t0 = Instant::now();
    let started = carbon_stack::up(env).await?;
    let took = t0.elapsed();
    let rss = started
        .iter()
        .filter(|s| SERVICES.contains(&s.name))
        .map(|s| rss_kib(s.pid))
        .sum();
    Ok((took, rss))
}

/// Resident memory of a process in KiB (`VmRSS`; 0 when it is gone).
pub(crate) fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

pub async fn run(env: &Env, repeat_slow: usize) -> anyhow::Result<()> {
    let (mut cold, mut warm, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeat_slow {
        let (t, r) = restart(env, true).await?;
        cold.push(t);
        rss.push(r);
        warm.push(restart(env, false).await?.0);
    }
    let mut suite = Vec::new();
    for _ in 0..repeat_slow {
        suite.push(nextest_run("package(suite-platform)", &[])?.0);
    }
    rss.sort_unstable();
    println!("\n## Local Kubernetes control plane ({repeat_slow} runs)\n");
    println!("| measure | median |\n|---|---|");
    println!(
        "| cold start (state removed) to node Ready and layout settled (`stack up` returns) | {} |",
        secs(median(cold))
    );
    println!(
        "| warm restart (state kept) to the same | {} |",
        secs(median(warm))
    );
    println!(
        "| resident memory of the control plane, node and shipper processes after a cold start | {} MiB |",
        rss.get(rss.len() / 2).copied().unwrap_or(0) / 1024
    );
    println!(
        "| `platform` suite wall time (nextest, self test included) | {} |",
        secs(median(suite))
    );
    Ok(())
}
