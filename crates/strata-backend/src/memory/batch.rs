//! The memory backend's batches: reads with leases atomic under its lock, families with an
//! in-process registry; every other step as the default runs it.

use crate::batch::{Done, Family, LeaseOutcome, LeaseRequest, LeaseWhen, Step, run_one_by_one};
use crate::error::BackendResult;
use crate::validate::{check_key_in, check_set_in};

use super::MemoryBackend;

impl MemoryBackend {
    pub(super) async fn run_batch(&self, steps: Vec<Step>) -> BackendResult<Vec<Done>> {
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            out.push(match step {
                Step::Read {
                    key,
                    lease: Some(req),
                } => self.read_and_lease(&key, &req)?,
                Step::Register { registry, member } => {
                    check_key_in(&self.shared.config.namespace, &registry)?;
                    let mut state = self.shared.state.lock();
                    state.registries.entry(registry).or_default().insert(member);
                    Done::Registered
                }
                Step::DeleteFamily(family) => self.delete_family(family)?,
                other => {
                    let mut one = run_one_by_one(self, vec![other]).await?;
                    one.pop().unwrap_or(Done::Registered)
                }
            });
        }
        Ok(out)
    }

    /// Reads `key` and takes its lease as `req` says, under one lock.
    fn read_and_lease(&self, key: &str, req: &LeaseRequest) -> BackendResult<Done> {
        check_set_in(&self.shared.config.namespace, key, 0, req.ttl, usize::MAX)?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        let value = state.read(key, now);
        if req.when == LeaseWhen::Absent && value.is_some() {
            return Ok(Done::Read {
                value,
                lease: LeaseOutcome::NotTaken,
            });
        }
        let lease = if state.leases.get(key).is_some_and(|(_, until)| *until > now) {
            LeaseOutcome::HeldElsewhere
        } else {
            let until = now.saturating_add(Self::ttl_ms(req.ttl));
            state
                .leases
                .insert(key.to_owned(), (req.token.clone(), until));
            LeaseOutcome::Taken
        };
        Ok(Done::Read { value, lease })
    }

    /// Deletes every member's key of `family` (the registered members and the known ones,
    /// which are registered), with their leases.
    fn delete_family(&self, family: Family) -> BackendResult<Done> {
        check_key_in(&self.shared.config.namespace, &family.registry)?;
        let now = self.now_ms();
        let mut state = self.shared.state.lock();
        let members = state.registries.entry(family.registry.clone()).or_default();
        members.extend(family.known.iter().cloned());
        let keys: Vec<String> = members.iter().map(|m| family.key(m)).collect();
        let mut deleted = 0;
        for key in &keys {
            deleted += u64::from(state.live(key, now).is_some());
            state.remove(key);
            state.leases.remove(key);
        }
        Ok(Done::DeletedFamily { deleted, keys })
    }
}
