//! vmalert from Debian's `victoria-metrics` package (the same package as VictoriaMetrics and
//! vmagent), evaluating the stack's own equivalents of the platform's three alerts against the
//! stack's VictoriaMetrics, plus a probe rule the `alerts` suite makes fire with a sample.
//!
//! The platform's alerts watch pods; the stack's watch the processes vmagent scrapes
//! (`stack="carbon-e2e"`): a process that keeps restarting stands in for a pod in
//! CrashLoopBackOff, a scrape target down for five minutes for a service down, and a process
//! using over 80 % of the memory VictoriaMetrics reports as available for a container over 80 %
//! of its limit. vmalert 1.79 refuses to start alerting rules without a notifier; the stack has
//! no Alertmanager, so it gets an empty notifier list (alerts are read through vmalert's API).

use std::process::Command;

use crate::services::victoriametrics::VM_PORT;
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

pub(crate) const PORT: u16 = 18880;

/// The rules: group `carbon-e2e-platform` holds the plan's three alerts, group
/// `carbon-e2e-probe` the rule trials make fire (its series carries the run id, so each run's
/// alert is its own), and group `carbon-e2e-broken` a rule that fails to evaluate, the case
/// the mutation self test points the `alerts` suite at.
const RULES: &str = r#"# Written by carbon-e2e stack up.
groups:
  - name: carbon-e2e-platform
    interval: 15s
    rules:
      - alert: ServiceCrashLooping
        # The stack's CrashLoopBackOff: a service restarted more than twice in 15 minutes.
        expr: changes(process_start_time_seconds{stack="carbon-e2e"}[15m]) > 2
        labels:
          severity: critical
        annotations:
          summary: '{{ $labels.job }} restarted {{ $value }} times in 15 minutes'
      - alert: ServiceDown
        expr: up{stack="carbon-e2e"} == 0
        for: 5m
        labels:
          severity: critical
        annotations:
          summary: '{{ $labels.job }} ({{ $labels.instance }}) has been down for over 5 minutes'
      - alert: HighMemoryUsage
        expr: process_resident_memory_bytes{stack="carbon-e2e"} / on() group_left() max(vm_available_memory_bytes{stack="carbon-e2e"}) > 0.8
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: '{{ $labels.job }} uses over 80% of the available memory'
  - name: carbon-e2e-probe
    interval: 2s
    rules:
      - alert: CarbonE2eProbe
        # Fires for a sample a trial writes (carbon_e2e_alert_probe{e2e_run="<run id>"} 1).
        expr: carbon_e2e_alert_probe > 0
        for: 4s
        labels:
          severity: info
        annotations:
          summary: 'probe written by e2e run {{ $labels.e2e_run }}'
  - name: carbon-e2e-broken
    interval: 15s
    rules:
      - alert: CarbonE2eBrokenRule
        # Fails at every evaluation, as a rule whose query outgrew its labels does on a real
        # vmalert: every scraped process reduced to the same labelset. Only the mutation self
        # test asks for it (`vmalert.required_rules`); the platform's rules never include it.
        expr: label_keep(up{stack="carbon-e2e"}, "stack")
        labels:
          severity: info
"#;

/// The nightly's rules as shipped to platforms (`kind-config/monitoring/`), embedded: the local
/// stack loads the same file, with [`LOCAL_WINDOWS`] so that CI sees each rule fire within
/// seconds.
pub(crate) const NIGHTLY_RULES: &str =
    include_str!("../../../../kind-config/monitoring/carbon-e2e-rules.yml");

/// What the local copy of [`NIGHTLY_RULES`] shortens: evaluation every 2 s instead of every
/// minute, a `for` of 2 s instead of 1 min, and "no results" after 10 s instead of 26 h.
pub(crate) const LOCAL_WINDOWS: [(&str, &str); 3] = [
    ("interval: 1m", "interval: 2s"),
    ("for: 1m", "for: 2s"),
    ("> 26 * 3600", "> 10"),
];

/// [`NIGHTLY_RULES`] with the stack's short windows.
pub(crate) fn nightly_rules_local() -> String {
    LOCAL_WINDOWS
        .iter()
        .fold(NIGHTLY_RULES.to_string(), |text, (from, to)| {
            text.replace(from, to)
        })
}

pub(crate) struct VmAlert;

impl LocalServer for VmAlert {
    fn name(&self) -> &'static str {
        "vmalert"
    }

    fn role(&self) -> &'static str {
        "vmalert (alert rules over VictoriaMetrics)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["victoriametrics"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        crate::services::victoriametrics::install(stack)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let dir = stack.data_dir("vmalert");
        std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let nightly = nightly_rules_local();
        for (name, text) in [
            ("rules.yml", RULES),
            ("nightly-rules.yml", nightly.as_str()),
            (
                "notifiers.yml",
                "# Written by carbon-e2e stack up: no Alertmanager in the stack.\nstatic_configs:\n  - targets: []\n",
            ),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(io_err("write", &path))?;
        }
        Ok(())
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let dir = stack.data_dir("vmalert");
        let mut cmd = Command::new("/usr/bin/vmalert");
        cmd.arg(format!("-rule={}", dir.join("rules.yml").display()))
            .arg(format!("-rule={}", dir.join("nightly-rules.yml").display()))
            .arg(format!(
                "-notifier.config={}",
                dir.join("notifiers.yml").display()
            ))
            .arg(format!("-datasource.url=http://127.0.0.1:{VM_PORT}"))
            .arg(format!("-httpListenAddr=127.0.0.1:{PORT}"))
            .arg(format!("-external.url=http://127.0.0.1:{PORT}"));
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{PORT}/health"),
            contains: Some("OK"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each shortening applies (a rule file edited so that one no longer matches would leave
    /// the stack with the platform's windows, and CI would wait a day for an alert).
    #[test]
    fn the_local_copy_shortens_every_window() {
        for (from, to) in LOCAL_WINDOWS {
            assert!(
                NIGHTLY_RULES.contains(from),
                "the rule file has no `{from}`"
            );
            assert!(nightly_rules_local().contains(to));
        }
        let local = nightly_rules_local();
        for (from, _) in LOCAL_WINDOWS {
            assert!(!local.contains(from), "`{from}` left in the local copy");
        }
    }
}
