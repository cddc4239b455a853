//! The signals that stop a run: SIGTERM (nextest's terminate, a CI cancel) and SIGINT (Ctrl-C).

/// Resolves with the name of the first SIGTERM or SIGINT this process receives (never, when
/// the handlers cannot be installed).
pub async fn stopped() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        _ => std::future::pending().await,
    }
}
