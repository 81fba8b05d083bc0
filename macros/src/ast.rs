//! Phase 1: the syntax each macro is given, parsed once into a model. Nothing here
//! applies a rule: `valid` does, on this model.
//!
//! - `#[secure_tool]`: the method's head (attributes, visibility, signature) is parsed and
//!   its body set aside as one token, never walked; the `#[tool(..)]` below is parsed into
//!   its items, so `expand` rebuilds it without parsing anything again.
//! - `#[derive(SecureInput)]`: the type, with each field's and variant's name read by
//!   `serde_derive_internals`, the crate serde's own derive reads attributes with, so the
//!   names in error paths are the ones serde accepts (every `rename`, `rename_all`,
//!   `rename_all_fields`, tag style and `flatten`), and cannot drift from serde.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{FnArg, Meta, Token, Type};

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
    pub fn parse(item: TokenStream) -> syn::Result<Self> {
        let mut head: Vec<TokenTree> = item.into_iter().collect();
        let block = match head.pop() {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g,
            other => {
                let span = other.map_or_else(Span::call_site, |t| t.span());
                return Err(syn::Error::new(
                    span,
                    "`#[secure_tool]` goes on a method with a body",
                ));
            }
        };
        let head: TokenStream = head.into_iter().collect();
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

/// `#[secure_tool(..)]` and the method it is on.
pub struct Tool {
    pub args: ToolArgs,
    pub method: Method,
    /// rmcp's `#[tool(..)]` below this attribute, if there is one.
    pub tool_attr: Option<ToolAttr>,
    /// Every argument typed `..::Parameters<..>` (found as rmcp finds it: last segment
    /// `Parameters`), by position among the typed arguments.
    pub parameters: Vec<Parameters>,
    /// `Json<U>` in the return type: `U`, for the output schema.
    pub json_output: Option<Type>,
    /// The return type's last segment is `Result`.
    pub returns_result: bool,
}

/// A `Parameters<T>` argument.
pub struct Parameters {
    /// Position among the method's typed arguments.
    pub index: usize,
    /// `Parameters<T>` as written.
    pub ty: Type,
    /// `T`, when written.
    pub input: Option<Type>,
}

/// rmcp's `#[tool(..)]`, parsed once.
pub struct ToolAttr {
    /// Position in `Method::attrs`.
    pub index: usize,
    /// The name rmcp lists the tool under: `name = ".."`, else the method's name.
    pub name: String,
    /// Its items but `input_schema`, to re-emit as written; `None` when the arguments are
    /// not metas (rmcp reports its own error on them, so the attribute is kept as is).
    pub kept: Option<Vec<Meta>>,
    /// `input_schema = ..`, when given.
    pub input_schema: Option<syn::Expr>,
    /// `output_schema` is given.
    pub has_output_schema: bool,
    /// `annotations(..)` is given: the author's hints stand.
    pub has_annotations: bool,
    /// `meta = ..`, when given (the required scopes are added to it).
    pub meta: Option<syn::Expr>,
}

impl Tool {
    /// Parse the attribute's arguments and the method. `Err` only when the method does
    /// not parse at all; everything else is collected in `errors`.
    pub fn parse(args: TokenStream, item: TokenStream, errors: &mut Errors) -> syn::Result<Self> {
        let method = Method::parse(item)?;
        let args = ToolArgs::parse(args, errors);
        let tool_attr = method
            .attrs
            .iter()
            .position(is_tool_attr)
            .map(|index| ToolAttr::parse(index, &method.attrs[index], &method.sig.ident));
        let parameters = method
            .sig
            .inputs
            .iter()
            .filter_map(|a| match a {
                FnArg::Typed(pt) => Some(pt),
                FnArg::Receiver(_) => None,
            })
            .enumerate()
            .filter(|(_, pt)| last_ident(&pt.ty).as_deref() == Some("Parameters"))
            .map(|(index, pt)| Parameters {
                index,
                ty: (*pt.ty).clone(),
                input: first_generic(&pt.ty).cloned(),
            })
            .collect();
        let (returns_result, json_output) = return_shape(&method.sig.output);
        Ok(Self {
            args,
            method,
            tool_attr,
            parameters,
            json_output,
            returns_result,
        })
    }
}

impl ToolAttr {
    fn parse(index: usize, attr: &syn::Attribute, ident: &syn::Ident) -> Self {
        let items = match &attr.meta {
            Meta::List(list) => {
                list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            }
            _ => Ok(Punctuated::new()),
        };
        let Ok(items) = items else {
            return Self {
                index,
                name: ident.to_string(),
                kept: None,
                input_schema: None,
                has_output_schema: false,
                has_annotations: false,
                meta: None,
            };
        };
        let mut name = None;
        let mut kept = Vec::new();
        let mut input_schema = None;
        let mut has_output_schema = false;
        let mut has_annotations = false;
        let mut meta = None;
        for item in items {
            match &item {
                Meta::NameValue(nv) if nv.path.is_ident("input_schema") => {
                    input_schema = Some(nv.value.clone());
                    continue;
                }
                Meta::NameValue(nv) if nv.path.is_ident("meta") => {
                    meta = Some(nv.value.clone());
                    continue;
                }
                _ if item.path().is_ident("annotations") => has_annotations = true,
                // A string literal, as rmcp requires.
                Meta::NameValue(nv) if nv.path.is_ident("name") => {
                    if let syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(lit),
                        ..
                    }) = &nv.value
                    {
                        name = Some(lit.value());
                    }
                }
                _ if item.path().is_ident("output_schema") => has_output_schema = true,
                _ => {}
            }
            kept.push(item);
        }
        Self {
            index,
            name: name.unwrap_or_else(|| ident.to_string()),
            kept: Some(kept),
            input_schema,
            has_output_schema,
            has_annotations,
            meta,
        }
    }
}

/// Whether `attr` is rmcp's `#[tool]` (found by its last path segment, as rmcp's
/// `#[tool_router]` finds it).
pub fn is_tool_attr(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "tool")
}

/// `(returns Result, Json<U> payload)` of the return type, read as rmcp reads it.
fn return_shape(output: &syn::ReturnType) -> (bool, Option<Type>) {
    let syn::ReturnType::Type(_, ty) = output else {
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

/// The last segment's identifier of a path type, looking through groups and parentheses.
pub fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Group(g) => last_ident(&g.elem),
        Type::Paren(p) => last_ident(&p.elem),
        _ => None,
    }
}

/// The first type argument of a path type's last segment.
pub fn first_generic(ty: &Type) -> Option<&Type> {
    generics(ty).next()
}

/// The type arguments of a path type's last segment.
pub fn generics(mut ty: &Type) -> impl Iterator<Item = &Type> {
    while let Type::Group(g) = ty {
        ty = &g.elem;
    }
    let args = match ty {
        Type::Path(p) => p.path.segments.last().and_then(|s| match &s.arguments {
            syn::PathArguments::AngleBracketed(a) => Some(&a.args),
            _ => None,
        }),
        _ => None,
    };
    args.into_iter().flatten().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------
// #[derive(SecureInput)]

/// What the audit (`valid`) found of one field, for `expand`.
#[derive(Default)]
pub struct Audit {
    /// The audit reported an error on this field: it gets no type checks (one error per
    /// mistake).
    pub refused: bool,
    /// Scan the field's text for hidden characters at run time (unless waived).
    pub scan_text: bool,
    /// The field's `SafeUrl` / `CommandLine` / `SqlIdent` rules apply.
    pub url: bool,
    pub command: bool,
    pub ident: bool,
}

/// A type `#[derive(SecureInput)]` was written on.
pub struct Input<'a> {
    pub item: &'a syn::DeriveInput,
    pub args: ContainerArgs,
    /// `#[serde(deny_unknown_fields)]`, as serde reads it.
    pub denies_unknown_fields: bool,
    pub shape: Shape,
}

/// What the derive was written on.
pub enum Shape {
    Struct {
        fields: Vec<Field>,
        /// Named fields (not a tuple or unit struct): the shape a tool's input must have.
        named: bool,
    },
    Enum(Vec<Variant>),
    /// A union: refused by `valid`.
    Union(Span),
}

/// One enum variant.
pub struct Variant {
    pub ident: syn::Ident,
    pub style: Style,
    pub fields: Vec<Field>,
    /// Where the variant's data sits in the JSON, as serde's tagging puts it.
    pub data_at: DataAt,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Unit,
    Tuple,
    Named,
}

/// Where an enum variant's data sits, as serde's tagging puts it.
pub enum DataAt {
    /// Under the variant's name (external tagging, serde's default).
    Key(String),
    /// Where the enum is (internal tagging, untagged).
    Here,
}

/// One field of a struct or a variant.
pub struct Field {
    /// The Rust name (`0`, `1`.. for a tuple's).
    pub name: String,
    /// The name serde reads, for problem paths.
    pub wire: String,
    /// `#[serde(flatten)]`: its own fields sit beside this one's siblings.
    pub flatten: bool,
    /// `self.<member>`
    pub member: syn::Member,
    pub ty: Type,
    pub attrs: Vec<syn::Attribute>,
    pub args: FieldArgs,
    /// The variant the field is in.
    pub variant: Option<syn::Ident>,
    /// `#[serde(skip)]` / `skip_deserializing`: never read from the arguments.
    pub skipped: bool,
    /// What the audit found (filled in by `valid`).
    pub audit: Audit,
}

impl Shape {
    /// Whether serde would meet field names, so unknown ones matter.
    pub fn has_named_fields(&self) -> bool {
        match self {
            Self::Struct { named, .. } => *named,
            Self::Enum(variants) => variants.iter().any(|v| v.style == Style::Named),
            Self::Union(_) => false,
        }
    }
}

impl<'a> Input<'a> {
    pub fn parse(item: &'a syn::DeriveInput, errors: &mut Errors) -> Self {
        use serde_derive_internals::{Ctxt, Derive, ast, attr};

        let args = ContainerArgs::parse(&item.attrs, errors);
        let cx = Ctxt::new();
        let private = syn::Ident::new("__private", Span::call_site());
        let container = ast::Container::from_ast(&cx, item, Derive::Deserialize, &private);
        // serde's own derive reports what it finds wrong with its attributes.
        let _ = cx.check();
        let field = |f: &ast::Field<'_>, variant: Option<&syn::Ident>, errors: &mut Errors| {
            let (name, member) = match f.original.ident.as_ref() {
                Some(ident) => (ident.to_string(), syn::Member::Named(ident.clone())),
                None => match &f.member {
                    syn::Member::Unnamed(index) => {
                        (index.index.to_string(), syn::Member::Unnamed(index.clone()))
                    }
                    named @ syn::Member::Named(ident) => (ident.to_string(), named.clone()),
                },
            };
            Field {
                name: name.trim_start_matches("r#").to_owned(),
                wire: f.attrs.name().deserialize_name().to_string(),
                flatten: f.attrs.flatten(),
                member,
                ty: f.original.ty.clone(),
                attrs: f.original.attrs.clone(),
                args: FieldArgs::parse(&f.original.attrs, errors),
                variant: variant.cloned(),
                skipped: f.attrs.skip_deserializing(),
                audit: Audit::default(),
            }
        };
        let (shape, denies_unknown_fields) = match &container {
            None => (
                match &item.data {
                    syn::Data::Union(u) => Shape::Union(u.union_token.span),
                    _ => Shape::Struct {
                        fields: Vec::new(),
                        named: false,
                    },
                },
                false,
            ),
            Some(container) => {
                let shape = match &container.data {
                    ast::Data::Struct(style, fields) => Shape::Struct {
                        fields: fields.iter().map(|f| field(f, None, errors)).collect(),
                        named: matches!(style, ast::Style::Struct),
                    },
                    ast::Data::Enum(variants) => Shape::Enum(
                        variants
                            .iter()
                            .map(|v| {
                                let wire = v.attrs.name().deserialize_name().to_string();
                                let data_at = match container.attrs.tag() {
                                    _ if v.attrs.untagged() => DataAt::Here,
                                    attr::TagType::External => DataAt::Key(wire),
                                    attr::TagType::Adjacent { content, .. } => {
                                        DataAt::Key(content.clone())
                                    }
                                    attr::TagType::Internal { .. } | attr::TagType::None => {
                                        DataAt::Here
                                    }
                                };
                                Variant {
                                    ident: v.ident.clone(),
                                    style: match v.style {
                                        ast::Style::Struct => Style::Named,
                                        ast::Style::Tuple | ast::Style::Newtype => Style::Tuple,
                                        ast::Style::Unit => Style::Unit,
                                    },
                                    fields: v
                                        .fields
                                        .iter()
                                        .map(|f| field(f, Some(&v.ident), errors))
                                        .collect(),
                                    data_at,
                                }
                            })
                            .collect(),
                    ),
                };
                (shape, container.attrs.deny_unknown_fields())
            }
        };
        Self {
            item,
            args,
            denies_unknown_fields,
            shape,
        }
    }
}
