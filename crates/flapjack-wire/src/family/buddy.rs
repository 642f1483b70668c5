//! Family 0x0003 BUDDY: presence notifications and the client-side buddy list (§8.3).
//!
//! ```text
//! C→S 03/02 rights query               S→C 03/03 rights reply (limits)
//! C→S 03/04 add buddies | 03/05 remove buddies | 03/0F, 03/10 add / remove temporary buddies
//! S→C 03/0B arrived (or changed)       S→C 03/0C departed      S→C 03/0A reject
//! ```
//! SSI clients keep their list in FEEDBAG and only use the arrivals and departures, which make
//! up most of a server's presence traffic: decoding 03/0B borrows and allocates nothing.

use std::borrow::Cow;

use crate::error::{DecodeError, EncodeError};
use crate::list::{List, ScreenNameItem};
use crate::reader::Reader;
use crate::tlv::TlvBlock;
use crate::types::ScreenName;
use crate::userinfo::UserInfo;

/// The family id.
pub const FAMILY: u16 = 0x0003;

/// Subtypes.
pub mod subtype {
    /// Rights query.
    pub const RIGHTS_QUERY: u16 = 0x0002;
    /// Rights reply.
    pub const RIGHTS_REPLY: u16 = 0x0003;
    /// Add buddies.
    pub const ADD_BUDDIES: u16 = 0x0004;
    /// Remove buddies.
    pub const DEL_BUDDIES: u16 = 0x0005;
    /// Reject notification.
    pub const REJECT_NOTIFICATION: u16 = 0x000A;
    /// A buddy arrived or changed.
    pub const ARRIVED: u16 = 0x000B;
    /// A buddy departed.
    pub const DEPARTED: u16 = 0x000C;
    /// Add temporary buddies.
    pub const ADD_TEMP_BUDDIES: u16 = 0x000F;
    /// Remove temporary buddies.
    pub const DEL_TEMP_BUDDIES: u16 = 0x0010;
}

/// TLV tags of the rights reply (03/03); every value is a `u16`.
pub mod tag {
    /// Max buddies.
    pub const MAX_BUDDIES: u16 = 0x0001;
    /// Max watchers (people who have you listed).
    pub const MAX_WATCHERS: u16 = 0x0002;
    /// Max ICQ broadcast recipients.
    pub const MAX_ICQ_BROADCAST: u16 = 0x0003;
    /// Max temporary buddies.
    pub const MAX_TEMP_BUDDIES: u16 = 0x0004;
}

/// 03/03: the limits of the client-side buddy list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightsReply<'a> {
    /// TLVs ([`tag`]); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> RightsReply<'a> {
    /// A reply with all four limits, in tag order as Open OSCAR writes them.
    pub fn new(
        max_buddies: u16,
        max_watchers: u16,
        max_icq_broadcast: u16,
        max_temp_buddies: u16,
    ) -> RightsReply<'static> {
        let tlvs = TlvBlock::builder()
            .u16(tag::MAX_BUDDIES, max_buddies)
            .u16(tag::MAX_WATCHERS, max_watchers)
            .u16(tag::MAX_ICQ_BROADCAST, max_icq_broadcast)
            .u16(tag::MAX_TEMP_BUDDIES, max_temp_buddies)
            .build()
            .expect("four small TLVs fit");
        RightsReply { tlvs }
    }

    /// Max buddies.
    pub fn max_buddies(&self) -> Option<u16> {
        self.tlvs.get_u16(tag::MAX_BUDDIES)
    }

    /// Max watchers.
    pub fn max_watchers(&self) -> Option<u16> {
        self.tlvs.get_u16(tag::MAX_WATCHERS)
    }

    /// Max ICQ broadcast recipients.
    pub fn max_icq_broadcast(&self) -> Option<u16> {
        self.tlvs.get_u16(tag::MAX_ICQ_BROADCAST)
    }

    /// Max temporary buddies.
    pub fn max_temp_buddies(&self) -> Option<u16> {
        self.tlvs.get_u16(tag::MAX_TEMP_BUDDIES)
    }

    fn validate(&self) -> Result<(), DecodeError> {
        for t in [
            tag::MAX_BUDDIES,
            tag::MAX_WATCHERS,
            tag::MAX_ICQ_BROADCAST,
            tag::MAX_TEMP_BUDDIES,
        ] {
            self.tlvs.check_len(t, 2, "buddy rights limit")?;
        }
        Ok(())
    }
}

/// A list of screen names (03/04, 03/05, 03/0A, 03/0F, 03/10), decoded lazily.
pub type NameList<'a> = List<'a, ScreenNameItem>;

/// Encodes `names` into a [`NameList`] (at most 0xFFFF encoded bytes).
pub fn name_list<'n>(names: &'n [ScreenName<'n>]) -> Result<NameList<'static>, EncodeError> {
    NameList::from_items(names.iter(), usize::MAX)
}

/// The TLVs of an ICQ-safe departure: one TLV 0x0001 (class) = 0.
const DEPARTURE_TLVS: &[u8] = &[0x00, 0x01, 0x00, 0x02, 0x00, 0x00];

/// The user-info block of a departure: `sn`, warning 0, one TLV 0x0001 = 0 (§8.3, §14.15).
///
/// ICQ clients ignore a departure with no TLV; AIM clients are confused by an empty block.
/// Building it allocates nothing.
pub fn departure(screen_name: ScreenName<'_>) -> UserInfo<'_> {
    let tlvs = TlvBlock::from_raw(Cow::Borrowed(DEPARTURE_TLVS)).expect("a valid constant TLV");
    UserInfo::new(screen_name, 0, tlvs)
}

/// Messages of family 0x0003.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Buddy<'a> {
    /// 03/02: empty, or TLVs (0x0005 u16 flags from newer clients).
    RightsQuery(TlvBlock<'a>),
    /// 03/03.
    RightsReply(RightsReply<'a>),
    /// 03/04.
    AddBuddies(NameList<'a>),
    /// 03/05.
    DelBuddies(NameList<'a>),
    /// 03/0A: the server refused to watch these names.
    RejectNotification(NameList<'a>),
    /// 03/0B: one user-info block (flags, sign-on time, idle, caps, status, BART…).
    Arrived(UserInfo<'a>),
    /// 03/0C: one user-info block (see [`departure`]).
    Departed(UserInfo<'a>),
    /// 03/0F.
    AddTempBuddies(NameList<'a>),
    /// 03/10.
    DelTempBuddies(NameList<'a>),
}

impl<'a> Buddy<'a> {
    /// 03/04 adding `names`.
    pub fn add<'n>(names: &'n [ScreenName<'n>]) -> Result<Buddy<'static>, EncodeError> {
        Ok(Buddy::AddBuddies(name_list(names)?))
    }

    /// 03/05 removing `names`.
    pub fn remove<'n>(names: &'n [ScreenName<'n>]) -> Result<Buddy<'static>, EncodeError> {
        Ok(Buddy::DelBuddies(name_list(names)?))
    }

    /// 03/0A rejecting `names`.
    pub fn reject<'n>(names: &'n [ScreenName<'n>]) -> Result<Buddy<'static>, EncodeError> {
        Ok(Buddy::RejectNotification(name_list(names)?))
    }

    /// 03/0F adding temporary `names`.
    pub fn add_temporary<'n>(names: &'n [ScreenName<'n>]) -> Result<Buddy<'static>, EncodeError> {
        Ok(Buddy::AddTempBuddies(name_list(names)?))
    }

    /// 03/10 removing temporary `names`.
    pub fn remove_temporary<'n>(names: &'n [ScreenName<'n>]) -> Result<Buddy<'static>, EncodeError> {
        Ok(Buddy::DelTempBuddies(name_list(names)?))
    }

    /// 03/0C with the ICQ-safe [`departure`] block.
    pub fn departed(screen_name: ScreenName<'a>) -> Self {
        Buddy::Departed(departure(screen_name))
    }

    /// The subtype of this message.
    pub fn subtype(&self) -> u16 {
        match self {
            Buddy::RightsQuery(_) => subtype::RIGHTS_QUERY,
            Buddy::RightsReply(_) => subtype::RIGHTS_REPLY,
            Buddy::AddBuddies(_) => subtype::ADD_BUDDIES,
            Buddy::DelBuddies(_) => subtype::DEL_BUDDIES,
            Buddy::RejectNotification(_) => subtype::REJECT_NOTIFICATION,
            Buddy::Arrived(_) => subtype::ARRIVED,
            Buddy::Departed(_) => subtype::DEPARTED,
            Buddy::AddTempBuddies(_) => subtype::ADD_TEMP_BUDDIES,
            Buddy::DelTempBuddies(_) => subtype::DEL_TEMP_BUDDIES,
        }
    }

    /// Decodes a body; `Ok(None)` for untyped subtypes (watcher lists 0x06–0x09).
    pub fn decode(subtype: u16, r: &mut Reader<'a>) -> Result<Option<Self>, DecodeError> {
        Ok(Some(match subtype {
            subtype::RIGHTS_QUERY => Buddy::RightsQuery(TlvBlock::decode_rest(r)?),
            subtype::RIGHTS_REPLY => {
                let m = RightsReply {
                    tlvs: TlvBlock::decode_rest(r)?,
                };
                m.validate()?;
                Buddy::RightsReply(m)
            }
            subtype::ADD_BUDDIES => Buddy::AddBuddies(NameList::decode_rest(r)?),
            subtype::DEL_BUDDIES => Buddy::DelBuddies(NameList::decode_rest(r)?),
            subtype::REJECT_NOTIFICATION => Buddy::RejectNotification(NameList::decode_rest(r)?),
            subtype::ARRIVED => Buddy::Arrived(UserInfo::decode(r)?),
            subtype::DEPARTED => Buddy::Departed(UserInfo::decode(r)?),
            subtype::ADD_TEMP_BUDDIES => Buddy::AddTempBuddies(NameList::decode_rest(r)?),
            subtype::DEL_TEMP_BUDDIES => Buddy::DelTempBuddies(NameList::decode_rest(r)?),
            _ => return Ok(None),
        }))
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Buddy::RightsQuery(t) => t.encode_rest(out),
            Buddy::RightsReply(m) => m.tlvs.encode_rest(out),
            Buddy::AddBuddies(l)
            | Buddy::DelBuddies(l)
            | Buddy::RejectNotification(l)
            | Buddy::AddTempBuddies(l)
            | Buddy::DelTempBuddies(l) => l.encode_rest(out),
            Buddy::Arrived(u) | Buddy::Departed(u) => u.encode(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snac::{Message, Snac};
    use crate::testing::hex;
    use crate::userinfo::{UserInfoTlvs, class, tag as ui_tag};
    use crate::{Capability, Str08};
    use proptest::prelude::*;

    /// Every distinct BUDDY SNAC of `libpurple-md5-full.pcapng` and `twisted-bucp-icq.pcapng`.
    const CAPTURED: &[&str] = &[
        // libpurple C→S stream 1, 03/02
        "00 03 00 02 00 00 00 00 00 0A",
        // libpurple S→C stream 1, 03/03
        concat!(
            "00 03 00 03 00 00 00 00 00 0A 00 01 00 02 00 64 00 02 00 02 00 64 00 03 00 02 00 64 00 04 00 02 ",
            "00 64"
        ),
        // libpurple S→C stream 5, 03/0B
        concat!(
            "00 03 00 0B 00 00 80 00 00 00 05 61 6C 69 63 65 00 00 00 06 00 03 00 04 6B 0C 01 3D 00 01 00 02 ",
            "00 11 00 06 00 04 10 02 00 00 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0 09 46 ",
            "13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD 9F 79 42 26 09 DF A2 F3 74 8F ",
            "24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8 00 1E ",
            "00 04 00 00 00 00 00 1D 00 09 00 01 00 05 02 01 D2 04 72"
        ),
        // libpurple S→C stream 5, 03/0B
        concat!(
            "00 03 00 0B 00 00 80 00 00 00 05 61 6C 69 63 65 00 00 00 06 00 03 00 04 6B 0C 01 3D 00 01 00 02 ",
            "00 31 00 06 00 04 10 02 00 00 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0 09 46 ",
            "13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD 9F 79 42 26 09 DF A2 F3 74 8F ",
            "24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8 00 1E ",
            "00 04 00 00 00 00 00 1D 00 09 00 01 00 05 02 01 D2 04 72"
        ),
        // libpurple S→C stream 5, 03/0B
        concat!(
            "00 03 00 0B 00 00 80 00 00 00 05 61 6C 69 63 65 00 00 00 06 00 03 00 04 6B 0C 01 3D 00 01 00 02 ",
            "00 31 00 06 00 04 10 02 00 01 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0 09 46 ",
            "13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD 9F 79 42 26 09 DF A2 F3 74 8F ",
            "24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8 00 1E ",
            "00 04 00 00 00 00 00 1D 00 09 00 01 00 05 02 01 D2 04 72"
        ),
        // libpurple S→C stream 5, 03/0B
        concat!(
            "00 03 00 0B 00 00 80 00 00 00 05 61 6C 69 63 65 00 00 00 06 00 03 00 04 6B 0C 01 3D 00 01 00 02 ",
            "00 11 00 06 00 04 10 02 00 01 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0 09 46 ",
            "13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD 9F 79 42 26 09 DF A2 F3 74 8F ",
            "24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8 00 1E ",
            "00 04 00 00 00 00 00 1D 00 09 00 01 00 05 02 01 D2 04 72"
        ),
        // libpurple S→C stream 12, 03/0C
        "00 03 00 0C 00 00 80 00 00 00 05 61 6C 69 63 65 00 00 00 00",
        // libpurple S→C stream 12, 03/0C
        "00 03 00 0C 00 00 80 00 00 00 05 61 6C 69 63 65 00 00 00 01 00 01 00 02 00 00",
        // twisted S→C stream 1, 03/03
        concat!(
            "00 03 00 03 00 00 00 03 00 02 00 01 00 02 00 64 00 02 00 02 00 64 00 03 00 02 00 64 00 04 00 02 ",
            "00 64"
        ),
        // twisted C→S stream 1, 03/02
        "00 03 00 02 00 00 00 03 00 02",
    ];

    fn decode_snac(bytes: &[u8]) -> Buddy<'_> {
        let snac = Snac::decode(bytes).unwrap_or_else(|e| panic!("{e}: {}", crate::testing::to_hex(bytes)));
        assert_eq!(snac.to_bytes(), bytes);
        let Message::Buddy(m) = snac.message else {
            panic!("not typed BUDDY: {:?}", snac.message)
        };
        m
    }

    fn built(flags: u16, request_id: u32, m: Buddy<'_>) -> Vec<u8> {
        let mut snac = Snac::new(request_id, Message::Buddy(m));
        snac.flags = flags;
        snac.to_bytes()
    }

    fn body_round_trip(m: &Buddy<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        m.encode(&mut out);
        let mut r = Reader::new(&out);
        let back = Buddy::decode(m.subtype(), &mut r).unwrap().expect("typed");
        r.finish("buddy body").unwrap();
        assert_eq!(&back, m);
        let mut again = Vec::new();
        back.encode(&mut again);
        assert_eq!(again, out);
        out
    }

    fn decode_body(subtype: u16, body: &[u8]) -> Result<Buddy<'_>, DecodeError> {
        let mut r = Reader::new(body);
        let m = Buddy::decode(subtype, &mut r)?.expect("typed");
        r.finish("buddy body")?;
        Ok(m)
    }

    fn sn(s: &'static str) -> ScreenName<'static> {
        ScreenName::try_from(s).unwrap()
    }

    #[test]
    fn every_captured_buddy_snac_round_trips() {
        for h in CAPTURED {
            let bytes = hex(h);
            let m = decode_snac(&bytes);
            body_round_trip(&m);
        }
    }

    #[test]
    fn rights_known_answers() {
        let bytes = hex("00 03 00 02 00 00 00 03 00 02");
        assert_eq!(decode_snac(&bytes), Buddy::RightsQuery(TlvBlock::empty()));
        assert_eq!(built(0, 0x0003_0002, Buddy::RightsQuery(TlvBlock::empty())), bytes);

        let bytes = hex(
            "00 03 00 03 00 00 00 00 00 0A 00 01 00 02 00 64 00 02 00 02 00 64 00 03 00 02 00 64 00 04 00 02 00 64",
        );
        let m = decode_snac(&bytes);
        let Buddy::RightsReply(r) = &m else { panic!("03/03") };
        assert_eq!(
            (
                r.max_buddies(),
                r.max_watchers(),
                r.max_icq_broadcast(),
                r.max_temp_buddies()
            ),
            (Some(100), Some(100), Some(100), Some(100))
        );
        assert_eq!(
            built(0, 0x0A, Buddy::RightsReply(RightsReply::new(100, 100, 100, 100))),
            bytes
        );
    }

    /// Capabilities libpurple 2.14 advertised for alice, in its order.
    fn alice_caps() -> Vec<Capability> {
        let other = |h: &str| Capability(hex(h).try_into().unwrap());
        vec![
            Capability::from_short(0x0000),
            Capability::SEND_FILE,
            Capability::DIRECT_IM,
            Capability::BUDDY_ICON,
            Capability::ICQ_SERVER_RELAY,
            Capability::from_short(0x0000),
            other("1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0"),
            Capability::UTF8,
            Capability::TYPING,
            Capability::CHAT,
            other("01 38 CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8"),
        ]
    }

    #[test]
    fn arrived_known_answer() {
        // Open OSCAR tells bobby that alice (class unconfirmed | AIM | away) is online.
        let bytes = hex(concat!(
            "00 03 00 0B 00 00 80 00 00 00 05 61 6C 69 63 65 00 00 00 06 00 03 00 04 6B 0C 01 3D 00 01 00 02 ",
            "00 31 00 06 00 04 10 02 00 01 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 ",
            "00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 9D 51 A6 47 4E 34 F5 A0 09 46 ",
            "13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD 9F 79 42 26 09 DF A2 F3 74 8F ",
            "24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 88 F2 13 FC 00 97 9E A8 00 1E ",
            "00 04 00 00 00 00 00 1D 00 09 00 01 00 05 02 01 D2 04 72"
        ));
        let m = decode_snac(&bytes);
        let Buddy::Arrived(info) = &m else { panic!("03/0B") };
        assert_eq!(info.screen_name.as_bytes(), b"alice");
        assert_eq!(info.class(), class::AIM | class::AWAY | 0x0001);
        assert!(info.is_away());
        assert_eq!(info.signon_time(), Some(0x6B0C_013D));
        assert_eq!(info.status(), Some(0x1002_0001));
        assert_eq!(info.capabilities(), alice_caps());
        let rebuilt = UserInfoTlvs {
            signon_time: Some(0x6B0C_013D),
            class: Some(0x0031),
            status: Some(0x1002_0001),
            capabilities: alice_caps(),
            ..Default::default()
        }
        .build()
        .unwrap();
        // The server's order: sign-on, class, status, caps, then 0x001E and BART.
        let tlvs = TlvBlock::builder()
            .u32(ui_tag::SIGNON_TIME, 0x6B0C_013D)
            .extend(&rebuilt.without(&[ui_tag::SIGNON_TIME]))
            .u32(0x001E, 0)
            .bytes(ui_tag::BART_INFO, &hex("00 01 00 05 02 01 D2 04 72"))
            .build()
            .unwrap();
        let m = Buddy::Arrived(UserInfo::new(sn("alice"), 0, tlvs));
        assert_eq!(built(0, 0x8000_0000, m), bytes);
    }

    #[test]
    fn departed_known_answers() {
        // Open OSCAR's ICQ-safe departure (alice signs off).
        let bytes = hex("00 03 00 0C 00 00 80 00 00 00 05 61 6C 69 63 65 00 00 00 01 00 01 00 02 00 00");
        let m = decode_snac(&bytes);
        assert_eq!(m, Buddy::departed(sn("alice")));
        assert_eq!(built(0, 0x8000_0000, Buddy::departed(sn("alice"))), bytes);
        // …and the empty block it sent when alice denied bobby.
        let bytes = hex("00 03 00 0C 00 00 80 00 00 00 05 61 6C 69 63 65 00 00 00 00");
        let Buddy::Departed(info) = decode_snac(&bytes) else {
            panic!("03/0C")
        };
        assert!(info.tlvs.is_empty());
        let m = Buddy::Departed(UserInfo::new(sn("alice"), 0, TlvBlock::empty()));
        assert_eq!(built(0, 0x8000_0000, m), bytes);
    }

    #[test]
    fn name_lists_known_answers() {
        let names = [sn("alice"), sn("bob")];
        let body = hex("05 61 6C 69 63 65 03 62 6F 62");
        for (sub, m) in [
            (subtype::ADD_BUDDIES, Buddy::add(&names).unwrap()),
            (subtype::DEL_BUDDIES, Buddy::remove(&names).unwrap()),
            (subtype::REJECT_NOTIFICATION, Buddy::reject(&names).unwrap()),
            (subtype::ADD_TEMP_BUDDIES, Buddy::add_temporary(&names).unwrap()),
            (subtype::DEL_TEMP_BUDDIES, Buddy::remove_temporary(&names).unwrap()),
        ] {
            let mut bytes = hex("00 03 00 00 00 00 00 00 00 04");
            bytes[3] = sub as u8;
            bytes.extend_from_slice(&body);
            let decoded = decode_snac(&bytes);
            let (Buddy::AddBuddies(l)
            | Buddy::DelBuddies(l)
            | Buddy::RejectNotification(l)
            | Buddy::AddTempBuddies(l)
            | Buddy::DelTempBuddies(l)) = &decoded
            else {
                panic!("name list")
            };
            assert_eq!(l.iter().collect::<Vec<_>>(), names);
            assert_eq!(decoded, m);
            assert_eq!(built(0, 4, m), bytes);
        }
    }

    #[test]
    fn untyped_subtypes_stay_raw() {
        let bytes = hex("00 03 00 06 00 00 00 00 00 01");
        let snac = Snac::decode(&bytes).unwrap();
        assert!(matches!(snac.message, Message::Raw { subtype: 6, .. }));
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        // user info whose TLV count lies
        let e = decode_body(
            subtype::ARRIVED,
            &hex("05 61 6C 69 63 65 00 00 00 02 00 01 00 02 00 10"),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::CountMismatch {
                    declared: 2,
                    found: 1,
                    ..
                }
            ),
            "{e:?}"
        );
        // a user-info TLV running past the body
        let e = decode_body(
            subtype::DEPARTED,
            &hex("05 61 6C 69 63 65 00 00 00 01 00 01 00 04 00 10"),
        )
        .unwrap_err();
        assert!(matches!(e, DecodeError::TlvOverrun { tag: 1, .. }), "{e:?}");
        // user info cut in the warning level; trailing bytes after one block
        assert!(decode_body(subtype::ARRIVED, &hex("05 61 6C 69 63 65 00")).is_err());
        assert!(matches!(
            decode_body(subtype::ARRIVED, &hex("05 61 6C 69 63 65 00 00 00 00 FF")),
            Err(DecodeError::TrailingBytes { .. })
        ));
        // a name running past the body
        assert!(decode_body(subtype::ADD_BUDDIES, &hex("05 61 6C 69 63 65 04 62 6F 62")).is_err());
        // limit of the wrong size
        let e = decode_body(subtype::RIGHTS_REPLY, &hex("00 01 00 01 64")).unwrap_err();
        assert!(matches!(e, DecodeError::BadLength { .. }), "{e:?}");
        assert!(decode_body(subtype::RIGHTS_QUERY, &hex("00 05 00 04 00")).is_err());
    }

    fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    fn arb_names() -> impl Strategy<Value = Vec<ScreenName<'static>>> {
        proptest::collection::vec(arb_bytes(20).prop_map(|n| Str08::new(n).unwrap()), 0..6)
    }

    fn arb_tlvs() -> impl Strategy<Value = TlvBlock<'static>> {
        proptest::collection::vec((any::<u16>(), arb_bytes(20)), 0..5).prop_map(|ts| {
            let mut b = TlvBlock::builder();
            for (t, v) in &ts {
                b = b.bytes(*t, v);
            }
            b.build().unwrap()
        })
    }

    fn arb_user() -> impl Strategy<Value = UserInfo<'static>> {
        prop_oneof![
            (arb_bytes(20), any::<u16>(), arb_tlvs()).prop_map(|(n, w, t)| UserInfo::new(Str08::new(n).unwrap(), w, t)),
            (
                arb_bytes(20),
                proptest::option::of(any::<u16>()),
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u16>()),
                proptest::collection::vec(any::<[u8; 16]>(), 0..3),
            )
                .prop_map(|(n, class, signon, idle, caps)| {
                    let tlvs = UserInfoTlvs {
                        class,
                        signon_time: signon,
                        idle_minutes: idle,
                        capabilities: caps.into_iter().map(Capability).collect(),
                        ..Default::default()
                    }
                    .build()
                    .unwrap();
                    UserInfo::new(Str08::new(n).unwrap(), 0, tlvs)
                }),
            arb_bytes(20).prop_map(|n| departure(Str08::new(n).unwrap())),
        ]
    }

    fn arb_buddy() -> impl Strategy<Value = Buddy<'static>> {
        prop_oneof![
            arb_tlvs().prop_map(Buddy::RightsQuery),
            (any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>())
                .prop_map(|(a, b, c, d)| Buddy::RightsReply(RightsReply::new(a, b, c, d))),
            arb_names().prop_map(|n| Buddy::add(&n).unwrap()),
            arb_names().prop_map(|n| Buddy::remove(&n).unwrap()),
            arb_names().prop_map(|n| Buddy::reject(&n).unwrap()),
            arb_user().prop_map(Buddy::Arrived),
            arb_user().prop_map(Buddy::Departed),
            arb_names().prop_map(|n| Buddy::add_temporary(&n).unwrap()),
            arb_names().prop_map(|n| Buddy::remove_temporary(&n).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn prop_valid_messages_round_trip(m in arb_buddy(), request_id in any::<u32>()) {
            body_round_trip(&m);
            let bytes = built(0, request_id, m.clone());
            prop_assert_eq!(decode_snac(&bytes), m);
        }

        #[test]
        fn prop_arbitrary_bodies_never_panic(subtype in 0u16..0x14, body in arb_bytes(80)) {
            let mut r = Reader::new(&body);
            if let Ok(Some(m)) = Buddy::decode(subtype, &mut r)
                && r.is_empty()
            {
                let mut out = Vec::new();
                m.encode(&mut out);
                prop_assert_eq!(out, body);
            }
        }
    }
}
