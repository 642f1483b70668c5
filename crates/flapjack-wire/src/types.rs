//! Bounded byte strings, screen names, cookies and capabilities.

use std::borrow::Cow;
use std::fmt;

use crate::error::{DecodeError, EncodeError};
use crate::reader::{Put, Reader};

macro_rules! bounded_bytes {
    ($(#[$meta:meta])* $name:ident, $max:expr, $prefix:expr, $what:literal, $put_len:ident, $read:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name<'a>(Cow<'a, [u8]>);

        impl<'a> $name<'a> {
            /// The largest length the prefix can express.
            pub const MAX: usize = $max;

            /// Wraps `bytes`, failing if they do not fit the length prefix.
            pub fn new(bytes: impl Into<Cow<'a, [u8]>>) -> Result<Self, EncodeError> {
                let bytes = bytes.into();
                if bytes.len() > Self::MAX {
                    return Err(EncodeError::TooLong { what: $what, len: bytes.len(), max: Self::MAX });
                }
                Ok(Self(bytes))
            }

            /// The empty string.
            pub const fn empty() -> Self {
                Self(Cow::Borrowed(&[]))
            }

            /// The bytes, without the length prefix.
            #[inline]
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            /// The bytes as text, replacing invalid UTF-8.
            pub fn to_string_lossy(&self) -> String {
                String::from_utf8_lossy(&self.0).into_owned()
            }

            /// Length in bytes.
            #[inline]
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// True for the empty string.
            #[inline]
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// A copy that owns its bytes.
            pub fn into_owned(self) -> $name<'static> {
                $name(Cow::Owned(self.0.into_owned()))
            }

            /// Decodes the length-prefixed form, borrowing from the input.
            #[inline]
            pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
                Ok(Self(Cow::Borrowed(r.$read($what)?)))
            }

            /// Appends the length-prefixed form.
            pub fn encode(&self, out: &mut Vec<u8>) {
                // The constructor guarantees the length fits.
                out.$put_len(self.0.len() as _);
                out.put_slice(&self.0);
            }

            /// Length of the encoded form, prefix included.
            pub fn encoded_len(&self) -> usize {
                $prefix + self.0.len()
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", String::from_utf8_lossy(&self.0))
            }
        }

        impl<'a> TryFrom<&'a str> for $name<'a> {
            type Error = EncodeError;
            fn try_from(s: &'a str) -> Result<Self, EncodeError> {
                Self::new(s.as_bytes())
            }
        }

        impl<'a> TryFrom<&'a [u8]> for $name<'a> {
            type Error = EncodeError;
            fn try_from(s: &'a [u8]) -> Result<Self, EncodeError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name<'static> {
            type Error = EncodeError;
            fn try_from(s: String) -> Result<Self, EncodeError> {
                Self::new(s.into_bytes())
            }
        }
    };
}

bounded_bytes!(
    /// A "string08": at most 255 bytes, written with a `u8` length prefix.
    /// Screen names in SNAC bodies and room cookies use it.
    Str08, 255, 1, "string08", put_u8, string08
);
bounded_bytes!(
    /// A "string16": at most 65 535 bytes, written with a `u16` length prefix.
    /// Feedbag item names, BUCP keys and BART data use it.
    Str16, 65535, 2, "string16", put_u16, string16
);

/// A screen name as it appears in SNAC bodies (a string08).
///
/// Comparison on the wire is case- and space-insensitive; use
/// [`normalize_screen_name`] for lookups.
pub type ScreenName<'a> = Str08<'a>;

/// The "ident" form of a screen name: lower-case ASCII with spaces removed.
pub fn normalize_screen_name(name: &[u8]) -> String {
    name.iter()
        .filter(|b| **b != b' ')
        .map(|b| b.to_ascii_lowercase() as char)
        .collect()
}

/// A normalized screen name ([`normalize_screen_name`]) kept on the stack when it is short
/// ASCII, as every AIM name and ICQ number is: the message path looks recipients up without
/// allocating. Longer or non-ASCII names fall back to a `String`.
#[derive(Debug, Clone)]
pub struct NormalizedName(NormalizedRepr);

#[derive(Debug, Clone)]
enum NormalizedRepr {
    Inline {
        bytes: [u8; NormalizedName::INLINE],
        len: u8,
    },
    Heap(String),
}

impl NormalizedName {
    /// The longest name kept inline.
    pub const INLINE: usize = 32;

    /// Normalizes `name`.
    pub fn of(name: &[u8]) -> Self {
        let mut bytes = [0u8; Self::INLINE];
        let mut len = 0;
        for &b in name {
            if b == b' ' {
                continue;
            }
            if !b.is_ascii() || len == Self::INLINE {
                return Self(NormalizedRepr::Heap(normalize_screen_name(name)));
            }
            bytes[len] = b.to_ascii_lowercase();
            len += 1;
        }
        Self(NormalizedRepr::Inline { bytes, len: len as u8 })
    }

    /// The normalized name.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only ASCII bytes are ever stored inline, so this never falls back.
            NormalizedRepr::Inline { bytes, len } => std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or(""),
            NormalizedRepr::Heap(s) => s,
        }
    }
}

impl std::ops::Deref for NormalizedName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// The 8-byte cookie that identifies one ICBM (and a rendezvous session).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IcbmCookie(pub [u8; 8]);

impl IcbmCookie {
    /// Reads 8 bytes.
    #[inline]
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(r.array("ICBM cookie")?))
    }
    /// Appends 8 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_slice(&self.0);
    }
}

impl fmt::Debug for IcbmCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IcbmCookie(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A capability: a 16-byte UUID a client advertises (§9).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Capability(pub [u8; 16]);

impl Capability {
    /// The template for "short" capabilities: `0946XXYY-4C7F-11D1-8222-444553540000`.
    const SHORT_TEMPLATE: [u8; 16] = [
        0x09, 0x46, 0x00, 0x00, 0x4C, 0x7F, 0x11, 0xD1, 0x82, 0x22, 0x44, 0x45, 0x53, 0x54, 0x00, 0x00,
    ];
    /// Chat rooms: `748F2420-6287-11D1-8222-444553540000`.
    pub const CHAT: Capability = Capability([
        0x74, 0x8F, 0x24, 0x20, 0x62, 0x87, 0x11, 0xD1, 0x82, 0x22, 0x44, 0x45, 0x53, 0x54, 0x00, 0x00,
    ]);
    /// Send file (short cap 0x1343).
    pub const SEND_FILE: Capability = Capability::from_short(0x1343);
    /// Direct IM (short cap 0x1345).
    pub const DIRECT_IM: Capability = Capability::from_short(0x1345);
    /// Buddy icon (short cap 0x1346).
    pub const BUDDY_ICON: Capability = Capability::from_short(0x1346);
    /// ICQ server relay (short cap 0x1349).
    pub const ICQ_SERVER_RELAY: Capability = Capability::from_short(0x1349);
    /// Interoperate with ICQ (short cap 0x134D).
    pub const INTEROPERATE: Capability = Capability::from_short(0x134D);
    /// UTF-8 messages (short cap 0x134E).
    pub const UTF8: Capability = Capability::from_short(0x134E);
    /// Typing notifications ("MTN"): `563FC809-0B6F-41BD-9F79-422609DFA2F3`.
    pub const TYPING: Capability = Capability([
        0x56, 0x3F, 0xC8, 0x09, 0x0B, 0x6F, 0x41, 0xBD, 0x9F, 0x79, 0x42, 0x26, 0x09, 0xDF, 0xA2, 0xF3,
    ]);

    /// Expands a short capability to its full UUID.
    pub const fn from_short(short: u16) -> Self {
        let mut b = Self::SHORT_TEMPLATE;
        let s = short.to_be_bytes();
        b[2] = s[0];
        b[3] = s[1];
        Capability(b)
    }

    /// The short form, if this UUID has one.
    pub fn short(&self) -> Option<u16> {
        let mut t = self.0;
        t[2] = 0;
        t[3] = 0;
        (t == Self::SHORT_TEMPLATE).then(|| u16::from_be_bytes([self.0[2], self.0[3]]))
    }

    /// Reads 16 bytes.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(r.array("capability")?))
    }

    /// Appends 16 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_slice(&self.0);
    }

    /// Splits concatenated 16-byte UUIDs (e.g. LOCATE TLV 0x0005), ignoring a short tail.
    pub fn iter_list(bytes: &[u8]) -> impl Iterator<Item = Capability> + '_ {
        bytes.chunks_exact(16).map(|c| {
            let mut a = [0u8; 16];
            a.copy_from_slice(c);
            Capability(a)
        })
    }
}

impl fmt::Debug for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
        )
    }
}

/// A chat room's identity: `u16 exchange, string08 cookie, u16 instance` (§8.11).
///
/// Used by CHAT_NAV, CHAT, chat invitations (ICBM channel 2) and service
/// requests for a room (OSERVICE 0x0004 TLV 0x0001).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomId<'a> {
    /// Exchange number (4 = user-created rooms, 5 = public).
    pub exchange: u16,
    /// The room cookie (e.g. `4-0-testroom`).
    pub cookie: Str08<'a>,
    /// Instance number.
    pub instance: u16,
}

impl<'a> RoomId<'a> {
    /// Decodes the triple.
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            exchange: r.u16("room exchange")?,
            cookie: Str08::decode(r)?,
            instance: r.u16("room instance")?,
        })
    }

    /// Appends the triple.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.exchange);
        self.cookie.encode(out);
        out.put_u16(self.instance);
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> RoomId<'static> {
        RoomId {
            exchange: self.exchange,
            cookie: self.cookie.into_owned(),
            instance: self.instance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str08_rejects_overlong() {
        assert!(Str08::new(vec![0u8; 255]).is_ok());
        assert_eq!(
            Str08::new(vec![0u8; 256]),
            Err(EncodeError::TooLong {
                what: "string08",
                len: 256,
                max: 255
            })
        );
        let s = Str08::try_from("bob").unwrap();
        let mut out = Vec::new();
        s.encode(&mut out);
        assert_eq!(out, b"\x03bob");
        assert_eq!(s.encoded_len(), 4);
        let t = Str16::try_from("bob").unwrap();
        assert_eq!(t.encoded_len(), 5);
    }

    #[test]
    fn short_caps() {
        assert_eq!(Capability::SEND_FILE.short(), Some(0x1343));
        assert_eq!(Capability::CHAT.short(), None);
        assert_eq!(
            format!("{:?}", Capability::SEND_FILE),
            "09461343-4C7F-11D1-8222-444553540000"
        );
        assert_eq!(normalize_screen_name(b"Foo Bar"), "foobar");
    }

    #[test]
    fn normalized_names_match_normalize_screen_name() {
        let long = [b'A'; 40];
        for name in [
            &b"Foo Bar"[..],
            b"",
            b"   ",
            b"1234567890",
            &long,
            &long[..32],
            b"J\xe9r\xf4me",
            b"a\xff b",
        ] {
            assert_eq!(&*NormalizedName::of(name), normalize_screen_name(name), "{name:?}");
        }
        assert!(matches!(
            NormalizedName::of(b"Some Body").0,
            NormalizedRepr::Inline { .. }
        ));
        assert!(matches!(NormalizedName::of(&long).0, NormalizedRepr::Heap(_)));
    }

    proptest::proptest! {
        #[test]
        fn normalized_name_is_normalize_screen_name(name in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48)) {
            proptest::prop_assert_eq!(&*NormalizedName::of(&name), normalize_screen_name(&name));
        }
    }
}
