//! Kubernetes leftovers: namespaces and Velero objects a run created, judged by name, marker
//! and age on the API server's clock.

use std::time::Duration;

use carbon_config::Target;
use carbon_core::naming;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Outcome, Selection};

/// What the reaper does with a Kubernetes object.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum KubeVerdict {
    /// Its name is not a run's: not even counted.
    Foreign,
    /// A run's name without the run's labels: kept and reported.
    Unmarked,
    /// A run's, kept (too young, or another run than `--run`): reported unless `--run`.
    Kept(String),
    /// A leftover: removed.
    Remove,
}

/// The verdict on an object named `name` with `labels`, created at `created` (server seconds).
pub(super) fn kube_verdict(
    sel: &Selection,
    name: &str,
    labels: Option<&std::collections::BTreeMap<String, String>>,
    created: Option<i64>,
    now: i64,
) -> KubeVerdict {
    if naming::parse_resource(name).is_none() {
        return KubeVerdict::Foreign;
    }
    let Some(run) = naming::kube_object_run(name, labels) else {
        return KubeVerdict::Unmarked;
    };
    match sel.decide(run, created, now) {
        Ok(()) => KubeVerdict::Remove,
        Err(why) => KubeVerdict::Kept(why),
    }
}

/// Reports a verdict that keeps the object; `true` when the object is to be removed.
pub(super) fn report_kube_verdict(
    out: &mut Outcome,
    sel: &Selection,
    service: &str,
    what: &str,
    verdict: KubeVerdict,
) -> bool {
    match verdict {
        KubeVerdict::Foreign => false,
        KubeVerdict::Unmarked => {
            out.kept(
                service,
                what,
                &format!(
                    "no labels {}=<its run>, {}={}: not a run's",
                    naming::KUBE_RUN_LABEL,
                    naming::KUBE_OWNER_LABEL,
                    naming::OWNER
                ),
            );
            false
        }
        KubeVerdict::Kept(why) => {
            if sel.run.is_none() {
                out.kept(service, what, &why);
            }
            false
        }
        KubeVerdict::Remove => true,
    }
}

/// Velero objects a run created, aged by `creationTimestamp` on the API server's clock:
/// Backups (through a DeleteBackupRequest, which removes their files), Restores, storage
/// locations and delete requests.
pub(super) async fn reap_velero(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    use carbon_velero::{Kind, VeleroClient};
    let velero = VeleroClient::from_target(target).await?;
    let now = velero.kube().server_time().await?;
    for kind in Kind::CREATED {
        let objects: Vec<kube_object::Any> = velero.list(kind).await?;
        for o in objects {
            let name = o.metadata.name.clone().unwrap_or_default();
            let created = o
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.as_second());
            let what = format!("{kind} {}/{name}", velero.namespace());
            let verdict = kube_verdict(sel, &name, o.metadata.labels.as_ref(), created, now);
            if !report_kube_verdict(out, sel, "velero", &what, verdict) {
                continue;
            }
            if sel.dry_run {
                out.removed(sel, "velero", what);
                continue;
            }
            let removal = match kind {
                Kind::Backup => {
                    let run = naming::parse_resource(&name).unwrap_or_default();
                    velero
                        .delete_backup(&name, run, Duration::from_secs(60))
                        .await
                }
                other => velero.delete(other, &name).await,
            };
            match removal {
                Ok(()) => out.removed(sel, "velero", what),
                Err(e) => out.failed("velero", &what, &e.into()),
            }
        }
    }
    Ok(())
}

/// Namespaces a run created (`e2e-<run>-<what>` with the run's labels), aged by
/// `creationTimestamp` on the API server's clock.
pub(super) async fn reap_namespaces(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    use carbon_kube::k8s_openapi::api::core::v1::Namespace;
    use carbon_kube::kube::api::{Api, DeleteParams, ListParams};
    let kube = carbon_kube::KubeClient::from_target(target).await?;
    let now = kube.server_time().await?;
    let api: Api<Namespace> = Api::all(kube.client());
    let params =
        ListParams::default().labels(&format!("{}={}", naming::KUBE_OWNER_LABEL, naming::OWNER));
    for ns in api.list(&params).await?.items {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let created = ns
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_second());
        let what = format!("namespace {name}");
        let verdict = kube_verdict(sel, &name, ns.metadata.labels.as_ref(), created, now);
        if !report_kube_verdict(out, sel, "kubernetes", &what, verdict) {
            continue;
        }
        if ns.metadata.deletion_timestamp.is_some() {
            continue; // already being deleted
        }
        if !sel.dry_run
            && let Err(e) = api.delete(&name, &DeleteParams::default()).await
        {
            out.failed("kubernetes", &what, &e.into());
            continue;
        }
        out.removed(sel, "kubernetes", what);
    }
    Ok(())
}

/// Any Velero object, read for its metadata only.
pub(super) mod kube_object {
    /// Spec and status left untyped.
    pub(super) type Any = carbon_kube::kube::core::Object<serde_json::Value, serde_json::Value>;
}

pub(super) fn rfc3339_secs(text: Option<&str>) -> Option<i64> {
    text.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(OffsetDateTime::unix_timestamp)
}
