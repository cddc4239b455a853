//! Reaching a Service from outside the cluster: resolve Service → EndpointSlice → a Ready pod
//! (respecting a named `targetPort`), then a loopback listener whose every connection is a
//! port-forward through the API server to that pod.
//!
//! A port-forward stream does not report end-of-stream when the target closes: clients must
//! read framed (HTTP with Content-Length) or with a deadline.

use std::net::SocketAddr;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams};

use crate::{KubeClient, KubeError, api_err};

/// A `k8s://<namespace>/<service>:<port>[/path]` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    /// The namespace.
    pub namespace: String,
    /// The Service's name.
    pub service: String,
    /// The Service's port (not the pod's).
    pub port: u16,
    /// What follows the port, e.g. `/dolphinscheduler` (empty when nothing does).
    pub path: String,
}

impl ServiceRef {
    /// Parses `k8s://<namespace>/<service>:<port>[/path]`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("k8s://")?;
        let (namespace, rest) = rest.split_once('/')?;
        let (service, rest) = rest.split_once(':')?;
        let (port, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let port = port.parse().ok()?;
        (!namespace.is_empty() && !service.is_empty()).then(|| Self {
            namespace: namespace.into(),
            service: service.into(),
            port,
            path: path.into(),
        })
    }
}

impl std::fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "k8s://{}/{}:{}{}",
            self.namespace, self.service, self.port, self.path
        )
    }
}

/// Where a port-forward lands: the pod and its port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The Ready pod chosen.
    pub pod: String,
    /// The pod's port.
    pub port: u16,
}

impl KubeClient {
    /// A Ready pod behind the Service and the pod port its `port` maps to.
    ///
    /// # Errors
    /// Naming the service and what its pods are doing when none is Ready.
    pub async fn resolve(&self, r: &ServiceRef) -> Result<Backend, KubeError> {
        let svcs: Api<Service> = Api::namespaced(self.client(), &r.namespace);
        let svc = svcs.get(&r.service).await.map_err(api_err(format!(
            "get service {}/{}",
            r.namespace, r.service
        )))?;
        let sp = svc
            .spec
            .and_then(|s| s.ports)
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.port == i32::from(r.port))
            .ok_or_else(|| KubeError::Config(format!("{r}: the service has no port {}", r.port)))?;
        let slices: Api<EndpointSlice> = Api::namespaced(self.client(), &r.namespace);
        let lp = ListParams::default().labels(&format!("kubernetes.io/service-name={}", r.service));
        let slices = slices.list(&lp).await.map_err(api_err(format!(
            "list endpointslices of {}/{}",
            r.namespace, r.service
        )))?;
        for slice in &slices.items {
            // The slice's port carries the service port's name and the resolved pod port.
            let port = slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name == sp.name)
                .and_then(|p| p.port)
                .or(match &sp.target_port {
                    Some(IntOrString::Int(n)) => Some(*n),
                    _ => None,
                });
            let Some(port) = port.and_then(|p| u16::try_from(p).ok()) else {
                continue;
            };
            for ep in &slice.endpoints {
                let ready = ep
                    .conditions
                    .as_ref()
                    .and_then(|c| c.ready)
                    .unwrap_or(false);
                if let (true, Some(target)) = (ready, &ep.target_ref)
                    && target.kind.as_deref() == Some("Pod")
                {
                    return Ok(Backend {
                        pod: target.name.clone().unwrap_or_default(),
                        port,
                    });
                }
            }
        }
        let pods: Api<Pod> = Api::namespaced(self.client(), &r.namespace);
        let selector = svc_selector(&svcs, &r.service).await;
        let doing = match selector {
            Some(sel) => pods
                .list(&ListParams::default().labels(&sel))
                .await
                .map(|l| {
                    l.items
                        .iter()
                        .map(|p| {
                            format!(
                                "{} {}",
                                p.metadata.name.as_deref().unwrap_or_default(),
                                p.status
                                    .as_ref()
                                    .and_then(|s| s.phase.as_deref())
                                    .unwrap_or("?")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|e| format!("(pods unreadable: {e})")),
            None => "(the service has no selector)".into(),
        };
        Err(KubeError::Config(format!(
            "{r}: no Ready pod behind the service; its pods: {}",
            if doing.is_empty() { "none" } else { &doing }
        )))
    }

    /// Opens a loopback listener that forwards every connection to a Ready pod behind `r`
    /// through the API server; returns its address. The listener lives as long as the runtime.
    ///
    /// # Errors
    /// When the service cannot be resolved or the listener bound.
    pub async fn forward(&self, r: &ServiceRef) -> Result<(SocketAddr, Backend), KubeError> {
        let (addr, backend, _detached) = self.forward_task(r).await?;
        Ok((addr, backend))
    }

    /// [`KubeClient::forward`], also returning the listener's task (aborting it closes the
    /// listener).
    ///
    /// # Errors
    /// When the service cannot be resolved or the listener bound.
    pub async fn forward_task(
        &self,
        r: &ServiceRef,
    ) -> Result<(SocketAddr, Backend, tokio::task::JoinHandle<()>), KubeError> {
        let backend = self.resolve(r).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| KubeError::Config(format!("binding a loopback port for {r}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| KubeError::Config(format!("loopback address for {r}: {e}")))?;
        let pods: Api<Pod> = Api::namespaced(self.client(), &r.namespace);
        // The permission now, so that a refused forward fails here naming the permission and
        // the manifest instead of every later connection merely being reset. Asked of the API
        // server (SelfSubjectAccessReview), not tried: a forward opened only to be dropped makes
        // the node dial the pod, and a server that gives each connection a thread until its
        // first request (gunicorn's gthread: Superset) lost one per trial until the node
        // noticed, which starved it when many trials ran at once.
        self.may_forward(r, &backend).await?;
        let b = backend.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (pods, b) = (pods.clone(), b.clone());
                tokio::spawn(async move {
                    let mut pf = match pods.portforward(&b.pod, &[b.port]).await {
                        Ok(pf) => pf,
                        Err(e) => {
                            // The client only sees its connection closed: say why here (the
                            // forward worked when the listener opened, so this is rare).
                            eprintln!("port-forward to pod {}:{} failed: {e}", b.pod, b.port);
                            return;
                        }
                    };
                    if let Some(mut upstream) = pf.take_stream(b.port) {
                        let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
                    }
                    pf.abort();
                });
            }
        });
        Ok((addr, backend, task))
    }
}

impl KubeClient {
    /// Whether the identity may port-forward in `r`'s namespace (`get` and `create` on
    /// `pods/portforward`: the WebSocket forward needs `get`, the SPDY one `create`).
    async fn may_forward(&self, r: &ServiceRef, b: &Backend) -> Result<(), KubeError> {
        let mut missing = Vec::new();
        for verb in ["get", "create"] {
            let p = crate::Permission {
                namespace: Some(r.namespace.clone()),
                ..crate::Permission::cluster(verb, "", "pods/portforward")
            };
            if !self.can(&p).await? {
                missing.push(verb);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(KubeError::Denied {
            action: format!(
                "port-forward to pod {}/{} port {} for {r}",
                r.namespace, b.pod, b.port
            ),
            detail: format!(
                "403 Forbidden: the identity may not port-forward: grant `{}` on pods/portforward in namespace {} (kind-config/rbac/readonly.yaml grants `get` and `create`)",
                missing.join("` and `"),
                r.namespace
            ),
        })
    }
}

async fn svc_selector(svcs: &Api<Service>, name: &str) -> Option<String> {
    let sel = svcs.get(name).await.ok()?.spec?.selector?;
    Some(
        sel.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references_with_and_without_a_path() {
        assert_eq!(
            ServiceRef::parse("k8s://data-platform/minio:9000"),
            Some(ServiceRef {
                namespace: "data-platform".into(),
                service: "minio".into(),
                port: 9000,
                path: String::new(),
            })
        );
        let r =
            ServiceRef::parse("k8s://data-platform/dolphinscheduler-api:12345/dolphinscheduler")
                .unwrap();
        assert_eq!(r.path, "/dolphinscheduler");
        assert_eq!(
            r.to_string(),
            "k8s://data-platform/dolphinscheduler-api:12345/dolphinscheduler"
        );
        assert_eq!(ServiceRef::parse("http://minio:9000"), None);
        assert_eq!(ServiceRef::parse("k8s://ns/svc:notaport"), None);
    }
}
