//! PostgreSQL from Debian's packages: a cluster of its own in the state directory, port 15432.
//! It holds the metadata databases later services need (Iceberg's JDBC catalog and others).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::run_as;
use crate::install::{
    LOCAL_STEP_TIMEOUT, PSQL_TIMEOUT, apt, command_line, run_logged, run_with_deadline,
};
use crate::secrets::{PG_PASSWORD, PG_USER};
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

pub(crate) const PORT: u16 = 15432;

pub(crate) struct Postgres;

/// The newest installed server's `bin` directory.
pub(crate) fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("postgres").exists())
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, d)| d)
}

fn bin(name: &str) -> Result<PathBuf, StackError> {
    bin_dir()
        .map(|d| d.join(name))
        .ok_or_else(|| StackError::Other("no PostgreSQL server under /usr/lib/postgresql".into()))
}

fn as_service_user(cmd: &mut Command) -> &mut Command {
    if let Some((uid, gid)) = run_as("postgres") {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn chown(path: &std::path::Path) -> Result<(), StackError> {
    if let Some((uid, gid)) = run_as("postgres") {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_err("chown", path))?;
    }
    Ok(())
}

impl LocalServer for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn role(&self) -> &'static str {
        "PostgreSQL (metadata databases)"
    }

    fn endpoint(&self) -> String {
        format!("postgres://127.0.0.1:{PORT}")
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        apt(stack, || bin_dir().is_some(), &["postgresql"])
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let data = stack.data_dir("postgres");
        let sockets = stack.dir.join("run/postgres-sockets");
        std::fs::create_dir_all(&sockets).map_err(io_err("create", &sockets))?;
        chown(&sockets)?;
        if data.join("PG_VERSION").exists() {
            return Ok(());
        }
        println!(
            "stack: initialising a PostgreSQL cluster in {}",
            data.display()
        );
        std::fs::create_dir_all(&data).map_err(io_err("create", &data))?;
        chown(&data)?;
        // The password reaches initdb through a file only the server's user can read, never argv.
        let pwfile = stack.dir.join("run/postgres.pw");
        crate::secrets::write_private(&pwfile, stack.var(PG_PASSWORD).as_bytes())?;
        chown(&pwfile)?;
        let result = run_logged(
            stack,
            "initialise the PostgreSQL cluster",
            LOCAL_STEP_TIMEOUT,
            as_service_user(
                Command::new(bin("initdb")?)
                    .arg("-D")
                    .arg(&data)
                    .args([
                        "--auth=scram-sha-256",
                        "--encoding=UTF8",
                        "--no-locale",
                        "--username",
                    ])
                    .arg(stack.var(PG_USER))
                    .arg(format!("--pwfile={}", pwfile.display())),
            ),
        );
        let _ = std::fs::remove_file(&pwfile);
        result
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let mut cmd = Command::new(bin("postgres")?);
        cmd.arg("-D")
            .arg(stack.data_dir("postgres"))
            .args([
                "-p",
                &PORT.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-k",
            ])
            .arg(stack.dir.join("run/postgres-sockets"));
        as_service_user(&mut cmd);
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        let isready = bin_dir()
            .map(|d| d.join("pg_isready"))
            .unwrap_or_else(|| PathBuf::from("pg_isready"));
        Readiness::Command(
            isready,
            vec![
                "-h".into(),
                "127.0.0.1".into(),
                "-p".into(),
                PORT.to_string(),
            ],
        )
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn stop_signal(&self) -> rustix::process::Signal {
        rustix::process::Signal::INT // "fast" shutdown: does not wait for clients to leave
    }
}

/// psql connected to database `db` as the stack's user, stopping at the first error. The
/// password travels in the environment, never argv.
fn psql_command(stack: &Stack, db: &str) -> Command {
    let mut cmd = Command::new("psql");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &PORT.to_string(),
        "-U",
        &stack.var(PG_USER),
        "-d",
        db,
    ])
    .args(["-v", "ON_ERROR_STOP=1"])
    .env("PGPASSWORD", stack.var(PG_PASSWORD));
    cmd
}

/// Runs `sql` with psql as the stack's PostgreSQL user against database `db`; returns stdout.
/// The password travels in the environment, never argv.
pub(crate) fn psql(stack: &Stack, db: &str, sql: &str) -> Result<String, StackError> {
    use std::process::Stdio;
    let mut cmd = psql_command(stack, db);
    cmd.args(["-tAc", sql])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = run_with_deadline(&mut cmd, PSQL_TIMEOUT, None)
        .map_err(|e| StackError::Other(format!("failed to run psql: {e}")))?;
    match run.failure(PSQL_TIMEOUT) {
        None => Ok(String::from_utf8_lossy(&run.output.stdout)
            .trim()
            .to_string()),
        Some(failure) => Err(StackError::Command {
            what: format!("run SQL on database {db}"),
            command: command_line(&cmd),
            outcome: format!(
                "{failure}: {}",
                String::from_utf8_lossy(&run.output.stderr).trim()
            ),
            log: "(stderr above)".into(),
        }),
    }
}

/// Runs a whole SQL script with psql against database `db`, in one transaction, the script on
/// psql's stdin (so neither it nor a value in it shows in argv). On failure the error carries
/// psql's message, which names the failing statement's line.
pub(crate) fn psql_script(
    stack: &Stack,
    db: &str,
    script: &str,
    what: &str,
) -> Result<(), StackError> {
    use std::process::Stdio;
    let mut cmd = psql_command(stack, db);
    cmd.args(["--single-transaction", "-q", "-f", "-"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let run = run_with_deadline(&mut cmd, PSQL_TIMEOUT, Some(script.as_bytes()))
        .map_err(|e| StackError::Other(format!("failed to run psql: {e}")))?;
    match run.failure(PSQL_TIMEOUT) {
        None => Ok(()),
        Some(failure) => Err(StackError::Command {
            what: what.to_string(),
            command: format!("{} (script on stdin)", command_line(&cmd)),
            outcome: format!(
                "{failure}: {}",
                String::from_utf8_lossy(&run.output.stderr).trim()
            ),
            log: "(stderr above)".into(),
        }),
    }
}

/// Creates database `db` unless it exists. Services that keep metadata in the stack's
/// PostgreSQL call this from their `prepare` (PostgreSQL is ready by then: they depend on it).
pub(crate) fn ensure_database(stack: &Stack, db: &str) -> Result<(), StackError> {
    if !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StackError::Other(format!("invalid database name {db:?}")));
    }
    if psql(
        stack,
        "postgres",
        &format!("SELECT 1 FROM pg_database WHERE datname = '{db}'"),
    )? != "1"
    {
        psql(stack, "postgres", &format!("CREATE DATABASE {db}"))?;
    }
    Ok(())
}
