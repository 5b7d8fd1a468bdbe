//! One Redis server: keys under their own names, every batch in one pipeline.

use std::borrow::Cow;

use async_trait::async_trait;
use redis::Value;
use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use strata_backend::{BackendInfo, BackendResult};
use thread_local::ThreadLocal;

use super::{Lent, Topology, lease_name, scan_cmd, send_on};
use crate::conn::RedisConnection;
use crate::errors::map_err;
use crate::info::parse_info;
use crate::quota::QuotaIndex;
use crate::scripts::Call;

/// Makes a new (lazily connecting) connection to the server.
pub(crate) type Remake = Arc<dyn Fn() -> BackendResult<RedisConnection> + Send + Sync>;

/// Idle handles a thread keeps (more are dropped when given back).
const IDLE_PER_THREAD: usize = 256;

/// One server through a reconnecting multiplexed connection, replaced when a reply times out.
///
/// A call borrows a handle on the connection from its thread's idle ones ([`Topology::lend`])
/// and gives it back: cloning a handle (and dropping it) writes counters every clone shares,
/// which the threads of a busy runtime would otherwise take in turns on every read.
pub(crate) struct Standalone {
    namespace: String,
    /// The current connection and its generation.
    conn: RwLock<(u64, RedisConnection)>,
    /// The current generation, read without the lock.
    generation: AtomicU64,
    /// Each thread's idle handles, with their generation.
    idle: ThreadLocal<Mutex<Vec<(u64, RedisConnection)>>>,
    remake: Remake,
}

impl Standalone {
    pub(crate) fn new(namespace: &str, conn: RedisConnection, remake: Remake) -> Self {
        Self {
            namespace: namespace.to_owned(),
            conn: RwLock::new((0, conn)),
            generation: AtomicU64::new(0),
            idle: ThreadLocal::new(),
            remake,
        }
    }
}

#[async_trait]
impl Topology for Standalone {
    fn connection(&self) -> RedisConnection {
        self.conn.read().1.clone()
    }

    fn current(&self) -> (u64, RedisConnection) {
        self.conn.read().clone()
    }

    fn lend(&self) -> (u64, RedisConnection) {
        let generation = self.generation.load(Ordering::Acquire);
        let mut idle = self.idle.get_or_default().lock();
        while let Some(lent) = idle.pop() {
            if lent.0 == generation {
                return lent;
            }
        }
        drop(idle);
        self.current()
    }

    fn give_back(&self, lent: (u64, RedisConnection)) {
        if lent.0 != self.generation.load(Ordering::Acquire) {
            return;
        }
        let mut idle = self.idle.get_or_default().lock();
        if idle.len() < IDLE_PER_THREAD {
            idle.push(lent);
        }
    }

    fn generation(&self) -> u64 {
        self.conn.read().0
    }

    fn discard(&self, generation: u64) {
        let mut current = self.conn.write();
        if current.0 != generation {
            return;
        }
        match (self.remake)() {
            Ok(fresh) => {
                tracing::debug!("a reply timed out: the connection is replaced");
                *current = (generation + 1, fresh);
                self.generation.store(generation + 1, Ordering::Release);
                // The idle handles on the old connection are dropped, so that it closes.
                for idle in self.idle.iter() {
                    idle.lock().clear();
                }
            }
            Err(e) => tracing::debug!(error = %e, "could not replace a stuck connection"),
        }
    }

    fn entry_key<'a>(
        &self,
        key: &'a str,
        _quota: Option<&QuotaIndex>,
    ) -> BackendResult<Cow<'a, str>> {
        Ok(Cow::Borrowed(key))
    }

    fn lease_key(&self, physical: &str) -> BackendResult<String> {
        Ok(lease_name(&self.namespace, physical))
    }

    fn logical_name(&self, physical: String, _quotas: &[QuotaIndex]) -> String {
        physical
    }

    fn quota_suffix(&self, _rest: &str) -> String {
        String::new()
    }

    fn scripts_span_slots(&self) -> bool {
        true
    }

    async fn send(&self, calls: &[&Call<'_>]) -> redis::RedisResult<Vec<Value>> {
        let mut lent = Lent::new(self);
        send_on(lent.conn(), calls.iter().copied()).await
    }

    async fn load_scripts(&self, sources: &[&str]) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        for source in sources {
            pipe.cmd("SCRIPT").arg("LOAD").arg(*source).ignore();
        }
        pipe.query_async(&mut self.connection()).await
    }

    async fn scan_step(
        &self,
        pattern: &str,
        cursor: &str,
        count: usize,
    ) -> BackendResult<(String, Vec<String>)> {
        scan_cmd(pattern, cursor, count)
            .query_async(&mut self.connection())
            .await
            .map_err(|e| map_err("SCAN", e))
    }

    async fn info(&self) -> BackendResult<BackendInfo> {
        let mut pipe = redis::pipe();
        pipe.cmd("INFO")
            .arg("server")
            .arg("memory")
            .arg("stats")
            .cmd("DBSIZE");
        let (text, dbsize): (String, u64) = pipe
            .query_async(&mut self.connection())
            .await
            .map_err(|e| map_err("INFO", e))?;
        let mut info = parse_info(&text);
        info.server_keys = Some(dbsize);
        Ok(info)
    }
}
