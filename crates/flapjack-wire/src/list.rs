//! Lazily decoded lists of wire items, validated once and borrowed from the input.
//!
//! Many SNACs carry repeated structures (feedbag items, user-info blocks,
//! screen names, rate classes). A [`List`] keeps the encoded bytes, checks on
//! decode that they hold exactly `len()` whole items, and decodes each item
//! again on iteration — so decoding a SNAC allocates nothing.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use crate::error::{DecodeError, EncodeError};
use crate::reader::{Put, Reader};

/// A type that can appear in a [`List`]: it decodes from any borrowed bytes.
///
/// Implemented on a type's `'static` form with `Value<'b>` naming the borrowed
/// form, e.g. `impl ListItem for FeedbagItem<'static> { type Value<'b> = FeedbagItem<'b>; … }`.
pub trait ListItem {
    /// The item type borrowing from bytes that live for `'b`.
    type Value<'b>;
    /// Decodes one item.
    fn decode<'b>(r: &mut Reader<'b>) -> Result<Self::Value<'b>, DecodeError>;
    /// Appends one item.
    fn encode(value: &Self::Value<'_>, out: &mut Vec<u8>);
}

/// A validated list of `T` items in their encoded form.
pub struct List<'a, T: ListItem> {
    raw: Cow<'a, [u8]>,
    count: usize,
    _item: PhantomData<fn() -> T>,
}

impl<'a, T: ListItem> List<'a, T> {
    /// The largest encoded size of a list (it must fit one FLAP payload).
    pub const MAX_BYTES: usize = 0xFFFF;

    /// An empty list.
    pub fn empty() -> List<'static, T> {
        List {
            raw: Cow::Borrowed(&[]),
            count: 0,
            _item: PhantomData,
        }
    }

    /// Encodes `items` into a new list, refusing more than `max_count` items or
    /// more than [`Self::MAX_BYTES`] bytes.
    pub fn from_items<'i, I>(items: I, max_count: usize) -> Result<List<'static, T>, EncodeError>
    where
        I: IntoIterator<Item = &'i T::Value<'i>>,
        T::Value<'i>: 'i,
    {
        let mut raw = Vec::new();
        let mut count = 0usize;
        for item in items {
            T::encode(item, &mut raw);
            count += 1;
        }
        if count > max_count {
            return Err(EncodeError::TooLong {
                what: "list item count",
                len: count,
                max: max_count,
            });
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(EncodeError::TooLong {
                what: "list",
                len: raw.len(),
                max: Self::MAX_BYTES,
            });
        }
        Ok(List {
            raw: Cow::Owned(raw),
            count,
            _item: PhantomData,
        })
    }

    /// Decodes items until the reader is empty.
    pub fn decode_rest(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let raw = r.peek_rest();
        let mut inner = Reader::new(raw);
        let mut count = 0usize;
        while !inner.is_empty() {
            T::decode(&mut inner)?;
            count += 1;
        }
        r.rest();
        Ok(List {
            raw: Cow::Borrowed(raw),
            count,
            _item: PhantomData,
        })
    }

    /// Decodes exactly `declared` items.
    pub fn decode_n(r: &mut Reader<'a>, declared: usize, what: &'static str) -> Result<Self, DecodeError> {
        let start = r.peek_rest();
        let mut inner = Reader::new(start);
        for found in 0..declared {
            T::decode(&mut inner).map_err(|e| match e {
                DecodeError::Truncated { .. } if inner.is_empty() => {
                    DecodeError::CountMismatch { what, declared, found }
                }
                other => other,
            })?;
        }
        let used = start.len() - inner.remaining();
        let raw = r.bytes(used, what)?;
        Ok(List {
            raw: Cow::Borrowed(raw),
            count: declared,
            _item: PhantomData,
        })
    }

    /// Decodes a `u16` count, then that many items.
    pub fn decode_counted_u16(r: &mut Reader<'a>, what: &'static str) -> Result<Self, DecodeError> {
        let n = r.u16(what)? as usize;
        Self::decode_n(r, n, what)
    }

    /// Decodes a `u8` count, then that many items.
    pub fn decode_counted_u8(r: &mut Reader<'a>, what: &'static str) -> Result<Self, DecodeError> {
        let n = r.u8(what)? as usize;
        Self::decode_n(r, n, what)
    }

    /// Appends the items with no count.
    pub fn encode_rest(&self, out: &mut Vec<u8>) {
        out.put_slice(&self.raw);
    }

    /// Appends a `u16` count and the items.
    pub fn encode_counted_u16(&self, out: &mut Vec<u8>) {
        // count <= raw.len() <= 0xFFFF for lists of non-empty items; saturate otherwise.
        out.put_u16(u16::try_from(self.count).unwrap_or(u16::MAX));
        out.put_slice(&self.raw);
    }

    /// Appends a `u8` count and the items (lists built for it use `max_count` 255).
    pub fn encode_counted_u8(&self, out: &mut Vec<u8>) {
        out.put_u8(u8::try_from(self.count).unwrap_or(u8::MAX));
        out.put_slice(&self.raw);
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True for an empty list.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded items.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Iterates the items.
    pub fn iter(&self) -> ListIter<'_, T> {
        ListIter {
            r: Reader::new(&self.raw),
            left: self.count,
            _item: PhantomData,
        }
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> List<'static, T> {
        List {
            raw: Cow::Owned(self.raw.into_owned()),
            count: self.count,
            _item: PhantomData,
        }
    }
}

impl<T: ListItem> Clone for List<'_, T> {
    fn clone(&self) -> Self {
        List {
            raw: self.raw.clone(),
            count: self.count,
            _item: PhantomData,
        }
    }
}

impl<T: ListItem> PartialEq for List<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.raw == other.raw
    }
}

impl<T: ListItem> Eq for List<'_, T> {}

impl<T: ListItem> fmt::Debug for List<'_, T>
where
    for<'b> T::Value<'b>: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over a [`List`].
pub struct ListIter<'b, T: ListItem> {
    r: Reader<'b>,
    left: usize,
    _item: PhantomData<fn() -> T>,
}

impl<'b, T: ListItem> Iterator for ListIter<'b, T> {
    type Item = T::Value<'b>;
    fn next(&mut self) -> Option<T::Value<'b>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The list was validated when it was decoded or built.
        T::decode(&mut self.r).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// List items that are plain `u16` values (family ids, rate class ids).
#[derive(Debug)]
pub enum U16Item {}

impl ListItem for U16Item {
    type Value<'b> = u16;
    fn decode<'b>(r: &mut Reader<'b>) -> Result<u16, DecodeError> {
        r.u16("u16 item")
    }
    fn encode(value: &u16, out: &mut Vec<u8>) {
        out.put_u16(*value);
    }
}

/// List items that are string08 screen names.
#[derive(Debug)]
pub enum ScreenNameItem {}

impl ListItem for ScreenNameItem {
    type Value<'b> = crate::types::ScreenName<'b>;
    fn decode<'b>(r: &mut Reader<'b>) -> Result<crate::types::ScreenName<'b>, DecodeError> {
        crate::types::ScreenName::decode(r)
    }
    fn encode(value: &crate::types::ScreenName<'_>, out: &mut Vec<u8>) {
        value.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ScreenName;

    #[test]
    fn screen_name_list_round_trip() {
        let names = [
            ScreenName::try_from("alice").unwrap(),
            ScreenName::try_from("bob").unwrap(),
        ];
        let list = List::<ScreenNameItem>::from_items(names.iter(), usize::MAX).unwrap();
        let mut out = Vec::new();
        list.encode_rest(&mut out);
        assert_eq!(out, b"\x05alice\x03bob");
        let back = List::<ScreenNameItem>::decode_rest(&mut Reader::new(&out)).unwrap();
        assert_eq!(back.iter().collect::<Vec<_>>(), names);
        assert!(List::<ScreenNameItem>::decode_rest(&mut Reader::new(b"\x05ali")).is_err());
    }

    #[test]
    fn counted_list_that_lies() {
        let bytes = [0x00, 0x03, 0x00, 0x01, 0x00, 0x02];
        let err = List::<U16Item>::decode_counted_u16(&mut Reader::new(&bytes), "ids").unwrap_err();
        assert_eq!(
            err,
            DecodeError::CountMismatch {
                what: "ids",
                declared: 3,
                found: 2
            }
        );
    }
}
