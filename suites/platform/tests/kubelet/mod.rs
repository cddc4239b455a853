//! What goes through a kubelet: a pod's log, exec and port-forward. The API server proxies each
//! to the kubelet of the pod's node, so these fail when kubelets cannot be reached (network,
//! certificates, the API server's kubelet client) although every object looks healthy.
//!
//! Reading a log is read-only: it reads a running pod of `[platform]`'s scope. Exec and
//! port-forward need a pod of the run's own: a namespace `e2e-<run id>-<trial>` (ownership
//! labels) with one pod of `[kubernetes] probe_image`, placed by `probe_node_selector` and
//! `probe_tolerations` (locally the real node).

use carbon_harness::Ctx;
use carbon_harness::anyhow::{Context as _, Result, bail, ensure};
use carbon_kube::KubeClient;
use carbon_kube::k8s_openapi::api::core::v1::Pod;
use carbon_kube::kube::api::{Api, AttachParams, ListParams, LogParams};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub(crate) const CREATES: &str = "namespace e2e-<run id>-<trial> (labels carbon-e2e/run, carbon-e2e/owner) with pod e2e-kubelet-probe ([kubernetes] probe_image, placed by probe_node_selector/probe_tolerations; busybox httpd on :8080)";
pub(crate) const CLEANUP: &str = "the namespace is deleted, its pod with it";

const POD: &str = "e2e-kubelet-probe";
const PORT: u16 = 8080;

/// Reads the last lines of the first running pod in `[platform]`'s scope through its kubelet.
pub(crate) async fn logs(ctx: Ctx) -> Result<()> {
    let kube = super::kube(&ctx).await?;
    let scope = suite_platform::Scope::resolve(&kube, &super::cfg(&ctx)).await?;
    let mut chosen = None;
    for ns in &scope.namespaces {
        let pods: Api<Pod> = Api::namespaced(kube.client(), ns);
        let list = pods
            .list(&ListParams::default().fields("status.phase=Running"))
            .await
            .with_context(|| format!("list running pods in {ns}"))?;
        if let Some(p) = list.items.into_iter().next() {
            chosen = Some((ns.clone(), p));
            break;
        }
    }
    let (ns, pod) = chosen.with_context(|| {
        format!(
            "no running pod in {}: no log to read (a scope without running pods fails the pod checks too)",
            scope.namespaces.join(", ")
        )
    })?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.as_ref();
    let container = spec
        .and_then(|s| s.containers.first())
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let node = spec.and_then(|s| s.node_name.clone()).unwrap_or_default();
    let text = Api::<Pod>::namespaced(kube.client(), &ns)
        .logs(
            &name,
            &LogParams {
                container: Some(container.clone()),
                tail_lines: Some(5),
                ..LogParams::default()
            },
        )
        .await
        .with_context(|| {
            format!(
                "read the log of {ns}/{name} (container {container}) through node {node}'s kubelet"
            )
        })?;
    ctx.step(format!(
        "{ns}/{name} (container {container}, node {node}): its kubelet served {} byte(s) of its last 5 lines",
        text.len()
    ));
    Ok(())
}

/// Creates the trial's namespace and pod (an httpd serving one file) and waits until the pod is
/// Ready; returns the namespace and the file's content.
async fn own_pod(ctx: &Ctx, kube: &KubeClient, what: &str) -> Result<(String, String)> {
    let namespace = ctx.own_namespace(kube, what).await?;
    let labels = carbon_core::naming::kube_labels(ctx.run_id());
    let content = format!("carbon-e2e-{what}-{}", ctx.run_id());
    let spec = serde_json::json!({
        "volumes": [{"name": "www", "emptyDir": {"sizeLimit": "1Mi"}}],
        "containers": [{
            "name": "probe",
            "command": ["sh", "-c", format!("echo {content} > /www/index.html && exec httpd -f -p {PORT} -h /www")],
            "ports": [{"name": "http", "containerPort": PORT}],
            "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1},
            "volumeMounts": [{"name": "www", "mountPath": "/www"}],
        }]
    });
    let ready = kube
        .run_probe_pod(
            &namespace,
            POD,
            labels,
            spec,
            carbon_kube::pods::is_ready,
            "to be Ready",
        )
        .await?;
    let node = carbon_kube::pods::node_name(&ready);
    ctx.step(format!(
        "pod {namespace}/{POD} Ready on node {node} ({})",
        kube.probe_image()
    ));
    Ok((namespace, content))
}

/// Runs `cat` in the run's pod and reads its output back.
pub(crate) async fn exec(ctx: Ctx) -> Result<()> {
    let kube = super::kube(&ctx).await?;
    let (namespace, content) = own_pod(&ctx, &kube, "exec").await?;
    let pods: Api<Pod> = Api::namespaced(kube.client(), &namespace);
    let mut attached = pods
        .exec(
            POD,
            ["cat", "/www/index.html"],
            &AttachParams::default().stderr(false),
        )
        .await
        .with_context(|| format!("exec `cat /www/index.html` in {namespace}/{POD}"))?;
    let mut out = String::new();
    if let Some(mut stdout) = attached.stdout() {
        stdout
            .read_to_string(&mut out)
            .await
            .context("read the command's output")?;
    }
    attached.join().await.context("the exec session's end")?;
    ensure!(
        out.trim() == content,
        "exec in {namespace}/{POD} printed {:?}, not the file's {content:?}",
        out.trim()
    );
    ctx.step(format!(
        "exec `cat /www/index.html` in {namespace}/{POD} printed {content}"
    ));
    Ok(())
}

/// Forwards the pod's port 8080 and sends an HTTP request through it.
pub(crate) async fn port_forward(ctx: Ctx) -> Result<()> {
    let kube = super::kube(&ctx).await?;
    let (namespace, content) = own_pod(&ctx, &kube, "portfwd").await?;
    let pods: Api<Pod> = Api::namespaced(kube.client(), &namespace);
    let mut forward = pods
        .portforward(POD, &[PORT])
        .await
        .with_context(|| format!("port-forward to {namespace}/{POD}:{PORT}"))?;
    let errors = forward.take_error(PORT);
    let mut stream = forward
        .take_stream(PORT)
        .with_context(|| format!("no stream for port {PORT}"))?;
    stream
        .write_all(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .context("send the request")?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .context("read the answer")?;
    drop(stream);
    // The answer is the evidence. `join` after the pod's side closed first (httpd answers
    // HTTP/1.0 and closes) fails in kube's forwarder ("Sending after closing is not allowed",
    // see kube-rs #973 for that shutdown path), so the forwarder is aborted, not joined; an
    // error the kubelet reported for the port is read first and shown if the answer is wrong.
    forward.abort();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default().to_string();
    if !(status.contains(" 200 ") && answer.contains(&content)) {
        let reported = match errors {
            Some(e) => tokio::time::timeout(std::time::Duration::from_secs(2), e)
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
            None => String::new(),
        };
        bail!(
            "GET /index.html through the port-forward answered {status:?}, body: {:?}; the kubelet's error for port {PORT}: {:?}",
            answer.chars().take(300).collect::<String>(),
            reported
        );
    }
    ctx.step(format!(
        "GET /index.html through a port-forward to {namespace}/{POD}:{PORT}: {status}, body {content}"
    ));
    Ok(())
}
