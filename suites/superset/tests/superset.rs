//! The `superset` suite: the platform's dashboards over Trino, against the Superset of
//! `[superset]` (`app=superset`, a critical service in the plan).
//!
//! Smoke (reads only): `/health` answers OK (and the version); the configured user logs in and
//! a wrong password is refused; the Trino database connection passes Superset's own connection
//! test; every configured dashboard exists and every chart on it returns rows (forced past
//! Superset's cache, so a chart that broke since it was cached still fails).
//!
//! Full (read-write targets): a SQL Lab query through the Trino connection returns the expected
//! rows (SQL Lab records every query in Superset's query history: a write); a saved query named
//! for the run is created, read back and deleted. Locally the server is the real Superset 6.1.0
//! the stack installs from PyPI, connected to the stack's Trino.

use carbon_harness::anyhow::{Context as _, Result, bail, ensure};
use carbon_harness::{Ctx, Service, Suite};
use carbon_superset::{Database, SupersetClient, SupersetError};

const SUPERSET: &[Service] = &[Service::Superset];

fn main() -> std::process::ExitCode {
    Suite::new("superset")
        .smoke(
            "health_answers_ok_and_reports_the_version",
            SUPERSET,
            health,
        )
        .smoke(
            "login_is_accepted_and_a_wrong_password_is_refused",
            SUPERSET,
            login,
        )
        .smoke(
            "trino_connection_passes_supersets_own_connection_test",
            SUPERSET,
            connection,
        )
        .smoke(
            "every_configured_dashboard_exists_and_every_chart_returns_rows",
            SUPERSET,
            dashboards,
        )
        .full(
            "sql_lab_query_through_trino_returns_the_expected_rows",
            SUPERSET,
            sql_lab,
        )
        .writes(
            "one entry in Superset's query history (SQL Lab records every query it runs)",
            "none possible: Superset keeps its query history; the entry names no run and holds only the configured query",
        )
        .full(
            "saved_query_round_trips_and_is_deleted",
            SUPERSET,
            saved_query,
        )
        .writes(
            "a saved query labelled e2e-<run id>-saved, description carbon-e2e run=<run id> created=<unix seconds>",
            "the trial deletes every saved query with its label and checks it is gone; `reap` removes a killed run's",
        )
        .run()
}

fn config(ctx: &Ctx) -> Result<&carbon_config::SupersetConfig> {
    ctx.target()
        .superset
        .as_ref()
        .context("the target has no [superset] section")
}

async fn health(ctx: Ctx) -> Result<()> {
    let s = ctx.client::<SupersetClient>()?;
    s.health().await?;
    let version = s.server_version().await?;
    ctx.step(format_args!(
        "{}health: OK, Superset {}",
        s.base(),
        version.as_deref().unwrap_or("(no version reported)")
    ));
    Ok(())
}

async fn login(ctx: Ctx) -> Result<()> {
    let s = ctx.client::<SupersetClient>()?;
    s.login().await?;
    ctx.step(format_args!("user {} logged in", config(&ctx)?.user));
    let wrong = carbon_config::Secret::new(format!("not-the-password-{}", ctx.run_id()));
    match s.login_with(&wrong).await {
        Err(SupersetError::Unauthorized { status, .. }) => {
            ctx.step(format_args!("a wrong password is refused: HTTP {status}"));
            Ok(())
        }
        Err(e) => Err(e).context("a wrong password should be refused with 401"),
        Ok(_) => bail!(
            "{} accepted a wrong password for user {}",
            s.base(),
            config(&ctx)?.user
        ),
    }
}

/// The configured Trino database connection, by name.
async fn database(ctx: &Ctx, s: &SupersetClient) -> Result<Database> {
    let name = config(ctx)?.database.clone();
    let all = s.databases().await?;
    ctx.step(format_args!(
        "{} database connection(s): {}",
        all.len(),
        all.iter()
            .map(|d| d.database_name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    all.into_iter()
        .find(|d| d.database_name == name)
        .with_context(|| {
            format!(
                "{} has no database connection named `{name}` (superset.database)",
                s.base()
            )
        })
}

async fn connection(ctx: Ctx) -> Result<()> {
    let s = ctx.client::<SupersetClient>()?;
    let db = database(&ctx, &s).await?;
    s.test_connection(&db).await.with_context(|| {
        format!(
            "Superset's connection test of `{}` (backend {}) failed",
            db.database_name,
            db.backend.as_deref().unwrap_or("unknown")
        )
    })?;
    ctx.step(format_args!(
        "`{}` (backend {}) passes Superset's connection test",
        db.database_name,
        db.backend.as_deref().unwrap_or("unknown")
    ));
    Ok(())
}

async fn dashboards(ctx: Ctx) -> Result<()> {
    let s = ctx.client::<SupersetClient>()?;
    let wanted = config(&ctx)?.dashboards.clone();
    ensure!(
        !wanted.is_empty(),
        "the target lists no dashboards (superset.dashboards): nothing to check"
    );
    let all = s.dashboards().await?;
    let mut failures = Vec::new();
    let mut with_data = 0usize;
    for title in &wanted {
        let Some(d) = all.iter().find(|d| &d.dashboard_title == title) else {
            failures.push(format!("dashboard `{title}` does not exist"));
            continue;
        };
        let charts = s.dashboard_charts(d.id).await?;
        if charts.is_empty() {
            failures.push(format!("dashboard `{title}` has no chart"));
            continue;
        }
        let mut ok = true;
        for c in &charts {
            match s.chart_data(c.id).await {
                Ok(rows) if rows.count > 0 => ctx.step(format_args!(
                    "`{title}` / `{}` (chart {}): {} row(s)",
                    c.slice_name, c.id, rows.count
                )),
                Ok(_) => {
                    ok = false;
                    failures.push(format!(
                        "`{title}` / `{}` (chart {}) returned no rows",
                        c.slice_name, c.id
                    ));
                }
                Err(e) => {
                    ok = false;
                    failures.push(format!(
                        "`{title}` / `{}` (chart {}): {e}",
                        c.slice_name, c.id
                    ));
                }
            }
        }
        if ok {
            with_data += 1;
        }
    }
    ctx.measure(
        "superset.dashboards_with_data",
        with_data as f64,
        Some(wanted.len() as f64),
    );
    ensure!(
        failures.is_empty(),
        "{} of {} dashboard(s) with data; {}",
        with_data,
        wanted.len(),
        failures.join("; ")
    );
    Ok(())
}

async fn sql_lab(ctx: Ctx) -> Result<()> {
    let s = ctx.client::<SupersetClient>()?;
    let cfg = config(&ctx)?.clone();
    ensure!(
        cfg.query_rows > 0,
        "superset.query_rows is 0: a query expected to return nothing checks nothing"
    );
    let db = database(&ctx, &s).await?;
    let rows = s.sqllab(db.id, &cfg.query).await?;
    ctx.step(format_args!(
        "SQL Lab on `{}`: {} returned {} row(s)",
        db.database_name, cfg.query, rows.count
    ));
    ensure!(
        rows.count == cfg.query_rows,
        "SQL Lab returned {} row(s) for `{}`, expected {} (superset.query_rows)",
        rows.count,
        cfg.query,
        cfg.query_rows
    );
    Ok(())
}

async fn saved_query(ctx: Ctx) -> Result<()> {
    let s = ctx.client::<SupersetClient>()?;
    let cfg = config(&ctx)?.clone();
    let db = database(&ctx, &s).await?;
    let label = ctx.run_name("saved");
    let cleanup = s.clone();
    let owned = label.clone();
    ctx.defer(
        format!("delete saved queries labelled {label}"),
        async move {
            for (id, l, _) in cleanup.saved_queries(&owned).await? {
                if l == owned {
                    cleanup.delete_saved_query(id).await?;
                }
            }
            Ok(())
        },
    );
    let created = s.server_clock().await?;
    let marker = ctx.marker(created).to_string();
    let id = s
        .create_saved_query(db.id, &label, &marker, &cfg.query)
        .await?;
    ctx.step(format_args!("saved query {id} `{label}` created"));
    match s.saved_query(id).await? {
        Some((l, sql)) if l == label && sql == cfg.query => {
            ctx.step("read back with its label and SQL");
        }
        Some((l, sql)) => bail!("saved query {id} reads back as `{l}`: {sql}"),
        None => bail!("saved query {id} not found right after it was created"),
    }
    s.delete_saved_query(id).await?;
    ensure!(
        s.saved_query(id).await?.is_none(),
        "saved query {id} still exists after DELETE"
    );
    ctx.step(format_args!("saved query {id} deleted and gone"));
    Ok(())
}
