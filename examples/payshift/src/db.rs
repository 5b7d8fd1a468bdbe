//! The database: SQLite by default, Postgres by URL; the same queries for both (`$n` params).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::error::AppError;
use crate::models::{
    ActivityStats, Application, Applications, Client, Industry, Job, JobInput, Profile,
    ProfileUpdate, Subcategory, User,
};

/// The connection pool and which SQL dialect it speaks.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    pool: AnyPool,
    postgres: bool,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT NOT NULL,
  first_name TEXT NOT NULL, last_name TEXT NOT NULL, is_client INTEGER NOT NULL, date_joined TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (user_id INTEGER PRIMARY KEY, bio TEXT NOT NULL, headline TEXT NOT NULL,
  location TEXT NOT NULL, hourly_rate DOUBLE PRECISION NOT NULL, skills TEXT NOT NULL, verified INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS industries (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subcategories (id INTEGER PRIMARY KEY, industry_id INTEGER NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (id SERIAL_ID, client_id INTEGER NOT NULL, title TEXT NOT NULL,
  description TEXT NOT NULL, budget_min DOUBLE PRECISION NOT NULL, budget_max DOUBLE PRECISION NOT NULL,
  status TEXT NOT NULL, created_at TEXT NOT NULL, industry_id INTEGER NOT NULL, subcategory_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS applications (id SERIAL_ID, job_id INTEGER NOT NULL, freelancer_id INTEGER NOT NULL,
  status TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_client ON jobs (client_id);
CREATE INDEX IF NOT EXISTS applications_job ON applications (job_id);
CREATE INDEX IF NOT EXISTS applications_freelancer ON applications (freelancer_id);
";

const JOB_SELECT: &str = "
SELECT j.id, j.title, j.description, j.budget_min, j.budget_max, j.status, j.created_at,
       u.id AS client_id, u.username AS client_username, p.headline AS client_headline,
       p.location AS client_location, p.verified AS client_verified,
       i.id AS industry_id, i.name AS industry_name,
       s.id AS subcategory_id, s.industry_id AS subcategory_industry_id, s.name AS subcategory_name
FROM jobs j
JOIN users u ON u.id = j.client_id
JOIN profiles p ON p.user_id = u.id
JOIN industries i ON i.id = j.industry_id
JOIN subcategories s ON s.id = j.subcategory_id";

/// Row counts of a seeded database.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeedCounts {
    pub(crate) users: i64,
    pub(crate) industries: i64,
    pub(crate) subcategories: i64,
    pub(crate) jobs: i64,
    pub(crate) applications: i64,
}

impl Db {
    /// Connects (creating an SQLite file if needed) and creates the tables.
    pub(crate) async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let url = if url.starts_with("sqlite:") && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_owned()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { 10 } else { 4 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if !postgres {
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let db = Self { pool, postgres };
        let schema = if postgres {
            SCHEMA
                .replace("INTEGER", "BIGINT")
                .replace("SERIAL_ID", "BIGSERIAL PRIMARY KEY")
        } else {
            SCHEMA.replace("SERIAL_ID", "INTEGER PRIMARY KEY")
        };
        for stmt in schema.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(stmt).execute(&db.pool).await?;
        }
        Ok(db)
    }

    /// Which database this is, for the start-up banner.
    pub(crate) fn dialect(&self) -> &'static str {
        if self.postgres { "postgres" } else { "sqlite" }
    }

    async fn count(&self, table: &str) -> Result<i64, AppError> {
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Row counts.
    pub(crate) async fn counts(&self) -> Result<SeedCounts, AppError> {
        Ok(SeedCounts {
            users: self.count("users").await?,
            industries: self.count("industries").await?,
            subcategories: self.count("subcategories").await?,
            jobs: self.count("jobs").await?,
            applications: self.count("applications").await?,
        })
    }

    /// Fills an empty database with deterministic data (1,000 users, 20 industries,
    /// 100 subcategories, 2,000 jobs, 5,000 applications at scale 1).
    pub(crate) async fn seed_if_empty(&self, scale: f64) -> anyhow::Result<bool> {
        if self.count("users").await? > 0 {
            return Ok(false);
        }
        let n = |base: f64| ((base * scale).round() as i64).max(1);
        let (users, industries, subcategories, jobs, applications) =
            (n(1000.0), n(20.0), n(100.0), n(2000.0), n(5000.0));
        let mut rng = SmallRng::seed_from_u64(2024);
        let mut tx = self.pool.begin().await?;
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
        for id in 1..=users {
            sqlx::query("INSERT INTO users (id, username, email, first_name, last_name, is_client, date_joined) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(format!("user{id}"))
                .bind(format!("user{id}@example.com"))
                .bind(["Ada", "Grace", "Alan", "Chinua", "Wangari", "Kofi"][(id % 6) as usize])
                .bind(format!("Tester{id}"))
                .bind(i64::from(id % 3 == 0))
                .bind(format!("2024-{:02}-{:02}T09:00:00Z", 1 + id % 12, 1 + id % 28))
                .execute(&mut *tx)
                .await?;
            let skills: Vec<&str> = (0..3)
                .map(|k| SKILLS[((id + k * 3) % 10) as usize])
                .collect();
            sqlx::query("INSERT INTO profiles (user_id, bio, headline, location, hourly_rate, skills, verified) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(format!("Freelancer number {id}, building things on the internet."))
                .bind(["Backend engineer", "Designer", "Data analyst", "Writer"][(id % 4) as usize])
                .bind(CITIES[(id % 6) as usize])
                .bind(20.0 + rng.random_range(0..80) as f64)
                .bind(skills.join(","))
                .bind(i64::from(id % 2 == 0))
                .execute(&mut *tx)
                .await?;
        }
        for id in 1..=industries {
            sqlx::query("INSERT INTO industries (id, name) VALUES ($1, $2)")
                .bind(id)
                .bind(format!("Industry {id}"))
                .execute(&mut *tx)
                .await?;
        }
        for id in 1..=subcategories {
            sqlx::query("INSERT INTO subcategories (id, industry_id, name) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(1 + (id - 1) % industries)
                .bind(format!("Subcategory {id}"))
                .execute(&mut *tx)
                .await?;
        }
        for id in 1..=jobs {
            let sub = 1 + rng.random_range(0..subcategories);
            sqlx::query("INSERT INTO jobs (id, client_id, title, description, budget_min, budget_max, status, created_at, industry_id, subcategory_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(id)
                .bind(1 + rng.random_range(0..users))
                .bind(format!("Job #{id}: build and ship a feature"))
                .bind("Looking for an experienced freelancer to design, build and test a feature end to end.")
                .bind(100.0 * (1 + id % 10) as f64)
                .bind(250.0 * (1 + id % 10) as f64)
                .bind(if id % 5 == 0 { "closed" } else { "open" })
                .bind(format!("2025-{:02}-{:02}T12:00:00Z", 1 + id % 12, 1 + id % 28))
                .bind(1 + (sub - 1) % industries)
                .bind(sub)
                .execute(&mut *tx)
                .await?;
        }
        for id in 1..=applications {
            sqlx::query("INSERT INTO applications (id, job_id, freelancer_id, status, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(1 + rng.random_range(0..jobs))
                .bind(1 + rng.random_range(0..users))
                .bind(["pending", "accepted", "rejected"][(id % 3) as usize])
                .bind("2025-11-20T08:00:00Z")
                .execute(&mut *tx)
                .await?;
        }
        if self.postgres {
            for table in ["jobs", "applications"] {
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                ))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn user(&self, id: i64) -> Result<Option<User>, AppError> {
        let row = sqlx::query("SELECT id, username, email, first_name, last_name, is_client, date_joined FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(User {
                id: r.try_get("id")?,
                username: r.try_get("username")?,
                email: r.try_get("email")?,
                first_name: r.try_get("first_name")?,
                last_name: r.try_get("last_name")?,
                is_client: r.try_get::<i64, _>("is_client")? != 0,
                date_joined: r.try_get("date_joined")?,
            })
        })
        .transpose()
    }

    pub(crate) async fn profile(&self, user_id: i64) -> Result<Option<Profile>, AppError> {
        let row = sqlx::query("SELECT user_id, bio, headline, location, hourly_rate, skills, verified FROM profiles WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Profile {
                user_id: r.try_get("user_id")?,
                bio: r.try_get("bio")?,
                headline: r.try_get("headline")?,
                location: r.try_get("location")?,
                hourly_rate: r.try_get("hourly_rate")?,
                skills: r
                    .try_get::<String, _>("skills")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                verified: r.try_get::<i64, _>("verified")? != 0,
            })
        })
        .transpose()
    }

    pub(crate) async fn activity(&self, user_id: i64) -> Result<ActivityStats, AppError> {
        let one = |sql: &'static str| async move {
            let r = sqlx::query(sql).bind(user_id).fetch_one(&self.pool).await?;
            Ok::<i64, AppError>(r.try_get::<i64, _>("n")?)
        };
        Ok(ActivityStats {
            jobs_posted: one("SELECT COUNT(*) AS n FROM jobs WHERE client_id = $1").await?,
            applications_sent: one("SELECT COUNT(*) AS n FROM applications WHERE freelancer_id = $1").await?,
            applications_received: one(
                "SELECT COUNT(*) AS n FROM applications a JOIN jobs j ON j.id = a.job_id WHERE j.client_id = $1",
            )
            .await?,
        })
    }

    pub(crate) async fn update_profile(
        &self,
        user_id: i64,
        u: &ProfileUpdate,
    ) -> Result<Option<Profile>, AppError> {
        let skills = u.skills.as_ref().map(|s| s.join(","));
        let done = sqlx::query(
            "UPDATE profiles SET bio = COALESCE($2, bio), headline = COALESCE($3, headline), location = COALESCE($4, location),
             hourly_rate = COALESCE($5, hourly_rate), skills = COALESCE($6, skills) WHERE user_id = $1",
        )
        .bind(user_id)
        .bind(u.bio.clone())
        .bind(u.headline.clone())
        .bind(u.location.clone())
        .bind(u.hourly_rate)
        .bind(skills)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.profile(user_id).await
    }

    fn job_from(r: &AnyRow) -> Result<Job, AppError> {
        Ok(Job {
            id: r.try_get("id")?,
            title: r.try_get("title")?,
            description: r.try_get("description")?,
            budget_min: r.try_get("budget_min")?,
            budget_max: r.try_get("budget_max")?,
            status: r.try_get("status")?,
            created_at: r.try_get("created_at")?,
            client: Client {
                id: r.try_get("client_id")?,
                username: r.try_get("client_username")?,
                headline: r.try_get("client_headline")?,
                location: r.try_get("client_location")?,
                verified: r.try_get::<i64, _>("client_verified")? != 0,
            },
            industry: Industry {
                id: r.try_get("industry_id")?,
                name: r.try_get("industry_name")?,
            },
            subcategory: Subcategory {
                id: r.try_get("subcategory_id")?,
                industry_id: r.try_get("subcategory_industry_id")?,
                name: r.try_get("subcategory_name")?,
            },
        })
    }

    pub(crate) async fn job(&self, id: i64) -> Result<Option<Job>, AppError> {
        let row = sqlx::query(&format!("{JOB_SELECT} WHERE j.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::job_from).transpose()
    }

    pub(crate) async fn all_jobs(&self) -> Result<Vec<Job>, AppError> {
        let rows = sqlx::query(&format!("{JOB_SELECT} ORDER BY j.id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::job_from).collect()
    }

    pub(crate) async fn industries(&self) -> Result<Vec<Industry>, AppError> {
        let rows = sqlx::query("SELECT id, name FROM industries ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Industry {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    pub(crate) async fn subcategories(&self) -> Result<Vec<Subcategory>, AppError> {
        let rows = sqlx::query("SELECT id, industry_id, name FROM subcategories ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Subcategory {
                    id: r.try_get("id")?,
                    industry_id: r.try_get("industry_id")?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    /// Checks that a job's references exist, naming the first that does not.
    async fn check_refs(&self, input: &JobInput) -> Result<(), AppError> {
        if input.title.trim().is_empty() {
            return Err(AppError::Unprocessable("title is empty".into()));
        }
        if !(input.budget_min >= 0.0 && input.budget_min <= input.budget_max) {
            return Err(AppError::Unprocessable(
                "budget_min must be between 0 and budget_max".into(),
            ));
        }
        if !matches!(input.status.as_str(), "open" | "closed") {
            return Err(AppError::Unprocessable(format!(
                "status must be \"open\" or \"closed\", got {:?}",
                input.status
            )));
        }
        for (table, id, what) in [
            ("users", input.client_id, "client_id"),
            ("industries", input.industry_id, "industry_id"),
            ("subcategories", input.subcategory_id, "subcategory_id"),
        ] {
            let found = sqlx::query(&format!("SELECT id FROM {table} WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            if found.is_none() {
                return Err(AppError::Unprocessable(format!(
                    "{what} {id} does not exist"
                )));
            }
        }
        Ok(())
    }

    pub(crate) async fn create_job(&self, input: &JobInput) -> Result<Job, AppError> {
        self.check_refs(input).await?;
        let row = sqlx::query(
            "INSERT INTO jobs (client_id, title, description, budget_min, budget_max, status, created_at, industry_id, subcategory_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(input.client_id)
        .bind(input.title.clone())
        .bind(input.description.clone())
        .bind(input.budget_min)
        .bind(input.budget_max)
        .bind(input.status.clone())
        .bind("2026-11-25T00:00:00Z")
        .bind(input.industry_id)
        .bind(input.subcategory_id)
        .fetch_one(&self.pool)
        .await?;
        let id: i64 = row.try_get("id")?;
        self.job(id)
            .await?
            .ok_or_else(|| AppError::Database("the new job vanished".into()))
    }

    pub(crate) async fn update_job(
        &self,
        id: i64,
        input: &JobInput,
    ) -> Result<Option<Job>, AppError> {
        self.check_refs(input).await?;
        let done = sqlx::query(
            "UPDATE jobs SET client_id = $2, title = $3, description = $4, budget_min = $5, budget_max = $6, status = $7,
             industry_id = $8, subcategory_id = $9 WHERE id = $1",
        )
        .bind(id)
        .bind(input.client_id)
        .bind(input.title.clone())
        .bind(input.description.clone())
        .bind(input.budget_min)
        .bind(input.budget_max)
        .bind(input.status.clone())
        .bind(input.industry_id)
        .bind(input.subcategory_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.job(id).await
    }

    /// A job's applications, newest first; `None` when the job does not exist.
    pub(crate) async fn applications(&self, job_id: i64) -> Result<Option<Applications>, AppError> {
        if self.job_client(job_id).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT id, freelancer_id, status, created_at FROM applications WHERE job_id = $1 ORDER BY id DESC",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        let applications = rows
            .iter()
            .map(|r| {
                Ok(Application {
                    id: r.try_get("id")?,
                    freelancer_id: r.try_get("freelancer_id")?,
                    status: r.try_get("status")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok(Some(Applications {
            job_id,
            applications,
        }))
    }

    /// The client who posted a job, or `None` when there is no such job.
    pub(crate) async fn job_client(&self, job_id: i64) -> Result<Option<i64>, AppError> {
        let row = sqlx::query("SELECT client_id FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("client_id")).transpose()?)
    }

    /// Records `freelancer_id`'s application to `job_id` (both must exist); the new row.
    pub(crate) async fn add_application(
        &self,
        job_id: i64,
        freelancer_id: i64,
    ) -> Result<Application, AppError> {
        if self.user(freelancer_id).await?.is_none() {
            return Err(AppError::Unprocessable(format!(
                "freelancer_id {freelancer_id} does not exist"
            )));
        }
        let row = sqlx::query(
            "INSERT INTO applications (job_id, freelancer_id, status, created_at) VALUES ($1, $2, 'pending', $3) RETURNING id",
        )
        .bind(job_id)
        .bind(freelancer_id)
        .bind("2026-11-25T00:00:00Z")
        .fetch_one(&self.pool)
        .await?;
        Ok(Application {
            id: row.try_get("id")?,
            freelancer_id,
            status: "pending".into(),
            created_at: "2026-11-25T00:00:00Z".into(),
        })
    }
}
