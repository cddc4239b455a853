//! `stack status`: per service, whether its process runs and whether it answers its probe.

use carbon_config::Env;

use crate::process::running_pid;
use crate::up::{probe_client, probe_once};
use crate::{Stack, StackError, services};

/// One service's state.
#[derive(Debug, Clone)]
pub struct ServiceStatus {
    /// The service.
    pub name: &'static str,
    /// What it stands in for.
    pub role: &'static str,
    /// Where clients reach it.
    pub endpoint: String,
    /// Its pid, when running.
    pub pid: Option<u32>,
    /// `Ok` when its readiness probe passes, else what the probe saw.
    pub ready: Result<(), String>,
}

/// Probes every service once.
///
/// # Errors
/// When the state directory cannot be opened.
pub async fn status(env: &Env) -> Result<Vec<ServiceStatus>, StackError> {
    let stack = Stack::open(env)?;
    let http = probe_client()?;
    let mut out = Vec::new();
    for s in services() {
        let pid = running_pid(&stack, s.name());
        let ready = match pid {
            None => Err("not running".to_string()),
            Some(_) => probe_once(&http, &s.readiness(&stack)).await,
        };
        out.push(ServiceStatus {
            name: s.name(),
            role: s.role(),
            endpoint: s.endpoint(),
            pid,
            ready,
        });
    }
    Ok(out)
}

/// The uid this process runs as.
pub(crate) fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}
