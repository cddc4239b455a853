//! The relocatable runner: `carbon-e2e archive` writes a runner directory (this binary,
//! cargo-nextest, a `cargo nextest archive` of every suite, the target files and fixtures),
//! and the runner's own `carbon-e2e validate --archive-file` runs a slice of the suites (the
//! victoriametrics and minio smoke trials) against the local stack from a directory outside
//! the workspace, with a cleared environment and cargo off the `PATH`: nothing of the build
//! machine is needed at run time. Then the runner image (`carbon-e2e image`), unpacked by
//! `umoci` and run by `runc`, runs the victoriametrics smoke trials from inside it. (`bench
//! --only archive` measures sizes and times against cargo.)
//!
//! Needs the local stack up.

use std::path::Path;
use std::time::Instant;

use quick_junit::{Report, TestCaseStatus};

mod common;

const SLICE: [&str; 2] = ["victoriametrics::smoke::", "minio::smoke::"];

fn mib(path: &Path) -> f64 {
    #[allow(clippy::cast_precision_loss)] // a size to print
    let b = std::fs::metadata(path).map_or(0, |m| m.len()) as f64;
    b / 1_048_576.0
}

/// The directories of the `PATH` that hold no cargo.
fn path_without_cargo() -> String {
    let dirs = ["/usr/local/bin", "/usr/bin", "/bin"];
    for d in dirs {
        assert!(
            !Path::new(d).join("cargo").exists(),
            "{d} holds a cargo: the run would not prove it runs without one"
        );
    }
    dirs.join(":")
}

#[test]
fn the_archive_runs_from_outside_the_workspace_without_cargo() {
    let run_id = common::run_id("arch");
    let tmp = std::env::temp_dir().join(format!("carbon-e2e-{run_id}"));
    let runner = tmp.join("runner");
    std::fs::create_dir_all(&tmp).expect("a temporary directory");

    // 1. The runner directory, from this checkout.
    let t0 = Instant::now();
    let out = common::carbon_e2e(&["archive", "--out", &runner.to_string_lossy()])
        .output()
        .expect("carbon-e2e archive runs");
    let console = common::console(&out);
    assert!(out.status.success(), "{console}");
    let archived = t0.elapsed();
    let archive = runner.join("suites.tar.zst");
    println!(
        "runner written in {archived:.1?}: suites.tar.zst {:.1} MiB, bin/carbon-e2e {:.1} MiB, bin/cargo-nextest {:.1} MiB",
        mib(&archive),
        mib(&runner.join("bin/carbon-e2e")),
        mib(&runner.join("bin/cargo-nextest"))
    );

    // 2. Run from elsewhere: a cleared environment, cargo off the PATH, the working directory
    //    outside the workspace and the runner.
    let elsewhere = tmp.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("a working directory");
    #[allow(clippy::disallowed_methods)] // the test's own environment, passed on
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let mut cmd = std::process::Command::new(runner.join("bin/carbon-e2e"));
    cmd.current_dir(&elsewhere)
        .env_clear()
        .env("HOME", home)
        .env("PATH", path_without_cargo())
        .env("E2E_RUN_ID", &run_id)
        .args(["validate", "--archive-file"])
        .arg(&archive)
        .args(["--no-stack", "--no-reap", "--"])
        .args(SLICE);
    let t1 = Instant::now();
    let out = cmd.output().expect("the runner's carbon-e2e runs");
    let from_archive = t1.elapsed();
    let console = common::console(&out);
    assert!(out.status.success(), "{console}");
    assert!(
        !console.contains("Compiling") && console.contains("validate: from the archive"),
        "{console}"
    );
    let junit = runner.join("target/nextest/ci/local/junit.xml");
    let xml = std::fs::read_to_string(&junit)
        .unwrap_or_else(|e| panic!("no JUnit at {}: {e}\n{console}", junit.display()));
    let report = Report::deserialize_from_str(&xml).expect("valid JUnit");
    let ran: Vec<(String, bool)> = report
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .filter(|c| SLICE.iter().any(|p| c.name.as_str().starts_with(p)))
        .map(|c| {
            (
                c.name.as_str().to_string(),
                matches!(c.status, TestCaseStatus::Success { .. }),
            )
        })
        .collect();
    assert!(
        ran.iter().filter(|(n, _)| n.starts_with("minio::")).count() >= 2
            && ran
                .iter()
                .filter(|(n, _)| n.starts_with("victoriametrics::"))
                .count()
                >= 2,
        "the slice ran from the archive: {ran:?}"
    );
    assert!(ran.iter().all(|(_, passed)| *passed), "{ran:?}\n{console}");
    // The manifest names the commit the runner was archived from, not a checkout's.
    let manifest = std::fs::read_to_string(runner.join("target/nextest/ci/local/run.json"))
        .expect("the run's manifest");
    assert!(manifest.contains("\"run_id\""), "{manifest}");

    println!(
        "{} trials from the archive in {from_archive:.1?} (extraction, listing and plans included; `bench --only archive` compares it with cargo)",
        ran.len()
    );

    // 3. The runner image: written as an OCI archive, unpacked by an independent OCI tool
    //    (umoci, which checks every digest), and run by runc, the runtime a node's containerd
    //    uses, as the image's non-root user, on the host's network: the victoriametrics smoke
    //    trials from inside the image, against the stack.
    image_runs_the_slice_under_runc(&runner, &tmp, &run_id);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn image_runs_the_slice_under_runc(runner: &Path, tmp: &Path, run_id: &str) {
    let file = tmp.join("runner.oci.tar");
    let t0 = Instant::now();
    let out = common::carbon_e2e(&[
        "image",
        "--runner",
        &runner.to_string_lossy(),
        "--out",
        &file.to_string_lossy(),
        "--name",
        "localhost/carbon-e2e/runner:selftest",
    ])
    .output()
    .expect("carbon-e2e image runs");
    assert!(out.status.success(), "{}", common::console(&out));
    println!(
        "image written in {:.1?}: {:.1} MiB",
        t0.elapsed(),
        mib(&file)
    );
    let layout = tmp.join("layout");
    std::fs::create_dir_all(&layout).expect("a layout directory");
    tar::Archive::new(std::fs::File::open(&file).expect("the archive"))
        .unpack(&layout)
        .expect("unpacking the OCI archive");
    let bundle = tmp.join("bundle");
    let out = std::process::Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:selftest", layout.display()))
        .arg(&bundle)
        .output()
        .expect("umoci runs (carbon-e2e stack up installs it)");
    assert!(out.status.success(), "{}", common::console(&out));

    // The slice's target inside the container: a read-only cluster target with the stack's
    // VictoriaMetrics only (reached on the host's loopback).
    let target = format!(
        "[target]\nkind = \"cluster\"\ndescription = \"the runner image's slice\"\n\n{}",
        common::local_section("victoriametrics")
    );
    std::fs::write(bundle.join("rootfs/tmp/slice.toml"), target).expect("the slice's target");
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).expect("config.json"))
            .expect("umoci's config.json");
    config["process"]["terminal"] = false.into();
    let args = config["process"]["args"].clone();
    assert_eq!(
        args[0], "/runner/bin/carbon-e2e",
        "the image's entrypoint: {args}"
    );
    config["process"]["args"] = serde_json::json!([
        "/runner/bin/carbon-e2e",
        "validate",
        "--archive-file",
        "/runner/suites.tar.zst",
        "--no-stack",
        "--no-reap",
        "--",
        "victoriametrics::smoke::"
    ]);
    let env = config["process"]["env"]
        .as_array_mut()
        .expect("the image's environment");
    env.push("E2E_TARGET=/tmp/slice.toml".into());
    env.push(format!("E2E_RUN_ID={run_id}").into());
    // The host's network: no cluster network here, the stack listens on loopback.
    config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .retain(|n| n["type"] != "network");
    std::fs::write(&config_path, config.to_string()).expect("writing config.json");
    let t1 = Instant::now();
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(tmp.join("runc"))
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(format!("carbon-e2e-{run_id}"))
        .output()
        .expect("runc runs (carbon-e2e stack up installs it)");
    let console = common::console(&out);
    assert!(out.status.success(), "{console}");
    assert!(
        console.contains("validate: 2 passed, 0 failed"),
        "the image ran the slice: {console}"
    );
    println!(
        "the image ran the victoriametrics smoke trials under runc as uid 65532 in {:.1?}",
        t1.elapsed()
    );
}
