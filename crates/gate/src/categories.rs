//! Where each category's evidence comes from: the trials (by exact name), the measurement each
//! emits, and the six workflow suites. Data, so a rename in a suite shows up in one place (and
//! `every_named_trial_exists_in_its_suite` fails when a suite renames a trial).

use carbon_config::GateCategory;

/// One piece of a category's evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A trial's measurement (`value` of `of`, or a count): the category's value.
    Measured {
        /// The trial's full name.
        trial: &'static str,
        /// The measurement key it emits.
        key: &'static str,
    },
    /// A check that passes or fails as a whole, 1 or 0 of 1: its measurement when it emitted
    /// one, else its trial's outcome.
    Unit {
        /// A short label for the table.
        label: &'static str,
        /// The trial's full name.
        trial: &'static str,
        /// The measurement key it emits.
        key: &'static str,
    },
    /// A workflow: 1 of 1 when every trial of the suite that ran passed, 0 when one failed,
    /// not measured when none ran.
    Suite {
        /// A short label for the table (the plan's name of the workflow).
        label: &'static str,
        /// The suite (the first part of its trials' names).
        suite: &'static str,
    },
    /// A trial that adds no value but whose failure fails the category (the service's own
    /// health behind a measured check).
    Guard {
        /// The trial's full name.
        trial: &'static str,
    },
}

impl Part {
    /// The trial this part reads, if it reads one trial.
    pub fn trial(self) -> Option<&'static str> {
        match self {
            Part::Measured { trial, .. } | Part::Unit { trial, .. } | Part::Guard { trial } => {
                Some(trial)
            }
            Part::Suite { .. } => None,
        }
    }
}

const SHARE: &str = "platform::smoke::running_pod_share_meets_the_minimum";

/// The parts of a category.
pub fn parts(c: GateCategory) -> &'static [Part] {
    match c {
        GateCategory::Workflows => &[
            Part::Suite {
                label: "DolphinScheduler",
                suite: "dolphinscheduler",
            },
            Part::Suite {
                label: "Trino",
                suite: "trino",
            },
            Part::Suite {
                label: "MinIO",
                suite: "minio",
            },
            Part::Suite {
                label: "Velero",
                suite: "velero",
            },
            Part::Suite {
                label: "metrics",
                suite: "victoriametrics",
            },
            Part::Suite {
                label: "logs",
                suite: "loki",
            },
        ],
        GateCategory::PodHealth => &[
            Part::Measured {
                trial: SHARE,
                key: "platform.pods_healthy",
            },
            Part::Guard {
                trial: "platform::smoke::unhealthy_pods_stay_below_the_maximum",
            },
        ],
        GateCategory::RunningPods => &[Part::Measured {
            trial: SHARE,
            key: "platform.pods_running",
        }],
        GateCategory::Argocd => &[Part::Measured {
            trial: "platform::smoke::argocd_applications_synced_and_healthy_meet_the_minimum",
            key: "platform.argocd_ready",
        }],
        GateCategory::CriticalServices => &[Part::Measured {
            trial: "platform::smoke::critical_workloads_are_available_with_all_replicas_ready",
            key: "platform.critical_available",
        }],
        // The platform's dashboards, their panels queried straight against VictoriaMetrics and
        // Loki (no Grafana needed); the grafana suite still checks Grafana itself on a live
        // platform, and a failure of it blocks as any failed trial does.
        GateCategory::Dashboards => &[Part::Measured {
            trial: "dashboards::smoke::every_panel_of_the_platforms_dashboards_returns_data",
            key: "dashboards.with_data",
        }],
        GateCategory::Alerts => &[
            Part::Measured {
                trial: "alerts::smoke::required_rules_exist_and_evaluate_without_error",
                key: "alerts.required_rules_ok",
            },
            Part::Guard {
                trial: "alerts::smoke::vmalert_health_answers_ok",
            },
        ],
        GateCategory::Backups => &[
            Part::Unit {
                label: "location available",
                trial: "velero::smoke::storage_location_is_available_and_recently_validated",
                key: "velero.location_available",
            },
            Part::Unit {
                label: "schedules",
                trial: "velero::smoke::schedules_exist_are_enabled_keep_the_retention_and_did_not_fail",
                key: "velero.schedules_ok",
            },
            Part::Unit {
                label: "recent backup",
                trial: "velero::smoke::a_recent_backup_of_the_platform_namespace_completed",
                key: "velero.recent_backup",
            },
            Part::Unit {
                label: "restore verified",
                trial: "velero::full::restore_into_a_mapped_namespace_recreates_equal_objects_and_ready_pods",
                key: "velero.restore_verified",
            },
        ],
    }
}

/// Every category a trial feeds (a workflow suite's trials feed `workflows`).
pub fn fed_by(trial: &str, suite: &str) -> Vec<GateCategory> {
    GateCategory::ALL
        .into_iter()
        .filter(|c| {
            parts(*c).iter().any(|p| match p {
                Part::Suite { suite: s, .. } => *s == suite,
                other => other.trial() == Some(trial),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table names trials by their exact names: a rename in a suite must show up here.
    #[test]
    fn every_named_trial_exists_in_its_suite() {
        let suites = carbon_core::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../suites");
        for c in GateCategory::ALL {
            for p in parts(c) {
                let (suite, what) = match p {
                    Part::Suite { suite, .. } => (*suite, None),
                    other => {
                        let trial = other.trial().expect("a trial part");
                        let mut it = trial.split("::");
                        let suite = it.next().expect("a suite");
                        let tier = it.next().expect("a tier");
                        let name = it.next().expect("a behaviour");
                        (suite, Some((tier, name)))
                    }
                };
                let file = suites.join(suite).join("tests").join(format!("{suite}.rs"));
                let text = std::fs::read_to_string(&file)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                if let Some((tier, name)) = what {
                    assert!(
                        text.contains(&format!("\"{name}\""))
                            && text.contains(&format!(".{tier}(")),
                        "{c}: {name} is not a {tier} trial of {}",
                        file.display()
                    );
                }
                if let Part::Measured { key, .. } | Part::Unit { key, .. } = p {
                    let lib = suites.join(suite).join("src");
                    let in_lib = std::fs::read_dir(&lib)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .any(|f| {
                            std::fs::read_to_string(f.path())
                                .is_ok_and(|t| t.contains(&format!("\"{key}\"")))
                        });
                    assert!(
                        text.contains(&format!("\"{key}\"")) || in_lib,
                        "{c}: no trial of {suite} emits `{key}`"
                    );
                }
            }
        }
    }
}
