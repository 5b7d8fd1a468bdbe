//! What one write costs: Redis commands, bytes in and out and server CPU per write (from
//! `INFO`), and the CPU a receiving instance spends per invalidation (from
//! `/proc/{pid}/task/*/schedstat`, nanoseconds on CPU, minus the same process's idle rate).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::consistency::faults::command;

/// The server counters read around a batch of writes.
#[derive(Debug, Default, Clone)]
pub(crate) struct ServerStats {
    commands: u64,
    net_in: u64,
    net_out: u64,
    cpu_us: f64,
    /// Calls per command (`cmdstat_*`).
    calls: BTreeMap<String, u64>,
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// Parses the `stats`, `cpu` and `commandstats` sections of `INFO`.
pub(crate) fn parse_info(info: &str) -> ServerStats {
    let num = |name: &str| {
        field(info, name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let cpu = |name: &str| {
        field(info, name)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let calls = info
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect();
    ServerStats {
        commands: num("total_commands_processed"),
        net_in: num("total_net_input_bytes"),
        net_out: num("total_net_output_bytes"),
        cpu_us: (cpu("used_cpu_user") + cpu("used_cpu_sys")) * 1e6,
        calls,
    }
}

pub(crate) async fn server_stats(url: &str) -> Result<ServerStats> {
    let info = match command(url, &["INFO", "everything"]).await? {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        redis::Value::VerbatimString { text, .. } => text,
        other => bail!("INFO answered {other:?}"),
    };
    Ok(parse_info(&info))
}

/// Nanoseconds process `pid` has spent on a CPU, over all its threads.
pub(crate) fn cpu_ns(pid: u32) -> Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).context("/proc (Linux only)")? {
        let stat = std::fs::read_to_string(task?.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split(' ')
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

/// The cost of one write, from `writes` writes.
#[derive(Debug, Clone)]
pub(crate) struct Traffic {
    pub(crate) instances: usize,
    pub(crate) writes: u64,
    pub(crate) commands: f64,
    pub(crate) net_in: f64,
    pub(crate) net_out: f64,
    pub(crate) server_cpu_us: f64,
    /// CPU a receiving instance spent per write (idle rate subtracted), µs.
    pub(crate) listener_cpu_us: f64,
    /// Calls per write of each command that moved.
    pub(crate) calls: Vec<(String, f64)>,
}

impl Traffic {
    pub(crate) fn between(
        before: &ServerStats,
        after: &ServerStats,
        writes: u64,
        instances: usize,
        listener_cpu_us: f64,
    ) -> Self {
        let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / writes.max(1) as f64;
        let calls = after
            .calls
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    per(*v, before.calls.get(k).copied().unwrap_or(0)),
                )
            })
            .filter(|(_, v)| *v > 0.0)
            .collect();
        Self {
            instances,
            writes,
            commands: per(after.commands, before.commands),
            net_in: per(after.net_in, before.net_in),
            net_out: per(after.net_out, before.net_out),
            server_cpu_us: (after.cpu_us - before.cpu_us) / writes.max(1) as f64,
            listener_cpu_us,
            calls,
        }
    }
}

/// Measures `writes` writes made by `write` (nothing else touching Redis meanwhile): server
/// counters around them, and `listener`'s CPU against its rate over an idle interval as long.
pub(crate) async fn measure<F, Fut>(
    url: &str,
    listener: u32,
    instances: usize,
    writes: u64,
    mut write: F,
) -> Result<Traffic>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let idle_from = (Instant::now(), cpu_ns(listener)?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_ns_per_s =
        cpu_ns(listener)?.saturating_sub(idle_from.1) as f64 / idle_from.0.elapsed().as_secs_f64();
    let before = server_stats(url).await?;
    let (t0, cpu0) = (Instant::now(), cpu_ns(listener)?);
    for i in 0..writes {
        write(i).await?;
    }
    // Let the last invalidations arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let busy =
        cpu_ns(listener)?.saturating_sub(cpu0) as f64 - idle_ns_per_s * t0.elapsed().as_secs_f64();
    let after = server_stats(url).await?;
    Ok(Traffic::between(
        &before,
        &after,
        writes,
        instances,
        busy.max(0.0) / 1000.0 / writes.max(1) as f64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_sections_parse() {
        let info = "# Stats\r\ntotal_commands_processed:120\r\ntotal_net_input_bytes:5000\r\ntotal_net_output_bytes:9000\r\n# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:0.250000\r\n# Commandstats\r\ncmdstat_publish:calls=10,usec=30,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\ncmdstat_evalsha:calls=4,usec=80,usec_per_call=20.00\r\n";
        let s = parse_info(info);
        assert_eq!((s.commands, s.net_in, s.net_out), (120, 5000, 9000));
        assert!((s.cpu_us - 1_750_000.0).abs() < 1e-3);
        assert_eq!(s.calls.get("publish"), Some(&10));
        assert_eq!(s.calls.get("evalsha"), Some(&4));
        let mut later = s.clone();
        later.commands += 20;
        later.net_out += 400;
        later.calls.insert("publish".into(), 20);
        let t = Traffic::between(&s, &later, 10, 2, 5.0);
        assert_eq!((t.commands, t.net_out, t.net_in), (2.0, 40.0, 0.0));
        assert_eq!(t.calls, vec![("publish".to_owned(), 1.0)]);
    }
}
