//! The DolphinScheduler section of `bench` (alone with `bench --only dolphinscheduler`, which
//! restarts no other service).
//!
//! 1. Cold start of the local server (stopped by pid, then `stack up`), and fail-fast while it
//!    is down (the suite's trials against the stopped server).
//! 2. Start request to SUCCESS for the one-task workflow, split into what the server reports
//!    (instance start to end, 1 s resolution), the queue before the instance starts, and what
//!    the client's polling adds (bounded by the gap between the last poll that saw it running
//!    and the first that saw it finished).
//! 3. The suite's wall time.

use carbon_config::FromTarget as _;
use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, ensure};
use carbon_config::Env;
use carbon_core::wait::{Backoff, Check, wait_until_with};
use carbon_dolphinscheduler::fixture::Fixture;
use carbon_dolphinscheduler::{DsClient, DsError, parse_time};
use time::OffsetDateTime;

use crate::bench::{list, median, nextest_run, secs, suite_walls};

/// Polls as the suite does at its fastest.
const POLL: Backoff = Backoff {
    initial: Duration::from_millis(50),
    max: Duration::from_millis(100),
};

pub async fn run(env: &Env, repeat: usize, repeat_slow: usize) -> anyhow::Result<()> {
    let target = carbon_config::load_with(env, &carbon_config::Paths::from_env(env))
        .context("loading the target")?;
    let Some(cfg) = target.dolphinscheduler.clone() else {
        println!(
            "\n## DolphinScheduler: skipped (target `{}` has no [dolphinscheduler] section)",
            target.name
        );
        return Ok(());
    };

    // 1. Cold start and fail-fast.
    let (mut cold, mut fail_slowest, mut fail_wall) = (Vec::new(), Vec::new(), Vec::new());
    let mut trials = 0;
    for _ in 0..repeat_slow {
        carbon_stack::stop_service(env, "dolphinscheduler").await?;
        let measured = nextest_run("package(suite-dolphinscheduler)", &[]);
        let started = carbon_stack::up(env).await?; // restore whatever the measurement did
        let (w, t) = measured?;
        ensure!(
            !t.is_empty() && t.iter().all(|(_, passed)| !passed),
            "with the server stopped every dolphinscheduler trial must fail"
        );
        trials = t.len();
        fail_slowest.push(t.iter().map(|(d, _)| *d).max().unwrap_or_default());
        fail_wall.push(w);
        let ds = started
            .iter()
            .find(|s| s.name == "dolphinscheduler")
            .context("stack up did not report dolphinscheduler")?;
        ensure!(ds.started_now, "dolphinscheduler was not restarted");
        cold.push(ds.ready_after);
    }
    println!(
        "\n## DolphinScheduler {} local server ({repeat_slow} runs)\n",
        carbon_stack::DOLPHINSCHEDULER_VERSION
    );
    println!("| measure | median | runs |\n|---|---|---|");
    println!(
        "| cold start to health UP | {} | {} |",
        secs(median(cold.clone())),
        list(&cold)
    );
    println!(
        "| server down: slowest of {trials} trials to fail (goal 10 s) | {} | {} |",
        secs(median(fail_slowest.clone())),
        list(&fail_slowest)
    );
    println!(
        "| server down: whole suite failed (nextest wall) | {} | {} |",
        secs(median(fail_wall.clone())),
        list(&fail_wall)
    );

    // 2. Start to SUCCESS.
    let ds = DsClient::from_target(&target)?;
    let run_id = carbon_config::run_id(env)?;
    let project = ds
        .create_project(
            &format!("e2e-{run_id}-bench"),
            "carbon-e2e bench; removed at the end",
        )
        .await?;
    let path = carbon_config::workspace_root().join("fixtures/dolphinscheduler/one_task.json");
    let fixture = Fixture::parse(&std::fs::read_to_string(&path)?)?;
    let marker = format!("e2e-{run_id}-bench");
    let measured = async {
        let wf = ds
            .create_workflow_from_fixture(
                project.code,
                &fixture,
                &format!("e2e-{run_id}-bench-one-task"),
                &cfg.tenant,
                &[("marker", &marker), ("worker_group", &cfg.worker_group)],
            )
            .await?;
        ds.release(project.code, wf.code, true).await?;
        let mut rows = Vec::new();
        for _ in 0..repeat {
            rows.push(
                start_to_success(
                    &ds,
                    project.code,
                    wf.code,
                    (&cfg.worker_group, &cfg.tenant),
                    cfg.workflow_timeout(),
                )
                .await?,
            );
        }
        ds.remove_workflow(project.code, wf.code, Duration::from_secs(30))
            .await?;
        anyhow::Ok(rows)
    }
    .await;
    ds.delete_project(project.code).await?;
    let rows = measured?;
    let col = |f: fn(&Sample) -> Duration| median(rows.iter().map(f).collect());
    println!("\n## DolphinScheduler: start request to SUCCESS, one SHELL task ({repeat} runs)\n");
    println!("| measure | median | max |\n|---|---|---|");
    let max = |f: fn(&Sample) -> Duration| rows.iter().map(f).max().unwrap_or_default();
    for (what, f) in [
        (
            "client: start request to SUCCESS seen (wall)",
            (|s: &Sample| s.wall) as fn(&Sample) -> Duration,
        ),
        ("server: instance start to end (1 s resolution)", |s| {
            s.server
        }),
        (
            "server: start request to instance start (1 s resolution)",
            |s| s.queued,
        ),
        (
            "client: polling, at most (last poll seeing it running to first seeing it done)",
            |s| s.polling_bound,
        ),
    ] {
        println!("| {what} | {} | {} |", secs(col(f)), secs(max(f)));
    }

    // 3. The suite.
    let (wall, n) = suite_walls("suite-dolphinscheduler", repeat_slow)?;
    println!(
        "\n## DolphinScheduler suite against the local stack ({repeat_slow} runs, {n} trials)\n"
    );
    println!("| measure | median | runs |\n|---|---|---|");
    println!(
        "| `cargo nextest run` wall time | {} | {} |",
        secs(median(wall.clone())),
        list(&wall)
    );
    Ok(())
}

struct Sample {
    wall: Duration,
    server: Duration,
    queued: Duration,
    polling_bound: Duration,
}

async fn start_to_success(
    ds: &DsClient,
    project: i64,
    workflow: i64,
    (worker_group, tenant): (&str, &str),
    timeout: Duration,
) -> anyhow::Result<Sample> {
    let before: std::collections::BTreeSet<i64> = ds
        .instances(project, workflow)
        .await?
        .iter()
        .map(|i| i.id)
        .collect();
    let requested_at = OffsetDateTime::from(SystemTime::now());
    let t0 = Instant::now();
    ds.start_workflow(project, workflow, worker_group, tenant)
        .await?;
    let last_pending = Cell::new(t0);
    let instance = wait_until_with("the bench instance to finish", timeout, POLL, || {
        let before = &before;
        let last_pending = &last_pending;
        async move {
            let fresh = ds
                .instances(project, workflow)
                .await?
                .into_iter()
                .find(|i| !before.contains(&i.id));
            Ok::<_, DsError>(match fresh {
                Some(i) if i.is_finished() => Check::Ready(i),
                other => {
                    last_pending.set(Instant::now());
                    Check::Pending(format!("{:?}", other.map(|i| i.state)))
                }
            })
        }
    })
    .await?;
    let wall = t0.elapsed();
    let polling_bound = last_pending.get().elapsed().min(wall);
    ensure!(
        instance.state == "SUCCESS",
        "bench instance {} ended {}",
        instance.id,
        instance.state
    );
    let start = instance.start_time.as_deref().and_then(parse_time);
    let end = instance.end_time.as_deref().and_then(parse_time);
    let (Some(start), Some(end)) = (start, end) else {
        anyhow::bail!("instance {} has no start or end time", instance.id);
    };
    let to_std = |d: time::Duration| Duration::try_from(d).unwrap_or_default();
    // Server times are whole seconds; the request time is truncated the same way.
    let requested = requested_at.replace_nanosecond(0).unwrap_or(requested_at);
    // The server writes its local time without a zone: read the zone off this very instance.
    let offset = carbon_dolphinscheduler::server_offset(start, requested);
    let queued = to_std(start.assume_offset(offset) - requested);
    ds.delete_instance(project, instance.id).await?;
    Ok(Sample {
        wall,
        server: to_std(end - start),
        queued,
        polling_bound,
    })
}
