//! Checks of the tree itself: the layering rule of docs/architecture.md, crate docs, lints.

use std::path::{Path, PathBuf};

/// The layers, bottom first. A crate may depend (normal or build dependencies) only on crates
/// that come before it. Crates not yet created are listed so later issues keep the order.
const LAYERS: &[&str] = &[
    "strata-keys",
    "strata-codec",
    "strata-eviction",
    "strata-backend",
    "strata-redis",
    "strata-l1",
    "strata-stats",
    "strata-invalidation",
    // Proc macros only emit `::strata::` paths; the facade re-exports them, so they sit below it.
    "strata-macros",
    "strata",
    "strata-http",
    "strata-cli",
    "strata-testkit",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn crates() -> Vec<(String, PathBuf)> {
    let mut out: Vec<_> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    out
}

fn manifest(dir: &Path) -> toml::Table {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn no_crate_depends_on_a_layer_above_it() {
    let mut violations = Vec::new();
    for (name, dir) in crates() {
        let Some(level) = LAYERS.iter().position(|l| *l == name) else {
            violations.push(format!("{name} is not in the layer list of tidy.rs"));
            continue;
        };
        let m = manifest(&dir);
        for section in ["dependencies", "build-dependencies"] {
            let Some(deps) = m.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for dep in deps.keys().filter(|d| d.starts_with("strata")) {
                match LAYERS.iter().position(|l| l == dep) {
                    Some(dep_level) if dep_level < level => {}
                    _ => violations.push(format!(
                        "{name} [{section}] depends on {dep}, which is not below it"
                    )),
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_crate_documents_itself_and_uses_workspace_lints() {
    let mut problems = Vec::new();
    for (name, dir) in crates() {
        // A library's lib.rs, or a binary-only crate's main.rs.
        let root = ["src/lib.rs", "src/main.rs"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists());
        let text = root
            .map(|p| std::fs::read_to_string(p).unwrap())
            .unwrap_or_default();
        if !text.starts_with("//!") {
            problems.push(format!(
                "{name}: its crate root does not start with a //! summary"
            ));
        }
        let m = manifest(&dir);
        let lints = m
            .get("lints")
            .and_then(|l| l.get("workspace"))
            .and_then(|w| w.as_bool());
        if lints != Some(true) {
            problems.push(format!("{name}: missing [lints] workspace = true"));
        }
        let pkg = m.get("package").and_then(|p| p.as_table()).unwrap();
        if !pkg.contains_key("description") {
            problems.push(format!("{name}: no description"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn internal_crates_are_workspace_dependencies() {
    let root_manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let deps = root_manifest["workspace"]["dependencies"]
        .as_table()
        .unwrap();
    for (name, _) in crates() {
        assert!(
            deps.contains_key(&name),
            "{name} is missing from [workspace.dependencies]"
        );
    }
}
