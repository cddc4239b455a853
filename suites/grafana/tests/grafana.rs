//! The `grafana` suite: the plan's "view metrics in Grafana" workflow and its dashboard and
//! alert checks. Live platforms only: Grafana is AGPL and is not part of the local stack, so
//! without a `[grafana]` section these trials are reported live-only (never passed), strict
//! mode included.

use carbon_config::GrafanaConfig;
use carbon_grafana::{Datasource, GrafanaClient, panel_queries};
use carbon_harness::anyhow::{Context as _, Result, bail, ensure};
use carbon_harness::{Ctx, Service, Suite};
use serde_json::{Value, json};

const GRAFANA: &[Service] = &[Service::Grafana];

fn main() -> std::process::ExitCode {
    Suite::new("grafana")
        .smoke("health_reports_database_ok_and_a_version", GRAFANA, health)
        .smoke(
            "configured_datasources_exist_and_pass_their_health_check",
            GRAFANA,
            datasources,
        )
        .smoke("configured_dashboards_exist_by_title", GRAFANA, dashboards)
        .full(
            "queries_through_each_datasource_return_data",
            GRAFANA,
            ds_queries,
        )
        .full(
            "every_panel_of_the_configured_dashboards_returns_data",
            GRAFANA,
            panels,
        )
        .full(
            "alert_rules_exist_and_are_not_in_error",
            GRAFANA,
            alert_rules,
        )
        .live_only("Grafana is AGPL and not part of the local stack")
        .run()
}

fn config(ctx: &Ctx) -> Result<GrafanaConfig> {
    ctx.target()
        .grafana
        .clone()
        .context("the target has no [grafana]")
}

fn window(cfg: &GrafanaConfig) -> String {
    format!("now-{}m", cfg.window_minutes)
}

async fn health(ctx: Ctx) -> Result<()> {
    let h = ctx.client::<GrafanaClient>()?.health().await?;
    ctx.step(format_args!(
        "Grafana {} (commit {}), database {}",
        h.version, h.commit, h.database
    ));
    ensure!(h.database == "ok", "Grafana's database is `{}`", h.database);
    ensure!(!h.version.is_empty(), "Grafana reported no version");
    Ok(())
}

/// The configured datasource named `name`, of plugin type `kind`.
async fn datasource(grafana: &GrafanaClient, name: &str, kind: &str) -> Result<Datasource> {
    let all = grafana.datasources().await?;
    let Some(ds) = all.iter().find(|d| d.name == name) else {
        bail!(
            "no datasource named {name}; Grafana has: {}",
            all.iter()
                .map(|d| format!("{} ({})", d.name, d.kind))
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    ensure!(
        ds.kind == kind,
        "datasource {name} is of type {}, expected {kind}",
        ds.kind
    );
    Ok(ds.clone())
}

async fn datasources(ctx: Ctx) -> Result<()> {
    let grafana = ctx.client::<GrafanaClient>()?;
    let cfg = config(&ctx)?;
    let mut failing = Vec::new();
    for (name, kind) in [
        (&cfg.metrics_datasource, "prometheus"),
        (&cfg.logs_datasource, "loki"),
    ] {
        let ds = datasource(&grafana, name, kind).await?;
        let h = grafana.datasource_health(&ds.uid).await?;
        ctx.step(format_args!(
            "{name} ({kind}, {}): {} {}",
            ds.url, h.status, h.message
        ));
        if !h.ok() {
            failing.push(format!("{name}: {} {}", h.status, h.message));
        }
    }
    ensure!(
        failing.is_empty(),
        "datasource health check(s) failed: {}",
        failing.join("; ")
    );
    Ok(())
}

async fn dashboards(ctx: Ctx) -> Result<()> {
    let grafana = ctx.client::<GrafanaClient>()?;
    let cfg = config(&ctx)?;
    ensure!(
        !cfg.dashboards.is_empty(),
        "grafana.dashboards is empty: name the dashboards that must exist"
    );
    let mut missing = Vec::new();
    for title in &cfg.dashboards {
        let hits = grafana.search_dashboards(title).await?;
        match hits.iter().find(|h| &h.title == title) {
            Some(h) => ctx.step(format_args!(
                "{title}: uid {} in folder {} ({})",
                h.uid, h.folder_title, h.url
            )),
            None => missing.push(title.clone()),
        }
    }
    ensure!(missing.is_empty(), "dashboard(s) not found: {missing:?}");
    Ok(())
}

async fn ds_queries(ctx: Ctx) -> Result<()> {
    let grafana = ctx.client::<GrafanaClient>()?;
    let cfg = config(&ctx)?;
    let vm = datasource(&grafana, &cfg.metrics_datasource, "prometheus").await?;
    let loki = datasource(&grafana, &cfg.logs_datasource, "loki").await?;
    let queries = [
        (
            &vm,
            json!({"refId": "A", "datasource": {"uid": vm.uid, "type": vm.kind}, "expr": cfg.metrics_query, "instant": true, "range": false, "intervalMs": 15000, "maxDataPoints": 100}),
        ),
        (
            &loki,
            json!({"refId": "A", "datasource": {"uid": loki.uid, "type": loki.kind}, "expr": cfg.logs_query, "queryType": "range", "maxLines": 10, "intervalMs": 15000, "maxDataPoints": 100}),
        ),
    ];
    let mut empty = Vec::new();
    for (ds, q) in queries {
        let results = grafana
            .query(std::slice::from_ref(&q), &window(&cfg), "now")
            .await?;
        let r = results
            .get("A")
            .with_context(|| format!("no result for {} in {results:?}", ds.name))?;
        if let Some(e) = &r.error {
            bail!("query {} through {} failed: {e}", q["expr"], ds.name);
        }
        ctx.step(format_args!(
            "{} `{}`: {} frame(s), {} row(s)",
            ds.name,
            q["expr"].as_str().unwrap_or_default(),
            r.frames.len(),
            r.rows()
        ));
        if r.rows() == 0 {
            empty.push(format!("{} `{}`", ds.name, q["expr"]));
        }
    }
    ensure!(empty.is_empty(), "no data from: {}", empty.join("; "));
    Ok(())
}

async fn panels(ctx: Ctx) -> Result<()> {
    let grafana = ctx.client::<GrafanaClient>()?;
    let cfg = config(&ctx)?;
    ensure!(
        !cfg.dashboards.is_empty(),
        "grafana.dashboards is empty: name the dashboards whose panels must have data"
    );
    let all_ds = grafana.datasources().await?;
    let mut findings = Vec::new();
    let mut checked = 0;
    // A dashboard has data when it was found, queries something, and no panel of it showed
    // a finding.
    let mut with_data = 0_usize;
    for title in &cfg.dashboards {
        let before = checked;
        let findings_before = findings.len();
        let hits = grafana.search_dashboards(title).await?;
        let Some(hit) = hits.iter().find(|h| &h.title == title) else {
            findings.push(format!("{title}: dashboard not found"));
            continue;
        };
        let d = grafana.dashboard(&hit.uid).await?;
        for panel in &d.panels {
            let (queries, unsendable) = panel_queries(panel, &d.variables, &all_ds);
            for why in unsendable {
                findings.push(format!("{title} / {}: {why}", panel.title));
            }
            if queries.is_empty() {
                continue; // text, news and similar panels query nothing
            }
            checked += 1;
            let results = grafana.query(&queries, &window(&cfg), "now").await?;
            let errors: Vec<String> = results
                .iter()
                .filter_map(|(r, q)| q.error.as_ref().map(|e| format!("{r}: {e}")))
                .collect();
            let rows: usize = results.values().map(|q| q.rows()).sum();
            if !errors.is_empty() {
                findings.push(format!(
                    "{title} / {}: query error {}",
                    panel.title,
                    errors.join("; ")
                ));
            } else if rows == 0 {
                findings.push(format!(
                    "{title} / {} ({}): No data (queries {})",
                    panel.title,
                    panel.kind,
                    queries
                        .iter()
                        .map(|q| q
                            .get("expr")
                            .or(q.get("rawSql"))
                            .unwrap_or(&Value::Null)
                            .to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            } else {
                ctx.step(format_args!("{title} / {}: {rows} row(s)", panel.title));
            }
        }
        if checked == before {
            // A dashboard whose panels query nothing shows no data: not a pass.
            findings.push(format!(
                "{title}: none of its {} panel(s) queries a datasource",
                d.panels.len()
            ));
        }
        with_data += usize::from(findings.len() == findings_before);
    }
    ctx.step(format_args!("{checked} panel(s) queried"));
    #[allow(clippy::cast_precision_loss)]
    ctx.measure(
        "grafana.dashboards_with_data",
        with_data as f64,
        Some(cfg.dashboards.len() as f64),
    );
    ensure!(
        findings.is_empty(),
        "{} panel finding(s) over the last {} min:\n  {}",
        findings.len(),
        cfg.window_minutes,
        findings.join("\n  ")
    );
    Ok(())
}

/// One alert rule as read from Grafana or vmalert.
struct FoundRule {
    name: String,
    source: &'static str,
    state: String,
    health: String,
    last_error: String,
    in_error: bool,
    severity: String,
}

/// The plan's alert rules, read where the platform keeps them: Grafana-managed rules, and
/// vmalert's when the target has `[vmalert]` (the platform evaluates its Prometheus-style rules
/// there; Grafana only shows them). A rule passes when found in either and not in error there.
async fn alert_rules(ctx: Ctx) -> Result<()> {
    let grafana = ctx.client::<GrafanaClient>()?;
    let cfg = config(&ctx)?;
    ensure!(
        !cfg.alert_rules.is_empty(),
        "grafana.alert_rules is empty: name the rules that must exist"
    );
    let mut rules: Vec<FoundRule> = grafana
        .alert_rules()
        .await?
        .into_iter()
        .map(|r| FoundRule {
            in_error: r.in_error(),
            severity: r.labels.get("severity").cloned().unwrap_or_default(),
            name: r.name,
            source: "Grafana",
            state: r.state,
            health: r.health,
            last_error: r.last_error,
        })
        .collect();
    let with_vmalert = ctx.target().vmalert.is_some();
    if with_vmalert {
        let vmalert = ctx.client::<carbon_vmalert::VmAlertClient>()?;
        for g in vmalert.groups().await? {
            rules.extend(g.all_rules().map(|r| FoundRule {
                in_error: r.in_error(),
                severity: r.labels.get("severity").cloned().unwrap_or_default(),
                name: r.name.clone(),
                source: "vmalert",
                state: r.state.clone(),
                health: r.health.clone(),
                last_error: r.last_error.clone(),
            }));
        }
    }
    let mut problems = Vec::new();
    for name in &cfg.alert_rules {
        let found: Vec<&FoundRule> = rules.iter().filter(|r| &r.name == name).collect();
        match (found.iter().find(|r| !r.in_error), found.first()) {
            (Some(r), _) => ctx.step(format_args!(
                "{name} ({}): {} health {}, severity {}",
                r.source,
                r.state,
                r.health,
                if r.severity.is_empty() {
                    "-"
                } else {
                    &r.severity
                }
            )),
            (None, Some(r)) => problems.push(format!(
                "{name} ({}): health {} ({})",
                r.source, r.health, r.last_error
            )),
            (None, None) => problems.push(format!("{name}: not found")),
        }
    }
    ensure!(
        problems.is_empty(),
        "alert rule problem(s): {}; rules read from {}: {}",
        problems.join("; "),
        if with_vmalert {
            "Grafana and vmalert"
        } else {
            "Grafana"
        },
        rules
            .iter()
            .map(|r| format!("{} ({})", r.name, r.source))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
