//! The backup server's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use std::time::Duration;

use carbon_config::{Artifact, Declared, Leftovers, ProbeError, Service, Target};
use carbon_core::naming;

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

    const ARTIFACTS: Option<&'static str> = Some(
        "Backups, Restores, storage locations and delete requests e2e-<run>-<what> in the [velero] namespace, labelled with the run",
    );

    /// The objects of the kinds runs create, aged by `creationTimestamp` on the API server's
    /// clock.
    async fn leftovers(&self, _target: &Target) -> Result<Leftovers, ProbeError> {
        let now = self.kube().server_time().await?;
        let mut artifacts = Vec::new();
        for kind in Kind::CREATED {
            let objects: Vec<Any> = self.list(kind).await?;
            artifacts.extend(objects.iter().filter_map(|o| {
                let name = o.metadata.name.clone().unwrap_or_default();
                carbon_kube::leftover(
                    format!("{kind} {}/{name}", self.namespace()),
                    &name,
                    o.metadata.labels.as_ref(),
                    o.metadata
                        .creation_timestamp
                        .as_ref()
                        .map(|t| t.0.as_second()),
                    vec![kind.to_string(), name.clone()],
                )
            }));
        }
        Ok(Leftovers {
            now,
            artifacts,
            ..Leftovers::default()
        })
    }

    /// A Backup through a DeleteBackupRequest (which removes its files too); anything else
    /// directly.
    async fn remove(&self, _target: &Target, artifact: &Artifact) -> Result<String, ProbeError> {
        let [kind, name] = artifact.handle.as_slice() else {
            return Err(format!("{}: not a Velero object", artifact.what).into());
        };
        let kind = Kind::CREATED
            .into_iter()
            .find(|k| k.to_string() == *kind)
            .ok_or_else(|| format!("{}: not a kind runs create", artifact.what))?;
        match kind {
            Kind::Backup => {
                let run = naming::parse_resource(name).unwrap_or_default();
                self.delete_backup(name, run, Duration::from_secs(60))
                    .await?;
            }
            other => self.delete(other, name).await?,
        }
        Ok(artifact.what.clone())
    }
}

/// Any Velero object, read for its metadata only (spec and status left untyped).
type Any = carbon_kube::kube::core::Object<serde_json::Value, serde_json::Value>;
