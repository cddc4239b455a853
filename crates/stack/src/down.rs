//! `stack down`: stop, in reverse start order, the processes this stack started (by pid).

use std::time::Duration;

use carbon_config::Env;

use crate::process::stop;
use crate::{Stack, StackError, io_err, services};

/// Stops the stack's processes; with `purge`, also removes its data and credentials.
/// Returns the names of the services that were running.
///
/// # Errors
/// When a process cannot be signalled or the state cannot be removed.
pub async fn down(env: &Env, purge: bool) -> Result<Vec<&'static str>, StackError> {
    let stack = Stack::open(env)?;
    let _lock = crate::lock::lock(&stack, "down")?;
    let mut stopped = Vec::new();
    for s in services().iter().rev() {
        if stop(&stack, s.as_ref(), Duration::from_secs(20)).await? {
            println!("stack: stopped {}", s.name());
            stopped.push(s.name());
        }
        s.cleanup(&stack).await?;
    }
    if purge {
        for path in [stack.dir.join("data"), stack.dir.join("stack.env")] {
            if path.is_dir() {
                std::fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
            } else if path.exists() {
                std::fs::remove_file(&path).map_err(io_err("remove", &path))?;
            }
        }
        println!(
            "stack: purged data and credentials under {}",
            stack.dir.display()
        );
    }
    Ok(stopped)
}

/// Stops one service of the stack (for failure drills and benchmarks). Returns whether it ran.
///
/// # Errors
/// When the name is unknown or the process cannot be signalled.
pub async fn stop_service(env: &Env, name: &str) -> Result<bool, StackError> {
    let stack = Stack::open(env)?;
    let all = services();
    let service = all
        .iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| StackError::Other(format!("no service `{name}` in the stack")))?;
    stop(&stack, service.as_ref(), Duration::from_secs(20)).await
}
