//! `stack up`: install what is missing, start what is not running, wait until every service is
//! ready (probes, never fixed sleeps), then run each service's post-start work.

use std::time::{Duration, Instant};

use carbon_config::Env;
use carbon_core::http::{ClientOptions, HttpClient};
use carbon_core::wait::{Check, WaitError, wait_until};

use crate::process::{running_pid, start, started_process_exited, tail};
use crate::{LocalServer, Readiness, Stack, StackError, services};

/// What `up` did for one service.
#[derive(Debug, Clone)]
pub struct Started {
    /// The service.
    pub name: &'static str,
    /// Its endpoint.
    pub endpoint: String,
    /// Its pid.
    pub pid: u32,
    /// Whether `up` started it (false: it was running already).
    pub started_now: bool,
    /// Time from `up` starting it (or finding it) to ready.
    pub ready_after: Duration,
}

/// Brings the stack up and returns what it did per service.
///
/// # Errors
/// The first install, start or readiness failure, with the service's log tail.
pub async fn up(env: &Env) -> Result<Vec<Started>, StackError> {
    let stack = Stack::open(env)?;
    let _lock = crate::lock::lock(&stack, "up")?;
    let all = services();
    for s in &all {
        s.install(&stack)?;
    }
    let http = probe_client()?;
    let mut launched = Vec::new();
    for s in &all {
        for dep in s.depends_on() {
            if let Some(d) = all.iter().find(|d| d.name() == *dep) {
                wait_ready(&stack, &http, d.as_ref()).await?;
            }
        }
        let t0 = Instant::now();
        let (pid, started_now) = match running_pid(&stack, s.name()) {
            Some(pid) => (pid, false),
            None => {
                s.cleanup(&stack).await?;
                s.prepare(&stack)?;
                let pid = start(&stack, s.as_ref())?;
                println!(
                    "stack: started {} (pid {pid}), log {}",
                    s.name(),
                    stack.log_file(s.name()).display()
                );
                (pid, true)
            }
        };
        launched.push((s.as_ref(), pid, started_now, t0));
    }
    let waits = launched.iter().map(|(s, pid, started_now, t0)| {
        let (stack, http) = (&stack, &http);
        async move {
            wait_ready(stack, http, *s).await?;
            Ok::<_, StackError>(Started {
                name: s.name(),
                endpoint: s.endpoint(),
                pid: *pid,
                started_now: *started_now,
                ready_after: t0.elapsed(),
            })
        }
    });
    let results: Vec<Started> = futures::future::try_join_all(waits).await?;
    for s in &all {
        s.after_ready(&stack).await?;
    }
    Ok(results)
}

/// Waits until `service` answers its readiness probe; fails at once if its process has died.
pub(crate) async fn wait_ready(
    stack: &Stack,
    http: &HttpClient,
    service: &dyn LocalServer,
) -> Result<(), StackError> {
    let name = service.name();
    let readiness = service.readiness(stack);
    let probe = || {
        let readiness = readiness.clone();
        async move {
            if started_process_exited(stack, name) {
                return Err(StackError::Other(format!("{name} exited during start-up")));
            }
            if let Some(reason) = service.failed_start(stack) {
                // The process lives on without serving: stop it, then report.
                let _ = crate::process::stop(stack, service, Duration::from_secs(20)).await;
                return Err(StackError::Other(format!(
                    "{name} failed to start: {reason} (its process was stopped)"
                )));
            }
            Ok(match probe_once(http, &readiness).await {
                Ok(()) => Check::Ready(()),
                Err(state) => Check::Pending(state),
            })
        }
    };
    wait_until(
        format!("{name} to be ready"),
        service.ready_timeout(),
        probe,
    )
    .await
    .map_err(|e| {
        let message = match e {
            WaitError::Probe { source, .. } => source.to_string(),
            other => other.to_string(),
        };
        let log = stack.log_file(name);
        StackError::NotReady {
            service: name,
            message,
            tail: tail(&log, 15),
            log: log.display().to_string(),
        }
    })
}

/// The HTTP client readiness probes use: short timeouts, a probe is repeated anyway.
pub(crate) fn probe_client() -> Result<HttpClient, StackError> {
    HttpClient::new(
        "stack",
        ClientOptions {
            timeout: Duration::from_secs(2),
            ca_file: None,
        },
    )
    .map_err(|e| StackError::Other(e.to_string()))
}

/// Probes readiness once: `Ok` when ready, else a description of what was seen.
pub(crate) async fn probe_once(http: &HttpClient, readiness: &Readiness) -> Result<(), String> {
    match readiness {
        Readiness::Http { url, contains } => {
            let url = url::Url::parse(url).map_err(|e| e.to_string())?;
            let (line, body) = http
                .text(http.request(reqwest::Method::GET, url))
                .await
                .map_err(|e| e.to_string())?;
            match contains {
                Some(text) if !body.contains(text) => Err(format!(
                    "{line} answered without `{text}`: {}",
                    carbon_core::http::excerpt(&body)
                )),
                _ => Ok(()),
            }
        }
        Readiness::Https { url, ca_file } => {
            let client = HttpClient::new(
                "stack",
                ClientOptions {
                    timeout: Duration::from_secs(2),
                    ca_file: Some(ca_file),
                },
            )
            .map_err(|e| e.to_string())?;
            let url = url::Url::parse(url).map_err(|e| e.to_string())?;
            client
                .text(client.request(reqwest::Method::GET, url))
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
        Readiness::Command(program, args) => {
            // A probe that hangs is killed (kill_on_drop) when its deadline passes.
            let run = tokio::process::Command::new(program)
                .args(args)
                .kill_on_drop(true)
                .output();
            let out = tokio::time::timeout(Duration::from_secs(10), run)
                .await
                .map_err(|_| format!("{} did not answer within 10 s", program.display()))?
                .map_err(|e| format!("{}: {e}", program.display()))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{} {}: {}",
                    program.display(),
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout).trim()
                ))
            }
        }
    }
}
