//! One stack verb at a time: `up` and `down` hold an exclusive lock on `<stack dir>/stack.lock`
//! (flock, released when the process ends, however it ends), so two runs that start the stack
//! at once do not race to start the same servers.

use std::fs::File;

use rustix::fs::{FlockOperation, flock};

use crate::{Stack, StackError, io_err};

/// Held while a stack verb runs.
#[derive(Debug)]
pub struct StackLock {
    _file: File,
}

/// Takes the stack's lock, waiting (and saying so) while another process holds it.
///
/// # Errors
/// When the lock file cannot be opened or locked.
pub fn lock(stack: &Stack, verb: &str) -> Result<StackLock, StackError> {
    let path = stack.dir.join("stack.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err("open", &path))?;
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        println!(
            "stack: another `stack up` or `stack down` holds {}; {verb} waits for it",
            path.display()
        );
        flock(&file, FlockOperation::LockExclusive).map_err(|e| StackError::Io {
            action: "lock",
            path: path.clone(),
            source: e.into(),
        })?;
    }
    Ok(StackLock { _file: file })
}
