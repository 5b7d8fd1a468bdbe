//! The envelope decoder on arbitrary bytes: never panics, and what it accepts it reports
//! consistently (`peek`, `decoded_size`, `decode` agree on the header).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_codec::{Codec, MsgPackCodec, decoded_size, peek};

fuzz_target!(|data: &[u8]| {
    let codec = MsgPackCodec::default().with_max_value_bytes(1 << 20);
    // Total on any input; never less than the bytes themselves for what decodes.
    let size = decoded_size(data);
    let peeked = peek(data);
    if let Ok(envelope) = codec.decode::<serde_json::Value>(data, None) {
        let info = peeked.expect("what decodes can be peeked");
        assert!(size >= data.len(), "decoded size {size} of {} bytes", data.len());
        assert_eq!(info.meta.schema, envelope.meta.schema);
        assert_eq!(info.meta.created_at_ms, envelope.meta.created_at_ms);
    }
    let _ = codec.decode::<Vec<u64>>(data, Some(2));
    let _ = codec.decode::<String>(data, Some(1));
});
