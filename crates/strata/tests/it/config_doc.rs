//! docs/configuration.md's defaults tables are the code's defaults: each row's default is
//! compared with `CacheConfig::default()` (serialized, so every key is reached by its name) and
//! with `RedisConfig::new(url)`. A default changed in code, or a row for a setting that does
//! not exist, fails here.

use std::time::Duration;

use serde_json::Value;
use strata::{CacheConfig, RedisConfig};

fn doc() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap()
}

/// The (key, default) cells of the table whose header row starts with `header`.
fn table(doc: &str, header: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in doc.lines() {
        if line.starts_with(header) {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells[1].starts_with("---") {
            continue;
        }
        rows.push((cells[1].trim_matches('`').to_owned(), cells[2].to_owned()));
    }
    assert!(!rows.is_empty(), "no table under {header:?}");
    rows
}

/// What a default cell says, in the form the serialized configuration has.
#[derive(Debug, PartialEq)]
enum Said {
    Null,
    Empty,
    Bool(bool),
    Number(f64),
    Text(String),
    Duration(Duration),
}

fn said(cell: &str) -> Said {
    let cell = cell.trim_matches('`');
    for (unit, bytes) in [(" KiB", 1u64 << 10), (" MiB", 1 << 20), (" GiB", 1 << 30)] {
        if let Some(n) = cell.strip_suffix(unit) {
            return Said::Number((n.parse::<u64>().unwrap() * bytes) as f64);
        }
    }
    match cell {
        "none" => Said::Null,
        "empty" => Said::Empty,
        "true" => Said::Bool(true),
        "false" => Said::Bool(false),
        _ => {
            if let Some(text) = cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
                return match humantime::parse_duration(text) {
                    Ok(d) => Said::Duration(d),
                    Err(_) => Said::Text(text.to_owned()),
                };
            }
            Said::Number(cell.parse().unwrap_or_else(|_| panic!("default {cell:?}")))
        }
    }
}

fn actual(value: &Value) -> Said {
    match value {
        Value::Null => Said::Null,
        Value::Bool(b) => Said::Bool(*b),
        Value::Number(n) => Said::Number(n.as_f64().unwrap()),
        Value::Object(m) if m.is_empty() => Said::Empty,
        Value::String(s) => match humantime::parse_duration(s) {
            Ok(d) => Said::Duration(d),
            Err(_) => Said::Text(s.clone()),
        },
        other => panic!("no default form for {other}"),
    }
}

/// `[l1] max_bytes` -> ["l1", "max_bytes"]; `[kinds.<kind>] ttl` -> ["kinds"]; `prefix` -> ["prefix"].
fn path(key: &str) -> Vec<String> {
    if let Some(rest) = key.strip_prefix('[') {
        let (table, field) = rest.split_once(']').unwrap();
        let mut parts: Vec<String> = table.split('.').map(str::to_owned).collect();
        if parts.iter().any(|p| p.starts_with('<')) {
            parts.retain(|p| !p.starts_with('<'));
            return parts;
        }
        let field = field.trim();
        if !field.is_empty() {
            parts.push(field.to_owned());
        }
        return parts;
    }
    vec![key.to_owned()]
}

#[test]
fn the_cache_defaults_table_is_the_code() {
    let defaults = serde_json::to_value(CacheConfig::default()).unwrap();
    let rows = table(&doc(), "| key | default | meaning |");
    let mut documented = std::collections::BTreeSet::new();
    for (key, cell) in &rows {
        let path = path(key);
        let mut value = &defaults;
        for part in &path {
            value = value
                .get(part)
                .unwrap_or_else(|| panic!("{key}: no setting {part:?} in CacheConfig"));
        }
        assert_eq!(said(cell), actual(value), "{key}: the doc says {cell}");
        documented.insert(path[0].clone());
    }
    // Every top-level setting has a row.
    for name in defaults.as_object().unwrap().keys() {
        assert!(
            documented.contains(name),
            "docs/configuration.md has no row for `{name}`"
        );
    }
}

#[test]
fn the_redis_defaults_table_is_the_code() {
    let c = RedisConfig::new("redis://127.0.0.1:6379");
    for (key, cell) in table(&doc(), "| `RedisConfig` field | default | meaning |") {
        let value = match key.as_str() {
            "namespace" => Value::from(c.namespace.clone()),
            "connect_timeout" => {
                Value::from(humantime::format_duration(c.connect_timeout).to_string())
            }
            "operation_timeout" => {
                Value::from(humantime::format_duration(c.operation_timeout).to_string())
            }
            "reconnect_retries" => Value::from(c.reconnect_retries),
            "max_value_bytes" => Value::from(c.max_value_bytes),
            "scan_batch" => Value::from(c.scan_batch),
            "coalesce_reads" => Value::from(c.coalesce_reads),
            other => panic!("RedisConfig has no field {other:?} in this test"),
        };
        assert_eq!(
            said(&cell),
            actual(&value),
            "RedisConfig {key}: the doc says {cell}"
        );
    }
    // The facade and the backend agree where they overlap.
    let facade = CacheConfig::default();
    assert_eq!(facade.operation_timeout, c.operation_timeout);
    assert_eq!(facade.backend.connect_timeout, c.connect_timeout);
    assert_eq!(facade.backend.max_value_bytes, c.max_value_bytes);
    assert_eq!(facade.backend.coalesce_reads, c.coalesce_reads);
}

/// The text of the first ```text block after `marker` in the doc.
fn example_after(doc: &str, marker: &str) -> String {
    let rest = &doc[doc
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in the doc"))..];
    let start = rest.find("```text\n").unwrap() + "```text\n".len();
    let end = start + rest[start..].find("\n```").unwrap();
    rest[start..end].to_owned()
}

#[test]
fn the_documented_errors_are_the_codes() {
    let doc = doc();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, "[l1]\nmax_entrys = 5\n").unwrap();
    let err = CacheConfig::load_from_vars(&path, true, Vec::<(String, String)>::new())
        .unwrap_err()
        .to_string()
        .replace(&path.display().to_string(), "/srv/strata.toml");
    assert_eq!(
        example_after(&doc, "for `[l1] max_entrys = 5` in /srv/strata.toml"),
        err
    );
    std::fs::write(&path, "").unwrap();
    let err = CacheConfig::load_from_vars(&path, true, [("STRATA_L1__MAX_ENTRIES", "many")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        example_after(&doc, "and for `STRATA_L1__MAX_ENTRIES=many`"),
        err
    );
    // The tool switches the doc lists are the ones the loader ignores.
    for name in strata::TOOL_VARIABLES {
        assert!(doc.contains(&format!("`{name}`")), "{name} undocumented");
    }
}

#[test]
fn a_duration_may_be_zero_only_where_the_doc_says_what_zero_means() {
    let rows = table(&doc(), "| key | default | meaning |");
    let mut checked = 0;
    for (key, cell) in &rows {
        if !matches!(said(cell), Said::Duration(_)) {
            continue;
        }
        let path = path(key);
        let (field, tables) = path.split_last().unwrap();
        let toml = if tables.is_empty() {
            format!("{field} = \"0s\"\n")
        } else {
            format!("[{}]\n{field} = \"0s\"\n", tables.join("."))
        };
        let doc = doc();
        let meaning = &doc[doc.find(&format!("| `{key}` |")).unwrap()..];
        let meaning = meaning.lines().next().unwrap();
        match CacheConfig::from_toml_str(&toml) {
            Ok(_) => assert!(
                meaning.contains("0:"),
                "{key} accepts zero: the doc must say what it means: {meaning}"
            ),
            Err(e) => assert!(
                e.to_string().contains(&format!("`{}`", path.join("."))),
                "{key}: {e}"
            ),
        }
        checked += 1;
    }
    assert!(checked >= 8, "{checked} duration rows");
}
