//! The integration-test targets of a package, found the way Cargo finds them.

use std::path::{Path, PathBuf};

/// The integration-test targets of the package in `dir` (paths relative to it): `tests/*.rs`
/// and `tests/*/main.rs` unless `autotests = false`, and every `[[test]]` of its manifest.
pub(crate) fn integration_tests(dir: &Path, manifest: &toml::Table) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let auto = manifest
        .get("package")
        .and_then(|p| p.get("autotests"))
        .and_then(|a| a.as_bool())
        .unwrap_or(true);
    let entries = auto
        .then(|| std::fs::read_dir(dir.join("tests")).ok())
        .flatten();
    for path in entries.into_iter().flatten().map(|e| e.unwrap().path()) {
        let rel = path.strip_prefix(dir).unwrap().to_path_buf();
        if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
            found.push(rel);
        } else if path.join("main.rs").is_file() {
            found.push(rel.join("main.rs"));
        }
    }
    let declared = manifest.get("test").and_then(|t| t.as_array());
    for test in declared.into_iter().flatten() {
        let path = match (test.get("path"), test.get("name")) {
            (Some(path), _) => PathBuf::from(path.as_str().unwrap()),
            (None, Some(name)) => {
                let file = Path::new("tests").join(format!("{}.rs", name.as_str().unwrap()));
                if dir.join(&file).exists() {
                    file
                } else {
                    Path::new("tests")
                        .join(name.as_str().unwrap())
                        .join("main.rs")
                }
            }
            (None, None) => continue,
        };
        if !found.contains(&path) {
            found.push(path);
        }
    }
    found.sort();
    found
}
