//! The real node's images, written as OCI archives with [`crate::oci`] (no daemon, no
//! registry) and imported with `ctr`: `pause` (the sandbox: `pause.c`, built with
//! `gcc -static`) and `busybox` (Debian's static busybox and its applets as links). Both are
//! tagged with carbon-e2e's version; the manifests under `kind-config/` and the targets name the same tag
//! (`tests::manifests_name_the_images_this_version_builds`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::install::run_logged;
use crate::oci::{Entry, Image, ImageConfig, layer};
use crate::{Stack, StackError, io_err};

/// The sandbox image.
pub fn pause_image() -> String {
    format!("localhost/carbon-e2e/pause:{}", env!("CARGO_PKG_VERSION"))
}

/// The image the stack's trial pods run (shell, `sleep`, `wget`, `nc`).
pub fn busybox_image() -> String {
    format!("localhost/carbon-e2e/busybox:{}", env!("CARGO_PKG_VERSION"))
}

const PAUSE_C: &str = include_str!("pause.c");
const BUSYBOX: &str = "/bin/busybox";
/// How long building or importing one image may take.
pub(crate) const LIMIT: Duration = Duration::from_secs(120);

fn images_dir(stack: &Stack) -> PathBuf {
    stack.cache.join("kube").join("images")
}

fn archive_path(stack: &Stack, name: &str) -> PathBuf {
    let file = name.rsplit('/').next().unwrap_or(name).replace(':', "-");
    images_dir(stack).join(format!("{file}.oci.tar"))
}

fn write(image: &Image, path: &Path) -> Result<(), StackError> {
    let partial = path.with_extension("partial");
    image
        .write_archive(&partial)
        .map_err(|e| StackError::Other(format!("writing image {}: {e}", image.name)))?;
    std::fs::rename(&partial, path).map_err(io_err("move", &partial))
}

fn labels(source: &str) -> std::collections::BTreeMap<String, String> {
    [
        ("org.opencontainers.image.vendor", "carbon-e2e"),
        (
            "org.opencontainers.image.version",
            env!("CARGO_PKG_VERSION"),
        ),
        ("org.opencontainers.image.source", source),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn build_pause(stack: &Stack, path: &Path) -> Result<(), StackError> {
    let dir = images_dir(stack).join("pause-build");
    std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
    let src = dir.join("pause.c");
    std::fs::write(&src, PAUSE_C).map_err(io_err("write", &src))?;
    run_logged(
        stack,
        "build the pause program (gcc -static)",
        LIMIT,
        Command::new("gcc")
            .args(["-static", "-Os", "-s", "-o", "pause", "pause.c"])
            .current_dir(&dir),
    )?;
    let layer = layer(&[Entry::file("pause", dir.join("pause"), 0o755)])
        .map_err(|e| StackError::Other(format!("the pause image's layer: {e}")))?;
    write(
        &Image {
            name: pause_image(),
            layers: vec![layer],
            config: ImageConfig {
                entrypoint: vec!["/pause".into()],
                user: "65535:65535".into(),
                labels: labels("crates/stack/src/services/kube/pause.c"),
                ..ImageConfig::default()
            },
        },
        path,
    )
}

fn build_busybox(path: &Path) -> Result<(), StackError> {
    let out = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .map_err(|e| StackError::Other(format!("{BUSYBOX} --list: {e}")))?;
    let mut entries = vec![
        Entry::file("bin/busybox", BUSYBOX, 0o755),
        Entry::dir("tmp", 0o1777, 0),
        Entry::dir("etc", 0o755, 0),
        Entry::bytes(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
            0o644,
        ),
        Entry::bytes("etc/group", "root:x:0:\nnobody:x:65534:\n", 0o644),
    ];
    for applet in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if applet != "busybox" {
            entries.push(Entry::symlink(&format!("bin/{applet}"), "busybox"));
        }
    }
    let layer = layer(&entries)
        .map_err(|e| StackError::Other(format!("the busybox image's layer: {e}")))?;
    write(
        &Image {
            name: busybox_image(),
            layers: vec![layer],
            config: ImageConfig {
                cmd: vec!["/bin/sh".into()],
                env: vec!["PATH=/bin".into()],
                labels: labels("Debian's busybox-static"),
                ..ImageConfig::default()
            },
        },
        path,
    )
}

/// Writes the images that are not in the cache yet and imports both into the node's
/// containerd ([`super::node::import_image`]).
///
/// # Errors
/// A build, write or import that failed, named.
pub(crate) fn import(stack: &Stack) -> Result<(), StackError> {
    let dir = images_dir(stack);
    std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
    for name in [pause_image(), busybox_image()] {
        let path = archive_path(stack, &name);
        if !path.exists() {
            if name == pause_image() {
                build_pause(stack, &path)?;
            } else {
                build_busybox(&path)?;
            }
        }
        super::node::import_image(stack, &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_name_the_images_this_version_builds() {
        let root = carbon_config::workspace_root();
        let mut named = 0;
        let mut stack = vec![root.join("kind-config"), root.join(".config/targets")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for line in text.lines().filter(|l| l.contains("localhost/carbon-e2e/")) {
                    named += 1;
                    let image = line.split("localhost/").nth(1).unwrap_or_default();
                    let ours = [pause_image(), busybox_image()];
                    assert!(
                        ours.iter()
                            .any(|o| o.ends_with(image.trim().trim_matches('"')))
                            || image.starts_with("carbon-e2e/runner:"),
                        "{}: `{line}` names an image this version does not build",
                        p.display()
                    );
                }
            }
        }
        assert!(
            named > 0,
            "no manifest names a local image: the check saw nothing"
        );
    }
}
