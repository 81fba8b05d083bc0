//! Procedural macros of [secure-tool](https://docs.rs/secure-tool): `#[secure_tool]` and
//! `#[derive(SecureInput)]`. Use them through the `secure-tool` crate, which re-exports
//! them next to the runtime they expand to.
//!
//! Each macro runs parse -> check -> expand: `attr` parses arguments into a spanned
//! model, `check` applies the safety rules and collects every violation, `expand` turns
//! the checked model into tokens and cannot fail.

mod attr;
mod check;
mod expand;
mod placement;

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, parse_macro_input};

use attr::{Errors, ToolArgs};
use check::{Shape, Style, Variant};

/// Secures an rmcp tool method. Documented on the re-export, `secure_tool::secure_tool`.
#[proc_macro_attribute]
pub fn secure_tool(args: TokenStream, item: TokenStream) -> TokenStream {
    let original: proc_macro2::TokenStream = item.into();
    let item = match check::Method::parse(original.clone()) {
        Ok(item) => item,
        Err(error) => return error.into_compile_error().into(),
    };
    let mut errors = Errors::default();
    let args = ToolArgs::parse(args.into(), &mut errors);
    let tool = check::tool_fn(item, &args, &mut errors);
    let placement = placement::of_call_site();
    // `#[tool]` cannot expand in a trait: the fallback drops it there.
    let in_trait = placement == placement::Placement::Trait;
    check::served_by_a_router(placement, &mut errors);
    match (errors.finish(), tool) {
        (Ok(()), Some(tool)) => expand::secure_tool(&args, tool).into(),
        (result, _) => {
            let errors = result.err().map(syn::Error::into_compile_error);
            let fallback = expand::fallback(&original, !in_trait);
            quote!(#errors #fallback).into()
        }
    }
}

/// Derives `secure_tool::SecureInput`. Documented on the re-export.
#[proc_macro_derive(SecureInput, attributes(secure))]
pub fn derive_secure_input(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let mut errors = Errors::default();
    let shape = match &input.data {
        Data::Struct(data) => Shape::Struct {
            fields: fields(
                &data.fields,
                None,
                attr::serde_value(&input.attrs, "rename_all").as_deref(),
                &mut errors,
            ),
            named: matches!(data.fields, Fields::Named(_)),
        },
        Data::Enum(data) => Shape::Enum {
            variants: data
                .variants
                .iter()
                .map(|v| Variant {
                    ident: v.ident.clone(),
                    wire: attr::serde_name(
                        &v.ident.to_string(),
                        &v.attrs,
                        attr::serde_value(&input.attrs, "rename_all").as_deref(),
                        true,
                    ),
                    fields: fields(
                        &v.fields,
                        Some(&v.ident),
                        attr::serde_value(&v.attrs, "rename_all")
                            .or_else(|| attr::serde_value(&input.attrs, "rename_all_fields"))
                            .as_deref(),
                        &mut errors,
                    ),
                    style: match &v.fields {
                        Fields::Named(_) => Style::Named,
                        Fields::Unnamed(_) => Style::Tuple,
                        Fields::Unit => Style::Unit,
                    },
                })
                .collect(),
            data_at: match (
                attr::serde_value(&input.attrs, "content"),
                attr::serde_word(&input.attrs, "tag") || attr::serde_word(&input.attrs, "untagged"),
            ) {
                // Adjacently tagged: `{"tag": "Variant", "content": ..}`.
                (Some(content), _) => check::DataAt::Key(content),
                // Internally tagged or untagged: the data sits beside the tag, or alone.
                (None, true) => check::DataAt::Here,
                // Externally tagged (serde's default): `{"Variant": ..}`.
                (None, false) => check::DataAt::VariantName,
            },
        },
        Data::Union(data) => {
            errors.at(
                data.union_token.span,
                "`SecureInput` cannot be derived for a union: use a struct or an enum",
            );
            Shape::Struct {
                fields: Vec::new(),
                named: false,
            }
        }
    };
    let container = check::container(
        &input.ident,
        &input.attrs,
        shape.has_named_fields(),
        &mut errors,
    );
    // The impl is emitted even when the audit failed, so the only errors are the audit's.
    let implementation =
        expand::secure_input(&input, &shape, container.allow_unknown_fields.as_ref());
    let errors = errors.finish().err().map(syn::Error::into_compile_error);
    quote!(#errors #implementation).into()
}

/// Audit the fields of a struct or of one enum variant.
fn fields(
    fields: &Fields,
    variant: Option<&syn::Ident>,
    rename_all: Option<&str>,
    errors: &mut Errors,
) -> Vec<check::AuditedField> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (name, member) = match &f.ident {
                Some(ident) => (ident.to_string(), syn::Member::Named(ident.clone())),
                None => (i.to_string(), syn::Member::Unnamed(syn::Index::from(i))),
            };
            let wire = attr::serde_name(&name, &f.attrs, rename_all, false);
            let before = errors.len();
            let mut field = check::field(name, member, &f.ty, &f.attrs, variant, errors);
            field.wire = wire;
            // A field the audit refused gets no type checks: one error per mistake.
            field.refused = errors.len() > before;
            field
        })
        .collect()
}
