//! The registry: the platform's services, one declaration each ([`Declared`], written in the
//! service's client crate), listed once. `doctor`'s probes and the run manifest's versions
//! iterate it; what each section declares (locations, credentials, TLS) is reached through
//! [`Target::sections`]. Its test walks the list: every [`Service`] is declared exactly once,
//! and each declared client takes `[target] ca_file`, fails its probes on a dead endpoint and
//! names how its version is read.

use carbon_config::{Declared, ProbeError, Service, Target};
use futures::future::BoxFuture;

/// A probe's answer: what it saw, or why the service cannot be validated.
pub type Answer<'a, T> = BoxFuture<'a, Result<T, ProbeError>>;

/// One service's declaration, as the rest of the program uses it.
#[derive(Clone, Copy)]
pub struct Declaration {
    /// The service.
    pub service: Service,
    /// How its version is read (`run.json`'s `source`).
    pub version_source: &'static str,
    /// Why an answer can come without a version.
    pub no_version: &'static str,
    /// Builds its client from a target and drops it: nothing is sent.
    pub connect: for<'a> fn(&'a Target) -> Answer<'a, ()>,
    /// `doctor`'s readiness probe.
    pub probe: for<'a> fn(&'a Target) -> Answer<'a, String>,
    /// Its version, for the run manifest.
    pub version: for<'a> fn(&'a Target) -> Answer<'a, Option<String>>,
}

impl std::fmt::Debug for Declaration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Declaration")
            .field("service", &self.service)
            .field("version_source", &self.version_source)
            .finish_non_exhaustive()
    }
}

/// Every service's declaration, in [`Service::ALL`]'s order.
pub fn registry() -> [Declaration; 11] {
    [
        declare::<carbon_kube::KubeClient>(),
        declare::<carbon_s3::S3Client>(),
        declare::<carbon_victoriametrics::VmClient>(),
        declare::<carbon_vmalert::VmAlertClient>(),
        declare::<carbon_trino::TrinoClient>(),
        declare::<carbon_trino::RestCatalogClient>(),
        declare::<carbon_superset::SupersetClient>(),
        declare::<carbon_dolphinscheduler::DsClient>(),
        declare::<carbon_loki::LokiClient>(),
        declare::<carbon_grafana::GrafanaClient>(),
        declare::<carbon_velero::VeleroClient>(),
    ]
}

fn declare<C: Declared + 'static>() -> Declaration {
    Declaration {
        service: C::SERVICE,
        version_source: C::VERSION_SOURCE,
        no_version: C::NO_VERSION,
        connect: connect::<C>,
        probe: probe::<C>,
        version: version::<C>,
    }
}

fn connect<C: Declared + 'static>(target: &Target) -> Answer<'_, ()> {
    Box::pin(async move { C::connect(target).await.map(drop) })
}

fn probe<C: Declared + 'static>(target: &Target) -> Answer<'_, String> {
    Box::pin(async move { C::connect(target).await?.probe(target).await })
}

fn version<C: Declared + 'static>(target: &Target) -> Answer<'_, Option<String>> {
    Box::pin(async move { C::connect(target).await?.version(target).await })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_is_declared_once_in_doctors_order() {
        let declared: Vec<Service> = registry().iter().map(|d| d.service).collect();
        assert_eq!(declared, Service::ALL.to_vec());
        for d in registry() {
            assert!(
                !d.version_source.is_empty() && !d.no_version.is_empty(),
                "{:?} does not say how its version is read",
                d.service
            );
        }
    }
}
