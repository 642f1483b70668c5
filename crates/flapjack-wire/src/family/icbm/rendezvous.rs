//! Channel-2 rendezvous data: the value of ICBM TLV 0x0005 (§8.4.5).
//!
//! ```text
//! u16 message type (0 propose, 1 cancel, 2 accept, 3 NAK)
//! u8[8] cookie        (equals the ICBM cookie)
//! u8[16] capability   (which service: chat, send file, direct IM, …; §9)
//! TLV rest block      ([`rdv_tag`])
//! ```
//! Chat invitations are typed here; every other rendezvous (file transfer,
//! direct IM, buddy icons, ICQ server relay) keeps its TLVs byte for byte so a
//! server relays it untouched.

use crate::code_enum;
use crate::error::{DecodeError, EncodeError};
use crate::family::icbm::channel1::decode_utf16be;
use crate::reader::{Put, Reader};
use crate::tlv::TlvBlock;
use crate::types::{Capability, IcbmCookie, RoomId};

code_enum! {
    /// The first field of a rendezvous block.
    pub enum RendezvousType: u16 {
        /// 0 propose (request).
        Propose = 0x0000,
        /// 1 cancel.
        Cancel = 0x0001,
        /// 2 accept ("connected").
        Accept = 0x0002,
        /// 3 NAK.
        Nak = 0x0003,
    }
}

code_enum! {
    /// Why a rendezvous was cancelled (TLV 0x000B).
    pub enum CancelReason: u16 {
        /// 0 no reason given.
        Unspecified = 0x0000,
        /// 1 the user declined.
        UserDeclined = 0x0001,
        /// 2 timed out.
        Timeout = 0x0002,
        /// 3 accepted by another session.
        AcceptedElsewhere = 0x0003,
    }
}

/// TLV tags inside a rendezvous block.
pub mod rdv_tag {
    /// u32 rendezvous / proxy IP.
    pub const PROXY_IP: u16 = 0x0002;
    /// u32 requester (client) IP.
    pub const CLIENT_IP: u16 = 0x0003;
    /// u32 verified IP, added by the server.
    pub const VERIFIED_IP: u16 = 0x0004;
    /// u16 port.
    pub const PORT: u16 = 0x0005;
    /// u16 request sequence (1 first proposal, 2 proxy reply, 3 third stage).
    pub const SEQUENCE: u16 = 0x000A;
    /// u16 cancel reason ([`super::CancelReason`]).
    pub const CANCEL_REASON: u16 = 0x000B;
    /// Invitation text.
    pub const INVITATION: u16 = 0x000C;
    /// Invitation text charset name (e.g. `us-ascii`, `utf-8`, `unicode-2-0`).
    pub const CHARSET: u16 = 0x000D;
    /// Invitation text language (e.g. `en`).
    pub const LANGUAGE: u16 = 0x000E;
    /// Empty: request a host capability check.
    pub const REQUEST_HOST_CHECK: u16 = 0x000F;
    /// Empty: use the AOL rendezvous proxy ("ARS").
    pub const USE_PROXY: u16 = 0x0010;
    /// Empty: request SSL.
    pub const REQUEST_SSL: u16 = 0x0011;
    /// u16 maximum protocol version.
    pub const MAX_VERSION: u16 = 0x0012;
    /// u16 minimum protocol version.
    pub const MIN_VERSION: u16 = 0x0013;
    /// u32 IP XOR 0xFFFFFFFF (NAT-tamper check).
    pub const IP_XOR: u16 = 0x0016;
    /// u16 port XOR 0xFFFF.
    pub const PORT_XOR: u16 = 0x0017;
    /// Service-specific data (room for chat, file info for send file, …).
    pub const SERVICE_DATA: u16 = 0x2711;
}

/// A rendezvous block (ICBM channel 2, TLV 0x0005).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendezvous<'a> {
    /// Propose, cancel, accept or NAK.
    pub msg_type: RendezvousType,
    /// The rendezvous cookie; equals the ICBM cookie.
    pub cookie: IcbmCookie,
    /// The service ([`Capability::CHAT`], [`Capability::SEND_FILE`], …).
    pub capability: Capability,
    /// The rendezvous TLVs ([`rdv_tag`]); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

/// A chat-room invitation read from a rendezvous block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatInvitation<'a> {
    /// The room to join (through OSERVICE service request 0x0001/0x0004 for family 0x000E).
    pub room: RoomId<'a>,
    /// The invitation text bytes (TLV 0x000C).
    pub message: Option<&'a [u8]>,
    /// The charset name of the text (TLV 0x000D).
    pub charset: Option<&'a [u8]>,
}

impl ChatInvitation<'_> {
    /// The invitation text, decoded by its charset name ([`decode_named_charset`]).
    pub fn message_text(&self) -> Option<String> {
        self.message.map(|m| decode_named_charset(self.charset, m))
    }
}

impl<'a> Rendezvous<'a> {
    /// Bytes before the TLVs: type, cookie, capability.
    pub const HEADER_LEN: usize = 2 + 8 + 16;

    /// A block from its parts.
    pub fn new(msg_type: RendezvousType, cookie: IcbmCookie, capability: Capability, tlvs: TlvBlock<'a>) -> Self {
        Self {
            msg_type,
            cookie,
            capability,
            tlvs,
        }
    }

    /// Decodes a whole TLV 0x0005 value.
    pub fn decode(value: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(value);
        Ok(Self {
            msg_type: RendezvousType::from(r.u16("rendezvous type")?),
            cookie: IcbmCookie::decode(&mut r)?,
            capability: Capability::decode(&mut r)?,
            tlvs: TlvBlock::decode_rest(&mut r)?,
        })
    }

    /// Appends the block (the TLV 0x0005 value).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.msg_type.value());
        self.cookie.encode(out);
        self.capability.encode(out);
        self.tlvs.encode_rest(out);
    }

    /// The encoded block in a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::HEADER_LEN + self.tlvs.as_bytes().len());
        self.encode(&mut out);
        out
    }

    /// A chat invitation as libpurple sends it: propose, capability CHAT, TLVs
    /// 0x000A = 1, 0x000F, 0x000C `message`, 0x2711 = the room.
    ///
    /// The message is written as UTF-8; when it is not plain ASCII a 0x000D
    /// charset TLV `utf-8` follows it so that receivers can decode it.
    pub fn new_chat_invitation(
        cookie: IcbmCookie,
        room: &RoomId<'_>,
        message: &str,
    ) -> Result<Rendezvous<'static>, EncodeError> {
        let mut room_bytes = Vec::with_capacity(4 + room.cookie.encoded_len());
        room.encode(&mut room_bytes);
        let mut b = TlvBlock::builder()
            .u16(rdv_tag::SEQUENCE, 1)
            .empty(rdv_tag::REQUEST_HOST_CHECK)
            .bytes(rdv_tag::INVITATION, message.as_bytes());
        if !message.is_ascii() {
            b = b.bytes(rdv_tag::CHARSET, b"utf-8");
        }
        let tlvs = b.bytes(rdv_tag::SERVICE_DATA, &room_bytes).build()?;
        check_size(&tlvs)?;
        Ok(Rendezvous::new(RendezvousType::Propose, cookie, Capability::CHAT, tlvs))
    }

    /// A cancel with TLV 0x000B `reason` (libpurple `aim_im_sendch2_cancel`).
    pub fn new_cancel(cookie: IcbmCookie, capability: Capability, reason: CancelReason) -> Rendezvous<'static> {
        let tlvs = TlvBlock::builder()
            .u16(rdv_tag::CANCEL_REASON, reason.value())
            .build()
            .expect("one small TLV fits");
        Rendezvous::new(RendezvousType::Cancel, cookie, capability, tlvs)
    }

    /// An accept with no TLVs (libpurple `aim_im_sendch2_connected`).
    pub fn new_accept(cookie: IcbmCookie, capability: Capability) -> Rendezvous<'static> {
        Rendezvous::new(RendezvousType::Accept, cookie, capability, TlvBlock::empty())
    }

    /// Request sequence number (TLV 0x000A).
    pub fn sequence(&self) -> Option<u16> {
        self.tlvs.get_u16(rdv_tag::SEQUENCE)
    }
    /// Cancel reason (TLV 0x000B).
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.tlvs.get_u16(rdv_tag::CANCEL_REASON).map(CancelReason::from)
    }
    /// Proxy IP (TLV 0x0002).
    pub fn proxy_ip(&self) -> Option<[u8; 4]> {
        self.ip(rdv_tag::PROXY_IP)
    }
    /// Client IP as the client sees itself (TLV 0x0003).
    pub fn client_ip(&self) -> Option<[u8; 4]> {
        self.ip(rdv_tag::CLIENT_IP)
    }
    /// Client IP as the server saw it (TLV 0x0004).
    pub fn verified_ip(&self) -> Option<[u8; 4]> {
        self.ip(rdv_tag::VERIFIED_IP)
    }
    /// Port (TLV 0x0005).
    pub fn port(&self) -> Option<u16> {
        self.tlvs.get_u16(rdv_tag::PORT)
    }
    /// Invitation text bytes (TLV 0x000C).
    pub fn invitation(&self) -> Option<&[u8]> {
        self.tlvs.get(rdv_tag::INVITATION)
    }
    /// Service-specific data (TLV 0x2711).
    pub fn service_data(&self) -> Option<&[u8]> {
        self.tlvs.get(rdv_tag::SERVICE_DATA)
    }

    fn ip(&self, tag: u16) -> Option<[u8; 4]> {
        self.tlvs.get(tag).and_then(|v| v.try_into().ok())
    }

    /// The chat invitation this block carries.
    ///
    /// `Ok(None)` unless it is a proposal with capability CHAT; an error when
    /// such a proposal lacks TLV 0x2711 or it is not exactly a room id.
    pub fn chat_invitation(&self) -> Result<Option<ChatInvitation<'_>>, DecodeError> {
        if self.capability != Capability::CHAT || self.msg_type != RendezvousType::Propose {
            return Ok(None);
        }
        let data = self.tlvs.require(rdv_tag::SERVICE_DATA, "chat invitation")?;
        let mut r = Reader::new(data);
        let room = RoomId::decode(&mut r)?;
        r.finish("chat invitation room")?;
        Ok(Some(ChatInvitation {
            room,
            message: self.tlvs.get(rdv_tag::INVITATION),
            charset: self.tlvs.get(rdv_tag::CHARSET),
        }))
    }

    /// The server's rewrite of a relayed proposal (§8.4.2): TLV 0x0003 (client
    /// IP) takes the address the server sees, in place (appended if absent),
    /// and TLV 0x0004 (verified IP) is appended. Everything else is unchanged.
    pub fn with_verified_ip(&self, seen_ip: [u8; 4]) -> Result<Rendezvous<'static>, EncodeError> {
        let mut b = TlvBlock::builder();
        let mut replaced = false;
        for t in self.tlvs.iter() {
            match t.tag {
                rdv_tag::CLIENT_IP if !replaced => {
                    b = b.bytes(rdv_tag::CLIENT_IP, &seen_ip);
                    replaced = true;
                }
                rdv_tag::CLIENT_IP | rdv_tag::VERIFIED_IP => {}
                _ => b = b.bytes(t.tag, t.value),
            }
        }
        if !replaced {
            b = b.bytes(rdv_tag::CLIENT_IP, &seen_ip);
        }
        let tlvs = b.bytes(rdv_tag::VERIFIED_IP, &seen_ip).build()?;
        check_size(&tlvs)?;
        Ok(Rendezvous::new(self.msg_type, self.cookie, self.capability, tlvs))
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> Rendezvous<'static> {
        Rendezvous {
            msg_type: self.msg_type,
            cookie: self.cookie,
            capability: self.capability,
            tlvs: self.tlvs.into_owned(),
        }
    }
}

/// Fails unless a block with these TLVs still fits a TLV value.
fn check_size(tlvs: &TlvBlock<'_>) -> Result<(), EncodeError> {
    let len = Rendezvous::HEADER_LEN + tlvs.as_bytes().len();
    if len > 0xFFFF {
        return Err(EncodeError::TooLong {
            what: "rendezvous block",
            len,
            max: 0xFFFF,
        });
    }
    Ok(())
}

/// Decodes rendezvous text by the charset name in TLV 0x000D: `unicode-2-0` /
/// `utf-16be` as UTF-16BE, `iso-8859-1` as Latin-1, anything else (`us-ascii`,
/// `utf-8`, absent) as UTF-8, all lossy.
pub fn decode_named_charset(charset: Option<&[u8]>, bytes: &[u8]) -> String {
    let name = charset.unwrap_or_default();
    // Clients write e.g. `text/aolrtf; charset="unicode-2-0"`; match on the tail.
    let lower = |needle: &[u8]| name.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle));
    if lower(b"unicode-2-0") || lower(b"utf-16") {
        decode_utf16be(bytes)
    } else if lower(b"iso-8859-1") || lower(b"latin1") {
        bytes.iter().map(|b| char::from(*b)).collect()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}
