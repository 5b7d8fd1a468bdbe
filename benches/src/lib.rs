//! Realistic payloads shared by the benchmarks, modelled on the Payshift data the original
//! Django layer cached: a user with profile and activity stats (`whoami`), a job with its client,
//! industry and subcategory (`/jobs/{id}`), and the all-jobs list (`/jobs/alljobs`).

use serde::{Deserialize, Serialize};

pub mod mrc_check;
pub mod sim;

/// The runtime every async bench uses: `STRATA_BENCH_WORKERS` worker threads (default 2,
/// like the machine; 1 leaves the other core to the redis-server the bench spawns).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env_count("STRATA_BENCH_WORKERS", 2, 64))
        .enable_all()
        .build()
        .expect("runtime")
}

/// The count set by the environment variable `name`, from 1 to `max` (`default` when unset).
pub fn env_count(name: &str, default: usize, max: usize) -> usize {
    let expected = format!("a whole number from 1 to {max}");
    env_setting(name, default, |n| (1..=max).contains(n), &expected)
}

/// The value set by the environment variable `name` (`default` when unset). A value that does
/// not parse, or that `valid` refuses, stops the bench with a message naming it and what was
/// `expected`: a setting is never ignored.
pub fn env_setting<T: std::str::FromStr>(
    name: &str,
    default: T,
    valid: impl Fn(&T) -> bool,
    expected: &str,
) -> T {
    let text = match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => return default,
        Ok(text) => text,
        Err(std::env::VarError::NotUnicode(text)) => format!("{text:?}"),
    };
    match text.trim().parse::<T>() {
        Ok(v) if valid(&v) => v,
        _ => {
            eprintln!("{name}={text:?}: expected {expected}");
            std::process::exit(2)
        }
    }
}

/// A user's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Profile {
    pub bio: String,
    pub headline: String,
    pub location: String,
    pub hourly_rate: f64,
    pub skills: Vec<String>,
    pub avatar_url: String,
    pub verified: bool,
}

/// A user with profile and activity stats: the `whoami` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct UserWithProfile {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_client: bool,
    pub date_joined: String,
    pub profile: Profile,
    pub jobs_posted: u32,
    pub applications_sent: u32,
    pub applications_received: u32,
}

/// A job with its client: the `/jobs/{id}` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Job {
    pub id: u64,
    pub title: String,
    pub description: String,
    pub budget_min: f64,
    pub budget_max: f64,
    pub status: String,
    pub created_at: String,
    pub industry: String,
    pub subcategory: String,
    pub skills_required: Vec<String>,
    pub client_id: u64,
    pub client_name: String,
    pub client_location: String,
    pub applications_count: u32,
}

const SKILLS: [&str; 12] = [
    "rust",
    "python",
    "django",
    "react",
    "sql",
    "redis",
    "design",
    "copywriting",
    "seo",
    "devops",
    "kotlin",
    "figma",
];
const INDUSTRIES: [&str; 5] = ["Technology", "Finance", "Healthcare", "Education", "Retail"];

/// The user payload for `id`.
pub fn user(id: u64) -> UserWithProfile {
    UserWithProfile {
        id,
        username: format!("user{id}"),
        email: format!("user{id}@example.com"),
        first_name: "Ada".into(),
        last_name: format!("Lovelace-{id}"),
        is_client: id.is_multiple_of(3),
        date_joined: "2024-03-14T09:26:53Z".into(),
        profile: Profile {
            bio: "Freelance engineer building payment and marketplace backends; previously \
                  led the platform team of a fintech startup."
                .into(),
            headline: "Senior backend engineer".into(),
            location: "Lagos, Nigeria".into(),
            hourly_rate: 45.0 + (id % 50) as f64,
            skills: (0..6)
                .map(|i| SKILLS[(id as usize + i) % SKILLS.len()].to_owned())
                .collect(),
            avatar_url: format!("https://cdn.example.com/avatars/{id}.png"),
            verified: id.is_multiple_of(2),
        },
        jobs_posted: (id % 17) as u32,
        applications_sent: (id % 23) as u32,
        applications_received: (id % 31) as u32,
    }
}

/// The job payload for `id`.
pub fn job(id: u64) -> Job {
    Job {
        id,
        title: format!("Build a caching layer for service #{id}"),
        description: "We need an experienced engineer to add a Redis cache in front of our \
                      Postgres database, with invalidation on writes and monitoring endpoints. \
                      Deliverables: design notes, implementation, load test results."
            .into(),
        budget_min: 500.0 + (id % 10) as f64 * 100.0,
        budget_max: 1500.0 + (id % 10) as f64 * 250.0,
        status: if id.is_multiple_of(4) {
            "closed"
        } else {
            "open"
        }
        .into(),
        created_at: "2025-11-02T14:07:00Z".into(),
        industry: INDUSTRIES[id as usize % INDUSTRIES.len()].into(),
        subcategory: format!("Subcategory {}", id % 100),
        skills_required: (0..4)
            .map(|i| SKILLS[(id as usize * 7 + i) % SKILLS.len()].to_owned())
            .collect(),
        client_id: id * 13 % 1000,
        client_name: format!("Client {}", id * 13 % 1000),
        client_location: "Nairobi, Kenya".into(),
        applications_count: (id % 40) as u32,
    }
}

/// The all-jobs list of `n` jobs.
pub fn all_jobs(n: u64) -> Vec<Job> {
    (1..=n).map(job).collect()
}

/// Where benches write what `cargo xtask bench` reads: `STRATA_BENCH_DIR` (set by xtask to
/// `strata-bench/` under the target directory, wherever `CARGO_TARGET_DIR` puts it), else the
/// workspace's `target/strata-bench`.
pub fn report_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("STRATA_BENCH_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/strata-bench"),
        std::path::PathBuf::from,
    );
    let _ = std::fs::create_dir_all(&dir);
    dir
}
