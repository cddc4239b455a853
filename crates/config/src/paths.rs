//! Where targets, the local stack's state and the download cache live.

use std::path::{Path, PathBuf};

use crate::Env;

/// The workspace root, known at compile time (suites run from their own crate directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Directories the tools use.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Target files: `.config/targets/`.
    pub targets: PathBuf,
    /// The local stack's state: data, logs, pids, the env file (`E2E_STACK_DIR`, default
    /// `/var/tmp/carbon-e2e-<uid>/stack`: outside `$HOME`, because a root user's home is closed
    /// to the unprivileged user PostgreSQL must run as).
    pub stack: PathBuf,
    /// Downloads and installed binaries, kept across clones (`E2E_CACHE_DIR`, default
    /// `~/.cache/carbon-e2e`).
    pub cache: PathBuf,
}

impl Paths {
    /// Resolves the directories from the environment.
    pub fn from_env(env: &Env) -> Self {
        let home = env
            .get("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        Self {
            targets: workspace_root().join(".config/targets"),
            stack: env
                .get("E2E_STACK_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    let uid = rustix::process::getuid().as_raw();
                    PathBuf::from(format!("/var/tmp/carbon-e2e-{uid}/stack"))
                }),
            cache: env
                .get("E2E_CACHE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(".cache/carbon-e2e")),
        }
    }

    /// A run's own state, shared by its trial processes (e.g. services found unreachable):
    /// `<stack dir>/../runs/<run id>`.
    pub fn run_state(&self, run_id: &str) -> PathBuf {
        self.runs().join(run_id)
    }

    /// Where every run's own state lives: `<stack dir>/../runs`.
    pub fn runs(&self) -> PathBuf {
        self.stack.with_file_name("runs")
    }

    /// The env file the local stack writes and a `local` target reads.
    pub fn stack_env_file(&self) -> PathBuf {
        self.stack.join("stack.env")
    }
}
