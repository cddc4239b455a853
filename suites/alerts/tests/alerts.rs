//! The `alerts` suite: the plan's alert rules (pod in CrashLoopBackOff, service down over five
//! minutes, memory over 80 %) exist in vmalert and evaluate without error, and a rule really
//! fires: a probe sample the trial writes to VictoriaMetrics makes the probe rule go pending,
//! then firing once its `for` has passed.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use carbon_config::VmAlertConfig;
use carbon_harness::anyhow::{Context as _, Result, bail, ensure};
use carbon_harness::{Backoff, Capability, Check, Ctx, Service, Suite};
use carbon_victoriametrics::SERIES_CLEANUP;
use carbon_vmalert::{VmAlertClient, VmAlertError, find_rule};

const VMALERT: &[Service] = &[Service::VmAlert];
const PROBE: &[Service] = &[Service::VmAlert, Service::VictoriaMetrics];

const FAST: Backoff = Backoff {
    initial: Duration::from_millis(100),
    max: Duration::from_millis(500),
};

fn main() -> std::process::ExitCode {
    Suite::new("alerts")
        .smoke("vmalert_health_answers_ok", VMALERT, health)
        .smoke(
            "required_rules_exist_and_evaluate_without_error",
            VMALERT,
            required_rules,
        )
        .full(
            "probe_sample_makes_the_probe_rule_fire_after_its_for_window",
            PROBE,
            probe_fires,
        )
        .needs(Capability::VmAlertProbe)
        .writes(
            "one sample of <vmalert.probe_metric>{e2e_run=\"<run id>\", e2e_owner=\"carbon-e2e\"}, which makes the probe rule fire",
            "delete_series of exactly that series",
        )
        .opt_in("delete-series")
        .run()
}

fn config(ctx: &Ctx) -> Result<VmAlertConfig> {
    ctx.target()
        .vmalert
        .clone()
        .context("the target has no [vmalert]")
}

async fn health(ctx: Ctx) -> Result<()> {
    ctx.client::<VmAlertClient>()?.health().await?;
    Ok(())
}

async fn required_rules(ctx: Ctx) -> Result<()> {
    let vmalert = ctx.client::<VmAlertClient>()?;
    let cfg = config(&ctx)?;
    ensure!(
        !cfg.required_rules.is_empty(),
        "vmalert.required_rules is empty: name the rules that must exist"
    );
    let groups = vmalert.groups().await?;
    let missing: Vec<&String> = cfg
        .required_rules
        .iter()
        .filter(|r| find_rule(&groups, r).is_none())
        .collect();
    let present: Vec<&String> = cfg
        .required_rules
        .iter()
        .filter(|r| find_rule(&groups, r).is_some())
        .collect();
    let mut offenders = Vec::new();
    if !missing.is_empty() {
        let all: Vec<String> = groups
            .iter()
            .flat_map(|g| g.all_rules().map(move |r| format!("{}/{}", g.name, r.name)))
            .collect();
        offenders.push(format!(
            "rule(s) {missing:?} not found in vmalert; it has: {}",
            all.join(", ")
        ));
    }
    // A rule group evaluates once per interval: wait for each present rule's first evaluation
    // (the missing ones are reported with them, not instead of them).
    let longest = present
        .iter()
        .filter_map(|r| find_rule(&groups, r))
        .map(|(g, _)| g.interval)
        .fold(0.0, f64::max);
    let timeout = Duration::from_secs_f64(2.0 * longest + 10.0);
    let rules = ctx
        .wait_until(
            "every required rule evaluated at least once",
            timeout,
            || async {
                let groups = vmalert.groups().await?;
                let pending: Vec<&String> = present
                    .iter()
                    .copied()
                    .filter(|r| find_rule(&groups, r).is_none_or(|(_, rule)| !rule.evaluated()))
                    .collect();
                Ok::<_, VmAlertError>(if pending.is_empty() {
                    Check::Ready(groups)
                } else {
                    Check::Pending(format!("not evaluated yet: {pending:?}"))
                })
            },
        )
        .await?;
    let mut failing = Vec::new();
    for name in present {
        let Some((group, rule)) = find_rule(&rules, name) else {
            bail!("rule {name} disappeared from vmalert");
        };
        ctx.step(format_args!(
            "{}/{}: {} {}, for {} s, every {} s, severity {}, health {}, last evaluation {}",
            group.name,
            rule.name,
            rule.kind,
            rule.state,
            rule.duration,
            group.interval,
            rule.labels.get("severity").map_or("-", String::as_str),
            rule.health,
            rule.last_evaluation
        ));
        if rule.in_error() {
            failing.push(format!(
                "{}/{name}: health {} ({})",
                group.name, rule.health, rule.last_error
            ));
        }
    }
    // Required rules present and not in error, of all required.
    #[allow(clippy::cast_precision_loss)]
    ctx.measure(
        "alerts.required_rules_ok",
        (cfg.required_rules.len() - missing.len() - failing.len()) as f64,
        Some(cfg.required_rules.len() as f64),
    );
    if !failing.is_empty() {
        offenders.push(format!(
            "rule(s) failing to evaluate: {}",
            failing.join("; ")
        ));
    }
    ensure!(offenders.is_empty(), "{}", offenders.join("\n"));
    Ok(())
}

async fn probe_fires(ctx: Ctx) -> Result<()> {
    let vmalert = ctx.client::<VmAlertClient>()?;
    let vm = ctx.client::<carbon_victoriametrics::VmClient>()?;
    let cfg = config(&ctx)?;
    let rule_name = cfg.probe_rule.clone().context("vmalert.probe_rule")?;
    let groups = vmalert.groups().await?;
    let Some((group, rule)) = find_rule(&groups, &rule_name) else {
        bail!("probe rule {rule_name} (vmalert.probe_rule) not found in vmalert");
    };
    let (for_secs, interval) = (rule.duration, group.interval);
    ctx.step(format_args!(
        "{}/{rule_name}: `{}`, for {for_secs} s, every {interval} s",
        group.name, rule.query
    ));

    let run = ctx.run_id().to_string();
    let selector = format!(
        "{}{{{}=\"{run}\",{}=\"{}\"}}",
        cfg.probe_metric,
        carbon_core::naming::RUN_LABEL,
        carbon_core::naming::OWNER_LABEL,
        carbon_core::naming::OWNER
    );
    let (cleanup_vm, cleanup_selector) = (vm.clone(), selector.clone());
    ctx.defer_within(
        format!("delete series {selector}"),
        SERIES_CLEANUP + Duration::from_secs(5),
        async move {
            Ok(cleanup_vm
                .delete_series_settled(&cleanup_selector, SERIES_CLEANUP)
                .await?)
        },
    );
    // Stamped a minute back: VictoriaMetrics hides samples younger than its latency offset
    // (30 s by default) from queries at "now", and vmalert queries at now.
    let now_ms = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    vm.import_prometheus(&format!("{selector} 1 {}\n", now_ms - 60_000))
        .await?;
    let t0 = Instant::now();
    ctx.step(format_args!("wrote {selector} = 1"));

    let timeout =
        Duration::from_secs_f64(cfg.visibility_timeout_secs as f64 + for_secs + 2.0 * interval);
    let pending_seen: std::sync::Mutex<Option<Duration>> = std::sync::Mutex::new(None);
    let alert = ctx
        .wait_until_with(
            &format!("{rule_name} firing for e2e_run={run}"),
            timeout,
            FAST,
            || {
                let vmalert = vmalert.clone();
                let (rule_name, run) = (rule_name.clone(), run.clone());
                let pending_seen = &pending_seen;
                async move {
                    let alerts = vmalert.alerts().await?;
                    let mine = alerts
                        .into_iter()
                        .find(|a| a.name == rule_name && a.labels.get("e2e_run") == Some(&run));
                    Ok::<_, VmAlertError>(match mine {
                        Some(a) if a.state == "firing" => Check::Ready(a),
                        Some(a) => {
                            pending_seen
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(t0.elapsed());
                            Check::Pending(format!("{} since {}", a.state, a.active_at))
                        }
                        None => Check::Pending("no alert yet".to_string()),
                    })
                }
            },
        )
        .await?;
    let firing_after = t0.elapsed();
    let pending_seen = *pending_seen.lock().unwrap_or_else(|p| p.into_inner());
    ctx.step(format_args!(
        "pending seen after {}, firing after {:.2} s (active since {}, labels {:?})",
        pending_seen.map_or("-".to_string(), |d| format!("{:.2} s", d.as_secs_f64())),
        firing_after.as_secs_f64(),
        alert.active_at,
        alert.labels
    ));
    // It must not fire before its `for` has passed since it went pending.
    if let Some(pending) = pending_seen {
        let held = firing_after.saturating_sub(pending).as_secs_f64();
        ensure!(
            held + interval + 1.0 >= for_secs,
            "{rule_name} went firing {held:.2} s after pending, before its `for` of {for_secs} s"
        );
    } else if for_secs > 2.0 * interval {
        bail!(
            "{rule_name} was never seen pending, although its `for` ({for_secs} s) spans several evaluations ({interval} s)"
        );
    }
    ensure!(
        alert.labels.get("alertname") == Some(&rule_name),
        "the alert's labels lack alertname={rule_name}: {:?}",
        alert.labels
    );
    Ok(())
}
