//! `image`: the runner image, written as an OCI archive without a daemon or a registry
//! (`carbon_stack::oci`). Two layers: a base of what the binaries load (the C library and its
//! loader as `ldd` names them, CA certificates, a passwd with the non-root user 65532) and the
//! runner directory `carbon-e2e archive` wrote, at `/runner`. No compiler, no shell, no cargo.
//! A platform team pushes the file with its usual tool (`skopeo copy
//! oci-archive:<file> docker://<registry>/carbon-e2e/runner:<tag>`, `crane push`); a node
//! imports it with `ctr images import`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};
use carbon_stack::oci::{Entry, Image, ImageConfig, layer};

/// Arguments of `image`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The runner directory (`carbon-e2e archive --out DIR`).
    #[arg(long, value_name = "DIR")]
    runner: PathBuf,
    /// The OCI archive to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The image's name (default `localhost/carbon-e2e/runner:<version>-<commit>`).
    #[arg(long)]
    name: Option<String>,
}

impl Args {
    /// `image --runner <runner> --out <out>`, under the default name.
    pub fn new(runner: &Path, out: &Path) -> Self {
        Self {
            runner: runner.to_path_buf(),
            out: out.to_path_buf(),
            name: None,
        }
    }
}

/// The user the image runs as.
pub const USER: u64 = 65532;

/// The shared libraries `ldd` says `binaries` load (the loader included).
fn libraries(binaries: &[PathBuf]) -> anyhow::Result<BTreeSet<PathBuf>> {
    let mut libs = BTreeSet::new();
    for b in binaries {
        let out = Command::new("ldd")
            .arg(b)
            .output()
            .with_context(|| format!("running ldd {}", b.display()))?;
        if !out.status.success() {
            bail!("ldd {} failed: a static binary needs no base", b.display());
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or `/lib64/ld-linux… (0x…)`.
            let path = line
                .rsplit("=>")
                .next()
                .and_then(|r| r.split_whitespace().next())
                .filter(|p| p.starts_with('/'));
            if let Some(p) = path {
                libs.insert(PathBuf::from(p));
            }
        }
    }
    Ok(libs)
}

/// Every file under `dir` as entries under `at`, leaving out `skip` (top-level names).
fn tree(dir: &Path, at: &str, skip: &[&str], out: &mut Vec<Entry>) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if skip.contains(&name.as_str()) {
            continue;
        }
        let path = format!("{at}/{name}");
        let meta = entry.metadata()?;
        if meta.is_dir() {
            out.push(Entry::dir(&path, 0o755, 0));
            tree(&entry.path(), &path, &[], out)?;
        } else {
            let exec = meta.permissions().mode() & 0o111 != 0;
            out.push(Entry::file(
                &path,
                entry.path(),
                if exec { 0o755 } else { 0o644 },
            ));
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runner = std::path::absolute(&args.runner)?;
    let marker =
        std::fs::read_to_string(runner.join(carbon_config::RUNNER_MARKER)).with_context(|| {
            format!(
                "{} is not a runner directory (carbon-e2e archive --out DIR writes one)",
                runner.display()
            )
        })?;
    let marker: serde_json::Value = serde_json::from_str(&marker).context("reading the marker")?;
    let version = marker["carbon_e2e_version"].as_str().unwrap_or("0.0.0");
    let commit = marker["commit"].as_str().map(|c| c.replace('+', "-"));
    let tag = match &commit {
        Some(c) => format!("{version}-{c}"),
        None => version.to_string(),
    };
    let name = args
        .name
        .unwrap_or_else(|| format!("localhost/carbon-e2e/runner:{tag}"));

    let started = std::time::Instant::now();
    let binaries = [
        runner.join("bin/carbon-e2e"),
        runner.join("bin/cargo-nextest"),
    ];
    let mut base = Vec::new();
    for lib in libraries(&binaries)? {
        let at = lib.to_string_lossy().into_owned();
        base.push(Entry::file(&at, &lib, 0o755));
    }
    let ca = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if !ca.is_file() {
        bail!(
            "{} is missing: the image carries the system's CA certificates (apt-get install ca-certificates)",
            ca.display()
        );
    }
    base.push(Entry::file("etc/ssl/certs/ca-certificates.crt", ca, 0o644));
    base.push(Entry::bytes(
        "etc/passwd",
        format!(
            "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{USER}:{USER}:nonroot:/tmp:/sbin/nologin\n"
        ),
        0o644,
    ));
    base.push(Entry::bytes(
        "etc/group",
        format!("root:x:0:\nnonroot:x:{USER}:\n"),
        0o644,
    ));
    base.push(Entry::bytes(
        "etc/nsswitch.conf",
        "hosts: files dns\n",
        0o644,
    ));
    base.push(Entry::dir("tmp", 0o1777, 0));

    let mut app = vec![Entry::dir("runner", 0o755, 0)];
    tree(&runner, "runner", &["work", "target"], &mut app)?;
    // Where the archive is extracted and the reports go: the runner's user writes there (a
    // Job mounts volumes at both).
    app.push(Entry::dir("runner/work", 0o755, USER));
    app.push(Entry::dir("runner/target", 0o755, USER));

    let mut labels = std::collections::BTreeMap::new();
    labels.insert(
        "org.opencontainers.image.title".to_string(),
        "carbon-e2e runner".to_string(),
    );
    labels.insert(
        "org.opencontainers.image.version".to_string(),
        version.to_string(),
    );
    if let Some(c) = &commit {
        labels.insert("org.opencontainers.image.revision".to_string(), c.clone());
    }
    let image = Image {
        name: name.clone(),
        layers: vec![
            layer(&base).context("writing the base layer")?,
            layer(&app).context("writing the runner layer")?,
        ],
        config: ImageConfig {
            entrypoint: vec!["/runner/bin/carbon-e2e".into()],
            cmd: vec![
                "validate".into(),
                "--archive-file".into(),
                "/runner/suites.tar.zst".into(),
                "--no-stack".into(),
                "--gate".into(),
            ],
            env: vec![
                "PATH=/runner/bin".into(),
                "HOME=/tmp".into(),
                // The run's own state (breaker records, run state) goes under /tmp.
                "E2E_STACK_DIR=/tmp/carbon-e2e".into(),
                "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".into(),
            ],
            working_dir: "/runner".into(),
            user: format!("{USER}:{USER}"),
            labels,
        },
    };
    let out = std::path::absolute(&args.out)?;
    let written = image.write_archive(&out)?;
    #[allow(clippy::cast_precision_loss)] // a size to print
    let mib = written.size as f64 / 1_048_576.0;
    println!(
        "image: {name}\n  manifest {}\n  {} ({mib:.1} MiB, OCI archive, written in {:.1?})\npush it: skopeo copy oci-archive:{} docker://<registry>/carbon-e2e/runner:{tag}",
        written.manifest.digest,
        out.display(),
        started.elapsed(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
