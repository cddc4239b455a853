//! The Loki section of `bench` (alone with `bench --only loki`, which restarts no service but
//! Loki itself).
//!
//! 1. Cold start of the local Loki (stopped by pid, then `stack up`) to `/ready`.
//! 2. Push to queryable: a line pushed through the push API until `query_range` returns it.
//! 3. Shipper to queryable: a line written to a file the shipper watches until `query_range`
//!    returns it (local stack: promtail).
//! 4. The `loki` and `alerts` suites' wall times.

use carbon_config::FromTarget as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, ensure};
use carbon_config::Env;
use carbon_core::wait::{Backoff, wait_until_with};
use carbon_loki::{Direction, LokiClient, PushStream};

use crate::bench::{list, median, secs, suite_walls};

/// Polls fast: the waits are what is measured.
const POLL: Backoff = Backoff {
    initial: Duration::from_millis(10),
    max: Duration::from_millis(50),
};

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or_default()
}

pub async fn run(env: &Env, repeat: usize, repeat_slow: usize) -> anyhow::Result<()> {
    let target = carbon_config::load_with(env, &carbon_config::Paths::from_env(env))
        .context("loading the target")?;
    let Some(cfg) = target.loki.clone() else {
        println!(
            "\n## Loki: skipped (target `{}` has no [loki] section)",
            target.name
        );
        return Ok(());
    };
    let loki = LokiClient::from_target(&target)?;

    // 1. Cold start (local stack only).
    if target.settings.kind == carbon_config::TargetKind::Local {
        let mut cold = Vec::new();
        for _ in 0..repeat_slow {
            carbon_stack::stop_service(env, "loki").await?;
            let started = carbon_stack::up(env).await?;
            let l = started
                .iter()
                .find(|s| s.name == "loki")
                .context("stack up did not report loki")?;
            ensure!(l.started_now, "loki was not restarted");
            cold.push(l.ready_after);
        }
        println!("\n## Loki local server ({repeat_slow} runs)\n");
        println!("| measure | median | runs |\n|---|---|---|");
        println!(
            "| cold start to `/ready` | {} | {} |",
            secs(median(cold.clone())),
            list(&cold)
        );
    }

    // 2. Push to queryable.
    let run_id = carbon_config::run_id(env)?;
    let mut push = Vec::new();
    for i in 0..repeat {
        let labels = [
            ("job", "carbon-e2e"),
            ("e2e_run", run_id.as_str()),
            ("source", "bench"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let selector = format!("{{job=\"carbon-e2e\", e2e_run=\"{run_id}\", source=\"bench\"}}");
        let marker = format!("bench push {i} {}", now_ns());
        let ts = now_ns();
        let t0 = Instant::now();
        loki.push(&[PushStream {
            stream: labels,
            values: vec![(ts.to_string(), marker.clone())],
        }])
        .await?;
        let query = format!("{selector} |= \"{marker}\"");
        wait_until_with(
            "the pushed line to be queryable",
            Duration::from_secs(cfg.push_latency_secs),
            POLL,
            || {
                loki.poll_streams(
                    &query,
                    ts - 1_000_000_000,
                    ts + 1_000_000_000,
                    1,
                    Direction::Backward,
                )
            },
        )
        .await?;
        push.push(t0.elapsed());
    }

    // 3. Shipper to queryable.
    let mut ship = Vec::new();
    if let (Some(dir), Some(selector)) = (&cfg.shipper_dir, &cfg.shipper_selector) {
        let path = dir.join(format!("e2e-{run_id}-bench.log"));
        let measured = async {
            for i in 0..repeat {
                let marker = format!("carbon-e2e-bench-ship-{run_id}-{i}-{}", now_ns());
                let query = format!("{selector} |= \"{marker}\"");
                let written = now_ns();
                let t0 = Instant::now();
                // Appended, as a pod's log grows.
                {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)?;
                    writeln!(f, "{marker}")?;
                }
                wait_until_with(
                    "the shipped line to be queryable",
                    Duration::from_secs(cfg.ship_latency_secs),
                    POLL,
                    || {
                        loki.poll_streams(
                            &query,
                            written - 5_000_000_000,
                            now_ns() + 1_000_000_000,
                            1,
                            Direction::Backward,
                        )
                    },
                )
                .await?;
                ship.push(t0.elapsed());
            }
            anyhow::Ok(())
        }
        .await;
        let removed = std::fs::remove_file(&path);
        measured?;
        removed.with_context(|| format!("removing {}", path.display()))?;
    }
    println!("\n## Loki: write to queryable ({repeat} runs each)\n");
    println!("| measure | median | max |\n|---|---|---|");
    println!(
        "| push API to `query_range` sees the line | {} | {} |",
        secs(median(push.clone())),
        secs(push.iter().max().copied().unwrap_or_default())
    );
    if ship.is_empty() {
        println!("| shipper to queryable | skipped (no loki.shipper_dir) | — |");
    } else {
        println!(
            "| line appended to a shipped file to `query_range` sees it | {} | {} |",
            secs(median(ship.clone())),
            secs(ship.iter().max().copied().unwrap_or_default())
        );
    }

    // 4. The suites.
    println!("\n## Loki and alerts suites against the local stack ({repeat_slow} runs)\n");
    println!("| suite | trials | median wall | runs |\n|---|---|---|---|");
    for package in ["suite-loki", "suite-alerts"] {
        let (wall, n) = suite_walls(package, repeat_slow)?;
        println!(
            "| `{package}` | {n} | {} | {} |",
            secs(median(wall.clone())),
            list(&wall)
        );
    }
    Ok(())
}
