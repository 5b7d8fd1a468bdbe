//! The MessagePack body decoded in one pass: serde reads the whole body array, so the fields
//! after the payload (the generation and the tags) are read where decoding the payload
//! stopped, with no pass of their own over the payload to find them.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, SeqAccess, Visitor};

use super::{BODY_FIELDS, MAX_NESTING, MAX_TAGS, malformed, reader};
use crate::error::CodecError;
use crate::meta::TagVersion;

/// What the payload element holds, as the header's flags say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// The value, as MessagePack.
    Value,
    /// Nil: the entry records an absence.
    Nil,
    /// A bin: the value's MessagePack, compressed.
    Block,
}

/// The payload element as read.
pub(super) enum Payload<'a, T> {
    Value(T),
    Nil,
    Block(&'a [u8]),
}

/// A body decoded: its payload and the fields after it.
pub(super) struct Body<'a, T> {
    pub(super) payload: Payload<'a, T>,
    pub(super) generation: u64,
    pub(super) tags: Vec<TagVersion>,
}

/// Decodes `body` (a MessagePack array whose metadata the caller has read and checked) with
/// its payload read as `expect` says. An error names the element it was found in.
pub(super) fn decode<T: DeserializeOwned>(
    body: &[u8],
    expect: Expect,
) -> Result<Body<'_, T>, CodecError> {
    let reading = BodyVisitor {
        expect,
        at: Cell::new("body"),
        value: PhantomData,
    };
    // The body's array is one level above the payload, which keeps [`MAX_NESTING`] levels of
    // its own.
    let mut de = reader(body, MAX_NESTING + 1);
    de::Deserializer::deserialize_seq(&mut de, &reading)
        .map_err(|e| malformed(format!("{}: {e}", reading.at.get())))
}

/// Reads the body's elements in turn, noting which one it is at (for the error's text).
struct BodyVisitor<T> {
    expect: Expect,
    at: Cell<&'static str>,
    value: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> Visitor<'de> for &BodyVisitor<T> {
    type Value = Body<'de, T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of at least {BODY_FIELDS} elements")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // The metadata, read already.
        for _ in 0..BODY_FIELDS - 1 {
            seq.next_element::<IgnoredAny>()?;
        }
        self.at.set("payload");
        let missing = || de::Error::custom("missing");
        let payload = match self.expect {
            Expect::Value => Payload::Value(seq.next_element::<T>()?.ok_or_else(missing)?),
            Expect::Nil => match seq.next_element::<Option<IgnoredAny>>()? {
                Some(None) => Payload::Nil,
                _ => return Err(de::Error::custom("an absence entry's payload is not nil")),
            },
            Expect::Block => Payload::Block(seq.next_element::<&[u8]>()?.ok_or_else(missing)?),
        };
        self.at.set("generation");
        let generation = seq.next_element::<u64>()?.unwrap_or(0);
        self.at.set("tags");
        let tags = seq.next_element_seed(Tags)?.unwrap_or_default();
        self.at.set("the fields after the tags");
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Body {
            payload,
            generation,
            tags,
        })
    }
}

/// The tags: `[[tag, version], ...]`, at most [`MAX_TAGS`] (refused before any is read).
struct Tags;

impl<'de> DeserializeSeed<'de> for Tags {
    type Value = Vec<TagVersion>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Tags {
    type Value = Vec<TagVersion>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of at most {MAX_TAGS} [tag, version] pairs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let too_many =
            |n: usize| de::Error::custom(format!("{n} tags, at most {MAX_TAGS} allowed"));
        let n = seq.size_hint().unwrap_or(0);
        if n > MAX_TAGS {
            return Err(too_many(n));
        }
        let mut tags = Vec::with_capacity(n);
        while let Some((tag, version)) = seq.next_element::<(String, u64)>()? {
            if tags.len() == MAX_TAGS {
                return Err(too_many(MAX_TAGS + 1));
            }
            tags.push(TagVersion { tag, version });
        }
        Ok(tags)
    }
}
