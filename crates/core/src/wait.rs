//! `wait_until`: the one polling primitive. Every wait has a name, a required timeout, and on
//! timeout reports the last state it saw.
#![allow(clippy::disallowed_methods)] // the one place that sleeps: between polls

use std::fmt;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant; // the runtime's clock, so tests can pause it

/// What one poll observed.
#[derive(Debug)]
pub enum Check<T> {
    /// The condition holds; the wait returns this value.
    Ready(T),
    /// Not yet; the text describes the state seen (reported if the wait times out).
    Pending(String),
}

/// Why a wait ended without its condition.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<E: std::error::Error + 'static> {
    /// The timeout passed; `last` is the last state observed.
    #[error(
        "timed out after {elapsed:.1?} (limit {timeout:?}, {polls} polls) waiting for {what}; last seen: {last}"
    )]
    TimedOut {
        /// The condition's name.
        what: String,
        /// The limit.
        timeout: Duration,
        /// Time spent.
        elapsed: Duration,
        /// How many polls ran.
        polls: u32,
        /// The last state observed.
        last: String,
    },
    /// A probe failed in a way that waiting cannot mend.
    #[error("failed while waiting for {what}: {source}")]
    Probe {
        /// The condition's name.
        what: String,
        /// The probe's error.
        #[source]
        source: E,
    },
}

/// Poll intervals: start short so that fast conditions return fast, grow to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first interval.
    pub initial: Duration,
    /// The largest interval.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        }
    }
}

/// Polls `probe` until it returns [`Check::Ready`], fails, or `timeout` passes.
///
/// # Errors
/// [`WaitError::TimedOut`] with the last state seen, or [`WaitError::Probe`] with the probe's
/// error.
pub async fn wait_until<T, E, F, Fut>(
    what: impl fmt::Display,
    timeout: Duration,
    probe: F,
) -> Result<T, WaitError<E>>
where
    E: std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, E>>,
{
    wait_until_with(what, timeout, Backoff::default(), probe).await
}

/// [`wait_until`] with explicit poll intervals.
///
/// # Errors
/// As [`wait_until`].
pub async fn wait_until_with<T, E, F, Fut>(
    what: impl fmt::Display,
    timeout: Duration,
    backoff: Backoff,
    mut probe: F,
) -> Result<T, WaitError<E>>
where
    E: std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, E>>,
{
    let start = Instant::now();
    let deadline = start + timeout;
    let mut interval = backoff.initial;
    let mut polls = 0;
    let mut seen: Option<String> = None;
    loop {
        polls += 1;
        // A probe that hangs must not outlive the deadline.
        let remaining = deadline.saturating_duration_since(Instant::now());
        let last =
            match tokio::time::timeout(remaining.max(Duration::from_millis(1)), probe()).await {
                Ok(Ok(Check::Ready(value))) => return Ok(value),
                Ok(Ok(Check::Pending(state))) => state,
                Ok(Err(source)) => {
                    return Err(WaitError::Probe {
                        what: what.to_string(),
                        source,
                    });
                }
                // The last poll often starts right at the deadline and is cut at once: keep the
                // state the poll before it saw, which is what the caller needs to read.
                Err(_) => match &seen {
                    Some(prev) => {
                        format!("{prev} (the final poll was cut off at the deadline)")
                    }
                    None => "the probe itself did not answer before the deadline".to_string(),
                },
            };
        seen = Some(last.clone());
        let now = Instant::now();
        if now >= deadline {
            return Err(WaitError::TimedOut {
                what: what.to_string(),
                timeout,
                elapsed: now - start,
                polls,
                last,
            });
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
        interval = (interval * 3 / 2).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("boom")]
    struct Boom;

    #[tokio::test(start_paused = true)]
    async fn returns_the_value_once_ready() {
        let mut n = 0;
        let v = wait_until("three polls", Duration::from_secs(5), || {
            n += 1;
            let n = n;
            async move {
                Ok::<_, Boom>(if n == 3 {
                    Check::Ready(n)
                } else {
                    Check::Pending(format!("n={n}"))
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_reports_the_last_state_seen() {
        let mut n = 0;
        let err = wait_until("never", Duration::from_secs(2), || {
            n += 1;
            let n = n;
            async move { Ok::<Check<()>, Boom>(Check::Pending(format!("state {n}"))) }
        })
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("waiting for never"), "{msg}");
        assert!(msg.contains(&format!("last seen: state {n}")), "{msg}");
    }

    #[tokio::test(start_paused = true)]
    async fn probe_error_ends_the_wait_at_once() {
        let start = tokio::time::Instant::now();
        let err = wait_until("fails", Duration::from_secs(60), || async {
            Err::<Check<()>, _>(Boom)
        })
        .await
        .unwrap_err();
        assert!(matches!(err, WaitError::Probe { .. }));
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_probe_is_cut_at_the_deadline() {
        let err = wait_until("hangs", Duration::from_secs(3), || {
            std::future::pending::<Result<Check<()>, Boom>>()
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("did not answer"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_cut_at_the_deadline_keeps_the_state_seen_before() {
        let mut n = 0;
        let err = wait_until("second poll hangs", Duration::from_secs(3), || {
            n += 1;
            let first = n == 1;
            async move {
                if first {
                    Ok::<_, Boom>(Check::<()>::Pending("instance 7 is RUNNING".into()))
                } else {
                    std::future::pending().await
                }
            }
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("instance 7 is RUNNING"), "{err}");
    }
}
