//! `validate`: the main job. Local stack up (for a `local` target), reap leftovers, run the
//! suites through nextest, summarise the JUnit report, end with one plain count line.

use std::process::ExitCode;

use anyhow::Context as _;
use carbon_config::{Env, Service, TargetKind};

use crate::{nextest, reap, report};

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
    /// More arguments for `cargo nextest run`.
    #[arg(last = true)]
    nextest_args: Vec<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let target = carbon_config::load().context("loading the target")?;
    println!(
        "validate: target `{}` ({:?}) from {}",
        target.name,
        target.settings.kind,
        target.source.display()
    );
    if target.settings.kind == TargetKind::Local && !args.no_stack {
        let started = carbon_stack::up(&env)
            .await
            .context("bringing up the local stack")?;
        crate::print_started(&started);
    }
    // Reload: the stack may have just written the credentials the target reads.
    let target = carbon_config::load().context("loading the target")?;
    // Several services can share a section (and so a reason): say each reason once.
    let mut reasons: Vec<String> = Vec::new();
    for service in Service::ALL {
        if let Err(reason) = target.service_configured(service)
            && !reasons.contains(&reason)
        {
            println!(
                "validate: skipping trials that need {}: {reason}",
                service.section()
            );
            reasons.push(reason);
        }
    }
    if let Err(e) = reap::reap(&target, reap::DEFAULT_AGE).await {
        println!("validate: reaping leftovers failed (continuing): {e:#}");
    }

    nextest::ensure_installed()?;
    let filter = (!args.workspace).then_some("package(/^suite-/)");
    let mut cmd = nextest::run_command(&args.profile, filter, &args.nextest_args);
    if args.strict {
        cmd.env("E2E_STRICT", "1");
    }
    let status = cmd.status().context("running cargo nextest")?;

    let junit = nextest::junit_path(&env, &args.profile);
    let (mut passed, mut failed) = (0, 0);
    match report::read(&junit) {
        Ok(r) => {
            let (rows, failures) = report::summarise(&r);
            report::print(&rows, &failures);
            passed = rows.iter().map(|r| r.passed).sum();
            failed = rows.iter().map(|r| r.failed).sum();
            println!("\nJUnit report: {}", junit.display());
        }
        Err(e) => println!(
            "validate: no JUnit report for profile `{}`: {e:#}",
            args.profile
        ),
    }
    // In strict mode only live-only trials (`Suite::live_only`) are still ignored: count them.
    let skipped = nextest::ignored_trials(filter, args.strict || carbon_config::strict(&env))
        .map(|t| t.len())
        .unwrap_or(0);
    if !status.success() && failed == 0 {
        failed = 1; // nextest failed before or outside any trial (build error, timeout): never report green
    }
    println!("validate: {passed} passed, {failed} failed, {skipped} skipped");
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
