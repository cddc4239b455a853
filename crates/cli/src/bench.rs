//! `bench`: the benchmarks, each a table (medians of repeated runs, measured here and now).

use std::process::ExitCode;

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many times to repeat each measurement.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
}

pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("bench: not yet implemented")
}
