//! Family 0x000E CHAT: the traffic of one chat room (§8.11).
//!
//! Each room has its own connection, opened through a service redirect
//! (OSERVICE 0x0004 for family 0x000E with TLV 0x0001 = the room triple, §7.5).
//!
//! ```text
//! S→C 0E/03 users joined (user-info blocks)   0E/04 users left (user-info blocks)
//! S→C 0E/02 room info update (room info)
//! C→S 0E/05 send (cookie, channel 3, TLVs)  → S→C 0E/06 to every occupant (sender's user info first)
//! ```
//!
//! On join the server sends the newcomer the occupant list (0x0003), then the
//! room info (0x0002), and only then announces the newcomer to the others —
//! Mac AIM 4.0.9 needs that order (§14 item 13).

use crate::error::{DecodeError, EncodeError};
use crate::family::chat_nav::RoomInfo;
use crate::list::List;
use crate::reader::{Put, Reader};
use crate::tlv::TlvBlock;
use crate::types::IcbmCookie;
use crate::userinfo::UserInfo;

/// The family id.
pub const FAMILY: u16 = 0x000E;

/// The message channel of chat messages.
pub const CHANNEL: u16 = 0x0003;

/// The channel Mac AIM 4.0.9 may send chat messages on; treat it as [`CHANNEL`] (§14 item 13).
pub const MAC_AIM_CHANNEL: u16 = 0xFFFF;

/// Subtypes.
pub mod subtype {
    /// S→C room info update ([`super::RoomInfo`]).
    pub const ROOM_INFO_UPDATE: u16 = 0x0002;
    /// S→C users joined (repeated user-info blocks).
    pub const USERS_JOINED: u16 = 0x0003;
    /// S→C users left (repeated user-info blocks).
    pub const USERS_LEFT: u16 = 0x0004;
    /// C→S send a message to the room.
    pub const SEND: u16 = 0x0005;
    /// S→C a message in the room.
    pub const INCOMING: u16 = 0x0006;
}

/// TLV tags of the send (0x0005) and incoming (0x0006) messages.
pub mod tag {
    /// Empty: the message is to the whole room (absent for a whisper).
    pub const PUBLIC: u16 = 0x0001;
    /// Screen name to whisper to (C→S, Open OSCAR).
    pub const WHISPER_TO: u16 = 0x0002;
    /// The sender's user-info block (S→C; must be the first TLV for AIM 2.x).
    pub const SENDER_INFO: u16 = 0x0003;
    /// Message info: nested TLVs ([`super::message_tag`]).
    pub const MESSAGE_INFO: u16 = 0x0005;
    /// Empty: reflect the message back to the sender (C→S).
    pub const REFLECT: u16 = 0x0006;
    /// Empty: the message is an auto-response (C→S).
    pub const AUTO_RESPONSE: u16 = 0x0007;
}

/// TLV tags inside the message info (TLV 0x0005).
pub mod message_tag {
    /// The message text, in the charset of [`CHARSET`].
    pub const TEXT: u16 = 0x0001;
    /// Charset name (e.g. `us-ascii`, `ISO-8859-1`, `UTF-8`).
    pub const CHARSET: u16 = 0x0002;
    /// Language (e.g. `en`).
    pub const LANGUAGE: u16 = 0x0003;
}

/// The users of a 0x0003 / 0x0004 message, decoded lazily.
pub type UserList<'a> = List<'a, UserInfo<'static>>;

/// Finds the first TLV with `tag` in validated TLV bytes, borrowing from them.
fn nested_get(raw: &[u8], tag: u16) -> Option<&[u8]> {
    let mut r = Reader::new(raw);
    while !r.is_empty() {
        let t = r.u16("TLV tag").ok()?;
        let len = r.u16("TLV length").ok()? as usize;
        let value = r.bytes(len, "TLV value").ok()?;
        if t == tag {
            return Some(value);
        }
    }
    None
}

/// The message info (TLV 0x0005): nested TLVs 0x0001 text, 0x0002 charset, 0x0003 language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo<'a> {
    /// The nested TLVs ([`message_tag`]); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> MessageInfo<'a> {
    /// A message info with `text` and, when given, its charset and language.
    pub fn new(
        text: &[u8],
        charset: Option<&[u8]>,
        language: Option<&[u8]>,
    ) -> Result<MessageInfo<'static>, EncodeError> {
        let tlvs = TlvBlock::builder()
            .bytes(message_tag::TEXT, text)
            .opt(message_tag::CHARSET, charset)
            .opt(message_tag::LANGUAGE, language)
            .build()?;
        Ok(MessageInfo { tlvs })
    }

    /// Decodes the value of TLV 0x0005; the text TLV is required.
    pub fn decode(value: &'a [u8]) -> Result<Self, DecodeError> {
        let tlvs = TlvBlock::from_raw(value)?;
        tlvs.require(message_tag::TEXT, "chat message info")?;
        Ok(Self { tlvs })
    }

    /// The text (empty if absent).
    pub fn text(&self) -> &[u8] {
        self.tlvs.get(message_tag::TEXT).unwrap_or_default()
    }
    /// The charset name.
    pub fn charset(&self) -> Option<&[u8]> {
        self.tlvs.get(message_tag::CHARSET)
    }
    /// The language.
    pub fn language(&self) -> Option<&[u8]> {
        self.tlvs.get(message_tag::LANGUAGE)
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> MessageInfo<'static> {
        MessageInfo {
            tlvs: self.tlvs.into_owned(),
        }
    }
}

/// Accessors shared by [`ChatSend`] and [`ChatIncoming`].
macro_rules! message_accessors {
    () => {
        /// True when sent on the chat channel (3, or 0xFFFF from Mac AIM 4.0.9).
        pub fn is_chat_channel(&self) -> bool {
            self.channel == CHANNEL || self.channel == MAC_AIM_CHANNEL
        }
        /// True when the message is to the whole room (TLV 0x0001).
        pub fn is_public(&self) -> bool {
            self.tlvs.contains(tag::PUBLIC)
        }
        /// The message info (TLV 0x0005).
        pub fn message_info(&self) -> Option<MessageInfo<'_>> {
            let v = self.tlvs.get(tag::MESSAGE_INFO)?;
            TlvBlock::from_raw(v).ok().map(|tlvs| MessageInfo { tlvs })
        }
        /// The message text (empty if absent).
        pub fn text(&self) -> &[u8] {
            self.nested(message_tag::TEXT).unwrap_or_default()
        }
        /// The text's charset name.
        pub fn charset(&self) -> Option<&[u8]> {
            self.nested(message_tag::CHARSET)
        }
        /// The text's language.
        pub fn language(&self) -> Option<&[u8]> {
            self.nested(message_tag::LANGUAGE)
        }
        fn nested(&self, t: u16) -> Option<&[u8]> {
            nested_get(self.tlvs.get(tag::MESSAGE_INFO)?, t)
        }
    };
}

/// Checks the parts common to send and incoming: flag lengths and the message info.
fn validate_message(tlvs: &TlvBlock<'_>, flags: &[u16], what: &'static str) -> Result<(), DecodeError> {
    for &f in flags {
        tlvs.check_len(f, 0, what)?;
    }
    MessageInfo::decode(tlvs.require(tag::MESSAGE_INFO, what)?)?;
    Ok(())
}

/// 0E/05 (C→S): a message to the room: `u8[8] cookie, u16 channel, TLV rest block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSend<'a> {
    /// Message cookie (echoed in the incoming message).
    pub cookie: IcbmCookie,
    /// Channel: [`CHANNEL`] (Mac AIM may send [`MAC_AIM_CHANNEL`]).
    pub channel: u16,
    /// TLVs ([`tag`]): 0x0001/0x0002, 0x0006, 0x0007, 0x0005 (required); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> ChatSend<'a> {
    /// A public message as libpurple sends it: TLVs 0x0001, 0x0006 (when
    /// `reflect`), 0x0005 with `text`, `charset` and language `en`.
    pub fn new(
        cookie: IcbmCookie,
        text: &[u8],
        charset: &[u8],
        reflect: bool,
    ) -> Result<ChatSend<'static>, EncodeError> {
        let message = MessageInfo::new(text, Some(charset), Some(b"en"))?;
        Self::with_message(cookie, &message, reflect, false, None)
    }

    /// A message with full control: a whisper to `whisper_to` replaces the public
    /// flag; TLVs in the order 0x0001 or 0x0002, 0x0006, 0x0007, 0x0005.
    pub fn with_message(
        cookie: IcbmCookie,
        message: &MessageInfo<'_>,
        reflect: bool,
        auto_response: bool,
        whisper_to: Option<&[u8]>,
    ) -> Result<ChatSend<'static>, EncodeError> {
        let b = match whisper_to {
            Some(sn) => TlvBlock::builder().bytes(tag::WHISPER_TO, sn),
            None => TlvBlock::builder().empty(tag::PUBLIC),
        };
        let tlvs = b
            .flag(tag::REFLECT, reflect)
            .flag(tag::AUTO_RESPONSE, auto_response)
            .bytes(tag::MESSAGE_INFO, message.tlvs.as_bytes())
            .build()?;
        Ok(ChatSend {
            cookie,
            channel: CHANNEL,
            tlvs,
        })
    }

    message_accessors!();

    /// True when the sender wants its own message back (TLV 0x0006).
    pub fn reflects(&self) -> bool {
        self.tlvs.contains(tag::REFLECT)
    }
    /// True for an auto-response (TLV 0x0007).
    pub fn is_auto_response(&self) -> bool {
        self.tlvs.contains(tag::AUTO_RESPONSE)
    }
    /// The screen name this message is whispered to (TLV 0x0002).
    pub fn whisper_to(&self) -> Option<&[u8]> {
        self.tlvs.get(tag::WHISPER_TO)
    }

    /// The message the server sends to the occupants: same cookie, channel 3
    /// (also for Mac AIM's 0xFFFF), TLVs 0x0003 `sender` **first** (AIM 2.x),
    /// 0x0001 if this message was public, and this message's 0x0005 unchanged.
    ///
    /// The SNAC request id is the server's choice: Open OSCAR echoes the send's
    /// id to the sender (when reflecting) and uses 0 for the other occupants.
    pub fn to_incoming(&self, sender: &UserInfo<'_>) -> Result<ChatIncoming<'static>, EncodeError> {
        ChatIncoming::build(self.cookie, sender, self.is_public(), self.tlvs.get(tag::MESSAGE_INFO))
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> ChatSend<'static> {
        ChatSend {
            cookie: self.cookie,
            channel: self.channel,
            tlvs: self.tlvs.into_owned(),
        }
    }

    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let m = ChatSend {
            cookie: IcbmCookie::decode(r)?,
            channel: r.u16("chat channel")?,
            tlvs: TlvBlock::decode_rest(r)?,
        };
        validate_message(&m.tlvs, &[tag::PUBLIC, tag::REFLECT, tag::AUTO_RESPONSE], "CHAT send")?;
        Ok(m)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.cookie.encode(out);
        out.put_u16(self.channel);
        self.tlvs.encode_rest(out);
    }
}

/// 0E/06 (S→C): a message in the room: `u8[8] cookie, u16 channel, TLV rest block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatIncoming<'a> {
    /// The sender's message cookie.
    pub cookie: IcbmCookie,
    /// Channel ([`CHANNEL`]).
    pub channel: u16,
    /// TLVs ([`tag`]): 0x0003 sender (required, first), 0x0001, 0x0005 (required); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> ChatIncoming<'a> {
    /// A public message from `sender`: TLVs 0x0003 sender, 0x0001, 0x0005.
    pub fn new(
        cookie: IcbmCookie,
        sender: &UserInfo<'_>,
        message: &MessageInfo<'_>,
    ) -> Result<ChatIncoming<'static>, EncodeError> {
        Self::build(cookie, sender, true, Some(message.tlvs.as_bytes()))
    }

    /// A whisper from `sender`: TLVs 0x0003 sender, 0x0005 (no public flag).
    pub fn whisper(
        cookie: IcbmCookie,
        sender: &UserInfo<'_>,
        message: &MessageInfo<'_>,
    ) -> Result<ChatIncoming<'static>, EncodeError> {
        Self::build(cookie, sender, false, Some(message.tlvs.as_bytes()))
    }

    fn build(
        cookie: IcbmCookie,
        sender: &UserInfo<'_>,
        public: bool,
        message_info: Option<&[u8]>,
    ) -> Result<ChatIncoming<'static>, EncodeError> {
        let mut info = Vec::new();
        sender.encode(&mut info);
        let tlvs = TlvBlock::builder()
            .bytes(tag::SENDER_INFO, &info)
            .flag(tag::PUBLIC, public)
            .opt(tag::MESSAGE_INFO, message_info)
            .build()?;
        Ok(ChatIncoming {
            cookie,
            channel: CHANNEL,
            tlvs,
        })
    }

    message_accessors!();

    /// The sender's user info (TLV 0x0003), decoded on demand.
    pub fn sender(&self) -> Option<UserInfo<'_>> {
        let v = self.tlvs.get(tag::SENDER_INFO)?;
        UserInfo::decode(&mut Reader::new(v)).ok()
    }

    /// True when the sender info is the first TLV, as AIM 2.x requires.
    pub fn sender_first(&self) -> bool {
        self.tlvs.iter().next().is_some_and(|t| t.tag == tag::SENDER_INFO)
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> ChatIncoming<'static> {
        ChatIncoming {
            cookie: self.cookie,
            channel: self.channel,
            tlvs: self.tlvs.into_owned(),
        }
    }

    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let m = ChatIncoming {
            cookie: IcbmCookie::decode(r)?,
            channel: r.u16("chat channel")?,
            tlvs: TlvBlock::decode_rest(r)?,
        };
        let what = "CHAT incoming message";
        let mut sender = Reader::new(m.tlvs.require(tag::SENDER_INFO, what)?);
        UserInfo::decode(&mut sender)?;
        sender.finish("CHAT sender info")?;
        validate_message(&m.tlvs, &[tag::PUBLIC], what)?;
        Ok(m)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.cookie.encode(out);
        out.put_u16(self.channel);
        self.tlvs.encode_rest(out);
    }
}

/// Messages of family 0x000E.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chat<'a> {
    /// 0E/02: the room's info.
    RoomInfoUpdate(RoomInfo<'a>),
    /// 0E/03: users who are in / entered the room.
    UsersJoined(UserList<'a>),
    /// 0E/04: users who left the room.
    UsersLeft(UserList<'a>),
    /// 0E/05: a message from the client.
    Send(ChatSend<'a>),
    /// 0E/06: a message to the client.
    Incoming(ChatIncoming<'a>),
}

impl<'a> Chat<'a> {
    /// A users-joined message (0x0003) listing `users`.
    pub fn users_joined(users: &[UserInfo<'_>]) -> Result<Chat<'static>, EncodeError> {
        Ok(Chat::UsersJoined(List::from_items(users.iter(), usize::MAX)?))
    }

    /// A users-left message (0x0004) listing `users`.
    pub fn users_left(users: &[UserInfo<'_>]) -> Result<Chat<'static>, EncodeError> {
        Ok(Chat::UsersLeft(List::from_items(users.iter(), usize::MAX)?))
    }

    /// The subtype of this message.
    pub fn subtype(&self) -> u16 {
        match self {
            Chat::RoomInfoUpdate(_) => subtype::ROOM_INFO_UPDATE,
            Chat::UsersJoined(_) => subtype::USERS_JOINED,
            Chat::UsersLeft(_) => subtype::USERS_LEFT,
            Chat::Send(_) => subtype::SEND,
            Chat::Incoming(_) => subtype::INCOMING,
        }
    }

    /// Decodes a body; `Ok(None)` for untyped subtypes.
    pub fn decode(subtype: u16, r: &mut Reader<'a>) -> Result<Option<Self>, DecodeError> {
        Ok(Some(match subtype {
            subtype::ROOM_INFO_UPDATE => Chat::RoomInfoUpdate(RoomInfo::decode(r)?),
            subtype::USERS_JOINED => Chat::UsersJoined(List::decode_rest(r)?),
            subtype::USERS_LEFT => Chat::UsersLeft(List::decode_rest(r)?),
            subtype::SEND => Chat::Send(ChatSend::decode(r)?),
            subtype::INCOMING => Chat::Incoming(ChatIncoming::decode(r)?),
            _ => return Ok(None),
        }))
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Chat::RoomInfoUpdate(m) => m.encode(out),
            Chat::UsersJoined(l) | Chat::UsersLeft(l) => l.encode_rest(out),
            Chat::Send(m) => m.encode(out),
            Chat::Incoming(m) => m.encode(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::chat_nav::tests::{arb_room_info, bytes, open_oscar_room};
    use crate::snac::{Message, Snac};
    use crate::testing::hex;
    use crate::types::ScreenName;
    use proptest::prelude::*;

    /// Decodes a whole SNAC, checks it re-encodes byte-identically and returns the CHAT body.
    fn chat(bytes: &[u8]) -> Chat<'_> {
        let snac = Snac::decode(bytes).unwrap();
        assert_eq!(snac.to_bytes(), bytes, "re-encoding differs");
        let Message::Chat(m) = snac.message else {
            panic!("not a typed CHAT message: {:?}", snac.message)
        };
        let mut body = Vec::new();
        m.encode(&mut body);
        let again = Chat::decode(m.subtype(), &mut Reader::new(&body)).unwrap().unwrap();
        assert_eq!(again, m);
        m
    }

    fn snac_bytes(request_id: u32, m: Chat<'_>) -> Vec<u8> {
        Snac::new(request_id, Message::Chat(m)).to_bytes()
    }

    // --- vectors from libpurple-md5-full.pcapng (chat connections: alice tcp stream 9, bobby stream 10) ---

    const COOKIE: IcbmCookie = IcbmCookie([0xE3, 0x46, 0x7C, 0xC2, 0x54, 0xF8, 0x1B, 0xE8]);

    /// alice's user info as Open OSCAR puts it in chat SNACs.
    const ALICE: &str = "05 61 6C 69 63 65 00 00 00 04
        00 03 00 04 6B 0C 01 3E | 00 01 00 02 00 10 | 00 06 00 04 00 00 00 00 | 00 1E 00 04 00 00 00 00";

    /// 0E/05 alice says "hello room", public + reflect, request id 0x31.
    const SEND: &str = "00 0E 00 05 00 00 00 00 00 31 | E3 46 7C C2 54 F8 1B E8 | 00 03
        00 01 00 00 | 00 06 00 00
        00 05 00 20 | 00 01 00 0A 68 65 6C 6C 6F 20 72 6F 6F 6D | 00 02 00 08 75 73 2D 61 73 63 69 69 | 00 03 00 02 65 6E";

    /// 0E/03 to alice on join: alice and bobby.
    const USERS_JOINED_TWO: &str = "00 0E 00 03 00 00 00 00 00 00
        05 61 6C 69 63 65 00 00 00 04
            00 03 00 04 6B 0C 01 3E | 00 01 00 02 00 10 | 00 06 00 04 00 00 00 00 | 00 1E 00 04 00 00 00 00
        05 62 6F 62 62 79 00 00 00 04
            00 03 00 04 6B 0C 01 3E | 00 01 00 02 00 10 | 00 06 00 04 00 00 00 00 | 00 1E 00 04 00 00 00 00";

    /// 0E/03 to bobby: alice entered.
    const USERS_JOINED_ONE: &str = "00 0E 00 03 00 00 00 00 00 00
        05 61 6C 69 63 65 00 00 00 04
            00 03 00 04 6B 0C 01 3E | 00 01 00 02 00 10 | 00 06 00 04 00 00 00 00 | 00 1E 00 04 00 00 00 00";

    /// 0E/02 room info update for `4-0-testroom`.
    const ROOM_INFO_UPDATE: &str = "00 0E 00 02 00 00 00 00 00 00
        00 04 | 0C 34 2D 30 2D 74 65 73 74 72 6F 6F 6D | 00 00 | 02 | 00 08
        00 C9 00 02 00 0F | 00 CA 00 04 6B 0C 01 3E | 00 D1 00 02 04 00 | 00 D2 00 02 00 64 | 00 D5 00 01 02
        00 6A 00 08 74 65 73 74 72 6F 6F 6D | 00 D3 00 08 74 65 73 74 72 6F 6F 6D | 00 DA 00 02 04 00";

    /// 0E/06 alice's message reflected to alice (request id of her send, 0x31).
    const INCOMING_REFLECTED: &str = "00 0E 00 06 00 00 00 00 00 31 | E3 46 7C C2 54 F8 1B E8 | 00 03
        00 03 00 28 | 05 61 6C 69 63 65 00 00 00 04
            00 03 00 04 6B 0C 01 3E | 00 01 00 02 00 10 | 00 06 00 04 00 00 00 00 | 00 1E 00 04 00 00 00 00
        00 01 00 00
        00 05 00 20 | 00 01 00 0A 68 65 6C 6C 6F 20 72 6F 6F 6D | 00 02 00 08 75 73 2D 61 73 63 69 69 | 00 03 00 02 65 6E";

    /// 0E/06 the same message delivered to bobby (request id 0).
    const INCOMING: &str = "00 0E 00 06 00 00 00 00 00 00 | E3 46 7C C2 54 F8 1B E8 | 00 03
        00 03 00 28 | 05 61 6C 69 63 65 00 00 00 04
            00 03 00 04 6B 0C 01 3E | 00 01 00 02 00 10 | 00 06 00 04 00 00 00 00 | 00 1E 00 04 00 00 00 00
        00 01 00 00
        00 05 00 20 | 00 01 00 0A 68 65 6C 6C 6F 20 72 6F 6F 6D | 00 02 00 08 75 73 2D 61 73 63 69 69 | 00 03 00 02 65 6E";

    /// 0E/04 to alice: bobby left.
    const USERS_LEFT: &str = "00 0E 00 04 00 00 00 00 00 00
        05 62 6F 62 62 79 00 00 00 04
            00 03 00 04 6B 0C 01 3E | 00 01 00 02 00 10 | 00 06 00 04 00 00 00 00 | 00 1E 00 04 00 00 00 00";

    /// A user info built like Open OSCAR's (sign-on time, class AIM, status online, 0x001E).
    fn open_oscar_user(name: &str) -> UserInfo<'static> {
        let tlvs = TlvBlock::builder()
            .u32(0x0003, 0x6B0C_013E)
            .u16(0x0001, 0x0010)
            .u32(0x0006, 0)
            .u32(0x001E, 0)
            .build()
            .unwrap();
        UserInfo::new(ScreenName::try_from(name.to_owned()).unwrap(), 0, tlvs)
    }

    fn hello() -> MessageInfo<'static> {
        MessageInfo::new(b"hello room", Some(b"us-ascii"), Some(b"en")).unwrap()
    }

    #[test]
    fn user_info_vector_matches_builder() {
        let bytes = hex(ALICE);
        let mut out = Vec::new();
        open_oscar_user("alice").encode(&mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn send_known_answer() {
        let bytes = hex(SEND);
        let Chat::Send(m) = chat(&bytes) else { panic!("0E/05") };
        assert_eq!(m.cookie, COOKIE);
        assert_eq!(m.channel, CHANNEL);
        assert!(m.is_chat_channel());
        assert!(m.is_public());
        assert!(m.reflects());
        assert!(!m.is_auto_response());
        assert_eq!(m.whisper_to(), None);
        assert_eq!(m.text(), b"hello room");
        assert_eq!(m.charset(), Some(&b"us-ascii"[..]));
        assert_eq!(m.language(), Some(&b"en"[..]));
        assert_eq!(m.message_info().unwrap(), hello());
        let built = ChatSend::new(COOKIE, b"hello room", b"us-ascii", true).unwrap();
        assert_eq!(built, m);
        assert_eq!(
            ChatSend::with_message(COOKIE, &hello(), true, false, None).unwrap(),
            built
        );
        assert_eq!(snac_bytes(0x31, Chat::Send(built)), bytes);
    }

    #[test]
    fn incoming_known_answers() {
        let alice = open_oscar_user("alice");
        for (vector, request_id) in [(INCOMING_REFLECTED, 0x31), (INCOMING, 0)] {
            let bytes = hex(vector);
            let Chat::Incoming(m) = chat(&bytes) else {
                panic!("0E/06")
            };
            assert_eq!(m.cookie, COOKIE);
            assert_eq!(m.channel, CHANNEL);
            assert!(m.is_public());
            assert!(m.sender_first());
            assert_eq!(m.sender().unwrap(), alice);
            assert_eq!(m.text(), b"hello room");
            assert_eq!(m.charset(), Some(&b"us-ascii"[..]));
            assert_eq!(m.language(), Some(&b"en"[..]));
            let built = ChatIncoming::new(COOKIE, &alice, &hello()).unwrap();
            assert_eq!(built, m);
            assert_eq!(snac_bytes(request_id, Chat::Incoming(built)), bytes);
        }
    }

    #[test]
    fn send_becomes_the_broadcast_incoming() {
        let send = ChatSend::new(COOKIE, b"hello room", b"us-ascii", true).unwrap();
        let incoming = send.to_incoming(&open_oscar_user("alice")).unwrap();
        assert_eq!(snac_bytes(0, Chat::Incoming(incoming)), hex(INCOMING));
    }

    #[test]
    fn whisper_and_mac_aim_channel() {
        let bob = ScreenName::try_from("bobby").unwrap();
        let mut send = ChatSend::with_message(COOKIE, &hello(), false, true, Some(bob.as_bytes())).unwrap();
        assert!(!send.is_public());
        assert!(send.is_auto_response());
        assert_eq!(send.whisper_to(), Some(&b"bobby"[..]));
        send.channel = MAC_AIM_CHANNEL;
        assert!(send.is_chat_channel());
        let bytes = snac_bytes(1, Chat::Send(send.clone()));
        let Chat::Send(back) = chat(&bytes) else {
            panic!("0E/05")
        };
        assert_eq!(back.channel, MAC_AIM_CHANNEL);
        let incoming = back.to_incoming(&open_oscar_user("alice")).unwrap();
        assert_eq!(incoming.channel, CHANNEL);
        assert!(!incoming.is_public());
        assert_eq!(
            incoming,
            ChatIncoming::whisper(COOKIE, &open_oscar_user("alice"), &hello()).unwrap()
        );
    }

    #[test]
    fn users_joined_and_left_known_answers() {
        let alice = open_oscar_user("alice");
        let bobby = open_oscar_user("bobby");

        let bytes = hex(USERS_JOINED_TWO);
        let Chat::UsersJoined(list) = chat(&bytes) else {
            panic!("0E/03")
        };
        let names: Vec<_> = list.iter().map(|u| u.screen_name.to_string_lossy()).collect();
        assert_eq!(names, ["alice", "bobby"]);
        assert_eq!(list.iter().next().unwrap().signon_time(), Some(0x6B0C_013E));
        assert_eq!(
            snac_bytes(0, Chat::users_joined(&[alice.clone(), bobby.clone()]).unwrap()),
            bytes
        );

        let bytes = hex(USERS_JOINED_ONE);
        let Chat::UsersJoined(list) = chat(&bytes) else {
            panic!("0E/03")
        };
        assert_eq!(list.len(), 1);
        assert_eq!(
            snac_bytes(0, Chat::users_joined(std::slice::from_ref(&alice)).unwrap()),
            bytes
        );

        let bytes = hex(USERS_LEFT);
        let Chat::UsersLeft(list) = chat(&bytes) else {
            panic!("0E/04")
        };
        assert_eq!(list.iter().next().unwrap(), bobby);
        assert_eq!(snac_bytes(0, Chat::users_left(&[bobby]).unwrap()), bytes);
    }

    #[test]
    fn room_info_update_known_answer() {
        let bytes = hex(ROOM_INFO_UPDATE);
        let Chat::RoomInfoUpdate(info) = chat(&bytes) else {
            panic!("0E/02")
        };
        assert_eq!(info.id.cookie.as_bytes(), b"4-0-testroom");
        assert_eq!(info.name(), Some(&b"testroom"[..]));
        assert_eq!(info.max_occupancy(), Some(100));
        assert_eq!(info, open_oscar_room());
        assert_eq!(snac_bytes(0, Chat::RoomInfoUpdate(open_oscar_room())), bytes);
    }

    #[test]
    fn unknown_tlvs_round_trip() {
        // an incoming message with the sender info not first and an extra TLV 0x00FF
        let bytes = hex("00 0E 00 06 00 00 00 00 00 00 | 00 00 00 00 00 00 00 01 | 00 03
            00 FF 00 01 AA | 00 05 00 06 00 01 00 02 68 69
            00 03 00 0B 01 78 00 00 00 01 00 01 00 01 01");
        let Chat::Incoming(m) = chat(&bytes) else {
            panic!("0E/06")
        };
        assert!(!m.sender_first());
        assert!(!m.is_public());
        assert_eq!(m.text(), b"hi");
        assert_eq!(m.charset(), None);
        assert_eq!(m.sender().unwrap().screen_name.as_bytes(), b"x");
        assert_eq!(m.tlvs.get(0x00FF), Some(&[0xAA][..]));
    }

    #[test]
    fn unknown_subtype_is_raw() {
        let bytes = hex("00 0E 00 09 00 00 00 00 00 01 | 01 02");
        let snac = Snac::decode(&bytes).unwrap();
        assert!(matches!(
            snac.message,
            Message::Raw {
                family: 0x0E,
                subtype: 9,
                ..
            }
        ));
        assert_eq!(snac.to_bytes(), bytes);
    }

    #[test]
    fn truncated_bodies_are_rejected() {
        // fixed layouts and messages with required TLVs: every cut fails
        for v in [SEND, ROOM_INFO_UPDATE, INCOMING_REFLECTED, INCOMING] {
            let bytes = hex(v);
            for cut in 11..bytes.len() {
                assert!(Snac::decode(&bytes[..cut]).is_err(), "{v} cut at {cut} decoded");
            }
        }
        // user lists: only a cut between two user-info blocks is a (shorter) valid list
        let bytes = hex(USERS_JOINED_TWO);
        for cut in 11..bytes.len() {
            match Snac::decode(&bytes[..cut]) {
                Ok(snac) => {
                    assert_eq!(cut, 50, "cut at {cut} decoded");
                    assert_eq!(snac.to_bytes(), hex(USERS_JOINED_ONE));
                }
                Err(_) => assert_ne!(cut, 50),
            }
        }
    }

    #[test]
    fn missing_required_tlvs() {
        // send without message info
        let bytes = hex("00 0E 00 05 00 00 00 00 00 01 | 00 00 00 00 00 00 00 01 | 00 03 | 00 01 00 00");
        assert_eq!(
            Snac::decode(&bytes).unwrap_err(),
            DecodeError::MissingTlv {
                what: "CHAT send",
                tag: tag::MESSAGE_INFO
            }
        );
        // message info without text
        let bytes = hex("00 0E 00 05 00 00 00 00 00 01 | 00 00 00 00 00 00 00 01 | 00 03
            00 05 00 06 00 03 00 02 65 6E");
        assert_eq!(
            Snac::decode(&bytes).unwrap_err(),
            DecodeError::MissingTlv {
                what: "chat message info",
                tag: message_tag::TEXT
            }
        );
        // incoming without sender
        let bytes = hex("00 0E 00 06 00 00 00 00 00 01 | 00 00 00 00 00 00 00 01 | 00 03
            00 05 00 06 00 01 00 02 68 69");
        assert_eq!(
            Snac::decode(&bytes).unwrap_err(),
            DecodeError::MissingTlv {
                what: "CHAT incoming message",
                tag: tag::SENDER_INFO
            }
        );
    }

    #[test]
    fn broken_nested_structures() {
        // message info whose inner TLV overruns it
        let bytes = hex("00 0E 00 05 00 00 00 00 00 01 | 00 00 00 00 00 00 00 01 | 00 03
            00 05 00 06 00 01 00 05 68 69");
        assert_eq!(
            Snac::decode(&bytes).unwrap_err(),
            DecodeError::TlvOverrun {
                tag: 1,
                declared: 5,
                available: 2
            }
        );
        // sender info with a trailing byte
        let bytes = hex("00 0E 00 06 00 00 00 00 00 01 | 00 00 00 00 00 00 00 01 | 00 03
            00 03 00 07 01 78 00 00 00 00 FF | 00 05 00 06 00 01 00 02 68 69");
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::TrailingBytes { .. })));
        // sender info whose TLV count lies
        let bytes = hex("00 0E 00 06 00 00 00 00 00 01 | 00 00 00 00 00 00 00 01 | 00 03
            00 03 00 05 01 78 00 00 00 | 00 05 00 06 00 01 00 02 68 69");
        assert!(Snac::decode(&bytes).is_err());
        let bytes = hex("00 0E 00 06 00 00 00 00 00 01 | 00 00 00 00 00 00 00 01 | 00 03
            00 03 00 06 01 78 00 00 00 02 | 00 05 00 06 00 01 00 02 68 69");
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::CountMismatch { .. })));
        // a flag with a value
        let bytes = hex("00 0E 00 05 00 00 00 00 00 01 | 00 00 00 00 00 00 00 01 | 00 03
            00 06 00 01 01 | 00 05 00 06 00 01 00 02 68 69");
        assert_eq!(
            Snac::decode(&bytes).unwrap_err(),
            DecodeError::BadLength {
                what: "CHAT send",
                len: 1
            }
        );
        // a user list whose second user's TLV count lies (5 instead of 4)
        let mut bytes = hex(USERS_JOINED_TWO);
        assert_eq!(bytes[59], 4);
        bytes[59] = 5;
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::CountMismatch { .. })));
        // a user list cut inside the last TLV
        let mut bytes = hex(USERS_JOINED_TWO);
        bytes.pop();
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::TlvOverrun { .. })));
    }

    #[test]
    fn oversized_values_cannot_be_built() {
        assert!(MessageInfo::new(&vec![b'x'; 0xFFFC], None, None).is_err());
        let big = MessageInfo::new(&vec![b'x'; 0xFFF0], None, None).unwrap();
        assert!(ChatSend::with_message(COOKIE, &big, true, false, None).is_err());
        assert!(ChatIncoming::new(COOKIE, &open_oscar_user("alice"), &big).is_err());
    }

    // --- property tests ---

    prop_compose! {
        fn arb_user()(
            name in proptest::collection::vec(any::<u8>(), 1..=16),
            warning in 0u16..=1000,
            class in any::<Option<u16>>(),
            signon_time in any::<Option<u32>>(),
            idle_minutes in any::<Option<u16>>(),
            status in any::<Option<u32>>(),
        ) -> UserInfo<'static> {
            let tlvs = crate::userinfo::UserInfoTlvs { class, signon_time, idle_minutes, status, ..Default::default() }
                .build()
                .unwrap();
            UserInfo::new(ScreenName::new(name).unwrap(), warning, tlvs)
        }
    }

    prop_compose! {
        fn arb_message()(
            text in bytes(300),
            charset in proptest::option::of(bytes(12)),
            language in proptest::option::of(bytes(4)),
        ) -> MessageInfo<'static> {
            MessageInfo::new(&text, charset.as_deref(), language.as_deref()).unwrap()
        }
    }

    prop_compose! {
        fn arb_send()(
            cookie in any::<[u8; 8]>(),
            message in arb_message(),
            reflect in any::<bool>(),
            auto_response in any::<bool>(),
            whisper_to in proptest::option::of(bytes(16)),
        ) -> ChatSend<'static> {
            ChatSend::with_message(IcbmCookie(cookie), &message, reflect, auto_response, whisper_to.as_deref()).unwrap()
        }
    }

    fn arb_chat() -> impl Strategy<Value = Chat<'static>> {
        prop_oneof![
            arb_room_info().prop_map(Chat::RoomInfoUpdate),
            proptest::collection::vec(arb_user(), 0..5).prop_map(|u| Chat::users_joined(&u).unwrap()),
            proptest::collection::vec(arb_user(), 0..5).prop_map(|u| Chat::users_left(&u).unwrap()),
            arb_send().prop_map(Chat::Send),
            (any::<[u8; 8]>(), arb_user(), arb_message(), any::<bool>()).prop_map(|(c, u, m, public)| {
                Chat::Incoming(if public {
                    ChatIncoming::new(IcbmCookie(c), &u, &m).unwrap()
                } else {
                    ChatIncoming::whisper(IcbmCookie(c), &u, &m).unwrap()
                })
            }),
        ]
    }

    const VECTORS: [&str; 7] = [
        SEND,
        USERS_JOINED_TWO,
        USERS_JOINED_ONE,
        ROOM_INFO_UPDATE,
        INCOMING_REFLECTED,
        INCOMING,
        USERS_LEFT,
    ];

    proptest! {
        #[test]
        fn prop_round_trip(m in arb_chat()) {
            let bytes = snac_bytes(1, m.clone());
            let snac = Snac::decode(&bytes).unwrap();
            prop_assert_eq!(&snac.message, &Message::Chat(m));
            prop_assert_eq!(snac.to_bytes(), bytes);
        }

        #[test]
        fn prop_send_relays_to_incoming(send in arb_send(), sender in arb_user()) {
            let incoming = send.to_incoming(&sender).unwrap();
            let bytes = snac_bytes(0, Chat::Incoming(incoming));
            let Message::Chat(Chat::Incoming(back)) = Snac::decode(&bytes).unwrap().message else {
                panic!("0E/06")
            };
            prop_assert!(back.sender_first());
            prop_assert_eq!(back.sender().unwrap(), sender);
            prop_assert_eq!(back.cookie, send.cookie);
            prop_assert_eq!(back.is_public(), send.whisper_to().is_none());
            prop_assert_eq!(back.text(), send.text());
            prop_assert_eq!(back.charset(), send.charset());
            prop_assert_eq!(back.language(), send.language());
            prop_assert_eq!(back.message_info(), send.message_info());
        }

        #[test]
        fn prop_users_list_items(users in proptest::collection::vec(arb_user(), 0..5)) {
            let Chat::UsersJoined(list) = Chat::users_joined(&users).unwrap() else { unreachable!() };
            prop_assert_eq!(list.iter().collect::<Vec<_>>(), users);
        }

        #[test]
        fn prop_arbitrary_bytes_never_panic(subtype in 0u16..=0x10, body in bytes(300)) {
            let mut r = Reader::new(&body);
            if let Ok(Some(m)) = Chat::decode(subtype, &mut r) {
                let used = body.len() - r.remaining();
                let mut out = Vec::new();
                m.encode(&mut out);
                prop_assert_eq!(&out[..], &body[..used]);
                // accessors never panic either
                if let Chat::Incoming(i) = &m {
                    let _ = (i.sender(), i.text(), i.charset(), i.language(), i.message_info());
                }
            }
        }

        #[test]
        fn prop_mutated_vectors_never_panic(which in 0..VECTORS.len(), pos in any::<usize>(), val in any::<u8>(), cut in any::<usize>()) {
            let mut bytes = hex(VECTORS[which]);
            let i = 10 + pos % (bytes.len() - 10);
            bytes[i] = val;
            bytes.truncate(10 + cut % (bytes.len() - 9));
            if let Ok(snac) = Snac::decode(&bytes) {
                prop_assert_eq!(snac.to_bytes(), &bytes[..]);
                if let Message::Chat(Chat::Incoming(m)) = &snac.message {
                    prop_assert!(m.sender().is_some());
                }
            }
        }
    }
}
