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

mod declare;
mod env;
mod error;
mod gate;
mod load;
mod paths;
mod secret;
mod section;
mod target;

pub use declare::{Artifact, Declared, Leftovers, NO_VERSION_IN_ANSWER, ProbeError};
pub use env::Env;
pub use error::ConfigError;
pub use gate::{
    FlakyPolicy, GateCategory, GateCategoryConfig, GateConfig, REPORT_PREFIX, ReportConfig, Waiver,
};
pub use load::{load, load_from_file, load_with, pin_target, target_file};
pub use paths::{Paths, RUNNER_MARKER, in_runner, workspace_root};
pub use secret::{Secret, scrub};
pub use section::{ServiceSection, Tls};
pub use target::{
    ArgoCounts, Capability, CriticalWorkload, DashboardsConfig, DolphinSchedulerConfig, DsApi,
    EntryPointsConfig, GrafanaConfig, KubernetesConfig, LokiConfig, MinioConfig, Mode, OPT_INS,
    PlatformConfig, SERVICE_SECTIONS, Service, Settings, SupersetConfig, Target, TargetKind,
    TrinoConfig, VeleroConfig, VictoriaMetricsConfig, VmAlertConfig, is_service_ref,
    is_variable_name, k8s_secret_ref_error, k8s_service_ref_error,
};

/// A service client built from its section of a target. Each client crate implements it once;
/// the harness builds any client lazily through it, so adding a service never edits the harness.
pub trait FromTarget: Sized + Clone + Send + Sync + 'static {
    /// The target section the client reads, e.g. `minio`.
    const SECTION: &'static str;
    /// Why the client cannot be built.
    /// It says whose failure it is (`carbon_core::failure`): the harness registers it when
    /// it builds the client.
    type Error: carbon_core::failure::Classify + Send + Sync;
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
///
/// # Errors
/// [`ConfigError::RunId`] when `E2E_RUN_ID` is not exactly a run id's shape
/// ([`carbon_core::naming::is_run_id`], the reaper's test): nothing is cut or lowercased to fit,
/// so the id a person gives is the one that names what the run creates.
pub fn run_id(env: &Env) -> Result<String, ConfigError> {
    if let Some(id) = env.get("E2E_RUN_ID") {
        return if carbon_core::naming::is_run_id(&id) {
            Ok(id)
        } else {
            Err(ConfigError::RunId { value: id })
        };
    }
    if let Some(id) = env.get("NEXTEST_RUN_ID") {
        let id: String = id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(8)
            .collect();
        if carbon_core::naming::is_run_id(&id) {
            return Ok(id);
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(format!(
        "{:08x}",
        (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)) as u32
    ))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::eight("1f2e3d4c")]
    #[case::twelve("k8s1f2e3d4c0")]
    fn a_run_id_of_the_reapers_shape_is_taken_as_given(#[case] id: &str) {
        let env = Env::from_pairs([("E2E_RUN_ID", id)]);
        assert_eq!(run_id(&env).unwrap(), id);
    }

    #[rstest]
    #[case::one_character("a")]
    #[case::seven("1f2e3d4")]
    #[case::thirteen("k8s1f2e3d4c01")]
    #[case::uppercase("1F2E3D4C")]
    #[case::punctuation("run-1234")]
    fn a_run_id_the_reaper_would_not_recognise_is_refused(#[case] id: &str) {
        let env = Env::from_pairs([("E2E_RUN_ID", id)]);
        let e = run_id(&env).unwrap_err().to_string();
        assert!(e.contains("E2E_RUN_ID") && e.contains("8 to 12"), "{e}");
    }

    #[test]
    fn without_e2e_run_id_the_id_comes_from_nextest_or_the_clock() {
        let env = Env::from_pairs([("NEXTEST_RUN_ID", "45C50E3C-3a9d-4bfa-94a4-6e4f2a1b8c11")]);
        assert_eq!(run_id(&env).unwrap(), "45c50e3c");
        let id = run_id(&Env::default()).unwrap();
        assert!(carbon_core::naming::is_run_id(&id), "{id}");
    }
}
