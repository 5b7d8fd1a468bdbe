//! `#[derive(Cacheable)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::args::{Args, duration_tokens};

pub(crate) fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let mut kind = None;
    let mut schema = None;
    let mut ttl = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cacheable"))
    {
        let args: Args = attr.parse_args()?;
        args.check(&["kind", "schema", "ttl"])?;
        kind = args.string("kind")?.or(kind);
        schema = args.u32("schema")?.or(schema);
        ttl = args.duration("ttl")?.or(ttl);
    }
    let name = &input.ident;
    let Some(kind) = kind else {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(Cacheable)] needs #[cacheable(kind = \"...\")] (schema and ttl are optional)",
        ));
    };
    if kind.is_empty() {
        return Err(syn::Error::new_spanned(name, "the cacheable kind is empty"));
    }
    let schema = schema.unwrap_or(1);
    let ttl_fn = ttl.map(|d| {
        let d = duration_tokens(d);
        quote!(fn ttl() -> ::core::option::Option<::std::time::Duration> { ::core::option::Option::Some(#d) })
    });
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::strata::CacheKind for #name #ty_generics #where_clause {
            const KIND: &'static str = #kind;
            const SCHEMA: u32 = #schema;
        }
        impl #impl_generics ::strata::Cacheable for #name #ty_generics #where_clause {
            #ttl_fn
        }
    })
}
