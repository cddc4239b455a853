//! `bench`: the benchmarks, each printed as a table of medians measured in this one run.
//!
//! 1. Cold `stack up` with everything installed (per service and in all).
//! 2. Per-trial harness overhead: the harness's own trial through nextest, as nextest times it.
//! 3. Fail-fast: the object store stopped, time until every `minio` trial has failed.
//!    3b. (`--only unreachable`, `bench_safety.rs`) a dead and a hung service of every HTTP suite against the real one.
//! 4. Full-suite wall time against the local stack.
//! 5. Trino: client wall time against Trino's own elapsed time for the smoke queries, the
//!    `trino` suite's wall time, and the local Trino's cold start (`--only trino` runs just
//!    this and restarts no other service).
//! 6. DolphinScheduler (`--only dolphinscheduler`, see `bench_dolphinscheduler.rs`): cold start,
//!    fail-fast while it is down, start to SUCCESS split into server and client time, and the
//!    suite's wall time; restarts no other service.
//! 7. Loki (`--only loki`, see `bench_loki.rs`): cold start, push-to-queryable and
//!    shipper-to-queryable latencies, the `loki` and `alerts` suites' wall times.
//! 8. Kubernetes (`--only kubernetes`, see `bench_kube.rs`): control plane cold start and warm
//!    restart, its memory, the `platform` suite's wall time; restarts no other service.
//!    The real node (`--only node`, see `bench_node.rs`): node start, pod create → Ready,
//!    resident memory of containerd, the kubelet and the shims.
//! 9. Reach (`--only reach`, see `bench_reach.rs`): the per-trial cost of `k8s://` references,
//!    Secrets and port-forwards (`local-k8s` against `local`); restarts nothing.
//! 10. Velero (`--only velero`, see `bench_velero.rs`): backup and restore as the client sees
//!     them against Velero's own timestamps; restarts nothing.
//! 11. The relocatable runner (`--only archive`, see `bench_archive.rs`): the archive's and the
//!     image's size and time, and a slice run from the archive against the same in the
//!     workspace; restarts nothing.

use carbon_config::FromTarget as _;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use carbon_config::Env;
use quick_junit::TestCaseStatus;

use crate::{nextest, report};

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many times to repeat the cheap measurements (overhead).
    #[arg(long, default_value_t = 7)]
    repeat: usize,
    /// How many times to repeat the expensive ones (stack, fail-fast, full suite).
    #[arg(long, default_value_t = 3)]
    repeat_slow: usize,
    /// Run only one section: `trino`, `dolphinscheduler`, `loki` (restarts only that service),
    /// `kubernetes` (restarts only the control plane), `unreachable` (a dead and a hung
    /// service for every HTTP suite; restarts nothing), `reach` (the per-trial cost of `k8s://` references;
    /// restarts nothing), `velero` (backup and restore latency; restarts nothing), or
    /// `archive` (the relocatable runner's size and run time against cargo's; restarts nothing).
    #[arg(long, value_parser = ["trino", "dolphinscheduler", "loki", "kubernetes", "node", "unreachable", "reach", "velero", "archive"])]
    only: Option<String>,
}

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub(crate) fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Each run's figure, for the "runs" column: `1.2, 0.9, 1.0`.
pub(crate) fn list(v: &[Duration]) -> String {
    v.iter()
        .map(|d| format!("{:.1}", d.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `package`'s trials `repeat` times through nextest, each run all green; returns each
/// run's wall time and the number of trials.
pub(crate) fn suite_walls(package: &str, repeat: usize) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut wall = Vec::new();
    let mut n = 0;
    for _ in 0..repeat {
        let (w, t) = nextest_run(&format!("package({package})"), &[])?;
        ensure!(
            t.iter().all(|(_, passed)| *passed),
            "a {package} trial failed during the benchmark"
        );
        n = t.len();
        wall.push(w);
    }
    Ok((wall, n))
}

/// Runs nextest on `filter` with the `selftest` profile; returns wall time and the per-trial
/// (time, passed) from its JUnit.
pub(crate) fn nextest_run(
    filter: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<(Duration, Vec<(Duration, bool)>)> {
    let mut cmd = nextest::run_command(&nextest::Runner::Cargo, "selftest", Some(filter), &[]);
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .env("E2E_STRICT", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let t0 = Instant::now();
    cmd.status().context("running cargo nextest")?;
    let wall = t0.elapsed();
    let junit = report::read(&nextest::junit_path(&Env::from_process(), "selftest"))?;
    let trials = junit
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .map(|c| {
            (
                c.time.unwrap_or_default(),
                matches!(c.status, TestCaseStatus::Success { .. }),
            )
        })
        .collect();
    Ok((wall, trials))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024 / 1024);
    format!("{cores} cores ({cpu}), {mem} GiB")
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    // Every section writes (trials, pushed samples) and most restart the stack's servers: a
    // read-only target gets nothing.
    let target = carbon_config::load()?;
    if target.settings.mode() == carbon_config::Mode::ReadOnly {
        println!(
            "bench: refused: it writes to the services it measures and restarts the local stack's servers, and target `{}` is read-only ([target] mode): nothing was sent",
            target.name
        );
        return Ok(ExitCode::from(2));
    }
    nextest::ensure_installed()?;
    println!("bench: machine {}", machine());
    println!("bench: building the test binaries first (not timed)");
    let built = crate::nextest::cargo()
        .current_dir(carbon_config::workspace_root())
        .args(["nextest", "run", "--workspace", "--no-run"])
        .status()?;
    ensure!(built.success(), "building the tests failed");
    if args.only.as_deref() == Some("trino") {
        trino(&env, &args).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.only.as_deref() == Some("kubernetes") {
        crate::bench_kube::run(&env, args.repeat_slow).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.only.as_deref() == Some("node") {
        crate::bench_node::run(&env, args.repeat, args.repeat_slow).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.only.as_deref() == Some("velero") {
        crate::bench_velero::run(&env, args.repeat).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.only.as_deref() == Some("reach") {
        crate::bench_reach::run(&env, args.repeat, args.repeat_slow).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.only.as_deref() == Some("dolphinscheduler") {
        crate::bench_dolphinscheduler::run(&env, args.repeat, args.repeat_slow).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.only.as_deref() == Some("unreachable") {
        let target = carbon_config::load()?;
        crate::bench_safety::run(args.repeat_slow, &target)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.only.as_deref() == Some("archive") {
        crate::bench_archive::run(args.repeat_slow)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.only.as_deref() == Some("loki") {
        crate::bench_loki::run(&env, args.repeat, args.repeat_slow).await?;
        return Ok(ExitCode::SUCCESS);
    }

    // 1. Cold stack up.
    let mut totals = Vec::new();
    let mut per_service: Vec<(&'static str, Vec<Duration>)> = Vec::new();
    for _ in 0..args.repeat_slow {
        carbon_stack::down(&env, false).await?;
        let t0 = Instant::now();
        let started = carbon_stack::up(&env).await?;
        totals.push(t0.elapsed());
        for s in started {
            match per_service.iter_mut().find(|(n, _)| *n == s.name) {
                Some((_, v)) => v.push(s.ready_after),
                None => per_service.push((s.name, vec![s.ready_after])),
            }
        }
    }
    println!(
        "\n## Cold `stack up` (installed; {} runs)\n",
        args.repeat_slow
    );
    println!("| service | median time to ready |\n|---|---|");
    for (name, v) in per_service {
        println!("| {name} | {} |", secs(median(v)));
    }
    println!("| **whole stack** | {} |", secs(median(totals)));

    // 2. Harness overhead.
    let filter = "test(=harness::smoke::context_carries_the_run_id_of_the_nextest_run)";
    let (mut trial, mut wall) = (Vec::new(), Vec::new());
    for _ in 0..args.repeat {
        let (w, t) = nextest_run(filter, &[])?;
        ensure!(t.len() == 1 && t[0].1, "the overhead trial did not pass");
        trial.push(t[0].0);
        wall.push(w);
    }
    println!(
        "\n## Per-trial harness overhead (empty trial through nextest; {} runs)\n",
        args.repeat
    );
    println!("| measure | median |\n|---|---|");
    println!(
        "| trial process, as nextest times it (spawn, target load, runtime, exit) | {} |",
        secs(median(trial))
    );
    println!(
        "| whole `cargo nextest run` invocation (cargo, listing, the trial) | {} |",
        secs(median(wall))
    );

    // 3. Fail-fast with the object store stopped.
    let mut fail_wall = Vec::new();
    let mut slowest = Vec::new();
    let mut count = 0;
    for _ in 0..args.repeat_slow {
        carbon_stack::stop_service(&env, "objectstore").await?;
        let measured = nextest_run("package(suite-minio)", &[]);
        carbon_stack::up(&env).await?; // restore the store whatever the measurement did
        let (w, t) = measured?;
        ensure!(
            !t.is_empty() && t.iter().all(|(_, passed)| !passed),
            "with the store stopped every minio trial must fail"
        );
        count = t.len();
        slowest.push(t.iter().map(|(d, _)| *d).max().unwrap_or_default());
        fail_wall.push(w);
    }
    println!(
        "\n## Fail-fast: object store stopped ({} runs, {count} minio trials each; goal 10 s)\n",
        args.repeat_slow
    );
    println!("| measure | median |\n|---|---|");
    println!("| slowest trial to fail | {} |", secs(median(slowest)));
    println!(
        "| all minio trials failed (nextest wall time) | {} |",
        secs(median(fail_wall))
    );

    // 3b. A dead and a hung store: what one unreachable service costs a whole run.
    let target = carbon_config::load()?;
    crate::bench_safety::run(args.repeat_slow, &target)?;

    // 4. Full suite.
    let mut full = Vec::new();
    let mut trials = 0;
    for _ in 0..args.repeat_slow {
        let (w, t) = nextest_run("package(/^suite-/)", &[])?;
        ensure!(
            t.iter().all(|(_, passed)| *passed),
            "a suite trial failed during the benchmark"
        );
        trials = t.len();
        full.push(w);
    }
    println!(
        "\n## Full suite against the local stack ({} runs, {trials} trials)\n",
        args.repeat_slow
    );
    println!("| measure | median |\n|---|---|");
    println!("| `cargo nextest run` wall time | {} |", secs(median(full)));

    // 5. Trino.
    trino(&env, &args).await?;

    // 6. DolphinScheduler.
    crate::bench_dolphinscheduler::run(&env, args.repeat, args.repeat_slow).await?;

    // 7. Loki.
    crate::bench_loki::run(&env, args.repeat, args.repeat_slow).await?;
    crate::bench_velero::run(&env, args.repeat).await?;
    Ok(ExitCode::SUCCESS)
}

/// The smoke queries whose client and server times are compared.
const TRINO_SMOKE_QUERIES: [&str; 3] = [
    "SELECT 1",
    "SELECT count(*) FROM tpch.tiny.nation",
    "SHOW CATALOGS",
];

/// Section 5: Trino's client/server times, its suite, its cold start.
async fn trino(env: &Env, args: &Args) -> anyhow::Result<()> {
    let target = carbon_config::load_with(env, &carbon_config::Paths::from_env(env))?;
    if target.trino.is_none() {
        println!(
            "\n## Trino: skipped (target `{}` has no [trino] section)",
            target.name
        );
        return Ok(());
    }
    let client = carbon_trino::TrinoClient::from_target(&target)?;
    for sql in TRINO_SMOKE_QUERIES {
        client.execute(sql).await?; // warm-up, not timed
    }
    println!(
        "\n## Trino: client wall time vs Trino's reported elapsed time ({} runs each)\n",
        args.repeat
    );
    println!(
        "| query | client wall (median) | server elapsed (median) | ratio client/server |\n|---|---|---|---|"
    );
    for sql in TRINO_SMOKE_QUERIES {
        let (mut wall, mut server) = (Vec::new(), Vec::new());
        for _ in 0..args.repeat {
            let out = client.execute(sql).await?;
            wall.push(out.client_elapsed);
            server.push(out.server_elapsed);
        }
        let (w, s) = (median(wall), median(server));
        println!(
            "| `{sql}` | {} | {} | {:.2} |",
            secs(w),
            secs(s),
            w.as_secs_f64() / s.as_secs_f64().max(0.001)
        );
    }

    let mut suite = Vec::new();
    let mut count = 0;
    for _ in 0..args.repeat_slow {
        let (w, t) = nextest_run("package(suite-trino)", &[])?;
        ensure!(
            !t.is_empty() && t.iter().all(|(_, passed)| *passed),
            "a trino trial failed during the benchmark"
        );
        count = t.len();
        suite.push(w);
    }
    println!(
        "\n## `trino` suite against the local stack ({} runs, {count} trials)\n",
        args.repeat_slow
    );
    println!("| measure | median |\n|---|---|");
    println!(
        "| `cargo nextest run` wall time | {} |",
        secs(median(suite))
    );

    let (mut info, mut query) = (Vec::new(), Vec::new());
    for _ in 0..args.repeat_slow {
        carbon_stack::stop_service(env, "trino").await?;
        let t0 = Instant::now();
        let started = carbon_stack::up(env).await?;
        query.push(t0.elapsed());
        if let Some(s) = started.iter().find(|s| s.name == "trino") {
            info.push(s.ready_after);
        }
    }
    println!(
        "\n## Local Trino cold start (installed; {} runs)\n",
        args.repeat_slow
    );
    println!("| measure | median |\n|---|---|");
    println!(
        "| start to `/v1/info` reporting `starting:false` | {} |",
        secs(median(info))
    );
    println!(
        "| start until `stack up` returns (`starting:false`, then its probe query answered) | {} |",
        secs(median(query))
    );
    Ok(())
}
