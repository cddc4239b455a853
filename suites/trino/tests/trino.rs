//! The `trino` suite: the plan's "run a simple Trino query", and the data path the platform
//! depends on: Trino writing Iceberg tables to object storage, read back exactly, with the files
//! checked in the store itself. Every schema carries the run id and its creation time
//! (`e2e_<run id>_<what>_<unix seconds>`) and is dropped, with its table, by the trial's cleanup,
//! even when a step fails; `carbon-e2e reap` drops what a killed run left.

use std::time::Instant;

use carbon_harness::anyhow::{Context as _, Result, bail, ensure};
use carbon_harness::{Capability, Check, Ctx, Service, Suite};
use carbon_trino::{QueryOutput, RestCatalogClient, TrinoClient, TrinoError};
use serde::Deserialize;
use serde_json::Value;

mod iceberg;

use iceberg::iceberg_round_trip;

const TRINO: &[Service] = &[Service::Trino];
const TRINO_WAREHOUSE: &[Service] = &[Service::Trino, Service::Minio];
const TRINO_REST: &[Service] = &[Service::Trino, Service::IcebergRestCatalog];
/// Schemas Trino's Iceberg connector shows that are not the catalog's namespaces.
const TRINO_OWN_SCHEMAS: [&str; 2] = ["information_schema", "system"];

/// A query that runs far longer than any trial: a cross join of generated tpch tables.
const LONG_QUERY: &str = "SELECT count(*) FROM tpch.sf1.lineitem CROSS JOIN tpch.sf1.orders";

fn main() -> std::process::ExitCode {
    Suite::new("trino")
        .smoke("coordinator_is_up_and_not_starting", TRINO, server_up)
        .smoke("select_1_returns_1", TRINO, select_one)
        .smoke("tpch_tiny_nation_has_25_rows", TRINO, nation_count)
        .smoke("every_required_catalog_exists", TRINO, required_catalogs)
        .smoke(
            "iceberg_rest_catalog_serves_every_schema_trino_shows",
            TRINO_REST,
            rest_catalog,
        )
        .full(
            "iceberg_table_round_trips_every_type_through_the_object_store",
            TRINO_WAREHOUSE,
            iceberg_round_trip,
        )
        .needs(Capability::IcebergWarehouse)
        .writes(
            "Iceberg schema <iceberg_catalog>.e2e_<run id>_<what>_<server unix seconds> with one table (comment: carbon-e2e ownership marker), its data and metadata files in the warehouse",
            "DROP TABLE then DROP SCHEMA; the trial waits trino.purge_timeout_secs for the files to leave the bucket (leftovers fail only with trino.purge_on_drop, else a WARNING step) and its cleanup removes any left",
        )
        .full(
            "failing_queries_report_trino_error_name_code_and_message",
            TRINO,
            failing_queries,
        )
        .full(
            "cancelled_long_query_stops_running_on_the_server",
            TRINO,
            cancel_long_query,
        )
        .writes(
            "a heavy query (tpch sf1 cross join) on the coordinator, client tag carbon-e2e-run=<run id>, cancelled within seconds",
            "DELETE of the query's nextUri, then DELETE /v1/query/<id>; the trial checks the server shows it FAILED/USER_CANCELED; `reap` cancels a killed run's tagged queries",
        )
        .opt_in("heavy-query")
        .run()
}

/// The Trino client, tagging every query with the run (`carbon-e2e-run=<run id>`): a query a
/// killed trial leaves running is then tied to its run on the coordinator, and `reap` cancels it.
fn trino(ctx: &Ctx) -> Result<TrinoClient> {
    Ok(ctx.client::<TrinoClient>()?.with_run(ctx.run_id()))
}

/// A Trino identifier for something this trial creates: `e2e_<run id>_<what>`.
fn ident(ctx: &Ctx, what: &str) -> String {
    ctx.run_name(what).replace('-', "_")
}

/// The coordinator's clock, in unix seconds: what the names and markers of created things carry.
async fn server_clock(trino: &TrinoClient) -> Result<i64> {
    trino
        .execute("SELECT CAST(to_unixtime(current_timestamp) AS bigint)")
        .await?
        .single()
        .map_err(carbon_harness::anyhow::Error::msg)?
        .as_i64()
        .context("current_timestamp as unix seconds")
}

fn config(ctx: &Ctx) -> Result<&carbon_config::TrinoConfig> {
    ctx.target()
        .trino
        .as_ref()
        .context("the target has no [trino] section")
}

async fn run(ctx: &Ctx, trino: &TrinoClient, sql: &str) -> Result<QueryOutput> {
    let out = trino
        .execute(sql)
        .await
        .with_context(|| format!("running `{sql}`"))?;
    ctx.step(format_args!(
        "{sql}: query {}, {} row(s), client {:.1?}, server {:.1?}",
        out.query_id,
        out.rows.len(),
        out.client_elapsed,
        out.server_elapsed
    ));
    Ok(out)
}

async fn server_up(ctx: Ctx) -> Result<()> {
    let trino = trino(&ctx)?;
    let info = trino.info().await?;
    ctx.step(format_args!(
        "{}: Trino {}, environment {}, coordinator {}, starting {}, uptime {}",
        trino.url(),
        info.node_version.version,
        info.environment,
        info.coordinator,
        info.starting,
        info.uptime.as_deref().unwrap_or("?")
    ));
    ensure!(
        info.coordinator,
        "{} is not a coordinator (trino.url must name the coordinator)",
        trino.url()
    );
    ensure!(!info.starting, "{} is still starting", trino.url());
    Ok(())
}

async fn select_one(ctx: Ctx) -> Result<()> {
    let trino = trino(&ctx)?;
    let out = run(&ctx, &trino, "SELECT 1").await?;
    let v = out.single().map_err(carbon_harness::anyhow::Error::msg)?;
    ensure!(v == &Value::from(1), "SELECT 1 returned {v}");
    Ok(())
}

async fn nation_count(ctx: Ctx) -> Result<()> {
    let trino = trino(&ctx)?;
    let out = run(&ctx, &trino, "SELECT count(*) FROM tpch.tiny.nation").await?;
    let v = out.single().map_err(carbon_harness::anyhow::Error::msg)?;
    ensure!(
        v == &Value::from(25),
        "tpch.tiny.nation has {v} rows, expected 25"
    );
    Ok(())
}

async fn required_catalogs(ctx: Ctx) -> Result<()> {
    let trino = trino(&ctx)?;
    let required = config(&ctx)?.required_catalogs.clone();
    ensure!(
        !required.is_empty(),
        "the target lists no required catalogs (trino.required_catalogs): nothing to check"
    );
    let present = trino.catalogs().await?;
    ctx.step(format_args!("SHOW CATALOGS: {}", present.join(", ")));
    let missing = carbon_trino::missing_catalogs(&required, &present);
    ensure!(
        missing.is_empty(),
        "{} lacks catalog(s) the target requires: {} (trino.required_catalogs); it has: {}",
        trino.url(),
        missing.join(", "),
        present.join(", ")
    );
    Ok(())
}

/// The Iceberg REST catalog answers the protocol and is the one Trino's Iceberg catalog uses:
/// every schema `SHOW SCHEMAS FROM <iceberg_catalog>` lists is a namespace of the REST catalog.
/// Schemas a run creates and drops while this runs (`e2e_<run>_...`) are left out of the
/// comparison; an empty catalog is nothing to compare and fails.
async fn rest_catalog(ctx: Ctx) -> Result<()> {
    let rest = ctx.client::<RestCatalogClient>()?;
    let (settings, server) = rest.config().await?;
    ctx.step(format_args!(
        "GET {}v1/config: prefix {:?}, {} default(s), {} override(s), server {}",
        rest.base(),
        settings.prefix().unwrap_or(""),
        settings.defaults.len(),
        settings.overrides.len(),
        server.as_deref().unwrap_or("not named")
    ));
    let namespaces = rest.namespaces(&settings).await?;
    ctx.step(format_args!(
        "{} namespace(s): {}",
        namespaces.len(),
        namespaces.join(", ")
    ));
    ensure!(
        !namespaces.is_empty(),
        "the REST catalog at {} lists no namespace: nothing Trino could be reading from it",
        rest.base()
    );
    let catalog = config(&ctx)?.iceberg_catalog.clone();
    let out = trino(&ctx)?
        .execute(&format!("SHOW SCHEMAS FROM {catalog}"))
        .await?;
    let schemas: Vec<String> = out
        .rows
        .iter()
        .filter_map(|r| r.first().and_then(Value::as_str).map(str::to_string))
        .filter(|s| {
            !TRINO_OWN_SCHEMAS.contains(&s.as_str())
                && carbon_core::naming::parse_identifier(s).is_none()
        })
        .collect();
    ctx.step(format_args!(
        "SHOW SCHEMAS FROM {catalog}: {}",
        schemas.join(", ")
    ));
    ensure!(
        !schemas.is_empty(),
        "Trino's {catalog} catalog shows no schema besides its own ({}) and runs': nothing to compare",
        TRINO_OWN_SCHEMAS.join(", ")
    );
    let missing: Vec<&String> = schemas
        .iter()
        .filter(|s| !namespaces.iter().any(|n| n == *s))
        .collect();
    ctx.measure(
        "trino.rest_catalog_schemas",
        (schemas.len() - missing.len()) as f64,
        Some(schemas.len() as f64),
    );
    ensure!(
        missing.is_empty(),
        "Trino's {catalog} catalog shows schema(s) the REST catalog at {} does not list: {} — Trino is not using this catalog (trino.rest_catalog_url, trino.iceberg_catalog)",
        rest.base(),
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

#[derive(Debug, Deserialize)]
struct FailingQueries {
    queries: Vec<FailingQuery>,
}

#[derive(Debug, Deserialize)]
struct FailingQuery {
    what: String,
    sql: String,
    error_name: String,
    error_code: i64,
    error_type: String,
    message_contains: String,
}

async fn failing_queries(ctx: Ctx) -> Result<()> {
    let trino = trino(&ctx)?;
    let fixture: FailingQueries =
        serde_json::from_str(include_str!("../../../fixtures/trino/failing_queries.json"))
            .context("reading fixtures/trino/failing_queries.json")?;
    for q in fixture.queries {
        let sql = q.sql.replace("{missing}", &ident(&ctx, "missing"));
        match trino.execute(&sql).await {
            Ok(out) => bail!("{}: `{sql}` succeeded with {:?}", q.what, out.rows),
            Err(e @ TrinoError::Query { .. }) => {
                let text = e.to_string();
                ctx.step(format_args!("{}: {text}", q.what));
                let f = e.failure().context("a query error without Trino's error")?;
                ensure!(
                    f.error_name == q.error_name
                        && f.error_code == q.error_code
                        && f.error_type == q.error_type
                        && f.message.contains(&q.message_contains),
                    "{}: `{sql}` failed with {f}, expected {} (code {}, {}) with a message containing {:?}",
                    q.what,
                    q.error_name,
                    q.error_code,
                    q.error_type,
                    q.message_contains
                );
                let code = format!("code {}", f.error_code);
                ensure!(
                    [f.error_name.as_str(), code.as_str(), f.message.as_str()]
                        .iter()
                        .all(|part| text.contains(part)),
                    "the failure message {text:?} must carry Trino's error name, code and message"
                );
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("{}: `{sql}` should fail inside Trino, not before", q.what)
                });
            }
        }
    }
    Ok(())
}

async fn cancel_long_query(ctx: Ctx) -> Result<()> {
    let trino = trino(&ctx)?;
    let cfg = config(&ctx)?.clone();
    let mut query = trino.submit(LONG_QUERY).await?;
    let id = query.id().to_string();
    ctx.step(format_args!("submitted query {id}: {LONG_QUERY}"));
    {
        let (trino, id) = (trino.clone(), id.clone());
        ctx.defer(format!("kill query {id} if it still runs"), async move {
            trino.kill(&id).await?;
            Ok(())
        });
    }
    // Each page request waits on the server (long poll), so this loop does not spin; the
    // query must reach RUNNING within the query timeout.
    let t0 = Instant::now();
    while query.state() != "RUNNING" {
        ensure!(
            !query.is_done(),
            "query {id} ended ({}) before it could be cancelled",
            query.state()
        );
        ensure!(
            t0.elapsed() < cfg.query_timeout(),
            "query {id} did not reach RUNNING within {:?}; state {}",
            cfg.query_timeout(),
            query.state()
        );
        query.advance().await?;
    }
    let info = trino
        .query_info(&id)
        .await?
        .with_context(|| format!("the server does not know query {id}"))?;
    ctx.step(format_args!("query {id} is {} on the server", info.state));
    // What `reap` relies on to cancel a killed run's query: the server lists it, still
    // running, under the run's tag.
    let listed = trino.list_running_queries().await?;
    let entry = listed.iter().find(|q| q.query_id == id).with_context(|| {
        format!(
            "query {id} is not among the {} running queries GET /v1/query lists",
            listed.len()
        )
    })?;
    ensure!(
        entry.run() == Some(ctx.run_id()),
        "query {id} is listed with source {:?} and client tags {:?}: not tied to run {} (expected source {} and tag {})",
        entry.session.source,
        entry.session.client_tags,
        ctx.run_id(),
        carbon_trino::SOURCE,
        carbon_trino::run_tag(ctx.run_id())
    );
    ctx.step(format_args!(
        "GET /v1/query lists query {id} with source {} and client tag {}",
        carbon_trino::SOURCE,
        carbon_trino::run_tag(ctx.run_id())
    ));
    ensure!(
        info.is_running(),
        "query {id} is {} before the cancel",
        info.state
    );

    let cancelled_at = Instant::now();
    query.cancel().await?;
    ctx.step(format_args!("cancel sent for query {id}"));
    let state = ctx
        .wait_until(
            &format!("query {id} to stop running on the server"),
            cfg.cancel_timeout(),
            || async {
                Ok::<_, TrinoError>(match trino.query_info(&id).await? {
                    None => Check::Ready("gone (the server forgot it)".to_string()),
                    Some(i) if !i.is_running() => Check::Ready(format!(
                        "{} {}",
                        i.state,
                        i.error_code.map(|e| e.name).unwrap_or_default()
                    )),
                    Some(i) => Check::Pending(i.state),
                })
            },
        )
        .await?;
    ctx.step(format_args!(
        "query {id} {state}, {:.2?} after the cancel",
        cancelled_at.elapsed()
    ));
    ensure!(
        state.starts_with("gone") || state.contains("USER_CANCELED"),
        "query {id} stopped as {state}, expected FAILED USER_CANCELED"
    );
    Ok(())
}
