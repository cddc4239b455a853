//! What a trial will do on a target, decided from the target file alone (no network): run it,
//! skip it (service not configured), refuse it (policy), or report it live-only.

use carbon_config::{Mode, Target};
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
    services.extend(def.capabilities.iter().map(|c| c.service().section()));
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
    if let (Some(why), true) = (live_only, t.settings.uses_local_stack()) {
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
    for capability in &def.capabilities {
        if let Err(reason) = t.capability_available(*capability) {
            return (Status::Skip, reason);
        }
    }
    (Status::Run, String::new())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use carbon_config::{Env, Paths, Service, Target};
    use rstest::rstest;

    use super::*;
    use crate::Tier;

    fn target(kind: &str, extra: &str) -> (tempfile::TempDir, Target) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            format!(
                "[target]\nkind = \"{kind}\"\n{extra}\n\n[victoriametrics]\nurl = \"http://127.0.0.1:1\"\nup_selector = \"up\"\nmin_up_targets = 1\n"
            ),
        )
        .expect("write");
        let paths = Paths {
            targets: dir.path().to_path_buf(),
            stack: dir.path().join("stack"),
            cache: dir.path().join("cache"),
        };
        let t = carbon_config::load_from_file(&path, &Env::default(), &paths).expect("loads");
        (dir, t)
    }

    fn trial(services: &'static [Service], writes: bool, opt_in: Option<&'static str>) -> TrialDef {
        TrialDef {
            tier: Tier::Full,
            behaviour: "b",
            services,
            capabilities: Vec::new(),
            writes: writes.then_some(Writes {
                creates: "a thing",
                cleanup: "deleted",
            }),
            opt_in,
            body: Arc::new(|_| Box::pin(async { Ok(()) })),
        }
    }

    const VM: &[Service] = &[Service::VictoriaMetrics];
    const TRINO: &[Service] = &[Service::Trino];

    #[rstest]
    #[case::reads_on_a_cluster("cluster", "", false, None, None, Status::Run)]
    #[case::writes_on_a_default_cluster("cluster", "", true, None, None, Status::Refused)]
    #[case::writes_on_a_read_write_cluster(
        "cluster",
        "mode = \"read-write\"",
        true,
        None,
        None,
        Status::Run
    )]
    #[case::writes_on_a_read_only_local(
        "local",
        "mode = \"read-only\"",
        true,
        None,
        None,
        Status::Refused
    )]
    #[case::heavy_without_opt_in(
        "cluster",
        "mode = \"read-write\"",
        false,
        Some("heavy-query"),
        None,
        Status::Refused
    )]
    #[case::heavy_with_opt_in(
        "cluster",
        "opt_in = [\"heavy-query\"]",
        false,
        Some("heavy-query"),
        None,
        Status::Run
    )]
    #[case::heavy_on_local("local", "", false, Some("heavy-query"), None, Status::Run)]
    #[case::live_only_on_local("local", "", false, None, Some("AGPL"), Status::LiveOnly)]
    #[case::live_only_on_a_cluster_runs("cluster", "", false, None, Some("AGPL"), Status::Run)]
    fn policy_decides_before_configuration(
        #[case] kind: &str,
        #[case] extra: &str,
        #[case] writes: bool,
        #[case] opt_in: Option<&'static str>,
        #[case] live_only: Option<&'static str>,
        #[case] expected: Status,
    ) {
        let (_d, t) = target(kind, extra);
        let p = plan("s", live_only, &trial(VM, writes, opt_in), Some(&t));
        assert_eq!(p.status, expected, "{}", p.reason);
        assert_eq!(p.reason.is_empty(), expected == Status::Run);
    }

    #[test]
    fn an_unconfigured_service_is_a_skip_that_strict_mode_runs_but_policy_never_does() {
        let (_d, t) = target("cluster", "");
        let p = plan("s", None, &trial(TRINO, false, None), Some(&t));
        assert_eq!(p.status, Status::Skip);
        assert!(p.reason.contains("trino is not configured"), "{}", p.reason);
        assert!(Status::Skip.ignored(false) && !Status::Skip.ignored(true));
        assert!(Status::Refused.ignored(true) && Status::LiveOnly.ignored(true));
        // A refused trial reports the refusal, never the missing section behind it.
        let p = plan("s", None, &trial(TRINO, true, None), Some(&t));
        assert_eq!(p.status, Status::Refused);
        assert!(
            Status::Refused
                .not_run_message(&p.reason)
                .is_some_and(|m| m.contains("nothing was sent"))
        );
    }
}
