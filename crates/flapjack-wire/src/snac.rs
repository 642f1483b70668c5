//! SNAC, the message layer inside FLAP channel 2:
//! `u16 family | u16 subtype | u16 flags | u32 request id | body`.

use std::borrow::Cow;

use crate::codes::{ErrorCode, Family};
use crate::error::{DecodeError, EncodeError};
use crate::family::{
    bucp, bucp::Bucp, buddy, buddy::Buddy, chat, chat::Chat, chat_nav, chat_nav::ChatNav, feedbag, feedbag::Feedbag,
    icbm, icbm::Icbm, locate, locate::Locate, oservice, oservice::Oservice, pd, pd::Pd,
};
use crate::flap::{Channel, encode_frame_with};
use crate::reader::{Put, Reader};
use crate::tlv::TlvBlock;

/// SNAC header flag bits.
pub mod flags {
    /// More replies to this request follow (set on all but the last fragment).
    pub const MORE_FOLLOWS: u16 = 0x0001;
    /// The body starts with `u16 length` + that many bytes of TLVs ("extended data").
    pub const EXTENDED: u16 = 0x8000;
}

/// Request ids with the high bit set mark SNACs the server sent unprompted.
pub const SERVER_INITIATED_REQUEST_ID: u32 = 0x8000_0000;

/// Subtype 0x0001 is the generic error in every family.
pub const ERROR_SUBTYPE: u16 = 0x0001;

/// The 10-byte SNAC header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnacHeader {
    /// The family ("food group").
    pub family: u16,
    /// The subtype within the family.
    pub subtype: u16,
    /// Flags ([`flags`]).
    pub flags: u16,
    /// Request id, echoed in replies.
    pub request_id: u32,
}

impl SnacHeader {
    /// Encoded length.
    pub const LEN: usize = 10;

    /// Decodes the header.
    #[inline]
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.array::<{ Self::LEN }>("SNAC header") {
            Ok(bytes) => Ok(Self::from_bytes(bytes)),
            // Too short (nothing was consumed): read field by field for the precise error.
            Err(_) => Self::decode_short(r),
        }
    }

    /// Splits a channel-2 payload into header and body (what [`Self::decode`] reads, and the rest).
    #[inline]
    fn split(payload: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        match payload.split_first_chunk::<{ Self::LEN }>() {
            Some((bytes, body)) => Ok((Self::from_bytes(*bytes), body)),
            None => {
                let mut r = Reader::new(payload);
                Self::decode_short(&mut r).map(|header| (header, r.rest()))
            }
        }
    }

    #[inline]
    fn from_bytes([f0, f1, s0, s1, g0, g1, i0, i1, i2, i3]: [u8; Self::LEN]) -> Self {
        Self {
            family: u16::from_be_bytes([f0, f1]),
            subtype: u16::from_be_bytes([s0, s1]),
            flags: u16::from_be_bytes([g0, g1]),
            request_id: u32::from_be_bytes([i0, i1, i2, i3]),
        }
    }

    /// The field-by-field read of a header shorter than [`Self::LEN`], for its error.
    #[cold]
    #[inline(never)]
    fn decode_short(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            family: r.u16("SNAC family")?,
            subtype: r.u16("SNAC subtype")?,
            flags: r.u16("SNAC flags")?,
            request_id: r.u32("SNAC request id")?,
        })
    }

    /// Appends the header.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.family);
        out.put_u16(self.subtype);
        out.put_u16(self.flags);
        out.put_u32(self.request_id);
    }
}

/// A SNAC split into header and undecoded body. Decoding it never fails past the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSnac<'a> {
    /// The header.
    pub header: SnacHeader,
    /// Everything after the header (including any extended-data prefix).
    pub body: &'a [u8],
}

impl<'a> RawSnac<'a> {
    /// Splits a channel-2 payload.
    #[inline]
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        let (header, body) = SnacHeader::split(payload)?;
        Ok(Self { header, body })
    }

    /// Decodes the body into a typed [`Snac`].
    pub fn typed(&self) -> Result<Snac<'a>, DecodeError> {
        decode_parts_as(self.header, self.body, |snac| snac)
    }
}

/// The generic error SNAC body (subtype 0x0001 of any family, §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnacError<'a> {
    /// The error code.
    pub code: ErrorCode,
    /// Optional TLVs: 0x0004 URL, 0x0008 u16 subcode, 0x001B text.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> SnacError<'a> {
    /// TLV tag of the family-specific subcode.
    pub const SUBCODE_TAG: u16 = 0x0008;

    /// An error with no TLVs.
    pub fn new(code: ErrorCode) -> SnacError<'static> {
        SnacError {
            code,
            tlvs: TlvBlock::empty(),
        }
    }

    /// An error with a subcode TLV.
    pub fn with_subcode(code: ErrorCode, subcode: u16) -> SnacError<'static> {
        let tlvs = TlvBlock::builder()
            .u16(Self::SUBCODE_TAG, subcode)
            .build()
            .expect("one small TLV fits");
        SnacError { code, tlvs }
    }

    /// The family-specific subcode, if present.
    pub fn subcode(&self) -> Option<u16> {
        self.tlvs.get_u16(Self::SUBCODE_TAG)
    }

    /// Decodes `u16 code` + TLVs (the TLVs may be absent).
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let code = ErrorCode::from(r.u16("error code")?);
        let tlvs = TlvBlock::decode_rest(r)?;
        Ok(Self { code, tlvs })
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.code.value());
        self.tlvs.encode_rest(out);
    }
}

/// A SNAC body, typed where flapjack knows the family and subtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// Family 0x0001.
    Oservice(Oservice<'a>),
    /// Family 0x0002.
    Locate(Locate<'a>),
    /// Family 0x0003.
    Buddy(Buddy<'a>),
    /// Family 0x0004.
    Icbm(Icbm<'a>),
    /// Family 0x0009.
    Pd(Pd<'a>),
    /// Family 0x000D.
    ChatNav(ChatNav<'a>),
    /// Family 0x000E.
    Chat(Chat<'a>),
    /// Family 0x0013.
    Feedbag(Feedbag<'a>),
    /// Family 0x0017.
    Bucp(Bucp<'a>),
    /// Subtype 0x0001 of any family.
    Error {
        /// The family reporting the error.
        family: Family,
        /// The error body.
        error: SnacError<'a>,
    },
    /// Any other family or subtype, kept byte for byte.
    Raw {
        /// The family.
        family: u16,
        /// The subtype.
        subtype: u16,
        /// The body.
        body: Cow<'a, [u8]>,
    },
}

impl<'a> Message<'a> {
    /// The family this message belongs to.
    pub fn family(&self) -> u16 {
        match self {
            Message::Oservice(_) => Family::Oservice.value(),
            Message::Locate(_) => Family::Locate.value(),
            Message::Buddy(_) => Family::Buddy.value(),
            Message::Icbm(_) => Family::Icbm.value(),
            Message::Pd(_) => Family::Pd.value(),
            Message::ChatNav(_) => Family::ChatNav.value(),
            Message::Chat(_) => Family::Chat.value(),
            Message::Feedbag(_) => Family::Feedbag.value(),
            Message::Bucp(_) => Family::Bucp.value(),
            Message::Error { family, .. } => family.value(),
            Message::Raw { family, .. } => *family,
        }
    }

    /// The subtype of this message.
    pub fn subtype(&self) -> u16 {
        match self {
            Message::Oservice(m) => m.subtype(),
            Message::Locate(m) => m.subtype(),
            Message::Buddy(m) => m.subtype(),
            Message::Icbm(m) => m.subtype(),
            Message::Pd(m) => m.subtype(),
            Message::ChatNav(m) => m.subtype(),
            Message::Chat(m) => m.subtype(),
            Message::Feedbag(m) => m.subtype(),
            Message::Bucp(m) => m.subtype(),
            Message::Error { .. } => ERROR_SUBTYPE,
            Message::Raw { subtype, .. } => *subtype,
        }
    }

    /// Decodes a body for `family`/`subtype`; unknown pairs become [`Message::Raw`].
    pub fn decode(family: u16, subtype: u16, r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        decode_message_as(family, subtype, r, Bare)
    }

    /// Appends the body (no header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Message::Oservice(m) => m.encode(out),
            Message::Locate(m) => m.encode(out),
            Message::Buddy(m) => m.encode(out),
            Message::Icbm(m) => m.encode(out),
            Message::Pd(m) => m.encode(out),
            Message::ChatNav(m) => m.encode(out),
            Message::Chat(m) => m.encode(out),
            Message::Feedbag(m) => m.encode(out),
            Message::Bucp(m) => m.encode(out),
            Message::Error { error, .. } => error.encode(out),
            Message::Raw { body, .. } => out.put_slice(body),
        }
    }
}

/// A whole SNAC: header fields plus a typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snac<'a> {
    /// Header flags other than [`flags::EXTENDED`], which is derived from `extended`.
    pub flags: u16,
    /// Request id.
    pub request_id: u32,
    /// The extended-data TLVs (flag 0x8000), if any.
    pub extended: Option<TlvBlock<'a>>,
    /// The body.
    pub message: Message<'a>,
}

impl<'a> Snac<'a> {
    /// A SNAC with no flags.
    pub fn new(request_id: u32, message: Message<'a>) -> Self {
        Self {
            flags: 0,
            request_id,
            extended: None,
            message,
        }
    }

    /// The header this SNAC encodes with.
    pub fn header(&self) -> SnacHeader {
        let ext = if self.extended.is_some() { flags::EXTENDED } else { 0 };
        SnacHeader {
            family: self.message.family(),
            subtype: self.message.subtype(),
            flags: (self.flags & !flags::EXTENDED) | ext,
            request_id: self.request_id,
        }
    }

    /// Decodes a channel-2 payload.
    #[inline]
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        RawSnac::decode(payload)?.typed()
    }

    /// Appends header and body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.header().encode(out);
        if let Some(ext) = &self.extended {
            ext.encode_length_prefixed(out);
        }
        self.message.encode(out);
    }

    /// Appends a channel-2 FLAP frame carrying this SNAC.
    pub fn encode_frame(&self, seq: u16, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        encode_frame_with(out, Channel::Data, seq, |o| self.encode(o))
    }

    /// Encodes into a new buffer (header and body, no FLAP header).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Decodes a channel-2 payload into `wrap(snac)`: [`Snac::decode`] for callers
/// that keep the SNAC inside a bigger value (`FlapMessage::Data`), which is then
/// built in place rather than moved out of a `Result<Snac>`.
#[inline(always)]
pub(crate) fn decode_snac_as<'a, T>(payload: &'a [u8], wrap: impl FnOnce(Snac<'a>) -> T) -> Result<T, DecodeError> {
    let (header, body) = SnacHeader::split(payload)?;
    decode_parts_as(header, body, wrap)
}

/// [`RawSnac::typed`] into `wrap(snac)`.
#[inline(always)]
fn decode_parts_as<'a, T>(
    header: SnacHeader,
    body: &'a [u8],
    wrap: impl FnOnce(Snac<'a>) -> T,
) -> Result<T, DecodeError> {
    let mut r = Reader::new(body);
    let extended = if header.flags & flags::EXTENDED != 0 {
        Some(TlvBlock::decode_length_prefixed(&mut r)?)
    } else {
        None
    };
    let into = IntoSnac {
        flags: header.flags & !flags::EXTENDED,
        request_id: header.request_id,
        extended,
        wrap,
    };
    decode_message_as(header.family, header.subtype, &mut r, into)
}

/// What [`decode_message_as`] does with the decoded message.
trait WrapMessage<'a> {
    /// The value built around the message.
    type Out;
    /// Builds it; `r` is the reader the body came from.
    fn wrap(self, message: Message<'a>, r: &mut Reader<'a>) -> Result<Self::Out, DecodeError>;
}

/// The message itself ([`Message::decode`]).
struct Bare;

impl<'a> WrapMessage<'a> for Bare {
    type Out = Message<'a>;
    #[inline(always)]
    fn wrap(self, message: Message<'a>, _: &mut Reader<'a>) -> Result<Message<'a>, DecodeError> {
        Ok(message)
    }
}

/// `wrap(Snac { .., message })`, once the body is checked to be fully read.
struct IntoSnac<'a, F> {
    flags: u16,
    request_id: u32,
    extended: Option<TlvBlock<'a>>,
    wrap: F,
}

impl<'a, T, F: FnOnce(Snac<'a>) -> T> WrapMessage<'a> for IntoSnac<'a, F> {
    type Out = T;
    #[inline(always)]
    fn wrap(self, message: Message<'a>, r: &mut Reader<'a>) -> Result<T, DecodeError> {
        r.finish("SNAC body")?;
        Ok((self.wrap)(Snac {
            flags: self.flags,
            request_id: self.request_id,
            extended: self.extended,
            message,
        }))
    }
}

/// [`Message::decode`], handing the message and the reader to `into`.
///
/// Every family's arm wraps its own result, so a typed body is moved once,
/// from the family decoder's result straight into the value `into` builds,
/// rather than through an `Option<Message>`, a `Message` and a `Result<Snac>`.
#[inline(always)]
fn decode_message_as<'a, W: WrapMessage<'a>>(
    family: u16,
    subtype: u16,
    r: &mut Reader<'a>,
    into: W,
) -> Result<W::Out, DecodeError> {
    if subtype == ERROR_SUBTYPE {
        let error = SnacError::decode(r)?;
        let family = Family::from(family);
        return into.wrap(Message::Error { family, error }, r);
    }
    macro_rules! typed {
        ($family:ident) => {
            if let Some(m) = $family::decode(subtype, r)? {
                return into.wrap(Message::$family(m), r);
            }
        };
    }
    match family {
        oservice::FAMILY => typed!(Oservice),
        locate::FAMILY => typed!(Locate),
        buddy::FAMILY => typed!(Buddy),
        icbm::FAMILY => typed!(Icbm),
        pd::FAMILY => typed!(Pd),
        chat_nav::FAMILY => typed!(ChatNav),
        chat::FAMILY => typed!(Chat),
        feedbag::FAMILY => typed!(Feedbag),
        bucp::FAMILY => typed!(Bucp),
        _ => {}
    }
    let body = Cow::Borrowed(r.rest());
    into.wrap(Message::Raw { family, subtype, body }, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_family_round_trips_byte_identically() {
        let bytes = [0x00, 0x42, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00, 0x00, 0x09, 0xDE, 0xAD];
        let snac = Snac::decode(&bytes).unwrap();
        assert!(matches!(
            snac.message,
            Message::Raw {
                family: 0x42,
                subtype: 7,
                ..
            }
        ));
        assert_eq!(snac.to_bytes(), bytes);
    }

    #[test]
    fn extended_data_prefix() {
        // flag 0x8000, 6 bytes of TLVs (family version), then an unknown body
        let bytes = [
            0x00, 0x42, 0x00, 0x07, 0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x04,
            0xAA,
        ];
        let snac = Snac::decode(&bytes).unwrap();
        assert_eq!(snac.extended.as_ref().unwrap().get_u16(1), Some(4));
        assert_eq!(snac.header().flags, 0x8000);
        assert_eq!(snac.to_bytes(), bytes);
    }

    #[test]
    fn error_snac_known_answer() {
        // 00 04 00 01 | flags 0 | id 0x0A | code 0x0004 | TLV 0x0008 = 0x000E (offline IMs not accepted)
        let bytes = [0, 4, 0, 1, 0, 0, 0, 0, 0, 0x0A, 0, 4, 0, 8, 0, 2, 0, 0x0E];
        let snac = Snac::decode(&bytes).unwrap();
        let Message::Error { family, error } = &snac.message else {
            panic!("error SNAC")
        };
        assert_eq!(*family, Family::Icbm);
        assert_eq!(error.code, ErrorCode::NotLoggedOn);
        assert_eq!(error.subcode(), Some(0x0E));
        assert_eq!(snac.to_bytes(), bytes);
        let built = Snac::new(
            0x0A,
            Message::Error {
                family: Family::Icbm,
                error: SnacError::with_subcode(ErrorCode::NotLoggedOn, 0x0E),
            },
        );
        assert_eq!(built.to_bytes(), bytes);
    }

    #[test]
    fn truncated_header() {
        assert!(matches!(Snac::decode(&[0, 1, 0]), Err(DecodeError::Truncated { .. })));
    }
}
