//! The acceptance gate on a real run of the local platform: a required check made to fail
//! gives NO-GO with that reason and exit code 3; a waiver for it gives GO with the waiver
//! listed; the same waiver expired gives NO-GO again, naming it. One real `validate --gate`
//! run (the platform's smoke trials, on the stack), then the gate judges that same run again
//! under each waiver (`carbon-e2e gate --run`), as a migration meeting would.
//!
//! The failing required check: `[platform] critical_workloads` also lists
//! `carbon-e2e-broken app=scaled-down`, a Deployment of the stack's broken namespace
//! (kind-config/broken/broken.yaml) scaled to 0 replicas. The gate judges the platform's
//! categories only (workflows, alerts and backups are not required here, since this run
//! selects the platform suite alone).
//!
//! Needs the local stack up (`carbon-e2e stack up`).

use std::path::{Path, PathBuf};

mod common;

const CRITICAL: &str = "platform::smoke::critical_workloads_are_available_with_all_replicas_ready";
const OFFENDER: &str =
    "Deployment carbon-e2e-broken/scaled-down (app=scaled-down): scaled to 0 replicas";

/// The stack's own target, with the broken Deployment among the critical workloads and a gate
/// over the platform's categories, plus `waivers` (TOML).
fn target_file(dir: &Path, name: &str, waivers: &str) -> PathBuf {
    let local =
        std::fs::read_to_string(carbon_config::workspace_root().join(".config/targets/local.toml"))
            .expect("the local target");
    let minio = "  { namespace = \"data-platform\", selector = \"app=minio\" },\n]";
    assert!(
        local.contains(minio),
        "local.toml's critical workloads changed"
    );
    let text = local.replace(
        minio,
        "  { namespace = \"data-platform\", selector = \"app=minio\" },\n  { namespace = \"carbon-e2e-broken\", selector = \"app=scaled-down\" },\n]",
    ) + "
[gate.workflows]
required = false
[gate.alerts]
required = false
[gate.backups]
required = false
" + waivers;
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("writing the self test's target");
    path
}

fn waiver(expires: &str) -> String {
    format!(
        "
[[gate.waiver]]
trial = 'platform::smoke::critical_*'
reason = 'SELFTEST-1: scaled-down is being migrated'
owner = 'carbon-e2e self test'
expires = '{expires}'
"
    )
}

/// Removes the run's directory and the target files however the test ends.
struct Cleanup(Vec<PathBuf>);

impl Cleanup {
    fn push(&mut self, p: PathBuf) {
        self.0.push(p);
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_dir_all(p);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The uploaded bundle's bytes, read back from the stack's object store; the object is then
/// removed (the upload is meant to stay on a real platform, not on the test's stack).
fn uploaded_then_removed(key: &str) -> Vec<u8> {
    use carbon_config::FromTarget as _;
    let target = carbon_config::load().expect("the local target loads");
    let s3 = carbon_minio::MinioClient::from_target(&target).expect("an S3 client");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let body = s3
            .get_object("carbon-e2e", key)
            .await
            .expect("the upload is there");
        s3.delete_object("carbon-e2e", key)
            .await
            .expect("removing the upload");
        body
    })
}

fn last_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_failed_required_check_is_no_go_a_waiver_makes_it_go_until_it_expires() {
    let tmp = std::env::temp_dir().join(format!("carbon-e2e-{}", common::run_id("gate")));
    std::fs::create_dir_all(&tmp).expect("a temporary directory");
    let name = format!("gate-selftest-{:08x}", rand::random::<u32>());
    let plain = target_file(&tmp, &name, "");
    let run_dir = carbon_config::workspace_root()
        .join("target/nextest/selftest")
        .join(&name);
    let mut bundles = Cleanup(vec![run_dir.clone(), tmp.clone()]);

    // 1. The real run: NO-GO, exit 3, the offender named in the verdict's reasons.
    let out = common::carbon_e2e(&[
        "validate",
        "--no-stack",
        "--gate",
        "--profile",
        "selftest",
        "--",
        "platform::smoke::",
    ])
    .env("E2E_TARGET", &plain)
    .env("E2E_RUN_ID", common::run_id("gate"))
    .output()
    .expect("carbon-e2e validate runs");
    let console = common::console(&out);
    assert_eq!(out.status.code(), Some(3), "{console}");
    assert!(
        last_line(&out).starts_with("gate: NO-GO (readiness ")
            && last_line(&out).ends_with("; exit code 3)"),
        "{console}"
    );
    let why = console
        .split("\nwhy:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no `why:` block:\n{console}"));
    let first = why.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("  {CRITICAL}: ")) && first.contains(OFFENDER),
        "the first reason names the trial and the offender:\n{console}"
    );
    let md = std::fs::read_to_string(run_dir.join("report.md")).expect("report.md");
    assert!(md.contains("**NO-GO**") && md.contains(OFFENDER), "{md}");
    // What was validated: the manifest names the run and the API server's version.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).expect("run.json"))
            .expect("run.json is JSON");
    let kubernetes = manifest["components"]["versions"]
        .as_array()
        .and_then(|v| v.iter().find(|c| c["component"] == "kubernetes"))
        .unwrap_or_else(|| panic!("no kubernetes version in run.json: {manifest:#}"));
    assert!(
        kubernetes["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1.")),
        "{manifest:#}"
    );

    // 2. The same run, a waiver for the failure: GO, the waived trial listed with its owner;
    //    the evidence bundled and uploaded to the stack's object store.
    let waived = target_file(&tmp, &name, &waiver("2099-12-31"));
    let out = common::carbon_e2e(&[
        "gate",
        "--run",
        run_dir.to_str().expect("utf-8 path"),
        "--bundle",
    ])
    .env("E2E_TARGET", &waived)
    .env("E2E_REPORT_BUCKET", "carbon-e2e")
    .output()
    .expect("carbon-e2e gate runs");
    let console = common::console(&out);
    assert_eq!(out.status.code(), Some(0), "{console}");
    assert!(
        last_line(&out).starts_with("gate: GO (readiness "),
        "{console}"
    );
    assert!(
        console.contains(&format!(
            "waived: {CRITICAL} (waiver `platform::smoke::critical_*`, owner carbon-e2e self test, until 2099-12-31)"
        )),
        "{console}"
    );
    let md = std::fs::read_to_string(run_dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("## Waived (left out of the score)") && md.contains("SELFTEST-1"),
        "{md}"
    );
    assert!(
        md.contains("| Critical services | — | all | waived |"),
        "{md}"
    );
    let run_id = manifest["run_id"].as_str().expect("a run id").to_string();
    let archive = run_dir.with_file_name(format!("{name}-{run_id}-evidence.tar.gz"));
    bundles.push(archive.clone());
    assert!(
        console.contains(&format!("gate: evidence bundle {}", archive.display())),
        "{console}"
    );
    let key = console
        .lines()
        .find_map(|l| l.strip_prefix("gate: evidence bundle uploaded to s3://carbon-e2e/"))
        .unwrap_or_else(|| panic!("no upload line:\n{console}"))
        .to_string();
    assert!(
        key.starts_with(&format!("carbon-e2e-reports/{name}/"))
            && key.ends_with(&format!("-{run_id}/evidence.tar.gz")),
        "{key}"
    );
    let local = std::fs::read(&archive).expect("the bundle beside the run");
    assert_eq!(
        uploaded_then_removed(&key),
        local,
        "the upload is the bundle"
    );

    // 3. The waiver expired: NO-GO again, the failure and the expired waiver both named.
    let expired = target_file(&tmp, &name, &waiver("2020-01-31"));
    let out = common::carbon_e2e(&["gate", "--run", run_dir.to_str().expect("utf-8 path")])
        .env("E2E_TARGET", &expired)
        .output()
        .expect("carbon-e2e gate runs");
    let console = common::console(&out);
    assert_eq!(out.status.code(), Some(3), "{console}");
    assert!(console.contains(OFFENDER), "{console}");
    assert!(
        console.contains(
            "waiver `platform::smoke::critical_*` (owner carbon-e2e self test: SELFTEST-1: scaled-down is being migrated) expired on 2020-01-31"
        ),
        "{console}"
    );
}
