//! How long files and functions are, read with syn (a function: its signature to its closing
//! brace, doc comments not counted).

use std::path::{Path, PathBuf};

use syn::spanned::Spanned;
use syn::visit::Visit;

/// Every `.rs` file under `dir` (none when it does not exist).
pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Each function of `text` with a body, as (name, first line, lines).
pub(crate) fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let ast = syn::parse_file(text).expect("the file parses");
    let mut f = Functions(Vec::new());
    f.visit_file(&ast);
    f.0
}

struct Functions(Vec<(String, usize, usize)>);

impl Functions {
    fn record(&mut self, sig: &syn::Signature, body: &syn::Block) {
        let start = sig.span().start().line;
        let end = body.brace_token.span.close().end().line;
        self.0
            .push((sig.ident.to_string(), start, end.saturating_sub(start) + 1));
    }
}

impl<'ast> Visit<'ast> for Functions {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.record(&f.sig, &f.block);
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.record(&f.sig, &f.block);
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(body) = &f.default {
            self.record(&f.sig, body);
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}
