//! `run.json`, the run manifest: what a `validate` run validated (run id, target, tier, start
//! and end, carbon-e2e's version and commit, nextest's version, and each component's version
//! as its server reports it, the platform workloads' images, ArgoCD revisions). The layout is
//! `carbon_gate::Manifest`; the gate and `diff` read it back.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::Context as _;
use carbon_gate::{Components, MANIFEST_SCHEMA_VERSION, Manifest, Tool};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// When and how a run went, as `validate` knows it.
#[derive(Debug)]
pub struct RunFacts<'a> {
    /// The run id.
    pub run_id: &'a str,
    /// The target's name.
    pub target: &'a str,
    /// The nextest profile (`ci`: smoke and full; `smoke`: smoke only).
    pub profile: &'a str,
    /// When nextest started.
    pub started: SystemTime,
    /// When it ended.
    pub ended: SystemTime,
}

fn rfc3339(t: SystemTime) -> String {
    let t = OffsetDateTime::from(t);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The first line a command prints, if it runs and succeeds.
fn first_line(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    })
}

/// The commit carbon-e2e's workspace is at (`+dirty` with uncommitted changes to tracked files);
/// in a runner directory, the one it was archived from (its marker says).
pub(crate) fn commit() -> Option<String> {
    let root = carbon_config::workspace_root();
    if carbon_config::in_runner() {
        let marker = std::fs::read_to_string(root.join(carbon_config::RUNNER_MARKER)).ok()?;
        let marker: serde_json::Value = serde_json::from_str(&marker).ok()?;
        return marker["commit"].as_str().map(str::to_string);
    }
    let head = first_line(Command::new("git").current_dir(&root).args([
        "rev-parse",
        "--short=12",
        "HEAD",
    ]))
    .filter(|h| !h.is_empty())?;
    let dirty = first_line(Command::new("git").current_dir(&root).args([
        "status",
        "--porcelain",
        "--untracked-files=no",
    ]))
    .is_some_and(|l| !l.is_empty());
    Some(if dirty { format!("{head}+dirty") } else { head })
}

/// The manifest of a run whose components were read as `components`.
pub fn build(facts: &RunFacts<'_>, components: Components) -> Manifest {
    Manifest {
        schema_version: MANIFEST_SCHEMA_VERSION,
        run_id: facts.run_id.to_string(),
        target: facts.target.to_string(),
        tier: if facts.profile == "smoke" {
            "smoke".into()
        } else {
            "smoke+full".into()
        },
        started: rfc3339(facts.started),
        ended: rfc3339(facts.ended),
        carbon_e2e: Tool {
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: commit(),
        },
        nextest: first_line(crate::nextest::cargo().args(["nextest", "--version"])),
        components,
    }
}

/// Writes `run.json` into `dir`.
///
/// # Errors
/// The file cannot be written.
pub fn write(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let path = dir.join("run.json");
    let body = serde_json::to_string_pretty(manifest).context("serialising run.json")?;
    std::fs::write(&path, body + "\n").with_context(|| format!("writing {}", path.display()))
}
