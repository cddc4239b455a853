//! `reap`: removes what killed runs left behind. Every artifact carries its run id; whatever
//! is older than the age limit is a leftover, since a live run's artifacts are young.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use carbon_config::Target;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Artifacts older than this are leftovers when `validate` reaps before a run.
pub const DEFAULT_AGE: Duration = Duration::from_secs(3600);

/// Arguments of `reap`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove artifacts older than this many minutes.
    #[arg(long, default_value_t = 60)]
    older_than_minutes: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let target = carbon_config::load().context("loading the target")?;
    reap(&target, Duration::from_secs(args.older_than_minutes * 60)).await
}

/// Reaps every configured service of `target`.
///
/// # Errors
/// When a service cannot be listed or a deletion fails.
pub async fn reap(target: &Target, older_than: Duration) -> anyhow::Result<()> {
    let cutoff = OffsetDateTime::from(SystemTime::now() - older_than);
    if let Some(m) = &target.minio {
        let s3 = carbon_s3::S3Client::from_target(target)?;
        let mut runs: BTreeMap<String, OffsetDateTime> = BTreeMap::new();
        for o in s3.list(&m.test_bucket, "e2e/").await? {
            let run = o.key.split('/').nth(1).unwrap_or_default().to_string();
            let modified = o
                .last_modified
                .as_deref()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let newest = runs.entry(run).or_insert(modified);
            *newest = (*newest).max(modified);
        }
        for (run, newest) in runs.into_iter().filter(|(_, newest)| *newest < cutoff) {
            let n = s3
                .delete_prefix(&m.test_bucket, &format!("e2e/{run}/"))
                .await?;
            println!("reap: minio: removed {n} object(s) of run {run} (newest {newest})");
        }
    }
    if target.victoriametrics.is_some() {
        let vm = carbon_victoriametrics::VmClient::from_target(target)?;
        let cutoff_ms =
            i64::try_from((cutoff.unix_timestamp_nanos() / 1_000_000).max(0)).unwrap_or(i64::MAX);
        for series in vm.export("{__name__=~\"carbon_e2e_.+\"}").await? {
            let newest = series.timestamps.iter().copied().max().unwrap_or(0);
            if let (true, Some(run)) = (newest < cutoff_ms, series.metric.get("e2e_run")) {
                vm.delete_series(&format!(
                    "{{__name__=~\"carbon_e2e_.+\",e2e_run=\"{run}\"}}"
                ))
                .await?;
                println!("reap: victoriametrics: removed carbon_e2e_* series of run {run}");
            }
        }
    }
    Ok(())
}
