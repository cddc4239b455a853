//! The alerting rules' server's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Declared, FromTarget as _, ProbeError, Service, Target};

use crate::VmAlertClient;

impl Declared for VmAlertClient {
    const SERVICE: Service = Service::VmAlert;
    const VERSION_SOURCE: &'static str = "GET /metrics vm_app_version{version}";
    const NO_VERSION: &'static str = "the server reports an empty version (a build without version stamping, such as Debian's package)";

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    async fn probe(&self, _target: &Target) -> Result<String, ProbeError> {
        self.health().await?;
        let groups = self.groups().await?;
        Ok(format!("/health OK, {} rule group(s)", groups.len()))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version().await?)
    }
}
