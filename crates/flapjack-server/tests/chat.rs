//! Chat rooms on a real listener: CHAT_NAV and CHAT service redirects from BOS, room creation,
//! the join order, messages (reflection, whispers), invitations over ICBM channel 2, departures,
//! limits and public rooms.

mod common;

use std::net::SocketAddr;

use common::*;
use flapjack_server::chat::ChatConfig;
use flapjack_server::{Server, ServerConfig};
use flapjack_wire::family::chat::{Chat, ChatIncoming, ChatSend, MessageInfo};
use flapjack_wire::family::chat_nav::{ChatNav, RoomInfo, RoomInfoRequest};
use flapjack_wire::family::icbm::{Icbm, IcbmChannel, IcbmParams, SendIm, tag as icbm_tag};
use flapjack_wire::family::oservice::{ClientReadyEntry, FamilyVersion, Oservice, ServiceRequest, ServiceResponse};
use flapjack_wire::list::U16Item;
use flapjack_wire::snac::Message;
use flapjack_wire::types::{RoomId, Str08};
use flapjack_wire::{ErrorCode, Family, IcbmCookie, List, ScreenName};

const ACCOUNTS: &[(&str, &str)] = &[("alice", "pw"), ("Bobby", "pw"), ("carol", "pw")];

/// Waits for the SNAC answering `request_id` (skipping unsolicited ones).
async fn reply_to(c: &mut RawClient, request_id: u32) -> RxFrame {
    for _ in 0..64 {
        let f = c.recv_snac().await;
        if f.snac().request_id == request_id {
            return f;
        }
    }
    panic!("no answer to request {request_id}");
}

/// The error code of an error SNAC (subtype 1) of `family`.
fn error_code(f: &RxFrame, family: u16) -> ErrorCode {
    let snac = f.snac();
    match snac.message {
        Message::Error { family: fam, error } => {
            assert_eq!(fam, Family::from(family), "error of the wrong family");
            error.code
        }
        other => panic!("expected a {family:04x}/0001 error, got {other:?}"),
    }
}

/// Sends a service request on BOS; the redirect, or the OSERVICE error code.
async fn request_service(bos: &mut RawClient, req: ServiceRequest<'_>) -> Result<ServiceResponse<'static>, ErrorCode> {
    let id = bos.send(Message::Oservice(Oservice::ServiceRequest(req))).await;
    let f = reply_to(bos, id).await;
    let snac = f.snac();
    match snac.message {
        Message::Oservice(Oservice::ServiceResponse(r)) => Ok(ServiceResponse {
            tlvs: r.tlvs.into_owned(),
        }),
        Message::Error { family, error } => {
            assert_eq!(family, Family::Oservice);
            Err(error.code)
        }
        other => panic!("expected 01/05, got {other:?}"),
    }
}

/// Connects to a redirect's address with its cookie and does the service handshake (versions,
/// rates, client ready). Returns the client and the families of host online.
async fn connect_service(resp: &ServiceResponse<'_>) -> (RawClient, Vec<u16>) {
    let addr: SocketAddr = std::str::from_utf8(resp.address()).unwrap().parse().unwrap();
    let (mut c, families) = bos_connect(addr, resp.cookie()).await;
    let versions: Vec<FamilyVersion> = families
        .iter()
        .map(|&f| FamilyVersion {
            family: Family::from(f),
            version: if f == 1 { 3 } else { 1 },
        })
        .collect();
    c.send(Message::Oservice(Oservice::ClientVersions(
        List::from_items(versions.iter(), 100).unwrap(),
    )))
    .await;
    c.recv_snac_of(0x0001, 0x0018).await;
    let id = c.send(Message::Oservice(Oservice::RateParamsQuery)).await;
    let rates = reply_to(&mut c, id).await;
    let ids: Vec<u16> = match rates.snac().message {
        Message::Oservice(Oservice::RateParamsReply(r)) => {
            // Every SNAC of the served families is in a rate group.
            for &f in &families {
                assert!(r.class_of(f, 0x0002).is_some(), "{f:04x}/0002 has no rate class");
            }
            r.class_ids().collect()
        }
        other => panic!("expected 01/07, got {other:?}"),
    };
    c.send(Message::Oservice(Oservice::RateParamsSubAdd(
        List::<U16Item>::from_items(ids.iter(), 100).unwrap(),
    )))
    .await;
    let ready: Vec<ClientReadyEntry> = families
        .iter()
        .map(|&f| ClientReadyEntry {
            family: Family::from(f),
            version: 1,
            tool_id: 0x0010,
            tool_version: 0x0629,
        })
        .collect();
    c.send(Message::Oservice(Oservice::ClientReady(
        List::from_items(ready.iter(), 100).unwrap(),
    )))
    .await;
    (c, families)
}

/// Opens the CHAT_NAV connection from `bos`.
async fn open_nav(bos: &mut RawClient) -> RawClient {
    let resp = request_service(bos, ServiceRequest::new(Family::ChatNav, false))
        .await
        .expect("CHAT_NAV redirect");
    assert_eq!(resp.family(), Family::ChatNav);
    assert_eq!(resp.tls_state(), Some(0));
    assert_eq!(resp.tls_cert_name(), None);
    let (c, families) = connect_service(&resp).await;
    assert_eq!(families, [0x000D, 0x0001]);
    c
}

/// Creates (or finds) a room by name; the room info, or the CHAT_NAV error code.
async fn create_room(nav: &mut RawClient, exchange: u16, name: &str) -> Result<RoomInfo<'static>, ErrorCode> {
    let id = nav
        .send(Message::ChatNav(ChatNav::CreateRoom(
            RoomInfo::create_room(exchange, name.as_bytes()).unwrap(),
        )))
        .await;
    let f = reply_to(nav, id).await;
    let snac = f.snac();
    match &snac.message {
        Message::ChatNav(ChatNav::NavInfo(info)) => Ok(info.room_info().expect("room info").into_owned()),
        Message::Error { .. } => Err(error_code(&f, 0x000D)),
        other => panic!("expected 0D/09, got {other:?}"),
    }
}

/// Asks BOS for the room's connection and opens it (through client ready).
async fn join(bos: &mut RawClient, room: &RoomId<'_>) -> RawClient {
    let resp = request_service(bos, ServiceRequest::chat(room, false).unwrap())
        .await
        .expect("CHAT redirect");
    assert_eq!(resp.family(), Family::Chat);
    let (c, families) = connect_service(&resp).await;
    assert_eq!(families, [0x0001, 0x000E]);
    c
}

/// The next SNAC, which must be a CHAT message.
async fn next_chat(c: &mut RawClient) -> (u32, Chat<'static>) {
    let f = c.recv_snac().await;
    let snac = f.snac();
    let Message::Chat(m) = snac.message else {
        panic!("expected a CHAT SNAC, got {:?}", snac.message);
    };
    let owned = match m {
        Chat::UsersJoined(l) => Chat::UsersJoined(l.into_owned()),
        Chat::UsersLeft(l) => Chat::UsersLeft(l.into_owned()),
        Chat::RoomInfoUpdate(r) => Chat::RoomInfoUpdate(r.into_owned()),
        Chat::Incoming(i) => Chat::Incoming(i.into_owned()),
        Chat::Send(s) => Chat::Send(s.into_owned()),
    };
    (snac.request_id, owned)
}

fn names(m: &Chat<'_>) -> Vec<String> {
    match m {
        Chat::UsersJoined(l) | Chat::UsersLeft(l) => l.iter().map(|u| u.screen_name.to_string_lossy()).collect(),
        other => panic!("expected a users list, got {other:?}"),
    }
}

async fn expect_joined(c: &mut RawClient, want: &[&str]) {
    let (_, m) = next_chat(c).await;
    assert!(matches!(m, Chat::UsersJoined(_)), "expected users joined, got {m:?}");
    assert_eq!(names(&m), want);
}

async fn expect_left(c: &mut RawClient, want: &[&str]) {
    let (_, m) = next_chat(c).await;
    assert!(matches!(m, Chat::UsersLeft(_)), "expected users left, got {m:?}");
    assert_eq!(names(&m), want);
}

/// After client ready on a chat connection: the occupant list (newcomer included), then the
/// room info.
async fn expect_join_sequence(c: &mut RawClient, occupants: &[&str], room: &RoomInfo<'_>) {
    expect_joined(c, occupants).await;
    let (_, m) = next_chat(c).await;
    let Chat::RoomInfoUpdate(info) = m else {
        panic!("expected the room info update, got {m:?}");
    };
    assert_eq!(&info, room);
}

async fn expect_message(c: &mut RawClient) -> (u32, ChatIncoming<'static>) {
    let (id, m) = next_chat(c).await;
    let Chat::Incoming(i) = m else {
        panic!("expected a chat message, got {m:?}");
    };
    (id, i)
}

fn say(text: &str, reflect: bool) -> Message<'static> {
    Message::Chat(Chat::Send(
        ChatSend::new(IcbmCookie(*b"chatmsg1"), text.as_bytes(), b"us-ascii", reflect).unwrap(),
    ))
}

/// Two signed-on users with their CHAT_NAV connections, both in `room` (created by the first).
struct Pair {
    server: Server,
    alice: RawClient,
    bobby: RawClient,
    alice_nav: RawClient,
    room: RoomInfo<'static>,
    alice_chat: RawClient,
    bobby_chat: RawClient,
}

async fn two_in_a_room(config: ServerConfig) -> Pair {
    let server = start_server(config, ACCOUNTS).await;
    let addr = server.local_addr();
    let mut alice = sign_on(addr, "alice", "pw").await;
    let mut bobby = sign_on(addr, "bobby", "pw").await;
    wait_signed_on(&server, "alice").await;
    wait_signed_on(&server, "bobby").await;
    let mut alice_nav = open_nav(&mut alice).await;
    let mut bobby_nav = open_nav(&mut bobby).await;
    let room = create_room(&mut alice_nav, 4, "testroom").await.unwrap();
    assert_eq!(create_room(&mut bobby_nav, 4, "testroom").await.unwrap(), room);
    let mut alice_chat = join(&mut alice, &room.id).await;
    expect_join_sequence(&mut alice_chat, &["alice"], &room).await;
    let mut bobby_chat = join(&mut bobby, &room.id).await;
    expect_join_sequence(&mut bobby_chat, &["alice", "Bobby"], &room).await;
    expect_joined(&mut alice_chat, &["Bobby"]).await;
    Pair {
        server,
        alice,
        bobby,
        alice_nav,
        room,
        alice_chat,
        bobby_chat,
    }
}

#[tokio::test]
async fn chat_nav_rights_and_exchanges() {
    let server = start_server(ServerConfig::for_tests(), ACCOUNTS).await;
    let mut alice = sign_on(server.local_addr(), "alice", "pw").await;
    wait_signed_on(&server, "alice").await;
    let mut nav = open_nav(&mut alice).await;

    let id = nav.send(Message::ChatNav(ChatNav::RequestRights)).await;
    let f = reply_to(&mut nav, id).await;
    let Message::ChatNav(ChatNav::NavInfo(info)) = f.snac().message else {
        panic!("expected 0D/09");
    };
    assert_eq!(info.max_concurrent_rooms(), Some(10));
    assert_eq!(info.exchanges().map(|e| e.id).collect::<Vec<_>>(), [4, 5]);
    for e in info.exchanges() {
        assert_eq!(e.max_concurrent_rooms(), Some(10), "AIM 2.x-3.x need TLV 0x0003");
        assert_eq!(e.max_name_len(), Some(100));
        assert_eq!(e.flags(), Some(0x000F));
        assert_eq!(e.charset(), Some(&b"us-ascii"[..]));
        assert_eq!(e.language(), Some(&b"en"[..]));
    }

    let id = nav.send(Message::ChatNav(ChatNav::RequestExchangeInfo(5))).await;
    let f = reply_to(&mut nav, id).await;
    let Message::ChatNav(ChatNav::NavInfo(info)) = f.snac().message else {
        panic!("expected 0D/09");
    };
    assert_eq!(info.exchanges().map(|e| e.id).collect::<Vec<_>>(), [5]);
    let id = nav.send(Message::ChatNav(ChatNav::RequestExchangeInfo(7))).await;
    assert_eq!(
        error_code(&reply_to(&mut nav, id).await, 0x000D),
        ErrorCode::NotSupportedByHost
    );

    // Create on exchange 4: made on demand, cookie from the normalized name, name as given.
    let room = create_room(&mut nav, 4, "Test Room").await.unwrap();
    assert_eq!(room.id.exchange, 4);
    assert_eq!(room.id.cookie.as_bytes(), b"4-0-testroom");
    assert_eq!(room.id.instance, 0);
    assert_eq!(room.detail, 2);
    assert_eq!(room.name(), Some(&b"Test Room"[..]));
    assert_eq!(room.fully_qualified_name(), Some(&b"Test Room"[..]));
    assert_eq!(room.max_occupancy(), Some(100));
    assert_eq!(room.max_message_len(), Some(1024));
    assert!(room.create_time().is_some());
    // Same room whatever the case and spacing.
    assert_eq!(create_room(&mut nav, 4, "testroom").await.unwrap(), room);

    // Room info by triple.
    let id = nav
        .send(Message::ChatNav(ChatNav::RequestRoomInfo(RoomInfoRequest::new(
            room.id.clone(),
            2,
        ))))
        .await;
    let f = reply_to(&mut nav, id).await;
    let Message::ChatNav(ChatNav::NavInfo(info)) = f.snac().message else {
        panic!("expected 0D/09");
    };
    assert_eq!(info.room_info().unwrap(), room);
    let nowhere = RoomId {
        exchange: 4,
        cookie: Str08::new(&b"4-0-nowhere"[..]).unwrap(),
        instance: 0,
    };
    let id = nav
        .send(Message::ChatNav(ChatNav::RequestRoomInfo(RoomInfoRequest::new(
            nowhere, 2,
        ))))
        .await;
    assert_eq!(error_code(&reply_to(&mut nav, id).await, 0x000D), ErrorCode::NoMatch);

    // Bad names and exchanges.
    assert_eq!(create_room(&mut nav, 4, "  ").await, Err(ErrorCode::RequestDenied));
    assert_eq!(
        create_room(&mut nav, 4, &"x".repeat(101)).await,
        Err(ErrorCode::RequestDenied)
    );
    assert_eq!(
        create_room(&mut nav, 9, "room").await,
        Err(ErrorCode::NotSupportedByHost)
    );
}

#[tokio::test]
async fn two_users_talk_in_testroom() {
    let mut p = two_in_a_room(ServerConfig::for_tests()).await;
    assert_eq!(p.room.id.cookie.as_bytes(), b"4-0-testroom");
    assert_eq!(p.server.state().chat.len(), 1);

    // Without reflection the message reaches bobby only.
    p.alice_chat.send(say("hello room", false)).await;
    let (_, m) = expect_message(&mut p.bobby_chat).await;
    assert!(m.sender_first(), "sender info must be the first TLV (AIM 2.x)");
    assert_eq!(m.sender().unwrap().screen_name.as_bytes(), b"alice");
    assert_eq!(m.channel, 3);
    assert_eq!(m.cookie, IcbmCookie(*b"chatmsg1"));
    assert!(m.is_public());
    assert_eq!(m.text(), b"hello room");
    assert_eq!(m.charset(), Some(&b"us-ascii"[..]));

    // With reflection the sender gets it too, answering its own request id.
    let id = p.bobby_chat.send(say("hi alice", true)).await;
    let (reflected_id, mine) = expect_message(&mut p.bobby_chat).await;
    assert_eq!(reflected_id, id);
    assert_eq!(mine.sender().unwrap().screen_name.as_bytes(), b"Bobby");
    // alice's next SNAC is bobby's message: her own was not reflected to her.
    let (other_id, theirs) = expect_message(&mut p.alice_chat).await;
    assert_ne!(other_id, id);
    assert_eq!(theirs.text(), b"hi alice");
    assert_eq!(theirs.sender().unwrap().screen_name.as_bytes(), b"Bobby");

    // Mac AIM's channel 0xFFFF is taken as 3.
    let mut mac = ChatSend::new(IcbmCookie([9; 8]), b"from a mac", b"us-ascii", false).unwrap();
    mac.channel = 0xFFFF;
    p.alice_chat.send(Message::Chat(Chat::Send(mac))).await;
    let (_, m) = expect_message(&mut p.bobby_chat).await;
    assert_eq!(m.channel, 3);
    assert_eq!(m.text(), b"from a mac");

    // bobby closes his chat connection: alice sees him leave.
    drop(p.bobby_chat);
    expect_left(&mut p.alice_chat, &["Bobby"]).await;
    // The room empties and disappears with alice.
    drop(p.alice_chat);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !p.server.state().chat.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the empty room never went away");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn invitation_over_icbm_channel_2_lets_the_invitee_join() {
    let server = start_server(ServerConfig::for_tests(), ACCOUNTS).await;
    let addr = server.local_addr();
    let mut alice = sign_on(addr, "alice", "pw").await;
    let mut bobby = sign_on(addr, "bobby", "pw").await;
    wait_signed_on(&server, "alice").await;
    wait_signed_on(&server, "bobby").await;
    let mut nav = open_nav(&mut alice).await;
    let room = create_room(&mut nav, 4, "party").await.unwrap();
    let mut alice_chat = join(&mut alice, &room.id).await;
    expect_join_sequence(&mut alice_chat, &["alice"], &room).await;

    // alice sets libpurple's ICBM parameters (typing events on): the relay must still not add
    // TLV 0x000B to a rendezvous (Open OSCAR adds it to channels 1 and 3 only).
    alice
        .send(Message::Icbm(Icbm::SetParams {
            channel: 0,
            params: IcbmParams::LIBPURPLE,
        }))
        .await;
    let cookie = IcbmCookie(*b"1234567\0");
    let invite = SendIm::chat_invite(
        cookie,
        ScreenName::new(&b"Bobby"[..]).unwrap(),
        &room.id,
        "Join me in this chat – ok?",
    )
    .unwrap();
    let sent_tlvs: Vec<(u16, Vec<u8>)> = invite.tlvs.iter().map(|t| (t.tag, t.value.to_vec())).collect();
    let sent_rdv = invite.rendezvous().unwrap().into_owned();
    alice.send(Message::Icbm(Icbm::SendIm(invite))).await;

    let f = bobby.recv_snac_of(0x0004, 0x0007).await;
    let snac = f.snac();
    let Message::Icbm(Icbm::IncomingIm(im)) = &snac.message else {
        panic!("expected 04/07");
    };
    assert_eq!(im.channel, IcbmChannel::Rendezvous);
    assert_eq!(im.cookie, cookie);
    assert_eq!(im.sender.screen_name.as_bytes(), b"alice");
    // Relayed as sent (§8.4.2): the outer TLVs unchanged, no ack request, no store flag.
    assert!(!im.tlvs.contains(icbm_tag::REQUEST_HOST_ACK));
    let got_tlvs: Vec<(u16, Vec<u8>)> = im
        .tlvs
        .iter()
        .filter(|t| t.tag != icbm_tag::RENDEZVOUS)
        .map(|t| (t.tag, t.value.to_vec()))
        .collect();
    let want_tlvs: Vec<(u16, Vec<u8>)> = sent_tlvs
        .iter()
        .filter(|(t, _)| *t != icbm_tag::RENDEZVOUS)
        .cloned()
        .collect();
    assert_eq!(got_tlvs, want_tlvs, "outer TLVs other than the rendezvous block");
    // The rendezvous block: same type, cookie, capability and invitation; the server may only
    // add the client IPs it sees (0x0003, 0x0004) to a proposal.
    let rdv = im.rendezvous().expect("a rendezvous block");
    assert_eq!(rdv.msg_type, sent_rdv.msg_type);
    assert_eq!(rdv.cookie, sent_rdv.cookie);
    assert_eq!(rdv.capability, sent_rdv.capability);
    let strip = |r: &flapjack_wire::family::icbm::Rendezvous<'_>| -> Vec<(u16, Vec<u8>)> {
        r.tlvs
            .iter()
            .filter(|t| t.tag != 0x0003 && t.tag != 0x0004)
            .map(|t| (t.tag, t.value.to_vec()))
            .collect()
    };
    assert_eq!(strip(&rdv), strip(&sent_rdv));
    let invitation = rdv.chat_invitation().unwrap().expect("a chat invitation");
    assert_eq!(invitation.room, room.id);
    assert_eq!(invitation.message_text().as_deref(), Some("Join me in this chat – ok?"));
    let invited_to = invitation.room.into_owned();

    // bobby joins straight from the invitation (no CHAT_NAV needed).
    let mut bobby_chat = join(&mut bobby, &invited_to).await;
    expect_join_sequence(&mut bobby_chat, &["alice", "Bobby"], &room).await;
    expect_joined(&mut alice_chat, &["Bobby"]).await;
    bobby_chat.send(say("thanks!", false)).await;
    let (_, m) = expect_message(&mut alice_chat).await;
    assert_eq!(m.text(), b"thanks!");
}

#[tokio::test]
async fn third_user_and_whispers() {
    let mut p = two_in_a_room(ServerConfig::for_tests()).await;
    let mut carol = sign_on(p.server.local_addr(), "carol", "pw").await;
    wait_signed_on(&p.server, "carol").await;
    let mut carol_chat = join(&mut carol, &p.room.id).await;
    expect_join_sequence(&mut carol_chat, &["alice", "Bobby", "carol"], &p.room).await;
    expect_joined(&mut p.alice_chat, &["carol"]).await;
    expect_joined(&mut p.bobby_chat, &["carol"]).await;

    // A whisper (TLV 0x0002, no public flag) reaches bobby only.
    let text = MessageInfo::new(b"psst bobby", Some(b"us-ascii"), Some(b"en")).unwrap();
    let whisper = ChatSend::with_message(IcbmCookie([7; 8]), &text, false, false, Some(b"bob by")).unwrap();
    carol_chat.send(Message::Chat(Chat::Send(whisper))).await;
    let (_, m) = expect_message(&mut p.bobby_chat).await;
    assert_eq!(m.text(), b"psst bobby");
    assert!(!m.is_public());
    // A public message next: it is the first thing alice sees.
    carol_chat.send(say("hello all", false)).await;
    let (_, m) = expect_message(&mut p.alice_chat).await;
    assert_eq!(m.text(), b"hello all");
    assert!(m.is_public());
    let (_, m) = expect_message(&mut p.bobby_chat).await;
    assert_eq!(m.text(), b"hello all");

    // Whispering to someone not in the room is an error.
    let nobody = ChatSend::with_message(IcbmCookie([8; 8]), &text, false, false, Some(b"dave")).unwrap();
    let id = carol_chat.send(Message::Chat(Chat::Send(nobody))).await;
    assert_eq!(
        error_code(&reply_to(&mut carol_chat, id).await, 0x000E),
        ErrorCode::NotLoggedOn
    );

    // carol leaves: the two others are told.
    drop(carol_chat);
    expect_left(&mut p.alice_chat, &["carol"]).await;
    expect_left(&mut p.bobby_chat, &["carol"]).await;
}

#[tokio::test]
async fn bos_sign_off_leaves_the_rooms() {
    let mut p = two_in_a_room(ServerConfig::for_tests()).await;
    // bobby's BOS connection goes away: his chat connection is closed and alice sees him leave.
    drop(p.bobby);
    expect_left(&mut p.alice_chat, &["Bobby"]).await;
    p.bobby_chat.expect_closed().await;
}

#[tokio::test]
async fn room_limits_are_enforced() {
    let config = ServerConfig {
        chat: ChatConfig {
            max_occupancy: 2,
            max_message_len: 16,
            ..ChatConfig::default()
        },
        ..ServerConfig::for_tests()
    };
    let mut p = two_in_a_room(config).await;
    assert_eq!(p.room.max_occupancy(), Some(2));
    assert_eq!(p.room.max_message_len(), Some(16));

    // A third user is refused with list overflow.
    let mut carol = sign_on(p.server.local_addr(), "carol", "pw").await;
    wait_signed_on(&p.server, "carol").await;
    let refused = request_service(&mut carol, ServiceRequest::chat(&p.room.id, false).unwrap()).await;
    assert_eq!(refused.err(), Some(ErrorCode::ListOverflow));

    // 16 bytes pass, 17 are refused (and not relayed).
    p.alice_chat.send(say("0123456789abcdef", false)).await;
    let (_, m) = expect_message(&mut p.bobby_chat).await;
    assert_eq!(m.text(), b"0123456789abcdef");
    let id = p.alice_chat.send(say("0123456789abcdefg", false)).await;
    assert_eq!(
        error_code(&reply_to(&mut p.alice_chat, id).await, 0x000E),
        ErrorCode::RequestDenied
    );
    p.alice_chat.send(say("short", false)).await;
    let (_, m) = expect_message(&mut p.bobby_chat).await;
    assert_eq!(m.text(), b"short");
}

#[tokio::test]
async fn public_rooms_exist_only_when_configured() {
    let config = ServerConfig {
        chat: ChatConfig {
            public_rooms: vec!["Lobby".into()],
            ..ChatConfig::default()
        },
        ..ServerConfig::for_tests()
    };
    let server = start_server(config, ACCOUNTS).await;
    let mut alice = sign_on(server.local_addr(), "alice", "pw").await;
    wait_signed_on(&server, "alice").await;
    let mut nav = open_nav(&mut alice).await;

    assert_eq!(create_room(&mut nav, 5, "nowhere").await, Err(ErrorCode::NoMatch));
    let lobby = create_room(&mut nav, 5, "lobby").await.unwrap();
    assert_eq!(lobby.id.cookie.as_bytes(), b"5-0-lobby");
    assert_eq!(lobby.name(), Some(&b"Lobby"[..]));
    let mut chat = join(&mut alice, &lobby.id).await;
    expect_join_sequence(&mut chat, &["alice"], &lobby).await;
    drop(chat);

    // Unknown rooms cannot be joined through a redirect either.
    let nowhere = RoomId {
        exchange: 5,
        cookie: Str08::new(&b"5-0-nowhere"[..]).unwrap(),
        instance: 0,
    };
    let refused = request_service(&mut alice, ServiceRequest::chat(&nowhere, false).unwrap()).await;
    assert_eq!(refused.err(), Some(ErrorCode::NoMatch));
    // A chat request without a room is malformed.
    let bare = request_service(&mut alice, ServiceRequest::new(Family::Chat, false)).await;
    assert_eq!(bare.err(), Some(ErrorCode::BustedSnacPayload));
    // The public room outlives its occupants.
    assert!(create_room(&mut nav, 5, "Lobby").await.is_ok());
}

#[tokio::test]
async fn service_cookies_are_single_use_and_plain_without_tls() {
    let mut p = two_in_a_room(ServerConfig::for_tests()).await;
    // Asking for TLS over a plain BOS connection gets a plain redirect (TLS state 0, no name).
    let resp = request_service(&mut p.alice, ServiceRequest::chat(&p.room.id, true).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.tls_state(), Some(0));
    assert_eq!(resp.tls_cert_name(), None);
    assert_eq!(resp.cookie().len(), 256);
    let addr: SocketAddr = std::str::from_utf8(resp.address()).unwrap().parse().unwrap();
    // The cookie opens one connection (a second alice session in the room: not announced again).
    let (second, _) = bos_connect(addr, resp.cookie()).await;
    let mut replay = RawClient::connect(addr).await;
    replay
        .send_signon(
            flapjack_wire::TlvBlock::builder()
                .bytes(flapjack_wire::flap::signon_tag::COOKIE, resp.cookie())
                .build()
                .unwrap(),
        )
        .await;
    replay.expect_closed().await;
    drop(second);
    // Service connections are not BOS sessions: the registry (IM and presence routing) holds
    // alice's BOS session only.
    assert_eq!(p.server.state().registry.sessions("alice").len(), 1);
    p.alice_chat.send(say("still here", true)).await;
    let (_, m) = expect_message(&mut p.alice_chat).await;
    assert_eq!(m.text(), b"still here");
}

#[tokio::test]
async fn service_requests_only_on_bos_and_chat_snacs_only_on_chat() {
    let mut p = two_in_a_room(ServerConfig::for_tests()).await;
    // No redirects from a service connection.
    let refused = request_service(&mut p.alice_nav, ServiceRequest::new(Family::ChatNav, false)).await;
    assert_eq!(refused.err(), Some(ErrorCode::ServiceUnavailable));
    // CHAT SNACs on the nav connection are not served there.
    let id = p.alice_nav.send(say("wrong place", false)).await;
    let f = reply_to(&mut p.alice_nav, id).await;
    assert_eq!(error_code(&f, 0x000E), ErrorCode::InvalidSnac);
    // Server-to-client CHAT subtypes from a client are refused.
    let id = p.alice_chat.send(Message::Chat(Chat::users_left(&[]).unwrap())).await;
    assert_eq!(
        error_code(&reply_to(&mut p.alice_chat, id).await, 0x000E),
        ErrorCode::InvalidSnac
    );
    // The chat connection keeps working.
    p.alice_chat.send(say("ok", true)).await;
    let (_, m) = expect_message(&mut p.alice_chat).await;
    assert_eq!(m.text(), b"ok");
}
