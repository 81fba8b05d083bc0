//! Phase 2: the compile-time safety net, one function per rule, each saying which threat
//! it stops. Rules read the parsed model (`ast`) and only report; a tool that passes
//! every rule becomes a [`SecuredTool`], the only thing `expand` accepts.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, PathArguments, ReturnType, Type};

use crate::ast::{self, Audit, Method, ToolAttr, first_generic, generics, last_ident};
use crate::attr::{Errors, FieldArgs, ToolArgs};

/// A tool that passed every rule.
pub struct SecuredTool {
    pub args: ToolArgs,
    pub method: Method,
    pub tool_attr: ToolAttr,
    /// The `Parameters<T>` argument.
    pub params: Option<Params>,
    /// `Json<U>` in the return type: `U`, for the output schema.
    pub json_output: Option<Type>,
    /// The return type's last segment is `Result`.
    pub returns_result: bool,
}

/// The tool's `Parameters<T>` argument.
pub struct Params {
    /// Position among the method's typed arguments.
    pub index: usize,
    /// `Parameters<T>` as written.
    pub ty: Type,
    /// `T`.
    pub input: Type,
}

/// Check every rule of `#[secure_tool]`: the tool, or (with every error recorded) the
/// model as parsed, for the fallback.
#[allow(
    clippy::result_large_err,
    reason = "both sides are the one model, moved once per expansion"
)]
pub fn tool(tool: ast::Tool, errors: &mut Errors) -> Result<SecuredTool, ast::Tool> {
    let args = &tool.args;
    let method = &tool.method;
    access_declared(args, errors);
    hints_agree(args, errors);
    tool_attr_below(&tool, errors);
    receiver_is_shared_ref(method, errors);
    not_const(method, errors);
    not_unsafe(method, errors);
    timeout_needs_async(method, args, errors);
    no_untyped_arguments(method, errors);
    error_type_is_redacted(&method.sig.output, errors);
    let params = one_parameters(&tool, errors);
    if errors.len() > 0 {
        return Err(tool);
    }
    let ast::Tool {
        args,
        method,
        tool_attr,
        json_output,
        returns_result,
        ..
    } = tool;
    let Some(tool_attr) = tool_attr else {
        unreachable!("`tool_attr_below` reported a missing `#[tool]`")
    };
    Ok(SecuredTool {
        args,
        method,
        tool_attr,
        params,
        json_output,
        returns_result,
    })
}

/// A destructive tool must be behind a scope, and a tool cannot be both read-only and
/// destructive.
fn hints_agree(args: &ToolArgs, errors: &mut Errors) {
    let [read_only, destructive, ..] = args.hints;
    if let Some(destructive) = destructive {
        if let Some(public) = args.public {
            errors.at(
                public,
                "a `destructive` tool cannot be `public`: put it behind a scope, e.g. `scope = \"fs.delete\"`, so only callers granted it can destroy anything",
            );
        }
        if read_only.is_some() {
            errors.at(
                destructive,
                "a tool cannot be both `read_only` and `destructive`: keep the one that is true",
            );
        }
    }
}

/// Deny by default: a tool that declares neither scopes nor `public` would be callable by
/// anyone, so it must say which.
fn access_declared(args: &ToolArgs, errors: &mut Errors) {
    let declared: Vec<Span> = [
        args.scope.as_ref().map(|(s, _)| *s),
        args.scopes.as_ref().map(|(s, _)| *s),
        args.public,
    ]
    .into_iter()
    .flatten()
    .collect();
    match declared.as_slice() {
        [] => errors.at(
            Span::call_site(),
            "`#[secure_tool]` needs to say who may call the tool: add `scope = \"...\"`, `scopes = [...]`, or `public` for a tool anyone may call",
        ),
        [_] => {}
        [_, rest @ ..] => {
            for span in rest {
                errors.at(
                    *span,
                    "give exactly one of `scope`, `scopes` or `public`: `scope = \"a\"` for one scope, `scopes = [\"a\", \"b\"]` for several",
                );
            }
        }
    }
}

/// rmcp's `#[tool_router]` finds tools by their `#[tool]` attribute before any method
/// attribute expands, and attributes expand top to bottom: only above `#[tool]` can this
/// attribute rewrite the method before rmcp turns it into a handler.
fn tool_attr_below(tool: &ast::Tool, errors: &mut Errors) {
    if tool.tool_attr.is_some() {
        return;
    }
    let item = &tool.method;
    if expanded_by_rmcp(&item.sig) {
        // The call site of an attribute macro is the attribute itself: the one to move.
        errors.at(
            Span::call_site(),
            "`#[secure_tool]` is below `#[tool]`: move it above, so it wraps the method before rmcp's `#[tool]` does",
        );
    } else {
        errors.at(
            item.sig.fn_token.span,
            "`#[secure_tool]` goes on an rmcp tool method: add `#[tool(...)]` below it (and keep the method in a `#[tool_router]` impl)",
        );
    }
}

/// Whether rmcp's `#[tool]` already rewrote this method (it turns `async fn` into a fn
/// returning `::std::pin::Pin<Box<dyn ::std::future::Future<..>>>`): then `#[secure_tool]`
/// was written below `#[tool]`.
pub fn expanded_by_rmcp(sig: &syn::Signature) -> bool {
    let output = &sig.output;
    let text: String = quote::quote!(#output)
        .to_string()
        .split_whitespace()
        .collect();
    text.contains("::std::future::Future")
}

/// The server is shared between concurrent calls; `&mut self` cannot be served by rmcp
/// and `self` by value would consume it.
fn receiver_is_shared_ref(item: &Method, errors: &mut Errors) {
    match item.sig.receiver() {
        Some(syn::Receiver {
            kind: syn::ReceiverKind::Reference(_, _, None),
            ..
        }) => {}
        Some(
            r @ syn::Receiver {
                kind: syn::ReceiverKind::Reference(_, _, Some(_)),
                ..
            },
        ) => errors.at(
            r.span(),
            "a secured tool takes `&self`, not `&mut self`: keep mutable state behind a `Mutex` or an atomic",
        ),
        Some(r) => errors.at(r.span(), "a secured tool takes `&self`"),
        None => errors.at(
            item.sig.ident.span(),
            "a secured tool is a method: add `&self` as its first argument (the server's `Security` is reached through it)",
        ),
    }
}

fn not_const(item: &Method, errors: &mut Errors) {
    if let Some(c) = &item.sig.constness {
        errors.at(c.span, "a tool cannot be a `const fn`: remove `const`");
    }
}

/// A tool's caller is the model: nobody upholds an `unsafe fn`'s contract for it. Unsafe
/// operations belong in `unsafe` blocks inside the body, each with its own argument.
fn not_unsafe(item: &Method, errors: &mut Errors) {
    if let syn::Safety::Unsafe(u) = &item.sig.safety {
        errors.at(
            u.span,
            "a tool cannot be an `unsafe fn`: its caller is the model, which cannot uphold a safety contract; remove `unsafe` and put unsafe operations in `unsafe` blocks",
        );
    }
}

/// A sync body cannot be interrupted, so a timeout on it would be a promise not kept.
fn timeout_needs_async(item: &Method, args: &ToolArgs, errors: &mut Errors) {
    if let (Some(timeout), None) = (args.limit("timeout"), &item.sig.asyncness) {
        errors.at(
            timeout.key,
            "`timeout` cannot be enforced on a sync tool: make the method `async`, or remove `timeout`",
        );
    }
}

/// Raw JSON arguments would bypass validation entirely.
fn no_untyped_arguments(item: &Method, errors: &mut Errors) {
    for arg in &item.sig.inputs {
        if let FnArg::Typed(pt) = arg
            && let Some(name) = last_ident(&pt.ty)
            && ["JsonObject", "Value", "Map"].contains(&name.as_str())
        {
            errors.at(
                        pt.ty.span(),
                        format!("raw `{name}` arguments bypass validation: take `Parameters<T>` with `#[derive(SecureInput)]` on `T`"),
                    );
        }
    }
}

/// rmcp sends `ErrorData` to the client verbatim; under `#[secure_tool]` it would be
/// redacted like any other error, silently dropping the message its author meant the
/// model to read. Say so, and name the type that does what was meant.
fn error_type_is_redacted(output: &ReturnType, errors: &mut Errors) {
    let ReturnType::Type(_, ty) = output else {
        return;
    };
    if last_ident(ty).as_deref() != Some("Result") {
        return;
    }
    if let Some(error) = generics(ty).nth(1)
        && last_ident(error).as_deref() == Some("ErrorData")
    {
        errors.at(
                error.span(),
                "`ErrorData` is not a secured tool's error type: rmcp sends it verbatim, bypassing redaction; return `secure_tool::ToolError` (`ToolError::public(..)` for a message the model should read)",
            );
    }
}

/// One `Parameters<T>`, with its `T`: rmcp deserializes the arguments into it.
fn one_parameters(tool: &ast::Tool, errors: &mut Errors) -> Option<Params> {
    let mut found = None;
    for parameters in &tool.parameters {
        let Some(input) = &parameters.input else {
            errors.at(
                parameters.ty.span(),
                "`Parameters` needs its input type: `Parameters<T>`",
            );
            continue;
        };
        if found.is_some() {
            errors.at(
                parameters.ty.span(),
                "a tool takes one `Parameters<T>`: merge the inputs into one struct",
            );
            continue;
        }
        found = Some(Params {
            index: parameters.index,
            ty: parameters.ty.clone(),
            input: input.clone(),
        });
    }
    found
}

// ---------------------------------------------------------------------------------------
// #[derive(SecureInput)]

/// What a field's type holds, for the audit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Bounded by its type (numbers, bools, enums, other structs).
    Bounded,
    /// A string or collection: bounded only by an annotation.
    Sized,
    /// Untyped JSON: no schema, no validation.
    Untyped,
}

/// The collections a field may be, by their type's name: each counts its items.
const COLLECTIONS: &[&str] = &[
    "Vec",
    "VecDeque",
    "LinkedList",
    "BinaryHeap",
    "HashMap",
    "BTreeMap",
    "HashSet",
    "BTreeSet",
    "IndexMap",
    "IndexSet",
];

/// The types that hold one value of their parameter, looked through.
const WRAPPERS: &[&str] = &["Option", "Box", "Arc", "Rc"];

fn kind(ty: &Type) -> Kind {
    let Some(name) = last_ident(ty) else {
        return match ty {
            Type::Slice(_) | Type::Reference(_) => Kind::Sized,
            _ => Kind::Bounded,
        };
    };
    match name.as_str() {
        "Option" | "Box" | "Arc" | "Rc" | "Cow" => match first_generic(ty) {
            Some(inner) => kind(inner),
            // `Cow<'a, str>`: str after a lifetime; `Box<str>`.
            None => Kind::Sized,
        },
        "String" | "str" | "OsString" => Kind::Sized,
        name if COLLECTIONS.contains(&name) => Kind::Sized,
        "Value" | "JsonValue" | "JsonObject" | "Map" | "RawValue" => Kind::Untyped,
        _ => Kind::Bounded,
    }
}

/// Check every rule of `#[derive(SecureInput)]`, recording on each field what its audit
/// found. A field serde never reads (`#[serde(skip)]`) holds nothing the model wrote:
/// no rule applies to it.
pub fn input(input: &mut ast::Input<'_>, errors: &mut Errors) {
    match &mut input.shape {
        ast::Shape::Struct { fields, .. } => {
            for f in fields.iter_mut().filter(|f| !f.skipped) {
                f.audit = field(f, errors);
            }
        }
        ast::Shape::Enum(variants) => {
            let fields = variants.iter_mut().flat_map(|v| &mut v.fields);
            for f in fields.filter(|f| !f.skipped) {
                f.audit = field(f, errors);
            }
        }
        ast::Shape::Union(span) => errors.at(
            *span,
            "`SecureInput` cannot be derived for a union: use a struct or an enum",
        ),
    }
    container(input, errors);
}

/// Whether the type holds text the model wrote: a string somewhere in it. Walks the
/// syntax tree (printing the type to search it would cost a token round trip per field).
fn holds_text(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.iter().any(|segment| {
            ["String", "str", "Cow", "OsString"].contains(&segment.ident.to_string().as_str())
                || match &segment.arguments {
                    PathArguments::AngleBracketed(args) => args.args.iter().any(
                        |arg| matches!(arg, GenericArgument::Type(inner) if holds_text(inner)),
                    ),
                    _ => false,
                }
        }),
        Type::Reference(r) => holds_text(&r.elem),
        Type::Slice(s) => holds_text(&s.elem),
        Type::Array(a) => holds_text(&a.elem),
        Type::Paren(p) => holds_text(&p.elem),
        Type::Group(g) => holds_text(&g.elem),
        Type::Tuple(t) => t.elems.iter().any(holds_text),
        _ => false,
    }
}

/// The threat-typed inputs, the field names that call for each, and the cargo feature of
/// `secure-tool` that provides it (all on by default).
const NAMED_RULES: &[(&str, &[&str], &str, &str)] = &[
    (
        "SafePath",
        &[
            "path",
            "paths",
            "file",
            "files",
            "filename",
            "filepath",
            "dir",
            "dirs",
            "directory",
            "folder",
            "dirname",
        ],
        "a path-like field",
        "path",
    ),
    (
        "SafeUrl",
        &[
            "url", "urls", "uri", "uris", "endpoint", "href", "link", "webhook", "callback",
        ],
        "a URL-like field",
        "url",
    ),
    (
        "ReadOnlySql",
        &["sql", "query", "statement", "stmt"],
        "an SQL-like field",
        "sql",
    ),
    (
        "CommandLine",
        &[
            "cmd", "command", "commands", "shell", "exec", "program", "args", "argv", "script",
        ],
        "a command-like field",
        "command",
    ),
];

/// A field named like a path, URL, query or command but typed as plain text is the
/// classic injection: the type that checks it exists, so the plain one is refused.
fn name_needs_type(name: &str, ty: &Type, args: &FieldArgs, errors: &mut Errors) {
    let plain_text = holds_text(ty)
        || matches!(
            innermost(ty).as_deref(),
            Some("PathBuf" | "Path" | "OsString" | "OsStr")
        );
    if !plain_text || args.plain.is_some() {
        return;
    }
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower.split('_').collect();
    for (wanted, names, what, feature) in NAMED_RULES {
        if words.iter().any(|w| names.contains(w)) {
            errors.at(
                ty.span(),
                format!("`{name}` is {what} typed as plain text: use `secure_tool::types::{wanted}` (feature `{feature}`), or `#[secure(plain = \"why\")]` if it is not one"),
            );
            return;
        }
    }
    // A filesystem path type is a path whatever the field is called.
    if let Some(inner @ ("PathBuf" | "Path" | "OsString" | "OsStr")) = innermost(ty).as_deref() {
        errors.at(
            ty.span(),
            format!("`{inner}` field `{name}`: a path the model wrote must be a `secure_tool::types::SafePath`, opened through a `Sandbox` (feature `path`)"),
        );
    }
}

/// A number or `bool`, written plainly: bounded by its type, nothing to check after
/// deserialization, so the derive emits no call for it (less code for the compiler).
pub fn is_plain_scalar(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.get_ident().is_some_and(|i| {
        matches!(
            i.to_string().as_str(),
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64"
                | "i128" | "isize" | "f32" | "f64" | "bool"
        )
    }))
}

/// A type that can hold no waiver of its own: a plain scalar, `String` or `char`, or an
/// `Option`/`Vec`/`Box` of one. Its `collect_opt_outs` is a no-op, so the derive leaves
/// out the call (and, when every field is such, the whole method).
pub fn holds_no_waivers(ty: &Type) -> bool {
    if is_plain_scalar(ty) {
        return true;
    }
    match last_ident(ty).as_deref() {
        Some("String" | "char") => first_generic(ty).is_none(),
        Some("Option" | "Vec" | "Box") => first_generic(ty).is_some_and(holds_no_waivers),
        _ => false,
    }
}

/// A type that cannot hold another input: [`holds_no_waivers`], or a threat type (in
/// any container). Nothing nested in it can be `sensitive`.
pub fn is_leaf(ty: &Type) -> bool {
    holds_no_waivers(ty)
        || matches!(
            innermost(ty).as_deref(),
            Some("SafePath" | "SafeUrl" | "ReadOnlySql" | "CommandLine" | "SqlIdent")
        )
}

/// The last identifier inside `Option<..>`, `Vec<..>`, `Box<..>`...
fn innermost(ty: &Type) -> Option<String> {
    match last_ident(ty).as_deref() {
        Some("Option" | "Vec" | "Box" | "VecDeque" | "Arc") => {
            first_generic(ty).and_then(innermost)
        }
        other => other.map(str::to_owned),
    }
}

/// Audit one field.
fn field(f: &ast::Field, errors: &mut Errors) -> Audit {
    let before = errors.len();
    let (name, ty, args, attrs) = (&f.name, &f.ty, &f.args, &f.attrs[..]);
    let variant = f.variant.as_ref();
    if let Some(variant) = variant {
        variant_field_rules(name, variant, attrs, errors);
    }
    name_needs_type(name, ty, args, errors);
    trail_rules(name, variant, args, errors);
    let inner = innermost(ty);
    let url = inner.as_deref() == Some("SafeUrl");
    let command = inner.as_deref() == Some("CommandLine");
    // A command runs a program: which ones must be written down, never implied.
    if command && args.command.is_none() {
        errors.at(
            ty.span(),
            format!("`CommandLine` field `{name}` needs its allowlist: `#[secure(command(programs = [\"git\"], options = [\"log\", \"--oneline\"]))]`"),
        );
    }
    if let Some((span, ..)) = &args.command
        && !command
    {
        errors.at(*span, "`command(..)` applies to a `CommandLine` field");
    }
    if let Some((span, lists)) = &args.command
        && command
        && lists[0].is_empty()
    {
        errors.at(
            *span,
            "`command(..)` needs `programs = [..]`: the programs this field may run",
        );
    }
    let ident = inner.as_deref() == Some("SqlIdent");
    if let Some((span, ..)) = &args.ident
        && !ident
    {
        errors.at(*span, "`ident(..)` applies to a `SqlIdent` field");
    }
    if let Some((span, ..)) = &args.url
        && !url
    {
        errors.at(*span, "`url(..)` applies to a `SafeUrl` field");
    }
    let sql = inner.as_deref() == Some("ReadOnlySql");
    if let Some((span, lists)) = &args.sql {
        if !sql {
            errors.at(*span, "`sql(..)` applies to a `ReadOnlySql` field");
        } else if lists[0].is_empty() {
            errors.at(
                *span,
                "`sql(..)` needs `allow_functions = [..]`: the side-effect-free functions of your own this field may call",
            );
        }
    }
    let text = holds_text(ty);
    if let Some(reason) = &args.hidden_text
        && !text
    {
        errors.at(
            reason.span(),
            format!("`hidden_text` on field `{name}`, which holds no text: remove it"),
        );
    }
    match kind(ty) {
        // A model can send a megabyte string or a million-item array in a loop; every
        // such field needs a declared bound the schema shows and validation enforces.
        Kind::Sized => {
            if f.flatten && args.unbounded.is_none() {
                errors.at(
                    ty.span(),
                    format!("`#[serde(flatten)]` field `{name}` gathers every unknown argument into an unbounded collection: flatten a struct instead, or add `#[secure(unbounded = \"why\")]`"),
                );
            } else if let (Some(variant), None) = (variant, &args.unbounded) {
                errors.at(
                    ty.span(),
                    format!("unbounded `{}` field `{name}` in variant `{variant}`: validator cannot bound an enum variant's fields, so hold a struct that derives `SecureInput` with `#[validate(length(max = N))]` on it (`{variant}({variant}Args)`), or add `#[secure(unbounded = \"why\")]`", type_text(ty)),
                );
            } else if !crate::attr::has_length_bound(attrs) && args.unbounded.is_none() {
                errors.at(
                    ty.span(),
                    format!("unbounded `{}` field `{name}`: add `#[validate(length(max = N))]`, or `#[secure(unbounded = \"why\")]` to accept the risk", type_text(ty)),
                );
            }
        }
        // Untyped JSON has no schema for the model and no validation for the server.
        Kind::Untyped => {
            if args.untyped.is_none() {
                errors.at(
                    ty.span(),
                    format!("untyped JSON field `{name}`: declare a struct with `#[derive(SecureInput)]` for it, or add `#[secure(untyped = \"why\")]` to accept the risk"),
                );
            }
        }
        Kind::Bounded => {}
    }
    // Untyped JSON inside a collection (`Vec<Value>`) is as schema-less as a bare one.
    if kind(ty) != Kind::Untyped && holds_untyped(ty) && args.untyped.is_none() {
        errors.at(
            ty.span(),
            format!("field `{name}` holds untyped JSON: declare a struct with `#[derive(SecureInput)]` for its items, or add `#[secure(untyped = \"why\")]` to accept the risk"),
        );
    }
    // `length(max)` counts a collection's items (a fixed-size array has its count in its
    // type); each item (a string, an inner list, a map's keys and values, untyped JSON) is
    // still as long as the model likes.
    if items_unbounded(ty)
        && args.each.is_none()
        && !args.each_malformed
        && args.unbounded.is_none()
        && errors.len() == before
    {
        errors.at(
            ty.span(),
            format!("the items of `{}` field `{name}` are unbounded: `length(max = N)` counts items, not their length; add `#[secure(each(length(max = N)))]` to bound each one, or `#[secure(unbounded = \"why\")]` to accept the risk", type_text(ty)),
        );
    }
    if let Some((span, _)) = &args.each
        && !items_unbounded(ty)
    {
        errors.at(
            *span,
            format!("`each` on field `{name}`, whose items are bounded by their type (or which is no collection): remove it"),
        );
    }
    // A waiver that waives nothing would make the manifest lie about the risks taken.
    if let Some(reason) = &args.unbounded
        && kind(ty) != Kind::Sized
        && !items_unbounded(ty)
    {
        errors.at(
            reason.span(),
            format!(
                "`unbounded` on field `{name}`, which is not a string or collection: remove it"
            ),
        );
    }
    if let Some(reason) = &args.untyped
        && kind(ty) != Kind::Untyped
        && !holds_untyped(ty)
    {
        errors.at(
            reason.span(),
            format!("`untyped` on field `{name}`, which is not untyped JSON: remove it"),
        );
    }
    if let Some(reason) = &args.opaque
        && text
    {
        errors.at(
            reason.span(),
            format!("`opaque` on field `{name}`, which holds text secure-tool checks: remove it (`hidden_text = \"why\"` waives the hidden-character scan)"),
        );
    }
    Audit {
        refused: errors.len() > before,
        scan_text: args.hidden_text.is_none(),
        url,
        command,
        ident,
    }
}

/// `#[secure(audit)]` and `#[secure(sensitive)]`: what the audit trail may keep.
fn trail_rules(name: &str, variant: Option<&syn::Ident>, args: &FieldArgs, errors: &mut Errors) {
    if let (Some(_), Some(sensitive)) = (args.audit, args.sensitive) {
        errors.at(
            sensitive,
            format!("field `{name}` is both `audit` and `sensitive`: a sensitive value is never written anywhere, the audit trail included; keep one of the two"),
        );
    }
    if let Some(variant) = variant {
        for span in args.audit.iter().chain(&args.sensitive) {
            errors.at(
                *span,
                format!("`audit` and `sensitive` apply to the fields of a struct: move field `{name}` of variant `{variant}` into a struct that derives `SecureInput` and hold it in the variant"),
            );
        }
    }
}

/// validator derives `Validate` for structs only: a `#[validate]` rule on an enum
/// variant's field would never run, so it is refused rather than silently ignored.
fn variant_field_rules(
    name: &str,
    variant: &syn::Ident,
    attrs: &[syn::Attribute],
    errors: &mut Errors,
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("validate")) {
        errors.at(
            attr.path().span(),
            format!("`#[validate]` on field `{name}` of variant `{variant}` would never run (validator checks structs only): move the fields into a struct that derives `SecureInput` and hold it in the variant, `{variant}({variant}Args)`"),
        );
    }
}

/// Whether `ty` is a collection (looking through `Option`, `Box`...) whose items, keys
/// or values are themselves strings, collections or untyped JSON, at any depth:
/// `Vec<String>`, `Vec<Vec<u8>>`, `HashMap<String, u32>`, `Vec<Value>`, `[String; 4]`,
/// `Vec<[String; 2]>`.
fn items_unbounded(ty: &Type) -> bool {
    let Some(name) = last_ident(ty) else {
        return match ty {
            Type::Slice(slice) => holds_unbounded(&slice.elem),
            Type::Array(array) => holds_unbounded(&array.elem),
            Type::Reference(reference) => items_unbounded(&reference.elem),
            Type::Group(group) => items_unbounded(&group.elem),
            Type::Paren(paren) => items_unbounded(&paren.elem),
            _ => false,
        };
    };
    match name.as_str() {
        name if WRAPPERS.contains(&name) => first_generic(ty).is_some_and(items_unbounded),
        name if COLLECTIONS.contains(&name) => generics(ty).any(holds_unbounded),
        _ => false,
    }
}

/// Whether a value of `ty` can be as long as the model likes: a string or collection,
/// untyped JSON, or a fixed-size array of either.
fn holds_unbounded(ty: &Type) -> bool {
    match ty {
        Type::Array(array) => holds_unbounded(&array.elem),
        Type::Group(group) => holds_unbounded(&group.elem),
        Type::Paren(paren) => holds_unbounded(&paren.elem),
        _ => kind(ty) != Kind::Bounded,
    }
}

/// Whether untyped JSON (`Value`, `Map`...) is in `ty`, at any depth of its collections.
fn holds_untyped(ty: &Type) -> bool {
    if kind(ty) == Kind::Untyped {
        return true;
    }
    match ty {
        Type::Array(array) => holds_untyped(&array.elem),
        Type::Slice(slice) => holds_untyped(&slice.elem),
        Type::Group(group) => holds_untyped(&group.elem),
        Type::Paren(paren) => holds_untyped(&paren.elem),
        _ => {
            last_ident(ty).is_some_and(|name| {
                WRAPPERS.contains(&name.as_str()) || COLLECTIONS.contains(&name.as_str())
            }) && generics(ty).any(holds_untyped)
        }
    }
}

/// The collection's own name, looking through `Option`, `Box`...
fn type_text(ty: &Type) -> String {
    match last_ident(ty).as_deref() {
        Some("Option" | "Box" | "Arc" | "Rc" | "Cow") => {
            first_generic(ty).map_or_else(|| "str".to_owned(), type_text)
        }
        Some(name) => name.to_owned(),
        None if matches!(ty, Type::Array(_)) => "array".to_owned(),
        None => "collection".to_owned(),
    }
}

/// Without `deny_unknown_fields`, serde silently drops arguments the schema does not
/// list: a model (or an injection) learns nothing, and a misspelt safety flag is ignored.
fn container(input: &ast::Input<'_>, errors: &mut Errors) {
    let ident = &input.item.ident;
    if input.shape.has_named_fields()
        && !input.denies_unknown_fields
        && input.args.allow_unknown_fields.is_none()
    {
        errors.at(
            ident.span(),
            format!("`{ident}` accepts unknown fields: add `#[serde(deny_unknown_fields)]`, or `#[secure(allow_unknown_fields = \"why\")]` to accept them"),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_text_anywhere_in_a_type() {
        let text = |ty: syn::Type| super::holds_text(&ty);
        assert!(text(syn::parse_quote!(String)));
        assert!(text(syn::parse_quote!(Option<Vec<std::string::String>>)));
        assert!(text(syn::parse_quote!(HashMap<Box<str>, u32>)));
        assert!(text(syn::parse_quote!(Cow<'static, str>)));
        assert!(text(syn::parse_quote!([(u8, String); 2])));
        assert!(!text(syn::parse_quote!(Vec<u32>)));
        assert!(!text(syn::parse_quote!(Option<Stringly>)));
    }

    #[test]
    fn recognises_a_method_rmcp_already_expanded() {
        let item = crate::ast::Method::parse(quote::quote! {
            fn run(&self) -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = u8> + Send + '_>> {
                Box::pin(async move { 1 })
            }
        })
        .unwrap();
        assert!(super::expanded_by_rmcp(&item.sig));
        let item =
            crate::ast::Method::parse(quote::quote! { async fn run(&self) -> u8 { 1 } }).unwrap();
        assert!(!super::expanded_by_rmcp(&item.sig));
    }
}
