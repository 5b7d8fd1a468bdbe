//! The Strata value envelope: MessagePack with a versioned header, lz4 compression, and a JSON debug codec
