//! Procedural macros of [secure-tool](https://docs.rs/secure-tool): `#[secure_tool]` and
//! `#[derive(SecureInput)]`. Use them through the `secure-tool` crate, which re-exports
//! them next to the runtime they expand to.
//!
//! Each macro runs in phases (ARCHITECTURE.md, "The macro crate"): `ast` parses the
//! input once into a model (`attr` parses the attributes' arguments), `valid` applies
//! the safety rules and collects every violation, `expand` turns the checked model into
//! tokens and cannot fail, and `fallback` is what a refused tool becomes.

mod ast;
mod attr;
mod expand;
mod fallback;
mod valid;

use proc_macro::TokenStream;
use quote::quote;

/// Secures an rmcp tool method. Documented on the re-export, `secure_tool::secure_tool`.
#[proc_macro_attribute]
pub fn secure_tool(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = attr::Errors::default();
    let tool = match ast::Tool::parse(args.into(), item.clone().into(), &mut errors) {
        Ok(tool) => tool,
        // Not even a method: reported, and re-emitted as written.
        Err(error) => {
            let error = error.into_compile_error();
            let item = proc_macro2::TokenStream::from(item);
            return quote!(#error #item).into();
        }
    };
    let call_site = proc_macro::Span::call_site();
    let site = expand::Site {
        file: call_site.file(),
        line: u32::try_from(call_site.line()).unwrap_or(u32::MAX),
        column: u32::try_from(call_site.column()).unwrap_or(u32::MAX),
    };
    match valid::tool(tool, &mut errors) {
        Ok(tool) => expand::secure_tool(&tool, &site).into(),
        Err(tool) => {
            let errors = errors.finish().err().map(syn::Error::into_compile_error);
            let fallback = fallback::tool(&tool);
            quote!(#errors #fallback).into()
        }
    }
}

/// Derives `secure_tool::SecureInput`. Documented on the re-export.
#[proc_macro_derive(SecureInput, attributes(secure))]
pub fn derive_secure_input(input: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(input as syn::DeriveInput);
    let mut errors = attr::Errors::default();
    let mut input = ast::Input::parse(&item, &mut errors);
    valid::input(&mut input, &mut errors);
    // The impl is emitted even when the audit failed, so the only errors are the audit's.
    let implementation = expand::secure_input(&input);
    let errors = errors.finish().err().map(syn::Error::into_compile_error);
    quote!(#errors #implementation).into()
}
