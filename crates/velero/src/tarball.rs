//! A backup's tarball (`<backup>.tar.gz`): the objects it holds, as Velero wrote them
//! (`resources/<resource>/namespaces/<namespace>/<name>.json`, and the same under
//! `<resource>/v1-preferredversion/`).

use std::collections::BTreeMap;
use std::io::Read as _;

/// The files of a tarball, by path.
#[derive(Debug, Default)]
pub struct Tarball {
    files: BTreeMap<String, Vec<u8>>,
}

impl Tarball {
    /// Reads a gzipped tarball.
    ///
    /// # Errors
    /// When the bytes are not a gzipped tar.
    pub fn read(gz: &[u8]) -> std::io::Result<Self> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
        let mut files = BTreeMap::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry.path()?.to_string_lossy().into_owned();
            let mut body = Vec::new();
            entry.read_to_end(&mut body)?;
            files.insert(path, body);
        }
        Ok(Self { files })
    }

    /// How many files it holds.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The object `name` of `resource` (plural, e.g. `configmaps`) in `namespace`, as backed up.
    pub fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<serde_json::Value> {
        let path = format!("resources/{resource}/namespaces/{namespace}/{name}.json");
        serde_json::from_slice(self.files.get(&path)?).ok()
    }

    /// The names of every object of `resource` in `namespace`.
    pub fn names(&self, resource: &str, namespace: &str) -> Vec<String> {
        let prefix = format!("resources/{resource}/namespaces/{namespace}/");
        self.files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix)?.strip_suffix(".json"))
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, body) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, body.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn finds_objects_by_resource_namespace_and_name() {
        let gz = tarball(&[
            ("metadata/version", "1"),
            (
                "resources/configmaps/namespaces/ns1/cm.json",
                r#"{"kind":"ConfigMap","data":{"k":"v"}}"#,
            ),
            (
                "resources/configmaps/v1-preferredversion/namespaces/ns1/cm.json",
                r#"{"kind":"ConfigMap","data":{"k":"v"}}"#,
            ),
        ]);
        let t = Tarball::read(&gz).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(
            t.object("configmaps", "ns1", "cm").unwrap()["data"]["k"],
            "v"
        );
        assert!(t.object("secrets", "ns1", "cm").is_none());
        assert_eq!(t.names("configmaps", "ns1"), vec!["cm".to_string()]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Tarball::read(b"not a tarball").is_err());
    }
}
