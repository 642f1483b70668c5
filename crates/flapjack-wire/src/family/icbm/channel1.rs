//! Channel-1 message data: the value of ICBM TLV 0x0002 (§8.4.2).
//!
//! The value is a list of fragments `u8 id, u8 version (1), u16 length, data`.
//! Fragment 0x05 carries "features" bytes that identify the sending client
//! (libpurple AIM `01 01 01 02`, ICQ `01`, Twisted `01 01 02`); fragment 0x01
//! carries text: `u16 charset, u16 charset subset, text bytes`. A message may
//! hold several text fragments ("multipart", AOL for Mac 5.0); they are shown
//! in order. Some clients (Slick) put the text before the features, so no
//! order is assumed.

use std::borrow::Cow;
use std::fmt;

use crate::code_enum;
use crate::error::{DecodeError, EncodeError};
use crate::reader::{Put, Reader};

code_enum! {
    /// The id of a fragment inside channel-1 message data.
    pub enum FragmentId: u8 {
        /// 0x01 message text: `u16 charset, u16 charset subset, text bytes`.
        Text = 0x01,
        /// 0x05 features ("required capabilities") bytes.
        Features = 0x05,
    }
}

code_enum! {
    /// The character set of a text fragment (its first `u16`).
    pub enum Charset: u16 {
        /// 0x0000 ASCII (ISO-646). Decoded as UTF-8, since clients also label UTF-8 this way.
        Ascii = 0x0000,
        /// 0x0002 UCS-2 big-endian ("unicode-2-0"; UTF-16BE in practice).
        Ucs2Be = 0x0002,
        /// 0x0003 ISO-8859-1 (Latin-1).
        Latin1 = 0x0003,
    }
}

/// The features fragment libpurple sends from an AIM account (`01 01 01 02`).
pub const AIM_FEATURES: &[u8] = &[0x01, 0x01, 0x01, 0x02];
/// The features fragment libpurple sends from an ICQ account (`01`).
pub const ICQ_FEATURES: &[u8] = &[0x01];
/// The version byte every known client writes in a fragment header.
pub const FRAGMENT_VERSION: u8 = 0x01;

/// One fragment of channel-1 message data, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// What the fragment holds.
    pub id: FragmentId,
    /// The version byte (1 in every known client).
    pub version: u8,
    /// The fragment's data.
    pub data: &'a [u8],
}

/// A text fragment: charset, subset and the encoded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPart<'a> {
    /// How `bytes` are encoded.
    pub charset: Charset,
    /// The charset subset (0x0000 usually; 0xFFFF "none" and 0x000B Macintosh are also seen).
    pub subset: u16,
    /// The encoded text (AIM sends HTML-ish markup, `<HTML><BODY>…`).
    pub bytes: &'a [u8],
}

impl TextPart<'_> {
    /// The text, decoded with [`decode_text`].
    pub fn to_text(&self) -> String {
        decode_text(self.charset, self.bytes)
    }
}

/// Validated channel-1 message data (the value of ICBM TLV 0x0002), kept encoded.
///
/// Decoding checks that the value is a whole list of fragments and that every
/// text fragment holds its 4-byte charset header; iteration then never fails
/// and allocates nothing.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Channel1Message<'a> {
    raw: Cow<'a, [u8]>,
}

impl<'a> Channel1Message<'a> {
    /// The largest encoded size: the value must fit a TLV.
    pub const MAX_BYTES: usize = 0xFFFF;

    /// Validates `value` (a TLV 0x0002 value) as a fragment list, borrowing it.
    pub fn decode(value: &'a [u8]) -> Result<Self, DecodeError> {
        if value.len() > Self::MAX_BYTES {
            return Err(DecodeError::BadLength {
                what: "ICBM message data",
                len: value.len(),
            });
        }
        // One pass over `u8 id, u8 version, u16 length, data` fragments.
        let mut rest = value;
        while !rest.is_empty() {
            let Some((&[id, _version, l0, l1], tail)) = rest.split_first_chunk::<4>() else {
                return Err(short_fragment_header(rest));
            };
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            let Some((data, after)) = tail.split_at_checked(len) else {
                return Err(crate::reader::truncated("ICBM fragment data", len, tail.len()));
            };
            if FragmentId::from(id) == FragmentId::Text && data.len() < 4 {
                return Err(DecodeError::BadLength {
                    what: "ICBM text fragment",
                    len: data.len(),
                });
            }
            rest = after;
        }
        Ok(Self {
            raw: Cow::Borrowed(value),
        })
    }

    /// Message data for `text` as libpurple builds it for AIM: the features
    /// fragment `01 01 01 02`, then one text fragment with the narrowest
    /// charset that holds the text ([`encode_text`]) and subset 0.
    pub fn from_text(text: &str) -> Result<Channel1Message<'static>, EncodeError> {
        let (charset, bytes) = encode_text(text);
        Channel1Message::build(
            AIM_FEATURES,
            &[TextPart {
                charset,
                subset: 0,
                bytes: &bytes,
            }],
        )
    }

    /// Message data with a features fragment and then each text part in order.
    pub fn build(features: &[u8], parts: &[TextPart<'_>]) -> Result<Channel1Message<'static>, EncodeError> {
        let mut raw = Vec::new();
        put_fragment(&mut raw, FragmentId::Features, features, &[])?;
        for p in parts {
            let mut head = [0u8; 4];
            head[..2].copy_from_slice(&p.charset.value().to_be_bytes());
            head[2..].copy_from_slice(&p.subset.to_be_bytes());
            put_fragment(&mut raw, FragmentId::Text, &head, p.bytes)?;
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(EncodeError::TooLong {
                what: "ICBM message data",
                len: raw.len(),
                max: Self::MAX_BYTES,
            });
        }
        Ok(Channel1Message { raw: Cow::Owned(raw) })
    }

    /// The encoded fragments (the TLV 0x0002 value).
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Iterates the fragments in wire order.
    pub fn fragments(&self) -> FragmentIter<'_> {
        FragmentIter {
            r: Reader::new(&self.raw),
        }
    }

    /// The data of the first features fragment.
    pub fn features(&self) -> Option<&[u8]> {
        self.fragments().find(|f| f.id == FragmentId::Features).map(|f| f.data)
    }

    /// Iterates the text fragments in wire order.
    pub fn text_parts(&self) -> impl Iterator<Item = TextPart<'_>> + '_ {
        self.fragments().filter_map(|f| {
            if f.id != FragmentId::Text {
                return None;
            }
            let mut r = Reader::new(f.data);
            Some(TextPart {
                charset: Charset::from(r.u16("charset").ok()?),
                subset: r.u16("charset subset").ok()?,
                bytes: r.rest(),
            })
        })
    }

    /// The whole text: every text fragment decoded and joined; `None` without text fragments.
    pub fn text(&self) -> Option<String> {
        let mut parts = self.text_parts().peekable();
        parts.peek()?;
        Some(parts.map(|p| p.to_text()).collect())
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> Channel1Message<'static> {
        Channel1Message {
            raw: Cow::Owned(self.raw.into_owned()),
        }
    }
}

/// The error for a fragment header cut short (`rest` holds 1 to 3 bytes): the
/// first of its fields that does not fit.
#[cold]
#[inline(never)]
fn short_fragment_header(rest: &[u8]) -> DecodeError {
    match rest.len() {
        0 => crate::reader::truncated("ICBM fragment id", 1, 0),
        1 => crate::reader::truncated("ICBM fragment version", 1, 0),
        n => crate::reader::truncated("ICBM fragment length", 2, n.saturating_sub(2)),
    }
}

impl fmt::Debug for Channel1Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.fragments()).finish()
    }
}

/// Appends one fragment whose data is `head` followed by `body`.
fn put_fragment(out: &mut Vec<u8>, id: FragmentId, head: &[u8], body: &[u8]) -> Result<(), EncodeError> {
    let len = head.len() + body.len();
    let len16 = u16::try_from(len).map_err(|_| EncodeError::TooLong {
        what: "ICBM message fragment",
        len,
        max: 0xFFFF,
    })?;
    out.put_u8(id.value());
    out.put_u8(FRAGMENT_VERSION);
    out.put_u16(len16);
    out.put_slice(head);
    out.put_slice(body);
    Ok(())
}

/// Iterator over the fragments of a validated [`Channel1Message`].
#[derive(Debug, Clone)]
pub struct FragmentIter<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for FragmentIter<'a> {
    type Item = Fragment<'a>;
    fn next(&mut self) -> Option<Fragment<'a>> {
        // Validated on construction; a short tail simply ends the iteration.
        let id = FragmentId::from(self.r.u8("id").ok()?);
        let version = self.r.u8("version").ok()?;
        let len = self.r.u16("len").ok()? as usize;
        let data = self.r.bytes(len, "data").ok()?;
        Some(Fragment { id, version, data })
    }
}

/// Encodes `text` in the narrowest charset that holds it, as AIM clients do:
/// ASCII when every character is below 0x80, else Latin-1 when every character
/// is at most 0xFF, else UCS-2BE.
///
/// UCS-2 cannot express characters outside the Basic Multilingual Plane
/// (emoji and other code points above U+FFFF): each one is **replaced by
/// U+FFFD** (the replacement character), so the result is always valid UCS-2.
pub fn encode_text(text: &str) -> (Charset, Vec<u8>) {
    if text.is_ascii() {
        return (Charset::Ascii, text.as_bytes().to_vec());
    }
    if text.chars().all(|c| u32::from(c) <= 0xFF) {
        // Every char fits one byte, so the cast is the Latin-1 code.
        return (Charset::Latin1, text.chars().map(|c| u32::from(c) as u8).collect());
    }
    let mut out = Vec::with_capacity(text.len() * 2);
    for c in text.chars() {
        let unit = u16::try_from(u32::from(c)).unwrap_or(0xFFFD);
        out.put_u16(unit);
    }
    (Charset::Ucs2Be, out)
}

/// Decodes text bytes in `charset`.
///
/// ASCII (and any unknown charset) decodes as UTF-8, replacing invalid
/// sequences; Latin-1 maps each byte to its code point; UCS-2BE decodes as
/// UTF-16BE (surrogate pairs are joined), replacing unpaired surrogates and an
/// odd trailing byte with U+FFFD.
pub fn decode_text(charset: Charset, bytes: &[u8]) -> String {
    match charset {
        Charset::Latin1 => bytes.iter().map(|b| char::from(*b)).collect(),
        Charset::Ucs2Be => decode_utf16be(bytes),
        Charset::Ascii | Charset::Unknown(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// UTF-16BE to a string, lossy.
pub(crate) fn decode_utf16be(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
    let mut s: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if bytes.len() % 2 == 1 {
        s.push(char::REPLACEMENT_CHARACTER);
    }
    s
}
