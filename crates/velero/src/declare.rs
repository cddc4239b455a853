//! The backup server's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Declared, ProbeError, Service, Target};

use crate::{Kind, Schedule, VeleroClient};

impl Declared for VeleroClient {
    const SERVICE: Service = Service::Velero;
    const VERSION_SOURCE: &'static str = "LIST deployments in the [velero] namespace: the server container's image tag (a ServerStatusRequest would write)";
    const NO_VERSION: &'static str =
        "the server's image has no tag (pinned by digest alone, or implicitly latest)";

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target).await?)
    }

    /// The storage location is available, and the schedules it holds.
    async fn probe(&self, _target: &Target) -> Result<String, ProbeError> {
        let location = self.check_location().await?;
        let schedules: Vec<Schedule> = self.list(Kind::Schedule).await?;
        Ok(format!("{location}; {} schedule(s)", schedules.len()))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version().await?)
    }
}
