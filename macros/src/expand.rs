//! Phase 3: checked model -> tokens. Nothing here can fail: every rule was checked in
//! `valid`, and everything it needs from the compiler (where the attribute is) comes in
//! as an argument, so each function is tested on its own below.
//!
//! Spans: only a path whose trait bound reports a user's mistake (a missing derive, an
//! unchecked field type, an unsupported return type) takes the user's span, so the error
//! lands on what they wrote. Everything that names `self` or a generated local keeps the
//! expansion's own span: an input or a server stamped out by `macro_rules!` gives its
//! tokens that macro's hygiene, and a local named under it would not be found.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, LitStr};

use crate::ast::{DataAt, Field, Input, Shape, Style};
use crate::attr::{HINTS, LIMITS, LimitValue, ToolArgs};
use crate::valid::{Params, SecuredTool};

/// Where the attribute being expanded is written, as the compiler tells it.
pub struct Site {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// The secured method: same name, keeps `#[tool]`, runs the pipeline around the user's
/// body, which it holds inline. Nothing else: no hidden item per tool.
pub fn secure_tool(tool: &SecuredTool, site: &Site) -> TokenStream {
    let SecuredTool {
        args,
        method: item,
        tool_attr,
        params,
        json_output,
        returns_result,
    } = tool;
    let returns_result = *returns_result;
    let ident = &item.sig.ident;
    let is_async = item.sig.asyncness.is_some();

    // Outer attributes: everything but `#[tool]`, which is rebuilt with the schemas rmcp
    // can no longer infer from the rewritten signature.
    let outer_attrs = item
        .attrs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != tool_attr.index)
        .map(|(_, attr)| attr);
    let decl = declaration(args, &tool_attr.name, params.as_ref(), is_async, site);
    let tool_attr = rebuild_tool_attr(
        &item.attrs[tool_attr.index],
        tool_attr,
        args,
        &decl,
        params.as_ref(),
        json_output.as_ref(),
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
        match params {
            Some(Params {
                index: i,
                ty: params_ty,
                input: input_ty,
            }) if *i == index => {
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

    let input_ty = match params {
        Some(params) => {
            let input = &params.input;
            quote!(#input)
        }
        None => quote!(::secure_tool::__private::NoInput),
    };
    // The run function's `T: SecureInput` bound is what reports a missing derive: its
    // path is spanned on the user's input type, so the error lands there, once.
    let input_span = params
        .as_ref()
        .map_or_else(Span::call_site, |p| p.input.span());
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
    // With `authorize = path`: the author's function, wrapped in an item of its own
    // whose signature is what the pipeline calls, and the run function that calls it.
    // The call is spanned on the path, so a wrong signature is reported there.
    let authorize = args.authorize.as_ref().map(|path| {
        let span = path.span();
        let (verdict, output) = if is_async {
            (
                quote_spanned! {span=> ::secure_tool::__private::verdict },
                quote!(::secure_tool::__private::AuthFuture<'__a>),
            )
        } else {
            (
                quote_spanned! {span=> ::secure_tool::__private::verdict_now },
                quote!(::core::result::Result<(), ::secure_tool::Denied>),
            )
        };
        let call = quote_spanned! {span=> #path(__secure_tool_caller, __secure_tool_input) };
        quote! {
            {
                fn __secure_tool_authorize<'__a>(
                    __secure_tool_input: &'__a #input_ty,
                    __secure_tool_caller: &'__a ::secure_tool::Principal,
                ) -> #output {
                    #verdict(#call)
                }
                __secure_tool_authorize
            },
        }
    });
    let call = if is_async {
        // The body becomes a future that the pipeline's one boxed future holds inline
        // (rmcp's `#[tool]` boxes a bare tool's once too). The never-taken early `return`
        // fixes the future's output to the declared type before the body is checked (as
        // async-trait does), so a wrong `return` or `?` is reported where it is written.
        let run = if authorize.is_some() {
            quote_spanned! {input_span=> ::secure_tool::__private::run_async_authorized::<#input_ty, _, _, _> }
        } else {
            quote_spanned! {input_span=> ::secure_tool::__private::run_async::<#input_ty, _, _, _> }
        };
        quote! {
            #run(
                #security,
                ::core::any::TypeId::of::<Self>(),
                #decl,
                __secure_tool_scope,
                #authorize
                #returns,
                move |__secure_tool_input: #input_ty| {
                    #bind_input
                    async move {
                        if let ::core::option::Option::Some(__secure_tool_output) =
                            ::core::option::Option::None::<#output>
                        {
                            return __secure_tool_output;
                        }
                        #block
                    }
                },
            )
        }
    } else {
        // A closure with the declared return type: `return` in the body leaves the body.
        let run = if authorize.is_some() {
            quote_spanned! {input_span=> ::secure_tool::__private::run_sync_authorized::<#input_ty, _, _> }
        } else {
            quote_spanned! {input_span=> ::secure_tool::__private::run_sync::<#input_ty, _, _> }
        };
        quote! {
            #run(
                #security,
                ::core::any::TypeId::of::<Self>(),
                #decl,
                __secure_tool_scope,
                #authorize
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

/// `#[tool(...)]` with `input_schema` / `output_schema` added unless the user gave them,
/// and the input schema's expression wrapped to register the tool for
/// `Security::manifest()` when rmcp's `<name>_tool_attr()` runs, i.e. when the server's
/// `#[tool_router]` is built.
fn rebuild_tool_attr(
    attr: &syn::Attribute,
    parsed: &crate::ast::ToolAttr,
    args: &ToolArgs,
    decl: &TokenStream,
    params: Option<&Params>,
    json_output: Option<&syn::Type>,
) -> TokenStream {
    let Some(kept) = &parsed.kept else {
        // Not metas: rmcp reports its own error on these tokens.
        return quote!(#attr);
    };
    let path = attr.path();
    let input_ty = match params {
        Some(params) => {
            let input = &params.input;
            quote!(#input)
        }
        None => quote!(::secure_tool::__private::NoInput),
    };
    let register = |schema: &dyn quote::ToTokens| {
        quote!(::secure_tool::__private::register!(#decl, #input_ty, #schema))
    };
    let input_schema = match (&parsed.input_schema, params) {
        (Some(schema), _) => register(schema),
        (None, Some(params)) => {
            let input = &params.input;
            // The bounds through the same autoref pick as the waivers: a type that is no
            // tool input is reported once, by the pipeline's bound.
            register(&quote!(::secure_tool::__private::input_schema::<#input>({
                #[allow(unused_imports)]
                use ::secure_tool::__private::{ViaNoInput as _, ViaToolInput as _};
                (&::secure_tool::__private::OptOutsOf::<#input>::NEW).item_bounds()
            })))
        }
        // An empty object, and no other argument: what the server enforces.
        (None, None) => register(&quote!(::secure_tool::__private::no_input_schema())),
    };
    let output_schema = json_output
        .filter(|_| !parsed.has_output_schema)
        .map(|output_ty| {
            quote!(, output_schema = ::secure_tool::__private::output_schema::<#output_ty>())
        });
    // The hints clients use to ask a human first, unless the author wrote their own.
    let hints: Vec<TokenStream> = HINTS
        .iter()
        .zip(&args.hints)
        .filter(|(_, given)| given.is_some())
        .map(|((key, hint), _)| {
            let hint = format_ident!("{}", hint);
            // Destructive means "not read-only" too: MCP reads `destructiveHint` only then.
            if *key == "destructive" {
                quote!(read_only_hint = false, #hint = true)
            } else {
                quote!(#hint = true)
            }
        })
        .collect();
    let annotations =
        (!hints.is_empty() && !parsed.has_annotations).then(|| quote!(, annotations(#(#hints),*)));
    let meta = match &parsed.meta {
        Some(base) => quote!(::core::option::Option::Some(#base)),
        None => quote!(::core::option::Option::None),
    };
    let pound = attr.pound_token;
    quote! {
        #pound [#path(
            #(#kept,)*
            input_schema = #input_schema #output_schema #annotations,
            meta = ::secure_tool::__private::tool_meta(#decl, #meta)
        )]
    }
}

/// The tool's declaration: `&ToolDecl { .. }`, a constant expression the compiler
/// promotes to a `'static`, written out at both places that need it (the call and the
/// registration) rather than held in a per-tool item.
fn declaration(
    args: &ToolArgs,
    name: &str,
    params: Option<&Params>,
    is_async: bool,
    site: &Site,
) -> TokenStream {
    let scopes = args
        .scope
        .iter()
        .chain(args.scopes.iter())
        .flat_map(|(_, list)| list);
    let public = args.public.is_some();
    let limits = LIMITS.iter().map(|(key, _)| {
        let field = format_ident!("{}", key);
        let value = match args.limit(key).map(|l| l.value) {
            None => quote!(::core::option::Option::None),
            Some(LimitValue::Rate(count, period_ms)) => quote! {
                ::core::option::Option::Some(::secure_tool::__private::Rate {
                    count: #count, period_ms: #period_ms,
                })
            },
            Some(LimitValue::Count(n)) => quote!(::core::option::Option::Some(#n)),
            Some(LimitValue::Millis(ms)) => {
                quote!(::core::option::Option::Some(::secure_tool::__private::Millis(#ms)))
            }
            Some(LimitValue::Bytes(n)) => {
                quote!(::core::option::Option::Some(::secure_tool::__private::Bytes(#n)))
            }
        };
        quote!(#field: #value)
    });
    let input = match params {
        Some(params) => {
            let input = &params.input;
            quote!(#input).to_string().replace(' ', "")
        }
        None => "-".to_owned(),
    };
    let Site { file, line, column } = site;
    quote! {
        &::secure_tool::__private::ToolDecl {
            name: #name,
            scopes: &[#(#scopes),*],
            public: #public,
            limits: ::secure_tool::__private::Limits { #(#limits),* },
            input: #input,
            asynchronous: #is_async,
            site: ::secure_tool::__private::Site {
                module: ::core::module_path!(),
                file: #file,
                line: #line,
                column: #column,
            },
        }
    }
}

/// `impl SecureInput` and `impl InputField` for an audited type.
pub fn secure_input(input: &Input<'_>) -> TokenStream {
    let shape = &input.shape;
    let allow_unknown: Option<&LitStr> = input.args.allow_unknown_fields.as_ref();
    let input = input.item;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let type_name = ident.to_string();

    // The waivers, each with its author's reason, for `opt_outs()` and the manifest.
    let mut opt_outs = Vec::new();
    let mut push_opt_outs = |owner: String, fields: &[Field]| {
        for f in fields {
            let field = format!("{owner}.{}", f.name);
            for (rule, reason) in f.args.waivers() {
                opt_outs.push(quote! {
                    ::secure_tool::OptOut { field: #field, rule: #rule, reason: #reason }
                });
            }
        }
    };
    let all_fields: Vec<&Field> = match shape {
        Shape::Struct { fields, .. } => {
            push_opt_outs(type_name.clone(), fields);
            fields.iter().collect()
        }
        Shape::Enum(variants) => {
            for v in variants {
                push_opt_outs(format!("{type_name}::{}", v.ident), &v.fields);
            }
            variants.iter().flat_map(|v| &v.fields).collect()
        }
        Shape::Union(_) => Vec::new(),
    };
    if let Some(reason) = allow_unknown {
        opt_outs.push(quote! {
            ::secure_tool::OptOut { field: #type_name, rule: "allow_unknown_fields", reason: #reason }
        });
    }

    let checks = match shape {
        Shape::Struct { fields, .. } => {
            let checks = fields.iter().map(|f| {
                let member = &f.member;
                field_checks(
                    f,
                    &quote!(&self.#member),
                    &field_path(f, &quote!(__secure_tool_path)),
                )
            });
            // validator names fields as Rust does: each whose serde name differs (or that
            // is flattened, and so has none) is renamed in validator's problem paths, and
            // problems inside a type that validates itself are left to it.
            let renames = fields.iter().filter(|f| !f.skipped).filter_map(|f| {
                let (name, wire) = (&f.name, if f.flatten { "" } else { &f.wire });
                let nested = f.args.opaque.is_none()
                    && !f.audit.refused
                    && !crate::valid::holds_no_waivers(&f.ty);
                if !nested && name == wire {
                    return None;
                }
                let ty = &f.ty;
                let validates_itself = if nested {
                    quote!(<#ty as ::secure_tool::InputField>::VALIDATES_ITSELF)
                } else {
                    quote!(false)
                };
                Some(quote!((#name, #wire, #validates_itself)))
            });
            // validator's rules (derived for structs only) run first, under this path.
            let run_validate = quote_spanned! {ident.span()=>
                <Self as ::secure_tool::__private::HasValidate>::run_validate
            };
            let validate = quote! {
                ::secure_tool::__private::validated_at(
                    #run_validate(self),
                    __secure_tool_path,
                    &[#(#renames),*],
                    __secure_tool_problems,
                );
            };
            quote!(#validate #(#checks)*)
        }
        Shape::Union(_) => TokenStream::new(),
        Shape::Enum(variants) => {
            let arms = variants.iter().map(|v| {
                let variant = &v.ident;
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
                let at_variant = match &v.data_at {
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
                            field_path(f, &quote!(__secure_tool_variant))
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
        .filter(|f| {
            f.args.opaque.is_none()
                && !f.audit.refused
                && !f.skipped
                && !crate::valid::holds_no_waivers(&f.ty)
        })
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
    // What the audit trail keeps (`audit`) and what nothing may keep (`sensitive`): only
    // struct fields carry either (`valid` refuses them on a variant's).
    let (audit_values, sensitive_values) = trail(shape);
    // A struct runs its own validator rules in `check_field` (an enum has none).
    let validates_itself = matches!(shape, Shape::Struct { .. }).then(|| {
        quote!(
            const VALIDATES_ITSELF: bool = true;
        )
    });
    // Only a struct with named fields has an object schema, as a tool's input needs.
    let object_input = matches!(shape, Shape::Struct { named: true, .. }).then(|| {
        quote! {
            #[automatically_derived]
            impl #impl_generics ::secure_tool::__private::ObjectInput for #ident #ty_generics #where_clause {}
        }
    });
    // `each(length(max = N))` of a struct's own fields, for its input schema.
    let bounds: Vec<_> = match shape {
        Shape::Struct { fields, .. } => fields
            .iter()
            .filter(|f| !f.skipped && !f.flatten)
            .filter_map(|f| {
                let (_, max) = f.args.each.as_ref()?;
                let wire = &f.wire;
                Some(quote!((#wire, #max)))
            })
            .collect(),
        _ => Vec::new(),
    };
    let item_bounds = (!bounds.is_empty()).then(|| {
        quote! {
            fn item_bounds() -> &'static [(&'static str, usize)] {
                &[#(#bounds),*]
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::secure_tool::SecureInput for #ident #ty_generics #where_clause {
            #own_opt_outs
            #audit_values
            #item_bounds
        }

        #[automatically_derived]
        impl #impl_generics ::secure_tool::InputField for #ident #ty_generics #where_clause {
            #validates_itself

            fn check_field(
                &self,
                __secure_tool_path: &::secure_tool::FieldPath<'_>,
                __secure_tool_scan: bool,
                __secure_tool_problems: &mut ::std::vec::Vec<::secure_tool::Problem>,
            ) {
                #checks
            }

            #collect_opt_outs
            #sensitive_values
        }

        #object_input
    }
}

/// `SecureInput::audit_values` and `InputField::sensitive_values` of a struct, each only
/// when it has something to do (the traits' defaults do nothing).
fn trail(shape: &Shape) -> (Option<TokenStream>, Option<TokenStream>) {
    let Shape::Struct { fields, .. } = shape else {
        return (None, None);
    };
    let live = || fields.iter().filter(|f| !f.skipped && !f.audit.refused);
    let audited: Vec<_> = live()
        .filter(|f| f.args.audit.is_some() && f.args.sensitive.is_none())
        .map(|f| {
            let (member, wire, ty) = (&f.member, &f.wire, &f.ty);
            let value = quote_spanned! {ty.span()=> ::secure_tool::__private::audit_value };
            quote!(__secure_tool_out.push((#wire, #value(&self.#member)));)
        })
        .collect();
    let sensitive: Vec<_> = live()
        .filter_map(|f| {
            let (member, ty) = (&f.member, &f.ty);
            if f.args.sensitive.is_some() {
                let strings =
                    quote_spanned! {ty.span()=> ::secure_tool::__private::sensitive_strings };
                Some(quote!(#strings(&self.#member, __secure_tool_out);))
            } else if f.args.opaque.is_none() && !crate::valid::is_leaf(ty) {
                // A nested input may hold sensitive fields of its own. Spanned on the
                // type, as the field's other `InputField` uses: a type that is not one is
                // reported there, once.
                let nested = quote_spanned! {ty.span()=>
                    <#ty as ::secure_tool::InputField>::sensitive_values
                };
                Some(quote!(#nested(&self.#member, __secure_tool_out);))
            } else {
                None
            }
        })
        .collect();
    let audit_values = (!audited.is_empty()).then(|| {
        quote! {
            fn audit_values(
                &self,
                __secure_tool_out: &mut ::std::vec::Vec<(&'static str, ::secure_tool::__private::serde_json::Value)>,
            ) {
                #(#audited)*
            }
        }
    });
    let sensitive_values = (!sensitive.is_empty()).then(|| {
        quote! {
            fn sensitive_values(&self, __secure_tool_out: &mut ::std::vec::Vec<::std::string::String>) {
                #(#sensitive)*
            }
        }
    });
    (audit_values, sensitive_values)
}

/// Where a named field's value sits, under `parent`: under its serde name, or beside its
/// siblings when flattened.
fn field_path(f: &Field, parent: &TokenStream) -> TokenStream {
    if f.flatten {
        quote!(*#parent)
    } else {
        let name = &f.wire;
        quote!(#parent.field(#name))
    }
}

/// The run-time checks of one field: what its type checks (spanned on the type, so a
/// type secure-tool cannot check is reported there), then its annotation's allowlists.
fn field_checks(f: &Field, value: &TokenStream, path: &TokenStream) -> TokenStream {
    let mut checks = Vec::new();
    // A `sql(allow_functions)` field is checked by `check_sql_field` below, in place of
    // the type's own check (which allows the dialect's built-ins only).
    if f.args.opaque.is_none()
        && f.args.sql.is_none()
        && !f.audit.refused
        && !f.skipped
        && !crate::valid::is_plain_scalar(&f.ty)
    {
        let ty = &f.ty;
        let scan = if f.audit.scan_text {
            quote!(__secure_tool_scan)
        } else {
            quote!(false)
        };
        let check = quote_spanned! {ty.span()=> <#ty as ::secure_tool::InputField>::check_field };
        checks.push(quote! {
            #check(#value, &__secure_tool_at, #scan, __secure_tool_problems);
        });
    }
    if f.audit.url {
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
    if let Some((_, max)) = &f.args.each
        && !f.audit.refused
    {
        checks.push(quote! {
            ::secure_tool::__private::check_each_length(
                #value, &__secure_tool_at, #max, __secure_tool_problems,
            );
        });
    }
    if f.audit.ident
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
        && !f.audit.refused
    {
        let allow = &lists[0];
        checks.push(quote! {
            ::secure_tool::__private::check_sql_field(
                #value, &__secure_tool_at, &[#(#allow),*], __secure_tool_problems,
            );
        });
    }
    if f.audit.command
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

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::Site;
    use crate::attr::Errors;

    /// What `#[secure_tool(args)]` on `item` expands to, as text without spaces.
    fn tool(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        let mut errors = Errors::default();
        let tool = crate::ast::Tool::parse(args, item, &mut errors).unwrap();
        let Ok(tool) = crate::valid::tool(tool, &mut errors) else {
            panic!("refused: {}", errors.finish().unwrap_err());
        };
        let site = Site {
            file: "src/files.rs".into(),
            line: 12,
            column: 5,
        };
        let text = super::secure_tool(&tool, &site).to_string();
        text.split_whitespace().collect()
    }

    /// What `#[derive(SecureInput)]` on `item` expands to, as text without spaces.
    fn input(item: proc_macro2::TokenStream) -> String {
        let item: syn::DeriveInput = syn::parse2(item).unwrap();
        let mut errors = Errors::default();
        let mut input = crate::ast::Input::parse(&item, &mut errors);
        crate::valid::input(&mut input, &mut errors);
        if let Err(error) = errors.finish() {
            panic!("refused: {error}");
        }
        let text = super::secure_input(&input).to_string();
        text.split_whitespace().collect()
    }

    #[test]
    fn a_declaration_names_every_field_and_every_limit() {
        let text = tool(
            quote!(
                scopes = ["fs.read", "fs.list"],
                rate = "60/min",
                timeout = "2s",
                max_output = "1KiB"
            ),
            quote! {
                #[tool(description = "Read")]
                async fn read_file(&self, Parameters(args): Parameters<ReadFile>) -> String { args.path }
            },
        );
        for part in [
            "&::secure_tool::__private::ToolDecl{name:\"read_file\",scopes:&[\"fs.read\",\"fs.list\"],public:false,",
            "rate:::core::option::Option::Some(::secure_tool::__private::Rate{count:60u32,period_ms:60000u64,})",
            "burst:::core::option::Option::None",
            "timeout:::core::option::Option::Some(::secure_tool::__private::Millis(2000u64))",
            "max_output:::core::option::Option::Some(::secure_tool::__private::Bytes(1024u64))",
            "input:\"ReadFile\",asynchronous:true,",
            "site:::secure_tool::__private::Site{module:::core::module_path!(),file:\"src/files.rs\",line:12u32,column:5u32,}",
            // Its server type is part of what identifies it.
            "::core::any::TypeId::of::<Self>()",
        ] {
            assert!(text.contains(part), "{part}\nnot in\n{text}");
        }
        // Every limit key is written, declared or not: the runtime's `Limits` has no other.
        for (key, _) in crate::attr::LIMITS {
            assert!(
                text.contains(&format!("{key}:::core::option::Option::")),
                "{key}"
            );
        }
    }

    #[test]
    fn the_tool_attribute_is_rebuilt_from_its_parsed_items() {
        let text = tool(
            quote!(public),
            quote! {
                #[doc = "Ping"]
                #[tool(name = "ping_v2", description = "Ping")]
                fn ping(&self) -> Json<Pong> { todo!() }
            },
        );
        // The name rmcp lists is the declaration's; the schemas rmcp can no longer infer
        // are given; other attributes stay.
        assert!(text.contains("name:\"ping_v2\""), "{text}");
        assert!(text.contains("#[tool(name=\"ping_v2\",description=\"Ping\",input_schema=::secure_tool::__private::register!("), "{text}");
        assert!(
            text.contains("output_schema=::secure_tool::__private::output_schema::<Pong>()"),
            "{text}"
        );
        assert!(text.contains("#[doc=\"Ping\"]"), "{text}");
        assert!(text.contains("asynchronous:false"), "{text}");
        assert!(
            text.contains(
                "::secure_tool::__private::run_sync::<::secure_tool::__private::NoInput,_,_>"
            ),
            "{text}"
        );
    }

    #[test]
    fn problem_paths_are_the_names_serde_reads() {
        let text = input(quote! {
            #[serde(deny_unknown_fields, rename_all = "camelCase")]
            struct Search {
                #[validate(length(max = 10))]
                max_days: String,
                #[serde(rename = "q")]
                #[validate(length(max = 10))]
                search_text: String,
                #[serde(flatten)]
                paging: Paging,
            }
        });
        // validator's Rust names are renamed; the flattened field has no name of its own.
        assert!(
            text.contains("(\"max_days\",\"maxDays\",false),(\"search_text\",\"q\",false),(\"paging\",\"\",<Pagingas::secure_tool::InputField>::VALIDATES_ITSELF)"),
            "{text}"
        );
        assert!(
            text.contains("__secure_tool_path.field(\"maxDays\")"),
            "{text}"
        );
        assert!(
            text.contains("let__secure_tool_at=*__secure_tool_path;"),
            "{text}"
        );
    }

    #[test]
    fn each_variant_is_checked_where_its_tagging_puts_it() {
        let text = input(quote! {
            #[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
            enum Step {
                Wait(Delay),
                #[serde(untagged)]
                Raw(Delay),
            }
        });
        assert!(
            text.contains("let__secure_tool_variant=__secure_tool_path.field(\"data\");"),
            "{text}"
        );
        assert!(
            text.contains("let__secure_tool_variant=*__secure_tool_path;"),
            "{text}"
        );
        let external = input(quote! {
            #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
            enum Step { WaitFor(Delay) }
        });
        assert!(
            external.contains("__secure_tool_path.field(\"WAIT_FOR\")"),
            "{external}"
        );
    }
}
