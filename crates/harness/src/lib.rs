//! The trial harness every suite runs on (built on `libtest-mimic`, run by nextest).
//!
//! A suite is one test binary with `harness = false` whose `main` declares its trials:
//!
//! ```no_run
//! use carbon_harness::{Ctx, Service, Suite};
//!
//! use carbon_victoriametrics::VmClient;
//!
//! async fn health(ctx: Ctx) -> anyhow::Result<()> {
//!     ctx.client::<VmClient>()?.health().await?;
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
//! - A trial that writes says so ([`Suite::writes`]: what it creates, how it is cleaned up); on
//!   a `read-only` target it is *refused by policy*: ignored, even in strict mode, and never
//!   sends a request. Heavy or disruptive trials also need the target's opt-in
//!   ([`Suite::opt_in`]). A suite that cannot run on the local stack by design is
//!   [`Suite::live_only`]. `E2E_PLAN=1` makes a suite print each trial's plan as JSON lines
//!   (status, reason, what it writes) and exit without running anything.
//! - Each trial runs on its own runtime with a [`Ctx`]: target, lazily built clients, the run
//!   id, a cleanup stack that runs in reverse order whatever the outcome (also on SIGTERM and
//!   SIGINT, within `target.cleanup_budget_secs`), and one polling primitive
//!   ([`Ctx::wait_until`]).
//! - The first request of the run that gets no answer from a service marks it unreachable for
//!   the whole run ([`carbon_core::http::breaker`]): its later trials fail at once.

mod ctx;
mod plan;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

pub use anyhow;
pub use carbon_config::{
    Capability, DashboardsConfig, Env, FromTarget, MinioConfig, Service, Target,
    VictoriaMetricsConfig,
};
pub use carbon_core::wait::{Backoff, Check};
pub use ctx::Ctx;
use futures::future::BoxFuture;
use libtest_mimic::{Arguments, Failed, Trial};
pub use plan::{Status, TrialPlan, Writes};

/// How deep a trial goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Fast, read-only checks for every run (the `smoke` nextest profile runs only these).
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
    capabilities: Vec<Capability>,
    writes: Option<Writes>,
    opt_in: Option<&'static str>,
    body: Body,
}

/// A suite: one test binary's worth of trials.
#[must_use]
pub struct Suite {
    name: &'static str,
    live_only: Option<&'static str>,
    trials: Vec<TrialDef>,
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
            live_only: None,
            trials: Vec::new(),
        }
    }

    /// Marks the whole suite as live-only: its service cannot run on the local stack by design
    /// (`reason` says why, e.g. a licence). On a `local` target its trials are reported as
    /// live-only (ignored, also in strict mode), never as passed.
    pub fn live_only(mut self, reason: &'static str) -> Self {
        self.live_only = Some(reason);
        self
    }

    /// Adds a smoke-tier trial that needs `services`. Smoke trials only read.
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

    /// Adds a full-tier trial that needs `services`. It only reads unless followed by
    /// [`Self::writes`].
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

    /// Declares the blast radius of the trial added last: what it `creates` (where, named how)
    /// and how its `cleanup` removes it. Such a trial is refused on a `read-only` target.
    ///
    /// # Panics
    /// When no trial was added before, or a smoke trial would write (smoke only reads).
    pub fn writes(mut self, creates: &'static str, cleanup: &'static str) -> Self {
        let last = self.trials.last_mut().expect("writes() follows a trial");
        assert!(
            last.tier == Tier::Full,
            "smoke trials only read: {}",
            last.behaviour
        );
        last.writes = Some(Writes { creates, cleanup });
        self
    }

    /// Makes the trial added last need `capability` too (settings beyond its service's
    /// section): it is skipped, naming them, on a target that does not give them.
    ///
    /// # Panics
    /// When no trial was added before.
    pub fn needs(mut self, capability: Capability) -> Self {
        self.trials
            .last_mut()
            .expect("needs() follows a trial")
            .capabilities
            .push(capability);
        self
    }

    /// Makes the trial added last heavy or disruptive of kind `kind` (one of
    /// [`carbon_config::OPT_INS`]): it runs only on targets that opt in to that kind.
    ///
    /// # Panics
    /// When no trial was added before, or `kind` is not a known kind.
    pub fn opt_in(mut self, kind: &'static str) -> Self {
        assert!(
            carbon_config::OPT_INS.contains(&kind),
            "unknown opt-in kind {kind}"
        );
        self.trials
            .last_mut()
            .expect("opt_in() follows a trial")
            .opt_in = Some(kind);
        self
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
            capabilities: Vec::new(),
            writes: None,
            opt_in: None,
            body,
        });
        self
    }

    /// Parses the libtest arguments, runs (or lists) the trials and exits. With `E2E_PLAN=1`
    /// prints each trial's plan as one JSON line instead and runs nothing.
    pub fn run(self) -> std::process::ExitCode {
        let env = Env::from_process();
        let strict = carbon_config::strict(&env);
        // A run id the reaper would not recognise is refused before anything runs or lists.
        let run_id = match carbon_config::run_id(&env) {
            Ok(id) => id,
            Err(e) => {
                eprintln!("error: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let paths = carbon_config::Paths::from_env(&env);
        let target: Arc<Result<Target, String>> =
            Arc::new(carbon_config::load_with(&env, &paths).map_err(|e| e.to_string()));
        let plans: Vec<TrialPlan> = self
            .trials
            .iter()
            .map(|def| {
                plan::plan(
                    self.name,
                    self.live_only,
                    def,
                    target.as_ref().as_ref().ok(),
                )
            })
            .collect();
        if env.get("E2E_PLAN").is_some() {
            for p in &plans {
                println!("{}", p.to_json());
            }
            return std::process::ExitCode::SUCCESS;
        }
        let args = Arguments::from_args();
        if let Ok(t) = target.as_ref() {
            install_scrubbing_panic_hook(t);
        }
        let breaker_dir = paths.run_state(&run_id).join("unreachable");
        let trials = self
            .trials
            .into_iter()
            .zip(plans)
            .map(|(def, plan)| {
                let ignored = plan.status.ignored(strict);
                let target = Arc::clone(&target);
                let run_id = run_id.clone();
                let breaker_dir = breaker_dir.clone();
                Trial::test(plan.name.clone(), move || {
                    run_trial(&plan, &def, &target, run_id, &breaker_dir)
                })
                .with_ignored_flag(ignored)
            })
            .collect();
        libtest_mimic::run(&args, trials).exit_code()
    }
}

/// The run id `env` gives a run (see [`carbon_config::run_id`]).
///
/// # Errors
/// When `E2E_RUN_ID` does not have a run id's shape.
pub fn run_id_of(env: &Env) -> Result<String, carbon_config::ConfigError> {
    carbon_config::run_id(env)
}

/// The credentials the panic hook scrubs: the target's, then (after `materialize`) those read
/// from Kubernetes Secrets too.
static PANIC_SECRETS: std::sync::Mutex<Vec<carbon_config::Secret>> =
    std::sync::Mutex::new(Vec::new());

fn set_panic_secrets(target: &Target) {
    *PANIC_SECRETS.lock().unwrap_or_else(|p| p.into_inner()) = target.secret_values();
}

/// Panic messages can carry values a trial was handling: print them scrubbed, like failures.
fn install_scrubbing_panic_hook(target: &Target) {
    set_panic_secrets(target);
    std::panic::set_hook(Box::new(move |info| {
        let secrets = PANIC_SECRETS.lock().map(|s| s.clone()).unwrap_or_default();
        let text = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-string panic payload)".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("panicked{place}: {}", scrub(&secrets, text));
    }));
}

pub(crate) use carbon_config::scrub;
use carbon_core::failure::{Class, Failure, Kind};

fn run_trial(
    plan: &TrialPlan,
    def: &TrialDef,
    target: &Result<Target, String>,
    run_id: String,
    breaker_dir: &std::path::Path,
) -> Result<(), Failed> {
    let target = target
        .as_ref()
        .map_err(|e| failed(format!("cannot load the target: {e}"), Kind::Runner.into()))?;
    if let Some(not_run) = plan.status.not_run_message(&plan.reason) {
        // Run explicitly (nextest --run-ignored) or in strict mode: still nothing is sent.
        return Err(failed(not_run, Kind::Runner.into()));
    }
    carbon_core::http::breaker::enable(breaker_dir);
    carbon_kube::register_classifiers();
    carbon_core::failure::register::<carbon_config::ConfigError>();
    carbon_core::failure::register::<Stopped>();
    carbon_core::failure::register::<ctx::ClientUnavailable>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            failed(
                format!("cannot start the async runtime: {e}"),
                Kind::Runner.into(),
            )
        })?;
    // Kubernetes references (`k8s://` locations, `k8s:` credentials) are resolved once, before
    // any client is built; a target without them builds no cluster client. The guards keep the
    // port-forwards open for the runtime's life.
    let (target, reach) = runtime
        .block_on(carbon_kube::materialize(target))
        .map_err(|e| {
            // Reaching the references is the runner's part: what no classifier knows is too.
            let mut failure = carbon_core::failure::classify(carbon_core::failure::chain(&e));
            if failure.class == Class::Platform {
                failure = Kind::Runner.into();
            }
            failed(
                scrub(
                    &target.secret_values(),
                    format!("cannot reach the target's Kubernetes references: {e}"),
                ),
                failure,
            )
        })?;
    let target = &target;
    set_panic_secrets(target);
    let name = &plan.name;
    let ctx = Ctx::new(target.clone(), run_id, name.clone());
    println!(
        "trial {name} (pid {})\ntarget `{}` ({:?}, {}, {}), run id {}",
        std::process::id(),
        target.name,
        target.settings.kind,
        target.settings.mode().as_str(),
        target.source.display(),
        ctx.run_id()
    );
    for r in &reach.reaches {
        println!("reach: {} = {} → {} ({})", r.key, r.reference, r.url, r.via);
    }
    if let Some(w) = &plan.writes {
        println!("writes: {}; cleanup: {}", w.creates, w.cleanup);
    }
    let started = Instant::now();
    let settings = &target.settings;
    let (outcome, cleanup_errors) = runtime.block_on(async {
        let mut handle = tokio::spawn((def.body)(ctx.clone()));
        let limit = settings.trial_timeout();
        let stop = carbon_core::signal::stopped();
        let outcome = tokio::select! {
            joined = tokio::time::timeout(limit, &mut handle) => match joined {
                Ok(Ok(result)) => result,
                Ok(Err(join)) => Err(anyhow::anyhow!("the trial panicked: {}", panic_text(join))),
                Err(_) => {
                    handle.abort();
                    Err(anyhow::anyhow!("the trial did not finish within {limit:?} (target.trial_timeout_secs); it was stopped and its cleanup run"))
                }
            },
            signal = stop => {
                handle.abort();
                ctx.step(format_args!(
                    "received {signal}: stopping the trial and running its cleanups (budget {:?})",
                    settings.cleanup_budget()
                ));
                Err(anyhow::Error::new(Stopped(signal.to_string())))
            }
        };
        let cleanup_errors = ctx
            .run_cleanups(settings.cleanup_budget(), settings.cleanup_step_timeout())
            .await;
        (outcome, cleanup_errors)
    });
    println!("trial finished in {:.2?}", started.elapsed());
    // The trial's own error says whose failure it is; a trial that failed only in its
    // cleanup, the first cleanup error.
    let failure = outcome
        .as_ref()
        .err()
        .or(cleanup_errors.first())
        .map(|e| carbon_core::failure::classify(e.chain()));
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
    match failure {
        None => Ok(()),
        Some(failure) => Err(failed(scrub(&target.secret_values(), message), failure)),
    }
}

/// A failed trial: its failure line on stdout (for the gate) and its class at the end of the
/// message (for the reader).
fn failed(message: String, failure: Failure) -> Failed {
    println!("{}", failure.line());
    Failed::from(format!(
        "{}\nfailure class: {}",
        message.trim_end(),
        failure.describe()
    ))
}

/// A trial stopped by a signal: the runner's end, not the platform's.
#[derive(Debug, thiserror::Error)]
#[error("stopped by {0} before it finished; its cleanups were run")]
struct Stopped(String);

impl carbon_core::failure::Classify for Stopped {
    fn kind(&self) -> Option<Kind> {
        Some(Kind::Runner)
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
