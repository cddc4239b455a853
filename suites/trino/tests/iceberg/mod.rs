//! The Iceberg round trip: a schema and a table of the run's own, every type written and read
//! back exactly, the files seen in the warehouse, and their removal after the drop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use carbon_core::naming;
use carbon_harness::anyhow::{Context as _, Result, bail, ensure};
use carbon_harness::{Check, Ctx};
use carbon_minio::MinioClient;
use serde::Deserialize;
use serde_json::Value;

use crate::{config, run, server_clock, trino};

#[derive(Debug, Deserialize)]
struct RoundTrip {
    columns: Vec<ColumnDef>,
    rows: Vec<RowDef>,
}

#[derive(Debug, Deserialize)]
struct ColumnDef {
    name: String,
    #[serde(rename = "type")]
    type_name: String,
}

#[derive(Debug, Deserialize)]
struct RowDef {
    sql: String,
    expect: Vec<Value>,
}

/// `location = 's3://bucket/key'` from `SHOW CREATE TABLE`, as (bucket, key prefix with `/`).
fn table_location(ddl: &str) -> Option<(String, String)> {
    let start = ddl.find("location = '")? + "location = '".len();
    let rest = &ddl[start..];
    let url = &rest[..rest.find('\'')?];
    let path = url
        .strip_prefix("s3://")
        .or_else(|| url.strip_prefix("s3a://"))?;
    let (bucket, key) = path.split_once('/')?;
    Some((
        bucket.to_string(),
        format!("{}/", key.trim_end_matches('/')),
    ))
}

pub(crate) async fn iceberg_round_trip(ctx: Ctx) -> Result<()> {
    let trino = trino(&ctx)?;
    let cfg = config(&ctx)?.clone();
    let fixture: RoundTrip =
        serde_json::from_str(include_str!("../../../../fixtures/trino/round_trip.json"))
            .context("reading fixtures/trino/round_trip.json")?;
    let catalog = cfg.iceberg_catalog.clone();
    // Iceberg catalogs record no creation time for a schema: the name carries it (server's
    // clock), and the table's comment carries the ownership marker the reaper requires.
    let created = server_clock(&trino).await?;
    let schema = format!(
        "{catalog}.{}",
        naming::identifier(ctx.run_id(), "round_trip", created)
    );
    let table = format!("{schema}.typed_rows");

    {
        let (trino, schema) = (trino.clone(), schema.clone());
        ctx.defer(format!("drop schema {schema}"), async move {
            trino
                .execute(&format!("DROP SCHEMA IF EXISTS {schema}"))
                .await?;
            Ok(())
        });
    }
    run(&ctx, &trino, &format!("CREATE SCHEMA {schema}")).await?;

    let columns: Vec<String> = fixture
        .columns
        .iter()
        .map(|c| format!("{} {}", c.name, c.type_name))
        .collect();
    // Filled in once the table's location is known; the cleanup then removes whatever the
    // catalog leaves under it.
    let location: Arc<Mutex<Option<(String, String)>>> = Arc::default();
    {
        let (trino, table, location) = (trino.clone(), table.clone(), Arc::clone(&location));
        let s3 = cfg
            .warehouse_bucket
            .as_ref()
            .map(|_| ctx.client::<MinioClient>())
            .transpose()?;
        ctx.defer(
            format!("drop table {table} and any files left under its location"),
            async move {
                trino
                    .execute(&format!("DROP TABLE IF EXISTS {table}"))
                    .await?;
                let loc = location.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let (Some(s3), Some((bucket, prefix))) = (s3, loc) {
                    let n = s3.delete_prefix(&bucket, &prefix).await?;
                    if n > 0 {
                        println!("removed {n} leftover object(s) under s3://{bucket}/{prefix}");
                    }
                }
                Ok(())
            },
        );
    }
    run(
        &ctx,
        &trino,
        &format!(
            "CREATE TABLE {table} ({}) COMMENT '{}' WITH (format = 'PARQUET')",
            columns.join(", "),
            ctx.marker(created)
        ),
    )
    .await?;
    let ddl = run(&ctx, &trino, &format!("SHOW CREATE TABLE {table}")).await?;
    let ddl = ddl
        .single()
        .map_err(carbon_harness::anyhow::Error::msg)?
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (bucket, prefix) = table_location(&ddl)
        .with_context(|| format!("no s3:// location in SHOW CREATE TABLE {table}: {ddl}"))?;
    ctx.step(format_args!("table location s3://{bucket}/{prefix}"));
    *location.lock().unwrap_or_else(|p| p.into_inner()) = Some((bucket.clone(), prefix.clone()));

    let values: Vec<String> = fixture
        .rows
        .iter()
        .map(|r| format!("({})", r.sql))
        .collect();
    let inserted = run(
        &ctx,
        &trino,
        &format!("INSERT INTO {table} VALUES {}", values.join(", ")),
    )
    .await?;
    ensure!(
        inserted.single().ok() == Some(&Value::from(fixture.rows.len())),
        "INSERT reported {:?} rows, expected {}",
        inserted.rows,
        fixture.rows.len()
    );

    let names: Vec<&str> = fixture.columns.iter().map(|c| c.name.as_str()).collect();
    let back = run(
        &ctx,
        &trino,
        &format!("SELECT {} FROM {table} ORDER BY id", names.join(", ")),
    )
    .await?;
    let types: Vec<(&str, &str)> = back
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.type_name.as_str()))
        .collect();
    let wanted: Vec<(&str, &str)> = fixture
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.type_name.as_str()))
        .collect();
    ensure!(
        types == wanted,
        "read back columns {types:?}, created {wanted:?}"
    );
    let expected: Vec<&Vec<Value>> = fixture.rows.iter().map(|r| &r.expect).collect();
    for (i, (got, want)) in back.rows.iter().zip(&expected).enumerate() {
        ensure!(
            got == *want,
            "row {i} read back as {got:?}, inserted {want:?}"
        );
    }
    ensure!(
        back.rows.len() == expected.len(),
        "read back {} rows, inserted {}",
        back.rows.len(),
        expected.len()
    );
    ctx.step(format_args!(
        "{} rows read back exactly, types {}",
        back.rows.len(),
        wanted
            .iter()
            .map(|(_, t)| *t)
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // The files, seen in the object store itself (the trial needs the warehouse configured).
    match &cfg.warehouse_bucket {
        None => bail!("trino.warehouse_bucket is not set: the files cannot be checked"),
        Some(warehouse) => {
            let root = format!("s3://{warehouse}/{}", cfg.warehouse_prefix);
            ensure!(
                format!("s3://{bucket}/{prefix}").starts_with(&root),
                "table location s3://{bucket}/{prefix} is not under the warehouse {root} (trino.warehouse_bucket, trino.warehouse_prefix)"
            );
            let s3 = ctx.client::<MinioClient>()?;
            let keys: Vec<String> = s3
                .list(&bucket, &prefix)
                .await?
                .into_iter()
                .map(|o| o.key)
                .collect();
            let data: Vec<&String> = keys
                .iter()
                .filter(|k| k.contains("/data/") && k.ends_with(".parquet"))
                .collect();
            let metadata: Vec<&String> = keys
                .iter()
                .filter(|k| k.contains("/metadata/") && k.ends_with(".metadata.json"))
                .collect();
            ctx.step(format_args!(
                "s3://{bucket}/{prefix}: {} object(s), {} parquet data file(s), {} metadata file(s)",
                keys.len(),
                data.len(),
                metadata.len()
            ));
            ensure!(
                !data.is_empty() && !metadata.is_empty(),
                "expected parquet data and metadata.json files under s3://{bucket}/{prefix}, found {keys:?}"
            );
            // Every data file Iceberg lists for the table is an object in the store.
            let files = run(
                &ctx,
                &trino,
                &format!("SELECT file_path FROM {schema}.\"typed_rows$files\""),
            )
            .await?;
            ensure!(
                !files.rows.is_empty(),
                "Iceberg lists no data files for {table} after the insert ($files is empty)"
            );
            for row in &files.rows {
                let path = row.first().and_then(Value::as_str).unwrap_or_default();
                let key = path.split_once(&format!("{bucket}/")).map(|(_, k)| k);
                ensure!(
                    key.is_some_and(|k| keys.iter().any(|x| x == k)),
                    "Iceberg lists data file {path}, which is not in the store"
                );
            }
        }
    }

    run(&ctx, &trino, &format!("DROP TABLE {table}")).await?;
    if cfg.warehouse_bucket.is_some() {
        dropped_files_check(&ctx, &cfg, &bucket, &prefix).await?;
    }
    run(&ctx, &trino, &format!("DROP SCHEMA {schema}")).await?;
    let left = run(
        &ctx,
        &trino,
        &format!(
            "SELECT schema_name FROM {catalog}.information_schema.schemata WHERE schema_name = '{}'",
            schema.rsplit('.').next().unwrap_or_default()
        ),
    )
    .await?;
    ensure!(
        left.rows.is_empty(),
        "schema {schema} still listed after DROP SCHEMA"
    );
    Ok(())
}

/// After `DROP TABLE`: polls the table's location until it is empty, within
/// `trino.purge_timeout_secs`. Files still there then fail the trial only when the target says
/// the catalog purges on drop (`trino.purge_on_drop`); otherwise (a catalog that purges late,
/// or leaves it to maintenance) they are a visible warning naming them, and the cleanup removes
/// them.
async fn dropped_files_check(
    ctx: &Ctx,
    cfg: &carbon_config::TrinoConfig,
    bucket: &str,
    prefix: &str,
) -> Result<()> {
    let s3 = ctx.client::<MinioClient>()?;
    let limit = Duration::from_secs(cfg.purge_timeout_secs);
    let what = format!("the table's files under s3://{bucket}/{prefix} to be removed");
    let waited = ctx
        .wait_until(&what, limit, || async {
            let left = s3.list(bucket, prefix).await?;
            Ok::<_, carbon_minio::MinioError>(if left.is_empty() {
                Check::Ready(())
            } else {
                Check::Pending(format!("{} object(s) remain", left.len()))
            })
        })
        .await;
    if waited.is_ok() {
        return Ok(());
    }
    // The wait's error may be the store failing rather than a timeout: list once more, so that
    // an error reaches the trial and only real leftovers become the finding.
    let left: Vec<String> = s3
        .list(bucket, prefix)
        .await?
        .into_iter()
        .map(|o| o.key)
        .collect();
    if left.is_empty() {
        return Ok(());
    }
    let finding = purge_finding(bucket, &left, limit);
    if cfg.purge_on_drop {
        bail!("{finding}; the target says the catalog purges on drop (trino.purge_on_drop = true)");
    }
    ctx.step(format_args!(
        "WARNING: {finding}; the catalog may purge late (trino.purge_on_drop is false), the trial's cleanup removes them"
    ));
    Ok(())
}

/// `files still present after N s` with the files named (the first 10, then a count).
fn purge_finding(bucket: &str, keys: &[String], after: Duration) -> String {
    const SHOWN: usize = 10;
    let mut names: Vec<String> = keys
        .iter()
        .take(SHOWN)
        .map(|k| format!("s3://{bucket}/{k}"))
        .collect();
    if keys.len() > SHOWN {
        names.push(format!("and {} more", keys.len() - SHOWN));
    }
    format!(
        "{} file(s) still present {} s after DROP TABLE: {}",
        keys.len(),
        after.as_secs(),
        names.join(", ")
    )
}
