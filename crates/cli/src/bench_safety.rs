//! `bench --only unreachable`: what a dead or hung service costs a whole run of its suite, for
//! every HTTP suite, against the same run on the real service. Goals: a hung service adds at
//! most one request timeout + 2 s (Loki's long query timeout included: a trial's first query
//! is preceded by `/ready` within the request timeout), a dead one at most 1 s, whatever the
//! number of trials.

use std::net::TcpListener;
use std::time::Duration;

use anyhow::ensure;

use crate::bench::{median, nextest_run, secs};

/// Accepts connections on a loopback port and never answers, until the process ends.
fn hung_endpoint() -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn); // kept open, never read or written
        }
    });
    Ok(format!("http://{addr}"))
}

/// Each HTTP suite, the override that points it elsewhere, and the path its URL keeps.
const SUITES: &[(&str, &str, &str)] = &[
    ("minio", "E2E_MINIO_ENDPOINT", ""),
    ("victoriametrics", "E2E_VICTORIAMETRICS_URL", ""),
    ("trino", "E2E_TRINO_URL", ""),
    ("loki", "E2E_LOKI_URL", ""),
    ("alerts", "E2E_VMALERT_URL", ""),
    (
        "dolphinscheduler",
        "E2E_DOLPHINSCHEDULER_URL",
        "/dolphinscheduler",
    ),
];

pub(crate) fn run(repeat_slow: usize, target: &carbon_config::Target) -> anyhow::Result<()> {
    let request_timeout = target.settings.request_timeout();
    let hung = hung_endpoint()?;
    println!(
        "\n## A dead or hung service ({repeat_slow} runs each; request timeout {} s)\n",
        request_timeout.as_secs()
    );
    println!(
        "| suite | real: wall (median) | dead (connection refused) | hung (accepts, never answers) | trials failed dead / hung | goal |\n|---|---|---|---|---|---|"
    );
    for (suite, var, path) in SUITES {
        let filter = format!("package(suite-{suite})");
        let (mut healthy, mut dead, mut stalled) = (Vec::new(), Vec::new(), Vec::new());
        let (mut trials, mut failed_dead, mut failed_hung) = (0, 0, 0);
        for _ in 0..repeat_slow {
            let (w, t) = nextest_run(&filter, &[])?;
            ensure!(
                t.iter().all(|(_, ok)| *ok),
                "the {suite} suite must pass on the real service"
            );
            trials = t.len();
            healthy.push(w);
            let refused = format!("http://127.0.0.1:9{path}");
            let (w, t) = nextest_run(&filter, &[(var, refused.as_str())])?;
            failed_dead = t.iter().filter(|(_, ok)| !ok).count();
            ensure!(failed_dead > 0, "no {suite} trial failed on a dead service");
            dead.push(w);
            let stuck = format!("{hung}{path}");
            let (w, t) = nextest_run(&filter, &[(var, stuck.as_str())])?;
            failed_hung = t.iter().filter(|(_, ok)| !ok).count();
            ensure!(failed_hung > 0, "no {suite} trial failed on a hung service");
            stalled.push(w);
        }
        let (h, d, s) = (median(healthy), median(dead), median(stalled));
        let extra = |x: Duration| format!("{:+.3} s", x.as_secs_f64() - h.as_secs_f64());
        let goal = request_timeout.as_secs() + 2;
        let met = s.saturating_sub(h) <= Duration::from_secs(goal)
            && d.saturating_sub(h) <= Duration::from_secs(1);
        println!(
            "| {suite} ({trials} trials) | {} | {} ({}) | {} ({}) | {failed_dead} / {failed_hung} | dead ≤ +1 s, hung ≤ +{goal} s: {} |",
            secs(h),
            secs(d),
            extra(d),
            secs(s),
            extra(s),
            if met { "met" } else { "**not met**" }
        );
    }
    Ok(())
}
