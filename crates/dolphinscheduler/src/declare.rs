//! The workflow scheduler's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Declared, FromTarget as _, ProbeError, Service, Target};

use crate::DsClient;

impl Declared for DsClient {
    const SERVICE: Service = Service::DolphinScheduler;
    const VERSION_SOURCE: &'static str =
        "none: DolphinScheduler 3.1 reports its version in no API (nothing sent)";
    const NO_VERSION: &'static str = crate::NO_VERSION_ENDPOINT;

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    /// Healthy, the credentials accepted, and the API generation it speaks.
    async fn probe(&self, _target: &Target) -> Result<String, ProbeError> {
        self.health().await?;
        let (_, user) = self.current_user().await?;
        let generation = self.generation().await?;
        Ok(format!(
            "health UP, authenticated as {user}, API generation {generation}"
        ))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version().await?)
    }
}
