//! Macros for Strata: `#[derive(Cacheable)]` and `#[cached]` for function results.
//!
//! Use them through the `strata` crate (`strata::Cacheable`, `strata::cached`), which they
//! expand to.
//!
//! # Usage
//!
//! See `strata::cached` and `strata::Cacheable`.
//!
//! # Feature flags
//!
//! None.

mod args;
mod cached;
mod derive;

use proc_macro::TokenStream;

/// Implements `strata::Cacheable`: `#[cacheable(kind = "user", schema = 2, ttl = "24h")]`
/// (`schema` defaults to 1; without `ttl`, the kind's entry of the TTL table applies).
#[proc_macro_derive(Cacheable, attributes(cacheable))]
pub fn derive_cacheable(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Caches the results of an async function, keyed by its arguments.
///
/// ```text
/// #[strata::cached(ttl = "7d", prefix = "industry:")]
/// async fn all_industries(cache: &strata::Cache, #[skip] db: &Db) -> Result<Vec<Industry>, AppError> { ... }
/// ```
///
/// - The first argument is the cache (`&strata::Cache`): the handle is explicit.
/// - The key is the prefix (without `:`) as kind, and the function name plus the other
///   arguments (serde) as id; mark arguments that are not part of the key (pools, clients) with
///   `#[skip]`. Arguments are used twice (key and call), so pass non-`Copy` data by reference.
/// - `ttl` defaults to the TTL table entry of the prefix's kind.
/// - `Result<T, E>`: only `Ok` is cached; concurrent callers share one call and its error
///   (`T: Clone`, `E: Clone + Send + Sync + 'static`). `Option<T>`: `None` is cached for the
///   configured `negative_ttl`, or as long as `cache_none = "5m"` says (`"0s"`: not at all).
///   Any other type: always cached.
/// - When the cache cannot be used, the function runs uncached: caching never breaks it.
/// - Two functions are generated beside it, with its visibility:
///   `{name}_invalidate(cache, key arguments...) -> Result<bool, strata::Error>` drops the
///   cached result for those arguments (both tiers, every instance), and
///   `{name}_uncached(same arguments...)` runs the body without the cache.
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(args as args::Args);
    let func = syn::parse_macro_input!(item as syn::ItemFn);
    cached::expand(args, func)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
