//! Family 0x000D CHAT_NAV: chat room navigation and creation (§8.11).
//!
//! CHAT_NAV runs on its own connection, reached through a service redirect
//! (OSERVICE 0x0004/0x0005, §7.5). A client asks for the exchanges it may use
//! (an *exchange* is a namespace of rooms: 4 = user-created, 5 = public), asks
//! about a room, or creates one; every answer is a nav-info reply (0x0009).
//!
//! ```text
//! C→S 0D/02 request rights (empty)            → S→C 0D/09 max rooms + exchange infos
//! C→S 0D/03 request exchange info (exchange)  → S→C 0D/09 exchange info
//! C→S 0D/04 request room info (room, detail)  → S→C 0D/09 room info
//! C→S 0D/08 create room (room info "create")  → S→C 0D/09 room info (real cookie)
//! ```
//!
//! The *room info* structure ([`RoomInfo`]: room triple, detail level, counted
//! TLV block) is shared with family 0x000E CHAT (room info update).

use crate::code_enum;
use crate::error::{DecodeError, EncodeError};
use crate::reader::{Put, Reader};
use crate::tlv::TlvBlock;
use crate::types::{RoomId, Str08};

/// The family id.
pub const FAMILY: u16 = 0x000D;

/// Subtypes.
pub mod subtype {
    /// C→S request rights (empty body); answered with a nav-info reply.
    pub const REQUEST_RIGHTS: u16 = 0x0002;
    /// C→S request one exchange's info (`u16 exchange`).
    pub const REQUEST_EXCHANGE_INFO: u16 = 0x0003;
    /// C→S request a room's info (room triple + `u8 detail`).
    pub const REQUEST_ROOM_INFO: u16 = 0x0004;
    /// C→S create a room (full room info with cookie `create`).
    pub const CREATE_ROOM: u16 = 0x0008;
    /// S→C nav info reply (TLV rest block).
    pub const NAV_INFO: u16 = 0x0009;
}

/// TLV tags of the nav-info reply (0x0009).
pub mod tag {
    /// u8 maximum number of rooms a user may be in at once.
    pub const MAX_CONCURRENT_ROOMS: u16 = 0x0002;
    /// Exchange info (repeatable): `u16 exchange id` + counted TLV block ([`super::ExchangeInfo`]).
    pub const EXCHANGE_INFO: u16 = 0x0003;
    /// Full room info ([`super::RoomInfo`]).
    pub const ROOM_INFO: u16 = 0x0004;
}

/// TLV tags inside a room info or exchange info block.
pub mod room_tag {
    /// Exchange info only: u16 class permissions.
    pub const CLASS_PERMS: u16 = 0x0002;
    /// Exchange info only: u8 maximum concurrent rooms (AIM 2.x–3.x require it).
    pub const MAX_CONCURRENT_ROOMS: u16 = 0x0003;
    /// Exchange info only: u16 maximum room name length.
    pub const MAX_NAME_LEN: u16 = 0x0004;
    /// Fully qualified room name.
    pub const FULLY_QUALIFIED_NAME: u16 = 0x006A;
    /// u16 flags ([`super::room_flags`]).
    pub const FLAGS: u16 = 0x00C9;
    /// u32 creation time (Unix seconds).
    pub const CREATE_TIME: u16 = 0x00CA;
    /// u16 maximum message length.
    pub const MAX_MESSAGE_LEN: u16 = 0x00D1;
    /// u16 maximum occupancy.
    pub const MAX_OCCUPANCY: u16 = 0x00D2;
    /// Room name (in an exchange info: the exchange description).
    pub const NAME: u16 = 0x00D3;
    /// u8 create permissions ([`super::CreatePerms`]).
    pub const CREATE_PERMS: u16 = 0x00D5;
    /// Character set 1 (e.g. `us-ascii`).
    pub const CHARSET: u16 = 0x00D6;
    /// Language 1 (e.g. `en`).
    pub const LANGUAGE: u16 = 0x00D7;
    /// Character set 2.
    pub const CHARSET2: u16 = 0x00D8;
    /// Language 2.
    pub const LANGUAGE2: u16 = 0x00D9;
    /// u16 maximum visible message length.
    pub const MAX_VISIBLE_MESSAGE_LEN: u16 = 0x00DA;
}

/// Room / exchange flag bits (TLV 0x00C9).
pub mod room_flags {
    /// Occupants may be warned ("evil"-ed).
    pub const EVILABLE: u16 = 0x0001;
    /// Navigation only.
    pub const NAV_ONLY: u16 = 0x0002;
    /// Several instances of one room name are allowed.
    pub const INSTANCING_ALLOWED: u16 = 0x0004;
    /// Non-members may see the occupants.
    pub const OCCUPANT_PEEK: u16 = 0x0008;
}

code_enum! {
    /// Who may create rooms (TLV 0x00D5).
    pub enum CreatePerms: u8 {
        /// 0: nobody.
        None = 0,
        /// 1: rooms may be created.
        Room = 1,
        /// 2: exchanges (and rooms) may be created.
        Exchange = 2,
    }
}

/// The cookie of a create-room request (the server assigns the real one).
pub const CREATE_COOKIE: &[u8] = b"create";
/// The instance of a create-room request.
pub const CREATE_INSTANCE: u16 = 0xFFFF;

/// Fixed-size TLVs of a room info block: (tag, length).
const ROOM_FIXED: [(u16, usize); 6] = [
    (room_tag::FLAGS, 2),
    (room_tag::CREATE_TIME, 4),
    (room_tag::MAX_MESSAGE_LEN, 2),
    (room_tag::MAX_OCCUPANCY, 2),
    (room_tag::CREATE_PERMS, 1),
    (room_tag::MAX_VISIBLE_MESSAGE_LEN, 2),
];

/// Fixed-size TLVs only found in an exchange info block.
const EXCHANGE_FIXED: [(u16, usize); 3] = [
    (room_tag::CLASS_PERMS, 2),
    (room_tag::MAX_CONCURRENT_ROOMS, 1),
    (room_tag::MAX_NAME_LEN, 2),
];

fn check_fixed(tlvs: &TlvBlock<'_>, fixed: &[(u16, usize)], what: &'static str) -> Result<(), DecodeError> {
    fixed.iter().try_for_each(|&(t, len)| tlvs.check_len(t, len, what))
}

/// Accessors shared by room and exchange TLV blocks.
macro_rules! room_tlv_accessors {
    () => {
        /// Room name (TLV 0x00D3; for an exchange, its description).
        pub fn name(&self) -> Option<&[u8]> {
            self.tlvs.get(room_tag::NAME)
        }
        /// Flags (TLV 0x00C9, [`room_flags`]).
        pub fn flags(&self) -> Option<u16> {
            self.tlvs.get_u16(room_tag::FLAGS)
        }
        /// Create permissions (TLV 0x00D5).
        pub fn create_perms(&self) -> Option<CreatePerms> {
            self.tlvs.get_u8(room_tag::CREATE_PERMS).map(CreatePerms::from)
        }
        /// Character set 1 (TLV 0x00D6).
        pub fn charset(&self) -> Option<&[u8]> {
            self.tlvs.get(room_tag::CHARSET)
        }
        /// Language 1 (TLV 0x00D7).
        pub fn language(&self) -> Option<&[u8]> {
            self.tlvs.get(room_tag::LANGUAGE)
        }
        /// Character set 2 (TLV 0x00D8).
        pub fn charset2(&self) -> Option<&[u8]> {
            self.tlvs.get(room_tag::CHARSET2)
        }
        /// Language 2 (TLV 0x00D9).
        pub fn language2(&self) -> Option<&[u8]> {
            self.tlvs.get(room_tag::LANGUAGE2)
        }
        /// Maximum message length (TLV 0x00D1).
        pub fn max_message_len(&self) -> Option<u16> {
            self.tlvs.get_u16(room_tag::MAX_MESSAGE_LEN)
        }
        /// Maximum visible message length (TLV 0x00DA).
        pub fn max_visible_message_len(&self) -> Option<u16> {
            self.tlvs.get_u16(room_tag::MAX_VISIBLE_MESSAGE_LEN)
        }
    };
}

/// A full room info: `room triple, u8 detail level, u16 TLV count, TLVs` (§8.11).
///
/// The body of CHAT_NAV 0x0008 (create room), the value of nav-info TLV 0x0004,
/// and the body of CHAT 0x0002 (room info update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo<'a> {
    /// Exchange, cookie and instance.
    pub id: RoomId<'a>,
    /// Detail level (1 in create requests; Open OSCAR answers with 2).
    pub detail: u8,
    /// Room TLVs ([`room_tag`]), written as a counted block; unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> RoomInfo<'a> {
    /// A room info from its parts.
    pub fn new(id: RoomId<'a>, detail: u8, tlvs: TlvBlock<'a>) -> Self {
        Self { id, detail, tlvs }
    }

    /// The create-room request body (0x0008) for `name` on `exchange`, as libpurple
    /// and Twisted send it: cookie `create`, instance 0xFFFF, detail 1, TLVs
    /// 0x00D3 name, 0x00D6 `us-ascii`, 0x00D7 `en`.
    pub fn create_room(exchange: u16, name: &[u8]) -> Result<RoomInfo<'static>, EncodeError> {
        let tlvs = TlvBlock::builder()
            .bytes(room_tag::NAME, name)
            .bytes(room_tag::CHARSET, b"us-ascii")
            .bytes(room_tag::LANGUAGE, b"en")
            .build()?;
        let info = RoomInfo {
            id: RoomId {
                exchange,
                cookie: Str08::new(CREATE_COOKIE)?,
                instance: CREATE_INSTANCE,
            },
            detail: 1,
            tlvs,
        };
        info.check_size()?;
        Ok(info)
    }

    /// True when this is a create request (cookie `create`).
    pub fn is_create_request(&self) -> bool {
        self.id.cookie.as_bytes() == CREATE_COOKIE
    }

    /// Decodes the structure, checking the lengths of its fixed-size TLVs.
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let id = RoomId::decode(r)?;
        let detail = r.u8("room detail level")?;
        let tlvs = TlvBlock::decode_counted(r)?;
        check_fixed(&tlvs, &ROOM_FIXED, "room info TLV")?;
        Ok(Self { id, detail, tlvs })
    }

    /// Appends the structure.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.id.encode(out);
        out.put_u8(self.detail);
        self.tlvs.encode_counted(out);
    }

    /// Length of the encoded structure.
    pub fn encoded_len(&self) -> usize {
        2 + self.id.cookie.encoded_len() + 2 + 1 + 2 + self.tlvs.as_bytes().len()
    }

    /// Fails when the structure is too long to be carried in one TLV or SNAC.
    fn check_size(&self) -> Result<(), EncodeError> {
        let len = self.encoded_len();
        if len > TlvBlock::MAX_BYTES {
            return Err(EncodeError::TooLong {
                what: "room info",
                len,
                max: TlvBlock::MAX_BYTES,
            });
        }
        Ok(())
    }

    room_tlv_accessors!();

    /// Fully qualified room name (TLV 0x006A).
    pub fn fully_qualified_name(&self) -> Option<&[u8]> {
        self.tlvs.get(room_tag::FULLY_QUALIFIED_NAME)
    }
    /// Creation time, Unix seconds (TLV 0x00CA).
    pub fn create_time(&self) -> Option<u32> {
        self.tlvs.get_u32(room_tag::CREATE_TIME)
    }
    /// Maximum occupancy (TLV 0x00D2).
    pub fn max_occupancy(&self) -> Option<u16> {
        self.tlvs.get_u16(room_tag::MAX_OCCUPANCY)
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> RoomInfo<'static> {
        RoomInfo {
            id: self.id.into_owned(),
            detail: self.detail,
            tlvs: self.tlvs.into_owned(),
        }
    }
}

/// Builds the TLVs of a [`RoomInfo`] from typed values.
///
/// `build` writes them in the order Open OSCAR uses: 0x00C9, 0x00CA, 0x00D1,
/// 0x00D2, 0x00D5, 0x006A, 0x00D3, 0x00DA, then 0x00D6–0x00D9.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoomInfoTlvs<'s> {
    /// Flags ([`room_flags`]).
    pub flags: Option<u16>,
    /// Creation time, Unix seconds.
    pub create_time: Option<u32>,
    /// Maximum message length.
    pub max_message_len: Option<u16>,
    /// Maximum occupancy.
    pub max_occupancy: Option<u16>,
    /// Create permissions.
    pub create_perms: Option<CreatePerms>,
    /// Fully qualified room name.
    pub fully_qualified_name: Option<&'s [u8]>,
    /// Room name.
    pub name: Option<&'s [u8]>,
    /// Maximum visible message length.
    pub max_visible_message_len: Option<u16>,
    /// Character set 1.
    pub charset: Option<&'s [u8]>,
    /// Language 1.
    pub language: Option<&'s [u8]>,
    /// Character set 2.
    pub charset2: Option<&'s [u8]>,
    /// Language 2.
    pub language2: Option<&'s [u8]>,
}

impl RoomInfoTlvs<'_> {
    /// Encodes the TLVs.
    pub fn build(&self) -> Result<TlvBlock<'static>, EncodeError> {
        let mut b = TlvBlock::builder();
        if let Some(v) = self.flags {
            b = b.u16(room_tag::FLAGS, v);
        }
        if let Some(v) = self.create_time {
            b = b.u32(room_tag::CREATE_TIME, v);
        }
        if let Some(v) = self.max_message_len {
            b = b.u16(room_tag::MAX_MESSAGE_LEN, v);
        }
        if let Some(v) = self.max_occupancy {
            b = b.u16(room_tag::MAX_OCCUPANCY, v);
        }
        if let Some(v) = self.create_perms {
            b = b.u8(room_tag::CREATE_PERMS, v.value());
        }
        b = b
            .opt(room_tag::FULLY_QUALIFIED_NAME, self.fully_qualified_name)
            .opt(room_tag::NAME, self.name);
        if let Some(v) = self.max_visible_message_len {
            b = b.u16(room_tag::MAX_VISIBLE_MESSAGE_LEN, v);
        }
        b.opt(room_tag::CHARSET, self.charset)
            .opt(room_tag::LANGUAGE, self.language)
            .opt(room_tag::CHARSET2, self.charset2)
            .opt(room_tag::LANGUAGE2, self.language2)
            .build()
    }
}

/// One exchange's description: `u16 exchange id`, counted TLV block (nav-info TLV 0x0003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeInfo<'a> {
    /// The exchange number.
    pub id: u16,
    /// Exchange TLVs ([`room_tag`]), written as a counted block; unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> ExchangeInfo<'a> {
    /// An exchange info from its parts.
    pub fn new(id: u16, tlvs: TlvBlock<'a>) -> Self {
        Self { id, tlvs }
    }

    /// Decodes the structure, checking the lengths of its fixed-size TLVs.
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let id = r.u16("exchange id")?;
        let tlvs = TlvBlock::decode_counted(r)?;
        check_fixed(&tlvs, &EXCHANGE_FIXED, "exchange info TLV")?;
        check_fixed(&tlvs, &ROOM_FIXED, "exchange info TLV")?;
        Ok(Self { id, tlvs })
    }

    /// Appends the structure.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.id);
        self.tlvs.encode_counted(out);
    }

    room_tlv_accessors!();

    /// Class permissions (TLV 0x0002).
    pub fn class_perms(&self) -> Option<u16> {
        self.tlvs.get_u16(room_tag::CLASS_PERMS)
    }
    /// Maximum concurrent rooms in this exchange (TLV 0x0003).
    pub fn max_concurrent_rooms(&self) -> Option<u8> {
        self.tlvs.get_u8(room_tag::MAX_CONCURRENT_ROOMS)
    }
    /// Maximum room name length (TLV 0x0004).
    pub fn max_name_len(&self) -> Option<u16> {
        self.tlvs.get_u16(room_tag::MAX_NAME_LEN)
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> ExchangeInfo<'static> {
        ExchangeInfo {
            id: self.id,
            tlvs: self.tlvs.into_owned(),
        }
    }
}

/// Builds the TLVs of an [`ExchangeInfo`] from typed values.
///
/// `build` writes them in the order Open OSCAR uses: 0x0003, 0x0002, 0x0004,
/// 0x00C9, 0x00D3, 0x00D5, 0x00D6–0x00D9.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExchangeInfoTlvs<'s> {
    /// Maximum concurrent rooms (AIM 2.x–3.x require it).
    pub max_concurrent_rooms: Option<u8>,
    /// Class permissions.
    pub class_perms: Option<u16>,
    /// Maximum room name length.
    pub max_name_len: Option<u16>,
    /// Flags ([`room_flags`]).
    pub flags: Option<u16>,
    /// Exchange description.
    pub name: Option<&'s [u8]>,
    /// Create permissions.
    pub create_perms: Option<CreatePerms>,
    /// Character set 1.
    pub charset: Option<&'s [u8]>,
    /// Language 1.
    pub language: Option<&'s [u8]>,
    /// Character set 2.
    pub charset2: Option<&'s [u8]>,
    /// Language 2.
    pub language2: Option<&'s [u8]>,
}

impl ExchangeInfoTlvs<'_> {
    /// Encodes the TLVs.
    pub fn build(&self) -> Result<TlvBlock<'static>, EncodeError> {
        let mut b = TlvBlock::builder();
        if let Some(v) = self.max_concurrent_rooms {
            b = b.u8(room_tag::MAX_CONCURRENT_ROOMS, v);
        }
        if let Some(v) = self.class_perms {
            b = b.u16(room_tag::CLASS_PERMS, v);
        }
        if let Some(v) = self.max_name_len {
            b = b.u16(room_tag::MAX_NAME_LEN, v);
        }
        if let Some(v) = self.flags {
            b = b.u16(room_tag::FLAGS, v);
        }
        b = b.opt(room_tag::NAME, self.name);
        if let Some(v) = self.create_perms {
            b = b.u8(room_tag::CREATE_PERMS, v.value());
        }
        b.opt(room_tag::CHARSET, self.charset)
            .opt(room_tag::LANGUAGE, self.language)
            .opt(room_tag::CHARSET2, self.charset2)
            .opt(room_tag::LANGUAGE2, self.language2)
            .build()
    }
}

/// 0D/04: ask for a room's info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfoRequest<'a> {
    /// The room.
    pub room: RoomId<'a>,
    /// Requested detail level.
    pub detail: u8,
}

impl<'a> RoomInfoRequest<'a> {
    /// A request for `room` at `detail`.
    pub fn new(room: RoomId<'a>, detail: u8) -> Self {
        Self { room, detail }
    }
}

/// 0D/09: the nav-info reply, a TLV rest block (0x0002 max rooms, 0x0003 exchanges, 0x0004 room).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavInfo<'a> {
    /// The reply TLVs ([`tag`]); unknown tags and the order are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> NavInfo<'a> {
    /// A reply with TLVs in the order 0x0002, 0x0003 (one per exchange), 0x0004.
    pub fn new(
        max_concurrent_rooms: Option<u8>,
        exchanges: &[ExchangeInfo<'_>],
        room: Option<&RoomInfo<'_>>,
    ) -> Result<NavInfo<'static>, EncodeError> {
        let mut b = TlvBlock::builder();
        if let Some(v) = max_concurrent_rooms {
            b = b.u8(tag::MAX_CONCURRENT_ROOMS, v);
        }
        let mut buf = Vec::new();
        for e in exchanges {
            buf.clear();
            e.encode(&mut buf);
            b = b.bytes(tag::EXCHANGE_INFO, &buf);
        }
        if let Some(room) = room {
            buf.clear();
            room.encode(&mut buf);
            b = b.bytes(tag::ROOM_INFO, &buf);
        }
        Ok(NavInfo { tlvs: b.build()? })
    }

    /// The answer to "request rights" / "request exchange info": max rooms and exchanges.
    pub fn with_exchanges(
        max_concurrent_rooms: u8,
        exchanges: &[ExchangeInfo<'_>],
    ) -> Result<NavInfo<'static>, EncodeError> {
        Self::new(Some(max_concurrent_rooms), exchanges, None)
    }

    /// The answer to "request room info" / "create room": one room info.
    pub fn with_room(room: &RoomInfo<'_>) -> Result<NavInfo<'static>, EncodeError> {
        Self::new(None, &[], Some(room))
    }

    /// Maximum concurrent rooms (TLV 0x0002).
    pub fn max_concurrent_rooms(&self) -> Option<u8> {
        self.tlvs.get_u8(tag::MAX_CONCURRENT_ROOMS)
    }

    /// The exchange infos (TLVs 0x0003), in wire order.
    pub fn exchanges(&self) -> impl Iterator<Item = ExchangeInfo<'_>> {
        self.tlvs
            .iter()
            .filter(|t| t.tag == tag::EXCHANGE_INFO)
            // Validated on decode; a hand-built invalid value is skipped.
            .filter_map(|t| ExchangeInfo::decode(&mut Reader::new(t.value)).ok())
    }

    /// The info of exchange `id`.
    pub fn exchange(&self, id: u16) -> Option<ExchangeInfo<'_>> {
        self.exchanges().find(|e| e.id == id)
    }

    /// The room info (TLV 0x0004).
    pub fn room_info(&self) -> Option<RoomInfo<'_>> {
        let v = self.tlvs.get(tag::ROOM_INFO)?;
        RoomInfo::decode(&mut Reader::new(v)).ok()
    }

    fn validate(&self) -> Result<(), DecodeError> {
        self.tlvs
            .check_len(tag::MAX_CONCURRENT_ROOMS, 1, "nav info max rooms")?;
        for t in self.tlvs.iter() {
            match t.tag {
                tag::EXCHANGE_INFO => {
                    let mut r = Reader::new(t.value);
                    ExchangeInfo::decode(&mut r)?;
                    r.finish("nav info exchange info")?;
                }
                tag::ROOM_INFO => {
                    let mut r = Reader::new(t.value);
                    RoomInfo::decode(&mut r)?;
                    r.finish("nav info room info")?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Messages of family 0x000D.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatNav<'a> {
    /// 0D/02: request rights (exchanges and limits).
    RequestRights,
    /// 0D/03: request one exchange's info.
    RequestExchangeInfo(u16),
    /// 0D/04: request a room's info.
    RequestRoomInfo(RoomInfoRequest<'a>),
    /// 0D/08: create a room (see [`RoomInfo::create_room`]).
    CreateRoom(RoomInfo<'a>),
    /// 0D/09: nav info reply.
    NavInfo(NavInfo<'a>),
}

impl<'a> ChatNav<'a> {
    /// The subtype of this message.
    pub fn subtype(&self) -> u16 {
        match self {
            ChatNav::RequestRights => subtype::REQUEST_RIGHTS,
            ChatNav::RequestExchangeInfo(_) => subtype::REQUEST_EXCHANGE_INFO,
            ChatNav::RequestRoomInfo(_) => subtype::REQUEST_ROOM_INFO,
            ChatNav::CreateRoom(_) => subtype::CREATE_ROOM,
            ChatNav::NavInfo(_) => subtype::NAV_INFO,
        }
    }

    /// Decodes a body; `Ok(None)` for untyped subtypes.
    pub fn decode(subtype: u16, r: &mut Reader<'a>) -> Result<Option<Self>, DecodeError> {
        Ok(Some(match subtype {
            subtype::REQUEST_RIGHTS => ChatNav::RequestRights,
            subtype::REQUEST_EXCHANGE_INFO => ChatNav::RequestExchangeInfo(r.u16("exchange")?),
            subtype::REQUEST_ROOM_INFO => ChatNav::RequestRoomInfo(RoomInfoRequest {
                room: RoomId::decode(r)?,
                detail: r.u8("room detail level")?,
            }),
            subtype::CREATE_ROOM => {
                let info = RoomInfo::decode(r)?;
                info.tlvs.require(room_tag::NAME, "CHAT_NAV create room")?;
                ChatNav::CreateRoom(info)
            }
            subtype::NAV_INFO => {
                let m = NavInfo {
                    tlvs: TlvBlock::decode_rest(r)?,
                };
                m.validate()?;
                ChatNav::NavInfo(m)
            }
            _ => return Ok(None),
        }))
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ChatNav::RequestRights => {}
            ChatNav::RequestExchangeInfo(e) => out.put_u16(*e),
            ChatNav::RequestRoomInfo(m) => {
                m.room.encode(out);
                out.put_u8(m.detail);
            }
            ChatNav::CreateRoom(m) => m.encode(out),
            ChatNav::NavInfo(m) => m.tlvs.encode_rest(out),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::snac::{Message, Snac};
    use crate::testing::hex;
    use proptest::prelude::*;

    /// Decodes a whole SNAC, checks it re-encodes byte-identically and returns the CHAT_NAV body.
    fn nav(bytes: &[u8]) -> ChatNav<'_> {
        let snac = Snac::decode(bytes).unwrap();
        assert_eq!(snac.to_bytes(), bytes, "re-encoding differs");
        let Message::ChatNav(m) = snac.message else {
            panic!("not a typed CHAT_NAV message: {:?}", snac.message)
        };
        // decode → encode → decode
        let mut body = Vec::new();
        m.encode(&mut body);
        let again = ChatNav::decode(m.subtype(), &mut Reader::new(&body)).unwrap().unwrap();
        assert_eq!(again, m);
        m
    }

    fn snac_bytes(request_id: u32, m: ChatNav<'_>) -> Vec<u8> {
        Snac::new(request_id, Message::ChatNav(m)).to_bytes()
    }

    pub(crate) fn room_id(exchange: u16, cookie: &str, instance: u16) -> RoomId<'_> {
        RoomId {
            exchange,
            cookie: Str08::try_from(cookie).unwrap(),
            instance,
        }
    }

    // --- vectors from libpurple-md5-full.pcapng (alice's CHAT_NAV connection, tcp stream 3) ---

    /// 0D/02 request rights, request id 0x1E.
    const REQUEST_RIGHTS: &str = "00 0D 00 02 00 00 00 00 00 1E";

    /// 0D/08 create room `testroom` on exchange 4, request id 0x2B.
    const CREATE_ROOM: &str = "00 0D 00 08 00 00 00 00 00 2B | 00 04 | 06 63 72 65 61 74 65 | FF FF | 01 | 00 03
        00 D3 00 08 74 65 73 74 72 6F 6F 6D | 00 D6 00 08 75 73 2D 61 73 63 69 69 | 00 D7 00 02 65 6E";

    /// 0D/09 answer to request rights: max rooms 10, exchanges 4 and 5 (9 TLVs each).
    const NAV_INFO_EXCHANGES: &str = "00 0D 00 09 00 00 00 00 00 1E | 00 02 00 01 0A
        00 03 00 44 | 00 04 00 09 | 00 03 00 01 0A | 00 02 00 02 00 10 | 00 04 00 02 00 64 | 00 C9 00 02 00 0F
            00 D5 00 01 02 | 00 D6 00 08 75 73 2D 61 73 63 69 69 | 00 D7 00 02 65 6E
            00 D8 00 08 75 73 2D 61 73 63 69 69 | 00 D9 00 02 65 6E
        00 03 00 44 | 00 05 00 09 | 00 03 00 01 0A | 00 02 00 02 00 10 | 00 04 00 02 00 64 | 00 C9 00 02 00 0F
            00 D5 00 01 02 | 00 D6 00 08 75 73 2D 61 73 63 69 69 | 00 D7 00 02 65 6E
            00 D8 00 08 75 73 2D 61 73 63 69 69 | 00 D9 00 02 65 6E";

    /// 0D/09 answer to create room: room `4-0-testroom`, instance 0, detail 2, 8 TLVs.
    const NAV_INFO_ROOM: &str = "00 0D 00 09 00 00 00 00 00 2B | 00 04 00 51
        00 04 | 0C 34 2D 30 2D 74 65 73 74 72 6F 6F 6D | 00 00 | 02 | 00 08
        00 C9 00 02 00 0F | 00 CA 00 04 6B 0C 01 3E | 00 D1 00 02 04 00 | 00 D2 00 02 00 64 | 00 D5 00 01 02
        00 6A 00 08 74 65 73 74 72 6F 6F 6D | 00 D3 00 08 74 65 73 74 72 6F 6F 6D | 00 DA 00 02 04 00";

    // --- hand-built vectors per §8.11 (the capture has no 0D/03 or 0D/04) ---

    /// 0D/03 request exchange 4, request id 7.
    const REQUEST_EXCHANGE_INFO: &str = "00 0D 00 03 00 00 00 00 00 07 | 00 04";

    /// 0D/04 request info of `4-0-testroom` instance 0 at detail 2, request id 8.
    const REQUEST_ROOM_INFO: &str =
        "00 0D 00 04 00 00 00 00 00 08 | 00 04 | 0C 34 2D 30 2D 74 65 73 74 72 6F 6F 6D | 00 00 | 02";

    /// The exchange info Open OSCAR sends, built from typed values.
    fn open_oscar_exchange(id: u16) -> ExchangeInfo<'static> {
        let tlvs = ExchangeInfoTlvs {
            max_concurrent_rooms: Some(10),
            class_perms: Some(0x0010),
            max_name_len: Some(100),
            flags: Some(0x000F),
            create_perms: Some(CreatePerms::Exchange),
            charset: Some(b"us-ascii"),
            language: Some(b"en"),
            charset2: Some(b"us-ascii"),
            language2: Some(b"en"),
            ..Default::default()
        }
        .build()
        .unwrap();
        ExchangeInfo::new(id, tlvs)
    }

    /// The room info Open OSCAR sends for `testroom`, built from typed values.
    pub(crate) fn open_oscar_room() -> RoomInfo<'static> {
        let tlvs = RoomInfoTlvs {
            flags: Some(0x000F),
            create_time: Some(0x6B0C_013E),
            max_message_len: Some(1024),
            max_occupancy: Some(100),
            create_perms: Some(CreatePerms::Exchange),
            fully_qualified_name: Some(b"testroom"),
            name: Some(b"testroom"),
            max_visible_message_len: Some(1024),
            ..Default::default()
        }
        .build()
        .unwrap();
        RoomInfo::new(room_id(4, "4-0-testroom", 0).into_owned(), 2, tlvs)
    }

    #[test]
    fn request_rights_known_answer() {
        let bytes = hex(REQUEST_RIGHTS);
        assert_eq!(nav(&bytes), ChatNav::RequestRights);
        assert_eq!(snac_bytes(0x1E, ChatNav::RequestRights), bytes);
    }

    #[test]
    fn request_exchange_info_known_answer() {
        let bytes = hex(REQUEST_EXCHANGE_INFO);
        assert_eq!(nav(&bytes), ChatNav::RequestExchangeInfo(4));
        assert_eq!(snac_bytes(7, ChatNav::RequestExchangeInfo(4)), bytes);
    }

    #[test]
    fn request_room_info_known_answer() {
        let bytes = hex(REQUEST_ROOM_INFO);
        let want = ChatNav::RequestRoomInfo(RoomInfoRequest::new(room_id(4, "4-0-testroom", 0), 2));
        assert_eq!(nav(&bytes), want);
        assert_eq!(snac_bytes(8, want), bytes);
    }

    #[test]
    fn create_room_known_answer() {
        let bytes = hex(CREATE_ROOM);
        let ChatNav::CreateRoom(info) = nav(&bytes) else {
            panic!("0D/08")
        };
        assert!(info.is_create_request());
        assert_eq!(info.id.exchange, 4);
        assert_eq!(info.id.instance, CREATE_INSTANCE);
        assert_eq!(info.detail, 1);
        assert_eq!(info.name(), Some(&b"testroom"[..]));
        assert_eq!(info.charset(), Some(&b"us-ascii"[..]));
        assert_eq!(info.language(), Some(&b"en"[..]));
        let built = RoomInfo::create_room(4, b"testroom").unwrap();
        assert_eq!(info, built);
        assert_eq!(snac_bytes(0x2B, ChatNav::CreateRoom(built)), bytes);
    }

    #[test]
    fn nav_info_exchanges_known_answer() {
        let bytes = hex(NAV_INFO_EXCHANGES);
        let ChatNav::NavInfo(info) = nav(&bytes) else {
            panic!("0D/09")
        };
        assert_eq!(info.max_concurrent_rooms(), Some(10));
        assert!(info.room_info().is_none());
        let ex: Vec<_> = info.exchanges().collect();
        assert_eq!(ex.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 5]);
        let four = info.exchange(4).unwrap();
        assert_eq!(four.max_concurrent_rooms(), Some(10));
        assert_eq!(four.class_perms(), Some(0x10));
        assert_eq!(four.max_name_len(), Some(100));
        assert_eq!(
            four.flags(),
            Some(
                room_flags::EVILABLE
                    | room_flags::NAV_ONLY
                    | room_flags::INSTANCING_ALLOWED
                    | room_flags::OCCUPANT_PEEK
            )
        );
        assert_eq!(four.create_perms(), Some(CreatePerms::Exchange));
        assert_eq!(four.charset(), Some(&b"us-ascii"[..]));
        assert_eq!(four.language(), Some(&b"en"[..]));
        assert_eq!(four.charset2(), Some(&b"us-ascii"[..]));
        assert_eq!(four.language2(), Some(&b"en"[..]));
        assert_eq!(four.name(), None);
        assert!(info.exchange(6).is_none());

        let built = NavInfo::with_exchanges(10, &[open_oscar_exchange(4), open_oscar_exchange(5)]).unwrap();
        assert_eq!(built, info);
        assert_eq!(snac_bytes(0x1E, ChatNav::NavInfo(built)), bytes);
    }

    #[test]
    fn nav_info_room_known_answer() {
        let bytes = hex(NAV_INFO_ROOM);
        let ChatNav::NavInfo(info) = nav(&bytes) else {
            panic!("0D/09")
        };
        assert_eq!(info.max_concurrent_rooms(), None);
        assert_eq!(info.exchanges().count(), 0);
        let room = info.room_info().unwrap();
        assert_eq!(room.id, room_id(4, "4-0-testroom", 0));
        assert!(!room.is_create_request());
        assert_eq!(room.detail, 2);
        assert_eq!(room.flags(), Some(0x000F));
        assert_eq!(room.create_time(), Some(0x6B0C_013E));
        assert_eq!(room.max_message_len(), Some(1024));
        assert_eq!(room.max_occupancy(), Some(100));
        assert_eq!(room.create_perms(), Some(CreatePerms::Exchange));
        assert_eq!(room.fully_qualified_name(), Some(&b"testroom"[..]));
        assert_eq!(room.name(), Some(&b"testroom"[..]));
        assert_eq!(room.max_visible_message_len(), Some(1024));
        assert_eq!(room.encoded_len(), 0x51);

        let built = NavInfo::with_room(&open_oscar_room()).unwrap();
        assert_eq!(built, info);
        assert_eq!(snac_bytes(0x2B, ChatNav::NavInfo(built)), bytes);
    }

    #[test]
    fn unknown_subtype_is_raw() {
        // 0D/07 (room search) is not typed: it stays raw and round-trips.
        let bytes = hex("00 0D 00 07 00 00 00 00 00 01 | 00 01 02");
        let snac = Snac::decode(&bytes).unwrap();
        assert!(matches!(
            snac.message,
            Message::Raw {
                family: 0x0D,
                subtype: 7,
                ..
            }
        ));
        assert_eq!(snac.to_bytes(), bytes);
    }

    #[test]
    fn unknown_room_tlvs_round_trip() {
        // A room info with an unknown tag 0x00CB before the name.
        let bytes = hex("00 0D 00 08 00 00 00 00 00 01 | 00 05 | 01 78 | 00 01 | 01 | 00 02
            00 CB 00 03 01 02 03 | 00 D3 00 01 78");
        let ChatNav::CreateRoom(info) = nav(&bytes) else {
            panic!("0D/08")
        };
        assert_eq!(info.tlvs.get(0x00CB), Some(&[1, 2, 3][..]));
        assert_eq!(info.name(), Some(&b"x"[..]));
    }

    #[test]
    fn truncated_bodies_are_rejected() {
        // fixed layouts: every cut fails
        for v in [REQUEST_EXCHANGE_INFO, REQUEST_ROOM_INFO, CREATE_ROOM, NAV_INFO_ROOM] {
            let bytes = hex(v);
            for cut in 11..bytes.len() {
                assert!(Snac::decode(&bytes[..cut]).is_err(), "{v} cut at {cut} decoded");
            }
        }
        // a TLV rest block: only cuts between TLVs (after max rooms, after exchange 4) are valid
        let bytes = hex(NAV_INFO_EXCHANGES);
        for cut in 11..bytes.len() {
            match Snac::decode(&bytes[..cut]) {
                Ok(snac) => {
                    assert!(cut == 15 || cut == 15 + 4 + 0x44, "cut at {cut} decoded");
                    assert_eq!(snac.to_bytes(), &bytes[..cut]);
                }
                Err(_) => assert!(cut != 15 && cut != 15 + 4 + 0x44),
            }
        }
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = hex(REQUEST_ROOM_INFO);
        bytes.push(0);
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::TrailingBytes { .. })));
    }

    #[test]
    fn create_room_count_that_lies() {
        // count 4, three TLVs
        let mut bytes = hex(CREATE_ROOM);
        bytes[23] = 4;
        assert_eq!(
            Snac::decode(&bytes).unwrap_err(),
            DecodeError::CountMismatch {
                what: "counted TLV block",
                declared: 4,
                found: 3
            }
        );
    }

    #[test]
    fn create_room_tlv_overrun() {
        // name TLV claims 9 bytes of 8, the next TLVs absorb the rest
        let bytes = hex(
            "00 0D 00 08 00 00 00 00 00 01 | 00 04 | 06 63 72 65 61 74 65 | FF FF | 01 | 00 01
            00 D3 00 09 74 65 73 74 72 6F 6F 6D",
        );
        assert_eq!(
            Snac::decode(&bytes).unwrap_err(),
            DecodeError::TlvOverrun {
                tag: 0x00D3,
                declared: 9,
                available: 8
            }
        );
    }

    #[test]
    fn create_room_without_name_is_rejected() {
        let bytes = hex(
            "00 0D 00 08 00 00 00 00 00 01 | 00 04 | 06 63 72 65 61 74 65 | FF FF | 01 | 00 01
            00 D7 00 02 65 6E",
        );
        assert_eq!(
            Snac::decode(&bytes).unwrap_err(),
            DecodeError::MissingTlv {
                what: "CHAT_NAV create room",
                tag: room_tag::NAME
            }
        );
    }

    #[test]
    fn fixed_tlv_lengths_are_checked() {
        // room flags as a u8
        let bytes = hex("00 0D 00 08 00 00 00 00 00 01 | 00 04 | 01 78 | FF FF | 01 | 00 02
            00 D3 00 01 78 | 00 C9 00 01 0F");
        assert_eq!(
            Snac::decode(&bytes).unwrap_err(),
            DecodeError::BadLength {
                what: "room info TLV",
                len: 1
            }
        );
        // nav info max rooms as a u16
        let bytes = hex("00 0D 00 09 00 00 00 00 00 01 | 00 02 00 02 00 0A");
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::BadLength { .. })));
        // exchange max concurrent rooms as a u16
        let bytes = hex("00 0D 00 09 00 00 00 00 00 01 | 00 03 00 0A | 00 04 00 01 | 00 03 00 02 00 0A");
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::BadLength { .. })));
    }

    #[test]
    fn nav_info_with_broken_nested_structures() {
        // exchange info whose counted block lies
        let bytes = hex("00 0D 00 09 00 00 00 00 00 01 | 00 03 00 04 | 00 04 00 01");
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::CountMismatch { .. })));
        // exchange info followed by stray bytes inside its TLV
        let bytes = hex("00 0D 00 09 00 00 00 00 00 01 | 00 03 00 05 | 00 04 00 00 FF");
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::TrailingBytes { .. })));
        // room info truncated inside its TLV
        let bytes = hex("00 0D 00 09 00 00 00 00 00 01 | 00 04 00 04 | 00 04 05 61");
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::Truncated { .. })));
        // outer TLV overrun
        let bytes = hex("00 0D 00 09 00 00 00 00 00 01 | 00 04 00 40 | 00 04");
        assert!(matches!(Snac::decode(&bytes), Err(DecodeError::TlvOverrun { .. })));
    }

    #[test]
    fn oversized_values_cannot_be_built() {
        assert!(RoomInfo::create_room(4, &vec![b'x'; 0x10000]).is_err());
        // fits one TLV but not the room info inside the nav-info TLV
        let tlvs = TlvBlock::builder()
            .bytes(room_tag::NAME, &vec![b'x'; 0xFFF0])
            .build()
            .unwrap();
        let room = RoomInfo::new(room_id(4, "c", 0), 2, tlvs);
        assert!(NavInfo::with_room(&room).is_err());
        // the TLVs fit a counted block, the whole room info does not
        assert!(matches!(
            RoomInfo::create_room(4, &vec![b'x'; 0xFFE0]),
            Err(EncodeError::TooLong { what: "room info", .. })
        ));
        assert!(RoomInfo::create_room(4, &vec![b'x'; 0xFFD7]).is_ok());
    }

    // --- property tests ---

    pub(crate) fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..=max)
    }

    fn create_perms() -> impl Strategy<Value = CreatePerms> {
        any::<u8>().prop_map(CreatePerms::from)
    }

    prop_compose! {
        pub(crate) fn arb_room_id()(exchange in any::<u16>(), cookie in bytes(255), instance in any::<u16>()) -> RoomId<'static> {
            RoomId { exchange, cookie: Str08::new(cookie).unwrap(), instance }
        }
    }

    prop_compose! {
        pub(crate) fn arb_room_info()(
            id in arb_room_id(),
            detail in any::<u8>(),
            nums in (any::<Option<u16>>(), any::<Option<u32>>(), any::<Option<u16>>(), any::<Option<u16>>(),
                     proptest::option::of(create_perms()), any::<Option<u16>>()),
            strs in (proptest::option::of(bytes(40)), proptest::option::of(bytes(40)),
                     proptest::option::of(bytes(12)), proptest::option::of(bytes(4)),
                     proptest::option::of(bytes(12)), proptest::option::of(bytes(4))),
        ) -> RoomInfo<'static> {
            let tlvs = RoomInfoTlvs {
                flags: nums.0,
                create_time: nums.1,
                max_message_len: nums.2,
                max_occupancy: nums.3,
                create_perms: nums.4,
                max_visible_message_len: nums.5,
                fully_qualified_name: strs.0.as_deref(),
                name: strs.1.as_deref(),
                charset: strs.2.as_deref(),
                language: strs.3.as_deref(),
                charset2: strs.4.as_deref(),
                language2: strs.5.as_deref(),
            }
            .build()
            .unwrap();
            RoomInfo::new(id, detail, tlvs)
        }
    }

    prop_compose! {
        fn arb_exchange()(
            id in any::<u16>(),
            nums in (any::<Option<u8>>(), any::<Option<u16>>(), any::<Option<u16>>(), any::<Option<u16>>(),
                     proptest::option::of(create_perms())),
            strs in (proptest::option::of(bytes(40)), proptest::option::of(bytes(12)), proptest::option::of(bytes(4)),
                     proptest::option::of(bytes(12)), proptest::option::of(bytes(4))),
        ) -> ExchangeInfo<'static> {
            let tlvs = ExchangeInfoTlvs {
                max_concurrent_rooms: nums.0,
                class_perms: nums.1,
                max_name_len: nums.2,
                flags: nums.3,
                create_perms: nums.4,
                name: strs.0.as_deref(),
                charset: strs.1.as_deref(),
                language: strs.2.as_deref(),
                charset2: strs.3.as_deref(),
                language2: strs.4.as_deref(),
            }
            .build()
            .unwrap();
            ExchangeInfo::new(id, tlvs)
        }
    }

    fn arb_chat_nav() -> impl Strategy<Value = ChatNav<'static>> {
        prop_oneof![
            Just(ChatNav::RequestRights),
            any::<u16>().prop_map(ChatNav::RequestExchangeInfo),
            (arb_room_id(), any::<u8>()).prop_map(|(id, d)| ChatNav::RequestRoomInfo(RoomInfoRequest::new(id, d))),
            (any::<u16>(), bytes(100)).prop_map(|(e, n)| ChatNav::CreateRoom(RoomInfo::create_room(e, &n).unwrap())),
            (
                any::<Option<u8>>(),
                proptest::collection::vec(arb_exchange(), 0..4),
                proptest::option::of(arb_room_info())
            )
                .prop_map(|(max, ex, room)| ChatNav::NavInfo(NavInfo::new(max, &ex, room.as_ref()).unwrap())),
        ]
    }

    /// Vectors whose bytes the mutation test starts from.
    const VECTORS: [&str; 6] = [
        REQUEST_RIGHTS,
        REQUEST_EXCHANGE_INFO,
        REQUEST_ROOM_INFO,
        CREATE_ROOM,
        NAV_INFO_EXCHANGES,
        NAV_INFO_ROOM,
    ];

    proptest! {
        #[test]
        fn prop_round_trip(m in arb_chat_nav()) {
            let bytes = snac_bytes(1, m.clone());
            let snac = Snac::decode(&bytes).unwrap();
            prop_assert_eq!(&snac.message, &Message::ChatNav(m));
            prop_assert_eq!(snac.to_bytes(), bytes);
        }

        #[test]
        fn prop_typed_accessors_match_builders(room in arb_room_info(), ex in arb_exchange()) {
            let info = NavInfo::new(None, std::slice::from_ref(&ex), Some(&room)).unwrap();
            prop_assert_eq!(info.room_info().unwrap(), room.clone());
            prop_assert_eq!(info.exchange(ex.id).unwrap(), ex);
            let mut out = Vec::new();
            room.encode(&mut out);
            prop_assert_eq!(out.len(), room.encoded_len());
        }

        #[test]
        fn prop_arbitrary_bytes_never_panic(subtype in 0u16..=0x10, body in bytes(300)) {
            let mut r = Reader::new(&body);
            if let Ok(Some(m)) = ChatNav::decode(subtype, &mut r) {
                // whatever decodes re-encodes to the bytes it consumed
                let used = body.len() - r.remaining();
                let mut out = Vec::new();
                m.encode(&mut out);
                prop_assert_eq!(&out[..], &body[..used]);
            }
        }

        #[test]
        fn prop_mutated_vectors_never_panic(which in 0..VECTORS.len(), pos in any::<usize>(), val in any::<u8>(), cut in any::<usize>()) {
            let mut bytes = hex(VECTORS[which]);
            let i = 10 + pos % (bytes.len() - 9).max(1);
            if i < bytes.len() {
                bytes[i] = val;
            }
            bytes.truncate(10 + cut % (bytes.len() - 9));
            if let Ok(snac) = Snac::decode(&bytes) {
                prop_assert_eq!(snac.to_bytes(), bytes);
            }
        }
    }
}
