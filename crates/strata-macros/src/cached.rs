//! `#[cached]` for async functions.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type};

use crate::args::{Args, duration_tokens};

/// What the function returns, which decides what is cached.
enum Returns {
    /// `Result<T, E>`: only `Ok` is cached; loader errors are returned (E: Clone).
    Result(Type),
    /// `Option<T>`: `Some` is cached; `None` only with `cache_none`.
    Option(Type),
    /// Anything else: always cached.
    Plain(Type),
}

fn generic_args(ty: &Type, name: &str) -> Option<Vec<Type>> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &seg.arguments else {
        return None;
    };
    Some(
        a.args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t.clone()),
                _ => None,
            })
            .collect(),
    )
}

fn classify(ret: &ReturnType) -> syn::Result<Returns> {
    let ReturnType::Type(_, ty) = ret else {
        return Err(syn::Error::new_spanned(
            ret,
            "#[cached] functions must return a value to cache",
        ));
    };
    if let Some(args) = generic_args(ty, "Result") {
        if let [t, _e] = args.as_slice() {
            return Ok(Returns::Result(t.clone()));
        }
    }
    if let Some(args) = generic_args(ty, "Option") {
        if let [t] = args.as_slice() {
            return Ok(Returns::Option(t.clone()));
        }
    }
    Ok(Returns::Plain((**ty).clone()))
}

pub(crate) fn expand(args: Args, mut func: ItemFn) -> syn::Result<TokenStream> {
    args.check(&["ttl", "prefix", "cache_none"])?;
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            "#[cached] works on async functions",
        ));
    }
    let name = sig.ident.clone();
    let prefix = args.string("prefix")?.unwrap_or_else(|| name.to_string());
    if prefix.trim_end_matches(':').is_empty() {
        return Err(syn::Error::new_spanned(
            &name,
            "#[cached]: the prefix is empty",
        ));
    }
    let ttl = match args.duration("ttl")? {
        Some(d) => {
            let d = duration_tokens(d);
            quote!(::core::option::Option::Some(#d))
        }
        None => quote!(::core::option::Option::None),
    };
    let cache_none = args.duration("cache_none")?;

    // Parameters: the first is the cache; the rest are key parts unless marked #[skip].
    let mut all_args = Vec::new();
    let mut key_args = Vec::new();
    for (i, input) in func.sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(pt) = input else {
            return Err(syn::Error::new_spanned(
                input,
                "#[cached] works on free functions, not methods: pass the data as arguments",
            ));
        };
        let skip = pt.attrs.iter().any(|a| a.path().is_ident("skip"));
        pt.attrs.retain(|a| !a.path().is_ident("skip"));
        let Pat::Ident(ident) = &*pt.pat else {
            return Err(syn::Error::new_spanned(
                &pt.pat,
                "#[cached] needs plain argument names",
            ));
        };
        let ident = ident.ident.clone();
        if i == 0 {
            if !matches!(&*pt.ty, Type::Reference(_)) {
                return Err(syn::Error::new_spanned(
                    &pt.ty,
                    "#[cached]: the first argument must be the cache, `&strata::Cache`",
                ));
            }
        } else if !skip {
            key_args.push(ident.clone());
        }
        all_args.push(ident);
    }
    let Some(cache_arg) = all_args.first().cloned() else {
        return Err(syn::Error::new_spanned(
            &func.sig,
            "#[cached]: the first argument must be the cache, `&strata::Cache`",
        ));
    };
    let returns = classify(&func.sig.output)?;
    if cache_none.is_some() && !matches!(returns, Returns::Option(_)) {
        return Err(syn::Error::new_spanned(
            &func.sig.output,
            "`cache_none` applies to functions returning Option<T>",
        ));
    }

    let inner = format_ident!("{}_uncached", name);
    let invalidate = format_ident!("{}_invalidate", name);
    let mut inner_sig = func.sig.clone();
    inner_sig.ident = inner.clone();
    let body = &func.block;
    let attrs = &func.attrs;
    let vis = &func.vis;
    let outer_sig = &func.sig;
    let name_str = name.to_string();
    let key_expr = if key_args.is_empty() {
        quote!(__strata_kind.key(#name_str))
    } else {
        quote!(__strata_kind.key_serde(&(#name_str, #(&#key_args),*)))
    };
    // `{name}_invalidate(cache, key arguments)`: the cache and the arguments that make the key.
    let mut invalidate_sig = func.sig.clone();
    invalidate_sig.ident = invalidate.clone();
    invalidate_sig.asyncness = Some(Default::default());
    invalidate_sig.inputs = func
        .sig
        .inputs
        .iter()
        .enumerate()
        .filter(|(i, input)| {
            *i == 0
                || matches!(input, FnArg::Typed(pt) if matches!(&*pt.pat, Pat::Ident(id) if key_args.contains(&id.ident)))
        })
        .map(|(_, input)| input.clone())
        .collect();
    invalidate_sig.output = syn::parse_quote!(-> ::core::result::Result<bool, ::strata::Error>);
    let uncached_doc =
        format!("[`{name}`] without the cache: the function's own body, always run.");
    let invalidate_doc = format!(
        "Drops the cached result of [`{name}`] for these arguments, in both tiers and on every \
         instance; true if the backend held it."
    );
    let call_inner = quote!(#inner(#(#all_args),*));
    let options = match cache_none {
        Some(d) => {
            let d = duration_tokens(d);
            quote!(::strata::LoadOptions::new().cache_none_for(#d))
        }
        None => quote!(::strata::LoadOptions::new()),
    };
    let (value_ty, call) = match &returns {
        Returns::Result(t) => (
            t,
            quote! {
                match __strata_kind.get_or_load_at(&__strata_key, &__strata_options, || #call_inner).await {
                    ::core::result::Result::Ok(v) => ::core::result::Result::Ok(::std::sync::Arc::unwrap_or_clone(v)),
                    ::core::result::Result::Err(::strata::LoadError::Loader(e)) => {
                        ::core::result::Result::Err(::std::sync::Arc::unwrap_or_clone(e))
                    }
                    ::core::result::Result::Err(_) => #call_inner.await,
                }
            },
        ),
        Returns::Option(t) => (
            t,
            quote! {
                match __strata_kind
                    .load_optional_at(&__strata_key, &__strata_options, || async {
                        ::core::result::Result::Ok::<_, ::std::convert::Infallible>(#call_inner.await)
                    })
                    .await
                {
                    ::core::result::Result::Ok(v) => v.map(::std::sync::Arc::unwrap_or_clone),
                    ::core::result::Result::Err(_) => #call_inner.await,
                }
            },
        ),
        Returns::Plain(t) => (
            t,
            quote! {
                match __strata_kind
                    .get_or_load_at(&__strata_key, &__strata_options, || async {
                        ::core::result::Result::Ok::<_, ::std::convert::Infallible>(#call_inner.await)
                    })
                    .await
                {
                    ::core::result::Result::Ok(v) => ::std::sync::Arc::unwrap_or_clone(v),
                    ::core::result::Result::Err(_) => #call_inner.await,
                }
            },
        ),
    };
    Ok(quote! {
        #[doc = #uncached_doc]
        #[allow(clippy::too_many_arguments, unused_variables)]
        #vis #inner_sig #body

        #[doc = #invalidate_doc]
        #[allow(clippy::too_many_arguments)]
        #vis #invalidate_sig {
            let __strata_cache: &::strata::Cache = #cache_arg;
            let __strata_kind = __strata_cache.function_results::<#value_ty>(#prefix, #ttl)?;
            let __strata_key = #key_expr?;
            __strata_kind.delete_at(&__strata_key).await
        }

        #(#attrs)*
        #vis #outer_sig {
            let __strata_cache: &::strata::Cache = #cache_arg;
            let __strata_ready = __strata_cache
                .function_results::<#value_ty>(#prefix, #ttl)
                .and_then(|__strata_kind| {
                    let __strata_key = #key_expr?;
                    ::core::result::Result::Ok((__strata_kind, __strata_key))
                });
            let (__strata_kind, __strata_key) = match __strata_ready {
                ::core::result::Result::Ok(ready) => ready,
                // The key cannot be built (an unusable prefix): run uncached rather than fail.
                ::core::result::Result::Err(_) => return #call_inner.await,
            };
            let __strata_options = #options;
            #call
        }
    })
}
