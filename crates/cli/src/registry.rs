//! The registry: the platform's services, one declaration each ([`Declared`], written in the
//! service's client crate), listed once. `doctor`'s probes and the run manifest's versions
//! iterate it; what each section declares (locations, credentials, TLS) is reached through
//! [`Target::sections`]. Its test walks the list: every [`Service`] is declared exactly once,
//! and each declared client takes `[target] ca_file`, fails its probes on a dead endpoint and
//! names how its version is read.

use carbon_config::{Declared, ProbeError, Service, Target};

use crate::reap::{Outcome, Selection};
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
    /// What runs leave there (`None`: nothing, the reaper does not look).
    pub artifacts: Option<&'static str>,
    /// Reaps it: lists its leftovers and removes those `Selection` chooses.
    pub reap: for<'a> fn(&'a Target, &'a Selection, &'a mut Outcome) -> BoxFuture<'a, ()>,
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
pub fn registry() -> [Declaration; 12] {
    [
        declare::<carbon_kube::KubeClient>(),
        declare::<carbon_minio::MinioClient>(),
        declare::<carbon_victoriametrics::VmClient>(),
        declare::<carbon_vmalert::VmAlertClient>(),
        declare::<carbon_trino::TrinoClient>(),
        declare::<carbon_trino::RestCatalogClient>(),
        declare::<carbon_superset::SupersetClient>(),
        declare::<carbon_dolphinscheduler::DsClient>(),
        declare::<carbon_loki::LokiClient>(),
        declare::<carbon_grafana::GrafanaClient>(),
        declare::<carbon_velero::VeleroClient>(),
        declare::<carbon_entrypoints::EntryPointsClient>(),
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
        artifacts: C::ARTIFACTS,
        reap: reap::<C>,
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

/// Lists what runs left on `C`'s service and removes what `sel` chooses: an artifact something
/// keeps (no marker, an opt-in missing) is reported kept; one too young (or of another run than
/// `--run`) is reported unless `--run` narrows the reap; a failure is counted and the rest go on.
fn reap<'a, C: Declared + 'static>(
    target: &'a Target,
    sel: &'a Selection,
    out: &'a mut Outcome,
) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let name = C::SERVICE.name();
        let client = match C::connect(target).await {
            Ok(c) => c,
            Err(e) => return out.failed(name, "connecting", &e),
        };
        let listing = match client.leftovers(target).await {
            Ok(l) => l,
            Err(e) => return out.failed(name, "listing", &e),
        };
        for note in &listing.notes {
            println!("reap: {name}: {note}");
        }
        for (what, e) in &listing.failures {
            out.failed(name, what, e);
        }
        for a in listing.artifacts {
            if let Some(why) = &a.keep {
                out.kept(name, &a.what, why);
                continue;
            }
            if let Err(why) = sel.decide(&a.run, a.created, listing.now) {
                if sel.run.is_none() {
                    out.kept(name, &a.what, &why);
                }
                continue;
            }
            if sel.dry_run {
                out.removed(sel, name, a.what);
                continue;
            }
            match client.remove(target, &a).await {
                Ok(done) => out.removed(sel, name, done),
                Err(e) => out.failed(name, &a.what, &e),
            }
        }
    })
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
