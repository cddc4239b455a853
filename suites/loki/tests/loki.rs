//! The `loki` suite: the plan's "search logs in Loki" workflow and its log-shipping checks.
//!
//! Queries are LogQL 1.x (selectors, `|=`, `count_over_time`, `sum by`), which Loki 1.6, the
//! local stack's 2.2 and the platform's 3.x all answer; the one check that needs LogQL v2
//! (`| logfmt` with a label filter) is chosen by the server's reported version.
//!
//! Loki has no way to delete a stream unless a compactor has deletion enabled (the local
//! stack's 2.2 has no delete API), so the lines the suite pushes stay until retention removes them.
//! They carry `e2e_run="<run id>"` and no namespace label, so they never count as a pod.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use carbon_config::LokiConfig;
use carbon_harness::anyhow::{Context as _, Result, bail, ensure};
use carbon_harness::{Backoff, Capability, Check, Ctx, Service, Suite};
use carbon_loki::{Direction, LokiClient, LokiError, PushStream, QueryResult, is_parse_rejection};

mod shipping;

const LOKI: &[Service] = &[Service::Loki];
const SHIPPER: &[Service] = &[Service::Loki];
/// A pod of the trial's own in the cluster, whose log the platform's shipper sends to Loki.
const POD_LOGS: &[Service] = &[Service::Loki, Service::Kubernetes];
/// The trial pod's name and app label.
const LOG_POD: &str = "e2e-log-probe";

/// Polls as fast as is polite when the wait itself is what is measured.
const FAST: Backoff = Backoff {
    initial: Duration::from_millis(50),
    max: Duration::from_millis(250),
};

fn main() -> std::process::ExitCode {
    Suite::new("loki")
        .smoke("ready_endpoint_answers_ready", LOKI, ready)
        .smoke("labels_include_the_namespace_label", LOKI, labels)
        .smoke("namespace_has_logs_in_the_window", LOKI, namespace_has_logs)
        .smoke(
            "pods_that_shipped_logs_meet_the_configured_minimum",
            LOKI,
            pods_minimum,
        )
        .smoke("every_critical_app_has_logs", LOKI, critical_apps)
        .full(
            "pushed_line_reads_back_exactly_through_query_range",
            LOKI,
            push_read_back,
        )
        .writes(
            "log lines in a stream of its own {job=\"carbon-e2e\", e2e_run=\"<run id>\", source=…}",
            "none possible: Loki deletes only through a compactor with deletion enabled (none in the local 2.2); the lines carry no namespace label, so no platform check counts them, and they age out with retention",
        )
        .full(
            "metric_query_counts_the_pushed_lines",
            LOKI,
            metric_counts_pushed,
        )
        .writes(
            "log lines in a stream of its own {job=\"carbon-e2e\", e2e_run=\"<run id>\", source=…}",
            "none possible: Loki deletes only through a compactor with deletion enabled (none in the local 2.2); the lines carry no namespace label, so no platform check counts them, and they age out with retention",
        )
        .full(
            "shipped_file_line_arrives_within_the_configured_latency",
            SHIPPER,
            shipping::shipped_line,
        )
        .needs(Capability::LokiShipper)
        .writes(
            "a file in loki.shipper_dir on this machine, whose line the shipper sends to Loki",
            "the file is removed; the shipped line ages out with retention (Loki deletes only through a compactor with deletion enabled)",
        )
        .full(
            "pod_log_line_arrives_within_the_configured_latency",
            POD_LOGS,
            shipping::pod_log_line,
        )
        .writes(
            "namespace e2e-<run id>-podlog (labels carbon-e2e/run, carbon-e2e/owner) with pod e2e-log-probe ([kubernetes] probe_image, placed by probe_node_selector/probe_tolerations) printing one marker line",
            "the namespace is deleted (its pod with it); the shipped line ages out with retention (Loki deletes only through a compactor with deletion enabled)",
        )
        .full(
            "malformed_logql_reports_lokis_own_error",
            LOKI,
            malformed_query,
        )
        .full(
            "query_over_the_entries_limit_reports_the_limit",
            LOKI,
            over_limit,
        )
        .full(
            "logql_v2_parsers_are_used_only_when_the_server_has_them",
            LOKI,
            logql_v2_gated,
        )
        .writes(
            "a logfmt line in a stream of its own {job=\"carbon-e2e\", e2e_run=\"<run id>\", source=…}",
            "none possible: Loki deletes only through a compactor with deletion enabled (none in the local 2.2); the line carries no namespace label, so no platform check counts it, and it ages out with retention",
        )
        .run()
}

fn config(ctx: &Ctx) -> Result<LokiConfig> {
    ctx.target()
        .loki
        .clone()
        .context("the target has no [loki]")
}

fn now_ns() -> Result<i128> {
    Ok(i128::try_from(
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos(),
    )?)
}

/// [`now_ns`] for use inside probes, whose error type is the client's.
fn now() -> i128 {
    now_ns().unwrap_or_default()
}

fn window_ns(cfg: &LokiConfig) -> i128 {
    i128::from(cfg.window().as_secs()) * 1_000_000_000
}

fn labels_of(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

async fn ready(ctx: Ctx) -> Result<()> {
    let loki = ctx.client::<LokiClient>()?;
    loki.ready().await?;
    let version = loki.version().await?;
    ctx.step(format_args!(
        "{} is ready, Loki {version} (LogQL v2: {})",
        loki.url(),
        match version.logql_v2() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "not a release number: decided by asking the server when needed",
        }
    ));
    Ok(())
}

async fn labels(ctx: Ctx) -> Result<()> {
    let loki = ctx.client::<LokiClient>()?;
    let cfg = config(&ctx)?;
    let end = now_ns()?;
    let names = loki.labels(end - window_ns(&cfg), end).await?;
    ctx.step(format_args!("labels: {}", names.join(", ")));
    ensure!(
        names.contains(&cfg.namespace_label),
        "label `{}` (loki.namespace_label) is not among the labels seen in the last {} min: {}",
        cfg.namespace_label,
        cfg.window_minutes,
        names.join(", ")
    );
    let namespaces = loki
        .label_values(&cfg.namespace_label, end - window_ns(&cfg), end)
        .await?;
    ensure!(
        namespaces.contains(&cfg.namespace),
        "no {}=\"{}\" among the values seen in the last {} min: {}",
        cfg.namespace_label,
        cfg.namespace,
        cfg.window_minutes,
        namespaces.join(", ")
    );
    Ok(())
}

fn namespace_selector(cfg: &LokiConfig) -> String {
    format!("{{{}=\"{}\"}}", cfg.namespace_label, cfg.namespace)
}

async fn namespace_has_logs(ctx: Ctx) -> Result<()> {
    let loki = ctx.client::<LokiClient>()?;
    let cfg = config(&ctx)?;
    let selector = namespace_selector(&cfg);
    let end = now_ns()?;
    let r = loki
        .query_range(
            &selector,
            end - window_ns(&cfg),
            end,
            1,
            Direction::Backward,
        )
        .await?;
    let Some((stream, (ts, line))) = r
        .streams()
        .iter()
        .find_map(|s| s.values.first().map(|e| (s, e)))
    else {
        bail!(
            "{selector} returned no log line in the last {} min",
            cfg.window_minutes
        );
    };
    let age = (end - ts.parse::<i128>().unwrap_or_default()) as f64 / 1e9;
    ctx.step(format_args!(
        "newest line ({age:.1} s old) from {:?}: {}",
        stream.stream,
        line.chars().take(160).collect::<String>()
    ));
    Ok(())
}

/// `sum by (<label>) (count_over_time({ns}<pipeline>[window]))` at now: label value -> lines.
/// Lines without the label (one series with no such key) are reported, not counted.
async fn lines_by(
    ctx: &Ctx,
    cfg: &LokiConfig,
    label: &str,
    pipeline: &str,
) -> Result<BTreeMap<String, f64>> {
    let loki = ctx.client::<LokiClient>()?;
    let query = format!(
        "sum by ({label}) (count_over_time({}{pipeline}[{}m]))",
        namespace_selector(cfg),
        cfg.window_minutes
    );
    let r = loki.query(&query, now_ns()?, 5000).await?;
    let QueryResult::Vector(v) = r else {
        bail!("{query} returned a {} result, expected a vector", r.kind());
    };
    ctx.step(format_args!("{query}: {} series", v.len()));
    let unlabelled: f64 = v
        .iter()
        .filter(|s| !s.metric.contains_key(label))
        .filter_map(|s| s.number())
        .sum();
    if unlabelled > 0.0 {
        ctx.step(format_args!("{unlabelled} line(s) carry no `{label}`"));
    }
    Ok(v.iter()
        .filter_map(|s| Some((s.metric.get(label)?.clone(), s.number()?)))
        .collect())
}

async fn pods_minimum(ctx: Ctx) -> Result<()> {
    let cfg = config(&ctx)?;
    let loki = ctx.client::<LokiClient>()?;
    let pod = &cfg.pod_label;
    let end = now_ns()?;
    let index = loki.labels(end - window_ns(&cfg), end).await?;
    let pods = if index.contains(pod) {
        lines_by(&ctx, &cfg, pod, "").await?
    } else {
        // Loki 3 can keep `pod` as structured metadata rather than an index label: a v2 label
        // filter reads it there (and from parsed labels).
        ctx.step(format_args!(
            "`{pod}` is not an index label in the last {} min (labels: {}): counting it from structured metadata",
            cfg.window_minutes,
            index.join(", ")
        ));
        let missing = || {
            format!(
                "label `{pod}` (loki.pod_label) is not an index label in the last {} min (labels: {})",
                cfg.window_minutes,
                index.join(", ")
            )
        };
        match lines_by(&ctx, &cfg, pod, &format!(" | {pod} != \"\"")).await {
            Ok(p) if !p.is_empty() => p,
            Ok(_) => bail!(
                "{}, nor structured metadata on the lines of {}: set loki.pod_label to the label that names pods",
                missing(),
                namespace_selector(&cfg)
            ),
            Err(e) if e.downcast_ref().is_some_and(is_parse_rejection) => bail!(
                "{}, and this Loki has no LogQL v2 to read it elsewhere: set loki.pod_label to the index label that names pods ({e:#})",
                missing()
            ),
            Err(e) => return Err(e),
        }
    };
    let listed = pods
        .iter()
        .map(|(p, n)| format!("{p} ({n})"))
        .collect::<Vec<_>>()
        .join(", ");
    ctx.step(format_args!(
        "{} {} shipped logs in the last {} min: {listed}",
        pods.len(),
        cfg.pod_label,
        cfg.window_minutes
    ));
    ensure!(
        pods.len() >= cfg.min_streams,
        "only {} distinct {} values shipped logs in namespace {} in the last {} min; loki.min_streams is {}. Seen: {listed}",
        pods.len(),
        cfg.pod_label,
        cfg.namespace,
        cfg.window_minutes,
        cfg.min_streams
    );
    Ok(())
}

async fn critical_apps(ctx: Ctx) -> Result<()> {
    let cfg = config(&ctx)?;
    ensure!(
        !cfg.critical_apps.is_empty(),
        "loki.critical_apps is empty: name the apps whose logs must arrive"
    );
    let apps = lines_by(&ctx, &cfg, &cfg.app_label, "").await?;
    let missing: Vec<&String> = cfg
        .critical_apps
        .iter()
        .filter(|a| apps.get(*a).is_none_or(|n| *n <= 0.0))
        .collect();
    for app in &cfg.critical_apps {
        if let Some(n) = apps.get(app) {
            ctx.step(format_args!("{app}: {n} lines"));
        }
    }
    ensure!(
        missing.is_empty(),
        "no logs in the last {} min from critical app(s) {:?} ({}=...) in namespace {}; apps with logs: {:?}",
        cfg.window_minutes,
        missing,
        cfg.app_label,
        cfg.namespace,
        apps.keys().collect::<Vec<_>>()
    );
    Ok(())
}

/// Labels of the suite's own pushed streams: the run id, no namespace (never a pod).
fn pushed_selector(ctx: &Ctx, source: &str) -> (BTreeMap<String, String>, String) {
    let labels = labels_of(&[
        ("job", "carbon-e2e"),
        ("e2e_run", ctx.run_id()),
        ("source", source),
    ]);
    let selector = format!(
        "{{job=\"carbon-e2e\", e2e_run=\"{}\", source=\"{source}\"}}",
        ctx.run_id()
    );
    (labels, selector)
}

async fn push_read_back(ctx: Ctx) -> Result<()> {
    let loki = ctx.client::<LokiClient>()?;
    let cfg = config(&ctx)?;
    let (labels, selector) = pushed_selector(&ctx, "push");
    let ts = now_ns()?;
    let line = format!(
        "carbon-e2e push probe run={} at={ts} ünïcødé \"quoted\"",
        ctx.run_id()
    );
    let t0 = Instant::now();
    loki.push(&[PushStream {
        stream: labels.clone(),
        values: vec![(ts.to_string(), line.clone())],
    }])
    .await?;
    ctx.step(format_args!("pushed 1 line to {selector} at {ts} ns"));
    let streams = ctx
        .wait_until_with(
            &format!("{selector} readable through query_range"),
            Duration::from_secs(cfg.push_latency_secs),
            FAST,
            || {
                loki.poll_streams(
                    &selector,
                    ts - 1_000_000_000,
                    ts + 1_000_000_000,
                    10,
                    Direction::Forward,
                )
            },
        )
        .await?;
    ctx.step(format_args!(
        "push to queryable: {:.3} s",
        t0.elapsed().as_secs_f64()
    ));
    ensure!(streams.len() == 1, "expected 1 stream, got {streams:?}");
    let s = &streams[0];
    ensure!(
        s.stream == labels,
        "labels read back {:?}, pushed {labels:?}",
        s.stream
    );
    ensure!(
        s.values == vec![(ts.to_string(), line.clone())],
        "entries read back {:?}, pushed [({ts}, {line:?})]",
        s.values
    );
    Ok(())
}

async fn metric_counts_pushed(ctx: Ctx) -> Result<()> {
    let loki = ctx.client::<LokiClient>()?;
    let cfg = config(&ctx)?;
    let (labels, selector) = pushed_selector(&ctx, "count");
    let base = now_ns()?;
    let count = 7;
    let values = (0..count)
        .map(|i| {
            (
                (base + i * 1_000).to_string(),
                format!("carbon-e2e count probe {i} run={}", ctx.run_id()),
            )
        })
        .collect();
    loki.push(&[PushStream {
        stream: labels,
        values,
    }])
    .await?;
    let query = format!("sum(count_over_time({selector}[10m]))");
    ctx.step(format_args!(
        "pushed {count} lines; waiting for {query} = {count}"
    ));
    let seen = ctx
        .wait_until_with(
            &format!("{query} to count {count}"),
            Duration::from_secs(cfg.push_latency_secs),
            FAST,
            || async {
                let r = loki.query(&query, now() + 1_000_000_000, 100).await?;
                let QueryResult::Vector(v) = &r else {
                    return Ok::<_, LokiError>(Check::Pending(format!("a {} result", r.kind())));
                };
                let n = v.first().and_then(|s| s.number()).unwrap_or_default();
                Ok(if n as i128 >= count {
                    Check::Ready(n)
                } else {
                    Check::Pending(format!("count {n}"))
                })
            },
        )
        .await?;
    ensure!(
        seen as i128 == count,
        "{query} returned {seen}, pushed {count}"
    );
    Ok(())
}

async fn malformed_query(ctx: Ctx) -> Result<()> {
    let loki = ctx.client::<LokiClient>()?;
    let cfg = config(&ctx)?;
    let bad = format!("{{{}=}}", cfg.namespace_label);
    let end = now_ns()?;
    match loki
        .query_range(&bad, end - 60_000_000_000, end, 10, Direction::Backward)
        .await
    {
        Err(LokiError::Query {
            status, message, ..
        }) => {
            ctx.step(format_args!("Loki answered {status}: {message}"));
            ensure!(
                message.contains("parse error") || message.contains("syntax error"),
                "Loki's message does not name the parse error: {message}"
            );
            Ok(())
        }
        Err(other) => Err(other).context("a malformed query should fail with Loki's own 400"),
        Ok(r) => bail!("malformed query `{bad}` returned a {} result", r.kind()),
    }
}

async fn over_limit(ctx: Ctx) -> Result<()> {
    let loki = ctx.client::<LokiClient>()?;
    let cfg = config(&ctx)?;
    let limit = cfg.max_entries_limit + 1;
    let end = now_ns()?;
    match loki
        .query_range(
            &namespace_selector(&cfg),
            end - 60_000_000_000,
            end,
            limit,
            Direction::Backward,
        )
        .await
    {
        Err(LokiError::Query {
            status, message, ..
        }) => {
            ctx.step(format_args!("Loki answered {status}: {message}"));
            ensure!(
                message.contains(&cfg.max_entries_limit.to_string()),
                "Loki's message does not name the limit {} (loki.max_entries_limit): {message}",
                cfg.max_entries_limit
            );
            Ok(())
        }
        Err(other) => Err(other).context("a query over the limit should fail with Loki's own 400"),
        Ok(r) => bail!(
            "a query with limit {limit} was answered ({} streams): the server's max_entries_limit_per_query is not {} (loki.max_entries_limit)",
            r.streams().len(),
            cfg.max_entries_limit
        ),
    }
}

async fn logql_v2_gated(ctx: Ctx) -> Result<()> {
    let loki = ctx.client::<LokiClient>()?;
    let cfg = config(&ctx)?;
    let version = loki.version().await?;
    let (labels, selector) = pushed_selector(&ctx, "logfmt");
    let ts = now_ns()?;
    loki.push(&[PushStream {
        stream: labels,
        values: vec![
            (ts.to_string(), "level=info msg=\"fine\"".to_string()),
            (
                (ts + 1).to_string(),
                "level=error msg=\"probe\"".to_string(),
            ),
        ],
    }])
    .await?;
    let query = format!("{selector} | logfmt | level=\"error\"");
    let range = (ts - 1_000_000_000, ts + 1_000_000_000);
    let v2 = match version.logql_v2() {
        Some(v2) => v2,
        None => {
            // No release number (`k231-…`, `main-…`): the server itself says, by answering a
            // v2 pipeline or rejecting it as a parse error; anything else fails the trial.
            let v2 = loki.probe_logql_v2(&selector, range.0, range.1).await?;
            ctx.step(format_args!(
                "Loki {version} is no release number; the server {} `{selector} | logfmt`",
                if v2 {
                    "answered"
                } else {
                    "rejected as a parse error"
                }
            ));
            v2
        }
    };
    if v2 {
        ctx.step(format_args!("Loki {version} has LogQL v2: {query}"));
        let lines = ctx
            .wait_until_with(
                &format!("{query} to return the error line"),
                Duration::from_secs(cfg.push_latency_secs),
                FAST,
                || async {
                    let r = loki
                        .query_range(&query, range.0, range.1, 10, Direction::Forward)
                        .await?;
                    let lines: Vec<String> = r
                        .streams()
                        .iter()
                        .flat_map(|s| s.values.iter().map(|(_, l)| l.clone()))
                        .collect();
                    Ok::<_, LokiError>(if lines.is_empty() {
                        Check::Pending("no line yet".to_string())
                    } else {
                        Check::Ready(lines)
                    })
                },
            )
            .await?;
        ensure!(
            lines == vec!["level=error msg=\"probe\"".to_string()],
            "the label filter returned {lines:?}"
        );
    } else {
        // The gate must match the server: a 1.x Loki rejects the v2 pipeline as a parse error.
        ctx.step(format_args!(
            "Loki {version} predates LogQL v2: checking it rejects {query}"
        ));
        match loki
            .query_range(&query, range.0, range.1, 10, Direction::Forward)
            .await
        {
            Err(e) if is_parse_rejection(&e) => {
                ctx.step(format_args!("rejected as a parse error, as expected: {e}"))
            }
            Err(other) => return Err(other.into()),
            Ok(r) => bail!(
                "Loki {version} was judged to predate LogQL v2 but answered a LogQL v2 query ({} streams): the version gate is wrong",
                r.streams().len()
            ),
        }
    }
    Ok(())
}
