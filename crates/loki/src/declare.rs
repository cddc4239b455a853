//! The log store's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Declared, FromTarget as _, ProbeError, Service, Target};

use crate::LokiClient;

impl Declared for LokiClient {
    const SERVICE: Service = Service::Loki;
    const VERSION_SOURCE: &'static str = "GET /metrics loki_build_info{version}";
    const NO_VERSION: &'static str = carbon_config::NO_VERSION_IN_ANSWER;

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    async fn probe(&self, _target: &Target) -> Result<String, ProbeError> {
        self.ready().await?;
        let version = self.version().await?;
        Ok(format!("ready, Loki {version}"))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version().await?)
    }
}
