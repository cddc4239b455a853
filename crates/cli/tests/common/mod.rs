//! What the self tests share: driving the real suites through nextest (or the `carbon-e2e`
//! binary) as a user would, against the local stack, each run with a run id of its own.
#![allow(dead_code)] // each test file uses its own part

use std::process::Command;

/// `cargo nextest run --profile selftest -E <filter>` from the workspace root, without the
/// outer nextest's variables, with its own run id.
pub fn nextest(filter: &str, run_id: &str) -> Command {
    let root = carbon_config::workspace_root();
    // The outer cargo's package variables dropped, as `validate` drops them: a cargo that saw
    // them would rebuild ring and everything over it (`carbon_e2e::nextest::cargo`).
    let mut cmd = carbon_e2e::nextest::cargo();
    cmd.current_dir(&root).args([
        "nextest",
        "run",
        "--workspace",
        "--profile",
        "selftest",
        "--no-fail-fast",
        "-E",
        filter,
    ]);
    clean_env(&mut cmd);
    cmd.env("E2E_RUN_ID", run_id).env("E2E_TARGET", "local");
    cmd
}

/// The binary nextest built for this run (`NEXTEST_BIN_EXE_*`, set at run time), else the
/// compile-time path, which a build cache shared between clones may point into another clone.
#[allow(clippy::disallowed_methods)] // a test harness detail, not configuration
fn carbon_e2e_binary() -> std::path::PathBuf {
    ["NEXTEST_BIN_EXE_carbon-e2e", "NEXTEST_BIN_EXE_carbon_e2e"]
        .into_iter()
        .find_map(std::env::var_os)
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_BIN_EXE_carbon-e2e")),
            std::path::PathBuf::from,
        )
}

/// The `carbon-e2e` binary with `args`, without the outer nextest's variables.
pub fn carbon_e2e(args: &[&str]) -> Command {
    let mut cmd = Command::new(carbon_e2e_binary());
    cmd.current_dir(carbon_config::workspace_root()).args(args);
    clean_env(&mut cmd);
    cmd.env("E2E_TARGET", "local");
    cmd
}

/// The outer nextest's variables would make an inner run think it is a single test, and the
/// outer run's id would share its records.
fn clean_env(cmd: &mut Command) {
    #[allow(clippy::disallowed_methods)] // a test harness detail, not configuration
    for (k, _) in std::env::vars_os() {
        let k_str = k.to_string_lossy();
        if k_str.contains("NEXTEST") || k_str == "E2E_RUN_ID" || k_str == "E2E_STRICT" {
            cmd.env_remove(k);
        }
    }
}

/// A run id of this test's own: 12 lowercase letters and digits.
pub fn run_id(tag: &str) -> String {
    format!("{tag:.4}{:08x}", rand::random::<u32>())
}

/// The `[name]` section of the stack's own target (`.config/targets/local.toml`), as text.
pub fn local_section(name: &str) -> String {
    let local =
        std::fs::read_to_string(carbon_config::workspace_root().join(".config/targets/local.toml"))
            .expect("the local target");
    let header = format!("[{name}]");
    let start = local
        .find(&header)
        .unwrap_or_else(|| panic!("local.toml has {header}"));
    let rest = &local[start..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |i| i + 1);
    rest[..end].to_string()
}

/// Runs `cmd` (a [`nextest`] run) and reads the JUnit report it wrote: whether it passed, both
/// streams, and the report. The previous run's report is removed first, so a run that wrote
/// none (it could not build or start) says so rather than being judged by an older report.
pub fn run_with_junit(mut cmd: Command) -> (bool, String, quick_junit::Report) {
    let junit = carbon_config::workspace_root().join("target/nextest/selftest/junit.xml");
    let _ = std::fs::remove_file(&junit);
    let out = cmd.output().expect("cargo nextest runs");
    let console = console(&out);
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| {
        panic!(
            "the run wrote no JUnit at {} ({e}):\n{console}",
            junit.display()
        )
    });
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    (out.status.success(), console, report)
}

/// Both streams of a finished command, for assertion messages.
pub fn console(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// How many artifacts `reap --run <id> --dry-run` still finds for the run on the local stack.
pub fn leftovers(run_id: &str) -> (usize, String) {
    let out = carbon_e2e(&["reap", "--dry-run", "--run", run_id])
        .output()
        .expect("carbon-e2e reap runs");
    let text = console(&out);
    assert!(out.status.success(), "reap --dry-run failed:\n{text}");
    let n = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("reap: ")?
                .split_once(" would be removed")?
                .0
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no count in reap's output:\n{text}"));
    (n, text)
}

/// The run's artifacts, found by asking each service directly for what carries the run id
/// (not through the reaper, whose dry run [`leftovers`] is): objects under `e2e/<run>/` and
/// Velero backup files in every bucket the target names, Iceberg and memory schemas
/// `e2e_<run>_…`, DolphinScheduler projects `e2e-<run>-…`, series labelled `e2e_run="<run>"`,
/// namespaces and Velero objects labelled `carbon-e2e/run=<run>`. Each entry names one.
pub fn direct_artifacts(run_id: &str) -> Vec<String> {
    use carbon_config::FromTarget as _;
    let target = carbon_config::load().expect("the local target loads");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let mut found = Vec::new();
        let s3 = carbon_minio::MinioClient::from_target(&target).expect("s3 client");
        let mut buckets = target
            .minio
            .as_ref()
            .map(|m| m.required_buckets.clone())
            .unwrap_or_default();
        buckets.extend(
            target
                .trino
                .as_ref()
                .and_then(|t| t.warehouse_bucket.clone()),
        );
        buckets.sort();
        buckets.dedup();
        for bucket in &buckets {
            for o in s3.list(bucket, "").await.expect("list bucket") {
                if o.key.contains(run_id) {
                    found.push(format!("object s3://{bucket}/{}", o.key));
                }
            }
        }
        let trino = carbon_trino::TrinoClient::from_target(&target).expect("trino client");
        for catalog in ["iceberg", "memory"] {
            let r = trino
                .execute(&format!(
                    "SHOW SCHEMAS FROM {catalog} LIKE 'e2e_{run_id}_%'"
                ))
                .await
                .expect("show schemas");
            for row in r.rows {
                found.push(format!("schema {catalog}.{}", row[0]));
            }
        }
        let ds = carbon_dolphinscheduler::DsClient::from_target(&target).expect("ds client");
        for p in ds.projects(Some(run_id), 100).await.expect("projects") {
            found.push(format!("project {}", p.name));
        }
        let vm = carbon_victoriametrics::VmClient::from_target(&target).expect("vm client");
        for s in vm
            .export(&format!(
                "{{{}=\"{run_id}\"}}",
                carbon_core::naming::RUN_LABEL
            ))
            .await
            .expect("export")
        {
            found.push(format!("series {:?}", s.metric));
        }
        let kube = carbon_kube::KubeClient::from_target(&target)
            .await
            .expect("kube client");
        let selector = format!("{}={run_id}", carbon_core::naming::KUBE_RUN_LABEL);
        let namespaces: carbon_kube::kube::Api<carbon_kube::k8s_openapi::api::core::v1::Namespace> =
            carbon_kube::kube::Api::all(kube.client());
        for n in namespaces
            .list(&carbon_kube::kube::api::ListParams::default().labels(&selector))
            .await
            .expect("namespaces")
        {
            // One being deleted is on its way out (namespace deletion finishes asynchronously).
            if n.metadata.deletion_timestamp.is_none() {
                found.push(format!("namespace {}", n.metadata.name.unwrap_or_default()));
            }
        }
        for plural in [
            "backups",
            "restores",
            "backupstoragelocations",
            "deletebackuprequests",
        ] {
            let kind = carbon_kube::CustomKind {
                group: "velero.io",
                version: "v1",
                kind: "",
                plural,
            };
            for o in kube
                .list_custom(kind, Some("velero"))
                .await
                .expect("velero objects")
            {
                if o.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(carbon_core::naming::KUBE_RUN_LABEL))
                    .is_some_and(|r| r == run_id)
                {
                    found.push(format!(
                        "{plural} velero/{}",
                        o.metadata.name.unwrap_or_default()
                    ));
                }
            }
        }
        found
    })
}
