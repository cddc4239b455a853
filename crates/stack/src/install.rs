//! Installers: Debian packages and Go modules, idempotent, with progress on stdout.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Once;

use crate::{Stack, StackError, io_err};

/// Runs `cmd`, its output appended to `<stack>/logs/install.log`.
pub(crate) fn run_logged(stack: &Stack, what: &str, cmd: &mut Command) -> Result<(), StackError> {
    let log_path = stack.log_file("install");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io_err("open", &log_path))?;
    let err = log.try_clone().map_err(io_err("open", &log_path))?;
    let status = cmd.stdin(Stdio::null()).stdout(log).stderr(err).status();
    let outcome = match status {
        Ok(s) if s.success() => return Ok(()),
        Ok(s) => format!("exited with {s}"),
        Err(e) => format!("could not be run: {e}"),
    };
    Err(StackError::Command {
        what: what.to_string(),
        command: format!("{cmd:?}"),
        outcome,
        log: log_path.display().to_string(),
    })
}

static APT_UPDATE: Once = Once::new();

/// Installs Debian `packages` unless `installed()` says they are there already.
pub(crate) fn apt(
    stack: &Stack,
    installed: impl Fn() -> bool,
    packages: &[&str],
) -> Result<(), StackError> {
    if installed() {
        return Ok(());
    }
    println!("stack: installing {} with apt-get", packages.join(" "));
    let mut update_result = Ok(());
    APT_UPDATE.call_once(|| {
        update_result = run_logged(
            stack,
            "refresh the apt package lists",
            Command::new("apt-get").args(["update", "-q"]),
        );
    });
    update_result?;
    run_logged(
        stack,
        &format!("install {}", packages.join(" ")),
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    if installed() {
        Ok(())
    } else {
        Err(StackError::Other(format!(
            "apt-get installed {} but what it should provide is still missing",
            packages.join(" ")
        )))
    }
}

/// Builds `module@version` with `go install` into the cache, once per version; returns the binary.
pub(crate) fn go(
    stack: &Stack,
    module: &str,
    version: &str,
    binary: &str,
) -> Result<PathBuf, StackError> {
    let bin_dir = stack.cache.join("bin");
    let installed = bin_dir.join(format!("{binary}-{version}"));
    if installed.exists() {
        return Ok(installed);
    }
    println!(
        "stack: building {module}@{version} with go install (once; cached in {})",
        bin_dir.display()
    );
    let gobin = stack.cache.join("gobin-tmp");
    std::fs::create_dir_all(&gobin).map_err(io_err("create", &gobin))?;
    run_logged(
        stack,
        &format!("go install {module}@{version}"),
        go_command(GO_INSTALL_TIMEOUT)
            .arg("install")
            .arg(format!("{module}@{version}"))
            .env("GOBIN", &gobin),
    )?;
    std::fs::create_dir_all(&bin_dir).map_err(io_err("create", &bin_dir))?;
    let built = gobin.join(binary);
    std::fs::rename(&built, &installed).map_err(io_err("move", &built))?;
    Ok(installed)
}

/// Seconds a `go install` may take before it is killed.
const GO_INSTALL_TIMEOUT: u64 = 1800;

/// `go`, killed by coreutils `timeout` after `seconds` (TERM, then KILL 30 s later).
pub(crate) fn go_command(seconds: u64) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["--kill-after=30", &seconds.to_string(), "go"]);
    cmd
}
