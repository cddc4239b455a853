//! Two runs compared (`carbon-e2e diff A B`, `carbon-e2e gate --baseline DIR`): new and fixed
//! failures, the readiness and each category's score before and after, and the versions that
//! differ (drift), which `[gate] block_on_drift` can make blocking.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::evaluate::{CategoryStatus, EXIT_REQUIRED_FAILED, Evaluation, Verdict};
use crate::run::{Run, Status};

/// One category before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryChange {
    /// The category's key.
    pub category: String,
    /// Its status in the baseline.
    pub before: CategoryStatus,
    /// Its status now.
    pub after: CategoryStatus,
    /// Its score in the baseline.
    pub score_before: Option<f64>,
    /// Its score now.
    pub score_after: Option<f64>,
}

/// A version that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// What (`trino`, `image data-platform/deployment/trino/trino`, `argocd argocd/minio`).
    pub what: String,
    /// In the baseline (`None`: not reported there).
    pub before: Option<String>,
    /// Now.
    pub after: Option<String>,
}

impl Drift {
    /// Both runs report it and the values differ (not merely missing on one side).
    pub fn differs(&self) -> bool {
        self.before.is_some() && self.after.is_some()
    }

    /// One line: `trino: 476 → 475`.
    pub fn line(&self) -> String {
        let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not reported)".into());
        format!(
            "{}: {} → {}",
            self.what,
            side(&self.before),
            side(&self.after)
        )
    }
}

/// The comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The baseline run: its target and run id (or directory).
    pub baseline: String,
    /// Readiness in the baseline.
    pub readiness_before: Option<f64>,
    /// Readiness now.
    pub readiness_after: Option<f64>,
    /// The baseline's verdict (under the same settings).
    pub verdict_before: Verdict,
    /// The verdict now.
    pub verdict_after: Verdict,
    /// Failed now, not failed in the baseline (or absent from it): trial and cause.
    pub new_failures: Vec<String>,
    /// Failed in the baseline, passed now.
    pub fixed: Vec<String>,
    /// Failed in both.
    pub still_failing: Vec<String>,
    /// Each category whose status or score changed.
    pub categories: Vec<CategoryChange>,
    /// Versions, images and revisions that differ.
    pub drift: Vec<Drift>,
}

fn failed(run: &Run) -> BTreeMap<&str, &str> {
    run.trials
        .iter()
        .filter(|t| t.status == Status::Failed)
        .map(|t| (t.name.as_str(), t.line.as_str()))
        .collect()
}

/// Compares `after` with its baseline `before`; both evaluated with the same settings.
/// `versions_*` are [`crate::Manifest::versions`] (empty when a run has no `run.json`).
pub fn compare(
    baseline: &str,
    before: (&Run, &Evaluation, &BTreeMap<String, String>),
    after: (&Run, &Evaluation, &BTreeMap<String, String>),
) -> Comparison {
    let (run_b, eval_b, ver_b) = before;
    let (run_a, eval_a, ver_a) = after;
    let (failed_b, failed_a) = (failed(run_b), failed(run_a));
    let new_failures = failed_a
        .iter()
        .filter(|(n, _)| !failed_b.contains_key(*n))
        .map(|(n, l)| format!("{n}: {l}"))
        .collect();
    let fixed = failed_b
        .keys()
        .filter(|n| {
            !failed_a.contains_key(*n)
                && run_a
                    .trial(n)
                    .is_some_and(|t| matches!(t.status, Status::Passed | Status::Flaky))
        })
        .map(|n| (*n).to_string())
        .collect();
    let still_failing = failed_a
        .keys()
        .filter(|n| failed_b.contains_key(*n))
        .map(|n| (*n).to_string())
        .collect();
    let categories = eval_a
        .categories
        .iter()
        .filter_map(|a| {
            let b = eval_b
                .categories
                .iter()
                .find(|b| b.settings.category == a.settings.category)?;
            (a.status != b.status || a.score != b.score).then(|| CategoryChange {
                category: a.settings.category.key().to_string(),
                before: b.status,
                after: a.status,
                score_before: b.score,
                score_after: a.score,
            })
        })
        .collect();
    let mut drift = Vec::new();
    for (what, b) in ver_b {
        match ver_a.get(what) {
            Some(a) if a != b => drift.push(Drift {
                what: what.clone(),
                before: Some(b.clone()),
                after: Some(a.clone()),
            }),
            None if !ver_a.is_empty() => drift.push(Drift {
                what: what.clone(),
                before: Some(b.clone()),
                after: None,
            }),
            _ => {}
        }
    }
    if !ver_b.is_empty() {
        for (what, a) in ver_a {
            if !ver_b.contains_key(what) {
                drift.push(Drift {
                    what: what.clone(),
                    before: None,
                    after: Some(a.clone()),
                });
            }
        }
    }
    drift.sort_by(|x, y| x.what.cmp(&y.what));
    Comparison {
        baseline: baseline.to_string(),
        readiness_before: eval_b.readiness,
        readiness_after: eval_a.readiness,
        verdict_before: eval_b.verdict,
        verdict_after: eval_a.verdict,
        new_failures,
        fixed,
        still_failing,
        categories,
        drift,
    }
}

/// Adds the comparison to the evaluation. With `block_on_drift`, each version that differs
/// (reported by both runs, with different values) is a blocking reason: NO-GO, exit 3.
pub fn apply_baseline(e: &mut Evaluation, c: Comparison, block_on_drift: bool) {
    if block_on_drift {
        let blocking: Vec<String> = c
            .drift
            .iter()
            .filter(|d| d.differs())
            .map(|d| {
                format!(
                    "drift from the baseline {} ([gate] block_on_drift): {}",
                    c.baseline,
                    d.line()
                )
            })
            .collect();
        if !blocking.is_empty() {
            let at = e
                .reasons
                .iter()
                .position(|r| r.contains("is inconclusive") || r.starts_with("readiness "))
                .unwrap_or(e.reasons.len());
            for (i, r) in blocking.into_iter().enumerate() {
                e.reasons.insert(at + i, r);
            }
            e.verdict = Verdict::NoGo;
            e.exit_code = EXIT_REQUIRED_FAILED;
        }
    }
    e.baseline = Some(c);
}
