//! Stages 1 to 5 of the pipeline: raw limits, identity, permission, rate and
//! concurrency, then deserialization and validation.

use crate::limits::Permit;
use rmcp::model::JsonObject;

use crate::audit::Outcome;
use crate::input;
use crate::input::SecureInput;
use crate::limits::{Limited, retry_secs};
use crate::problem::InputError;
use crate::security::Security;
use crate::security::Tool;

use super::CallScope;

/// A call that passed stages 1 to 5.
pub(super) struct Admitted<T> {
    pub(super) input: T,
    pub(super) _permit: Option<Permit>,
}

/// A refusal before the body ran, with its audit outcome.
pub(super) struct Refusal {
    pub(super) outcome: Outcome,
    pub(super) message: String,
    /// When a retry can succeed: also in the result's `_meta`, for a client to act on.
    pub(super) retry_after: Option<std::time::Duration>,
    /// A refusal before any work for the call (stages 1 to 4), which a caller can repeat
    /// at no cost: its audit line is coalesced with its repeats under this reason.
    pub(super) repeatable: Option<&'static str>,
}

impl Refusal {
    /// A refusal a retry cannot cure by waiting.
    pub(super) fn new(outcome: Outcome, message: impl Into<String>) -> Self {
        Self {
            outcome,
            message: message.into(),
            retry_after: None,
            repeatable: None,
        }
    }

    /// This refusal, audited as one of a kind under `reason` (see `repeatable`).
    fn repeatable(mut self, reason: &'static str) -> Self {
        self.repeatable = Some(reason);
        self
    }
}

impl From<InputError> for Refusal {
    /// Arguments refused before the body ran cost the caller nothing to send again: their
    /// audit lines are coalesced like the other refusals before any work.
    fn from(error: InputError) -> Self {
        Self::new(Outcome::Invalid, error.to_string()).repeatable("invalid arguments")
    }
}

/// What stages 1 to 5 decided.
pub(super) enum Admission<T> {
    Admitted(Admitted<T>),
    Refused(Refusal),
    /// Stages 1 to 3 passed; the tool's rate is kept in a shared store, which must be
    /// asked (asynchronously, [`admit_remote`]) before the rest.
    #[cfg(feature = "redis")]
    Remote(JsonObject),
}

/// Stages 1 to 5: raw limits, permission, rate and concurrency, deserialize + validate.
/// Only the last two depend on `T`; the rest lives in [`admit_call`], compiled once in
/// this crate rather than once per tool.
pub(super) fn admit<T: SecureInput>(
    security: &Security,
    tool: &Tool,
    scope: &mut CallScope,
) -> Admission<T> {
    let (arguments, permit) = match admit_call(security, tool, scope) {
        Ok(Some(admitted)) => admitted,
        #[cfg(feature = "redis")]
        Ok(None) => return Admission::Remote(scope.arguments.take().unwrap_or_default()),
        #[cfg(not(feature = "redis"))]
        Ok(None) => unreachable!("no shared store without the `redis` feature"),
        Err(refusal) => return Admission::Refused(refusal),
    };
    match decode(scope, arguments) {
        Ok(input) => Admission::Admitted(Admitted {
            input,
            _permit: permit,
        }),
        Err(refusal) => Admission::Refused(refusal),
    }
}

/// Stages 4 and 5 of a tool whose rate is kept in Redis: ask it, then take a concurrency
/// slot, then deserialize and validate. Never waits longer than the store's deadline.
#[cfg(feature = "redis")]
pub(super) async fn admit_remote<T: SecureInput>(
    security: &Security,
    tool: &Tool,
    scope: &mut CallScope,
    arguments: JsonObject,
) -> Result<Admitted<T>, Refusal> {
    if let Some(store) = security.remote_store(tool) {
        match store
            .check(tool.decl.name, &tool.limits, scope.caller().id())
            .await
        {
            Ok(None) => {}
            Ok(Some(limited)) => return Err(limited_refusal(limited, &tool.limits)),
            Err(crate::store::Unavailable) if store.fail_open => {
                tracing::warn!(
                    target: crate::audit::AUDIT_TARGET,
                    tool = tool.decl.name,
                    "rate limit store unavailable: call admitted (fail open)"
                );
            }
            Err(crate::store::Unavailable) => {
                return Err(Refusal {
                    outcome: Outcome::Limited,
                    message:
                        "the rate limit of this tool cannot be checked right now: retry shortly"
                            .to_owned(),
                    retry_after: Some(std::time::Duration::from_secs(1)),
                    repeatable: Some("rate store unavailable"),
                });
            }
        }
    }
    let permit = tool
        .state
        .admit_slot()
        .map_err(|limited| limited_refusal(limited, &tool.limits))?;
    let input = decode(scope, arguments)?;
    Ok(Admitted {
        input,
        _permit: permit,
    })
}

/// Stage 5: deserialize and validate, keeping what the audit trail may record.
fn decode<T: SecureInput>(scope: &mut CallScope, arguments: JsonObject) -> Result<T, Refusal> {
    let decode = || {
        let input: T = input::deserialize(arguments)?;
        input.validate_input()?;
        Ok::<T, InputError>(input)
    };
    #[cfg(feature = "sql")]
    let (input, all_checked) = crate::types::sql::deferring(decode);
    #[cfg(not(feature = "sql"))]
    let (input, all_checked) = (decode(), true);
    let input = input?;
    input.audit_values(&mut scope.audited);
    input.sensitive_values(&mut scope.sensitive);
    // Longest first: a value inside another is cut after the one that holds it.
    scope
        .sensitive
        .sort_unstable_by_key(|value| std::cmp::Reverse(value.len()));
    if !scope.sensitive.is_empty() {
        for (_, value) in &mut scope.audited {
            super::sensitive::redact_json(value, &scope.sensitive);
        }
    }
    if !all_checked {
        // A query inside a field nothing checks (`opaque`): its functions were never
        // decided, so it fails closed.
        return Err(InputError::single(
            "",
            "a query's functions could not be checked (it is inside a field waived with `opaque`)",
        )
        .into());
    }
    Ok(input)
}

/// The refusal of a call over one of the tool's limits.
fn limited_refusal(limited: Limited, limits: &crate::limits::Limits) -> Refusal {
    Refusal {
        outcome: Outcome::Limited,
        retry_after: limited.retry_after(),
        repeatable: Some(match limited {
            Limited::Rate(_) => "rate",
            Limited::Global(_) => "global rate",
            Limited::Busy => "concurrency",
        }),
        message: match limited {
            Limited::Rate(wait) => format!(
                "rate limit exceeded for this tool: retry after {}s",
                retry_secs(wait)
            ),
            Limited::Global(wait) => format!(
                "this tool is at its limit for all callers: retry after {}s",
                retry_secs(wait)
            ),
            Limited::Busy => format!(
                "too many concurrent calls of this tool (limit {}): retry when one has finished",
                limits.concurrency.unwrap_or(0)
            ),
        },
    }
}

/// Stages 1 to 4, the same for every tool. `Ok(None)`: the rate is kept in a shared
/// store, and the arguments wait in `scope` for [`admit_remote`].
#[allow(
    clippy::type_complexity,
    reason = "private; the arguments and the concurrency slot, or a refusal"
)]
pub(super) fn admit_call(
    security: &Security,
    tool: &Tool,
    scope: &mut CallScope,
) -> Result<Option<(JsonObject, Option<Permit>)>, Refusal> {
    let (decl, limits) = (tool.decl, &tool.limits);
    scope.resolve(security);
    if !tool.enabled {
        return Err(Refusal::new(
            Outcome::Denied,
            "this tool is disabled by the server's policy",
        )
        .repeatable("disabled"));
    }
    // The operator's grants and denials (denials win): the caller as the policy sees it
    // is who the permission check, `authorize` and the audit trail see.
    if let Some(resolved) = tool.policy.decided(scope.caller(), scope.local) {
        scope.principal = Some(resolved);
    }
    let arguments = scope.arguments.take().unwrap_or_default();
    let raw = match limits.max_input.map(crate::limits::Bytes::get) {
        None => security.raw_limits().check(&arguments),
        Some(max) => crate::raw::RawLimits {
            max_bytes: max,
            max_string: max,
            ..*security.raw_limits()
        }
        .check(&arguments),
    };
    raw.map_err(|error| Refusal::from(error).repeatable("raw limits"))?;

    if !decl.public
        && let Some(missing) = scope.caller().missing_scope(decl.scopes)
    {
        return Err(Refusal::new(
            Outcome::Denied,
            format!(
                "permission denied: this tool requires the `{missing}` scope, which the caller has not been granted"
            ),
        )
        .repeatable("missing scope"));
    }

    #[cfg(feature = "redis")]
    if security.remote_store(tool).is_some() {
        scope.arguments = Some(arguments);
        return Ok(None);
    }
    let permit = tool
        .state
        .admit(scope.caller().id_arc())
        .map_err(|limited| limited_refusal(limited, limits))?;
    Ok(Some((arguments, permit)))
}
