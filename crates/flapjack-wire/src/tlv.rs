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
use std::hash::{Hash, Hasher};

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
    #[inline]
    pub fn as_u8(&self) -> Option<u8> {
        (self.value.len() == 1).then(|| self.value[0])
    }
    /// The value as a big-endian `u16`, if it is exactly two bytes long.
    #[inline]
    pub fn as_u16(&self) -> Option<u16> {
        self.value.try_into().ok().map(u16::from_be_bytes)
    }
    /// The value as a big-endian `u32`, if it is exactly four bytes long.
    #[inline]
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
#[derive(Clone)]
pub struct TlvBlock<'a> {
    raw: Raw<'a>,
}

/// The bytes of a [`TlvBlock`] and its TLV count.
///
/// Not a `Cow<[u8]>` and a `u16`: the count lives next to the variant tag, and
/// an owned block is a boxed slice, so a block takes 24 bytes rather than 32.
/// Every message holding blocks (user info, IMs, `Snac::extended`) is smaller
/// for it, and cheaper to move.
#[derive(Clone)]
enum Raw<'a> {
    Borrowed { bytes: &'a [u8], count: u16 },
    Owned { bytes: Box<[u8]>, count: u16 },
}

impl Default for TlvBlock<'_> {
    fn default() -> Self {
        TlvBlock::empty()
    }
}

impl PartialEq for TlvBlock<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.count() == other.count() && self.as_bytes() == other.as_bytes()
    }
}

impl Eq for TlvBlock<'_> {}

impl Hash for TlvBlock<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As derived for the former `{ raw: Cow<[u8]>, count: u16 }`.
        self.as_bytes().hash(state);
        self.count().hash(state);
    }
}

impl<'a> TlvBlock<'a> {
    /// The largest encoded size of a block: it must fit a `u16` length prefix.
    pub const MAX_BYTES: usize = 0xFFFF;

    /// An empty block.
    pub const fn empty() -> TlvBlock<'static> {
        TlvBlock::borrowed(&[], 0)
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
        Ok(match raw {
            Cow::Borrowed(bytes) => Self::borrowed(bytes, count),
            Cow::Owned(bytes) => Self::owned(bytes, count),
        })
    }

    /// A block over `bytes`, validated by the caller to hold `count` TLVs.
    #[inline]
    pub(crate) const fn borrowed(bytes: &'a [u8], count: u16) -> Self {
        TlvBlock {
            raw: Raw::Borrowed { bytes, count },
        }
    }

    /// A block owning `bytes`, validated by the caller to hold `count` TLVs.
    fn owned(bytes: Vec<u8>, count: u16) -> Self {
        TlvBlock {
            raw: Raw::Owned {
                bytes: bytes.into_boxed_slice(),
                count,
            },
        }
    }

    /// The number of TLVs.
    #[inline]
    fn count(&self) -> u16 {
        match self.raw {
            Raw::Borrowed { count, .. } | Raw::Owned { count, .. } => count,
        }
    }

    /// Decodes a rest block: TLVs until the reader is empty.
    pub fn decode_rest(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let (raw, count, []) = Self::scan_rest_finding(r, [])?;
        Ok(Self::borrowed(raw, count))
    }

    /// [`Self::decode_rest`] as the block's bytes and count (see
    /// [`Self::scan_counted`]), with the value of the first TLV with each of
    /// `tags`, found in the same pass.
    #[inline]
    pub(crate) fn scan_rest_finding<const N: usize>(
        r: &mut Reader<'a>,
        tags: [u16; N],
    ) -> Result<(&'a [u8], u16, Found<'a, N>), DecodeError> {
        let raw = r.peek_rest();
        if raw.len() > Self::MAX_BYTES {
            return Err(DecodeError::BadLength {
                what: "TLV block",
                len: raw.len(),
            });
        }
        let (count, found) = scan_tlvs(raw, tags)?;
        r.rest();
        Ok((raw, count, found))
    }

    /// Decodes a counted block: `u16 count`, then that many TLVs.
    #[inline]
    pub fn decode_counted(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let (raw, count) = Self::scan_counted(r)?;
        Ok(Self::borrowed(raw, count))
    }

    /// [`Self::decode_counted`] as the block's bytes and count, which a caller
    /// builds its value from field by field (a returned block would be copied
    /// from memory as a whole right after being written in parts).
    #[inline]
    pub(crate) fn scan_counted(r: &mut Reader<'a>) -> Result<(&'a [u8], u16), DecodeError> {
        let declared = r.u16("TLV block count")?;
        let input = r.peek_rest();
        // One pass over the TLV headers; `rest` is what follows the TLVs seen so far.
        let mut rest = input;
        for found in 0..declared {
            let Some((&[t0, t1, l0, l1], tail)) = rest.split_first_chunk::<4>() else {
                return Err(DecodeError::CountMismatch {
                    what: "counted TLV block",
                    declared: declared as usize,
                    found: found as usize,
                });
            };
            let vlen = usize::from(u16::from_be_bytes([l0, l1]));
            rest = match tail.get(vlen..) {
                Some(after) => after,
                None => return Err(overrun(u16::from_be_bytes([t0, t1]), vlen, tail.len())),
            };
        }
        let len = input.len() - rest.len();
        if len > Self::MAX_BYTES {
            return Err(DecodeError::BadLength { what: "TLV block", len });
        }
        let raw = r.bytes(len, "counted TLV block")?;
        Ok((raw, declared))
    }

    /// Decodes a length-prefixed block: `u16 byte length`, then TLVs filling it exactly.
    #[inline]
    pub fn decode_length_prefixed(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let (raw, count) = Self::scan_length_prefixed(r)?;
        Ok(Self::borrowed(raw, count))
    }

    /// [`Self::decode_length_prefixed`] as the block's bytes and count (see [`Self::scan_counted`]).
    #[inline]
    pub(crate) fn scan_length_prefixed(r: &mut Reader<'a>) -> Result<(&'a [u8], u16), DecodeError> {
        let len = r.u16("TLV block length")? as usize;
        let raw = r.bytes(len, "length-prefixed TLV block")?;
        // At most 0xFFFF bytes, as `from_raw` requires.
        Ok((raw, count_tlvs(raw)?))
    }

    /// Appends the TLVs with no prefix (a rest block).
    pub fn encode_rest(&self, out: &mut Vec<u8>) {
        out.put_slice(self.as_bytes());
    }

    /// Appends `u16 count` and the TLVs.
    pub fn encode_counted(&self, out: &mut Vec<u8>) {
        out.put_u16(self.count());
        out.put_slice(self.as_bytes());
    }

    /// Appends `u16 byte length` and the TLVs.
    pub fn encode_length_prefixed(&self, out: &mut Vec<u8>) {
        // from_raw / the builder guarantee raw.len() <= 0xFFFF.
        out.put_u16(self.as_bytes().len() as u16);
        out.put_slice(self.as_bytes());
    }

    /// The encoded TLVs, without any prefix.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.raw {
            Raw::Borrowed { bytes, .. } => bytes,
            Raw::Owned { bytes, .. } => bytes,
        }
    }

    /// Number of TLVs.
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.count())
    }

    /// True when the block holds no TLV.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Iterates the TLVs in wire order.
    #[inline]
    pub fn iter(&self) -> TlvIter<'_> {
        TlvIter { rest: self.as_bytes() }
    }

    /// The value of the first TLV with `tag`.
    #[inline]
    pub fn get(&self, tag: u16) -> Option<&[u8]> {
        self.iter().find(|t| t.tag == tag).map(|t| t.value)
    }

    /// The first TLV with `tag`.
    #[inline]
    pub fn find(&self, tag: u16) -> Option<Tlv<'_>> {
        self.iter().find(|t| t.tag == tag)
    }

    /// True when a TLV with `tag` is present.
    #[inline]
    pub fn contains(&self, tag: u16) -> bool {
        self.find(tag).is_some()
    }

    /// The first `tag` as a `u8` (None if absent or not one byte).
    #[inline]
    pub fn get_u8(&self, tag: u16) -> Option<u8> {
        self.find(tag).and_then(|t| t.as_u8())
    }

    /// The first `tag` as a `u16` (None if absent or not two bytes).
    #[inline]
    pub fn get_u16(&self, tag: u16) -> Option<u16> {
        self.find(tag).and_then(|t| t.as_u16())
    }

    /// The first `tag` as a `u32` (None if absent or not four bytes).
    #[inline]
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
        match self.raw {
            Raw::Borrowed { bytes, count } => TlvBlock::owned(bytes.to_vec(), count),
            Raw::Owned { bytes, count } => TlvBlock {
                raw: Raw::Owned { bytes, count },
            },
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

/// The value of the first TLV with each of the tags looked for, `None` where absent.
pub(crate) type Found<'a, const N: usize> = [Option<&'a [u8]>; N];

/// Counts TLVs in `raw`, checking every length against the bytes left.
fn count_tlvs(raw: &[u8]) -> Result<u16, DecodeError> {
    scan_tlvs(raw, []).map(|(count, [])| count)
}

/// Validates `raw` as whole TLVs in one pass: counts them and returns the value
/// of the first TLV with each of `tags` (`None` where absent).
///
/// The errors are those of reading `u16 tag, u16 length, value` until `raw`
/// ends: a 1-byte tail is a truncated tag, a 2- or 3-byte tail a truncated
/// length, and a length past the end a [`DecodeError::TlvOverrun`].
#[inline]
fn scan_tlvs<const N: usize>(raw: &[u8], tags: [u16; N]) -> Result<(u16, Found<'_, N>), DecodeError> {
    let mut found = [None; N];
    let mut count = 0usize;
    let mut rest = raw;
    while !rest.is_empty() {
        let Some((&[t0, t1, l0, l1], tail)) = rest.split_first_chunk::<4>() else {
            return Err(truncated_header(rest.len()));
        };
        let tag = u16::from_be_bytes([t0, t1]);
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some((value, after)) = tail.split_at_checked(len) else {
            return Err(overrun(tag, len, tail.len()));
        };
        for (want, slot) in tags.iter().zip(found.iter_mut()) {
            if *want == tag && slot.is_none() {
                *slot = Some(value);
            }
        }
        count += 1;
        rest = after;
    }
    // Callers pass at most MAX_BYTES and each TLV takes >= 4 bytes, so this cannot fail.
    let count = u16::try_from(count).map_err(|_| DecodeError::BadLength {
        what: "TLV block",
        len: raw.len(),
    })?;
    Ok((count, found))
}

/// A TLV whose declared length runs past the bytes left.
#[cold]
#[inline(never)]
fn overrun(tag: u16, declared: usize, available: usize) -> DecodeError {
    DecodeError::TlvOverrun {
        tag,
        declared,
        available,
    }
}

/// A block ending inside a TLV header (`tail` bytes of it, 1 to 3).
#[cold]
#[inline(never)]
fn truncated_header(tail: usize) -> DecodeError {
    if tail < 2 {
        crate::reader::truncated("TLV tag", 2, tail)
    } else {
        crate::reader::truncated("TLV length", 2, tail - 2)
    }
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
    #[inline]
    fn next(&mut self) -> Option<Tlv<'a>> {
        // The block was validated on construction; a short tail simply ends iteration.
        let (&[t0, t1, l0, l1], tail) = self.rest.split_first_chunk::<4>()?;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let (value, after) = tail.split_at_checked(len)?;
        self.rest = after;
        Some(Tlv {
            tag: u16::from_be_bytes([t0, t1]),
            value,
        })
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
            None => Ok(TlvBlock::owned(self.raw, self.count)),
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
