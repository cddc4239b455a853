//! The public entry points' declaration: how the client is made, `doctor`'s probe, and why the
//! run manifest has no version for them (see [`carbon_config::Declared`]).

use carbon_config::{Declared, FromTarget as _, ProbeError, Service, Target};

use crate::EntryPointsClient;

impl Declared for EntryPointsClient {
    const SERVICE: Service = Service::EntryPoints;
    const VERSION_SOURCE: &'static str = "none: an entry point is a public URL in front of a service whose own section reports its version (nothing sent)";
    const NO_VERSION: &'static str = "an entry point is a public URL, not a server with a version";

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    async fn probe(&self, _target: &Target) -> Result<String, ProbeError> {
        let up = self.check().await?;
        Ok(format!("{} entry point(s) up: {}", up.len(), up.join("; ")))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(None)
    }
}
