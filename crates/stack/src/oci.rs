//! OCI images written directly, without a daemon or a registry: deterministic layer tarballs,
//! the image config, the manifest, and an image layout (`oci-layout`, `index.json` with the
//! image's name, `blobs/sha256/`) packed as one tar (an "OCI archive"), which `ctr images
//! import`, `skopeo copy oci-archive:…`, `crane push` and `umoci` (after unpacking) all read.
//!
//! Determinism: entries are sorted by path; every entry's mtime is 0, owner root (or the uid
//! given), no user or group names; gzip carries no name and mtime 0. The same inputs give the
//! same digests, so an image that did not change is not a new image.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// One file of a layer: where it goes in the image, its bytes, its mode and owner.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its path in the image, without a leading `/` (`runner/bin/carbon-e2e`).
    pub path: String,
    /// What it holds.
    pub content: Content,
    /// Its permission bits (`0o755`).
    pub mode: u32,
    /// Its owner (uid = gid).
    pub owner: u64,
}

/// What an entry holds.
#[derive(Debug, Clone)]
pub enum Content {
    /// A file's bytes, read from the host when the layer is written.
    File(PathBuf),
    /// Bytes given here.
    Bytes(Vec<u8>),
    /// A directory.
    Dir,
    /// A symbolic link to this target (busybox's applets).
    Symlink(String),
}

impl Entry {
    /// A host file, as `path` in the image, with `mode`, owned by root.
    pub fn file(path: &str, from: impl Into<PathBuf>, mode: u32) -> Self {
        Self {
            path: path.trim_start_matches('/').to_string(),
            content: Content::File(from.into()),
            mode,
            owner: 0,
        }
    }

    /// `bytes` as `path` in the image, with `mode`, owned by root.
    pub fn bytes(path: &str, bytes: impl Into<Vec<u8>>, mode: u32) -> Self {
        Self {
            path: path.trim_start_matches('/').to_string(),
            content: Content::Bytes(bytes.into()),
            mode,
            owner: 0,
        }
    }

    /// A symbolic link `path` → `target`, owned by root.
    pub fn symlink(path: &str, target: &str) -> Self {
        Self {
            path: path.trim_start_matches('/').to_string(),
            content: Content::Symlink(target.to_string()),
            mode: 0o777,
            owner: 0,
        }
    }

    /// A directory `path` with `mode`, owned by `owner`.
    pub fn dir(path: &str, mode: u32, owner: u64) -> Self {
        Self {
            path: path.trim_start_matches('/').to_string(),
            content: Content::Dir,
            mode,
            owner,
        }
    }
}

/// A written blob: its digest (`sha256:…`) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
}

fn sha256(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    for b in Sha256::digest(bytes) {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("sha256:{hex}")
}

/// A layer: the uncompressed tar's digest (the config's `diff_id`) and the gzip blob.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The digest of the uncompressed tar.
    pub diff_id: String,
    /// The gzip-compressed tar.
    pub gzip: Vec<u8>,
}

/// The tar of `entries` (sorted, every parent directory added), deterministic.
///
/// # Errors
/// A host file that cannot be read.
pub fn layer(entries: &[Entry]) -> std::io::Result<Layer> {
    let mut all: BTreeMap<String, Entry> = BTreeMap::new();
    for e in entries {
        // Parents first, root-owned, unless given.
        let mut parent = Path::new(&e.path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            let key = p.to_string_lossy().into_owned();
            all.entry(key.clone())
                .or_insert_with(|| Entry::dir(&key, 0o755, 0));
            parent = p.parent();
        }
        all.insert(e.path.clone(), e.clone());
    }
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, e) in &all {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_uid(e.owner);
        h.set_gid(e.owner);
        h.set_mode(e.mode);
        match &e.content {
            Content::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                tar.append_data(&mut h, format!("{path}/"), std::io::empty())?;
            }
            Content::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                tar.append_link(&mut h, path, target)?;
            }
            Content::Bytes(b) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(b.len() as u64);
                tar.append_data(&mut h, path, b.as_slice())?;
            }
            Content::File(from) => {
                let f = std::fs::File::open(from).map_err(|err| {
                    std::io::Error::new(err.kind(), format!("{}: {err}", from.display()))
                })?;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(f.metadata()?.len());
                tar.append_data(&mut h, path, f)?;
            }
        }
    }
    let raw = tar.into_inner()?;
    let diff_id = sha256(&raw);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw)?;
    Ok(Layer {
        diff_id,
        gzip: gz.finish()?,
    })
}

/// What the image runs and labels it with.
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `Env`, `KEY=value`.
    pub env: Vec<String>,
    /// `WorkingDir`.
    pub working_dir: String,
    /// `User` (`65532:65532`).
    pub user: String,
    /// `Labels` (OCI annotations keys such as `org.opencontainers.image.version`).
    pub labels: BTreeMap<String, String>,
}

/// An image: its name (`localhost/carbon-e2e/runner:0.1.0`), layers and config.
#[derive(Debug, Clone)]
pub struct Image {
    /// The full reference, with a tag (never `latest`).
    pub name: String,
    /// Layers, base first.
    pub layers: Vec<Layer>,
    /// What it runs.
    pub config: ImageConfig,
}

/// The written image: the manifest's digest and the archive's path and size.
#[derive(Debug, Clone)]
pub struct Written {
    /// The manifest's digest: the image's identity.
    pub manifest: Blob,
    /// The OCI archive.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

/// Why an image cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A name without a tag, or tagged `latest`.
    #[error("image name `{0}` needs a tag other than `latest` (localhost/<name>:<version>)")]
    Name(String),
    /// Writing failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Image {
    /// Writes the image as an OCI archive at `path`: a tar of its image layout.
    ///
    /// # Errors
    /// [`ImageError`].
    pub fn write_archive(&self, path: &Path) -> Result<Written, ImageError> {
        let tag = self
            .name
            .rsplit_once(':')
            .map(|(_, t)| t)
            .filter(|t| !t.contains('/') && *t != "latest")
            .ok_or_else(|| ImageError::Name(self.name.clone()))?;
        let json = |v: &serde_json::Value| serde_json::to_vec(v).unwrap_or_default();
        let mut c = self.config.clone();
        if c.working_dir.is_empty() {
            c.working_dir = "/".into();
        }
        let config = json(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": {
                "Entrypoint": c.entrypoint,
                "Cmd": c.cmd,
                "Env": c.env,
                "WorkingDir": c.working_dir,
                "User": c.user,
                "Labels": c.labels,
            },
            "rootfs": {
                "type": "layers",
                "diff_ids": self.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            },
        }));
        let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
        let config_blob = Blob {
            digest: sha256(&config),
            size: config.len() as u64,
        };
        blobs.push((config_blob.digest.clone(), config));
        let mut layers = Vec::new();
        for l in &self.layers {
            let digest = sha256(&l.gzip);
            layers.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest,
                "size": l.gzip.len(),
            }));
            blobs.push((digest, l.gzip.clone()));
        }
        let manifest = json(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_blob.digest,
                "size": config_blob.size,
            },
            "layers": layers,
            "annotations": c.labels,
        }));
        let manifest_blob = Blob {
            digest: sha256(&manifest),
            size: manifest.len() as u64,
        };
        blobs.push((manifest_blob.digest.clone(), manifest));
        let index = json(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_blob.digest,
                "size": manifest_blob.size,
                "annotations": {
                    "io.containerd.image.name": self.name,
                    "org.opencontainers.image.ref.name": tag,
                },
            }],
        }));
        blobs.sort_by(|a, b| a.0.cmp(&b.0));
        blobs.dedup_by(|a, b| a.0 == b.0);
        let mut entries = vec![
            Entry::bytes(
                "oci-layout",
                br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
                0o644,
            ),
            Entry::bytes("index.json", index, 0o644),
        ];
        for (digest, bytes) in blobs {
            let hex = digest.trim_start_matches("sha256:");
            entries.push(Entry::bytes(&format!("blobs/sha256/{hex}"), bytes, 0o644));
        }
        let io = |source| ImageError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Deterministic);
        let mut dirs = vec!["blobs/", "blobs/sha256/"].into_iter();
        for e in &entries {
            if e.path.starts_with("blobs/") {
                for d in dirs.by_ref() {
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(0o755);
                    h.set_mtime(0);
                    h.set_size(0);
                    tar.append_data(&mut h, d, std::io::empty()).map_err(io)?;
                }
            }
            let Content::Bytes(b) = &e.content else {
                continue;
            };
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(e.mode);
            h.set_mtime(0);
            h.set_size(b.len() as u64);
            tar.append_data(&mut h, &e.path, b.as_slice()).map_err(io)?;
        }
        let bytes = tar.into_inner().map_err(io)?;
        std::fs::write(path, &bytes).map_err(io)?;
        Ok(Written {
            manifest: manifest_blob,
            path: path.to_path_buf(),
            size: bytes.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(extra: &str) -> Image {
        let base = layer(&[
            Entry::bytes(
                "etc/passwd",
                b"root:x:0:0::/root:/sbin/nologin\n".to_vec(),
                0o644,
            ),
            Entry::dir("tmp", 0o1777, 0),
        ])
        .expect("a layer");
        let app =
            layer(&[Entry::bytes("app/hello", extra.as_bytes().to_vec(), 0o755)]).expect("a layer");
        Image {
            name: "localhost/carbon-e2e/test:1".into(),
            layers: vec![base, app],
            config: ImageConfig {
                entrypoint: vec!["/app/hello".into()],
                ..ImageConfig::default()
            },
        }
    }

    #[test]
    fn the_same_inputs_give_the_same_image_and_a_change_a_new_one() {
        let dir = tempfile::tempdir().expect("a directory");
        let a = image("one")
            .write_archive(&dir.path().join("a.tar"))
            .expect("written");
        let b = image("one")
            .write_archive(&dir.path().join("b.tar"))
            .expect("written");
        let c = image("two")
            .write_archive(&dir.path().join("c.tar"))
            .expect("written");
        assert_eq!(a.manifest, b.manifest);
        assert_eq!(
            std::fs::read(&a.path).expect("a"),
            std::fs::read(&b.path).expect("b")
        );
        assert_ne!(a.manifest, c.manifest);
    }

    #[test]
    fn the_archive_holds_a_layout_whose_digests_match_their_blobs() {
        let dir = tempfile::tempdir().expect("a directory");
        let w = image("one")
            .write_archive(&dir.path().join("a.tar"))
            .expect("written");
        let mut files = BTreeMap::new();
        let mut archive = tar::Archive::new(std::fs::File::open(&w.path).expect("open"));
        for e in archive.entries().expect("entries") {
            let mut e = e.expect("an entry");
            let path = e.path().expect("a path").to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut bytes).expect("read");
            files.insert(path, bytes);
        }
        for (path, bytes) in &files {
            if let Some(hex) = path.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
                assert_eq!(sha256(bytes), format!("sha256:{hex}"), "{path}");
            }
        }
        let index: serde_json::Value =
            serde_json::from_slice(&files["index.json"]).expect("index.json");
        let m = &index["manifests"][0];
        assert_eq!(m["digest"], w.manifest.digest.as_str());
        assert_eq!(
            m["annotations"]["io.containerd.image.name"],
            "localhost/carbon-e2e/test:1"
        );
        assert!(files.contains_key("oci-layout"));
    }

    #[test]
    fn a_latest_or_untagged_name_is_refused() {
        let dir = tempfile::tempdir().expect("a directory");
        for name in ["localhost/x:latest", "localhost/x", "localhost:5000/x"] {
            let mut i = image("one");
            i.name = name.into();
            assert!(
                i.write_archive(&dir.path().join("x.tar")).is_err(),
                "{name}"
            );
        }
    }
}
