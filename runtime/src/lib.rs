//! Safe-by-default MCP tools for [`rmcp`].
//!
//! One attribute turns an rmcp tool into a hardened one. `#[secure_tool(...)]`, written
//! above `#[tool]`, declares what the tool needs (`scope = "fs.read"`, `scopes = [..]` or
//! `public`) and how much it may run (`rate`, `burst`, `timeout`, `concurrency`,
//! `max_output`), and wraps the body in this pipeline:
//!
//! 1. raw-argument limits (size, depth, string length) before anything is deserialized;
//! 2. identity: the caller's [`Principal`] (stdio: the operator's; HTTP: from middleware);
//! 3. permission: every declared scope must be held;
//! 4. rate limit per (tool, principal) and concurrency cap;
//! 5. deserialization and [`SecureInput`] validation, with value-free messages;
//! 6. the body, under a timeout and the request's cancellation, panics contained;
//! 7. result shaping: errors redacted to `internal error (ref ..)` unless built with
//!    [`ToolError::public`], public text scrubbed of secrets, output capped;
//! 8. one audit event per call at target `secure_tool::audit`.
//!
//! Every refusal reaches the model as a tool result with `isError: true`, which it can
//! read and act on, and never echoes the rejected value.
//!
//! ```
//! use rmcp::{handler::server::wrapper::Parameters, tool, tool_router};
//! use secure_tool::{secure_tool, SecureInput, SecureServer, Security, ToolError};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
//! #[serde(deny_unknown_fields)]
//! struct Greet {
//!     /// Who to greet.
//!     #[validate(length(min = 1, max = 64))]
//!     name: String,
//! }
//!
//! struct Greeter {
//!     security: Security,
//! }
//!
//! impl SecureServer for Greeter {
//!     fn security(&self) -> &Security {
//!         &self.security
//!     }
//! }
//!
//! #[tool_router]
//! impl Greeter {
//!     #[secure_tool(scope = "greet", rate = "10/sec", timeout = "1s")]
//!     #[tool(description = "Greet someone")]
//!     async fn greet(&self, Parameters(args): Parameters<Greet>) -> Result<String, ToolError> {
//!         Ok(format!("hello, {}", args.name))
//!     }
//! }
//! # let _ = Greeter::tool_router();
//! ```
#![doc(html_root_url = "https://docs.rs/secure-tool/0.1.0")]
// docs.rs builds with every feature and `--cfg docsrs`: each gated item shows its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod audit;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub mod auth;
mod de;
mod decl;
mod error;
mod field;
mod identity;
mod input;
mod limits;
mod manifest;
mod messages;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod net;
mod pipeline;
mod policy;
mod problem;
mod raw;
pub mod rules;
mod scrub;
mod security;
#[cfg(feature = "redis")]
mod store;
mod support;
pub mod types;

pub use audit::{AUDIT_TARGET, AUDIT_VALUE_CHARS, AuditLog, ERROR_TARGET, Outcome};
pub use error::{ErrorRef, ToolError};
pub use field::{FieldPath, InputField};
pub use identity::Principal;
pub use input::{OptOut, SecureInput};
pub use limits::{Bytes, Limits, Millis, Rate};
pub use manifest::{Manifest, ToolManifest};
pub use pipeline::{Denied, RETRY_AFTER_META_KEY, SCOPES_META_KEY};
pub use policy::Policy;
#[cfg(feature = "policy")]
#[cfg_attr(docsrs, doc(cfg(feature = "policy")))]
pub use policy::{PolicyError, PolicyWatch};
pub use problem::{InputError, Problem};
pub use raw::RawLimits;
pub use scrub::{scrub_public, scrub_secrets};
pub use security::{SecureServer, Security, SecurityBuilder};

/// Wraps an rmcp tool method in the secure pipeline. See the [crate docs](crate).
///
/// Written above `#[tool]`, inside a `#[tool_router]` impl:
///
/// - `scope = "a"`, `scopes = ["a", "b"]` or `public`: exactly one (deny by default);
/// - `rate = "N/sec"` (`/min`, `/hour`), `burst = N`: per (tool, principal);
/// - `timeout = "500ms"` (`2s`, `1m`, `1h`): async tools only;
/// - `concurrency = N`: calls of this tool running at once; more are refused;
/// - `max_output = "64KiB"` (`B`, `KiB`, `MiB`): largest output;
/// - `max_input = "1MiB"`: largest raw arguments (and any one string in them).
///
/// A misplaced or unsafe declaration does not compile; [`rules`] lists every rule with its
/// error and fix.
pub use secure_tool_macros::secure_tool;

/// Derives [`SecureInput`] (and [`InputField`]): audits every field at compile time and
/// validates at run time. On structs and on enums (every variant shape; each variant's
/// data is checked where it sits).
///
/// A `String`, `Vec` or map field needs `#[validate(length(max = N))]`, and a collection
/// of strings or collections `#[secure(each(length(max = N)))]` for its items too; a
/// `serde_json::Value` is refused; every field's type must be one secure-tool checks (a
/// nested struct or enum derives `SecureInput` too); the type needs
/// `#[serde(deny_unknown_fields)]`. Each rule can be waived for one field with a written
/// reason, listed by [`Security::manifest`]: `#[secure(unbounded = "why")]`,
/// `#[secure(untyped = "why")]`, `#[secure(opaque = "why")]`... See [`rules`] for all of
/// them.
pub use secure_tool_macros::SecureInput;

/// Not public API: re-emits its input. Generated code wraps what rmcp's `#[tool]` would
/// otherwise parse token by token, so rmcp's macro sees one opaque group.
#[doc(hidden)]
#[macro_export]
macro_rules! __secure_tool_verbatim {
    ($($tokens:tt)*) => { $($tokens)* };
}

/// Not public API: registers a tool for the manifest when rmcp builds its tool list,
/// with the waivers of its input (found by autoref specialization, so a wrong input type
/// is reported once, by the pipeline, not again here), and hands back its input schema.
#[doc(hidden)]
#[macro_export]
macro_rules! __secure_tool_register {
    ($decl:expr, $input:ty, $schema:expr) => {
        $crate::__private::registered::<Self, _>(
            $decl,
            {
                #[allow(unused_imports)]
                use $crate::__private::{ViaNoInput as _, ViaToolInput as _};
                (&$crate::__private::OptOutsOf::<$input>::NEW).collector()
            },
            $schema,
        )
    };
}

/// Not public API: what generated code names, and nothing else. May change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::__secure_tool_register as register;
    pub use crate::__secure_tool_verbatim as verbatim;
    pub use crate::decl::{Site, ToolDecl, registered};
    pub use crate::field::check_each_length;
    pub use crate::limits::{Bytes, Limits, Millis, Rate};
    // `ReturnsResult`, `ReturnsValue` and `ToolReturn` are named by the compiler's message
    // for an unsupported return type.
    pub use crate::pipeline::{
        AuthFuture, CallScope, NoInput, ReturnsResult, ReturnsValue, ToolFuture, ToolReturn,
        WrapParameters, input_schema, no_input_schema, output_schema, returns_result,
        returns_value, run_async, run_async_authorized, run_sync, run_sync_authorized, tool_meta,
        verdict, verdict_now,
    };
    #[cfg(feature = "command")]
    #[cfg_attr(docsrs, doc(cfg(feature = "command")))]
    pub use crate::types::command::check_command_field;
    #[cfg(feature = "sql")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sql")))]
    pub use crate::types::sql::{check_ident_field, check_sql_field};
    #[cfg(feature = "url")]
    #[cfg_attr(docsrs, doc(cfg(feature = "url")))]
    pub use crate::types::url::check_url_field;

    pub use crate::support::{
        HasValidate, ObjectInput, OptOutsOf, ViaNoInput, ViaToolInput, audit_value,
        collect_own_opt_outs, sensitive_strings, validated_at,
    };
    pub use ::rmcp;
    pub use ::rmcp::model::CallToolResponse;
    pub use ::serde_json;
}

/// Not public API: hooks for this repository's own tests (one secret rule at a time).
#[doc(hidden)]
pub mod __test_support {
    pub use crate::scrub::{rule_ids as scrub_rule_ids, scrub_with_rule};
    /// One tool's in-process limiter, for benchmarks of its check and its memory.
    pub struct Limiter(crate::limits::ToolState);

    impl Limiter {
        /// A limiter for `limits`, with at most `max_keys` callers of its own.
        pub fn new(limits: &crate::Limits, max_keys: usize) -> Self {
            Self(crate::limits::ToolState::new(limits, max_keys))
        }
        /// One call of `principal`: admitted or not.
        pub fn admit(&self, principal: &std::sync::Arc<str>) -> bool {
            self.0.admit(principal).is_ok()
        }
        /// Callers with an entry of their own.
        pub fn keys(&self) -> usize {
            self.0.keys()
        }
        /// Drop every idle entry now.
        pub fn sweep(&self) {
            self.0.sweep();
        }
    }

    /// How many callers have a rate-limit entry of their own in `security`.
    pub fn rate_keys(security: &crate::Security) -> usize {
        security.rate_keys()
    }
    /// Drop every idle caller's rate-limit entry in `security` now.
    pub fn sweep_rate_keys(security: &crate::Security) {
        security.sweep_rate_keys();
    }
}
