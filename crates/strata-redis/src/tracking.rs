//! `RedisTracker`: Redis client tracking in broadcasting mode, so every write under the cache's
//! prefix — by this instance, another one, or a writer outside Strata, and every eviction and
//! expiry — drops the key from this instance's L1.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use strata_backend::BackendResult;
use strata_invalidation::{BusEvent, Subscription, Tracker};
use tokio::sync::mpsc;

use crate::config::RedisConfig;
use crate::push::{Listen, PushChannel};

/// How often a cluster's primaries are listed again (a tracking connection per primary).
const TOPOLOGY_CHECK: Duration = Duration::from_secs(5);

/// Client tracking (`CLIENT TRACKING ON BCAST PREFIX <prefix>`) on a RESP3 connection of its
/// own, named on the server, with heartbeats. On a cluster: one connection per primary,
/// re-established when the set of primaries changes; the subscription counts as in place
/// when every primary's is, and a heartbeat is confirmed when every primary answered it.
/// Needs Redis 6 or later.
#[derive(Debug, Clone)]
pub struct RedisTracker {
    config: RedisConfig,
}

impl RedisTracker {
    /// Tracking for the deployment of `config` (connects lazily, in the subscription's task).
    pub fn new(config: &RedisConfig) -> BackendResult<Self> {
        crate::connect::seed_clients(config)?;
        Ok(Self {
            config: config.clone(),
        })
    }
}

impl Tracker for RedisTracker {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn track(&self, prefix: &str, name: &str) -> Subscription {
        let listen = Listen::Tracking {
            prefixes: vec![prefix.to_owned()],
        };
        if !self.config.cluster {
            return PushChannel {
                clients: crate::connect::resp3_clients(&self.config).unwrap_or_default(),
                listen,
                name: name.to_owned(),
                timeout: self.config.operation_timeout,
            }
            .spawn();
        }
        let (tx, rx) = mpsc::channel(1024);
        let (beats, beat_rx) = mpsc::channel(16);
        let fan_in = FanIn {
            config: self.config.clone(),
            listen,
            name: name.to_owned(),
        };
        tokio::spawn(fan_in.run(tx, beat_rx));
        Subscription::with_heartbeats(rx, beats)
    }
}

/// One tracking connection per cluster primary, seen as one subscription.
struct FanIn {
    config: RedisConfig,
    listen: Listen,
    name: String,
}

impl FanIn {
    async fn run(self, tx: mpsc::Sender<BusEvent>, mut beats: mpsc::Receiver<u64>) {
        let mut backoff = Duration::from_millis(100);
        while !tx.is_closed() {
            let primaries = match crate::connect::cluster_primaries(&self.config).await {
                Ok(p) if !p.is_empty() => p,
                other => {
                    tracing::debug!(?other, "could not list the cluster's primaries; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            if !self.serve(&primaries, &tx, &mut beats).await {
                return;
            }
            // The primaries changed (or one is gone): what was tracked may have been missed.
            if tx.send(BusEvent::Reset).await.is_err() {
                return;
            }
        }
    }

    /// Tracks on each of `primaries` until they change; false once the subscriber is gone.
    async fn serve(
        &self,
        primaries: &BTreeSet<String>,
        tx: &mpsc::Sender<BusEvent>,
        beats: &mut mpsc::Receiver<u64>,
    ) -> bool {
        let (inner_tx, mut inner) = mpsc::channel::<(usize, BusEvent)>(1024);
        let mut senders = Vec::new();
        let mut tasks = Vec::new();
        for (i, addr) in primaries.iter().enumerate() {
            let Ok(client) = crate::connect::resp3_client(&self.config, addr) else {
                continue;
            };
            let sub = PushChannel {
                clients: vec![client],
                listen: self.listen.clone(),
                name: self.name.clone(),
                timeout: self.config.operation_timeout,
            }
            .spawn();
            senders.extend(sub.heartbeat_sender());
            let (mut events, inner_tx) = (sub.events, inner_tx.clone());
            tasks.push(tokio::spawn(async move {
                while let Some(e) = events.recv().await {
                    if inner_tx.send((i, e)).await.is_err() {
                        return;
                    }
                }
            }));
        }
        let mut merged = Merged {
            n: senders.len(),
            subscribed: vec![false; primaries.len()],
            answered: HashMap::new(),
        };
        let mut check = tokio::time::interval(TOPOLOGY_CHECK);
        check.tick().await;
        let alive = loop {
            tokio::select! {
                event = inner.recv() => {
                    let Some((i, event)) = event else { break true };
                    if let Some(out) = merged.event(i, event)
                        && tx.send(out).await.is_err()
                    {
                        break false;
                    }
                }
                token = beats.recv() => {
                    let Some(token) = token else { break false };
                    for s in &senders {
                        let _ = s.try_send(token);
                    }
                }
                _ = check.tick() => {
                    let now = crate::connect::cluster_primaries(&self.config).await;
                    if now.is_ok_and(|p| !p.is_empty() && &p != primaries) {
                        tracing::info!("the cluster's primaries changed; tracking them again");
                        break true;
                    }
                }
            }
        };
        for t in tasks {
            t.abort();
        }
        alive
    }
}

/// The primaries' subscriptions seen as one.
struct Merged {
    /// Primaries answering heartbeats.
    n: usize,
    subscribed: Vec<bool>,
    /// Per heartbeat token, how many primaries answered it.
    answered: HashMap<u64, usize>,
}

impl Merged {
    /// What primary `i`'s event means for the one subscription, if anything yet.
    fn event(&mut self, i: usize, event: BusEvent) -> Option<BusEvent> {
        match event {
            BusEvent::Subscribed => {
                self.subscribed[i] = true;
                self.subscribed
                    .iter()
                    .all(|s| *s)
                    .then_some(BusEvent::Subscribed)
            }
            BusEvent::Reset => {
                self.subscribed[i] = false;
                Some(BusEvent::Reset)
            }
            BusEvent::Confirmed(token) => {
                let count = self.answered.entry(token).or_insert(0);
                *count += 1;
                (*count == self.n).then(|| {
                    self.answered.retain(|t, _| *t > token);
                    BusEvent::Confirmed(token)
                })
            }
            other => Some(other),
        }
    }
}
