//! Whether this instance's L1 may be trusted: the coherence channels (client tracking, the bus)
//! answer heartbeats, and an L1 entry is served only while the channels confirmed, within
//! `l1.verified_within`, that nothing sent before was missed — or while the entry itself was
//! read or written that recently.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use strata_invalidation::{Bus, Tracker};
use tokio::sync::watch;

/// How the instances sharing a backend keep their in-process tiers coherent
/// (`coherence` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CoherenceMode {
    /// The server pushes an invalidation for every key written under the cache's prefix, by
    /// anyone (Redis client tracking, `BCAST`): writers outside Strata, evictions and expiries
    /// included. The default.
    #[default]
    Tracking,
    /// Instances publish their changes on a pub/sub channel; writes outside Strata are not
    /// seen.
    Bus,
    /// Both: tracking for every key, the bus as well.
    Both,
    /// Neither: an L1 entry can be stale for up to `l1.max_lifetime` after a change elsewhere.
    Off,
}

impl CoherenceMode {
    /// Whether client tracking is used.
    pub fn tracks(self) -> bool {
        matches!(self, Self::Tracking | Self::Both)
    }

    /// Whether the bus is used.
    pub fn uses_bus(self) -> bool {
        matches!(self, Self::Bus | Self::Both)
    }

    /// Whether a change of a key the server does not hold reaches the instances that keep a
    /// copy of it in L1: with the bus (every change is published) or without coherence (no
    /// change reaches L1 at all; `l1.max_lifetime` bounds it), not with client tracking alone,
    /// where the server pushes what changes and deleting an absent key changes nothing.
    pub(crate) fn hears_absent_keys(self) -> bool {
        self.uses_bus() || self == Self::Off
    }

    /// The mode of a set of channels: client tracking (`tracks`), the bus (`bus`), both or
    /// neither.
    pub fn of(tracks: bool, bus: bool) -> Self {
        match (tracks, bus) {
            (true, true) => Self::Both,
            (true, false) => Self::Tracking,
            (false, true) => Self::Bus,
            (false, false) => Self::Off,
        }
    }

    /// The mode of the channels of `self` and `other` together (a cache whose backends use
    /// different channels).
    pub fn with(self, other: Self) -> Self {
        Self::of(
            self.tracks() || other.tracks(),
            self.uses_bus() || other.uses_bus(),
        )
    }

    /// The name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tracking => "tracking",
            Self::Bus => "bus",
            Self::Both => "both",
            Self::Off => "off",
        }
    }
}

/// The coherence channels of one backend: its bus and its client tracking (those in use).
pub(crate) struct Channels {
    pub(crate) bus: Option<Arc<dyn Bus>>,
    pub(crate) tracker: Option<Arc<dyn Tracker>>,
}

impl Channels {
    /// The mode these channels provide (`Off` for none, whatever the configuration asked).
    pub(crate) fn mode(&self) -> CoherenceMode {
        CoherenceMode::of(self.tracker.is_some(), self.bus.is_some())
    }
}

/// Far enough in the future that every entry is served (no channel to confirm).
const ALWAYS: u64 = u64::MAX / 4;

/// Heartbeats awaiting an answer, per channel, before the oldest are forgotten.
const MAX_PENDING: usize = 64;

/// A snapshot of [`Admin::coherence`](crate::Admin::coherence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CoherenceStats {
    /// The active mode: the channels in use over every backend together (a memory default
    /// backend with a Redis named backend tracking says `tracking`); see `backends` for each
    /// backend's own.
    pub mode: CoherenceMode,
    /// Each backend's mode, by name ([`DEFAULT_BACKEND`](crate::DEFAULT_BACKEND) and the
    /// `[backends.<name>]` tables): the channels opened on its server (`off` for a backend
    /// without any, such as the embedded memory backend).
    pub backends: BTreeMap<String, CoherenceMode>,
    /// Whether every channel confirmed within `l1.verified_within` (true with no channel to
    /// confirm).
    pub verified: bool,
    /// Whether every channel is subscribed now (true with no channel).
    pub subscribed: bool,
    /// Milliseconds since the heartbeat every channel last confirmed was sent (`None` when no
    /// channel answers heartbeats, or none has yet).
    pub confirmed_ago_ms: Option<u64>,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// Times the confirmation lapsed (L1 entries older than it stopped being served).
    pub lapses: u64,
    /// Times a channel's connection was lost (L1 flushed, or kept unverified for
    /// `l1.unverified_for`), over every channel.
    pub losses: u64,
    /// The channels' connection names on the server (`CLIENT LIST`), e.g.
    /// `strata-tracking-<instance id>`.
    pub connections: Vec<String>,
}

/// One coherence channel as this instance sees it.
#[derive(Debug, Default)]
struct Channel {
    /// Its connection's name on the server.
    name: String,
    /// Whether it answers heartbeats (else it counts as confirmed while subscribed).
    confirms: bool,
    /// When the newest heartbeat it answered was sent.
    confirmed_ms: u64,
    /// Heartbeats sent and not answered yet: (token, sent at).
    pending: VecDeque<(u64, u64)>,
}

/// The coherence state: see the module docs.
pub(crate) struct Coherence {
    mode: CoherenceMode,
    within_ms: u64,
    unverified_ms: u64,
    /// When the heartbeat every confirming channel has answered was sent (the minimum over the
    /// channels); [`ALWAYS`] without a confirming channel.
    confirmed_ms: AtomicU64,
    channels: Mutex<Vec<Channel>>,
    next_token: AtomicU64,
    heartbeats: AtomicU64,
    lapses: AtomicU64,
    losses: AtomicU64,
    /// Which channels are subscribed now (bit per channel; at most 64 channels).
    subscribed: watch::Sender<u64>,
}

impl Coherence {
    pub(crate) fn new(mode: CoherenceMode, within: Duration, unverified_for: Duration) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 8);
        Self {
            mode,
            within_ms: ms(within),
            unverified_ms: ms(unverified_for),
            confirmed_ms: AtomicU64::new(ALWAYS),
            channels: Mutex::default(),
            next_token: AtomicU64::new(1),
            heartbeats: AtomicU64::new(0),
            lapses: AtomicU64::new(0),
            losses: AtomicU64::new(0),
            subscribed: watch::channel(0).0,
        }
    }

    /// The active mode.
    pub(crate) fn mode(&self) -> CoherenceMode {
        self.mode
    }

    /// How often heartbeats go out: four per `verified_within`, so one lost or slow heartbeat
    /// does not lapse the confirmation.
    pub(crate) fn beat_every(&self) -> Duration {
        Duration::from_millis((self.within_ms / 4).clamp(5, 1_000))
    }

    /// Whether an L1 entry known current at `verified_ms` may be served at `now_ms`: the hot
    /// path's check, one atomic load on the clock reading the hit already made.
    #[inline]
    pub(crate) fn serves(&self, verified_ms: u64, now_ms: u64) -> bool {
        let confirmed = self.confirmed_ms.load(Ordering::Relaxed);
        confirmed.max(verified_ms).saturating_add(self.within_ms) >= now_ms
    }

    /// A new channel; its index for [`beat`](Self::beat), [`confirm`](Self::confirm) and
    /// [`lost`](Self::lost).
    pub(crate) fn add_channel(&self, confirms: bool, name: String) -> usize {
        let mut channels = self.channels.lock();
        channels.push(Channel {
            name,
            confirms,
            ..Channel::default()
        });
        self.settle(&channels);
        channels.len() - 1
    }

    /// The heartbeat tokens to send now, one per confirming channel: (channel, token).
    pub(crate) fn beat(&self, now_ms: u64) -> Vec<(usize, u64)> {
        let mut channels = self.channels.lock();
        let mut out = Vec::new();
        for (i, c) in channels.iter_mut().enumerate().filter(|(_, c)| c.confirms) {
            let token = self.next_token.fetch_add(1, Ordering::Relaxed);
            if c.pending.len() >= MAX_PENDING {
                c.pending.pop_front();
            }
            c.pending.push_back((token, now_ms));
            out.push((i, token));
        }
        self.heartbeats
            .fetch_add(out.len() as u64, Ordering::Relaxed);
        out
    }

    /// Channel `channel` answered the heartbeat `token`.
    pub(crate) fn confirm(&self, channel: usize, token: u64) {
        let mut channels = self.channels.lock();
        let Some(c) = channels.get_mut(channel) else {
            return;
        };
        while let Some(&(t, sent)) = c.pending.front() {
            if t > token {
                break;
            }
            c.pending.pop_front();
            if t == token {
                c.confirmed_ms = c.confirmed_ms.max(sent);
            }
        }
        self.settle(&channels);
    }

    /// Channel `channel` was lost at `now_ms`: whatever it would have said since may be
    /// missed. With `l1.unverified_for`, entries stay servable that long past `now_ms`
    /// (true: the caller keeps L1); else L1 must be flushed (false).
    pub(crate) fn lost(&self, channel: usize, now_ms: u64) -> bool {
        let mut channels = self.channels.lock();
        let Some(c) = channels.get_mut(channel) else {
            return false;
        };
        c.pending.clear();
        self.losses.fetch_add(1, Ordering::Relaxed);
        let keep = self.unverified_ms > 0 && c.confirms;
        if keep {
            // Served until now + unverified_for, not beyond.
            let until = now_ms.saturating_add(self.unverified_ms);
            c.confirmed_ms = c.confirmed_ms.max(until.saturating_sub(self.within_ms));
        }
        self.settle(&channels);
        keep
    }

    /// Recomputes the confirmation over every confirming channel.
    fn settle(&self, channels: &[Channel]) {
        let confirmed = channels
            .iter()
            .filter(|c| c.confirms)
            .map(|c| c.confirmed_ms)
            .min()
            .unwrap_or(ALWAYS);
        self.confirmed_ms.store(confirmed, Ordering::Relaxed);
    }

    /// Channel `channel` is subscribed now (or not).
    pub(crate) fn subscribed(&self, channel: usize, subscribed: bool) {
        let bit = 1u64 << (channel % 64);
        self.subscribed.send_modify(|s| {
            if subscribed {
                *s |= bit;
            } else {
                *s &= !bit;
            }
        });
    }

    /// Returns once every channel is subscribed (at once without a channel).
    pub(crate) async fn all_subscribed(&self) {
        let n = self.channels.lock().len().min(64);
        let all = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        let mut rx = self.subscribed.subscribe();
        // The sender lives as long as `self`: an error cannot happen while we borrow it.
        let _ = rx.wait_for(|s| *s & all == all).await;
    }

    /// Whether L1 is confirmed at `now_ms`; counts a lapse when it just stopped being.
    pub(crate) fn check(&self, now_ms: u64, was_verified: &mut bool) -> bool {
        let verified = self.serves(0, now_ms);
        if *was_verified && !verified {
            self.lapses.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                within_ms = self.within_ms,
                "coherence not confirmed in time: L1 entries older than the last confirmation are not served until it is"
            );
        }
        *was_verified = verified;
        verified
    }

    /// What the coherence looks like at `now_ms`.
    pub(crate) fn stats(&self, now_ms: u64) -> CoherenceStats {
        let confirmed = self.confirmed_ms.load(Ordering::Relaxed);
        CoherenceStats {
            mode: self.mode,
            backends: BTreeMap::new(),
            verified: self.serves(0, now_ms),
            subscribed: {
                let n = self.channels.lock().len().min(64);
                let all = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                *self.subscribed.borrow() & all == all
            },
            confirmed_ago_ms: (confirmed != ALWAYS && confirmed != 0)
                .then(|| now_ms.saturating_sub(confirmed)),
            heartbeats: self.heartbeats.load(Ordering::Relaxed),
            lapses: self.lapses.load(Ordering::Relaxed),
            losses: self.losses.load(Ordering::Relaxed),
            connections: self
                .channels
                .lock()
                .iter()
                .map(|c| c.name.clone())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coherence() -> Coherence {
        Coherence::new(
            CoherenceMode::Tracking,
            Duration::from_millis(100),
            Duration::ZERO,
        )
    }

    #[test]
    fn without_a_confirming_channel_every_entry_is_served() {
        let c = coherence();
        assert!(c.serves(0, 1_000_000));
        c.add_channel(false, "bus".into());
        assert!(
            c.serves(0, 1_000_000),
            "an in-process bus cannot miss silently"
        );
    }

    #[test]
    fn an_entry_is_served_while_it_or_the_last_confirmation_is_recent() {
        let c = coherence();
        let ch = c.add_channel(true, "t".into());
        assert!(c.serves(1_000, 1_100), "verified 100 ms ago");
        assert!(
            !c.serves(1_000, 1_101),
            "verified 101 ms ago, never confirmed"
        );
        let beats = c.beat(2_000);
        assert_eq!(beats, [(ch, beats[0].1)]);
        c.confirm(ch, beats[0].1);
        assert!(c.serves(0, 2_100), "confirmed as of 2,000");
        assert!(!c.serves(0, 2_101));
        assert!(
            c.serves(2_050, 2_150),
            "the entry is newer than the confirmation"
        );
    }

    #[test]
    fn every_channel_must_confirm_and_a_late_answer_confirms_its_own_send_time() {
        let c = coherence();
        let (a, b) = (
            c.add_channel(true, "a".into()),
            c.add_channel(true, "b".into()),
        );
        let first = c.beat(1_000);
        let second = c.beat(1_050);
        c.confirm(a, second[0].1);
        assert!(!c.serves(0, 1_101), "b has not answered");
        c.confirm(b, first[1].1);
        assert!(c.serves(0, 1_100) && !c.serves(0, 1_101), "b as of 1,000");
        c.confirm(b, second[1].1);
        assert!(c.serves(0, 1_150));
        let mut verified = true;
        assert!(!c.check(1_151, &mut verified));
        assert_eq!(c.stats(1_151).lapses, 1);
    }

    #[test]
    fn a_lost_channel_flushes_unless_unverified_serving_is_allowed() {
        let c = coherence();
        let ch = c.add_channel(true, "t".into());
        assert!(!c.lost(ch, 5_000), "default: flush");
        let lenient = Coherence::new(
            CoherenceMode::Tracking,
            Duration::from_millis(100),
            Duration::from_millis(500),
        );
        let ch = lenient.add_channel(true, "t".into());
        let t = lenient.beat(4_900)[0].1;
        lenient.confirm(ch, t);
        assert!(lenient.lost(ch, 5_000));
        assert!(lenient.serves(0, 5_500), "served unverified for 500 ms");
        assert!(!lenient.serves(0, 5_501));
    }
}
