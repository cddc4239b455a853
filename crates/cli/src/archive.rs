//! `archive`: the relocatable runner. One directory that runs the suites on a machine with no
//! cargo, no compiler and no checkout (a CronJob's image, a bastion host):
//!
//! ```text
//! <dir>/carbon-e2e-runner.json   what it is: version, commit, suites, nextest's version
//! <dir>/bin/carbon-e2e           this binary
//! <dir>/bin/cargo-nextest        the nextest that runs the archive
//! <dir>/suites.tar.zst           `cargo nextest archive` of every suite package
//! <dir>/Cargo.toml               the workspace's manifest (nextest checks the remapped root has one)
//! <dir>/.config/                 nextest's profiles and the target files
//! <dir>/fixtures/                the suites' data files
//! <dir>/suites/<name>/           each suite package's directory (nextest runs a test there)
//! ```
//!
//! `<dir>/bin/carbon-e2e validate --archive-file <dir>/suites.tar.zst` then runs them: the
//! marker makes `<dir>` the workspace root (`carbon_config::workspace_root`), nextest remaps
//! the archive's workspace to it and extracts the binaries into `<dir>/work/`; the JUnit report
//! and the run's reports go to `<dir>/target/nextest/<profile>/` (nextest's store, as in a
//! checkout: in a Job, mount the report volume at `<dir>/target`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::nextest;

/// Arguments of `archive`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The runner directory to write: created, or replaced when it is an earlier runner
    /// directory; any other non-empty directory is refused.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

impl Args {
    /// `archive --out <out>`.
    pub fn new(out: &Path) -> Self {
        Self {
            out: out.to_path_buf(),
        }
    }
}

/// A file's size in MiB, for people (0 when it cannot be read).
pub(crate) fn mib(path: &Path) -> String {
    let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    #[allow(clippy::cast_precision_loss)] // a size to print
    let m = bytes as f64 / 1_048_576.0;
    format!("{m:.1} MiB")
}

/// The archive's file name in a runner directory.
pub const ARCHIVE: &str = "suites.tar.zst";

/// The suite packages of the workspace: `(directory name, package name)`.
fn suites(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root.join("suites")).context("listing suites/")? {
        let dir = entry?.path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let name = manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .with_context(|| format!("{}/Cargo.toml names no package", dir.display()))?;
        let file = dir
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((file, name.to_string()));
    }
    out.sort();
    Ok(out)
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<u64> {
    let mut bytes = 0;
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            bytes += copy_tree(&entry.path(), &dest)?;
        } else {
            bytes += std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(bytes)
}

/// `cargo-nextest` as cargo runs it: the first on the `PATH` or in `~/.cargo/bin`.
#[allow(clippy::disallowed_methods)] // where the tool is, not configuration
fn installed_nextest() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"));
    std::env::split_paths(&path)
        .chain(home)
        .map(|d| d.join("cargo-nextest"))
        .find(|p| p.is_file())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if carbon_config::in_runner() {
        bail!("archive builds from a checkout; this is a runner directory");
    }
    let root = carbon_config::workspace_root();
    let dest = std::path::absolute(&args.out)
        .with_context(|| format!("resolving {}", args.out.display()))?;
    if dest.exists() {
        let empty = std::fs::read_dir(&dest)
            .with_context(|| format!("listing {}", dest.display()))?
            .next()
            .is_none();
        if !empty && !dest.join(carbon_config::RUNNER_MARKER).is_file() {
            bail!(
                "{} is not empty and is not a runner directory: refusing to replace it",
                dest.display()
            );
        }
    }
    // Written beside it, then renamed: a run that fails half-way leaves no runner that looks
    // whole (and the next one clears what it left).
    let out = dest.with_extension("partial");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    std::fs::create_dir_all(out.join("bin"))
        .with_context(|| format!("creating {}", out.display()))?;
    let suites = suites(&root)?;
    nextest::ensure_installed()?;

    // This executable first, as it runs (`/proc/self/exe` reads it even when a build has
    // replaced its file since it started, as the build below may).
    std::fs::copy("/proc/self/exe", out.join("bin/carbon-e2e"))
        .context("copying this executable (/proc/self/exe)")?;

    let started = std::time::Instant::now();
    let archive = out.join(ARCHIVE);
    // The whole workspace's build (as `validate` builds it: the same features, so the same
    // artifacts, nothing rebuilt), archiving the suites' binaries only.
    let mut cmd = nextest::cargo();
    cmd.current_dir(&root)
        .args([
            "nextest",
            "archive",
            "--workspace",
            "-E",
            "package(/^suite-/)",
            "--archive-file",
        ])
        .arg(&archive);
    let status = cmd.status().context("running cargo nextest archive")?;
    if !status.success() {
        bail!("cargo nextest archive failed ({status})");
    }
    let archived_in = started.elapsed();

    let nextest_bin = installed_nextest().context("cargo-nextest is not on the PATH")?;
    std::fs::copy(&nextest_bin, out.join("bin/cargo-nextest"))
        .with_context(|| format!("copying {}", nextest_bin.display()))?;
    // nextest checks that the remapped workspace has its root manifest (it reads nothing of it).
    std::fs::copy(root.join("Cargo.toml"), out.join("Cargo.toml")).context("copying Cargo.toml")?;
    std::fs::create_dir_all(out.join(".config/targets"))?;
    std::fs::copy(
        root.join(".config/nextest.toml"),
        out.join(".config/nextest.toml"),
    )
    .context("copying .config/nextest.toml")?;
    for entry in std::fs::read_dir(root.join(".config/targets"))? {
        let p = entry?.path();
        if p.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(
                &p,
                out.join(".config/targets")
                    .join(p.file_name().unwrap_or_default()),
            )
            .with_context(|| format!("copying {}", p.display()))?;
        }
    }
    copy_tree(&root.join("fixtures"), &out.join("fixtures"))?;
    for (dir, _) in &suites {
        std::fs::create_dir_all(out.join("suites").join(dir))?;
    }
    let marker = serde_json::json!({
        "carbon_e2e_version": env!("CARGO_PKG_VERSION"),
        "commit": crate::manifest::commit(),
        "nextest_version": nextest::NEXTEST_VERSION,
        "suites": suites.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(),
        "archive": ARCHIVE,
    });
    std::fs::write(
        out.join(carbon_config::RUNNER_MARKER),
        serde_json::to_string_pretty(&marker)? + "\n",
    )?;

    if dest.exists() {
        std::fs::remove_dir_all(&dest).with_context(|| format!("removing {}", dest.display()))?;
    }
    std::fs::rename(&out, &dest)
        .with_context(|| format!("renaming {} to {}", out.display(), dest.display()))?;
    let out = dest;
    let archive = out.join(ARCHIVE);
    println!(
        "\narchive: runner directory {} ({} suites)",
        out.display(),
        suites.len()
    );
    println!(
        "  {ARCHIVE:<22} {:>10}  (cargo nextest archive, {:.1?})",
        mib(&archive),
        archived_in
    );
    println!(
        "  bin/carbon-e2e         {:>10}",
        mib(&out.join("bin/carbon-e2e"))
    );
    println!(
        "  bin/cargo-nextest      {:>10}",
        mib(&out.join("bin/cargo-nextest"))
    );
    println!(
        "run it anywhere (no cargo): {}/bin/carbon-e2e validate --archive-file {}",
        out.display(),
        archive.display()
    );
    Ok(ExitCode::SUCCESS)
}
