//! Family 0x0002 LOCATE: profiles, away messages, capabilities and directory info (§8.2, §10).
//!
//! ```text
//! C→S 02/02 rights query                  S→C 02/03 rights reply (limits)
//! C→S 02/04 set info: profile, away message, capabilities
//! C→S 02/05 user info query (u16 type) | 02/15 user info query 2 (u32 flags)
//! S→C 02/06 user info reply (user info + profile / away message / caps)
//! C→S 02/09 set directory info → 02/0A    C→S 02/0B get directory info → 02/0C
//! C→S 02/0F set keywords → 02/10
//! ```
//! Away (AIM): 02/04 with a non-empty TLV 0x0004 sets the away message, an empty one clears it,
//! and a 02/04 without it leaves the state alone ([`AwayChange`]).

use std::ops::BitOr;

use crate::error::{DecodeError, EncodeError};
use crate::reader::{Put, Reader};
use crate::tlv::{TlvBlock, TlvBlockBuilder};
use crate::types::{Capability, ScreenName};
use crate::userinfo::UserInfo;

/// The family id.
pub const FAMILY: u16 = 0x0002;

/// Subtypes.
pub mod subtype {
    /// Rights query.
    pub const RIGHTS_QUERY: u16 = 0x0002;
    /// Rights reply.
    pub const RIGHTS_REPLY: u16 = 0x0003;
    /// Set profile / away message / capabilities.
    pub const SET_INFO: u16 = 0x0004;
    /// User info query.
    pub const USER_INFO_QUERY: u16 = 0x0005;
    /// User info reply.
    pub const USER_INFO_REPLY: u16 = 0x0006;
    /// Set directory info.
    pub const SET_DIR_INFO: u16 = 0x0009;
    /// Set directory info reply.
    pub const SET_DIR_REPLY: u16 = 0x000A;
    /// Get directory info.
    pub const GET_DIR_INFO: u16 = 0x000B;
    /// Get directory info reply.
    pub const GET_DIR_REPLY: u16 = 0x000C;
    /// Set keyword (interest) info.
    pub const SET_KEYWORD_INFO: u16 = 0x000F;
    /// Set keyword info reply.
    pub const SET_KEYWORD_REPLY: u16 = 0x0010;
    /// User info query 2.
    pub const USER_INFO_QUERY2: u16 = 0x0015;
}

/// TLV tags of set info (02/04) and of the user info reply (02/06).
pub mod tag {
    /// Profile MIME type, e.g. `text/aolrtf; charset="us-ascii"`.
    pub const PROFILE_MIME: u16 = 0x0001;
    /// Profile body.
    pub const PROFILE: u16 = 0x0002;
    /// Away message MIME type.
    pub const AWAY_MIME: u16 = 0x0003;
    /// Away message (set info: non-empty = away, empty = back).
    pub const AWAY_MESSAGE: u16 = 0x0004;
    /// Capabilities: concatenated 16-byte UUIDs.
    pub const CAPABILITIES: u16 = 0x0005;
    /// Certificates.
    pub const CERTS: u16 = 0x0006;
    /// Profile update time.
    pub const PROFILE_TIME: u16 = 0x000A;
    /// Away message update time.
    pub const AWAY_TIME: u16 = 0x000B;
    /// "Supports host-stored profile".
    pub const SUPPORT_HOST_SIG: u16 = 0x000C;
    /// HTML info type.
    pub const HTML_INFO_TYPE: u16 = 0x000D;
    /// HTML info data.
    pub const HTML_INFO: u16 = 0x000E;
}

/// TLV tags of the rights reply (02/03); every value is a `u16`.
pub mod rights_tag {
    /// Max profile length (AOL: 1024).
    pub const MAX_PROFILE_LEN: u16 = 0x0001;
    /// Max full-UUID capabilities.
    pub const MAX_CAPABILITIES: u16 = 0x0002;
    /// Max addresses in a find-by-email list.
    pub const MAX_FIND_BY_EMAIL: u16 = 0x0003;
    /// Max certificates length.
    pub const MAX_CERTS_LEN: u16 = 0x0004;
    /// Max short capabilities.
    pub const MAX_SHORT_CAPABILITIES: u16 = 0x0005;
}

/// Status of a get-directory-info reply (02/0C).
pub mod dir_status {
    /// The lookup succeeded.
    pub const OK: u16 = 0x0001;
    /// Directory info is unavailable.
    pub const UNAVAILABLE: u16 = 0x0002;
}

/// What a user info query asks for (bit flags of 02/05, low half of 02/15's flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InfoType(pub u16);

impl InfoType {
    /// The profile.
    pub const PROFILE: InfoType = InfoType(0x0001);
    /// The away message.
    pub const AWAY: InfoType = InfoType(0x0002);
    /// The capabilities.
    pub const CAPABILITIES: InfoType = InfoType(0x0004);
    /// The certificates.
    pub const CERTS: InfoType = InfoType(0x0008);
    /// HTML info.
    pub const HTML: InfoType = InfoType(0x0400);

    /// True when every bit of `other` is set.
    pub fn contains(self, other: InfoType) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for InfoType {
    type Output = InfoType;
    fn bitor(self, rhs: InfoType) -> InfoType {
        InfoType(self.0 | rhs.0)
    }
}

/// What a set-info (02/04) does to the away state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AwayChange<'t> {
    /// No TLV 0x0004: the away state is left alone.
    Unchanged,
    /// A non-empty TLV 0x0004: away with this message.
    Away(&'t [u8]),
    /// An empty TLV 0x0004: back (no longer away).
    Back,
}

/// Builds the TLVs of a set info (02/04) or user info reply (02/06), in call order.
#[derive(Debug, Default, Clone)]
pub struct InfoTlvs {
    b: TlvBlockBuilder,
}

impl InfoTlvs {
    /// No TLVs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Profile MIME type and body (TLVs 0x0001, 0x0002).
    pub fn profile(self, mime: &[u8], body: &[u8]) -> Self {
        Self {
            b: self.b.bytes(tag::PROFILE_MIME, mime).bytes(tag::PROFILE, body),
        }
    }

    /// Away MIME type and message (TLVs 0x0003, 0x0004); an empty message means "back".
    pub fn away(self, mime: &[u8], message: &[u8]) -> Self {
        Self {
            b: self.b.bytes(tag::AWAY_MIME, mime).bytes(tag::AWAY_MESSAGE, message),
        }
    }

    /// An empty TLV 0x0004 alone: "back", as libpurple sends it.
    pub fn back(self) -> Self {
        Self {
            b: self.b.empty(tag::AWAY_MESSAGE),
        }
    }

    /// Capabilities as concatenated UUIDs (TLV 0x0005).
    pub fn capabilities(self, caps: &[Capability]) -> Self {
        let mut v = Vec::with_capacity(caps.len().saturating_mul(16));
        for c in caps {
            c.encode(&mut v);
        }
        Self {
            b: self.b.bytes(tag::CAPABILITIES, &v),
        }
    }

    /// Any other TLV.
    pub fn tlv(self, tag: u16, value: &[u8]) -> Self {
        Self {
            b: self.b.bytes(tag, value),
        }
    }

    /// Finishes the block; fails if a value or the block is too long.
    pub fn build(self) -> Result<TlvBlock<'static>, EncodeError> {
        self.b.build()
    }
}

/// Checks that a capabilities TLV holds whole UUIDs.
fn check_caps(tlvs: &TlvBlock<'_>) -> Result<(), DecodeError> {
    match tlvs.get(tag::CAPABILITIES) {
        Some(c) if !c.len().is_multiple_of(16) => Err(DecodeError::BadLength {
            what: "LOCATE capabilities",
            len: c.len(),
        }),
        _ => Ok(()),
    }
}

/// Typed accessors shared by [`SetInfo`] and [`UserInfoReply`].
macro_rules! info_accessors {
    () => {
        /// Profile MIME type.
        pub fn profile_mime(&self) -> Option<&[u8]> {
            self.tlvs.get(tag::PROFILE_MIME)
        }
        /// Profile body.
        pub fn profile(&self) -> Option<&[u8]> {
            self.tlvs.get(tag::PROFILE)
        }
        /// Away message MIME type.
        pub fn away_mime(&self) -> Option<&[u8]> {
            self.tlvs.get(tag::AWAY_MIME)
        }
        /// The raw away message TLV (empty when present but cleared).
        pub fn away_message(&self) -> Option<&[u8]> {
            self.tlvs.get(tag::AWAY_MESSAGE)
        }
        /// The capabilities, if the TLV is present.
        pub fn capabilities(&self) -> Option<impl Iterator<Item = Capability> + '_> {
            self.tlvs.get(tag::CAPABILITIES).map(Capability::iter_list)
        }
    };
}

/// 02/04: sets any subset of profile, away message and capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetInfo<'a> {
    /// TLVs ([`tag`]); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> SetInfo<'a> {
    /// Sets the profile.
    pub fn set_profile(mime: &[u8], body: &[u8]) -> Result<SetInfo<'static>, EncodeError> {
        Ok(SetInfo {
            tlvs: InfoTlvs::new().profile(mime, body).build()?,
        })
    }

    /// Goes away with `message` (an empty message means "back").
    pub fn set_away(mime: &[u8], message: &[u8]) -> Result<SetInfo<'static>, EncodeError> {
        Ok(SetInfo {
            tlvs: InfoTlvs::new().away(mime, message).build()?,
        })
    }

    /// Comes back: an empty away message.
    pub fn back() -> SetInfo<'static> {
        SetInfo {
            tlvs: InfoTlvs::new().back().build().expect("one empty TLV fits"),
        }
    }

    /// Sets the capabilities.
    pub fn set_capabilities(caps: &[Capability]) -> Result<SetInfo<'static>, EncodeError> {
        Ok(SetInfo {
            tlvs: InfoTlvs::new().capabilities(caps).build()?,
        })
    }

    /// What this message does to the away state.
    pub fn away_change(&self) -> AwayChange<'_> {
        match self.tlvs.get(tag::AWAY_MESSAGE) {
            None => AwayChange::Unchanged,
            Some([]) => AwayChange::Back,
            Some(m) => AwayChange::Away(m),
        }
    }

    info_accessors!();
}

/// 02/03: the limits of LOCATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightsReply<'a> {
    /// TLVs ([`rights_tag`]); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> RightsReply<'a> {
    /// A reply with all five limits, in tag order as Open OSCAR writes them.
    pub fn new(
        max_profile_len: u16,
        max_capabilities: u16,
        max_find_by_email: u16,
        max_certs_len: u16,
        max_short_capabilities: u16,
    ) -> RightsReply<'static> {
        let tlvs = TlvBlock::builder()
            .u16(rights_tag::MAX_PROFILE_LEN, max_profile_len)
            .u16(rights_tag::MAX_CAPABILITIES, max_capabilities)
            .u16(rights_tag::MAX_FIND_BY_EMAIL, max_find_by_email)
            .u16(rights_tag::MAX_CERTS_LEN, max_certs_len)
            .u16(rights_tag::MAX_SHORT_CAPABILITIES, max_short_capabilities)
            .build()
            .expect("five small TLVs fit");
        RightsReply { tlvs }
    }

    /// Max profile length.
    pub fn max_profile_len(&self) -> Option<u16> {
        self.tlvs.get_u16(rights_tag::MAX_PROFILE_LEN)
    }

    /// Max full-UUID capabilities.
    pub fn max_capabilities(&self) -> Option<u16> {
        self.tlvs.get_u16(rights_tag::MAX_CAPABILITIES)
    }

    /// Max addresses in a find-by-email list.
    pub fn max_find_by_email(&self) -> Option<u16> {
        self.tlvs.get_u16(rights_tag::MAX_FIND_BY_EMAIL)
    }

    /// Max certificates length.
    pub fn max_certs_len(&self) -> Option<u16> {
        self.tlvs.get_u16(rights_tag::MAX_CERTS_LEN)
    }

    /// Max short capabilities.
    pub fn max_short_capabilities(&self) -> Option<u16> {
        self.tlvs.get_u16(rights_tag::MAX_SHORT_CAPABILITIES)
    }

    fn validate(&self) -> Result<(), DecodeError> {
        for t in [
            rights_tag::MAX_PROFILE_LEN,
            rights_tag::MAX_CAPABILITIES,
            rights_tag::MAX_FIND_BY_EMAIL,
            rights_tag::MAX_CERTS_LEN,
            rights_tag::MAX_SHORT_CAPABILITIES,
        ] {
            self.tlvs.check_len(t, 2, "LOCATE rights limit")?;
        }
        Ok(())
    }
}

/// 02/05: `u16 info type, sn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfoQuery<'a> {
    /// What to return.
    pub info_type: InfoType,
    /// Whom to look up.
    pub screen_name: ScreenName<'a>,
}

/// 02/15: `u32 flags, sn` (libpurple asks for the away message this way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfoQuery2<'a> {
    /// Request flags; the low half has the [`InfoType`] bits.
    pub flags: u32,
    /// Whom to look up.
    pub screen_name: ScreenName<'a>,
}

impl UserInfoQuery2<'_> {
    /// The [`InfoType`] bits of the flags.
    pub fn info_type(&self) -> InfoType {
        InfoType((self.flags & 0xFFFF) as u16)
    }
}

/// 02/06: the user's info block, then profile / away / capability TLVs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfoReply<'a> {
    /// The user.
    pub user: UserInfo<'a>,
    /// TLVs ([`tag`], built with [`InfoTlvs`]); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl UserInfoReply<'_> {
    info_accessors!();
}

/// 02/0C: `u16 status` ([`dir_status`]) and a counted TLV block of directory fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirReply<'a> {
    /// The status.
    pub status: u16,
    /// The directory fields (ODIR tags).
    pub tlvs: TlvBlock<'a>,
}

/// Messages of family 0x0002.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locate<'a> {
    /// 02/02: usually empty.
    RightsQuery(TlvBlock<'a>),
    /// 02/03.
    RightsReply(RightsReply<'a>),
    /// 02/04.
    SetInfo(SetInfo<'a>),
    /// 02/05.
    UserInfoQuery(UserInfoQuery<'a>),
    /// 02/06.
    UserInfoReply(UserInfoReply<'a>),
    /// 02/09: directory fields (ODIR tags).
    SetDirInfo(TlvBlock<'a>),
    /// 02/0A: `u16 result` (1 = OK).
    SetDirReply(u16),
    /// 02/0B: whose directory info.
    GetDirInfo(ScreenName<'a>),
    /// 02/0C.
    GetDirReply(DirReply<'a>),
    /// 02/0F: keyword (interest) TLVs.
    SetKeywordInfo(TlvBlock<'a>),
    /// 02/10: `u16` (meaning unknown).
    SetKeywordReply(u16),
    /// 02/15.
    UserInfoQuery2(UserInfoQuery2<'a>),
}

impl<'a> Locate<'a> {
    /// 02/05 asking for `info_type` of `screen_name`.
    pub fn user_info_query(info_type: InfoType, screen_name: ScreenName<'a>) -> Self {
        Locate::UserInfoQuery(UserInfoQuery { info_type, screen_name })
    }

    /// The subtype of this message.
    pub fn subtype(&self) -> u16 {
        match self {
            Locate::RightsQuery(_) => subtype::RIGHTS_QUERY,
            Locate::RightsReply(_) => subtype::RIGHTS_REPLY,
            Locate::SetInfo(_) => subtype::SET_INFO,
            Locate::UserInfoQuery(_) => subtype::USER_INFO_QUERY,
            Locate::UserInfoReply(_) => subtype::USER_INFO_REPLY,
            Locate::SetDirInfo(_) => subtype::SET_DIR_INFO,
            Locate::SetDirReply(_) => subtype::SET_DIR_REPLY,
            Locate::GetDirInfo(_) => subtype::GET_DIR_INFO,
            Locate::GetDirReply(_) => subtype::GET_DIR_REPLY,
            Locate::SetKeywordInfo(_) => subtype::SET_KEYWORD_INFO,
            Locate::SetKeywordReply(_) => subtype::SET_KEYWORD_REPLY,
            Locate::UserInfoQuery2(_) => subtype::USER_INFO_QUERY2,
        }
    }

    /// Decodes a body; `Ok(None)` for untyped subtypes (watchers 0x07/0x08, group caps
    /// 0x0D/0x0E, keyword get 0x11/0x12, find by email 0x13/0x14).
    pub fn decode(subtype: u16, r: &mut Reader<'a>) -> Result<Option<Self>, DecodeError> {
        Ok(Some(match subtype {
            subtype::RIGHTS_QUERY => Locate::RightsQuery(TlvBlock::decode_rest(r)?),
            subtype::RIGHTS_REPLY => {
                let m = RightsReply {
                    tlvs: TlvBlock::decode_rest(r)?,
                };
                m.validate()?;
                Locate::RightsReply(m)
            }
            subtype::SET_INFO => {
                let m = SetInfo {
                    tlvs: TlvBlock::decode_rest(r)?,
                };
                check_caps(&m.tlvs)?;
                Locate::SetInfo(m)
            }
            subtype::USER_INFO_QUERY => Locate::UserInfoQuery(UserInfoQuery {
                info_type: InfoType(r.u16("LOCATE info type")?),
                screen_name: ScreenName::decode(r)?,
            }),
            subtype::USER_INFO_REPLY => {
                let user = UserInfo::decode(r)?;
                let tlvs = TlvBlock::decode_rest(r)?;
                check_caps(&tlvs)?;
                Locate::UserInfoReply(UserInfoReply { user, tlvs })
            }
            subtype::SET_DIR_INFO => Locate::SetDirInfo(TlvBlock::decode_rest(r)?),
            subtype::SET_DIR_REPLY => Locate::SetDirReply(r.u16("LOCATE set directory result")?),
            subtype::GET_DIR_INFO => Locate::GetDirInfo(ScreenName::decode(r)?),
            subtype::GET_DIR_REPLY => Locate::GetDirReply(DirReply {
                status: r.u16("LOCATE directory status")?,
                tlvs: TlvBlock::decode_counted(r)?,
            }),
            subtype::SET_KEYWORD_INFO => Locate::SetKeywordInfo(TlvBlock::decode_rest(r)?),
            subtype::SET_KEYWORD_REPLY => Locate::SetKeywordReply(r.u16("LOCATE set keyword result")?),
            subtype::USER_INFO_QUERY2 => Locate::UserInfoQuery2(UserInfoQuery2 {
                flags: r.u32("LOCATE info flags")?,
                screen_name: ScreenName::decode(r)?,
            }),
            _ => return Ok(None),
        }))
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Locate::RightsQuery(t) | Locate::SetDirInfo(t) | Locate::SetKeywordInfo(t) => t.encode_rest(out),
            Locate::RightsReply(m) => m.tlvs.encode_rest(out),
            Locate::SetInfo(m) => m.tlvs.encode_rest(out),
            Locate::UserInfoQuery(q) => {
                out.put_u16(q.info_type.0);
                q.screen_name.encode(out);
            }
            Locate::UserInfoReply(m) => {
                m.user.encode(out);
                m.tlvs.encode_rest(out);
            }
            Locate::SetDirReply(v) | Locate::SetKeywordReply(v) => out.put_u16(*v),
            Locate::GetDirInfo(sn) => sn.encode(out),
            Locate::GetDirReply(m) => {
                out.put_u16(m.status);
                m.tlvs.encode_counted(out);
            }
            Locate::UserInfoQuery2(q) => {
                out.put_u32(q.flags);
                q.screen_name.encode(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snac::{Message, Snac};
    use crate::testing::hex;
    use crate::types::Str08;
    use crate::userinfo::UserInfoTlvs;
    use proptest::prelude::*;

    /// Every distinct LOCATE SNAC of `libpurple-md5-full.pcapng` and `twisted-bucp-icq.pcapng`.
    const CAPTURED: &[&str] = &[
        // libpurple C→S stream 1, 02/02
        "00 02 00 02 00 00 00 00 00 09",
        // libpurple C→S stream 1, 02/04
        concat!(
            "00 02 00 04 00 00 00 00 00 0E 00 05 00 C0 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0 09 46 ",
            "13 4D 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F ",
            "C8 09 0B 6F 41 BD 9F 79 42 26 09 DF A2 F3 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 ",
            "CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8"
        ),
        // libpurple C→S stream 1, 02/04
        "00 02 00 04 00 00 00 00 00 0F 00 04 00 00",
        // libpurple C→S stream 1, 02/04
        concat!(
            "00 02 00 04 00 00 00 00 00 25 00 03 00 1F 74 65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 ",
            "65 74 3D 22 75 73 2D 61 73 63 69 69 22 00 04 00 0C 67 6F 6E 65 20 66 69 73 68 69 6E 67"
        ),
        // libpurple C→S stream 1, 02/04
        "00 02 00 04 00 00 00 00 00 28 00 04 00 00",
        // libpurple C→S stream 1, 02/04
        concat!(
            "00 02 00 04 00 00 00 00 00 2A 00 01 00 1F 74 65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 ",
            "65 74 3D 22 75 73 2D 61 73 63 69 69 22 00 02 00 0E 49 20 6C 69 6B 65 20 74 75 72 74 6C 65 73"
        ),
        // libpurple S→C stream 1, 02/03
        concat!(
            "00 02 00 03 00 00 00 00 00 09 00 01 00 02 03 E8 00 02 00 02 03 E8 00 03 00 02 03 E8 00 04 00 02 ",
            "03 E8 00 05 00 02 03 E8"
        ),
        // libpurple S→C stream 5, 02/06
        concat!(
            "00 02 00 06 00 00 00 00 00 2F 05 61 6C 69 63 65 00 00 00 05 00 03 00 04 6B 0C 01 3D 00 01 00 02 ",
            "00 11 00 06 00 04 10 02 00 00 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0 09 46 ",
            "13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD 9F 79 42 26 09 DF A2 F3 74 8F ",
            "24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8 00 1E ",
            "00 04 00 00 00 00 00 01 00 1F 74 65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 65 74 3D 22 ",
            "75 73 2D 61 73 63 69 69 22 00 02 00 0E 49 20 6C 69 6B 65 20 74 75 72 74 6C 65 73 00 03 00 1F 74 ",
            "65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 65 74 3D 22 75 73 2D 61 73 63 69 69 22 00 04 ",
            "00 00"
        ),
        // libpurple C→S stream 5, 02/15
        "00 02 00 15 00 00 00 00 00 2F 00 00 00 03 05 61 6C 69 63 65",
        // libpurple C→S stream 12, 02/04
        concat!(
            "00 02 00 04 00 00 00 00 00 0D 00 05 00 C0 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0 09 46 ",
            "13 4D 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F ",
            "C8 09 0B 6F 41 BD 9F 79 42 26 09 DF A2 F3 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 ",
            "CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8"
        ),
        // libpurple C→S stream 12, 02/04
        "00 02 00 04 00 00 00 00 00 0E 00 04 00 00",
        // twisted S→C stream 1, 02/03
        concat!(
            "00 02 00 03 00 00 00 02 00 02 00 01 00 02 03 E8 00 02 00 02 03 E8 00 03 00 02 03 E8 00 04 00 02 ",
            "03 E8 00 05 00 02 03 E8"
        ),
        // twisted C→S stream 1, 02/04
        concat!(
            "00 02 00 04 00 00 00 02 00 04 00 01 00 1F 74 65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 ",
            "65 74 3D 22 75 73 2D 61 73 63 69 69 22 00 02 00 16 74 77 69 73 74 65 64 20 6F 73 63 61 72 20 65 ",
            "63 68 6F 20 62 6F 74 00 05 00 10 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00"
        ),
        // twisted C→S stream 1, 02/04
        concat!(
            "00 02 00 04 00 00 00 02 00 04 00 03 00 1F 74 65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 ",
            "65 74 3D 22 75 73 2D 61 73 63 69 69 22 00 04 00 09 62 61 63 6B 20 73 6F 6F 6E"
        ),
        // twisted C→S stream 1, 02/02
        "00 02 00 02 00 00 00 02 00 02",
    ];

    const RTF: &[u8] = b"text/aolrtf; charset=\"us-ascii\"";

    fn decode_snac(bytes: &[u8]) -> Locate<'_> {
        let snac = Snac::decode(bytes).unwrap_or_else(|e| panic!("{e}: {}", crate::testing::to_hex(bytes)));
        assert_eq!(snac.to_bytes(), bytes);
        let Message::Locate(m) = snac.message else {
            panic!("not typed LOCATE: {:?}", snac.message)
        };
        m
    }

    fn built(request_id: u32, m: Locate<'_>) -> Vec<u8> {
        Snac::new(request_id, Message::Locate(m)).to_bytes()
    }

    fn body_round_trip(m: &Locate<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        m.encode(&mut out);
        let mut r = Reader::new(&out);
        let back = Locate::decode(m.subtype(), &mut r).unwrap().expect("typed");
        r.finish("locate body").unwrap();
        assert_eq!(&back, m);
        let mut again = Vec::new();
        back.encode(&mut again);
        assert_eq!(again, out);
        out
    }

    fn decode_body(subtype: u16, body: &[u8]) -> Result<Locate<'_>, DecodeError> {
        let mut r = Reader::new(body);
        let m = Locate::decode(subtype, &mut r)?.expect("typed");
        r.finish("locate body")?;
        Ok(m)
    }

    fn sn(s: &'static str) -> ScreenName<'static> {
        ScreenName::try_from(s).unwrap()
    }

    fn uuid(h: &str) -> Capability {
        Capability(hex(h).try_into().unwrap())
    }

    /// The capabilities libpurple 2.14 sets at sign-on, in its order.
    fn libpurple_caps() -> Vec<Capability> {
        vec![
            Capability::from_short(0x0000),
            Capability::SEND_FILE,
            Capability::DIRECT_IM,
            Capability::BUDDY_ICON,
            Capability::ICQ_SERVER_RELAY,
            Capability::from_short(0x0000),
            uuid("1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0"),
            Capability::INTEROPERATE,
            Capability::UTF8,
            Capability::TYPING,
            Capability::CHAT,
            uuid("01 38 CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8"),
        ]
    }

    #[test]
    fn every_captured_locate_snac_round_trips() {
        for h in CAPTURED {
            let bytes = hex(h);
            let m = decode_snac(&bytes);
            body_round_trip(&m);
        }
    }

    #[test]
    fn rights_known_answers() {
        let bytes = hex("00 02 00 02 00 00 00 00 00 09");
        assert_eq!(decode_snac(&bytes), Locate::RightsQuery(TlvBlock::empty()));
        assert_eq!(built(9, Locate::RightsQuery(TlvBlock::empty())), bytes);
        let bytes = hex(concat!(
            "00 02 00 03 00 00 00 00 00 09 00 01 00 02 03 E8 00 02 00 02 03 E8 00 03 00 02 03 E8 00 04 00 02 ",
            "03 E8 00 05 00 02 03 E8"
        ));
        let Locate::RightsReply(r) = decode_snac(&bytes) else {
            panic!("02/03")
        };
        assert_eq!(
            [
                r.max_profile_len(),
                r.max_capabilities(),
                r.max_find_by_email(),
                r.max_certs_len(),
                r.max_short_capabilities()
            ],
            [Some(1000); 5]
        );
        assert_eq!(
            built(9, Locate::RightsReply(RightsReply::new(1000, 1000, 1000, 1000, 1000))),
            bytes
        );
    }

    #[test]
    fn set_info_known_answers() {
        // libpurple at sign-on: capabilities only.
        let bytes = hex(concat!(
            "00 02 00 04 00 00 00 00 00 0E 00 05 00 C0 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0 09 46 ",
            "13 4D 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F ",
            "C8 09 0B 6F 41 BD 9F 79 42 26 09 DF A2 F3 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 ",
            "CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8"
        ));
        let Locate::SetInfo(m) = decode_snac(&bytes) else {
            panic!("02/04")
        };
        assert_eq!(m.capabilities().unwrap().collect::<Vec<_>>(), libpurple_caps());
        assert_eq!(m.away_change(), AwayChange::Unchanged);
        assert_eq!(m.profile(), None);
        let caps = SetInfo::set_capabilities(&libpurple_caps()).unwrap();
        assert_eq!(built(0x0E, Locate::SetInfo(caps)), bytes);

        // alice goes away, comes back, sets her profile.
        let bytes = hex(concat!(
            "00 02 00 04 00 00 00 00 00 25 00 03 00 1F 74 65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 ",
            "65 74 3D 22 75 73 2D 61 73 63 69 69 22 00 04 00 0C 67 6F 6E 65 20 66 69 73 68 69 6E 67"
        ));
        let Locate::SetInfo(m) = decode_snac(&bytes) else {
            panic!("02/04")
        };
        assert_eq!(m.away_change(), AwayChange::Away(b"gone fishing"));
        assert_eq!(m.away_mime(), Some(RTF));
        assert!(m.capabilities().is_none());
        assert_eq!(
            built(0x25, Locate::SetInfo(SetInfo::set_away(RTF, b"gone fishing").unwrap())),
            bytes
        );

        let bytes = hex("00 02 00 04 00 00 00 00 00 28 00 04 00 00");
        let Locate::SetInfo(m) = decode_snac(&bytes) else {
            panic!("02/04")
        };
        assert_eq!(m.away_change(), AwayChange::Back);
        assert_eq!(m.away_message(), Some(&b""[..]));
        assert_eq!(built(0x28, Locate::SetInfo(SetInfo::back())), bytes);

        let bytes = hex(concat!(
            "00 02 00 04 00 00 00 00 00 2A 00 01 00 1F 74 65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 ",
            "65 74 3D 22 75 73 2D 61 73 63 69 69 22 00 02 00 0E 49 20 6C 69 6B 65 20 74 75 72 74 6C 65 73"
        ));
        let Locate::SetInfo(m) = decode_snac(&bytes) else {
            panic!("02/04")
        };
        assert_eq!(
            (m.profile_mime(), m.profile()),
            (Some(RTF), Some(&b"I like turtles"[..]))
        );
        assert_eq!(
            built(
                0x2A,
                Locate::SetInfo(SetInfo::set_profile(RTF, b"I like turtles").unwrap())
            ),
            bytes
        );

        // Twisted: profile and capabilities together.
        let bytes = hex(concat!(
            "00 02 00 04 00 00 00 02 00 04 00 01 00 1F 74 65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 ",
            "65 74 3D 22 75 73 2D 61 73 63 69 69 22 00 02 00 16 74 77 69 73 74 65 64 20 6F 73 63 61 72 20 65 ",
            "63 68 6F 20 62 6F 74 00 05 00 10 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00"
        ));
        decode_snac(&bytes);
        let tlvs = InfoTlvs::new()
            .profile(RTF, b"twisted oscar echo bot")
            .capabilities(&[Capability::CHAT])
            .build()
            .unwrap();
        assert_eq!(built(0x0002_0004, Locate::SetInfo(SetInfo { tlvs })), bytes);
    }

    #[test]
    fn user_info_reply_known_answer() {
        // bobby reads alice's profile; she is not away (empty away message).
        let bytes = hex(concat!(
            "00 02 00 06 00 00 00 00 00 2F 05 61 6C 69 63 65 00 00 00 05 00 03 00 04 6B 0C 01 3D 00 01 00 02 ",
            "00 11 00 06 00 04 10 02 00 00 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0 09 46 ",
            "13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD 9F 79 42 26 09 DF A2 F3 74 8F ",
            "24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8 00 1E ",
            "00 04 00 00 00 00 00 01 00 1F 74 65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 65 74 3D 22 ",
            "75 73 2D 61 73 63 69 69 22 00 02 00 0E 49 20 6C 69 6B 65 20 74 75 72 74 6C 65 73 00 03 00 1F 74 ",
            "65 78 74 2F 61 6F 6C 72 74 66 3B 20 63 68 61 72 73 65 74 3D 22 75 73 2D 61 73 63 69 69 22 00 04 ",
            "00 00"
        ));
        let Locate::UserInfoReply(m) = decode_snac(&bytes) else {
            panic!("02/06")
        };
        assert_eq!(m.user.screen_name.as_bytes(), b"alice");
        assert!(!m.user.is_away());
        assert_eq!(m.user.tlvs.len(), 5);
        assert_eq!(m.profile(), Some(&b"I like turtles"[..]));
        assert_eq!(m.away_message(), Some(&b""[..]));
        assert!(m.capabilities().is_none());
        let tlvs = InfoTlvs::new()
            .profile(RTF, b"I like turtles")
            .away(RTF, b"")
            .build()
            .unwrap();
        assert_eq!(tlvs, m.tlvs);
        let reply = UserInfoReply {
            user: m.user.clone(),
            tlvs,
        };
        assert_eq!(built(0x2F, Locate::UserInfoReply(reply)), bytes);
        // the user block alone, rebuilt from typed values
        let user_tlvs = TlvBlock::builder()
            .u32(0x0003, 0x6B0C_013D)
            .extend(
                &UserInfoTlvs {
                    class: Some(0x0011),
                    status: Some(0x1002_0000),
                    ..Default::default()
                }
                .build()
                .unwrap(),
            )
            .bytes(0x000D, m.user.tlvs.get(0x000D).unwrap())
            .u32(0x001E, 0)
            .build()
            .unwrap();
        assert_eq!(UserInfo::new(sn("alice"), 0, user_tlvs), m.user);
    }

    #[test]
    fn user_info_queries_known_answers() {
        // libpurple's "get info" for the away message: 02/15 flags 3.
        let bytes = hex("00 02 00 15 00 00 00 00 00 2F 00 00 00 03 05 61 6C 69 63 65");
        let Locate::UserInfoQuery2(q) = decode_snac(&bytes) else {
            panic!("02/15")
        };
        assert!(q.info_type().contains(InfoType::PROFILE | InfoType::AWAY));
        assert!(!q.info_type().contains(InfoType::CAPABILITIES));
        let m = Locate::UserInfoQuery2(UserInfoQuery2 {
            flags: 3,
            screen_name: sn("alice"),
        });
        assert_eq!(built(0x2F, m), bytes);
        // §8.2: 02/05 for the profile and capabilities.
        let bytes = hex("00 02 00 05 00 00 00 00 00 30 00 05 05 61 6C 69 63 65");
        let Locate::UserInfoQuery(q) = decode_snac(&bytes) else {
            panic!("02/05")
        };
        assert_eq!(q.info_type, InfoType::PROFILE | InfoType::CAPABILITIES);
        let m = Locate::user_info_query(InfoType::PROFILE | InfoType::CAPABILITIES, sn("alice"));
        assert_eq!(built(0x30, m), bytes);
        assert!(InfoType(0x040F).contains(InfoType::CERTS | InfoType::HTML));
    }

    #[test]
    fn directory_known_answers() {
        // 02/09 with first name "Al" (ODIR tag 0x0001), 02/0A OK.
        let bytes = hex("00 02 00 09 00 00 00 00 00 31 00 01 00 02 41 6C");
        let m = decode_snac(&bytes);
        let tlvs = TlvBlock::builder().bytes(1, b"Al").build().unwrap();
        assert_eq!(built(0x31, Locate::SetDirInfo(tlvs.clone())), bytes);
        assert_eq!(m, Locate::SetDirInfo(tlvs.clone()));
        let bytes = hex("00 02 00 0A 00 00 00 00 00 31 00 01");
        assert_eq!(decode_snac(&bytes), Locate::SetDirReply(1));
        assert_eq!(built(0x31, Locate::SetDirReply(1)), bytes);
        let bytes = hex("00 02 00 0B 00 00 00 00 00 32 05 61 6C 69 63 65");
        assert_eq!(decode_snac(&bytes), Locate::GetDirInfo(sn("alice")));
        assert_eq!(built(0x32, Locate::GetDirInfo(sn("alice"))), bytes);
        let bytes = hex("00 02 00 0C 00 00 00 00 00 32 00 01 00 01 00 01 00 02 41 6C");
        let reply = DirReply {
            status: dir_status::OK,
            tlvs: tlvs.clone(),
        };
        assert_eq!(decode_snac(&bytes), Locate::GetDirReply(reply.clone()));
        assert_eq!(built(0x32, Locate::GetDirReply(reply)), bytes);
        let bytes = hex("00 02 00 0F 00 00 00 00 00 33 00 0B 00 04 72 75 73 74");
        let kw = TlvBlock::builder().bytes(0x000B, b"rust").build().unwrap();
        assert_eq!(decode_snac(&bytes), Locate::SetKeywordInfo(kw.clone()));
        assert_eq!(built(0x33, Locate::SetKeywordInfo(kw)), bytes);
        let bytes = hex("00 02 00 10 00 00 00 00 00 33 00 01");
        assert_eq!(decode_snac(&bytes), Locate::SetKeywordReply(1));
        assert_eq!(built(0x33, Locate::SetKeywordReply(1)), bytes);
    }

    #[test]
    fn untyped_subtypes_stay_raw() {
        let bytes = hex("00 02 00 0D 00 00 00 00 00 01 01 02");
        assert!(matches!(
            Snac::decode(&bytes).unwrap().message,
            Message::Raw { subtype: 0x0D, .. }
        ));
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        // capabilities not a multiple of 16
        let e = decode_body(subtype::SET_INFO, &hex("00 05 00 03 01 02 03")).unwrap_err();
        assert!(matches!(e, DecodeError::BadLength { len: 3, .. }), "{e:?}");
        // away message TLV running past the body
        let e = decode_body(subtype::SET_INFO, &hex("00 04 00 05 61 62")).unwrap_err();
        assert!(matches!(e, DecodeError::TlvOverrun { tag: 4, .. }), "{e:?}");
        // user info whose TLV count lies (the reply's own TLVs may not be taken for it)
        let e = decode_body(
            subtype::USER_INFO_REPLY,
            &hex("05 61 6C 69 63 65 00 00 00 03 00 01 00 02 00 10"),
        )
        .unwrap_err();
        assert!(matches!(e, DecodeError::CountMismatch { .. }), "{e:?}");
        // queries cut short
        assert!(decode_body(subtype::USER_INFO_QUERY, &hex("00")).is_err());
        assert!(decode_body(subtype::USER_INFO_QUERY, &hex("00 01 05 61 6C")).is_err());
        assert!(decode_body(subtype::USER_INFO_QUERY2, &hex("00 00 00 03")).is_err());
        assert!(matches!(
            decode_body(subtype::USER_INFO_QUERY2, &hex("00 00 00 03 01 61 62")),
            Err(DecodeError::TrailingBytes { .. })
        ));
        // rights limit of the wrong size, directory reply whose count lies
        let e = decode_body(subtype::RIGHTS_REPLY, &hex("00 01 00 04 00 00 04 00")).unwrap_err();
        assert!(matches!(e, DecodeError::BadLength { .. }), "{e:?}");
        let e = decode_body(subtype::GET_DIR_REPLY, &hex("00 01 00 02 00 01 00 00")).unwrap_err();
        assert!(matches!(e, DecodeError::CountMismatch { .. }), "{e:?}");
        assert!(decode_body(subtype::SET_DIR_REPLY, &hex("01")).is_err());
    }

    fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    fn arb_tlvs() -> impl Strategy<Value = TlvBlock<'static>> {
        proptest::collection::vec((any::<u16>(), arb_bytes(12)), 0..5)
            .prop_map(|ts| {
                let mut b = TlvBlock::builder();
                for (t, v) in &ts {
                    b = b.bytes(*t, v);
                }
                b.build().unwrap()
            })
            .prop_filter("whole capabilities", |t| check_caps(t).is_ok())
    }

    fn arb_caps() -> impl Strategy<Value = Vec<Capability>> {
        proptest::collection::vec(any::<[u8; 16]>().prop_map(Capability), 0..4)
    }

    fn arb_info_tlvs() -> impl Strategy<Value = TlvBlock<'static>> {
        (
            proptest::option::of((arb_bytes(10), arb_bytes(30))),
            proptest::option::of((arb_bytes(10), arb_bytes(30))),
            any::<bool>(),
            proptest::option::of(arb_caps()),
        )
            .prop_map(|(profile, away, back, caps)| {
                let mut b = InfoTlvs::new();
                if let Some((m, p)) = profile {
                    b = b.profile(&m, &p);
                }
                if let Some((m, a)) = away {
                    b = b.away(&m, &a);
                }
                if back {
                    b = b.back();
                }
                if let Some(c) = caps {
                    b = b.capabilities(&c);
                }
                b.tlv(0x000C, &[]).build().unwrap()
            })
    }

    fn arb_name() -> impl Strategy<Value = ScreenName<'static>> {
        arb_bytes(20).prop_map(|n| Str08::new(n).unwrap())
    }

    fn arb_locate() -> impl Strategy<Value = Locate<'static>> {
        prop_oneof![
            arb_tlvs().prop_map(Locate::RightsQuery),
            (any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>())
                .prop_map(|(a, b, c, d, e)| Locate::RightsReply(RightsReply::new(a, b, c, d, e))),
            arb_info_tlvs().prop_map(|tlvs| Locate::SetInfo(SetInfo { tlvs })),
            (arb_bytes(10), arb_bytes(30)).prop_map(|(m, p)| Locate::SetInfo(SetInfo::set_profile(&m, &p).unwrap())),
            (arb_bytes(10), arb_bytes(30)).prop_map(|(m, a)| Locate::SetInfo(SetInfo::set_away(&m, &a).unwrap())),
            Just(Locate::SetInfo(SetInfo::back())),
            arb_caps().prop_map(|c| Locate::SetInfo(SetInfo::set_capabilities(&c).unwrap())),
            (any::<u16>(), arb_name()).prop_map(|(t, n)| Locate::user_info_query(InfoType(t), n)),
            (arb_name(), any::<u16>(), arb_tlvs(), arb_info_tlvs()).prop_map(|(n, w, u, tlvs)| {
                Locate::UserInfoReply(UserInfoReply {
                    user: UserInfo::new(n, w, u),
                    tlvs,
                })
            }),
            arb_tlvs().prop_map(Locate::SetDirInfo),
            any::<u16>().prop_map(Locate::SetDirReply),
            arb_name().prop_map(Locate::GetDirInfo),
            (any::<u16>(), arb_tlvs()).prop_map(|(status, tlvs)| Locate::GetDirReply(DirReply { status, tlvs })),
            arb_tlvs().prop_map(Locate::SetKeywordInfo),
            any::<u16>().prop_map(Locate::SetKeywordReply),
            (any::<u32>(), arb_name())
                .prop_map(|(flags, screen_name)| Locate::UserInfoQuery2(UserInfoQuery2 { flags, screen_name })),
        ]
    }

    proptest! {
        #[test]
        fn prop_valid_messages_round_trip(m in arb_locate(), request_id in any::<u32>()) {
            body_round_trip(&m);
            let bytes = built(request_id, m.clone());
            prop_assert_eq!(decode_snac(&bytes), m);
        }

        #[test]
        fn prop_set_info_away_state(away in proptest::option::of(arb_bytes(20))) {
            let m = match &away {
                None => SetInfo::set_profile(b"text/plain", b"hi").unwrap(),
                Some(a) => SetInfo::set_away(b"text/plain", a).unwrap(),
            };
            let expected = match away.as_deref() {
                None => AwayChange::Unchanged,
                Some([]) => AwayChange::Back,
                Some(a) => AwayChange::Away(a),
            };
            prop_assert_eq!(m.away_change(), expected);
        }

        #[test]
        fn prop_arbitrary_bodies_never_panic(subtype in 0u16..0x18, body in arb_bytes(80)) {
            let mut r = Reader::new(&body);
            if let Ok(Some(m)) = Locate::decode(subtype, &mut r)
                && r.is_empty()
            {
                let mut out = Vec::new();
                m.encode(&mut out);
                prop_assert_eq!(out, body);
            }
        }
    }
}
