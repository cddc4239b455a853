//! The trial harness every suite runs on (built on `libtest-mimic`, run by nextest).
//!
//! A suite is one test binary with `harness = false` whose `main` declares its trials:
//!
//! ```no_run
//! use carbon_harness::{Ctx, Service, Suite};
//!
//! async fn health(ctx: Ctx) -> anyhow::Result<()> {
//!     ctx.victoriametrics()?.health().await?;
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     Suite::new("victoriametrics").smoke("health_endpoint_answers_ok", &[Service::VictoriaMetrics], health).run()
//! }
//! ```
//!
//! - Trials are named `<suite>::<tier>::<behaviour_sentence>`; the tier is `smoke` or `full`.
//! - Listing (`--list`) reads the target file and nothing else: no network.
//! - A trial whose service the target does not configure is *ignored* (nextest shows SKIP);
//!   with `E2E_STRICT=1` it runs and fails with the reason instead. Run explicitly, an ignored
//!   trial fails with the reason too: it never passes without having checked anything.
//! - Each trial runs on its own runtime with a [`Ctx`]: target, lazily built clients, the run
//!   id, a cleanup stack that runs in reverse order whatever the outcome, and one polling
//!   primitive ([`Ctx::wait_until`]).

mod ctx;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

pub use anyhow;
pub use carbon_config::{
    Env, GrafanaConfig, LokiConfig, MinioConfig, Service, Target, VictoriaMetricsConfig,
    VmAlertConfig,
};
pub use carbon_core::wait::{Backoff, Check};
pub use ctx::Ctx;
use futures::future::BoxFuture;
use libtest_mimic::{Arguments, Failed, Trial};

/// How deep a trial goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Fast, read-mostly checks for every run (the `smoke` nextest profile runs only these).
    Smoke,
    /// The whole workflow: creates, runs, verifies, cleans up.
    Full,
}

impl Tier {
    fn as_str(self) -> &'static str {
        match self {
            Tier::Smoke => "smoke",
            Tier::Full => "full",
        }
    }
}

type Body = Arc<dyn Fn(Ctx) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

struct TrialDef {
    tier: Tier,
    behaviour: &'static str,
    services: &'static [Service],
    body: Body,
}

/// A suite: one test binary's worth of trials.
#[must_use]
pub struct Suite {
    name: &'static str,
    trials: Vec<TrialDef>,
    live_only: Option<&'static str>,
}

impl std::fmt::Debug for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suite")
            .field("name", &self.name)
            .field("trials", &self.trials.len())
            .finish()
    }
}

impl Suite {
    /// A suite named after the workflow it validates.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            trials: Vec::new(),
            live_only: None,
        }
    }

    /// Marks the suite live-only: its trials need a service that only live platforms have
    /// (Grafana, AGPL, is never installed locally). A trial whose services the target lacks is
    /// then ignored with `reason` even in strict mode, instead of failing; a configured one runs
    /// as usual. (Interim: the harness's real live-only status, shown as such in console,
    /// JUnit and the summary, replaces this.)
    pub fn live_only(mut self, reason: &'static str) -> Self {
        self.live_only = Some(reason);
        self
    }

    /// Adds a smoke-tier trial that needs `services`.
    pub fn smoke<F, Fut>(
        self,
        behaviour: &'static str,
        services: &'static [Service],
        body: F,
    ) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.trial(Tier::Smoke, behaviour, services, body)
    }

    /// Adds a full-tier trial that needs `services`.
    pub fn full<F, Fut>(
        self,
        behaviour: &'static str,
        services: &'static [Service],
        body: F,
    ) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.trial(Tier::Full, behaviour, services, body)
    }

    fn trial<F, Fut>(
        mut self,
        tier: Tier,
        behaviour: &'static str,
        services: &'static [Service],
        body: F,
    ) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let body: Body = Arc::new(move |ctx| Box::pin(body(ctx)));
        self.trials.push(TrialDef {
            tier,
            behaviour,
            services,
            body,
        });
        self
    }

    /// Parses the libtest arguments, runs (or lists) the trials and exits.
    pub fn run(self) -> std::process::ExitCode {
        let args = Arguments::from_args();
        let env = Env::from_process();
        let strict = carbon_config::strict(&env);
        let run_id = carbon_config::run_id(&env);
        let paths = carbon_config::Paths::from_env(&env);
        let target: Arc<Result<Target, String>> =
            Arc::new(carbon_config::load_with(&env, &paths).map_err(|e| e.to_string()));

        let trials = self
            .trials
            .into_iter()
            .map(|def| {
                let name = format!("{}::{}::{}", self.name, def.tier.as_str(), def.behaviour);
                let skip = match target.as_ref() {
                    Ok(t) => {
                        let unconfigured = def
                            .services
                            .iter()
                            .any(|s| t.service_configured(*s).is_err());
                        skipped(unconfigured, strict, self.live_only.is_some())
                    }
                    Err(_) => false, // a broken target fails every trial, loudly
                };
                let target = Arc::clone(&target);
                let run_id = run_id.clone();
                let trial_name = name.clone();
                let live_only = self.live_only;
                Trial::test(name, move || {
                    run_trial(&trial_name, &def, &target, strict, live_only, run_id)
                })
                .with_ignored_flag(skip)
            })
            .collect();
        libtest_mimic::run(&args, trials).exit_code()
    }
}

/// Whether a trial is listed as ignored: an unconfigured service skips it, except in strict
/// mode, where it runs and fails; a live-only suite's unconfigured trials skip even then.
fn skipped(unconfigured: bool, strict: bool, live_only: bool) -> bool {
    unconfigured && (!strict || live_only)
}

fn run_trial(
    name: &str,
    def: &TrialDef,
    target: &Result<Target, String>,
    strict: bool,
    live_only: Option<&'static str>,
    run_id: String,
) -> Result<(), Failed> {
    let target = target
        .as_ref()
        .map_err(|e| Failed::from(format!("cannot load the target: {e}")))?;
    for service in def.services {
        if let Err(reason) = target.service_configured(*service) {
            let mode = if let Some(why) = live_only {
                format!("LIVE-ONLY ({why}): run against a target that configures it")
            } else if strict {
                "strict mode (E2E_STRICT=1) turns this skip into a failure".to_string()
            } else {
                "the trial is ignored unless run explicitly".to_string()
            };
            return Err(Failed::from(format!("not run: {reason}; {mode}")));
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("cannot start the async runtime: {e}")))?;
    let ctx = Ctx::new(target.clone(), run_id, name.to_string());
    println!(
        "trial {name}\ntarget `{}` ({:?}, {}), run id {}",
        target.name,
        target.settings.kind,
        target.source.display(),
        ctx.run_id()
    );
    let started = Instant::now();
    let (outcome, cleanup_errors) = runtime.block_on(async {
        let mut handle = tokio::spawn((def.body)(ctx.clone()));
        let limit = target.settings.trial_timeout();
        let outcome = match tokio::time::timeout(limit, &mut handle).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(anyhow::anyhow!("the trial panicked: {}", panic_text(join))),
            Err(_) => {
                handle.abort();
                Err(anyhow::anyhow!("the trial did not finish within {limit:?} (target.trial_timeout_secs); it was stopped and its cleanup run"))
            }
        };
        (outcome, ctx.run_cleanups().await)
    });
    println!("trial finished in {:.2?}", started.elapsed());
    let scrub = |text: String| {
        target.secret_values().iter().fold(text, |t, s| {
            if s.expose().len() >= 4 {
                t.replace(s.expose(), "***")
            } else {
                t
            }
        })
    };
    let mut message = match outcome {
        Ok(()) => String::new(),
        Err(e) => describe(&e),
    };
    if !cleanup_errors.is_empty() {
        if !message.is_empty() {
            message.push_str("\n\n");
        }
        message.push_str("cleanup failed:\n");
        for e in cleanup_errors {
            message.push_str(&format!("  - {e:#}\n"));
        }
    }
    if message.is_empty() {
        Ok(())
    } else {
        Err(Failed::from(scrub(message)))
    }
}

/// The error and its causes, one per line (never a backtrace: the steps above say where).
fn describe(e: &anyhow::Error) -> String {
    let mut out = format!("error: {e}");
    for cause in e.chain().skip(1) {
        out.push_str(&format!("\n  caused by: {cause}"));
    }
    out
}

fn panic_text(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-string panic payload)".into()),
        Err(e) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::skipped;

    #[test]
    fn strict_mode_fails_unconfigured_trials_unless_live_only() {
        // (unconfigured, strict, live_only) -> skipped
        assert!(!skipped(false, false, false));
        assert!(!skipped(false, true, true));
        assert!(skipped(true, false, false));
        assert!(
            !skipped(true, true, false),
            "strict: unconfigured runs and fails"
        );
        assert!(skipped(true, true, true), "strict: live-only stays skipped");
        assert!(skipped(true, false, true));
    }
}
