//! Installers: Debian packages and Go modules, idempotent, with progress on stdout. Every
//! install or preparation command runs under a deadline ([`run_with_deadline`]): a hung mirror,
//! lock or JVM fails `stack up` naming the step instead of stalling CI until its own timeout.

use std::io::{Read as _, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Once};
use std::time::Duration;

use crate::{Stack, StackError, io_err};

/// `apt-get update`.
pub(crate) const APT_UPDATE_TIMEOUT: Duration = Duration::from_secs(300);
/// `apt-get install` of one group of packages (a JDK is the largest, ~200 MB).
pub(crate) const APT_INSTALL_TIMEOUT: Duration = Duration::from_secs(900);
/// `go install` of one module, download and build.
pub(crate) const GO_INSTALL_TIMEOUT: Duration = Duration::from_secs(900);
/// One `mvn` resolution (DolphinScheduler's ~190 MB of jars is the largest).
pub(crate) const MVN_TIMEOUT: Duration = Duration::from_secs(1200);
/// Unpacking an archive, `initdb`, `ip netns`, a JVM run of a small tool.
pub(crate) const LOCAL_STEP_TIMEOUT: Duration = Duration::from_secs(300);
/// One psql statement or script.
pub(crate) const PSQL_TIMEOUT: Duration = Duration::from_secs(120);
/// A version probe such as `mvn -v`.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// A command as it may be shown: program and arguments only. A `Command`'s `Debug` also prints
/// the variables set with `.env()`, where the stack passes passwords; never format it.
pub(crate) fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a command run under a deadline ended.
#[derive(Debug)]
pub struct Finished {
    /// Its status and whatever output was piped.
    pub output: Output,
    /// Whether the deadline passed and its process group was killed.
    pub timed_out: bool,
}

impl Finished {
    /// `None` on success, else what went wrong, for [`StackError::Command`].
    pub fn failure(&self, limit: Duration) -> Option<String> {
        if self.timed_out {
            Some(format!(
                "did not finish within {limit:?} and was killed (with every process it started)"
            ))
        } else if self.output.status.success() {
            None
        } else {
            Some(format!("exited with {}", self.output.status))
        }
    }
}

/// Runs `cmd` in a process group of its own, feeding it `stdin` if given, and kills the whole
/// group when `limit` passes. The deadline is kept by a watchdog thread blocked on a channel
/// (no polling): the command finishing wakes it at once. Being in a group of its own, the
/// command does not get a terminal's Ctrl-C; the deadline is what bounds it.
///
/// # Errors
/// When the command cannot be spawned.
pub fn run_with_deadline(
    cmd: &mut Command,
    limit: Duration,
    stdin: Option<&[u8]>,
) -> std::io::Result<Finished> {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.process_group(0).spawn()?;
    let group = rustix::process::Pid::from_child(&child);
    let (done, finished) = channel::<()>();
    let timed_out = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let timed_out = Arc::clone(&timed_out);
        std::thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(limit) {
                timed_out.store(true, Ordering::SeqCst);
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
        })
    };
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A child that exits (or is killed) without reading all of it closes the pipe: its
        // status tells what happened, not this write.
        let _ = pipe.write_all(input);
    }
    let output = child.wait_with_output();
    let _ = done.send(());
    let _ = watchdog.join();
    Ok(Finished {
        output: output?,
        timed_out: timed_out.load(Ordering::SeqCst),
    })
}

/// Whether `program arg` runs and succeeds within [`PROBE_TIMEOUT`] (e.g. `mvn -v`): the
/// presence check before installing a package.
pub(crate) fn runs(program: &str, arg: &str) -> bool {
    let mut cmd = Command::new(program);
    cmd.arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    run_with_deadline(&mut cmd, PROBE_TIMEOUT, None)
        .is_ok_and(|f| f.failure(PROBE_TIMEOUT).is_none())
}

/// Runs `cmd` under the deadline `limit`, its output appended to `<stack>/logs/install.log`.
pub(crate) fn run_logged(
    stack: &Stack,
    what: &str,
    limit: Duration,
    cmd: &mut Command,
) -> Result<(), StackError> {
    let log_path = stack.log_file("install");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io_err("open", &log_path))?;
    let err = log.try_clone().map_err(io_err("open", &log_path))?;
    cmd.stdin(Stdio::null()).stdout(log).stderr(err);
    let outcome = match run_with_deadline(cmd, limit, None) {
        Ok(finished) => match finished.failure(limit) {
            None => return Ok(()),
            Some(failure) => failure,
        },
        Err(e) => format!("could not be run: {e}"),
    };
    Err(StackError::Command {
        what: what.to_string(),
        command: command_line(cmd),
        outcome,
        log: log_path.display().to_string(),
    })
}

/// The SHA-256 of a file, lowercase hex.
pub(crate) fn sha256_of(path: &Path) -> Result<String, StackError> {
    let mut file = std::fs::File::open(path).map_err(io_err("open", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err("read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
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
            APT_UPDATE_TIMEOUT,
            Command::new("apt-get").args(["update", "-q"]),
        );
    });
    update_result?;
    run_logged(
        stack,
        &format!("install {}", packages.join(" ")),
        APT_INSTALL_TIMEOUT,
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

/// A server built from its Go module through a small wrapper module of ours (`go.mod`, `go.sum`,
/// `tools.go` under `assets/<dir>/`): `go install module@version` refuses a module with replace
/// directives (Loki's) and cannot force a dependency (both need reflect2 1.0.2 on modern Go).
pub(crate) struct GoWrapper {
    /// The cache directory's stem: `<cache>/<dir>-build-<version>/`.
    pub dir: &'static str,
    pub version: &'static str,
    /// `go.mod`, `go.sum` and `tools.go`, as embedded in the binary.
    pub files: [(&'static str, &'static str); 3],
    /// Build tags, `-tags` (empty for none).
    pub tags: &'static str,
    /// A cold build's deadline.
    pub timeout: Duration,
}

impl GoWrapper {
    /// Builds `package` as `<cache>/bin/<binary>-<version>` once, statically (`CGO_ENABLED=0`)
    /// with `ldflags` (version stamps); returns the binary.
    pub(crate) fn build(
        &self,
        stack: &Stack,
        binary: &str,
        package: &str,
        ldflags: &str,
    ) -> Result<PathBuf, StackError> {
        let version = self.version;
        let bin_dir = stack.cache.join("bin");
        let installed = bin_dir.join(format!("{binary}-{version}"));
        if installed.exists() {
            return Ok(installed);
        }
        let module_dir = stack.cache.join(format!("{}-build-{version}", self.dir));
        std::fs::create_dir_all(&module_dir).map_err(io_err("create", &module_dir))?;
        for (name, text) in self.files {
            let path = module_dir.join(name);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
                std::fs::write(&path, text).map_err(io_err("write", &path))?;
            }
        }
        std::fs::create_dir_all(&bin_dir).map_err(io_err("create", &bin_dir))?;
        println!(
            "stack: building {binary} {version} from the Go module proxy (once, up to {} min cold; cached in {})",
            self.timeout.as_secs() / 60,
            bin_dir.display()
        );
        let partial = bin_dir.join(format!(".{binary}-{version}.partial"));
        let mut cmd = Command::new("go");
        cmd.current_dir(&module_dir)
            .env("CGO_ENABLED", "0")
            .args(["build", "-ldflags", ldflags]);
        if !self.tags.is_empty() {
            cmd.args(["-tags", self.tags]);
        }
        cmd.arg("-o").arg(&partial).arg(package);
        run_logged(
            stack,
            &format!("build {binary} {version}"),
            self.timeout,
            &mut cmd,
        )?;
        std::fs::rename(&partial, &installed).map_err(io_err("move", &partial))?;
        Ok(installed)
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
        GO_INSTALL_TIMEOUT,
        Command::new("go")
            .arg("install")
            .arg(format!("{module}@{version}"))
            .env("GOBIN", &gobin),
    )?;
    std::fs::create_dir_all(&bin_dir).map_err(io_err("create", &bin_dir))?;
    let built = gobin.join(binary);
    std::fs::rename(&built, &installed).map_err(io_err("move", &built))?;
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_past_its_deadline_is_killed_with_its_children() {
        let t0 = std::time::Instant::now();
        // The shell's child keeps stdout open: only killing the group ends the read.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30"])
            .stdout(Stdio::piped());
        let limit = Duration::from_millis(300);
        let run = run_with_deadline(&mut cmd, limit, None).unwrap();
        assert!(run.timed_out);
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        let failure = run.failure(limit).unwrap();
        assert!(failure.contains("did not finish within 300ms"), "{failure}");
    }

    #[test]
    fn a_quick_step_returns_at_once_with_its_output_and_stdin() {
        let mut cmd = Command::new("cat");
        cmd.stdout(Stdio::piped());
        let t0 = std::time::Instant::now();
        let run = run_with_deadline(&mut cmd, Duration::from_secs(60), Some(b"hello")).unwrap();
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert!(run.failure(Duration::from_secs(60)).is_none());
        assert_eq!(run.output.stdout, b"hello");
    }

    #[test]
    fn a_command_line_never_shows_its_environment() {
        let mut cmd = Command::new("psql");
        cmd.args(["-h", "127.0.0.1"]).env("PGPASSWORD", "hunter2");
        let line = command_line(&cmd);
        assert_eq!(line, "psql -h 127.0.0.1");
        assert!(format!("{cmd:?}").contains("hunter2"), "why this matters");
    }
}
