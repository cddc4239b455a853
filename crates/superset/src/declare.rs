//! The dashboards' server's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Declared, FromTarget as _, ProbeError, Service, Target};

use crate::SupersetClient;

impl Declared for SupersetClient {
    const SERVICE: Service = Service::Superset;
    const VERSION_SOURCE: &'static str = "GET /version version_string";
    const NO_VERSION: &'static str = carbon_config::NO_VERSION_IN_ANSWER;

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    /// Healthy, and the configured user logs in.
    async fn probe(&self, target: &Target) -> Result<String, ProbeError> {
        self.health().await?;
        self.login().await?;
        let version = self.server_version().await?;
        Ok(format!(
            "Superset {} at {}, user {} logged in",
            version.as_deref().unwrap_or("(version not reported)"),
            self.base(),
            target.superset.as_ref().map_or("", |c| c.user.as_str())
        ))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version().await?)
    }
}
