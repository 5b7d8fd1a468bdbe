//! Parsing of `key = value` attribute arguments.

use std::time::Duration;

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, MetaNameValue, Token};

/// `name = literal` pairs.
pub(crate) struct Args(pub(crate) Vec<(syn::Ident, Lit)>);

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated(input)?;
        let mut out = Vec::new();
        for p in pairs {
            let ident = p
                .path
                .get_ident()
                .cloned()
                .ok_or_else(|| syn::Error::new_spanned(&p.path, "expected a plain name"))?;
            let Expr::Lit(ExprLit { lit, .. }) = p.value else {
                return Err(syn::Error::new_spanned(&p.value, "expected a literal"));
            };
            out.push((ident, lit));
        }
        Ok(Self(out))
    }
}

impl Args {
    /// Fails on names not in `known`.
    pub(crate) fn check(&self, known: &[&str]) -> syn::Result<()> {
        for (ident, _) in &self.0 {
            if !known.iter().any(|k| ident == k) {
                return Err(syn::Error::new_spanned(
                    ident,
                    format!(
                        "unknown argument `{ident}`; expected one of: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Lit> {
        self.0.iter().find(|(i, _)| i == name).map(|(_, l)| l)
    }

    pub(crate) fn string(&self, name: &str) -> syn::Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Lit::Str(s)) => Ok(Some(s.value())),
            Some(other) => Err(syn::Error::new_spanned(
                other,
                format!("`{name}` must be a string"),
            )),
        }
    }

    pub(crate) fn duration(&self, name: &str) -> syn::Result<Option<Duration>> {
        match self.get(name) {
            None => Ok(None),
            Some(Lit::Str(s)) => humantime::parse_duration(&s.value())
                .map(Some)
                .map_err(|e| {
                    syn::Error::new_spanned(
                        s,
                        format!(
                            "`{name}`: {:?} is not a duration like \"24h\" or \"15m\" ({e})",
                            s.value()
                        ),
                    )
                }),
            Some(other) => Err(syn::Error::new_spanned(
                other,
                format!("`{name}` must be a duration string like \"24h\""),
            )),
        }
    }

    pub(crate) fn u32(&self, name: &str) -> syn::Result<Option<u32>> {
        match self.get(name) {
            None => Ok(None),
            Some(Lit::Int(i)) => i.base10_parse().map(Some),
            Some(other) => Err(syn::Error::new_spanned(
                other,
                format!("`{name}` must be an integer"),
            )),
        }
    }
}

/// Tokens for a `Duration` known at compile time.
pub(crate) fn duration_tokens(d: Duration) -> proc_macro2::TokenStream {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    quote::quote!(::std::time::Duration::new(#secs, #nanos))
}
