//! The SNAC bodies of the synthetic session, one function per message.
//!
//! Every body is built with the typed constructors of its family (while a
//! family was still a placeholder its bodies were written from hex as
//! `Message::Raw`; none is left).

use flapjack_wire::Family;
use flapjack_wire::family::bucp::{Bucp, ChallengeRequest, ChallengeResponse, ClientInfo, LoginRequest, LoginResponse};
use flapjack_wire::family::buddy::Buddy;
use flapjack_wire::family::feedbag::{self, Feedbag, FeedbagItem};
use flapjack_wire::family::icbm::{HostAck, Icbm, IncomingIm, SendIm, SendImFlags, TypingEvent, TypingNotification};
use flapjack_wire::family::oservice::{
    ClientReadyEntry, FamilyVersion, Oservice, RateClass, RateClassExtra, RateLayout, RateParamsReply, SelfInfo,
    SnacType,
};
use flapjack_wire::snac::Message;
use flapjack_wire::tlv::TlvBlock;
use flapjack_wire::types::{Capability, IcbmCookie, ScreenName, Str16};
use flapjack_wire::userinfo::{self, UserInfo, UserInfoTlvs};

/// Request ids of server-initiated SNACs carry the high bit.
pub const SERVER_REQUEST_ID: u32 = 0x8000_0001;

/// The BOS login cookie handed out in 17/03 and presented on channel 1.
pub const COOKIE: &[u8] = b"\x01\x02\x03\x04\x05\x06\x07\x08flapjack-test-cookie";

// ---- BUCP (typed) ----

pub fn challenge_request() -> Message<'static> {
    Message::Bucp(Bucp::ChallengeRequest(ChallengeRequest::new(b"alice").unwrap()))
}

pub fn challenge_response() -> Message<'static> {
    Message::Bucp(Bucp::ChallengeResponse(ChallengeResponse {
        key: Str16::new(&b"3141592653"[..]).unwrap(),
        tlvs: TlvBlock::empty(),
    }))
}

pub fn login_request() -> Message<'static> {
    let hash = [
        0x3C, 0x6D, 0x35, 0x9F, 0x22, 0xD2, 0x34, 0xB6, 0xF9, 0x4B, 0x3D, 0x25, 0x6C, 0x34, 0xF1, 0xB1,
    ];
    let client = ClientInfo {
        id_string: "AOL Instant Messenger, version 5.9.3702/WIN32".into(),
        ..ClientInfo::default()
    };
    Message::Bucp(Bucp::LoginRequest(
        LoginRequest::new(b"alice", &hash, true, &client).unwrap(),
    ))
}

pub fn login_response() -> Message<'static> {
    Message::Bucp(Bucp::LoginResponse(
        LoginResponse::success(b"alice", b"192.0.2.20:5290", COOKIE, None).unwrap(),
    ))
}

// ---- OSERVICE (typed) ----

const FAMILIES: [Family; 6] = [
    Family::Oservice,
    Family::Locate,
    Family::Buddy,
    Family::Icbm,
    Family::Pd,
    Family::Feedbag,
];

fn versions() -> Vec<FamilyVersion> {
    [
        (Family::Oservice, 3),
        (Family::Feedbag, 4),
        (Family::Locate, 1),
        (Family::Buddy, 1),
        (Family::Icbm, 1),
        (Family::Pd, 1),
    ]
    .into_iter()
    .map(|(family, version)| FamilyVersion { family, version })
    .collect()
}

pub fn host_online() -> Message<'static> {
    Message::Oservice(Oservice::host_online(&FAMILIES).unwrap())
}

pub fn client_versions() -> Message<'static> {
    Message::Oservice(Oservice::client_versions(&versions()).unwrap())
}

pub fn host_versions() -> Message<'static> {
    Message::Oservice(Oservice::host_versions(&versions()).unwrap())
}

pub fn rate_params_query() -> Message<'static> {
    Message::Oservice(Oservice::RateParamsQuery)
}

pub fn rate_params_reply() -> Message<'static> {
    let mut class = RateClass::new(1, 80, 2500, 2000, 1500, 800, 6000);
    class.extra = Some(RateClassExtra::default());
    let members = [
        SnacType::new(0x0004, 0x0006),
        SnacType::new(0x0001, 0x0002),
        SnacType::new(0x0004, 0x0014),
    ];
    Message::Oservice(Oservice::RateParamsReply(
        RateParamsReply::new(RateLayout::Extended, &[(class, &members[..])]).unwrap(),
    ))
}

pub fn rate_ack() -> Message<'static> {
    Message::Oservice(Oservice::rate_params_sub_add(&[1]).unwrap())
}

pub fn self_info_query() -> Message<'static> {
    Message::Oservice(Oservice::SelfInfoQuery)
}

fn user_info(name: &'static str, signon: u32, caps: Vec<Capability>) -> UserInfo<'static> {
    let tlvs = UserInfoTlvs {
        class: Some(userinfo::class::AIM),
        signon_time: Some(signon),
        member_since: Some(0x3A00_0000),
        capabilities: caps,
        ..UserInfoTlvs::default()
    }
    .build()
    .unwrap();
    UserInfo::new(ScreenName::try_from(name).unwrap(), 0, tlvs)
}

pub fn self_info() -> Message<'static> {
    Message::Oservice(Oservice::SelfInfo(SelfInfo::new(user_info(
        "alice",
        0x3B67_F000,
        Vec::new(),
    ))))
}

pub fn client_ready() -> Message<'static> {
    let entries: Vec<ClientReadyEntry> = versions()
        .into_iter()
        .map(|v| ClientReadyEntry {
            family: v.family,
            version: v.version,
            tool_id: 0x0110,
            tool_version: 0x0629,
        })
        .collect();
    Message::Oservice(Oservice::client_ready(&entries).unwrap())
}

// ---- FEEDBAG (typed) ----

pub fn feedbag_rights_query() -> Message<'static> {
    Message::Feedbag(Feedbag::RightsQuery(TlvBlock::empty()))
}

pub fn feedbag_rights_reply() -> Message<'static> {
    // Max items per class: buddies 200, groups 61, permit 200, deny 200, PD 1.
    Message::Feedbag(Feedbag::RightsReply(
        feedbag::RightsReply::from_max_items_by_class(&[200, 61, 200, 200, 1]).unwrap(),
    ))
}

pub fn feedbag_query() -> Message<'static> {
    Message::Feedbag(Feedbag::Query)
}

pub fn feedbag_reply() -> Message<'static> {
    let items = [
        FeedbagItem::root_group(&[1]).unwrap(),
        FeedbagItem::group(&b"Buddies"[..], 1, &[0x10]).unwrap(),
        FeedbagItem::buddy(&b"bobby"[..], 1, 0x10)
            .unwrap()
            .with_attr(feedbag::tag::ALIAS, b"Bob")
            .unwrap(),
    ];
    Message::Feedbag(Feedbag::Reply(feedbag::Reply::new(&items, 0x3B67_F000).unwrap()))
}

pub fn feedbag_use() -> Message<'static> {
    Message::Feedbag(Feedbag::Use)
}

// ---- BUDDY (typed) ----

pub fn buddy_arrived() -> Message<'static> {
    Message::Buddy(Buddy::Arrived(user_info(
        "bobby",
        0x3B67_F010,
        vec![Capability::TYPING],
    )))
}

// ---- ICBM (typed) ----

/// The text alice sends.
pub const TEXT_OUT: &str = "hello from alice";
/// The text bobby answers.
pub const TEXT_IN: &str = "hi alice, bobby here";

fn bobby() -> ScreenName<'static> {
    ScreenName::try_from("bobby").unwrap()
}

fn sent_im() -> SendIm<'static> {
    let flags = SendImFlags {
        request_ack: true,
        ..SendImFlags::default()
    };
    SendIm::channel1(IcbmCookie(*b"12345678"), bobby(), TEXT_OUT, flags).unwrap()
}

pub fn send_im() -> Message<'static> {
    Message::Icbm(Icbm::SendIm(sent_im()))
}

pub fn host_ack() -> Message<'static> {
    Message::Icbm(Icbm::HostAck(HostAck::for_im(&sent_im())))
}

pub fn incoming_im() -> Message<'static> {
    let reply = SendIm::channel1(IcbmCookie(*b"87654321"), bobby(), TEXT_IN, SendImFlags::default()).unwrap();
    let sender = user_info("bobby", 0x3B67_F010, Vec::new());
    Message::Icbm(Icbm::IncomingIm(IncomingIm::relay(&reply, sender, false).unwrap()))
}

pub fn typing() -> Message<'static> {
    Message::Icbm(Icbm::Typing(TypingNotification::new(bobby(), TypingEvent::Begun)))
}

/// Lines tshark's `-V` output must contain.
pub fn expected_dissection() -> Vec<&'static str> {
    vec![
        // BUCP
        "FNAC Family ID: AIM Signon (0x0017)",
        "FNAC Subtype ID: Sign-on (0x0006)",
        "FNAC Subtype ID: Sign-on Reply (0x0007)",
        "FNAC Subtype ID: Logon (0x0002)",
        "FNAC Subtype ID: Logon Reply (0x0003)",
        "Value: alice",
        "Value: AOL Instant Messenger, version 5.9.3702/WIN32",
        "Value: 192.0.2.20:5290",
        // OSERVICE
        "FNAC Family ID: AIM Generic (0x0001)",
        "FNAC Subtype ID: Server Ready (0x0003)",
        "FNAC Subtype ID: Capabilities (0x0017)",
        "FNAC Subtype ID: Capabilities Ack (0x0018)",
        "FNAC Subtype ID: Rate Info Request (0x0006)",
        "FNAC Subtype ID: Rate Info (0x0007)",
        "FNAC Subtype ID: Rate Info Ack (0x0008)",
        "FNAC Subtype ID: Self Info Request (0x000e)",
        "FNAC Subtype ID: Self Info Reply (0x000f)",
        "FNAC Subtype ID: Client Ready (0x0002)",
        "Buddy Name: alice",
        // FEEDBAG
        "FNAC Family ID: AIM SSI (0x0013)",
        "FNAC Subtype ID: Request Rights (0x0002)",
        "FNAC Subtype ID: Rights Info (0x0003)",
        "FNAC Subtype ID: Request List (first time) (0x0004)",
        "FNAC Subtype ID: List (0x0006)",
        "FNAC Subtype ID: Activate (0x0007)",
        "Buddy Name: Buddies",
        "SSI Buddy Name length: 0x0005",
        "Value: Bob",
        // BUDDY
        "FNAC Family ID: AIM Buddylist (0x0003)",
        "FNAC Subtype ID: Oncoming Buddy (0x000b)",
        // ICBM
        "FNAC Family ID: AIM Messaging (0x0004)",
        "FNAC Subtype ID: Outgoing (0x0006)",
        "FNAC Subtype ID: Incoming (0x0007)",
        "FNAC Subtype ID: Acknowledge (0x000c)",
        "FNAC Subtype ID: Mini Typing Notifications (MTN) (0x0014)",
        "Buddy Name: bobby",
        "Message: hello from alice",
        "Message: hi alice, bobby here",
    ]
}

/// Every SNAC body of the session, in order (all typed: a raw body would be a
/// family still missing its typed messages).
pub fn all() -> Vec<Message<'static>> {
    vec![
        challenge_request(),
        challenge_response(),
        login_request(),
        login_response(),
        host_online(),
        client_versions(),
        host_versions(),
        rate_params_query(),
        rate_params_reply(),
        rate_ack(),
        self_info_query(),
        self_info(),
        client_ready(),
        feedbag_rights_query(),
        feedbag_rights_reply(),
        feedbag_query(),
        feedbag_reply(),
        feedbag_use(),
        buddy_arrived(),
        send_im(),
        host_ack(),
        incoming_im(),
        typing(),
    ]
}

/// Which messages of the session are typed and which raw.
pub fn typed_summary() -> String {
    all()
        .iter()
        .map(|m| {
            let kind = if matches!(m, Message::Raw { .. }) {
                "raw"
            } else {
                "typed"
            };
            format!("{:02X}/{:02X} {kind}", m.family(), m.subtype())
        })
        .collect::<Vec<_>>()
        .join(", ")
}
