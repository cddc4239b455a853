//! The `dashboards` suite: the plan's "Grafana dashboards with data", counted without Grafana.
//!
//! Grafana's dashboards are JSON, provisioned as ConfigMaps labelled `grafana_dashboard` (the
//! sidecar's convention) or as files. The trial reads them (`[dashboards]`: from the cluster, or
//! from `dir`), and sends every panel's queries straight to the datasource they name: a
//! Prometheus-type one to `[victoriametrics]` as a range query over `window_minutes`, a Loki one
//! to `[loki]`. Template variables take their current value in the JSON, under
//! `[dashboards] variables`; Grafana's interval macros take fixed values. A dashboard has data
//! when it is found, at least one of its panels could be evaluated, and every evaluated panel
//! returned data; the trial measures `dashboards.with_data` (n of the required) for the gate's
//! "dashboards with data" and names each empty or failing panel. A panel on another kind of
//! datasource (Postgres, Elasticsearch) is listed as not evaluated, never as data.
//!
//! On a live platform the `grafana` suite still checks Grafana itself (health, datasources,
//! the same panels through Grafana's own query API); this one proves the data behind them.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use carbon_grafana::{Dashboard, Panel, interpolate, parse_dashboard};
use carbon_harness::anyhow::{Context as _, Result, ensure};
use carbon_harness::{Ctx, Service, Suite};
use carbon_kube::KubeClient;
use carbon_kube::k8s_openapi::api::core::v1::ConfigMap;
use carbon_loki::{Direction, LokiClient};
use carbon_victoriametrics::VmClient;
use serde_json::Value;

const SERVICES: &[Service] = &[Service::Kubernetes, Service::VictoriaMetrics, Service::Loki];

fn main() -> std::process::ExitCode {
    Suite::new("dashboards")
        .smoke(
            "every_panel_of_the_platforms_dashboards_returns_data",
            SERVICES,
            panels,
        )
        .run()
}

/// Where a panel's query goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Backend {
    Metrics,
    Logs,
    /// Not evaluated here: the datasource's type, or why it is unknown.
    Other(String),
}

/// The datasource a reference names, without Grafana: its type when it says one, a datasource
/// variable's plugin type, or a name `[dashboards]` maps.
fn backend(ds: Option<&Value>, d: &Dashboard, cfg: &carbon_harness::DashboardsConfig) -> Backend {
    let by_type = |t: &str| match t {
        "prometheus" => Backend::Metrics,
        "loki" => Backend::Logs,
        other => Backend::Other(format!("a `{other}` datasource")),
    };
    let by_name = |name: &str| {
        let var = name
            .trim_start_matches("${")
            .trim_start_matches('$')
            .trim_end_matches('}');
        if let Some(t) = d.datasource_types.get(var) {
            return by_type(t);
        }
        if cfg.metrics_datasources.iter().any(|n| n == name) {
            Backend::Metrics
        } else if cfg.logs_datasources.iter().any(|n| n == name) {
            Backend::Logs
        } else {
            Backend::Other(format!(
                "datasource `{name}` is not in [dashboards] metrics_datasources or logs_datasources"
            ))
        }
    };
    match ds {
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some(t) if !t.starts_with('$') => by_type(t),
            _ => o.get("uid").and_then(Value::as_str).map_or_else(
                || Backend::Other("a datasource without type or uid".into()),
                by_name,
            ),
        },
        Some(Value::String(name)) => by_name(name),
        _ => Backend::Other("no datasource (Grafana's default, unknown without Grafana)".into()),
    }
}

/// Grafana's own macros, as a range query over the window would see them.
fn macros(expr: &str, window_minutes: u64) -> String {
    expr.replace("$__rate_interval", "5m")
        .replace("${__rate_interval}", "5m")
        .replace("$__interval_ms", "60000")
        .replace("$__interval", "1m")
        .replace("${__interval}", "1m")
        .replace("$__range", &format!("{window_minutes}m"))
        .replace("$__auto", "1m")
}

/// The dashboards the target defines, with where each came from.
async fn load(ctx: &Ctx, cfg: &carbon_harness::DashboardsConfig) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    if let Some(dir) = &cfg.dir {
        let dir = ctx
            .target()
            .source
            .parent()
            .map_or(dir.clone(), |p| p.join(dir));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading [dashboards] dir {}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for f in files {
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            let json: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a dashboard's JSON", f.display()))?;
            out.push((f.display().to_string(), json));
        }
        return Ok(out);
    }
    let kube = KubeClient::from_target(ctx.target()).await?;
    let maps: Vec<ConfigMap> = kube.list(cfg.namespace.as_deref()).await?;
    for m in maps {
        let labelled = m
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(&cfg.label));
        if !labelled {
            continue;
        }
        let name = format!(
            "ConfigMap {}/{}",
            m.metadata.namespace.as_deref().unwrap_or_default(),
            m.metadata.name.as_deref().unwrap_or_default()
        );
        for (key, text) in m.data.iter().flatten() {
            match serde_json::from_str::<Value>(text) {
                Ok(json) if json.get("panels").is_some() || json.get("rows").is_some() => {
                    out.push((format!("{name} key {key}"), json));
                }
                _ => ctx.step(format_args!(
                    "{name} key {key}: not a dashboard's JSON, skipped"
                )),
            }
        }
    }
    Ok(out)
}

/// What one panel showed: rows found, or why it has none.
enum Outcome {
    Data(usize),
    Empty(Vec<String>),
    Failed(String),
    NotEvaluated(Vec<String>),
}

async fn panel(
    ctx: &Ctx,
    p: &Panel,
    d: &Dashboard,
    variables: &BTreeMap<String, String>,
    cfg: &carbon_harness::DashboardsConfig,
) -> Result<Outcome> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock")?
        .as_secs_f64();
    let start = now - 60.0 * cfg.window_minutes as f64;
    let mut rows = 0;
    let mut sent = Vec::new();
    let mut skipped = Vec::new();
    for t in &p.targets {
        if t.get("hide").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let ds = t
            .get("datasource")
            .filter(|v| !v.is_null() && v.get("uid").and_then(Value::as_str) != Some("-- Mixed --"))
            .or(p.datasource.as_ref());
        let Some(expr) = t.get("expr").and_then(Value::as_str) else {
            skipped.push("a target without `expr`".to_string());
            continue;
        };
        let expr = macros(&interpolate(expr, variables), cfg.window_minutes);
        let found = match backend(ds, d, cfg) {
            Backend::Metrics => {
                let vm = ctx.client::<VmClient>()?;
                let step = (cfg.window_minutes * 60 / 60).max(15);
                match vm.range_series(&expr, start, now, step).await {
                    Ok(n) => n,
                    Err(e) => return Ok(Outcome::Failed(format!("{expr}: {e}"))),
                }
            }
            Backend::Logs => {
                let loki = ctx.client::<LokiClient>()?;
                #[allow(clippy::cast_possible_truncation)] // nanoseconds since the epoch fit
                let (from, to) = ((start * 1e9) as i128, (now * 1e9) as i128);
                match loki
                    .query_range(&expr, from, to, 100, Direction::Backward)
                    .await
                {
                    Ok(r) => r.series_count(),
                    Err(e) => return Ok(Outcome::Failed(format!("{expr}: {e}"))),
                }
            }
            Backend::Other(why) => {
                skipped.push(why);
                continue;
            }
        };
        rows += found;
        sent.push(expr);
    }
    Ok(match (sent.is_empty(), rows) {
        (true, _) => Outcome::NotEvaluated(skipped),
        (false, 0) => Outcome::Empty(sent),
        (false, n) => Outcome::Data(n),
    })
}

async fn panels(ctx: Ctx) -> Result<()> {
    let cfg = ctx.target().dashboards.clone().unwrap_or_default();
    ensure!(
        !cfg.required.is_empty(),
        "[dashboards] required is empty: name the dashboards that must show data"
    );
    let all = load(&ctx, &cfg).await?;
    let parsed: Vec<(String, Dashboard)> = all
        .iter()
        .map(|(from, json)| (from.clone(), parse_dashboard("", json)))
        .collect();
    ctx.step(format_args!(
        "{} dashboard(s) found: {}",
        parsed.len(),
        parsed
            .iter()
            .map(|(from, d)| format!("{} ({from})", d.title))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut findings = Vec::new();
    let mut with_data = 0_usize;
    for title in &cfg.required {
        let Some((from, d)) = parsed.iter().find(|(_, d)| &d.title == title) else {
            findings.push(format!(
                "{title}: not found (labelled `{}` ConfigMaps{}, or [dashboards] dir)",
                cfg.label,
                cfg.namespace
                    .as_deref()
                    .map_or(String::new(), |n| format!(" in {n}"))
            ));
            continue;
        };
        let mut variables = d.variables.clone();
        variables.extend(cfg.variables.clone());
        let before = findings.len();
        let mut evaluated = 0;
        for p in &d.panels {
            match panel(&ctx, p, d, &variables, &cfg).await? {
                Outcome::Data(n) => {
                    evaluated += 1;
                    ctx.step(format_args!(
                        "{title} / {}: {n} series or stream(s)",
                        p.title
                    ));
                }
                Outcome::Empty(exprs) => {
                    evaluated += 1;
                    findings.push(format!(
                        "{title} / {}: No data over the last {} min ({})",
                        p.title,
                        cfg.window_minutes,
                        exprs.join("; ")
                    ));
                }
                Outcome::Failed(why) => {
                    evaluated += 1;
                    findings.push(format!("{title} / {}: query failed: {why}", p.title));
                }
                Outcome::NotEvaluated(why) if !why.is_empty() => ctx.step(format_args!(
                    "{title} / {}: not evaluated: {}",
                    p.title,
                    why.join("; ")
                )),
                Outcome::NotEvaluated(_) => {} // a text or row panel queries nothing
            }
        }
        if evaluated == 0 {
            findings.push(format!(
                "{title} ({from}): none of its {} panel(s) could be evaluated",
                d.panels.len()
            ));
        }
        with_data += usize::from(findings.len() == before);
    }
    #[allow(clippy::cast_precision_loss)]
    ctx.measure(
        "dashboards.with_data",
        with_data as f64,
        Some(cfg.required.len() as f64),
    );
    ensure!(
        findings.is_empty(),
        "{} of {} dashboard(s) with data; {} finding(s):\n  {}",
        with_data,
        cfg.required.len(),
        findings.len(),
        findings.join("\n  ")
    );
    Ok(())
}
