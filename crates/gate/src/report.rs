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
        CategoryStatus::Waived => "waived",
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
                .chain(c.waived.iter().map(String::as_str))
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
    if !e.waived.is_empty() {
        let _ = writeln!(md, "## Waived (left out of the score)\n");
        let _ = writeln!(md, "| trial | cause | waiver | owner | reason | expires |");
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        for w in &e.waived {
            let _ = writeln!(
                md,
                "| `{}` | {} | `{}` | {} | {} | {} |",
                w.trial,
                cell(&w.line),
                cell(&w.waiver.trial),
                cell(&w.waiver.owner),
                cell(&w.waiver.reason),
                cell(&w.waiver.expires)
            );
        }
        md.push('\n');
    }
    for (title, list) in [
        ("Expired waivers (blocking)", &e.expired_waivers),
        ("Stale waivers", &e.stale_waivers),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(md, "## {title}\n");
        for w in list {
            let _ = writeln!(md, "- {}", cell(&w.line));
        }
        md.push('\n');
    }
    if let Some(c) = &e.baseline {
        baseline_md(&mut md, c);
    }
    let flaky_title = match e.flaky_policy {
        carbon_config::FlakyPolicy::Fail => {
            "Flaky (passed on retry; blocking: `[gate] flaky = \"fail\"`)"
        }
        carbon_config::FlakyPolicy::Warn => {
            "Flaky (passed on retry; not blocking: `[gate] flaky = \"warn\"`)"
        }
    };
    for (title, list) in [
        (
            "Infrastructure failures (the run could not look: runner, network, credentials, RBAC; not the platform's)",
            &e.infrastructure,
        ),
        ("Failures that do not block", &e.non_blocking_failures),
        (flaky_title, &e.flaky),
        ("Not run", &e.not_run),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(md, "## {title}\n");
        for l in list {
            match &l.kind {
                Some(k) if l.line.is_empty() || !l.line.starts_with(k.as_str()) => {
                    let _ = writeln!(md, "- `{}`: {}: {}", l.trial, cell(k), cell(&l.line));
                }
                _ => {
                    let _ = writeln!(md, "- `{}`: {}", l.trial, cell(&l.line));
                }
            }
        }
        md.push('\n');
    }
    if let Some(m) = &e.manifest {
        manifest_md(&mut md, m);
    }
    md
}

fn opt(v: Option<f64>) -> String {
    v.map_or("—".into(), num)
}

fn baseline_md(md: &mut String, c: &crate::diff::Comparison) {
    let _ = writeln!(md, "## Compared with the baseline {}\n", cell(&c.baseline));
    let _ = writeln!(
        md,
        "Readiness {} → {}; verdict {} → {}.\n",
        opt(c.readiness_before),
        opt(c.readiness_after),
        c.verdict_before,
        c.verdict_after
    );
    for (title, list) in [
        ("New failures", &c.new_failures),
        ("Fixed", &c.fixed),
        ("Still failing", &c.still_failing),
    ] {
        if !list.is_empty() {
            let _ = writeln!(md, "{title}:\n");
            for l in list {
                let _ = writeln!(md, "- {}", cell(l));
            }
            md.push('\n');
        }
    }
    if !c.categories.is_empty() {
        let _ = writeln!(md, "| metric | before | after |");
        let _ = writeln!(md, "|---|---|---|");
        for ch in &c.categories {
            let side = |st: CategoryStatus, sc: Option<f64>| {
                format!(
                    "{} ({})",
                    status(st),
                    sc.map_or("—".into(), |s| format!("{s:.2}"))
                )
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                ch.category,
                side(ch.before, ch.score_before),
                side(ch.after, ch.score_after)
            );
        }
        md.push('\n');
    }
    if c.drift.is_empty() {
        let _ = writeln!(md, "Versions: no drift from the baseline.\n");
    } else {
        let _ = writeln!(md, "Versions that differ from the baseline (drift):\n");
        for d in &c.drift {
            let _ = writeln!(md, "- {}", cell(&d.line()));
        }
        md.push('\n');
    }
}

fn manifest_md(md: &mut String, m: &crate::Manifest) {
    let _ = writeln!(md, "## What was validated\n");
    let _ = writeln!(
        md,
        "Run `{}` against `{}` ({}), {} to {}; carbon-e2e {}{}, {}.\n",
        m.run_id,
        cell(&m.target),
        m.tier,
        m.started,
        m.ended,
        m.carbon_e2e.version,
        m.carbon_e2e
            .commit
            .as_ref()
            .map_or(String::new(), |c| format!(" ({c})")),
        m.nextest.as_deref().unwrap_or("nextest version unknown")
    );
    if !m.components.versions.is_empty() {
        let _ = writeln!(md, "| component | version | read from |");
        let _ = writeln!(md, "|---|---|---|");
        for v in &m.components.versions {
            let version = match (&v.version, &v.error) {
                (Some(v), _) => v.clone(),
                (None, Some(e)) => format!("not read: {e}"),
                (None, None) => "not reported".into(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                v.component,
                cell(&version),
                cell(&v.source)
            );
        }
        md.push('\n');
    }
    if !m.components.images.is_empty() {
        let _ = writeln!(
            md,
            "<details><summary>{} workload images</summary>\n",
            m.components.images.len()
        );
        let _ = writeln!(md, "| workload | container | image |");
        let _ = writeln!(md, "|---|---|---|");
        for i in &m.components.images {
            let _ = writeln!(
                md,
                "| {}/{}/{} | {} | `{}` |",
                i.namespace, i.kind, i.name, i.container, i.image
            );
        }
        let _ = writeln!(md, "\n</details>\n");
    }
    if !m.components.argocd.is_empty() {
        let _ = writeln!(
            md,
            "| Application | target revision | synced revision | sync | health |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|");
        for a in &m.components.argocd {
            let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
            let _ = writeln!(
                md,
                "| {}/{} | {} | {} | {} | {} |",
                a.namespace,
                a.name,
                o(&a.target_revision),
                o(&a.synced_revision),
                o(&a.sync),
                o(&a.health)
            );
        }
        md.push('\n');
    }
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
    let mut notes: Vec<String> = Vec::new();
    for w in &e.waived {
        notes.push(format!(
            "waived: {} (waiver `{}`, owner {}, until {})",
            w.trial, w.waiver.trial, w.waiver.owner, w.waiver.expires
        ));
    }
    notes.extend(e.stale_waivers.iter().map(|w| format!("stale: {}", w.line)));
    for f in &e.flaky {
        notes.push(format!("flaky: {}: {}", f.trial, f.line));
    }
    for f in &e.infrastructure {
        notes.push(format!(
            "infrastructure: {}: {}: {}",
            f.trial,
            f.kind.as_deref().unwrap_or_default(),
            f.line
        ));
    }
    if let Some(c) = &e.baseline {
        notes.push(format!(
            "baseline {}: readiness {} → {}, {} new failure(s), {} fixed, {} version(s) differ",
            c.baseline,
            opt(c.readiness_before),
            opt(c.readiness_after),
            c.new_failures.len(),
            c.fixed.len(),
            c.drift.len()
        ));
        notes.extend(c.new_failures.iter().map(|l| format!("  new failure: {l}")));
        notes.extend(c.drift.iter().map(|d| format!("  drift: {}", d.line())));
    }
    if !notes.is_empty() {
        let _ = writeln!(t);
        for n in notes {
            let _ = writeln!(t, "{n}");
        }
    }
    let _ = write!(t, "\n{}", verdict_line(e));
    t
}

/// `carbon-e2e diff`'s output: the comparison as plain lines.
pub fn comparison_text(c: &crate::diff::Comparison) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "diff: baseline {}", c.baseline);
    let _ = writeln!(
        t,
        "readiness {} → {}; verdict {} → {}",
        opt(c.readiness_before),
        opt(c.readiness_after),
        c.verdict_before,
        c.verdict_after
    );
    for (title, list) in [
        ("new failure", &c.new_failures),
        ("fixed", &c.fixed),
        ("still failing", &c.still_failing),
    ] {
        for l in list {
            let _ = writeln!(t, "{title}: {l}");
        }
    }
    for ch in &c.categories {
        let _ = writeln!(
            t,
            "category {}: {} ({}) → {} ({})",
            ch.category,
            status(ch.before),
            ch.score_before.map_or("—".into(), |s| format!("{s:.2}")),
            status(ch.after),
            ch.score_after.map_or("—".into(), |s| format!("{s:.2}"))
        );
    }
    if c.drift.is_empty() {
        let _ = writeln!(t, "versions: no drift");
    }
    for d in &c.drift {
        let _ = writeln!(t, "drift: {}", d.line());
    }
    let _ = writeln!(
        t,
        "diff: {} new failure(s), {} fixed, {} category change(s), {} version(s) differ",
        c.new_failures.len(),
        c.fixed.len(),
        c.categories.len(),
        c.drift.len()
    );
    t
}
