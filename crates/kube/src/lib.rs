//! Kubernetes client for the suites: connects the way `kubectl` does, says who it is and what
//! it may do, reads custom resources dynamically, and waits on objects through watches.
//!
//! Built on `kube` 5 (rustls with the `ring` provider: without a provider feature the client
//! panics at start) and `k8s-openapi` with `v1_34`.

mod declare;
pub use declare::leftover;
mod materialize;
mod permissions;
pub mod pods;
mod probe;
mod reach;
mod secrets;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use carbon_config::Target;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::wait::{Condition, await_condition};
use kube::{Client, Config, Resource};

pub use k8s_openapi;
pub use kube;
pub use materialize::{Guards, Reach, in_cluster, materialize, rewrite, uses_references};
pub use permissions::{Permission, REACH_PERMISSIONS, read_permissions};
pub use reach::{Backend, ServiceRef};
pub use secrets::SecretRef;

/// Errors of the Kubernetes client.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No usable configuration (missing section, file, context or variable).
    #[error("Kubernetes configuration: {0}")]
    Config(String),
    /// The API server refused or failed a request.
    #[error("{action}: {detail}")]
    Api {
        /// What was asked, e.g. `list pods in all namespaces`.
        action: String,
        /// The server's answer (with the RBAC to grant on a 403).
        detail: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The API server says the identity may not do this (a SelfSubjectAccessReview's answer).
    #[error("{action}: {detail}")]
    Denied {
        /// What was to be done.
        action: String,
        /// What to grant, and where.
        detail: String,
    },
    /// A custom resource's CRD is not installed.
    #[error(
        "the CustomResourceDefinition {crd} is not installed in the cluster, so {kind} objects cannot be read"
    )]
    MissingCrd {
        /// The CRD's name (`<plural>.<group>`).
        crd: String,
        /// The kind.
        kind: String,
    },
    /// A pod waited for will not get there by itself (its image cannot be pulled, it keeps
    /// crashing, it failed): [`pods::pod_stuck`].
    #[error("{what}: pod {pod} on node {node} will not get there by waiting: {state}")]
    Stuck {
        /// What was awaited.
        what: String,
        /// `namespace/name`.
        pod: String,
        /// The node it was scheduled to (`none` before scheduling).
        node: String,
        /// Its trouble, as the kubelet reports it.
        state: String,
    },
    /// A wait ran out of time.
    #[error("timed out after {secs} s waiting for {what}; last state seen: {last}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The timeout.
        secs: u64,
        /// The object's state when the time ran out.
        last: String,
    },
}

/// An API error, with the RBAC to grant when the server answered 403: the one way this
/// crate and the clients built on it (`carbon-velero`) word a refused or failed request.
pub fn api_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> KubeError {
    let action = action.into();
    move |source| {
        let detail = match &source {
            kube::Error::Api(status) if status.code == 403 => format!(
                "403 Forbidden: {}; grant it (kind-config/rbac/readonly.yaml lists what a run reads, readwrite.yaml what it writes)",
                status.message
            ),
            kube::Error::Api(status) => {
                format!("{} {}: {}", status.code, status.reason, status.message)
            }
            other => other.to_string(),
        };
        KubeError::Api {
            action,
            detail,
            source,
        }
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// A custom resource type read dynamically: group, version, kind, plural.
#[derive(Debug, Clone, Copy)]
pub struct CustomKind {
    /// API group, e.g. `argoproj.io`.
    pub group: &'static str,
    /// Version, e.g. `v1alpha1`.
    pub version: &'static str,
    /// Kind, e.g. `Application`.
    pub kind: &'static str,
    /// Plural resource name, e.g. `applications`.
    pub plural: &'static str,
}

/// ArgoCD's Application.
pub const ARGOCD_APPLICATION: CustomKind = CustomKind {
    group: "argoproj.io",
    version: "v1alpha1",
    kind: "Application",
    plural: "applications",
};

/// Kyverno's PolicyException.
pub const KYVERNO_POLICY_EXCEPTION: CustomKind = CustomKind {
    group: "kyverno.io",
    version: "v2",
    kind: "PolicyException",
    plural: "policyexceptions",
};

impl CustomKind {
    /// The CRD's name.
    pub fn crd(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }

    fn api_resource(&self, version: &str) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group, version, self.kind),
            self.plural,
        )
    }
}

/// The version to read a custom resource in, from what its CRD serves (`(name, storage)`):
/// the preferred one when served, else the storage version, else the first served. Operators
/// move their APIs on (Kyverno's PolicyException went `v2alpha1` → `v2beta1` → `v2`), and a
/// cluster serves what its operator's release serves, so the version is read, not assumed.
fn served_version<'a>(preferred: &'a str, served: &'a [(String, bool)]) -> Option<&'a str> {
    served
        .iter()
        .find(|(v, _)| v == preferred)
        .or_else(|| served.iter().find(|(_, storage)| *storage))
        .or_else(|| served.first())
        .map(|(v, _)| v.as_str())
}

/// A connected client and how it was configured.
#[derive(Clone)]
pub struct KubeClient {
    client: Client,
    source: String,
    server: String,
    wait_timeout: Duration,
    probe: ProbePods,
}

/// Where and from what image the pods trials create run (`[kubernetes] probe_*`).
#[derive(Debug, Clone, Default)]
struct ProbePods {
    image: String,
    node_selector: std::collections::BTreeMap<String, String>,
    tolerations: Vec<String>,
}

impl fmt::Debug for KubeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeClient")
            .field("source", &self.source)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl KubeClient {
    /// Connects as the target's `[kubernetes]` says (see `KubernetesConfig` for the order).
    ///
    /// # Errors
    /// [`KubeError::Config`] when the section, file, context or variable is missing or wrong.
    pub async fn from_target(target: &Target) -> Result<Self, KubeError> {
        register_classifiers();
        let cfg = target.kubernetes.clone().ok_or_else(|| {
            KubeError::Config(format!(
                "target `{}` has no [kubernetes] section",
                target.name
            ))
        })?;
        let options = KubeConfigOptions {
            context: cfg.context.clone(),
            ..KubeConfigOptions::default()
        };
        let context = cfg
            .context
            .as_deref()
            .map_or_else(|| "current context".to_string(), |c| format!("context {c}"));
        let from_env = match &cfg.kubeconfig_env {
            Some(var) => Some(target.env_var(var).map(PathBuf::from).ok_or_else(|| {
                KubeError::Config(format!(
                    "kubernetes.kubeconfig_env names {var}, which is unset (for the local stack: run `carbon-e2e stack up`)"
                ))
            })?),
            None => None,
        };
        let (config, source) = if cfg.in_cluster {
            let c = Config::incluster()
                .map_err(|e| KubeError::Config(format!("in-cluster service account: {e}")))?;
            (c, "in-cluster service account".to_string())
        } else if let Some(path) = cfg.kubeconfig.clone().or(from_env) {
            let kc = Kubeconfig::read_from(&path).map_err(|e| {
                KubeError::Config(format!("reading kubeconfig {}: {e}", path.display()))
            })?;
            let c = Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| {
                    KubeError::Config(format!("kubeconfig {} ({context}): {e}", path.display()))
                })?;
            (c, format!("kubeconfig {} ({context})", path.display()))
        } else if cfg.context.is_some() {
            let c = Config::from_kubeconfig(&options)
                .await
                .map_err(|e| KubeError::Config(format!("KUBECONFIG ({context}): {e}")))?;
            (c, format!("KUBECONFIG or ~/.kube/config ({context})"))
        } else {
            let c = Config::infer().await.map_err(|e| {
                KubeError::Config(format!(
                    "none found (KUBECONFIG, ~/.kube/config, in-cluster service account): {e}"
                ))
            })?;
            (
                c,
                "inferred (KUBECONFIG, ~/.kube/config or in-cluster)".to_string(),
            )
        };
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config)
            .map_err(|e| KubeError::Config(format!("building the client for {server}: {e}")))?;
        Ok(Self {
            client,
            source,
            server,
            wait_timeout: cfg.wait_timeout(),
            probe: ProbePods {
                image: cfg.probe_image().to_string(),
                node_selector: cfg.probe_node_selector.clone(),
                tolerations: cfg.probe_tolerations.clone(),
            },
        })
    }

    /// The underlying `kube` client.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Where the configuration came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The target's default wait timeout.
    pub fn wait_timeout(&self) -> Duration {
        self.wait_timeout
    }

    /// The API server's version (`v1.34.4`).
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub async fn version(&self) -> Result<String, KubeError> {
        let info = self
            .client
            .apiserver_version()
            .await
            .map_err(api_err(format!("read the version of {}", self.server)))?;
        Ok(info.git_version)
    }

    /// The version the API server reports, from one `GET /version`: its `gitVersion`
    /// (`v1.34.4`); `Ok(None)` when empty. What [`Self::version`] reads, in the shape every
    /// client's `server_version` has.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub async fn server_version(&self) -> Result<Option<String>, KubeError> {
        let info = self
            .client
            .apiserver_version()
            .await
            .map_err(api_err(format!("read the version of {}", self.server)))?;
        Ok(git_version(&info))
    }

    /// The API server's clock (its `Date` header), in unix seconds: what the reaper ages the
    /// run's objects by.
    ///
    /// # Errors
    /// When the server cannot be reached or sends no `Date`.
    pub async fn server_time(&self) -> Result<i64, KubeError> {
        let request = http::Request::get("/version")
            .body(kube::client::Body::empty())
            .map_err(|e| KubeError::Config(format!("building GET /version: {e}")))?;
        let response = self
            .client
            .send(request)
            .await
            .map_err(api_err(format!("read the clock of {}", self.server)))?;
        response
            .headers()
            .get(http::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(carbon_core::http::parse_http_date)
            .ok_or_else(|| {
                KubeError::Config(format!(
                    "{} sent no usable Date header: its objects' age cannot be read",
                    self.server
                ))
            })
    }

    /// Who the server says we are: user and groups (SelfSubjectReview).
    ///
    /// # Errors
    /// When the review cannot be created.
    pub async fn user(&self) -> Result<(String, Vec<String>), KubeError> {
        let api: Api<SelfSubjectReview> = Api::all(self.client.clone());
        let review = api
            .create(&PostParams::default(), &SelfSubjectReview::default())
            .await
            .map_err(api_err("create a SelfSubjectReview (who am I)"))?;
        let info = review.status.and_then(|s| s.user_info).unwrap_or_default();
        Ok((
            info.username.unwrap_or_default(),
            info.groups.unwrap_or_default(),
        ))
    }

    /// Lists objects of `K` in `namespace` (`None`: all namespaces).
    ///
    /// # Errors
    /// [`KubeError::Api`] naming the resource and namespace (and the RBAC on a 403).
    pub async fn list<K>(&self, namespace: Option<&str>) -> Result<Vec<K>, KubeError>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + fmt::Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let what = K::plural(&K::DynamicType::default()).to_string();
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(api_err(format!(
                "list {what} in {}",
                namespace.map_or("all namespaces".to_string(), |n| format!("namespace {n}"))
            )))?;
        Ok(list.items)
    }

    /// Lists a custom resource dynamically; an absent CRD is [`KubeError::MissingCrd`].
    ///
    /// # Errors
    /// [`KubeError::MissingCrd`] or [`KubeError::Api`].
    pub async fn list_custom(
        &self,
        kind: CustomKind,
        namespace: Option<&str>,
    ) -> Result<Vec<DynamicObject>, KubeError> {
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let crd = match crds.get(&kind.crd()).await {
            Ok(crd) => crd,
            Err(e) if is_status(&e, 404) => {
                return Err(KubeError::MissingCrd {
                    crd: kind.crd(),
                    kind: kind.kind.to_string(),
                });
            }
            Err(e) => return Err(api_err(format!("get the CRD {}", kind.crd()))(e)),
        };
        let served: Vec<(String, bool)> = crd
            .spec
            .versions
            .iter()
            .filter(|v| v.served)
            .map(|v| (v.name.clone(), v.storage))
            .collect();
        let version =
            served_version(kind.version, &served).ok_or_else(|| KubeError::MissingCrd {
                crd: format!("{} (installed, but it serves no version)", kind.crd()),
                kind: kind.kind.to_string(),
            })?;
        let ar = kind.api_resource(version);
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        };
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(api_err(format!(
                "list {}.{} in {}",
                kind.plural,
                kind.group,
                namespace.map_or("all namespaces".to_string(), |n| format!("namespace {n}"))
            )))?;
        Ok(list.items)
    }

    /// Waits, through a watch, until the object `name` meets `condition`; on timeout reports
    /// the object's last state.
    ///
    /// # Errors
    /// [`KubeError::Timeout`] with the last state seen, or [`KubeError::Api`].
    pub async fn wait_for<K>(
        &self,
        api: Api<K>,
        name: &str,
        what: &str,
        timeout: Duration,
        condition: impl Condition<K>,
    ) -> Result<K, KubeError>
    where
        K: Resource
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + fmt::Debug
            + Send
            + 'static,
    {
        self.wait_object(api, name, what, timeout, condition)
            .await?
            .ok_or_else(|| KubeError::Timeout {
                what: what.to_string(),
                secs: timeout.as_secs(),
                last: format!("{name} was deleted"),
            })
    }

    /// Waits, through a watch, until the object `name` is gone (at once if it does not exist);
    /// on timeout reports the object's last state.
    ///
    /// # Errors
    /// [`KubeError::Timeout`] with the last state seen, or [`KubeError::Api`].
    pub async fn wait_deleted<K>(
        &self,
        api: Api<K>,
        name: &str,
        what: &str,
        timeout: Duration,
    ) -> Result<(), KubeError>
    where
        K: Resource
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + fmt::Debug
            + Send
            + 'static,
    {
        self.wait_object(api, name, what, timeout, |obj: Option<&K>| obj.is_none())
            .await
            .map(drop)
    }

    /// The watch both waits share: the object when `condition` holds (`None`: it holds on an
    /// absent object), or a timeout carrying the object's last state.
    async fn wait_object<K>(
        &self,
        api: Api<K>,
        name: &str,
        what: &str,
        timeout: Duration,
        condition: impl Condition<K>,
    ) -> Result<Option<K>, KubeError>
    where
        K: Resource
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + fmt::Debug
            + Send
            + 'static,
    {
        match tokio::time::timeout(timeout, await_condition(api.clone(), name, condition)).await {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(e)) => Err(KubeError::Config(format!(
                "watching {name} for {what}: {e}"
            ))),
            Err(_) => {
                let last = match api.get_opt(name).await {
                    Ok(Some(obj)) => excerpt(&serde_json::to_string(&obj).unwrap_or_default()),
                    Ok(None) => format!("{name} does not exist"),
                    Err(e) => format!("could not read {name}: {e}"),
                };
                Err(KubeError::Timeout {
                    what: what.to_string(),
                    secs: timeout.as_secs(),
                    last,
                })
            }
        }
    }
}

/// The first 400 characters of a long text.
fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(400).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// `gitVersion` of a `/version` answer, `None` when empty.
fn git_version(info: &k8s_openapi::apimachinery::pkg::version::Info) -> Option<String> {
    Some(info.git_version.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl carbon_core::failure::Classify for KubeError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        match self {
            KubeError::Config(_) => Some(Kind::Runner),
            KubeError::Denied { .. } => Some(Kind::Permission),
            KubeError::Api { source, .. } => kube_kind(source),
            // The platform lacks what it should have, or did not get there in time.
            KubeError::MissingCrd { .. } | KubeError::Timeout { .. } | KubeError::Stuck { .. } => {
                Some(Kind::Check)
            }
        }
    }
}

/// Makes [`carbon_core::failure::classify`] know this crate's errors and `kube`'s.
pub fn register_classifiers() {
    carbon_core::failure::register::<KubeError>();
    carbon_core::failure::register_foreign::<kube::Error>(kube_kind);
}

/// The kind of a `kube` client error (for [`carbon_core::failure::register_foreign`]): the
/// API server's status by its code; no answer is the network's, a refused login the
/// credentials', a kubeconfig or request the client cannot form the runner's.
pub fn kube_kind(e: &kube::Error) -> Option<carbon_core::failure::Kind> {
    use carbon_core::failure::{Kind, status_kind};
    Some(match e {
        kube::Error::Api(status) => status_kind(status.code),
        kube::Error::HyperError(_)
        | kube::Error::Service(_)
        | kube::Error::ReadEvents(_)
        | kube::Error::UpgradeConnection(_)
        | kube::Error::ProxyProtocolUnsupported { .. }
        | kube::Error::ProxyProtocolDisabled { .. } => Kind::Network,
        kube::Error::RustlsTls(_) => Kind::Tls,
        kube::Error::Auth(_) => Kind::Credentials,
        kube::Error::SerdeError(_) => Kind::Unreadable,
        kube::Error::Discovery(_) => Kind::Answer,
        _ => Kind::Runner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/version` as the local stack's API server (v1.34.4, built with version ldflags)
    /// answers, a managed cluster's, and a build without version stamping.
    #[rstest::rstest]
    #[case::local_stack(
        r#"{"major":"1","minor":"34","emulationMajor":"1","emulationMinor":"34","minCompatibilityMajor":"1","minCompatibilityMinor":"33","gitVersion":"v1.34.4","gitCommit":"0000000000000000000000000000000000000000","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.25.5","compiler":"gc","platform":"linux/amd64"}"#,
        Some("v1.34.4")
    )]
    #[case::managed(
        r#"{"major":"1","minor":"31+","gitVersion":"v1.31.4-eks-2d5f260","gitCommit":"2d5f260","gitTreeState":"clean","buildDate":"2024-12-12T05:08:48Z","goVersion":"go1.22.9","compiler":"gc","platform":"linux/amd64"}"#,
        Some("v1.31.4-eks-2d5f260")
    )]
    #[case::unstamped(
        r#"{"major":"","minor":"","gitVersion":"","gitCommit":"","gitTreeState":"","buildDate":"","goVersion":"go1.25.5","compiler":"gc","platform":"linux/amd64"}"#,
        None
    )]
    fn server_version_is_git_version(#[case] body: &str, #[case] want: Option<&str>) {
        let info: k8s_openapi::apimachinery::pkg::version::Info =
            serde_json::from_str(body).expect("json");
        assert_eq!(git_version(&info).as_deref(), want);
    }

    #[test]
    fn permission_reads_like_rbac() {
        let p = Permission::cluster("list", "argoproj.io", "applications");
        assert_eq!(
            p.to_string(),
            "list applications.argoproj.io (all namespaces)"
        );
        let p = Permission {
            namespace: Some("data-platform".into()),
            ..Permission::cluster("create", "", "pods/portforward")
        };
        assert_eq!(
            p.to_string(),
            "create pods/portforward in namespace data-platform"
        );
    }

    #[test]
    fn a_custom_resource_is_read_in_a_version_its_crd_serves() {
        let v = |list: &[(&str, bool)]| -> Vec<(String, bool)> {
            list.iter().map(|(n, s)| ((*n).to_string(), *s)).collect()
        };
        // Kyverno 1.13+: v2 served and stored.
        let served = v(&[("v2", true), ("v2beta1", false)]);
        assert_eq!(served_version("v2", &served), Some("v2"));
        // Kyverno 1.11: only v2alpha1/v2beta1 served; the storage version is read.
        let served = v(&[("v2alpha1", false), ("v2beta1", true)]);
        assert_eq!(served_version("v2", &served), Some("v2beta1"));
        // Nothing served: no version to read (the caller names the CRD).
        assert_eq!(served_version("v2", &[]), None);
    }

    #[test]
    fn crd_name_is_plural_dot_group() {
        assert_eq!(ARGOCD_APPLICATION.crd(), "applications.argoproj.io");
    }
}
