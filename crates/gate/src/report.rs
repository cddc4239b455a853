//! The gate's reports: `report.md` (reads well rendered and in a terminal), `report.json`
//! (the same for machines, with a schema version), and the console's table.

use std::fmt::Write as _;

use crate::evaluate::{CategoryResult, CategoryStatus, Evaluation, num};

/// The version of `report.json`'s layout; raised whenever a field changes meaning or goes.
pub const SCHEMA_VERSION: u32 = 1;

fn status(s: CategoryStatus) -> &'static str {
    match s {
        CategoryStatus::Pass => "pass",
        CategoryStatus::Fail => "FAIL",
        CategoryStatus::Inconclusive => "inconclusive",
    }
}

fn readiness(e: &Evaluation) -> String {
    e.readiness
        .map_or("—".into(), |r| format!("{}/100", num(r)))
}

/// The verdict line, the console's last: verdict, readiness and exit code.
pub fn verdict_line(e: &Evaluation) -> String {
    format!(
        "gate: {} (readiness {}, minimum {}; exit code {})",
        e.verdict,
        readiness(e),
        num(e.min_readiness),
        e.exit_code
    )
}

/// `report.json`: the evaluation with `schema_version`.
pub fn json(e: &Evaluation) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("schema_version".into(), SCHEMA_VERSION.into());
    }
    v
}

/// Pipes in a cell would end it.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// One category's row, the same in `report.md` and on the console: metric, measured, target,
/// status, score, weight, required.
fn row(c: &CategoryResult) -> [String; 7] {
    [
        c.settings.category.to_string(),
        c.measured(),
        c.target(),
        status(c.status).to_string(),
        c.score.map_or("—".into(), |s| format!("{s:.2}")),
        num(c.settings.weight),
        (if c.settings.required { "yes" } else { "no" }).to_string(),
    ]
}

/// `report.md`.
pub fn markdown(e: &Evaluation) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Acceptance gate: {} — **{}**\n", e.target, e.verdict);
    let _ = writeln!(
        md,
        "Readiness **{}** (minimum {}); exit code {}.\n",
        readiness(e),
        num(e.min_readiness),
        e.exit_code
    );
    if !e.reasons.is_empty() {
        let _ = writeln!(md, "## Why\n");
        for r in &e.reasons {
            let _ = writeln!(md, "- {}", cell(r));
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Readiness\n");
    let _ = writeln!(
        md,
        "| metric | measured | target | status | score | weight | required |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for c in &e.categories {
        let cells = row(c).map(|v| cell(&v));
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md.push('\n');
    let _ = writeln!(
        md,
        "Readiness = 100 × Σ(weight × score) ÷ Σ weight over the categories that are not \
         inconclusive; a score is the pass share (or a count ÷ its target), at most 1.\n"
    );
    let details: Vec<_> = e
        .categories
        .iter()
        .filter(|c| c.status != CategoryStatus::Pass)
        .collect();
    if !details.is_empty() {
        let _ = writeln!(md, "### Not passed\n");
        for c in details {
            let _ = writeln!(md, "- **{}** ({})", c.settings.category, status(c.status));
            for l in c
                .failures
                .iter()
                .chain(&c.shortfall)
                .map(String::as_str)
                .chain(c.unmeasured.iter().map(String::as_str))
            {
                let _ = writeln!(md, "  - {}", cell(l));
            }
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Suites\n");
    let _ = writeln!(md, "| suite | passed | failed | flaky | not run |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    for (suite, n) in &e.suites {
        let not_run = if n.not_run.is_empty() {
            "0".to_string()
        } else {
            n.not_run
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            md,
            "| {suite} | {} | {} | {} | {not_run} |",
            n.passed, n.failed, n.flaky
        );
    }
    md.push('\n');
    for (title, list) in [
        ("Failures that do not block", &e.non_blocking_failures),
        ("Flaky (passed on retry)", &e.flaky),
        ("Not run", &e.not_run),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(md, "## {title}\n");
        for l in list {
            let _ = writeln!(md, "- `{}`: {}", l.trial, cell(&l.line));
        }
        md.push('\n');
    }
    md
}

/// The console's table and verdict; the last line is [`verdict_line`].
pub fn text(e: &Evaluation) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\n{:<22} {:<28} {:<8} {:<13} {:>5} {:>6}  required",
        "metric", "measured", "target", "status", "score", "weight"
    );
    for c in &e.categories {
        let [category, measured, target, state, score, weight, required] = row(c);
        let _ = writeln!(
            t,
            "{category:<22} {measured:<28} {target:<8} {state:<13} {score:>5} {weight:>6}  {required}"
        );
    }
    if !e.reasons.is_empty() {
        let _ = writeln!(t, "\nwhy:");
        for r in &e.reasons {
            let _ = writeln!(t, "  {r}");
        }
    }
    let _ = write!(t, "\n{}", verdict_line(e));
    t
}
