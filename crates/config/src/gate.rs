//! `[gate]`: the acceptance gate's settings (readiness threshold, and per category its weight,
//! whether it is required, and its target where no other section already sets one).
//!
//! The categories follow the platform plan's "Success Metrics" table. Where `[platform]`
//! already holds a category's threshold, the gate reads it there and refuses a `target` of its
//! own, so one number decides both the check and the readiness table:
//! pod health is `[platform] min_running_percent`, ArgoCD is `[platform] min_argocd_healthy`.
//! Critical services, alerts, backups and workflows must pass entirely (100 %: every workload,
//! every required rule, every backup check, every workflow suite). Only running pods and
//! dashboards with data have a `target` here (the plan's 110 and 2).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One category of the readiness table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GateCategory {
    /// The six Phase-5 workflows (DolphinScheduler, Trino, MinIO, Velero, metrics, logs): each
    /// passes when its suite's trials pass.
    Workflows,
    /// Healthy pods of the platform's pods, as the platform suite defines healthy.
    PodHealth,
    /// Pods Running in the platform's namespaces (a count).
    RunningPods,
    /// ArgoCD Applications Synced and Healthy (as `[platform] argocd_counts` says), n of N.
    Argocd,
    /// Critical workloads available with all replicas ready, n of N.
    CriticalServices,
    /// Grafana dashboards whose every panel returns data (a count).
    Dashboards,
    /// Required alert rules present and not in error, n of N.
    Alerts,
    /// Velero: location available, schedules healthy, a recent backup, a restore verified.
    Backups,
}

impl GateCategory {
    /// Every category, in the order the table shows them.
    pub const ALL: [GateCategory; 8] = [
        GateCategory::Workflows,
        GateCategory::PodHealth,
        GateCategory::RunningPods,
        GateCategory::Argocd,
        GateCategory::CriticalServices,
        GateCategory::Dashboards,
        GateCategory::Alerts,
        GateCategory::Backups,
    ];

    /// Its key in `[gate]` (`[gate.pod_health]`) and in `report.json`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Workflows => "workflows",
            Self::PodHealth => "pod_health",
            Self::RunningPods => "running_pods",
            Self::Argocd => "argocd",
            Self::CriticalServices => "critical_services",
            Self::Dashboards => "dashboards",
            Self::Alerts => "alerts",
            Self::Backups => "backups",
        }
    }

    /// Default weight in the readiness mean: what a migration most depends on weighs most.
    pub fn default_weight(self) -> f64 {
        match self {
            Self::Workflows | Self::CriticalServices => 3.0,
            Self::PodHealth | Self::Argocd | Self::Backups => 2.0,
            Self::RunningPods | Self::Dashboards | Self::Alerts => 1.0,
        }
    }

    /// Required by default: everything but the two counts (running pods, dashboards), which
    /// the plan tracks but which decide nothing alone (and Grafana is live-only locally).
    pub fn default_required(self) -> bool {
        !matches!(self, Self::RunningPods | Self::Dashboards)
    }

    /// The default `target` of a category that takes one in `[gate]` (the plan's numbers),
    /// `None` for a category whose threshold lives elsewhere or is "all".
    pub fn default_target(self) -> Option<f64> {
        match self {
            Self::RunningPods => Some(110.0),
            Self::Dashboards => Some(2.0),
            _ => None,
        }
    }

    /// Where the threshold of a category that takes no `target` in `[gate]` lives.
    pub fn target_elsewhere(self) -> &'static str {
        match self {
            Self::PodHealth => "`[platform] min_running_percent`",
            Self::Argocd => "`[platform] min_argocd_healthy`",
            Self::CriticalServices => "every `[platform] critical_workloads` entry (100 %)",
            Self::Alerts => "every `[vmalert] required_rules` entry (100 %)",
            Self::Backups => "every backup check (100 %)",
            Self::Workflows => "every workflow suite (100 %)",
            Self::RunningPods | Self::Dashboards => "`target` in this table",
        }
    }
}

impl fmt::Display for GateCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Workflows => "Workflows",
            Self::PodHealth => "Pod health",
            Self::RunningPods => "Running pods",
            Self::Argocd => "ArgoCD",
            Self::CriticalServices => "Critical services",
            Self::Dashboards => "Dashboards with data",
            Self::Alerts => "Alerts",
            Self::Backups => "Backups",
        })
    }
}

/// `[gate.<category>]`: each key optional; absent keys take the category's defaults.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GateCategoryConfig {
    /// Its weight in the readiness mean (default: [`GateCategory::default_weight`]); 0 leaves
    /// it out of the score (it can still block when required).
    pub weight: Option<f64>,
    /// Whether it must pass for GO (default: [`GateCategory::default_required`]).
    pub required: Option<bool>,
    /// Its target, only for `running_pods` and `dashboards` (the others read theirs where it
    /// already lives: [`GateCategory::target_elsewhere`]).
    pub target: Option<f64>,
}

/// `[[gate.waiver]]`: a known failure accepted for a while, with who accepted it and why.
///
/// A waived failure is listed in the report's own section and left out of the score (the
/// trial counts neither for nor against its category); a waiver past `expires` is a blocking
/// finding naming it; a waiver that matched no failed or flaky trial is reported as stale.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// The trials it covers: a full trial name (`platform::smoke::every_node_is_ready`), where
    /// `*` matches any run of characters (`velero::full::*`). Not nextest's filterset syntax:
    /// the gate judges a finished run from its JUnit report, without nextest's test list.
    pub trial: String,
    /// Why the failure is accepted (a ticket, an incident).
    pub reason: String,
    /// Who accepted it (a person or a team that can be asked).
    pub owner: String,
    /// The last day (UTC, `YYYY-MM-DD`) it applies; the day after, it blocks.
    pub expires: String,
}

impl Waiver {
    /// Whether it covers the trial `name`: `*` matches any run of characters, the rest literally.
    pub fn matches(&self, name: &str) -> bool {
        glob(&self.trial, name)
    }

    /// `expires` as a date, `None` when it is not a `YYYY-MM-DD` date (one that exists).
    pub fn expires_date(&self) -> Option<time::Date> {
        time::Date::parse(
            self.expires.trim(),
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .ok()
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// `[gate] flaky`: what a trial that passed only on retry does to the verdict.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FlakyPolicy {
    /// It blocks (NO-GO, exit 3) unless waived.
    Fail,
    /// It is listed apart and does not block.
    Warn,
}

/// `[gate]`: the acceptance gate's settings. Absent: every default (staging's numbers).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// Readiness (0–100) at or above which the verdict may be GO. Default 95, the plan's
    /// "Phase 2 complete"; a production target should say 98 ("Production Ready").
    pub min_readiness: f64,
    /// Suites whose failed trials outside any required category do not block (default none:
    /// every failed trial blocks unless it only feeds a category that is not required).
    pub optional_suites: Vec<String>,
    /// What a trial that passed only on retry does: `"fail"` blocks, `"warn"` lists it apart.
    /// Default: `fail` on a read-only target (production), `warn` on any other (staging).
    pub flaky: Option<FlakyPolicy>,
    /// How many times `validate --gate` retries a failed trial (nextest `--retries`); one that
    /// passes on a retry is flaky. Default 1; 0 turns retries off.
    pub retries: u32,
    /// Whether a component whose version differs from the baseline's (`gate --baseline`) is a
    /// blocking finding. Default false: drift is listed, not blocking.
    pub block_on_drift: bool,
    /// `[[gate.waiver]]`: accepted failures, each with an owner and an expiry.
    pub waiver: Vec<Waiver>,
    /// `[gate.workflows]`.
    pub workflows: GateCategoryConfig,
    /// `[gate.pod_health]`.
    pub pod_health: GateCategoryConfig,
    /// `[gate.running_pods]`.
    pub running_pods: GateCategoryConfig,
    /// `[gate.argocd]`.
    pub argocd: GateCategoryConfig,
    /// `[gate.critical_services]`.
    pub critical_services: GateCategoryConfig,
    /// `[gate.dashboards]`.
    pub dashboards: GateCategoryConfig,
    /// `[gate.alerts]`.
    pub alerts: GateCategoryConfig,
    /// `[gate.backups]`.
    pub backups: GateCategoryConfig,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            min_readiness: 95.0,
            optional_suites: Vec::new(),
            flaky: None,
            retries: 1,
            block_on_drift: false,
            waiver: Vec::new(),
            workflows: GateCategoryConfig::default(),
            pod_health: GateCategoryConfig::default(),
            running_pods: GateCategoryConfig::default(),
            argocd: GateCategoryConfig::default(),
            critical_services: GateCategoryConfig::default(),
            dashboards: GateCategoryConfig::default(),
            alerts: GateCategoryConfig::default(),
            backups: GateCategoryConfig::default(),
        }
    }
}

impl GateConfig {
    /// The table of a category as written (keys may be absent).
    pub fn written(&self, c: GateCategory) -> &GateCategoryConfig {
        match c {
            GateCategory::Workflows => &self.workflows,
            GateCategory::PodHealth => &self.pod_health,
            GateCategory::RunningPods => &self.running_pods,
            GateCategory::Argocd => &self.argocd,
            GateCategory::CriticalServices => &self.critical_services,
            GateCategory::Dashboards => &self.dashboards,
            GateCategory::Alerts => &self.alerts,
            GateCategory::Backups => &self.backups,
        }
    }

    /// A category's weight, defaults applied.
    pub fn weight(&self, c: GateCategory) -> f64 {
        self.written(c).weight.unwrap_or_else(|| c.default_weight())
    }

    /// Whether a category is required, defaults applied.
    pub fn required(&self, c: GateCategory) -> bool {
        self.written(c)
            .required
            .unwrap_or_else(|| c.default_required())
    }

    /// A category's own target (running pods, dashboards), defaults applied.
    pub fn target(&self, c: GateCategory) -> Option<f64> {
        self.written(c).target.or_else(|| c.default_target())
    }

    /// The first nonsensical value as `(dotted key, why)`: a readiness outside (0, 100], a
    /// weight below 0 or not a number, every weight 0, a `target` on a category whose threshold
    /// lives elsewhere, or a `target` of 0 or less (it would pass over nothing).
    pub fn problem(&self) -> Option<(String, String)> {
        if !(self.min_readiness > 0.0 && self.min_readiness <= 100.0) {
            return Some((
                "gate.min_readiness".into(),
                "must be above 0 and at most 100 (a readiness in percent: staging 95, production 98)"
                    .into(),
            ));
        }
        for c in GateCategory::ALL {
            let w = self.written(c);
            let at = |k: &str| format!("gate.{}.{k}", c.key());
            if let Some(weight) = w.weight
                && !(weight >= 0.0 && weight.is_finite())
            {
                return Some((
                    at("weight"),
                    "must be 0 or more (0 leaves the category out of the score)".into(),
                ));
            }
            match (w.target, c.default_target()) {
                (Some(_), None) => {
                    return Some((
                        at("target"),
                        format!(
                            "this category takes no target here: its threshold is {}",
                            c.target_elsewhere()
                        ),
                    ));
                }
                (Some(t), Some(_)) if !(t > 0.0 && t.is_finite()) => {
                    return Some((
                        at("target"),
                        "must be above 0: a target of 0 passes over nothing".into(),
                    ));
                }
                _ => {}
            }
        }
        if self.retries > 5 {
            return Some((
                "gate.retries".into(),
                "at most 5: more retries only hide a broken check".into(),
            ));
        }
        for (i, w) in self.waiver.iter().enumerate() {
            let at = |k: &str| format!("gate.waiver[{i}].{k}");
            if w.trial.trim_matches('*').trim().is_empty() {
                return Some((
                    at("trial"),
                    "names no trial: a waiver of everything would turn any run GO".into(),
                ));
            }
            if w.reason.trim().is_empty() {
                return Some((at("reason"), "must say why the failure is accepted".into()));
            }
            if w.owner.trim().is_empty() {
                return Some((at("owner"), "must name who accepted the failure".into()));
            }
            if w.expires_date().is_none() {
                return Some((
                    at("expires"),
                    format!(
                        "`{}` is not a date YYYY-MM-DD: a waiver must end",
                        w.expires
                    ),
                ));
            }
        }
        if GateCategory::ALL.iter().all(|c| self.weight(*c) == 0.0) {
            return Some((
                "gate.workflows.weight".into(),
                "every category's weight is 0: the readiness would be a mean of nothing".into(),
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn defaults_are_the_plans_numbers() {
        let g = GateConfig::default();
        assert_eq!(g.min_readiness, 95.0);
        assert_eq!(g.target(GateCategory::RunningPods), Some(110.0));
        assert_eq!(g.target(GateCategory::Dashboards), Some(2.0));
        assert_eq!(g.target(GateCategory::PodHealth), None);
        assert!(g.required(GateCategory::Backups));
        assert!(!g.required(GateCategory::Dashboards));
        assert_eq!(g.problem(), None);
    }

    #[rstest]
    #[case::readiness_above_100("min_readiness = 101.0", "gate.min_readiness")]
    #[case::negative_weight("[pod_health]\nweight = -1.0", "gate.pod_health.weight")]
    #[case::target_elsewhere("[pod_health]\ntarget = 95.0", "gate.pod_health.target")]
    #[case::zero_target("[running_pods]\ntarget = 0.0", "gate.running_pods.target")]
    fn nonsense_is_named_by_its_key(#[case] text: &str, #[case] key: &str) {
        let g: GateConfig = toml::from_str(text).unwrap();
        assert_eq!(g.problem().map(|(k, _)| k).as_deref(), Some(key));
    }

    #[rstest]
    #[case::everything(
        "[[waiver]]\ntrial = \"*\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"2026-12-31\"",
        "gate.waiver[0].trial"
    )]
    #[case::no_owner(
        "[[waiver]]\ntrial = \"a::*\"\nreason = \"r\"\nowner = \" \"\nexpires = \"2026-12-31\"",
        "gate.waiver[0].owner"
    )]
    #[case::no_reason(
        "[[waiver]]\ntrial = \"a::*\"\nreason = \"\"\nowner = \"o\"\nexpires = \"2026-12-31\"",
        "gate.waiver[0].reason"
    )]
    #[case::not_a_date(
        "[[waiver]]\ntrial = \"a::*\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"next week\"",
        "gate.waiver[0].expires"
    )]
    #[case::no_such_day(
        "[[waiver]]\ntrial = \"a::*\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"2027-02-29\"",
        "gate.waiver[0].expires"
    )]
    #[case::too_many_retries("retries = 9", "gate.retries")]
    fn a_waiver_or_retry_that_makes_no_sense_is_refused(#[case] text: &str, #[case] key: &str) {
        let g: GateConfig = toml::from_str(text).unwrap();
        assert_eq!(g.problem().map(|(k, _)| k).as_deref(), Some(key));
    }

    #[rstest]
    #[case(
        "platform::smoke::every_node_is_ready",
        "platform::smoke::every_node_is_ready",
        true
    )]
    #[case(
        "platform::smoke::every_node_is_ready",
        "platform::smoke::every_node_is_read",
        false
    )]
    #[case("velero::full::*", "velero::full::backup_completes", true)]
    #[case("velero::full::*", "velero::smoke::backup", false)]
    #[case("*::smoke::*node*", "platform::smoke::every_node_is_ready", true)]
    #[case("*node*ready", "platform::smoke::every_node_is_ready_now", false)]
    #[case("a*a", "a", false)]
    fn a_waiver_matches_by_name_with_stars(
        #[case] pattern: &str,
        #[case] name: &str,
        #[case] matches: bool,
    ) {
        let w = Waiver {
            trial: pattern.into(),
            reason: "r".into(),
            owner: "o".into(),
            expires: "2026-12-31".into(),
        };
        assert_eq!(w.matches(name), matches);
    }

    #[test]
    fn every_weight_zero_is_refused() {
        let mut g = GateConfig::default();
        for c in GateCategory::ALL {
            let w = match c {
                GateCategory::Workflows => &mut g.workflows,
                GateCategory::PodHealth => &mut g.pod_health,
                GateCategory::RunningPods => &mut g.running_pods,
                GateCategory::Argocd => &mut g.argocd,
                GateCategory::CriticalServices => &mut g.critical_services,
                GateCategory::Dashboards => &mut g.dashboards,
                GateCategory::Alerts => &mut g.alerts,
                GateCategory::Backups => &mut g.backups,
            };
            w.weight = Some(0.0);
        }
        assert!(g.problem().is_some());
    }
}

/// `[report]`: where a gated run's evidence and results go.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// A bucket of the object store (`[minio]`): the bundle goes to
    /// `carbon-e2e-reports/<target>/<date>-<run id>/evidence.tar.gz` there. A write: the
    /// target must be read-write and opt in to `upload-report`. The reaper never lists that
    /// prefix (it removes only under `e2e/`).
    pub bucket: Option<String>,
    /// Push every gated run's results to `[victoriametrics]` (its `write_url`, else its
    /// `url`), as `validate --gate --push-results` does: `carbon_e2e_*` series at the run's
    /// end (`carbon_gate::metrics`). A write: a read-only target must opt in to
    /// `push-results` (a production target typically opts in to this one write). The reaper
    /// never removes them. Default `false`.
    #[serde(default)]
    pub push_results: bool,
}

/// The prefix of every uploaded evidence bundle.
pub const REPORT_PREFIX: &str = "carbon-e2e-reports/";
