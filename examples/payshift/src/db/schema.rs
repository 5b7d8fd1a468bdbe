//! The tables, created when missing; one text for both dialects.

use sqlx::AnyPool;

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

/// Creates the tables and indexes that do not exist yet.
pub(super) async fn create_tables(pool: &AnyPool, postgres: bool) -> Result<(), sqlx::Error> {
    let schema = if postgres {
        SCHEMA
            .replace("INTEGER", "BIGINT")
            .replace("SERIAL_ID", "BIGSERIAL PRIMARY KEY")
    } else {
        SCHEMA.replace("SERIAL_ID", "INTEGER PRIMARY KEY")
    };
    for stmt in schema.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(stmt).execute(pool).await?;
    }
    Ok(())
}
