//! The dashboards' server's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Artifact, Declared, FromTarget as _, Leftovers, ProbeError, Service, Target};
use carbon_core::naming::{self, Marker};

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

    const ARTIFACTS: Option<&'static str> =
        Some("saved queries labelled e2e-<run>-<what> whose description is the run's marker");

    /// Saved queries whose label starts `e2e-`, owned when the description is the marker of
    /// the run the label names, aged by the marker's creation time.
    async fn leftovers(&self, _target: &Target) -> Result<Leftovers, ProbeError> {
        let now = self.server_clock().await?;
        let artifacts = self
            .saved_queries("e2e-")
            .await?
            .into_iter()
            .map(|(id, label, description)| {
                let what = format!("saved query {id} {label}");
                let run = naming::parse_resource(&label)
                    .unwrap_or_default()
                    .to_string();
                let marker = Marker::parse(&description).filter(|m| m.run == run);
                let keep = if run.is_empty() {
                    Some("its label is not a run's (e2e-<run>-<what>)".to_string())
                } else if marker.is_none() {
                    Some(
                        "its description is not a carbon-e2e ownership marker for its run"
                            .to_string(),
                    )
                } else {
                    None
                };
                Artifact {
                    what,
                    run,
                    created: marker.map(|m| m.created),
                    keep,
                    handle: vec![id.to_string()],
                }
            })
            .collect();
        Ok(Leftovers {
            now,
            artifacts,
            ..Leftovers::default()
        })
    }

    async fn remove(&self, _target: &Target, artifact: &Artifact) -> Result<String, ProbeError> {
        let id: i64 = artifact
            .handle
            .first()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| format!("{}: no saved query id", artifact.what))?;
        self.delete_saved_query(id).await?;
        Ok(artifact.what.clone())
    }
}
