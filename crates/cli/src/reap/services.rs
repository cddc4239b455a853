//! Leftovers in the services: S3 objects and multipart uploads, series, Trino schemas and
//! queries, DolphinScheduler projects.

use std::time::Duration;

use anyhow::Context as _;
use carbon_config::{FromTarget as _, Target};
use carbon_core::naming::{self, Marker};

use super::kube::*;
use super::{Outcome, Selection};

/// Objects under `e2e/<run>/` that carry the run's metadata marker, and incomplete multipart
/// uploads under `e2e/<run>/` (a listing shows no metadata: their key shape and start time).
pub(super) async fn reap_objects(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let Some(m) = &target.minio else {
        return Ok(());
    };
    let s3 = carbon_s3::S3Client::from_target(target)?;
    let bucket = &m.test_bucket;
    let now = s3.server_clock(bucket).await?;
    let mut foreign = 0;
    for o in s3.list(bucket, naming::S3_ROOT).await? {
        let Some(run) = naming::parse_object_key(&o.key) else {
            foreign += 1;
            continue;
        };
        let what = format!("s3://{bucket}/{}", o.key);
        match s3.object_run(bucket, &o.key).await {
            Ok(Some(owner)) if owner == run => {}
            Ok(_) => {
                out.kept("minio", &what, "no carbon-e2e ownership marker for its run");
                continue;
            }
            Err(e) => {
                out.failed("minio", &what, &e.into());
                continue;
            }
        }
        if let Err(why) = sel.decide(run, rfc3339_secs(o.last_modified.as_deref()), now) {
            if sel.run.is_none() {
                out.kept("minio", &what, &why);
            }
            continue;
        }
        if !sel.dry_run
            && let Err(e) = s3.delete_object(bucket, &o.key).await
        {
            out.failed("minio", &what, &e.into());
            continue;
        }
        out.removed(sel, "minio", what);
    }
    for u in s3.incomplete_uploads(bucket, naming::S3_ROOT).await? {
        let Some(run) = naming::parse_object_key(&u.key) else {
            foreign += 1;
            continue;
        };
        let what = format!(
            "incomplete upload {} of s3://{bucket}/{}",
            u.upload_id, u.key
        );
        if let Err(why) = sel.decide(run, rfc3339_secs(u.initiated.as_deref()), now) {
            if sel.run.is_none() {
                out.kept("minio", &what, &why);
            }
            continue;
        }
        if !sel.dry_run
            && let Err(e) = s3.abort_upload(bucket, &u.key, &u.upload_id).await
        {
            out.failed("minio", &what, &e.into());
            continue;
        }
        out.removed(sel, "minio", what);
    }
    if foreign > 0 {
        println!(
            "reap: minio: {foreign} object(s) under {bucket}/e2e/ are not a run's: left alone"
        );
    }
    Ok(())
}

/// Series `carbon_e2e_*` labelled `e2e_owner="carbon-e2e"` and `e2e_run="<run>"`, aged by their
/// newest sample against the server's clock.
pub(super) async fn reap_series(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let vm = carbon_victoriametrics::VmClient::from_target(target)?;
    let now = vm.server_clock().await?;
    let owned = format!(
        "{{__name__=~\"carbon_e2e_.+\",{}=\"{}\"}}",
        naming::OWNER_LABEL,
        naming::OWNER
    );
    let mut runs: std::collections::BTreeMap<String, i64> = Default::default();
    for series in vm.export(&owned).await? {
        let Some(run) = series.metric.get(naming::RUN_LABEL) else {
            continue;
        };
        if !naming::is_run_id(run) {
            out.kept(
                "victoriametrics",
                &format!("series of run {run:?}"),
                "the run label has no run's shape",
            );
            continue;
        }
        let newest = series.timestamps.iter().copied().max().unwrap_or(0) / 1000;
        let e = runs.entry(run.clone()).or_insert(newest);
        *e = (*e).max(newest);
    }
    // Deleting series is a kind of write a target opts in to (as the trials that do it).
    let may_delete = target.settings.allows("delete-series");
    for (run, newest) in runs {
        let what = format!("carbon_e2e_* series of run {run}");
        if !may_delete {
            out.kept(
                "victoriametrics",
                &what,
                "deleting series needs opt_in \"delete-series\" in [target]",
            );
            continue;
        }
        if let Err(why) = sel.decide(&run, Some(newest), now) {
            if sel.run.is_none() {
                out.kept("victoriametrics", &what, &why);
            }
            continue;
        }
        let selector = format!(
            "{{__name__=~\"carbon_e2e_.+\",{}=\"{}\",{}=\"{run}\"}}",
            naming::OWNER_LABEL,
            naming::OWNER,
            naming::RUN_LABEL
        );
        if !sel.dry_run
            && let Err(e) = vm
                .delete_series_settled(&selector, carbon_victoriametrics::SERIES_CLEANUP)
                .await
        {
            out.failed("victoriametrics", &what, &e.into());
            continue;
        }
        out.removed(sel, "victoriametrics", what);
    }
    Ok(())
}

/// Iceberg schemas named `e2e_<run>_<what>_<created>` whose every table carries the run's
/// marker as its comment; then warehouse files of such schemas that no longer exist (a DROP
/// that failed half-way).
pub(super) async fn reap_trino(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let Some(cfg) = &target.trino else {
        return Ok(());
    };
    let trino = carbon_trino::TrinoClient::from_target(target)?;
    let catalog = &cfg.iceberg_catalog;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let now = trino
        .execute("SELECT CAST(to_unixtime(current_timestamp) AS bigint)")
        .await?
        .single()
        .ok()
        .and_then(serde_json::Value::as_i64)
        .context("reading the coordinator's clock")?;
    let schemas: Vec<String> = trino
        .execute(&format!(
            "SELECT schema_name FROM {catalog}.information_schema.schemata \
             WHERE schema_name LIKE 'e2e\\_%' ESCAPE '\\'"
        ))
        .await?
        .rows
        .iter()
        .filter_map(|r| r.first().map(text))
        .collect();
    for schema in &schemas {
        let what = format!("schema {catalog}.{schema}");
        let Some((run, created)) = naming::parse_identifier(schema) else {
            out.kept(
                "trino",
                &what,
                "its name is not a run's (e2e_<run>_<what>_<created>)",
            );
            continue;
        };
        if let Err(why) = sel.decide(run, Some(created), now) {
            if sel.run.is_none() {
                out.kept("trino", &what, &why);
            }
            continue;
        }
        if let Err(e) = drop_owned_schema(&trino, catalog, schema, run, sel, out).await {
            out.failed("trino", &what, &e);
        }
    }
    if let (Some(bucket), Some(_)) = (&cfg.warehouse_bucket, &target.minio) {
        let s3 = carbon_s3::S3Client::from_target(target)?;
        let prefix = format!("{}e2e_", cfg.warehouse_prefix);
        let mut orphans: std::collections::BTreeSet<String> = Default::default();
        for o in s3.list(bucket, &prefix).await? {
            let schema = o.key[cfg.warehouse_prefix.len()..]
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string();
            if !schemas.contains(&schema) {
                orphans.insert(schema);
            }
        }
        for schema in orphans {
            let what = format!(
                "files of dropped schema {schema} under s3://{bucket}/{}{schema}/",
                cfg.warehouse_prefix
            );
            let Some((run, created)) = naming::parse_identifier(&schema) else {
                continue;
            };
            if let Err(why) = sel.decide(run, Some(created), now) {
                if sel.run.is_none() {
                    out.kept("trino", &what, &why);
                }
                continue;
            }
            if !sel.dry_run
                && let Err(e) = s3
                    .delete_prefix(bucket, &format!("{}{schema}/", cfg.warehouse_prefix))
                    .await
            {
                out.failed("trino", &what, &e.into());
                continue;
            }
            out.removed(sel, "trino", what);
        }
    }
    Ok(())
}

/// Queries a run left running on the coordinator (a killed trial's heavy query keeps running
/// until Trino abandons it): only those whose source is carbon-e2e and whose client tags name a
/// run (`carbon_trino::run_tag`), aged by their creation time on the coordinator's clock.
/// Anyone else's query is not even counted.
pub(super) async fn reap_trino_queries(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    // Untagged: the reaper's own queries are no run's.
    let trino = carbon_trino::TrinoClient::from_target(target)?;
    let now = trino
        .execute("SELECT CAST(to_unixtime(current_timestamp) AS bigint)")
        .await?
        .single()
        .ok()
        .and_then(serde_json::Value::as_i64)
        .context("reading the coordinator's clock")?;
    for q in trino.list_running_queries().await? {
        let Some(run) = q.run() else {
            continue;
        };
        let what = format!("query {} of run {run} ({})", q.query_id, q.state);
        if let Err(why) = sel.decide(run, rfc3339_secs(q.created()), now) {
            if sel.run.is_none() {
                out.kept("trino", &what, &why);
            }
            continue;
        }
        if !sel.dry_run
            && let Err(e) = trino.kill(&q.query_id).await
        {
            out.failed("trino", &what, &e.into());
            continue;
        }
        out.removed(sel, "trino", format!("{what}: cancelled"));
    }
    Ok(())
}

pub(super) async fn drop_owned_schema(
    trino: &carbon_trino::TrinoClient,
    catalog: &str,
    schema: &str,
    run: &str,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let tables = trino
        .execute(&format!(
            "SELECT table_name, comment FROM system.metadata.table_comments \
             WHERE catalog_name = '{catalog}' AND schema_name = '{schema}'"
        ))
        .await?;
    let mut names = Vec::new();
    for row in &tables.rows {
        let table = row.first().map(text).unwrap_or_default();
        let comment = row.get(1).map(text).unwrap_or_default();
        if Marker::parse(&comment).is_none_or(|m| m.run != run) {
            out.kept(
                "trino",
                &format!("schema {catalog}.{schema}"),
                &format!("table {table} has no carbon-e2e ownership marker for run {run}"),
            );
            return Ok(());
        }
        names.push(table);
    }
    if !sel.dry_run {
        for table in &names {
            trino
                .execute(&format!(
                    "DROP TABLE IF EXISTS {catalog}.\"{schema}\".\"{table}\""
                ))
                .await?;
        }
        trino
            .execute(&format!("DROP SCHEMA IF EXISTS {catalog}.\"{schema}\""))
            .await?;
    }
    out.removed(
        sel,
        "trino",
        format!("schema {catalog}.{schema} and its {} table(s)", names.len()),
    );
    Ok(())
}

/// Projects `e2e-<run>-<what>` whose description is the run's marker (workflows first), and
/// access tokens made by `naming::token`, aged on the server's clock.
/// Superset saved queries labelled `e2e-<run>-...` whose description is the run's marker.
pub(super) async fn reap_superset(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let s = carbon_superset::SupersetClient::from_target(target)?;
    let now = s.server_clock().await?;
    for (id, label, description) in s.saved_queries("e2e-").await? {
        let what = format!("saved query {id} {label}");
        let Some(run) = naming::parse_resource(&label) else {
            out.kept(
                "superset",
                &what,
                "its label is not a run's (e2e-<run>-<what>)",
            );
            continue;
        };
        let Some(marker) = Marker::parse(&description).filter(|m| m.run == run) else {
            out.kept(
                "superset",
                &what,
                "its description is not a carbon-e2e ownership marker for its run",
            );
            continue;
        };
        if let Err(why) = sel.decide(run, Some(marker.created), now) {
            if sel.run.is_none() {
                out.kept("superset", &what, &why);
            }
            continue;
        }
        if !sel.dry_run
            && let Err(e) = s.delete_saved_query(id).await
        {
            out.failed("superset", &what, &e.into());
            continue;
        }
        out.removed(sel, "superset", what);
    }
    Ok(())
}

pub(super) async fn reap_dolphinscheduler(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let ds = carbon_dolphinscheduler::DsClient::from_target(target)?;
    let now = ds.server_clock().await?;
    for p in ds.projects(Some("e2e-"), 100).await? {
        let what = format!("project {}", p.name);
        let Some(run) = naming::parse_resource(&p.name) else {
            out.kept(
                "dolphinscheduler",
                &what,
                "its name is not a run's (e2e-<run>-<what>)",
            );
            continue;
        };
        let marker = p.description.as_deref().and_then(Marker::parse);
        let Some(marker) = marker.filter(|m| m.run == run) else {
            out.kept(
                "dolphinscheduler",
                &what,
                "its description is not a carbon-e2e ownership marker for its run",
            );
            continue;
        };
        if let Err(why) = sel.decide(run, Some(marker.created), now) {
            if sel.run.is_none() {
                out.kept("dolphinscheduler", &what, &why);
            }
            continue;
        }
        if sel.dry_run {
            out.removed(sel, "dolphinscheduler", what);
            continue;
        }
        let removal = async {
            let workflows = ds.workflows(p.code).await?;
            for wf in &workflows {
                ds.remove_workflow(p.code, wf.code, Duration::from_secs(60))
                    .await
                    .with_context(|| format!("removing workflow {}", wf.name))?;
            }
            ds.delete_project(p.code).await?;
            anyhow::Ok(workflows.len())
        };
        match removal.await {
            Ok(n) => out.removed(
                sel,
                "dolphinscheduler",
                format!("{what} and its {n} workflow(s)"),
            ),
            Err(e) => out.failed("dolphinscheduler", &what, &e),
        }
    }
    for t in ds.access_tokens().await? {
        let Some((run, created)) = naming::parse_token(t.token.expose()) else {
            continue; // someone else's token: not even counted, its value is a credential
        };
        let what = format!("access token {} of run {run}", t.id);
        if let Err(why) = sel.decide(run, Some(created), now) {
            if sel.run.is_none() {
                out.kept("dolphinscheduler", &what, &why);
            }
            continue;
        }
        if !sel.dry_run
            && let Err(e) = ds.delete_access_token(t.id).await
        {
            out.failed("dolphinscheduler", &what, &e.into());
            continue;
        }
        out.removed(sel, "dolphinscheduler", what);
    }
    Ok(())
}
