//! The one polling primitive and the HTTP plumbing every service client shares.
//!
//! Architecture invariant: nothing in the workspace sleeps except [`wait::wait_until`].

pub mod failure;
pub mod http;
pub mod measure;
pub mod naming;
pub mod promtext;
pub mod signal;
pub mod wait;

/// The running package's directory: `CARGO_MANIFEST_DIR` as cargo and nextest set it when they
/// start a binary, else `compiled` (the `env!` value). A build cache shared between clones
/// keeps the path of the clone that compiled it, so reading the compile-time value alone can
/// point into another checkout.
#[allow(clippy::disallowed_methods)] // where the build put this package, not configuration
pub fn manifest_dir(compiled: &str) -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || std::path::PathBuf::from(compiled),
        std::path::PathBuf::from,
    )
}
