//! The per-trial cost of reaching services through Kubernetes (`bench --only reach`, which
//! restarts nothing): the `local-k8s` target against the `local` one on the same servers.
//!
//! 1. `carbon_kube::materialize` of `local-k8s` in this process: kube client, six Service
//!    references resolved and their port-forward listeners opened, four Secret keys read (what
//!    every trial process does before its body).
//! 2. One HTTP request on a new connection through a fresh port-forward against the same
//!    request straight to the server (VictoriaMetrics `/health`).
//! 3. One trial (`victoriametrics::smoke::health_endpoint_answers_ok`) as nextest times its
//!    process, against each target.
//! 4. The six suites of the local stack (44 trials), nextest wall, against each target.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use carbon_config::Env;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::bench::{median, nextest_run, secs};

const TRIAL: &str = "test(=victoriametrics::smoke::health_endpoint_answers_ok)";
const SUITES: &str = "package(suite-minio) | package(suite-trino) | package(suite-victoriametrics) | package(suite-dolphinscheduler) | package(suite-loki) | package(suite-alerts)";

/// One `GET /health` on a new connection; returns when the body `OK` has arrived (the
/// port-forward never reports end-of-stream, so the read is framed by the body).
async fn get_health(addr: &str) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let mut conn = tokio::net::TcpStream::connect(addr).await?;
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let deadline = Duration::from_secs(10);
    while !(buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.ends_with(b"OK")) {
        let n = tokio::time::timeout(deadline, conn.read(&mut chunk))
            .await
            .context("no answer within 10 s")??;
        anyhow::ensure!(n > 0, "connection closed before the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(t0.elapsed())
}

pub async fn run(env: &Env, repeat: usize, repeat_slow: usize) -> anyhow::Result<()> {
    let k8s_env = Env::from_pairs([("E2E_TARGET", "local-k8s")]).layered_over(env);
    let target = carbon_config::load_with(&k8s_env, &carbon_config::Paths::from_env(&k8s_env))
        .context("loading the local-k8s target")?;
    let (mut mat, mut direct, mut forwarded) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeat {
        let t0 = Instant::now();
        let (resolved, guards) = carbon_kube::materialize(&target).await?;
        mat.push(t0.elapsed());
        let url = &resolved
            .victoriametrics
            .as_ref()
            .context("local-k8s has no [victoriametrics]")?
            .url;
        let addr = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port().unwrap_or(80)
        );
        forwarded.push(get_health(&addr).await?);
        direct.push(get_health("127.0.0.1:18428").await?);
        drop(guards);
    }
    let (mut trial_local, mut trial_k8s) = (Vec::new(), Vec::new());
    for _ in 0..repeat {
        for (name, out) in [("local", &mut trial_local), ("local-k8s", &mut trial_k8s)] {
            let (_, trials) = nextest_run(TRIAL, &[("E2E_TARGET", name)])?;
            anyhow::ensure!(
                trials.iter().all(|(_, ok)| *ok),
                "{TRIAL} failed against {name}"
            );
            out.extend(trials.into_iter().map(|(t, _)| t));
        }
    }
    let (mut suites_local, mut suites_k8s) = (Vec::new(), Vec::new());
    for _ in 0..repeat_slow {
        for (name, out) in [("local", &mut suites_local), ("local-k8s", &mut suites_k8s)] {
            let (wall, trials) = nextest_run(SUITES, &[("E2E_TARGET", name)])?;
            anyhow::ensure!(
                trials.iter().all(|(_, ok)| *ok),
                "a suite failed against {name}"
            );
            out.push(wall);
        }
    }
    println!("\n## Reaching services through Kubernetes ({repeat} runs, suites {repeat_slow})\n");
    println!("| measure | local (plain URLs) | local-k8s (k8s:// refs, Secrets) | added |");
    println!("|---|---|---|---|");
    let row = |what: &str, a: Duration, b: Duration| {
        println!(
            "| {what} | {} | {} | {:+.3} s |",
            secs(a),
            secs(b),
            b.as_secs_f64() - a.as_secs_f64()
        );
    };
    row(
        "resolve the target before a trial (`materialize`: client, 6 Service refs → port-forward listeners, 4 Secret keys)",
        Duration::ZERO,
        median(mat),
    );
    row(
        "one GET /health on a new connection (a new port-forward stream each)",
        median(direct),
        median(forwarded),
    );
    row(
        "one trial (`victoriametrics::smoke::health_endpoint_answers_ok`), as nextest times its process",
        median(trial_local),
        median(trial_k8s),
    );
    row(
        "six suites, 44 trials (nextest wall)",
        median(suites_local),
        median(suites_k8s),
    );
    Ok(())
}
