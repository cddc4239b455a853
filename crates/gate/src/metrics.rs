//! A finished run as metrics, for the platform's own VictoriaMetrics (`validate --gate
//! --push-results`): written in the Prometheus text format through `/api/v1/import/prometheus`,
//! every sample at the run's end. Labels are bounded: `target`, `suite`, `trial`, `tier`,
//! `category`, `verdict`, `component`, `version`; the run id is only on `carbon_e2e_run_info`,
//! so each trial is one series per target whatever the number of runs.
//!
//! None of these carries the ownership label (`e2e_owner`) the reaper looks for: pushed
//! results are history, never a run's leftover.
//!
//! [`METRICS`] is the one list of what is written: the shipped rule file and dashboard
//! (`kind-config/monitoring/`) may use no other `carbon_e2e_*` name, which a test checks.

use std::fmt::Write as _;

use crate::{Evaluation, Run, Status, Verdict};

/// Every metric a push writes, with its help text.
pub const METRICS: [(&str, &str); 9] = [
    (
        "carbon_e2e_trial_success",
        "1 when the trial passed (first attempt or after a retry), 0 when it failed; absent when it did not run",
    ),
    (
        "carbon_e2e_trial_duration_seconds",
        "How long the trial took (its last attempt)",
    ),
    (
        "carbon_e2e_trial_flaky",
        "1 when the trial passed only after a retry",
    ),
    (
        "carbon_e2e_readiness_score",
        "The gate's readiness, 0 to 100: category=\"overall\", or one category's score",
    ),
    (
        "carbon_e2e_gate_verdict",
        "1 for the run's verdict (go, no-go, inconclusive), 0 for the others",
    ),
    (
        "carbon_e2e_run_info",
        "1, labelled with the run id (run) and the carbon-e2e version (carbon_e2e_version)",
    ),
    (
        "carbon_e2e_component_info",
        "1 per component, labelled with the version its server reports",
    ),
    (
        "carbon_e2e_last_run_timestamp_seconds",
        "When the run ended (unix seconds): alerts on a nightly that stopped reporting",
    ),
    (
        "carbon_e2e_run_failures",
        "How many of the run's trials failed, by class: infrastructure (the run could not look) or platform",
    ),
];

/// The labels whose names begin like a metric's.
const LABELS: [&str; 1] = ["carbon_e2e_version"];

/// What a push needs beyond the run and its evaluation.
#[derive(Debug, Clone)]
pub struct PushFacts<'a> {
    /// The target's name (the `target` label).
    pub target: &'a str,
    /// The run id (only on `carbon_e2e_run_info`).
    pub run_id: &'a str,
    /// carbon-e2e's version.
    pub version: &'a str,
    /// When the run ended, unix milliseconds: every sample's timestamp.
    pub ended_ms: i64,
}

/// The verdict as a label value.
pub fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Go => "go",
        Verdict::NoGo => "no-go",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// The run in the Prometheus text format, every sample at `facts.ended_ms`. Only a suite's
/// trials are written (the workspace's own tests are not the platform's results).
pub fn exposition(run: &Run, e: &Evaluation, facts: &PushFacts<'_>) -> String {
    let mut out = String::new();
    let at = facts.ended_ms;
    let target = facts.target;
    let mut sample = |name: &str, labels: &[(&str, &str)], value: f64| {
        let mut text = format!("{name}{{target=\"{}\"", escape(target));
        for (k, v) in labels {
            let _ = write!(text, ",{k}=\"{}\"", escape(v));
        }
        let _ = writeln!(out, "{text}}} {value} {at}");
    };
    for t in run.trials.iter().filter(|t| !t.tier.is_empty()) {
        let success = match t.status {
            Status::Passed | Status::Flaky => 1.0,
            Status::Failed => 0.0,
            Status::NotRun { .. } => continue,
        };
        let behaviour = t.name.rsplit("::").next().unwrap_or(&t.name);
        let labels = [
            ("suite", t.suite.as_str()),
            ("trial", behaviour),
            ("tier", t.tier.as_str()),
        ];
        sample(METRICS[0].0, &labels, success);
        if let Some(d) = t.duration_secs {
            sample(METRICS[1].0, &labels, (d * 1000.0).round() / 1000.0);
        }
        let flaky = if t.status == Status::Flaky { 1.0 } else { 0.0 };
        sample(METRICS[2].0, &labels, flaky);
    }
    if let Some(r) = e.readiness {
        sample(METRICS[3].0, &[("category", "overall")], r);
    }
    for c in &e.categories {
        if let Some(score) = c.score {
            let value = (score * 1000.0).round() / 10.0;
            sample(
                METRICS[3].0,
                &[("category", c.settings.category.key())],
                value,
            );
        }
    }
    for v in [Verdict::Go, Verdict::NoGo, Verdict::Inconclusive] {
        let value = if v == e.verdict { 1.0 } else { 0.0 };
        sample(METRICS[4].0, &[("verdict", verdict_label(v))], value);
    }
    sample(
        METRICS[5].0,
        &[("run", facts.run_id), ("carbon_e2e_version", facts.version)],
        1.0,
    );
    if let Some(m) = &e.manifest {
        for c in &m.components.versions {
            if let Some(version) = &c.version {
                sample(
                    METRICS[6].0,
                    &[("component", c.component.as_str()), ("version", version)],
                    1.0,
                );
            }
        }
    }
    #[allow(clippy::cast_precision_loss)] // seconds since the epoch fit an f64 exactly
    let ended = (at / 1000) as f64;
    sample(METRICS[7].0, &[], ended);
    let failed: Vec<&crate::Trial> = run
        .trials
        .iter()
        .filter(|t| !t.tier.is_empty() && t.status == Status::Failed)
        .collect();
    let infrastructure = failed
        .iter()
        .filter(|t| t.failed_on_infrastructure())
        .count();
    #[allow(clippy::cast_precision_loss)] // a count of trials
    for (class, n) in [
        ("infrastructure", infrastructure),
        ("platform", failed.len() - infrastructure),
    ] {
        sample(METRICS[8].0, &[("class", class)], n as f64);
    }
    out
}

/// A label value as the text format writes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Every `carbon_e2e_*` metric name `text` uses (a rule file, a dashboard's queries); a label
/// matcher of such a name is not one.
pub fn names_used(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("carbon_e2e_") {
        let before = rest[..i].chars().next_back();
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        // A label (`carbon_e2e_version`, in a matcher or a `by (…)`) is not a metric.
        let label = LABELS.contains(&&tail[..end]);
        // `carbon_e2e_*` in prose names no metric.
        let whole = end > "carbon_e2e_".len();
        if whole && !label && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Settings, Trial, evaluate};

    fn run() -> Run {
        let mut passed = Trial::new(
            "minio::smoke::bucket_answers",
            Status::Passed,
            String::new(),
        );
        passed.duration_secs = Some(0.25);
        Run {
            target: "staging".into(),
            trials: vec![
                passed,
                Trial::new("trino::full::round_trip", Status::Failed, "boom"),
                Trial::new("loki::smoke::ready", Status::Flaky, "once"),
                Trial::new(
                    "grafana::smoke::health",
                    Status::NotRun {
                        kind: "live-only".into(),
                    },
                    "live only",
                ),
                Trial::new("carbon-config", Status::Passed, String::new()),
            ],
            manifest: None,
        }
    }

    #[test]
    fn each_trial_that_ran_is_one_series_without_the_run_id() {
        let r = run();
        let e = evaluate(&r, &Settings::default());
        let text = exposition(
            &r,
            &e,
            &PushFacts {
                target: "staging",
                run_id: "ab12cd34",
                version: "0.1.0",
                ended_ms: 1_700_000_000_000,
            },
        );
        let lines: Vec<&str> = text.lines().collect();
        let has = |want: &str| lines.contains(&want);
        assert!(
            has(
                "carbon_e2e_trial_success{target=\"staging\",suite=\"minio\",trial=\"bucket_answers\",tier=\"smoke\"} 1 1700000000000"
            ),
            "{text}"
        );
        assert!(
            has(
                "carbon_e2e_trial_success{target=\"staging\",suite=\"trino\",trial=\"round_trip\",tier=\"full\"} 0 1700000000000"
            ),
            "{text}"
        );
        assert!(
            has(
                "carbon_e2e_trial_flaky{target=\"staging\",suite=\"loki\",trial=\"ready\",tier=\"smoke\"} 1 1700000000000"
            ),
            "{text}"
        );
        assert!(
            has(
                "carbon_e2e_trial_duration_seconds{target=\"staging\",suite=\"minio\",trial=\"bucket_answers\",tier=\"smoke\"} 0.25 1700000000000"
            ),
            "{text}"
        );
        assert!(
            has("carbon_e2e_gate_verdict{target=\"staging\",verdict=\"no-go\"} 1 1700000000000"),
            "{text}"
        );
        assert!(
            has("carbon_e2e_gate_verdict{target=\"staging\",verdict=\"go\"} 0 1700000000000"),
            "{text}"
        );
        assert!(
            has(
                "carbon_e2e_last_run_timestamp_seconds{target=\"staging\"} 1700000000 1700000000000"
            ),
            "{text}"
        );
        // The failed trial carries no class (a runner older than the classification): the
        // platform's.
        assert!(
            has("carbon_e2e_run_failures{target=\"staging\",class=\"platform\"} 1 1700000000000")
                && has(
                    "carbon_e2e_run_failures{target=\"staging\",class=\"infrastructure\"} 0 1700000000000"
                ),
            "{text}"
        );
        // Not run, or not a suite's trial: nothing written.
        assert!(
            !text.contains("grafana") && !text.contains("carbon-config"),
            "{text}"
        );
        // The run id only on the info series.
        for l in &lines {
            assert_eq!(
                l.contains("ab12cd34"),
                l.starts_with("carbon_e2e_run_info"),
                "{l}"
            );
        }
        // Every name written is in METRICS.
        let known: Vec<&str> = METRICS.iter().map(|(n, _)| *n).collect();
        for name in names_used(&text) {
            assert!(known.contains(&name.as_str()), "{name} is not in METRICS");
        }
    }

    /// The shipped rule file and board use only names a push writes: a renamed metric would
    /// leave an alert that never fires and a panel that never shows data.
    #[test]
    fn the_shipped_rules_and_board_use_only_names_a_push_writes() {
        let known: Vec<&str> = METRICS.iter().map(|(n, _)| *n).collect();
        for (file, text) in [
            (
                "carbon-e2e-rules.yml",
                include_str!("../../../kind-config/monitoring/carbon-e2e-rules.yml"),
            ),
            (
                "carbon-e2e-nightly.json",
                include_str!("../../../kind-config/monitoring/carbon-e2e-nightly.json"),
            ),
        ] {
            let used = names_used(text);
            assert!(!used.is_empty(), "{file} uses no carbon_e2e_* metric");
            for name in used {
                assert!(
                    known.contains(&name.as_str()),
                    "{file} uses {name}, which no push writes (METRICS)"
                );
            }
        }
    }

    #[test]
    fn names_used_finds_whole_names_only() {
        let used = names_used(
            "rate(carbon_e2e_trial_success{x=\"1\"}[1h]) + my_carbon_e2e_x + x{carbon_e2e_version=\"1\"}",
        );
        assert_eq!(
            used.into_iter().collect::<Vec<_>>(),
            vec!["carbon_e2e_trial_success".to_string()]
        );
    }
}
