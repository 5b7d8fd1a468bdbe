//! One Redis server: keys under their own names, every batch in one pipeline.

use std::borrow::Cow;

use async_trait::async_trait;
use redis::Value;
use std::sync::Arc;

use parking_lot::RwLock;
use strata_backend::{BackendInfo, BackendResult};

use super::{Topology, lease_name, scan_cmd, send_on};
use crate::conn::RedisConnection;
use crate::errors::map_err;
use crate::info::parse_info;
use crate::quota::QuotaIndex;
use crate::scripts::Call;

/// Makes a new (lazily connecting) connection to the server.
pub(crate) type Remake = Arc<dyn Fn() -> BackendResult<RedisConnection> + Send + Sync>;

/// One server through a reconnecting multiplexed connection, replaced when a reply times out.
pub(crate) struct Standalone {
    namespace: String,
    /// The current connection and its generation.
    conn: RwLock<(u64, RedisConnection)>,
    remake: Remake,
}

impl Standalone {
    pub(crate) fn new(namespace: &str, conn: RedisConnection, remake: Remake) -> Self {
        Self {
            namespace: namespace.to_owned(),
            conn: RwLock::new((0, conn)),
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
        send_on(&mut self.connection(), calls.iter().copied()).await
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
