//! What the endpoints read and write.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Db;
use crate::error::AppError;
use crate::models::{
    ActivityStats, Application, Applications, Client, Industry, Job, JobInput, Profile,
    ProfileUpdate, Subcategory, User,
};
use strata_http::RenderedJson;

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

/// The current time as the rows store it (RFC 3339, UTC, seconds: `2026-12-04T09:30:00Z`).
fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl Db {
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
            json: RenderedJson::new(),
        })
    }

    pub(crate) async fn job(&self, id: i64) -> Result<Option<Job>, AppError> {
        let row = sqlx::query(&format!("{JOB_SELECT} WHERE j.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::job_from).transpose()
    }

    /// The ids of the `n` most recent jobs, newest first.
    pub(crate) async fn recent_job_ids(&self, n: usize) -> Result<Vec<i64>, AppError> {
        let rows = sqlx::query("SELECT id FROM jobs ORDER BY id DESC LIMIT $1")
            .bind(i64::try_from(n).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// The ids of every job, in order.
    pub(crate) async fn job_ids(&self) -> Result<Vec<i64>, AppError> {
        let rows = sqlx::query("SELECT id FROM jobs ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// The jobs of `ids` that exist, by id (one query per 500 ids).
    pub(crate) async fn jobs(&self, ids: &[i64]) -> Result<HashMap<i64, Job>, AppError> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!("{JOB_SELECT} WHERE j.id IN ({})", marks.join(", "));
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let job = Self::job_from(&row)?;
                found.insert(job.id, job);
            }
        }
        Ok(found)
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
        let created_at = now();
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
        .bind(&created_at)
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
        let created_at = now();
        let row = sqlx::query(
            "INSERT INTO applications (job_id, freelancer_id, status, created_at) VALUES ($1, $2, 'pending', $3) RETURNING id",
        )
        .bind(job_id)
        .bind(freelancer_id)
        .bind(&created_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(Application {
            id: row.try_get("id")?,
            freelancer_id,
            status: "pending".into(),
            created_at,
        })
    }
}
