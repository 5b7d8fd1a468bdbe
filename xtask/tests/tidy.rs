//! Checks of the tree itself: the layering rule of docs/architecture.md, no import circles,
//! small files and functions where the cache's logic lives, one clock, crate docs, lints, one
//! integration-test binary per package.

#[path = "tidy/modules.rs"]
mod modules;
#[path = "tidy/sizes.rs"]
mod sizes;
#[path = "tidy/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

/// The layers, bottom first. A crate may depend (normal or build dependencies) only on crates
/// that come before it. Crates not yet created are listed so later issues keep the order.
const LAYERS: &[&str] = &[
    "strata-keys",
    "strata-codec",
    "strata-eviction",
    "strata-backend",
    // Rules and the bus types: the Redis backend's bus implements `Bus`.
    "strata-invalidation",
    "strata-redis",
    "strata-l1",
    "strata-stats",
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
        // A published crate says what crates.io and docs.rs need.
        let published = pkg.get("publish").and_then(|p| p.as_bool()) != Some(false);
        if published {
            for field in ["license", "repository", "readme", "keywords", "categories"] {
                if !pkg.contains_key(field) {
                    problems.push(format!("{name}: published without `{field}`"));
                }
            }
            let docs_rs = pkg
                .get("metadata")
                .and_then(|m| m.get("docs"))
                .and_then(|d| d.get("rs"))
                .and_then(|r| r.get("all-features"))
                .and_then(|a| a.as_bool());
            if docs_rs != Some(true) {
                problems.push(format!(
                    "{name}: published without [package.metadata.docs.rs] all-features = true"
                ));
            }
            // A published crate cannot need the unpublished testkit outside its tests.
            let deps = m.get("dependencies").and_then(|d| d.as_table());
            if deps.is_some_and(|d| d.contains_key("strata-testkit")) {
                problems.push(format!("{name}: depends on the unpublished testkit"));
            }
        }
    }
    let workspace = manifest(&root());
    let testkit = &workspace["workspace"]["dependencies"]["strata-testkit"];
    if testkit.get("version").is_some() {
        problems.push(
            "[workspace.dependencies] strata-testkit has a version: `cargo package` would look \
             for the unpublished testkit on crates.io"
                .to_owned(),
        );
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

#[test]
fn no_crate_has_an_import_circle_among_its_modules() {
    let mut problems = Vec::new();
    for (name, dir) in crates() {
        let files = modules::source_files(&dir.join("src"));
        let edges = modules::sibling_edges(&files);
        for (parent, cycle) in modules::circles(&edges) {
            let at = if parent.is_empty() {
                "the crate root".to_owned()
            } else {
                parent.join("::")
            };
            let witnesses: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    let file = &edges[&(parent.clone(), w[0].clone(), w[1].clone())];
                    format!("{} -> {} ({})", w[0], w[1], file.display())
                })
                .collect();
            problems.push(format!(
                "{name}: modules under {at} import each other in a circle: {}",
                witnesses.join(", ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Integration-test targets that may stay binaries of their own: the trybuild harness, which
/// compiles `tests/ui/` and checks the errors.
const OWN_TEST_BINARIES: &[&str] = &["crates/strata/tests/compile_errors.rs"];

#[test]
fn every_package_links_at_most_one_integration_test_binary() {
    let workspace = manifest(&root());
    let members = workspace["workspace"]["members"].as_array().unwrap();
    let mut problems = Vec::new();
    for member in members.iter().map(|m| m.as_str().unwrap()) {
        let dir = root().join(member);
        let binaries: Vec<String> = targets::integration_tests(&dir, &manifest(&dir))
            .into_iter()
            .map(|t| format!("{member}/{}", t.display()))
            .filter(|t| !OWN_TEST_BINARIES.contains(&t.as_str()))
            .collect();
        if binaries.len() > 1 {
            problems.push(format!(
                "{member} links {} integration-test binaries ({}): make them modules of one \
                 tests/it/main.rs",
                binaries.len(),
                binaries.join(", ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The crates that hold the cache's logic: no `too_many_arguments` exemption, one clock.
const KEPT_SMALL: &[&str] = &["strata", "strata-redis", "strata-backend"];
const MAX_FILE_LINES: usize = 500;
const MAX_FN_LINES: usize = 80;

fn kept_small_files() -> Vec<modules::SourceFile> {
    crates()
        .into_iter()
        .filter(|(name, _)| KEPT_SMALL.contains(&name.as_str()))
        .flat_map(|(_, dir)| modules::source_files(&dir.join("src")))
        .collect()
}

/// The directory of every member of the workspace: the crates, the demo, the benches, xtask.
fn workspace_members() -> Vec<PathBuf> {
    let workspace = manifest(&root());
    let members = workspace["workspace"]["members"].as_array().unwrap();
    members
        .iter()
        .map(|m| root().join(m.as_str().unwrap()))
        .collect()
}

/// The code of every workspace member: its library and binaries, its benches and examples
/// (tests are left to the test files' own layout).
fn workspace_code_files() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = workspace_members()
        .iter()
        .flat_map(|dir| ["src", "benches", "examples"].map(|d| dir.join(d)))
        .flat_map(|dir| sizes::rust_files(&dir))
        .collect();
    out.sort();
    out
}

/// What in `text` (read from `path`) is over the size limits.
fn size_problems(path: &Path, text: &str) -> Vec<String> {
    let root = root();
    let path = path.strip_prefix(&root).unwrap_or(path);
    let mut problems = Vec::new();
    let lines = text.lines().count();
    if lines > MAX_FILE_LINES {
        problems.push(format!(
            "{}: {lines} lines (at most {MAX_FILE_LINES})",
            path.display()
        ));
    }
    for (name, line, len) in sizes::functions(text) {
        if len > MAX_FN_LINES {
            problems.push(format!(
                "{}:{line}: fn {name} is {len} lines (at most {MAX_FN_LINES})",
                path.display()
            ));
        }
    }
    problems
}

#[test]
fn files_and_functions_stay_small() {
    let files = workspace_code_files();
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("examples/payshift/src/main.rs"))
            && files.iter().any(|f| f.ends_with("xtask/src/main.rs"))
            && files
                .iter()
                .any(|f| f.ends_with("strata-macros/src/cached.rs")),
        "the size check no longer reads the whole workspace: {files:?}"
    );
    let problems: Vec<String> = files
        .iter()
        .flat_map(|path| size_problems(path, &std::fs::read_to_string(path).unwrap()))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_function_takes_too_many_arguments_by_exemption() {
    let offenders: Vec<String> = kept_small_files()
        .into_iter()
        .filter(|f| f.text.contains("too_many_arguments"))
        .map(|f| f.path.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "allow(clippy::too_many_arguments) in: {offenders:?} (pass one value instead)"
    );
}

#[test]
fn the_wall_clock_is_read_only_by_the_clock() {
    let clock = Path::new("strata-backend/src/clock.rs");
    let offenders: Vec<String> = kept_small_files()
        .into_iter()
        .filter(|f| !f.path.ends_with(clock) && f.text.contains("SystemTime::now"))
        .map(|f| f.path.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "SystemTime::now() outside strata_backend::Clock: {offenders:?}"
    );
}

#[test]
fn the_module_checks_find_what_they_look_for() {
    // A circle between two siblings, through `use` and through a path in code.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    std::fs::write(
        src.join("b.rs"),
        "pub struct B;\nfn f() -> crate::a::A { crate::a::A }\n#[cfg(test)]\nmod tests { use super::*; }\n",
    )
    .unwrap();
    let files = modules::source_files(src);
    let circles = modules::circles(&modules::sibling_edges(&files));
    assert_eq!(circles.len(), 1, "{circles:?}");
    std::fs::write(src.join("b.rs"), "pub struct B;\n").unwrap();
    let files = modules::source_files(src);
    assert!(modules::circles(&modules::sibling_edges(&files)).is_empty());
    let long = format!("fn f() {{\n{}}}\n", "    let _ = 1;\n".repeat(90));
    assert_eq!(sizes::functions(&long), vec![("f".to_owned(), 1, 92)]);
    assert_eq!(size_problems(Path::new("x.rs"), &long).len(), 1);
    let short = format!("fn f() {{\n{}}}\n", "    let _ = 1;\n".repeat(78));
    assert!(size_problems(Path::new("x.rs"), &short).is_empty());
    let many = "fn f() {}\n".repeat(MAX_FILE_LINES + 1);
    assert_eq!(size_problems(Path::new("x.rs"), &many).len(), 1);
    // Every .rs file under a directory, nested ones too.
    std::fs::create_dir(src.join("nested")).unwrap();
    std::fs::write(src.join("nested/c.rs"), "").unwrap();
    std::fs::write(src.join("notes.txt"), "").unwrap();
    assert_eq!(sizes::rust_files(src).len(), 4);
}

#[test]
fn the_test_target_check_finds_what_it_looks_for() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path();
    let tests = pkg.join("tests");
    std::fs::create_dir_all(tests.join("it")).unwrap();
    std::fs::create_dir_all(tests.join("helpers")).unwrap();
    std::fs::create_dir_all(pkg.join("extra")).unwrap();
    for file in [
        "a.rs",
        "it/main.rs",
        "it/b.rs",
        "helpers/mod.rs",
        "data.txt",
    ] {
        std::fs::write(tests.join(file), "").unwrap();
    }
    std::fs::write(pkg.join("extra/x.rs"), "").unwrap();
    let declared = "[[test]]\nname = \"x\"\npath = \"extra/x.rs\"\n[[test]]\nname = \"a\"\n";
    let found = targets::integration_tests(pkg, &declared.parse().unwrap());
    let paths = ["extra/x.rs", "tests/a.rs", "tests/it/main.rs"].map(PathBuf::from);
    assert_eq!(found, paths, "a declared auto target counts once");
    let manual = format!("[package]\nautotests = false\n{declared}");
    let found = targets::integration_tests(pkg, &manual.parse().unwrap());
    assert_eq!(found, [&paths[0], &paths[1]].map(PathBuf::from));
    std::fs::remove_file(tests.join("a.rs")).unwrap();
    let found = targets::integration_tests(pkg, &toml::Table::new());
    assert_eq!(found, [PathBuf::from("tests/it/main.rs")]);
}
