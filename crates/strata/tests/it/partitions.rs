//! L1 partitions by data type (issue 25, part 3): a kind with an L1 budget of its own lives in a
//! store of its own, so that a flood of it evicts none of another kind's entries.

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata::{Cache, CacheBuilder, CacheConfig, L1Budget, MemoryBackend, MemoryConfig};

/// The users' key space (it fits the default pool), the trace's length, and the flood.
const USERS: u64 = 800;
const REQUESTS: usize = 20_000;
const JOB_BUDGET: u64 = 100;
const FLOOD: u64 = 100 * JOB_BUDGET;

/// Zipf(0.9) ranks over `0..USERS` by inverse CDF.
fn zipf_cdf() -> Vec<f64> {
    let mut total = 0.0;
    (1..=USERS)
        .map(|r| {
            total += 1.0 / (r as f64).powf(0.9);
            total
        })
        .collect()
}

/// A cache on the memory backend whose default pool holds 1,000 entries; `job_budget`: whether
/// the kind job has a partition of its own.
async fn cache(prefix: &str, job_budget: bool) -> Cache {
    let mut toml =
        format!("prefix = \"{prefix}\"\nmetrics = false\njitter = 0.0\n[l1]\nmax_entries = 1000\n");
    if job_budget {
        toml.push_str(&format!("[kinds.job.l1]\nmax_entries = {JOB_BUDGET}\n"));
    }
    let backend =
        MemoryBackend::new(MemoryConfig::default().with_namespace(format!("{prefix}:"))).unwrap();
    CacheBuilder::from_config(CacheConfig::from_toml_str(&toml).unwrap())
        .declare_kind("user")
        .declare_kind("job")
        .backend(Arc::new(backend))
        .build()
        .await
        .unwrap()
}

/// Runs the seeded user trace, with a flood of `FLOOD` distinct job keys interleaved when
/// `flood`; returns the users' L1 hit ratio.
async fn user_hit_ratio(cache: &Cache, flood: bool) -> f64 {
    let users = cache.kind::<u64>("user").unwrap();
    let jobs = cache.kind::<u64>("job").unwrap();
    let cdf = zipf_cdf();
    let total = *cdf.last().unwrap();
    let mut rng = SmallRng::seed_from_u64(25);
    let mut next_job = 0;
    for i in 0..REQUESTS {
        let u = rng.random::<f64>() * total;
        let k = cdf.partition_point(|c| *c < u) as u64;
        users
            .get_or_load(k, || async move { Ok::<_, String>(k) })
            .await
            .unwrap();
        if flood && i % 2 == 0 && next_job < FLOOD {
            let j = next_job;
            jobs.get_or_load(j, || async move { Ok::<_, String>(j) })
                .await
                .unwrap();
            next_job += 1;
        }
    }
    assert!(!flood || next_job == FLOOD, "the whole flood ran");
    cache.admin().stats().kinds["user"].l1.hit_rate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_one_kind_leaves_another_kinds_hit_ratio_in_place() {
    let quiet = user_hit_ratio(&cache("pq", true).await, false).await;
    let flooded_cache = cache("pf", true).await;
    let flooded = user_hit_ratio(&flooded_cache, true).await;
    assert!(
        (quiet - flooded).abs() <= 0.01,
        "with job in its own partition, the users' L1 hit ratio stays within 1 point: \
         {quiet:.4} quiet, {flooded:.4} under a flood of {FLOOD} job keys"
    );
    let jobs = flooded_cache.admin().l1_of("job").unwrap();
    jobs.sync().await;
    assert!(
        jobs.usage().await.entries <= JOB_BUDGET,
        "the flooded kind stays within its own budget"
    );
    // The same flood in the shared pool: what the partition prevents.
    let shared = user_hit_ratio(&cache("ps", false).await, true).await;
    println!(
        "users' L1 hit ratio: quiet {quiet:.4}, flooded {flooded:.4}, shared pool {shared:.4}"
    );
    assert!(
        shared < quiet - 0.01,
        "without a partition the flood costs the users more than a point: {quiet:.4} quiet, \
         {shared:.4} flooded in a shared pool"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_leaves_another_kinds_l1_entries_in_place() {
    let cache = cache("pe", true).await;
    let users = cache.kind::<u64>("user").unwrap();
    let jobs = cache.kind::<u64>("job").unwrap();
    for k in 0..USERS {
        users.set(k, k).await.unwrap();
    }
    let pool = cache.admin().l1_of("user").unwrap();
    pool.sync().await;
    // The store splits its 1,000 entries over shards by the keys' (randomly seeded) hashes, so
    // 800 users fill one shard past its share now and then (a few runs in a hundred) and it
    // drops a few of them: what the flood must not change is what the pool holds before it.
    let held = pool.usage().await.entries;
    assert!(
        held >= USERS * 97 / 100,
        "the users fit the default pool: {held} of {USERS} entries held"
    );
    let before_flood: Vec<bool> = {
        let mut present = Vec::new();
        for k in 0..USERS {
            present.push(pool.get(&users.key(k).unwrap()).await.is_some());
        }
        present
    };
    for j in 0..FLOOD {
        jobs.set(j, j).await.unwrap();
    }
    pool.sync().await;
    assert_eq!(
        pool.usage().await.entries,
        held,
        "every user entry is still in L1"
    );
    // The users held before the flood first (reading one the pool dropped loads it, and its
    // insert may drop another of its shard), then the others.
    let before = cache.admin().stats().kinds["user"].l1.hits;
    for k in (0..USERS).filter(|k| before_flood[*k as usize]) {
        assert_eq!(users.get(k).await.unwrap().as_deref(), Some(&k));
    }
    let hits = cache.admin().stats().kinds["user"].l1.hits - before;
    assert_eq!(hits, held, "each user read is an L1 hit after the flood");
    for k in (0..USERS).filter(|k| !before_flood[*k as usize]) {
        assert_eq!(users.get(k).await.unwrap().as_deref(), Some(&k));
    }
}

#[tokio::test]
async fn a_kinds_budget_is_its_own_store_and_draws_its_curve() {
    let cache = CacheBuilder::new()
        .prefix("pb")
        .metrics(false)
        .l1_budget("job", L1Budget::default().with_max_entries(64))
        .build()
        .await
        .unwrap();
    let admin = cache.admin();
    let job = admin.l1_of("job").unwrap();
    assert_eq!(job.config().max_entries, 64);
    assert_eq!(
        job.config().max_bytes,
        admin.config().l1.max_bytes,
        "the unset half is [l1]'s"
    );
    let default = admin.l1().unwrap();
    assert_eq!(admin.l1_of("user").unwrap().config(), default.config());
    assert_eq!(
        admin.l1_partitions().map(|(k, _)| k).collect::<Vec<_>>(),
        ["job"]
    );
    // Clearing the kind reaches its store.
    let jobs = cache.kind::<u64>("job").unwrap();
    jobs.set(1u64, 1).await.unwrap();
    job.sync().await;
    assert_eq!(job.usage().await.entries, 1);
    assert_eq!(
        default.usage().await.entries,
        0,
        "nothing of job in the pool"
    );
    cache.clear_kind("job").await.unwrap();
    assert_eq!(jobs.get(1u64).await.unwrap(), None);
    // The miss-ratio curve of the kind is drawn around its own budget.
    for k in 0..10u64 {
        jobs.get_or_load(k, || async move { Ok::<_, String>(k) })
            .await
            .unwrap();
    }
    let mrc = admin.stats().kinds["job"].mrc.clone().unwrap();
    assert_eq!(mrc.budget_entries, 64);
}

#[tokio::test]
async fn bad_budgets_are_refused_by_name() {
    let refused = |toml: &str| CacheConfig::from_toml_str(toml).unwrap_err().to_string();
    let e = refused("[kinds.job.l1]\n");
    assert!(
        e.contains("kinds.job.l1") && e.contains("a budget without a value"),
        "{e}"
    );
    let e = refused("[kinds.job.l1]\nmax_entries = 0\n");
    assert!(e.contains("kinds.job.l1") && e.contains("positive"), "{e}");
    let e = refused("[l1]\nenabled = false\n[kinds.job.l1]\nmax_bytes = 1000\n");
    assert!(
        e.contains("kinds.job.l1") && e.contains("needs the L1"),
        "{e}"
    );
    let e = refused("[kinds.job.l1]\nmax_entrys = 10\n");
    assert!(e.contains("max_entrys"), "{e}");
    // A budget for a kind no code declared: named, an error with strict.
    let config =
        CacheConfig::from_toml_str("strict = true\n[kinds.jobs.l1]\nmax_entries = 5\n").unwrap();
    let e = CacheBuilder::from_config(config)
        .declare_kind("job")
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("kinds.jobs") && e.contains("did you mean `job`"),
        "{e}"
    );
}

#[test]
fn the_documented_partitions_example_is_accepted() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    let section = &doc[doc.find("## Partitions by data type").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let config = CacheConfig::from_toml_str(example).unwrap();
    assert_eq!(config.l1_budget_of("job"), Some((64 << 20, 5_000)));
    assert_eq!(config.l1_budget_of("industry"), Some((1 << 20, 500)));
    assert_eq!(config.l1_budget_of("user"), None, "the default pool");
}
