//! The `victoriametrics` suite: the plan's "view metrics" workflow against the metrics store.
//!
//! VictoriaMetrics hides samples younger than `-search.latencyOffset` (30 s by default) from
//! queries. The suite copes without bending the server: it stamps its sample 60 s in the past,
//! where queries see it as soon as it is searchable, and polls with a timeout.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use carbon_core::naming;
use carbon_harness::anyhow::{Context as _, Result, ensure};
use carbon_harness::{Check, Ctx, Service, Suite};
use carbon_victoriametrics::{SERIES_CLEANUP, VmClient, VmError};

const VM: &[Service] = &[Service::VictoriaMetrics];

fn main() -> std::process::ExitCode {
    Suite::new("victoriametrics")
        .smoke("health_endpoint_answers_ok", VM, health)
        .smoke(
            "scrape_targets_up_meet_the_configured_minimum",
            VM,
            targets_up,
        )
        .full(
            "written_sample_reads_back_through_query_and_export",
            VM,
            write_read_back,
        )
        .writes(
            "one sample of series carbon_e2e_probe{e2e_run=\"<run id>\", e2e_owner=\"carbon-e2e\"}",
            "delete_series of exactly that series (vmselect/single-node admin API)",
        )
        .opt_in("delete-series")
        .full(
            "malformed_query_reports_the_servers_error",
            VM,
            malformed_query,
        )
        .run()
}

fn config(ctx: &Ctx) -> Result<carbon_harness::VictoriaMetricsConfig> {
    ctx.target()
        .victoriametrics
        .clone()
        .context("the target has no [victoriametrics]")
}

async fn health(ctx: Ctx) -> Result<()> {
    ctx.client::<VmClient>()?.health().await?;
    Ok(())
}

async fn targets_up(ctx: Ctx) -> Result<()> {
    let vm = ctx.client::<VmClient>()?;
    let cfg = config(&ctx)?;
    let describe = |s: &carbon_victoriametrics::InstantSample| {
        s.metric
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    // A freshly started scrape shows up only after the server's latency offset: poll, and on
    // timeout report how many were up and which were down.
    let what = format!(
        "at least {} targets up for {}",
        cfg.min_up_targets, cfg.up_selector
    );
    let up = ctx
        .wait_until(
            &what,
            Duration::from_secs(cfg.visibility_timeout_secs),
            || async {
                let series = vm.query(&cfg.up_selector, None).await?;
                let (up, down): (Vec<_>, Vec<_>) =
                    series.iter().partition(|s| s.number() == Some(1.0));
                Ok::<_, VmError>(if up.len() >= cfg.min_up_targets {
                    Check::Ready(up.len())
                } else {
                    Check::Pending(format!(
                        "{} of {} series up; down: [{}]",
                        up.len(),
                        series.len(),
                        down.iter()
                            .map(|s| describe(s))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ))
                })
            },
        )
        .await?;
    ctx.step(format_args!("{up} targets up for {}", cfg.up_selector));
    Ok(())
}

async fn write_read_back(ctx: Ctx) -> Result<()> {
    let vm = ctx.client::<VmClient>()?;
    let cfg = config(&ctx)?;
    let run = ctx.run_id().to_string();
    let selector = format!(
        "carbon_e2e_probe{{{}=\"{run}\",{}=\"{}\"}}",
        naming::RUN_LABEL,
        naming::OWNER_LABEL,
        naming::OWNER
    );
    let cleanup_vm = vm.clone();
    let cleanup_selector = selector.clone();
    ctx.defer_within(
        format!("delete series {selector}"),
        SERIES_CLEANUP + Duration::from_secs(5),
        async move {
            Ok(cleanup_vm
                .delete_series_settled(&cleanup_selector, SERIES_CLEANUP)
                .await?)
        },
    );

    let now_ms = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let stamp_ms = now_ms - 60_000;
    let value = (now_ms % 1_000_000) as f64 + 0.5;
    vm.import_prometheus(&format!(
        "carbon_e2e_probe{{{}=\"{run}\",{}=\"{}\",source=\"suite\"}} {value} {stamp_ms}\n",
        naming::RUN_LABEL,
        naming::OWNER_LABEL,
        naming::OWNER
    ))
    .await?;
    ctx.step(format_args!("wrote {selector} = {value} at {stamp_ms} ms"));

    let timeout = Duration::from_secs(cfg.visibility_timeout_secs);
    let seen = ctx
        .wait_until(
            &format!("{selector} visible to /api/v1/query"),
            timeout,
            || async {
                let r = vm.query(&selector, None).await?;
                Ok::<_, VmError>(match r.first() {
                    Some(s) => Check::Ready(s.clone()),
                    None => Check::Pending("query returned no series".into()),
                })
            },
        )
        .await?;
    ensure!(
        seen.number() == Some(value),
        "query returned {:?}, wrote {value}",
        seen.value
    );
    ensure!(
        seen.metric.get("source").map(String::as_str) == Some("suite"),
        "labels lost: {:?}",
        seen.metric
    );

    let exported = vm.export(&selector).await?;
    ensure!(
        exported.len() == 1,
        "export returned {} series for {selector}",
        exported.len()
    );
    ensure!(
        exported[0].values == vec![value] && exported[0].timestamps == vec![stamp_ms],
        "export returned values {:?} at {:?}; wrote {value} at {stamp_ms}",
        exported[0].values,
        exported[0].timestamps
    );
    Ok(())
}

async fn malformed_query(ctx: Ctx) -> Result<()> {
    let vm = ctx.client::<VmClient>()?;
    match vm.query("up{", None).await {
        Err(VmError::Api { error, .. }) => {
            ctx.step(format_args!("server said: {error}"));
            Ok(())
        }
        Err(other) => Err(other).context("a malformed query should fail with the API's own error"),
        Ok(r) => Err(carbon_harness::anyhow::anyhow!(
            "malformed query `up{{` returned {} series",
            r.len()
        )),
    }
}
