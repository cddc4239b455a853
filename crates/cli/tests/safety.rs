//! Self tests of what makes a run safe on a shared platform, with real processes against the
//! local stack (no mocks): a trial stopped by SIGTERM cleans up; the reaper removes a killed
//! run's artifacts and nothing foreign; two runs at once both pass. (That a read-only target
//! receives no write is `read_only.rs`.)
//!
//! They need the stack up (`carbon-e2e validate` brings it up first) and run one at a time
//! (`.config/nextest.toml`, test group `selftest`).

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use carbon_config::FromTarget as _;

/// Writing trials of each suite, and a line each prints once its artifacts exist.
const MID_TRIAL: [(&str, &str); 6] = [
    (
        // Signalled as the 16 MiB multipart upload starts: the cleanup must also abort it.
        "minio::full::multipart_object_round_trips_with_matching_sha256",
        "registered cleanup: delete s3://",
    ),
    (
        "trino::full::iceberg_table_round_trips_every_type_through_the_object_store",
        "table location s3://",
    ),
    (
        "dolphinscheduler::full::one_task_workflow_runs_to_success_and_its_log_has_the_marker",
        "start requested",
    ),
    (
        "victoriametrics::full::written_sample_reads_back_through_query_and_export",
        "wrote carbon_e2e_probe",
    ),
    (
        "alerts::full::probe_sample_makes_the_probe_rule_fire_after_its_for_window",
        "wrote carbon_e2e_alert_probe",
    ),
    (
        // Signalled as the Backup is created, likely before Velero has finished it: the
        // cleanup must wait for it to end (Velero refuses to delete a running backup).
        "velero::full::restore_into_a_mapped_namespace_recreates_equal_objects_and_ready_pods",
        "created Backup",
    ),
];

/// Starts one trial through nextest (output streamed), waits until it prints `trigger`, and
/// returns the running nextest, the trial process's pid and the output so far.
fn start_until(trial: &str, trigger: &str, run_id: &str) -> (Child, u32, Arc<Mutex<String>>) {
    let mut child = common::nextest(&format!("test(={trial})"), run_id)
        .arg("--no-capture")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cargo nextest starts");
    let seen = Arc::new(Mutex::new(String::new()));
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut pid = None;
    for line in lines.by_ref() {
        let line = line.expect("utf-8 output");
        seen.lock()
            .expect("not poisoned")
            .push_str(&format!("{line}\n"));
        if let Some(p) = line
            .strip_prefix(&format!("trial {trial} (pid "))
            .and_then(|r| r.strip_suffix(')'))
        {
            pid = p.parse().ok();
        }
        if line.contains(trigger) {
            break;
        }
    }
    let out = Arc::clone(&seen);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            out.lock()
                .expect("not poisoned")
                .push_str(&format!("{line}\n"));
        }
    });
    let text = seen.lock().expect("not poisoned").clone();
    let pid = pid.unwrap_or_else(|| panic!("{trial} never printed its pid:\n{text}"));
    assert!(
        text.contains(trigger),
        "{trial} ended before `{trigger}`:\n{text}"
    );
    (child, pid, seen)
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(
        status.success(),
        "kill {sig} {pid} failed: the trial ended before it could be signalled"
    );
}

#[test]
fn sigterm_mid_trial_runs_the_cleanups_and_leaves_nothing() {
    for (trial, trigger) in MID_TRIAL {
        let run_id = common::run_id("term");
        let (mut child, pid, seen) = start_until(trial, trigger, &run_id);
        signal(pid, "-TERM");
        child.wait().expect("nextest ends");
        let text = seen.lock().expect("not poisoned").clone();
        let after_signal = text
            .split_once("received SIGTERM")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("{trial}: the harness did not see the signal:\n{text}"));
        assert!(
            after_signal.contains("] cleanup: "),
            "{trial}: no cleanup ran after the signal:\n{text}"
        );
        let (left, reap) = common::leftovers(&run_id);
        let direct = common::direct_artifacts(&run_id);
        println!(
            "{trial}: {left} artifact(s) left after SIGTERM by the reaper's count, {} by asking each service",
            direct.len()
        );
        assert_eq!(
            left, 0,
            "{trial} left artifacts after SIGTERM:\n{reap}\n{text}"
        );
        // Counted by asking each service too: a VictoriaMetrics sample in flight at SIGTERM
        // could land after a plain delete; the cleanup now deletes until an export is empty.
        assert!(
            direct.is_empty(),
            "{trial} left artifacts the services still hold after SIGTERM: {direct:?}\n{text}"
        );
    }
}

/// A CI cancel may signal only the top process: `validate` forwards the SIGTERM to nextest,
/// whose trials then run their cleanups, and waits for them.
#[test]
fn sigterm_to_validate_alone_reaches_the_trials_and_leaves_nothing() {
    let (trial, trigger) = MID_TRIAL[0];
    let run_id = common::run_id("vterm");
    let mut child = common::carbon_e2e(&["validate", "--no-stack", "--", "--no-capture", trial])
        .env("E2E_RUN_ID", &run_id)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("carbon-e2e validate starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut text = String::new();
    for line in lines.by_ref() {
        let line = line.expect("utf-8 output");
        text.push_str(&format!("{line}\n"));
        if line.contains(trigger) {
            break;
        }
    }
    assert!(
        text.contains(trigger),
        "{trial} ended before `{trigger}`:\n{text}"
    );
    signal(child.id(), "-TERM"); // validate's own pid: nextest and the trial get nothing directly
    for line in lines.map_while(Result::ok) {
        text.push_str(&format!("{line}\n"));
    }
    let status = child.wait().expect("validate ends");
    assert!(!status.success(), "a stopped run must not exit 0:\n{text}");
    for said in [
        "validate: received SIGTERM: forwarded to nextest",
        "received SIGTERM: stopping the trial",
        "] cleanup: ",
        "validate: stopped by SIGTERM",
    ] {
        assert!(text.contains(said), "missing `{said}`:\n{text}");
    }
    let (left, reap) = common::leftovers(&run_id);
    let direct = common::direct_artifacts(&run_id);
    println!(
        "SIGTERM to validate alone: {left} artifact(s) left by the reaper's count, {} by asking each service",
        direct.len()
    );
    assert_eq!(left, 0, "artifacts left:\n{reap}\n{text}");
    assert!(direct.is_empty(), "artifacts left: {direct:?}\n{text}");
}

#[test]
fn reaper_removes_a_killed_runs_artifacts_and_nothing_foreign() {
    let target = carbon_config::load().expect("the local target loads");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    // Someone else's things, with names a careless prefix match would take.
    let ds = carbon_dolphinscheduler::DsClient::from_target(&target).expect("ds client");
    let trino = carbon_trino::TrinoClient::from_target(&target).expect("trino client");
    let s3 = carbon_minio::MinioClient::from_target(&target).expect("s3 client");
    let bucket = target.minio.as_ref().expect("[minio]").test_bucket.clone();
    let project = rt.block_on(async {
        // A failed earlier attempt may have left it: reuse it, it is removed at the end.
        let existing = ds.projects(Some("e2e-orders"), 10).await.expect("projects");
        match existing.into_iter().find(|p| p.name == "e2e-orders") {
            Some(p) => p,
            None => ds
                .create_project("e2e-orders", "the orders team's pipeline")
                .await
                .expect("foreign project"),
        }
    });
    rt.block_on(trino.execute("CREATE SCHEMA IF NOT EXISTS iceberg.e2e_sales_2024"))
        .expect("foreign schema");
    rt.block_on(s3.put_object(&bucket, "e2e/orders/report.csv", b"a,b\n".to_vec()))
        .expect("foreign object");
    let kube = rt
        .block_on(carbon_kube::KubeClient::from_target(&target))
        .expect("kube client");
    let namespaces: carbon_kube::kube::Api<carbon_kube::k8s_openapi::api::core::v1::Namespace> =
        carbon_kube::kube::Api::all(kube.client());
    rt.block_on(async {
        let ns: carbon_kube::k8s_openapi::api::core::v1::Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "e2e-orders"}}))
                .expect("a namespace");
        match namespaces.create(&Default::default(), &ns).await {
            Ok(_) => {}
            Err(carbon_kube::kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("foreign namespace: {e}"),
        }
    });

    // A run killed mid-trial: no cleanup ran.
    let run_id = common::run_id("kill");
    let mut killed = 0;
    let killed_at = [
        (MID_TRIAL[0].0, "uploaded "), // once the object exists
        MID_TRIAL[1],
        MID_TRIAL[2],
        // A namespace of the run and a Backup (with files) in Velero's namespace.
        (
            "velero::full::backup_of_a_namespace_completes_and_its_files_hold_the_objects",
            "created Backup",
        ),
    ];
    for (trial, trigger) in &killed_at {
        let (mut child, pid, _) = start_until(trial, trigger, &run_id);
        signal(pid, "-KILL");
        child.wait().expect("nextest ends");
        killed += 1;
    }
    let (left, listing) = common::leftovers(&run_id);
    assert!(
        left >= killed,
        "the killed trials left nothing to reap:\n{listing}"
    );
    // The direct count sees them too (it can fail: this is its failing case).
    let direct = common::direct_artifacts(&run_id);
    assert!(
        direct.len() >= killed,
        "asking each service found fewer than the {killed} killed trials' artifacts: {direct:?}"
    );
    println!(
        "killed run: {left} artifact(s) by the reaper's count, {} by asking each service",
        direct.len()
    );

    let out = common::carbon_e2e(&["reap", "--run", &run_id])
        .output()
        .expect("reap runs");
    let text = common::console(&out);
    assert!(out.status.success(), "reap failed:\n{text}");
    let (left, listing) = common::leftovers(&run_id);
    assert_eq!(left, 0, "the killed run's artifacts remain:\n{listing}");
    let direct = common::direct_artifacts(&run_id);
    assert!(
        direct.is_empty(),
        "after reap, the services still hold the killed run's: {direct:?}"
    );
    // A real reap by age, too: it must keep the foreign things (they are young, but it must
    // not even consider them ours).
    let out = common::carbon_e2e(&["reap", "--dry-run", "--older-than-minutes", "0"])
        .output()
        .expect("reap runs");
    let by_age = common::console(&out);

    let foreign_left = rt.block_on(async {
        let projects = ds.projects(Some("e2e-orders"), 10).await.expect("projects");
        let schemas = trino
            .execute("SHOW SCHEMAS FROM iceberg LIKE 'e2e_sales_2024'")
            .await
            .expect("schemas");
        let object = s3
            .object_exists(&bucket, "e2e/orders/report.csv")
            .await
            .expect("head");
        let _ = ds.delete_project(project.code).await;
        let _ = trino
            .execute("DROP SCHEMA IF EXISTS iceberg.e2e_sales_2024")
            .await;
        let _ = s3.delete_object(&bucket, "e2e/orders/report.csv").await;
        let namespace = namespaces
            .get_opt("e2e-orders")
            .await
            .expect("namespace")
            .is_some_and(|n| n.metadata.deletion_timestamp.is_none());
        let _ = namespaces.delete("e2e-orders", &Default::default()).await;
        (
            projects.iter().any(|p| p.name == "e2e-orders"),
            !schemas.rows.is_empty(),
            object,
            namespace,
        )
    });
    assert_eq!(
        foreign_left,
        (true, true, true, true),
        "a foreign project, schema, object or namespace was reaped:\n{text}"
    );
    for foreign in ["e2e-orders", "e2e_sales_2024", "e2e/orders/report.csv"] {
        assert!(
            !by_age.contains(&format!("would remove {foreign}"))
                && !by_age.contains(&format!("would remove project {foreign}"))
                && !by_age.contains(&format!("would remove namespace {foreign}"))
                && !by_age.contains(&format!("would remove schema iceberg.{foreign}")),
            "reap by age would take {foreign}:\n{by_age}"
        );
    }
}

#[test]
fn two_runs_at_once_both_pass() {
    let filter = "package(suite-minio) | (package(suite-dolphinscheduler) & test(/token|duplicate_project/))";
    let runs: Vec<(String, Child)> = (0..2)
        .map(|i| {
            let id = common::run_id(&format!("two{i}"));
            let child = common::nextest(filter, &id)
                .env("E2E_STRICT", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("cargo nextest starts");
            (id, child)
        })
        .collect();
    for (id, child) in runs {
        let out = child.wait_with_output().expect("nextest ends");
        let text = common::console(&out);
        assert!(
            out.status.success(),
            "run {id} failed beside another:\n{text}"
        );
        let (left, listing) = common::leftovers(&id);
        assert_eq!(left, 0, "run {id} left artifacts:\n{listing}");
    }
}
