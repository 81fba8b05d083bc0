//! The compile-time safety net: one function per rule, each saying which threat it stops.
//! Checks read the parsed model and the user's syn nodes and only report; `expand` runs
//! only when every check passed.

use proc_macro2::Span;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, PathArguments, ReturnType, Type};

use crate::attr::{ContainerArgs, Errors, FieldArgs, ToolArgs};

/// A method as `#[secure_tool]` needs it: attributes, visibility and signature parsed,
/// the body kept as written. The body is never parsed (it can be long, and nothing in it
/// matters to the rules), only moved, verbatim, into the secured method.
pub struct Method {
    pub attrs: Vec<syn::Attribute>,
    pub vis: syn::Visibility,
    pub sig: syn::Signature,
    pub block: proc_macro2::Group,
}

impl Method {
    /// Split the method at its body, which is set aside as one token (a handle to the
    /// compiler's tokens: never walked, so a long body costs nothing), and parse the rest.
    pub fn parse(item: proc_macro2::TokenStream) -> syn::Result<Self> {
        let mut head: Vec<proc_macro2::TokenTree> = item.into_iter().collect();
        let block = match head.pop() {
            Some(proc_macro2::TokenTree::Group(g))
                if g.delimiter() == proc_macro2::Delimiter::Brace =>
            {
                g
            }
            other => {
                let span = other.map_or_else(Span::call_site, |t| t.span());
                return Err(syn::Error::new(
                    span,
                    "`#[secure_tool]` goes on a method with a body",
                ));
            }
        };
        let head: proc_macro2::TokenStream = head.into_iter().collect();
        syn::parse::Parser::parse2(
            |input: ParseStream<'_>| {
                Ok(Self {
                    attrs: input.call(syn::Attribute::parse_outer)?,
                    vis: input.parse()?,
                    sig: input.parse()?,
                    block: block.clone(),
                })
            },
            head,
        )
    }
}

/// A secured tool method, understood.
pub struct ToolFn {
    pub item: Method,
    /// Index in `item.attrs` of the `#[tool]` attribute.
    pub tool_attr: usize,
    /// The `Parameters<T>` argument: its position among typed arguments, its type, `T`.
    pub params: Option<(usize, Type, Type)>,
    /// `Json<U>` in the return type: `U`, for the output schema.
    pub json_output: Option<Type>,
    /// The return type's last segment is `Result`.
    pub returns_result: bool,
}

/// Whether `attr` is rmcp's `#[tool]` (found by its last path segment, as rmcp's
/// `#[tool_router]` finds it).
pub fn is_tool_attr(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "tool")
}

/// Understand the method and check every signature rule.
pub fn tool_fn(item: Method, args: &ToolArgs, errors: &mut Errors) -> Option<ToolFn> {
    access_declared(args, errors);
    let tool_attr = tool_attr_below(&item, errors);
    receiver_is_shared_ref(&item, errors);
    not_const(&item, errors);
    not_unsafe(&item, errors);
    timeout_needs_async(&item, args, errors);
    no_untyped_arguments(&item, errors);
    error_type_is_redacted(&item.sig.output, errors);
    let params = parameters(&item, errors);
    let (returns_result, json_output) = return_shape(&item.sig.output);
    Some(ToolFn {
        tool_attr: tool_attr?,
        item,
        params,
        json_output,
        returns_result,
    })
}

/// rmcp serves only what `#[tool_router]` found on the impl: a secured tool elsewhere
/// compiles and is never served, so its author believes in a tool that does not exist.
pub fn served_by_a_router(placement: crate::placement::Placement, errors: &mut Errors) {
    use crate::placement::Placement;
    let message = match placement {
        Placement::Served => return,
        Placement::ImplWithoutRouter => {
            "this impl has no `#[tool_router]`, so rmcp would never serve this tool: add `#[tool_router]` above the `impl`"
        }
        Placement::Trait => {
            "`#[secure_tool]` goes on a method of a `#[tool_router]` impl, not in a trait"
        }
    };
    errors.at(Span::call_site(), message);
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
fn tool_attr_below(item: &Method, errors: &mut Errors) -> Option<usize> {
    if let Some(index) = item.attrs.iter().position(is_tool_attr) {
        return Some(index);
    }
    let message = if expanded_by_rmcp(&item.sig) {
        "`#[secure_tool]` is below `#[tool]`: move it above, so it wraps the method before rmcp's `#[tool]` does"
    } else {
        "`#[secure_tool]` goes on an rmcp tool method: add `#[tool(...)]` below it (and keep the method in a `#[tool_router]` impl)"
    };
    errors.at(item.sig.fn_token.span, message);
    None
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
        Some(r) if r.reference.is_some() && r.mutability.is_none() => {}
        Some(r) if r.mutability.is_some() => errors.at(
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
    if let Some(u) = &item.sig.unsafety {
        errors.at(
            u.span,
            "a tool cannot be an `unsafe fn`: its caller is the model, which cannot uphold a safety contract; remove `unsafe` and put unsafe operations in `unsafe` blocks",
        );
    }
}

/// A sync body cannot be interrupted, so a timeout on it would be a promise not kept.
fn timeout_needs_async(item: &Method, args: &ToolArgs, errors: &mut Errors) {
    if let (Some(timeout), None) = (&args.timeout, &item.sig.asyncness) {
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

/// The `Parameters<T>` argument, if any (found as rmcp finds it: last segment
/// `Parameters`).
fn parameters(item: &Method, errors: &mut Errors) -> Option<(usize, Type, Type)> {
    let mut found = None;
    let typed = item.sig.inputs.iter().filter_map(|a| match a {
        FnArg::Typed(pt) => Some(pt),
        FnArg::Receiver(_) => None,
    });
    for (index, pt) in typed.enumerate() {
        if last_ident(&pt.ty).as_deref() != Some("Parameters") {
            continue;
        }
        let Some(inner) = first_generic(&pt.ty) else {
            errors.at(
                pt.ty.span(),
                "`Parameters` needs its input type: `Parameters<T>`",
            );
            continue;
        };
        if found.is_some() {
            errors.at(
                pt.ty.span(),
                "a tool takes one `Parameters<T>`: merge the inputs into one struct",
            );
            continue;
        }
        found = Some((index, (*pt.ty).clone(), inner.clone()));
    }
    found
}

/// `(returns Result, Json<U> payload)` of the return type, read as rmcp reads it.
fn return_shape(output: &ReturnType) -> (bool, Option<Type>) {
    let ReturnType::Type(_, ty) = output else {
        return (false, None);
    };
    if let Some(u) = json_inner(ty) {
        return (false, Some(u.clone()));
    }
    if last_ident(ty).as_deref() == Some("Result") {
        let json = first_generic(ty).and_then(json_inner).cloned();
        return (true, json);
    }
    (false, None)
}

fn json_inner(ty: &Type) -> Option<&Type> {
    (last_ident(ty).as_deref() == Some("Json"))
        .then(|| first_generic(ty))
        .flatten()
}

pub fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Group(g) => last_ident(&g.elem),
        Type::Paren(p) => last_ident(&p.elem),
        _ => None,
    }
}

pub fn first_generic(ty: &Type) -> Option<&Type> {
    generics(ty).next()
}

fn generics(ty: &Type) -> impl Iterator<Item = &Type> {
    let args = match ty {
        Type::Path(p) => p.path.segments.last().and_then(|s| match &s.arguments {
            PathArguments::AngleBracketed(a) => Some(&a.args),
            _ => None,
        }),
        _ => None,
    };
    args.into_iter().flatten().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
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
        "String" | "str" | "OsString" | "Vec" | "VecDeque" | "LinkedList" | "BinaryHeap"
        | "HashMap" | "BTreeMap" | "HashSet" | "BTreeSet" | "IndexMap" | "IndexSet" => Kind::Sized,
        "Value" | "JsonValue" | "JsonObject" | "Map" | "RawValue" => Kind::Untyped,
        _ => Kind::Bounded,
    }
}

/// What `#[derive(SecureInput)]` was written on.
pub enum Shape {
    Struct {
        fields: Vec<AuditedField>,
        /// Named fields (not a tuple or unit struct): the shape a tool's input must have.
        named: bool,
    },
    Enum {
        variants: Vec<Variant>,
        /// Where each variant's data sits in the JSON, for problem paths.
        data_at: DataAt,
    },
}

/// Where an enum variant's data sits, as serde's tagging puts it.
pub enum DataAt {
    /// Under the variant's name (external tagging, serde's default).
    VariantName,
    /// Under a fixed key (adjacent tagging's `content`).
    Key(String),
    /// Where the enum is (internal tagging, untagged).
    Here,
}

impl Shape {
    /// Whether serde would meet field names, so unknown ones matter.
    pub fn has_named_fields(&self) -> bool {
        match self {
            Self::Struct { named, .. } => *named,
            Self::Enum { variants, .. } => variants.iter().any(|v| v.style == Style::Named),
        }
    }
}

/// One enum variant, audited.
pub struct Variant {
    pub ident: syn::Ident,
    /// The name serde reads (after `rename` / `rename_all`), for problem paths.
    pub wire: String,
    pub style: Style,
    pub fields: Vec<AuditedField>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Unit,
    Tuple,
    Named,
}

/// A field as the derive sees it.
pub struct AuditedField {
    pub name: String,
    /// The name serde reads (after `rename` / `rename_all`), for problem paths.
    pub wire: String,
    /// The audit reported an error on this field.
    pub refused: bool,
    /// `self.<member>`
    pub member: syn::Member,
    pub ty: Type,
    pub args: FieldArgs,
    /// Scan the field's text for hidden characters at run time (unless waived).
    pub scan_text: bool,
    /// The field's `SafeUrl` / `CommandLine` rules apply.
    pub url: bool,
    pub command: bool,
    pub ident: bool,
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

/// The last identifier inside `Option<..>`, `Vec<..>`, `Box<..>`...
fn innermost(ty: &Type) -> Option<String> {
    match last_ident(ty).as_deref() {
        Some("Option" | "Vec" | "Box" | "VecDeque" | "Arc") => {
            first_generic(ty).and_then(innermost)
        }
        other => other.map(str::to_owned),
    }
}

/// Audit one field; return its parsed `#[secure]` arguments (for the opt-out manifest).
pub fn field(
    name: String,
    member: syn::Member,
    ty: &Type,
    attrs: &[syn::Attribute],
    variant: Option<&syn::Ident>,
    errors: &mut Errors,
) -> AuditedField {
    let args = FieldArgs::parse(attrs, errors);
    if let Some(variant) = variant {
        variant_field_rules(&name, variant, attrs, errors);
    }
    name_needs_type(&name, ty, &args, errors);
    let inner = innermost(ty);
    let url = inner.as_deref() == Some("SafeUrl");
    let command = inner.as_deref() == Some("CommandLine");
    // A command runs a program: which ones must be written down, never implied.
    if command && args.command.is_none() {
        errors.at(
            ty.span(),
            format!("`CommandLine` field `{name}` needs its allowlist: `#[secure(command(programs = [\"git\"], options = [\"--oneline\"]))]`"),
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
            if crate::attr::serde_word(attrs, "flatten") && args.unbounded.is_none() {
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
    // A waiver that waives nothing would make the manifest lie about the risks taken.
    if let Some(reason) = &args.unbounded
        && kind(ty) != Kind::Sized
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
    let scan_text = args.hidden_text.is_none();
    AuditedField {
        wire: name.clone(),
        refused: false,
        name,
        member,
        ty: ty.clone(),
        args,
        scan_text,
        url,
        command,
        ident,
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

/// The collection's own name, looking through `Option`, `Box`...
fn type_text(ty: &Type) -> String {
    match last_ident(ty).as_deref() {
        Some("Option" | "Box" | "Arc" | "Rc" | "Cow") => {
            first_generic(ty).map_or_else(|| "str".to_owned(), type_text)
        }
        Some(name) => name.to_owned(),
        None => "collection".to_owned(),
    }
}

/// Without `deny_unknown_fields`, serde silently drops arguments the schema does not
/// list: a model (or an injection) learns nothing, and a misspelt safety flag is ignored.
pub fn container(
    ident: &syn::Ident,
    attrs: &[syn::Attribute],
    has_fields: bool,
    errors: &mut Errors,
) -> ContainerArgs {
    let args = ContainerArgs::parse(attrs, errors);
    if has_fields
        && !crate::attr::denies_unknown_fields(attrs)
        && args.allow_unknown_fields.is_none()
    {
        errors.at(
            ident.span(),
            format!("`{ident}` accepts unknown fields: add `#[serde(deny_unknown_fields)]`, or `#[secure(allow_unknown_fields = \"why\")]` to accept them"),
        );
    }
    args
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
        let item = super::Method::parse(quote::quote! {
            fn run(&self) -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = u8> + Send + '_>> {
                Box::pin(async move { 1 })
            }
        })
        .unwrap();
        assert!(super::expanded_by_rmcp(&item.sig));
        let item = super::Method::parse(quote::quote! { async fn run(&self) -> u8 { 1 } }).unwrap();
        assert!(!super::expanded_by_rmcp(&item.sig));
    }
}
