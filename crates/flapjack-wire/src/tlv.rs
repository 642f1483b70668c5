//! TLVs ("type, length, value") and the three ways OSCAR groups them.
//!
//! A TLV is `u16 tag, u16 length, value`. Blocks of TLVs come as
//! * a **rest** block: TLVs up to the end of the enclosing payload;
//! * a **counted** block: `u16 count`, then that many TLVs (user-info blocks);
//! * a **length-prefixed** ("L") block: `u16 byte length`, then TLVs (feedbag items).
//!
//! [`TlvBlock`] keeps the encoded bytes it was decoded from (or built into)
//! and is validated once, so iterating it never fails and unknown tags and the
//! original order round-trip unchanged.

use std::borrow::Cow;
use std::fmt;

use crate::error::{DecodeError, EncodeError};
use crate::reader::{Put, Reader};

/// One TLV borrowed from a [`TlvBlock`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag ("type").
    pub tag: u16,
    /// The value bytes.
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The value as a `u8`, if it is exactly one byte long.
    pub fn as_u8(&self) -> Option<u8> {
        (self.value.len() == 1).then(|| self.value[0])
    }
    /// The value as a big-endian `u16`, if it is exactly two bytes long.
    pub fn as_u16(&self) -> Option<u16> {
        self.value.try_into().ok().map(u16::from_be_bytes)
    }
    /// The value as a big-endian `u32`, if it is exactly four bytes long.
    pub fn as_u32(&self) -> Option<u32> {
        self.value.try_into().ok().map(u32::from_be_bytes)
    }
}

impl fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tlv(0x{:04X}, ", self.tag)?;
        for b in self.value {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A validated sequence of TLVs, kept in its encoded form.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct TlvBlock<'a> {
    raw: Cow<'a, [u8]>,
    count: u16,
}

impl<'a> TlvBlock<'a> {
    /// The largest encoded size of a block: it must fit a `u16` length prefix.
    pub const MAX_BYTES: usize = 0xFFFF;

    /// An empty block.
    pub const fn empty() -> TlvBlock<'static> {
        TlvBlock {
            raw: Cow::Borrowed(&[]),
            count: 0,
        }
    }

    /// Starts building a block.
    pub fn builder() -> TlvBlockBuilder {
        TlvBlockBuilder::default()
    }

    /// Validates `raw` as a sequence of whole TLVs.
    pub fn from_raw(raw: impl Into<Cow<'a, [u8]>>) -> Result<Self, DecodeError> {
        let raw = raw.into();
        if raw.len() > Self::MAX_BYTES {
            return Err(DecodeError::BadLength {
                what: "TLV block",
                len: raw.len(),
            });
        }
        let count = count_tlvs(&raw)?;
        Ok(Self { raw, count })
    }

    /// Decodes a rest block: TLVs until the reader is empty.
    pub fn decode_rest(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let raw = r.peek_rest();
        let block = Self::from_raw(raw)?;
        r.rest();
        Ok(block)
    }

    /// Decodes a counted block: `u16 count`, then that many TLVs.
    pub fn decode_counted(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let declared = r.u16("TLV block count")?;
        let rest = r.peek_rest();
        let mut inner = Reader::new(rest);
        let mut len = 0usize;
        for found in 0..declared {
            let tag = inner.u16("TLV tag").map_err(|_| DecodeError::CountMismatch {
                what: "counted TLV block",
                declared: declared as usize,
                found: found as usize,
            })?;
            let vlen = inner.u16("TLV length").map_err(|_| DecodeError::CountMismatch {
                what: "counted TLV block",
                declared: declared as usize,
                found: found as usize,
            })? as usize;
            if vlen > inner.remaining() {
                return Err(DecodeError::TlvOverrun {
                    tag,
                    declared: vlen,
                    available: inner.remaining(),
                });
            }
            inner.bytes(vlen, "TLV value")?;
            len += 4 + vlen;
        }
        if len > Self::MAX_BYTES {
            return Err(DecodeError::BadLength { what: "TLV block", len });
        }
        let raw = r.bytes(len, "counted TLV block")?;
        Ok(Self {
            raw: Cow::Borrowed(raw),
            count: declared,
        })
    }

    /// Decodes a length-prefixed block: `u16 byte length`, then TLVs filling it exactly.
    pub fn decode_length_prefixed(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let len = r.u16("TLV block length")? as usize;
        let raw = r.bytes(len, "length-prefixed TLV block")?;
        Self::from_raw(raw)
    }

    /// Appends the TLVs with no prefix (a rest block).
    pub fn encode_rest(&self, out: &mut Vec<u8>) {
        out.put_slice(&self.raw);
    }

    /// Appends `u16 count` and the TLVs.
    pub fn encode_counted(&self, out: &mut Vec<u8>) {
        out.put_u16(self.count);
        out.put_slice(&self.raw);
    }

    /// Appends `u16 byte length` and the TLVs.
    pub fn encode_length_prefixed(&self, out: &mut Vec<u8>) {
        // from_raw / the builder guarantee raw.len() <= 0xFFFF.
        out.put_u16(self.raw.len() as u16);
        out.put_slice(&self.raw);
    }

    /// The encoded TLVs, without any prefix.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Number of TLVs.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when the block holds no TLV.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Iterates the TLVs in wire order.
    pub fn iter(&self) -> TlvIter<'_> {
        TlvIter { rest: &self.raw }
    }

    /// The value of the first TLV with `tag`.
    pub fn get(&self, tag: u16) -> Option<&[u8]> {
        self.iter().find(|t| t.tag == tag).map(|t| t.value)
    }

    /// The first TLV with `tag`.
    pub fn find(&self, tag: u16) -> Option<Tlv<'_>> {
        self.iter().find(|t| t.tag == tag)
    }

    /// True when a TLV with `tag` is present.
    pub fn contains(&self, tag: u16) -> bool {
        self.find(tag).is_some()
    }

    /// The first `tag` as a `u8` (None if absent or not one byte).
    pub fn get_u8(&self, tag: u16) -> Option<u8> {
        self.find(tag).and_then(|t| t.as_u8())
    }

    /// The first `tag` as a `u16` (None if absent or not two bytes).
    pub fn get_u16(&self, tag: u16) -> Option<u16> {
        self.find(tag).and_then(|t| t.as_u16())
    }

    /// The first `tag` as a `u32` (None if absent or not four bytes).
    pub fn get_u32(&self, tag: u16) -> Option<u32> {
        self.find(tag).and_then(|t| t.as_u32())
    }

    /// Fails unless `tag` is present.
    pub fn require(&self, tag: u16, what: &'static str) -> Result<&[u8], DecodeError> {
        self.get(tag).ok_or(DecodeError::MissingTlv { what, tag })
    }

    /// Fails if `tag` is present with a length other than `len`.
    pub fn check_len(&self, tag: u16, len: usize, what: &'static str) -> Result<(), DecodeError> {
        match self.find(tag) {
            Some(t) if t.value.len() != len => Err(DecodeError::BadLength {
                what,
                len: t.value.len(),
            }),
            _ => Ok(()),
        }
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> TlvBlock<'static> {
        TlvBlock {
            raw: Cow::Owned(self.raw.into_owned()),
            count: self.count,
        }
    }

    /// A copy of this block without the TLVs whose tag is in `tags`.
    pub fn without(&self, tags: &[u16]) -> TlvBlock<'static> {
        let mut b = TlvBlock::builder();
        for t in self.iter().filter(|t| !tags.contains(&t.tag)) {
            b = b.bytes(t.tag, t.value);
        }
        b.build().expect("a subset of a valid block is valid")
    }
}

/// Counts TLVs in `raw`, checking every length against the bytes left.
fn count_tlvs(raw: &[u8]) -> Result<u16, DecodeError> {
    let mut r = Reader::new(raw);
    let mut count: u16 = 0;
    while !r.is_empty() {
        let tag = r.u16("TLV tag")?;
        let len = r.u16("TLV length")? as usize;
        if len > r.remaining() {
            return Err(DecodeError::TlvOverrun {
                tag,
                declared: len,
                available: r.remaining(),
            });
        }
        r.bytes(len, "TLV value")?;
        // raw.len() <= 0xFFFF and each TLV takes >= 4 bytes, so this cannot overflow.
        count = count.checked_add(1).ok_or(DecodeError::BadLength {
            what: "TLV block",
            len: raw.len(),
        })?;
    }
    Ok(count)
}

impl fmt::Debug for TlvBlock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'b> IntoIterator for &'b TlvBlock<'_> {
    type Item = Tlv<'b>;
    type IntoIter = TlvIter<'b>;
    fn into_iter(self) -> TlvIter<'b> {
        self.iter()
    }
}

/// Iterator over a validated [`TlvBlock`].
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Tlv<'a>;
    fn next(&mut self) -> Option<Tlv<'a>> {
        // The block was validated on construction; a short tail simply ends iteration.
        let mut r = Reader::new(self.rest);
        let tag = r.u16("tag").ok()?;
        let len = r.u16("len").ok()? as usize;
        let value = r.bytes(len, "value").ok()?;
        self.rest = r.peek_rest();
        Some(Tlv { tag, value })
    }
}

/// Builds a [`TlvBlock`], checking every length.
#[derive(Debug, Default, Clone)]
pub struct TlvBlockBuilder {
    raw: Vec<u8>,
    count: u16,
    error: Option<EncodeError>,
}

impl TlvBlockBuilder {
    /// Appends a TLV with arbitrary bytes.
    pub fn bytes(mut self, tag: u16, value: &[u8]) -> Self {
        if self.error.is_some() {
            return self;
        }
        if value.len() > 0xFFFF {
            self.error = Some(EncodeError::TooLong {
                what: "TLV value",
                len: value.len(),
                max: 0xFFFF,
            });
            return self;
        }
        let new_len = self.raw.len() + 4 + value.len();
        if new_len > TlvBlock::MAX_BYTES {
            self.error = Some(EncodeError::TooLong {
                what: "TLV block",
                len: new_len,
                max: TlvBlock::MAX_BYTES,
            });
            return self;
        }
        self.raw.put_u16(tag);
        self.raw.put_u16(value.len() as u16);
        self.raw.put_slice(value);
        self.count += 1;
        self
    }
    /// Appends an empty TLV (a flag).
    pub fn empty(self, tag: u16) -> Self {
        self.bytes(tag, &[])
    }
    /// Appends a flag TLV only when `on`.
    pub fn flag(self, tag: u16, on: bool) -> Self {
        if on { self.empty(tag) } else { self }
    }
    /// Appends a `u8` TLV.
    pub fn u8(self, tag: u16, v: u8) -> Self {
        self.bytes(tag, &[v])
    }
    /// Appends a `u16` TLV.
    pub fn u16(self, tag: u16, v: u16) -> Self {
        self.bytes(tag, &v.to_be_bytes())
    }
    /// Appends a `u32` TLV.
    pub fn u32(self, tag: u16, v: u32) -> Self {
        self.bytes(tag, &v.to_be_bytes())
    }
    /// Appends a TLV only when `value` is `Some`.
    pub fn opt(self, tag: u16, value: Option<&[u8]>) -> Self {
        match value {
            Some(v) => self.bytes(tag, v),
            None => self,
        }
    }
    /// Appends every TLV of `block`, in order.
    pub fn extend(mut self, block: &TlvBlock<'_>) -> Self {
        for t in block.iter() {
            self = self.bytes(t.tag, t.value);
        }
        self
    }
    /// Finishes the block.
    pub fn build(self) -> Result<TlvBlock<'static>, EncodeError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(TlvBlock {
                raw: Cow::Owned(self.raw),
                count: self.count,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_block_whose_count_lies() {
        // count says 2, one TLV present
        let bytes = [0x00, 0x02, 0x00, 0x01, 0x00, 0x01, 0xAA];
        let err = TlvBlock::decode_counted(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(
            err,
            DecodeError::CountMismatch {
                what: "counted TLV block",
                declared: 2,
                found: 1
            }
        );
    }

    #[test]
    fn tlv_running_past_parent() {
        let bytes = [0x00, 0x05, 0x00, 0x09, 0x01];
        assert_eq!(
            TlvBlock::from_raw(&bytes[..]).unwrap_err(),
            DecodeError::TlvOverrun {
                tag: 5,
                declared: 9,
                available: 1
            }
        );
    }

    #[test]
    fn counted_block_leaves_following_tlvs() {
        // one counted TLV, then a TLV that belongs to the SNAC
        let bytes = [0x00, 0x01, 0x00, 0x01, 0x00, 0x02, 0x00, 0x10, 0x00, 0x03, 0x00, 0x00];
        let mut r = Reader::new(&bytes);
        let b = TlvBlock::decode_counted(&mut r).unwrap();
        assert_eq!(b.get_u16(1), Some(0x10));
        assert_eq!(r.remaining(), 4);
        let mut out = Vec::new();
        b.encode_counted(&mut out);
        assert_eq!(out, &bytes[..8]);
    }

    #[test]
    fn builder_round_trip_and_limits() {
        let b = TlvBlock::builder()
            .u16(1, 7)
            .empty(3)
            .bytes(0xFFFF, b"xy")
            .build()
            .unwrap();
        let mut out = Vec::new();
        b.encode_length_prefixed(&mut out);
        assert_eq!(out, [0, 16, 0, 1, 0, 2, 0, 7, 0, 3, 0, 0, 0xFF, 0xFF, 0, 2, b'x', b'y']);
        let again = TlvBlock::decode_length_prefixed(&mut Reader::new(&out)).unwrap();
        assert_eq!(again, b);
        assert!(TlvBlock::builder().bytes(1, &vec![0; 0x10000]).build().is_err());
        assert!(TlvBlock::builder().bytes(1, &vec![0; 0xFFFB]).build().is_ok());
        assert!(TlvBlock::builder().bytes(1, &vec![0; 0xFFFC]).build().is_err());
    }
}
