//! The facade as the L2 benchmarks read it, shared by the `load` bench and the `l2_reads`
//! example (each includes this file with `#[path]`: the benches' library does not depend on
//! the facade).

use std::sync::Arc;

use strata::{Cache, CacheBuilder, Codec, RedisBackend, RedisBus, RedisConfig};
use strata_benches::{UserWithProfile, user};

/// The facade on the server as deployed with Redis, its `user` kind filled with `keys` users:
/// the bus keeps the kind's generation in step, so an L2 hit is one round trip. No L1: every
/// read is an L2 hit. The cache is returned too, to live as long as the kind is read. With
/// `coalesce`, reads issued together share an `MGET` (the default).
pub(crate) async fn facade_users(
    server: &strata_testkit::RedisServer,
    coalesce: bool,
    keys: u64,
) -> (Cache, strata::KindCache<UserWithProfile>) {
    let config = RedisConfig::new(server.url())
        .with_namespace("bench:")
        .with_coalesce_reads(coalesce);
    let backend = RedisBackend::connect(config.clone())
        .await
        .expect("connect");
    let cache: Cache = CacheBuilder::new()
        .prefix("bench")
        .metrics(false)
        .l1(false)
        .backend(Arc::new(backend))
        .bus(Arc::new(RedisBus::new(&config).expect("bus")))
        .build()
        .await
        .expect("cache");
    let users = cache.kind::<UserWithProfile>("user").expect("kind");
    users
        .set_many((0..keys).map(|i| (i, user(i))).collect())
        .await
        .expect("set_many");
    (cache, users)
}

/// One read of the pinned peer "raw redis-rs": `GET` on a shared `MultiplexedConnection`, then
/// the same decode the facade does, into the same `Arc`.
pub(crate) async fn raw_get_user(conn: &mut redis::aio::MultiplexedConnection, key: &str) {
    let bytes: Vec<u8> = redis::cmd("GET")
        .arg(key)
        .query_async(conn)
        .await
        .expect("get");
    let env = strata::MsgPackCodec::default()
        .decode::<UserWithProfile>(&bytes, Some(1))
        .expect("decode");
    std::hint::black_box(Arc::new(env.value.expect("value")));
}
