//! The Velero section of `bench` (`bench --only velero`, which restarts nothing): how long a
//! backup and a restore take as the client sees them, against Velero's own timestamps.
//!
//! A namespace of the bench's own (a ConfigMap and a Secret, named and labelled like a run's) is
//! backed up `repeat` times, and each backup restored into a mapped namespace. Per operation:
//! - client: from the create request to the watch event that shows it ended;
//! - Velero: `completionTimestamp - startTimestamp` (whole seconds, Velero's resolution);
//! - seen after completion: when the watch delivered the end, minus `completionTimestamp`
//!   (the wait's own overhead; up to 1 s of it is the timestamp's truncation).
//!
//! Everything is removed at the end (DeleteBackupRequests, Restores, namespaces), also on error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use carbon_config::Env;
use carbon_core::naming;
use carbon_kube::k8s_openapi::api::core::v1::ConfigMap;
use carbon_kube::kube::api::{Api, PostParams};
use carbon_velero::{
    Backup, BackupSpec, Kind, Restore, RestoreSpec, RunStatus, VeleroClient, new_object, rfc3339,
};

use crate::bench::{median, secs};

/// One backup's or restore's figures.
struct Timing {
    client: Duration,
    server: Duration,
    seen_after: Duration,
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn timing(started: Instant, ended_wall: f64, status: &RunStatus) -> anyhow::Result<Timing> {
    anyhow::ensure!(
        status.phase.as_deref() == Some("Completed"),
        "ended {}",
        status.describe()
    );
    let completed =
        rfc3339(status.completion_timestamp.as_deref()).context("no completionTimestamp")?;
    #[allow(clippy::cast_precision_loss)]
    let after = (ended_wall - completed as f64).max(0.0);
    Ok(Timing {
        client: started.elapsed(),
        server: Duration::from_secs(
            u64::try_from(status.server_duration_secs().unwrap_or(0)).unwrap_or(0),
        ),
        seen_after: Duration::from_secs_f64(after),
    })
}

async fn measure(
    v: &VeleroClient,
    run: &str,
    ns: &str,
    i: usize,
) -> anyhow::Result<(Timing, Timing)> {
    let name = naming::resource(run, &format!("bench-{i}"));
    let spec = BackupSpec::of_namespaces(&[ns], &v.config().storage_location, "1h0m0s");
    let t0 = Instant::now();
    let b: Backup = new_object(Kind::Backup, v.namespace(), &name, run, spec);
    v.create(Kind::Backup, &b).await?;
    let done: Backup = v
        .wait_ended(Kind::Backup, &name, v.config().backup_timeout())
        .await?;
    let backup = timing(t0, unix_now(), &done.status.unwrap_or_default())
        .with_context(|| format!("backup {name}"))?;
    let spec = RestoreSpec {
        backup_name: name.clone(),
        included_namespaces: Some(vec![ns.to_string()]),
        namespace_mapping: Some(BTreeMap::from([(
            ns.to_string(),
            format!("{name}-restored"),
        )])),
        restore_p_vs: Some(false),
    };
    let t0 = Instant::now();
    let r: Restore = new_object(Kind::Restore, v.namespace(), &name, run, spec);
    v.create(Kind::Restore, &r).await?;
    let done: Restore = v
        .wait_ended(Kind::Restore, &name, v.config().backup_timeout())
        .await?;
    let restore = timing(t0, unix_now(), &done.status.unwrap_or_default())
        .with_context(|| format!("restore {name}"))?;
    Ok((backup, restore))
}

async fn cleanup(v: &VeleroClient, run: &str, ns: &str, repeat: usize) {
    for i in 0..repeat {
        let name = naming::resource(run, &format!("bench-{i}"));
        let _ = v.delete(Kind::Restore, &name).await;
        let _ = v.delete_backup(&name, run, Duration::from_secs(60)).await;
        let _ = v.kube().delete_namespace(&format!("{name}-restored")).await;
    }
    let _ = v.kube().delete_namespace(ns).await;
}

pub async fn run(env: &Env, repeat: usize) -> anyhow::Result<()> {
    let target = carbon_config::load_with(env, &carbon_config::Paths::from_env(env))
        .context("loading the target")?;
    let v = VeleroClient::from_target(&target).await?;
    let run = format!("bench{:05x}", std::process::id() & 0xfffff);
    let ns = naming::resource(&run, "source");
    v.kube()
        .create_namespace(&ns, naming::kube_labels(&run))
        .await?;
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("bench".into());
    cm.data = Some(BTreeMap::from([("run".to_string(), run.clone())]));
    let result = async {
        Api::<ConfigMap>::namespaced(v.kube().client(), &ns)
            .create(&PostParams::default(), &cm)
            .await?;
        let mut out = Vec::new();
        for i in 0..repeat {
            out.push(measure(&v, &run, &ns, i).await?);
        }
        anyhow::Ok(out)
    }
    .await;
    cleanup(&v, &run, &ns, repeat).await;
    let rows = result?;
    println!("\n## Velero ({repeat} backups and restores of a small namespace)\n");
    println!(
        "| operation | client: create to end seen | Velero: start to completion | end seen after completionTimestamp |"
    );
    println!("|---|---|---|---|");
    for (label, pick) in [("backup", 0usize), ("restore", 1)] {
        let of = |f: &dyn Fn(&Timing) -> Duration| {
            median(
                rows.iter()
                    .map(|(b, r)| f(if pick == 0 { b } else { r }))
                    .collect(),
            )
        };
        println!(
            "| {label} | {} | {} | {} |",
            secs(of(&|t| t.client)),
            secs(of(&|t| t.server)),
            secs(of(&|t| t.seen_after))
        );
    }
    println!(
        "\nVelero's timestamps have whole-second resolution: the last column includes up to 1 s of truncation."
    );
    Ok(())
}
