//! `#[cached]` for async functions.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, ReturnType, Type};

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
    if let Some(args) = generic_args(ty, "Result")
        && let [t, _e] = args.as_slice()
    {
        return Ok(Returns::Result(t.clone()));
    }
    if let Some(args) = generic_args(ty, "Option")
        && let [t] = args.as_slice()
    {
        return Ok(Returns::Option(t.clone()));
    }
    Ok(Returns::Plain((**ty).clone()))
}

/// A `#[cached]` function, parsed: what the attribute asks for and what the function takes
/// and returns.
struct CachedFn {
    /// The function as written, its `#[skip]` markers removed.
    func: ItemFn,
    /// The kind the results are cached under.
    prefix: String,
    ttl: Option<Duration>,
    cache_none: Option<Duration>,
    params: Params,
    returns: Returns,
}

/// The function's parameters: the cache, then the rest, some of which make the key.
struct Params {
    /// Every parameter's name, the cache first.
    all: Vec<Ident>,
    /// The parameters that are part of the key (not the cache, not `#[skip]`).
    key: Vec<Ident>,
}

const FIRST_IS_THE_CACHE: &str =
    "#[cached]: the first argument must be the cache, `&strata::Cache`";

pub(crate) fn expand(args: Args, func: ItemFn) -> syn::Result<TokenStream> {
    let cached = CachedFn::parse(&args, func)?;
    let uncached = cached.uncached_fn();
    let invalidate = cached.invalidate_fn();
    let outer = cached.cached_fn();
    Ok(quote! {
        #uncached
        #invalidate
        #outer
    })
}

impl CachedFn {
    /// Reads the attribute's arguments and the function; errors name what is wrong.
    fn parse(args: &Args, mut func: ItemFn) -> syn::Result<Self> {
        args.check(&["ttl", "prefix", "cache_none"])?;
        if func.sig.asyncness.is_none() {
            return Err(syn::Error::new_spanned(
                func.sig.fn_token,
                "#[cached] works on async functions",
            ));
        }
        let name = &func.sig.ident;
        let prefix = args.string("prefix")?.unwrap_or_else(|| name.to_string());
        if prefix.trim_end_matches(':').is_empty() {
            return Err(syn::Error::new_spanned(
                name,
                "#[cached]: the prefix is empty",
            ));
        }
        let ttl = args.duration("ttl")?;
        let cache_none = args.duration("cache_none")?;
        let params = Params::parse(&mut func)?;
        let returns = classify(&func.sig.output)?;
        if cache_none.is_some() && !matches!(returns, Returns::Option(_)) {
            return Err(syn::Error::new_spanned(
                &func.sig.output,
                "`cache_none` applies to functions returning Option<T>",
            ));
        }
        Ok(Self {
            func,
            prefix,
            ttl,
            cache_none,
            params,
            returns,
        })
    }

    fn name(&self) -> &Ident {
        &self.func.sig.ident
    }

    fn inner_name(&self) -> Ident {
        format_ident!("{}_uncached", self.name())
    }

    /// `{name}_uncached(same arguments)`: the function's own body, always run.
    fn uncached_fn(&self) -> TokenStream {
        let name = self.name();
        let doc = format!("[`{name}`] without the cache: the function's own body, always run.");
        let mut sig = self.func.sig.clone();
        sig.ident = self.inner_name();
        let vis = &self.func.vis;
        let body = &self.func.block;
        quote! {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments, unused_variables)]
            #vis #sig #body
        }
    }

    /// `{name}_invalidate(cache, key arguments)`: drops the cached result for those arguments.
    fn invalidate_fn(&self) -> TokenStream {
        let name = self.name();
        let doc = format!(
            "Drops the cached result of [`{name}`] for these arguments, in both tiers and on every \
             instance; true if the backend held it."
        );
        let mut sig = self.func.sig.clone();
        sig.ident = format_ident!("{}_invalidate", name);
        sig.asyncness = Some(Default::default());
        sig.inputs = self
            .func
            .sig
            .inputs
            .iter()
            .enumerate()
            .filter(|(i, input)| *i == 0 || self.params.is_key(input))
            .map(|(_, input)| input.clone())
            .collect();
        sig.output = syn::parse_quote!(-> ::core::result::Result<bool, ::strata::Error>);
        let vis = &self.func.vis;
        let kind = self.kind_handle();
        let key = self.key_expr();
        quote! {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments)]
            #vis #sig {
                #kind
                let __strata_kind = __strata_kind?;
                let __strata_key = #key?;
                __strata_kind.delete_at(&__strata_key).await
            }
        }
    }

    /// The function itself: the cached call, or the plain one when the key cannot be built.
    fn cached_fn(&self) -> TokenStream {
        let attrs = &self.func.attrs;
        let vis = &self.func.vis;
        let sig = &self.func.sig;
        let kind = self.kind_handle();
        let key = self.lookup_key_expr();
        let call_inner = self.call_inner();
        let options = self.load_options();
        let call = match &self.returns {
            Returns::Result(_) => self.load_result(),
            Returns::Option(_) => self.load_option(),
            Returns::Plain(_) => self.load_plain(),
        };
        quote! {
            #(#attrs)*
            #vis #sig {
                #kind
                let __strata_ready = __strata_kind.and_then(|__strata_kind| {
                    let __strata_key = #key?;
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
        }
    }

    /// Binds `__strata_kind` to the kind handle of the function's results (a `Result`).
    fn kind_handle(&self) -> TokenStream {
        let cache_arg = &self.params.all[0];
        let value_ty = self.returns.value_type();
        let prefix = &self.prefix;
        let ttl = option_tokens(self.ttl.map(duration_tokens));
        quote! {
            let __strata_cache: &::strata::Cache = #cache_arg;
            let __strata_kind = __strata_cache.function_results::<#value_ty>(#prefix, #ttl);
        }
    }

    /// The key of one call: the function's name and its key arguments.
    fn key_expr(&self) -> TokenStream {
        let name_str = self.name().to_string();
        let key_args = &self.params.key;
        if key_args.is_empty() {
            quote!(__strata_kind.key(#name_str))
        } else {
            quote!(__strata_kind.key_serde(&(#name_str, #(&#key_args),*)))
        }
    }

    /// The key a lookup is given: for a function without key arguments its name, an id (an
    /// L1 hit then renders the key into a reused buffer and allocates nothing); else the key.
    fn lookup_key_expr(&self) -> TokenStream {
        if self.params.key.is_empty() {
            let name_str = self.name().to_string();
            quote!(::core::result::Result::<&str, ::strata::Error>::Ok(#name_str))
        } else {
            self.key_expr()
        }
    }

    /// The lookup's method and key argument: `present` values (`get_or_load…`) or optional
    /// ones (`…optional`), by id or by key as [`lookup_key_expr`](Self::lookup_key_expr) made it.
    fn lookup_call(&self, present: bool) -> (TokenStream, TokenStream) {
        let by_id = self.params.key.is_empty();
        let method = match (by_id, present) {
            (true, true) => quote!(get_or_load_with),
            (true, false) => quote!(get_or_load_optional),
            (false, true) => quote!(get_or_load_at),
            (false, false) => quote!(load_optional_at),
        };
        let key = if by_id {
            quote!(__strata_key)
        } else {
            quote!(&__strata_key)
        };
        (method, key)
    }

    fn call_inner(&self) -> TokenStream {
        let inner = self.inner_name();
        let all_args = &self.params.all;
        quote!(#inner(#(#all_args),*))
    }

    fn load_options(&self) -> TokenStream {
        match self.cache_none {
            Some(d) => {
                let d = duration_tokens(d);
                quote!(::strata::LoadOptions::new().cache_none_for(#d))
            }
            None => quote!(::strata::LoadOptions::new()),
        }
    }

    /// `Result<T, E>`: `Ok` is cached, the loader's error returned.
    fn load_result(&self) -> TokenStream {
        let call_inner = self.call_inner();
        let (method, key) = self.lookup_call(true);
        quote! {
            match __strata_kind.#method(#key, &__strata_options, || #call_inner).await {
                ::core::result::Result::Ok(v) => ::core::result::Result::Ok(::std::sync::Arc::unwrap_or_clone(v)),
                ::core::result::Result::Err(::strata::LoadError::Loader(e)) => {
                    ::core::result::Result::Err(::std::sync::Arc::unwrap_or_clone(e))
                }
                ::core::result::Result::Err(_) => #call_inner.await,
            }
        }
    }

    /// `Option<T>`: `Some` is cached, `None` as the options say.
    fn load_option(&self) -> TokenStream {
        let call_inner = self.call_inner();
        let (method, key) = self.lookup_call(false);
        quote! {
            match __strata_kind
                .#method(#key, &__strata_options, || async {
                    ::core::result::Result::Ok::<_, ::std::convert::Infallible>(#call_inner.await)
                })
                .await
            {
                ::core::result::Result::Ok(v) => v.map(::std::sync::Arc::unwrap_or_clone),
                ::core::result::Result::Err(_) => #call_inner.await,
            }
        }
    }

    /// Any other type: always cached.
    fn load_plain(&self) -> TokenStream {
        let call_inner = self.call_inner();
        let (method, key) = self.lookup_call(true);
        quote! {
            match __strata_kind
                .#method(#key, &__strata_options, || async {
                    ::core::result::Result::Ok::<_, ::std::convert::Infallible>(#call_inner.await)
                })
                .await
            {
                ::core::result::Result::Ok(v) => ::std::sync::Arc::unwrap_or_clone(v),
                ::core::result::Result::Err(_) => #call_inner.await,
            }
        }
    }
}

impl Params {
    /// Reads the parameters (the first must be the cache) and drops their `#[skip]` markers.
    fn parse(func: &mut ItemFn) -> syn::Result<Self> {
        let mut all = Vec::new();
        let mut key = Vec::new();
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
                    return Err(syn::Error::new_spanned(&pt.ty, FIRST_IS_THE_CACHE));
                }
            } else if !skip {
                key.push(ident.clone());
            }
            all.push(ident);
        }
        if all.is_empty() {
            return Err(syn::Error::new_spanned(&func.sig, FIRST_IS_THE_CACHE));
        }
        Ok(Self { all, key })
    }

    /// Whether `input` is one of the key's parameters.
    fn is_key(&self, input: &FnArg) -> bool {
        matches!(input, FnArg::Typed(pt)
            if matches!(&*pt.pat, Pat::Ident(id) if self.key.contains(&id.ident)))
    }
}

impl Returns {
    /// The type whose values are cached.
    fn value_type(&self) -> &Type {
        match self {
            Self::Result(t) | Self::Option(t) | Self::Plain(t) => t,
        }
    }
}

/// `Some(tokens)` or `None`, as an expression.
fn option_tokens(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}
