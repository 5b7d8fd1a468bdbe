//! The default batch: the steps run one by one through the backend's methods and abilities.

use super::{Done, LeaseOutcome, LeaseRequest, LeaseWhen, Step};

/// Runs `steps` one by one through `backend`'s methods and abilities (the default of
/// [`Backend::batch`](crate::Backend::batch)). Not atomic across steps; a read with a lease
/// reads, then takes the lease.
pub async fn run_one_by_one<B: crate::Backend + ?Sized>(
    backend: &B,
    steps: Vec<Step>,
) -> crate::BackendResult<Vec<Done>> {
    let mut out = Vec::with_capacity(steps.len());
    for step in steps {
        out.push(run_step(backend, step).await?);
    }
    Ok(out)
}

fn unsupported<B: crate::Backend + ?Sized>(backend: &B, what: &str) -> crate::BackendError {
    crate::BackendError::unsupported(backend.name(), what)
}

async fn publish<B: crate::Backend + ?Sized>(
    backend: &B,
    channel: &str,
    message: &[u8],
) -> crate::BackendResult<()> {
    let publisher = backend
        .as_publisher()
        .ok_or_else(|| unsupported(backend, "publish"))?;
    publisher.publish(channel, message).await
}

async fn read_step<B: crate::Backend + ?Sized>(
    backend: &B,
    key: &str,
    lease: Option<LeaseRequest>,
) -> crate::BackendResult<Done> {
    let value = backend.get(key).await?;
    let lease = match lease {
        None => LeaseOutcome::NotTaken,
        Some(req) if req.when == LeaseWhen::Absent && value.is_some() => LeaseOutcome::NotTaken,
        Some(req) => match backend.as_leases() {
            None => LeaseOutcome::Unavailable,
            Some(leases) => match leases.acquire_lease(key, &req.token, req.ttl).await? {
                true => LeaseOutcome::Taken,
                false => LeaseOutcome::HeldElsewhere,
            },
        },
    };
    Ok(Done::Read { value, lease })
}

async fn run_step<B: crate::Backend + ?Sized>(
    backend: &B,
    step: Step,
) -> crate::BackendResult<Done> {
    Ok(match step {
        Step::Read { key, lease } => read_step(backend, &key, lease).await?,
        Step::Write { key, value, ttl } => {
            backend.set(&key, value, ttl).await?;
            Done::Written(true)
        }
        Step::WriteUnderLease {
            key,
            token,
            value,
            ttl,
        } => match backend.as_leases() {
            Some(leases) => Done::Written(leases.set_under_lease(&key, &token, value, ttl).await?),
            None => {
                backend.set(&key, value, ttl).await?;
                Done::Written(true)
            }
        },
        Step::Delete { keys } => {
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            Done::Deleted(backend.delete_many(&refs).await?)
        }
        Step::DeleteFamily(family) => {
            // Without a registry, the members the caller knows.
            let keys: Vec<String> = family.known.iter().map(|m| family.key(m)).collect();
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            let deleted = backend.delete_many(&refs).await?;
            if let Some(a) = &family.announce {
                let list = serde_json::to_vec(&keys).unwrap_or_default();
                publish(backend, &a.channel, &a.message(&list)).await?;
            }
            Done::DeletedFamily { deleted, keys }
        }
        Step::Register { .. } => Done::Registered,
        Step::Versions { keys, init, ttl } => {
            let counters = backend
                .as_version_counters()
                .ok_or_else(|| unsupported(backend, "versions"))?;
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            Done::Versions(counters.versions(&refs, init, ttl).await?)
        }
        Step::Bump {
            key,
            at_least,
            ttl,
            announce,
        } => {
            let counters = backend
                .as_version_counters()
                .ok_or_else(|| unsupported(backend, "bump_version"))?;
            let value = counters.bump_version(&key, at_least, ttl).await?;
            if let Some(a) = &announce {
                let text = value.to_string();
                publish(backend, &a.channel, &a.message(text.as_bytes())).await?;
            }
            Done::Bumped(value)
        }
        Step::Publish { channel, message } => {
            publish(backend, &channel, &message).await?;
            Done::Published
        }
    })
}
