//! The call pipeline behind `#[secure_tool]`. Generated code calls [`run_async`] or
//! [`run_sync`]; nothing here is public API (it is re-exported from `__private`).
//!
//! Order (ARCHITECTURE.md, "The call pipeline"): raw limits, identity, permission, rate and
//! concurrency, deserialize + validate, body under timeout/cancellation/panic guard,
//! result shaping (redaction, output cap, scrubbing), audit.
//!
//! This file holds what generated code names; `admission.rs` holds stages 1 to 5,
//! `body.rs` stage 6 (the body, as one hand-written future), `shape.rs` stages 7 and 8.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::limits::Permit;
use rmcp::ErrorData;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::{IntoCallToolResult, ToolCallContext};
use rmcp::model::{CallToolResponse, JsonObject};
use tokio_util::sync::CancellationToken;

use crate::decl::ToolDecl;
use crate::error::ToolError;
use crate::identity;
use crate::identity::Principal;
use crate::input::SecureInput;
use crate::security::Security;
use crate::security::Tool;
use crate::support::ObjectInput;

mod admission;
mod authorize;
mod body;
mod sensitive;
mod shape;

pub use shape::RETRY_AFTER_META_KEY;

pub use authorize::{
    AuthFuture, Denied, run_async_authorized, run_sync_authorized, verdict, verdict_now,
};

use admission::{Admission, Admitted, admit};
use body::Call;
use shape::{finish_returned, refuse};

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
    /// The caller is the `Security`'s local principal (stdio, in-process).
    local: bool,
    cancel: CancellationToken,
    /// What the input's `#[secure(audit)]` fields hold, for the audit trail.
    audited: Vec<(&'static str, serde_json::Value)>,
    /// What the input's `#[secure(sensitive)]` fields hold: taken out of every error text
    /// before it is shown or logged.
    sensitive: Vec<String>,
}

// No `S: SecureServer` bound here: a server missing the impl gets one error, at the
// generated `SecureServer::security(self)` call, instead of an unreadable routing error.
impl<S> FromContextPart<ToolCallContext<'_, S>> for CallScope {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        Ok(Self {
            started: Instant::now(),
            arguments: context.arguments.take(),
            principal: identity::from_extensions(&context.request_context.extensions),
            local: false,
            cancel: context.request_context.ct.clone(),
            audited: Vec::new(),
            sensitive: Vec::new(),
        })
    }
}

impl CallScope {
    /// Fill in the operator's local principal when the transport named no caller.
    fn resolve(&mut self, security: &Security) {
        if self.principal.is_none() {
            self.principal = Some(security.local_principal().clone());
            self.local = true;
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
            local: false,
            cancel: CancellationToken::new(),
            audited: Vec::new(),
            sensitive: Vec::new(),
        }
    }
}

/// The arguments type of a tool without `Parameters<T>`: an empty object, nothing else.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

impl SecureInput for NoInput {}

impl crate::field::InputField for NoInput {
    fn check_field(
        &self,
        _: &crate::field::FieldPath<'_>,
        _: bool,
        _: &mut Vec<crate::problem::Problem>,
    ) {
    }
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

/// The `inputSchema` rmcp itself would compute for `Parameters<T>`, plus the
/// `each(length(max))` bounds of `T`'s fields (`item_bounds`), used because the
/// secured method no longer takes `Parameters<T>` (its arguments come through the guard).
pub fn input_schema<T: schemars::JsonSchema + 'static>(
    item_bounds: &[(&str, usize)],
) -> Arc<JsonObject> {
    let schema = match rmcp::handler::server::common::schema_for_input::<
        rmcp::handler::server::wrapper::Parameters<T>,
    >() {
        Ok(schema) => schema,
        Err(error) => invalid_input_schema(std::any::type_name::<T>(), &error),
    };
    if item_bounds.is_empty() {
        return schema;
    }
    let mut schema = (*schema).clone();
    if let Some(serde_json::Value::Object(properties)) = schema.get_mut("properties") {
        for (name, max) in item_bounds {
            if let Some(property) = properties.get_mut(*name) {
                bound_items(property, *max);
            }
        }
    }
    Arc::new(schema)
}

/// Show `each(length(max))` in a property's schema, as the server measures it: every
/// string (`maxLength`) and inner array (`maxItems`) in an array's items, in a map's
/// values (`additionalProperties`, `patternProperties`), and a map's string keys
/// (`propertyNames`); through `anyOf` (an `Option`) and nested arrays and maps.
fn bound_items(property: &mut serde_json::Value, max: usize) {
    let Some(object) = property.as_object_mut() else {
        return;
    };
    if let Some(serde_json::Value::Array(choices)) = object.get_mut("anyOf") {
        choices
            .iter_mut()
            .for_each(|choice| bound_items(choice, max));
        return;
    }
    if let Some(items) = object.get_mut("items") {
        bound_item(items, max);
    }
    // A map: schemars writes string keys' values as `additionalProperties`, integer keys'
    // as `patternProperties` (and `additionalProperties: false`).
    if let Some(values) = object.get_mut("additionalProperties") {
        bound_item(values, max);
    }
    if let Some(serde_json::Value::Object(patterns)) = object.get_mut("patternProperties") {
        patterns
            .values_mut()
            .for_each(|values| bound_item(values, max));
    } else if object
        .get("additionalProperties")
        .is_some_and(serde_json::Value::is_object)
    {
        let names = object
            .entry("propertyNames")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(names) = names.as_object_mut() {
            names.insert("maxLength".into(), max.into());
        }
    }
}

/// One item (a value of an array or map) of an `each`-bounded field.
fn bound_item(item: &mut serde_json::Value, max: usize) {
    let Some(object) = item.as_object_mut() else {
        return;
    };
    let kinds: Vec<String> = match object.get("type") {
        Some(serde_json::Value::String(kind)) => vec![kind.clone()],
        Some(serde_json::Value::Array(kinds)) => kinds
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if kinds.iter().any(|k| k == "string") {
        object.insert("maxLength".into(), max.into());
    }
    if kinds.iter().any(|k| k == "array") {
        object.insert("maxItems".into(), max.into());
    }
    if kinds.iter().any(|k| k == "object") {
        object.insert("maxProperties".into(), max.into());
    }
    bound_items(item, max);
}

/// The `inputSchema` of a tool without `Parameters<T>`: an empty object that allows no
/// property (`additionalProperties: false`), which is what the server enforces; rmcp's
/// own would let a client believe extra arguments are welcome.
pub fn no_input_schema() -> Arc<JsonObject> {
    static SCHEMA: std::sync::LazyLock<Arc<JsonObject>> = std::sync::LazyLock::new(|| {
        let mut schema = JsonObject::new();
        schema.insert("type".into(), "object".into());
        schema.insert("properties".into(), JsonObject::new().into());
        schema.insert("additionalProperties".into(), false.into());
        Arc::new(schema)
    });
    Arc::clone(&SCHEMA)
}

/// rmcp's own panic for an input whose schema is not an object (compiled once, not per
/// input type). The derive refuses such inputs first, so this is only a backstop.
#[cold]
fn invalid_input_schema(type_name: &str, error: &dyn std::fmt::Display) -> ! {
    panic!("Invalid input schema for `{type_name}`: {error}")
}

/// The key of a tool's `_meta` that lists the scopes a call needs, so a client can ask
/// for them (an OAuth client, in its authorization request) before it calls.
pub const SCOPES_META_KEY: &str = "secure-tool/scopes";

/// A tool's `_meta` in `tools/list`: the author's (`#[tool(meta = ..)]`), with the scopes
/// a call needs under [`SCOPES_META_KEY`] (empty for a public tool).
pub fn tool_meta(
    decl: &'static ToolDecl,
    base: Option<rmcp::model::MetaObject>,
) -> rmcp::model::MetaObject {
    let mut meta = base.unwrap_or_default();
    let scopes = decl
        .scopes
        .iter()
        .map(|s| serde_json::Value::from(*s))
        .collect();
    meta.0
        .insert(SCOPES_META_KEY.to_owned(), serde_json::Value::Array(scopes));
    meta
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
    tool: Arc<Tool>,
    scope: CallScope,
    permit: Option<Permit>,
}

/// Run an async secured tool: stages 1 to 5 (`admit_async`), then `body` with the
/// checked input, its future run by `Guard::run`. Generated code only: the admission's
/// `match` is written (and checked by the compiler) once here, so the generated method is
/// one call.
pub fn run_async<'a, T, R, F, Fut>(
    security: &'a Security,
    server: std::any::TypeId,
    decl: &'static ToolDecl,
    scope: CallScope,
    returned: fn(R) -> Returned,
    body: F,
) -> ToolFuture<'a>
where
    T: ObjectInput + Send,
    R: 'a,
    F: FnOnce(T) -> Fut + Send + 'a,
    Fut: Future<Output = R> + Send + 'a,
{
    match admit_async::<T>(security, security.tool(server, decl), scope) {
        Step::Ready(input, guard) => guard.run(body(input), returned),
        Step::Refused(response) => refused(response),
        #[cfg(feature = "redis")]
        Step::Remote(remote) => Box::pin(async move {
            match remote.admit::<T>().await {
                Ok((input, guard)) => Call::new(guard, body(input), returned).await,
                Err(response) => response,
            }
        }),
    }
}

/// Where an async call stands after the admission that needs no waiting.
pub(crate) enum Step<'a, T> {
    /// Admitted: the checked input and the guard that runs the body.
    Ready(T, Guard<'a>),
    /// Refused: the tool's response.
    Refused(CallToolResponse),
    /// The rate must be asked of the shared store first.
    #[cfg(feature = "redis")]
    Remote(Remote<'a>),
}

/// An async call waiting for its rate check in the shared store.
#[cfg(feature = "redis")]
pub(crate) struct Remote<'a> {
    security: &'a Security,
    tool: Arc<Tool>,
    scope: CallScope,
    arguments: JsonObject,
}

#[cfg(feature = "redis")]
impl<'a> Remote<'a> {
    /// Ask the store, then the rest of stages 4 and 5.
    pub(crate) async fn admit<T: ObjectInput>(
        mut self,
    ) -> Result<(T, Guard<'a>), CallToolResponse> {
        let admitted = admission::admit_remote::<T>(
            self.security,
            &self.tool,
            &mut self.scope,
            self.arguments,
        )
        .await;
        match admitted {
            Ok(Admitted { input, _permit }) => Ok((
                input,
                Guard {
                    security: self.security,
                    tool: self.tool,
                    scope: self.scope,
                    permit: _permit,
                },
            )),
            Err(refusal) => Err(refuse(self.security, &self.tool, &mut self.scope, refusal)),
        }
    }
}

/// Stages 1 to 5 of an async tool: the checked input and the [`Guard`] that runs the
/// body, or the refusal as the tool's response. Running the body (timeout, cancellation,
/// panics, shaping, audit) is [`Guard::run`]: one hand-written future (`body::Call`)
/// that holds the body's own.
pub(crate) fn admit_async<'a, T: ObjectInput>(
    security: &'a Security,
    tool: Arc<Tool>,
    mut scope: CallScope,
) -> Step<'a, T> {
    match admit::<T>(security, &tool, &mut scope) {
        Admission::Admitted(Admitted { input, _permit }) => Step::Ready(
            input,
            Guard {
                security,
                tool,
                scope,
                permit: _permit,
            },
        ),
        Admission::Refused(refusal) => Step::Refused(refuse(security, &tool, &mut scope, refusal)),
        #[cfg(feature = "redis")]
        Admission::Remote(arguments) => Step::Remote(Remote {
            security,
            tool,
            scope,
            arguments,
        }),
    }
}

/// What a secured async tool method returns: the boxed future rmcp's `#[tool]` makes of
/// an `async fn`.
pub type ToolFuture<'a> = std::pin::Pin<Box<dyn Future<Output = CallToolResponse> + Send + 'a>>;

impl<'a> Guard<'a> {
    /// Stages 6 to 8: run the body, then shape the result and audit it, in the one boxed
    /// future the tool returns (the body's own future inside it, not boxed again).
    pub fn run<R: 'a, Fut>(self, body: Fut, returned: fn(R) -> Returned) -> ToolFuture<'a>
    where
        Fut: Future<Output = R> + Send + 'a,
    {
        Box::pin(Call::new(self, body, returned))
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

/// A call's time limit (the tool's, else the server's default) and the moment it runs
/// out, counted from the call's start: `None` for no limit, or one too long for the clock
/// to hold.
fn deadline(security: &Security, tool: &Tool, scope: &CallScope) -> Option<(Duration, Instant)> {
    let limit = tool
        .limits
        .timeout
        .map(crate::limits::Millis::duration)
        .or(security.default_timeout())?;
    Some((limit, scope.started.checked_add(limit)?))
}

/// Run a sync secured tool. Generated code only.
///
/// The body runs under `run_blocking`, so a body that blocks (a file read, a database
/// query, a `sleep`) stalls only its own call, never the server. No timeout can
/// interrupt sync code, so the macro refuses `timeout` on a sync tool.
pub fn run_sync<T, F, R>(
    security: &Security,
    server: std::any::TypeId,
    decl: &'static ToolDecl,
    scope: CallScope,
    body: F,
    returned: fn(R) -> Returned,
) -> CallToolResponse
where
    T: ObjectInput,
    F: FnOnce(T) -> R,
{
    run_sync_checked(security, server, decl, scope, |_, _| Ok(()), body, returned)
}

/// A sync tool's stages 1 to 5, then `check` on the checked input and the caller (the
/// `authorize` stage, or nothing), then the body.
#[allow(
    clippy::too_many_arguments,
    reason = "the run functions' arguments, passed on"
)]
fn run_sync_checked<T, F, R>(
    security: &Security,
    server: std::any::TypeId,
    decl: &'static ToolDecl,
    mut scope: CallScope,
    check: impl FnOnce(&T, &Principal) -> Result<(), admission::Refusal>,
    body: F,
    returned: fn(R) -> Returned,
) -> CallToolResponse
where
    T: ObjectInput,
    F: FnOnce(T) -> R,
{
    let tool = security.tool(server, decl);
    let admitted = match admit::<T>(security, &tool, &mut scope) {
        Admission::Admitted(admitted) => Ok(admitted),
        Admission::Refused(refusal) => Err(refusal),
        #[cfg(feature = "redis")]
        Admission::Remote(arguments) => block_on_store(admission::admit_remote::<T>(
            security, &tool, &mut scope, arguments,
        )),
    };
    let refusal = match admitted {
        Ok(admitted) => match check(&admitted.input, scope.caller()) {
            Ok(()) => return run_sync_body(security, &tool, scope, admitted, body, returned),
            Err(refusal) => refusal,
        },
        Err(refusal) => refusal,
    };
    refuse(security, &tool, &mut scope, refusal)
}

/// Wait for a sync tool's rate check in the shared store, bounded by the store's deadline.
/// Only a multi-thread runtime can block one of its workers (after moving its other
/// tasks away); on any other, the limit cannot be checked, and the call is refused.
#[cfg(feature = "redis")]
fn block_on_store<T>(
    check: impl Future<Output = Result<T, admission::Refusal>>,
) -> Result<T, admission::Refusal> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(check))
        }
        _ => Err(admission::Refusal {
            outcome: crate::audit::Outcome::Limited,
            message: "the rate limit of this tool cannot be checked here: serve sync tools with a shared limit store on a multi-thread runtime".to_owned(),
            retry_after: None,
            repeatable: None,
        }),
    }
}

/// Stages 6 to 8 of a sync tool: the body (off the runtime's workers), then shaping and
/// audit.
fn run_sync_body<T, F, R>(
    security: &Security,
    tool: &Tool,
    scope: CallScope,
    admitted: Admitted<T>,
    body: F,
    returned: fn(R) -> Returned,
) -> CallToolResponse
where
    F: FnOnce(T) -> R,
{
    let Admitted { input, _permit } = admitted;
    let ran = run_blocking(move || {
        std::panic::catch_unwind(AssertUnwindSafe(move || returned(body(input))))
    })
    .map_or_else(Ran::Panicked, Ran::Returned);
    drop(_permit);
    finish_returned(security, tool, scope, ran)
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    /// The schema of one property of `T` after `each(length(max = 7))` on it.
    fn bounded<T: schemars::JsonSchema>() -> serde_json::Value {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Holder<T> {
            field: T,
        }
        let mut schema = serde_json::to_value(schemars::schema_for!(Holder<T>)).unwrap();
        super::bound_items(&mut schema["properties"]["field"], 7);
        schema["properties"]["field"].take()
    }

    #[test]
    fn each_bounds_reach_items_keys_and_values_as_the_server_measures_them() {
        let list = bounded::<Option<Vec<Vec<String>>>>();
        assert_eq!(list["items"]["maxItems"], 7, "{list}");
        assert_eq!(list["items"]["items"]["maxLength"], 7, "{list}");
        let map = bounded::<HashMap<String, String>>();
        assert_eq!(map["additionalProperties"]["maxLength"], 7, "{map}");
        assert_eq!(map["propertyNames"]["maxLength"], 7, "{map}");
        // Integer keys: the server never measures them, so neither does the schema.
        let by_number = bounded::<BTreeMap<u32, String>>();
        assert!(by_number.get("propertyNames").is_none(), "{by_number}");
        let values = by_number["patternProperties"].as_object().unwrap();
        assert!(values.values().all(|v| v["maxLength"] == 7), "{by_number}");
    }
}
