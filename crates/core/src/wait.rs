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
                // A timeout or a 5xx may pass before the deadline (a slow read, a server
                // restarting): keep polling, and report it if the time runs out. Anything else
                // (4xx, refused, unreadable) ends the wait at once.
                Ok(Err(source)) if crate::http::is_transient(&source) => {
                    format!("{source} (transient: polled again until the deadline)")
                }
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

    /// An HTTP answer with `code`, wrapped as a client crate wraps it.
    #[derive(Debug, thiserror::Error)]
    #[error("client: {0}")]
    struct Client(#[source] crate::http::HttpError);

    fn status(code: u16) -> Client {
        Client(crate::http::HttpError::Status {
            service: "demo",
            request: crate::http::RequestLine {
                method: reqwest::Method::GET,
                url: "http://127.0.0.1:1/health".into(),
            },
            status: reqwest::StatusCode::from_u16(code).expect("a status"),
            body: "busy".into(),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_5xx_is_polled_again_until_ready() {
        let mut n = 0;
        let v = wait_until("a restarting server", Duration::from_secs(10), || {
            n += 1;
            let n = n;
            async move {
                if n < 3 {
                    Err(status(503))
                } else {
                    Ok(Check::Ready(n))
                }
            }
        })
        .await
        .expect("ready after two 503s");
        assert_eq!(v, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_5xx_until_the_deadline_is_reported_as_the_last_state() {
        let err = wait_until("a broken server", Duration::from_secs(2), || async {
            Err::<Check<()>, _>(status(502))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, WaitError::TimedOut { .. }), "{err}");
        assert!(err.to_string().contains("502"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_4xx_ends_the_wait_at_once() {
        let start = tokio::time::Instant::now();
        let err = wait_until("a refusing server", Duration::from_secs(60), || async {
            Err::<Check<()>, _>(status(403))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, WaitError::Probe { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
