//! The `minio` suite: the plan's "upload a test file to MinIO", taken to its real meaning.
//! Every object lives under `e2e/<run id>/<trial>/` in the target's test bucket and is removed
//! by the trial's cleanup, even when a step fails.

use std::time::Duration;

use carbon_core::http::{ClientOptions, HttpClient};
use carbon_core::naming;
use carbon_harness::anyhow::{Context as _, Result, bail, ensure};
use carbon_harness::{Ctx, Service, Suite};
use carbon_minio::MinioClient;
use sha2::{Digest, Sha256};

const MINIO: &[Service] = &[Service::Minio];

fn main() -> std::process::ExitCode {
    Suite::new("minio")
        .smoke(
            "health_endpoint_answers_and_credentials_are_accepted",
            MINIO,
            health,
        )
        .smoke("required_buckets_exist", MINIO, required_buckets)
        .full(
            "small_object_round_trips_with_matching_sha256",
            MINIO,
            small_object,
        )
        .writes(
            "objects under s3://<minio.test_bucket>/e2e/<run id>/<trial>/, user metadata carbon-e2e-run=<run id>",
            "the trial aborts open multipart uploads and deletes its prefix, then checks nothing is left under it",
        )
        .full(
            "multipart_object_round_trips_with_matching_sha256",
            MINIO,
            multipart_object,
        )
        .writes(
            "objects under s3://<minio.test_bucket>/e2e/<run id>/<trial>/, user metadata carbon-e2e-run=<run id>",
            "the trial aborts open multipart uploads and deletes its prefix, then checks nothing is left under it",
        )
        .full(
            "listing_by_prefix_returns_exactly_the_objects_under_it",
            MINIO,
            list_by_prefix,
        )
        .writes(
            "objects under s3://<minio.test_bucket>/e2e/<run id>/<trial>/, user metadata carbon-e2e-run=<run id>",
            "the trial aborts open multipart uploads and deletes its prefix, then checks nothing is left under it",
        )
        .full(
            "presigned_get_reads_the_object_without_credentials",
            MINIO,
            presigned_get,
        )
        .writes(
            "objects under s3://<minio.test_bucket>/e2e/<run id>/<trial>/, user metadata carbon-e2e-run=<run id>",
            "the trial aborts open multipart uploads and deletes its prefix, then checks nothing is left under it",
        )
        .full("deleted_object_is_gone", MINIO, delete)
        .writes(
            "objects under s3://<minio.test_bucket>/e2e/<run id>/<trial>/, user metadata carbon-e2e-run=<run id>",
            "the trial aborts open multipart uploads and deletes its prefix, then checks nothing is left under it",
        )
        .run()
}

fn bucket(ctx: &Ctx) -> String {
    ctx.target()
        .minio
        .as_ref()
        .map(|m| m.test_bucket.clone())
        .unwrap_or_default()
}

/// The object-store client; every object it writes carries this run's ownership marker.
fn s3(ctx: &Ctx) -> Result<MinioClient> {
    Ok(ctx.client::<MinioClient>()?.with_run(ctx.run_id()))
}

/// A prefix for this trial, removed (with everything under it) when the trial ends.
fn scratch_prefix(ctx: &Ctx, trial: &str) -> Result<String> {
    let prefix = naming::object_prefix(ctx.run_id(), trial);
    let s3 = s3(ctx)?;
    let (bucket, p) = (bucket(ctx), prefix.clone());
    ctx.defer(format!("delete s3://{bucket}/{prefix}"), async move {
        // A trial stopped mid-upload leaves its multipart upload open: abort it too.
        for u in s3.incomplete_uploads(&bucket, &p).await? {
            s3.abort_upload(&bucket, &u.key, &u.upload_id).await?;
        }
        s3.delete_prefix(&bucket, &p).await?;
        ensure!(
            s3.list(&bucket, &p).await?.is_empty(),
            "objects remain under {p} after deleting them"
        );
        Ok(())
    });
    Ok(prefix)
}

/// Bytes that differ per run, so a stale object from another run cannot match by accident.
fn payload(seed: &str, len: usize) -> Vec<u8> {
    let mut state = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn health(ctx: Ctx) -> Result<()> {
    let s3 = s3(&ctx)?;
    ctx.step(format_args!(
        "health of {} (bucket {})",
        s3.endpoint(),
        bucket(&ctx)
    ));
    s3.health(&bucket(&ctx)).await?;
    Ok(())
}

async fn required_buckets(ctx: Ctx) -> Result<()> {
    let s3 = s3(&ctx)?;
    let required = ctx
        .target()
        .minio
        .as_ref()
        .map(|m| m.required_buckets.clone())
        .unwrap_or_default();
    ensure!(
        !required.is_empty(),
        "the target lists no required buckets (minio.required_buckets): nothing to check"
    );
    let mut missing = Vec::new();
    for b in &required {
        let exists = s3.bucket_exists(b).await?;
        ctx.step(format_args!(
            "bucket {b}: {}",
            if exists { "exists" } else { "MISSING" }
        ));
        if !exists {
            missing.push(b.as_str());
        }
    }
    ensure!(
        missing.is_empty(),
        "required buckets missing at {}: {}",
        s3.endpoint(),
        missing.join(", ")
    );
    Ok(())
}

async fn round_trip(ctx: &Ctx, key: &str, data: Vec<u8>, multipart: bool) -> Result<()> {
    let s3 = s3(ctx)?;
    let bucket = bucket(ctx);
    let expected = sha256(&data);
    let len = data.len();
    if multipart {
        let parts = s3
            .put_multipart(&bucket, key, &data, 8 << 20)
            .await
            .context("multipart upload")?;
        ctx.step(format_args!(
            "uploaded {len} bytes in {parts} parts to s3://{bucket}/{key}"
        ));
        ensure!(
            parts >= 2,
            "a {len}-byte object went up in {parts} part(s): not a multipart upload"
        );
    } else {
        s3.put_object(&bucket, key, data).await.context("upload")?;
        ctx.step(format_args!("uploaded {len} bytes to s3://{bucket}/{key}"));
    }
    let back = s3.get_object(&bucket, key).await.context("download")?;
    let actual = sha256(&back);
    ctx.step(format_args!(
        "read back {} bytes, sha256 {actual}",
        back.len()
    ));
    ensure!(
        back.len() == len && actual == expected,
        "read back {} bytes with sha256 {actual}; wrote {len} bytes with sha256 {expected}",
        back.len()
    );
    Ok(())
}

async fn small_object(ctx: Ctx) -> Result<()> {
    let prefix = scratch_prefix(&ctx, "small")?;
    round_trip(
        &ctx,
        &format!("{prefix}hello.bin"),
        payload(&prefix, 4096),
        false,
    )
    .await
}

async fn multipart_object(ctx: Ctx) -> Result<()> {
    let prefix = scratch_prefix(&ctx, "multipart")?;
    let mib = ctx
        .target()
        .minio
        .as_ref()
        .map_or(16, |m| m.multipart_object_mib);
    round_trip(
        &ctx,
        &format!("{prefix}big.bin"),
        payload(&prefix, (mib as usize) << 20),
        true,
    )
    .await
}

async fn list_by_prefix(ctx: Ctx) -> Result<()> {
    let s3 = s3(&ctx)?;
    let bucket = bucket(&ctx);
    let prefix = scratch_prefix(&ctx, "list")?;
    let wanted = ["a/1.txt", "a/2.txt", "a/sub/3.txt"];
    for k in wanted.iter().chain(&["b/other.txt"]) {
        s3.put_object(&bucket, &format!("{prefix}{k}"), k.as_bytes().to_vec())
            .await?;
    }
    let listed = s3.list(&bucket, &format!("{prefix}a/")).await?;
    let mut keys: Vec<&str> = listed
        .iter()
        .map(|o| o.key.strip_prefix(&prefix).unwrap_or(&o.key))
        .collect();
    keys.sort_unstable();
    ctx.step(format_args!("listed {prefix}a/: {keys:?}"));
    ensure!(
        keys == wanted,
        "listing {prefix}a/ returned {keys:?}, expected {wanted:?}"
    );
    Ok(())
}

async fn presigned_get(ctx: Ctx) -> Result<()> {
    let s3 = s3(&ctx)?;
    let bucket = bucket(&ctx);
    let key = format!("{}shared.txt", scratch_prefix(&ctx, "presigned")?);
    let data = payload(&key, 2048);
    s3.put_object(&bucket, &key, data.clone()).await?;
    let url = s3.presign_get(&bucket, &key, Duration::from_secs(300))?;
    // A client with no credentials at all: only the signature in the URL grants access.
    let target = ctx.target();
    let ca_file = target.ca_file(target.minio.as_ref().and_then(|m| m.ca_file.as_deref()));
    let anonymous = HttpClient::new(
        "minio-presigned",
        ClientOptions {
            timeout: target.settings.request_timeout(),
            ca_file: ca_file.as_deref(),
        },
    )?;
    let (line, response) = anonymous
        .send(anonymous.request(reqwest::Method::GET, url.clone()))
        .await?;
    let body = anonymous.bytes(&line, response).await?;
    ensure!(
        sha256(&body) == sha256(&data),
        "presigned GET {line} returned {} bytes that differ from the object",
        body.len()
    );
    // The signature is what grants access: without it, or with it altered, the store refuses.
    let mut unsigned = url.clone();
    unsigned.set_query(None);
    let mut tampered = url.clone();
    let altered: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "X-Amz-Signature" {
                v.chars().rev().collect()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(altered);
    for (what, bad) in [("unsigned", unsigned), ("tampered", tampered)] {
        let (line, response) = anonymous
            .send_any(anonymous.request(reqwest::Method::GET, bad))
            .await?;
        let status = response.status();
        ensure!(
            status == reqwest::StatusCode::FORBIDDEN,
            "the {what} URL {line} must be refused with 403, got {status}"
        );
        ctx.step(format_args!("{what} URL refused: {status}"));
    }
    Ok(())
}

async fn delete(ctx: Ctx) -> Result<()> {
    let s3 = s3(&ctx)?;
    let bucket = bucket(&ctx);
    let key = format!("{}doomed.txt", scratch_prefix(&ctx, "delete")?);
    s3.put_object(&bucket, &key, b"to be deleted".to_vec())
        .await?;
    ensure!(
        s3.object_exists(&bucket, &key).await?,
        "object {key} not found right after upload"
    );
    s3.delete_object(&bucket, &key).await?;
    if s3.object_exists(&bucket, &key).await? {
        bail!("object {key} still exists after DELETE");
    }
    match s3.get_object(&bucket, &key).await {
        Err(carbon_minio::MinioError::Http(e))
            if e.status() == Some(reqwest::StatusCode::NOT_FOUND) =>
        {
            Ok(())
        }
        Err(e) => Err(e).context("GET of a deleted object should answer 404"),
        Ok(b) => bail!("GET of deleted object {key} returned {} bytes", b.len()),
    }
}
