//! Stages 7 and 8 of the pipeline: shaping what the body returned (redaction, output
//! cap, secret scrubbing) or a refusal into the tool result, and the audit event.

use std::any::Any;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};

use crate::audit::{self, ERROR_TARGET, Outcome};
use crate::error::ErrorRef;
use crate::security::Security;
use crate::security::Tool;

use super::admission::Refusal;
use super::sensitive::without_sensitive;
use super::{CallScope, Ran, Returned};

pub(super) fn refuse(
    security: &Security,
    tool: &Tool,
    scope: &mut CallScope,
    refusal: Refusal,
) -> CallToolResponse {
    let message = without_sensitive(refusal.message, &scope.sensitive);
    match refusal.repeatable {
        // A refusal that cost the caller nothing: coalesced with its repeats.
        Some(reason) => {
            let fields = std::mem::take(&mut scope.audited);
            audit::record_refusal(
                security.refusals(),
                audit::Call {
                    tool: tool.decl.name,
                    principal: scope.caller(),
                    outcome: refusal.outcome,
                    started: scope.started,
                    error_ref: None,
                    policy: tool.policy.digest.as_ref(),
                    fields,
                },
                reason,
            );
        }
        None => record(security, tool, scope, refusal.outcome, None),
    }
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    if let Some(wait) = refusal.retry_after {
        // The wait, machine-readable: what the message says in whole seconds, exactly.
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut meta = rmcp::model::MetaObject::default();
        meta.0
            .insert(RETRY_AFTER_META_KEY.to_owned(), serde_json::Value::from(ms));
        result.meta = Some(meta);
    }
    result.into()
}

/// The key of a refused result's `_meta` that holds, in milliseconds, how long to wait
/// before a retry of the call can be admitted (a rate limit).
pub const RETRY_AFTER_META_KEY: &str = "secure-tool/retry_after_ms";

/// The audit event of a call that ended with `outcome`.
fn record(
    security: &Security,
    tool: &Tool,
    scope: &mut CallScope,
    outcome: Outcome,
    error_ref: Option<ErrorRef>,
) {
    let fields = std::mem::take(&mut scope.audited);
    audit::record(
        security.audit_log(),
        audit::Call {
            tool: tool.decl.name,
            principal: scope.caller(),
            outcome,
            started: scope.started,
            error_ref,
            policy: tool.policy.digest.as_ref(),
            fields,
        },
    );
}

pub(super) fn error_result(message: String) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(message)]).into()
}

/// Shape the result and emit the audit event.
pub(super) fn finish_returned(
    security: &Security,
    tool: &Tool,
    mut scope: CallScope,
    ran: Ran<Returned>,
) -> CallToolResponse {
    let mut error_ref = None;
    let sensitive = std::mem::take(&mut scope.sensitive);
    let mut redact = |what: &dyn std::fmt::Display, kind: &str| {
        let r = ErrorRef::new();
        error_ref = Some(r);
        tracing::error!(
            target: ERROR_TARGET,
            error_ref = %r,
            tool = tool.decl.name,
            principal = scope.caller().id(),
            kind,
            error = %without_sensitive(log_text(security, what), &sensitive),
            "tool call failed"
        );
        error_result(format!("internal error (ref {r})"))
    };
    let (response, outcome) = match ran {
        Ran::Returned(returned) => match returned {
            Returned::Value(Ok(CallToolResponse::Complete(mut result))) => {
                if result.is_error == Some(true) && !sensitive.is_empty() {
                    // An error result the author built is a message, like a public error.
                    for block in &mut result.content {
                        if let ContentBlock::Text(t) = block {
                            t.text = without_sensitive(std::mem::take(&mut t.text), &sensitive);
                        }
                    }
                }
                shape_ok(security, tool, result)
            }
            Returned::Value(Ok(other)) => (other, Outcome::Ok),
            Returned::Value(Err(error)) => (
                redact(&error.message, "conversion of the tool's output failed"),
                Outcome::Error,
            ),
            Returned::Error(error) => match error.public_message() {
                Some(message) => (
                    error_result(without_sensitive(
                        crate::scrub::scrub_public(message).into_owned(),
                        &sensitive,
                    )),
                    Outcome::Error,
                ),
                None => (redact(&error.log_chain(), "error"), Outcome::Error),
            },
        },
        Ran::Panicked(payload) => (redact(&panic_text(&*payload), "panic"), Outcome::Panic),
        Ran::TimedOut(limit) => (
            error_result(format!(
                "the tool did not finish within its time limit of {}",
                human_duration(limit)
            )),
            Outcome::Timeout,
        ),
        Ran::Cancelled => (
            error_result("the request was cancelled".to_owned()),
            Outcome::Cancelled,
        ),
    };
    record(security, tool, &mut scope, outcome, error_ref);
    response
}

/// A successful (or author-built error) result: output cap, then scrubbing.
pub(super) fn shape_ok(
    security: &Security,
    tool: &Tool,
    mut result: CallToolResult,
) -> (CallToolResponse, Outcome) {
    let limit = tool
        .limits
        .max_output
        .map_or_else(|| security.max_output(), crate::limits::Bytes::get);
    let size = output_size(&result);
    if size > limit {
        return (
            error_result(format!(
                "the tool's output was too large ({size} bytes, limit {limit} bytes)"
            )),
            Outcome::Error,
        );
    }
    let is_error = result.is_error == Some(true);
    // A result the author marked as an error is a message for the model: it gets the full
    // public scrubbing. A success is data: secrets only, paths may be its very content.
    let scrub: fn(&str) -> Cow<'_, str> = if is_error {
        crate::scrub::scrub_public
    } else {
        crate::scrub::scrub_secrets
    };
    if is_error || security.scrub_output() {
        crate::scrub::scrub_result(&mut result, scrub);
    }
    let outcome = if is_error {
        Outcome::Error
    } else {
        Outcome::Ok
    };
    (result.into(), outcome)
}

/// Bytes of output the model would receive. Structured content is mirrored as text by
/// rmcp, so the text blocks count it.
pub(super) fn output_size(result: &CallToolResult) -> usize {
    result
        .content
        .iter()
        .map(|block| match block {
            ContentBlock::Text(t) => t.text.len(),
            ContentBlock::Image(i) => i.data.len(),
            ContentBlock::Audio(a) => a.data.len(),
            // Resources and future block kinds: their size on the wire.
            other => serde_json::to_string(other).map_or(0, |s| s.len()),
        })
        .sum()
}

/// What the server log keeps of a redacted error: all of it, credentials scrubbed unless
/// the operator turned that off (CWE-532). Paths stay: the operator needs them.
pub(super) fn log_text(security: &Security, what: &dyn std::fmt::Display) -> String {
    let text = what.to_string();
    if !security.scrub_logs() {
        return text;
    }
    match crate::scrub::scrub_secrets(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    }
}

pub(super) fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        format!("panic: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// `2s`, `500ms`, `1m30s`: how a limit is named to the model.
fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 || !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let secs = ms / 1000;
    let mut out = String::new();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        let _ = write!(out, "{}h", secs / 3600);
    } else if secs >= 60 {
        let _ = write!(out, "{}m", secs / 60);
        if !secs.is_multiple_of(60) {
            let _ = write!(out, "{}s", secs % 60);
        }
    } else {
        let _ = write!(out, "{secs}s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_attribute() {
        assert_eq!(human_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(human_duration(Duration::from_secs(2)), "2s");
        assert_eq!(human_duration(Duration::from_secs(60)), "1m");
        assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(human_duration(Duration::from_secs(7200)), "2h");
    }
}
