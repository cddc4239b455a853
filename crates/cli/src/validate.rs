//! `validate`: the main job. Local stack up (for a target on the local stack: `kind = "local"`
//! or `local_stack = true`), reap leftovers (local stack only, unless `--reap`), run the suites through nextest, write the JUnit report for the target
//! (every trial that did not run included, with its reason), summarise, end with one plain
//! count line; with `--gate`, then the acceptance gate's table and verdict (`gate.rs`), whose
//! exit code it returns.

use std::process::ExitCode;

use anyhow::Context as _;
use carbon_config::Env;

use quick_junit::Report;

use crate::nextest::{self, PlannedTrial};
use crate::{reap, report};

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also run the workspace's own unit and self tests, not only the suites.
    #[arg(long)]
    workspace: bool,
    /// Fail, rather than skip, trials whose service the target does not configure.
    #[arg(long)]
    strict: bool,
    /// The nextest profile (`ci` writes JUnit; `smoke` runs the smoke tier only).
    #[arg(long, default_value = "ci")]
    profile: String,
    /// Do not bring up the local stack (it must be running already).
    #[arg(long)]
    no_stack: bool,
    /// Reap leftovers of killed runs before running (automatic on a `local` target only).
    #[arg(long, conflicts_with = "no_reap")]
    reap: bool,
    /// Do not reap before running, even on the local stack (a run beside others that reap).
    #[arg(long)]
    no_reap: bool,
    /// Print what each trial would do on this target (run, skip, refused, live-only; what it
    /// creates and how it is cleaned up) and exit: no request is sent, nothing is started.
    #[arg(long)]
    plan: bool,
    /// Write to a target whose file makes it read-only: this run is read-write (sets
    /// `E2E_ALLOW_WRITES=1` and, unless given, `E2E_TARGET_MODE=read-write` for every trial).
    /// The environment alone may only make a target more restrictive; this flag is printed in
    /// the summary and names the JUnit report.
    #[arg(long)]
    allow_writes: bool,
    /// Gate the run once it ends (`carbon-e2e gate`): the readiness table and a GO / NO-GO /
    /// INCONCLUSIVE verdict, report.md and report.json beside the JUnit; the exit code is then
    /// the verdict's (0 GO, 3 a required check failed, 4 below `[gate] min_readiness`,
    /// 5 inconclusive, 2 no run to gate). Without it, the exit code is nextest's.
    #[arg(long)]
    gate: bool,
    /// With `--gate`: a run to compare with (its directory), as `carbon-e2e gate --baseline`.
    #[arg(long, value_name = "DIR", requires = "gate")]
    baseline: Option<std::path::PathBuf>,
    /// With `--gate`: also pack the run's evidence (junit.xml, report.md, report.json,
    /// run.json) into one `.tar.gz` beside the run's directory.
    #[arg(long, requires = "gate")]
    bundle: bool,
    /// With `--gate`: also push the run's results to the target's VictoriaMetrics (as `[report]
    /// push_results = true` does; `carbon_gate::metrics` lists the series): a write, refused
    /// on a read-only target without the opt-in `push-results`.
    #[arg(long, requires = "gate")]
    push_results: bool,
    /// `human` (default) or `json`: the summary as one JSON object on the last line.
    #[arg(long, default_value = "human", value_parser = ["human", "json"])]
    message_format: String,
    /// Run the suites from this `cargo nextest archive` (`carbon-e2e archive` writes one into a
    /// runner directory) with the runner's own `cargo-nextest`: no cargo, no sources, no build.
    /// The archive's workspace is remapped to the runner directory and extracted into its
    /// `work/`; the JUnit report and the run's reports go to its `target/nextest/`.
    #[arg(long, value_name = "FILE", conflicts_with = "workspace")]
    archive_file: Option<std::path::PathBuf>,
    /// More arguments for `nextest run`.
    #[arg(last = true)]
    nextest_args: Vec<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // A relative E2E_TARGET path is this directory's; the trials, which run in their package's
    // directory, are given it as an absolute path.
    let env = match std::env::current_dir() {
        Ok(cwd) => carbon_config::pin_target(&Env::from_process(), &cwd),
        Err(_) => Env::from_process(),
    };
    let mut widen: Vec<(&str, &str)> = Vec::new();
    if args.allow_writes {
        widen.push(("E2E_ALLOW_WRITES", "1"));
        if env.get("E2E_TARGET_MODE").is_none() {
            widen.push(("E2E_TARGET_MODE", "read-write"));
        }
    }
    let env = Env::from_pairs(widen.iter().copied()).layered_over(&env);
    let paths = carbon_config::Paths::from_env(&env);
    let target = carbon_config::load_with(&env, &paths).context("loading the target")?;
    println!(
        "validate: target `{}` ({:?}, {}) from {}",
        target.name,
        target.settings.kind,
        target.settings.mode().as_str(),
        target.source.display()
    );
    let allow_writes_note = target.allow_writes.then(|| {
        format!(
            "validate: --allow-writes: target `{}` is read-only in its file; this run may write to it",
            target.name
        )
    });
    if let Some(note) = &allow_writes_note {
        println!("{note}");
    }
    let strict = args.strict || carbon_config::strict(&env);
    // One run id for every trial process, known here so the plan, the report and the run's own
    // state share it.
    let run_id = match env.get("E2E_RUN_ID") {
        Some(_) => carbon_config::run_id(&env)?,
        None => format!("{:08x}", rand::random::<u32>()),
    };
    let strict_env = if strict { "1" } else { "" };
    let target_file = target.source.to_string_lossy().into_owned();
    let mut child_env = vec![
        ("E2E_RUN_ID", run_id.as_str()),
        ("E2E_STRICT", strict_env),
        ("E2E_TARGET", target_file.as_str()),
    ];
    child_env.extend(widen.iter().copied());

    let runner = match &args.archive_file {
        Some(file) => {
            let file = std::path::absolute(file)
                .with_context(|| format!("resolving {}", file.display()))?;
            println!(
                "validate: from the archive {} (runner {}, work directory {})",
                file.display(),
                carbon_config::workspace_root().display(),
                nextest::work_dir().display()
            );
            nextest::Runner::Archive { file }
        }
        None => nextest::Runner::Cargo,
    };
    runner.ensure_installed()?;
    if args.plan {
        let binaries = nextest::suite_binaries(&runner, &args.profile, &child_env)?;
        let plans = nextest::plans(&binaries, &child_env)?;
        print_plan(&plans);
        if let Some(bucket) = target.report.as_ref().and_then(|r| r.bucket.as_deref()) {
            let allowed = target.settings.mode() == carbon_config::Mode::ReadWrite
                && target.settings.allows("upload-report");
            println!(
                "plan: with --gate --bundle the evidence bundle is uploaded to s3://{bucket}/{}{}/<date>-<run id>/evidence.tar.gz, a write: {}",
                carbon_config::REPORT_PREFIX,
                target.name,
                if allowed {
                    "allowed (read-write, opt-in upload-report)"
                } else {
                    "refused here (needs a read-write target and opt-in upload-report)"
                }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }

    if target.settings.uses_local_stack() && !args.no_stack {
        let started = carbon_stack::up(&env)
            .await
            .context("bringing up the local stack")?;
        crate::print_started(&started);
    }
    // Reload: the stack may have just written the credentials the target reads.
    let target = carbon_config::load_with(&env, &paths).context("loading the target")?;
    if args.no_reap {
        println!("validate: not reaping (--no-reap)");
    } else if target.settings.uses_local_stack() || args.reap {
        let outcome = reap::reap(&target, &reap::Selection::before_run()).await;
        if outcome.failed > 0 {
            println!("validate: reaping leftovers failed in part (continuing)");
        }
    } else {
        println!(
            "validate: not reaping on a {} target (pass --reap; `carbon-e2e reap --dry-run` lists what would go)",
            target.settings.mode().as_str()
        );
    }

    let binaries = nextest::suite_binaries(&runner, &args.profile, &child_env)?;
    let plans = nextest::plans(&binaries, &child_env)?;
    let filter = (!args.workspace).then_some("package(/^suite-/)");
    // The gate retries a failed trial ([gate] retries, default once): one that passes on a
    // retry is reported flaky, and [gate] flaky decides whether that blocks. Without --gate a
    // failure is a failure (the profile's retries = 0).
    let mut nextest_args = args.nextest_args.clone();
    let retries = target.gate.as_ref().map_or(1, |g| g.retries);
    if args.gate && !nextest_args.iter().any(|a| a.starts_with("--retries")) {
        println!(
            "validate: --gate: a failed trial is retried {retries} time(s) ([gate] retries); one that then passes is flaky"
        );
        nextest_args.splice(0..0, ["--retries".to_string(), retries.to_string()]);
    }
    let mut cmd = nextest::run_command(&runner, &args.profile, filter, &nextest_args);
    cmd.envs(child_env.iter().copied());
    println!("validate: run id {run_id}");
    // The previous run's report must not pass for this one's.
    let junit = nextest::junit_path(&env, &args.profile);
    match std::fs::remove_file(&junit) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing the previous {}", junit.display()));
        }
        _ => {}
    }
    let started = std::time::SystemTime::now();
    let (status, stopped) = run_forwarding_signals(cmd, target.settings.cleanup_budget()).await?;

    let mut r = report::read_fresh(&junit, started).unwrap_or_else(|e| {
        // No report from this run: every trial planned to run is then a failure, named.
        println!(
            "validate: no JUnit report for profile `{}`: {e:#}",
            args.profile
        );
        Report::new("nextest-run")
    });
    let name = if target.allow_writes {
        format!("{} (read-write by --allow-writes)", target.name)
    } else {
        target.name.clone()
    };
    report::complete(&mut r, &name, &plans, strict, !args.nextest_args.is_empty());
    let path = junit
        .parent()
        .map(|p| p.join(&target.name).join("junit.xml"))
        .unwrap_or_else(|| junit.clone());
    report::write(&r, &path)?;
    let ended = std::time::SystemTime::now();
    // A manifest left by an earlier run must not describe this one.
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_file(dir.join("run.json"));
    }
    // What was validated: each component's version as its server reports it (one read-only
    // request per service), the platform's images and ArgoCD revisions. A stopped run skips it.
    if stopped.is_none() {
        let components = crate::versions::collect(&target).await;
        let m = crate::manifest::build(
            &crate::manifest::RunFacts {
                run_id: &run_id,
                target: &target.name,
                profile: &args.profile,
                started,
                ended,
            },
            components,
        );
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        match crate::manifest::write(dir, &m) {
            Ok(()) if args.message_format == "human" => {
                crate::versions::print(&m.components);
            }
            Ok(()) => {}
            Err(e) => println!("validate: {e:#}"),
        }
    }
    let gated = args.gate.then(|| {
        crate::gate::gate(
            &env,
            &target,
            path.parent().unwrap_or(std::path::Path::new(".")),
            args.baseline.as_deref(),
        )
    });
    let mut summary = report::summarise(&r);
    if args.message_format == "human" {
        report::print(&summary);
        println!("\nJUnit report: {}", path.display());
    }
    let report_path = Some(path);
    if (!status.success() || stopped.is_some()) && summary.failed() == 0 {
        summary.extra_failures = 1; // nextest failed outside any trial: never report green
    }
    if let Some(signal) = stopped {
        println!(
            "validate: stopped by {signal}: the trials that were running ran their cleanups; `carbon-e2e reap --run {run_id}` removes anything a cleanup named as left"
        );
    }
    let _ = std::fs::remove_dir_all(paths.run_state(&run_id));
    if args.message_format == "json" {
        let mut json = summary.to_json(&target.name, &run_id, report_path.as_deref());
        json["allow_writes"] = target.allow_writes.into();
        match &gated {
            Some(Ok(g)) => {
                let e = &g.evaluation;
                json["gate"] = serde_json::json!({
                    "verdict": e.verdict.to_string(),
                    "exit_code": e.exit_code,
                    "readiness": e.readiness,
                    "min_readiness": e.min_readiness,
                    "reasons": e.reasons,
                    "report_md": g.markdown,
                    "report_json": g.json,
                });
            }
            Some(Err(e)) => {
                json["gate"] = serde_json::json!({
                    "verdict": null,
                    "exit_code": carbon_gate::EXIT_NOT_RUN,
                    "error": format!("{e:#}"),
                });
            }
            None => {}
        }
        println!("{json}");
    } else {
        if let Some(note) = &allow_writes_note {
            println!("{note}");
        }
        println!(
            "validate: not run: {} skipped (service not configured), {} refused by policy, {} live-only, {} not selected",
            summary.count("skip"),
            summary.count("refused"),
            summary.count("live-only"),
            summary.count("not-selected")
        );
        println!(
            "validate: {} passed, {} failed, {} skipped",
            summary.passed(),
            summary.failed(),
            summary.not_run()
        );
    }
    if let Some(gated) = gated {
        let human = args.message_format == "human";
        return Ok(match (gated, stopped) {
            // A stopped run is incomplete: no verdict on it.
            (_, Some(signal)) => {
                if human {
                    println!(
                        "gate: no verdict: the run was stopped by {signal} (exit code {})",
                        carbon_gate::EXIT_NOT_RUN
                    );
                }
                ExitCode::from(carbon_gate::EXIT_NOT_RUN)
            }
            (Ok(g), None) => {
                let dir = g.markdown.parent().unwrap_or(std::path::Path::new("."));
                if args.bundle {
                    crate::gate::bundle_and_upload(&target, dir, &g.evaluation).await;
                }
                crate::gate::push_if_asked(&target, dir, &g.evaluation, args.push_results).await;
                if human {
                    crate::gate::print(&g);
                }
                ExitCode::from(g.evaluation.exit_code)
            }
            (Err(e), None) if human => crate::gate::not_run(&e),
            (Err(_), None) => ExitCode::from(carbon_gate::EXIT_NOT_RUN),
        });
    }
    Ok(if status.success() && stopped.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_plan(plans: &[PlannedTrial]) {
    println!("\nplan: no request is sent; each trial and what it would do on this target\n");
    for p in plans {
        let status = match p.status.as_str() {
            "run" => "RUN".to_string(),
            other => other.to_uppercase(),
        };
        println!("{status:<10} {}", p.trial);
        if !p.reason.is_empty() {
            println!("           why: {}", p.reason);
        }
        if let Some(kind) = &p.opt_in {
            println!("           heavy or disruptive: needs opt-in `{kind}`");
        }
        match (&p.creates, &p.cleanup) {
            (Some(c), Some(k)) => {
                println!("           creates: {c}");
                println!("           cleanup: {k}");
            }
            _ => println!("           creates: nothing (reads only)"),
        }
    }
    let count = |s: &str| plans.iter().filter(|p| p.status == s).count();
    println!(
        "\nplan: {} run, {} skip, {} refused, {} live-only ({} write)",
        count("run"),
        count("skip"),
        count("refused"),
        count("live-only"),
        plans
            .iter()
            .filter(|p| p.status == "run" && p.creates.is_some())
            .count()
    );
}

/// Runs nextest in a process group of its own and forwards a SIGTERM or SIGINT this process
/// receives to it, once (a CI cancel may signal only the top process; a terminal's Ctrl-C then
/// reaches nextest once, not twice), then waits for it: nextest stops the trials, each runs its
/// cleanups within the budget. Past the budget and a minute's margin nextest is killed. Returns
/// its exit status and the signal, if one came.
async fn run_forwarding_signals(
    mut cmd: std::process::Command,
    cleanup_budget: std::time::Duration,
) -> anyhow::Result<(std::process::ExitStatus, Option<&'static str>)> {
    use std::os::unix::process::CommandExt as _;
    cmd.process_group(0);
    let child = cmd.spawn().context("running cargo nextest")?;
    let pid = rustix::process::Pid::from_child(&child);
    let mut waiter = tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.wait()
    });
    let signal = tokio::select! {
        status = &mut waiter => return Ok((status.context("waiting for nextest")??, None)),
        signal = carbon_core::signal::stopped() => signal,
    };
    let forwarded = if signal == "SIGINT" {
        rustix::process::Signal::INT
    } else {
        rustix::process::Signal::TERM
    };
    let limit = cleanup_budget + std::time::Duration::from_secs(60);
    println!(
        "validate: received {signal}: forwarded to nextest, which stops the trials; waiting up to {limit:?} for their cleanups (target.cleanup_budget_secs + 60 s)"
    );
    let _ = rustix::process::kill_process(pid, forwarded);
    let status = match tokio::time::timeout(limit, &mut waiter).await {
        Ok(status) => status.context("waiting for nextest")??,
        Err(_) => {
            println!("validate: nextest did not end within {limit:?}: killing it");
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            waiter.await.context("waiting for nextest")??
        }
    };
    Ok((status, Some(signal)))
}
