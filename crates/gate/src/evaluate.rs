//! The readiness table, the score and the verdict: a pure function of a run and the settings.

use std::collections::BTreeMap;

use carbon_config::{FlakyPolicy, GateCategory, GateConfig, PlatformConfig, Target, Waiver};
use serde::Serialize;

use crate::categories::{Part, fed_by, parts};
use crate::outcome::{PartOutcome, infrastructure_line, outcome};
use crate::run::{Run, Status};

/// What the gate compares a category's measured value with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum Goal {
    /// The share, in percent, at least this.
    Percent(f64),
    /// The value (a count) at least this.
    AtLeast(f64),
}

/// A category's settings, resolved: weight, required, goal, and where the goal comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategorySettings {
    /// The category.
    #[serde(serialize_with = "ser_category")]
    pub category: GateCategory,
    /// Its weight in the readiness mean.
    pub weight: f64,
    /// Whether it must pass for GO.
    pub required: bool,
    /// Its goal.
    pub goal: Goal,
    /// The setting the goal comes from.
    pub goal_from: String,
}

fn ser_category<S: serde::Serializer>(c: &GateCategory, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.key())
}

/// Everything the gate decides with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Readiness at or above which the verdict may be GO.
    pub min_readiness: f64,
    /// Suites whose failures outside any required category do not block.
    pub optional_suites: Vec<String>,
    /// One per category, in table order.
    pub categories: Vec<CategorySettings>,
    /// What a trial that passed only on retry does to the verdict.
    pub flaky: FlakyPolicy,
    /// Whether a version that differs from the baseline's blocks.
    pub block_on_drift: bool,
    /// Accepted failures.
    pub waivers: Vec<Waiver>,
    /// The day (UTC) the waivers are judged on.
    #[serde(skip)]
    pub today: time::Date,
}

impl Settings {
    /// The settings of `[gate]`, with the goals `[platform]` holds (defaults where absent).
    pub fn new(gate: &GateConfig, platform: &PlatformConfig) -> Self {
        let categories = GateCategory::ALL
            .into_iter()
            .map(|c| {
                let (goal, goal_from) = match c {
                    GateCategory::PodHealth => (
                        Goal::Percent(platform.min_running_percent),
                        "[platform] min_running_percent".to_string(),
                    ),
                    #[allow(clippy::cast_precision_loss)]
                    GateCategory::Argocd => (
                        Goal::AtLeast(platform.min_argocd_healthy as f64),
                        "[platform] min_argocd_healthy".to_string(),
                    ),
                    GateCategory::RunningPods | GateCategory::Dashboards => (
                        Goal::AtLeast(gate.target(c).unwrap_or(1.0)),
                        format!("[gate.{}] target", c.key()),
                    ),
                    _ => (Goal::Percent(100.0), "all must pass".to_string()),
                };
                CategorySettings {
                    category: c,
                    weight: gate.weight(c),
                    required: gate.required(c),
                    goal,
                    goal_from,
                }
            })
            .collect();
        Self {
            min_readiness: gate.min_readiness,
            optional_suites: gate.optional_suites.clone(),
            categories,
            flaky: gate.flaky.unwrap_or(FlakyPolicy::Warn),
            block_on_drift: gate.block_on_drift,
            waivers: gate.waiver.clone(),
            today: time::OffsetDateTime::now_utc().date(),
        }
    }

    /// The settings of a loaded target (`[gate]` and `[platform]`, defaults where absent). A
    /// read-only target (production) fails on a flaky trial unless `[gate] flaky` says otherwise.
    pub fn from_target(target: &Target) -> Self {
        let gate = target.gate.clone().unwrap_or_default();
        let mut s = Self::new(&gate, &target.platform.clone().unwrap_or_default());
        if gate.flaky.is_none() && target.settings.mode() == carbon_config::Mode::ReadOnly {
            s.flaky = FlakyPolicy::Fail;
        }
        s
    }

    /// Judged on another day (tests, and re-gating an old run as of its day).
    #[must_use]
    pub fn on(mut self, today: time::Date) -> Self {
        self.today = today;
        self
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::new(&GateConfig::default(), &PlatformConfig::default())
    }
}

/// A category's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CategoryStatus {
    /// Measured, meets its goal, nothing of it failed.
    Pass,
    /// Below its goal, or a trial of it failed.
    Fail,
    /// Something of it was not measured (and nothing of it failed): never counted as a pass.
    Inconclusive,
    /// Every trial that would have measured it failed and is waived: left out of the score,
    /// not blocking, listed with its waivers.
    Waived,
}

/// One row of the readiness table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryResult {
    /// Its settings.
    #[serde(flatten)]
    pub settings: CategorySettings,
    /// Its status.
    pub status: CategoryStatus,
    /// The measured value (a sum over its parts), `None` when nothing was measured.
    pub value: Option<f64>,
    /// Out of how many, when the value is a share.
    pub of: Option<f64>,
    /// Its score, 0 to 1 (`None` when inconclusive): see the crate's formula.
    pub score: Option<f64>,
    /// The trials it came from (those the run holds).
    pub trials: Vec<String>,
    /// Its failed trials, one line each: the trial and its cause.
    pub failures: Vec<String>,
    /// Measured below its target: one line saying by how much and where the target is set.
    pub shortfall: Option<String>,
    /// Why it is inconclusive: what was not measured, one line each.
    pub unmeasured: Vec<String>,
    /// Its waived trials (their failures left out of it).
    pub waived: Vec<String>,
}

impl CategoryResult {
    /// The measured value as the table shows it: `412 of 420 (98.1 %)`, `112`, or `—`.
    pub fn measured(&self) -> String {
        measured_text(self.value, self.of)
    }

    /// The goal as the table shows it: `≥ 85 %`, `≥ 15`, `all`.
    pub fn target(&self) -> String {
        target_text(self.settings.goal)
    }
}

fn measured_text(value: Option<f64>, of: Option<f64>) -> String {
    match (value, of) {
        (Some(v), Some(of)) if of > 0.0 => {
            format!("{} of {} ({:.1} %)", num(v), num(of), v * 100.0 / of)
        }
        (Some(v), _) => num(v),
        (None, _) => "—".into(),
    }
}

/// A number without a needless `.0`.
pub(crate) fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Readiness at or above the minimum, every required category passed, no blocking failure.
    #[serde(rename = "GO")]
    Go,
    /// A blocking failure, or readiness below the minimum.
    #[serde(rename = "NO-GO")]
    NoGo,
    /// A required category (or every category) was not measured: no decision.
    #[serde(rename = "INCONCLUSIVE")]
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Go => "GO",
            Self::NoGo => "NO-GO",
            Self::Inconclusive => "INCONCLUSIVE",
        })
    }
}

/// Exit code: GO.
pub const EXIT_GO: u8 = 0;
/// Exit code: the run could not be gated (no JUnit, or one `validate` did not complete).
pub const EXIT_NOT_RUN: u8 = 2;
/// Exit code: NO-GO, a required check failed.
pub const EXIT_REQUIRED_FAILED: u8 = 3;
/// Exit code: NO-GO, readiness below `[gate] min_readiness`.
pub const EXIT_BELOW_READINESS: u8 = 4;
/// Exit code: INCONCLUSIVE.
pub const EXIT_INCONCLUSIVE: u8 = 5;

/// Per-suite counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SuiteCounts {
    /// Passed on the first attempt.
    pub passed: usize,
    /// Passed after a retry.
    pub flaky: usize,
    /// Failed.
    pub failed: usize,
    /// Not run, by kind (`skip`, `refused`, `live-only`, ...).
    pub not_run: BTreeMap<String, usize>,
}

/// A trial named in the report, with its one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    /// The trial.
    pub trial: String,
    /// Its cause, or why it did not run.
    pub line: String,
    /// For a trial not run: why (`skip`, `refused`, `live-only`, ...); for a failed one, whose
    /// failure (`infrastructure (network: ...)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A failed (or flaky) trial a waiver covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaivedTrial {
    /// The trial.
    pub trial: String,
    /// Its cause.
    pub line: String,
    /// The waiver's pattern, reason, owner and expiry.
    pub waiver: Waiver,
}

/// A waiver that did not apply: expired (blocking) or stale (matched no failure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaiverFinding {
    /// The waiver.
    pub waiver: Waiver,
    /// One line: what is wrong with it and what to do.
    pub line: String,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// The target the run was against.
    pub target: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Its exit code.
    pub exit_code: u8,
    /// Readiness, 0–100 rounded to one decimal (`None`: no category was conclusive).
    pub readiness: Option<f64>,
    /// The minimum for GO.
    pub min_readiness: f64,
    /// Why the verdict is not GO, blocking reasons first; one line each.
    pub reasons: Vec<String>,
    /// The readiness table.
    pub categories: Vec<CategoryResult>,
    /// Failed trials that do not block (a category that is not required, an optional suite).
    pub non_blocking_failures: Vec<Listed>,
    /// Trials that passed only on retry.
    pub flaky: Vec<Listed>,
    /// What a flaky trial does to the verdict.
    pub flaky_policy: FlakyPolicy,
    /// Failed or flaky trials a waiver covers: left out of the score, not blocking.
    pub waived: Vec<WaivedTrial>,
    /// Waivers past their expiry (each one blocks).
    pub expired_waivers: Vec<WaiverFinding>,
    /// Waivers that matched no failed or flaky trial: remove them.
    pub stale_waivers: Vec<WaiverFinding>,
    /// Trials that failed because the run could not look (runner, network, credentials, RBAC):
    /// not the platform's failures; a blocking one makes the verdict INCONCLUSIVE, not NO-GO.
    pub infrastructure: Vec<Listed>,
    /// Trials that did not run, with why.
    pub not_run: Vec<Listed>,
    /// Per suite.
    pub suites: BTreeMap<String, SuiteCounts>,
    /// What the run validated (its `run.json`), when it has one.
    pub manifest: Option<crate::Manifest>,
    /// The comparison with a baseline run (`gate --baseline`).
    pub baseline: Option<crate::diff::Comparison>,
}

/// Rounds to one decimal, so that a readiness exactly at the threshold compares as equal
/// whatever the floating-point noise.
fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn category(settings: &CategorySettings, run: &Run, waived: &[&str]) -> CategoryResult {
    let outcomes: Vec<PartOutcome> = parts(settings.category)
        .iter()
        .map(|p| outcome(*p, run, waived))
        .collect();
    let waived: Vec<String> = outcomes.iter().flat_map(|o| o.waived.clone()).collect();
    let failures: Vec<String> = outcomes.iter().filter_map(|o| o.failed.clone()).collect();
    let failed = !failures.is_empty();
    let unmeasured: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.unmeasured.clone())
        .collect();
    let measured: Vec<(f64, Option<f64>)> = outcomes.iter().filter_map(|o| o.measured).collect();
    let value = (!measured.is_empty()).then(|| measured.iter().map(|m| m.0).sum::<f64>());
    let of = (!measured.is_empty() && measured.iter().all(|m| m.1.is_some()))
        .then(|| measured.iter().filter_map(|m| m.1).sum::<f64>());
    // A measured part that failed without its measurement leaves the value incomplete.
    let failed_unmeasured = parts(settings.category)
        .iter()
        .zip(&outcomes)
        .any(|(p, o)| {
            matches!(p, Part::Measured { .. }) && o.failed.is_some() && o.measured.is_none()
        });
    let trials = outcomes.iter().flat_map(|o| o.trials.clone()).collect();

    let share = match (value, of) {
        (Some(v), Some(of)) if of > 0.0 => Some(v / of),
        _ => None,
    };
    let meets = match (settings.goal, value) {
        (Goal::Percent(p), Some(_)) => share.is_some_and(|s| round1(s * 100.0) >= p),
        (Goal::AtLeast(n), Some(v)) => v >= n,
        (_, None) => false,
    };
    let status = if failed || (unmeasured.is_empty() && value.is_some() && !meets) {
        CategoryStatus::Fail
    } else if unmeasured.is_empty() && value.is_none() && !waived.is_empty() {
        CategoryStatus::Waived
    } else if !unmeasured.is_empty() || value.is_none() {
        CategoryStatus::Inconclusive
    } else {
        CategoryStatus::Pass
    };
    let shortfall = (value.is_some() && !meets && !failed_unmeasured).then(|| {
        format!(
            "{}: measured {}, target {} ({})",
            settings.category,
            measured_text(value, of),
            target_text(settings.goal),
            settings.goal_from
        )
    });
    let score = match status {
        CategoryStatus::Inconclusive | CategoryStatus::Waived => None,
        _ if failed_unmeasured => Some(0.0),
        _ => Some(match (share, settings.goal, value) {
            (Some(s), _, _) => s.clamp(0.0, 1.0),
            (None, Goal::AtLeast(n), Some(v)) if n > 0.0 => (v / n).clamp(0.0, 1.0),
            _ => 0.0,
        }),
    };
    let mut unmeasured = unmeasured;
    if status == CategoryStatus::Inconclusive && unmeasured.is_empty() {
        unmeasured.push("no trial of it ran".into());
    }
    CategoryResult {
        settings: settings.clone(),
        status,
        value,
        of,
        score,
        trials,
        failures,
        shortfall,
        unmeasured,
        waived,
    }
}

fn target_text(goal: Goal) -> String {
    match goal {
        Goal::Percent(p) if p >= 100.0 => "all".into(),
        Goal::Percent(p) => format!("≥ {} %", num(p)),
        Goal::AtLeast(n) => format!("≥ {}", num(n)),
    }
}

/// Gates a run: the readiness table, the score and the verdict.
///
/// Readiness = 100 × Σ(weightᵢ × scoreᵢ) / Σ weightᵢ over the conclusive categories (pass or
/// fail) whose weight is above 0, rounded to one decimal. A category's score is its pass share
/// (value ÷ of), or for a count without a whole (running pods) value ÷ target, at most 1; a
/// category that failed without measuring scores 0. The verdict, in this order: NO-GO (exit 3)
/// when a failure blocks (a trial of a required category failed, a required category is below
/// its target, or a trial failed outside any category in a suite not listed in
/// `optional_suites`); INCONCLUSIVE (exit 5) when a required category is inconclusive, a
/// trial that would block failed on infrastructure (the run could not look:
/// `carbon_core::failure`), or no category is conclusive; NO-GO (exit 4) when readiness is below `min_readiness`; else GO
/// (exit 0).
pub fn evaluate(run: &Run, settings: &Settings) -> Evaluation {
    let expired = |w: &Waiver| w.expires_date().is_none_or(|e| e < settings.today);
    let mut waived = Vec::new();
    let mut matched = vec![(0usize, 0usize); settings.waivers.len()];
    for t in &run.trials {
        let mut covered = false;
        for (i, w) in settings.waivers.iter().enumerate() {
            if !w.matches(&t.name) {
                continue;
            }
            matched[i].0 += 1;
            if matches!(t.status, Status::Failed | Status::Flaky) {
                matched[i].1 += 1;
                if !covered && !expired(w) {
                    covered = true;
                    waived.push(WaivedTrial {
                        trial: t.name.clone(),
                        line: t.line.clone(),
                        waiver: w.clone(),
                    });
                }
            }
        }
    }
    let mut expired_waivers = Vec::new();
    let mut stale_waivers = Vec::new();
    for (w, (trials, failures)) in settings.waivers.iter().zip(&matched) {
        if expired(w) {
            expired_waivers.push(WaiverFinding {
                waiver: w.clone(),
                line: format!(
                    "waiver `{}` (owner {}: {}) expired on {}: fix the failure, or renew the waiver with a new date",
                    w.trial, w.owner, w.reason, w.expires
                ),
            });
        } else if *failures == 0 {
            stale_waivers.push(WaiverFinding {
                waiver: w.clone(),
                line: if *trials == 0 {
                    format!("waiver `{}` (owner {}) matched no trial of the run: remove it or fix its pattern", w.trial, w.owner)
                } else {
                    format!("waiver `{}` (owner {}) matched {trials} trial(s), none failed: remove it", w.trial, w.owner)
                },
            });
        }
    }
    let waived_names: Vec<&str> = waived.iter().map(|w| w.trial.as_str()).collect();
    let categories: Vec<CategoryResult> = settings
        .categories
        .iter()
        .map(|c| category(c, run, &waived_names))
        .collect();
    let required = |c: GateCategory| {
        settings
            .categories
            .iter()
            .any(|s| s.category == c && s.required)
    };

    let mut blocking = Vec::new();
    let mut infrastructure = Vec::new();
    let mut undecided = Vec::new();
    let mut non_blocking_failures = Vec::new();
    let mut flaky = Vec::new();
    let mut not_run = Vec::new();
    let mut suites: BTreeMap<String, SuiteCounts> = BTreeMap::new();
    for t in &run.trials {
        let counts = suites.entry(t.suite.clone()).or_default();
        let listed = |kind: Option<String>| Listed {
            trial: t.name.clone(),
            line: t.line.clone(),
            kind,
        };
        let is_waived = waived_names.contains(&t.name.as_str());
        match &t.status {
            Status::Passed => counts.passed += 1,
            Status::Flaky => {
                counts.flaky += 1;
                flaky.push(listed(None));
                if settings.flaky == FlakyPolicy::Fail && !is_waived {
                    blocking.push(format!(
                        "{}: flaky (passed only on retry; [gate] flaky = \"fail\"): {}",
                        t.name, t.line
                    ));
                }
            }
            Status::Failed if is_waived => counts.failed += 1,
            Status::NotRun { kind } => {
                *counts.not_run.entry(kind.clone()).or_default() += 1;
                not_run.push(listed(Some(kind.clone())));
            }
            Status::Failed => {
                counts.failed += 1;
                let fed = fed_by(&t.name, &t.suite);
                let blocks = if fed.is_empty() {
                    !settings.optional_suites.contains(&t.suite)
                } else {
                    fed.iter().any(|c| required(*c))
                };
                let class = t.failure.map(|f| f.describe());
                if t.failed_on_infrastructure() {
                    // Not the platform's: it leaves what it would have measured undecided.
                    if blocks {
                        undecided.push(infrastructure_line(t));
                    }
                    infrastructure.push(listed(class));
                } else if blocks {
                    blocking.push(format!("{}: {}", t.name, t.line));
                } else {
                    non_blocking_failures.push(listed(class));
                }
            }
        }
    }
    blocking.extend(expired_waivers.iter().map(|w| w.line.clone()));
    // A required category below its target without a failed trial of its own (a gate target
    // stricter than the check's, e.g. running pods made required) blocks too.
    for c in &categories {
        if c.settings.required
            && c.failures.is_empty()
            && let Some(s) = &c.shortfall
        {
            blocking.push(s.clone());
        }
    }

    let conclusive: Vec<&CategoryResult> = categories
        .iter()
        .filter(|c| c.score.is_some() && c.settings.weight > 0.0)
        .collect();
    let weights: f64 = conclusive.iter().map(|c| c.settings.weight).sum();
    let readiness = (weights > 0.0).then(|| {
        round1(
            100.0
                * conclusive
                    .iter()
                    .map(|c| c.settings.weight * c.score.unwrap_or(0.0))
                    .sum::<f64>()
                / weights,
        )
    });

    let mut reasons = blocking.clone();
    let inconclusive: Vec<&CategoryResult> = categories
        .iter()
        .filter(|c| c.settings.required && c.status == CategoryStatus::Inconclusive)
        .collect();
    for c in &inconclusive {
        reasons.push(format!(
            "{} (required) is inconclusive: {}",
            c.settings.category,
            c.unmeasured.join("; ")
        ));
    }
    // What an infrastructure failure left undecided, unless a category above says it already.
    for u in &undecided {
        if !reasons.iter().any(|r| r.contains(u.as_str())) {
            reasons.push(u.clone());
        }
    }
    if run.trials.is_empty() {
        reasons.push("the run holds no trial".into());
    }
    let below = readiness.is_some_and(|r| r < settings.min_readiness);
    match readiness {
        Some(r) if below => reasons.push(format!(
            "readiness {}/100 is below the minimum {} ([gate] min_readiness)",
            num(r),
            num(settings.min_readiness)
        )),
        None => reasons.push("no category was measured: no readiness".into()),
        _ => {}
    }
    let (verdict, exit_code) = if !blocking.is_empty() {
        (Verdict::NoGo, EXIT_REQUIRED_FAILED)
    } else if !inconclusive.is_empty() || !undecided.is_empty() || readiness.is_none() {
        (Verdict::Inconclusive, EXIT_INCONCLUSIVE)
    } else if below {
        (Verdict::NoGo, EXIT_BELOW_READINESS)
    } else {
        (Verdict::Go, EXIT_GO)
    };
    Evaluation {
        target: run.target.clone(),
        verdict,
        exit_code,
        readiness,
        min_readiness: settings.min_readiness,
        reasons,
        categories,
        non_blocking_failures,
        infrastructure,
        flaky,
        flaky_policy: settings.flaky,
        waived,
        expired_waivers,
        stale_waivers,
        not_run,
        suites,
        manifest: run.manifest.clone(),
        baseline: None,
    }
}
