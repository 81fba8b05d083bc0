//! The compile-time rules: what each refuses, the threat it stops, and the fix.
//!
//! If a secured tool compiles, it cannot take unchecked input, leak an internal error or
//! run without declared permissions. Each rule below is a `tests/ui/fail/*.rs` case with
//! the exact error users see.
//!
//! # `#[secure_tool(...)]`
//!
//! | rule | threat | error (abridged) | fix |
//! |---|---|---|---|
//! | access declared | a tool anyone may call by accident | `` `#[secure_tool]` needs to say who may call the tool `` | `scope = ".."`, `scopes = [..]` or `public` |
//! | one access form | ambiguous permissions | `give exactly one of scope, scopes or public` | keep one |
//! | above `#[tool]` | rmcp would register the unwrapped method | `` `#[secure_tool]` is below `#[tool]`: move it above `` | swap the attributes |
//! | on a tool | a guard that guards nothing | `` `#[secure_tool]` goes on an rmcp tool method `` | add `#[tool]` below it |
//! | `&self` | `&mut self` cannot be served concurrently | `a secured tool takes &self, not &mut self` | interior mutability |
//! | not `const fn` | | `a tool cannot be a const fn` | remove `const` |
//! | not `unsafe fn` | a safety contract nobody upholds: the caller is the model | `a tool cannot be an unsafe fn` | remove `unsafe`; use `unsafe` blocks in the body |
//! | input is `SecureInput` | unchecked arguments | `` `T` is not a secured tool input `` (on the type) | `#[derive(SecureInput)]` |
//! | input is an object | rmcp cannot list a tool whose `inputSchema` is not an object | `` `T` is not a struct with named fields that derives SecureInput `` | hold the enum in a field: `struct Args { action: Action }` |
//! | no raw JSON arguments | validation bypassed | ``raw `JsonObject` arguments bypass validation`` | `Parameters<T>` |
//! | no `ErrorData` error type | rmcp sends it verbatim, unredacted | `` `ErrorData` is not a secured tool's error type `` | `ToolError` / `ToolError::public` |
//! | supported return type | output that skips shaping | rmcp's own, on the return type: ``the trait bound `Vec<u8>: IntoContents` is not satisfied`` | `Result<T, ToolError>`, `T`, `Json<T>`, `CallToolResult` |
//! | timeout only on async | a promise sync code cannot keep | `` `timeout` cannot be enforced on a sync tool `` | make it `async` |
//! | known keys, once each | a typo that silently drops a limit | ``unknown `#[secure_tool]` argument `timout`: did you mean `timeout`?`` | fix the key |
//! | valid, non-zero values | a limit that refuses everything or parses to nothing | ``invalid `rate`: unknown unit `week` `` | `N/sec`, `N/min`, `N/hour`; `500ms`; `64KiB` |
//! | server has `Security` | no place for limits and identity | `` `S` has #[secure_tool] methods but does not implement SecureServer `` | `impl SecureServer` |
//!
//! # `#[derive(SecureInput)]`
//!
//! | rule | threat | error (abridged) | fix or waiver |
//! |---|---|---|---|
//! | bounded strings and collections | megabyte strings and million-item arrays in a retry loop | ``unbounded `String` field `name` `` | `#[validate(length(max = N))]` / `#[secure(unbounded = "why")]` |
//! | bounded items | a `Vec<String>` of 5 items, each a megabyte (`length(max)` counts items) | ``the items of `Vec` field `tags` are unbounded`` | `#[secure(each(length(max = N)))]` (each string, key, value and inner collection, in characters; shown in the schema) / `#[secure(unbounded = "why")]` |
//! | no untyped JSON in collections | `Vec<Value>`: no schema, no validation | ``field `payloads` holds untyped JSON`` | a `SecureInput` struct for the items / `#[secure(untyped = "why")]` |
//! | typed JSON | no schema for the model, no validation for the server | ``untyped JSON field `payload` `` | a typed struct / `#[secure(untyped = "why")]` |
//! | unknown fields refused | a misspelt safety flag silently ignored | `` `Input` accepts unknown fields `` | `#[serde(deny_unknown_fields)]` / `#[secure(allow_unknown_fields = "why")]` |
//! | no flattened maps | every unknown argument gathered unbounded | ``#[serde(flatten)] field `rest` gathers every unknown argument`` | flatten a struct |
//! | every field is checked | a nested value nobody validates or scans | `` `Address` is not a checked input type `` (on the field type) | `#[derive(SecureInput)]` on it (structs and enums) / `#[secure(opaque = "why")]` for another crate's self-checking type |
//! | enum variants bounded | validator derives on structs only, so a `#[validate]` in a variant would never run | `` `#[validate]` on field `seconds` of variant `Wait` would never run `` / ``unbounded `String` field `to` in variant `Rename` `` | `Wait(WaitArgs)` with a `SecureInput` struct |
//! | paths are `SafePath` | traversal (`../../etc/passwd`) | `` `file_path` is a path-like field typed as plain text `` / ``PathBuf` field `target` `` | [`types::SafePath`](crate::types::SafePath) / `#[secure(plain = "why")]` |
//! | URLs are `SafeUrl` | SSRF to metadata and internal services | `` `webhook_url` is a URL-like field typed as plain text `` | [`types::SafeUrl`](crate::types::SafeUrl) |
//! | SQL is `ReadOnlySql` | injection and writes | `` `sql` is an SQL-like field typed as plain text `` | [`types::ReadOnlySql`](crate::types::ReadOnlySql) |
//! | commands are `CommandLine` | shell injection, option injection | `` `args` is a command-like field typed as plain text `` | [`types::CommandLine`](crate::types::CommandLine) |
//! | a command has its allowlist | any program, any option | ``CommandLine field `cmd` needs its allowlist`` | `#[secure(command(programs = [..], options = [..]))]` |
//! | waivers have reasons | risks accepted without a record | `` `unbounded` needs a written reason `` | `key = "why this is safe"` |
//! | waivers waive something | a manifest that lies | `` `unbounded` on field `count`, which is not a string or collection `` | remove it |
//! | rules on the right type | an annotation that does nothing | `` `url(..)` applies to a SafeUrl field `` | move it |
//! | `validator::Validate` derived | `#[validate]` rules never run | `` `Input` derives SecureInput but not validator::Validate `` | add it to the derive list |
//!
//! One placement is not a compile-time rule, because an attribute sees only its own method:
//! a secured tool in an impl without `#[tool_router]` compiles and is never served. It
//! then never registers, so it is missing from [`Security::manifest`](crate::Security::manifest):
//! review the manifest, or compare it with a committed copy in a test. In a trait, rmcp's
//! `#[tool]` cannot expand and the compiler refuses the method.
//!
//! Every problem of one item is reported in one build, once: a field the audit refused
//! gets no further type errors.
//!
//! # Enums
//!
//! `#[derive(SecureInput)]` on an enum audits every variant's fields like a struct's and
//! checks each variant's data where it sits: a problem in `{"action": {"rename": {"to":
//! ""}}}` is reported at `action.rename.to` (serde's `rename`/`rename_all` are followed;
//! an adjacently tagged enum's data is under its `content` key; internally tagged and
//! untagged enums have no variant segment). An enum is a field type,
//! never a tool's whole input (MCP requires the arguments to be an object).
//!
//! # Waivers and the manifest
//!
//! Each waiver (`unbounded`, `untyped`, `hidden_text`, `plain`, `opaque` on a field;
//! `allow_unknown_fields` on a type) needs a written reason. `SecureInput::opt_outs()`
//! lists a type's own; [`Security::manifest`](crate::Security::manifest) lists every
//! secured tool with the waivers of every input it takes, nested ones included.
