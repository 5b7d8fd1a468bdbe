//! Codec: the Strata envelope against serde_json (what the Django layer stored) on realistic
//! payloads; encode, decode, and size. Also measures where lz4 starts to pay (the threshold).
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde::Serialize;
use serde::de::DeserializeOwned;
use strata_benches::{Job, UserWithProfile, all_jobs, job, user};
use strata_codec::{Codec, EntryMeta, MsgPackCodec};

const META: EntryMeta = EntryMeta {
    created_at_ms: 1_764_000_000_000,
    expires_at_ms: 1_764_000_900_000,
    schema: 1,
    // What every entry records once its kind's generation has been read (microseconds).
    generation: 1_764_000_000_000_000,
};

fn payload_group<T: Serialize + DeserializeOwned>(
    c: &mut Criterion,
    name: &str,
    value: &T,
    sizes: &mut Vec<(String, usize)>,
) {
    let codec = MsgPackCodec::default();
    let raw = MsgPackCodec::default().with_compression_threshold(usize::MAX);
    let env = codec.encode(&META, Some(value)).expect("encode");
    let env_raw = raw.encode(&META, Some(value)).expect("encode");
    let json = serde_json::to_vec(value).expect("json");
    sizes.push((format!("{name}/envelope"), env.len()));
    sizes.push((format!("{name}/envelope_uncompressed"), env_raw.len()));
    sizes.push((format!("{name}/serde_json"), json.len()));

    let mut g = c.benchmark_group("codec_encode");
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_with_input(BenchmarkId::new("envelope", name), value, |b, v| {
        b.iter(|| codec.encode(&META, Some(black_box(v))).expect("encode"))
    });
    g.bench_with_input(
        BenchmarkId::new("envelope_uncompressed", name),
        value,
        |b, v| b.iter(|| raw.encode(&META, Some(black_box(v))).expect("encode")),
    );
    g.bench_with_input(BenchmarkId::new("serde_json", name), value, |b, v| {
        b.iter(|| serde_json::to_vec(black_box(v)).expect("json"))
    });
    g.finish();

    let mut g = c.benchmark_group("codec_decode");
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_with_input(BenchmarkId::new("envelope", name), &env, |b, bytes| {
        b.iter(|| {
            codec
                .decode::<T>(black_box(bytes), Some(1))
                .expect("decode")
        })
    });
    g.bench_with_input(
        BenchmarkId::new("envelope_uncompressed", name),
        &env_raw,
        |b, bytes| {
            b.iter(|| {
                codec
                    .decode::<T>(black_box(bytes), Some(1))
                    .expect("decode")
            })
        },
    );
    g.bench_with_input(BenchmarkId::new("serde_json", name), &json, |b, bytes| {
        b.iter(|| serde_json::from_slice::<T>(black_box(bytes)).expect("json"))
    });
    g.finish();
}

/// Encode+decode with and without lz4 at growing payload sizes: where compression starts to
/// pay for itself decides `DEFAULT_COMPRESSION_THRESHOLD`.
fn compression_threshold(c: &mut Criterion, sizes: &mut Vec<(String, usize)>) {
    let mut g = c.benchmark_group("codec_compression");
    for jobs in [1u64, 2, 4, 8, 32] {
        let value: Vec<Job> = all_jobs(jobs);
        let plain_len = rmp_len(&value);
        let label = format!("{plain_len}B");
        for (mode, threshold) in [("lz4", 0usize), ("plain", usize::MAX)] {
            let codec = MsgPackCodec::default().with_compression_threshold(threshold);
            let bytes = codec.encode(&META, Some(&value)).expect("encode");
            sizes.push((format!("compression/{mode}/{label}"), bytes.len()));
            g.bench_with_input(
                BenchmarkId::new(format!("{mode}_roundtrip"), &label),
                &value,
                |b, v| {
                    b.iter(|| {
                        let bytes = codec.encode(&META, Some(black_box(v))).expect("encode");
                        codec.decode::<Vec<Job>>(&bytes, None).expect("decode")
                    })
                },
            );
        }
    }
    g.finish();
}

fn rmp_len<T: Serialize>(v: &T) -> usize {
    rmp_serde::to_vec_named(v).map(|b| b.len()).unwrap_or(0)
}

fn benches(c: &mut Criterion) {
    let mut sizes = Vec::new();
    payload_group::<UserWithProfile>(c, "user", &user(42), &mut sizes);
    payload_group::<Job>(c, "job", &job(7), &mut sizes);
    payload_group::<Vec<Job>>(c, "all_jobs_200", &all_jobs(200), &mut sizes);
    compression_threshold(c, &mut sizes);
    write_sizes(&sizes);
}

/// Sizes are not timings, so criterion does not record them: write them for `cargo xtask bench`.
fn write_sizes(sizes: &[(String, usize)]) {
    let dir = strata_benches::report_dir();
    let map: serde_json::Map<String, serde_json::Value> = sizes
        .iter()
        .map(|(k, v)| (k.clone(), (*v).into()))
        .collect();
    let _ = std::fs::write(
        dir.join("sizes.json"),
        serde_json::to_vec_pretty(&map).unwrap_or_default(),
    );
}

criterion_group!(codec, benches);
criterion_main!(codec);
