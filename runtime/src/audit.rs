//! One audit event per tool call, through `tracing` at target `secure_tool::audit`.

use std::fmt;
use std::time::Duration;

use crate::ErrorRef;

/// The target of audit events; filter on it to route them (e.g. to a separate log).
pub const AUDIT_TARGET: &str = "secure_tool::audit";

/// The target under which the full text of redacted errors is logged.
pub const ERROR_TARGET: &str = "secure_tool::error";

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The body ran and returned a success.
    Ok,
    /// The caller lacked a required scope.
    Denied,
    /// Refused by the rate limit or the concurrency cap.
    Limited,
    /// The arguments were refused (raw limits, deserialization or validation).
    Invalid,
    /// The body returned an error (public or redacted).
    Error,
    /// The body ran past its timeout.
    Timeout,
    /// The body panicked; the panic was contained.
    Panic,
    /// The client cancelled the request while the body ran.
    Cancelled,
}

impl Outcome {
    /// The lowercase word used in audit events.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Limited => "limited",
            Self::Invalid => "invalid",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Panic => "panic",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Emit the audit event of one call. Argument values are never part of it.
pub(crate) fn record(
    tool: &str,
    principal: &str,
    outcome: Outcome,
    duration: Duration,
    error_ref: Option<ErrorRef>,
) {
    let duration_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
    match error_ref {
        Some(r) => tracing::info!(
            target: AUDIT_TARGET,
            tool,
            principal,
            outcome = outcome.as_str(),
            duration_us,
            error_ref = %r,
            "tool call"
        ),
        None => tracing::info!(
            target: AUDIT_TARGET,
            tool,
            principal,
            outcome = outcome.as_str(),
            duration_us,
            "tool call"
        ),
    }
}
