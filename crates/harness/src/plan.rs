//! What a trial will do on a target, decided from the target file alone (no network): run it,
//! skip it (service not configured), refuse it (policy), or report it live-only.

use carbon_config::{Mode, Target, TargetKind};
use serde_json::json;

use crate::TrialDef;

/// A trial's blast radius: what it creates and how that is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writes {
    /// What the trial creates, where, named how.
    pub creates: &'static str,
    /// How its cleanup removes that.
    pub cleanup: &'static str,
}

/// Whether a trial runs on this target, and if not, why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It runs.
    Run,
    /// Its service is not configured: ignored (nextest SKIP); strict mode runs it, and it fails.
    Skip,
    /// The target's policy forbids it (read-only mode, or a heavy trial not opted in to):
    /// ignored in every mode, and never sends a request.
    Refused,
    /// It cannot run on this kind of target by design (e.g. Grafana on the local stack):
    /// ignored in every mode, never reported as passed.
    LiveOnly,
    /// The target could not be loaded: the trial runs and fails, loudly.
    BrokenTarget,
}

impl Status {
    /// As shown in plans and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Run => "run",
            Status::Skip => "skip",
            Status::Refused => "refused",
            Status::LiveOnly => "live-only",
            Status::BrokenTarget => "broken-target",
        }
    }

    /// Whether nextest is told the trial is ignored: strict mode runs skipped trials, so that
    /// they fail with their reason; refused and live-only trials are never run.
    pub fn ignored(self, strict: bool) -> bool {
        match self {
            Status::Skip => !strict,
            Status::Refused | Status::LiveOnly => true,
            Status::Run | Status::BrokenTarget => false,
        }
    }

    /// The failure a trial reports instead of running, when it must not run.
    pub fn not_run_message(self, reason: &str) -> Option<String> {
        match self {
            Status::Run | Status::BrokenTarget => None,
            Status::Skip => Some(format!(
                "not run: {reason}; strict mode (E2E_STRICT=1) or an explicit run turns this skip into a failure"
            )),
            Status::Refused => Some(format!("refused by policy, nothing was sent: {reason}")),
            Status::LiveOnly => Some(format!("live-only, not run on this target: {reason}")),
        }
    }
}

/// One trial's plan.
#[derive(Debug, Clone)]
pub struct TrialPlan {
    /// `<suite>::<tier>::<behaviour>`.
    pub name: String,
    /// What happens to it on this target.
    pub status: Status,
    /// Why, when it does not run.
    pub reason: String,
    /// The target sections it needs.
    pub services: Vec<&'static str>,
    /// What it writes, if anything.
    pub writes: Option<Writes>,
    /// The opt-in kind it needs, if heavy or disruptive.
    pub opt_in: Option<&'static str>,
}

impl TrialPlan {
    /// One JSON object (`E2E_PLAN=1` output, read by `carbon-e2e validate --plan`).
    pub fn to_json(&self) -> String {
        json!({
            "trial": self.name,
            "status": self.status.as_str(),
            "reason": self.reason,
            "services": self.services,
            "creates": self.writes.map(|w| w.creates),
            "cleanup": self.writes.map(|w| w.cleanup),
            "opt_in": self.opt_in,
        })
        .to_string()
    }
}

pub(crate) fn plan(
    suite: &str,
    live_only: Option<&'static str>,
    def: &TrialDef,
    target: Option<&Target>,
) -> TrialPlan {
    let mut services: Vec<&'static str> = def.services.iter().map(|s| s.section()).collect();
    services.dedup();
    let (status, reason) = match target {
        None => (
            Status::BrokenTarget,
            "the target cannot be loaded".to_string(),
        ),
        Some(t) => decide(live_only, def, t),
    };
    TrialPlan {
        name: format!("{suite}::{}::{}", def.tier.as_str(), def.behaviour),
        status,
        reason,
        services,
        writes: def.writes,
        opt_in: def.opt_in,
    }
}

fn decide(live_only: Option<&'static str>, def: &TrialDef, t: &Target) -> (Status, String) {
    if let (Some(why), TargetKind::Local) = (live_only, t.settings.kind) {
        return (Status::LiveOnly, why.to_string());
    }
    if let (Some(w), Mode::ReadOnly) = (&def.writes, t.settings.mode()) {
        return (
            Status::Refused,
            format!(
                "target `{}` is read-only (target.mode) and this trial writes: {}",
                t.name, w.creates
            ),
        );
    }
    if let Some(kind) = def.opt_in
        && !t.settings.allows(kind)
    {
        return (
            Status::Refused,
            format!(
                "this trial is {kind} and target `{}` does not opt in to it (add \"{kind}\" to target.opt_in)",
                t.name
            ),
        );
    }
    for service in def.services {
        if let Err(reason) = t.service_configured(*service) {
            return (Status::Skip, reason);
        }
    }
    (Status::Run, String::new())
}
