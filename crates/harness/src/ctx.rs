//! What a trial gets: target, clients, run id, cleanup stack, the polling primitive.

use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use carbon_config::Target;
use carbon_core::wait::{Backoff, Check, wait_until_with};
use carbon_dolphinscheduler::DsClient;
use carbon_kube::KubeClient;
use carbon_s3::S3Client;
use carbon_trino::TrinoClient;
use carbon_victoriametrics::VmClient;
use futures::future::BoxFuture;

type Cleanup = (String, BoxFuture<'static, anyhow::Result<()>>);

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
    minio: OnceLock<Result<S3Client, String>>,
    victoriametrics: OnceLock<Result<VmClient, String>>,
    trino: OnceLock<Result<TrinoClient, String>>,
    dolphinscheduler: OnceLock<Result<DsClient, String>>,
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
        Self {
            inner: Arc::new(Inner {
                target,
                run_id,
                trial,
                started: Instant::now(),
                cleanups: Mutex::new(Vec::new()),
                minio: OnceLock::new(),
                victoriametrics: OnceLock::new(),
                trino: OnceLock::new(),
                dolphinscheduler: OnceLock::new(),
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

    /// A name for something this trial creates: `e2e-<run id>-<what>`, lowercase.
    pub fn unique(&self, what: &str) -> String {
        let what: String = what
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        format!("e2e-{}-{}", self.inner.run_id, what)
    }

    /// Prints a progress line with the time since the trial started (kept in the JUnit output).
    pub fn step(&self, message: impl Display) {
        println!(
            "[{:>7.3}s] {message}",
            self.inner.started.elapsed().as_secs_f64()
        );
    }

    /// Pushes a cleanup action. Cleanups run after the trial, last pushed first, whether the
    /// trial passed, failed, panicked or timed out; a failing cleanup fails the trial.
    pub fn defer<Fut>(&self, what: impl Into<String>, action: Fut)
    where
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let what = what.into();
        self.step(format_args!("registered cleanup: {what}"));
        self.inner
            .cleanups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((what, Box::pin(action)));
    }

    pub(crate) async fn run_cleanups(&self) -> Vec<anyhow::Error> {
        let actions: Vec<Cleanup> = std::mem::take(
            &mut *self
                .inner
                .cleanups
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let mut errors = Vec::new();
        for (what, action) in actions.into_iter().rev() {
            self.step(format_args!("cleanup: {what}"));
            if let Err(e) = action.await {
                errors.push(e.context(what));
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

    /// The object-store client for the target's `[minio]`.
    ///
    /// # Errors
    /// When the section or its credentials are missing.
    pub fn minio(&self) -> anyhow::Result<S3Client> {
        client(&self.inner.minio, "minio", || {
            S3Client::from_target(&self.inner.target)
        })
    }

    /// The VictoriaMetrics client for the target's `[victoriametrics]`.
    ///
    /// # Errors
    /// When the section or its token is missing.
    pub fn victoriametrics(&self) -> anyhow::Result<VmClient> {
        client(&self.inner.victoriametrics, "victoriametrics", || {
            VmClient::from_target(&self.inner.target)
        })
    }

    /// The Trino client for the target's `[trino]`.
    ///
    /// # Errors
    /// When the section or its password is missing, or a password would go over plain HTTP.
    pub fn trino(&self) -> anyhow::Result<TrinoClient> {
        client(&self.inner.trino, "trino", || {
            TrinoClient::from_target(&self.inner.target)
        })
    }

    /// The DolphinScheduler client for the target's `[dolphinscheduler]`.
    ///
    /// # Errors
    /// When the section or its password is missing.
    pub fn dolphinscheduler(&self) -> anyhow::Result<DsClient> {
        client(&self.inner.dolphinscheduler, "dolphinscheduler", || {
            DsClient::from_target(&self.inner.target)
        })
    }
}

impl Ctx {
    /// The Kubernetes client for the target's `[kubernetes]` (built per call: connecting is
    /// async and cheap, reading a kubeconfig or the service account).
    ///
    /// # Errors
    /// When the section, kubeconfig, context or variable is missing.
    pub async fn kube(&self) -> anyhow::Result<KubeClient> {
        KubeClient::from_target(&self.inner.target)
            .await
            .context("building the kubernetes client")
    }
}

/// Builds a client once per trial and hands out clones; a build error is kept and repeated, so
/// every use reports why the client cannot exist.
fn client<T: Clone, E: std::fmt::Display>(
    cell: &OnceLock<Result<T, String>>,
    service: &str,
    build: impl FnOnce() -> Result<T, E>,
) -> anyhow::Result<T> {
    cell.get_or_init(|| build().map_err(|e| e.to_string()))
        .clone()
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("building the {service} client"))
}
