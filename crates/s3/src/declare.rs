//! The object store's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Declared, FromTarget as _, ProbeError, Service, Target};

use crate::S3Client;

/// The bucket the probes read: `[minio] test_bucket`.
fn bucket(target: &Target) -> String {
    target
        .minio
        .as_ref()
        .map(|m| m.test_bucket.clone())
        .unwrap_or_default()
}

impl Declared for S3Client {
    const SERVICE: Service = Service::Minio;
    const VERSION_SOURCE: &'static str = "HEAD /<[minio] test_bucket> Server header";
    const NO_VERSION: &'static str = "the answer has no Server header";

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    async fn probe(&self, target: &Target) -> Result<String, ProbeError> {
        let bucket = bucket(target);
        self.health(&bucket).await?;
        Ok(format!(
            "live, credentials accepted, bucket {bucket} answered"
        ))
    }

    async fn version(&self, target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version(&bucket(target)).await?)
    }
}
