//! What a trial gets: target, clients, run id, cleanup stack, the polling primitive.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use carbon_config::{FromTarget, Secret, Target};
use carbon_core::naming;
use carbon_core::wait::{Backoff, Check, wait_until_with};
use futures::future::BoxFuture;

/// What a cleanup removes, its own deadline (else `cleanup_step_timeout_secs`), and the action.
type Cleanup = (
    String,
    Option<Duration>,
    BoxFuture<'static, anyhow::Result<()>>,
);

/// A trial's context. Cheap to clone; clones share the cleanup stack and clients.
#[derive(Clone)]
pub struct Ctx {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    run_id: String,
    trial: String,
    started: Instant,
    cleanups: Mutex<Vec<Cleanup>>,
    /// Clients built so far, by type: each a `Result<C, ClientUnavailable>` built once per trial.
    clients: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    /// Credential values, scrubbed from every line the trial prints.
    secrets: Vec<Secret>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("trial", &self.inner.trial)
            .field("run_id", &self.inner.run_id)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    pub(crate) fn new(target: Target, run_id: String, trial: String) -> Self {
        let secrets = target.secret_values();
        Self {
            inner: Arc::new(Inner {
                target,
                run_id,
                trial,
                started: Instant::now(),
                cleanups: Mutex::new(Vec::new()),
                clients: Mutex::new(HashMap::new()),
                secrets,
            }),
        }
    }

    /// The resolved target.
    pub fn target(&self) -> &Target {
        &self.inner.target
    }

    /// The run id every artifact carries (shared by all trials of one nextest run).
    pub fn run_id(&self) -> &str {
        &self.inner.run_id
    }

    /// The trial's full name, `<suite>::<tier>::<behaviour>`.
    pub fn trial(&self) -> &str {
        &self.inner.trial
    }

    /// The run's name for something this trial creates: `e2e-<run id>-<what>`, lowercase
    /// ([`naming::resource`]). The same `what` gives the same name within a run (it is not
    /// unique per call: pass a distinct `what` per artifact); the run id in it is what the
    /// reaper recognises.
    pub fn run_name(&self, what: &str) -> String {
        naming::resource(&self.inner.run_id, what)
    }

    /// Creates the namespace `e2e-<run id>-<what>` ([`Self::run_name`]) with the run's
    /// ownership labels ([`naming::kube_labels`]: the platform checks leave it out, the reaper
    /// knows it) and registers its deletion first (a namespace already gone is fine); returns
    /// its name. A write: the trial declares it.
    ///
    /// # Errors
    /// The API server's refusal, naming the namespace.
    pub async fn own_namespace(
        &self,
        kube: &carbon_kube::KubeClient,
        what: &str,
    ) -> anyhow::Result<String> {
        let name = self.run_name(what);
        let (cleanup, gone) = (kube.clone(), name.clone());
        self.defer(format!("delete namespace {name}"), async move {
            Ok(cleanup.delete_namespace(&gone).await?)
        });
        kube.create_namespace(&name, naming::kube_labels(self.run_id()))
            .await?;
        Ok(name)
    }

    /// The ownership marker for something created at `created` (unix seconds, server's clock).
    pub fn marker(&self, created: i64) -> naming::Marker {
        naming::Marker::new(&self.inner.run_id, created)
    }

    /// Prints a progress line with the time since the trial started (kept in the JUnit output,
    /// for passed trials too: they are the evidence). Credentials are scrubbed from it.
    pub fn step(&self, message: impl Display) {
        let line = crate::scrub(&self.inner.secrets, message.to_string());
        println!(
            "[{:>7.3}s] {line}",
            self.inner.started.elapsed().as_secs_f64()
        );
    }

    /// Records what a check measured, for the acceptance gate (`carbon-gate`): one
    /// `carbon-e2e-measure {...}` line on stdout, which nextest keeps in the JUnit report.
    /// `of` makes it a share (`412` of `420` pods healthy); without it, a count. Call it as soon
    /// as the number is known, before the check can fail on it: a failing check's measurement
    /// is evidence too. See [`carbon_core::measure`].
    pub fn measure(&self, key: &str, value: f64, of: Option<f64>) {
        carbon_core::measure::emit(key, value, of);
    }

    /// Pushes a cleanup action. Cleanups run after the trial, last pushed first, whether the
    /// trial passed, failed, panicked or timed out; a failing cleanup fails the trial. Register
    /// it before the call that creates what it removes (so that a create whose answer is lost,
    /// or a SIGTERM right after it, still has its cleanup), and make it accept that the thing
    /// may not exist. It gets `target.cleanup_step_timeout_secs`.
    pub fn defer<Fut>(&self, what: impl Into<String>, action: Fut)
    where
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.push_cleanup(what.into(), None, Box::pin(action));
    }

    /// [`Self::defer`] for a cleanup that legitimately takes longer than one step (Velero's
    /// deletion of a backup and its files, DolphinScheduler's stop-then-delete): it gets
    /// `limit` of its own, still within the trial's `target.cleanup_budget_secs`.
    pub fn defer_within<Fut>(&self, what: impl Into<String>, limit: Duration, action: Fut)
    where
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.push_cleanup(what.into(), Some(limit), Box::pin(action));
    }

    fn push_cleanup(
        &self,
        what: String,
        limit: Option<Duration>,
        action: BoxFuture<'static, anyhow::Result<()>>,
    ) {
        match limit {
            Some(l) => self.step(format_args!("registered cleanup: {what} (within {l:?})")),
            None => self.step(format_args!("registered cleanup: {what}")),
        }
        self.inner
            .cleanups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((what, limit, action));
    }

    /// Runs the cleanups, last pushed first: each within `step` and all within `budget`. One
    /// that fails or times out does not stop the others; what the budget leaves unrun is
    /// reported (the reaper removes it later).
    pub(crate) async fn run_cleanups(
        &self,
        budget: Duration,
        step: Duration,
    ) -> Vec<anyhow::Error> {
        let actions: Vec<Cleanup> = std::mem::take(
            &mut *self
                .inner
                .cleanups
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let deadline = tokio::time::Instant::now() + budget;
        let mut errors = Vec::new();
        for (what, own, action) in actions.into_iter().rev() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                errors.push(anyhow::anyhow!(
                    "not run: the cleanup budget of {budget:?} (target.cleanup_budget_secs) was spent; `carbon-e2e reap` removes what is left"
                ).context(what));
                continue;
            }
            self.step(format_args!("cleanup: {what}"));
            let limit = left.min(own.unwrap_or(step));
            // Attempted even when the run found the service unreachable (briefly, then): it may
            // be back, and a cleanup never tried leaves an artifact no one names.
            let attempt = carbon_core::http::breaker::attempting(
                carbon_core::http::breaker::CLEANUP_ATTEMPT,
                action,
            );
            match tokio::time::timeout(limit, attempt).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e.context(what)),
                Err(_) => errors.push(
                    anyhow::anyhow!(
                        "did not finish within {limit:?} ({}, within target.cleanup_budget_secs)",
                        if own.is_some() {
                            "its own deadline"
                        } else {
                            "target.cleanup_step_timeout_secs"
                        }
                    )
                    .context(what),
                ),
            }
        }
        errors
    }

    /// Polls `probe` until it is ready, fails, or `timeout` passes; on timeout the error carries
    /// the last state seen. The only way a trial waits.
    ///
    /// # Errors
    /// The probe's error, or a timeout naming `what` and the last state.
    pub async fn wait_until<T, E, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        probe: F,
    ) -> anyhow::Result<T>
    where
        E: std::error::Error + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Check<T>, E>>,
    {
        self.wait_until_with(what, timeout, Backoff::default(), probe)
            .await
    }

    /// [`Self::wait_until`] with explicit poll intervals, for waits whose latency is measured.
    ///
    /// # Errors
    /// As [`Self::wait_until`].
    pub async fn wait_until_with<T, E, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        backoff: Backoff,
        probe: F,
    ) -> anyhow::Result<T>
    where
        E: std::error::Error + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Check<T>, E>>,
    {
        let started = Instant::now();
        let value = wait_until_with(what, timeout, backoff, probe).await?;
        self.step(format_args!("{what}: after {:.2?}", started.elapsed()));
        Ok(value)
    }

    /// The client of type `C` for its section of the target (e.g.
    /// `ctx.client::<carbon_minio::MinioClient>()`), built once per trial and cloned after; a build
    /// error is kept and repeated, so every use reports why the client cannot exist.
    ///
    /// # Errors
    /// When the section or its credentials are missing, or a setting cannot work.
    pub fn client<C: FromTarget>(&self) -> anyhow::Result<C> {
        carbon_core::failure::register::<C::Error>();
        let mut clients = self.inner.clients.lock().unwrap_or_else(|p| p.into_inner());
        let built = clients.entry(TypeId::of::<C>()).or_insert_with(|| {
            Box::new(C::from_target(&self.inner.target).map_err(|e| {
                let failure = carbon_core::failure::classify(carbon_core::failure::chain(&e));
                ClientUnavailable {
                    message: e.to_string(),
                    kind: failure.kind,
                }
            }))
        });
        built
            .downcast_ref::<Result<C, ClientUnavailable>>()
            .expect("the map holds each client under its own type")
            .clone()
            .map_err(anyhow::Error::new)
            .with_context(|| format!("building the {} client", C::SECTION))
    }
}

/// Why a client could not be built, kept (with its kind) so that every use repeats it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ClientUnavailable {
    message: String,
    kind: carbon_core::failure::Kind,
}

impl carbon_core::failure::Classify for ClientUnavailable {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        Some(self.kind)
    }
}
