//! The one polling primitive and the HTTP plumbing every service client shares.
//!
//! Architecture invariant: nothing in the workspace sleeps except [`wait::wait_until`].

pub mod http;
pub mod measure;
pub mod naming;
pub mod signal;
pub mod wait;
