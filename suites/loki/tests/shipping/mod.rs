//! Lines reaching Loki through the cluster's log shipper: a file the shipper watches, and a
//! pod of the trial's own on a real node.

use std::time::{Duration, Instant};

use carbon_config::LokiConfig;
use carbon_harness::Ctx;
use carbon_harness::anyhow::{Context as _, Result, bail, ensure};
use carbon_loki::{Direction, LokiClient};

use super::{FAST, LOG_POD, config, now, now_ns};

/// A line written to a file the shipper watches (`loki.shipper_dir`) is queryable through
/// `loki.shipper_selector` within `loki.ship_latency_secs`.
pub(crate) async fn shipped_line(ctx: Ctx) -> Result<()> {
    let loki = ctx.client::<LokiClient>()?;
    let cfg = config(&ctx)?;
    let (Some(dir), Some(selector)) = (cfg.shipper_dir.clone(), cfg.shipper_selector.clone())
    else {
        bail!("loki.shipper_dir and loki.shipper_selector are required");
    };
    let path = dir.join(format!("{}.log", ctx.run_name("shipper")));
    let cleanup_path = path.clone();
    ctx.defer(format!("remove {}", path.display()), async move {
        std::fs::remove_file(&cleanup_path)
            .with_context(|| format!("removing {}", cleanup_path.display()))
    });
    let marker = format!("carbon-e2e-ship-{}-{}", ctx.run_id(), now_ns()?);
    let query = format!("{selector} |= \"{marker}\"");
    let written_at = now_ns()?;
    let t0 = Instant::now();
    std::fs::write(&path, format!("shipper probe {marker}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    ctx.step(format_args!("wrote {} with {marker}", path.display()));
    let streams = shipped(&ctx, &loki, &cfg, &query, written_at, "the line").await?;
    let found = &streams[0];
    let latency = t0.elapsed();
    ctx.step(format_args!(
        "shipper to queryable: {:.3} s (limit {} s); stream {:?}",
        latency.as_secs_f64(),
        cfg.ship_latency_secs,
        found.stream
    ));
    ensure!(
        found.values.iter().any(|(_, l)| l.contains(&marker)),
        "the stream returned does not hold the line: {:?}",
        found.values
    );
    Ok(())
}

/// Polls `query` from shortly before `written_at` until it returns what was shipped, within
/// `loki.ship_latency_secs`.
async fn shipped(
    ctx: &Ctx,
    loki: &LokiClient,
    cfg: &LokiConfig,
    query: &str,
    written_at: i128,
    what: &str,
) -> Result<Vec<carbon_loki::Stream>> {
    ctx.wait_until_with(
        &format!("{query} to return {what} (loki.ship_latency_secs)"),
        Duration::from_secs(cfg.ship_latency_secs),
        FAST,
        || {
            loki.poll_streams(
                query,
                written_at - 5_000_000_000,
                now() + 1_000_000_000,
                10,
                Direction::Backward,
            )
        },
    )
    .await
}

/// A pod of the trial's own prints a marker; the cluster's shipper (the platform's Fluent
/// Bit; locally promtail reading the real node's CRI files) must deliver it to Loki, labelled
/// with the pod's namespace, name and app, within `loki.ship_latency_secs`.
pub(crate) async fn pod_log_line(ctx: Ctx) -> Result<()> {
    let loki = ctx.client::<LokiClient>()?;
    let kube = carbon_kube::KubeClient::from_target(ctx.target()).await?;
    let cfg = config(&ctx)?;
    let namespace = ctx.own_namespace(&kube, "podlog").await?;
    let labels = carbon_core::naming::kube_labels(ctx.run_id());
    let marker = format!("carbon-e2e-podlog-{}-{}", ctx.run_id(), now_ns()?);
    let spec = serde_json::json!({
        "restartPolicy": "Never",
        "containers": [{
            "name": "probe",
            // Alive after the line, so the shipper still finds the pod when it looks.
            "command": ["sh", "-c", format!("echo {marker}; exec sleep 600")],
        }]
    });
    let written_at = now_ns()?;
    let t0 = Instant::now();
    let running = kube
        .run_probe_pod(
            &namespace,
            LOG_POD,
            labels,
            spec,
            carbon_kube::pods::has_run,
            "to run",
        )
        .await?;
    let node = carbon_kube::pods::node_name(&running);
    ctx.step(format_args!(
        "pod {namespace}/{LOG_POD} ran on node {node} ({}) and printed {marker}",
        kube.probe_image()
    ));
    let query = format!(
        "{{{}=\"{namespace}\"}} |= \"{marker}\"",
        cfg.namespace_label
    );
    let streams = shipped(&ctx, &loki, &cfg, &query, written_at, "the pod's line").await?;
    let found = &streams[0];
    ctx.step(format_args!(
        "pod to queryable: {:.3} s (limit {} s); stream {:?}",
        t0.elapsed().as_secs_f64(),
        cfg.ship_latency_secs,
        found.stream
    ));
    ensure!(
        found.values.iter().any(|(_, l)| l == &marker),
        "the stream returned does not hold the line as printed: {:?}",
        found.values
    );
    let label = |k: &str| found.stream.get(k).map(String::as_str);
    ensure!(
        label(&cfg.pod_label) == Some(LOG_POD) && label(&cfg.app_label) == Some(LOG_POD),
        "the shipper did not label the line with the pod ({}={LOG_POD}) and its app ({}={LOG_POD}): {:?}",
        cfg.pod_label,
        cfg.app_label,
        found.stream
    );
    Ok(())
}
