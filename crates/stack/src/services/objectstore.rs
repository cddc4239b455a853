//! The object store: MinIO RELEASE.2021-04-22T15-44-28Z, the platform's own server in its last
//! Apache-2.0 release (MinIO is AGPL from 2021-04-23), single drive, port 17070. It is built
//! from the Go module proxy through a wrapper module (`assets/minio/`) that requires MinIO at
//! that release's commit (`v0.0.0-20210422020608-a7acfa6158ea`) and forces reflect2 v1.0.2.
//! Every suite that touches object storage uses it: `minio`, Trino's Iceberg warehouse and
//! Velero's backups.
//!
//! versitygw (Apache-2.0, posix backend) runs beside it on port 17071 as a second S3
//! implementation: the `s3_compat` self test runs the `minio` suite against it, so the suite is
//! known not to depend on one server's quirks.
//!
//! What this MinIO does differently from the platform's current one: a batch delete
//! (`DeleteObjects`) must carry `Content-MD5` (newer releases also take the CRC32 checksum
//! recent AWS SDKs send); no embedded console (`--console-address` came in 2021-06); the
//! admin API and `mc` of 2021. The S3 API, health paths (`/minio/health/live`, `/ready`) and
//! the `Server: MinIO` header are the same.

use std::process::Command;
use std::time::Duration;

use carbon_config::Secret;
use carbon_minio::MinioClient;
use futures::future::BoxFuture;

use crate::install::{GoWrapper, go};
use crate::secrets::{S3_ACCESS_KEY, S3_SECRET_KEY};
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

pub(crate) const PORT: u16 = 17070;
/// versitygw's port (the second S3 implementation).
pub const VERSITYGW_PORT: u16 = 17071;
/// MinIO's release tag, as `Server:` and `mc admin info` report it.
pub(crate) const RELEASE: &str = "RELEASE.2021-04-22T15-44-28Z";
const VERSITYGW_MODULE: &str = "github.com/versity/versitygw/cmd/versitygw";
const VERSITYGW_VERSION: &str = "v1.8.0";

const WRAPPER: GoWrapper = GoWrapper {
    dir: "minio",
    version: RELEASE,
    files: [
        ("go.mod", include_str!("../../assets/minio/go.mod")),
        ("go.sum", include_str!("../../assets/minio/go.sum")),
        ("tools.go", include_str!("../../assets/minio/tools.go")),
    ],
    // MinIO's own release builds use `kqueue` (its file watcher without cgo).
    tags: "kqueue",
    // About 3 minutes cold on two cores.
    timeout: Duration::from_secs(20 * 60),
};

fn build_minio(stack: &Stack) -> Result<std::path::PathBuf, StackError> {
    let cmd = "github.com/minio/minio/cmd";
    let ldflags = format!(
        "-s -w -X {cmd}.Version=2021-04-22T15:44:28Z -X {cmd}.ReleaseTag={RELEASE} -X {cmd}.CommitID=a7acfa6158ea -X {cmd}.ShortCommitID=a7acfa6158ea"
    );
    WRAPPER.build(stack, "minio", "github.com/minio/minio", &ldflags)
}

pub(crate) const HEALTH: &str = "/minio/health/live";

/// Buckets the stack creates: the suites' scratch bucket, the one the platform's Velero uses,
/// and the Iceberg warehouse.
pub(crate) const BUCKETS: &[&str] = &["carbon-e2e", "velero-backups", WAREHOUSE_BUCKET];
/// The Iceberg warehouse's bucket.
pub(crate) const WAREHOUSE_BUCKET: &str = "iceberg";

pub(crate) struct Minio;
pub(crate) struct VersityGw;

impl LocalServer for Minio {
    fn name(&self) -> &'static str {
        "objectstore"
    }

    fn role(&self) -> &'static str {
        "S3 object store (MinIO RELEASE.2021-04-22T15-44-28Z, single drive)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{PORT}")
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        build_minio(stack).map(drop)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        // Not `data/objectstore/`: that held versitygw's posix tree before, and MinIO's
        // single-drive mode would serve its leftovers (`.sgwtmp`) as objects.
        let data = stack.data_dir("minio");
        std::fs::create_dir_all(&data).map_err(io_err("create", &data))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let mut cmd = Command::new(build_minio(stack)?);
        // Credentials travel in the environment, not argv (argv shows in `ps`).
        cmd.env("MINIO_ROOT_USER", stack.var(S3_ACCESS_KEY))
            .env("MINIO_ROOT_PASSWORD", stack.var(S3_SECRET_KEY))
            // No web browser UI and no update check (it would call out to dl.min.io).
            .env("MINIO_BROWSER", "off")
            .env("MINIO_UPDATE", "off")
            .args([
                "server",
                "--quiet",
                "--address",
                &format!("127.0.0.1:{PORT}"),
            ])
            .arg(stack.data_dir("minio"));
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{PORT}/minio/health/ready"),
            contains: None,
        }
    }

    fn after_ready<'a>(&'a self, stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(create_buckets(stack, PORT))
    }
}

impl LocalServer for VersityGw {
    fn name(&self) -> &'static str {
        "versitygw"
    }

    fn role(&self) -> &'static str {
        "second S3 implementation (versitygw, posix; for the s3_compat self test)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{VERSITYGW_PORT}")
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        go(stack, VERSITYGW_MODULE, VERSITYGW_VERSION, "versitygw").map(drop)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let data = stack.data_dir("versitygw");
        std::fs::create_dir_all(&data).map_err(io_err("create", &data))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let mut cmd = Command::new(go(stack, VERSITYGW_MODULE, VERSITYGW_VERSION, "versitygw")?);
        cmd.env("ROOT_ACCESS_KEY", stack.var(S3_ACCESS_KEY))
            .env("ROOT_SECRET_KEY", stack.var(S3_SECRET_KEY))
            .args([
                "--port",
                &format!("127.0.0.1:{VERSITYGW_PORT}"),
                // MinIO's liveness path, so the suite's health check reads the same on both.
                "--health",
                HEALTH,
                "--quiet",
                "posix",
            ])
            .arg(stack.data_dir("versitygw"));
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{VERSITYGW_PORT}{HEALTH}"),
            contains: None,
        }
    }

    fn after_ready<'a>(&'a self, stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(create_buckets(stack, VERSITYGW_PORT))
    }
}

/// Creates [`BUCKETS`] on the S3 server at `port` (idempotent).
async fn create_buckets(stack: &Stack, port: u16) -> Result<(), StackError> {
    let endpoint = url::Url::parse(&format!("http://127.0.0.1:{port}"))
        .map_err(|e| StackError::Other(e.to_string()))?;
    let access = Secret::new(stack.var(S3_ACCESS_KEY));
    let secret = Secret::new(stack.var(S3_SECRET_KEY));
    let s3 = MinioClient::new(
        endpoint,
        "us-east-1",
        &access,
        &secret,
        Duration::from_secs(10),
        None,
    )
    .map_err(|e| StackError::Other(e.to_string()))?;
    for bucket in BUCKETS {
        s3.create_bucket(bucket)
            .await
            .map_err(|e| StackError::Other(format!("failed to create bucket {bucket}: {e}")))?;
    }
    Ok(())
}
