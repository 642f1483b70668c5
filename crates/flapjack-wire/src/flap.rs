//! FLAP, the framing layer: `'*' | u8 channel | u16 sequence | u16 length | payload`.
//!
//! [`FrameDecoder`] cuts frames out of a byte buffer without copying and tells
//! the caller how many bytes are still needed when a frame is incomplete, so a
//! driver never reserves more than one frame's declared length.

use std::borrow::Cow;

use crate::code_enum;
use crate::error::{DecodeError, EncodeError};
use crate::reader::{Put, Reader};
use crate::snac::Snac;
use crate::tlv::TlvBlock;

/// The FLAP start marker, ASCII `*`.
pub const START_MARKER: u8 = 0x2A;
/// Length of a FLAP header.
pub const HEADER_LEN: usize = 6;
/// The largest payload the 16-bit length field can express.
pub const MAX_PAYLOAD: usize = 0xFFFF;
/// The FLAP version sent in every channel-1 frame.
pub const FLAP_VERSION: u32 = 1;

code_enum! {
    /// A FLAP channel ("frame type").
    pub enum Channel: u8 {
        /// 1: sign-on / new connection (FLAP version and TLVs).
        Signon = 1,
        /// 2: data, exactly one SNAC.
        Data = 2,
        /// 3: error (unused in practice).
        Error = 3,
        /// 4: sign-off / close, with optional TLVs.
        Signoff = 4,
        /// 5: keepalive, empty.
        Keepalive = 5,
    }
}

/// One FLAP frame, borrowing its payload from the input when decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The channel.
    pub channel: Channel,
    /// The sender's sequence number.
    pub seq: u16,
    payload: Cow<'a, [u8]>,
}

impl<'a> Frame<'a> {
    /// Builds a frame, refusing payloads over [`MAX_PAYLOAD`].
    pub fn new(channel: Channel, seq: u16, payload: impl Into<Cow<'a, [u8]>>) -> Result<Self, EncodeError> {
        let payload = payload.into();
        if payload.len() > MAX_PAYLOAD {
            return Err(EncodeError::TooLong {
                what: "FLAP payload",
                len: payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        Ok(Self { channel, seq, payload })
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Appends header and payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(START_MARKER);
        out.put_u8(self.channel.value());
        out.put_u16(self.seq);
        out.put_u16(self.payload.len() as u16);
        out.put_slice(&self.payload);
    }

    /// Interprets the payload according to the channel.
    pub fn message(&self) -> Result<FlapMessage<'_>, DecodeError> {
        FlapMessage::decode(self.channel, &self.payload)
    }

    /// A copy that owns its payload.
    pub fn into_owned(self) -> Frame<'static> {
        Frame {
            channel: self.channel,
            seq: self.seq,
            payload: Cow::Owned(self.payload.into_owned()),
        }
    }
}

/// Result of trying to decode from a buffer that may hold a partial frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A whole value, and how many input bytes it used.
    Complete {
        /// The decoded value.
        value: T,
        /// Input bytes consumed.
        consumed: usize,
    },
    /// More input is needed; `needed` is the total buffer length required to make progress.
    Incomplete {
        /// Total bytes needed from the start of the buffer.
        needed: usize,
    },
}

/// Cuts FLAP frames out of a buffer. Holds only its configuration.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max_payload: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self {
            max_payload: MAX_PAYLOAD,
        }
    }
}

impl FrameDecoder {
    /// A decoder accepting payloads up to [`MAX_PAYLOAD`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Lowers the largest payload accepted (frames over it are an error).
    pub fn with_max_payload(max_payload: usize) -> Self {
        Self {
            max_payload: max_payload.min(MAX_PAYLOAD),
        }
    }

    /// The configured payload cap.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Decodes the first frame in `buf`.
    pub fn decode<'a>(&self, buf: &'a [u8]) -> Result<Decoded<Frame<'a>>, DecodeError> {
        if let Some(&marker) = buf.first()
            && marker != START_MARKER
        {
            return Err(DecodeError::BadStartMarker(marker));
        }
        if buf.len() < HEADER_LEN {
            return Ok(Decoded::Incomplete { needed: HEADER_LEN });
        }
        let mut r = Reader::new(buf);
        r.u8("FLAP marker")?;
        let channel = Channel::from(r.u8("FLAP channel")?);
        let seq = r.u16("FLAP sequence")?;
        let len = r.u16("FLAP length")? as usize;
        if len > self.max_payload {
            return Err(DecodeError::FrameTooLarge {
                declared: len,
                cap: self.max_payload,
            });
        }
        let total = HEADER_LEN + len;
        if buf.len() < total {
            return Ok(Decoded::Incomplete { needed: total });
        }
        let payload = &buf[HEADER_LEN..total];
        Ok(Decoded::Complete {
            value: Frame {
                channel,
                seq,
                payload: Cow::Borrowed(payload),
            },
            consumed: total,
        })
    }

    /// Iterates the whole frames at the start of `buf`; see [`Frames::remainder`].
    pub fn frames<'a>(&self, buf: &'a [u8]) -> Frames<'a> {
        Frames {
            decoder: *self,
            buf,
            failed: false,
        }
    }
}

/// Iterator over consecutive frames in a buffer; stops at a partial frame or the first error.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    decoder: FrameDecoder,
    buf: &'a [u8],
    failed: bool,
}

impl<'a> Frames<'a> {
    /// The bytes not yet consumed (a partial frame, or what follows an error).
    pub fn remainder(&self) -> &'a [u8] {
        self.buf
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, DecodeError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.buf.is_empty() {
            return None;
        }
        match self.decoder.decode(self.buf) {
            Ok(Decoded::Complete { value, consumed }) => {
                self.buf = &self.buf[consumed..];
                Some(Ok(value))
            }
            Ok(Decoded::Incomplete { .. }) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Writes a frame whose payload is produced by `body`, patching the length afterwards.
///
/// On a payload over [`MAX_PAYLOAD`] the buffer is restored and an error returned.
pub fn encode_frame_with(
    out: &mut Vec<u8>,
    channel: Channel,
    seq: u16,
    body: impl FnOnce(&mut Vec<u8>),
) -> Result<(), EncodeError> {
    let start = out.len();
    out.put_u8(START_MARKER);
    out.put_u8(channel.value());
    out.put_u16(seq);
    out.put_u16(0);
    body(out);
    let len = out.len() - start - HEADER_LEN;
    if len > MAX_PAYLOAD {
        out.truncate(start);
        return Err(EncodeError::TooLong {
            what: "FLAP payload",
            len,
            max: MAX_PAYLOAD,
        });
    }
    out[start + 4..start + 6].copy_from_slice(&(len as u16).to_be_bytes());
    Ok(())
}

/// The typed content of a frame, by channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlapMessage<'a> {
    /// Channel 1.
    Signon(Signon<'a>),
    /// Channel 2.
    Data(Snac<'a>),
    /// Channel 3, kept raw.
    Error(&'a [u8]),
    /// Channel 4.
    Signoff(Signoff<'a>),
    /// Channel 5.
    Keepalive,
    /// A channel outside 1–5, kept raw.
    Unknown {
        /// The channel number.
        channel: u8,
        /// The payload.
        payload: &'a [u8],
    },
}

impl<'a> FlapMessage<'a> {
    /// Decodes `payload` as the content of `channel`.
    pub fn decode(channel: Channel, payload: &'a [u8]) -> Result<Self, DecodeError> {
        Ok(match channel {
            Channel::Signon => FlapMessage::Signon(Signon::decode(payload)?),
            // Built in place: the SNAC is not moved out of a `Result<Snac>` first.
            Channel::Data => return crate::snac::decode_snac_as(payload, FlapMessage::Data),
            Channel::Error => FlapMessage::Error(payload),
            Channel::Signoff => FlapMessage::Signoff(Signoff::decode(payload)?),
            Channel::Keepalive => {
                // Keepalives are empty; a payload is tolerated and ignored by peers,
                // but for exact round trips we reject it rather than drop it.
                if !payload.is_empty() {
                    return Err(DecodeError::TrailingBytes {
                        what: "keepalive",
                        count: payload.len(),
                    });
                }
                FlapMessage::Keepalive
            }
            Channel::Unknown(c) => FlapMessage::Unknown { channel: c, payload },
        })
    }

    /// The channel this content travels on.
    pub fn channel(&self) -> Channel {
        match self {
            FlapMessage::Signon(_) => Channel::Signon,
            FlapMessage::Data(_) => Channel::Data,
            FlapMessage::Error(_) => Channel::Error,
            FlapMessage::Signoff(_) => Channel::Signoff,
            FlapMessage::Keepalive => Channel::Keepalive,
            FlapMessage::Unknown { channel, .. } => Channel::Unknown(*channel),
        }
    }

    /// Appends the payload (without a FLAP header).
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        match self {
            FlapMessage::Signon(s) => s.encode(out),
            FlapMessage::Data(s) => s.encode(out),
            FlapMessage::Error(p) | FlapMessage::Unknown { payload: p, .. } => out.put_slice(p),
            FlapMessage::Signoff(s) => s.encode(out),
            FlapMessage::Keepalive => {}
        }
    }

    /// Appends a whole frame with sequence number `seq`.
    pub fn encode_frame(&self, seq: u16, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        encode_frame_with(out, self.channel(), seq, |o| self.encode_payload(o))
    }
}

/// Channel-1 TLV tags (the hello with cookie, and the roasted-password login).
pub mod signon_tag {
    /// Screen name (roasted login).
    pub const SCREEN_NAME: u16 = 0x0001;
    /// Roasted password (roasted login).
    pub const ROASTED_PASSWORD: u16 = 0x0002;
    /// Client id string.
    pub const CLIENT_ID_STRING: u16 = 0x0003;
    /// Login cookie (BOS and service connections).
    pub const COOKIE: u16 = 0x0006;
    /// Country.
    pub const COUNTRY: u16 = 0x000E;
    /// Language.
    pub const LANGUAGE: u16 = 0x000F;
    /// u32 distribution number.
    pub const DISTRIBUTION: u16 = 0x0014;
    /// u16 client id.
    pub const CLIENT_ID: u16 = 0x0016;
    /// u16 major version.
    pub const MAJOR: u16 = 0x0017;
    /// u16 minor version.
    pub const MINOR: u16 = 0x0018;
    /// u16 point version.
    pub const POINT: u16 = 0x0019;
    /// u16 build.
    pub const BUILD: u16 = 0x001A;
    /// u8 multi-connection flag (1 allow, 3 single).
    pub const MULTI_CONN: u16 = 0x004A;
}

/// Channel-1 content: the FLAP version and optional TLVs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signon<'a> {
    /// FLAP version, 1 in practice.
    pub version: u32,
    /// TLVs ([`signon_tag`]).
    pub tlvs: TlvBlock<'a>,
}

/// What a channel-1 frame from a client asks for (§4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignonKind {
    /// TLV 0x0006: a BOS or service connection presenting a cookie.
    Cookie,
    /// TLV 0x0001: a roasted-password FLAP login.
    RoastedLogin,
    /// Neither: a BUCP (family 0x0017) login follows on channel 2.
    Bucp,
}

impl<'a> Signon<'a> {
    /// The bare hello (`00 00 00 01`).
    pub fn hello() -> Signon<'static> {
        Signon {
            version: FLAP_VERSION,
            tlvs: TlvBlock::empty(),
        }
    }

    /// Decodes version and TLVs.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let version = r.u32("FLAP version")?;
        let tlvs = TlvBlock::decode_rest(&mut r)?;
        Ok(Self { version, tlvs })
    }

    /// Appends version and TLVs.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.version);
        self.tlvs.encode_rest(out);
    }

    /// Classifies the frame the way a server must (§4.4).
    pub fn kind(&self) -> SignonKind {
        if self.tlvs.contains(signon_tag::COOKIE) {
            SignonKind::Cookie
        } else if self.tlvs.contains(signon_tag::SCREEN_NAME) {
            SignonKind::RoastedLogin
        } else {
            SignonKind::Bucp
        }
    }

    /// The login cookie, if present.
    pub fn cookie(&self) -> Option<&[u8]> {
        self.tlvs.get(signon_tag::COOKIE)
    }
}

/// Sign-off / login-result TLV tags on channel 4.
pub mod signoff_tag {
    /// Screen name (login result).
    pub const SCREEN_NAME: u16 = 0x0001;
    /// Error URL.
    pub const ERROR_URL: u16 = 0x0004;
    /// BOS address (login result).
    pub const BOS_ADDRESS: u16 = 0x0005;
    /// Login cookie (login result).
    pub const COOKIE: u16 = 0x0006;
    /// u16 login error code (login result).
    pub const ERROR_CODE: u16 = 0x0008;
    /// u16 disconnect reason (1 = signed on from another location).
    pub const DISCONNECT_REASON: u16 = 0x0009;
    /// "More info" URL.
    pub const MORE_INFO_URL: u16 = 0x000B;
}

/// Channel-4 content: optional TLVs, then the sender closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signoff<'a> {
    /// TLVs ([`signoff_tag`]); empty for a plain goodbye.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> Signoff<'a> {
    /// Decodes the TLVs.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        Ok(Self {
            tlvs: TlvBlock::decode_rest(&mut Reader::new(payload))?,
        })
    }

    /// Appends the TLVs.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.tlvs.encode_rest(out);
    }

    /// The disconnect reason; read as `u16`, but a one-byte value (as some servers send) is accepted.
    pub fn disconnect_reason(&self) -> Option<u16> {
        let t = self.tlvs.find(signoff_tag::DISCONNECT_REASON)?;
        t.as_u16().or_else(|| t.as_u8().map(u16::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_known_answer() {
        let bytes = [0x2A, 0x01, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01];
        let Decoded::Complete { value, consumed } = FrameDecoder::new().decode(&bytes).unwrap() else {
            panic!("complete frame expected");
        };
        assert_eq!(consumed, 10);
        assert_eq!(value.channel, Channel::Signon);
        let FlapMessage::Signon(s) = value.message().unwrap() else {
            panic!("signon")
        };
        assert_eq!(s, Signon::hello());
        assert_eq!(s.kind(), SignonKind::Bucp);
        let mut out = Vec::new();
        FlapMessage::Signon(s).encode_frame(1, &mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn incomplete_and_bad_marker() {
        let d = FrameDecoder::new();
        assert_eq!(d.decode(&[]).unwrap(), Decoded::Incomplete { needed: 6 });
        assert_eq!(
            d.decode(&[0x2A, 5, 0, 16, 0]).unwrap(),
            Decoded::Incomplete { needed: 6 }
        );
        assert_eq!(
            d.decode(&[0x2A, 2, 0, 1, 0, 3, 1]).unwrap(),
            Decoded::Incomplete { needed: 9 }
        );
        assert_eq!(d.decode(&[0x2B]).unwrap_err(), DecodeError::BadStartMarker(0x2B));
        let capped = FrameDecoder::with_max_payload(2);
        assert_eq!(
            capped.decode(&[0x2A, 2, 0, 1, 0, 3]).unwrap_err(),
            DecodeError::FrameTooLarge { declared: 3, cap: 2 }
        );
    }

    #[test]
    fn keepalive_and_signoff_known_answers() {
        let ka = [0x2A, 0x05, 0x00, 0x10, 0x00, 0x00];
        let frame = match FrameDecoder::new().decode(&ka).unwrap() {
            Decoded::Complete { value, .. } => value,
            Decoded::Incomplete { .. } => panic!("complete"),
        };
        assert_eq!(frame.message().unwrap(), FlapMessage::Keepalive);
        // "signed on elsewhere": 2A 04 00 70 00 06 | 00 09 00 02 00 01
        let so = [0x2A, 0x04, 0x00, 0x70, 0x00, 0x06, 0x00, 0x09, 0x00, 0x02, 0x00, 0x01];
        let frame = match FrameDecoder::new().decode(&so).unwrap() {
            Decoded::Complete { value, .. } => value,
            Decoded::Incomplete { .. } => panic!("complete"),
        };
        let FlapMessage::Signoff(s) = frame.message().unwrap() else {
            panic!("signoff")
        };
        assert_eq!(s.disconnect_reason(), Some(1));
    }

    #[test]
    fn cookie_hello_known_answer() {
        let bytes = [
            0x2A, 0x01, 0x00, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x08, 0, 1, 2, 3, 4, 5, 6, 7,
        ];
        let frames: Vec<_> = FrameDecoder::new().frames(&bytes).collect();
        let frame = frames[0].as_ref().unwrap();
        let FlapMessage::Signon(s) = frame.message().unwrap() else {
            panic!("signon")
        };
        assert_eq!(s.kind(), SignonKind::Cookie);
        assert_eq!(s.cookie(), Some(&[0u8, 1, 2, 3, 4, 5, 6, 7][..]));
    }
}
