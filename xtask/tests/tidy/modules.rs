//! The module graph of a crate, read from its sources with syn: which module's code names
//! which other module, so that import circles can be found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module path inside a crate (`[]` is the crate root).
pub(crate) type ModPath = Vec<String>;

/// One source file and the module it holds.
pub(crate) struct SourceFile {
    pub(crate) path: PathBuf,
    pub(crate) module: ModPath,
    pub(crate) text: String,
}

/// Every `.rs` file under `src` with its module path.
pub(crate) fn source_files(src: &Path) -> Vec<SourceFile> {
    let mut out = Vec::new();
    walk(src, src, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap();
            let mut module: ModPath = rel
                .iter()
                .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            // Binaries' extra roots (src/bin/x.rs) are crates of their own: left out.
            if module.first().is_some_and(|m| m == "bin") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            out.push(SourceFile { path, module, text });
        }
    }
}

/// The modules `file` names (through `use` or a path in code), as absolute module paths
/// (the longest prefix of each path that is a known module).
pub(crate) fn references(file: &SourceFile, known: &BTreeSet<ModPath>) -> BTreeSet<ModPath> {
    let Ok(ast) = syn::parse_file(&file.text) else {
        panic!("{} does not parse", file.path.display());
    };
    let mut refs = References {
        scope: file.module.clone(),
        known,
        found: BTreeSet::new(),
    };
    refs.visit_file(&ast);
    refs.found
}

struct References<'a> {
    /// The module of the code being visited (inline `mod`s included).
    scope: ModPath,
    known: &'a BTreeSet<ModPath>,
    found: BTreeSet<ModPath>,
}

impl References<'_> {
    fn record(&mut self, segments: &[String]) {
        let mut it = segments.iter();
        let mut abs = match it.next().map(String::as_str) {
            Some("crate") => Vec::new(),
            Some("super") => {
                let mut p = self.scope.clone();
                p.pop();
                p
            }
            Some("self") => self.scope.clone(),
            _ => return,
        };
        let mut rest: Vec<&String> = it.collect();
        while rest.first().is_some_and(|s| *s == "super") {
            abs.pop();
            rest.remove(0);
        }
        let mut best = abs.clone();
        for seg in rest {
            abs.push(seg.clone());
            if self.known.contains(&abs) {
                best = abs.clone();
            }
        }
        self.found.insert(best);
    }
}

impl<'ast> Visit<'ast> for References<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.scope.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.scope.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        flatten(&u.tree, &mut Vec::new(), &mut paths);
        for p in paths {
            self.record(&p);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, p);
    }
}

fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut path = prefix.clone();
            if n.ident != "self" {
                path.push(n.ident.to_string());
            }
            out.push(path);
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            path.push(r.ident.to_string());
            out.push(path);
        }
        syn::UseTree::Glob(_) => out.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten(t, prefix, out);
            }
        }
    }
}

/// Import edges between sibling modules (`from -> to` under a common parent), each with a file
/// that makes it: a child naming its parent, or a parent its child, is not an edge.
pub(crate) fn sibling_edges(files: &[SourceFile]) -> BTreeMap<(ModPath, String, String), PathBuf> {
    let known: BTreeSet<ModPath> = files.iter().map(|f| f.module.clone()).collect();
    let mut edges = BTreeMap::new();
    for file in files {
        for target in references(file, &known) {
            let common = file
                .module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common < file.module.len() && common < target.len() {
                let parent = file.module[..common].to_vec();
                let from = file.module[common].clone();
                let to = target[common].clone();
                edges.entry((parent, from, to)).or_insert(file.path.clone());
            }
        }
    }
    edges
}

/// The import circles among siblings: each as the module names around it, under its parent.
pub(crate) fn circles(
    edges: &BTreeMap<(ModPath, String, String), PathBuf>,
) -> Vec<(ModPath, Vec<String>)> {
    let mut by_parent: BTreeMap<&ModPath, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    for (parent, from, to) in edges.keys() {
        by_parent
            .entry(parent)
            .or_default()
            .entry(from.as_str())
            .or_default()
            .push(to.as_str());
    }
    let mut found = BTreeSet::new();
    for (parent, graph) in by_parent {
        let mut done = BTreeSet::new();
        for start in graph.keys() {
            let mut path = Vec::new();
            if let Some(mut cycle) = dfs(start, &graph, &mut path, &mut done) {
                // One circle, whichever module it was found from: start at its least name.
                cycle.pop();
                let least = (0..cycle.len()).min_by_key(|i| &cycle[*i]).unwrap_or(0);
                cycle.rotate_left(least);
                cycle.push(cycle[0].clone());
                found.insert((parent.clone(), cycle));
            }
        }
    }
    found.into_iter().collect()
}

fn dfs<'a>(
    node: &'a str,
    graph: &BTreeMap<&'a str, Vec<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(i) = path.iter().position(|n| *n == node) {
        let mut cycle: Vec<String> = path[i..].iter().map(|s| (*s).to_owned()).collect();
        cycle.push(node.to_owned());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node);
    for next in graph.get(node).into_iter().flatten() {
        if let Some(c) = dfs(next, graph, path, done) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(node);
    None
}
