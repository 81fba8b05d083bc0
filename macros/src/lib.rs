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

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, ImplItemFn, parse_macro_input};

use attr::{Errors, ToolArgs};

/// Secures an rmcp tool method. Documented on the re-export, `secure_tool::secure_tool`.
#[proc_macro_attribute]
pub fn secure_tool(args: TokenStream, item: TokenStream) -> TokenStream {
    let original: proc_macro2::TokenStream = item.clone().into();
    let item = parse_macro_input!(item as ImplItemFn);
    let mut errors = Errors::default();
    let args = ToolArgs::parse(args.into(), &mut errors);
    let tool = check::tool_fn(item, &args, &mut errors);
    match (errors.finish(), tool) {
        (Ok(()), Some(tool)) => expand::secure_tool(&args, tool).into(),
        (result, _) => {
            let errors = result.err().map(syn::Error::into_compile_error);
            let fallback = expand::fallback(&original);
            quote!(#errors #fallback).into()
        }
    }
}

/// Derives `secure_tool::SecureInput`. Documented on the re-export.
#[proc_macro_derive(SecureInput, attributes(secure))]
pub fn derive_secure_input(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let mut errors = Errors::default();
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named
                .named
                .iter()
                .filter_map(|f| {
                    let ident = f.ident.clone()?;
                    let member = syn::Member::Named(ident.clone());
                    Some(check::field(
                        ident.to_string(),
                        member,
                        &f.ty,
                        &f.attrs,
                        &mut errors,
                    ))
                })
                .collect(),
            Fields::Unnamed(unnamed) => unnamed
                .unnamed
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let member = syn::Member::Unnamed(syn::Index::from(i));
                    check::field(i.to_string(), member, &f.ty, &f.attrs, &mut errors)
                })
                .collect(),
            Fields::Unit => Vec::new(),
        },
        Data::Enum(data) => {
            errors.at(
                data.enum_token.span,
                "`SecureInput` is derived for structs: wrap the enum in a struct field",
            );
            Vec::new()
        }
        Data::Union(data) => {
            errors.at(
                data.union_token.span,
                "`SecureInput` cannot be derived for a union: use a struct",
            );
            Vec::new()
        }
    };
    let named = matches!(&input.data, Data::Struct(d) if matches!(d.fields, Fields::Named(_)));
    let container = check::container(&input.ident, &input.attrs, named, &mut errors);
    // The impl is emitted even when the audit failed, so the only errors are the audit's.
    let implementation =
        expand::secure_input(&input, &fields, container.allow_unknown_fields.as_ref());
    let errors = errors.finish().err().map(syn::Error::into_compile_error);
    quote!(#errors #implementation).into()
}
