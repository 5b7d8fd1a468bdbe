//! docs/wire-format.md is enough to interoperate: its Python companion (docs/examples/
//! strata_wire.py, needing only the `msgpack` package) reads entries and builds keys exactly as
//! the Rust crates do, and Rust reads what Python writes.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use serde::{Deserialize, Serialize};
use strata_codec::{Codec, EntryMeta, JsonCodec, MsgPackCodec, TagVersion, peek};
use strata_keys::KeySpace;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/strata_wire.py")
}

/// Python with msgpack, or a skip line (the test asserts nothing without it).
fn python() -> Option<&'static str> {
    let ok = Command::new("python3")
        .args(["-c", "import msgpack"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED python interop: python3 with the msgpack package is not available (pip install msgpack)"
        );
    }
    ok.then_some("python3")
}

fn run(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(script())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end_matches('\n')
        .to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    skills: Vec<String>,
    rate: Option<f64>,
}

fn user() -> User {
    User {
        id: 42,
        name: "Ada Lövelace".into(),
        skills: vec!["rust".into(), "redis".into()],
        rate: Some(55.5),
    }
}

#[test]
fn python_decodes_every_kind_of_entry_rust_writes() {
    if python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let meta = EntryMeta::new(1_700_000_000_000, 60_000, 3);
    let big: Vec<User> = (0..200).map(|i| User { id: i, ..user() }).collect();
    let cases: Vec<(&str, bytes::Bytes, serde_json::Value)> = vec![
        (
            "plain",
            MsgPackCodec::default()
                .encode(&meta, Some(&user()))
                .unwrap(),
            serde_json::to_value(user()).unwrap(),
        ),
        (
            "compressed",
            MsgPackCodec::default().encode(&meta, Some(&big)).unwrap(),
            serde_json::to_value(&big).unwrap(),
        ),
        (
            "absent",
            MsgPackCodec::default().encode::<User>(&meta, None).unwrap(),
            serde_json::Value::Null,
        ),
        (
            "json",
            JsonCodec::default().encode(&meta, Some(&user())).unwrap(),
            serde_json::to_value(user()).unwrap(),
        ),
        (
            "tagged",
            MsgPackCodec::default()
                .encode_tagged(
                    &meta.with_generation(1_764_000_000_000_000),
                    &[TagVersion::new("user:42", 7), TagVersion::new("team:1", 0)],
                    Some(&big),
                )
                .unwrap(),
            serde_json::to_value(&big).unwrap(),
        ),
        (
            "tagged-json",
            JsonCodec::default()
                .encode_tagged(
                    &meta.with_generation(1_764_000_000_000_000),
                    &[TagVersion::new("user:42", 7), TagVersion::new("team:1", 0)],
                    Some(&user()),
                )
                .unwrap(),
            serde_json::to_value(user()).unwrap(),
        ),
    ];
    assert!(
        peek(&cases[1].1).unwrap().flags.compressed(),
        "the list case exercises lz4"
    );
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let got: serde_json::Value =
            serde_json::from_str(&run(&["decode", path.to_str().unwrap()])).unwrap();
        assert_eq!(got["payload"], want, "{name}");
        assert_eq!(got["meta"]["created_at_ms"], 1_700_000_000_000u64, "{name}");
        assert_eq!(got["meta"]["expires_at_ms"], 1_700_000_060_000u64, "{name}");
        assert_eq!(got["meta"]["schema"], 3, "{name}");
        assert_eq!(got["flags"], u64::from(bytes[3]), "{name}");
        if name.starts_with("tagged") {
            assert_eq!(
                got["meta"]["generation"], 1_764_000_000_000_000u64,
                "{name}"
            );
            assert_eq!(
                got["meta"]["tags"],
                serde_json::json!([["user:42", 7], ["team:1", 0]]),
                "{name}"
            );
        } else {
            assert_eq!(got["meta"]["generation"], 0, "{name}");
        }
    }
}

#[test]
fn rust_decodes_what_python_writes() {
    if python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("from-python");
    let json = serde_json::to_string(&user()).unwrap();
    run(&[
        "encode",
        &json,
        "1700000000000",
        "900000",
        "2",
        path.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&path).unwrap();
    let env = MsgPackCodec::default()
        .decode::<User>(&bytes, Some(2))
        .unwrap();
    assert_eq!(env.value, Some(user()));
    assert_eq!(env.meta, EntryMeta::new(1_700_000_000_000, 900_000, 2));
}

#[test]
fn python_builds_the_same_keys() {
    if python().is_none() {
        return;
    }
    let space = KeySpace::new("pay:shift", "v3").unwrap();
    let cases: [(&str, &str, u32, u64, bool); 7] = [
        ("user", "42", 2, 0, false),
        ("a:b", "c", 1, 0, false),
        ("job", "b:c#1{x}%", 1, 7, true),
        ("whoami", "has space", 1, 0, false),
        ("whoami", "tab\there", 1, 0, false),
        ("ünï", "ünïcode", 1, 0, false),
        ("job", &"x".repeat(250), 1, 0, false),
    ];
    for (kind, id, schema, generation, tagged) in cases {
        let rust = space
            .kind(kind)
            .unwrap()
            .with_schema(schema)
            .with_generation(generation)
            .with_hash_tag(tagged)
            .key(id)
            .unwrap();
        let mut args = vec!["key", "pay:shift", "v3", kind];
        let schema_s = schema.to_string();
        let gen_s = generation.to_string();
        args.extend([schema_s.as_str(), id, gen_s.as_str()]);
        if tagged {
            args.push("--hash-tag");
        }
        assert_eq!(run(&args), rust.as_str(), "kind {kind:?} id {id:?}");
    }
}

/// A cache with prefix `pay` on `server`, and a plain connection to read what it wrote.
async fn cache_and_connection(
    server: &strata_testkit::RedisServer,
    app_version: &str,
) -> (strata::Cache, redis::aio::MultiplexedConnection) {
    let config = strata::CacheConfig::from_toml_str(&format!(
        "prefix = \"pay\"\napp_version = \"{app_version}\"\nmetrics = false\n[backend]\nurl = \"{}\"",
        server.url()
    ))
    .unwrap();
    let cache = strata::CacheBuilder::from_config(config)
        .build()
        .await
        .unwrap();
    let redis = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    (cache, redis)
}

/// The doc's names for a lease and a schema registry are the ones Strata uses on Redis: a
/// Python writer that follows it drops the lease of a load in flight (whose value is then not
/// stored) and finds the schema an instance registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_names_the_lease_and_the_registry_as_redis_holds_them() {
    if python().is_none() {
        return;
    }
    let Some(server) = strata_testkit::redis_or_skip("python lease names") else {
        return;
    };
    let (cache, mut redis) = cache_and_connection(&server, "v3").await;
    let users = cache.kind::<String>("user").unwrap().with_schema(2);
    users.set(42, "Ada".into()).await.unwrap();
    let registry = run(&["registry", "pay", "v3", "user"]);
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg(&registry)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(members, ["2"], "{registry}");

    // A load in flight holds the lease the doc names; a writer that follows the doc wins.
    let key = users.key(7).unwrap();
    let lease = run(&["lease", "pay", key.as_str()]);
    let loading = {
        let users = users.clone();
        tokio::spawn(async move {
            users
                .get_or_load(7, || async {
                    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
                    Ok::<_, String>("loaded before the write".to_string())
                })
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let held: u64 = redis::cmd("EXISTS")
        .arg(&lease)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(held, 1, "{lease} is held during the load");
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("SET")
        .arg(key.as_str())
        .arg(b"written by python".as_slice())
        .arg("PX")
        .arg(60_000)
        .cmd("UNLINK")
        .arg(&lease);
    let _: () = pipe.query_async(&mut redis).await.unwrap();
    loading.await.unwrap().unwrap();
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(key.as_str())
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        stored, b"written by python",
        "the load did not store over the write"
    );
}

/// A response-cache payload as wire-format.md 4.2 lays it out.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredResponse {
    status: u16,
    headers: Vec<(String, String)>,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    etag: String,
}

/// What a writer following wire-format.md writes — a plain entry, a tagged one and a
/// response-cache entry, each with the current counters, its lease dropped and its schema
/// registered in one transaction — is read back by the facade, and a tag invalidation reaches
/// the tagged one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facade_reads_entries_written_the_way_the_doc_says() {
    if python().is_none() {
        return;
    }
    let Some(server) = strata_testkit::redis_or_skip("python writes by the doc") else {
        return;
    };
    let (cache, mut redis) = cache_and_connection(&server, "v1").await;
    let now_ms = strata_backend::wall_clock_ms();
    // current_counter: SET NX with the time in µs, then GET.
    let mut counter = async |name: &str| -> u64 {
        let key = run(&["counter-key", "pay", "v1", name]);
        let _: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(now_ms * 1000)
            .arg("NX")
            .query_async(&mut redis)
            .await
            .unwrap();
        let value: String = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        value.parse().unwrap()
    };
    let user_gen = counter("kind:user").await;
    let whoami_gen = counter("kind:whoami").await;
    let tag = counter("tag:user:42").await;
    let listing_gen = counter("kind:api.alljobs").await;

    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (created, ttl) = (now_ms.to_string(), "600000".to_owned());
    let plain = run(&[
        "entry",
        "pay",
        "v1",
        "user",
        "1",
        "42",
        r#"{"name": "Ada"}"#,
        &created,
        &ttl,
        &user_gen.to_string(),
        "[]",
        &file("plain"),
    ]);
    let tagged = run(&[
        "entry",
        "pay",
        "v1",
        "whoami",
        "1",
        "42",
        r#"{"name": "Ada", "jobs": 3}"#,
        &created,
        &ttl,
        &whoami_gen.to_string(),
        &format!(r#"[["user:42", {tag}]]"#),
        &file("tagged"),
    ]);
    let response = run(&[
        "response",
        "pay",
        "v1",
        "alljobs",
        "/jobs/alljobs",
        r#"[["page", "2"]]"#,
        r#"{"jobs": []}"#,
        &created,
        &ttl,
        &listing_gen.to_string(),
        &file("response"),
    ]);
    for (key, name, kind) in [
        (&plain, "plain", "user"),
        (&tagged, "tagged", "whoami"),
        (&response, "response", "api.alljobs"),
    ] {
        let lease = run(&["lease", "pay", key]);
        let registry = run(&["registry", "pay", "v1", kind]);
        let mut tx = redis::pipe();
        tx.atomic()
            .cmd("SET")
            .arg(key.as_str())
            .arg(std::fs::read(file(name)).unwrap())
            .arg("PX")
            .arg(600_000)
            .cmd("UNLINK")
            .arg(&lease)
            .cmd("SADD")
            .arg(&registry)
            .arg("1");
        let _: () = tx.query_async(&mut redis).await.unwrap();
    }

    #[derive(Debug, PartialEq, Deserialize, Serialize, Clone)]
    struct Whoami {
        name: String,
        jobs: u32,
    }
    let users = cache.kind::<serde_json::Value>("user").unwrap();
    assert_eq!(
        users.get(42).await.unwrap().as_deref(),
        Some(&serde_json::json!({"name": "Ada"}))
    );
    let whoami = cache.kind::<Whoami>("whoami").unwrap();
    assert_eq!(
        whoami.get(42).await.unwrap().as_deref(),
        Some(&Whoami {
            name: "Ada".into(),
            jobs: 3
        })
    );
    let listing = strata::ResponseKind::new("alljobs").unwrap();
    let responses = cache.responses::<StoredResponse>(&listing, std::time::Duration::from_secs(60));
    let stored = responses
        .get("/jobs/alljobs?page=2")
        .await
        .unwrap()
        .expect("the response entry");
    assert_eq!(
        (stored.status, stored.body.as_slice()),
        (200, br#"{"jobs": []}"#.as_slice())
    );
    assert_eq!(
        stored.headers,
        [("content-type".to_owned(), "application/json".to_owned())]
    );
    assert!(
        stored.etag.starts_with('"') && stored.etag.len() == 26,
        "{}",
        stored.etag
    );

    // The tag the entry carries reaches it: invalidating it makes the Python-written whoami a
    // miss on this instance, as it would on every other.
    cache.invalidate_tag("user:42").await.unwrap();
    assert_eq!(whoami.get(42).await.unwrap(), None);
    assert!(
        users.get(42).await.unwrap().is_some(),
        "untagged entries stay"
    );
}
