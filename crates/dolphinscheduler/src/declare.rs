//! The workflow scheduler's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use std::time::Duration;

use carbon_config::{Artifact, Declared, FromTarget as _, Leftovers, ProbeError, Service, Target};
use carbon_core::naming::{self, Marker};

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

    const ARTIFACTS: Option<&'static str> = Some(
        "projects e2e-<run>-<what> whose description is the run's marker (with their workflows), and access tokens made by a run",
    );

    /// Projects named `e2e-<run>-<what>` (owned when the description is the run's marker,
    /// aged by the marker) and access tokens with a run's shape (aged by the time in them);
    /// anyone else's token is not even counted: its value is a credential.
    async fn leftovers(&self, _target: &Target) -> Result<Leftovers, ProbeError> {
        let mut out = Leftovers {
            now: self.server_clock().await?,
            ..Leftovers::default()
        };
        for p in self.projects(Some("e2e-"), 100).await? {
            let run = naming::parse_resource(&p.name)
                .unwrap_or_default()
                .to_string();
            let marker = p
                .description
                .as_deref()
                .and_then(Marker::parse)
                .filter(|m| m.run == run);
            let keep = if run.is_empty() {
                Some("its name is not a run's (e2e-<run>-<what>)".to_string())
            } else if marker.is_none() {
                Some("its description is not a carbon-e2e ownership marker for its run".to_string())
            } else {
                None
            };
            out.artifacts.push(Artifact {
                what: format!("project {}", p.name),
                run,
                created: marker.map(|m| m.created),
                keep,
                handle: vec!["project".into(), p.code.to_string()],
            });
        }
        for t in self.access_tokens().await? {
            let Some((run, created)) = naming::parse_token(t.token.expose()) else {
                continue;
            };
            out.artifacts.push(Artifact {
                what: format!("access token {} of run {run}", t.id),
                run: run.to_string(),
                created: Some(created),
                keep: None,
                handle: vec!["token".into(), t.id.to_string()],
            });
        }
        Ok(out)
    }

    /// A project after each of its workflows (stopped, then deleted); a token directly.
    async fn remove(&self, _target: &Target, artifact: &Artifact) -> Result<String, ProbeError> {
        let (kind, id) = match artifact.handle.as_slice() {
            [kind, id] => (kind.as_str(), id.parse::<i64>().ok()),
            _ => ("", None),
        };
        match (kind, id) {
            ("project", Some(code)) => {
                let workflows = self.workflows(code).await?;
                for wf in &workflows {
                    self.remove_workflow(code, wf.code, Duration::from_secs(60))
                        .await
                        .map_err(|e| format!("removing workflow {}: {e}", wf.name))?;
                }
                self.delete_project(code).await?;
                Ok(format!(
                    "{} and its {} workflow(s)",
                    artifact.what,
                    workflows.len()
                ))
            }
            ("token", Some(id)) => {
                self.delete_access_token(id).await?;
                Ok(artifact.what.clone())
            }
            _ => Err(format!("{}: not a DolphinScheduler artifact", artifact.what).into()),
        }
    }
}
