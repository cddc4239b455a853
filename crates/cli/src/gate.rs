//! `gate`: the acceptance gate over a finished run. Reads the JUnit report `validate` completed,
//! evaluates it with the target's `[gate]` and `[platform]` settings (`carbon_gate`), writes
//! `report.md` and `report.json` beside it, appends `report.md` to `$GITHUB_STEP_SUMMARY` when
//! that is set, prints the readiness table and ends with the verdict line; the exit code is the
//! verdict's (0 GO, 3 a required check failed, 4 below `min_readiness`, 5 inconclusive, 2 no
//! run to gate).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use carbon_config::{Env, Target};
use carbon_gate::{EXIT_NOT_RUN, Evaluation, Run, Settings, report};

/// Arguments of `gate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run's directory, holding the `junit.xml` that `validate` completed. Default: the last
    /// `validate` run of the target, `target/nextest/ci/<target>/`.
    #[arg(long, value_name = "DIR")]
    run: Option<PathBuf>,
}

/// What a gate wrote.
#[derive(Debug)]
pub struct Gated {
    /// The evaluation.
    pub evaluation: Evaluation,
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.json`.
    pub json: PathBuf,
}

/// The directory `validate` writes the target's completed JUnit to.
pub fn run_dir(env: &Env, target: &Target) -> PathBuf {
    crate::nextest::junit_path(env, "ci")
        .parent()
        .map(|p| p.join(&target.name))
        .unwrap_or_else(|| PathBuf::from(&target.name))
}

/// Gates the run in `dir` with `target`'s settings and writes the reports beside its JUnit.
///
/// # Errors
/// The JUnit is missing, unreadable or not completed by `validate`; a report cannot be written.
pub fn gate(env: &Env, target: &Target, dir: &Path) -> anyhow::Result<Gated> {
    let run = Run::read(&dir.join("junit.xml"))?;
    if run.target != target.name && !run.target.starts_with(&format!("{} ", target.name)) {
        println!(
            "gate: the run was against `{}`; judged with the settings of target `{}` ({})",
            run.target,
            target.name,
            target.source.display()
        );
    }
    let evaluation = carbon_gate::evaluate(&run, &Settings::from_target(target));
    let markdown = dir.join("report.md");
    let json = dir.join("report.json");
    let md = report::markdown(&evaluation);
    std::fs::write(&markdown, &md).with_context(|| format!("writing {}", markdown.display()))?;
    let body = serde_json::to_string_pretty(&report::json(&evaluation))
        .context("serialising report.json")?;
    std::fs::write(&json, body + "\n").with_context(|| format!("writing {}", json.display()))?;
    if let Some(summary) = env.get("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .and_then(|mut f| f.write_all(format!("{md}\n").as_bytes()))
            .with_context(|| format!("appending report.md to $GITHUB_STEP_SUMMARY ({summary})"))?;
    }
    Ok(Gated {
        evaluation,
        markdown,
        json,
    })
}

/// Prints where the reports are, the table and the reasons; the last line is the verdict.
pub fn print(gated: &Gated) {
    println!(
        "\ngate: {} and {}",
        gated.markdown.display(),
        gated.json.display()
    );
    println!("{}", report::text(&gated.evaluation));
}

/// The last line when there is no run to gate (exit code 2).
pub fn not_run(e: &anyhow::Error) -> ExitCode {
    println!("gate: {e:#}");
    println!("gate: no verdict: there is no completed run to gate (exit code {EXIT_NOT_RUN})");
    ExitCode::from(EXIT_NOT_RUN)
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = match std::env::current_dir() {
        Ok(cwd) => carbon_config::pin_target(&Env::from_process(), &cwd),
        Err(_) => Env::from_process(),
    };
    let paths = carbon_config::Paths::from_env(&env);
    let target = match carbon_config::load_with(&env, &paths).context("loading the target") {
        Ok(t) => t,
        Err(e) => return Ok(not_run(&e)),
    };
    let dir = args.run.unwrap_or_else(|| run_dir(&env, &target));
    match gate(&env, &target, &dir) {
        Ok(gated) => {
            print(&gated);
            Ok(ExitCode::from(gated.evaluation.exit_code))
        }
        Err(e) => Ok(not_run(&e)),
    }
}
