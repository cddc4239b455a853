//! What the platform runs, for `run.json`: each configured component's version as its server
//! reports it, the platform workloads' container images, and the ArgoCD Applications'
//! revisions. Everything here reads; each service costs exactly one request (none for
//! DolphinScheduler, which has no version endpoint), sent concurrently and bounded by the
//! target's request timeout. A failure becomes the entry's one-line `error`, scrubbed of every
//! credential the target resolves; nothing here panics or stops the run.
//!
//! The types are `carbon_gate`'s (the manifest's layout, which the gate and `diff` read back).

use std::future::Future;
use std::time::Duration;

use carbon_config::{Secret, Service, Target};
use carbon_kube::k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use carbon_kube::k8s_openapi::api::core::v1::{Namespace, PodSpec};
use carbon_kube::kube::api::DynamicObject;
use carbon_kube::kube::{Resource, ResourceExt as _};
use carbon_kube::{ARGOCD_APPLICATION, KubeClient, KubeError};

pub use carbon_gate::{AppRevision, ComponentVersion, Components, WorkloadImage};

/// Reads every configured component's version, the platform's images and ArgoCD's revisions.
///
/// Kubernetes references (`k8s://`, `k8s:`) are resolved with `carbon_kube::materialize`, as
/// `doctor` and every trial resolve them, and the port-forwards live until the probes end. A
/// service the target does not configure is left out. `error` is set whenever `version` is
/// `None`: the failure, or why the server reports none.
pub async fn collect(target: &Target) -> Components {
    let (target, guards, reach_error) = match carbon_kube::materialize(target).await {
        Ok((t, g)) => (t, g, None),
        Err(e) => (target.clone(), carbon_kube::Guards::default(), Some(e)),
    };
    let secrets = target.secret_values();
    if let Some(e) = &reach_error {
        warn(
            &secrets,
            &format!("Kubernetes references not resolved: {e}"),
        );
    }
    let timeout = target.settings.request_timeout();
    let (versions, (images, argocd)) = tokio::join!(
        versions(&target, &secrets, timeout),
        cluster(&target, &secrets, timeout)
    );
    drop(guards);
    Components {
        versions,
        images,
        argocd,
    }
}

/// A one-line note on stderr: what could not be read beyond the versions (which carry their
/// own `error`).
#[allow(clippy::print_stderr)]
fn warn(secrets: &[Secret], text: &str) {
    eprintln!("versions: {}", one_line(secrets, text));
}

/// `text` on one line, without any credential the target resolves.
fn one_line(secrets: &[Secret], text: &str) -> String {
    let flat: Vec<&str> = text.split_whitespace().collect();
    carbon_config::scrub(secrets, flat.join(" "))
}

/// One entry per configured service, in the registry's order: each declared version probe
/// (one request), all at once, each within the request timeout plus a second (so that the
/// client's own timeout error, which names the request, normally comes first).
async fn versions(target: &Target, secrets: &[Secret], timeout: Duration) -> Vec<ComponentVersion> {
    let limit = timeout + Duration::from_secs(1);
    let probes = crate::registry::registry()
        .into_iter()
        .filter(|d| target.service_configured(d.service).is_ok())
        .map(|d| async move {
            let (version, error) = match tokio::time::timeout(limit, (d.version)(target)).await {
                Ok(Ok(Some(v))) => (Some(v), None),
                Ok(Ok(None)) => (None, Some(d.no_version.to_string())),
                Ok(Err(e)) => (None, Some(one_line(secrets, &e.to_string()))),
                Err(_) => (
                    None,
                    Some(format!("no answer within {} s", limit.as_secs())),
                ),
            };
            ComponentVersion {
                component: d.service.name().to_string(),
                version,
                source: d.version_source.to_string(),
                error,
            }
        });
    futures::future::join_all(probes).await
}

/// The platform's images and ArgoCD's revisions, when the target has a cluster.
async fn cluster(
    target: &Target,
    secrets: &[Secret],
    timeout: Duration,
) -> (Vec<WorkloadImage>, Vec<AppRevision>) {
    if target.service_configured(Service::Kubernetes).is_err() {
        return (Vec::new(), Vec::new());
    }
    let kube = match tokio::time::timeout(timeout, KubeClient::from_target(target)).await {
        Ok(Ok(k)) => k,
        Ok(Err(e)) => {
            warn(secrets, &format!("no images or ArgoCD revisions: {e}"));
            return (Vec::new(), Vec::new());
        }
        Err(_) => {
            warn(
                secrets,
                "no images or ArgoCD revisions: connecting timed out",
            );
            return (Vec::new(), Vec::new());
        }
    };
    let cfg = target.platform.clone().unwrap_or_default();
    tokio::join!(
        images(&kube, &cfg, secrets, timeout),
        argocd(&kube, &cfg.argocd_namespace, secrets, timeout)
    )
}

/// A list bounded by the request timeout.
async fn bounded<T>(
    timeout: Duration,
    what: String,
    list: impl Future<Output = Result<Vec<T>, KubeError>>,
) -> Result<Vec<T>, String> {
    match tokio::time::timeout(timeout, list).await {
        Ok(Ok(items)) => Ok(items),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("{what}: no answer within {} s", timeout.as_secs())),
    }
}

/// Deployments', StatefulSets' and DaemonSets' container images in `[platform]`'s scope: one
/// list per kind per namespace (cluster-wide: one per kind, minus `exclude_namespaces` and the
/// namespaces carbon-e2e runs created, as the platform suite's scope).
async fn images(
    kube: &KubeClient,
    cfg: &carbon_config::PlatformConfig,
    secrets: &[Secret],
    timeout: Duration,
) -> Vec<WorkloadImage> {
    let scopes: Vec<Option<String>> = if cfg.cluster_wide {
        vec![None]
    } else {
        cfg.namespaces
            .iter()
            .filter(|n| !cfg.exclude_namespaces.contains(n))
            .map(|n| Some(n.clone()))
            .collect()
    };
    let run_owned = async {
        if !cfg.cluster_wide {
            return Ok(Vec::new());
        }
        let all: Vec<Namespace> = bounded(timeout, "list namespaces".into(), async {
            carbon_kube::kube::Api::<Namespace>::all(kube.client())
                .list(&Default::default())
                .await
                .map(|l| l.items)
                .map_err(carbon_kube::api_err("list namespaces"))
        })
        .await?;
        Ok::<_, String>(
            all.iter()
                .filter(|n| {
                    carbon_core::naming::kube_object_run(
                        n.meta().name.as_deref().unwrap_or_default(),
                        n.meta().labels.as_ref(),
                    )
                    .is_some()
                })
                .map(|n| n.name_any())
                .collect::<Vec<String>>(),
        )
    };
    let lists = futures::future::join_all(scopes.iter().map(|ns| async move {
        let ns = ns.as_deref();
        let (d, s, ds) = tokio::join!(
            bounded(
                timeout,
                format!("list deployments in {}", where_(ns)),
                kube.list::<Deployment>(ns)
            ),
            bounded(
                timeout,
                format!("list statefulsets in {}", where_(ns)),
                kube.list::<StatefulSet>(ns)
            ),
            bounded(
                timeout,
                format!("list daemonsets in {}", where_(ns)),
                kube.list::<DaemonSet>(ns)
            ),
        );
        let mut out = Vec::new();
        let mut errors = Vec::new();
        match d {
            Ok(items) => out.extend(items.iter().flat_map(|o| {
                workload_images(o, o.spec.as_ref().and_then(|s| s.template.spec.as_ref()))
            })),
            Err(e) => errors.push(e),
        }
        match s {
            Ok(items) => out.extend(items.iter().flat_map(|o| {
                workload_images(o, o.spec.as_ref().and_then(|s| s.template.spec.as_ref()))
            })),
            Err(e) => errors.push(e),
        }
        match ds {
            Ok(items) => out.extend(items.iter().flat_map(|o| {
                workload_images(o, o.spec.as_ref().and_then(|s| s.template.spec.as_ref()))
            })),
            Err(e) => errors.push(e),
        }
        (out, errors)
    }));
    let (lists, run_owned) = tokio::join!(lists, run_owned);
    let run_owned = run_owned.unwrap_or_else(|e| {
        warn(
            secrets,
            &format!("run-owned namespaces not told apart: {e}"),
        );
        Vec::new()
    });
    let mut out = Vec::new();
    for (images, errors) in lists {
        for e in errors {
            warn(secrets, &format!("images not read: {e}"));
        }
        out.extend(images.into_iter().filter(|i| {
            !cfg.exclude_namespaces.contains(&i.namespace) && !run_owned.contains(&i.namespace)
        }));
    }
    out.sort_by(|a, b| {
        (&a.namespace, &a.kind, &a.name, &a.container).cmp(&(
            &b.namespace,
            &b.kind,
            &b.name,
            &b.container,
        ))
    });
    out
}

fn where_(ns: Option<&str>) -> String {
    ns.map_or_else(|| "all namespaces".into(), |n| format!("namespace {n}"))
}

/// A workload's containers' images (init containers too: Velero's plugins run as those), in
/// the pod template's order.
fn workload_images<K>(workload: &K, pod: Option<&PodSpec>) -> Vec<WorkloadImage>
where
    K: Resource<DynamicType = ()>,
{
    let Some(pod) = pod else {
        return Vec::new();
    };
    pod.init_containers
        .iter()
        .flatten()
        .chain(&pod.containers)
        .map(|c| WorkloadImage {
            namespace: workload.meta().namespace.clone().unwrap_or_default(),
            kind: K::kind(&()).to_string(),
            name: workload.meta().name.clone().unwrap_or_default(),
            container: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
        })
        .collect()
}

/// ArgoCD's Applications in `namespace`, read as the platform suite reads them (the
/// `carbon_kube::ARGOCD_APPLICATION` CRD, in a version it serves). No CRD: no ArgoCD, nothing.
async fn argocd(
    kube: &KubeClient,
    namespace: &str,
    secrets: &[Secret],
    timeout: Duration,
) -> Vec<AppRevision> {
    let what = format!("list applications.argoproj.io in namespace {namespace}");
    match tokio::time::timeout(
        timeout,
        kube.list_custom(ARGOCD_APPLICATION, Some(namespace)),
    )
    .await
    {
        Ok(Ok(apps)) => {
            let mut out: Vec<AppRevision> = apps.iter().map(app_revision).collect();
            out.sort_by(|a, b| a.name.cmp(&b.name));
            out
        }
        Ok(Err(KubeError::MissingCrd { .. })) => Vec::new(),
        Ok(Err(e)) => {
            warn(secrets, &format!("ArgoCD revisions not read: {e}"));
            Vec::new()
        }
        Err(_) => {
            warn(
                secrets,
                &format!("{what}: no answer within {} s", timeout.as_secs()),
            );
            Vec::new()
        }
    }
}

/// An Application's revisions and status. A multi-source Application (`spec.sources`,
/// `status.sync.revisions`) has its sources' revisions joined with `, `.
fn app_revision(a: &DynamicObject) -> AppRevision {
    let text = |v: &serde_json::Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let joined = |v: &serde_json::Value, field: Option<&str>| {
        let items: Vec<String> = v
            .as_array()?
            .iter()
            .filter_map(|x| text(field.map_or(x, |f| &x[f])))
            .collect();
        (!items.is_empty()).then(|| items.join(", "))
    };
    let d = &a.data;
    AppRevision {
        name: a.name_any(),
        namespace: a.metadata.namespace.clone().unwrap_or_default(),
        target_revision: text(&d["spec"]["source"]["targetRevision"])
            .or_else(|| joined(&d["spec"]["sources"], Some("targetRevision"))),
        synced_revision: text(&d["status"]["sync"]["revision"])
            .or_else(|| joined(&d["status"]["sync"]["revisions"], None)),
        sync: text(&d["status"]["sync"]["status"]),
        health: text(&d["status"]["health"]["status"]),
    }
}

/// A short table: each component's version and where it came from (or why there is none),
/// then the images and ArgoCD's revisions.
pub fn print(c: &Components) {
    println!("\nwhat was validated:");
    println!("  {:<18} {:<28} source / error", "component", "version");
    for v in &c.versions {
        let detail = match &v.error {
            Some(e) => format!("{} — {e}", v.source),
            None => v.source.clone(),
        };
        println!(
            "  {:<18} {:<28} {detail}",
            v.component,
            v.version.as_deref().unwrap_or("-")
        );
    }
    if !c.images.is_empty() {
        println!("  images ({}):", c.images.len());
        for i in &c.images {
            println!(
                "    {}/{}/{} {:<16} {}",
                i.namespace,
                i.kind.to_lowercase(),
                i.name,
                i.container,
                i.image
            );
        }
    }
    if !c.argocd.is_empty() {
        println!("  ArgoCD applications ({}):", c.argocd.len());
        for a in &c.argocd {
            let or = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
            println!(
                "    {:<28} target {:<12} synced {:<12} {} {}",
                a.name,
                or(&a.target_revision),
                or(&a.synced_revision),
                or(&a.sync),
                or(&a.health)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applications with one source, several sources, and never synced.
    #[test]
    fn application_revisions_are_read() {
        let cases = [
            (
                serde_json::json!({
                    "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                    "metadata": {"name": "trino", "namespace": "argocd"},
                    "spec": {"source": {"repoURL": "https://git.example/platform", "targetRevision": "v2.4.0"}},
                    "status": {"sync": {"status": "Synced", "revision": "9f1c2e7"}, "health": {"status": "Healthy"}}
                }),
                ["trino", "v2.4.0", "9f1c2e7", "Synced", "Healthy"],
            ),
            (
                serde_json::json!({
                    "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                    "metadata": {"name": "loki", "namespace": "argocd"},
                    "spec": {"sources": [{"targetRevision": "6.16.0"}, {"targetRevision": "main"}]},
                    "status": {"sync": {"status": "OutOfSync", "revisions": ["6.16.0", "ab12cd3"]}, "health": {"status": "Degraded"}}
                }),
                [
                    "loki",
                    "6.16.0, main",
                    "6.16.0, ab12cd3",
                    "OutOfSync",
                    "Degraded",
                ],
            ),
            (
                serde_json::json!({
                    "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                    "metadata": {"name": "superset", "namespace": "argocd"},
                    "spec": {"source": {"targetRevision": ""}}
                }),
                ["superset", "-", "-", "-", "-"],
            ),
        ];
        for (app, [name, target, synced, sync, health]) in cases {
            let app: DynamicObject = serde_json::from_value(app).expect("application");
            let opt = |s: &str| (s != "-").then(|| s.to_string());
            assert_eq!(
                app_revision(&app),
                AppRevision {
                    name: name.into(),
                    namespace: "argocd".into(),
                    target_revision: opt(target),
                    synced_revision: opt(synced),
                    sync: opt(sync),
                    health: opt(health),
                }
            );
        }
    }

    #[test]
    fn workload_images_cover_init_containers_and_name_the_kind() {
        let d: StatefulSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "minio", "namespace": "data-platform"},
            "spec": {"selector": {}, "serviceName": "minio", "template": {"spec": {
                "initContainers": [{"name": "perms", "image": "busybox:1.36"}],
                "containers": [{"name": "minio", "image": "quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z"}]
            }}}
        }))
        .expect("statefulset");
        let images = workload_images(&d, d.spec.as_ref().and_then(|s| s.template.spec.as_ref()));
        let got: Vec<(&str, &str, &str)> = images
            .iter()
            .map(|i| (i.kind.as_str(), i.container.as_str(), i.image.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("StatefulSet", "perms", "busybox:1.36"),
                (
                    "StatefulSet",
                    "minio",
                    "quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z"
                )
            ]
        );
        assert!(
            images
                .iter()
                .all(|i| i.namespace == "data-platform" && i.name == "minio")
        );
    }

    #[test]
    fn errors_are_one_line_without_secrets() {
        let secrets = [Secret::new("s3cr3t-value")];
        assert_eq!(
            one_line(
                &secrets,
                "minio: HEAD http://x/?X-Amz=s3cr3t-value:\n  HTTP 403\n"
            ),
            "minio: HEAD http://x/?X-Amz=***: HTTP 403"
        );
    }
}
