//! The source of truth outside the cache: an SQLite table with a version per record, shared by
//! every instance process and the foreign writer.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// A pool on the records database.
#[derive(Clone)]
pub(crate) struct Source {
    pool: SqlitePool,
}

impl Source {
    /// Opens (creating when `create`) the database at `path`.
    pub(crate) async fn open(path: &Path, create: bool) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Self { pool })
    }

    /// Creates the table with `records` records at version 0 (ids 0..records).
    pub(crate) async fn create(path: &Path, records: u32) -> Result<Self> {
        let source = Self::open(path, true).await?;
        sqlx::query("CREATE TABLE records (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
            .execute(&source.pool)
            .await?;
        let mut tx = source.pool.begin().await?;
        for id in 0..records {
            sqlx::query("INSERT INTO records (id, version) VALUES (?, 0)")
                .bind(i64::from(id))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(source)
    }

    /// The current version of `record`.
    pub(crate) async fn version(&self, record: u32) -> Result<u64, sqlx::Error> {
        let v: i64 = sqlx::query_scalar("SELECT version FROM records WHERE id = ?")
            .bind(i64::from(record))
            .fetch_one(&self.pool)
            .await?;
        Ok(v as u64)
    }

    /// Moves `record` to its next version (committed when this returns), answering it.
    pub(crate) async fn bump(&self, record: u32) -> Result<u64> {
        let v: i64 = sqlx::query_scalar(
            "UPDATE records SET version = version + 1 WHERE id = ? RETURNING version",
        )
        .bind(i64::from(record))
        .fetch_one(&self.pool)
        .await?;
        Ok(v as u64)
    }
}
