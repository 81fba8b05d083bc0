//! Argument-level authorization (`#[secure_tool(authorize = path)]`): the author's
//! function sees the caller and the validated input, after validation and before the
//! body, and may refuse the call with a [`Denied`].

use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures::FutureExt as _;
use rmcp::model::CallToolResponse;

use super::admission::Refusal;
use super::body::Call;
use super::shape::refuse;
use super::{
    CallScope, Guard, Returned, Step, ToolFuture, admit_async, deadline, refused, run_sync_checked,
};
use crate::audit::Outcome;
use crate::decl::ToolDecl;
use crate::identity::Principal;
use crate::security::Security;
use crate::support::ObjectInput;

/// A refusal by a tool's `authorize` function: the call is denied like any call without
/// its scope (an `isError` result, audited as `denied`), with this message, scrubbed,
/// for the model.
///
/// ```
/// use secure_tool::{Denied, Principal};
///
/// struct Lookup { owner: String }
///
/// /// Callers may read only their own records.
/// fn own_records(caller: &Principal, input: &Lookup) -> Result<(), Denied> {
///     if input.owner == caller.id() {
///         Ok(())
///     } else {
///         Err(Denied::new("you may only read your own records"))
///     }
/// }
///
/// let alice = Principal::new("alice");
/// assert!(own_records(&alice, &Lookup { owner: "alice".into() }).is_ok());
/// assert!(own_records(&alice, &Lookup { owner: "bob".into() }).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    message: Cow<'static, str>,
}

impl Denied {
    /// A denial with this message for the model. Say what is not allowed, not why the
    /// data exists: the message is scrubbed of secrets and paths, never of facts.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message for the model.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// `permission denied`.
impl Default for Denied {
    fn default() -> Self {
        Self::new("permission denied")
    }
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The verdict of an `authorize` function, as a future (ready at once for a sync one).
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Denied>> + Send + 'a>>;

/// What an `authorize` function of an async tool returns: `Result<(), Denied>` (a sync
/// function) or a future of one (an `async fn`). The marker `M` keeps the two impls
/// apart, so the compiler picks the one that applies.
#[diagnostic::on_unimplemented(
    message = "`authorize` must return `Result<(), Denied>` or be an `async fn` returning it",
    label = "this is not an authorization verdict",
    note = "expected `fn(&Principal, &Input) -> Result<(), secure_tool::Denied>` or `async fn(&Principal, &Input) -> Result<(), secure_tool::Denied>`"
)]
pub trait Verdict<'a, M> {
    /// As a boxed future.
    fn into_future(self) -> AuthFuture<'a>;
}

/// Marker: a sync verdict.
pub struct Now;
/// Marker: an async verdict.
pub struct Later;

impl<'a> Verdict<'a, Now> for Result<(), Denied> {
    fn into_future(self) -> AuthFuture<'a> {
        Box::pin(std::future::ready(self))
    }
}

impl<'a, F: Future<Output = Result<(), Denied>> + Send + 'a> Verdict<'a, Later> for F {
    fn into_future(self) -> AuthFuture<'a> {
        Box::pin(self)
    }
}

/// Box an async tool's verdict. Generated code only.
pub fn verdict<'a, M, V: Verdict<'a, M>>(verdict: V) -> AuthFuture<'a> {
    verdict.into_future()
}

/// What an `authorize` function of a sync tool returns: it runs in the sync body's
/// thread, so it must be a sync function.
#[diagnostic::on_unimplemented(
    message = "the `authorize` function of a sync tool must return `Result<(), Denied>`",
    label = "not a sync authorization verdict",
    note = "expected `fn(&Principal, &Input) -> Result<(), secure_tool::Denied>`; an `async fn` can authorize an `async` tool only"
)]
pub trait SyncVerdict {
    /// The verdict.
    fn into_result(self) -> Result<(), Denied>;
}

impl SyncVerdict for Result<(), Denied> {
    fn into_result(self) -> Result<(), Denied> {
        self
    }
}

/// A sync tool's verdict. Generated code only.
pub fn verdict_now<V: SyncVerdict>(verdict: V) -> Result<(), Denied> {
    verdict.into_result()
}

/// The refusal of a call whose `authorize` function said no (or failed).
fn denial(verdict: Result<Result<(), Denied>, Refusal>) -> Result<(), Refusal> {
    match verdict {
        Ok(Ok(())) => Ok(()),
        Ok(Err(denied)) => Err(Refusal::new(
            Outcome::Denied,
            crate::scrub::scrub_public(denied.message()),
        )),
        Err(refusal) => Err(refusal),
    }
}

/// A panicking `authorize` function: the call is refused, and the panic contained.
fn panicked() -> Refusal {
    Refusal::new(
        Outcome::Panic,
        "the call could not be authorized (internal error)",
    )
}

/// [`run_async`](super::run_async) for a tool with `authorize`: the function's verdict is
/// awaited (under the tool's timeout, its panics contained) after validation and before
/// the body.
#[allow(
    clippy::too_many_arguments,
    reason = "generated code only, one call per tool"
)]
pub fn run_async_authorized<'a, T, R, F, Fut>(
    security: &'a Security,
    server: std::any::TypeId,
    decl: &'static ToolDecl,
    scope: CallScope,
    authorize: for<'b> fn(&'b T, &'b Principal) -> AuthFuture<'b>,
    returned: fn(R) -> Returned,
    body: F,
) -> ToolFuture<'a>
where
    T: ObjectInput + Send + 'a,
    R: 'a,
    F: FnOnce(T) -> Fut + Send + 'a,
    Fut: Future<Output = R> + Send + 'a,
{
    let step = admit_async::<T>(security, security.tool(server, decl), scope);
    if let Step::Refused(response) = step {
        return refused(response);
    }
    Box::pin(async move {
        let (input, guard) = match step {
            Step::Ready(input, guard) => (input, guard),
            Step::Refused(response) => return response,
            #[cfg(feature = "redis")]
            Step::Remote(remote) => match remote.admit::<T>().await {
                Ok(admitted) => admitted,
                Err(response) => return response,
            },
        };
        let asked = AssertUnwindSafe(authorize(&input, guard.scope.caller())).catch_unwind();
        // The tool's time limit counts from the call's start, authorization included; the
        // timer is boxed, so it is not in the state of every call's future.
        let deadline = deadline(security, &guard.tool, &guard.scope);
        let verdict = match deadline {
            Some((_, deadline)) => match Box::pin(tokio::time::timeout_at(
                tokio::time::Instant::from_std(deadline),
                asked,
            ))
            .await
            {
                Ok(ran) => ran.map_err(|_| panicked()),
                Err(_) => Err(Refusal::new(
                    Outcome::Timeout,
                    "the call could not be authorized within the tool's time limit",
                )),
            },
            None => asked.await.map_err(|_| panicked()),
        };
        match denial(verdict) {
            Ok(()) => Call::new(guard, body(input), returned).await,
            Err(refusal) => guard.refuse(refusal),
        }
    })
}

/// [`run_sync`](super::run_sync) for a tool with `authorize`.
#[allow(
    clippy::too_many_arguments,
    reason = "generated code only, one call per tool"
)]
pub fn run_sync_authorized<T, F, R>(
    security: &Security,
    server: std::any::TypeId,
    decl: &'static ToolDecl,
    scope: CallScope,
    authorize: fn(&T, &Principal) -> Result<(), Denied>,
    body: F,
    returned: fn(R) -> Returned,
) -> CallToolResponse
where
    T: ObjectInput,
    F: FnOnce(T) -> R,
{
    run_sync_checked(
        security,
        server,
        decl,
        scope,
        |input, caller| {
            denial(
                std::panic::catch_unwind(AssertUnwindSafe(|| authorize(input, caller)))
                    .map_err(|_| panicked()),
            )
        },
        body,
        returned,
    )
}

impl Guard<'_> {
    /// Refuse the admitted call: its concurrency slot is released, the refusal audited.
    fn refuse(mut self, refusal: Refusal) -> CallToolResponse {
        drop(self.permit.take());
        refuse(self.security, &self.tool, &mut self.scope, refusal)
    }
}
