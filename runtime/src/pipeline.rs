//! The call pipeline behind `#[secure_tool]`. Generated code calls [`run_async`] or
//! [`run_sync`]; nothing here is public API (it is re-exported from `__private`).
//!
//! Order (ARCHITECTURE.md, "The call pipeline"): raw limits, identity, permission, rate and
//! concurrency, deserialize + validate, body under timeout/cancellation/panic guard,
//! result shaping (redaction, output cap, scrubbing), audit.

use std::any::Any;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use rmcp::ErrorData;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::{IntoCallToolResult, ToolCallContext};
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, JsonObject};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use crate::audit::{self, ERROR_TARGET, Outcome};
use crate::decl::ToolDecl;
use crate::input;
use crate::limits::{Limited, ToolPolicy, retry_secs};
use crate::problem::InputError;
use crate::security::Tool;
use crate::support::ObjectInput;
use crate::{ErrorRef, Principal, SecureInput, Security, ToolError, identity};

/// The hidden first extractor of every secured tool: captures, before any other
/// extractor runs, the raw arguments (taken, so nothing else can
/// deserialize them unchecked), the caller and the request's cancellation token.
///
/// It never fails: a refusal must reach the model as an `isError` result, and an
/// extractor's `Err` would become a JSON-RPC protocol error instead.
pub struct CallScope {
    started: Instant,
    arguments: Option<JsonObject>,
    /// The transport's caller; `None` until the local principal is filled in.
    principal: Option<Principal>,
    cancel: CancellationToken,
}

// No `S: SecureServer` bound here: a server missing the impl gets one error, at the
// generated `SecureServer::security(self)` call, instead of an unreadable routing error.
impl<S> FromContextPart<ToolCallContext<'_, S>> for CallScope {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        Ok(Self {
            started: Instant::now(),
            arguments: context.arguments.take(),
            principal: identity::from_extensions(&context.request_context.extensions),
            cancel: context.request_context.ct.clone(),
        })
    }
}

impl CallScope {
    /// Fill in the operator's local principal when the transport named no caller.
    fn resolve(&mut self, security: &Security) {
        if self.principal.is_none() {
            self.principal = Some(security.local_principal().clone());
        }
    }

    /// The caller (after [`resolve`](Self::resolve); anonymous before it).
    fn caller(&self) -> &Principal {
        static ANONYMOUS: std::sync::LazyLock<Principal> =
            std::sync::LazyLock::new(Principal::anonymous);
        self.principal.as_ref().unwrap_or(&ANONYMOUS)
    }

    /// A scope for calling a tool directly (benchmarks, unit tests of a pipeline).
    pub fn new(arguments: Option<JsonObject>, principal: Principal) -> Self {
        Self {
            started: Instant::now(),
            arguments,
            principal: Some(principal),
            cancel: CancellationToken::new(),
        }
    }
}

/// The arguments type of a tool without `Parameters<T>`: an empty object, nothing else.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

impl SecureInput for NoInput {}

impl crate::InputField for NoInput {
    fn check_field(&self, _: &crate::FieldPath<'_>, _: bool, _: &mut Vec<crate::Problem>) {}
}

impl ObjectInput for NoInput {}

/// Rebuilds the user's `Parameters<T>` around the validated `T`.
pub trait WrapParameters<T> {
    /// Wrap.
    fn wrap(inner: T) -> Self;
}

impl<T> WrapParameters<T> for rmcp::handler::server::wrapper::Parameters<T> {
    fn wrap(inner: T) -> Self {
        Self(inner)
    }
}

/// The `inputSchema` rmcp itself would compute for `Parameters<T>`, used because the
/// secured method no longer takes `Parameters<T>` (its arguments come through the guard).
pub fn input_schema<T: schemars::JsonSchema + 'static>() -> Arc<JsonObject> {
    match rmcp::handler::server::common::schema_for_input::<
        rmcp::handler::server::wrapper::Parameters<T>,
    >() {
        Ok(schema) => schema,
        Err(error) => invalid_input_schema(std::any::type_name::<T>(), &error),
    }
}

/// rmcp's own panic for an input whose schema is not an object (compiled once, not per
/// input type). The derive refuses such inputs first, so this is only a backstop.
#[cold]
fn invalid_input_schema(type_name: &str, error: &dyn std::fmt::Display) -> ! {
    panic!("Invalid input schema for `{type_name}`: {error}")
}

/// The `outputSchema` rmcp computes for a `Json<T>` return type.
pub fn output_schema<T: schemars::JsonSchema + 'static>() -> Arc<JsonObject> {
    rmcp::handler::server::tool::schema_for_output::<T>()
}

/// An error type a secured tool may return: anything that converts into [`ToolError`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error type of a `#[secure_tool]`",
    label = "this error would not go through redaction",
    note = "return `secure_tool::ToolError` (every `std::error::Error` converts into it with `?`); rmcp's `ErrorData` is sent to the client verbatim, so it is refused"
)]
pub trait IntoToolError {
    /// Convert.
    fn into_tool_error(self) -> ToolError;
}

impl<E: Into<ToolError>> IntoToolError for E {
    fn into_tool_error(self) -> ToolError {
        self.into()
    }
}

/// What the body returned, before shaping.
pub enum Returned {
    /// rmcp's conversion of the success value (which can itself fail).
    Value(Result<CallToolResponse, ErrorData>),
    /// The tool's own error.
    Error(ToolError),
}

/// The return types a secured tool may have. The macro picks the wrapper by the return
/// type's text: [`ReturnsResult`] for `...Result<T, E>`, [`ReturnsValue`] otherwise.
#[diagnostic::on_unimplemented(
    message = "this return type cannot be served by a `#[secure_tool]`",
    label = "unsupported return type",
    note = "return `Result<T, ToolError>`, or a plain `T`, where `T` is what rmcp accepts: `String`, `Json<U>`, `CallToolResult`, `()`, `Vec<Content>`..."
)]
pub trait ToolReturn {
    /// Split into value or error.
    fn into_returned(self) -> Returned;
}

/// A `Result<T, E>` return: `Ok` goes through rmcp's conversion, `Err` through redaction.
pub struct ReturnsResult<R>(pub R);

/// Any other return: converted by rmcp (`String`, `Json<T>`, `CallToolResult`, `()`...).
pub struct ReturnsValue<R>(pub R);

impl<T: IntoCallToolResult, E: IntoToolError> ToolReturn for ReturnsResult<Result<T, E>> {
    fn into_returned(self) -> Returned {
        match self.0 {
            Ok(value) => Returned::Value(value.into_call_tool_result()),
            Err(error) => Returned::Error(error.into_tool_error()),
        }
    }
}

impl<R: IntoCallToolResult> ToolReturn for ReturnsValue<R> {
    fn into_returned(self) -> Returned {
        Returned::Value(self.0.into_call_tool_result())
    }
}

/// A call that passed stages 1 to 5.
struct Admitted<T> {
    input: T,
    _permit: Option<OwnedSemaphorePermit>,
}

/// A refusal before the body ran, with its audit outcome.
struct Refusal {
    outcome: Outcome,
    message: String,
}

impl From<InputError> for Refusal {
    fn from(error: InputError) -> Self {
        Self {
            outcome: Outcome::Invalid,
            message: error.to_string(),
        }
    }
}

/// Stages 1 to 5: raw limits, permission, rate and concurrency, deserialize + validate.
/// Only the last two depend on `T`; the rest lives in [`admit_call`], compiled once in
/// this crate rather than once per tool.
fn admit<T: SecureInput>(
    security: &Security,
    tool: &Tool,
    scope: &mut CallScope,
) -> Result<Admitted<T>, Refusal> {
    let (arguments, permit) = admit_call(security, tool, scope)?;
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
    if !all_checked {
        // A query inside a field nothing checks (`opaque`): its functions were never
        // decided, so it fails closed.
        return Err(InputError::single(
            "",
            "a query's functions could not be checked (it is inside a field waived with `opaque`)",
        )
        .into());
    }
    Ok(Admitted {
        input,
        _permit: permit,
    })
}

/// Stages 1 to 4, the same for every tool.
fn admit_call(
    security: &Security,
    tool: &Tool,
    scope: &mut CallScope,
) -> Result<(JsonObject, Option<OwnedSemaphorePermit>), Refusal> {
    let policy = &tool.entry.policy;
    scope.resolve(security);
    let arguments = scope.arguments.take().unwrap_or_default();
    match policy.max_input {
        None => security.raw_limits().check(&arguments)?,
        Some(max) => crate::RawLimits {
            max_bytes: max,
            max_string: max,
            ..*security.raw_limits()
        }
        .check(&arguments)?,
    }

    if !policy.public
        && let Some(missing) = scope.caller().missing_scope(policy.scopes)
    {
        return Err(Refusal {
            outcome: Outcome::Denied,
            message: format!(
                "permission denied: this tool requires the `{missing}` scope, which the caller has not been granted"
            ),
        });
    }

    let permit = tool
        .state
        .admit(scope.caller().id_arc())
        .map_err(|limited| Refusal {
            outcome: Outcome::Limited,
            message: match limited {
                Limited::Rate(wait) => format!(
                    "rate limit exceeded for this tool: retry after {}s",
                    retry_secs(wait)
                ),
                Limited::Busy => format!(
                    "too many concurrent calls of this tool (limit {}): retry when one has finished",
                    policy.concurrency.map_or(0, |n| n.get())
                ),
            },
        })?;
    Ok((arguments, permit))
}

/// How the body ended.
enum Ran<R> {
    Returned(R),
    Panicked(Box<dyn Any + Send>),
    TimedOut(Duration),
    Cancelled,
}

/// An async call admitted through stages 1 to 5, ready to run its body. Generated code
/// only.
pub struct Guard<'a> {
    security: &'a Security,
    policy: &'static ToolPolicy,
    scope: CallScope,
    permit: Option<OwnedSemaphorePermit>,
}

/// Run an async secured tool: stages 1 to 5 (`admit_async`), then `body` with the
/// checked input, its future run by `Guard::run`. Generated code only: the admission's
/// `match` is written (and checked by the compiler) once here, so the generated method is
/// one call.
pub fn run_async<'a, T, R, F>(
    security: &'a Security,
    decl: ToolDecl,
    scope: CallScope,
    returned: fn(R) -> Returned,
    body: F,
) -> ToolFuture<'a>
where
    T: ObjectInput,
    R: 'a,
    F: FnOnce(T) -> BodyFuture<'a, R>,
{
    match admit_async::<T>(security, &security.tool(&decl), scope) {
        Ok((input, guard)) => guard.run(body(input), returned),
        Err(response) => refused(response),
    }
}

/// Stages 1 to 5 of an async tool: the checked input and the [`Guard`] that runs the
/// body, or the refusal as the tool's response. Running the body (timeout, cancellation,
/// panics, shaping, audit) is [`Guard::run`], compiled once, so a tool adds no coroutine
/// of its own.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the tool's response, returned as is to rmcp; boxing it would only add an allocation"
)]
fn admit_async<'a, T: ObjectInput>(
    security: &'a Security,
    tool: &Tool,
    mut scope: CallScope,
) -> Result<(T, Guard<'a>), CallToolResponse> {
    let policy = &tool.entry.policy;
    match admit::<T>(security, tool, &mut scope) {
        Ok(Admitted { input, _permit }) => Ok((
            input,
            Guard {
                security,
                policy,
                scope,
                permit: _permit,
            },
        )),
        Err(refusal) => Err(refuse(policy, &scope, refusal)),
    }
}

/// What a secured async tool method returns: the boxed future rmcp's `#[tool]` makes of
/// an `async fn`.
pub type ToolFuture<'a> = std::pin::Pin<Box<dyn Future<Output = CallToolResponse> + Send + 'a>>;

/// A tool body's future, as the generated method boxes it.
pub type BodyFuture<'a, R> = std::pin::Pin<Box<dyn Future<Output = R> + Send + 'a>>;

impl<'a> Guard<'a> {
    /// Stages 6 to 8: run the body, then shape the result and audit it. Generic only in
    /// the body's output type, so tools returning the same type share one instance.
    pub fn run<R: 'a>(
        self,
        body: BodyFuture<'a, R>,
        returned: fn(R) -> Returned,
    ) -> ToolFuture<'a> {
        Box::pin(async move {
            let body = std::pin::pin!(body.map(returned));
            drive(self.security, self.policy, self.scope, self.permit, body).await
        })
    }
}

/// A refusal, as the future an async tool returns.
fn refused<'a>(response: CallToolResponse) -> ToolFuture<'a> {
    Box::pin(std::future::ready(response))
}

/// A `Result` returned by a tool body, split for shaping (a `fn`, so the generated code
/// maps the body's future with it and needs no closure).
pub fn returns_result<R>(value: R) -> Returned
where
    ReturnsResult<R>: ToolReturn,
{
    ReturnsResult(value).into_returned()
}

/// Any other value returned by a tool body, for shaping.
pub fn returns_value<R>(value: R) -> Returned
where
    ReturnsValue<R>: ToolReturn,
{
    ReturnsValue(value).into_returned()
}

/// Stages 6 to 8 of an async tool, the same for every tool.
async fn drive(
    security: &Security,
    policy: &'static ToolPolicy,
    scope: CallScope,
    permit: Option<OwnedSemaphorePermit>,
    body: std::pin::Pin<&mut (dyn Future<Output = Returned> + Send + '_)>,
) -> CallToolResponse {
    let mut guarded = AssertUnwindSafe(body).catch_unwind();
    // Most bodies finish on their first poll: they need no timer and no cancellation
    // waiter, so those are armed only for a body that is still pending.
    let ran = match futures::poll!(&mut guarded) {
        std::task::Poll::Ready(result) => result.map_or_else(Ran::Panicked, Ran::Returned),
        std::task::Poll::Pending => {
            let timed = async {
                match policy.timeout.or(security.default_timeout()) {
                    Some(limit) => match tokio::time::timeout(limit, &mut guarded).await {
                        Ok(result) => result.map_or_else(Ran::Panicked, Ran::Returned),
                        Err(_) => Ran::TimedOut(limit),
                    },
                    None => (&mut guarded)
                        .await
                        .map_or_else(Ran::Panicked, Ran::Returned),
                }
            };
            // rmcp only cancels the token of a cancelled request; without this branch
            // the body would run on to completion.
            tokio::select! {
                biased;
                ran = timed => ran,
                () = scope.cancel.cancelled() => Ran::Cancelled,
            }
        }
    };
    drop(permit);
    finish_returned(security, policy, &scope, ran)
}

/// Run a sync secured tool. Generated code only.
///
/// The body runs under `run_blocking`, so a body that blocks (a file read, a database
/// query, a `sleep`) stalls only its own call, never the server. No timeout can
/// interrupt sync code, so the macro refuses `timeout` on a sync tool.
pub fn run_sync<T, F, R>(
    security: &Security,
    decl: ToolDecl,
    mut scope: CallScope,
    body: F,
    returned: fn(R) -> Returned,
) -> CallToolResponse
where
    T: ObjectInput,
    F: FnOnce(T) -> R,
{
    let tool = security.tool(&decl);
    let policy = &tool.entry.policy;
    let admitted = match admit::<T>(security, &tool, &mut scope) {
        Ok(admitted) => admitted,
        Err(refusal) => return refuse(policy, &scope, refusal),
    };
    let Admitted { input, _permit } = admitted;
    let ran = run_blocking(move || {
        std::panic::catch_unwind(AssertUnwindSafe(move || returned(body(input))))
    })
    .map_or_else(Ran::Panicked, Ran::Returned);
    drop(_permit);
    finish_returned(security, policy, &scope, ran)
}

/// Run `f`, which may block, without stalling the runtime that called it.
///
/// rmcp calls a sync tool on the task that serves the request, on one of the runtime's
/// few worker threads: a body that blocks there would also stop every other task queued
/// on that worker, and as many blocking calls as workers would freeze the whole server.
/// On a multi-thread runtime, `block_in_place` first moves this worker's other tasks to a
/// fresh thread. A current-thread runtime has no other thread to move them to: there the
/// body runs in place (serve such a server with a multi-thread runtime, the default of
/// `#[tokio::main]`).
fn run_blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn refuse(policy: &ToolPolicy, scope: &CallScope, refusal: Refusal) -> CallToolResponse {
    audit::record(
        policy.name,
        scope.caller().id(),
        refusal.outcome,
        scope.started.elapsed(),
        None,
    );
    error_result(refusal.message)
}

fn error_result(message: String) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(message)]).into()
}

/// Shape the result and emit the audit event.
fn finish_returned(
    security: &Security,
    policy: &ToolPolicy,
    scope: &CallScope,
    ran: Ran<Returned>,
) -> CallToolResponse {
    let mut error_ref = None;
    let mut redact = |what: &dyn std::fmt::Display, kind: &str| {
        let r = ErrorRef::new();
        error_ref = Some(r);
        tracing::error!(
            target: ERROR_TARGET,
            error_ref = %r,
            tool = policy.name,
            principal = scope.caller().id(),
            kind,
            error = %log_text(security, what),
            "tool call failed"
        );
        error_result(format!("internal error (ref {r})"))
    };
    let (response, outcome) = match ran {
        Ran::Returned(returned) => match returned {
            Returned::Value(Ok(CallToolResponse::Complete(result))) => {
                shape_ok(security, policy, result)
            }
            Returned::Value(Ok(other)) => (other, Outcome::Ok),
            Returned::Value(Err(error)) => (
                redact(&error.message, "conversion of the tool's output failed"),
                Outcome::Error,
            ),
            Returned::Error(error) => match error.public_message() {
                Some(message) => (
                    error_result(crate::scrub_public(message).into_owned()),
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
    audit::record(
        policy.name,
        scope.caller().id(),
        outcome,
        scope.started.elapsed(),
        error_ref,
    );
    response
}

/// A successful (or author-built error) result: output cap, then scrubbing.
fn shape_ok(
    security: &Security,
    policy: &ToolPolicy,
    mut result: CallToolResult,
) -> (CallToolResponse, Outcome) {
    let limit = policy.max_output.unwrap_or_else(|| security.max_output());
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
        crate::scrub_public
    } else {
        crate::scrub_secrets
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
fn output_size(result: &CallToolResult) -> usize {
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
fn log_text(security: &Security, what: &dyn std::fmt::Display) -> String {
    let text = what.to_string();
    if !security.scrub_logs() {
        return text;
    }
    match crate::scrub_secrets(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        format!("panic: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// `2s`, `500ms`, `1m30s`: how a limit is named to the model.
pub(crate) fn human_duration(d: Duration) -> String {
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
