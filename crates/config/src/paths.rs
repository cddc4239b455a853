//! Where targets, the local stack's state and the download cache live.

use std::path::{Path, PathBuf};

use crate::Env;

/// The file that marks a runner directory (`carbon-e2e archive`): the relocatable runner's root,
/// which stands in for the workspace (its `.config/`, `fixtures/`, the suites' directories).
pub const RUNNER_MARKER: &str = "carbon-e2e-runner.json";

/// The workspace root: the nearest directory holding `Cargo.lock` and `kind-config/`, or a
/// runner directory's [`RUNNER_MARKER`], above the running package (`CARGO_MANIFEST_DIR` as
/// cargo and nextest set it at run time; suites run from their own crate directory, remapped
/// into the runner directory when run from an archive), above the running executable (the
/// runner's `bin/carbon-e2e`), or above the working directory; else the compile-time path.
/// The compile-time path alone is not enough: a build cache shared between clones keeps the
/// path of whichever clone compiled this crate, so a clean clone would read another checkout's
/// targets and manifests; and a runner copied to another machine has no workspace at all.
#[allow(clippy::disallowed_methods)] // where the build put the package, not configuration
pub fn workspace_root() -> PathBuf {
    let is_root = |p: &Path| {
        (p.join("Cargo.lock").is_file() && p.join("kind-config").is_dir())
            || p.join(RUNNER_MARKER).is_file()
    };
    let starts = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf)),
        std::env::current_dir().ok(),
    ];
    starts
        .into_iter()
        .flatten()
        .find_map(|start| {
            start
                .ancestors()
                .find(|p| is_root(p))
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| {
            let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            compiled.canonicalize().unwrap_or(compiled)
        })
}

/// Whether `workspace_root()` is a runner directory (`carbon-e2e archive`), not a checkout.
pub fn in_runner() -> bool {
    workspace_root().join(RUNNER_MARKER).is_file()
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
