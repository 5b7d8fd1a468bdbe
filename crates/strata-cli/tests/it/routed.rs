//! The commands that look at a kind's keys (`keys --kind`, `inspect`, `clear --kind`) use the
//! kind's backend (`[kinds.<kind>] backend = "<name>"`, issue 25), here a second spawned Redis.

use std::process::{Command, Output};

use strata::{CacheBuilder, CacheConfig};

/// The binary without the configuration variables of the environment.
fn bare() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
    for var in [
        "REDIS_URL",
        "STRATA_PREFIX",
        "STRATA_APP_VERSION",
        "STRATA_BACKEND__URL",
    ] {
        command.env_remove(var);
    }
    command
}

fn run(config: &str, args: &[&str]) -> Output {
    bare()
        .args(["--config", config])
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kinds_keys_are_read_from_its_own_backend() {
    let Some(main) = strata_testkit::redis_or_skip("cli routed (main)") else {
        return;
    };
    let Some(second) = strata_testkit::redis_or_skip("cli routed (second)") else {
        return;
    };
    let toml = format!(
        "prefix = \"rc\"\nmetrics = false\n[backend]\nurl = \"{}\"\n\
         [backends.second]\nurl = \"{}\"\n[backends.local]\n\
         [kinds.session]\nbackend = \"second\"\n[kinds.scratch]\nbackend = \"local\"\n",
        main.url(),
        second.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("strata.toml");
    std::fs::write(&file, &toml).unwrap();
    let config = file.to_str().unwrap();
    let cache = CacheBuilder::from_config(CacheConfig::from_toml_str(&toml).unwrap())
        .declare_kind("user")
        .build()
        .await
        .unwrap();
    let (sessions, users) = (
        cache.kind::<String>("session").unwrap(),
        cache.kind::<String>("user").unwrap(),
    );
    sessions.set(7, "s7".into()).await.unwrap();
    users.set(1, "u1".into()).await.unwrap();
    let (session_key, user_key) = (
        sessions.key(7).unwrap().to_string(),
        users.key(1).unwrap().to_string(),
    );

    let out = run(config, &["keys", "--kind", "session"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        session_key,
        "read on the second server"
    );
    let out = run(config, &["keys", "--kind", "user"]);
    assert_eq!(
        text(&out.stdout).trim(),
        user_key,
        "read on the default one"
    );
    let out = run(config, &["keys"]);
    assert!(
        !text(&out.stdout).contains(&session_key),
        "the default backend does not hold it"
    );

    let out = run(config, &["inspect", &session_key]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["value"], "s7");
    assert_eq!(json["parts"]["kind"], "session");

    let out = run(config, &["clear", "--kind", "session", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "removed 1 entries");
    let out = run(config, &["keys", "--kind", "session"]);
    assert_eq!(text(&out.stdout).trim(), "", "cleared on the second server");
    let out = run(config, &["inspect", &user_key]);
    assert!(out.status.success(), "the other kind is untouched");

    // A kind routed to an embedded memory backend: only the application sees it, said so.
    let out = run(config, &["keys", "--kind", "scratch"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("\"scratch\"") && err.contains("embedded memory backend"),
        "{err}"
    );
}
