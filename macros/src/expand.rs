//! Checked model -> tokens. Nothing here can fail: every rule was checked in `check`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, LitStr, Meta, Token, punctuated::Punctuated};

use crate::attr::ToolArgs;
use crate::check::{AuditedField, ToolFn};

/// The secured method (same name, keeps `#[tool]`) and the hidden body method.
pub fn secure_tool(args: &ToolArgs, tool: ToolFn) -> TokenStream {
    let ToolFn {
        item,
        tool_attr,
        params,
        json_output,
        returns_result,
    } = tool;
    let ident = &item.sig.ident;
    let body_ident = format_ident!("__secure_tool_body_{}", ident);
    let is_async = item.sig.asyncness.is_some();

    // Outer attributes: everything but `#[tool]`, which is rebuilt with the schemas rmcp
    // can no longer infer from the rewritten signature. `cfg`s go on both methods.
    let mut outer_attrs = Vec::new();
    let mut body_attrs = Vec::new();
    for (i, attr) in item.attrs.iter().enumerate() {
        if i == tool_attr {
            continue;
        }
        if attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr") {
            body_attrs.push(attr);
        }
        outer_attrs.push(attr);
    }
    let name = tool_name(&item.attrs[tool_attr], ident);
    let tool_attr = rebuild_tool_attr(
        &item.attrs[tool_attr],
        params.as_ref(),
        json_output.as_ref(),
    );

    // Arguments: our guard first, then every extractor but `Parameters<T>`, in order.
    let mut outer_inputs = Vec::new();
    let mut forwarded = Vec::new();
    let typed = item.sig.inputs.iter().filter_map(|a| match a {
        FnArg::Typed(pt) => Some(pt),
        FnArg::Receiver(_) => None,
    });
    for (index, pt) in typed.enumerate() {
        if params.as_ref().is_some_and(|(i, _, _)| *i == index) {
            let (_, params_ty, input_ty) = params.as_ref().expect("checked just above");
            forwarded.push(quote_spanned! {params_ty.span()=>
                <#params_ty as ::secure_tool::__private::WrapParameters<#input_ty>>::wrap(__secure_tool_input)
            });
            continue;
        }
        let name = format_ident!("__secure_tool_arg{}", index);
        let ty = &pt.ty;
        outer_inputs.push(quote!(#name: #ty));
        forwarded.push(quote!(#name));
    }

    let input_ty = match &params {
        Some((_, _, input_ty)) => quote!(#input_ty),
        None => quote!(::secure_tool::__private::NoInput),
    };
    // The run function's `T: SecureInput` bound is what reports a missing derive: its
    // path is spanned on the user's input type, so the error lands there, once.
    let input_span = params
        .as_ref()
        .map_or_else(Span::call_site, |(_, _, t)| t.span());
    let wrapper = if returns_result {
        quote!(::secure_tool::__private::ReturnsResult)
    } else {
        quote!(::secure_tool::__private::ReturnsValue)
    };
    // Checked against the declared return type, so an unsupported one is reported there.
    let return_check = match &item.sig.output {
        syn::ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
            let () = ::secure_tool::__private::assert_tool_return::<#wrapper<#ty>>();
        },
        syn::ReturnType::Default => TokenStream::new(),
    };
    let policy = policy(args, &name);
    let vis = &item.vis;
    let generics = &item.sig.generics;
    let where_clause = &item.sig.generics.where_clause;
    let receiver = item.sig.receiver();
    let self_span = receiver.map_or_else(Span::call_site, Spanned::span);
    let security = quote_spanned! {self_span=>
        ::secure_tool::SecureServer::security(self)
    };
    let call = if is_async {
        quote_spanned! {input_span=>
            ::secure_tool::__private::run_async::<#input_ty, _, _, _>(
                #security,
                &__SECURE_TOOL_POLICY,
                __secure_tool_scope,
                move |__secure_tool_input: #input_ty| async move {
                    #wrapper(Self::#body_ident(self, #(#forwarded),*).await)
                },
            )
            .await
        }
    } else {
        quote_spanned! {input_span=>
            ::secure_tool::__private::run_sync::<#input_ty, _, _>(
                #security,
                &__SECURE_TOOL_POLICY,
                __secure_tool_scope,
                move |__secure_tool_input: #input_ty| {
                    #wrapper(Self::#body_ident(self, #(#forwarded),*))
                },
            )
        }
    };
    let asyncness = &item.sig.asyncness;
    let fn_token = &item.sig.fn_token;

    // The hidden body keeps the user's signature and block verbatim, so spans, `?`,
    // `return` and type errors all point at what the user wrote.
    let mut body = item.clone();
    body.attrs = body_attrs.into_iter().cloned().collect();
    body.attrs.push(syn::parse_quote!(#[doc(hidden)]));
    body.attrs
        .push(syn::parse_quote!(#[allow(clippy::unused_async, clippy::needless_pass_by_value)]));
    body.vis = syn::Visibility::Inherited;
    body.sig.ident = body_ident;

    quote! {
        #(#outer_attrs)*
        #tool_attr
        #vis #asyncness #fn_token #ident #generics (
            #receiver,
            __secure_tool_scope: ::secure_tool::__private::CallScope,
            #(#outer_inputs),*
        ) -> ::secure_tool::__private::CallToolResponse #where_clause {
            #return_check
            static __SECURE_TOOL_POLICY: ::secure_tool::__private::ToolPolicy = #policy;
            #call
        }

        #body
    }
}

/// What a refused method becomes: a stub rmcp can route (so the router adds no errors of
/// its own to ours), and the user's method, without `#[tool]`, under a hidden name (so
/// errors inside its body are still reported). If it does not even parse, it is re-emitted
/// as written.
pub fn fallback(original: &TokenStream) -> TokenStream {
    let Ok(mut item) = syn::parse2::<syn::ImplItemFn>(original.clone()) else {
        return original.clone();
    };
    let tool_attr = match item.attrs.iter().position(crate::check::is_tool_attr) {
        Some(index) => Some(item.attrs.remove(index)),
        // Below `#[tool]`: rmcp already generated the route; the stub must still serve it.
        None if crate::check::expanded_by_rmcp(&item) => None,
        // Not a tool at all: rmcp's router does not know the method; keep it as written.
        None => return original.clone(),
    };
    let ident = item.sig.ident.clone();
    let vis = item.vis.clone();
    item.sig.ident = format_ident!("__secure_tool_refused_{}", ident);
    item.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    quote! {
        #tool_attr
        #vis fn #ident(&self) -> ::secure_tool::__private::CallToolResponse {
            ::core::unreachable!("refused by #[secure_tool] at compile time")
        }

        #item
    }
}

/// `#[tool(...)]` with `input_schema` / `output_schema` added unless the user gave them.
fn rebuild_tool_attr(
    attr: &syn::Attribute,
    params: Option<&(usize, syn::Type, syn::Type)>,
    json_output: Option<&syn::Type>,
) -> TokenStream {
    let path = attr.path();
    let mut items: Punctuated<Meta, Token![,]> = match &attr.meta {
        Meta::List(list) => list
            .parse_args_with(Punctuated::parse_terminated)
            .unwrap_or_default(),
        _ => Punctuated::new(),
    };
    let has = |items: &Punctuated<Meta, Token![,]>, key: &str| {
        items.iter().any(|m| m.path().is_ident(key))
    };
    if let Some((_, _, input_ty)) = params
        && !has(&items, "input_schema")
    {
        items.push(syn::parse_quote!(
            input_schema = ::secure_tool::__private::input_schema::<#input_ty>()
        ));
    }
    if let Some(output_ty) = json_output
        && !has(&items, "output_schema")
    {
        items.push(syn::parse_quote!(
            output_schema = ::secure_tool::__private::output_schema::<#output_ty>()
        ));
    }
    // Keep the user's tokens when nothing was added or they did not parse as metas
    // (rmcp will then report its own error on them).
    if items.is_empty() {
        return quote!(#attr);
    }
    let pound = attr.pound_token;
    quote!(#pound [#path(#items)])
}

/// The name rmcp lists the tool under: `#[tool(name = "..")]` (a string literal, as
/// rmcp requires), else the method's name.
fn tool_name(attr: &syn::Attribute, ident: &syn::Ident) -> String {
    let mut name = None;
    if let Meta::List(list) = &attr.meta
        && let Ok(items) = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
    {
        for item in items {
            if let Meta::NameValue(nv) = item
                && nv.path.is_ident("name")
                && let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(lit),
                    ..
                }) = &nv.value
            {
                name = Some(lit.value());
            }
        }
    }
    name.unwrap_or_else(|| ident.to_string())
}

fn policy(args: &ToolArgs, name: &str) -> TokenStream {
    let scopes: Vec<&LitStr> = args
        .scope
        .iter()
        .chain(args.scopes.iter())
        .flat_map(|(_, list)| list)
        .collect();
    let public = args.public.is_some();
    let some = |t: Option<TokenStream>| match t {
        Some(t) => quote!(::core::option::Option::Some(#t)),
        None => quote!(::core::option::Option::None),
    };
    let nz = |n: u32| quote!(::secure_tool::__private::nz(#n));
    let rate = some(args.rate.as_ref().map(|r| {
        let (count, period_ms) = r.value;
        let count = nz(count);
        quote!(::secure_tool::__private::Rate::new(#count, ::core::time::Duration::from_millis(#period_ms)))
    }));
    let burst = some(args.burst.as_ref().map(|b| nz(b.value)));
    let timeout = some(args.timeout.as_ref().map(|t| {
        let ms = t.value;
        quote!(::core::time::Duration::from_millis(#ms))
    }));
    let concurrency = some(args.concurrency.as_ref().map(|c| nz(c.value)));
    // Saturate on 32-bit targets: a cap above the address space is no cap.
    let size = |m: &crate::attr::Keyed<u64>| {
        let bytes = usize::try_from(m.value).unwrap_or(usize::MAX);
        quote!(#bytes)
    };
    let max_output = some(args.max_output.as_ref().map(size));
    let max_input = some(args.max_input.as_ref().map(size));
    quote! {
        ::secure_tool::__private::ToolPolicy {
            name: #name,
            scopes: &[#(#scopes),*],
            public: #public,
            rate: #rate,
            burst: #burst,
            timeout: #timeout,
            concurrency: #concurrency,
            max_output: #max_output,
            max_input: #max_input,
        }
    }
}

/// `impl SecureInput` for an audited type.
pub fn secure_input(
    input: &syn::DeriveInput,
    fields: &[AuditedField],
    allow_unknown: Option<&LitStr>,
) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let type_name = ident.to_string();
    let mut opt_outs = Vec::new();
    for f in fields {
        let field = format!("{type_name}.{}", f.name);
        for (rule, reason) in [
            ("unbounded", &f.args.unbounded),
            ("untyped", &f.args.untyped),
            ("hidden_text", &f.args.hidden_text),
            ("plain", &f.args.plain),
        ] {
            if let Some(reason) = reason {
                opt_outs.push(quote! {
                    ::secure_tool::OptOut { field: #field, rule: #rule, reason: #reason }
                });
            }
        }
    }
    if let Some(reason) = allow_unknown {
        opt_outs.push(quote! {
            ::secure_tool::OptOut { field: #type_name, rule: "allow_unknown_fields", reason: #reason }
        });
    }
    let validate_span = ident.span();
    // Only structs reach here with `validator::Validate` derivable; for the refused shapes
    // (enums, unions) the impl is a placeholder so the only errors are the audit's.
    let validate = if matches!(input.data, syn::Data::Struct(_)) {
        quote_spanned! {validate_span=>
            <Self as ::secure_tool::__private::HasValidate>::run_validate(self)
        }
    } else {
        quote!(::core::result::Result::Ok(()))
    };
    let field_checks = fields.iter().map(|f| {
        let member = &f.member;
        let name = &f.name;
        let mut checks = Vec::new();
        if !f.scan_text && !f.url && !f.command && !f.ident {
            checks.push(quote! {
                (&::secure_tool::__private::Nested(&self.#member))
                    .validate_nested(#name, &mut __secure_tool_problems);
            });
        }
        if f.scan_text {
            checks.push(quote! {
                ::secure_tool::__private::ScanText::scan_text(&self.#member, #name, &mut __secure_tool_problems);
            });
        }
        if f.url {
            let lists = f.args.url.as_ref().map(|(_, l)| l.clone()).unwrap_or_else(|| vec![Vec::new(); 3]);
            let (allow, deny, schemes) = (&lists[0], &lists[1], &lists[2]);
            checks.push(quote! {
                ::secure_tool::__private::check_url_field(
                    &self.#member, #name, &[#(#allow),*], &[#(#deny),*], &[#(#schemes),*],
                    &mut __secure_tool_problems,
                );
            });
        }
        if f.ident
            && let Some((_, lists)) = &f.args.ident
        {
            let allow = &lists[0];
            checks.push(quote! {
                ::secure_tool::__private::check_ident_field(
                    &self.#member, #name, &[#(#allow),*], &mut __secure_tool_problems,
                );
            });
        }
        if f.command
            && let Some((_, lists)) = &f.args.command
        {
            let (programs, options) = (&lists[0], &lists[1]);
            checks.push(quote! {
                ::secure_tool::__private::check_command_field(
                    &self.#member, #name, &[#(#programs),*], &[#(#options),*], &mut __secure_tool_problems,
                );
            });
        }
        quote!(#(#checks)*)
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::secure_tool::SecureInput for #ident #ty_generics #where_clause {
            fn validate_input(
                &self,
            ) -> ::core::result::Result<(), ::secure_tool::InputError> {
                #[allow(unused_imports)]
                use ::secure_tool::__private::{ViaNothing as _, ViaSecureInput as _};
                let mut __secure_tool_problems = ::secure_tool::__private::Problems::new();
                #(#field_checks)*
                ::secure_tool::__private::finish_validation(#validate, __secure_tool_problems)
            }

            fn opt_outs() -> &'static [::secure_tool::OptOut] {
                &[#(#opt_outs),*]
            }
        }
    }
}
