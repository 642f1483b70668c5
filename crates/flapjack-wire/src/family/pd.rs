//! Family 0x0009 PD ("permit/deny", called "BOS" in older docs): the client-side
//! permit and deny lists, superseded by FEEDBAG but still queried at sign-on (§8.8).
//!
//! ```text
//! C→S 09/02 rights query           S→C 09/03 rights reply (max permits / denies / temp permits)
//! C→S 09/04 set group permit mask (u32 user-class mask)
//! C→S 09/05 09/06 add / delete permit entries     (screen names)
//! C→S 09/07 09/08 add / delete deny entries       (screen names)
//! C→S 09/0A 09/0B add / delete temporary permits  (screen names)
//! ```
//! libpurple waits for 09/03 before it sends client-ready (01/02).

use crate::error::{DecodeError, EncodeError};
use crate::list::{List, ScreenNameItem};
use crate::reader::{Put, Reader};
use crate::tlv::TlvBlock;
use crate::types::ScreenName;

/// The family id.
pub const FAMILY: u16 = 0x0009;

/// Subtypes.
pub mod subtype {
    /// Rights query.
    pub const RIGHTS_QUERY: u16 = 0x0002;
    /// Rights reply.
    pub const RIGHTS_REPLY: u16 = 0x0003;
    /// Set group permit mask.
    pub const SET_GROUP_PERMIT_MASK: u16 = 0x0004;
    /// Add permit-list entries.
    pub const ADD_PERMIT: u16 = 0x0005;
    /// Delete permit-list entries.
    pub const DEL_PERMIT: u16 = 0x0006;
    /// Add deny-list entries.
    pub const ADD_DENY: u16 = 0x0007;
    /// Delete deny-list entries.
    pub const DEL_DENY: u16 = 0x0008;
    /// Add temporary permit entries.
    pub const ADD_TEMP_PERMIT: u16 = 0x000A;
    /// Delete temporary permit entries.
    pub const DEL_TEMP_PERMIT: u16 = 0x000B;
}

/// TLV tags of the rights reply.
pub mod tag {
    /// u16 maximum permit-list entries.
    pub const MAX_PERMITS: u16 = 0x0001;
    /// u16 maximum deny-list entries.
    pub const MAX_DENIES: u16 = 0x0002;
    /// u16 maximum temporary permits.
    pub const MAX_TEMP_PERMITS: u16 = 0x0003;
}

/// 09/02: rights query. Empty from libpurple and Twisted; kept as a TLV block
/// so that clients sending TLVs here still decode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RightsQuery<'a> {
    /// TLVs (usually none).
    pub tlvs: TlvBlock<'a>,
}

impl RightsQuery<'_> {
    /// An empty query.
    pub fn new() -> RightsQuery<'static> {
        RightsQuery {
            tlvs: TlvBlock::empty(),
        }
    }
}

/// 09/03: rights reply. Every TLV is optional; present ones must be `u16`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightsReply<'a> {
    /// TLVs: 0x0001 max permits, 0x0002 max denies, 0x0003 max temp permits.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> RightsReply<'a> {
    /// A reply with all three limits, in Open OSCAR's order (0x0002, 0x0001, 0x0003).
    pub fn new(max_permits: u16, max_denies: u16, max_temp_permits: u16) -> RightsReply<'static> {
        let tlvs = TlvBlock::builder()
            .u16(tag::MAX_DENIES, max_denies)
            .u16(tag::MAX_PERMITS, max_permits)
            .u16(tag::MAX_TEMP_PERMITS, max_temp_permits)
            .build()
            .expect("three small TLVs fit");
        RightsReply { tlvs }
    }
    /// Maximum permit-list entries.
    pub fn max_permits(&self) -> Option<u16> {
        self.tlvs.get_u16(tag::MAX_PERMITS)
    }
    /// Maximum deny-list entries.
    pub fn max_denies(&self) -> Option<u16> {
        self.tlvs.get_u16(tag::MAX_DENIES)
    }
    /// Maximum temporary permits.
    pub fn max_temp_permits(&self) -> Option<u16> {
        self.tlvs.get_u16(tag::MAX_TEMP_PERMITS)
    }
    /// Decodes the body, checking the TLV widths.
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let tlvs = TlvBlock::decode_rest(r)?;
        tlvs.check_len(tag::MAX_PERMITS, 2, "PD rights max permits")?;
        tlvs.check_len(tag::MAX_DENIES, 2, "PD rights max denies")?;
        tlvs.check_len(tag::MAX_TEMP_PERMITS, 2, "PD rights max temp permits")?;
        Ok(Self { tlvs })
    }
}

/// Screen names as sent in 09/05–09/08 and 09/0A–09/0B (no count, to the end of the body).
pub fn screen_names(names: &[ScreenName<'_>]) -> Result<List<'static, ScreenNameItem>, EncodeError> {
    List::from_items(names.iter(), usize::MAX)
}

/// Messages of family 0x0009.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pd<'a> {
    /// 09/02.
    RightsQuery(RightsQuery<'a>),
    /// 09/03.
    RightsReply(RightsReply<'a>),
    /// 09/04: user classes allowed to contact the user (user-info class flags).
    SetGroupPermitMask(u32),
    /// 09/05.
    AddPermit(List<'a, ScreenNameItem>),
    /// 09/06.
    DelPermit(List<'a, ScreenNameItem>),
    /// 09/07.
    AddDeny(List<'a, ScreenNameItem>),
    /// 09/08.
    DelDeny(List<'a, ScreenNameItem>),
    /// 09/0A.
    AddTempPermit(List<'a, ScreenNameItem>),
    /// 09/0B.
    DelTempPermit(List<'a, ScreenNameItem>),
}

impl<'a> Pd<'a> {
    /// The subtype of this message.
    pub fn subtype(&self) -> u16 {
        match self {
            Pd::RightsQuery(_) => subtype::RIGHTS_QUERY,
            Pd::RightsReply(_) => subtype::RIGHTS_REPLY,
            Pd::SetGroupPermitMask(_) => subtype::SET_GROUP_PERMIT_MASK,
            Pd::AddPermit(_) => subtype::ADD_PERMIT,
            Pd::DelPermit(_) => subtype::DEL_PERMIT,
            Pd::AddDeny(_) => subtype::ADD_DENY,
            Pd::DelDeny(_) => subtype::DEL_DENY,
            Pd::AddTempPermit(_) => subtype::ADD_TEMP_PERMIT,
            Pd::DelTempPermit(_) => subtype::DEL_TEMP_PERMIT,
        }
    }

    /// Decodes a body; `Ok(None)` for untyped subtypes.
    pub fn decode(subtype: u16, r: &mut Reader<'a>) -> Result<Option<Self>, DecodeError> {
        Ok(Some(match subtype {
            subtype::RIGHTS_QUERY => Pd::RightsQuery(RightsQuery {
                tlvs: TlvBlock::decode_rest(r)?,
            }),
            subtype::RIGHTS_REPLY => Pd::RightsReply(RightsReply::decode(r)?),
            subtype::SET_GROUP_PERMIT_MASK => Pd::SetGroupPermitMask(r.u32("group permit mask")?),
            subtype::ADD_PERMIT => Pd::AddPermit(List::decode_rest(r)?),
            subtype::DEL_PERMIT => Pd::DelPermit(List::decode_rest(r)?),
            subtype::ADD_DENY => Pd::AddDeny(List::decode_rest(r)?),
            subtype::DEL_DENY => Pd::DelDeny(List::decode_rest(r)?),
            subtype::ADD_TEMP_PERMIT => Pd::AddTempPermit(List::decode_rest(r)?),
            subtype::DEL_TEMP_PERMIT => Pd::DelTempPermit(List::decode_rest(r)?),
            _ => return Ok(None),
        }))
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Pd::RightsQuery(m) => m.tlvs.encode_rest(out),
            Pd::RightsReply(m) => m.tlvs.encode_rest(out),
            Pd::SetGroupPermitMask(mask) => out.put_u32(*mask),
            Pd::AddPermit(l)
            | Pd::DelPermit(l)
            | Pd::AddDeny(l)
            | Pd::DelDeny(l)
            | Pd::AddTempPermit(l)
            | Pd::DelTempPermit(l) => l.encode_rest(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snac::{Message, Snac};
    use crate::testing::hex;
    use proptest::prelude::*;

    fn round_trip(bytes: &[u8]) -> Snac<'_> {
        let snac = Snac::decode(bytes).unwrap();
        let again = snac.to_bytes();
        assert_eq!(again, bytes);
        assert_eq!(Snac::decode(&again).unwrap(), snac);
        snac
    }

    fn body<'s, 'a>(snac: &'s Snac<'a>) -> &'s Pd<'a> {
        match &snac.message {
            Message::Pd(m) => m,
            other => panic!("not PD: {other:?}"),
        }
    }

    fn build(request_id: u32, m: Pd<'_>) -> Vec<u8> {
        Snac::new(request_id, Message::Pd(m)).to_bytes()
    }

    fn names(list: &[&'static str]) -> List<'static, ScreenNameItem> {
        let v: Vec<ScreenName<'static>> = list.iter().map(|s| ScreenName::try_from(*s).unwrap()).collect();
        screen_names(&v).unwrap()
    }

    #[test]
    fn rights_query_known_answer() {
        // captures: libpurple and Twisted send it empty
        let bytes = hex("00 09 00 02 00 00 00 00 00 0A");
        assert_eq!(body(&round_trip(&bytes)), &Pd::RightsQuery(RightsQuery::new()));
        assert_eq!(build(0x0A, Pd::RightsQuery(RightsQuery::default())), bytes);
        // a query carrying a TLV still decodes and round-trips
        round_trip(&hex("00 09 00 02 00 00 00 00 00 0A 00 05 00 02 00 01"));
    }

    #[test]
    fn rights_reply_known_answer() {
        // capture: Open OSCAR, 100 of each, in the order 0x0002, 0x0001, 0x0003
        let bytes = hex("00 09 00 03 00 00 00 00 00 0A 00 02 00 02 00 64 00 01 00 02 00 64 00 03 00 02 00 64");
        let snac = round_trip(&bytes);
        let Pd::RightsReply(r) = body(&snac) else {
            panic!("09/03")
        };
        assert_eq!(
            (r.max_permits(), r.max_denies(), r.max_temp_permits()),
            (Some(100), Some(100), Some(100))
        );
        assert_eq!(build(0x0A, Pd::RightsReply(RightsReply::new(100, 100, 100))), bytes);
        // limits are optional
        let empty = hex("00 09 00 03 00 00 00 00 00 0A");
        let snac = round_trip(&empty);
        let Pd::RightsReply(r) = body(&snac) else {
            panic!("09/03")
        };
        assert_eq!(r.max_permits(), None);
    }

    #[test]
    fn set_group_permit_mask_known_answer() {
        let bytes = hex("00 09 00 04 00 00 00 00 00 05 00 00 00 1F");
        assert_eq!(body(&round_trip(&bytes)), &Pd::SetGroupPermitMask(0x1F));
        assert_eq!(build(5, Pd::SetGroupPermitMask(0x1F)), bytes);
    }

    #[test]
    fn list_edits_known_answers() {
        let tail = "05 61 6C 69 63 65 05 62 6F 62 62 79"; // "alice", "bobby"
        type Ctor = fn(List<'static, ScreenNameItem>) -> Pd<'static>;
        let cases: [(u16, Ctor); 6] = [
            (0x05, Pd::AddPermit),
            (0x06, Pd::DelPermit),
            (0x07, Pd::AddDeny),
            (0x08, Pd::DelDeny),
            (0x0A, Pd::AddTempPermit),
            (0x0B, Pd::DelTempPermit),
        ];
        for (sub, ctor) in cases {
            let bytes = hex(&format!("00 09 00 {sub:02X} 00 00 00 00 00 0C {tail}"));
            let snac = round_trip(&bytes);
            let expected = ctor(names(&["alice", "bobby"]));
            assert_eq!(body(&snac), &expected);
            assert_eq!(expected.subtype(), sub);
            assert_eq!(build(0x0C, expected), bytes);
        }
        // an empty edit is legal
        round_trip(&hex("00 09 00 07 00 00 00 00 00 0C"));
    }

    #[test]
    fn negative_cases() {
        // rights TLV of the wrong width
        assert!(matches!(
            Snac::decode(&hex("00 09 00 03 00 00 00 00 00 0A 00 01 00 01 64")),
            Err(DecodeError::BadLength {
                what: "PD rights max permits",
                len: 1
            })
        ));
        // TLV overrun
        assert!(matches!(
            Snac::decode(&hex("00 09 00 03 00 00 00 00 00 0A 00 02 00 04 00 64")),
            Err(DecodeError::TlvOverrun { tag: 2, .. })
        ));
        // screen name longer than the body
        assert!(matches!(
            Snac::decode(&hex("00 09 00 05 00 00 00 00 00 0C 05 61 6C")),
            Err(DecodeError::Truncated { .. })
        ));
        // truncated mask, and a mask with a trailing byte
        assert!(Snac::decode(&hex("00 09 00 04 00 00 00 00 00 05 00 00 1F")).is_err());
        assert!(matches!(
            Snac::decode(&hex("00 09 00 04 00 00 00 00 00 05 00 00 00 1F 00")),
            Err(DecodeError::TrailingBytes { .. })
        ));
        // untyped subtype 0x0009 stays raw
        let raw = hex("00 09 00 09 00 00 00 00 00 01 AB");
        let snac = round_trip(&raw);
        assert!(matches!(
            snac.message,
            Message::Raw {
                family: 9,
                subtype: 9,
                ..
            }
        ));
    }

    fn screen_name_list() -> impl Strategy<Value = List<'static, ScreenNameItem>> {
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 0..6).prop_map(|v| {
            let names: Vec<ScreenName<'static>> = v.into_iter().map(|n| ScreenName::new(n).unwrap()).collect();
            screen_names(&names).unwrap()
        })
    }

    fn pd() -> impl Strategy<Value = Pd<'static>> {
        prop_oneof![
            Just(Pd::RightsQuery(RightsQuery::new())),
            any::<[u16; 3]>().prop_map(|[p, d, t]| Pd::RightsReply(RightsReply::new(p, d, t))),
            any::<u32>().prop_map(Pd::SetGroupPermitMask),
            screen_name_list().prop_map(Pd::AddPermit),
            screen_name_list().prop_map(Pd::DelPermit),
            screen_name_list().prop_map(Pd::AddDeny),
            screen_name_list().prop_map(Pd::DelDeny),
            screen_name_list().prop_map(Pd::AddTempPermit),
            screen_name_list().prop_map(Pd::DelTempPermit),
        ]
    }

    proptest! {
        #[test]
        fn typed_messages_round_trip(m in pd(), request_id in any::<u32>()) {
            let mut body_bytes = Vec::new();
            m.encode(&mut body_bytes);
            let mut r = Reader::new(&body_bytes);
            let back = Pd::decode(m.subtype(), &mut r).unwrap().unwrap();
            prop_assert!(r.is_empty());
            prop_assert_eq!(&back, &m);
            let mut again = Vec::new();
            back.encode(&mut again);
            prop_assert_eq!(&again, &body_bytes);
            let snac = Snac::new(request_id, Message::Pd(m.clone()));
            let wire = snac.to_bytes();
            prop_assert_eq!(Snac::decode(&wire).unwrap(), snac);
        }

        #[test]
        fn arbitrary_bytes_never_panic(subtype in 0u16..0x10, input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut r = Reader::new(&input);
            if let Ok(Some(m)) = Pd::decode(subtype, &mut r) {
                let used = input.len() - r.remaining();
                let mut out = Vec::new();
                m.encode(&mut out);
                prop_assert_eq!(&out[..], &input[..used]);
                if let Pd::RightsReply(rr) = &m {
                    let _ = (rr.max_permits(), rr.max_denies(), rr.max_temp_permits());
                }
            }
        }
    }
}
