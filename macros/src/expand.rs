//! Checked model -> tokens. Nothing here can fail: every rule was checked in `check`.
//!
//! Spans: only a path whose trait bound reports a user's mistake (a missing derive, an
//! unchecked field type, an unsupported return type) takes the user's span, so the error
//! lands on what they wrote. Everything that names `self` or a generated local keeps the
//! expansion's own span: an input or a server stamped out by `macro_rules!` gives its
//! tokens that macro's hygiene, and a local named under it would not be found.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, LitStr, Meta, Token, punctuated::Punctuated};

use crate::attr::ToolArgs;
use crate::check::{AuditedField, DataAt, Shape, Style, ToolFn};

/// The secured method: same name, keeps `#[tool]`, runs the pipeline around the user's
/// body, which it holds inline. Nothing else: no hidden item per tool.
pub fn secure_tool(args: &ToolArgs, tool: ToolFn) -> TokenStream {
    let ToolFn {
        item,
        tool_attr,
        params,
        json_output,
        returns_result,
    } = tool;
    let ident = &item.sig.ident;
    let is_async = item.sig.asyncness.is_some();

    // Outer attributes: everything but `#[tool]`, which is rebuilt with the schemas rmcp
    // can no longer infer from the rewritten signature.
    let outer_attrs = item
        .attrs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != tool_attr)
        .map(|(_, attr)| attr);
    let (tool_attr, decl) = rebuild_tool_attr(
        &item.attrs[tool_attr],
        ident,
        params.as_ref(),
        json_output.as_ref(),
        &|name: &str| declaration(args, name, params.as_ref(), is_async),
    );

    // Arguments: our guard first, then every extractor but `Parameters<T>`, as written.
    // `Parameters<T>` is bound, with the user's own pattern, from the checked input.
    let mut outer_inputs = Vec::new();
    let mut bind_input = TokenStream::new();
    let typed = item.sig.inputs.iter().filter_map(|a| match a {
        FnArg::Typed(pt) => Some(pt),
        FnArg::Receiver(_) => None,
    });
    for (index, pt) in typed.enumerate() {
        match &params {
            Some((i, params_ty, input_ty)) if *i == index => {
                let pat = &pt.pat;
                let wrap = quote_spanned! {params_ty.span()=>
                    <#params_ty as ::secure_tool::__private::WrapParameters<#input_ty>>::wrap
                };
                bind_input = quote! {
                    let #pat: #params_ty = #wrap(__secure_tool_input);
                };
            }
            _ => outer_inputs.push(pt),
        }
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
    let output = match &item.sig.output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    };
    // Named with the declared return type and spanned on it: the shaping function's bound
    // is what refuses an unsupported return type, reported there, once.
    let returns = {
        let shape = if returns_result {
            quote!(returns_result)
        } else {
            quote!(returns_value)
        };
        match &item.sig.output {
            syn::ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
                ::secure_tool::__private::#shape::<#ty>
            },
            syn::ReturnType::Default => quote!(::secure_tool::__private::#shape::<()>),
        }
    };
    let vis = &item.vis;
    let generics = &item.sig.generics;
    let where_clause = &item.sig.generics.where_clause;
    let receiver = item.sig.receiver();
    let self_span = receiver.map_or_else(Span::call_site, Spanned::span);
    let security = quote_spanned! {self_span=>
        ::secure_tool::SecureServer::security(self)
    };
    // The user's block, verbatim: spans, `?`, `return` and type errors point at what
    // the user wrote. It is never parsed, only moved.
    let block = &item.block;
    let call = if is_async {
        // The body becomes a boxed future, as rmcp's `#[tool]` makes of a bare tool, so a
        // tool adds no coroutine of its own. The never-taken early `return` fixes the
        // future's output to the declared type before the body is checked (as
        // async-trait does), so a wrong `return` or `?` is reported where it is written.
        let run =
            quote_spanned! {input_span=> ::secure_tool::__private::run_async::<#input_ty, _, _> };
        quote! {
            #run(
                #security,
                #decl,
                __secure_tool_scope,
                #returns,
                move |__secure_tool_input: #input_ty| {
                    #bind_input
                    ::std::boxed::Box::pin(async move {
                        if let ::core::option::Option::Some(__secure_tool_output) =
                            ::core::option::Option::None::<#output>
                        {
                            return __secure_tool_output;
                        }
                        #block
                    })
                },
            )
        }
    } else {
        // A closure with the declared return type: `return` in the body leaves the body.
        let run =
            quote_spanned! {input_span=> ::secure_tool::__private::run_sync::<#input_ty, _, _> };
        quote! {
            #run(
                #security,
                #decl,
                __secure_tool_scope,
                move |__secure_tool_input: #input_ty| -> #output {
                    #bind_input
                    #block
                },
                #returns,
            )
        }
    };
    let fn_token = &item.sig.fn_token;
    let outer_output = if is_async {
        quote!(::secure_tool::__private::ToolFuture<'_>)
    } else {
        quote!(::secure_tool::__private::CallToolResponse)
    };

    quote! {
        #(#outer_attrs)*
        #tool_attr
        #vis #fn_token #ident #generics (
            #receiver,
            __secure_tool_scope: ::secure_tool::__private::CallScope,
            #(#outer_inputs),*
        ) -> #outer_output #where_clause {
            ::secure_tool::__private::verbatim! {
                #call
            }
        }
    }
}

/// What a refused method becomes: a stub rmcp can route (so the router adds no errors of
/// its own to ours), and the user's method, without `#[tool]`, under a hidden name (so
/// errors inside its body are still reported). If it does not even parse, it is re-emitted
/// as written. In a trait (`keep_tool` false), where `#[tool]` cannot expand, the method is
/// re-emitted without it.
pub fn fallback(original: &TokenStream, keep_tool: bool) -> TokenStream {
    let Ok(mut item) = syn::parse2::<syn::ImplItemFn>(original.clone()) else {
        return original.clone();
    };
    if !keep_tool {
        item.attrs.retain(|a| !crate::check::is_tool_attr(a));
        return quote!(#[allow(dead_code)] #item);
    }
    let tool_attr = match item.attrs.iter().position(crate::check::is_tool_attr) {
        Some(index) => Some(item.attrs.remove(index)),
        // Below `#[tool]`: rmcp already generated the route; the stub must still serve it.
        None if crate::check::expanded_by_rmcp(&item.sig) => None,
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

/// `#[tool(...)]` with `input_schema` / `output_schema` added unless the user gave them,
/// and the input schema's expression wrapped to register the tool for
/// `Security::manifest()` when rmcp's `<name>_tool_attr()` runs, i.e. when the server's
/// `#[tool_router]` is built. Returns the attribute and the tool's declaration (built by
/// `declaration` from the name rmcp lists the tool under).
fn rebuild_tool_attr(
    attr: &syn::Attribute,
    ident: &syn::Ident,
    params: Option<&(usize, syn::Type, syn::Type)>,
    json_output: Option<&syn::Type>,
    declaration: &dyn Fn(&str) -> TokenStream,
) -> (TokenStream, TokenStream) {
    let path = attr.path();
    let Ok(items) = (match &attr.meta {
        Meta::List(list) => list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated),
        _ => Ok(Punctuated::new()),
    }) else {
        // Not metas: rmcp reports its own error on these tokens.
        return (quote!(#attr), declaration(&ident.to_string()));
    };
    // The name rmcp lists the tool under: `name = ".."` (a string literal, as rmcp
    // requires), else the method's name.
    let name = items
        .iter()
        .find_map(|item| match item {
            Meta::NameValue(nv) if nv.path.is_ident("name") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(lit),
                    ..
                }) => Some(lit.value()),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| ident.to_string());
    let decl = declaration(&name);
    let input_ty = match params {
        Some((_, _, input_ty)) => quote!(#input_ty),
        None => quote!(::secure_tool::__private::NoInput),
    };
    let register = |schema: &dyn quote::ToTokens| {
        quote!(::secure_tool::__private::register!(#decl, #input_ty, #schema))
    };
    let mut kept = Vec::new();
    let mut input_schema = None;
    let mut has_output_schema = false;
    for item in &items {
        match item {
            Meta::NameValue(nv) if nv.path.is_ident("input_schema") => {
                input_schema = Some(register(&nv.value));
                continue;
            }
            _ if item.path().is_ident("output_schema") => has_output_schema = true,
            _ => {}
        }
        kept.push(item);
    }
    let input_schema = input_schema.unwrap_or_else(|| match params {
        Some((_, _, input_ty)) => {
            register(&quote!(::secure_tool::__private::input_schema::<#input_ty>()))
        }
        // What rmcp lists for a tool without `Parameters`.
        None => register(&quote!(
            ::secure_tool::__private::rmcp::handler::server::common::schema_for_empty_input()
        )),
    });
    let output_schema = json_output.filter(|_| !has_output_schema).map(|output_ty| {
        quote!(, output_schema = ::secure_tool::__private::output_schema::<#output_ty>())
    });
    let pound = attr.pound_token;
    let attr = quote! {
        #pound [#path(#(#kept,)* input_schema = #input_schema #output_schema)]
    };
    (attr, decl)
}

/// The tool's declaration, `ToolDecl::new(..)`, written out in full at both places that
/// need it (the call and the registration) rather than held in a per-tool item: literal
/// values only, and the attribute's own file and line, which identify the tool.
fn declaration(
    args: &ToolArgs,
    name: &str,
    params: Option<&(usize, syn::Type, syn::Type)>,
    is_async: bool,
) -> TokenStream {
    let scopes = args
        .scope
        .iter()
        .chain(args.scopes.iter())
        .flat_map(|(_, list)| list)
        .map(LitStr::value)
        .collect::<Vec<_>>()
        .join(",");
    let public = args.public.is_some();
    let limits = limits(args);
    let input_text = match params {
        Some((_, _, input_ty)) => quote!(#input_ty).to_string().replace(' ', ""),
        None => "-".to_owned(),
    };
    let site = proc_macro::Span::call_site();
    let (file, line) = (site.file(), u32::try_from(site.line()).unwrap_or(u32::MAX));
    quote! {
        ::secure_tool::__private::ToolDecl::new(
            #name, #scopes, #public, [#(#limits),*], #input_text, #is_async,
            ::core::module_path!(), #file, #line,
        )
    }
}

/// The declared limits as `ToolDecl::new` takes them: 0 for "not declared" (a declared
/// 0 was refused by `attr`).
fn limits(args: &ToolArgs) -> [u64; 7] {
    let (rate_count, rate_ms) = args.rate.as_ref().map_or((0, 0), |r| r.value);
    [
        u64::from(rate_count),
        rate_ms,
        args.burst.as_ref().map_or(0, |b| u64::from(b.value)),
        args.timeout.as_ref().map_or(0, |t| t.value),
        args.concurrency.as_ref().map_or(0, |c| u64::from(c.value)),
        args.max_output.as_ref().map_or(0, |m| m.value),
        args.max_input.as_ref().map_or(0, |m| m.value),
    ]
}

/// `impl SecureInput` and `impl InputField` for an audited type.
pub fn secure_input(
    input: &syn::DeriveInput,
    shape: &Shape,
    allow_unknown: Option<&LitStr>,
) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let type_name = ident.to_string();

    // The waivers, each with its author's reason, for `opt_outs()` and the manifest.
    let mut opt_outs = Vec::new();
    let mut push_opt_outs = |owner: String, fields: &[AuditedField]| {
        for f in fields {
            let field = format!("{owner}.{}", f.name);
            for (rule, reason) in f.args.waivers() {
                opt_outs.push(quote! {
                    ::secure_tool::OptOut { field: #field, rule: #rule, reason: #reason }
                });
            }
        }
    };
    let all_fields: Vec<&AuditedField> = match shape {
        Shape::Struct { fields, .. } => {
            push_opt_outs(type_name.clone(), fields);
            fields.iter().collect()
        }
        Shape::Enum { variants, .. } => {
            for v in variants {
                push_opt_outs(format!("{type_name}::{}", v.ident), &v.fields);
            }
            variants.iter().flat_map(|v| &v.fields).collect()
        }
    };
    if let Some(reason) = allow_unknown {
        opt_outs.push(quote! {
            ::secure_tool::OptOut { field: #type_name, rule: "allow_unknown_fields", reason: #reason }
        });
    }

    let checks = match shape {
        Shape::Struct { fields, .. } => {
            let fields = fields.iter().map(|f| {
                let member = &f.member;
                let name = &f.wire;
                field_checks(
                    f,
                    &quote!(&self.#member),
                    &quote!(__secure_tool_path.field(#name)),
                )
            });
            // validator's rules (derived for structs only) run first, under this path.
            let run_validate = quote_spanned! {ident.span()=>
                <Self as ::secure_tool::__private::HasValidate>::run_validate
            };
            let validate = quote! {
                ::secure_tool::__private::validated_at(
                    #run_validate(self),
                    __secure_tool_path,
                    __secure_tool_problems,
                );
            };
            quote!(#validate #(#fields)*)
        }
        Shape::Enum { variants, data_at } => {
            let arms = variants.iter().map(|v| {
                let variant = &v.ident;
                let variant_name = &v.wire;
                let bindings: Vec<_> = (0..v.fields.len())
                    .map(|i| format_ident!("__secure_tool_b{}", i))
                    .collect();
                let pattern = match v.style {
                    Style::Unit => quote!(Self::#variant),
                    Style::Tuple => quote!(Self::#variant(#(#bindings),*)),
                    Style::Named => {
                        let members = v.fields.iter().map(|f| &f.member);
                        quote!(Self::#variant { #(#members: #bindings),* })
                    }
                };
                let at_variant = match data_at {
                    DataAt::VariantName => {
                        quote!(let __secure_tool_variant = __secure_tool_path.field(#variant_name);)
                    }
                    DataAt::Key(key) => {
                        quote!(let __secure_tool_variant = __secure_tool_path.field(#key);)
                    }
                    DataAt::Here => quote!(let __secure_tool_variant = *__secure_tool_path;),
                };
                let newtype = v.style == Style::Tuple && v.fields.len() == 1;
                let fields = v.fields.iter().zip(&bindings).map(|(f, binding)| {
                    // A newtype variant's value is the variant's value; a tuple variant's
                    // items are an array's; a struct variant's fields are named.
                    let path = match (&f.member, newtype) {
                        (_, true) => quote!(__secure_tool_variant),
                        (syn::Member::Unnamed(index), false) => {
                            let index = index.index as usize;
                            quote!(__secure_tool_variant.index(#index))
                        }
                        (syn::Member::Named(_), false) => {
                            let name = &f.wire;
                            quote!(__secure_tool_variant.field(#name))
                        }
                    };
                    field_checks(f, &quote!(#binding), &path)
                });
                if v.fields.is_empty() {
                    quote!(#pattern => {})
                } else {
                    quote!(#pattern => { #at_variant #(#fields)* })
                }
            });
            quote! {
                match self {
                    #(#arms)*
                }
            }
        }
    };

    // What the trait's defaults already do (no waivers, nothing nested that could hold
    // one) is left out: less code for the compiler in every user's build.
    let nested_opt_outs: Vec<_> = all_fields
        .iter()
        .filter(|f| f.args.opaque.is_none() && !f.refused && !crate::check::holds_no_waivers(&f.ty))
        .map(|f| {
            let ty = &f.ty;
            let collect = quote_spanned! {ty.span()=>
                <#ty as ::secure_tool::InputField>::collect_opt_outs
            };
            quote! { #collect(__secure_tool_out, __secure_tool_seen); }
        })
        .collect();
    let own_opt_outs = (!opt_outs.is_empty()).then(|| {
        quote! {
            fn opt_outs() -> &'static [::secure_tool::OptOut] {
                &[#(#opt_outs),*]
            }
        }
    });
    let collect_opt_outs = (own_opt_outs.is_some() || !nested_opt_outs.is_empty()).then(|| {
        quote! {
            fn collect_opt_outs(
                __secure_tool_out: &mut ::std::vec::Vec<::secure_tool::OptOut>,
                __secure_tool_seen: &mut ::std::vec::Vec<&'static str>,
            ) {
                if ::secure_tool::__private::collect_own_opt_outs::<Self>(__secure_tool_out, __secure_tool_seen) {
                    #(#nested_opt_outs)*
                }
            }
        }
    });
    // Only a struct with named fields has an object schema, as a tool's input needs.
    let object_input = matches!(shape, Shape::Struct { named: true, .. }).then(|| {
        quote! {
            #[automatically_derived]
            impl #impl_generics ::secure_tool::__private::ObjectInput for #ident #ty_generics #where_clause {}
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::secure_tool::SecureInput for #ident #ty_generics #where_clause {
            #own_opt_outs
        }

        #[automatically_derived]
        impl #impl_generics ::secure_tool::InputField for #ident #ty_generics #where_clause {
            fn check_field(
                &self,
                __secure_tool_path: &::secure_tool::FieldPath<'_>,
                __secure_tool_scan: bool,
                __secure_tool_problems: &mut ::std::vec::Vec<::secure_tool::Problem>,
            ) {
                #checks
            }

            #collect_opt_outs
        }

        #object_input
    }
}

/// The run-time checks of one field: what its type checks (spanned on the type, so a
/// type secure-tool cannot check is reported there), then its annotation's allowlists.
fn field_checks(f: &AuditedField, value: &TokenStream, path: &TokenStream) -> TokenStream {
    let mut checks = Vec::new();
    // A `sql(allow_functions)` field is checked by `check_sql_field` below, in place of
    // the type's own check (which allows the dialect's built-ins only).
    if f.args.opaque.is_none()
        && f.args.sql.is_none()
        && !f.refused
        && !crate::check::is_plain_scalar(&f.ty)
    {
        let ty = &f.ty;
        let scan = if f.scan_text {
            quote!(__secure_tool_scan)
        } else {
            quote!(false)
        };
        let check = quote_spanned! {ty.span()=> <#ty as ::secure_tool::InputField>::check_field };
        checks.push(quote! {
            #check(#value, &__secure_tool_at, #scan, __secure_tool_problems);
        });
    }
    if f.url {
        let lists = f
            .args
            .url
            .as_ref()
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| vec![Vec::new(); 3]);
        let (allow, deny, schemes) = (&lists[0], &lists[1], &lists[2]);
        checks.push(quote! {
            ::secure_tool::__private::check_url_field(
                #value, &__secure_tool_at, &[#(#allow),*], &[#(#deny),*], &[#(#schemes),*],
                __secure_tool_problems,
            );
        });
    }
    if f.ident
        && let Some((_, lists)) = &f.args.ident
    {
        let allow = &lists[0];
        checks.push(quote! {
            ::secure_tool::__private::check_ident_field(
                #value, &__secure_tool_at, &[#(#allow),*], __secure_tool_problems,
            );
        });
    }
    if let Some((_, lists)) = &f.args.sql
        && !f.refused
    {
        let allow = &lists[0];
        checks.push(quote! {
            ::secure_tool::__private::check_sql_field(
                #value, &__secure_tool_at, &[#(#allow),*], __secure_tool_problems,
            );
        });
    }
    if f.command
        && let Some((_, lists)) = &f.args.command
    {
        let (programs, options) = (&lists[0], &lists[1]);
        checks.push(quote! {
            ::secure_tool::__private::check_command_field(
                #value, &__secure_tool_at, &[#(#programs),*], &[#(#options),*], __secure_tool_problems,
            );
        });
    }
    if checks.is_empty() {
        return TokenStream::new();
    }
    quote! {
        {
            let __secure_tool_at = #path;
            #(#checks)*
        }
    }
}
