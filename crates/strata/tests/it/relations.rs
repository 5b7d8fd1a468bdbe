//! Declared relations and batch loads: a composite miss reads its related entries ahead and
//! stores everything in one batch (round trips counted by the testkit's proxy), and every
//! entry keeps its own stale-set protection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use strata::{Cache, KindCache, LoadError};

use crate::round_trips::{count, fixture, instance};

type Loaded = Result<Arc<String>, LoadError<LoadError<std::io::Error>>>;

/// The kinds of a composite: `whoami:U` is made of `user:U` and `profile:U`.
struct Kinds {
    whoami: KindCache<String>,
    user: KindCache<String>,
    profile: KindCache<String>,
    loads: Arc<AtomicU32>,
}

impl Kinds {
    fn of(cache: &Cache) -> Self {
        Self {
            whoami: cache.kind("whoami").unwrap(),
            user: cache.kind("user").unwrap(),
            profile: cache.kind("profile").unwrap(),
            loads: Arc::default(),
        }
    }

    /// The composite of `id`, loading the parts inside its loader (one inside the other).
    async fn whoami(&self, id: u32) -> Loaded {
        self.whoami
            .get_or_load(id, || async {
                let user = self.part(&self.user, id).await?;
                let profile = self.part(&self.profile, id).await?;
                Ok(format!("{user} / {profile}"))
            })
            .await
    }

    async fn part(
        &self,
        kind: &KindCache<String>,
        id: u32,
    ) -> Result<Arc<String>, LoadError<std::io::Error>> {
        let loads = self.loads.clone();
        let name = format!("{} {id}", kind.kind());
        kind.get_or_load(id, || async move {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(name)
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composite_miss_with_declared_relations_costs_two_round_trips() {
    let Some(fx) = fixture("round trips of a composite miss").await else {
        return;
    };
    let proxy = &fx.proxy;
    let cache = instance(proxy).await;
    let k = Kinds::of(&cache);
    // The instance knows the kinds' counters.
    k.whoami(1).await.unwrap();

    let nested = count(proxy, async || {
        assert_eq!(*k.whoami(2).await.unwrap(), "user 2 / profile 2");
    })
    .await;
    k.whoami.needs(&k.user).needs(&k.profile);
    let loads_before = k.loads.load(Ordering::SeqCst);
    let related = count(proxy, async || {
        assert_eq!(*k.whoami(3).await.unwrap(), "user 3 / profile 3");
    })
    .await;
    assert_eq!(k.loads.load(Ordering::SeqCst) - loads_before, 2);
    // Every part is cached, in both tiers.
    let parts = count(proxy, async || {
        assert_eq!(k.user.get(3).await.unwrap().as_deref().map(String::as_str), Some("user 3"));
        assert_eq!(k.profile.get(3).await.unwrap().as_deref().map(String::as_str), Some("profile 3"));
        assert!(k.whoami.get(3).await.unwrap().is_some());
    })
    .await;
    assert_eq!(parts, 0, "the parts are in L1");
    for key in [k.user.key(3).unwrap(), k.profile.key(3).unwrap(), k.whoami.key(3).unwrap()] {
        assert!(cache.admin().backend().get(&key).await.unwrap().is_some(), "{key} in L2");
    }
    // The same at +1 ms a round trip (printed for the docs; never asserted).
    proxy.set_latency(Duration::from_millis(1));
    let timed = async |id: u32| {
        let start = Instant::now();
        k.whoami(id).await.unwrap();
        start.elapsed()
    };
    let related_time = timed(4).await;
    let other = instance(proxy).await;
    let plain = Kinds::of(&other);
    plain.whoami(1).await.unwrap();
    let nested_time = {
        let start = Instant::now();
        plain.whoami(5).await.unwrap();
        start.elapsed()
    };
    proxy.set_latency(Duration::ZERO);
    eprintln!(
        "composite miss: {nested} round trips nested ({nested_time:?} at +1 ms), \
         {related} with declared relations ({related_time:?} at +1 ms)"
    );
    assert_eq!(nested, 6, "three loads nested, each a lookup and a store");
    assert!(related <= 2, "with relations: {related} round trips");
}
