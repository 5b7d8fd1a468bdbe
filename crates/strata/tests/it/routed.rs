//! A kind routed to a backend of its own (`[kinds.<kind>] backend = "<name>"`, issue 25): its
//! entries and its generation counter live only on its server, a change there reaches every
//! instance (client tracking and the bus, one channel per backend), and a change costs one
//! round trip per backend it touches, the batches sent concurrently.

use std::sync::Arc;
use std::time::Duration;

use strata::{Cache, CacheBuilder, CacheConfig, LoadOptions, Rules, Target};
use strata_testkit::{RedisServer, RoundTripProxy};

use crate::common;
use crate::round_trips::count;

/// The keys of `server` under the prefix `prefix`, sorted.
async fn keys_on(server: &RedisServer, prefix: &str) -> Vec<String> {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    keys.sort();
    keys
}

/// An instance with `user` on `main` and `session` routed to `second`, coherent by `coherence`.
async fn instance(main: &RedisServer, second: &RedisServer, coherence: &str) -> Cache {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"rk\"\ncoherence = \"{coherence}\"\nmetrics = false\njitter = 0.0\n\
         [l1]\nmax_lifetime = \"1h\"\n\
         [backend]\nurl = \"{}\"\n[backends.second]\nurl = \"{}\"\n\
         [kinds.session]\nbackend = \"second\"\n",
        main.url(),
        second.url()
    ))
    .unwrap();
    let cache = CacheBuilder::from_config(config)
        .declare_kind("user")
        .build()
        .await
        .unwrap();
    common::ready(&[&cache]).await;
    cache
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_kind_lives_and_is_invalidated_on_its_server_with_tracking() {
    routed_kind_across_instances("tracking").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_kind_lives_and_is_invalidated_on_its_server_with_the_bus() {
    routed_kind_across_instances("bus").await;
}

async fn routed_kind_across_instances(coherence: &str) {
    let Some(main) = strata_testkit::redis_or_skip("routed kind (main)") else {
        return;
    };
    let Some(second) = strata_testkit::redis_or_skip("routed kind (second)") else {
        return;
    };
    let (a, b) = (
        instance(&main, &second, coherence).await,
        instance(&main, &second, coherence).await,
    );
    for cache in [&a, &b] {
        assert_eq!(cache.admin().coherence().mode.as_str(), coherence);
        assert_eq!(cache.admin().backend_of("session"), "second");
        assert_eq!(cache.admin().backend_of("user"), strata::DEFAULT_BACKEND);
        // One channel per backend, each confirmed.
        let connections = cache.admin().coherence().connections;
        assert_eq!(connections.len(), 2, "{connections:?}");
        assert!(connections[1].ends_with("@second"), "{connections:?}");
        let backends = cache.admin().backends();
        assert_eq!(backends.len(), 2);
        assert_eq!(
            (backends[1].name.as_str(), &backends[1].kinds),
            ("second", &vec!["session".to_owned()])
        );
        // Both backends open the channels the mode asks for.
        assert!(backends.iter().all(|b| b.coherence.as_str() == coherence));
    }
    let (sa, sb) = (
        a.kind::<String>("session").unwrap(),
        b.kind::<String>("session").unwrap(),
    );
    let (ua, ub) = (
        a.kind::<String>("user").unwrap(),
        b.kind::<String>("user").unwrap(),
    );
    sa.set(1, "s1".into()).await.unwrap();
    ua.set(1, "u1".into()).await.unwrap();
    let (session_key, user_key) = (
        sa.key(1).unwrap().to_string(),
        ua.key(1).unwrap().to_string(),
    );

    // Entries only on their own server.
    let (on_main, on_second) = (keys_on(&main, "rk").await, keys_on(&second, "rk").await);
    assert!(on_second.contains(&session_key), "{on_second:?}");
    assert!(!on_main.contains(&session_key), "{on_main:?}");
    assert!(on_main.contains(&user_key), "{on_main:?}");
    assert!(!on_second.contains(&user_key), "{on_second:?}");

    // B caches both in L1; A changes them; B sees every change.
    assert_eq!(
        sb.get(1).await.unwrap().as_deref().map(String::as_str),
        Some("s1")
    );
    assert_eq!(
        ub.get(1).await.unwrap().as_deref().map(String::as_str),
        Some("u1")
    );
    assert!(
        b.admin()
            .l1()
            .unwrap()
            .get(&ub.key(1).unwrap())
            .await
            .is_some()
    );
    assert!(
        b.admin()
            .l1()
            .unwrap()
            .get(&sb.key(1).unwrap())
            .await
            .is_some()
    );

    sa.set(1, "s2".into()).await.unwrap();
    common::eventually("B sees the routed kind's write", async || {
        sb.get(1).await.unwrap().as_deref().map(String::as_str) == Some("s2")
    })
    .await;
    sa.delete(1).await.unwrap();
    assert!(!keys_on(&second, "rk").await.contains(&session_key));
    common::eventually("B drops the routed kind's deleted entry", async || {
        sb.get(1).await.unwrap().is_none()
    })
    .await;

    // A kind clear: the generation counter moves on the routed kind's server only.
    sb.get_or_load(2, || async { Ok::<_, String>("s-two".to_owned()) })
        .await
        .unwrap();
    assert!(sa.get(2).await.unwrap().is_some());
    let main_before = keys_on(&main, "rk").await;
    a.clear_kind("session").await.unwrap();
    let counters = |keys: &[String]| {
        keys.iter()
            .filter(|k| k.contains("__version") && k.contains("session"))
            .count()
    };
    assert_eq!(counters(&keys_on(&second, "rk").await), 1);
    assert_eq!(counters(&keys_on(&main, "rk").await), 0);
    assert_eq!(
        main_before,
        keys_on(&main, "rk").await,
        "the clear left main alone"
    );
    common::eventually("B misses the cleared routed kind", async || {
        sb.get(2).await.unwrap().is_none()
    })
    .await;

    // A tag spans both backends: its counter stays on main, and both kinds see it.
    let tagged = LoadOptions::new().tags(["owner:9"]);
    for (kind, value) in [(&sb, "s-tagged"), (&ub, "u-tagged")] {
        kind.get_or_load_with(9, &tagged, || async { Ok::<_, String>(value.to_owned()) })
            .await
            .unwrap();
    }
    a.invalidate_tag("owner:9").await.unwrap();
    let tag_counters = |keys: &[String]| keys.iter().filter(|k| k.contains("owner:9")).count();
    assert_eq!(tag_counters(&keys_on(&main, "rk").await), 1);
    assert_eq!(tag_counters(&keys_on(&second, "rk").await), 0);
    common::eventually("B misses both kinds' tagged entries", async || {
        sb.get(9).await.unwrap().is_none() && ub.get(9).await.unwrap().is_none()
    })
    .await;
    assert!(sa.get(9).await.unwrap().is_none() && ua.get(9).await.unwrap().is_none());

    // The user kind was never written to the routed kind's server.
    assert!(
        keys_on(&second, "rk")
            .await
            .iter()
            .all(|k| !k.contains(":user:"))
    );
}

/// An instance whose data connections go through `main` and `second` (the proxies in front of
/// the two servers); its bus connects to the main server directly (heartbeats are no
/// operation's round trips), and the routed kind's backend is given in code with a bus of its
/// own on its server directly (so no channel goes through a proxy). A change waits up to 30 s
/// for its backends.
async fn counted(main: &RoundTripProxy, second: &RoundTripProxy) -> Cache {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"rr\"\ncoherence = \"bus\"\njitter = 0.0\nmetrics = false\n\
         change_timeout = \"30s\"\n[backend]\nurl = \"{}\"\n",
        main.url()
    ))
    .unwrap();
    let bus =
        strata::RedisBus::new(&strata::RedisConfig::new(main.target_url()).with_namespace("rr:"))
            .unwrap();
    let routed = strata::RedisBackend::connect_lazy(
        strata::RedisConfig::new(second.url())
            .with_namespace("rr:")
            .with_change_timeout(Duration::from_secs(30)),
    )
    .unwrap();
    // Its scripts loaded, as a backend opened from the configuration has them.
    routed.prepare().await.unwrap();
    // The routed backend's own bus, on its server directly, as for the default one: its
    // counter is kept in step as a configured backend's is.
    let second_bus =
        strata::RedisBus::new(&strata::RedisConfig::new(second.target_url()).with_namespace("rr:"))
            .unwrap();
    let cache = CacheBuilder::from_config(config)
        .bus(Arc::new(bus))
        .named_backend("second", Arc::new(routed))
        .named_bus("second", Arc::new(second_bus))
        .route("session", "second")
        .declare_kind("user")
        .build()
        .await
        .unwrap();
    common::ready(&[&cache]).await;
    for name in [None, Some("second")] {
        let backend = match name {
            None => cache.admin().backend(),
            Some(n) => cache.admin().named_backend(n).unwrap(),
        };
        backend.ping().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    cache
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_costs_one_round_trip_per_backend_it_touches_sent_concurrently() {
    let Some(main) = strata_testkit::redis_or_skip("routed round trips (main)") else {
        return;
    };
    let Some(second) = strata_testkit::redis_or_skip("routed round trips (second)") else {
        return;
    };
    let pm = RoundTripProxy::start(main.port()).await.unwrap();
    let ps = RoundTripProxy::start(second.port()).await.unwrap();
    let cache = counted(&pm, &ps).await;
    let (session, user) = (
        cache.kind::<String>("session").unwrap(),
        cache.kind::<String>("user").unwrap(),
    );
    session.set(1, "s".into()).await.unwrap();
    user.set(1, "u".into()).await.unwrap();
    let rules = Rules::new().on("logout", |id| {
        vec![
            Target::key("user", id),
            Target::key("session", id),
            Target::tag(format!("user:{id}")),
        ]
    });
    let mut figures = Vec::new();
    for (what, op) in [
        ("session set", 0),
        ("user set", 1),
        ("session delete", 2),
        ("logout (both)", 3),
        ("session kind clear", 4),
    ] {
        ps.reset();
        let on_main = count(&pm, async || match op {
            0 => session.set(2, "s".into()).await.unwrap(),
            1 => user.set(2, "u".into()).await.unwrap(),
            2 => assert!(session.delete(2).await.unwrap()),
            3 => {
                let done = cache.invalidate(&rules, "logout", 1).await.unwrap();
                assert_eq!((done.deleted, done.deferred), (2, false));
            }
            _ => {
                cache.clear_kind("session").await.unwrap();
            }
        })
        .await;
        figures.push((what, on_main, ps.round_trips()));
    }
    eprintln!("round trips (main, second): {figures:?}");
    assert_eq!(
        figures,
        vec![
            ("session set", 0, 1),
            ("user set", 1, 0),
            ("session delete", 0, 1),
            ("logout (both)", 1, 1),
            ("session kind clear", 0, 1),
        ]
    );

    // A read of a routed kind pays one more round trip (to main) only while a tag counter its
    // entry records is unknown here.
    let tagged = LoadOptions::new().tags(["owner:1"]);
    for id in [5, 6] {
        session
            .get_or_load_with(id, &tagged, || async { Ok::<_, String>("t".to_owned()) })
            .await
            .unwrap();
    }
    let reader = counted(&pm, &ps).await;
    let r = reader.kind::<String>("session").unwrap();
    let mut reads = Vec::new();
    for id in [5, 6] {
        ps.reset();
        let on_main = count(&pm, async || assert!(r.get(id).await.unwrap().is_some())).await;
        reads.push((on_main, ps.round_trips()));
    }
    eprintln!("tagged routed reads (main, second): {reads:?}");
    assert_eq!(reads, vec![(1, 1), (0, 1)]);

    // Concurrently: with both servers frozen, both batches are sent (a sequence would wait
    // for the first answer before sending the second).
    session.set(1, "s".into()).await.unwrap();
    user.set(1, "u".into()).await.unwrap();
    pm.reset();
    ps.reset();
    main.pause().unwrap();
    second.pause().unwrap();
    let change = {
        let (cache, rules) = (cache.clone(), rules.clone());
        tokio::spawn(async move { cache.invalidate(&rules, "logout", 1).await })
    };
    let sent = async {
        while pm.round_trips() < 1 || ps.round_trips() < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let both_sent = tokio::time::timeout(Duration::from_secs(10), sent).await;
    main.resume().unwrap();
    second.resume().unwrap();
    assert!(
        both_sent.is_ok(),
        "with both servers frozen, only main {} / second {} batches were sent",
        pm.round_trips(),
        ps.round_trips()
    );
    let done = change.await.unwrap().unwrap();
    assert_eq!((done.deleted, done.deferred), (2, false));
    assert_eq!((pm.round_trips(), ps.round_trips()), (1, 1));
}

/// A kind's backend names a `[backends.<name>]` table that a kind uses; anything else is refused
/// at build, naming the key.
#[tokio::test]
async fn bad_routes_are_refused_naming_the_key() {
    let build = |toml: &str| {
        let toml = toml.to_owned();
        async move {
            let config = CacheConfig::from_toml_str(&toml)?;
            CacheBuilder::from_config(config)
                .declare_kind("session")
                .build()
                .await
                .map(|_| ())
        }
    };
    let typo = build("[kinds.session]\nbackend = \"sesions\"\n[backends.sessions]\n")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        typo.contains("kinds.session.backend")
            && typo.contains("`sesions`")
            && typo.contains("sessions"),
        "{typo}"
    );
    let unused = build("[backends.sessions]\n")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        unused.contains("backends.sessions") && unused.contains("no kind is routed"),
        "{unused}"
    );
    let name = build("[kinds.session]\nbackend = \"a b\"\n[backends.\"a b\"]\n")
        .await
        .unwrap_err()
        .to_string();
    assert!(name.contains("letters, digits"), "{name}");
    let unknown = build("[backends.sessions]\nurll = \"redis://x\"\n")
        .await
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("backends.sessions.urll"), "{unknown}");
    // A memory backend of its own, from the configuration alone.
    build("[kinds.session]\nbackend = \"sessions\"\n[backends.sessions]\nmax_entries = 10\n")
        .await
        .unwrap();
}

/// Routes and named backends are settings like the others: the environment sets them.
#[test]
fn the_environment_routes_a_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, "[kinds.session]\nttl = \"5m\"\n").unwrap();
    let vars = [
        ("STRATA_BACKENDS__SESSIONS__URL", "redis://127.0.0.1:1/0"),
        ("STRATA_BACKENDS__SESSIONS__CLUSTER", "true"),
        ("STRATA_KINDS__SESSION__BACKEND", "sessions"),
    ];
    let c = CacheConfig::load_from_vars(&path, false, vars.iter().copied()).unwrap();
    assert_eq!(c.backend_of("session"), Some("sessions"));
    assert_eq!(c.ttl_of("session"), Duration::from_secs(300));
    let sessions = &c.backends["sessions"];
    assert_eq!(sessions.url.as_deref(), Some("redis://127.0.0.1:1/0"));
    assert!(sessions.cluster);
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

/// Memory backends given in code: a routed kind's entries, deletes and kind clears stay in its
/// own backend, and clearing everything clears both.
#[tokio::test]
async fn a_kind_routed_to_a_memory_backend_keeps_to_it() {
    let memory = || -> Arc<dyn strata::Backend> {
        Arc::new(
            strata::MemoryBackend::new(strata::MemoryConfig::default().with_namespace("m:"))
                .unwrap(),
        )
    };
    let (main, second) = (memory(), memory());
    let cache = CacheBuilder::new()
        .prefix("m")
        .metrics(false)
        .backend(main.clone())
        .named_backend("second", second.clone())
        .route("session", "second")
        .build()
        .await
        .unwrap();
    let (sessions, users) = (
        cache.kind::<String>("session").unwrap(),
        cache.kind::<String>("user").unwrap(),
    );
    sessions.set(1, "s".into()).await.unwrap();
    users.set(1, "u".into()).await.unwrap();
    let (s1, u1) = (sessions.key(1).unwrap(), users.key(1).unwrap());
    assert!(second.get(&s1).await.unwrap().is_some() && main.get(&s1).await.unwrap().is_none());
    assert!(main.get(&u1).await.unwrap().is_some() && second.get(&u1).await.unwrap().is_none());
    assert!(sessions.delete(1).await.unwrap());
    assert!(second.get(&s1).await.unwrap().is_none());
    sessions.set(2, "s".into()).await.unwrap();
    assert!(cache.clear().await.unwrap() >= 2);
    assert!(
        second
            .get(&sessions.key(2).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(main.get(&u1).await.unwrap().is_none());
    let wrong = CacheBuilder::new()
        .prefix("m")
        .named_backend("second", memory())
        .route("session", "third")
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(wrong.contains("kinds.session.backend"), "{wrong}");
}
