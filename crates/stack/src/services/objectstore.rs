//! The object store: versitygw (Apache-2.0) on a posix directory, port 17070. It speaks S3
//! (path-style, SigV4, multipart, presigned URLs) like the platform's MinIO, which is AGPL and
//! not used here; `--health` makes it answer MinIO's liveness path too.

use std::process::Command;

use carbon_config::Secret;
use carbon_s3::S3Client;
use futures::future::BoxFuture;

use crate::install::go;
use crate::secrets::{S3_ACCESS_KEY, S3_SECRET_KEY};
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

pub(crate) const PORT: u16 = 17070;
const MODULE: &str = "github.com/versity/versitygw/cmd/versitygw";
const VERSION: &str = "v1.8.0";
pub(crate) const HEALTH: &str = "/minio/health/live";

/// Buckets the stack creates: the suites' scratch bucket, the one the platform's Velero uses,
/// and the Iceberg warehouse.
pub(crate) const BUCKETS: &[&str] = &["carbon-e2e", "velero-backups", "iceberg"];

pub(crate) struct VersityGw;

impl LocalServer for VersityGw {
    fn name(&self) -> &'static str {
        "objectstore"
    }

    fn role(&self) -> &'static str {
        "S3 object store (versitygw, in place of MinIO)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{PORT}")
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        go(stack, MODULE, VERSION, "versitygw").map(drop)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let data = stack.data_dir("objectstore");
        std::fs::create_dir_all(&data).map_err(io_err("create", &data))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let mut cmd = Command::new(go(stack, MODULE, VERSION, "versitygw")?);
        // Credentials travel in the environment, not argv (argv shows in `ps`).
        cmd.env("ROOT_ACCESS_KEY", stack.var(S3_ACCESS_KEY))
            .env("ROOT_SECRET_KEY", stack.var(S3_SECRET_KEY))
            .args([
                "--port",
                &format!("127.0.0.1:{PORT}"),
                "--health",
                HEALTH,
                "--quiet",
                "posix",
            ])
            .arg(stack.data_dir("objectstore"));
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{PORT}{HEALTH}"),
            contains: None,
        }
    }

    fn after_ready<'a>(&'a self, stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(async move {
            let endpoint =
                url::Url::parse(&self.endpoint()).map_err(|e| StackError::Other(e.to_string()))?;
            let access = Secret::new(stack.var(S3_ACCESS_KEY));
            let secret = Secret::new(stack.var(S3_SECRET_KEY));
            let s3 = S3Client::new(
                endpoint,
                "us-east-1",
                &access,
                &secret,
                std::time::Duration::from_secs(10),
                None,
            )
            .map_err(|e| StackError::Other(e.to_string()))?;
            for bucket in BUCKETS {
                s3.create_bucket(bucket).await.map_err(|e| {
                    StackError::Other(format!("failed to create bucket {bucket}: {e}"))
                })?;
            }
            Ok(())
        })
    }
}
