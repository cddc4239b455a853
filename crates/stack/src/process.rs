//! Detached processes with pid files: start, find, stop. Only pids this stack wrote are touched,
//! and a pid file alone is not trusted to name a process to signal: the process must still be
//! alive, carry the program marker the pid file records in its command line, run as this user
//! (or, for root, as the service user the stack runs PostgreSQL as), and have started no later
//! than the pid file was written (a pid the kernel reused for a later process is not ours). The
//! state directory holding the pid files is 0700 and ours (see `secrets::create_owned_dir`).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use carbon_core::wait::{Check, wait_until};
use rustix::process::{Pid, Signal};

use crate::{LocalServer, Stack, StackError, io_err};

/// The program a pid file expects to find in `/proc/<pid>/cmdline`.
fn program_of(cmd: &Command) -> String {
    std::path::Path::new(cmd.get_program())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Starts `service` detached (own process group, stdin closed, output to its log) and records
/// its pid.
pub(crate) fn start(stack: &Stack, service: &dyn LocalServer) -> Result<u32, StackError> {
    let mut cmd = service.command(stack)?;
    let log_path = stack.log_file(service.name());
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io_err("open", &log_path))?;
    let _ = writeln!(
        log,
        "=== carbon-e2e stack: starting {:?}",
        cmd.get_program()
    );
    let err_log = log.try_clone().map_err(io_err("open", &log_path))?;
    cmd.stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .process_group(0);
    let child = cmd.spawn().map_err(|e| StackError::Command {
        what: format!("start {}", service.name()),
        command: crate::install::command_line(&cmd),
        outcome: format!("could not be spawned: {e}"),
        log: log_path.display().to_string(),
    })?;
    let pid = child.id();
    let pid_path = stack.pid_file(service.name());
    let marker = service
        .process_marker()
        .map_or_else(|| program_of(&cmd), str::to_string);
    std::fs::write(&pid_path, format!("{pid} {marker}\n")).map_err(io_err("write", &pid_path))?;
    Ok(pid)
}

/// The pid of the service's process if it is alive and still the process the stack started
/// (see the module docs for what is checked).
pub(crate) fn running_pid(stack: &Stack, name: &str) -> Option<u32> {
    let (pid, program) = recorded(stack, name)?;
    let pid_file = stack.pid_file(name);
    (alive_as(pid, &program) && runs_as_us(pid) && started_before(pid, &pid_file)).then_some(pid)
}

/// Whether `pid` runs as this user, or (when this is root) as a user the stack runs a server as.
fn runs_as_us(pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(format!("/proc/{pid}")) else {
        return false;
    };
    let me = crate::status::current_uid();
    meta.uid() == me
        || (me == 0
            && crate::services::run_as("postgres").is_some_and(|(uid, _)| uid == meta.uid()))
}

/// Whether `pid` started no later than `pid_file` was last written (to the second, with a
/// second of slack for rounding).
fn started_before(pid: u32, pid_file: &std::path::Path) -> bool {
    let written = std::fs::metadata(pid_file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    match (process_start_secs(pid), written) {
        (Some(started), Some(written)) => started <= written + 1,
        _ => false,
    }
}

/// When `pid` started, in seconds since the epoch: boot time (`/proc/stat` btime) plus its
/// start in clock ticks after boot (`/proc/<pid>/stat` field 22).
fn process_start_secs(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name start at field 3 (state).
    let ticks: u64 = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(boot + ticks / rustix::param::clock_ticks_per_second().max(1))
}

/// The pid and program marker in the service's pid file, unchecked.
fn recorded(stack: &Stack, name: &str) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(stack.pid_file(name)).ok()?;
    let mut parts = text.split_whitespace();
    let pid: u32 = parts.next()?.parse().ok()?;
    Some((pid, parts.next().unwrap_or_default().to_string()))
}

/// Whether the process `up` just started for `name` has exited. Unlike [`running_pid`] this
/// does not read the command line: right after `exec` the kernel may not have set it up yet
/// (seen under load as an empty cmdline), and the pid is ours, freshly written.
pub(crate) fn started_process_exited(stack: &Stack, name: &str) -> bool {
    recorded(stack, name).is_none_or(|(pid, _)| !alive(pid))
}

/// Whether `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the parenthesised command name; a zombie has exited already.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, None | Some("Z" | "X"))
}

fn alive_as(pid: u32, program: &str) -> bool {
    if !alive(pid) {
        return false;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&cmdline).contains(program)
}

/// Stops the service's recorded process: its clean-stop signal, then SIGKILL after `grace`.
/// Returns whether a process was running.
pub(crate) async fn stop(
    stack: &Stack,
    service: &dyn LocalServer,
    grace: Duration,
) -> Result<bool, StackError> {
    let name = service.name();
    let pid_path = stack.pid_file(name);
    let Some(pid) = running_pid(stack, name) else {
        let _ = std::fs::remove_file(&pid_path);
        return Ok(false);
    };
    let program = std::fs::read_to_string(&pid_path)
        .unwrap_or_default()
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let target = Pid::from_raw(
        i32::try_from(pid).map_err(|_| StackError::Other(format!("pid {pid} out of range")))?,
    )
    .ok_or_else(|| StackError::Other(format!("invalid pid {pid}")))?;
    signal(target, service.stop_signal(), name)?;
    let gone = || async {
        Ok::<_, std::convert::Infallible>(if alive_as(pid, &program) {
            Check::Pending(format!("pid {pid} alive"))
        } else {
            Check::Ready(())
        })
    };
    if wait_until(format!("{name} (pid {pid}) to exit"), grace, gone)
        .await
        .is_err()
    {
        signal(target, Signal::KILL, name)?;
        let _ = wait_until(
            format!("{name} (pid {pid}) to die"),
            Duration::from_secs(5),
            gone,
        )
        .await;
    }
    let _ = std::fs::remove_file(&pid_path);
    Ok(true)
}

fn signal(pid: Pid, sig: Signal, name: &str) -> Result<(), StackError> {
    match rustix::process::kill_process(pid, sig) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(StackError::Other(format!(
            "failed to signal {name} (pid {}): {e}",
            pid.as_raw_nonzero()
        ))),
    }
}

/// The last `lines` lines of a log, for error messages.
pub(crate) fn tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_older_than_its_process_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let file = dir.path().join("x.pid");
        std::fs::write(&file, format!("{me} carbon\n")).unwrap();
        // Written after this process started: ours.
        assert!(started_before(me, &file));
        assert!(runs_as_us(me));
        // Back-dated to the epoch: this process started after it, so the pid was reused.
        let old = std::fs::File::options().write(true).open(&file).unwrap();
        old.set_modified(std::time::UNIX_EPOCH).unwrap();
        assert!(!started_before(me, &file));
    }
}
