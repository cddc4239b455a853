//! `reap`: removes what killed runs left behind, and nothing else.
//!
//! An artifact is a leftover only when all of these hold:
//! - its name has the shape [`carbon_core::naming`] gives a run's artifacts, with a run id;
//! - it carries the ownership marker where the service can hold one (DolphinScheduler project
//!   description, Iceberg table comment, S3 object metadata, series labels, token shape);
//! - its age, measured on the **server's** clock (HTTP `Date`, the server's own timestamps,
//!   the creation time in the marker), is over the limit, or it belongs to the run named with
//!   `--run`.
//!
//! Anything else is kept; an artifact whose age cannot be read is kept and reported. One removal
//! that fails does not stop the others. Every decision is printed: removed, kept and why.
//!
//! What a run leaves on each service, and how one is removed, is that service's declaration
//! (`leftovers` and `remove` of [`carbon_config::Declared`], in its client crate); this module
//! walks the registry and decides, the same way for every service.

use std::time::Duration;

use anyhow::Context as _;
use carbon_config::Target;
use carbon_core::naming;

/// Artifacts older than this are leftovers when `validate` reaps before a run.
pub const DEFAULT_AGE: Duration = Duration::from_secs(3600);

/// Arguments of `reap`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove artifacts older than this many minutes (server's clock).
    #[arg(long, default_value_t = 60)]
    older_than_minutes: u64,
    /// Only list what would be removed (and what is kept, and why); send no write.
    #[arg(long)]
    dry_run: bool,
    /// Only the artifacts of this run id, whatever their age (e.g. after killing that run).
    #[arg(long)]
    run: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let target = carbon_config::load().context("loading the target")?;
    let selection = Selection {
        older_than: Duration::from_secs(args.older_than_minutes * 60),
        run: args.run,
        dry_run: args.dry_run,
    };
    let outcome = reap(&target, &selection).await;
    if outcome.refused.is_some() {
        return Ok(std::process::ExitCode::from(2));
    }
    outcome.print_summary(&selection);
    Ok(if outcome.failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

/// Which artifacts to remove.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Artifacts older than this (server's clock) are leftovers.
    pub older_than: Duration,
    /// When set, exactly this run's artifacts, whatever their age.
    pub run: Option<String>,
    /// List, do not remove.
    pub dry_run: bool,
}

impl Selection {
    /// The default reaping before a run: an hour, for real.
    pub fn before_run() -> Self {
        Self {
            older_than: DEFAULT_AGE,
            run: None,
            dry_run: false,
        }
    }

    /// Whether an owned artifact of `run`, created at `created` (server seconds, if known), is
    /// to go, given the server's `now`. `Err` carries why it stays.
    pub(crate) fn decide(&self, run: &str, created: Option<i64>, now: i64) -> Result<(), String> {
        if let Some(only) = &self.run {
            return if only == run {
                Ok(())
            } else {
                Err(format!("run {run}, not {only}"))
            };
        }
        let Some(created) = created else {
            return Err("its age cannot be read: kept".into());
        };
        let age = now - created;
        let limit = i64::try_from(self.older_than.as_secs()).unwrap_or(i64::MAX);
        if age >= limit {
            Ok(())
        } else {
            Err(format!("{age} s old, younger than {limit} s: a live run's"))
        }
    }
}

/// What a reap did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Artifacts removed (or, in a dry run, that would be).
    pub removed: Vec<String>,
    /// Owned artifacts kept, with why (foreign ones are only counted).
    pub kept: usize,
    /// Removals or listings that failed.
    pub failed: usize,
    /// Why nothing was done: the target's policy forbids the deletions a reap makes.
    pub refused: Option<String>,
}

/// Why `target`'s policy forbids this reap, if it does: a reap deletes, so a read-only target
/// only allows `--dry-run`.
pub fn refusal(target: &Target, sel: &Selection) -> Option<String> {
    (!sel.dry_run && target.settings.mode() == carbon_config::Mode::ReadOnly).then(|| {
        format!(
            "reap deletes what runs left, and target `{}` is read-only ([target] mode): nothing was sent; `--dry-run` lists what would go",
            target.name
        )
    })
}

impl Outcome {
    pub(crate) fn removed(&mut self, sel: &Selection, service: &str, what: String) {
        let verb = if sel.dry_run {
            "would remove"
        } else {
            "removed"
        };
        println!("reap: {service}: {verb} {what}");
        self.removed.push(format!("{service}: {what}"));
    }

    pub(crate) fn kept(&mut self, service: &str, what: &str, why: &str) {
        println!("reap: {service}: kept {what}: {why}");
        self.kept += 1;
    }

    pub(crate) fn failed(&mut self, service: &str, what: &str, e: &dyn std::fmt::Display) {
        println!("reap: {service}: FAILED {what}: {e}");
        self.failed += 1;
    }

    fn print_summary(&self, sel: &Selection) {
        println!(
            "reap: {} {}, {} kept, {} failed",
            self.removed.len(),
            if sel.dry_run {
                "would be removed"
            } else {
                "removed"
            },
            self.kept,
            self.failed
        );
    }
}

/// Reaps every configured service of `target`; never stops at the first failure.
pub async fn reap(target: &Target, sel: &Selection) -> Outcome {
    let mut out = Outcome::default();
    if let Some(why) = refusal(target, sel) {
        println!("reap: refused: {why}");
        out.refused = Some(why);
        return out;
    }
    for d in crate::registry::registry() {
        if d.artifacts.is_some() && target.service_configured(d.service).is_ok() {
            (d.reap)(target, sel, &mut out).await;
        }
    }
    reap_run_state(sel);
    out
}

/// Per-run state directories on this machine (the unreachable-service records), by age.
fn reap_run_state(sel: &Selection) {
    let env = carbon_config::Env::from_process();
    let paths = carbon_config::Paths::from_env(&env);
    let Ok(entries) = std::fs::read_dir(paths.runs()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= sel.older_than);
        let chosen = sel.run.as_deref().map_or(old, |r| r == name);
        if chosen && naming::is_run_id(&name) && !sel.dry_run {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_on_the_servers_clock_decides_and_an_unknown_age_keeps() {
        let sel = Selection::before_run();
        assert!(sel.decide("1f2e3d4c", Some(1_000), 1_000 + 3600).is_ok());
        assert!(sel.decide("1f2e3d4c", Some(1_000), 1_000 + 3599).is_err());
        assert!(sel.decide("1f2e3d4c", None, 1_000_000).is_err());
        let only = Selection {
            run: Some("1f2e3d4c".into()),
            ..Selection::before_run()
        };
        assert!(only.decide("1f2e3d4c", Some(1_000), 1_000).is_ok());
        assert!(only.decide("9a8b7c6d", Some(0), 1_000_000).is_err());
    }
}
