//! Parsing of `INFO` replies.

use strata_backend::BackendInfo;

/// Fields of `INFO` copied into [`BackendInfo::details`].
const DETAIL_FIELDS: &[&str] = &[
    "redis_mode",
    "used_memory_human",
    "used_memory_peak",
    "mem_fragmentation_ratio",
    "evicted_keys",
    "expired_keys",
    "keyspace_hits",
    "keyspace_misses",
    "uptime_in_seconds",
    "connected_clients",
];

/// Turns the `INFO` text into a [`BackendInfo`].
pub(crate) fn parse_info(text: &str) -> BackendInfo {
    let mut info = BackendInfo::new("redis");
    for line in text.lines() {
        let Some((k, v)) = line.trim_end().split_once(':') else {
            continue;
        };
        match k {
            "redis_version" => info.server_version = Some(v.to_owned()),
            "used_memory" => info.bytes_used = v.parse().ok(),
            "maxmemory" => info.max_bytes = v.parse().ok(),
            "maxmemory_policy" => info.eviction_policy = Some(v.to_owned()),
            "evicted_keys" => {
                info.evictions = v.parse().ok();
                info.details.insert(k.to_owned(), v.to_owned());
            }
            _ if DETAIL_FIELDS.contains(&k) => {
                info.details.insert(k.to_owned(), v.to_owned());
            }
            _ => {}
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_we_report() {
        let text = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n# Memory\r\nused_memory:1048576\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n# Stats\r\nevicted_keys:3\r\n";
        let info = parse_info(text);
        assert_eq!(info.server_version.as_deref(), Some("7.0.15"));
        assert_eq!(info.bytes_used, Some(1_048_576));
        assert_eq!(info.max_bytes, Some(0));
        assert_eq!(info.eviction_policy.as_deref(), Some("noeviction"));
        assert_eq!(info.evictions, Some(3));
        assert_eq!(info.details["redis_mode"], "standalone");
    }
}
