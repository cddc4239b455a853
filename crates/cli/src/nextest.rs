//! Driving cargo-nextest: make sure it is installed, run it, count the trials it skips.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use carbon_config::Env;

/// The cargo-nextest release `validate` installs when none is present.
pub const NEXTEST_VERSION: &str = "0.9.151";
/// How long `cargo install cargo-nextest` may take (about 10 minutes on two cores).
const NEXTEST_INSTALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1800);

/// `cargo`, without the variables cargo sets for the program it runs (`CARGO_PKG_*`,
/// `CARGO_MANIFEST_*`, `CARGO_CRATE_NAME`, ...), which `cargo run` gives `validate` and nextest
/// gives every test. ring's build script re-runs when one of them changes, and ring re-built
/// re-builds everything over it (rustls, reqwest, kube, every crate and test binary here): a
/// cargo started from `validate` or from a self test must see the same environment as one
/// started from a shell, or each alternation rebuilds the workspace.
pub fn cargo() -> Command {
    let mut cmd = Command::new("cargo");
    #[allow(clippy::disallowed_methods)] // which variables to drop, not configuration
    for (k, _) in std::env::vars_os() {
        let name = k.to_string_lossy();
        let set_by_cargo = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name.as_ref(),
                "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
                    | "OUT_DIR"
            );
        if set_by_cargo {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Installs cargo-nextest with cargo unless `cargo nextest` already answers.
///
/// # Errors
/// When `cargo install` fails.
pub fn ensure_installed() -> anyhow::Result<()> {
    let present = cargo()
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    println!("validate: installing cargo-nextest {NEXTEST_VERSION} with cargo (once per machine)");
    let mut install = cargo();
    install.args([
        "install",
        "--locked",
        "cargo-nextest",
        "--version",
        NEXTEST_VERSION,
    ]);
    let run = carbon_stack::run_with_deadline(&mut install, NEXTEST_INSTALL_TIMEOUT, None)
        .context("running cargo install")?;
    if let Some(failure) = run.failure(NEXTEST_INSTALL_TIMEOUT) {
        bail!("cargo install cargo-nextest {NEXTEST_VERSION} {failure}");
    }
    Ok(())
}

/// Where nextest writes the JUnit report of `profile`: its store (`.config/nextest.toml`,
/// `target/nextest` under the workspace root, which in a runner directory is the runner's).
pub fn junit_path(env: &Env, profile: &str) -> PathBuf {
    let target = match env.get("CARGO_TARGET_DIR") {
        Some(dir) if !carbon_config::in_runner() => PathBuf::from(dir),
        _ => carbon_config::workspace_root().join("target"),
    };
    target.join("nextest").join(profile).join("junit.xml")
}

/// A runner directory's work directory, `<runner>/work`, where the archive is extracted.
pub fn work_dir() -> PathBuf {
    carbon_config::workspace_root().join("work")
}

/// How the suites are run: built and run by cargo in the workspace, or from a `cargo nextest
/// archive` by `cargo-nextest` alone (no cargo, no sources: `carbon-e2e archive`).
#[derive(Debug, Clone)]
pub enum Runner {
    /// `cargo nextest …` in the workspace.
    Cargo,
    /// `cargo-nextest nextest … --archive-file <file>`, the workspace remapped to the runner
    /// directory, extracted into its work directory.
    Archive {
        /// The archive.
        file: PathBuf,
    },
}

impl Runner {
    /// `nextest <verb>` as this runner starts it, from the workspace (or runner) root.
    fn nextest(&self, verb: &str) -> Command {
        let root = carbon_config::workspace_root();
        match self {
            Runner::Cargo => {
                let mut cmd = cargo();
                cmd.current_dir(&root)
                    .args(["nextest", verb, "--workspace"]);
                cmd
            }
            Runner::Archive { file } => {
                let mut cmd = Command::new(cargo_nextest());
                cmd.current_dir(&root).args(["nextest", verb]);
                let extracted = work_dir().join("target/nextest");
                if verb == "run" && extracted.join("binaries-metadata.json").is_file() {
                    // `validate` lists (and so extracts) right before it runs: the run reuses
                    // that extraction instead of unpacking the archive a second time.
                    cmd.arg("--binaries-metadata")
                        .arg(extracted.join("binaries-metadata.json"))
                        .arg("--cargo-metadata")
                        .arg(extracted.join("cargo-metadata.json"))
                        .arg("--target-dir-remap")
                        .arg(work_dir().join("target"));
                } else {
                    cmd.arg("--archive-file")
                        .arg(file)
                        .arg("--extract-to")
                        .arg(work_dir())
                        .arg("--extract-overwrite");
                }
                cmd.arg("--workspace-remap").arg(&root);
                cmd
            }
        }
    }

    /// Makes sure nextest is there: installed with cargo when missing, or beside the runner.
    ///
    /// # Errors
    /// When it cannot be installed, or the runner's `cargo-nextest` does not run.
    pub fn ensure_installed(&self) -> anyhow::Result<()> {
        match self {
            Runner::Cargo => ensure_installed(),
            Runner::Archive { file } => {
                if !file.is_file() {
                    bail!("no archive at {}", file.display());
                }
                std::fs::create_dir_all(work_dir())
                    .with_context(|| format!("creating {}", work_dir().display()))?;
                let nextest = cargo_nextest();
                let ok = Command::new(&nextest)
                    .args(["nextest", "--version"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    bail!(
                        "{} does not run: a runner directory carries its cargo-nextest in bin/ (carbon-e2e archive)",
                        nextest.display()
                    );
                }
                Ok(())
            }
        }
    }
}

/// The runner's `cargo-nextest`: beside this executable, else on the `PATH`.
fn cargo_nextest() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("cargo-nextest")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("cargo-nextest"))
}

/// `nextest run --profile <profile>` with an optional filter expression.
pub fn run_command(
    runner: &Runner,
    profile: &str,
    filter: Option<&str>,
    extra: &[String],
) -> Command {
    let mut cmd = runner.nextest("run");
    cmd.args(["--profile", profile]);
    if let Some(f) = filter {
        cmd.args(["-E", f]);
    }
    cmd.args(extra);
    cmd
}

/// A suite binary nextest knows: its id (`suite-minio::minio`) and path.
#[derive(Debug, Clone)]
pub struct SuiteBinary {
    /// nextest's binary id, which names the `<testsuite>` in JUnit.
    pub id: String,
    /// The built executable.
    pub path: PathBuf,
    /// The trials nextest would run under the profile (its default filter applied, ignored
    /// trials left out), when its listing says so.
    pub selected: Option<std::collections::BTreeSet<String>>,
}

/// The suites' harness binaries (`suite-<name>::<name>`) that `cargo nextest list` builds and
/// finds, listed under `profile` with `env` (the trials' own environment).
///
/// # Errors
/// When `cargo nextest list` fails or prints something else than its JSON.
pub fn suite_binaries(
    runner: &Runner,
    profile: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Vec<SuiteBinary>> {
    let out = runner
        .nextest("list")
        .args([
            "--profile",
            profile,
            "-E",
            "package(/^suite-/)",
            "--message-format",
            "json",
        ])
        .env("E2E_PLAN_LISTING", "1")
        .envs(env.iter().copied())
        .stderr(Stdio::inherit())
        .output()
        .context("running nextest list")?;
    if !out.status.success() {
        bail!("nextest list failed ({})", out.status);
    }
    let list: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading cargo nextest list's JSON")?;
    let suites = list
        .get("rust-suites")
        .and_then(serde_json::Value::as_object)
        .context("cargo nextest list printed no rust-suites")?;
    // Only each suite's harness binary, `suite-<name>::<name>`: a suite package may also hold a
    // library or a plain self test, which would run its tests if started without arguments.
    Ok(suites
        .iter()
        .filter(|(id, s)| {
            s.get("package-name")
                .and_then(serde_json::Value::as_str)
                .and_then(|p| Some(format!("{p}::{}", p.strip_prefix("suite-")?)))
                .is_some_and(|harness| &harness == *id)
        })
        .filter_map(|(id, s)| {
            Some(SuiteBinary {
                id: id.clone(),
                path: PathBuf::from(s.get("binary-path")?.as_str()?),
                selected: selected(s),
            })
        })
        .collect())
}

/// The test cases of one binary in `cargo nextest list`'s JSON whose `filter-match` is
/// `matches`; `None` when the listing does not say (an older nextest).
fn selected(suite: &serde_json::Value) -> Option<std::collections::BTreeSet<String>> {
    let cases = suite.get("testcases")?.as_object()?;
    cases
        .iter()
        .map(|(name, case)| {
            let status = case.get("filter-match")?.get("status")?.as_str()?;
            Some((name, status == "matches"))
        })
        .collect::<Option<Vec<_>>>()
        .map(|cases| {
            cases
                .into_iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| n.clone())
                .collect()
        })
}

/// One trial's plan as its suite binary prints it with `E2E_PLAN=1`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PlannedTrial {
    /// Set from the binary, not printed by it.
    #[serde(skip)]
    pub binary: String,
    /// `<suite>::<tier>::<behaviour>`.
    pub trial: String,
    /// `run`, `skip`, `refused`, `live-only` or `broken-target`.
    pub status: String,
    /// Why it does not run.
    #[serde(default)]
    pub reason: String,
    /// What it creates.
    #[serde(default)]
    pub creates: Option<String>,
    /// How that is removed.
    #[serde(default)]
    pub cleanup: Option<String>,
    /// The opt-in kind it needs.
    #[serde(default)]
    pub opt_in: Option<String>,
    /// Whether nextest selects it under the profile (its default filter), when known.
    #[serde(skip)]
    pub selected: Option<bool>,
}

/// Every suite trial's plan on the current target: each suite binary run with `E2E_PLAN=1`,
/// which reads the target file and sends nothing.
///
/// # Errors
/// When a binary cannot run or prints something else than plans.
pub fn plans(binaries: &[SuiteBinary], env: &[(&str, &str)]) -> anyhow::Result<Vec<PlannedTrial>> {
    let mut out = Vec::new();
    for b in binaries {
        let output = Command::new(&b.path)
            .current_dir(carbon_config::workspace_root())
            .env("E2E_PLAN", "1")
            .envs(env.iter().copied())
            .output()
            .with_context(|| format!("running {} for its plan", b.path.display()))?;
        if !output.status.success() {
            bail!("{} --plan failed ({})", b.id, output.status);
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let mut t: PlannedTrial = serde_json::from_str(line)
                .with_context(|| format!("reading {}'s plan line {line:?}", b.id))?;
            t.binary = b.id.clone();
            t.selected = b.selected.as_ref().map(|s| s.contains(&t.trial));
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// `validate --gate` reads what passing checks measured from the JUnit report: a profile
    /// that writes a JUnit file without the passing trials' output gates every run
    /// INCONCLUSIVE ("ran but emitted no measurement"). The nightly's `smoke` profile did,
    /// until its Job ran for real (crates/cli/tests/nightly_job.rs).
    #[test]
    fn every_profile_with_a_junit_report_keeps_the_passing_trials_output() {
        let path = carbon_config::workspace_root().join(".config/nextest.toml");
        let text = std::fs::read_to_string(&path).expect("the nextest configuration");
        let doc: toml::Table = text.parse().expect("valid TOML");
        let profiles = doc
            .get("profile")
            .and_then(toml::Value::as_table)
            .expect("profiles");
        let mut with_junit = Vec::new();
        let mut missing = Vec::new();
        for (name, profile) in profiles {
            let Some(junit) = profile.get("junit").and_then(toml::Value::as_table) else {
                continue;
            };
            with_junit.push(name.clone());
            if junit
                .get("store-success-output")
                .and_then(toml::Value::as_bool)
                != Some(true)
            {
                missing.push(name.clone());
            }
        }
        assert!(
            with_junit.len() >= 4,
            "profiles with a JUnit report: {with_junit:?}"
        );
        assert!(
            missing.is_empty(),
            "profile(s) {missing:?} of {} write a JUnit report without `store-success-output = true`: the gate would find no measurement in it",
            path.display()
        );
    }
}
