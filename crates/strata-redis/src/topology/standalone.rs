//! One Redis server: keys under their own names, every batch in one pipeline.

use std::borrow::Cow;

use async_trait::async_trait;
use redis::Value;
use strata_backend::{BackendInfo, BackendResult, lease_key};

use super::{Topology, scan_cmd, send_on};
use crate::conn::RedisConnection;
use crate::errors::map_err;
use crate::info::parse_info;
use crate::quota::QuotaIndex;
use crate::scripts::Call;

/// One server through a reconnecting multiplexed connection.
pub(crate) struct Standalone {
    conn: RedisConnection,
}

impl Standalone {
    pub(crate) fn new(conn: RedisConnection) -> Self {
        Self { conn }
    }
}

#[async_trait]
impl Topology for Standalone {
    fn connection(&self) -> RedisConnection {
        self.conn.clone()
    }

    fn entry_key<'a>(
        &self,
        key: &'a str,
        _quota: Option<&QuotaIndex>,
    ) -> BackendResult<Cow<'a, str>> {
        Ok(Cow::Borrowed(key))
    }

    fn lease_key(&self, physical: &str) -> BackendResult<String> {
        Ok(lease_key(physical))
    }

    fn logical_name(&self, physical: String, _quotas: &[QuotaIndex]) -> String {
        physical
    }

    fn quota_suffix(&self, _rest: &str) -> String {
        String::new()
    }

    async fn send(&self, calls: &[Call<'_>]) -> redis::RedisResult<Vec<Value>> {
        send_on(&mut self.conn.clone(), calls.iter()).await
    }

    async fn scan_step(
        &self,
        pattern: &str,
        cursor: &str,
        count: usize,
    ) -> BackendResult<(String, Vec<String>)> {
        scan_cmd(pattern, cursor, count)
            .query_async(&mut self.conn.clone())
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
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_err("INFO", e))?;
        let mut info = parse_info(&text);
        info.server_keys = Some(dbsize);
        Ok(info)
    }
}
