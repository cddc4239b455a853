//! Targets: which services a run validates, where they are, and what the platform must hold.
//!
//! A target is a TOML file under `.config/targets/` chosen with `E2E_TARGET` (default `local`).
//! Values resolve with this precedence, highest first:
//!
//! 1. environment variables `E2E_<SECTION>_<KEY>` (for example `E2E_MINIO_ENDPOINT`);
//! 2. for a `local` target, the env file the local stack writes (`<stack dir>/stack.env`);
//! 3. the target file;
//! 4. the defaults documented on each field.
//!
//! Credentials never live in a target file: the file names the environment variable that holds
//! them, and [`Secret`] keeps them out of `Debug` and `Display`.
//!
//! Architecture invariant: this crate is the only one that reads the process environment.

mod env;
mod error;
mod load;
mod paths;
mod secret;
mod target;

pub use env::Env;
pub use error::ConfigError;
pub use load::{load, load_from_file, load_with, pin_target, target_file};
pub use paths::{Paths, workspace_root};
pub use secret::Secret;
pub use target::{
    CriticalWorkload, DolphinSchedulerConfig, DsApi, GrafanaConfig, KubernetesConfig, LokiConfig,
    MinioConfig, Mode, OPT_INS, PlatformConfig, Service, Settings, Target, TargetKind, TrinoConfig,
    VeleroConfig, VictoriaMetricsConfig, VmAlertConfig, is_service_ref, is_variable_name,
    k8s_secret_ref_error, k8s_service_ref_error,
};

/// A service client built from its section of a target. Each client crate implements it once;
/// the harness builds any client lazily through it, so adding a service never edits the harness.
pub trait FromTarget: Sized + Clone + Send + Sync + 'static {
    /// The target section the client reads, e.g. `minio`.
    const SECTION: &'static str;
    /// Why the client cannot be built.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Builds the client from `target`'s section and credentials.
    ///
    /// # Errors
    /// When the section or a credential is missing, or a setting cannot work.
    fn from_target(target: &Target) -> Result<Self, Self::Error>;
}

/// Whether strict mode is on: an unconfigured service fails its trials instead of skipping them.
///
/// On when `E2E_STRICT` is `1` or `true`.
pub fn strict(env: &Env) -> bool {
    matches!(env.get("E2E_STRICT").as_deref(), Some("1" | "true" | "yes"))
}

/// The id every artifact of this run carries: `E2E_RUN_ID`, else the first 8 hex digits of
/// nextest's `NEXTEST_RUN_ID` (shared by all test processes of one run), else one made from
/// the clock and the process id. Lowercase letters and digits only, so it fits bucket keys,
/// SQL identifiers and project names alike.
pub fn run_id(env: &Env) -> String {
    let clean = |s: &str| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(12)
            .collect::<String>()
    };
    if let Some(id) = env.get("E2E_RUN_ID") {
        return clean(&id);
    }
    if let Some(id) = env.get("NEXTEST_RUN_ID") {
        return clean(&id).chars().take(8).collect();
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}",
        (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)) as u32
    )
}
