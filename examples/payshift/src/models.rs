//! The JSON shapes of the Payshift API (also what is cached). Each cached type names its kind
//! and TTL once: the Django layer's timeouts (user 24h, profile 12h, whoami 15m, job 2h,
//! application 30m).

use std::sync::Arc;

use crate::error::AppError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use strata::Cacheable;
use strata_http::{RenderedJson, RendersJson};

/// A user account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(kind = "user", ttl = "24h")]
pub(crate) struct User {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) is_client: bool,
    pub(crate) date_joined: String,
}

/// A user's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(kind = "profile", ttl = "12h")]
pub(crate) struct Profile {
    pub(crate) user_id: i64,
    pub(crate) bio: String,
    pub(crate) headline: String,
    pub(crate) location: String,
    pub(crate) hourly_rate: f64,
    pub(crate) skills: Vec<String>,
    pub(crate) verified: bool,
}

/// Activity counts shown by whoami.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ActivityStats {
    pub(crate) jobs_posted: i64,
    pub(crate) applications_sent: i64,
    pub(crate) applications_received: i64,
}

/// `GET /accountsapp/whoami/{user_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(kind = "whoami", ttl = "15m")]
pub(crate) struct Whoami {
    pub(crate) user: User,
    pub(crate) profile: Profile,
    pub(crate) stats: ActivityStats,
    /// Its JSON, rendered by the first response of the cached value (not stored, not sent).
    #[serde(skip)]
    pub(crate) json: RenderedJson,
}

impl RendersJson for Whoami {
    fn rendered_json(&self) -> &RenderedJson {
        &self.json
    }
}

/// A job industry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Industry {
    pub(crate) id: i64,
    pub(crate) name: String,
}

/// A job subcategory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Subcategory {
    pub(crate) id: i64,
    pub(crate) industry_id: i64,
    pub(crate) name: String,
}

/// The client of a job, with its profile headline and location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Client {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) headline: String,
    pub(crate) location: String,
    pub(crate) verified: bool,
}

/// `GET /jobs/{job_id}` and the items of `/jobs/alljobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(kind = "job", ttl = "2h")]
pub(crate) struct Job {
    pub(crate) id: i64,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) budget_min: f64,
    pub(crate) budget_max: f64,
    pub(crate) status: String,
    pub(crate) created_at: String,
    pub(crate) client: Client,
    pub(crate) industry: Industry,
    pub(crate) subcategory: Subcategory,
    /// Its JSON, rendered by the first response of the cached value (not stored, not sent).
    #[serde(skip)]
    pub(crate) json: RenderedJson,
}

impl RendersJson for Job {
    fn rendered_json(&self) -> &RenderedJson {
        &self.json
    }
}

/// A cached list (`/jobs/job-industries/`, `/jobs/job-subcategories/`): serialized as the
/// list itself; its clones (what `#[cached]` returns) share the items and their JSON, rendered
/// by the first response.
#[derive(Debug)]
pub(crate) struct Listing<T>(Arc<(Vec<T>, RenderedJson)>);

impl<T> Listing<T> {
    pub(crate) fn new(items: Vec<T>) -> Self {
        Self(Arc::new((items, RenderedJson::new())))
    }

    pub(crate) fn items(&self) -> &[T] {
        &self.0.0
    }
}

impl<T> Clone for Listing<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: PartialEq> PartialEq for Listing<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items() == other.items()
    }
}

impl<T: Serialize> Serialize for Listing<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items().serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Listing<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d).map(Self::new)
    }
}

impl<T: Serialize> RendersJson for Listing<T> {
    fn rendered_json(&self) -> &RenderedJson {
        &self.0.1
    }
}

/// One application to a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Application {
    pub(crate) id: i64,
    pub(crate) freelancer_id: i64,
    pub(crate) status: String,
    pub(crate) created_at: String,
}

/// `GET /jobs/{job_id}/applications`: a job's applications, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(kind = "application", ttl = "30m")]
pub(crate) struct Applications {
    pub(crate) job_id: i64,
    pub(crate) applications: Vec<Application>,
}

/// `POST /jobs/{job_id}/applications`: who applies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplicationInput {
    pub(crate) freelancer_id: i64,
}

/// `PUT /accountsapp/profile/{user_id}`: the fields to change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileUpdate {
    pub(crate) bio: Option<String>,
    pub(crate) headline: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) hourly_rate: Option<f64>,
    pub(crate) skills: Option<Vec<String>>,
}

/// `POST /jobs/` and `PUT /jobs/{job_id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobInput {
    pub(crate) client_id: i64,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) budget_min: f64,
    pub(crate) budget_max: f64,
    pub(crate) industry_id: i64,
    pub(crate) subcategory_id: i64,
    #[serde(default = "open")]
    pub(crate) status: String,
}

fn open() -> String {
    "open".into()
}

/// The longest text a field may hold, in characters: a record stays far below the cache's
/// value limit, so every record can be cached (and an oversized one is refused, not stored).
pub(crate) const MAX_TEXT: usize = 10_000;
/// The longest short field (names, titles, locations), in characters.
pub(crate) const MAX_SHORT: usize = 200;
/// The most skills a profile may list.
pub(crate) const MAX_SKILLS: usize = 50;

/// `Err` naming `field` when `value` is longer than `max` characters.
fn limit(field: &str, value: Option<&str>, max: usize) -> Result<(), AppError> {
    match value {
        Some(v) if v.chars().count() > max => Err(AppError::Unprocessable(format!(
            "{field} is longer than {max} characters"
        ))),
        _ => Ok(()),
    }
}

impl ProfileUpdate {
    /// Checks every field's length, naming the first that is too long.
    pub(crate) fn check(&self) -> Result<(), AppError> {
        limit("bio", self.bio.as_deref(), MAX_TEXT)?;
        limit("headline", self.headline.as_deref(), MAX_SHORT)?;
        limit("location", self.location.as_deref(), MAX_SHORT)?;
        if let Some(skills) = &self.skills {
            if skills.len() > MAX_SKILLS {
                return Err(AppError::Unprocessable(format!(
                    "skills lists more than {MAX_SKILLS} entries"
                )));
            }
            for skill in skills {
                limit("skills[]", Some(skill), MAX_SHORT)?;
            }
        }
        if self
            .hourly_rate
            .is_some_and(|r| !(0.0..=100_000.0).contains(&r))
        {
            return Err(AppError::Unprocessable(
                "hourly_rate must be between 0 and 100000".into(),
            ));
        }
        Ok(())
    }
}

impl JobInput {
    /// Checks every field's length, naming the first that is too long.
    pub(crate) fn check(&self) -> Result<(), AppError> {
        limit("title", Some(&self.title), MAX_SHORT)?;
        limit("description", Some(&self.description), MAX_TEXT)?;
        limit("status", Some(&self.status), MAX_SHORT)
    }
}
