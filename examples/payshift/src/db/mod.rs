//! The database: SQLite by default, Postgres by URL; the same queries for both (`$n` params).
//! The tables (`schema`), the demo data (`seed`) and what the endpoints read and write
//! (`queries`).

mod queries;
mod schema;
mod seed;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

use crate::error::AppError;

/// The connection pool and which SQL dialect it speaks.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    pool: AnyPool,
    postgres: bool,
}

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
        schema::create_tables(&db.pool, postgres).await?;
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
}
