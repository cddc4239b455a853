//! Turns a target's Kubernetes references into what the clients use, once per trial process:
//! each `k8s://<ns>/<svc>:<port>[/path]` service location becomes `http://127.0.0.1:<port>[/path]`
//! of a port-forward (or the Service's DNS name in-cluster), each `k8s:<ns>/<name>#<key>`
//! credential setting is read from its Secret into the target's environment under the
//! reference itself, so `Target::credential` and `Target::secret_values` work unchanged.

use std::net::SocketAddr;

use carbon_config::Target;
use url::Url;

use crate::{KubeClient, KubeError, SecretRef, ServiceRef};

/// How one service location is reached.
#[derive(Debug, Clone)]
pub struct Reach {
    /// The target key, e.g. `minio.endpoint`.
    pub key: &'static str,
    /// The reference as written.
    pub reference: String,
    /// The URL the clients use.
    pub url: Url,
    /// `port-forward via pod <ns>/<pod>:<port>` or `in-cluster DNS`.
    pub via: String,
}

/// What keeps the reach alive: the port-forward listeners (closed on drop) and how each
/// reference was reached.
#[derive(Debug, Default)]
pub struct Guards {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Every service location rewritten, in target order.
    pub reaches: Vec<Reach>,
    /// Every credential read from a Secret (the references, never the values).
    pub secrets: Vec<String>,
}

impl Drop for Guards {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Whether the target uses any Kubernetes reference (if not, [`materialize`] builds nothing).
pub fn uses_references(target: &Target) -> bool {
    target
        .service_urls()
        .iter()
        .any(|(_, u)| u.scheme() == "k8s")
        || target
            .credential_vars()
            .iter()
            .any(|v| SecretRef::parse(v).is_some())
}

/// `url` (a `k8s://` reference) rewritten to the forward's loopback address, path kept.
///
/// # Errors
/// When the reference is not a valid Service reference.
pub fn rewrite(url: &Url, local: SocketAddr) -> Result<Url, KubeError> {
    let r = parse_ref(url)?;
    local_url(&format!("http://{local}{}", r.path), url)
}

/// `url` (a `k8s://` reference) as the Service's cluster DNS name, for runs inside the cluster.
///
/// # Errors
/// When the reference is not a valid Service reference.
pub fn in_cluster(url: &Url) -> Result<Url, KubeError> {
    let r = parse_ref(url)?;
    local_url(
        &format!(
            "http://{}.{}.svc:{}{}",
            r.service, r.namespace, r.port, r.path
        ),
        url,
    )
}

fn parse_ref(url: &Url) -> Result<ServiceRef, KubeError> {
    ServiceRef::parse(url.as_str()).ok_or_else(|| {
        KubeError::Config(format!(
            "`{url}` is not a Service reference (k8s://<namespace>/<service>:<port>[/path])"
        ))
    })
}

fn local_url(text: &str, from: &Url) -> Result<Url, KubeError> {
    Url::parse(text).map_err(|e| KubeError::Config(format!("rewriting {from}: {e}")))
}

/// Resolves every reference of `target`: opens one port-forward per `k8s://` location (all at
/// once) and reads every `k8s:` credential. A target without references is returned as is
/// and no client is built.
///
/// # Errors
/// The first reference that fails, named with its key and the reason (no Ready pod and what
/// the pods do, a missing Secret or key, a 403 with the permission to grant).
pub async fn materialize(target: &Target) -> Result<(Target, Guards), KubeError> {
    let mut out = target.clone();
    let mut guards = Guards::default();
    if !uses_references(target) {
        return Ok((out, guards));
    }
    let kube = KubeClient::from_target(target).await.map_err(|e| {
        KubeError::Config(format!(
            "target `{}` uses k8s references, so it needs a cluster: {e}",
            target.name
        ))
    })?;
    let inside = target.kubernetes.as_ref().is_some_and(|k| k.in_cluster);
    let refs: Vec<(&'static str, Url)> = target
        .service_urls()
        .into_iter()
        .filter(|(_, u)| u.scheme() == "k8s")
        .map(|(k, u)| (k, u.clone()))
        .collect();
    let named = |key: &str, reference: &str, e: KubeError| {
        KubeError::Config(format!("{key} = {reference}: {e}"))
    };
    let resolved = if inside {
        let mut v = Vec::new();
        for (key, url) in &refs {
            let local = in_cluster(url).map_err(|e| named(key, url.as_str(), e))?;
            v.push((None, local, "in-cluster DNS".to_string()));
        }
        v
    } else {
        futures::future::try_join_all(refs.iter().map(|(key, url)| {
            let kube = &kube;
            async move {
                let r = parse_ref(url).map_err(|e| named(key, url.as_str(), e))?;
                let (addr, backend, task) = kube
                    .forward_task(&r)
                    .await
                    .map_err(|e| named(key, url.as_str(), e))?;
                let local = rewrite(url, addr).map_err(|e| named(key, url.as_str(), e))?;
                let via = format!(
                    "port-forward via pod {}/{}:{}",
                    r.namespace, backend.pod, backend.port
                );
                Ok::<_, KubeError>((Some(task), local, via))
            }
        }))
        .await?
    };
    for ((key, reference), (task, local, via)) in refs.iter().zip(resolved) {
        guards.tasks.extend(task);
        guards.reaches.push(Reach {
            key,
            reference: reference.to_string(),
            url: local,
            via,
        });
    }
    // By key and reference: a key may name a list (`entrypoints.urls`).
    for (key, url) in out.service_urls_mut() {
        if let Some(reach) = guards
            .reaches
            .iter()
            .find(|r| r.key == key && r.reference == url.as_str())
        {
            *url = reach.url.clone();
        }
    }
    let secret_refs: Vec<SecretRef> = target
        .credential_vars()
        .into_iter()
        .filter_map(SecretRef::parse)
        .collect();
    let values = futures::future::try_join_all(secret_refs.iter().map(|r| kube.secret(r))).await?;
    for (r, value) in secret_refs.iter().zip(values) {
        out.set_credential(&r.to_string(), &value);
        guards.secrets.push(r.to_string());
    }
    Ok((out, guards))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_becomes_the_forwards_loopback_url_with_its_path() {
        let url =
            Url::parse("k8s://data-platform/dolphinscheduler-api:12345/dolphinscheduler").unwrap();
        let local = rewrite(&url, "127.0.0.1:40123".parse().unwrap()).unwrap();
        assert_eq!(local.as_str(), "http://127.0.0.1:40123/dolphinscheduler");
        let url = Url::parse("k8s://data-platform/minio:9000").unwrap();
        let local = rewrite(&url, "127.0.0.1:40124".parse().unwrap()).unwrap();
        assert_eq!(local.as_str(), "http://127.0.0.1:40124/");
        assert_eq!(
            in_cluster(&url).unwrap().as_str(),
            "http://minio.data-platform.svc:9000/"
        );
        let bad = Url::parse("k8s://data-platform/minio").unwrap();
        assert!(
            rewrite(&bad, "127.0.0.1:1".parse().unwrap())
                .unwrap_err()
                .to_string()
                .contains("k8s://data-platform/minio")
        );
    }

    fn target(minio: &str) -> Target {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            format!("[target]\nkind = \"cluster\"\n\n[minio]\n{minio}\ntest_bucket = \"b\"\n"),
        )
        .unwrap();
        let paths = carbon_config::Paths {
            targets: dir.path().into(),
            stack: dir.path().join("stack"),
            cache: dir.path().join("cache"),
        };
        carbon_config::load_from_file(&path, &carbon_config::Env::default(), &paths).unwrap()
    }

    #[tokio::test]
    async fn a_target_without_references_is_returned_as_is_and_builds_no_client() {
        // No [kubernetes] section: building a client would fail, so passing proves none was.
        let t = target(
            "endpoint = \"http://127.0.0.1:17070\"\naccess_key_env = \"A\"\nsecret_key_env = \"S\"",
        );
        assert!(!uses_references(&t));
        let (out, guards) = materialize(&t).await.unwrap();
        assert_eq!(
            out.minio.unwrap().endpoint.as_str(),
            "http://127.0.0.1:17070/"
        );
        assert!(guards.reaches.is_empty() && guards.secrets.is_empty());
    }

    #[tokio::test]
    async fn references_without_a_cluster_fail_naming_the_missing_section() {
        let t = target(
            "endpoint = \"k8s://data-platform/minio:9000\"\naccess_key_env = \"k8s:data-platform/minio#accessKey\"\nsecret_key_env = \"S\"",
        );
        assert!(uses_references(&t));
        // The URL crate keeps a k8s:// reference as written, which is what `ServiceRef` parses.
        assert_eq!(
            t.minio.as_ref().unwrap().endpoint.as_str(),
            "k8s://data-platform/minio:9000"
        );
        let err = materialize(&t).await.unwrap_err().to_string();
        assert!(
            err.contains("uses k8s references") && err.contains("no [kubernetes] section"),
            "{err}"
        );
    }
}
