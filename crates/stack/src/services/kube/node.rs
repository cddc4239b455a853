//! A real node beside kwok's simulated one: Debian's containerd, runc and CNI plugins, and a
//! kubelet built with the control plane, registering `carbon-node-0`. Pods that must really run
//! (the broken namespace's failing containers, a restored Deployment, a pod whose log goes to
//! Loki, the nightly runner) select it and tolerate its taint; everything else stays on kwok's.
//!
//! Everything is private to the stack's directory (containerd's root, state and sockets, runc's
//! root, the CNI configuration and address pool, the kubelet's root and pod logs) except what
//! these versions cannot move, which [`HostRecord`] lists and puts back at `stack down`: the
//! sysctls the kubelet and the bridge change, the node address on `lo`, the bridge, the few
//! fixed paths, the kubelet's cgroups. Pod traffic stays on the bridge: addresses exist only on
//! this machine, no masquerade, no iptables rules.
//!
//! Two fixes for this kind of VM (`../shared/platform/LOCAL-KUBERNETES.md`, "A real node"):
//! containerd's `restrict_oom_score_adj` (no `CAP_SYS_RESOURCE` in the bounding set) and a
//! node address on `lo` (a loopback node IP is refused; there is no `dummy` link type).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::build::Binaries;
use super::pki::{NODE_IDENTITY, Pki};
use crate::install::run_logged;
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

/// The real node's name.
pub const NODE: &str = "carbon-node-0";
/// Its address: on `lo`, never routed off this machine.
pub(crate) const NODE_IP: &str = "10.250.0.1";
/// The taint that keeps pods off it unless they tolerate it.
pub const TAINT_KEY: &str = "carbon-e2e.io/real-node";
/// The label pods select it by (`carbon-e2e.io/node: real`).
pub const NODE_LABEL: &str = "carbon-e2e.io/node";
/// The label that names the nodes the local platform runs on (kwok's and this one), as a
/// cluster's node pool label does: the local targets' `[platform] node_selector` is
/// `carbon-e2e.io/pool=platform`; the broken namespace's node that never reports is in pool
/// `broken` (kind-config/broken).
pub const POOL_LABEL: &str = "carbon-e2e.io/pool";
/// The platform's pool.
pub const POOL: &str = "platform";
/// Its pod range: outside kwok's `10.244.0.0/16`.
const POD_CIDR: &str = "10.245.0.0/24";
/// The pods' bridge.
const BRIDGE: &str = "carbon0";
const KUBELET_PORT: u16 = 16410;
const KUBELET_HEALTHZ_PORT: u16 = 16411;
const STREAM_PORT: u16 = 16412;
/// Debian's CNI plugins.
const CNI_BIN: &str = "/usr/lib/cni";

/// Sysctls the kubelet sets unasked (and the bridge plugin sets `ip_forward`).
pub(crate) const SYSCTLS: &[&str] = &[
    "vm/overcommit_memory",
    "kernel/panic",
    "kernel/panic_on_oops",
    "net/ipv4/ip_forward",
];
/// Paths these versions use whatever they are told; removed at `down` when the node made them.
pub(crate) const FIXED_PATHS: &[&str] = &[
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/lib/cni",
    "/run/containerd",
];
/// The cgroup the kubelet puts pods under, in each controller's hierarchy.
pub(crate) const KUBEPODS: &str = "kubepods";

/// Where the node's private files live.
#[derive(Debug, Clone)]
pub(crate) struct NodeDirs {
    pub(crate) dir: PathBuf,
}

impl NodeDirs {
    pub(crate) fn of(stack: &Stack) -> Self {
        Self {
            dir: stack.data_dir("node"),
        }
    }
    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }
    fn path(&self, sub: &str) -> PathBuf {
        self.dir.join(sub)
    }
    fn record(&self) -> PathBuf {
        self.dir.join("host-before.json")
    }
}

/// What the host was before the node changed it: restored by [`restore_host`].
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct HostRecord {
    /// `/proc/sys` path → its value before.
    sysctls: BTreeMap<String, String>,
    /// Fixed paths that did not exist before.
    created: Vec<String>,
    /// Whether the node address was already on `lo`.
    address_existed: bool,
    /// Cgroup controllers whose `kubepods` did not exist before.
    cgroups_created: Vec<String>,
}

fn cgroup_controllers() -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|d| {
            let mut v: Vec<PathBuf> = d
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| !p.is_symlink() && p.is_dir())
                .collect();
            v.sort();
            v
        })
        .unwrap_or_default()
}

fn lo_has_address() -> bool {
    Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", "lo"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {NODE_IP}/")))
}

impl HostRecord {
    fn take() -> Self {
        let sysctls = SYSCTLS
            .iter()
            .filter_map(|s| {
                let v = std::fs::read_to_string(Path::new("/proc/sys").join(s)).ok()?;
                Some(((*s).to_string(), v.trim().to_string()))
            })
            .collect();
        Self {
            sysctls,
            created: FIXED_PATHS
                .iter()
                .filter(|p| !Path::new(p).exists())
                .map(|p| (*p).to_string())
                .collect(),
            address_existed: lo_has_address(),
            cgroups_created: cgroup_controllers()
                .into_iter()
                .filter(|c| !c.join(KUBEPODS).exists())
                .map(|c| c.display().to_string())
                .collect(),
        }
    }
}

/// Where the kubelet writes pods' logs (`<namespace>_<pod>_<uid>/<container>/<n>.log`, CRI
/// format): the stack's log shipper reads them there.
pub(crate) fn pod_logs_dir(stack: &Stack) -> PathBuf {
    NodeDirs::of(stack).path("pod-logs")
}

/// Whether the node recorded the host and has not restored it yet.
pub(crate) fn host_changed(stack: &Stack) -> bool {
    NodeDirs::of(stack).record().exists()
}

/// Processes started by a containerd shim of this node (by its socket in their command line),
/// and every descendant of theirs.
fn node_processes(socket: &Path) -> (Vec<i32>, Vec<i32>) {
    let needle = socket.display().to_string();
    let mut parent: BTreeMap<i32, i32> = BTreeMap::new();
    let mut shims = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`: comm may hold spaces, so split after its last `)`.
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok())
        {
            parent.insert(pid, ppid);
        }
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("containerd-shim") && cmdline.contains(&needle) {
            shims.push(pid);
        }
    }
    let mut below = Vec::new();
    let mut frontier = shims.clone();
    while let Some(p) = frontier.pop() {
        for (child, _) in parent.iter().filter(|(_, pp)| **pp == p) {
            below.push(*child);
            frontier.push(*child);
        }
    }
    (shims, below)
}

/// Mount points under `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(dir))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

fn rmdir_tree(dir: &Path) {
    if let Ok(d) = std::fs::read_dir(dir) {
        for e in d.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Puts the host back as the record says and removes the node's files: kills what the node's
/// shims run, unmounts what is mounted under its directory, deletes the bridge, the `lo`
/// address, the fixed paths and cgroups it created, restores the sysctls. Idempotent; a
/// missing record (nothing started) leaves the host alone.
pub(crate) async fn restore_host(stack: &Stack) -> Result<(), StackError> {
    let dirs = NodeDirs::of(stack);
    let Ok(text) = std::fs::read_to_string(dirs.record()) else {
        return Ok(());
    };
    let record: HostRecord = serde_json::from_str(&text).map_err(|e| {
        StackError::Other(format!(
            "{}: not a host record: {e}",
            dirs.record().display()
        ))
    })?;
    let (shims, below) = node_processes(&dirs.socket());
    for pid in below.iter().chain(&shims) {
        if let Some(p) = rustix::process::Pid::from_raw(*pid) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
    }
    let socket = dirs.socket();
    carbon_core::wait::wait_until(
        "the real node's containers to end",
        Duration::from_secs(20),
        || {
            let (s, b) = node_processes(&socket);
            let left = s.len() + b.len();
            async move {
                Ok::<_, std::convert::Infallible>(if left == 0 {
                    carbon_core::wait::Check::Ready(())
                } else {
                    carbon_core::wait::Check::Pending(format!("{left} processes left"))
                })
            }
        },
    )
    .await
    .map_err(|e| StackError::Other(e.to_string()))?;
    for m in mounts_under(&dirs.dir) {
        rustix::mount::unmount(&m, rustix::mount::UnmountFlags::DETACH)
            .map_err(|e| StackError::Other(format!("unmount {}: {e}", m.display())))?;
    }
    let _ = Command::new("ip").args(["link", "delete", BRIDGE]).output();
    if !record.address_existed && lo_has_address() {
        let _ = Command::new("ip")
            .args(["addr", "del", &format!("{NODE_IP}/32"), "dev", "lo"])
            .output();
    }
    for c in &record.cgroups_created {
        rmdir_tree(&Path::new(c).join(KUBEPODS));
    }
    for p in &record.created {
        let p = Path::new(p);
        if p.is_dir() {
            std::fs::remove_dir_all(p).map_err(io_err("remove", p))?;
        }
    }
    for (s, v) in &record.sysctls {
        let p = Path::new("/proc/sys").join(s);
        std::fs::write(&p, format!("{v}\n")).map_err(io_err("restore", &p))?;
    }
    // The node's files go too (containerd's root is re-imported in a second at the next start).
    std::fs::remove_dir_all(&dirs.dir).map_err(io_err("remove", &dirs.dir))
}

fn containerd_config(dirs: &NodeDirs) -> String {
    let d = |s: &str| dirs.path(s).display().to_string();
    format!(
        r#"# Written by carbon-e2e stack up: the real node's containerd, private to the stack.
version = 2
root = "{root}"
state = "{state}"
# /opt/containerd and the snapshotters this machine has no use for.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "{STREAM_PORT}"
  # No CAP_SYS_RESOURCE here: runc must not lower oom_score_adj.
  restrict_oom_score_adj = true
  # `ip netns add` (DolphinScheduler's namespace) would hide pod namespaces under /run/netns.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{runc}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{cni}"
"#,
        root = d("containerd/root"),
        state = d("containerd/state"),
        sock = dirs.socket().display(),
        pause = super::images::pause_image(),
        runc = d("runc"),
        cni = d("cni/conf"),
    )
}

fn cni_conflist(dirs: &NodeDirs) -> String {
    serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "carbon-e2e",
        "plugins": [{
            "type": "bridge",
            "bridge": BRIDGE,
            "isGateway": true,
            "ipMasq": false,
            "hairpinMode": true,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": POD_CIDR}]],
                "dataDir": dirs.path("cni/ipam").display().to_string(),
            },
        }],
    })
    .to_string()
}

fn kubelet_config(dirs: &NodeDirs, pki: &Pki) -> String {
    format!(
        r#"# Written by carbon-e2e stack up: the real node's kubelet.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: {NODE_IP}
port: {KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {KUBELET_HEALTHZ_PORT}
tlsCertFile: {crt}
tlsPrivateKeyFile: {key}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {ca}}}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://{sock}
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
# Otherwise a KUBE-FIREWALL chain drops non-local sources to 127.0.0.0/8.
makeIPTablesUtilChains: false
podLogsDir: {logs}
resolvConf: ""
# Imported images must never be collected: there is no registry to pull them back from.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# The node shares this machine's disk with builds and caches. The default thresholds are
# shares of the disk (imagefs 15 %, nodefs 10 %): a large disk with 37 GB free reported
# DiskPressure, tainted the node and kept every trial's pod off it. Absolute floors instead
# (a set evictionHard replaces all the defaults, so memory keeps its default here).
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1Gi"
  imagefs.available: "1Gi"
  nodefs.inodesFree: "1%"
  imagefs.inodesFree: "1%"
maxPods: 40
registerWithTaints:
  - key: {TAINT_KEY}
    value: "true"
    effect: NoSchedule
"#,
        crt = pki.file(&format!("{}.crt", NODE_IDENTITY.stem)).display(),
        key = pki.file(&format!("{}.key", NODE_IDENTITY.stem)).display(),
        ca = pki.ca().display(),
        sock = dirs.socket().display(),
        logs = dirs.path("pod-logs").display(),
    )
}

/// Imports an OCI image archive into the real node's containerd, as a registry pull would
/// leave it (the runner image, which `carbon-e2e image` writes), within the image imports'
/// deadline.
///
/// # Errors
/// The import failing or past its deadline, with `ctr`'s output.
pub fn import_image(stack: &Stack, archive: &Path) -> Result<(), StackError> {
    run_logged(
        stack,
        &format!("import {} into the real node", archive.display()),
        super::images::LIMIT,
        ctr(stack).args(["images", "import"]).arg(archive),
    )
}

fn ctr(stack: &Stack) -> Command {
    let mut cmd = Command::new("ctr");
    cmd.arg("--address")
        .arg(NodeDirs::of(stack).socket())
        .args(["--namespace", "k8s.io"]);
    cmd
}

/// Installs Debian's containerd, CNI plugins, iptables (the CNI plugins' dependency) and static
/// busybox (the trials' image), and gcc's static libc for the pause program.
fn install_packages(stack: &Stack) -> Result<(), StackError> {
    crate::install::apt(
        stack,
        || {
            crate::install::runs("containerd", "--version")
                && Path::new(CNI_BIN).join("bridge").exists()
                && Path::new("/bin/busybox").exists()
                && Path::new("/usr/lib/x86_64-linux-gnu/libc.a").exists()
                && crate::install::runs("gcc", "--version")
                && crate::install::runs("iptables", "--version")
        },
        &[
            "containerd",
            "containernetworking-plugins",
            "iptables",
            "busybox-static",
            "gcc",
            "libc6-dev",
        ],
    )
}

pub(crate) struct Containerd;
pub(crate) struct Kubelet;

impl LocalServer for Containerd {
    fn name(&self) -> &'static str {
        "containerd"
    }

    fn role(&self) -> &'static str {
        "the real node's container runtime (Debian's containerd, runc and CNI plugins)"
    }

    fn endpoint(&self) -> String {
        "unix://<stack>/data/node/containerd.sock".into()
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        install_packages(stack)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        // `cleanup` has removed what a killed stack left: record the host as it is now, before
        // anything changes it.
        let dirs = NodeDirs::of(stack);
        for sub in [
            "containerd",
            "runc",
            "cni/conf",
            "cni/ipam",
            "pod-logs",
            "kubelet",
        ] {
            let p = dirs.path(sub);
            std::fs::create_dir_all(&p).map_err(io_err("create", &p))?;
        }
        let record = serde_json::to_string_pretty(&HostRecord::take()).unwrap_or_default();
        std::fs::write(dirs.record(), record).map_err(io_err("write", &dirs.record()))?;
        let cfg = dirs.path("containerd/config.toml");
        std::fs::write(&cfg, containerd_config(&dirs)).map_err(io_err("write", &cfg))?;
        let cni = dirs.path("cni/conf/10-carbon-e2e.conflist");
        std::fs::write(&cni, cni_conflist(&dirs)).map_err(io_err("write", &cni))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let dirs = NodeDirs::of(stack);
        let mut cmd = Command::new("containerd");
        cmd.arg("--config").arg(dirs.path("containerd/config.toml"));
        Ok(cmd)
    }

    fn readiness(&self, stack: &Stack) -> Readiness {
        Readiness::Command(
            PathBuf::from("ctr"),
            vec![
                "--address".into(),
                NodeDirs::of(stack).socket().display().to_string(),
                "version".into(),
            ],
        )
    }

    fn cleanup<'a>(&'a self, stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(restore_host(stack))
    }
}

impl LocalServer for Kubelet {
    fn name(&self) -> &'static str {
        "kubelet"
    }

    fn role(&self) -> &'static str {
        "the real node's kubelet v1.34.4 (carbon-node-0, tainted: only pods that ask run there)"
    }

    fn endpoint(&self) -> String {
        format!("https://{NODE_IP}:{KUBELET_PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["kube-apiserver", "containerd"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        super::build::install(stack).map(drop)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let dirs = NodeDirs::of(stack);
        if !lo_has_address() {
            run_logged(
                stack,
                "add the real node's address to lo",
                Duration::from_secs(10),
                Command::new("ip").args(["addr", "add", &format!("{NODE_IP}/32"), "dev", "lo"]),
            )?;
        }
        super::images::import(stack)?;
        let cfg = dirs.path("kubelet/config.yaml");
        std::fs::write(&cfg, kubelet_config(&dirs, &Pki::of(stack))).map_err(io_err("write", &cfg))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let dirs = NodeDirs::of(stack);
        let pki = Pki::of(stack);
        let mut cmd = Command::new(Binaries::of(stack).k8s("kubelet"));
        cmd.arg(format!(
            "--config={}",
            dirs.path("kubelet/config.yaml").display()
        ))
        .arg(format!(
            "--kubeconfig={}",
            pki.kubeconfig(&NODE_IDENTITY).display()
        ))
        .arg(format!("--root-dir={}", dirs.path("kubelet").display()))
        .arg(format!("--node-ip={NODE_IP}"))
        .arg(format!("--hostname-override={NODE}"))
        .arg(format!(
            "--node-labels={NODE_LABEL}=real,{POOL_LABEL}={POOL}"
        ));
        Ok(cmd)
    }

    fn after_ready<'a>(&'a self, stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        // A kubelet labels its Node only when it registers it: a Node kept from an older stack
        // gets the pool label here.
        Box::pin(async move {
            run_logged(
                stack,
                "label the real node with the platform's pool",
                Duration::from_secs(30),
                super::kwok::admin_kubectl(stack).args([
                    "label",
                    "node",
                    NODE,
                    &format!("{POOL_LABEL}={POOL}"),
                    "--overwrite",
                ]),
            )
        })
    }

    fn readiness(&self, stack: &Stack) -> Readiness {
        super::node_ready(stack, NODE)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(90)
    }

    fn cleanup<'a>(&'a self, stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(async move {
            // While containerd still runs: stop the pods' containers, so no shim outlives it.
            let ids = ctr(stack).args(["tasks", "ls", "-q"]).output();
            if let Some(out) = ids.ok().filter(|o| o.status.success()) {
                for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = ctr(stack)
                        .args(["tasks", "kill", "--signal", "SIGKILL", id])
                        .output();
                    let _ = ctr(stack).args(["tasks", "delete", "--force", id]).output();
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_range_stays_out_of_kwoks() {
        // kwok hands out 10.244.0.0/16 to simulated pods.
        assert!(!POD_CIDR.starts_with("10.244."));
        assert!(cni_conflist(&NodeDirs { dir: "/n".into() }).contains("\"ipMasq\":false"));
    }

    #[test]
    fn containerd_stays_in_its_directory() {
        let c = containerd_config(&NodeDirs { dir: "/n".into() });
        for line in c.lines().filter(|l| l.contains("= \"/")) {
            assert!(
                line.contains("\"/n/") || line.contains(CNI_BIN),
                "a path outside the node's directory: {line}"
            );
        }
        assert!(c.contains("restrict_oom_score_adj = true"));
        assert!(c.contains("io.containerd.internal.v1.opt"));
    }
}
