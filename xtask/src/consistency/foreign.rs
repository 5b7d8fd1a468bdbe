//! The foreign writer: another service that shares the source and writes straight into Redis
//! as docs/wire-format.md says, never through Strata. It owns the records whose id is
//! `9 mod 10` (the instances never write them, so its SETs race no instance's change): each
//! write moves a record on in the source, then either deletes its entry (`DEL`, with its lease)
//! or sets the new value in the wire format (envelope, the kind's generation, lease dropped,
//! schema registered).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use redis::aio::ConnectionLike;

use super::instance::{KIND, PAD};
use super::log::{FAILED, FOREIGN_DEL, FOREIGN_SET, WriteRec, now_ns};
use super::source::Source;

/// Whether `record` belongs to the foreign writer.
pub(crate) fn is_foreign(record: u32) -> bool {
    record % 10 == 9
}

/// The names the foreign writer touches for one record, as docs/wire-format.md §1 and §3 give
/// them (the cluster's lease carries its entry's name as a hash tag).
pub(crate) struct Names {
    pub(crate) entry: String,
    pub(crate) lease: String,
    pub(crate) registry: String,
    pub(crate) kind_counter: String,
}

impl Names {
    pub(crate) fn new(prefix: &str, record: u32, cluster: bool) -> Self {
        let entry = format!("{prefix}:v1:{KIND}:s1:{record}");
        let lease = format!("{prefix}:#lease:v1:{KIND}:s1:{record}");
        let lease = if cluster {
            format!("{lease}{{{entry}}}")
        } else {
            lease
        };
        Self {
            entry,
            lease,
            registry: format!("{prefix}:#schemas:v1:{KIND}:"),
            kind_counter: format!("{prefix}:v1:__version:s1:kind:{KIND}"),
        }
    }
}

/// The envelope of a record at `version` (docs/wire-format.md §2): uncompressed MessagePack,
/// named fields, the kind's generation as element 4.
pub(crate) fn envelope(
    record: u32,
    version: u64,
    generation: u64,
    now_ms: u64,
    ttl_ms: u64,
) -> Vec<u8> {
    use rmp::encode::{write_array_len, write_map_len, write_str, write_uint};
    let mut b = vec![0xC1, 0x53, 0x01, 0x00];
    // Writing into a Vec cannot fail.
    let _ = write_array_len(&mut b, 5);
    let _ = write_uint(&mut b, now_ms);
    let _ = write_uint(&mut b, now_ms + ttl_ms);
    let _ = write_uint(&mut b, 1);
    let _ = write_map_len(&mut b, 3);
    let _ = write_str(&mut b, "id");
    let _ = write_uint(&mut b, u64::from(record));
    let _ = write_str(&mut b, "version");
    let _ = write_uint(&mut b, version);
    let _ = write_str(&mut b, "pad");
    let _ = write_str(&mut b, PAD);
    let _ = write_uint(&mut b, generation);
    b
}

/// The kind's generation counter, created as §2.3 says when missing.
async fn generation(conn: &mut impl ConnectionLike, names: &Names) -> Result<u64> {
    let now_us = now_ns() / 1000;
    let _: Option<String> = redis::cmd("SET")
        .arg(&names.kind_counter)
        .arg(now_us)
        .arg("NX")
        .query_async(conn)
        .await?;
    let v: String = redis::cmd("GET")
        .arg(&names.kind_counter)
        .query_async(conn)
        .await?;
    Ok(v.parse()?)
}

const TTL_MS: u64 = 3_600_000;
const MAX_STALE_MS: u64 = 300_000;

/// One foreign write of `record` (the source already at `version`): a DEL or a SET.
async fn apply(
    conn: &mut impl ConnectionLike,
    names: &Names,
    record: u32,
    version: u64,
    set: bool,
    cluster: bool,
) -> Result<()> {
    let mut pipe = redis::pipe();
    // The entry and its lease share a slot on a cluster; the registry may not.
    pipe.atomic();
    if set {
        let g = generation(conn, names).await?;
        let now_ms = now_ns() / 1_000_000;
        pipe.cmd("SET")
            .arg(&names.entry)
            .arg(envelope(record, version, g, now_ms, TTL_MS))
            .arg("PX")
            .arg(TTL_MS + MAX_STALE_MS)
            .ignore();
    } else {
        pipe.cmd("DEL").arg(&names.entry).ignore();
    }
    pipe.cmd("UNLINK").arg(&names.lease).ignore();
    if set && !cluster {
        pipe.cmd("SADD").arg(&names.registry).arg("1").ignore();
    }
    pipe.query_async::<()>(conn).await?;
    if set && cluster {
        let _: i64 = redis::cmd("SADD")
            .arg(&names.registry)
            .arg("1")
            .query_async(conn)
            .await?;
    }
    Ok(())
}

/// What the foreign writer needs.
pub(crate) struct Foreign {
    pub(crate) prefix: String,
    pub(crate) records: u32,
    pub(crate) rate: u64,
    pub(crate) seed: u64,
    pub(crate) cluster: bool,
}

/// Writes at `rate` until `stop`; answers its writes.
pub(crate) async fn run(
    f: Foreign,
    source: Source,
    mut conn: impl ConnectionLike,
    stop: Arc<AtomicBool>,
) -> Result<Vec<WriteRec>> {
    let mut out = Vec::new();
    let foreign: Vec<u32> = (0..f.records).filter(|r| is_foreign(*r)).collect();
    if f.rate == 0 || foreign.is_empty() {
        return Ok(out);
    }
    let mut rng = SmallRng::seed_from_u64(f.seed ^ 0xf0e1);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f.rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::Acquire) {
        tick.tick().await;
        let record = foreign[rng.random_range(0..foreign.len())];
        let set = rng.random_bool(0.5);
        let version = source.bump(record).await?;
        let start = now_ns();
        let names = Names::new(&f.prefix, record, f.cluster);
        let kind = if set { FOREIGN_SET } else { FOREIGN_DEL };
        let (done, flags) = match apply(&mut conn, &names, record, version, set, f.cluster).await {
            Ok(()) => (Some(now_ns()), kind),
            // Redis down or paused past the timeout: the change did not reach it.
            Err(_) => (None, kind | FAILED),
        };
        out.push(WriteRec {
            record,
            version,
            start,
            done,
            flags,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_wire_format() {
        let n = Names::new("cons", 19, false);
        assert_eq!(n.entry, "cons:v1:record:s1:19");
        assert_eq!(n.lease, "cons:#lease:v1:record:s1:19");
        assert_eq!(n.registry, "cons:#schemas:v1:record:");
        assert_eq!(n.kind_counter, "cons:v1:__version:s1:kind:record");
        let c = Names::new("cons", 19, true);
        assert_eq!(c.lease, "cons:#lease:v1:record:s1:19{cons:v1:record:s1:19}");
    }

    #[test]
    fn the_envelope_decodes_with_the_codec() {
        use strata::codec::Freshness;
        use strata::{Codec, MsgPackCodec};
        let bytes = envelope(19, 7, 1234, 1_000, 60_000);
        let codec = MsgPackCodec::default();
        let Ok(Freshness::Fresh(hit)) =
            codec.decode_at::<super::super::instance::Rec>(&bytes, Some(1), 2_000, 0)
        else {
            panic!("the envelope does not decode");
        };
        let rec = hit.value.expect("a value");
        assert_eq!((rec.id, rec.version, rec.pad.as_str()), (19, 7, PAD));
        assert!(is_foreign(19) && !is_foreign(18));
    }
}
