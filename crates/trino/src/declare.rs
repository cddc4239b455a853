//! The SQL engine and its Iceberg REST catalog's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Declared, FromTarget as _, ProbeError, Service, Target};

use crate::{RestCatalogClient, TrinoClient};

impl Declared for TrinoClient {
    const SERVICE: Service = Service::Trino;
    const VERSION_SOURCE: &'static str = "GET /v1/info nodeVersion.version";
    const NO_VERSION: &'static str = carbon_config::NO_VERSION_IN_ANSWER;

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    /// Started (not `starting`), the user accepted, and every required catalog present.
    async fn probe(&self, target: &Target) -> Result<String, ProbeError> {
        let info = self.info().await?;
        if info.starting {
            return Err(format!(
                "{} is still starting (version {})",
                self.url(),
                info.node_version.version
            )
            .into());
        }
        let catalogs = self.catalogs().await?;
        let required = target
            .trino
            .as_ref()
            .map(|t| t.required_catalogs.clone())
            .unwrap_or_default();
        let missing = crate::missing_catalogs(&required, &catalogs);
        if !missing.is_empty() {
            return Err(format!(
                "{} lacks required catalog(s) {} (it has {})",
                self.url(),
                missing.join(", "),
                catalogs.join(", ")
            )
            .into());
        }
        Ok(format!(
            "Trino {} ({}), user {} accepted, catalogs {}",
            info.node_version.version,
            info.environment,
            self.user(),
            catalogs.join(", ")
        ))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version().await?)
    }
}

impl Declared for RestCatalogClient {
    const SERVICE: Service = Service::IcebergRestCatalog;
    const VERSION_SOURCE: &'static str =
        "GET /v1/config Server header (the REST protocol has no version endpoint)";
    const NO_VERSION: &'static str = "the catalog's answer names no server";

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    /// Its configuration and its namespaces, as Trino's Iceberg catalog reads them.
    async fn probe(&self, _target: &Target) -> Result<String, ProbeError> {
        let (settings, server) = self.config().await?;
        let namespaces = self.namespaces(&settings).await?;
        Ok(format!(
            "{} answers /v1/config (server {}), {} namespace(s)",
            self.base(),
            server.as_deref().unwrap_or("not named"),
            namespaces.len()
        ))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.config().await?.1)
    }
}
