//! The nightly's history and alerts on the local stack: two real gated runs of a slice of the
//! suites (the `victoriametrics` smoke tier) push their results (`validate --gate
//! --push-results`) under a target of this test's own; the second is made to fail
//! (`min_up_targets = 99`, NO-GO). Then, against the stack's real VictoriaMetrics and vmalert:
//!
//! 1. the pushed results are queryable (the push latency, run end to queryable, is printed);
//! 2. vmalert has loaded the shipped rule file (`kind-config/monitoring/carbon-e2e-rules.yml`,
//!    with the stack's short windows) and every rule of it evaluates without error;
//! 3. `CarbonE2eNightlyFailed` fires for this target within its `for`;
//! 4. every panel query of the shipped board (`carbon-e2e-nightly.json`, `$target` set to this
//!    target) returns data;
//! 5. with no push for the local window (10 s), `CarbonE2eNoResults` fires for it;
//! 6. a third run whose VictoriaMetrics is unreachable (its query address a closed port; the
//!    push still reaches the real one) fails its trials as infrastructure (network), is
//!    INCONCLUSIVE rather than NO-GO, pushes `carbon_e2e_run_failures{class="infrastructure"}`,
//!    and `CarbonE2eNightlyInconclusive` fires.
//!
//! The test's series are deleted at the end. Needs the local stack up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use carbon_config::FromTarget as _;
use carbon_core::wait::{Backoff, Check, wait_until_with};
use carbon_victoriametrics::VmClient;
use carbon_vmalert::VmAlertClient;

mod common;

const RULES: &str = include_str!("../../../kind-config/monitoring/carbon-e2e-rules.yml");
const BOARD: &str = include_str!("../../../kind-config/monitoring/carbon-e2e-nightly.json");

/// A read-only `cluster` target named `name` (the `target` label of what it pushes) holding the
/// local stack's `[victoriametrics]` only, and opting in to the one write a nightly makes
/// (`push-results`): the slice's trials need nothing else, so the run's plans and version
/// probes stay as light as the slice, and the push goes through the read-only opt-in path a
/// production nightly takes.
fn target_file(dir: &Path, name: &str) -> PathBuf {
    // The cluster too, for a component version in the pushed run (the stack's VictoriaMetrics,
    // Debian's build, reports none); its kubeconfig comes from the stack's env file.
    let text = format!(
        "[target]\nkind = \"cluster\"\ndescription = \"the nightly self test's slice\"\nopt_in = [\"push-results\"]\n\n{}\n[kubernetes]\nkubeconfig_env = \"CARBON_STACK_KUBECONFIG\"\ncontext = \"carbon-e2e\"\n",
        common::local_section("victoriametrics")
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("writing the self test's target");
    path
}

/// One gated run of the victoriametrics smoke trials, pushed; its console.
fn pushed_run(target: &Path, extra_env: &[(&str, &str)], want_exit: i32) -> String {
    let mut cmd = common::carbon_e2e(&[
        "validate",
        "--no-stack",
        "--gate",
        "--push-results",
        // Reaping before a run is the main run's to do, not this slice's.
        "--no-reap",
        "--profile",
        "nightly-selftest",
        "--",
        "victoriametrics::smoke::",
    ]);
    let kubeconfig = carbon_config::load()
        .expect("the local target loads")
        .env_var("CARBON_STACK_KUBECONFIG")
        .expect("the stack's kubeconfig (carbon-e2e stack up)");
    cmd.env("E2E_TARGET", target)
        .env("E2E_RUN_ID", common::run_id("nite"))
        .env("CARBON_STACK_KUBECONFIG", kubeconfig);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let t0 = Instant::now();
    let out = cmd.output().expect("carbon-e2e validate runs");
    let console = common::console(&out);
    println!(
        "gated run in {:?} (exit {:?}); {} crate(s) compiled",
        t0.elapsed(),
        out.status.code(),
        console.matches("Compiling ").count()
    );
    assert_eq!(out.status.code(), Some(want_exit), "{console}");
    assert!(
        console.contains("gate: results pushed: "),
        "no push reported:\n{console}"
    );
    console
}

/// Polls fast: what is measured here is seconds.
const FAST: Backoff = Backoff {
    initial: Duration::from_millis(100),
    max: Duration::from_millis(500),
};

/// Waits for `probe` with the one polling primitive, for at most `limit`; how long it took.
async fn within<F, Fut>(what: &str, limit: Duration, probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Check<()>, std::io::Error>>,
{
    let t0 = Instant::now();
    wait_until_with(what, limit, FAST, probe)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    t0.elapsed()
}

fn failed(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Whether vmalert shows `alert` firing for `target`.
async fn firing(
    vmalert: &VmAlertClient,
    alert: &str,
    target: &str,
) -> Result<Check<()>, std::io::Error> {
    let alerts = vmalert.alerts().await.map_err(failed)?;
    let states: Vec<String> = alerts
        .iter()
        .filter(|a| a.labels.get("target").map(String::as_str) == Some(target))
        .map(|a| format!("{} {}", a.name, a.state))
        .collect();
    Ok(if states.iter().any(|s| *s == format!("{alert} firing")) {
        Check::Ready(())
    } else {
        Check::Pending(format!("alerts for {target}: {states:?}"))
    })
}

#[test]
fn pushed_runs_feed_the_shipped_board_and_make_the_shipped_alerts_fire() {
    let tmp = std::env::temp_dir().join(format!("carbon-e2e-{}", common::run_id("nite")));
    std::fs::create_dir_all(&tmp).expect("a temporary directory");
    let name = format!("nightly-selftest-{:08x}", rand::random::<u32>());
    let file = target_file(&tmp, &name);
    let run_dir = carbon_config::workspace_root()
        .join("target/nextest/nightly-selftest")
        .join(&name);

    let t0 = Instant::now();
    // Run 1 passes (INCONCLUSIVE: a slice decides no category); run 2 fails a trial (NO-GO).
    pushed_run(&file, &[], 5);
    // More scrape targets than the stack has, and no waiting for them: fails at once.
    let failing = pushed_run(
        &file,
        &[
            ("E2E_VICTORIAMETRICS_MIN_UP_TARGETS", "99"),
            ("E2E_VICTORIAMETRICS_VISIBILITY_TIMEOUT_SECS", "1"),
        ],
        3,
    );
    let pushed_at = Instant::now();
    println!("two gated runs pushed in {:?}", t0.elapsed());
    assert!(failing.contains("gate: NO-GO"), "{failing}");

    let target = carbon_config::load().expect("the local target loads");
    let vm = VmClient::from_target(&target).expect("a VictoriaMetrics client");
    let vmalert = VmAlertClient::from_target(&target).expect("a vmalert client");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        // 1. Queryable.
        let nogo = format!("carbon_e2e_gate_verdict{{target=\"{name}\",verdict=\"no-go\"}} == 1");
        within(
            "the pushed verdict is queryable",
            // VictoriaMetrics hides samples younger than its latencyOffset (30 s), and every
            // sample is stamped with the run's end: 30 s from the end, plus a margin.
            Duration::from_secs(60),
            || async {
                let rows = vm.query(&nogo, None).await.map_err(failed)?;
                Ok(if rows.is_empty() {
                    Check::Pending("no NO-GO verdict yet".into())
                } else {
                    Check::Ready(())
                })
            },
        )
        .await;
        println!(
            "push latency: queryable {:?} after the second run's push returned",
            pushed_at.elapsed()
        );
        let series = vm
            .query(
                &format!("count({{__name__=~\"carbon_e2e_.+\",target=\"{name}\"}})"),
                None,
            )
            .await
            .expect("counting the run's series");
        println!(
            "series per target: {}",
            series.first().map_or("0".into(), |s| s.value.1.clone())
        );

        // 2. The shipped rules are loaded and evaluate without error.
        let shipped: Vec<String> = RULES
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- alert: "))
            .map(str::to_string)
            .collect();
        assert!(shipped.len() >= 4, "the rule file lists {shipped:?}");
        within(
            "every shipped rule evaluated",
            Duration::from_secs(20),
            || async {
                let groups = vmalert.groups().await.map_err(failed)?;
                let mut pending = Vec::new();
                for rule in &shipped {
                    match carbon_vmalert::find_rule(&groups, rule) {
                        None => pending.push(format!("{rule} not loaded")),
                        Some((_, r)) if r.in_error() => {
                            panic!("rule {rule} is in error: {}", r.last_error)
                        }
                        Some((_, r)) if !r.evaluated() => {
                            pending.push(format!("{rule} not evaluated"));
                        }
                        Some(_) => {}
                    }
                }
                Ok(if pending.is_empty() {
                    Check::Ready(())
                } else {
                    Check::Pending(pending.join(", "))
                })
            },
        )
        .await;

        // 3. The failing run fires the nightly's alert for this target.
        let took = within(
            "CarbonE2eNightlyFailed firing",
            Duration::from_secs(30),
            || firing(&vmalert, "CarbonE2eNightlyFailed", &name),
        )
        .await;
        println!("CarbonE2eNightlyFailed firing {took:?} after the push was queryable");

        // 4. Every panel of the board has data.
        let board: serde_json::Value = serde_json::from_str(BOARD).expect("the board is JSON");
        let mut empty = Vec::new();
        let mut queries = 0;
        for panel in board["panels"].as_array().expect("panels") {
            for t in panel["targets"].as_array().expect("targets") {
                let expr = t["expr"].as_str().expect("expr").replace("$target", &name);
                queries += 1;
                match vm.query(&expr, None).await {
                    Ok(rows) if !rows.is_empty() => {}
                    Ok(_) => empty.push(format!("{}: {expr}: no data", panel["title"])),
                    Err(e) => empty.push(format!("{}: {expr}: {e}", panel["title"])),
                }
            }
        }
        assert!(
            empty.is_empty(),
            "panels without data:\n{}",
            empty.join("\n")
        );
        println!("all {queries} panel queries of the board returned data");

        // 5. No push since: "no results" fires once the local window has passed.
        let took = within("CarbonE2eNoResults firing", Duration::from_secs(40), || {
            firing(&vmalert, "CarbonE2eNoResults", &name)
        })
        .await;
        println!(
            "CarbonE2eNoResults firing {:?} after the last push",
            pushed_at.elapsed().max(took)
        );
    });

    // 6. An outage of the runner's reach is not a platform regression: the same slice with
    // VictoriaMetrics' query address unreachable (the push still goes to the real one) fails
    // its trials as infrastructure (network), and the gate says INCONCLUSIVE, not NO-GO.
    let outage = pushed_run(
        &file,
        &[
            ("E2E_VICTORIAMETRICS_URL", "http://127.0.0.1:9"),
            (
                "E2E_VICTORIAMETRICS_WRITE_URL",
                target
                    .victoriametrics
                    .as_ref()
                    .expect("[victoriametrics]")
                    .url
                    .as_str(),
            ),
        ],
        5,
    );
    assert!(
        outage.contains("gate: INCONCLUSIVE")
            && outage.contains("infrastructure (network: the runner could not reach the service)")
            && outage.contains("127.0.0.1:9"),
        "{outage}"
    );
    rt.block_on(async {
        let undecided = format!(
            "carbon_e2e_run_failures{{target=\"{name}\",class=\"infrastructure\"}} > 0 and on (target) carbon_e2e_gate_verdict{{target=\"{name}\",verdict=\"inconclusive\"}} == 1"
        );
        within(
            "the outage's run pushed as inconclusive with infrastructure failures",
            Duration::from_secs(60),
            || async {
                let rows = vm.query(&undecided, None).await.map_err(failed)?;
                Ok(if rows.is_empty() {
                    Check::Pending("not yet".into())
                } else {
                    Check::Ready(())
                })
            },
        )
        .await;
        let took = within(
            "CarbonE2eNightlyInconclusive firing",
            Duration::from_secs(30),
            || firing(&vmalert, "CarbonE2eNightlyInconclusive", &name),
        )
        .await;
        println!("CarbonE2eNightlyInconclusive firing {took:?} after the outage's push was queryable");
    });
    // The test's history goes (a real nightly's stays).
    let selector = format!("{{__name__=~\"carbon_e2e_.+\",target=\"{name}\"}}");
    let _ = rt.block_on(vm.delete_series(&selector));
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::remove_dir_all(&run_dir);
}
