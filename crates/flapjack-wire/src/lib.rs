//! # flapjack-wire
//!
//! The OSCAR wire codec: bytes in, typed messages out, and back. No I/O, no
//! clock, no async runtime.
//!
//! OSCAR ("Open System for CommunicAtion in Realtime") is the protocol of AOL
//! Instant Messenger and ICQ. It has three layers:
//!
//! * **FLAP** ([`flap`]) frames the TCP stream: a 6-byte header with a channel
//!   (1 sign-on, 2 data, 4 sign-off, 5 keepalive), a sequence number and a length.
//! * **SNAC** ([`snac`]) is the message inside a channel-2 frame: family,
//!   subtype, flags, request id, body. Families are services such as ICBM
//!   (instant messages) or FEEDBAG (the server-stored buddy list).
//! * **TLV** ([`tlv`]) is the type-length-value record most bodies are made of.
//!
//! Decoding borrows from the input and allocates nothing; unknown families,
//! subtypes and TLV tags round-trip byte for byte. Every length is checked
//! before use, and malformed input yields a [`DecodeError`], never a panic.
//!
//! ```
//! use flapjack_wire::flap::{Decoded, FlapMessage, FrameDecoder};
//! use flapjack_wire::snac::Message;
//!
//! // A keepalive followed by half of another frame.
//! let bytes = [0x2A, 0x05, 0x00, 0x10, 0x00, 0x00, 0x2A, 0x02];
//! let decoder = FrameDecoder::new();
//! let Decoded::Complete { value: frame, consumed } = decoder.decode(&bytes).unwrap() else { unreachable!() };
//! assert_eq!(consumed, 6);
//! assert_eq!(frame.message().unwrap(), FlapMessage::Keepalive);
//! assert_eq!(decoder.decode(&bytes[6..]).unwrap(), Decoded::Incomplete { needed: 6 });
//! # let _ = Message::Raw { family: 0, subtype: 0, body: Default::default() };
//! ```

pub mod codes;
pub mod error;
pub mod family;
pub mod flap;
pub mod list;
pub mod reader;
pub mod snac;
pub mod testing;
pub mod tlv;
pub mod types;
pub mod userinfo;

pub use codes::{ErrorCode, Family};
pub use error::{DecodeError, EncodeError};
pub use flap::{Channel, Decoded, FlapMessage, Frame, FrameDecoder};
pub use list::{List, ListItem};
pub use reader::{Put, Reader};
pub use snac::{Message, RawSnac, Snac, SnacError, SnacHeader};
pub use tlv::{Tlv, TlvBlock, TlvBlockBuilder};
pub use types::{Capability, IcbmCookie, RoomId, ScreenName, Str08, Str16};
pub use userinfo::UserInfo;
