//! `reap`: removes what killed runs left behind (objects, series, DolphinScheduler projects).
//! Every artifact carries its run id; whatever is older than the age limit is a leftover, since
//! a live run's artifacts are young.

use carbon_config::FromTarget as _;
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
    if target.trino.is_some() {
        reap_trino(target, cutoff).await?;
    }
    if target.dolphinscheduler.is_some() {
        reap_dolphinscheduler(target, cutoff).await?;
    }
    Ok(())
}

/// The creation time (unix seconds) a schema name ends with: `e2e_<run>_<what>_<seconds>`.
fn created_from_name(schema: &str) -> Option<i64> {
    schema
        .rsplit('_')
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|s| *s > 1_000_000_000)
}

/// Drops Iceberg schemas named `e2e_*` (with their tables) that are older than the cutoff.
/// The age comes from the creation time in the name; for a schema named otherwise, from its
/// tables' newest snapshot. An empty schema without a time in its name has no age to read and
/// is left alone (and reported).
async fn reap_trino(target: &Target, cutoff: OffsetDateTime) -> anyhow::Result<()> {
    let Some(cfg) = &target.trino else {
        return Ok(());
    };
    let trino = carbon_trino::TrinoClient::from_target(target)?;
    let catalog = &cfg.iceberg_catalog;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let schemas = trino
        .execute(&format!(
            "SELECT schema_name FROM {catalog}.information_schema.schemata \
             WHERE schema_name LIKE 'e2e\\_%' ESCAPE '\\'"
        ))
        .await?;
    for row in &schemas.rows {
        let schema = row.first().map(text).unwrap_or_default();
        let tables: Vec<String> = trino
            .execute(&format!(
                "SELECT table_name FROM {catalog}.information_schema.tables \
                 WHERE table_schema = '{schema}'"
            ))
            .await?
            .rows
            .iter()
            .filter_map(|r| r.first().map(text))
            .collect();
        let mut created = created_from_name(&schema);
        if created.is_none() {
            for table in &tables {
                let newest = trino
                    .execute(&format!(
                        "SELECT CAST(to_unixtime(max(committed_at)) AS bigint) \
                         FROM {catalog}.\"{schema}\".\"{table}$snapshots\""
                    ))
                    .await?;
                let t = newest.single().ok().and_then(serde_json::Value::as_i64);
                created = created.max(t);
            }
        }
        let Some(created) = created else {
            println!(
                "reap: trino: schema {catalog}.{schema} has no creation time in its name and no \
                 snapshots: age unknown, left alone"
            );
            continue;
        };
        if created >= cutoff.unix_timestamp() {
            continue;
        }
        for table in &tables {
            trino
                .execute(&format!(
                    "DROP TABLE IF EXISTS {catalog}.\"{schema}\".\"{table}\""
                ))
                .await?;
        }
        trino
            .execute(&format!("DROP SCHEMA IF EXISTS {catalog}.\"{schema}\""))
            .await?;
        println!(
            "reap: trino: dropped schema {catalog}.{schema} and {} table(s) (created {})",
            tables.len(),
            OffsetDateTime::from_unix_timestamp(created).unwrap_or(OffsetDateTime::UNIX_EPOCH)
        );
    }
    Ok(())
}

/// Projects named `e2e-*` created before the cutoff: their workflows (offline, instances,
/// definition) and then the project. The server writes times without a zone; they are read as
/// UTC, which is how the local stack runs it (for a server in another zone, widen the age).
async fn reap_dolphinscheduler(target: &Target, cutoff: OffsetDateTime) -> anyhow::Result<()> {
    let ds = carbon_dolphinscheduler::DsClient::from_target(target)?;
    for p in ds.projects(Some("e2e-"), 100).await? {
        let created = p
            .create_time
            .as_deref()
            .and_then(carbon_dolphinscheduler::parse_time)
            .map(|t| t.assume_utc());
        if !p.name.starts_with("e2e-") || created.is_none_or(|c| c >= cutoff) {
            continue;
        }
        let workflows = ds.workflows(p.code).await?;
        for wf in &workflows {
            ds.remove_workflow(p.code, wf.code, Duration::from_secs(60))
                .await
                .with_context(|| format!("removing workflow {} of project {}", wf.name, p.name))?;
        }
        ds.delete_project(p.code)
            .await
            .with_context(|| format!("deleting project {}", p.name))?;
        println!(
            "reap: dolphinscheduler: removed project {} and its {} workflow(s)",
            p.name,
            workflows.len()
        );
    }
    Ok(())
}
