//! `bench --only unreachable`: what a dead or hung object store costs a whole `minio` run, against
//! the same run on the real store. Goals (issue 7): a hung service adds at most one request
//! timeout + 2 s, a dead one at most 1 s, whatever the number of trials.

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

pub(crate) fn run(repeat_slow: usize, request_timeout: Duration) -> anyhow::Result<()> {
    let hung = hung_endpoint()?;
    let filter = "package(suite-minio)";
    let (mut healthy, mut dead, mut stalled) = (Vec::new(), Vec::new(), Vec::new());
    let mut trials = 0;
    for _ in 0..repeat_slow {
        let (w, t) = nextest_run(filter, &[])?;
        ensure!(
            t.iter().all(|(_, ok)| *ok),
            "the minio suite must pass on the real store"
        );
        trials = t.len();
        healthy.push(w);
        let (w, t) = nextest_run(filter, &[("E2E_MINIO_ENDPOINT", "http://127.0.0.1:9")])?;
        ensure!(
            t.iter().all(|(_, ok)| !ok),
            "every trial must fail on a dead store"
        );
        dead.push(w);
        let (w, t) = nextest_run(filter, &[("E2E_MINIO_ENDPOINT", hung.as_str())])?;
        ensure!(
            t.iter().all(|(_, ok)| !ok),
            "every trial must fail on a hung store"
        );
        stalled.push(w);
    }
    let (h, d, s) = (median(healthy), median(dead), median(stalled));
    let extra = |x: Duration| {
        let delta = x.as_secs_f64() - h.as_secs_f64();
        format!("{delta:+.3} s")
    };
    println!(
        "\n## A dead or hung object store ({repeat_slow} runs, {trials} minio trials each; request timeout {} s)\n",
        request_timeout.as_secs()
    );
    println!(
        "| store | `cargo nextest run` wall (median) | vs the real store | goal |\n|---|---|---|---|"
    );
    println!("| real (versitygw) | {} | — | — |", secs(h));
    println!(
        "| dead (connection refused) | {} | {} | ≤ +1 s |",
        secs(d),
        extra(d)
    );
    println!(
        "| hung (accepts, never answers) | {} | {} | ≤ +{} s |",
        secs(s),
        extra(s),
        request_timeout.as_secs() + 2
    );
    Ok(())
}
