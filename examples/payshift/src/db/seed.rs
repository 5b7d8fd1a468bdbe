//! The demo data: deterministic users, profiles, industries, subcategories, jobs and
//! applications, written in one transaction.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use sqlx::{Any, Transaction};

use super::Db;

const SKILLS: [&str; 10] = [
    "rust",
    "python",
    "django",
    "react",
    "sql",
    "redis",
    "design",
    "seo",
    "devops",
    "copywriting",
];
const CITIES: [&str; 6] = ["Lagos", "Nairobi", "Accra", "Kigali", "Cape Town", "Cairo"];

/// How many rows of each table the seed writes.
#[derive(Debug, Clone, Copy)]
struct Plan {
    users: i64,
    industries: i64,
    subcategories: i64,
    jobs: i64,
    applications: i64,
}

impl Plan {
    /// 1,000 users, 20 industries, 100 subcategories, 2,000 jobs, 5,000 applications at
    /// scale 1; at least one of each.
    fn at_scale(scale: f64) -> Self {
        let n = |base: f64| ((base * scale).round() as i64).max(1);
        Self {
            users: n(1000.0),
            industries: n(20.0),
            subcategories: n(100.0),
            jobs: n(2000.0),
            applications: n(5000.0),
        }
    }
}

/// The seed's transaction and its random numbers (one seeded generator, drawn in a fixed
/// order, so every seeded database holds the same rows).
struct Seeder {
    tx: Transaction<'static, Any>,
    rng: SmallRng,
    plan: Plan,
}

impl Db {
    /// Fills an empty database with deterministic data (1,000 users, 20 industries,
    /// 100 subcategories, 2,000 jobs, 5,000 applications at scale 1).
    pub(crate) async fn seed_if_empty(&self, scale: f64) -> anyhow::Result<bool> {
        if self.count("users").await? > 0 {
            return Ok(false);
        }
        let mut seeder = Seeder {
            tx: self.pool.begin().await?,
            rng: SmallRng::seed_from_u64(2024),
            plan: Plan::at_scale(scale),
        };
        seeder.users().await?;
        seeder.catalogue().await?;
        seeder.jobs().await?;
        seeder.applications().await?;
        if self.postgres {
            seeder.advance_sequences().await?;
        }
        seeder.tx.commit().await?;
        Ok(true)
    }
}

impl Seeder {
    /// Users and their profiles.
    async fn users(&mut self) -> Result<(), sqlx::Error> {
        for id in 1..=self.plan.users {
            sqlx::query("INSERT INTO users (id, username, email, first_name, last_name, is_client, date_joined) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(format!("user{id}"))
                .bind(format!("user{id}@example.com"))
                .bind(["Ada", "Grace", "Alan", "Chinua", "Wangari", "Kofi"][(id % 6) as usize])
                .bind(format!("Tester{id}"))
                .bind(i64::from(id % 3 == 0))
                .bind(format!("2024-{:02}-{:02}T09:00:00Z", 1 + id % 12, 1 + id % 28))
                .execute(&mut *self.tx)
                .await?;
            let skills: Vec<&str> = (0..3)
                .map(|k| SKILLS[((id + k * 3) % 10) as usize])
                .collect();
            sqlx::query("INSERT INTO profiles (user_id, bio, headline, location, hourly_rate, skills, verified) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(format!("Freelancer number {id}, building things on the internet."))
                .bind(["Backend engineer", "Designer", "Data analyst", "Writer"][(id % 4) as usize])
                .bind(CITIES[(id % 6) as usize])
                .bind(20.0 + self.rng.random_range(0..80) as f64)
                .bind(skills.join(","))
                .bind(i64::from(id % 2 == 0))
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Industries and their subcategories.
    async fn catalogue(&mut self) -> Result<(), sqlx::Error> {
        for id in 1..=self.plan.industries {
            sqlx::query("INSERT INTO industries (id, name) VALUES ($1, $2)")
                .bind(id)
                .bind(format!("Industry {id}"))
                .execute(&mut *self.tx)
                .await?;
        }
        for id in 1..=self.plan.subcategories {
            sqlx::query("INSERT INTO subcategories (id, industry_id, name) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(1 + (id - 1) % self.plan.industries)
                .bind(format!("Subcategory {id}"))
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn jobs(&mut self) -> Result<(), sqlx::Error> {
        let Plan {
            users,
            industries,
            subcategories,
            jobs,
            ..
        } = self.plan;
        for id in 1..=jobs {
            let sub = 1 + self.rng.random_range(0..subcategories);
            sqlx::query("INSERT INTO jobs (id, client_id, title, description, budget_min, budget_max, status, created_at, industry_id, subcategory_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(id)
                .bind(1 + self.rng.random_range(0..users))
                .bind(format!("Job #{id}: build and ship a feature"))
                .bind("Looking for an experienced freelancer to design, build and test a feature end to end.")
                .bind(100.0 * (1 + id % 10) as f64)
                .bind(250.0 * (1 + id % 10) as f64)
                .bind(if id % 5 == 0 { "closed" } else { "open" })
                .bind(format!("2025-{:02}-{:02}T12:00:00Z", 1 + id % 12, 1 + id % 28))
                .bind(1 + (sub - 1) % industries)
                .bind(sub)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn applications(&mut self) -> Result<(), sqlx::Error> {
        for id in 1..=self.plan.applications {
            sqlx::query("INSERT INTO applications (id, job_id, freelancer_id, status, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(1 + self.rng.random_range(0..self.plan.jobs))
                .bind(1 + self.rng.random_range(0..self.plan.users))
                .bind(["pending", "accepted", "rejected"][(id % 3) as usize])
                .bind("2025-11-20T08:00:00Z")
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Postgres: the id sequences continue after the seeded rows (explicit ids do not move
    /// them), so the next job or application gets a fresh id.
    async fn advance_sequences(&mut self) -> Result<(), sqlx::Error> {
        for table in ["jobs", "applications"] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }
}
