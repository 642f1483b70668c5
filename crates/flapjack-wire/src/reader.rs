//! A bounded, zero-copy reader over a byte slice.
//!
//! Every read checks the remaining length first; a length prefix opens a
//! sub-reader ([`Reader::sub`]) that cannot read past the declared length.

use crate::error::DecodeError;

/// A cursor over borrowed bytes. Reads never panic and never allocate.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not yet read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// True when every byte has been read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The unread bytes, without consuming them.
    #[inline]
    pub fn peek_rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Takes exactly `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        match self.buf.split_at_checked(n) {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(head)
            }
            None => Err(truncated(what, n, self.buf.len())),
        }
    }

    /// Takes a fixed-size array.
    #[inline]
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let b = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Reads a `u8`.
    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// Reads a big-endian `u16`.
    #[inline]
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// Reads a big-endian `u32`.
    #[inline]
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// Reads a little-endian `u16` (ICQ tunnelled data).
    #[inline]
    pub fn u16_le(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian `u32` (ICQ tunnelled data).
    #[inline]
    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Takes every unread byte.
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Opens a sub-reader over the next `n` bytes and skips them here.
    #[inline]
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, DecodeError> {
        Ok(Reader::new(self.bytes(n, what)?))
    }

    /// Reads a "string08": a `u8` length and that many bytes.
    #[inline]
    pub fn string08(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u8(what)? as usize;
        self.bytes(n, what)
    }

    /// Reads a "string16": a `u16` length and that many bytes.
    #[inline]
    pub fn string16(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u16(what)? as usize;
        self.bytes(n, what)
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless every byte was read.
    #[inline]
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                what,
                count: self.buf.len(),
            })
        }
    }
}

/// The error of a read past the end, built out of line to keep the reads small.
#[cold]
#[inline(never)]
pub(crate) fn truncated(what: &'static str, needed: usize, available: usize) -> DecodeError {
    DecodeError::Truncated {
        what,
        needed,
        available,
    }
}

/// Appends big-endian integers and length-prefixed fields to a buffer.
///
/// Implemented for `Vec<u8>`; lengths are the caller's responsibility and are
/// guaranteed by the bounded types ([`crate::Str08`], [`crate::Str16`], …).
pub trait Put {
    /// Appends a `u8`.
    fn put_u8(&mut self, v: u8);
    /// Appends a big-endian `u16`.
    fn put_u16(&mut self, v: u16);
    /// Appends a big-endian `u32`.
    fn put_u32(&mut self, v: u32);
    /// Appends raw bytes.
    fn put_slice(&mut self, v: &[u8]);
}

impl Put for Vec<u8> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    #[inline]
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let mut r = Reader::new(&[0x00, 0x03, b'a', b'b']);
        assert_eq!(
            r.string16("s"),
            Err(DecodeError::Truncated {
                what: "s",
                needed: 3,
                available: 2
            })
        );
        let mut r = Reader::new(&[1, 2, 3, 4, 5]);
        let mut sub = r.sub(2, "sub").unwrap();
        assert_eq!(sub.u16("x").unwrap(), 0x0102);
        assert!(sub.u8("y").is_err());
        assert_eq!(r.rest(), &[3, 4, 5]);
    }
}
