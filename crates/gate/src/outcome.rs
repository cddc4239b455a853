//! One part of a gate category as the run shows it: measured, failed, not measured (not run,
//! or failed on infrastructure: the run could not look), or waived.

use crate::categories::Part;
use crate::run::{Run, Status, Trial};

/// A part's outcome.
pub(crate) struct PartOutcome {
    /// `(value, of)` when measured.
    pub(crate) measured: Option<(f64, Option<f64>)>,
    /// It failed: the trial and its cause.
    pub(crate) failed: Option<String>,
    /// It was not measured: why.
    pub(crate) unmeasured: Option<String>,
    /// Its failure is waived: it counts neither for nor against the category.
    pub(crate) waived: Vec<String>,
    pub(crate) trials: Vec<String>,
}

fn not_run_line(t: &Trial) -> String {
    match &t.status {
        Status::NotRun { kind } if t.line.is_empty() => format!("{}: {kind}", t.name),
        Status::NotRun { kind } if t.line.starts_with(kind.as_str()) => {
            format!("{}: {}", t.name, t.line)
        }
        Status::NotRun { kind } => format!("{}: {kind}: {}", t.name, t.line),
        _ => t.name.clone(),
    }
}

/// A trial that failed because the run could not look: its name, whose failure and its cause.
pub(crate) fn infrastructure_line(t: &Trial) -> String {
    format!(
        "{}: not measured, an {} failure: {}",
        t.name,
        t.failure.map_or_else(String::new, |f| f.describe()),
        t.line
    )
}

pub(crate) fn outcome(part: Part, run: &Run, waived: &[&str]) -> PartOutcome {
    let mut o = PartOutcome {
        measured: None,
        failed: None,
        unmeasured: None,
        waived: Vec::new(),
        trials: Vec::new(),
    };
    let is_waived = |t: &Trial| waived.contains(&t.name.as_str());
    if let Part::Suite { label, suite } = part {
        o.waived = run
            .trials
            .iter()
            .filter(|t| t.suite == suite && is_waived(t))
            .map(|t| t.name.clone())
            .collect();
        let ran: Vec<&Trial> = run
            .trials
            .iter()
            .filter(|t| t.suite == suite && t.ran() && !is_waived(t))
            .collect();
        o.trials = run
            .trials
            .iter()
            .filter(|t| t.suite == suite)
            .map(|t| t.name.clone())
            .collect();
        if let Some(f) = ran
            .iter()
            .find(|t| t.status == Status::Failed && !t.failed_on_infrastructure())
        {
            o.failed = Some(format!("{}: {}", f.name, f.line));
            o.measured = Some((0.0, Some(1.0)));
        } else if let Some(f) = ran.iter().find(|t| t.failed_on_infrastructure()) {
            o.unmeasured = Some(infrastructure_line(f));
        } else if ran.is_empty() && !o.waived.is_empty() {
            // Every trial of it that ran failed and is waived: nothing left to say.
        } else if ran.is_empty() {
            o.unmeasured = Some(if o.trials.is_empty() {
                format!("{label} ({suite}): no trial of the suite in the run")
            } else {
                format!("{label} ({suite}): none of its trials ran")
            });
        } else {
            o.measured = Some((1.0, Some(1.0)));
        }
        return o;
    }
    let name = part.trial().expect("every other part reads one trial");
    let Some(t) = run.trial(name) else {
        // A guard adds no value: its absence leaves nothing unmeasured.
        if !matches!(part, Part::Guard { .. }) {
            o.unmeasured = Some(format!("{name}: not in the run"));
        }
        return o;
    };
    o.trials.push(t.name.clone());
    if is_waived(t) {
        o.waived.push(t.name.clone());
        return o;
    }
    if t.failed_on_infrastructure() {
        // The run could not look: nothing measured, nothing failed.
        if !matches!(part, Part::Guard { .. }) {
            o.unmeasured = Some(infrastructure_line(t));
        }
        return o;
    }
    let failed = t.status == Status::Failed;
    if failed {
        o.failed = Some(format!("{}: {}", t.name, t.line));
    }
    match part {
        Part::Guard { .. } => {
            // Adds no value; not running it leaves nothing unmeasured.
        }
        Part::Measured { key, .. } => match t.measurement(key) {
            Some(m) => o.measured = Some((m.value, m.of)),
            None if failed => {}
            None if t.ran() => {
                o.unmeasured = Some(format!(
                    "{name}: ran but emitted no `{key}` measurement (a carbon-e2e older than the gate?)"
                ));
            }
            None => o.unmeasured = Some(not_run_line(t)),
        },
        Part::Unit { key, .. } => match t.measurement(key) {
            Some(m) => o.measured = Some((m.value, m.of.or(Some(1.0)))),
            None if failed => o.measured = Some((0.0, Some(1.0))),
            None if t.ran() => o.measured = Some((1.0, Some(1.0))),
            None => o.unmeasured = Some(not_run_line(t)),
        },
        Part::Suite { .. } => unreachable!("handled above"),
    }
    o
}
