//! lz4 block compression of payloads, with a size prefix and a bound on decompressed size.

use crate::error::CodecError;

/// Payloads at least this long (in MessagePack bytes) are compressed when that saves space.
///
/// Measured with `cargo xtask bench` (group `codec_compression`, lists of Payshift jobs): a
/// single ~530-byte record does not shrink by the required 1/8, so trying costs 50 % more time
/// for nothing; from ~1 KiB up, lists shrink by 40 % (1 KiB) to 87 % (16 KiB) for about 1 µs of
/// extra encode+decode time per KiB. Redis memory is what the cache's limits protect, so the
/// threshold sits where compression starts to save real bytes. See docs/benchmarks.md.
pub const DEFAULT_COMPRESSION_THRESHOLD: usize = 1024;

/// Compresses `payload` into an lz4 block prefixed by its length (u32, little endian);
/// `None` when that would not save at least 1/8 of the bytes.
pub(crate) fn compress(payload: &[u8]) -> Option<Vec<u8>> {
    let out = lz4_flex::block::compress_prepend_size(payload);
    (out.len() <= payload.len() - payload.len() / 8).then_some(out)
}

/// Decompresses a block written by [`compress`], refusing to produce more than `max` bytes.
pub(crate) fn decompress(block: &[u8], max: usize) -> Result<Vec<u8>, CodecError> {
    let Some((size, body)) = block.split_first_chunk::<4>() else {
        return Err(CodecError::Truncated(
            "compressed payload shorter than its size prefix",
        ));
    };
    let size = u32::from_le_bytes(*size) as usize;
    if size > max {
        return Err(CodecError::DecompressedTooLarge { size, max });
    }
    let out = lz4_flex::block::decompress(body, size)
        .map_err(|e| CodecError::Malformed(format!("lz4 payload does not decompress: {e}")))?;
    if out.len() != size {
        return Err(CodecError::Malformed(format!(
            "lz4 payload decompressed to {} bytes, its prefix says {size}",
            out.len()
        )));
    }
    Ok(out)
}
