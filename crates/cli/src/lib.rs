//! The commands of `carbon-e2e` as a library, so that each is unit-tested without the binary:
//! `validate` (run the suites, complete the JUnit, write the run manifest), `gate` and `diff`
//! (the verdict over a finished run), `doctor`, `reap`, `bench`, `archive` and `image` (the
//! relocatable runner and its OCI image), and the service [`registry`]
//! they share. `src/main.rs` is the thin binary over it (nextest's own split, `cargo-nextest`
//! over `nextest-runner`, is the model).

pub mod archive;
pub mod bench;
mod bench_archive;
mod bench_dolphinscheduler;
mod bench_kube;
mod bench_loki;
mod bench_node;
mod bench_reach;
mod bench_safety;
mod bench_velero;
pub mod doctor;
pub mod gate;
pub mod image;
pub mod manifest;
pub mod nextest;
pub mod reap;
pub mod registry;
pub mod report;
pub mod validate;
pub mod versions;

/// The table `stack up` prints: each service, its pid, endpoint and time to ready.
pub fn print_started(started: &[carbon_stack::Started]) {
    println!(
        "{:<21} {:<8} {:<40} {:>9} state",
        "service", "pid", "endpoint", "ready in"
    );
    for s in started {
        let state = if s.started_now {
            "started"
        } else {
            "was running"
        };
        println!(
            "{:<21} {:<8} {:<40} {:>8.2}s {state}",
            s.name,
            s.pid,
            s.endpoint,
            s.ready_after.as_secs_f64()
        );
    }
}
