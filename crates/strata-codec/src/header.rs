//! The 4-byte envelope header: magic, format version, flags.

use crate::error::CodecError;

/// The two magic bytes. 0xC1 is never used by MessagePack, so no MessagePack, JSON or text value
/// starts with it.
pub const MAGIC: [u8; 2] = [0xC1, b'S'];

/// The envelope format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Length of the header in bytes.
pub const HEADER_LEN: usize = 4;

/// The flag byte of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u8);

impl Flags {
    /// Bit 0: the payload is an lz4 block (MessagePack `bin`) rather than inline MessagePack.
    pub const COMPRESSED: u8 = 0b0000_0001;
    /// Bit 1: the entry records an absence (negative caching); the payload is `nil`.
    pub const ABSENT: u8 = 0b0000_0010;
    /// Bit 2: the body is UTF-8 JSON instead of MessagePack (the debugging codec).
    pub const JSON: u8 = 0b0000_0100;
    const KNOWN: u8 = Self::COMPRESSED | Self::ABSENT | Self::JSON;

    /// Flags from their bits; unknown bits are an error.
    pub fn from_bits(bits: u8) -> Result<Self, CodecError> {
        if bits & !Self::KNOWN != 0 {
            return Err(CodecError::UnknownFlags(bits));
        }
        Ok(Self(bits))
    }

    /// The raw bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether the payload is compressed.
    pub fn compressed(self) -> bool {
        self.0 & Self::COMPRESSED != 0
    }

    /// Whether the entry records an absence.
    pub fn absent(self) -> bool {
        self.0 & Self::ABSENT != 0
    }

    /// Whether the body is JSON.
    pub fn json(self) -> bool {
        self.0 & Self::JSON != 0
    }

    pub(crate) fn with(self, bit: u8, on: bool) -> Self {
        if on {
            Self(self.0 | bit)
        } else {
            Self(self.0 & !bit)
        }
    }
}

/// Writes the header.
pub(crate) fn write_header(out: &mut Vec<u8>, flags: Flags) {
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(flags.bits());
}

/// Checks the header and returns its flags and the body after it.
pub(crate) fn read_header(bytes: &[u8]) -> Result<(Flags, &[u8]), CodecError> {
    if bytes.len() < HEADER_LEN {
        if bytes.len() >= 2 && bytes[..2] != MAGIC || bytes.first().is_some_and(|b| *b != MAGIC[0])
        {
            return Err(CodecError::BadMagic);
        }
        return Err(CodecError::Truncated("shorter than the 4-byte header"));
    }
    if bytes[..2] != MAGIC {
        return Err(CodecError::BadMagic);
    }
    if bytes[2] != FORMAT_VERSION {
        return Err(CodecError::UnsupportedVersion(bytes[2]));
    }
    Ok((Flags::from_bits(bytes[3])?, &bytes[HEADER_LEN..]))
}
