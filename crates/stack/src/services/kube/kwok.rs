//! kwok v0.8.0: one simulated node (`carbon-kwok-0`) whose kubelet API kwok serves, so pods
//! scheduled by the real scheduler become Running/Ready through kwok's stages, and
//! port-forward, logs and exec go through the real API server to kwok.
//!
//! Before kwok starts, the stack applies the CRDs kwok's stages drive (kwok's own, copied from
//! its module, and the minimal ArgoCD/Kyverno ones in `kind-config/crds`), creates the node and
//! deletes its old Lease (else kwok waits it out and pods stay un-Ready about 30 s). Once the
//! node is Ready it applies the platform layout (`kind-config/platform`), the namespace of
//! broken things (`kind-config/broken`), the local RBAC bindings, and generated objects that
//! tie each platform pod to its native server: `ClusterPortForward` (pod port → the server's
//! loopback port) and `ClusterLogs` (the server's log, converted to CRI format).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures::future::BoxFuture;

use super::KWOK_PORT;
use super::build::{Binaries, kubectl};
use super::pki::{ADMIN, KWOK, Pki};
use crate::install::run_logged;
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

/// The simulated node.
pub(crate) const NODE: &str = "carbon-kwok-0";

/// How one platform workload reaches its native server.
pub(crate) struct Workload {
    pub(crate) namespace: &'static str,
    /// The container's name (`kind-config/platform/*.yaml`).
    pub(crate) container: &'static str,
    /// Its container port and the native server's loopback port, when it serves one.
    pub(crate) ports: Option<(u16, u16)>,
    /// The stack service whose log the pod shows.
    pub(crate) log: &'static str,
}

const fn w(
    namespace: &'static str,
    container: &'static str,
    ports: Option<(u16, u16)>,
    log: &'static str,
) -> Workload {
    Workload {
        namespace,
        container,
        ports,
        log,
    }
}

/// The platform workloads the stack's servers stand behind. Container names and ports match
/// `kind-config/platform/*.yaml`.
pub(crate) const WORKLOADS: &[Workload] = &[
    w("data-platform", "trino", Some((8080, 18080)), "trino"),
    w(
        "data-platform",
        "dolphinscheduler-api",
        Some((12345, 12345)),
        "dolphinscheduler",
    ),
    w(
        "data-platform",
        "dolphinscheduler-master",
        None,
        "dolphinscheduler",
    ),
    w(
        "data-platform",
        "dolphinscheduler-worker",
        None,
        "dolphinscheduler",
    ),
    w("data-platform", "minio", Some((9000, 17070)), "objectstore"),
    w("data-platform", "superset", Some((8088, 18088)), "superset"),
    w(
        "data-platform",
        "iceberg-rest",
        Some((8181, 18181)),
        "iceberg-rest",
    ),
    w(
        "data-platform",
        "postgresql",
        Some((5432, 15432)),
        "postgres",
    ),
    w(
        "monitoring",
        "victoria-metrics",
        Some((8428, 18428)),
        "victoriametrics",
    ),
    w("monitoring", "vmagent", Some((8429, 18429)), "vmagent"),
    w("monitoring", "loki", Some((3100, 13100)), "loki"),
    w("monitoring", "vmalert", Some((8880, 18880)), "vmalert"),
    w(
        "velero",
        "velero",
        Some((8085, super::super::velero::METRICS_PORT)),
        "velero",
    ),
];

/// A Secret of the stack: namespace, name, and (key, stack.env variable) pairs.
pub(crate) type StackSecret = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The Secrets holding the stack's generated credentials, as a platform keeps them: namespace,
/// name, and each key with the `stack.env` variable that holds its value. The `local-k8s`
/// target reads them through `k8s:<namespace>/<name>#<key>` references.
pub(crate) const SECRETS: &[StackSecret] = &[
    (
        "data-platform",
        "minio",
        &[
            ("accessKey", crate::secrets::S3_ACCESS_KEY),
            ("secretKey", crate::secrets::S3_SECRET_KEY),
        ],
    ),
    (
        "data-platform",
        "dolphinscheduler",
        &[
            ("password", crate::secrets::DS_PASSWORD),
            ("databaseUrl", crate::secrets::DS_DATABASE_URL),
        ],
    ),
    (
        "data-platform",
        "superset",
        &[("password", crate::secrets::SUPERSET_PASSWORD)],
    ),
    (
        "data-platform",
        "postgresql",
        &[
            ("user", crate::secrets::PG_USER),
            ("password", crate::secrets::PG_PASSWORD),
        ],
    ),
];

/// Lines of each server's log the pod's log shows.
const LOG_LINES: usize = 2000;
/// Seconds a kubectl step of the stack may take.
const KUBECTL_TIMEOUT: &str = "120s";
/// How long one kubectl step may take in all (its own request timeout is shorter).
const KUBECTL_LIMIT: Duration = Duration::from_secs(300);

pub(crate) struct Kwok;

pub(crate) fn repo_dir(sub: &str) -> PathBuf {
    carbon_config::workspace_root()
        .join("kind-config")
        .join(sub)
}

fn generated_dir(stack: &Stack) -> PathBuf {
    stack.data_dir("kube").join("generated")
}

pub(crate) fn admin_kubectl(stack: &Stack) -> Command {
    let mut cmd = kubectl(&Binaries::of(stack), &Pki::of(stack).kubeconfig(&ADMIN));
    cmd.arg(format!("--request-timeout={KUBECTL_TIMEOUT}"));
    cmd
}

/// `kubectl apply --server-side` of files or directories.
pub(crate) fn apply(stack: &Stack, what: &str, paths: &[PathBuf]) -> Result<(), StackError> {
    let mut cmd = admin_kubectl(stack);
    cmd.args([
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=carbon-e2e-stack",
    ]);
    for p in paths {
        cmd.arg("-f").arg(p);
    }
    run_logged(stack, what, KUBECTL_LIMIT, &mut cmd)
}

/// The nightly's CronJob (`kind-config/nightly/cronjob.yaml`) with `suspend: true`.
fn suspended(cronjob: &str) -> Result<String, StackError> {
    let at = "\nspec:\n";
    let i = cronjob.find(at).ok_or_else(|| {
        StackError::Other("kind-config/nightly/cronjob.yaml has no top-level `spec:`".into())
    })?;
    let (head, tail) = cronjob.split_at(i + at.len());
    Ok(format!(
        "{head}  # carbon-e2e stack up: suspended on the local control plane.\n  suspend: true\n{tail}"
    ))
}

fn node_manifest() -> String {
    use super::node::{POOL, POOL_LABEL};
    format!(
        "# Generated by carbon-e2e stack up: the kwok node.\napiVersion: v1\nkind: Node\nmetadata:\n  name: {NODE}\n  labels:\n    kubernetes.io/hostname: {NODE}\n    kubernetes.io/os: linux\n    kubernetes.io/arch: amd64\n    type: kwok\n    {POOL_LABEL}: {POOL}\n  annotations:\n    kwok.x-k8s.io/node: fake\n    node.alpha.kubernetes.io/ttl: \"0\"\n"
    )
}

/// `ClusterPortForward` and `ClusterLogs` per namespace: pod port → native loopback port, and
/// each container's log file.
pub(crate) fn bridge_manifest(log_dir: &Path) -> String {
    let mut namespaces: Vec<&str> = WORKLOADS.iter().map(|w| w.namespace).collect();
    namespaces.dedup();
    let mut out =
        String::from("# Generated by carbon-e2e stack up: pods reach the native servers.\n");
    for ns in namespaces {
        let rows: Vec<&Workload> = WORKLOADS.iter().filter(|w| w.namespace == ns).collect();
        let _ = write!(
            out,
            "---\napiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterPortForward\nmetadata:\n  name: carbon-e2e-{ns}\nspec:\n  selector:\n    matchNamespaces: [{ns}]\n  forwards:\n"
        );
        for row in &rows {
            if let Some((pod, native)) = row.ports {
                let _ = write!(
                    out,
                    "  - ports: [{pod}]\n    target:\n      address: 127.0.0.1\n      port: {native}\n"
                );
            }
        }
        let _ = write!(
            out,
            "---\napiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterLogs\nmetadata:\n  name: carbon-e2e-{ns}\nspec:\n  selector:\n    matchNamespaces: [{ns}]\n  logs:\n"
        );
        for row in &rows {
            let _ = write!(
                out,
                "  - containers: [{}]\n    logsFile: {}\n    follow: false\n",
                row.container,
                log_dir.join(format!("{}.log", row.log)).display()
            );
        }
    }
    out
}

/// The Secrets of [`SECRETS`] with their values (`stringData`, each value a quoted YAML
/// string), for a file that is 0600 from its first byte and removed once applied.
pub(crate) fn secrets_manifest(value: impl Fn(&str) -> String) -> String {
    let quote = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::from("# Generated by carbon-e2e stack up from stack.env; never kept.\n");
    for (ns, name, keys) in SECRETS {
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app.kubernetes.io/managed-by: carbon-e2e-stack\ntype: Opaque\nstringData:\n"
        );
        for (key, var) in *keys {
            let _ = writeln!(out, "  {key}: {}", quote(&value(var)));
        }
    }
    out
}

/// A plain log as a CRI log (`<RFC3339Nano> stdout F <line>`), the format kwok serves.
pub(crate) fn to_cri(plain: &str, timestamp: &str, last: usize) -> String {
    let lines: Vec<&str> = plain.lines().collect();
    lines[lines.len().saturating_sub(last)..]
        .iter()
        .fold(String::new(), |mut out, l| {
            let _ = writeln!(out, "{timestamp} stdout F {l}");
            out
        })
}

fn write_cri_logs(stack: &Stack, dir: &Path) -> Result<(), StackError> {
    std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut services: Vec<&str> = WORKLOADS.iter().map(|w| w.log).collect();
    services.sort_unstable();
    services.dedup();
    for s in services {
        let plain = std::fs::read_to_string(stack.log_file(s)).unwrap_or_default();
        let path = dir.join(format!("{s}.log"));
        std::fs::write(&path, to_cri(&plain, &now, LOG_LINES)).map_err(io_err("write", &path))?;
    }
    Ok(())
}

impl LocalServer for Kwok {
    fn name(&self) -> &'static str {
        "kwok"
    }

    fn role(&self) -> &'static str {
        "Kubernetes node and kubelet, simulated (kwok v0.8.0)"
    }

    fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{KWOK_PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["kube-apiserver"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        super::build::install(stack).map(drop)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let bins = Binaries::of(stack);
        apply(
            stack,
            "apply the CRDs kwok drives",
            &[bins.crds(), repo_dir("crds")],
        )?;
        // `kubectl wait` (a watch) fails at once, instead of waiting, on a CRD whose status
        // the API server has not written yet (milliseconds after the apply): try again then.
        let started = std::time::Instant::now();
        loop {
            let waited = run_logged(
                stack,
                "wait for the CRDs to be established",
                KUBECTL_LIMIT,
                admin_kubectl(stack).args([
                    "wait",
                    "--for=condition=Established",
                    "crd",
                    "--all",
                    "--timeout=60s",
                ]),
            );
            match waited {
                Ok(()) => break,
                Err(e) if started.elapsed() > Duration::from_secs(60) => return Err(e),
                Err(_) => {}
            }
        }
        let gen_dir = generated_dir(stack);
        std::fs::create_dir_all(&gen_dir).map_err(io_err("create", &gen_dir))?;
        let node = gen_dir.join("node.yaml");
        std::fs::write(&node, node_manifest()).map_err(io_err("write", &node))?;
        apply(stack, "create the kwok node", &[node])?;
        run_logged(
            stack,
            "delete the node's old Lease",
            KUBECTL_LIMIT,
            admin_kubectl(stack).args([
                "delete",
                "lease",
                "--namespace=kube-node-lease",
                NODE,
                "--ignore-not-found",
            ]),
        )
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let bins = Binaries::of(stack);
        let pki = Pki::of(stack);
        let mut cmd = Command::new(bins.kwok());
        cmd.arg(format!("--kubeconfig={}", pki.kubeconfig(&KWOK).display()))
            // Its own node only: the real node (`node.rs`) has a kubelet.
            .arg("--manage-all-nodes=false")
            .arg("--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake")
            .arg("--node-ip=127.0.0.1")
            .arg(format!("--node-port={KWOK_PORT}"))
            .arg(format!("--server-address=127.0.0.1:{KWOK_PORT}"))
            .arg(format!(
                "--tls-cert-file={}",
                pki.file("local-serving.crt").display()
            ))
            .arg(format!(
                "--tls-private-key-file={}",
                pki.file("local-serving.key").display()
            ))
            .arg("--node-lease-duration-seconds=40")
            .arg("--cidr=10.244.0.0/16")
            .arg("--enable-crds=PortForward,ClusterPortForward,Logs,ClusterLogs,Exec,ClusterExec");
        let mut stages: Vec<PathBuf> = std::fs::read_dir(bins.stages())
            .map_err(io_err("read", &bins.stages()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        stages.sort();
        stages.push(repo_dir("local").join("stages.yaml"));
        for s in stages {
            cmd.arg(format!("--config={}", s.display()));
        }
        Ok(cmd)
    }

    fn readiness(&self, stack: &Stack) -> Readiness {
        super::node_ready(stack, NODE)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn after_ready<'a>(&'a self, stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(async move {
            let gen_dir = generated_dir(stack);
            let log_dir = stack.data_dir("kube").join("pod-logs");
            write_cri_logs(stack, &log_dir)?;
            let bridge = gen_dir.join("bridge.yaml");
            std::fs::write(&bridge, bridge_manifest(&log_dir)).map_err(io_err("write", &bridge))?;
            let nightly = repo_dir("nightly");
            let cronjob = gen_dir.join("nightly-cronjob.yaml");
            let text = std::fs::read_to_string(nightly.join("cronjob.yaml"))
                .map_err(io_err("read", &nightly.join("cronjob.yaml")))?;
            std::fs::write(&cronjob, suspended(&text)?).map_err(io_err("write", &cronjob))?;
            // A Job's template is immutable: the broken namespace's failing Job is made anew (it
            // fails again within seconds), so a changed manifest applies on a kept cluster.
            run_logged(
                stack,
                "delete the broken namespace's failing Job",
                KUBECTL_LIMIT,
                admin_kubectl(stack).args([
                    "delete",
                    "job",
                    "failing-import",
                    "--namespace=carbon-e2e-broken",
                    "--ignore-not-found",
                    "--wait=true",
                ]),
            )?;
            apply(
                stack,
                "apply the platform layout",
                &[
                    repo_dir("platform"),
                    repo_dir("broken"),
                    repo_dir("rbac"),
                    repo_dir("local").join("rbac-bindings.yaml"),
                    bridge,
                    // The nightly's manifests, validated by the real API server; its CronJob
                    // suspended here, so that nothing runs on a schedule (a self test makes a
                    // Job from it, as `kubectl create job --from` does).
                    nightly.join("00-namespace.yaml"),
                    nightly.join("rbac.yaml"),
                    nightly.join("target.yaml"),
                    cronjob,
                ],
            )?;
            // The stack's credentials as the platform keeps them: Secrets, created through the
            // API from stack.env; the file that carries them to kubectl is private and removed.
            let secrets = gen_dir.join("secrets.yaml");
            crate::secrets::write_private(
                &secrets,
                secrets_manifest(|var| stack.var(var)).as_bytes(),
            )?;
            let applied = apply(
                stack,
                "create the Secrets holding the stack's credentials",
                std::slice::from_ref(&secrets),
            );
            let _ = std::fs::remove_file(&secrets);
            applied?;
            // Leave the cluster settled: the platform's workloads available, its volumes bound
            // (the PV controller binds on its own schedule). kubectl waits with watches.
            for ns in ["data-platform", "monitoring", "velero"] {
                run_logged(
                    stack,
                    &format!("wait for the Deployments in {ns} to be available"),
                    KUBECTL_LIMIT,
                    admin_kubectl(stack).args([
                        "wait",
                        "--for=condition=Available",
                        "deployment",
                        "--all",
                        &format!("--namespace={ns}"),
                        "--timeout=90s",
                    ]),
                )?;
            }
            run_logged(
                stack,
                "wait for MinIO's volume claim to be bound",
                KUBECTL_LIMIT,
                admin_kubectl(stack).args([
                    "wait",
                    "--for=jsonpath={.status.phase}=Bound",
                    "pvc/minio-data",
                    "--namespace=data-platform",
                    "--timeout=90s",
                ]),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_lines_carry_timestamp_stream_and_full_tag() {
        let out = to_cri("a\nb\nc\n", "2026-01-01T00:00:00Z", 2);
        assert_eq!(
            out,
            "2026-01-01T00:00:00Z stdout F b\n2026-01-01T00:00:00Z stdout F c\n"
        );
    }

    #[test]
    fn bridge_forwards_each_port_and_logs_each_container() {
        let out = bridge_manifest(Path::new("/logs"));
        assert!(
            out.contains("kind: ClusterPortForward\nmetadata:\n  name: carbon-e2e-data-platform")
        );
        assert!(out.contains(
            "  - ports: [8080]\n    target:\n      address: 127.0.0.1\n      port: 18080\n"
        ));
        assert!(out.contains("  - containers: [minio]\n    logsFile: /logs/objectstore.log\n"));
        assert_eq!(
            out.matches("kind: ClusterLogs").count(),
            3,
            "data-platform, monitoring, velero"
        );
    }

    #[test]
    fn secrets_carry_every_key_quoted() {
        let out = secrets_manifest(|var| format!("v\"{var}"));
        assert!(
            out.contains("  name: minio\n  namespace: data-platform\n"),
            "{out}"
        );
        assert!(
            out.contains("  secretKey: \"v\\\"CARBON_STACK_S3_SECRET_KEY\"\n"),
            "{out}"
        );
        assert_eq!(out.matches("kind: Secret").count(), SECRETS.len());
    }
}
