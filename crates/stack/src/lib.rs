//! The local stack: real servers as native processes on 127.0.0.1, no containers.
//!
//! Each service is one small declaration in `services/` (how it is installed, prepared,
//! started, probed for readiness, what it exports). The verbs live one per file: [`up`],
//! [`down`], [`status`]. Everything a stack owns sits under one state directory:
//!
//! ```text
//! <stack dir>/stack.env        credentials and endpoints the `local` target reads (mode 0600)
//! <stack dir>/run/<svc>.pid    pid of each process the stack started
//! <stack dir>/logs/<svc>.log   its stdout and stderr
//! <stack dir>/data/<svc>/      its data
//! <stack dir>/tls/             the TLS front's private CA and certificate (0700, files 0600)
//! ```
//!
//! Architecture invariant: `down` stops only processes whose pid file this stack wrote and whose
//! command line still matches the service; nothing else is ever signalled.

mod down;
pub mod forward;
pub mod host;
mod install;
mod lock;
pub mod oci;
mod process;
mod secrets;
mod services;
mod status;
mod up;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use carbon_config::{Env, Paths};
use futures::future::BoxFuture;

pub use down::{down, stop_service};
pub use install::{Finished, run_with_deadline};
pub use services::dolphinscheduler::{
    NETNS as DOLPHINSCHEDULER_NETNS, VERSION as DOLPHINSCHEDULER_VERSION,
};
pub use services::kube::images::{busybox_image, pause_image};
pub use services::kube::node::{
    NODE as REAL_NODE, NODE_LABEL as REAL_NODE_LABEL, TAINT_KEY as REAL_NODE_TAINT, import_image,
};
pub use services::kube::{
    audit_log as kube_audit_log, readonly_kubeconfig, readwrite_kubeconfig, unbound_kubeconfig,
};
pub use services::objectstore::VERSITYGW_PORT;
pub use services::tls_front::{PORT as TLS_FRONT_PORT, ca_file as tls_ca_file};
pub use status::{ServiceStatus, status};
pub use up::{Started, up};

/// Whether the stack's real node has changed the host and not put it back yet (it runs, or a
/// killed stack left it): the state `stack host --save` must not record.
#[must_use]
pub fn real_node_running(env: &Env) -> bool {
    Stack::open(env).is_ok_and(|stack| services::kube::node::host_changed(&stack))
}

/// Errors of the local stack.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A file or directory could not be read or written.
    #[error("failed to {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An install or preparation command failed.
    #[error("failed to {what}: `{command}` {outcome}; see {log}")]
    Command {
        /// What the command was for.
        what: String,
        /// The command line.
        command: String,
        /// Exit status or spawn error.
        outcome: String,
        /// Where its output went.
        log: String,
    },
    /// A service did not become ready.
    #[error("{service} did not become ready: {message}; last lines of {log}:\n{tail}")]
    NotReady {
        /// The service.
        service: &'static str,
        /// The wait's error (with the last state seen).
        message: String,
        /// Its log file.
        log: String,
        /// The end of its log.
        tail: String,
    },
    /// Something the stack needs to talk to failed.
    #[error("{0}")]
    Other(String),
}

pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StackError + 'a {
    move |source| StackError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// How to tell a started service is ready.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// An HTTP GET that answers 2xx (and, if given, a body containing the text).
    Http {
        /// The URL.
        url: String,
        /// Text the body must contain.
        contains: Option<&'static str>,
    },
    /// An HTTPS GET that answers 2xx, the server's certificate verified with `ca_file`.
    Https {
        /// The URL.
        url: String,
        /// The CA certificate (PEM) to trust.
        ca_file: PathBuf,
    },
    /// A command that exits 0.
    Command(PathBuf, Vec<String>),
}

/// The stack's directories and credentials, handed to every service declaration. Its `Debug`
/// shows the credentials' names only ([`Env`]'s `Debug` never shows values).
#[derive(Debug, Clone)]
pub struct Stack {
    /// State directory (data, logs, pids, env file).
    pub dir: PathBuf,
    /// Download and install cache, shared across clones.
    pub cache: PathBuf,
    /// Credentials and endpoints the stack exports (read from, or first written to, `stack.env`).
    pub env: Env,
}

impl Stack {
    /// Opens the stack the environment points at; creates its directories and, on first use,
    /// its credentials.
    ///
    /// # Errors
    /// [`StackError::Io`] when the state directory cannot be created or the env file written.
    pub fn open(env: &Env) -> Result<Self, StackError> {
        let paths = Paths::from_env(env);
        // 0700 and ours (0710 with group `postgres` when root runs PostgreSQL as that user); the
        // per-user parent (`/var/tmp/carbon-e2e-<uid>`) too when the stack creates it.
        let traverse = services::run_as("postgres").map(|(_, gid)| gid);
        if let Some(parent) = paths.stack.parent()
            && (!parent.exists()
                || parent
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("carbon-e2e-")))
        {
            secrets::create_owned_dir(parent, traverse)?;
        }
        secrets::create_owned_dir(&paths.stack, traverse)?;
        for sub in ["run", "logs", "data"] {
            let d = paths.stack.join(sub);
            std::fs::create_dir_all(&d).map_err(io_err("create", &d))?;
        }
        std::fs::create_dir_all(&paths.cache).map_err(io_err("create", &paths.cache))?;
        let env = secrets::load_or_create(&paths.stack_env_file())?;
        Ok(Self {
            dir: paths.stack.clone(),
            cache: paths.cache,
            env,
        })
    }

    /// A value from `stack.env`.
    pub fn var(&self, key: &str) -> String {
        self.env.get(key).unwrap_or_default()
    }

    /// `<stack dir>/data/<name>`.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join("data").join(name)
    }

    /// `<stack dir>/logs/<name>.log`.
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }

    /// `<stack dir>/run/<name>.pid`.
    pub fn pid_file(&self, name: &str) -> PathBuf {
        self.dir.join("run").join(format!("{name}.pid"))
    }
}

/// One server of the local stack: how it is installed, prepared, started and probed (not to be
/// confused with `carbon_config::Service`, a service a trial needs from the target).
pub trait LocalServer: Send + Sync {
    /// Its name: used for pid, log and data paths.
    fn name(&self) -> &'static str;
    /// What it stands in for on the platform, for `status`.
    fn role(&self) -> &'static str;
    /// Where clients reach it.
    fn endpoint(&self) -> String;
    /// Services that must be ready before this one starts.
    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }
    /// Installs what is missing. Idempotent; prints what it does.
    ///
    /// # Errors
    /// When an installer fails.
    fn install(&self, stack: &Stack) -> Result<(), StackError>;
    /// Prepares data and configuration before a start. Idempotent.
    ///
    /// # Errors
    /// When a file cannot be written or an init command fails.
    fn prepare(&self, _stack: &Stack) -> Result<(), StackError> {
        Ok(())
    }
    /// The command that runs it in the foreground (the stack detaches it).
    ///
    /// # Errors
    /// When the binary cannot be found.
    fn command(&self, stack: &Stack) -> Result<Command, StackError>;
    /// How readiness is probed.
    fn readiness(&self, stack: &Stack) -> Readiness;
    /// How long readiness may take on a cold start.
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }
    /// Text `/proc/<pid>/cmdline` must contain for a recorded pid to count as this service
    /// (default: the program's file name). Override when the program execs another one.
    fn process_marker(&self) -> Option<&'static str> {
        None
    }
    /// Whether the log shows a start-up that failed although the process lives on (some
    /// servers keep their JVM up after a failed start). `Some(reason)` fails `up` at once.
    fn failed_start(&self, _stack: &Stack) -> Option<String> {
        None
    }
    /// The signal that stops it cleanly.
    fn stop_signal(&self) -> rustix::process::Signal {
        rustix::process::Signal::TERM
    }
    /// Removes what its process leaves on the host when it ends (mounts, links, changed
    /// settings). Runs after `down` stops it and before `up` starts it when it was not running
    /// (what a killed stack left). Idempotent.
    fn cleanup<'a>(&'a self, _stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(async { Ok(()) })
    }
    /// Work once it is ready (create buckets, databases).
    fn after_ready<'a>(&'a self, _stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The services of the local stack, in start order.
pub fn services() -> Vec<Box<dyn LocalServer>> {
    services::all()
}
