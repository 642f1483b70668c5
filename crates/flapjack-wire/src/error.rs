//! The wire layer's one error type.

use thiserror::Error;

/// Why bytes could not be decoded as the OSCAR structure that was expected.
///
/// Every variant names what was being read, so that a server can log a useful
/// line and answer with the protocol's own error (SNAC error 0x0E "busted SNAC
/// payload", or closing the one connection for a broken FLAP stream).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before a fixed-size field or a declared length.
    #[error("truncated {what}: needed {needed} bytes, {available} available")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A FLAP header did not start with the `*` (0x2A) marker.
    #[error("bad FLAP start marker 0x{0:02X} (expected 0x2A)")]
    BadStartMarker(u8),
    /// A FLAP frame declared a payload larger than this decoder accepts.
    #[error("FLAP payload of {declared} bytes exceeds the cap of {cap}")]
    FrameTooLarge {
        /// Declared payload length.
        declared: usize,
        /// The decoder's configured cap.
        cap: usize,
    },
    /// A TLV's declared length runs past the end of its parent.
    #[error("TLV 0x{tag:04X} declares {declared} bytes but only {available} remain")]
    TlvOverrun {
        /// The TLV tag.
        tag: u16,
        /// Declared value length.
        declared: usize,
        /// Bytes available in the parent.
        available: usize,
    },
    /// A counted block or list claimed more entries than its bytes hold.
    #[error("{what} claims {declared} entries but the data ends after {found}")]
    CountMismatch {
        /// The block being read.
        what: &'static str,
        /// Count declared on the wire.
        declared: usize,
        /// Entries actually present.
        found: usize,
    },
    /// A required TLV is missing from a typed message.
    #[error("{what} lacks required TLV 0x{tag:04X}")]
    MissingTlv {
        /// The message being decoded.
        what: &'static str,
        /// The missing tag.
        tag: u16,
    },
    /// A TLV or field has a length its type does not allow.
    #[error("{what}: bad length {len}")]
    BadLength {
        /// The field.
        what: &'static str,
        /// The length found.
        len: usize,
    },
    /// A field holds a value its type does not allow.
    #[error("{what}: invalid value {value}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// The value found.
        value: u32,
    },
    /// A typed message was followed by bytes its layout does not define.
    #[error("{what}: {count} trailing bytes")]
    TrailingBytes {
        /// The message.
        what: &'static str,
        /// How many bytes were left over.
        count: usize,
    },
}

/// Why a value could not be built or encoded.
///
/// Values whose length fields would overflow cannot be constructed; this is the
/// error their constructors return.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A value is longer than its length prefix can express.
    #[error("{what} is {len} bytes, more than the {max} its length field allows")]
    TooLong {
        /// The field.
        what: &'static str,
        /// The actual length.
        len: usize,
        /// The largest encodable length.
        max: usize,
    },
}
