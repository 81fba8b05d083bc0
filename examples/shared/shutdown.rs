//! Graceful shutdown for the example servers: SIGTERM (what an orchestrator sends) and
//! SIGINT (Ctrl-C) stop the server taking requests, let the calls in flight finish
//! within a grace period, flush the audit trail and exit 0, all within 10 s.

use std::time::Duration;

use secure_tool::Security;

/// How long calls in flight may run on after the signal.
pub const GRACE: Duration = Duration::from_secs(5);

/// How long the audit trail has to write what is queued, once the server has stopped.
pub const FLUSH: Duration = Duration::from_secs(2);

/// Wait for SIGTERM or SIGINT. A signal that cannot be handled is reported (and the
/// other still waited for), never silently ignored.
pub async fn signalled() {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot handle SIGTERM; stop the server with SIGINT");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot handle SIGINT");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = terminate => tracing::info!("SIGTERM: shutting down"),
        () = interrupt => tracing::info!("SIGINT: shutting down"),
    }
}

/// The server has stopped: write the audit trail out, then exit 0 (at once: a blocking
/// read of stdin cannot be cancelled, and would hold the runtime's shutdown).
pub fn finish(security: &Security) -> ! {
    let complete = security.close_audit(FLUSH);
    let dropped = security.audit_log().map_or(0, |log| log.dropped());
    if !complete {
        tracing::error!(dropped, "the audit trail could not be written out in time");
    } else if dropped > 0 {
        tracing::warn!(
            dropped,
            "audit lines were lost (each counted in the trail where it could be)"
        );
    }
    std::process::exit(0)
}
