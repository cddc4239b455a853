//! What the self tests share: driving the real suites through nextest (or the `carbon-e2e`
//! binary) as a user would, against the local stack, each run with a run id of its own.
#![allow(dead_code)] // each test file uses its own part

use std::process::Command;

/// `cargo nextest run --profile selftest -E <filter>` from the workspace root, without the
/// outer nextest's variables, with its own run id.
pub fn nextest(filter: &str, run_id: &str) -> Command {
    let root = carbon_config::workspace_root();
    let mut cmd = Command::new(env!("CARGO"));
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

/// The `carbon-e2e` binary with `args`, without the outer nextest's variables.
pub fn carbon_e2e(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_carbon-e2e"));
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
