//! The pods trials create (the Velero restore, the kubelet trials, a pod whose log goes to
//! Loki): their spec from `[kubernetes] probe_image` and placement, creating one and waiting
//! until it is Ready or stuck, and the namespace of the run it runs in (created, then removed).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams};

use crate::{KubeClient, KubeError, api_err, is_status, pods};

impl KubeClient {
    /// The image of the pods trials create (`[kubernetes] probe_image`).
    pub fn probe_image(&self) -> &str {
        &self.probe.image
    }

    /// A pod spec for a pod a trial creates, completed from `spec` (its containers' names,
    /// commands, ports, probes, volumes): every container gets `[kubernetes] probe_image`
    /// unless it names one, small requests and limits, and the restricted Pod Security
    /// profile's settings (non-root uid 65534, no privilege escalation, read-only root, no
    /// capabilities, the runtime's seccomp profile), so admission policies let it in; the pod
    /// gets no service-account token, a 1 s grace period, and the placement of
    /// `probe_node_selector`/`probe_tolerations` (none when unset). Fields `spec` sets win.
    pub fn probe_spec(&self, spec: serde_json::Value) -> serde_json::Value {
        use serde_json::{Value, json};
        let mut pod = serde_json::Map::new();
        pod.insert("automountServiceAccountToken".into(), json!(false));
        pod.insert("terminationGracePeriodSeconds".into(), json!(1));
        pod.insert(
            "securityContext".into(),
            json!({"runAsNonRoot": true, "runAsUser": 65534,
                   "seccompProfile": {"type": "RuntimeDefault"}}),
        );
        if !self.probe.node_selector.is_empty() {
            pod.insert("nodeSelector".into(), json!(self.probe.node_selector));
        }
        if !self.probe.tolerations.is_empty() {
            let t: Vec<Value> = self
                .probe
                .tolerations
                .iter()
                .map(|k| json!({"key": k, "operator": "Exists", "effect": "NoSchedule"}))
                .collect();
            pod.insert("tolerations".into(), Value::Array(t));
        }
        if let Value::Object(given) = spec {
            pod.extend(given);
        }
        if let Some(Value::Array(containers)) = pod.get_mut("containers") {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                for (k, v) in [
                    ("image", json!(self.probe.image)),
                    (
                        "resources",
                        json!({"requests": {"cpu": "5m", "memory": "8Mi"},
                               "limits": {"cpu": "50m", "memory": "32Mi"}}),
                    ),
                    (
                        "securityContext",
                        json!({"allowPrivilegeEscalation": false,
                               "readOnlyRootFilesystem": true,
                               "capabilities": {"drop": ["ALL"]}}),
                    ),
                ] {
                    c.entry(k).or_insert(v);
                }
            }
        }
        Value::Object(pod)
    }

    /// Creates the pod `name` in `namespace` from `spec` completed by [`Self::probe_spec`],
    /// labelled `labels` plus `app=<name>`, and waits as [`Self::wait_pod`] does until
    /// `condition`; returns the pod as then seen ([`pods::node_name`] says where it ran).
    ///
    /// # Errors
    /// The API server's refusal ([`KubeError::Api`]), [`KubeError::Stuck`] or
    /// [`KubeError::Timeout`].
    pub async fn run_probe_pod(
        &self,
        namespace: &str,
        name: &str,
        mut labels: std::collections::BTreeMap<String, String>,
        spec: serde_json::Value,
        condition: fn(&Pod) -> bool,
        what: &str,
    ) -> Result<Pod, KubeError> {
        labels.insert("app".into(), name.into());
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": labels},
            "spec": self.probe_spec(spec),
        }))
        .map_err(|e| KubeError::Config(format!("pod {namespace}/{name}: {e}")))?;
        let pods: Api<Pod> = Api::namespaced(self.client(), namespace);
        pods.create(&PostParams::default(), &pod)
            .await
            .map_err(api_err(format!("create pod {namespace}/{name}")))?;
        self.wait_pod(
            pods,
            name,
            &format!("pod {namespace}/{name} {what}"),
            self.wait_timeout(),
            condition,
        )
        .await
    }

    /// Creates the namespace `name` with `labels` (a run's ownership labels).
    ///
    /// # Errors
    /// The API server's refusal ([`KubeError::Api`], a 403 naming the RBAC manifest).
    pub async fn create_namespace(
        &self,
        name: &str,
        labels: std::collections::BTreeMap<String, String>,
    ) -> Result<(), KubeError> {
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.to_string());
        ns.metadata.labels = Some(labels);
        Api::<Namespace>::all(self.client())
            .create(&PostParams::default(), &ns)
            .await
            .map_err(api_err(format!("create namespace {name}")))?;
        Ok(())
    }

    /// Deletes the namespace `name`, its objects with it; one already gone is fine.
    ///
    /// # Errors
    /// The API server's refusal ([`KubeError::Api`]).
    pub async fn delete_namespace(&self, name: &str) -> Result<(), KubeError> {
        let api: Api<Namespace> = Api::all(self.client());
        match api.delete(name, &kube::api::DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(api_err(format!("delete namespace {name}"))(e)),
        }
    }

    /// Waits, through a watch, until the pod `name` meets `condition` (running, Ready...), and
    /// fails at once when it is stuck instead ([`pods::pod_stuck`]: an image that cannot be
    /// pulled, a crash loop, phase Failed), naming its node and the kubelet's reason rather
    /// than running out the timeout.
    ///
    /// # Errors
    /// [`KubeError::Stuck`], [`KubeError::Timeout`] with the last state seen, or
    /// [`KubeError::Api`].
    pub async fn wait_pod(
        &self,
        api: Api<Pod>,
        name: &str,
        what: &str,
        timeout: Duration,
        condition: fn(&Pod) -> bool,
    ) -> Result<Pod, KubeError> {
        let pod = self
            .wait_for(api, name, what, timeout, move |p: Option<&Pod>| {
                p.is_some_and(|p| condition(p) || pods::pod_stuck(p).is_some())
            })
            .await?;
        if condition(&pod) {
            return Ok(pod);
        }
        Err(KubeError::Stuck {
            what: what.to_string(),
            pod: format!(
                "{}/{}",
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                name
            ),
            node: Some(pods::node_name(&pod))
                .filter(|n| !n.is_empty())
                .unwrap_or("none")
                .to_string(),
            state: pods::pod_stuck(&pod).unwrap_or_default(),
        })
    }
}
