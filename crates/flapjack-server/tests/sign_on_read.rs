//! What a login reads once and reuses: the BUCP login answers its 17/02 with the account its
//! 17/06 read (only for the same account), and a BOS sign-on reads the account, its feedbag
//! and its offline-message state with the cookie, then answers the feedbag query and use and
//! client ready from that read, unless something changed meanwhile (an edit from another
//! session, an offline message stored), which the answers must then show.

mod common;
mod presence_support;

use std::net::SocketAddr;

use common::*;
use flapjack_auth::bucp::{HashKind, client_hash};
use flapjack_server::store::{FeedbagEdit, OfflineMessage, StoredItem};
use flapjack_server::{MultiSession, ServerConfig};
use flapjack_wire::family::bucp::{Bucp, ChallengeRequest, ClientInfo, LoginError, LoginOutcome, LoginRequest};
use flapjack_wire::family::feedbag::{Feedbag, FeedbagItem};
use flapjack_wire::family::icbm::{Icbm, SendIm, SendImFlags};
use flapjack_wire::snac::Message;
use flapjack_wire::{IcbmCookie, ScreenName, TlvBlock};
use presence_support::*;

fn config() -> ServerConfig {
    ServerConfig {
        enforce_rate_limits: false,
        motd: None,
        multi_session: MultiSession::Allow,
        ..ServerConfig::for_tests()
    }
}

/// Versions (FEEDBAG at version 4), rates and the rate subscription, after host online.
async fn handshake(c: &mut RawClient, families: &[u16]) {
    negotiate(c, families, |f| if f == 0x0013 { 4 } else { 1 }).await;
}

fn names(items: &[FeedbagItem<'_>]) -> Vec<Vec<u8>> {
    let mut n: Vec<Vec<u8>> = items.iter().map(|i| i.name.as_bytes().to_vec()).collect();
    n.sort();
    n
}

#[tokio::test]
async fn an_edit_from_another_session_during_the_sign_on_is_in_the_list() {
    let server = start_server(config(), &[("Alice", "pw")]).await;
    let addr = server.local_addr();
    let mut first = ssi_sign_on(addr, "alice", "pw").await;

    // The second session's cookie is redeemed: its sign-on read holds the list as it is now.
    let cookie = login_cookie(addr, "alice", "pw").await;
    let (mut second, families) = bos_connect(addr, &cookie).await;

    // Then the first session adds a group and a buddy, acknowledged (so committed).
    add_buddy(&mut first.c, 5, "Friends", 10, "Bob").await;

    // The second session's query and use see the edit, not the list read with its cookie.
    handshake(&mut second, &families).await;
    let (items, stamp, _) = query_feedbag(&mut second).await;
    let stored = server.state().store.feedbag("alice").await.unwrap();
    assert_eq!(items.len(), stored.items.len());
    assert!(names(&items).contains(&b"Bob".to_vec()), "the new buddy is listed");
    assert!(names(&items).contains(&b"Friends".to_vec()), "and its group");
    assert_eq!(i64::from(stamp), stored.last_modified);
    second.send(Message::Feedbag(Feedbag::Use)).await;
    client_ready(&mut second, &families).await;
    barrier(&mut second).await;

    // A list read with a cookie and used unchanged answers the query the same as the store.
    let third = ssi_sign_on(addr, "alice", "pw").await;
    assert_eq!(names(&third.feedbag), names(&items));
    assert_eq!(third.stamp, stamp);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_list_changed_in_the_store_during_the_sign_on_is_read_again() {
    let server = start_server(config(), &[("Alice", "pw")]).await;
    let addr = server.local_addr();
    let cookie = login_cookie(addr, "alice", "pw").await;
    let (mut c, families) = bos_connect(addr, &cookie).await;
    let item = |group_id, item_id, class_id, name: &[u8]| StoredItem {
        group_id,
        item_id,
        class_id,
        name: name.to_vec(),
        attributes: Vec::new(),
    };
    server
        .state()
        .store
        .apply_feedbag_edit(
            "alice",
            FeedbagEdit {
                put: vec![item(0, 0, 1, b""), item(7, 0, 1, b"Work"), item(7, 3, 0, b"Boss")],
                ..FeedbagEdit::default()
            },
        )
        .await
        .unwrap();
    handshake(&mut c, &families).await;
    let (items, _, _) = query_feedbag(&mut c).await;
    assert!(names(&items).contains(&b"Boss".to_vec()));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_offline_message_stored_during_the_sign_on_comes_at_client_ready() {
    let server = start_server(config(), &[("Alice", "pw"), ("Carol", "pw")]).await;
    let addr = server.local_addr();
    // Carol's sign-on read finds no offline message...
    let cookie = login_cookie(addr, "carol", "pw").await;
    let (c, families) = bos_connect(addr, &cookie).await;
    // ...then one is stored before her client ready.
    let im = SendIm::channel1(
        IcbmCookie([7; 8]),
        ScreenName::new(&b"carol"[..]).unwrap(),
        "while you were signing on",
        SendImFlags::default(),
    )
    .unwrap();
    server
        .state()
        .store
        .store_offline_message(OfflineMessage {
            recipient: "carol".into(),
            sender: "Alice".into(),
            sent_at: 1_700_000_000,
            cookie: [7; 8],
            channel: 1,
            tlvs: im.tlvs.as_bytes().to_vec(),
        })
        .await
        .unwrap();
    // Her client does not ask (no ICBM flag 0x0100): the message is pushed at client ready.
    let mut c = finish_sign_on(c, &families).await;
    let f = c.recv_snac_of(0x0004, 0x0007).await;
    let Message::Icbm(Icbm::IncomingIm(m)) = f.snac().message else {
        panic!("expected the offline IM");
    };
    assert_eq!(m.sender.screen_name.as_bytes(), b"Alice");
    assert_eq!(m.text().as_deref(), Some("while you were signing on"));
    assert!(m.store_offline());
    assert!(
        server
            .state()
            .store
            .take_offline_messages("carol")
            .await
            .unwrap()
            .is_empty(),
        "delivered once"
    );
    server.shutdown().await.unwrap();
}

/// 17/06 for `challenged`, then 17/02 for `name` with `password` hashed with the key handed
/// out; the outcome's error, if any.
async fn challenge_then_login(addr: SocketAddr, challenged: &str, name: &str, password: &str) -> Option<LoginError> {
    let mut c = RawClient::connect(addr).await;
    c.send_signon(TlvBlock::empty()).await;
    c.send(Message::Bucp(Bucp::ChallengeRequest(
        ChallengeRequest::new(challenged.as_bytes()).unwrap(),
    )))
    .await;
    let f = c.recv_snac().await;
    let Message::Bucp(Bucp::ChallengeResponse(r)) = f.snac().message else {
        panic!("expected 17/07");
    };
    let hash = client_hash(HashKind::Strong, r.key.as_bytes(), password.as_bytes());
    c.send(Message::Bucp(Bucp::LoginRequest(
        LoginRequest::new(name.as_bytes(), &hash, true, &ClientInfo::default()).unwrap(),
    )))
    .await;
    let f = c.recv_snac().await;
    let Message::Bucp(Bucp::LoginResponse(resp)) = f.snac().message else {
        panic!("expected 17/03");
    };
    match resp.outcome().unwrap() {
        LoginOutcome::Success { .. } => None,
        LoginOutcome::Failure(e) => Some(e),
    }
}

#[tokio::test]
async fn the_challenge_read_answers_only_a_login_for_the_same_account() {
    let server = start_server(config(), &[("Alice", "pw-a"), ("Bob", "pw-b")]).await;
    let addr = server.local_addr();
    assert_eq!(challenge_then_login(addr, "alice", "Alice", "pw-a").await, None);
    assert_eq!(
        challenge_then_login(addr, "alice", "alice", "nope").await,
        Some(LoginError::IncorrectPassword)
    );
    // Bob's password with Alice's key, or Alice's with Alice's key under Bob's name: Bob's
    // own verifiers decide, not the account the challenge read.
    assert_eq!(
        challenge_then_login(addr, "alice", "bob", "pw-a").await,
        Some(LoginError::IncorrectPassword)
    );
    assert_eq!(
        challenge_then_login(addr, "alice", "bob", "pw-b").await,
        Some(LoginError::IncorrectPassword)
    );
    assert_eq!(
        challenge_then_login(addr, "alice", "nobody", "pw-a").await,
        Some(LoginError::InvalidScreenName)
    );
    // An unknown account's challenge (a decoy key) does not answer for a real one.
    assert_eq!(
        challenge_then_login(addr, "nobody", "bob", "pw-b").await,
        Some(LoginError::IncorrectPassword)
    );
    assert_eq!(challenge_then_login(addr, "Bob", "bob", "pw-b").await, None);
    server.shutdown().await.unwrap();
}
