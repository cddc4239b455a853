//! A real Kubernetes v1.34.4 control plane as native processes: kine (SQLite) speaking the
//! etcd API, kube-apiserver, kube-controller-manager and kube-scheduler, and kwok's simulated
//! node and kubelet (in [`kwok`]). Kind needs Docker, which these machines lack.
//!
//! Ports 16400–16404 on 127.0.0.1. The stack generates its own CA and keys ([`pki`]) and
//! writes the admin kubeconfig to `<stack dir>/kubeconfig` (0600, also named in stack.env as
//! `CARBON_STACK_KUBECONFIG`).

pub(crate) mod build;
pub(crate) mod images;
pub(crate) mod kwok;
pub(crate) mod node;
pub(crate) mod pki;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use build::Binaries;
use pki::{ADMIN, CONTROLLER_MANAGER, Pki, SCHEDULER};

use crate::{LocalServer, Readiness, Stack, StackError, io_err};

pub(crate) const KINE_PORT: u16 = 16400;
pub(crate) const APISERVER_PORT: u16 = 16401;
const CONTROLLER_MANAGER_PORT: u16 = 16402;
const SCHEDULER_PORT: u16 = 16403;
/// kwok's kubelet server (port-forward, logs, exec), advertised as the node's kubelet port.
pub(crate) const KWOK_PORT: u16 = 16404;

/// The service-account issuer, as in-cluster clients see it.
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

pub(crate) fn server() -> String {
    format!("https://127.0.0.1:{APISERVER_PORT}")
}

/// The kubeconfig the stack exports (the admin's).
pub(crate) fn exported_kubeconfig(stack: &Stack) -> PathBuf {
    stack.dir.join("kubeconfig")
}

/// The kubeconfig of the user bound only to `kind-config/rbac/readonly.yaml`
/// (`carbon-e2e-readonly`): the read-only self test runs the suites as this user.
pub fn readonly_kubeconfig(stack: &Stack) -> PathBuf {
    Pki::of(stack).kubeconfig(&pki::READONLY)
}

/// The kubeconfig of the user bound only to `kind-config/rbac/readonly.yaml` and
/// `readwrite.yaml` (`carbon-e2e-readwrite`): the RBAC self test runs the full tiers as this user.
pub fn readwrite_kubeconfig(stack: &Stack) -> PathBuf {
    Pki::of(stack).kubeconfig(&pki::READWRITE)
}

/// The kubeconfig of a user bound to nothing (`carbon-e2e-unbound`): the platform suite's
/// permissions check must fail as this user.
pub fn unbound_kubeconfig(stack: &Stack) -> PathBuf {
    Pki::of(stack).kubeconfig(&pki::UNBOUND)
}

/// The API server's audit log (JSON lines, level Metadata, the read-only user's requests only):
/// the read-only self test counts the verbs that user sent.
pub fn audit_log(stack: &Stack) -> PathBuf {
    stack.log_file("kube-apiserver-audit")
}

/// The audit policy: every request of the read-only user at Metadata level (verb, resource,
/// namespace, name, user agent, answer code; never a body), nothing of anyone else.
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    users: [carbon-e2e-readonly]
  - level: None
";

fn audit_policy(stack: &Stack) -> PathBuf {
    stack.data_dir("kube").join("audit-policy.yaml")
}

/// A probe: the node `node` is Ready (`kubectl wait --for=condition=Ready`, admin's
/// credentials), for kwok's simulated node and the real one alike.
fn node_ready(stack: &Stack, node: &str) -> Readiness {
    Readiness::Command(
        Binaries::of(stack).k8s("kubectl"),
        vec![
            "--kubeconfig".into(),
            Pki::of(stack).kubeconfig(&ADMIN).display().to_string(),
            "wait".into(),
            "--for=condition=Ready".into(),
            format!("node/{node}"),
            "--timeout=1s".into(),
        ],
    )
}

/// A probe: `kubectl get --raw <path>` against `server` with the admin's credentials.
fn raw_probe(stack: &Stack, server: &str, path: &str) -> Readiness {
    let bins = Binaries::of(stack);
    let pki = Pki::of(stack);
    Readiness::Command(
        bins.k8s("kubectl"),
        vec![
            "--kubeconfig".into(),
            pki.kubeconfig(&ADMIN).display().to_string(),
            "--server".into(),
            server.into(),
            "--request-timeout=2s".into(),
            "get".into(),
            "--raw".into(),
            path.into(),
        ],
    )
}

fn install(stack: &Stack) -> Result<(), StackError> {
    // Debian's OCI tools: umoci unpacks the runner image `carbon-e2e image` writes and runc
    // runs it (crates/cli/tests/archive.rs), as a node's runtime would.
    crate::install::apt(
        stack,
        || crate::install::runs("runc", "--version") && crate::install::runs("umoci", "--version"),
        &["runc", "umoci"],
    )?;
    build::install(stack).map(drop)
}

pub(crate) struct Kine;
pub(crate) struct ApiServer;
pub(crate) struct ControllerManager;
pub(crate) struct Scheduler;

impl LocalServer for Kine {
    fn name(&self) -> &'static str {
        "kine"
    }

    fn role(&self) -> &'static str {
        "Kubernetes storage: kine on SQLite, speaking the etcd API"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{KINE_PORT}")
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        install(stack)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let dir = stack.data_dir("kine");
        std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let db = stack.data_dir("kine").join("state.db");
        let mut cmd = Command::new(Binaries::of(stack).kine());
        cmd.arg(format!(
            "--endpoint=sqlite://{}?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate",
            db.display()
        ))
        .arg(format!("--listen-address=127.0.0.1:{KINE_PORT}"))
        // Otherwise it serves metrics on :8080 on every address.
        .arg("--metrics-bind-address=0");
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        // kine has no health endpoint: a TCP connect to its etcd port.
        Readiness::Command(
            PathBuf::from("bash"),
            vec![
                "-c".into(),
                format!("exec 3<>/dev/tcp/127.0.0.1/{KINE_PORT}"),
            ],
        )
    }
}

impl LocalServer for ApiServer {
    fn name(&self) -> &'static str {
        "kube-apiserver"
    }

    fn role(&self) -> &'static str {
        "Kubernetes API server v1.34.4"
    }

    fn endpoint(&self) -> String {
        server()
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["kine"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        install(stack)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let pki = Pki::of(stack);
        pki.ensure(stack, &server())?;
        let admin = std::fs::read_to_string(pki.kubeconfig(&ADMIN))
            .map_err(io_err("read", &pki.kubeconfig(&ADMIN)))?;
        pki::write_private(&exported_kubeconfig(stack), &admin)?;
        std::fs::write(audit_policy(stack), AUDIT_POLICY)
            .map_err(io_err("write", &audit_policy(stack)))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let pki = Pki::of(stack);
        let f = |n: &str| pki.file(n).display().to_string();
        let mut cmd = Command::new(Binaries::of(stack).k8s("kube-apiserver"));
        cmd.arg(format!("--etcd-servers=http://127.0.0.1:{KINE_PORT}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={APISERVER_PORT}"))
            .arg(format!("--tls-cert-file={}", f("apiserver.crt")))
            .arg(format!("--tls-private-key-file={}", f("apiserver.key")))
            .arg(format!("--client-ca-file={}", f("ca.crt")))
            .arg(format!("--service-account-key-file={}", f("sa.pub")))
            .arg(format!(
                "--service-account-signing-key-file={}",
                f("sa.key")
            ))
            .arg(format!("--service-account-issuer={ISSUER}"))
            .arg("--service-cluster-ip-range=10.96.0.0/16")
            .arg("--authorization-mode=Node,RBAC")
            // The aggregation layer's CA and client: quiets the controllers' CA-bundle errors.
            .arg(format!("--requestheader-client-ca-file={}", f("ca.crt")))
            .arg("--requestheader-allowed-names=front-proxy-client")
            .arg("--requestheader-username-headers=X-Remote-User")
            .arg("--requestheader-group-headers=X-Remote-Group")
            .arg("--requestheader-extra-headers-prefix=X-Remote-Extra-")
            .arg(format!(
                "--proxy-client-cert-file={}",
                f("front-proxy-client.crt")
            ))
            .arg(format!(
                "--proxy-client-key-file={}",
                f("front-proxy-client.key")
            ))
            // Logs, exec and port-forward through the real node's kubelet (and kwok's, whose
            // certificate the same CA signed), by the node's address only.
            .arg(format!(
                "--kubelet-client-certificate={}",
                f("apiserver-kubelet-client.crt")
            ))
            .arg(format!(
                "--kubelet-client-key={}",
                f("apiserver-kubelet-client.key")
            ))
            .arg(format!("--kubelet-certificate-authority={}", f("ca.crt")))
            .arg("--kubelet-preferred-address-types=InternalIP")
            // Keeps the loopback address out of the `kubernetes` Service's endpoints.
            .arg("--endpoint-reconciler-type=none")
            .arg("--profiling=false")
            .arg(format!(
                "--audit-policy-file={}",
                audit_policy(stack).display()
            ))
            .arg(format!("--audit-log-path={}", audit_log(stack).display()))
            .arg("--audit-log-format=json")
            .arg("--audit-log-maxsize=20")
            .arg("--audit-log-maxbackup=1");
        Ok(cmd)
    }

    fn readiness(&self, stack: &Stack) -> Readiness {
        raw_probe(stack, &server(), "/readyz")
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(120)
    }
}

/// Flags the controller manager and the scheduler share.
fn component_args(cmd: &mut Command, pki: &Pki, kubeconfig: &std::path::Path, port: u16) {
    cmd.arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!(
            "--authentication-kubeconfig={}",
            kubeconfig.display()
        ))
        .arg(format!(
            "--authorization-kubeconfig={}",
            kubeconfig.display()
        ))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={port}"))
        .arg(format!(
            "--tls-cert-file={}",
            pki.file("local-serving.crt").display()
        ))
        .arg(format!(
            "--tls-private-key-file={}",
            pki.file("local-serving.key").display()
        ))
        .arg("--leader-elect=false");
}

impl LocalServer for ControllerManager {
    fn name(&self) -> &'static str {
        "kube-controller-manager"
    }

    fn role(&self) -> &'static str {
        "Kubernetes controller manager v1.34.4"
    }

    fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{CONTROLLER_MANAGER_PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["kube-apiserver"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        install(stack)
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let pki = Pki::of(stack);
        let mut cmd = Command::new(Binaries::of(stack).k8s("kube-controller-manager"));
        component_args(
            &mut cmd,
            &pki,
            &pki.kubeconfig(&CONTROLLER_MANAGER),
            CONTROLLER_MANAGER_PORT,
        );
        cmd.arg(format!(
            "--service-account-private-key-file={}",
            pki.file("sa.key").display()
        ))
        .arg(format!("--root-ca-file={}", pki.ca().display()))
        // One identity per controller (as kubeadm): the bootstrap RBAC roles are per controller.
        .arg("--use-service-account-credentials=true")
        // The PV controller binds on its resync (default 15 s): a pre-bound claim waits for it.
        .arg("--pvclaimbinder-sync-period=2s");
        Ok(cmd)
    }

    fn readiness(&self, stack: &Stack) -> Readiness {
        raw_probe(stack, &self.endpoint(), "/healthz")
    }
}

impl LocalServer for Scheduler {
    fn name(&self) -> &'static str {
        "kube-scheduler"
    }

    fn role(&self) -> &'static str {
        "Kubernetes scheduler v1.34.4"
    }

    fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{SCHEDULER_PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["kube-apiserver"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        install(stack)
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let pki = Pki::of(stack);
        let mut cmd = Command::new(Binaries::of(stack).k8s("kube-scheduler"));
        component_args(&mut cmd, &pki, &pki.kubeconfig(&SCHEDULER), SCHEDULER_PORT);
        Ok(cmd)
    }

    fn readiness(&self, stack: &Stack) -> Readiness {
        raw_probe(stack, &self.endpoint(), "/healthz")
    }
}
