//! Batches on Redis: every step becomes one call (a script or a command), and the calls go in
//! one round trip — one pipeline on one server, one pipeline per slot on a cluster.
//!
//! On a cluster a family delete needs two: a script cannot read a registry in one slot and
//! delete the keys it names in others, so the registries are read first.

use bytes::Bytes;
use std::borrow::Cow;
use std::time::Duration;

use redis::Value;
use strata_backend::batch::{Done, Family, LeaseOutcome, LeaseWhen, Step};
use strata_backend::{BackendError, BackendResult, ErrorKind, check_key_in, check_set_in};

use crate::backend::{RedisBackend, bytes_of};
use crate::entries::{Entries, ms};
use crate::errors::int;
use crate::quota::quota_of;
use crate::scripts::Call;
use crate::topology::Lent;

/// A step ready to plan: as given, or (on a cluster) a family whose members were read.
enum Planned {
    Step(Step),
    FamilyKeys(Family),
}

/// How the replies of one step's calls become its [`Done`].
enum Shape<'a> {
    Read,
    Written {
        entries: &'a dyn Entries,
        key: &'a str,
        len: usize,
    },
    Deleted(usize),
    /// The family script: `{deleted, keys...}`.
    FamilyScript,
    /// A family read beforehand: its deletes, then registrations and a publish.
    FamilyKeys {
        keys: Vec<String>,
        extra: usize,
    },
    Registered,
    Versions(usize),
    Bumped,
    Published,
}

impl RedisBackend {
    /// Runs `steps` in one round trip (two on a cluster with family deletes).
    pub(crate) async fn run_batch(&self, steps: Vec<Step>) -> BackendResult<Vec<Done>> {
        for step in &steps {
            check_step(
                step,
                &self.config().namespace,
                self.config().max_value_bytes,
            )?;
        }
        let planned = if self.topology.scripts_span_slots() {
            steps.into_iter().map(Planned::Step).collect()
        } else {
            self.read_registries(steps).await?
        };
        let mut calls = Vec::new();
        let mut shapes = Vec::with_capacity(planned.len());
        for p in &planned {
            shapes.push(match p {
                Planned::Step(step) => self.plan(step, &mut calls)?,
                Planned::FamilyKeys(family) => self.plan_family_keys(family, &mut calls)?,
            });
        }
        let replies = self.exec("batch", &calls).await?;
        let mut replies = replies.into_iter();
        shapes
            .into_iter()
            .map(|shape| done(shape, &mut replies))
            .collect()
    }

    /// A batch of one read without a lease (an L2 hit): [`read_one`](Self::read_one), without
    /// the planning of a batch.
    pub(crate) async fn read_alone(&self, key: &str) -> BackendResult<Done> {
        let value = self.read_one(key).await?;
        Ok(Done::Read {
            value,
            lease: LeaseOutcome::NotTaken,
        })
    }

    /// The reply to a read of `key` (bulk bytes or nil): coalesced with the reads in flight
    /// ([`RedisConfig::coalesce_reads`](crate::RedisConfig::coalesce_reads)), else one `GET`
    /// (a quota that records reads: its script).
    pub(crate) async fn read_one(&self, key: &str) -> BackendResult<Option<Bytes>> {
        check_key_in(&self.config().namespace, key)?;
        let (entries, physical) = self.entry(key)?;
        let limit = strata_backend::limit_or(self.config().operation_timeout);
        match &self.wire {
            Some(wire) if entries.reads_plainly() => wire.get(&physical, limit).await,
            // Boxed: the read line's future stays small (a future of more than a kilobyte is
            // allocated outside the allocator's per-thread cache, under a lock the threads of
            // a busy runtime contend for).
            _ => Box::pin(self.read_through_redis_rs(entries, physical, limit)).await,
        }
    }

    /// [`read_one`](Self::read_one) without the read line: a quota's script, or a `GET`
    /// through redis-rs (coalesced as configured).
    async fn read_through_redis_rs(
        &self,
        entries: &dyn Entries,
        physical: Cow<'_, str>,
        limit: Duration,
    ) -> BackendResult<Option<Bytes>> {
        if !entries.reads_plainly() {
            let call = entries.get(&self.scripts, physical);
            return bytes_of(self.exec_one("GET", call).await?);
        }
        let Some(coalescer) = &self.coalescer else {
            return bytes_of(self.get_plain(&physical).await?);
        };
        let reading = coalescer.enter();
        bytes_of(if reading.joins() {
            coalescer.get(&physical, limit).await?
        } else {
            self.get_plain(&physical).await?
        })
    }

    /// One `GET` of the physical key `physical` on the current connection, under the operation
    /// timeout (a timed-out connection is replaced, as [`run`](Self::run) does): no pipeline,
    /// no script, nothing but what raw redis-rs does.
    async fn get_plain(&self, physical: &str) -> BackendResult<Value> {
        let limit = strata_backend::limit_or(self.config().operation_timeout);
        let mut lent = Lent::new(&*self.topology);
        let generation = lent.generation();
        let mut cmd = redis::cmd("GET");
        cmd.arg(physical);
        match tokio::time::timeout(limit, cmd.query_async::<Value>(lent.conn())).await {
            Ok(reply) => reply.map_err(|e| crate::errors::map_err("GET", e)),
            Err(_) => {
                drop(lent);
                self.topology.discard(generation);
                Err(BackendError::timeout("redis GET", limit))
            }
        }
    }

    /// The calls of one step, appended to `calls`; how to read their replies.
    fn plan<'a>(&'a self, step: &'a Step, calls: &mut Vec<Call<'a>>) -> BackendResult<Shape<'a>> {
        Ok(match step {
            Step::Read { key, lease: None } => {
                let (entries, physical) = self.entry(key)?;
                calls.push(entries.get(&self.scripts, physical));
                Shape::Read
            }
            Step::Read {
                key,
                lease: Some(req),
            } => {
                let (entries, at) = self.place(key)?;
                let always = req.when == LeaseWhen::Always;
                calls.push(entries.read_and_lease(
                    &self.scripts,
                    at,
                    (&req.token, req.ttl, always),
                ));
                Shape::Read
            }
            Step::Write { key, value, ttl } => self.plan_write(key, value, *ttl, None, calls)?,
            Step::WriteUnderLease {
                key,
                token,
                value,
                ttl,
            } => self.plan_write(key, value, *ttl, Some(token), calls)?,
            Step::Delete { keys } => {
                for key in keys {
                    let (entries, at) = self.place(key)?;
                    calls.push(entries.delete(&self.scripts, at, None));
                }
                Shape::Deleted(keys.len())
            }
            Step::DeleteFamily(family) => {
                calls.push(self.family_script(family)?);
                Shape::FamilyScript
            }
            Step::Register { registry, member } => {
                calls.push(sadd(registry, std::slice::from_ref(member)));
                calls.push(pexpire(registry, self.config().registry_ttl));
                Shape::Registered
            }
            Step::Versions { keys, init, ttl } => {
                for key in keys {
                    let counter = self.physical(key)?.into_owned();
                    let call = self.scripts.versions.call(vec![counter]);
                    calls.push(call.num(*init).num(ttl.map_or(0, ms)));
                }
                Shape::Versions(keys.len())
            }
            Step::Bump {
                key,
                at_least,
                ttl,
                announce,
            } => {
                let counter = self.physical(key)?.into_owned();
                let mut call = self.scripts.bump_version.call(vec![counter]);
                call = call.num(*at_least).num(ttl.map_or(0, ms));
                if let Some(a) = announce {
                    call = call
                        .arg(a.channel.as_bytes())
                        .arg(a.before.as_ref())
                        .arg(a.after.as_ref());
                }
                calls.push(call);
                Shape::Bumped
            }
            Step::Publish { channel, message } => {
                calls.push(publish(channel, message));
                Shape::Published
            }
            _ => return Err(BackendError::unsupported("redis", "this batch step")),
        })
    }

    /// A family whose members are known: one delete per key, the registrations, the message.
    fn plan_family_keys<'a>(
        &'a self,
        family: &'a Family,
        calls: &mut Vec<Call<'a>>,
    ) -> BackendResult<Shape<'a>> {
        let keys: Vec<String> = family.known.iter().map(|m| family.key(m)).collect();
        for key in &keys {
            let (entries, at) = self.place_owned(key)?;
            calls.push(entries.delete(&self.scripts, at, None));
        }
        calls.push(sadd(&family.registry, &family.known));
        calls.push(pexpire(&family.registry, self.config().registry_ttl));
        let mut extra = 2;
        if let Some(a) = &family.announce {
            let list = serde_json::to_vec(&keys).unwrap_or_default();
            calls.push(publish(&a.channel, &a.message(&list)));
            extra += 1;
        }
        Ok(Shape::FamilyKeys { keys, extra })
    }

    fn plan_write<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
        token: Option<&'a String>,
        calls: &mut Vec<Call<'a>>,
    ) -> BackendResult<Shape<'a>> {
        let (entries, at) = self.place(key)?;
        let token = token.map(String::as_str);
        calls.push(entries.set(&self.scripts, at, value, ttl, token));
        Ok(Shape::Written {
            entries,
            key,
            len: value.len(),
        })
    }

    /// The family-delete script (one server): the registry, the entries' and leases' names
    /// around the member, the quota index to clean, the message to publish.
    fn family_script<'a>(&'a self, family: &'a Family) -> BackendResult<Call<'a>> {
        check_key_in(&self.config().namespace, &family.registry)?;
        let mut keys = vec![family.registry.clone()];
        if let Some(q) = quota_of(&self.quotas, &family.before) {
            keys.extend(q.index_keys());
        }
        let lease_before = self.topology.lease_key(&family.before)?;
        let mut call = self
            .scripts
            .delete_family
            .call(keys)
            .arg(family.before.as_bytes())
            .arg(family.after.as_bytes())
            .arg(lease_before.into_bytes())
            .arg(family.after.as_bytes());
        call = match &family.announce {
            Some(a) => call
                .arg(a.channel.as_bytes())
                .arg(a.before.as_ref())
                .arg(a.after.as_ref()),
            None => call.arg(&b""[..]).arg(&b""[..]).arg(&b""[..]),
        };
        for m in &family.known {
            call = call.arg(m.as_bytes());
        }
        Ok(call)
    }

    /// On a cluster: reads the registries of the batch's families (one round trip) and turns
    /// each family into the deletes of its keys.
    async fn read_registries(&self, steps: Vec<Step>) -> BackendResult<Vec<Planned>> {
        let families: Vec<&Family> = steps
            .iter()
            .filter_map(|s| match s {
                Step::DeleteFamily(f) => Some(f),
                _ => None,
            })
            .collect();
        if families.is_empty() {
            return Ok(steps.into_iter().map(Planned::Step).collect());
        }
        let calls: Vec<Call<'_>> = families
            .iter()
            .map(|f| {
                let mut cmd = redis::cmd("SMEMBERS");
                cmd.arg(&f.registry);
                Call::cmd(f.registry.as_str(), cmd)
            })
            .collect();
        let members = self.exec("SMEMBERS", &calls).await?;
        let mut members = members.into_iter();
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            out.push(match step {
                Step::DeleteFamily(mut family) => {
                    let registered: Vec<String> =
                        redis::from_redis_value(members.next().unwrap_or(Value::Nil))
                            .unwrap_or_default();
                    for m in registered {
                        if !family.known.contains(&m) {
                            family.known.push(m);
                        }
                    }
                    Planned::FamilyKeys(family)
                }
                other => Planned::Step(other),
            });
        }
        Ok(out)
    }
}

fn sadd<'a>(registry: &'a str, members: &[String]) -> Call<'a> {
    let mut cmd = redis::cmd("SADD");
    cmd.arg(registry).arg(members);
    Call::cmd(registry, cmd)
}

/// Keeps a registry for `ttl` from now (every registration renews it).
fn pexpire(registry: &str, ttl: std::time::Duration) -> Call<'_> {
    let mut cmd = redis::cmd("PEXPIRE");
    cmd.arg(registry)
        .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
    Call::cmd(registry, cmd)
}

fn publish<'a>(channel: &str, message: &[u8]) -> Call<'a> {
    let mut cmd = redis::cmd("PUBLISH");
    cmd.arg(channel).arg(message);
    Call::cmd("", cmd)
}

/// Checks what a step writes before anything is sent (every key inside `ns`).
fn check_step(step: &Step, ns: &str, max_value_bytes: usize) -> BackendResult<()> {
    match step {
        Step::Read { key, lease } => match lease {
            Some(req) => check_set_in(ns, key, 0, req.ttl, usize::MAX),
            None => check_key_in(ns, key),
        },
        Step::Write { key, value, ttl }
        | Step::WriteUnderLease {
            key, value, ttl, ..
        } => check_set_in(ns, key, value.len(), *ttl, max_value_bytes),
        Step::Delete { keys } | Step::Versions { keys, .. } => {
            keys.iter().try_for_each(|k| check_key_in(ns, k))
        }
        Step::DeleteFamily(f) => check_key_in(ns, &f.registry),
        Step::Register { registry, .. } => check_key_in(ns, registry),
        Step::Bump { key, .. } => check_key_in(ns, key),
        Step::Publish { .. } => Ok(()),
        _ => Ok(()),
    }
}

fn next(replies: &mut impl Iterator<Item = Value>) -> BackendResult<Value> {
    replies
        .next()
        .ok_or_else(|| BackendError::new(ErrorKind::Server, "a batch reply is missing"))
}

fn counter(reply: Value) -> BackendResult<u64> {
    let reply = match reply {
        Value::Array(mut one) if one.len() == 1 => one.remove(0),
        other => other,
    };
    let text: String = redis::from_redis_value(reply).map_err(|e| {
        BackendError::new(ErrorKind::Server, format!("unexpected counter reply: {e}"))
    })?;
    text.parse().map_err(|_| {
        BackendError::new(
            ErrorKind::Server,
            format!("version counter holds {text:?}, not an unsigned integer"),
        )
    })
}

/// Turns the replies of one step's calls into its result.
fn done(shape: Shape<'_>, replies: &mut impl Iterator<Item = Value>) -> BackendResult<Done> {
    Ok(match shape {
        Shape::Read => read_reply(next(replies)?)?,
        Shape::Written { entries, key, len } => {
            Done::Written(entries.stored(key, len, next(replies)?)?)
        }
        Shape::Deleted(n) => {
            let mut deleted = 0;
            for _ in 0..n {
                deleted += u64::from(int(&next(replies)?)? > 0);
            }
            Done::Deleted(deleted)
        }
        Shape::FamilyScript => {
            let items: Vec<Value> = match next(replies)? {
                Value::Array(items) => items,
                other => vec![other],
            };
            let mut items = items.into_iter();
            let deleted = int(&items.next().unwrap_or(Value::Int(0)))?
                .max(0)
                .unsigned_abs();
            let keys = items
                .map(|v| redis::from_redis_value::<String>(v).unwrap_or_default())
                .collect();
            Done::DeletedFamily { deleted, keys }
        }
        Shape::FamilyKeys { keys, extra } => {
            let mut deleted = 0;
            for _ in &keys {
                deleted += u64::from(int(&next(replies)?)? > 0);
            }
            for _ in 0..extra {
                next(replies)?;
            }
            Done::DeletedFamily { deleted, keys }
        }
        Shape::Registered => {
            next(replies)?;
            next(replies)?;
            Done::Registered
        }
        Shape::Versions(n) => {
            let mut values = Vec::with_capacity(n);
            for _ in 0..n {
                values.push(counter(next(replies)?)?);
            }
            Done::Versions(values)
        }
        Shape::Bumped => Done::Bumped(counter(next(replies)?)?),
        Shape::Published => {
            next(replies)?;
            Done::Published
        }
    })
}

/// A read's reply: bytes, or `{bytes, lease code}` from the read-and-lease script.
fn read_reply(reply: Value) -> BackendResult<Done> {
    let Value::Array(mut pair) = reply else {
        return Ok(Done::Read {
            value: bytes_of(reply)?,
            lease: LeaseOutcome::NotTaken,
        });
    };
    let code = pair.pop().map_or(Ok(0), |c| int(&c))?;
    let value = bytes_of(pair.pop().unwrap_or(Value::Nil))?;
    let lease = match code {
        1 => LeaseOutcome::Taken,
        2 => LeaseOutcome::HeldElsewhere,
        _ => LeaseOutcome::NotTaken,
    };
    Ok(Done::Read { value, lease })
}
