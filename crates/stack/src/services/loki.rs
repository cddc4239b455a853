//! Loki v2.2.1 (the last Apache-2.0 release; later Loki releases are AGPL) and promtail, its log
//! shipper, built from the Go module proxy.
//!
//! The v2.2.1 tag is not a Go module version (Loki's tags lack the `/v2` module path), so the
//! wrapper module (`assets/loki/`: `go.mod`, `go.sum`, `tools.go`) requires Loki at the tag's
//! commit as the pseudo-version `v1.6.2-0.20210406003638-babea82ef558`, repeats Loki's replace
//! directives (which `go install` refuses) and forces `github.com/modern-go/reflect2` v1.0.2
//! (with Loki's 1.0.1, stream queries and `/series` answer HTTP 500 on modern Go). Both binaries
//! are static (`CGO_ENABLED=0`, `netgo`; promtail then has no systemd journal reader) and cached
//! under the stack's cache dir; Go's own build and module caches are kept.
//!
//! Loki runs as one process: boltdb index and filesystem chunks under `data/loki/`, auth off,
//! in-memory ring, 127.0.0.1 only. The ingester's join wait and minimum ready duration are set
//! to zero so `/ready` answers within seconds instead of a minute. The schema's `from` date is
//! chosen once, the day before the data dir was first prepared, and kept: an old date makes
//! Loki create an index table per period since then.
//!
//! promtail tails the stack's own service logs (`<stack>/logs/<service>.log`), one static
//! stream per service labelled the way the platform's shipper labels pods (`namespace`,
//! `app`, `pod`, `job`), and a directory trials write files into (`data/promtail/trials/`,
//! `app="e2e-trial"`), exported to the `local` target as `E2E_LOKI_SHIPPER_DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::install::GoWrapper;
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

/// The Loki release (its tag; the module version is the tag commit's pseudo-version).
pub(crate) const VERSION: &str = "v2.2.1";
pub(crate) const HTTP_PORT: u16 = 13100;
const GRPC_PORT: u16 = 19095;
pub(crate) const PROMTAIL_PORT: u16 = 19080;
const PROMTAIL_GRPC_PORT: u16 = 19081;
/// The namespace label every stack stream carries (the platform's is `data-platform`).
pub(crate) const NAMESPACE: &str = "carbon-e2e";
/// The `app` label of files trials write into the shipper's directory.
pub(crate) const TRIAL_APP: &str = "e2e-trial";

const WRAPPER: GoWrapper = GoWrapper {
    dir: "loki",
    version: VERSION,
    files: [
        ("go.mod", include_str!("../../assets/loki/go.mod")),
        ("go.sum", include_str!("../../assets/loki/go.sum")),
        ("tools.go", include_str!("../../assets/loki/tools.go")),
    ],
    tags: "netgo",
    // A cold build of both binaries takes about 4 minutes on two busy cores.
    timeout: Duration::from_secs(30 * 60),
};

pub(crate) struct Loki;
pub(crate) struct Promtail;

/// The directory promtail watches for trial-written files.
pub(crate) fn shipper_dir(stack_dir: &Path) -> PathBuf {
    stack_dir.join("data").join("promtail").join("trials")
}

/// Builds `cmd/<binary>` of Loki into the cache once; returns the binary.
fn build(stack: &Stack, binary: &str) -> Result<PathBuf, StackError> {
    let version = VERSION.trim_start_matches('v');
    // Loki reports its version through `loki_build_info` (and `-version`) only when linked in.
    let ldflags = format!(
        "-s -w -X github.com/grafana/loki/pkg/build.Version={version} -X github.com/grafana/loki/pkg/build.Branch=HEAD -X github.com/grafana/loki/pkg/build.Revision=babea82ef558"
    );
    WRAPPER.build(
        stack,
        binary,
        &format!("github.com/grafana/loki/cmd/{binary}"),
        &ldflags,
    )
}

/// The schema's `from` date: chosen on first start, then kept.
fn schema_from(data: &Path) -> Result<String, StackError> {
    let path = data.join("schema-from");
    if let Ok(text) = std::fs::read_to_string(&path)
        && !text.trim().is_empty()
    {
        return Ok(text.trim().to_string());
    }
    let yesterday = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let date = format!(
        "{:04}-{:02}-{:02}",
        yesterday.year(),
        u8::from(yesterday.month()),
        yesterday.day()
    );
    std::fs::write(&path, &date).map_err(io_err("write", &path))?;
    Ok(date)
}

impl LocalServer for Loki {
    fn name(&self) -> &'static str {
        "loki"
    }

    fn role(&self) -> &'static str {
        "Loki 2.2.1 (single binary, boltdb + filesystem)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{HTTP_PORT}")
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        build(stack, "loki").map(drop)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let data = stack.data_dir("loki");
        std::fs::create_dir_all(&data).map_err(io_err("create", &data))?;
        let from = schema_from(&data)?;
        let d = data.display();
        let config = format!(
            "# Written by carbon-e2e stack up.
auth_enabled: false
server:
  http_listen_address: 127.0.0.1
  http_listen_port: {HTTP_PORT}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: {GRPC_PORT}
  log_level: info
ingester:
  lifecycler:
    address: 127.0.0.1
    interface_names: [lo]
    ring:
      kvstore:
        store: inmemory
      replication_factor: 1
    # Alone in its ring: no claim to wait for, no race to sit out.
    join_after: 0s
    min_ready_duration: 0s
    final_sleep: 0s
  chunk_idle_period: 5m
  chunk_retain_period: 30s
  max_transfer_retries: 0
schema_config:
  configs:
    - from: {from}
      store: boltdb
      object_store: filesystem
      schema: v11
      index:
        prefix: index_
        period: 168h
storage_config:
  boltdb:
    directory: {d}/index
  filesystem:
    directory: {d}/chunks
limits_config:
  enforce_metric_name: false
  reject_old_samples: true
  reject_old_samples_max_age: 168h
  # Loki's default, stated: the suite checks that a query over it reports the limit.
  max_entries_limit_per_query: 5000
chunk_store_config:
  max_look_back_period: 0s
table_manager:
  retention_deletes_enabled: false
  retention_period: 0s
"
        );
        let path = data.join("loki.yaml");
        std::fs::write(&path, config).map_err(io_err("write", &path))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let mut cmd = Command::new(build(stack, "loki")?);
        cmd.arg(format!(
            "-config.file={}",
            stack.data_dir("loki").join("loki.yaml").display()
        ));
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{HTTP_PORT}/ready"),
            contains: Some("ready"),
        }
    }
}

impl LocalServer for Promtail {
    fn name(&self) -> &'static str {
        "promtail"
    }

    fn role(&self) -> &'static str {
        "promtail 2.2.1 (ships the stack's logs to Loki, as Fluent Bit does)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{PROMTAIL_PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        // The API server too: it discovers the real node's pods there.
        &["loki", "kube-apiserver"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        build(stack, "promtail").map(drop)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let data = stack.data_dir("promtail");
        let trials = shipper_dir(&stack.dir);
        std::fs::create_dir_all(&trials).map_err(io_err("create", &trials))?;
        let mut streams = String::new();
        for service in crate::services::all() {
            let name = service.name();
            streams.push_str(&stream(name, &stack.log_file(name).display().to_string()));
        }
        streams.push_str(&stream(TRIAL_APP, &format!("{}/*.log", trials.display())));
        let config = format!(
            "# Written by carbon-e2e stack up.
server:
  http_listen_address: 127.0.0.1
  http_listen_port: {PROMTAIL_PORT}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: {PROMTAIL_GRPC_PORT}
positions:
  filename: {}/positions.yaml
clients:
  - url: http://127.0.0.1:{HTTP_PORT}/loki/api/v1/push
    # Ship within a fifth of a second (default 1 s): the suite measures shipping latency.
    batchwait: 200ms
target_config:
  # How often new files matching a glob are looked for (default 10 s).
  sync_period: 1s
scrape_configs:
  - job_name: carbon-e2e
    static_configs:
{streams}{pods}",
            data.display(),
            pods = pod_logs_job(stack),
        );
        let path = data.join("promtail.yaml");
        std::fs::write(&path, config).map_err(io_err("write", &path))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let mut cmd = Command::new(build(stack, "promtail")?);
        cmd.arg(format!(
            "-config.file={}",
            stack.data_dir("promtail").join("promtail.yaml").display()
        ));
        // Promtail discovers only the pods of its own node: it asks the API server for
        // `spec.nodeName=$HOSTNAME`, which its DaemonSet sets from the downward API. Here it
        // is the real node's name (kwok's pods have no log files to read).
        cmd.env("HOSTNAME", super::kube::node::NODE);
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{PROMTAIL_PORT}/ready"),
            contains: None,
        }
    }
}

/// The real node's pod logs, shipped as the platform's Fluent Bit ships a node's: the kubelet's
/// CRI files under its pod logs directory, labelled from the pod as the API server has it
/// (namespace, pod, container, app; job `<namespace>/<app>`). kwok's simulated pods have no
/// files and are left out by node (promtail asks only for the pods of `$HOSTNAME`).
fn pod_logs_job(stack: &Stack) -> String {
    let pki = super::kube::pki::Pki::of(stack);
    let id = &super::kube::pki::LOG_SHIPPER;
    format!(
        "  - job_name: kubernetes-pods
    kubernetes_sd_configs:
      - role: pod
        api_server: {api}
        tls_config:
          ca_file: {ca}
          cert_file: {crt}
          key_file: {key}
    pipeline_stages:
      - cri: {{}}
    relabel_configs:
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_container_name]
        target_label: container
      - source_labels: [__meta_kubernetes_pod_label_app]
        target_label: app
      - source_labels: [__meta_kubernetes_namespace, __meta_kubernetes_pod_label_app]
        separator: /
        target_label: job
      - source_labels: [__meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name]
        separator: /
        target_label: __path__
        replacement: {logs}/*$1/*.log
",
        api = super::kube::server(),
        ca = pki.ca().display(),
        crt = pki.file(&format!("{}.crt", id.stem)).display(),
        key = pki.file(&format!("{}.key", id.stem)).display(),
        logs = super::kube::node::pod_logs_dir(stack).display(),
    )
}

/// One static stream: a file (or glob) with the labels a pod's logs carry on the platform.
fn stream(app: &str, path: &str) -> String {
    format!(
        "      - targets: [localhost]
        labels:
          namespace: {NAMESPACE}
          app: {app}
          pod: {app}-0
          job: {NAMESPACE}/{app}
          __path__: {path}
"
    )
}
