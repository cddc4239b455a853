//! The object store's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Artifact, Declared, FromTarget as _, Leftovers, ProbeError, Service, Target};
use carbon_core::naming::{self, rfc3339_secs};

use crate::MinioClient;

/// The bucket the probes read: `[minio] test_bucket`.
fn bucket(target: &Target) -> String {
    target
        .minio
        .as_ref()
        .map(|m| m.test_bucket.clone())
        .unwrap_or_default()
}

impl Declared for MinioClient {
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

    const ARTIFACTS: Option<&'static str> = Some(
        "objects under e2e/<run>/ of [minio] test_bucket carrying the run's metadata marker, and incomplete multipart uploads there",
    );

    /// Objects under `e2e/<run>/` (owned when their metadata names the run) and incomplete
    /// multipart uploads there (a listing shows no metadata: their key and start time), aged
    /// by their time on the store's clock.
    async fn leftovers(&self, target: &Target) -> Result<Leftovers, ProbeError> {
        let bucket = bucket(target);
        let mut out = Leftovers {
            now: self.server_clock(&bucket).await?,
            ..Leftovers::default()
        };
        let mut foreign = 0;
        for o in self.list(&bucket, naming::S3_ROOT).await? {
            let Some(run) = naming::parse_object_key(&o.key) else {
                foreign += 1;
                continue;
            };
            let what = format!("s3://{bucket}/{}", o.key);
            let keep = match self.object_run(&bucket, &o.key).await {
                Ok(Some(owner)) if owner == run => None,
                Ok(_) => Some("no carbon-e2e ownership marker for its run".to_string()),
                Err(e) => {
                    out.failures.push((what, e.to_string()));
                    continue;
                }
            };
            out.artifacts.push(Artifact {
                what,
                run: run.to_string(),
                created: rfc3339_secs(o.last_modified.as_deref()),
                keep,
                handle: vec!["object".into(), o.key.clone()],
            });
        }
        for u in self.incomplete_uploads(&bucket, naming::S3_ROOT).await? {
            let Some(run) = naming::parse_object_key(&u.key) else {
                foreign += 1;
                continue;
            };
            out.artifacts.push(Artifact {
                what: format!(
                    "incomplete upload {} of s3://{bucket}/{}",
                    u.upload_id, u.key
                ),
                run: run.to_string(),
                created: rfc3339_secs(u.initiated.as_deref()),
                keep: None,
                handle: vec!["upload".into(), u.key.clone(), u.upload_id.clone()],
            });
        }
        if foreign > 0 {
            out.notes.push(format!(
                "{foreign} object(s) under {bucket}/e2e/ are not a run's: left alone"
            ));
        }
        Ok(out)
    }

    async fn remove(&self, target: &Target, artifact: &Artifact) -> Result<String, ProbeError> {
        let bucket = bucket(target);
        match artifact.handle.as_slice() {
            [kind, key] if kind == "object" => self.delete_object(&bucket, key).await?,
            [kind, key, id] if kind == "upload" => self.abort_upload(&bucket, key, id).await?,
            _ => return Err(format!("{}: not an object store artifact", artifact.what).into()),
        }
        Ok(artifact.what.clone())
    }
}
