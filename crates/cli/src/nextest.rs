//! Driving cargo-nextest: make sure it is installed, run it, count the trials it skips.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use carbon_config::Env;

/// The cargo-nextest release `validate` installs when none is present.
pub const NEXTEST_VERSION: &str = "0.9.151";
/// How long `cargo install cargo-nextest` may take (about 10 minutes on two cores).
const NEXTEST_INSTALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1800);

/// Installs cargo-nextest with cargo unless `cargo nextest` already answers.
///
/// # Errors
/// When `cargo install` fails.
pub fn ensure_installed() -> anyhow::Result<()> {
    let present = Command::new("cargo")
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    println!("validate: installing cargo-nextest {NEXTEST_VERSION} with cargo (once per machine)");
    let mut install = Command::new("cargo");
    install.args([
        "install",
        "--locked",
        "cargo-nextest",
        "--version",
        NEXTEST_VERSION,
    ]);
    let run = carbon_stack::run_with_deadline(&mut install, NEXTEST_INSTALL_TIMEOUT, None)
        .context("running cargo install")?;
    if let Some(failure) = run.failure(NEXTEST_INSTALL_TIMEOUT) {
        bail!("cargo install cargo-nextest {NEXTEST_VERSION} {failure}");
    }
    Ok(())
}

/// Where nextest writes the JUnit report of `profile`.
pub fn junit_path(env: &Env, profile: &str) -> PathBuf {
    let target = env
        .get("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| carbon_config::workspace_root().join("target"));
    target.join("nextest").join(profile).join("junit.xml")
}

/// `cargo nextest run --workspace --profile <profile>` with an optional filter expression.
pub fn run_command(profile: &str, filter: Option<&str>, extra: &[String]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(carbon_config::workspace_root()).args([
        "nextest",
        "run",
        "--workspace",
        "--profile",
        profile,
    ]);
    if let Some(f) = filter {
        cmd.args(["-E", f]);
    }
    cmd.args(extra);
    cmd
}

/// Names of the trials nextest would skip as ignored under `filter` (for the summary).
///
/// # Errors
/// When `cargo nextest list` fails.
pub fn ignored_trials(filter: Option<&str>) -> anyhow::Result<Vec<String>> {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(carbon_config::workspace_root()).args([
        "nextest",
        "list",
        "--workspace",
        "--run-ignored",
        "only",
        "--message-format",
        "oneline",
    ]);
    if let Some(f) = filter {
        cmd.args(["-E", f]);
    }
    let out = cmd
        .stderr(Stdio::null())
        .output()
        .context("running cargo nextest list")?;
    if !out.status.success() {
        bail!("cargo nextest list failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.trim().is_empty())
        .collect())
}
