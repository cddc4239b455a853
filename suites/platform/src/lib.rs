//! The plan's platform health checks, each a function of a cluster client and the target's
//! `[platform]` thresholds that returns its evidence or an error listing every offender.
//!
//! Offenders are named `namespace/name` with their reason (Pending with the scheduler's
//! message, CrashLoopBackOff, ImagePullBackOff, Running but not Ready, OOMKilled, ...),
//! restarts and last event. Evidence names offenders even when a check passes under its
//! threshold.
//!
//! No check passes over nothing: every scoped check first resolves the scope
//! ([`Scope::resolve`]), which fails naming `[platform] namespaces` when a namespace does not
//! exist or the scope holds no pod at all. Namespaces carbon-e2e runs create (name shape and
//! ownership labels) never count against the platform.

mod objects;
mod pods;

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result, bail, ensure};
use carbon_config::PlatformConfig;
use carbon_kube::k8s_openapi::NamespaceResourceScope;
use carbon_kube::k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use carbon_kube::kube::api::{Api, ListParams};
use carbon_kube::kube::{Resource, ResourceExt};
use carbon_kube::{KubeClient, api_err};

pub use objects::{
    MEASURE_ARGOCD, MEASURE_CRITICAL, argocd_applications_healthy, critical_workloads_available,
    daemonsets_fully_ready, failed_jobs_within_maximum, policy_exceptions_present, volumes_bound,
};
pub use pods::{
    MEASURE_HEALTHY, MEASURE_RUNNING, pod_offenders, pod_problem, running_share_meets_minimum,
    unhealthy_pods_below_maximum,
};

/// The namespaces the scoped checks look at, resolved against the cluster.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The namespaces checked (cluster-wide: every namespace not excluded).
    pub namespaces: Vec<String>,
    /// Whether the scope is the whole cluster.
    pub cluster_wide: bool,
    /// Namespaces left out because a carbon-e2e run created them.
    pub run_owned: Vec<String>,
    /// The pods in scope (read once: every scoped check needs them to prove the scope sound).
    pub pods: Vec<Pod>,
}

impl Scope {
    /// Resolves `[platform]`'s scope: every named namespace must exist, and the scope must
    /// hold at least one pod.
    ///
    /// # Errors
    /// A namespace that does not exist, an empty namespace list, a scope without pods (each
    /// naming the setting to fix), or the API's error.
    pub async fn resolve(kube: &KubeClient, cfg: &PlatformConfig) -> Result<Self> {
        let all: Vec<Namespace> = Api::all(kube.client())
            .list(&ListParams::default())
            .await
            .map_err(api_err("list namespaces"))?
            .items;
        let existing: BTreeSet<String> = all.iter().map(ResourceExt::name_any).collect();
        let run_owned: Vec<String> = all
            .iter()
            .filter(|n| {
                carbon_core::naming::kube_object_run(
                    n.meta().name.as_deref().unwrap_or_default(),
                    n.meta().labels.as_ref(),
                )
                .is_some()
            })
            .map(ResourceExt::name_any)
            .collect();
        let excluded = |ns: &str| {
            cfg.exclude_namespaces.iter().any(|n| n == ns) || run_owned.iter().any(|n| n == ns)
        };
        let namespaces: Vec<String> = if cfg.cluster_wide {
            existing.iter().filter(|n| !excluded(n)).cloned().collect()
        } else {
            ensure!(
                !cfg.namespaces.is_empty(),
                "`[platform] namespaces` is empty: name the platform's namespaces, or set `cluster_wide = true`"
            );
            let missing: Vec<&String> = cfg
                .namespaces
                .iter()
                .filter(|n| !existing.contains(*n))
                .collect();
            if !missing.is_empty() {
                bail!(
                    "{} does not exist: check `[platform] namespaces` (the cluster has: {})",
                    missing
                        .iter()
                        .map(|n| format!("namespace `{n}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    existing.iter().cloned().collect::<Vec<_>>().join(", ")
                );
            }
            cfg.namespaces
                .iter()
                .filter(|n| !excluded(n))
                .cloned()
                .collect()
        };
        ensure!(
            !namespaces.is_empty(),
            "the scope is empty: every namespace of `[platform] namespaces` is excluded"
        );
        let mut scope = Self {
            namespaces,
            cluster_wide: cfg.cluster_wide,
            run_owned,
            pods: Vec::new(),
        };
        scope.pods = scope.list::<Pod>(kube).await?;
        ensure!(
            !scope.pods.is_empty(),
            "the scope ({}) holds no pods at all: check `[platform] namespaces`",
            scope.describe()
        );
        Ok(scope)
    }

    /// The scope in words, for evidence.
    pub fn describe(&self) -> String {
        let base = if self.cluster_wide {
            format!("all {} namespaces", self.namespaces.len())
        } else {
            format!("namespaces {}", self.namespaces.join(", "))
        };
        if self.run_owned.is_empty() {
            base
        } else {
            format!(
                "{base}; {} namespace(s) carbon-e2e runs created left out",
                self.run_owned.len()
            )
        }
    }

    /// Lists `K` in the scope: per namespace, or cluster-wide minus the excluded ones.
    ///
    /// # Errors
    /// The API's error, naming what was listed where.
    pub async fn list<K>(&self, kube: &KubeClient) -> Result<Vec<K>>
    where
        K: Resource<Scope = NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        if self.cluster_wide {
            let items: Vec<K> = kube.list(None).await?;
            return Ok(items
                .into_iter()
                .filter(|o| self.contains(o.meta().namespace.as_deref().unwrap_or_default()))
                .collect());
        }
        let mut out = Vec::new();
        for ns in &self.namespaces {
            out.extend(kube.list::<K>(Some(ns)).await?);
        }
        Ok(out)
    }

    fn contains(&self, ns: &str) -> bool {
        self.namespaces.iter().any(|n| n == ns)
    }

    /// The latest event of each object in scope (`namespace/name`): `reason: message`. A
    /// Warning wins over any Normal event (a pod's `Scheduled` may carry a finer timestamp than
    /// the kubelet's `BackOff` that follows it).
    async fn last_events(&self, kube: &KubeClient) -> Result<HashMap<String, String>> {
        let mut events: Vec<Event> = self.list(kube).await?;
        events.sort_by_key(|e| {
            let at = e
                .series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .or(e.event_time.as_ref())
                .map(|t| t.0)
                .or_else(|| e.last_timestamp.as_ref().map(|t| t.0));
            (e.type_.as_deref() == Some("Warning"), at)
        });
        let mut out = HashMap::new();
        for e in events {
            let k = format!(
                "{}/{}",
                e.involved_object.namespace.as_deref().unwrap_or_default(),
                e.involved_object.name.as_deref().unwrap_or_default()
            );
            out.insert(
                k,
                format!(
                    "{}: {}",
                    e.reason.unwrap_or_default(),
                    e.message.unwrap_or_default().trim()
                ),
            );
        }
        Ok(out)
    }
}

/// Whether `[platform] required_kinds` lists `kind`.
fn required(cfg: &PlatformConfig, kind: &str) -> bool {
    cfg.required_kinds
        .iter()
        .any(|k| k.eq_ignore_ascii_case(kind))
}

/// The evidence for a kind the scope holds none of: a pass saying so, or a failure when the
/// target requires the kind.
fn none_of(cfg: &PlatformConfig, scope: &Scope, kind: &str) -> Result<String> {
    ensure!(
        !required(cfg, kind),
        "no {kind} in scope ({}), and `[platform] required_kinds` lists {kind}",
        scope.describe()
    );
    Ok(format!(
        "no {kind} in scope ({}); not required by `[platform] required_kinds`",
        scope.describe()
    ))
}

fn key<K: Resource>(o: &K) -> String {
    format!(
        "{}/{}",
        o.meta().namespace.as_deref().unwrap_or_default(),
        o.meta().name.as_deref().unwrap_or_default()
    )
}

/// Conditions a kubelet reports True only when the node is in trouble.
const PRESSURE: &[&str] = &[
    "MemoryPressure",
    "DiskPressure",
    "PIDPressure",
    "NetworkUnavailable",
];

/// One node's trouble, if any: not Ready (with the kubelet's reason and message), no Ready
/// condition at all (no kubelet has reported), or a pressure condition True.
pub fn node_problem(n: &Node) -> Option<String> {
    let conditions = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let mut trouble = Vec::new();
    match conditions.iter().find(|c| c.type_ == "Ready") {
        Some(c) if c.status == "True" => {}
        Some(c) => trouble.push(format!(
            "Ready={} ({}: {})",
            c.status,
            c.reason.as_deref().unwrap_or_default(),
            c.message.as_deref().unwrap_or_default()
        )),
        None => trouble.push("no Ready condition (no kubelet has reported)".into()),
    }
    for c in conditions
        .iter()
        .filter(|c| PRESSURE.contains(&c.type_.as_str()) && c.status == "True")
    {
        trouble.push(format!(
            "{} ({})",
            c.type_,
            c.message.as_deref().unwrap_or_default()
        ));
    }
    (!trouble.is_empty()).then(|| format!("{}: {}", n.name_any(), trouble.join(", ")))
}

/// One node as the evidence shows it: name, kubelet and runtime versions, and what sets it
/// apart (simulated by kwok, cordoned, tainted).
pub fn node_summary(n: &Node) -> String {
    let info = n
        .status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .filter(|i| !i.kubelet_version.is_empty());
    let mut notes = vec![info.map_or_else(
        || "no kubelet has reported".to_string(),
        |i| {
            format!(
                "kubelet {}, {}",
                i.kubelet_version, i.container_runtime_version
            )
        },
    )];
    if n.annotations()
        .get("kwok.x-k8s.io/node")
        .is_some_and(|v| v == "fake")
    {
        notes.push("simulated by kwok".into());
    }
    let spec = n.spec.as_ref();
    if spec.and_then(|s| s.unschedulable).unwrap_or(false) {
        notes.push("cordoned".into());
    }
    for t in spec.and_then(|s| s.taints.as_deref()).unwrap_or_default() {
        notes.push(format!("taint {}:{}", t.key, t.effect));
    }
    format!("{} ({})", n.name_any(), notes.join(", "))
}

/// Every node in scope (`[platform] node_selector`, default every node) is Ready and under no
/// pressure; there is at least one. Reports per node.
///
/// # Errors
/// Listing each node in trouble ([`node_problem`]) beside the others' summaries; no node in
/// scope, naming the selector.
pub async fn nodes_ready(kube: &KubeClient, cfg: &PlatformConfig) -> Result<String> {
    let api: Api<Node> = Api::all(kube.client());
    let mut params = ListParams::default();
    if let Some(selector) = &cfg.node_selector {
        params = params.labels(selector);
    }
    let nodes = api
        .list(&params)
        .await
        .map_err(api_err("list nodes"))?
        .items;
    let Some(selector) = &cfg.node_selector else {
        return nodes_verdict(&nodes);
    };
    ensure!(
        !nodes.is_empty(),
        "no node matches `{selector}`: check `[platform] node_selector`"
    );
    let scope = format!("nodes matching `{selector}` (`[platform] node_selector`)");
    Ok(format!(
        "{scope}: {}",
        nodes_verdict(&nodes).context(scope.clone())?
    ))
}

/// [`nodes_ready`] over a list of nodes already read.
///
/// # Errors
/// As [`nodes_ready`].
pub fn nodes_verdict(nodes: &[Node]) -> Result<String> {
    ensure!(!nodes.is_empty(), "the cluster has no nodes");
    let bad: Vec<String> = nodes.iter().filter_map(node_problem).collect();
    let all: Vec<String> = nodes.iter().map(node_summary).collect();
    ensure!(
        bad.is_empty(),
        "{} of {} node(s) not Ready or under pressure: {}; all nodes: {}",
        bad.len(),
        nodes.len(),
        bad.join("; "),
        all.join("; ")
    );
    Ok(format!("{} node(s) Ready: {}", nodes.len(), all.join("; ")))
}
