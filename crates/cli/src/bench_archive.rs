//! The relocatable runner's section of `bench` (`bench --only archive`; restarts nothing):
//!
//! 1. `carbon-e2e archive`: its time and the sizes of what it writes;
//! 2. `carbon-e2e image` over that runner: its time and the OCI archive's size;
//! 3. the same slice of trials (the victoriametrics and minio smoke tiers) run from the archive
//!    (a cleared environment, cargo off the `PATH`, outside the workspace), by `validate` in the
//!    workspace, and by a bare `cargo nextest run`, alternately, `repeat` times each: medians
//!    and their ratios.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};

use crate::archive::mib;
use crate::bench::{list, median, nextest_run, secs};

const SLICE: [&str; 2] = ["victoriametrics::smoke::", "minio::smoke::"];
const FILTER: &str = "(package(suite-victoriametrics) | package(suite-minio)) & test(/::smoke::/)";

/// Runs `cmd` (output discarded); its wall time, or why the slice failed.
fn timed(what: &str, mut cmd: Command) -> anyhow::Result<Duration> {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let t0 = Instant::now();
    let status = cmd.status().with_context(|| format!("running {what}"))?;
    let took = t0.elapsed();
    ensure!(status.success(), "the slice failed: {what}");
    Ok(took)
}

/// One run of the slice from the runner directory: a cleared environment, cargo off the
/// `PATH`, a working directory outside the workspace.
fn from_archive(runner: &Path, elsewhere: &Path) -> anyhow::Result<Duration> {
    #[allow(clippy::disallowed_methods)] // passed on to the runner, not configuration
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    let mut cmd = Command::new(runner.join("bin/carbon-e2e"));
    cmd.current_dir(elsewhere)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .args(["validate", "--archive-file"])
        .arg(runner.join(crate::archive::ARCHIVE))
        .args(["--no-stack", "--no-reap", "--"])
        .args(SLICE);
    timed("the runner's validate from the archive", cmd)
}

/// One run of the slice by `validate` in the workspace (cargo's nextest), with the
/// workspace's build of this binary.
fn from_workspace() -> anyhow::Result<Duration> {
    let root = carbon_config::workspace_root();
    let mut cmd = Command::new(root.join("target/debug/carbon-e2e"));
    cmd.current_dir(&root)
        .args(["validate", "--no-stack", "--no-reap", "--"])
        .args(SLICE);
    timed("validate in the workspace", cmd)
}

pub(crate) fn run(repeat: usize) -> anyhow::Result<()> {
    let tmp = std::env::temp_dir().join(format!("carbon-e2e-bench-archive-{}", std::process::id()));
    let runner = tmp.join("runner");
    let elsewhere = tmp.join("elsewhere");
    std::fs::create_dir_all(&elsewhere)?;

    let t0 = Instant::now();
    crate::archive::run(crate::archive::Args::new(&runner))?;
    let archived = t0.elapsed();
    let image = tmp.join("runner.oci.tar");
    let t1 = Instant::now();
    crate::image::run(crate::image::Args::new(&runner, &image))?;
    let imaged = t1.elapsed();

    let mut archive_runs = Vec::new();
    let mut validate_runs = Vec::new();
    let mut cargo_runs = Vec::new();
    let mut trials = 0;
    for _ in 0..repeat {
        archive_runs.push(from_archive(&runner, &elsewhere)?);
        validate_runs.push(from_workspace()?);
        let (wall, t) = nextest_run(FILTER, &[])?;
        let slice: Vec<_> = t.iter().collect();
        ensure!(
            slice.iter().all(|(_, passed)| *passed),
            "a trial failed under cargo nextest run"
        );
        trials = slice.len();
        cargo_runs.push(wall);
    }
    let a = median(archive_runs.clone());
    let v = median(validate_runs.clone());
    let c = median(cargo_runs.clone());
    println!("\n## The relocatable runner\n");
    println!("| what | figure |\n|---|---|");
    println!(
        "| `carbon-e2e archive` (build checked, suites archived, runner written) | {} |",
        secs(archived)
    );
    println!(
        "| `suites.tar.zst` | {} |",
        mib(&runner.join(crate::archive::ARCHIVE))
    );
    println!(
        "| `bin/carbon-e2e` + `bin/cargo-nextest` | {} + {} |",
        mib(&runner.join("bin/carbon-e2e")),
        mib(&runner.join("bin/cargo-nextest"))
    );
    println!(
        "| `carbon-e2e image` (OCI archive written) | {} |",
        secs(imaged)
    );
    println!("| runner image (OCI archive) | {} |", mib(&image));
    println!(
        "\nThe victoriametrics and minio smoke tiers ({trials} trials; `validate` also lists and plans every suite and writes the report and manifest), {repeat} runs each, alternating:\n"
    );
    println!("| how | runs (s) | median |\n|---|---|---|");
    println!(
        "| from the archive, no cargo (extraction included) | {} | {} |",
        list(&archive_runs),
        secs(a)
    );
    println!(
        "| `validate` in the workspace (cargo's nextest, built) | {} | {} |",
        list(&validate_runs),
        secs(v)
    );
    println!(
        "| `cargo nextest run` in the workspace (built; no plans, no report) | {} | {} |",
        list(&cargo_runs),
        secs(c)
    );
    let ratio = |x: Duration, y: Duration| x.as_secs_f64() / y.as_secs_f64().max(f64::EPSILON);
    println!(
        "\nratio archive ÷ validate in the workspace: {:.2}; archive ÷ cargo nextest run: {:.2}",
        ratio(a, v),
        ratio(a, c)
    );
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
