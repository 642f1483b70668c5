//! The sans-IO session against scripted server bytes, with a fake clock: every login flow, the
//! BOS handshake, IMs, presence, buddy-list transactions, chat, keepalives, rate limiting and
//! sign-off.

mod common;

use std::time::Duration;

use common::{Drained, Harness, typed};
use flapjack_auth::bucp::HashKind;
use flapjack_client::session::{ConnId, ConnKind, LoginMethod, SessionConfig};
use flapjack_client::{
    BuddyEdit, ClientError, Command, Event, FeedbagOp, FeedbagStatus, ImRequest, MessageId, RequestContext,
    SignOffReason, TxId,
};
use flapjack_wire::family::bucp::{Bucp, ChallengeResponse, LoginError, LoginResponse};
use flapjack_wire::family::chat::{Chat, ChatIncoming, MessageInfo};
use flapjack_wire::family::chat_nav::{ChatNav, NavInfo, RoomInfo};
use flapjack_wire::family::feedbag::{Feedbag, FeedbagItem, Reply, RightsReply};
use flapjack_wire::family::icbm::{
    HostAck, Icbm, IcbmChannel, IcbmParams, IncomingIm, SendIm, SendImFlags, TypingEvent, TypingNotification,
};
use flapjack_wire::family::oservice::{
    FamilyVersion, Oservice, RateChange, RateChangeCode, RateLayout, RateParamsReply, RateState, RateStatus, SelfInfo,
    ServiceResponse, SnacType,
};
use flapjack_wire::family::pd::{Pd, RightsReply as PdRights};
use flapjack_wire::flap::{Channel, FlapMessage, signoff_tag};
use flapjack_wire::snac::{Message, SnacError, flags};
use flapjack_wire::testing::hex;
use flapjack_wire::userinfo::{UserInfoTlvs, class};
use flapjack_wire::{ErrorCode, Family, IcbmCookie, RoomId, ScreenName, Str08, Str16, TlvBlock, UserInfo};

const BOS_FAMILIES: [u16; 6] = [0x0001, 0x0002, 0x0003, 0x0004, 0x0009, 0x0013];

fn user(name: &str, class_flags: u16) -> UserInfo<'static> {
    let tlvs = UserInfoTlvs {
        class: Some(class_flags),
        signon_time: Some(1_700_000_000),
        ..Default::default()
    }
    .build()
    .unwrap();
    UserInfo::new(ScreenName::new(name.as_bytes().to_vec()).unwrap(), 0, tlvs)
}

fn rate_reply(families: &[u16]) -> RateParamsReply<'static> {
    let snacs: Vec<SnacType> = families
        .iter()
        .flat_map(|&f| (1..=0x20).map(move |s| SnacType::new(f, s)))
        .collect();
    RateParamsReply::aol_default(RateLayout::Extended, &snacs).unwrap()
}

fn bucp_config(hash: HashKind) -> SessionConfig {
    SessionConfig::new(
        "test",
        "password",
        LoginMethod::Bucp {
            host: "login.test".into(),
            port: 5190,
            hash,
            tls_cert_name: None,
        },
    )
}

fn cookie_config() -> SessionConfig {
    SessionConfig::new(
        "alice",
        "",
        LoginMethod::Cookie {
            host: "bos.test".into(),
            port: 5191,
            cookie: (0..8).collect(),
            tls_cert_name: None,
        },
    )
}

/// Runs the OSERVICE opening of a service connection up to the rate subscription; returns what
/// the client sent after 01/07.
fn service_opening(h: &mut Harness, conn: ConnId, families: &[u16]) -> Drained {
    service_opening_with(h, conn, families, rate_reply(families))
}

/// [`service_opening`] with the given rate classes.
fn service_opening_with(h: &mut Harness, conn: ConnId, families: &[u16], rates: RateParamsReply<'_>) -> Drained {
    h.server_hello(conn);
    let fams: Vec<Family> = families.iter().map(|f| Family::from(*f)).collect();
    h.server_snac(
        conn,
        0x8000_0001,
        Message::Oservice(Oservice::host_online(&fams).unwrap()),
    );
    let d = h.drain();
    let (hdr, payload) = d.find_snac(conn, 1, 0x17).expect("client versions after host online");
    let Message::Oservice(Oservice::ClientVersions(versions)) = typed(&payload).message else {
        panic!("01/17")
    };
    let announced: Vec<u16> = versions.iter().map(|v| v.family.value()).collect();
    assert_eq!(announced, families, "versions for exactly the families served");
    let echo: Vec<FamilyVersion> = versions.iter().collect();
    h.server_snac(
        conn,
        hdr.request_id,
        Message::Oservice(Oservice::host_versions(&echo).unwrap()),
    );
    let d = h.drain();
    let (hdr, _) = d.find_snac(conn, 1, 0x06).expect("rate query after host versions");
    h.server_snac(
        conn,
        hdr.request_id,
        Message::Oservice(Oservice::RateParamsReply(rates)),
    );
    let d = h.drain();
    let (_, ack) = d.find_snac(conn, 1, 0x08).expect("rate subscription");
    let Message::Oservice(Oservice::RateParamsSubAdd(ids)) = typed(&ack).message else {
        panic!("01/08")
    };
    assert_eq!(ids.iter().collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    d
}

/// Signs on with a cookie and answers every sign-on query; returns the BOS id and what the
/// client sent and reported last.
fn sign_on(h: &mut Harness, buddies: &[FeedbagItem<'static>]) -> (ConnId, Drained) {
    let (bos, _, online) = sign_on_full(h, buddies);
    (bos, online)
}

/// As [`sign_on`], also returning what the client sent up to client ready.
fn sign_on_full(h: &mut Harness, buddies: &[FeedbagItem<'static>]) -> (ConnId, Drained, Drained) {
    sign_on_with(h, buddies, rate_reply(&BOS_FAMILIES))
}

/// As [`sign_on_full`], with the given rate classes.
fn sign_on_with(
    h: &mut Harness,
    buddies: &[FeedbagItem<'static>],
    rates: RateParamsReply<'_>,
) -> (ConnId, Drained, Drained) {
    let d = h.drain();
    let bos = d.connect_for(&ConnKind::Bos).expect("connect to BOS");
    assert_eq!(d.connects[0].2, "bos.test");
    assert_eq!(d.connects[0].3, 5191);
    h.connected(bos);
    let d = h.drain();
    let hello = &d.frames_on(bos)[0];
    assert_eq!(hello.channel, Channel::Signon);
    let FlapMessage::Signon(s) = hello.message().unwrap() else {
        panic!()
    };
    assert_eq!(s.cookie(), Some(&[0u8, 1, 2, 3, 4, 5, 6, 7][..]));

    let d = service_opening_with(h, bos, &BOS_FAMILIES, rates);
    let types = d.snac_types(bos);
    for q in [(1, 0x0E), (0x13, 2), (0x13, 4), (2, 2), (3, 2), (4, 4), (9, 2)] {
        assert!(types.contains(&q), "sign-on query {q:?} in {types:?}");
    }
    assert!(!types.contains(&(1, 2)), "no client ready before the answers");
    let rid = |fam, sub| d.find_snac(bos, fam, sub).unwrap().0.request_id;

    h.server_snac(
        bos,
        rid(1, 0x0E),
        Message::Oservice(Oservice::SelfInfo(SelfInfo::new(user("Alice", class::AIM)))),
    );
    h.server_snac(
        bos,
        rid(0x13, 2),
        Message::Feedbag(Feedbag::RightsReply(
            RightsReply::from_max_items_by_class(&[200, 61, 200, 200, 1]).unwrap(),
        )),
    );
    // The list in two parts.
    let (first, second) = buddies.split_at(buddies.len() / 2);
    h.server_snac_flags(
        bos,
        rid(0x13, 4),
        flags::MORE_FOLLOWS,
        Message::Feedbag(Feedbag::Reply(Reply::new(first, 7).unwrap())),
    );
    assert!(
        !h.drain().snac_types(bos).contains(&(0x13, 7)),
        "no use before the last part"
    );
    h.server_snac(
        bos,
        rid(0x13, 4),
        Message::Feedbag(Feedbag::Reply(Reply::new(second, 7).unwrap())),
    );
    h.server_raw_snac(bos, 2, 3, rid(2, 2), &hex("00 01 00 02 04 00"));
    h.server_raw_snac(bos, 3, 3, rid(3, 2), &hex("00 01 00 02 00 C8"));
    h.server_snac(bos, rid(9, 2), Message::Pd(Pd::RightsReply(PdRights::new(200, 200, 0))));
    let before = h.drain();
    assert!(
        !before.snac_types(bos).contains(&(1, 2)),
        "still waiting for ICBM params"
    );
    assert!(
        before.snac_types(bos).contains(&(0x13, 7)),
        "feedbag use after the list"
    );
    h.server_snac(
        bos,
        rid(4, 4),
        Message::Icbm(Icbm::ParamsReply {
            max_slots: 100,
            params: IcbmParams::SERVER_DEFAULT,
        }),
    );
    let d = h.drain();
    let types = d.snac_types(bos);
    let pos = |t| {
        types
            .iter()
            .position(|x| *x == t)
            .unwrap_or_else(|| panic!("{t:?} in {types:?}"))
    };
    assert!(pos((4, 2)) < pos((1, 2)), "ICBM params before client ready");
    assert!(pos((2, 4)) < pos((1, 2)), "capabilities before client ready");
    assert!(pos((1, 2)) < pos((1, 0x0E)), "a self-info query confirms client ready");
    assert!(!types.contains(&(4, 0x10)));
    assert!(!h.session.is_online(), "not before the server confirmed");
    assert!(!d.events.iter().any(|e| matches!(e, Event::SignedOn { .. })));
    let (confirm, _) = d.find_snac(bos, 1, 0x0E).unwrap();
    h.server_snac(
        bos,
        confirm.request_id,
        Message::Oservice(Oservice::SelfInfo(SelfInfo::new(user("Alice", class::AIM)))),
    );
    let online = h.drain();
    assert_eq!(online.snac_types(bos), [(4, 0x10)], "offline messages once online");
    assert!(h.session.is_online());
    (bos, d, online)
}

// -------------------------------------------------------------------------------------------
// Logins

fn bucp_until_hash(hash: HashKind) -> (Harness, ConnId, Vec<u8>) {
    let mut h = Harness::new(bucp_config(hash));
    let d = h.drain();
    assert_eq!(d.connects.len(), 1);
    let (login, kind, host, port, tls) = d.connects[0].clone();
    assert_eq!(
        (kind, host.as_str(), port, tls),
        (ConnKind::Login, "login.test", 5190, None)
    );
    h.connected(login);
    let d = h.drain();
    let frames = d.frames_on(login);
    assert_eq!(frames.len(), 1, "only the hello before the server's hello");
    assert_eq!(frames[0].payload(), [0, 0, 0, 1]);
    h.server_hello(login);
    let d = h.drain();
    let (hdr, payload) = d.find_snac(login, 0x17, 6).expect("17/06");
    let Message::Bucp(Bucp::ChallengeRequest(req)) = typed(&payload).message else {
        panic!()
    };
    assert_eq!(req.screen_name(), b"test");
    h.server_snac(
        login,
        hdr.request_id,
        Message::Bucp(Bucp::ChallengeResponse(ChallengeResponse {
            key: Str16::try_from("3141592653").unwrap(),
            tlvs: TlvBlock::empty(),
        })),
    );
    let d = h.drain();
    let (_, payload) = d.find_snac(login, 0x17, 2).expect("17/02");
    (h, login, payload)
}

#[test]
fn bucp_strong_hash_login_then_bos() {
    let (mut h, login, payload) = bucp_until_hash(HashKind::Strong);
    let Message::Bucp(Bucp::LoginRequest(req)) = typed(&payload).message else {
        panic!()
    };
    // §6.2.3 known answer: key 3141592653, password "password".
    assert_eq!(req.password_hash().to_vec(), hex("3c6d359f22d234b6f94b3d256c34f1b1"));
    assert!(req.is_strong());
    assert_eq!(req.screen_name(), b"test");
    let resp = LoginResponse::success(b"Test", b"bos.test:5191", &[9; 16], None).unwrap();
    h.server_snac(login, 2, Message::Bucp(Bucp::LoginResponse(resp)));
    let d = h.drain();
    assert!(d.closes.contains(&login));
    let bos = d.connect_for(&ConnKind::Bos).expect("BOS");
    let c = d.connects.iter().find(|c| c.0 == bos).unwrap();
    assert_eq!((c.2.as_str(), c.3, c.4.clone()), ("bos.test", 5191, None));
    h.connected(bos);
    let d = h.drain();
    let FlapMessage::Signon(s) = d.frames_on(bos)[0].message().unwrap() else {
        panic!()
    };
    assert_eq!(s.cookie(), Some(&[9u8; 16][..]));
    assert!(s.tlvs.contains(0x0003), "client identity with the cookie");
}

#[test]
fn bucp_weak_hash_on_request() {
    let (_, _, payload) = bucp_until_hash(HashKind::Weak);
    let Message::Bucp(Bucp::LoginRequest(req)) = typed(&payload).message else {
        panic!()
    };
    assert_eq!(req.password_hash().to_vec(), hex("9622ee629a7581516626405d0a23a58e"));
    assert!(!req.is_strong());
}

#[test]
fn bucp_tls_answer_and_failure() {
    // TLS: the answer names a certificate.
    let (mut h, login, _) = bucp_until_hash(HashKind::Strong);
    let resp = LoginResponse::success(b"Test", b"bos.test", &[1; 4], Some(b"bos.test")).unwrap();
    h.server_snac(login, 2, Message::Bucp(Bucp::LoginResponse(resp)));
    let d = h.drain();
    let c = d.connects.iter().find(|c| c.1 == ConnKind::Bos).unwrap();
    assert_eq!(
        (c.3, c.4.as_deref()),
        (5190, Some("bos.test")),
        "default port, TLS name"
    );

    // Failure: a typed login error, then the session ends.
    let (mut h, login, _) = bucp_until_hash(HashKind::Strong);
    let resp = LoginResponse::failure(b"test", LoginError::IncorrectPassword).unwrap();
    h.server_snac(login, 2, Message::Bucp(Bucp::LoginResponse(resp)));
    let d = h.drain();
    let err = d
        .events
        .iter()
        .find_map(|e| match e {
            Event::Error(err) => Some(err.clone()),
            _ => None,
        })
        .unwrap();
    assert!(matches!(
        err,
        ClientError::Login {
            code: LoginError::IncorrectPassword,
            ..
        }
    ));
    assert!(err.to_string().contains("0x0005"));
    assert!(matches!(
        d.events.last(),
        Some(Event::SignedOff {
            reason: SignOffReason::LoginFailed(_)
        })
    ));
    assert!(h.session.is_ended());
    assert!(matches!(
        h.command(Command::SetIdle { seconds: 1 }),
        Err(ClientError::SignedOff(_))
    ));
}

#[test]
fn roasted_login() {
    let mut cfg = bucp_config(HashKind::Strong);
    cfg.login = LoginMethod::Roasted {
        host: "login.test".into(),
        port: 5190,
        tls_cert_name: None,
    };
    let mut h = Harness::new(cfg);
    let login = h.drain().connects[0].0;
    h.connected(login);
    let d = h.drain();
    let FlapMessage::Signon(s) = d.frames_on(login)[0].message().unwrap() else {
        panic!()
    };
    assert_eq!(s.version, 1);
    assert_eq!(s.tlvs.get(1), Some(&b"test"[..]));
    // §6.1 known answer: "password" roasted with the OSCAR table.
    assert_eq!(s.tlvs.get(2).unwrap().to_vec(), hex("83 47 F2 B7 4E E9 A9 F6"));
    h.server_hello(login);
    assert!(h.drain().frames_on(login).is_empty(), "nothing more until the result");
    let result = LoginResponse::success(b"Test", b"127.0.0.1:6000", &[5; 8], None).unwrap();
    h.server_signoff(login, result.tlvs);
    let d = h.drain();
    let c = d.connects.iter().find(|c| c.1 == ConnKind::Bos).unwrap();
    assert_eq!((c.2.as_str(), c.3), ("127.0.0.1", 6000));

    // A refused roasted login.
    let mut cfg = bucp_config(HashKind::Strong);
    cfg.login = LoginMethod::Roasted {
        host: "login.test".into(),
        port: 5190,
        tls_cert_name: None,
    };
    let mut h = Harness::new(cfg);
    let login = h.drain().connects[0].0;
    h.connected(login);
    let failure = LoginResponse::failure(b"test", LoginError::InvalidScreenName).unwrap();
    h.server_signoff(login, failure.tlvs);
    let d = h.drain();
    assert!(d.events.iter().any(|e| matches!(
        e,
        Event::Error(ClientError::Login {
            code: LoginError::InvalidScreenName,
            ..
        })
    )));
    assert!(h.session.is_ended());
}

/// The channel-1 payload of the BOS connection the session opens next.
fn bos_hello_payload(h: &mut Harness) -> Vec<u8> {
    let d = h.drain();
    let bos = d.connect_for(&ConnKind::Bos).expect("a BOS connection");
    h.connected(bos);
    let d = h.drain();
    let hello = &d.frames_on(bos)[0];
    assert_eq!(hello.channel, Channel::Signon);
    hello.payload().to_vec()
}

/// The BOS cookie hello carries the client identity — 0x0003 id string, 0x0017–0x001A version —
/// and the configured multi-connection flag 0x004A (§2.9) after every kind of login, so that a
/// second OpenAuth session does not sign the first one off.
#[test]
fn the_cookie_hello_carries_the_identity_and_the_multi_connection_flag() {
    let expected = |cookie: &str, multi_conn: &str| {
        hex(&format!(
            "00 00 00 01 \
             00 06 00 08 {cookie} \
             00 03 00 08 66 6C 61 70 6A 61 63 6B \
             00 17 00 02 00 05  00 18 00 02 00 01  00 19 00 02 00 00  00 1A 00 02 0B DC \
             {multi_conn}"
        ))
    };
    const ALLOW: &str = "00 4A 00 01 01";

    // OpenAuth: straight to BOS with the cookie.
    let mut h = Harness::new(cookie_config());
    assert_eq!(bos_hello_payload(&mut h), expected("00 01 02 03 04 05 06 07", ALLOW));

    // Single session asked for: 0x03.
    let mut cfg = cookie_config();
    cfg.client_info.multi_conn = Some(3);
    let mut h = Harness::new(cfg);
    assert_eq!(
        bos_hello_payload(&mut h),
        expected("00 01 02 03 04 05 06 07", "00 4A 00 01 03")
    );

    // No flag configured: none sent (the server's policy decides).
    let mut cfg = cookie_config();
    cfg.client_info.multi_conn = None;
    let mut h = Harness::new(cfg);
    assert_eq!(bos_hello_payload(&mut h), expected("00 01 02 03 04 05 06 07", ""));

    // BUCP: the same after 17/03.
    let (mut h, login, _) = bucp_until_hash(HashKind::Strong);
    let resp = LoginResponse::success(b"Test", b"bos.test:5191", &[9; 8], None).unwrap();
    h.server_snac(login, 2, Message::Bucp(Bucp::LoginResponse(resp)));
    assert_eq!(bos_hello_payload(&mut h), expected("09 09 09 09 09 09 09 09", ALLOW));

    // Roasted: the same after the channel-4 result.
    let mut cfg = bucp_config(HashKind::Strong);
    cfg.login = LoginMethod::Roasted {
        host: "login.test".into(),
        port: 5190,
        tls_cert_name: None,
    };
    let mut h = Harness::new(cfg);
    let login = h.drain().connects[0].0;
    h.connected(login);
    h.drain();
    let result = LoginResponse::success(b"Test", b"127.0.0.1:6000", &[5; 8], None).unwrap();
    h.server_signoff(login, result.tlvs);
    assert_eq!(bos_hello_payload(&mut h), expected("05 05 05 05 05 05 05 05", ALLOW));
}

#[test]
fn login_connection_lost_and_sign_on_timeout() {
    let mut h = Harness::new(bucp_config(HashKind::Strong));
    let login = h.drain().connects[0].0;
    h.input(flapjack_client::Input::Closed(login, "refused".into()))
        .unwrap();
    let d = h.drain();
    assert!(matches!(
        d.events.last(),
        Some(Event::SignedOff {
            reason: SignOffReason::LoginFailed(_)
        })
    ));

    let mut h = Harness::new(bucp_config(HashKind::Strong));
    let login = h.drain().connects[0].0;
    h.connected(login);
    let d = h.drain();
    let deadline = d.timeout.expect("a sign-on deadline");
    h.advance_to(deadline);
    let d = h.drain();
    assert!(matches!(
        d.events.last(),
        Some(Event::SignedOff {
            reason: SignOffReason::SignOnTimeout
        })
    ));
}

// -------------------------------------------------------------------------------------------
// BOS

#[test]
fn bos_handshake_reports_self_info_and_buddy_list() {
    let mut h = Harness::new(cookie_config());
    let root = FeedbagItem::root_group(&[1]).unwrap();
    let group = FeedbagItem::group(b"Friends".to_vec(), 1, &[10, 11]).unwrap();
    let bob = FeedbagItem::buddy(b"bob".to_vec(), 1, 10).unwrap();
    let carol = FeedbagItem::buddy(b"carol".to_vec(), 1, 11).unwrap();
    let (bos, d, online) = sign_on_full(&mut h, &[root, group, bob, carol]);
    let Some(Event::SignedOn { self_info, buddy_list }) =
        online.events.iter().find(|e| matches!(e, Event::SignedOn { .. }))
    else {
        panic!("SignedOn in {:?}", online.events)
    };
    assert_eq!(self_info.screen_name, "Alice");
    assert_eq!(buddy_list.groups.len(), 1);
    assert_eq!(buddy_list.all_buddies().collect::<Vec<_>>(), ["bob", "carol"]);
    // 01/02 lists the families with tool ids.
    let (_, ready) = d.find_snac(bos, 1, 2).unwrap();
    let Message::Oservice(Oservice::ClientReady(entries)) = typed(&ready).message else {
        panic!()
    };
    let fams: Vec<u16> = entries.iter().map(|e| e.family.value()).collect();
    assert_eq!(fams, BOS_FAMILIES);
    assert!(entries.iter().all(|e| e.tool_id == 0x0110));
    // 04/02 asks for typing events and offline messages.
    let (_, set) = d.find_snac(bos, 4, 2).unwrap();
    let Message::Icbm(Icbm::SetParams { params, .. }) = typed(&set).message else {
        panic!()
    };
    assert_eq!(params.flags & 0x0109, 0x0109);

    // Presence: arrival, change, departure.
    let mut away = user("bob", class::AIM | class::AWAY);
    h.server_raw_snac(bos, 3, 0x0B, 0x8000_0002, &encode_user(&user("bob", class::AIM)));
    away.warning = 0;
    h.server_raw_snac(bos, 3, 0x0B, 0x8000_0003, &encode_user(&away));
    h.server_raw_snac(bos, 3, 0x0C, 0x8000_0004, &encode_user(&user("bob", 0)));
    let d = h.drain();
    assert!(matches!(&d.events[0], Event::BuddyArrived(s) if s.screen_name == "bob" && !s.away));
    assert!(matches!(&d.events[1], Event::BuddyChanged(s) if s.away));
    assert!(matches!(&d.events[2], Event::BuddyDeparted { screen_name } if screen_name == "bob"));
}

fn encode_user(u: &UserInfo<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    u.encode(&mut out);
    out
}

#[test]
fn only_families_the_server_offers_are_queried() {
    let mut h = Harness::new(cookie_config());
    let bos = h.drain().connects[0].0;
    h.connected(bos);
    h.drain();
    let d = service_opening(&mut h, bos, &[0x0001, 0x0004]);
    let types = d.snac_types(bos);
    assert!(types.contains(&(1, 0x0E)) && types.contains(&(4, 4)));
    assert!(!types.iter().any(|t| matches!(t.0, 2 | 3 | 9 | 0x13)), "{types:?}");
    let rid = |fam, sub| d.find_snac(bos, fam, sub).unwrap().0.request_id;
    h.server_snac(
        bos,
        rid(1, 0x0E),
        Message::Oservice(Oservice::SelfInfo(SelfInfo::new(user("alice", 0)))),
    );
    h.server_snac(
        bos,
        rid(4, 4),
        Message::Icbm(Icbm::ParamsReply {
            max_slots: 100,
            params: IcbmParams::SERVER_DEFAULT,
        }),
    );
    let d = h.drain();
    assert!(!h.session.is_online());
    let (confirm, _) = d.find_snac(bos, 1, 0x0E).expect("the confirming self-info query");
    h.server_snac(
        bos,
        confirm.request_id,
        Message::Oservice(Oservice::SelfInfo(SelfInfo::new(user("alice", 0)))),
    );
    let d = h.drain();
    assert!(h.session.is_online(), "{:?}", d.events);
    assert!(d.events.iter().any(|e| matches!(e, Event::SignedOn { .. })));
    // Commands needing absent families fail with a typed error.
    assert_eq!(
        h.command(Command::GetUserInfo {
            screen_name: "bob".into()
        }),
        Err(ClientError::ServiceUnavailable(Family::Locate))
    );
    assert_eq!(
        h.command(Command::EditBuddies {
            tx: TxId(1),
            edits: vec![]
        }),
        Err(ClientError::ServiceUnavailable(Family::Feedbag))
    );
}

/// LOCATE and BUDDY through the typed messages: a malformed LOCATE rights reply is reported but
/// still answers the sign-on query (its limits are not used), and an arrival carrying several
/// user-info blocks reports each of them, as libpurple does.
#[test]
fn locate_and_buddy_answers_are_lenient_where_it_costs_nothing() {
    let mut h = Harness::new(cookie_config());
    let bos = h.drain().connects[0].0;
    h.connected(bos);
    h.drain();
    let d = service_opening(&mut h, bos, &[0x0001, 0x0002, 0x0003, 0x0004]);
    let rid = |fam, sub| d.find_snac(bos, fam, sub).unwrap().0.request_id;
    h.server_snac(
        bos,
        rid(1, 0x0E),
        Message::Oservice(Oservice::SelfInfo(SelfInfo::new(user("alice", 0)))),
    );
    // TLV 0x0001 (max profile length) must be a u16; this one has a single byte.
    h.server_raw_snac(bos, 2, 3, rid(2, 2), &hex("00 01 00 01 04"));
    h.server_raw_snac(bos, 3, 3, rid(3, 2), &hex("00 01 00 02 00 C8"));
    h.server_snac(
        bos,
        rid(4, 4),
        Message::Icbm(Icbm::ParamsReply {
            max_slots: 100,
            params: IcbmParams::SERVER_DEFAULT,
        }),
    );
    let d = h.drain();
    assert!(
        d.events
            .iter()
            .any(|e| matches!(e, Event::Error(ClientError::Decode { .. }))),
        "{:?}",
        d.events
    );
    let (confirm, _) = d.find_snac(bos, 1, 0x0E).expect("client ready despite the bad limits");
    h.server_snac(
        bos,
        confirm.request_id,
        Message::Oservice(Oservice::SelfInfo(SelfInfo::new(user("alice", 0)))),
    );
    h.drain();
    assert!(h.session.is_online());

    let mut two = encode_user(&user("bob", class::AIM));
    two.extend(encode_user(&user("carol", class::AIM)));
    h.server_raw_snac(bos, 3, 0x0B, 0x8000_0002, &two);
    h.server_raw_snac(bos, 3, 0x0C, 0x8000_0003, &two);
    let d = h.drain();
    let names: Vec<String> = d
        .events
        .iter()
        .map(|e| match e {
            Event::BuddyArrived(s) => format!("+{}", s.screen_name),
            Event::BuddyDeparted { screen_name } => format!("-{screen_name}"),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["+bob", "+carol", "-bob", "-carol"]);
}

#[test]
fn instant_messages_both_ways() {
    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    let mut req = ImRequest::new(MessageId(77), "bob", "héllo");
    req.store_offline = true;
    h.command(Command::SendIm(req)).unwrap();
    let d = h.drain();
    let (hdr, payload) = d.find_snac(bos, 4, 6).expect("04/06");
    let Message::Icbm(Icbm::SendIm(im)) = typed(&payload).message else {
        panic!()
    };
    assert_eq!(im.cookie, IcbmCookie(77u64.to_be_bytes()));
    assert_eq!(im.screen_name.as_bytes(), b"bob");
    assert_eq!(im.channel, IcbmChannel::Im);
    assert!(im.wants_ack() && im.store_offline());
    let data = im.message_data().unwrap();
    let part = data.text_parts().next().unwrap();
    assert_eq!(part.charset, flapjack_wire::family::icbm::Charset::Latin1);
    assert_eq!(im.text().unwrap(), "héllo");

    // Host ack.
    h.server_snac(
        bos,
        hdr.request_id,
        Message::Icbm(Icbm::HostAck(HostAck::new(
            im.cookie,
            IcbmChannel::Im,
            ScreenName::try_from("bob").unwrap(),
        ))),
    );
    let d = h.drain();
    assert_eq!(
        d.events,
        [Event::HostAck {
            id: MessageId(77),
            to: "bob".into()
        }]
    );

    // An error names the message.
    h.command(Command::SendIm(ImRequest::new(MessageId(78), "nobody", "x")))
        .unwrap();
    let d = h.drain();
    let (hdr, _) = d.find_snac(bos, 4, 6).unwrap();
    h.server_snac(
        bos,
        hdr.request_id,
        Message::Error {
            family: Family::Icbm,
            error: SnacError::new(ErrorCode::NotLoggedOn),
        },
    );
    let d = h.drain();
    let Event::Error(err) = &d.events[0] else { panic!() };
    assert_eq!(
        err,
        &ClientError::Snac {
            family: Family::Icbm,
            code: ErrorCode::NotLoggedOn,
            subcode: None,
            request: Some(RequestContext::SendIm {
                id: MessageId(78),
                to: "nobody".into()
            }),
        }
    );
    assert_eq!(
        err.to_string(),
        "ICBM error 0x0004 (not logged on), for IM #78 to nobody"
    );

    // Incoming: live, auto-response, offline.
    let sent = SendIm::channel1(
        IcbmCookie([1; 8]),
        ScreenName::try_from("alice").unwrap(),
        "<HTML>hi</HTML>",
        SendImFlags {
            auto_response: true,
            ..Default::default()
        },
    )
    .unwrap();
    let incoming = IncomingIm::relay(&sent, user("Bob", class::AIM), true).unwrap();
    h.server_snac(bos, 0x8000_0010, Message::Icbm(Icbm::IncomingIm(incoming)));
    let offline = IncomingIm::offline(&sent, user("Carol", class::AIM), 1_234_567).unwrap();
    h.server_snac(bos, 0x8000_0011, Message::Icbm(Icbm::IncomingIm(offline)));
    h.server_snac(bos, 0x8000_0012, Message::Icbm(Icbm::OfflineDone));
    let d = h.drain();
    let Event::ImReceived(live) = &d.events[0] else {
        panic!("{:?}", d.events)
    };
    assert_eq!(
        (live.from.screen_name.as_str(), live.text.as_str()),
        ("Bob", "<HTML>hi</HTML>")
    );
    assert!(live.auto_response && !live.offline && live.wants_typing);
    let Event::ImReceived(stored) = &d.events[1] else {
        panic!()
    };
    assert!(stored.offline);
    assert_eq!(stored.sent_at, Some(1_234_567));
    assert_eq!(d.events[2], Event::OfflineMessagesDone);

    // Too long for the server's limit (512 in its ICBM parameters).
    assert!(matches!(
        h.command(Command::SendIm(ImRequest::new(MessageId(79), "bob", "x".repeat(600)))),
        Err(ClientError::MessageTooLong { len: 600, max: 512 })
    ));
}

#[test]
fn status_profile_info_typing_and_warnings() {
    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    h.command(Command::SetAway { message: "out".into() }).unwrap();
    h.command(Command::SetInvisible).unwrap();
    h.command(Command::SetAvailable).unwrap();
    h.command(Command::SetIdle { seconds: 120 }).unwrap();
    h.command(Command::SetProfile {
        profile: "I am Alice".into(),
    })
    .unwrap();
    h.command(Command::Typing {
        to: "bob".into(),
        event: TypingEvent::Begun,
    })
    .unwrap();
    h.command(Command::Warn {
        screen_name: "bob".into(),
        anonymous: true,
    })
    .unwrap();
    h.command(Command::GetUserInfo {
        screen_name: "bob".into(),
    })
    .unwrap();
    let d = h.drain();
    let snacs = d.snacs_on(bos);
    let locate: Vec<TlvBlock<'_>> = snacs
        .iter()
        .filter(|(hd, _)| (hd.family, hd.subtype) == (2, 4))
        .map(|(_, p)| TlvBlock::from_raw(&p[10..]).unwrap())
        .collect();
    assert_eq!(locate[0].get(4), Some(&b"out"[..]), "away message");
    assert_eq!(locate[0].get(3), Some(&b"text/aolrtf; charset=\"us-ascii\""[..]));
    assert_eq!(locate[1].get(4), Some(&b""[..]), "back: empty away TLV");
    assert_eq!(locate[2].get(2), Some(&b"I am Alice"[..]), "profile");
    let statuses: Vec<Option<u32>> = snacs
        .iter()
        .filter(|(hd, _)| (hd.family, hd.subtype) == (1, 0x1E))
        .map(|(_, p)| match typed(p).message {
            Message::Oservice(Oservice::SetUserInfoFields(f)) => f.status(),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [Some(0x0100), Some(0)], "invisible, then visible again");
    let (_, idle) = d.find_snac(bos, 1, 0x11).unwrap();
    assert!(matches!(
        typed(&idle).message,
        Message::Oservice(Oservice::SetIdle(120))
    ));
    let (_, t) = d.find_snac(bos, 4, 0x14).unwrap();
    assert!(matches!(typed(&t).message, Message::Icbm(Icbm::Typing(n)) if n.event == TypingEvent::Begun));

    // Answers.
    let (warn, _) = d.find_snac(bos, 4, 8).unwrap();
    h.server_snac(
        bos,
        warn.request_id,
        Message::Icbm(Icbm::WarnReply {
            delta: 30,
            new_level: 30,
        }),
    );
    let (info, query) = d.find_snac(bos, 2, 5).unwrap();
    assert_eq!(&query[10..], b"\x00\x03\x03bob");
    let mut body = encode_user(&user("Bob", class::AIM | class::AWAY));
    let tlvs = TlvBlock::builder()
        .bytes(1, b"text/aolrtf; charset=\"unicode-2-0\"")
        .bytes(2, &[0, b'h', 0, b'i'])
        .bytes(3, b"text/plain")
        .bytes(4, b"gone fishing")
        .build()
        .unwrap();
    body.extend_from_slice(tlvs.as_bytes());
    h.server_raw_snac(bos, 2, 6, info.request_id, &body);
    h.server_snac(
        bos,
        0x8000_0020,
        Message::Icbm(Icbm::Typing(TypingNotification::new(
            ScreenName::try_from("bob").unwrap(),
            TypingEvent::Typed,
        ))),
    );
    h.server_snac(
        bos,
        0x8000_0021,
        Message::Oservice(Oservice::EvilNotification(
            flapjack_wire::family::oservice::EvilNotification {
                level: 50,
                warner: None,
            },
        )),
    );
    let d = h.drain();
    assert_eq!(
        d.events[0],
        Event::WarnApplied {
            screen_name: "bob".into(),
            delta: 30,
            new_level: 30
        }
    );
    let Event::UserInfo(info) = &d.events[1] else {
        panic!("{:?}", d.events)
    };
    assert_eq!(info.profile.as_deref(), Some("hi"));
    assert_eq!(info.away_message.as_deref(), Some("gone fishing"));
    assert!(info.user.away);
    assert_eq!(
        d.events[2],
        Event::Typing {
            from: "bob".into(),
            event: TypingEvent::Typed
        }
    );
    assert_eq!(d.events[3], Event::Warned { level: 50, by: None });
}

#[test]
fn keepalive_after_sixty_seconds_of_silence() {
    let mut h = Harness::new(cookie_config());
    let (bos, d) = sign_on(&mut h, &[]);
    let at = d.timeout.expect("a keepalive timer");
    assert_eq!(at, h.now + Duration::from_secs(60));
    h.advance(Duration::from_secs(59));
    assert!(h.drain().frames_on(bos).is_empty());
    h.advance(Duration::from_secs(1));
    let d = h.drain();
    let frames = d.frames_on(bos);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].channel, Channel::Keepalive);
    assert_eq!(d.timeout, Some(h.now + Duration::from_secs(60)));
    // Sending anything resets the timer.
    h.advance(Duration::from_secs(30));
    h.command(Command::SetIdle { seconds: 0 }).unwrap();
    let d = h.drain();
    assert_eq!(d.timeout, Some(h.now + Duration::from_secs(60)));
}

#[test]
fn a_thousand_ims_are_paced_below_the_servers_alert_level() {
    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    let start = h.now;
    // The server's view of class 3 (ICBM send), counting from when the connection opened.
    let reply = rate_reply(&BOS_FAMILIES);
    let mut server = RateState::new(reply.classes().get(3).unwrap(), 0);
    let epoch = h.now; // the harness opened the connection at this instant
    for i in 0..1000u64 {
        h.command(Command::SendIm(ImRequest::new(
            MessageId(i),
            "bob",
            format!("message {i}"),
        )))
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut worst = RateStatus::Clear;
    let mut rounds = 0;
    loop {
        let d = h.drain();
        for (hdr, payload) in d.snacs_on(bos) {
            if (hdr.family, hdr.subtype) != (4, 6) {
                continue;
            }
            let ms = h.now.duration_since(epoch).as_millis() as u64;
            let status = server.update(ms);
            if status != RateStatus::Clear {
                worst = status;
            }
            let Message::Icbm(Icbm::SendIm(im)) = typed(&payload).message else {
                panic!()
            };
            seen.push(MessageId::from_cookie(im.cookie.0).0);
        }
        assert!(d.events.iter().all(|e| !matches!(e, Event::Error(_))));
        if seen.len() == 1000 {
            break;
        }
        let next = d.timeout.expect("a timer while IMs are queued");
        assert!(next > h.now, "time moves");
        h.advance_to(next);
        rounds += 1;
        assert!(rounds < 5000);
    }
    assert_eq!(worst, RateStatus::Clear, "the server never saw the alert level");
    assert_eq!(seen, (0..1000).collect::<Vec<_>>(), "every IM, in order");
    assert_eq!(h.session.queued(), 0);
    let took = h.now.duration_since(start);
    assert!(
        took > Duration::from_secs(4800) && took < Duration::from_secs(5300),
        "{took:?}"
    );
}

/// A bot account under the server's own bot classes — advertised by its 0x0001/0x0007 and
/// judged by its limiter, both from `flapjack_server::rate` — sends IMs as fast as it can: past
/// the whole burst the classes allow, paced, never warned, limited or dropped, in order.
#[test]
fn a_bot_is_paced_under_the_servers_bot_classes() {
    use flapjack_server::rate::{RateLimiter as ServerLimiter, rate_reply as server_rate_reply};

    let reply = server_rate_reply(&BOS_FAMILIES, 3, true).unwrap();
    let class = reply.classes().get(3).expect("class 3");
    assert!(class.alert < 100, "relaxed classes for bots, not AOL's: {class:?}");
    // The burst down to the client's floor (alert + at least 1 ms), then 2000 more, paced.
    let floor = f64::from(class.alert + 1);
    let burst = (f64::from(class.window) * (f64::from(class.max) / floor).ln()) as u64;
    let n = burst + 2000;
    assert!(n < 200_000, "{n} IMs: a test this size is too slow");

    let mut h = Harness::new(cookie_config());
    let epoch = h.now; // the harness opened the connection (and the server its limiter) here
    let (bos, _, _) = sign_on_with(&mut h, &[], reply);
    let mut server = ServerLimiter::for_account(epoch, true);
    for i in 0..n {
        h.command(Command::SendIm(ImRequest::new(MessageId(i), "bob", format!("m{i}"))))
            .unwrap();
    }
    let mut next_id = 0;
    let mut rounds = 0u64;
    loop {
        let d = h.drain();
        for (hdr, payload) in d.snacs_on(bos) {
            let decision = server.on_snac(hdr.family, hdr.subtype, h.now);
            assert!(
                decision.allow && !decision.disconnect && decision.change.is_none(),
                "IM {next_id}: {decision:?}"
            );
            if (hdr.family, hdr.subtype) != (4, 6) {
                continue;
            }
            let Message::Icbm(Icbm::SendIm(im)) = typed(&payload).message else {
                panic!()
            };
            assert_eq!(MessageId::from_cookie(im.cookie.0).0, next_id, "in order");
            next_id += 1;
        }
        assert!(d.events.iter().all(|e| !matches!(e, Event::Error(_))));
        if next_id == n {
            break;
        }
        let next = d.timeout.expect("a timer while IMs are queued");
        assert!(next > h.now, "time moves");
        h.advance_to(next);
        rounds += 1;
        // Every timer the session asks for sends at least one IM: no livelock.
        assert!(rounds <= next_id, "no livelock: {rounds} rounds, {next_id} of {n} sent");
    }
    assert_eq!(h.session.queued(), 0);
    // The IMs past the burst were paced: at least one alert level apart on average.
    let took = h.now.duration_since(epoch);
    assert!(
        took >= Duration::from_millis(u64::from(class.alert) * 1000),
        "{took:?} for {n} IMs"
    );
    assert!(rounds > 1000, "paced, not sent at once ({rounds} rounds)");
}

#[test]
fn a_rate_limit_from_the_server_is_reported_and_honoured() {
    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    let mut class = rate_reply(&BOS_FAMILIES).classes().get(3).unwrap();
    class.current = 3900;
    class.extra = Some(flapjack_wire::family::oservice::RateClassExtra {
        last_time: 0,
        dropping_snacs: 1,
    });
    h.server_snac(
        bos,
        0x8000_0030,
        Message::Oservice(Oservice::RateChange(RateChange {
            code: RateChangeCode::Limit,
            class,
        })),
    );
    h.command(Command::SendIm(ImRequest::new(MessageId(1), "bob", "hi")))
        .unwrap();
    let d = h.drain();
    assert!(matches!(
        d.events[0],
        Event::RateLimited {
            conn: ConnKind::Bos,
            class: 3,
            level: 3900
        }
    ));
    assert!(d.find_snac(bos, 4, 6).is_none(), "held back while limited");
    let next = d.timeout.unwrap();
    h.advance_to(next);
    let d = h.drain();
    assert!(
        d.find_snac(bos, 4, 6).is_some(),
        "sent once the level is back at the clear level"
    );
    let (level, floor) = h.session.bos_rate_level(3).unwrap();
    assert!(level >= floor && floor >= class.clear);
}

#[test]
fn sign_off_drains_then_says_goodbye() {
    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    for i in 0..6 {
        h.command(Command::SendIm(ImRequest::new(MessageId(i), "bob", "x")))
            .unwrap();
    }
    h.command(Command::SignOff { drain: true }).unwrap();
    let d = h.drain();
    let sent = d.snac_types(bos).iter().filter(|t| **t == (4, 6)).count();
    assert!(sent < 6, "some are held back");
    assert!(!d.closes.contains(&bos));
    let mut total = sent;
    let mut d = d;
    while !h.session.is_ended() {
        h.advance_to(d.timeout.unwrap());
        d = h.drain();
        total += d.snac_types(bos).iter().filter(|t| **t == (4, 6)).count();
    }
    assert_eq!(total, 6, "every queued IM went out before the goodbye");
    let last = d.frames_on(bos).last().unwrap();
    assert_eq!(last.channel, Channel::Signoff);
    assert!(last.payload().is_empty());
    assert!(d.closes.contains(&bos));
    assert_eq!(
        d.events.last(),
        Some(&Event::SignedOff {
            reason: SignOffReason::Requested
        })
    );
}

#[test]
fn signed_on_elsewhere_and_lost_connections() {
    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    let tlvs = TlvBlock::builder()
        .u16(signoff_tag::DISCONNECT_REASON, 1)
        .build()
        .unwrap();
    h.server_signoff(bos, tlvs);
    let d = h.drain();
    let Some(Event::SignedOff { reason }) = d.events.last() else {
        panic!()
    };
    assert_eq!(reason, &SignOffReason::SignedOnElsewhere);
    assert_eq!(reason.to_string(), "signed on from another location");
    assert!(!reason.is_transient());

    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    h.input(flapjack_client::Input::Closed(bos, "reset".into())).unwrap();
    let d = h.drain();
    let Some(Event::SignedOff { reason }) = d.events.last() else {
        panic!()
    };
    assert_eq!(reason, &SignOffReason::ConnectionLost("reset".into()));
    assert!(reason.is_transient());

    // Garbage on the wire ends the session with a decode error, never a panic.
    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    h.server_bytes(bos, &[0x2B, 0, 0, 0, 0, 0]);
    let d = h.drain();
    assert!(
        d.events
            .iter()
            .any(|e| matches!(e, Event::Error(ClientError::Decode { .. })))
    );
    assert!(h.session.is_ended());
}

#[test]
fn buddy_list_transactions_wait_for_each_status() {
    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    h.command(Command::EditBuddies {
        tx: TxId(1),
        edits: vec![BuddyEdit::AddBuddy {
            group: "Friends".into(),
            name: "bob".into(),
        }],
    })
    .unwrap();
    h.command(Command::EditBuddies {
        tx: TxId(2),
        edits: vec![BuddyEdit::AddBuddy {
            group: "Friends".into(),
            name: "carol".into(),
        }],
    })
    .unwrap();
    let d = h.drain();
    assert_eq!(d.snac_types(bos), [(0x13, 0x11), (0x13, 0x08)], "one batch in flight");
    let (ins, payload) = d.find_snac(bos, 0x13, 8).unwrap();
    let Message::Feedbag(Feedbag::InsertItem(items)) = typed(&payload).message else {
        panic!()
    };
    let items: Vec<FeedbagItem<'_>> = items.iter().collect();
    assert_eq!(items.len(), 3, "group, root, buddy: {items:?}");
    assert!(items[0].class == flapjack_wire::family::feedbag::ItemClass::Group);
    assert_eq!(items[2].name.as_bytes(), b"bob");
    let gid = items[2].group_id;
    h.server_snac(
        bos,
        ins.request_id,
        Message::Feedbag(Feedbag::status(&[FeedbagStatus::Ok; 3]).unwrap()),
    );
    let d = h.drain();
    assert_eq!(
        d.snac_types(bos),
        [(0x13, 0x12), (0x13, 0x11), (0x13, 0x08)],
        "end of the first, start of the second"
    );
    let Event::BuddyListEdited { tx, results, list } = &d.events[0] else {
        panic!()
    };
    assert_eq!(*tx, TxId(1));
    assert_eq!(results.len(), 3);
    assert!(
        results
            .iter()
            .all(|r| r.status == FeedbagStatus::Ok && r.op == FeedbagOp::Insert)
    );
    assert_eq!(list.all_buddies().collect::<Vec<_>>(), ["bob"]);

    let (ins, _) = d.find_snac(bos, 0x13, 8).unwrap();
    h.server_snac(
        bos,
        ins.request_id,
        Message::Feedbag(Feedbag::status(&[FeedbagStatus::Ok]).unwrap()),
    );
    let d = h.drain();
    assert_eq!(d.snac_types(bos), [(0x13, 0x09)], "then the group's order");
    let (upd, _) = d.find_snac(bos, 0x13, 9).unwrap();
    h.server_snac(
        bos,
        upd.request_id,
        Message::Feedbag(Feedbag::status(&[FeedbagStatus::Ok]).unwrap()),
    );
    let d = h.drain();
    assert_eq!(d.snac_types(bos), [(0x13, 0x12)]);
    let Event::BuddyListEdited { tx, list, .. } = &d.events[0] else {
        panic!()
    };
    assert_eq!(*tx, TxId(2));
    assert_eq!(list.all_buddies().collect::<Vec<_>>(), ["bob", "carol"]);

    // A refused item is reported and not applied.
    h.command(Command::EditBuddies {
        tx: TxId(3),
        edits: vec![BuddyEdit::AddDeny { name: "mallory".into() }],
    })
    .unwrap();
    let d = h.drain();
    let (ins, _) = d.find_snac(bos, 0x13, 8).unwrap();
    h.server_snac(
        bos,
        ins.request_id,
        Message::Feedbag(Feedbag::status(&[FeedbagStatus::LimitExceeded]).unwrap()),
    );
    let d = h.drain();
    let Event::BuddyListEdited { results, list, .. } = &d.events[0] else {
        panic!()
    };
    assert_eq!(results[0].status, FeedbagStatus::LimitExceeded);
    assert!(list.deny.is_empty());

    // The server pushes a change made elsewhere.
    let dave = FeedbagItem::buddy(b"dave".to_vec(), gid, 99).unwrap();
    h.server_snac(bos, 0x8000_0040, Message::Feedbag(Feedbag::insert(&[dave]).unwrap()));
    let d = h.drain();
    let Event::BuddyListChanged(list) = &d.events[0] else {
        panic!()
    };
    assert!(list.all_buddies().any(|b| b == "dave"));
}

#[test]
fn chat_join_talk_and_leave() {
    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    h.command(Command::JoinChat {
        room: "Lounge".into(),
        exchange: 4,
    })
    .unwrap();
    let d = h.drain();
    let (req, payload) = d.find_snac(bos, 1, 4).expect("service request");
    let Message::Oservice(Oservice::ServiceRequest(sr)) = typed(&payload).message else {
        panic!()
    };
    assert_eq!(sr.family, Family::ChatNav);
    h.server_snac(
        bos,
        req.request_id,
        Message::Oservice(Oservice::ServiceResponse(
            ServiceResponse::new(Family::ChatNav, b"chat.test:5192", b"navcookie", Some(0), None).unwrap(),
        )),
    );
    let d = h.drain();
    let nav = d.connect_for(&ConnKind::ChatNav).unwrap();
    h.connected(nav);
    let d = h.drain();
    let FlapMessage::Signon(s) = d.frames_on(nav)[0].message().unwrap() else {
        panic!()
    };
    assert_eq!(s.cookie(), Some(&b"navcookie"[..]));
    let d = service_opening(&mut h, nav, &[0x0001, 0x000D]);
    let (create, payload) = d.find_snac(nav, 0x0D, 8).expect("create room");
    let Message::ChatNav(ChatNav::CreateRoom(info)) = typed(&payload).message else {
        panic!()
    };
    assert_eq!(info.id.exchange, 4);
    assert!(info.is_create_request());
    assert!(d.snac_types(nav).contains(&(1, 2)));
    let room_id = RoomId {
        exchange: 4,
        cookie: Str08::try_from("4-0-Lounge").unwrap(),
        instance: 0,
    };
    let tlvs = TlvBlock::builder().bytes(0x00D3, b"Lounge").build().unwrap();
    let room_info = RoomInfo::new(room_id.clone(), 2, tlvs);
    h.server_snac(
        nav,
        create.request_id,
        Message::ChatNav(ChatNav::NavInfo(NavInfo::with_room(&room_info).unwrap())),
    );
    let d = h.drain();
    let (req, payload) = d.find_snac(bos, 1, 4).expect("service request for the room");
    let Message::Oservice(Oservice::ServiceRequest(sr)) = typed(&payload).message else {
        panic!()
    };
    assert_eq!(sr.family, Family::Chat);
    assert_eq!(sr.room().unwrap(), room_id);
    h.server_snac(
        bos,
        req.request_id,
        Message::Oservice(Oservice::ServiceResponse(
            ServiceResponse::new(Family::Chat, b"chat.test:5193", b"roomcookie", None, None).unwrap(),
        )),
    );
    let d = h.drain();
    let chat = d.connect_for(&ConnKind::Chat { room: "Lounge".into() }).unwrap();
    h.connected(chat);
    h.drain();
    let d = service_opening(&mut h, chat, &[0x0001, 0x000E]);
    assert!(d.snac_types(chat).contains(&(1, 2)));
    h.server_snac(
        chat,
        0x8000_0050,
        Message::Chat(Chat::users_joined(&[user("alice", 0), user("bob", 0)]).unwrap()),
    );
    h.server_snac(
        chat,
        0x8000_0051,
        Message::Chat(Chat::RoomInfoUpdate(room_info.clone())),
    );
    let d = h.drain();
    let Event::ChatJoined { room, members } = &d.events[0] else {
        panic!("{:?}", d.events)
    };
    assert_eq!((room.name.as_str(), room.cookie.as_str()), ("Lounge", "4-0-Lounge"));
    assert_eq!(members, &["alice", "bob"]);

    h.command(Command::ChatSend {
        room: "lounge".into(),
        text: "hello room".into(),
    })
    .unwrap();
    let d = h.drain();
    let (_, payload) = d.find_snac(chat, 0x0E, 5).unwrap();
    let Message::Chat(Chat::Send(send)) = typed(&payload).message else {
        panic!()
    };
    assert_eq!(send.text(), b"hello room");
    assert_eq!(send.charset(), Some(&b"us-ascii"[..]));

    let info = MessageInfo::new(b"hi alice", Some(b"us-ascii"), None).unwrap();
    h.server_snac(
        chat,
        0x8000_0052,
        Message::Chat(Chat::Incoming(
            ChatIncoming::new(IcbmCookie([3; 8]), &user("bob", 0), &info).unwrap(),
        )),
    );
    h.server_snac(
        chat,
        0x8000_0053,
        Message::Chat(Chat::users_left(&[user("bob", 0)]).unwrap()),
    );
    let d = h.drain();
    assert_eq!(
        d.events,
        [
            Event::ChatMessage {
                room: "Lounge".into(),
                from: "bob".into(),
                text: "hi alice".into(),
                whisper: false
            },
            Event::ChatMemberLeft {
                room: "Lounge".into(),
                screen_name: "bob".into()
            }
        ]
    );

    h.command(Command::LeaveChat { room: "Lounge".into() }).unwrap();
    let d = h.drain();
    assert_eq!(d.frames_on(chat).last().unwrap().channel, Channel::Signoff);
    assert!(d.closes.contains(&chat));
    assert!(matches!(&d.events[0], Event::ChatLeft { room, reason: None } if room == "Lounge"));
    assert_eq!(
        h.command(Command::ChatSend {
            room: "Lounge".into(),
            text: "x".into()
        }),
        Err(ClientError::UnknownRoom("Lounge".into()))
    );
    // A second join reuses the CHAT_NAV connection.
    h.command(Command::JoinChat {
        room: "Den".into(),
        exchange: 4,
    })
    .unwrap();
    let d = h.drain();
    assert!(d.find_snac(nav, 0x0D, 8).is_some());
    assert!(d.find_snac(bos, 1, 4).is_none());
}

#[test]
fn chat_invitation_and_failed_join() {
    let mut h = Harness::new(cookie_config());
    let (bos, _) = sign_on(&mut h, &[]);
    let room = RoomId {
        exchange: 4,
        cookie: Str08::try_from("4-0-Party").unwrap(),
        instance: 0,
    };
    let invite = SendIm::chat_invite(
        IcbmCookie([4; 8]),
        ScreenName::try_from("alice").unwrap(),
        &room,
        "come!",
    )
    .unwrap();
    let incoming = IncomingIm::relay(&invite, user("bob", 0), false).unwrap();
    h.server_snac(bos, 0x8000_0060, Message::Icbm(Icbm::IncomingIm(incoming)));
    let d = h.drain();
    let Event::ChatInvite {
        from,
        room: invited,
        message,
    } = &d.events[0]
    else {
        panic!("{:?}", d.events)
    };
    assert_eq!(
        (from.as_str(), invited.name.as_str(), message.as_deref()),
        ("bob", "Party", Some("come!"))
    );
    // Accepting goes straight to the room's service request.
    h.command(Command::JoinChatRoom(invited.clone())).unwrap();
    let d = h.drain();
    let (req, payload) = d.find_snac(bos, 1, 4).unwrap();
    let Message::Oservice(Oservice::ServiceRequest(sr)) = typed(&payload).message else {
        panic!()
    };
    assert_eq!(sr.room().unwrap(), room);
    // The server has no chat: the join fails with the SNAC error and a ChatLeft.
    h.server_snac(
        bos,
        req.request_id,
        Message::Error {
            family: Family::Oservice,
            error: SnacError::new(ErrorCode::ServiceUnavailable),
        },
    );
    let d = h.drain();
    assert!(matches!(
        &d.events[0],
        Event::Error(ClientError::Snac {
            code: ErrorCode::ServiceUnavailable,
            request: Some(RequestContext::ServiceRequest { .. }),
            ..
        })
    ));
    assert!(matches!(&d.events[1], Event::ChatLeft { room, reason: Some(_) } if room == "Party"));
}

#[test]
fn commands_before_sign_on_are_refused() {
    let mut h = Harness::new(cookie_config());
    h.drain();
    assert_eq!(
        h.command(Command::SendIm(ImRequest::new(MessageId(1), "bob", "hi"))),
        Err(ClientError::NotSignedOn)
    );
}
