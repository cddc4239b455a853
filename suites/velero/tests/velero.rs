//! The `velero` suite: the plan's workflow 4 ("trigger a manual Velero backup") and its Velero
//! health checks, against the Velero of `[velero]` in the cluster of `[kubernetes]`.
//!
//! Smoke (reads only): the storage location is Available and recently validated; the
//! schedules exist, are enabled, keep the retention and their last backup did not fail; a
//! recent backup of the platform's namespace Completed.
//!
//! Full (read-write targets): each trial creates a namespace of its own (run id in its name,
//! ownership labels) holding a ConfigMap, a Secret, a Deployment and a Service, backs it up
//! without volume snapshots, and proves one thing about the backup: its files and tarball, a
//! restore into a mapped namespace, its deletion. One trial backs up to a location that cannot
//! work and reports Velero's own reason; an opt-in one (`platform-backup`) runs the plan's own
//! command, a backup of the platform's namespace. Locally the server is the real Velero
//! v1.18.3 with the AWS plugin on the stack's control plane, storing into the stack's S3 store.

use std::collections::BTreeMap;
use std::time::Instant;

use carbon_core::naming;
use carbon_harness::anyhow::{Context as _, Result, bail, ensure};
use carbon_harness::{Ctx, Service, Suite};
use carbon_kube::k8s_openapi::api::apps::v1::Deployment;
use carbon_kube::k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use carbon_kube::kube::api::{Api, ListParams};
use carbon_minio::MinioClient;
use carbon_velero::tarball::Tarball;
use carbon_velero::{
    Backup, BackupSpec, Kind, Restore, RestoreSpec, StorageLocation, VeleroClient, layout,
    new_object, says_bucket_missing,
};

const VELERO: &[Service] = &[Service::Velero];
const VELERO_AND_STORE: &[Service] = &[Service::Velero, Service::Minio];

fn main() -> std::process::ExitCode {
    Suite::new("velero")
        .smoke(
            "storage_location_is_available_and_recently_validated",
            VELERO,
            location,
        )
        .smoke(
            "schedules_exist_are_enabled_keep_the_retention_and_did_not_fail",
            VELERO,
            schedules,
        )
        .smoke(
            "a_recent_backup_of_the_platform_namespace_completed",
            VELERO,
            recent_backup,
        )
        .full(
            "backup_of_a_namespace_completes_and_its_files_hold_the_objects",
            VELERO_AND_STORE,
            backup_files,
        )
        .writes(
            "namespace e2e-<run id>-<trial> (labels carbon-e2e/run, carbon-e2e/owner) with a ConfigMap, a Secret, a Deployment and a Service; Backup e2e-<run id>-<trial> in Velero's namespace (same labels, ttl 2h, no volume snapshots), and its files in the storage location's bucket",
            "a DeleteBackupRequest removes the Backup and its files (awaited); the namespace is deleted",
        )
        .full(
            "restore_into_a_mapped_namespace_recreates_equal_objects_and_ready_pods",
            VELERO,
            restore,
        )
        .writes(
            "namespace e2e-<run id>-<trial> with a ConfigMap, a Secret, a Deployment and a Service; its Backup; Restore e2e-<run id>-<trial> into namespace e2e-<run id>-<trial>-restored (all labelled carbon-e2e/run, carbon-e2e/owner)",
            "the Restore and both namespaces are deleted; a DeleteBackupRequest removes the Backup and its files",
        )
        .full(
            "deleting_a_backup_removes_its_files_from_the_bucket",
            VELERO_AND_STORE,
            delete_backup,
        )
        .writes(
            "namespace e2e-<run id>-<trial> with a ConfigMap, a Secret, a Deployment and a Service; its Backup and files; a DeleteBackupRequest (labelled carbon-e2e/run)",
            "the trial itself deletes the Backup and checks its files are gone; the namespace is deleted",
        )
        .full(
            "backup_to_an_unavailable_location_fails_with_veleros_reason",
            VELERO,
            unavailable_location,
        )
        .writes(
            "BackupStorageLocation e2e-<run id>-<trial>, a copy of velero.storage_location (provider, config, credential, CA bundle) pointing at a bucket that does not exist, never the default, and a Backup to it (both labelled carbon-e2e/run, carbon-e2e/owner); nothing reaches any bucket",
            "the Backup and the storage location are deleted",
        )
        .full(
            "the_plans_backup_of_the_platform_namespace_completes",
            VELERO,
            platform_backup,
        )
        .writes(
            "Backup e2e-<run id>-manual-test-<time> of velero.backup_namespace (the plan's `velero backup create manual-test-<ts> --include-namespaces data-platform`), labelled carbon-e2e/run, ttl 2h, and its files",
            "a DeleteBackupRequest removes the Backup and its files (awaited)",
        )
        .opt_in("platform-backup")
        .run()
}

async fn velero(ctx: &Ctx) -> Result<VeleroClient> {
    VeleroClient::from_target(ctx.target())
        .await
        .context("connecting to Velero's cluster")
}

async fn location(ctx: Ctx) -> Result<()> {
    let v = velero(&ctx).await?;
    measured(&ctx, "velero.location_available", v.check_location().await)
}

async fn schedules(ctx: Ctx) -> Result<()> {
    let v = velero(&ctx).await?;
    measured(&ctx, "velero.schedules_ok", v.check_schedules().await)
}

async fn recent_backup(ctx: Ctx) -> Result<()> {
    let v = velero(&ctx).await?;
    measured(&ctx, "velero.recent_backup", v.check_recent_backup().await)
}

/// Records a smoke check's outcome as 1 (passed) or 0 (failed) of 1 for the acceptance gate's
/// backups category, then passes its evidence on or fails with its error. Only an assessment
/// of what Velero answered is a measurement: a check that could not read Velero measured
/// nothing.
fn measured(
    ctx: &Ctx,
    key: &str,
    outcome: std::result::Result<String, carbon_velero::VeleroError>,
) -> Result<()> {
    match &outcome {
        Ok(_) => ctx.measure(key, 1.0, Some(1.0)),
        Err(carbon_velero::VeleroError::Check(_)) => ctx.measure(key, 0.0, Some(1.0)),
        Err(_) => {}
    }
    ctx.step(outcome?);
    Ok(())
}

mod fixture;

use fixture::*;

async fn backup_files(ctx: Ctx) -> Result<()> {
    let v = velero(&ctx).await?;
    let s3 = ctx.client::<MinioClient>()?;
    let fx = fixture(&ctx, &v, "files", Pods::None).await?;
    let name = fx.namespace.clone();
    let (b, _) = backup(&ctx, &v, &name, &[&fx.namespace], None).await?;
    ensure_completed(&b)?;
    let progress = b
        .status
        .as_ref()
        .and_then(|s| s.progress.clone())
        .unwrap_or_default();
    let (total, done) = (
        progress.total_items.unwrap_or(0),
        progress.items_backed_up.unwrap_or(0),
    );
    ensure!(
        done == total && done >= 5,
        "Backup {name} wrote {done} of {total} item(s); the namespace holds at least 5 (namespace, ConfigMap, Secret, Deployment, Service)"
    );
    let (bucket, prefix) = bucket_of(&v, &v.config().storage_location).await?;
    let listed: Vec<String> = s3
        .list(&bucket, &layout::backup_dir(prefix.as_deref(), &name))
        .await?
        .into_iter()
        .map(|o| o.key)
        .collect();
    for want in layout::required_files(prefix.as_deref(), &name) {
        ensure!(
            listed.contains(&want),
            "s3://{bucket}/{want} is missing; the backup's directory holds: {}",
            listed.join(", ")
        );
    }
    ctx.step(format!(
        "s3://{bucket}/{} holds {} file(s), the tarball, log and velero-backup.json among them",
        layout::backup_dir(prefix.as_deref(), &name),
        listed.len()
    ));
    let tarball_key = &layout::required_files(prefix.as_deref(), &name)[0];
    let tar = Tarball::read(&s3.get_object(&bucket, tarball_key).await?)
        .with_context(|| format!("reading s3://{bucket}/{tarball_key} as a gzipped tarball"))?;
    let cm = tar
        .object("configmaps", &fx.namespace, CONFIG_MAP)
        .with_context(|| {
            format!(
                "the tarball has no ConfigMap {CONFIG_MAP}; it holds ConfigMaps {:?}",
                tar.names("configmaps", &fx.namespace)
            )
        })?;
    let data: BTreeMap<String, String> = serde_json::from_value(cm["data"].clone())?;
    ensure!(
        data == fx.config,
        "the backed-up ConfigMap's data differs from what the trial wrote (keys {:?})",
        data.keys().collect::<Vec<_>>()
    );
    let secret = tar
        .object("secrets", &fx.namespace, SECRET)
        .with_context(|| {
            format!(
                "the tarball has no Secret {SECRET}; it holds Secrets {:?}",
                tar.names("secrets", &fx.namespace)
            )
        })?;
    ensure!(
        secret["data"]["token"].is_string(),
        "the backed-up Secret {SECRET} has no key `token`"
    );
    for (resource, name) in [("deployments.apps", APP), ("services", APP)] {
        ensure!(
            tar.object(resource, &fx.namespace, name).is_some(),
            "the tarball has no {resource} {name}; it holds {:?}",
            tar.names(resource, &fx.namespace)
        );
    }
    ctx.step(format!(
        "the tarball ({} files) holds the ConfigMap with the data written, the Secret, the Deployment and the Service",
        tar.len()
    ));
    Ok(())
}

async fn restore(ctx: Ctx) -> Result<()> {
    let v = velero(&ctx).await?;
    let client = v.kube().client();
    let fx = fixture(&ctx, &v, "restore", Pods::One).await?;
    let (b, _) = backup(&ctx, &v, &fx.namespace, &[&fx.namespace], None).await?;
    ensure_completed(&b)?;
    let target_ns = format!("{}-restored", fx.namespace);
    let name = fx.namespace.clone();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let (cleanup, cleanup_ns) = (v.kube().clone(), target_ns.clone());
    ctx.defer(format!("delete namespace {target_ns}"), async move {
        Ok(cleanup.delete_namespace(&cleanup_ns).await?)
    });
    let spec = RestoreSpec {
        backup_name: name.clone(),
        included_namespaces: Some(vec![fx.namespace.clone()]),
        namespace_mapping: Some(BTreeMap::from([(fx.namespace.clone(), target_ns.clone())])),
        restore_p_vs: Some(false),
    };
    let obj: Restore = new_object(Kind::Restore, v.namespace(), &name, ctx.run_id(), spec);
    let (cleanup, restore_name) = (v.clone(), name.clone());
    ctx.defer(format!("delete Restore {name}"), async move {
        Ok(cleanup.delete(Kind::Restore, &restore_name).await?)
    });
    let started = Instant::now();
    v.create(Kind::Restore, &obj).await?;
    let done: Restore = v
        .wait_ended(Kind::Restore, &name, v.config().backup_timeout())
        .await?;
    let status = done.status.clone().unwrap_or_default();
    ctx.step(format!(
        "Restore {name} into {target_ns} ended after {:.2?}: {}",
        started.elapsed(),
        status.describe()
    ));
    ensure!(
        status.phase.as_deref() == Some("Completed") && status.errors.unwrap_or(0) == 0,
        "Restore {name} did not complete cleanly: {} (Velero's log: `velero restore logs {name}`)",
        status.describe()
    );
    let restored_ns = namespaces
        .get(&target_ns)
        .await
        .with_context(|| format!("the restored namespace {target_ns}"))?;
    let ns_labels = restored_ns.metadata.labels.unwrap_or_default();
    ensure!(
        naming::kube_object_run(&target_ns, Some(&ns_labels)) == Some(ctx.run_id()),
        "the restored namespace {target_ns} lost the run's ownership labels: {ns_labels:?}"
    );
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &target_ns)
        .get(CONFIG_MAP)
        .await
        .context("the restored ConfigMap")?;
    ensure!(
        cm.data.as_ref() == Some(&fx.config),
        "the restored ConfigMap's data differs from the original"
    );
    let cm_labels = cm.metadata.labels.unwrap_or_default();
    let missing: Vec<_> = fx
        .labels
        .iter()
        .filter(|(k, val)| cm_labels.get(*k) != Some(*val))
        .map(|(k, _)| k.clone())
        .collect();
    ensure!(
        missing.is_empty(),
        "the restored ConfigMap lacks labels {missing:?}"
    );
    let original = Api::<Secret>::namespaced(client.clone(), &fx.namespace)
        .get(SECRET)
        .await?;
    let copy = Api::<Secret>::namespaced(client.clone(), &target_ns)
        .get(SECRET)
        .await
        .context("the restored Secret")?;
    ensure!(
        original.data == copy.data,
        "the restored Secret's data differs from the original (values not shown)"
    );
    let deployments: Api<Deployment> = Api::namespaced(client, &target_ns);
    let ready = |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .is_some_and(|s| s.ready_replicas.unwrap_or(0) >= 1)
    };
    v.kube()
        .wait_for(
            deployments,
            APP,
            &format!("the restored Deployment {target_ns}/{APP} to have a ready pod"),
            v.kube().wait_timeout(),
            ready,
        )
        .await?;
    // Which node ran it, and that its readiness came from a kubelet's probe (kwok's simulated
    // node marks pods Ready without probing anything).
    let pods: Api<Pod> = Api::namespaced(v.kube().client(), &target_ns);
    let running = pods
        .list(&ListParams::default().labels(&format!("app={APP}")))
        .await
        .context("list the restored pods")?;
    let placed: Vec<String> = running
        .items
        .iter()
        .map(|p| {
            format!(
                "{} on node {}",
                p.metadata.name.as_deref().unwrap_or("?"),
                p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .unwrap_or("?")
            )
        })
        .collect();
    ctx.step(format!(
        "{target_ns}: ConfigMap data and labels, Secret data equal the originals; Deployment {APP} has its pod Ready (TCP readiness probe on :8080): {}",
        placed.join(", ")
    ));
    ctx.measure("velero.restore_verified", 1.0, Some(1.0));
    Ok(())
}

async fn delete_backup(ctx: Ctx) -> Result<()> {
    let v = velero(&ctx).await?;
    let s3 = ctx.client::<MinioClient>()?;
    let fx = fixture(&ctx, &v, "delete", Pods::None).await?;
    let name = fx.namespace.clone();
    let (b, _) = backup(&ctx, &v, &name, &[&fx.namespace], None).await?;
    ensure_completed(&b)?;
    let (bucket, prefix) = bucket_of(&v, &v.config().storage_location).await?;
    let dir = layout::backup_dir(prefix.as_deref(), &name);
    let before = s3.list(&bucket, &dir).await?.len();
    ensure!(before > 0, "s3://{bucket}/{dir} is empty after the backup");
    let started = Instant::now();
    v.delete_backup(&name, ctx.run_id(), DELETE_TIMEOUT).await?;
    ctx.step(format!(
        "DeleteBackupRequest processed, Backup {name} gone after {:.2?}",
        started.elapsed()
    ));
    let left: Vec<String> = s3
        .list(&bucket, &dir)
        .await?
        .into_iter()
        .map(|o| o.key)
        .collect();
    ensure!(
        left.is_empty(),
        "the Backup is gone but {} of its {before} file(s) remain under s3://{bucket}/{dir}: {}",
        left.len(),
        left.join(", ")
    );
    ctx.step(format!(
        "all {before} file(s) under s3://{bucket}/{dir} are gone"
    ));
    Ok(())
}

async fn unavailable_location(ctx: Ctx) -> Result<()> {
    let v = velero(&ctx).await?;
    let good = v.storage_location(&v.config().storage_location).await?;
    let name = ctx.run_name("unavailable");
    let bucket = ctx.run_name("no-such-bucket");
    // Everything that reaches the store is the working location's (endpoint, region, CA
    // bundle, credential): the missing bucket is the only thing that can fail.
    let spec = good.spec.with_bucket(&bucket);
    ctx.step(format!(
        "BackupStorageLocation {name}: a copy of {} with bucket {bucket}; kept {}",
        v.config().storage_location,
        spec.describe_access()
    ));
    let bsl: StorageLocation = new_object(
        Kind::StorageLocation,
        v.namespace(),
        &name,
        ctx.run_id(),
        spec,
    );
    let (cleanup, bsl_name) = (v.clone(), name.clone());
    ctx.defer(format!("delete BackupStorageLocation {name}"), async move {
        Ok(cleanup.delete(Kind::StorageLocation, &bsl_name).await?)
    });
    v.create(Kind::StorageLocation, &bsl).await?;
    let validated = v.wait_validated(&name, v.kube().wait_timeout()).await?;
    let status = validated.status.clone().unwrap_or_default();
    let message = status.message.clone().unwrap_or_default();
    ctx.step(format!(
        "BackupStorageLocation {name} validated: {} ({})",
        status.phase.as_deref().unwrap_or_default(),
        if message.is_empty() {
            "no message"
        } else {
            &message
        }
    ));
    ensure!(
        status.phase.as_deref() == Some("Unavailable"),
        "a location whose bucket does not exist was found {}: Velero does not validate its storage locations",
        status.phase.as_deref().unwrap_or_default()
    );
    ensure!(
        says_bucket_missing(&message),
        "Velero found {name} Unavailable, but not because bucket {bucket} is missing: {message:?}; a copy of a working location should fail on the bucket alone (is {} itself reachable?)",
        v.config().storage_location
    );
    let spec = BackupSpec::of_namespaces(&[&v.config().backup_namespace], &name, BACKUP_TTL);
    let obj: Backup = new_object(Kind::Backup, v.namespace(), &name, ctx.run_id(), spec);
    let (cleanup, backup_name) = (v.clone(), name.clone());
    // It never reached a bucket: deleting the object is all there is to clean.
    ctx.defer(format!("delete Backup {name}"), async move {
        Ok(cleanup.delete(Kind::Backup, &backup_name).await?)
    });
    v.create(Kind::Backup, &obj).await?;
    let done: Backup = v
        .wait_ended(Kind::Backup, &name, v.config().backup_timeout())
        .await?;
    let status = done.status.clone().unwrap_or_default();
    ctx.step(format!("Backup {name} ended: {}", status.describe()));
    match status.phase.as_deref() {
        Some("FailedValidation" | "Failed") => {}
        other => bail!(
            "a backup to an Unavailable location ended {}, not FailedValidation or Failed: {}",
            other.unwrap_or("(no phase)"),
            status.describe()
        ),
    }
    let reasons = [
        status
            .validation_errors
            .clone()
            .unwrap_or_default()
            .join("; "),
        status.failure_reason.clone().unwrap_or_default(),
    ]
    .join(" ");
    ensure!(
        reasons.contains(&name) && reasons.contains("Unavailable"),
        "the backup failed, but not because its location {name} is Unavailable: {}",
        status.describe()
    );
    ctx.step(format!(
        "Velero's reason: {}; the location's: {message}",
        reasons.trim()
    ));
    Ok(())
}

async fn platform_backup(ctx: Ctx) -> Result<()> {
    let v = velero(&ctx).await?;
    let ns = v.config().backup_namespace.clone();
    let name = ctx.run_name(&format!(
        "manual-test-{}",
        time::OffsetDateTime::now_utc().unix_timestamp()
    ));
    let (b, seen) = backup(&ctx, &v, &name, &[&ns], None).await?;
    ensure_completed(&b)?;
    let items = b
        .status
        .as_ref()
        .and_then(|s| s.progress.as_ref())
        .and_then(|p| p.items_backed_up)
        .unwrap_or(0);
    ensure!(
        items > 0,
        "the backup of {ns} holds no items: is {ns} empty?"
    );
    ctx.step(format!(
        "the plan's backup of {ns} Completed with {items} item(s) in {seen:.2?}"
    ));
    Ok(())
}
