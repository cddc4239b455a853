//! The metrics store's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Artifact, Declared, FromTarget as _, Leftovers, ProbeError, Service, Target};
use carbon_core::naming;

use crate::VmClient;

impl Declared for VmClient {
    const SERVICE: Service = Service::VictoriaMetrics;
    const VERSION_SOURCE: &'static str = "GET /metrics vm_app_version{version}";
    const NO_VERSION: &'static str = "the server reports an empty version (a build without version stamping, such as Debian's package)";

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    async fn probe(&self, _target: &Target) -> Result<String, ProbeError> {
        self.health().await?;
        Ok("/health answered OK".into())
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version().await?)
    }

    const ARTIFACTS: Option<&'static str> = Some(
        "series carbon_e2e_* labelled e2e_owner=\"carbon-e2e\" and e2e_run=\"<run>\" (removed only with opt_in \"delete-series\")",
    );

    /// Each run's `carbon_e2e_*` series with the owner label, aged by their newest sample on
    /// the server's clock. Deleting series is a write a target opts in to (as the trials that
    /// do it): without `delete-series` they are kept, saying so.
    async fn leftovers(&self, target: &Target) -> Result<Leftovers, ProbeError> {
        let now = self.server_clock().await?;
        let owned = format!(
            "{{__name__=~\"carbon_e2e_.+\",{}=\"{}\"}}",
            naming::OWNER_LABEL,
            naming::OWNER
        );
        let mut runs: std::collections::BTreeMap<String, i64> = Default::default();
        for series in self.export(&owned).await? {
            let Some(run) = series.metric.get(naming::RUN_LABEL) else {
                continue;
            };
            let newest = series.timestamps.iter().copied().max().unwrap_or(0) / 1000;
            let e = runs.entry(run.clone()).or_insert(newest);
            *e = (*e).max(newest);
        }
        let may_delete = target.settings.allows("delete-series");
        let artifacts = runs
            .into_iter()
            .map(|(run, newest)| {
                let keep = if !naming::is_run_id(&run) {
                    Some("the run label has no run's shape".to_string())
                } else if !may_delete {
                    Some("deleting series needs opt_in \"delete-series\" in [target]".to_string())
                } else {
                    None
                };
                Artifact {
                    what: format!("carbon_e2e_* series of run {run}"),
                    handle: vec![run.clone()],
                    run,
                    created: Some(newest),
                    keep,
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
        let selector = format!(
            "{{__name__=~\"carbon_e2e_.+\",{}=\"{}\",{}=\"{}\"}}",
            naming::OWNER_LABEL,
            naming::OWNER,
            naming::RUN_LABEL,
            artifact.run
        );
        self.delete_series_settled(&selector, crate::SERIES_CLEANUP)
            .await?;
        Ok(artifact.what.clone())
    }
}
