//! What a refused `#[secure_tool]` method becomes, so one mistake is reported once and
//! does not cascade into errors of rmcp's router or of the code that calls the tool.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::ast;

/// A stub rmcp can route (so the router adds no errors of its own to ours), and the
/// user's method, without `#[tool]`, under a hidden name (so errors inside its body are
/// still reported).
pub fn tool(tool: &ast::Tool) -> TokenStream {
    let ast::Method {
        attrs,
        vis,
        sig,
        block,
    } = &tool.method;
    let tool_attr = tool.tool_attr.as_ref().map(|t| t.index);
    let others = attrs
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != tool_attr)
        .map(|(_, attr)| attr);
    let stub_attr = match tool_attr {
        Some(index) => Some(&attrs[index]),
        // Below `#[tool]`: rmcp already generated the route; the stub must still serve it.
        None if crate::valid::expanded_by_rmcp(sig) => None,
        // Not a tool at all: rmcp's router does not know the method; keep it as written.
        None => return quote!(#(#attrs)* #vis #sig #block),
    };
    let ident = &sig.ident;
    let mut hidden = sig.clone();
    hidden.ident = format_ident!("__secure_tool_refused_{}", ident);
    quote! {
        #stub_attr
        #vis fn #ident(&self) -> ::secure_tool::__private::CallToolResponse {
            ::core::unreachable!("refused by #[secure_tool] at compile time")
        }

        #[allow(dead_code)]
        #(#others)* #vis #hidden #block
    }
}
