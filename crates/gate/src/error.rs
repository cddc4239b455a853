//! Why a run could not be gated.

use std::path::PathBuf;

/// Why the gate could not read a run (exit code 2: no verdict at all).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The JUnit report is missing or unreadable.
    #[error("read the JUnit report {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JUnit as nextest writes it.
    #[error("parse the JUnit report {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// quick-junit's error.
        message: String,
    },
    /// The report was not completed by `carbon-e2e validate` (nextest's own file, or one from
    /// an older carbon-e2e): trials that did not run are missing from it, so "nothing failed"
    /// could mean "nothing ran".
    #[error(
        "gate the JUnit report {path}: it was not completed by `carbon-e2e validate` (its name is \
         `{name}`, not `carbon-e2e <target>`): the trials that did not run are missing from it; \
         run `carbon-e2e validate` again"
    )]
    NotCompleted {
        /// The file.
        path: PathBuf,
        /// The report's name.
        name: String,
    },
}
