//! Mutation self test of the `velero`, `loki` and `alerts` checks (the `platform` checks have
//! theirs in suites/platform/tests/self_test.rs). Each check is run, through nextest as a user
//! runs it, against a case on the real local services that must make it fail, and its failure
//! must name the offender. A check that cannot fail would pass here, and this test would fail.
//!
//! The cases are real objects and real answers, chosen by settings (`E2E_<SECTION>_<KEY>`):
//! - velero: namespace `carbon-e2e-broken-velero` (kind-config/velero/broken.yaml), which Velero
//!   does not watch: a location never validated, a schedule due every minute that never ran,
//!   no backup at all;
//! - loki: a namespace that ships no logs (a typo on a real cluster), an entries limit the
//!   server does not enforce, a shipper selector nothing ships to;
//! - alerts: a required rule that does not exist and one that fails at every evaluation
//!   (group `carbon-e2e-broken` of the stack's vmalert);
//! - dashboards: the platform's dashboards check with the broken dashboard's ConfigMap (a panel
//!   on a series nothing writes) and a title no ConfigMap holds required;
//! - superset: the dashboards check with the stack's dashboard "carbon-e2e-broken" added
//!   (its chart names a column the table lacks), and the connection check on the stack's
//!   connection `trino-unreachable` (Trino's URI on a closed port), which Superset's own test
//!   refuses, and the saved-query trial as the stack's user without SQL Lab rights
//!   (`carbon-e2e-viewer`), whom Superset refuses the write;
//! - trino: the REST catalog check with Trino's `memory` catalog as the Iceberg catalog (schema
//!   `default` is no namespace of the REST catalog);
//! - platform: the API version check against an API server that is down, the permissions
//!   check as `carbon-e2e-unbound` (a user of the stack's CA bound to nothing), the Velero
//!   line on the broken Velero namespace (its pod, workload and object checks are shown
//!   in suites/platform/tests/self_test.rs);
//! - platform and loki, the pods a trial creates (exec, port-forward, a pod's log line to
//!   Loki) with an image that does not exist: each fails as soon as the kubelet reports the
//!   pull failing, naming the pod, its node and the image; the kubelet log trial on the empty
//!   namespace; the nodes check on pool `broken` (a Node no kubelet reports for);
//! - entrypoints: DolphinScheduler's root, whose redirect ends in a 404 here, and a closed port;
//!   the https entry point (the stack's TLS front) held to a certificate that lasts 400 days;
//! - and each service down (a closed port): its health trial fails naming the endpoint.
//!
//! Needs the local stack up (`carbon-e2e stack up`).

use std::collections::BTreeMap;
use std::time::Duration;

use carbon_core::wait::{Check, wait_until};
use carbon_kube::{CustomKind, KubeClient};

use quick_junit::TestCaseStatus;

mod common;
mod grafana_stand_in;

/// A trial that must fail, and what its failure must name.
struct Case {
    trial: &'static str,
    needles: &'static [&'static str],
}

/// Runs exactly `cases`' trials with `env`, returns each trial's report text (failures only;
/// a pass is an assertion failure naming the trial).
fn run_failing(label: &str, env: &[(&str, &str)], cases: &[Case]) -> usize {
    let filter = cases
        .iter()
        .map(|c| format!("test(={})", c.trial))
        .collect::<Vec<_>>()
        .join(" | ");
    let mut cmd = common::nextest(&filter, &common::run_id("mut"));
    cmd.envs(env.iter().copied());
    let (passed, console, report) = common::run_with_junit(cmd);
    assert!(
        !passed,
        "{label}: every trial must fail, the run passed:\n{console}"
    );
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for c in report.test_suites.iter().flat_map(|s| &s.test_cases) {
        let name = c.name.as_str().to_string();
        assert!(
            matches!(c.status, TestCaseStatus::NonSuccess { .. }),
            "{label}: {name} passed on its failing case:\n{console}"
        );
        let text = [c.system_out.as_ref(), c.system_err.as_ref()]
            .into_iter()
            .flatten()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        seen.insert(name, text);
    }
    for case in cases {
        let text = seen.get(case.trial).unwrap_or_else(|| {
            panic!(
                "{label}: {} did not run (ran: {:?}):\n{console}",
                case.trial,
                seen.keys()
            )
        });
        for n in case.needles {
            assert!(
                text.contains(n),
                "{label}: {} fails without naming `{n}`:\n{text}",
                case.trial
            );
        }
        let cause = text
            .lines()
            .find(|l| l.contains(case.needles[0]))
            .unwrap_or_default()
            .trim();
        eprintln!("{label}: {} fails as it must: {cause:.200}", case.trial);
    }
    cases.len()
}

const SETTINGS: &[Case] = &[
    // The dashboards check with the broken dashboard's ConfigMap (kind-config/broken/
    // dashboard.yaml: a panel on a series nothing writes) and a title no ConfigMap holds.
    Case {
        trial: "dashboards::smoke::every_panel_of_the_platforms_dashboards_returns_data",
        needles: &[
            "carbon-e2e broken dashboard / A series nothing writes: No data",
            "No Such Dashboard: not found",
            "1 of 3 dashboard(s) with data",
        ],
    },
    // The stack's dashboard "carbon-e2e-broken": its chart names a column the table lacks.
    Case {
        trial: "superset::smoke::every_configured_dashboard_exists_and_every_chart_returns_rows",
        needles: &[
            "`carbon-e2e-broken` / `Nations by a column that does not exist`",
            "1 of 2 dashboard(s) with data",
        ],
    },
    // Trino's `memory` catalog in place of its Iceberg catalog: its schema `default` is no
    // namespace of the REST catalog (a Trino whose Iceberg is not on this REST catalog).
    Case {
        trial: "trino::smoke::iceberg_rest_catalog_serves_every_schema_trino_shows",
        needles: &["does not list: default", "http://127.0.0.1:18181/"],
    },
    Case {
        trial: "velero::smoke::storage_location_is_available_and_recently_validated",
        needles: &["BackupStorageLocation default is (never validated)"],
    },
    Case {
        trial: "velero::smoke::schedules_exist_are_enabled_keep_the_retention_and_did_not_fail",
        needles: &[
            "schedule never-runs (`* * * * *`",
            "made no backup since it was created",
        ],
    },
    Case {
        trial: "velero::smoke::a_recent_backup_of_the_platform_namespace_completed",
        needles: &["data-platform"],
    },
    Case {
        trial: "platform::smoke::velero_location_is_available_and_schedules_are_present",
        needles: &["BackupStorageLocation default is (never validated)"],
    },
    Case {
        trial: "loki::smoke::labels_include_the_namespace_label",
        needles: &["no namespace=\"carbon-e2e-silent\" among the values"],
    },
    Case {
        trial: "loki::smoke::namespace_has_logs_in_the_window",
        needles: &["{namespace=\"carbon-e2e-silent\"} returned no log line"],
    },
    Case {
        trial: "loki::smoke::pods_that_shipped_logs_meet_the_configured_minimum",
        needles: &["in namespace carbon-e2e-silent", "loki.min_streams is 10"],
    },
    Case {
        trial: "loki::smoke::every_critical_app_has_logs",
        needles: &[
            "from critical app(s)",
            "\"trino\"",
            "namespace carbon-e2e-silent",
        ],
    },
    Case {
        trial: "loki::full::query_over_the_entries_limit_reports_the_limit",
        needles: &["max_entries_limit_per_query is not 4000"],
    },
    Case {
        trial: "loki::full::shipped_file_line_arrives_within_the_configured_latency",
        needles: &["app=\"e2e-nowhere\"", "loki.ship_latency_secs"],
    },
    Case {
        trial: "alerts::smoke::required_rules_exist_and_evaluate_without_error",
        needles: &[
            "rule(s) [\"CarbonE2eNoSuchRule\"] not found in vmalert",
            "carbon-e2e-broken/CarbonE2eBrokenRule: health err",
        ],
    },
];

const DOWN: &[Case] = &[
    Case {
        trial: "superset::smoke::health_answers_ok_and_reports_the_version",
        needles: &["http://127.0.0.1:9/health", "cannot connect"],
    },
    Case {
        trial: "trino::smoke::iceberg_rest_catalog_serves_every_schema_trino_shows",
        needles: &["http://127.0.0.1:9/v1/config", "cannot connect"],
    },
    Case {
        trial: "loki::smoke::ready_endpoint_answers_ready",
        needles: &["http://127.0.0.1:9/", "cannot connect"],
    },
    Case {
        trial: "alerts::smoke::vmalert_health_answers_ok",
        needles: &["http://127.0.0.1:9/", "cannot connect"],
    },
];

/// Schedule `never-runs` is due a minute after its creation; with a grace of 30 s it is
/// overdue 90 s after `stack up` applied it. Waits (bounded, by the API server's clock) until
/// then, so that the schedule check fails for the reason under test, not only for its phase.
fn never_runs_is_overdue() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let target = carbon_config::load().expect("the local target");
        let kube = KubeClient::from_target(&target)
            .await
            .expect("the local control plane (carbon-e2e stack up)");
        let schedules = CustomKind {
            group: "velero.io",
            version: "v1",
            kind: "Schedule",
            plural: "schedules",
        };
        wait_until(
            "schedule carbon-e2e-broken-velero/never-runs to be overdue",
            Duration::from_secs(150),
            || async {
                let now = kube.server_time().await?;
                let list = kube
                    .list_custom(schedules, Some("carbon-e2e-broken-velero"))
                    .await?;
                let created = list
                    .iter()
                    .find(|s| s.metadata.name.as_deref() == Some("never-runs"))
                    .and_then(|s| s.metadata.creation_timestamp.as_ref())
                    .map(|t| t.0.as_second());
                Ok::<_, carbon_kube::KubeError>(match created {
                    Some(t) if now - t > 100 => Check::Ready(()),
                    Some(t) => Check::Pending(format!("created {} s ago", now - t)),
                    None => Check::Pending("not there (kind-config/velero/broken.yaml)".into()),
                })
            },
        )
        .await
        .expect("the broken schedule");
    });
}

const SUPERSET_ROWS: &[Case] = &[Case {
    trial: "superset::full::sql_lab_query_through_trino_returns_the_expected_rows",
    needles: &["returned 25 row(s)", "expected 24 (superset.query_rows)"],
}];

const SUPERSET_DATABASE: &[Case] = &[Case {
    trial: "superset::smoke::trino_connection_passes_supersets_own_connection_test",
    needles: &[
        "has no database connection named `no-such-connection`",
        "connection(s): trino",
    ],
}];

const SUPERSET_UNREACHABLE: &[Case] = &[Case {
    trial: "superset::smoke::trino_connection_passes_supersets_own_connection_test",
    needles: &[
        "Superset's connection test of `trino-unreachable`",
        "api/v1/database/test_connection/",
    ],
}];

/// The stack's Superset user without SQL Lab rights (it sees the `trino` connection): the
/// saved query cannot be created, and the failure names the request and Superset's refusal.
const SUPERSET_NO_SQL_LAB: &[Case] = &[Case {
    trial: "superset::full::saved_query_round_trips_and_is_deleted",
    needles: &["POST http://127.0.0.1:18088/api/v1/saved_query/", "403"],
}];

/// The admin user with another user's password: the login is refused.
const SUPERSET_WRONG_PASSWORD: &[Case] = &[Case {
    trial: "superset::smoke::login_is_accepted_and_a_wrong_password_is_refused",
    needles: &["api/v1/security/login", "401"],
}];

/// Public entry points: DolphinScheduler's root, whose redirect ends in a 404 locally (the
/// local server ships no web UI), and a URL on a closed port.
const ENTRYPOINTS_DOWN: &[Case] = &[Case {
    trial: "entrypoints::smoke::every_public_entry_point_answers_as_a_browser_sees_it",
    needles: &[
        "2 of 2 entry point(s) not up",
        "http://127.0.0.1:12345/dolphinscheduler/ → 404 at http://127.0.0.1:12345/dolphinscheduler/ui/",
        "http://127.0.0.1:9/",
        "Connection refused",
    ],
}];

/// The https entry point (the stack's TLS front, its certificate valid for a year) held to a
/// certificate that must last 400 more days.
const ENTRYPOINTS_CERTIFICATE: &[Case] = &[Case {
    trial: "entrypoints::smoke::every_public_entry_point_answers_as_a_browser_sees_it",
    needles: &[
        "https://127.0.0.1:17443/minio/health/live → 200",
        "the certificate of 127.0.0.1 (CN=carbon-e2e stack TLS front) expires",
        "[entrypoints] min_certificate_days = 400",
    ],
}];

const UNBOUND: &[Case] = &[Case {
    trial: "platform::smoke::identity_has_every_permission_the_suite_needs",
    needles: &[
        "user carbon-e2e-unbound lacks",
        "list pods",
        "kind-config/rbac/readonly.yaml",
    ],
}];

/// The image of the pods trials create, one that does not exist: each trial fails as soon as
/// the kubelet reports the pull failing, naming the pod, its node and the image.
const MISSING_IMAGE: &str = "localhost/carbon-e2e-missing/no-such-image:0.1.0";
const NO_IMAGE: &[Case] = &[
    Case {
        trial: "platform::full::exec_runs_a_command_in_a_pod_of_the_run",
        needles: &[
            "will not get there by waiting",
            "on node carbon-node-0",
            "ImagePull",
            MISSING_IMAGE,
        ],
    },
    Case {
        trial: "platform::full::port_forward_reaches_a_pod_of_the_run",
        needles: &["will not get there by waiting", "ImagePull", MISSING_IMAGE],
    },
    Case {
        trial: "loki::full::pod_log_line_arrives_within_the_configured_latency",
        needles: &["will not get there by waiting", "ImagePull", MISSING_IMAGE],
    },
];

/// A scope without pods (the empty namespace): the kubelet log trial has no pod to read and
/// names the scope. A node pool whose one node no kubelet reports for (pool `broken`): the
/// nodes check names it.
const BROKEN_SCOPE: &[Case] = &[
    Case {
        trial: "platform::smoke::a_running_pods_log_is_served_through_its_kubelet",
        needles: &["carbon-e2e-empty"],
    },
    Case {
        trial: "platform::smoke::every_node_is_ready",
        needles: &[
            "carbon-e2e-broken-node (no kubelet has reported",
            "nodes matching `carbon-e2e.io/pool=broken`",
        ],
    },
];

const API_DOWN: &[Case] = &[Case {
    trial: "platform::smoke::api_server_answers_with_its_version",
    needles: &["127.0.0.1:9"],
}];

#[test]
fn every_velero_loki_and_alerts_check_fails_on_its_case_naming_the_offender() {
    never_runs_is_overdue();
    let mut shown = run_failing(
        "settings",
        &[
            ("E2E_VELERO_NAMESPACE", "carbon-e2e-broken-velero"),
            ("E2E_VELERO_SCHEDULES", "[\"never-runs\"]"),
            ("E2E_VELERO_MIN_SCHEDULES", "1"),
            ("E2E_VELERO_SCHEDULE_GRACE_SECS", "30"),
            ("E2E_LOKI_NAMESPACE", "carbon-e2e-silent"),
            ("E2E_LOKI_MAX_ENTRIES_LIMIT", "4000"),
            (
                "E2E_LOKI_SHIPPER_SELECTOR",
                "{namespace=\"carbon-e2e\", app=\"e2e-nowhere\"}",
            ),
            ("E2E_LOKI_SHIP_LATENCY_SECS", "5"),
            ("E2E_TRINO_ICEBERG_CATALOG", "memory"),
            (
                "E2E_SUPERSET_DASHBOARDS",
                "[\"Data Platform\", \"carbon-e2e-broken\"]",
            ),
            (
                "E2E_DASHBOARDS_REQUIRED",
                "[\"Platform Overview\", \"carbon-e2e broken dashboard\", \"No Such Dashboard\"]",
            ),
            (
                "E2E_VMALERT_REQUIRED_RULES",
                "[\"ServiceDown\", \"CarbonE2eBrokenRule\", \"CarbonE2eNoSuchRule\"]",
            ),
        ],
        SETTINGS,
    );
    // Superset's answers made wrong by the settings: a SQL Lab row count the query does not
    // return, a database connection the server does not have.
    shown += run_failing(
        "superset rows",
        &[("E2E_SUPERSET_QUERY_ROWS", "24")],
        SUPERSET_ROWS,
    );
    shown += run_failing(
        "superset database",
        &[("E2E_SUPERSET_DATABASE", "no-such-connection")],
        SUPERSET_DATABASE,
    );
    // A connection Superset has but cannot open (the stack's `trino-unreachable`, Trino's URI
    // on a closed port): Superset's own connection test refuses it.
    shown += run_failing(
        "superset unreachable connection",
        &[("E2E_SUPERSET_DATABASE", "trino-unreachable")],
        SUPERSET_UNREACHABLE,
    );
    shown += run_failing(
        "superset user without sql lab",
        &[
            ("E2E_SUPERSET_USER", "carbon-e2e-viewer"),
            (
                "E2E_SUPERSET_PASSWORD_ENV",
                "CARBON_STACK_SUPERSET_VIEWER_PASSWORD",
            ),
        ],
        SUPERSET_NO_SQL_LAB,
    );
    shown += run_failing(
        "superset wrong password",
        &[(
            "E2E_SUPERSET_PASSWORD_ENV",
            "CARBON_STACK_SUPERSET_VIEWER_PASSWORD",
        )],
        SUPERSET_WRONG_PASSWORD,
    );
    shown += run_failing(
        "entry points down",
        &[(
            "E2E_ENTRYPOINTS_URLS",
            "[\"http://127.0.0.1:12345/dolphinscheduler/\", \"http://127.0.0.1:9/\"]",
        )],
        ENTRYPOINTS_DOWN,
    );
    shown += run_failing(
        "an entry point's certificate too close to its expiry",
        &[("E2E_ENTRYPOINTS_MIN_CERTIFICATE_DAYS", "400")],
        ENTRYPOINTS_CERTIFICATE,
    );
    shown += run_failing(
        "down",
        &[
            ("E2E_LOKI_URL", "http://127.0.0.1:9"),
            ("E2E_TRINO_REST_CATALOG_URL", "http://127.0.0.1:9"),
            ("E2E_SUPERSET_URL", "http://127.0.0.1:9"),
            ("E2E_VMALERT_URL", "http://127.0.0.1:9"),
        ],
        DOWN,
    );
    shown += run_failing(
        "probe image missing",
        &[("E2E_KUBERNETES_PROBE_IMAGE", MISSING_IMAGE)],
        NO_IMAGE,
    );
    shown += run_failing(
        "an empty namespace and a broken node pool in scope",
        &[
            ("E2E_PLATFORM_NAMESPACES", "[\"carbon-e2e-empty\"]"),
            ("E2E_PLATFORM_NODE_SELECTOR", "carbon-e2e.io/pool=broken"),
        ],
        BROKEN_SCOPE,
    );
    let stack = carbon_stack::Stack::open(&carbon_config::Env::from_process())
        .expect("the local stack's directory");
    let unbound = carbon_stack::unbound_kubeconfig(&stack);
    shown += run_failing(
        "unbound user",
        &[(
            "E2E_KUBERNETES_KUBECONFIG",
            unbound.to_str().expect("a UTF-8 path"),
        )],
        UNBOUND,
    );
    // The same user's kubeconfig (it names files, holds no key) with the server on a closed port.
    let dead = std::env::temp_dir().join(format!(
        "carbon-e2e-mutation-{}.kubeconfig",
        common::run_id("dead")
    ));
    let text = std::fs::read_to_string(&unbound).expect("the unbound kubeconfig");
    let rewritten: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("server:") {
                "    server: https://127.0.0.1:9".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&dead, rewritten).expect("write the dead server's kubeconfig");
    shown += run_failing(
        "api server down",
        &[(
            "E2E_KUBERNETES_KUBECONFIG",
            dead.to_str().expect("a UTF-8 path"),
        )],
        API_DOWN,
    );
    let _ = std::fs::remove_file(&dead);
    eprintln!("{shown} velero, loki, alerts and platform checks shown failing on their case");
}

const GRAFANA: &[Case] = &[
    Case {
        trial: "grafana::smoke::health_reports_database_ok_and_a_version",
        needles: &["Grafana's database is `failing`"],
    },
    Case {
        trial: "grafana::smoke::configured_datasources_exist_and_pass_their_health_check",
        needles: &["Loki: ERROR Unable to connect with Loki"],
    },
    Case {
        trial: "grafana::smoke::configured_dashboards_exist_by_title",
        needles: &["dashboard(s) not found: [\"Data Platform\"]"],
    },
    Case {
        trial: "grafana::full::queries_through_each_datasource_return_data",
        needles: &["no data from: Loki"],
    },
    Case {
        trial: "grafana::full::every_panel_of_the_configured_dashboards_returns_data",
        needles: &[
            "Platform Overview / Targets up (stat): No data",
            "Data Platform: dashboard not found",
        ],
    },
    Case {
        trial: "grafana::full::alert_rules_exist_and_are_not_in_error",
        needles: &[
            "HighMemoryUsage (Grafana): health error (failed to execute query A: 403 Forbidden)",
            "NoSuchAlert: not found",
        ],
    },
];

/// Grafana is not run here (AGPL), so its checks are shown failing against a stand-in that
/// answers in Grafana's documented shapes with one fault per check. This shows that each check
/// can fail and names its offender; it is no evidence that the suite passes on a real Grafana.
#[test]
fn every_grafana_check_fails_on_a_documented_faulty_answer_naming_the_offender() {
    let port = grafana_stand_in::grafana_stand_in();
    let target = std::env::temp_dir().join(format!(
        "carbon-e2e-mutation-grafana-{}.toml",
        common::run_id("graf")
    ));
    std::fs::write(
        &target,
        format!(
            r#"# Written by the mutation self test: a stand-in answering as Grafana does.
[target]
kind = "cluster"
description = "grafana stand-in (mutation self test)"
[grafana]
url = "http://127.0.0.1:{port}"
token_env = "CARBON_E2E_MUTATION_GRAFANA_TOKEN"
metrics_datasource = "VictoriaMetrics"
logs_datasource = "Loki"
logs_query = '{{namespace="data-platform"}}'
dashboards = ["Platform Overview", "Data Platform"]
alert_rules = ["PodCrashLooping", "HighMemoryUsage", "NoSuchAlert"]
"#
        ),
    )
    .expect("write the stand-in's target");
    let shown = run_failing(
        "grafana stand-in",
        &[
            ("E2E_TARGET", target.to_str().expect("a UTF-8 path")),
            ("CARBON_E2E_MUTATION_GRAFANA_TOKEN", "not-a-real-token"),
        ],
        GRAFANA,
    );
    let _ = std::fs::remove_file(&target);
    eprintln!("{shown} grafana checks shown failing on their case");
}

/// The suites whose checks judge the platform's state.
const JUDGING: &[&str] = &[
    "platform",
    "velero",
    "loki",
    "alerts",
    "grafana",
    "superset",
    "dashboards",
    "entrypoints",
];

/// The platform checks whose failing cases are in suites/platform/tests/self_test.rs (the
/// broken namespace, a mistyped and an empty scope), called there as library functions.
const PLATFORM_SELF_TEST: &[&str] = &[
    "platform::smoke::unhealthy_pods_stay_below_the_maximum",
    "platform::smoke::running_pod_share_meets_the_minimum",
    "platform::smoke::critical_workloads_are_available_with_all_replicas_ready",
    "platform::smoke::daemonsets_are_fully_scheduled_and_ready",
    "platform::smoke::persistent_volume_claims_are_bound",
    "platform::smoke::failed_jobs_stay_within_the_maximum",
    "platform::smoke::argocd_applications_synced_and_healthy_meet_the_minimum",
    "platform::smoke::kyverno_policy_exceptions_meet_the_minimum",
];

/// Every case list the tests above run.
const ALL_CASES: &[&[Case]] = &[
    SETTINGS,
    DOWN,
    SUPERSET_ROWS,
    SUPERSET_DATABASE,
    SUPERSET_UNREACHABLE,
    SUPERSET_NO_SQL_LAB,
    SUPERSET_WRONG_PASSWORD,
    ENTRYPOINTS_DOWN,
    ENTRYPOINTS_CERTIFICATE,
    UNBOUND,
    NO_IMAGE,
    BROKEN_SCOPE,
    API_DOWN,
    GRAFANA,
];

/// A check added without a failing case fails here: every smoke trial (the checks a gate
/// reads) of the judging suites is one of the cases above or of the platform self test.
/// (Full-tier trials are round trips that provoke their own failure or compare what they wrote
/// with what they read; `bench --only unreachable` shows each failing on a dead service.)
#[test]
fn every_check_of_the_judging_suites_has_a_failing_case() {
    use carbon_e2e::nextest::{Runner, plans, suite_binaries};
    let binaries = suite_binaries(&Runner::Cargo, "selftest", &[]).expect("cargo nextest list");
    let planned = plans(&binaries, &[]).expect("the suites' plans");
    let with_case: std::collections::BTreeSet<&str> = ALL_CASES
        .iter()
        .flat_map(|cases| cases.iter().map(|c| c.trial))
        .chain(PLATFORM_SELF_TEST.iter().copied())
        .collect();
    let checks: Vec<&str> = planned
        .iter()
        .map(|p| p.trial.as_str())
        .filter(|t| {
            let mut parts = t.split("::");
            JUDGING.contains(&parts.next().unwrap_or_default()) && parts.next() == Some("smoke")
        })
        .collect();
    assert!(
        checks.len() > 30,
        "the suites' plans list only {} smoke checks: {checks:?}",
        checks.len()
    );
    let missing: Vec<&&str> = checks.iter().filter(|t| !with_case.contains(**t)).collect();
    assert!(
        missing.is_empty(),
        "checks without a failing case (add one to crates/cli/tests/mutation.rs): {missing:?}"
    );
    let stale: Vec<&&str> = with_case
        .iter()
        .filter(|t| !planned.iter().any(|p| p.trial == **t))
        .collect();
    assert!(stale.is_empty(), "cases naming no trial: {stale:?}");
    eprintln!(
        "{} of {} smoke checks of {} have a failing case",
        checks.len() - missing.len(),
        checks.len(),
        JUDGING.join(", ")
    );
}
