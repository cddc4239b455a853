//! Errors of loading a target.

use std::path::PathBuf;

/// Why a target could not be loaded or a value could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The target file could not be read.
    #[error("failed to read target file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The target file is not valid TOML or does not match the schema; `message` carries the
    /// line, column and key.
    #[error("invalid target file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and key.
        message: String,
    },
    /// No target of that name exists.
    #[error("unknown target `{name}`: no file {path} (available: {available})")]
    UnknownTarget {
        /// The requested name.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
        /// The targets that exist.
        available: String,
    },
    /// An `E2E_<SECTION>_<KEY>` override does not fit the schema.
    #[error("invalid override {var}: {message}")]
    Override {
        /// The environment variable.
        var: String,
        /// What is wrong with it.
        message: String,
    },
    /// A value is well-formed TOML but not usable.
    #[error("invalid value for `{key}` in target `{target}`: {message}")]
    Invalid {
        /// The target name.
        target: String,
        /// The dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A value parses but cannot work, located: the file and line that set it, or the
    /// `E2E_*` variable that overrode it, and the key. The value itself is never shown (it may
    /// be a secret written where a variable's name belongs).
    #[error("invalid target file {}{place}: `{key}`: {message}", path.display())]
    Located {
        /// The target file.
        path: PathBuf,
        /// `, line 12`, ` (set by E2E_MINIO_ENDPOINT)` or `` when a default was used.
        place: String,
        /// `[section] key`.
        key: String,
        /// What is wrong, and what to write instead.
        message: String,
    },
    /// `E2E_RUN_ID` does not have a run id's shape ([`carbon_core::naming::is_run_id`]): the
    /// reaper would not recognise what the run creates.
    #[error(
        "E2E_RUN_ID `{value}` is not a run id: it must be {} (the shape the reaper recognises)",
        carbon_core::naming::RUN_ID_SHAPE
    )]
    RunId {
        /// The value given.
        value: String,
    },
    /// A credential the target needs is not set.
    #[error("missing credential for {service}: the variable named in `{key}`, {var}, is not set")]
    MissingCredential {
        /// The service that needs it.
        service: &'static str,
        /// The setting that names the variable, `[trino] password_env`.
        key: String,
        /// The variable to set.
        var: String,
    },
}

impl carbon_core::failure::Classify for ConfigError {
    /// The runner's: its target or its environment; a missing credential is the credentials'.
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        Some(match self {
            ConfigError::MissingCredential { .. } => Kind::Credentials,
            _ => Kind::Runner,
        })
    }
}
