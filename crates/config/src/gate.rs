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

use serde::Deserialize;

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
