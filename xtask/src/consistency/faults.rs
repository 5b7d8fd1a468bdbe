//! Faults injected into Redis from outside, as an operator would: coherence connections
//! killed (pub/sub by type, tracking and bus connections by the name they set), the server
//! paused with `CLIENT PAUSE`, a process stopped with SIGSTOP.

use anyhow::{Context, Result, bail};

/// Names Strata gives its coherence connections (`CLIENT SETNAME`), by prefix.
pub(crate) const TRACKING_NAME: &str = "strata-tracking-";
pub(crate) const BUS_NAME: &str = "strata-bus-";

/// One line of `CLIENT LIST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientInfo {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) flags: String,
}

/// Parses `CLIENT LIST` output.
pub(crate) fn parse_client_list(text: &str) -> Vec<ClientInfo> {
    text.lines()
        .filter_map(|line| {
            let field = |key: &str| {
                line.split(' ')
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .map(str::to_owned)
            };
            Some(ClientInfo {
                id: field("id")?.parse().ok()?,
                name: field("name").unwrap_or_default(),
                flags: field("flags").unwrap_or_default(),
            })
        })
        .collect()
}

async fn conn(url: &str) -> Result<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
        .set_response_timeout(Some(std::time::Duration::from_secs(2)));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// Runs one command on `url` (a fresh connection).
pub(crate) async fn command(url: &str, args: &[&str]) -> Result<redis::Value> {
    let mut c = conn(url).await?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    Ok(cmd.query_async(&mut c).await?)
}

/// The clients connected to `url`.
pub(crate) async fn client_list(url: &str) -> Result<Vec<ClientInfo>> {
    match command(url, &["CLIENT", "LIST"]).await? {
        redis::Value::BulkString(b) => Ok(parse_client_list(&String::from_utf8_lossy(&b))),
        redis::Value::VerbatimString { text, .. } => Ok(parse_client_list(&text)),
        other => bail!("CLIENT LIST answered {other:?}"),
    }
}

/// What one kill of the coherence connections found and killed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Killed {
    /// `CLIENT KILL TYPE pubsub`'s count.
    pub(crate) pubsub: u64,
    /// Connections killed by ID: named `strata-tracking-…` or flagged as tracking (`t`).
    pub(crate) tracking: u64,
    /// Connections named `strata-bus-…` killed by ID that `TYPE pubsub` had not matched.
    pub(crate) bus_named: u64,
}

impl std::ops::AddAssign for Killed {
    fn add_assign(&mut self, o: Self) {
        self.pubsub += o.pubsub;
        self.tracking += o.tracking;
        self.bus_named += o.bus_named;
    }
}

/// Kills every coherence connection on `url`: pub/sub by type, then tracking connections (by
/// name, or by the tracking flag when unnamed) and named bus connections by ID.
pub(crate) async fn kill_coherence(url: &str) -> Result<Killed> {
    let pubsub = match command(url, &["CLIENT", "KILL", "TYPE", "pubsub"]).await? {
        redis::Value::Int(n) => n.max(0) as u64,
        _ => 0,
    };
    let mut killed = Killed {
        pubsub,
        ..Killed::default()
    };
    for c in client_list(url).await? {
        let tracking = c.name.starts_with(TRACKING_NAME) || c.flags.contains('t');
        let bus = c.name.starts_with(BUS_NAME);
        if !tracking && !bus {
            continue;
        }
        let id = c.id.to_string();
        // The connection may be gone already (a reconnect racing us): not an error.
        if let Ok(redis::Value::Int(1)) = command(url, &["CLIENT", "KILL", "ID", &id]).await {
            if tracking {
                killed.tracking += 1;
            } else {
                killed.bus_named += 1;
            }
        }
    }
    Ok(killed)
}

/// `CLIENT PAUSE ms WRITE` (or `ALL`) on `url`.
pub(crate) async fn client_pause(url: &str, ms: u64, all: bool) -> Result<()> {
    let ms = ms.to_string();
    let mode = if all { "ALL" } else { "WRITE" };
    command(url, &["CLIENT", "PAUSE", &ms, mode]).await?;
    Ok(())
}

/// Sends `sig` ("STOP", "CONT") to process `pid`.
pub(crate) fn signal(pid: u32, sig: &str) -> Result<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()?;
    if !status.success() {
        bail!("kill -{sig} {pid}: {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_list_lines_give_id_name_and_flags() {
        let text = "id=3 addr=127.0.0.1:5 laddr=127.0.0.1:6379 fd=8 name=strata-tracking-ab age=1 idle=0 flags=t db=0\n\
                    id=12 addr=127.0.0.1:7 fd=9 name= age=2 idle=2 flags=P db=0 sub=1\n";
        let list = parse_client_list(text);
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].id, list[0].name.as_str(), list[0].flags.as_str()),
            (3, "strata-tracking-ab", "t")
        );
        assert_eq!(
            (list[1].id, list[1].name.as_str(), list[1].flags.as_str()),
            (12, "", "P")
        );
    }
}
