//! Presence on a real listener: arrivals from feedbag edits and at sign-on, away / back /
//! idle / capability updates with user-info queries, invisibility, permit/deny both ways for
//! presence and IMs (feedbag and legacy PD), legacy buddy lists, and departures at sign-off.

mod common;
mod presence_support;

use common::*;
use flapjack_server::ServerConfig;
use flapjack_wire::family::buddy::{Buddy, NameList};
use flapjack_wire::family::feedbag::{FeedbagStatus, PdMode};
use flapjack_wire::family::locate::{InfoType, Locate, SetInfo, UserInfoQuery2};
use flapjack_wire::family::oservice::{Oservice, SetUserInfoFields, UserInfoFields};
use flapjack_wire::family::pd::Pd;
use flapjack_wire::snac::Message;
use flapjack_wire::userinfo::class;
use flapjack_wire::{Capability, ErrorCode, ScreenName};
use presence_support::*;

fn config() -> ServerConfig {
    ServerConfig {
        enforce_rate_limits: false,
        motd: None,
        ..ServerConfig::for_tests()
    }
}

fn names(list: &[&str]) -> NameList<'static> {
    let sns: Vec<ScreenName<'static>> = list
        .iter()
        .map(|n| ScreenName::new(n.as_bytes().to_vec()).unwrap())
        .collect();
    flapjack_wire::family::buddy::name_list(&sns).unwrap()
}

/// 02/15 (libpurple's get-info) for `who` asking `types`: the reply's TLVs, or the error code.
async fn info2(
    c: &mut RawClient,
    who: &str,
    types: InfoType,
) -> Result<(u16, Option<Vec<u8>>, Option<Vec<u8>>), ErrorCode> {
    let req = c
        .send(Message::Locate(Locate::UserInfoQuery2(UserInfoQuery2 {
            flags: u32::from(types.0),
            screen_name: ScreenName::new(who.as_bytes().to_vec()).unwrap(),
        })))
        .await;
    loop {
        let f = c.recv_snac().await;
        let snac = f.snac();
        if snac.request_id != req {
            continue;
        }
        return match snac.message {
            Message::Locate(Locate::UserInfoReply(r)) => Ok((
                r.user.class(),
                r.profile().map(<[u8]>::to_vec),
                r.away_message().map(<[u8]>::to_vec),
            )),
            Message::Error { error, .. } => Err(error.code),
            other => panic!("unexpected answer to 02/15: {other:?}"),
        };
    }
}

#[tokio::test]
async fn feedbag_add_gives_an_arrival_and_sign_off_a_departure() {
    let server = start_server(config(), &[("Alice", "pw"), ("Bob Smith", "pw")]).await;
    let addr = server.local_addr();
    let mut alice = ssi_sign_on(addr, "alice", "pw").await;
    let mut bob = ssi_sign_on(addr, "bobsmith", "pw").await;

    // A fresh feedbag is the root group alone, with a non-zero timestamp.
    assert_eq!(alice.feedbag.len(), 1);
    assert!(is_root(&alice.feedbag[0]));
    assert_ne!(alice.stamp, 0);

    add_buddy(&mut alice.c, 1, "Buddies", 7, "bob smith").await;
    let info = expect_arrival(&mut alice.c, "bobsmith").await;
    assert_eq!(info.screen_name.as_bytes(), b"Bob Smith", "the formatted name");
    assert_eq!(info.class(), class::AIM);
    assert!(info.signon_time().is_some_and(|t| t > 0));
    assert_eq!(info.tlvs.get(0x0001).map(<[u8]>::len), Some(2), "class is a u16");
    assert_eq!(info.tlvs.get(0x0003).map(<[u8]>::len), Some(4), "sign-on time is a u32");
    assert_eq!(
        info.tlvs.get(0x000F).map(<[u8]>::len),
        Some(4),
        "session length is a u32"
    );

    // Bob does not watch Alice: he hears nothing of her.
    let seen = barrier(&mut bob.c).await;
    assert!(presence_of(&seen, "alice").is_empty());

    drop(bob);
    let gone = expect_departure(&mut alice.c, "bobsmith").await;
    // The ICQ-safe departure block: warning 0 and exactly one TLV (class 0).
    assert_eq!(gone.warning, 0);
    assert_eq!(gone.tlvs.len(), 1);
    assert_eq!(gone.tlvs.get_u16(0x0001), Some(0));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn arrivals_at_sign_on_both_ways() {
    let server = start_server(config(), &[("Alice", "pw"), ("Bob", "pw"), ("Carol", "pw")]).await;
    let addr = server.local_addr();
    // Alice lists Bob and Carol, then signs off.
    let mut alice = ssi_sign_on(addr, "alice", "pw").await;
    add_buddy(&mut alice.c, 1, "Buddies", 1, "Bob").await;
    add_buddy(&mut alice.c, 1, "Buddies", 2, "Carol").await;
    let seen = barrier(&mut alice.c).await;
    assert!(presence_of(&seen, "bob").is_empty(), "Bob is offline");
    drop(alice);
    wait_gone(&server, "alice").await;

    // Bob lists Alice (offline: no arrival); Carol signs on without a list.
    let mut bob = ssi_sign_on(addr, "bob", "pw").await;
    add_buddy(&mut bob.c, 1, "Friends", 3, "Alice").await;
    assert!(presence_of(&barrier(&mut bob.c).await, "alice").is_empty());
    let mut carol = ssi_sign_on(addr, "carol", "pw").await;

    // Alice comes back: at client ready she gets arrivals for both, and Bob (who lists her)
    // one for her; Carol, who does not, hears nothing.
    let alice = ssi_sign_on(addr, "alice", "pw").await;
    assert_eq!(presence_of(&alice.seen, "bob"), [true]);
    assert_eq!(presence_of(&alice.seen, "carol"), [true]);
    expect_arrival(&mut bob.c, "alice").await;
    let seen = barrier(&mut carol.c).await;
    assert!(presence_of(&seen, "alice").is_empty(), "Carol does not list Alice");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn away_back_idle_and_capabilities_are_announced() {
    let server = start_server(config(), &[("Alice", "pw"), ("Bob", "pw")]).await;
    let addr = server.local_addr();
    let mut alice = ssi_sign_on(addr, "alice", "pw").await;
    let mut bob = ssi_sign_on(addr, "bob", "pw").await;
    add_buddy(&mut alice.c, 1, "Buddies", 1, "bob").await;
    expect_arrival(&mut alice.c, "bob").await;

    // Profile first: no presence change.
    bob.c
        .send(Message::Locate(Locate::SetInfo(
            SetInfo::set_profile(b"text/aolrtf; charset=\"us-ascii\"", b"<b>hi</b> I am Bob").unwrap(),
        )))
        .await;
    barrier(&mut bob.c).await;
    assert!(presence_of(&barrier(&mut alice.c).await, "bob").is_empty());
    let (class_now, profile, away) = info2(&mut alice.c, "bob", InfoType::PROFILE | InfoType::AWAY)
        .await
        .unwrap();
    assert_eq!(class_now & class::AWAY, 0);
    assert_eq!(profile.as_deref(), Some(&b"<b>hi</b> I am Bob"[..]));
    assert_eq!(away, None);

    // Away: an update with the away flag; the away text through 02/15 and 02/05.
    bob.c
        .send(Message::Locate(Locate::SetInfo(
            SetInfo::set_away(b"text/aolrtf; charset=\"us-ascii\"", b"gone fishing").unwrap(),
        )))
        .await;
    let info = expect_arrival(&mut alice.c, "bob").await;
    assert_ne!(info.class() & class::AWAY, 0, "away flag set");
    let (class_now, _, away) = info2(&mut alice.c, "bob", InfoType::AWAY).await.unwrap();
    assert_ne!(class_now & class::AWAY, 0);
    assert_eq!(away.as_deref(), Some(&b"gone fishing"[..]));
    let req = alice
        .c
        .send(Message::Locate(Locate::user_info_query(
            InfoType::AWAY,
            ScreenName::new(b"Bob".to_vec()).unwrap(),
        )))
        .await;
    let f = alice.c.recv_snac_of(0x0002, 0x0006).await;
    assert_eq!(f.snac().request_id, req);
    let Message::Locate(Locate::UserInfoReply(r)) = f.snac().message else {
        panic!("02/06")
    };
    assert_eq!(r.away_message(), Some(&b"gone fishing"[..]));
    assert!(r.profile().is_none(), "only what was asked for");

    // An empty away message means back.
    bob.c.send(Message::Locate(Locate::SetInfo(SetInfo::back()))).await;
    let info = expect_arrival(&mut alice.c, "bob").await;
    assert_eq!(info.class() & class::AWAY, 0, "away flag cleared");
    let (_, _, away) = info2(&mut alice.c, "bob", InfoType::AWAY).await.unwrap();
    assert_eq!(away, None);

    // A set-info without TLV 0x0004 leaves the state alone.
    bob.c
        .send(Message::Locate(Locate::SetInfo(
            SetInfo::set_away(b"text/plain", b"brb").unwrap(),
        )))
        .await;
    expect_arrival(&mut alice.c, "bob").await;
    bob.c
        .send(Message::Locate(Locate::SetInfo(
            SetInfo::set_profile(b"text/plain", b"new").unwrap(),
        )))
        .await;
    barrier(&mut bob.c).await;
    assert!(presence_of(&barrier(&mut alice.c).await, "bob").is_empty());
    let (class_now, _, away) = info2(&mut alice.c, "bob", InfoType::AWAY).await.unwrap();
    assert_ne!(class_now & class::AWAY, 0, "still away");
    assert_eq!(away.as_deref(), Some(&b"brb"[..]));
    bob.c.send(Message::Locate(Locate::SetInfo(SetInfo::back()))).await;
    expect_arrival(&mut alice.c, "bob").await;

    // Idle for ten minutes, then active again.
    bob.c.send(Message::Oservice(Oservice::SetIdle(600))).await;
    let info = expect_arrival(&mut alice.c, "bob").await;
    assert!(info.idle_minutes().is_some_and(|m| m >= 10), "{info:?}");
    assert_eq!(info.tlvs.get(0x0004).map(<[u8]>::len), Some(2), "idle is a u16");
    bob.c.send(Message::Oservice(Oservice::SetIdle(0))).await;
    let info = expect_arrival(&mut alice.c, "bob").await;
    assert_eq!(info.idle_minutes(), None);

    // Capabilities.
    bob.c
        .send(Message::Locate(Locate::SetInfo(
            SetInfo::set_capabilities(&[Capability::CHAT, Capability::TYPING]).unwrap(),
        )))
        .await;
    let info = expect_arrival(&mut alice.c, "bob").await;
    assert_eq!(info.capabilities(), vec![Capability::CHAT, Capability::TYPING]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn invisible_appears_departed() {
    let server = start_server(config(), &[("Alice", "pw"), ("Bob", "pw")]).await;
    let addr = server.local_addr();
    let mut alice = ssi_sign_on(addr, "alice", "pw").await;
    let mut bob = ssi_sign_on(addr, "bob", "pw").await;
    add_buddy(&mut alice.c, 1, "Buddies", 1, "bob").await;
    expect_arrival(&mut alice.c, "bob").await;

    let invisible = SetUserInfoFields::new(&UserInfoFields {
        status: Some(0x0000_0100),
        ..UserInfoFields::default()
    })
    .unwrap();
    bob.c
        .send(Message::Oservice(Oservice::SetUserInfoFields(invisible)))
        .await;
    expect_departure(&mut alice.c, "bob").await;
    assert_eq!(
        info2(&mut alice.c, "bob", InfoType::PROFILE).await.unwrap_err(),
        ErrorCode::NotLoggedOn
    );
    // Idle changes while invisible stay hidden.
    bob.c.send(Message::Oservice(Oservice::SetIdle(120))).await;
    barrier(&mut bob.c).await;
    assert!(presence_of(&barrier(&mut alice.c).await, "bob").is_empty());

    let visible = SetUserInfoFields::new(&UserInfoFields {
        status: Some(0),
        ..UserInfoFields::default()
    })
    .unwrap();
    bob.c
        .send(Message::Oservice(Oservice::SetUserInfoFields(visible)))
        .await;
    let info = expect_arrival(&mut alice.c, "bob").await;
    assert_eq!(info.status(), Some(0));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn feedbag_deny_hides_presence_and_refuses_ims_both_ways() {
    let server = start_server(config(), &[("Alice", "pw"), ("Bob", "pw")]).await;
    let addr = server.local_addr();
    let mut alice = ssi_sign_on(addr, "alice", "pw").await;
    let mut bob = ssi_sign_on(addr, "bob", "pw").await;
    add_buddy(&mut alice.c, 1, "Buddies", 1, "bob").await;
    expect_arrival(&mut alice.c, "bob").await;
    add_buddy(&mut bob.c, 2, "Pals", 9, "alice").await;
    expect_arrival(&mut bob.c, "alice").await;
    assert_eq!(send_im(&mut bob.c, "alice", "hi").await, Ok(()));
    assert!(got_im_from(&barrier(&mut alice.c).await, "bob"));

    // Alice blocks Bob: deny some, with Bob on the deny list.
    let st = edit(
        &mut alice.c,
        0x0008,
        &[pd_item(100, PdMode::DenySome), deny_item("Bob", 101)],
    )
    .await;
    assert_eq!(st, [FeedbagStatus::Ok, FeedbagStatus::Ok]);
    // Each loses the other.
    expect_departure(&mut bob.c, "alice").await;
    expect_departure(&mut alice.c, "bob").await;
    // IMs are refused as if the other were offline, in both directions, and nothing arrives.
    assert_eq!(
        send_im(&mut bob.c, "alice", "hello?").await,
        Err(ErrorCode::NotLoggedOn)
    );
    assert_eq!(send_im(&mut alice.c, "bob", "psst").await, Err(ErrorCode::NotLoggedOn));
    assert!(!got_im_from(&barrier(&mut alice.c).await, "bob"));
    assert!(!got_im_from(&barrier(&mut bob.c).await, "alice"));
    // Bob cannot look Alice up either.
    assert_eq!(
        info2(&mut bob.c, "alice", InfoType::PROFILE).await.unwrap_err(),
        ErrorCode::NotLoggedOn
    );
    // A status change of Alice stays hidden from Bob.
    alice.c.send(Message::Oservice(Oservice::SetIdle(300))).await;
    barrier(&mut alice.c).await;
    assert!(presence_of(&barrier(&mut bob.c).await, "alice").is_empty());
    // Bob signs off and on again: still nothing either way.
    drop(bob);
    wait_gone(&server, "bob").await;
    let seen = barrier(&mut alice.c).await;
    assert!(presence_of(&seen, "bob").iter().all(|arrived| !arrived));
    let mut bob = ssi_sign_on(addr, "bob", "pw").await;
    assert!(bob.feedbag.iter().any(|i| i.name.as_bytes() == b"alice"));
    assert!(presence_of(&bob.seen, "alice").is_empty());
    assert!(presence_of(&barrier(&mut alice.c).await, "bob").is_empty());
    // Offline messages are refused too (Alice's settings are read from the store).
    drop(alice);
    wait_gone(&server, "alice").await;
    assert_eq!(send_im(&mut bob.c, "alice", "later").await, Err(ErrorCode::NotLoggedOn));

    // Alice comes back and unblocks Bob: both see each other again, IMs flow.
    let mut alice = ssi_sign_on(addr, "alice", "pw").await;
    assert!(presence_of(&alice.seen, "bob").is_empty());
    assert!(presence_of(&barrier(&mut bob.c).await, "alice").is_empty());
    let st = edit(&mut alice.c, 0x000A, &[deny_item("Bob", 101)]).await;
    assert_eq!(st, [FeedbagStatus::Ok]);
    expect_arrival(&mut alice.c, "bob").await;
    expect_arrival(&mut bob.c, "alice").await;
    assert_eq!(send_im(&mut bob.c, "alice", "there you are").await, Ok(()));
    assert!(got_im_from(&barrier(&mut alice.c).await, "bob"));
    // And an offline message to her is kept again.
    drop(alice);
    wait_gone(&server, "alice").await;
    assert_eq!(send_im(&mut bob.c, "alice", "see you").await, Ok(()));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn legacy_buddy_lists_and_pd_lists() {
    let server = start_server(config(), &[("Alice", "pw"), ("Carol", "pw"), ("Dave", "pw")]).await;
    let addr = server.local_addr();
    let mut alice = ssi_sign_on(addr, "alice", "pw").await;
    // Carol (client-side lists) watches Alice and Dave from sign-on.
    let (mut carol, seen) = legacy_sign_on(
        addr,
        "carol",
        "pw",
        &[Message::Buddy(Buddy::AddBuddies(names(&["Alice", "Dave"])))],
    )
    .await;
    assert_eq!(presence_of(&seen, "alice"), [true]);
    assert!(presence_of(&seen, "dave").is_empty(), "Dave is offline");
    // Dave signs on: Carol hears of it.
    let (mut dave, _) = legacy_sign_on(addr, "dave", "pw", &[]).await;
    expect_arrival(&mut carol, "dave").await;

    // Carol denies Alice with the PD family: she loses Alice, IMs fail both ways.
    carol.send(Message::Pd(Pd::AddDeny(names(&["alice"])))).await;
    expect_departure(&mut carol, "alice").await;
    assert_eq!(send_im(&mut alice.c, "carol", "hey").await, Err(ErrorCode::NotLoggedOn));
    assert_eq!(send_im(&mut carol, "alice", "hey").await, Err(ErrorCode::NotLoggedOn));
    assert_eq!(send_im(&mut dave, "carol", "hey").await, Ok(()));
    carol.send(Message::Pd(Pd::DelDeny(names(&["alice"])))).await;
    expect_arrival(&mut carol, "alice").await;

    // Permit some: only Dave.
    carol.send(Message::Pd(Pd::AddPermit(names(&["dave"])))).await;
    expect_departure(&mut carol, "alice").await;
    assert_eq!(send_im(&mut alice.c, "carol", "hey").await, Err(ErrorCode::NotLoggedOn));
    assert_eq!(send_im(&mut dave, "carol", "hey").await, Ok(()));

    // Removing a legacy buddy stops notices; temporary buddies work like buddies.
    carol.send(Message::Buddy(Buddy::DelBuddies(names(&["dave"])))).await;
    barrier(&mut carol).await;
    dave.send(Message::Oservice(Oservice::SetIdle(60))).await;
    barrier(&mut dave).await;
    assert!(presence_of(&barrier(&mut carol).await, "dave").is_empty());
    carol
        .send(Message::Buddy(Buddy::AddTempBuddies(names(&["Dave"]))))
        .await;
    expect_arrival(&mut carol, "dave").await;
    drop(dave);
    expect_departure(&mut carol, "dave").await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn multiple_sessions_show_the_best_one_and_depart_with_the_last() {
    let server = start_server(config(), &[("Alice", "pw"), ("Bob", "pw")]).await;
    let addr = server.local_addr();
    let mut alice = ssi_sign_on(addr, "alice", "pw").await;
    add_buddy(&mut alice.c, 1, "Buddies", 1, "bob").await;
    let mut bob1 = ssi_sign_on(addr, "bob", "pw").await;
    expect_arrival(&mut alice.c, "bob").await;
    bob1.c
        .send(Message::Locate(Locate::SetInfo(
            SetInfo::set_away(b"text/plain", b"away").unwrap(),
        )))
        .await;
    assert_ne!(expect_arrival(&mut alice.c, "bob").await.class() & class::AWAY, 0);
    // A second, available session of Bob stands for him.
    let bob2 = ssi_sign_on(addr, "bob", "pw").await;
    assert_eq!(expect_arrival(&mut alice.c, "bob").await.class() & class::AWAY, 0);
    // It leaves: the away one remains, no departure.
    drop(bob2);
    assert_ne!(expect_arrival(&mut alice.c, "bob").await.class() & class::AWAY, 0);
    drop(bob1);
    expect_departure(&mut alice.c, "bob").await;
    server.shutdown().await.unwrap();
}
