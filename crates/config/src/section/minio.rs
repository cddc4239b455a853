//! `[minio]`: the object store. Every field documents its default; unknown keys are errors.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

/// `[minio]`: the platform's object store (MinIO on the platform; any S3-compatible store that
/// answers path-style requests works).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinioConfig {
    /// The S3 endpoint, e.g. `http://127.0.0.1:17070` or `https://minio.example.com`.
    pub endpoint: Url,
    /// The region requests are signed for. Default `us-east-1` (MinIO's default).
    #[serde(default = "default_region")]
    pub region: String,
    /// Environment variable holding the access key.
    pub access_key_env: String,
    /// Environment variable holding the secret key.
    pub secret_key_env: String,
    /// The bucket the suite writes its objects to (under an `e2e/<run id>/` prefix).
    pub test_bucket: String,
    /// Buckets the platform must have, e.g. `velero-backups`.
    #[serde(default)]
    pub required_buckets: Vec<String>,
    /// A health path that answers 200 when the store is live, e.g. MinIO's
    /// `/minio/health/live`. When absent, health is a signed request to the test bucket.
    #[serde(default)]
    pub health_path: Option<String>,
    /// Size in MiB of the multipart object the suite uploads. Default 16.
    #[serde(default = "default_multipart_mib")]
    pub multipart_object_mib: u64,
    /// A PEM file of extra CA certificates this service's client trusts (TLS verification stays
    /// on; the system store and the bundled roots are trusted too). Default: `target.ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_multipart_mib() -> u64 {
    16
}

impl super::ServiceSection for MinioConfig {
    fn name(&self) -> &'static str {
        "minio"
    }

    fn credentials(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("minio.access_key_env", self.access_key_env.as_str()),
            ("minio.secret_key_env", self.secret_key_env.as_str()),
        ]
    }

    fn urls_mut(&mut self) -> Vec<(&'static str, &mut url::Url)> {
        vec![("minio.endpoint", &mut self.endpoint)]
    }

    fn tls(&self) -> super::Tls<'_> {
        super::Tls::CaFile {
            key: "minio.ca_file",
            file: self.ca_file.as_deref(),
        }
    }
}
