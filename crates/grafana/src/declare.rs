//! The Grafana's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Declared, FromTarget as _, ProbeError, Service, Target};

use crate::GrafanaClient;

impl Declared for GrafanaClient {
    const SERVICE: Service = Service::Grafana;
    const VERSION_SOURCE: &'static str = "GET /api/health version";
    const NO_VERSION: &'static str =
        "the server reports no version ([auth.anonymous] hide_version)";

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    async fn probe(&self, _target: &Target) -> Result<String, ProbeError> {
        let health = self.health().await?;
        Ok(format!(
            "Grafana {}, database {}",
            health.version, health.database
        ))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version().await?)
    }
}
