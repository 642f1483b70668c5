//! Several sessions per account, or one (§10, login TLV 0x004A): the flag on BUCP 17/02, on
//! the roasted channel-1 login and on the BOS cookie hello; the default without a flag
//! (single); the server's `multi_session` policy; and what a kicked session sees (a channel-4
//! frame with TLV 0x0009 = u16 0x0001, then the end of the stream).

mod common;

use std::net::SocketAddr;

use common::*;
use flapjack_auth::bucp::{HashKind, client_hash};
use flapjack_auth::roast::{RoastTable, roast};
use flapjack_server::{MultiSession, ServerConfig};
use flapjack_wire::family::bucp::{Bucp, ChallengeRequest, ClientInfo, LoginOutcome, LoginRequest, LoginResponse};
use flapjack_wire::family::icbm::{Icbm, SendIm, SendImFlags};
use flapjack_wire::family::oservice::Oservice;
use flapjack_wire::flap::{Channel, signoff_tag, signon_tag};
use flapjack_wire::snac::Message;
use flapjack_wire::{IcbmCookie, ScreenName, TlvBlock};

const ALLOW: Option<u8> = Some(0x01);
const SINGLE: Option<u8> = Some(0x03);

/// A BUCP login whose 17/02 carries `multi_conn` (or no TLV 0x004A); returns the cookie.
async fn bucp_cookie(addr: SocketAddr, name: &str, password: &str, multi_conn: Option<u8>) -> Vec<u8> {
    let mut c = RawClient::connect(addr).await;
    c.send_signon(TlvBlock::empty()).await;
    c.send(Message::Bucp(Bucp::ChallengeRequest(
        ChallengeRequest::new(name.as_bytes()).unwrap(),
    )))
    .await;
    let f = c.recv_snac().await;
    let Message::Bucp(Bucp::ChallengeResponse(r)) = f.snac().message else {
        panic!("expected 17/07");
    };
    let hash = client_hash(HashKind::Strong, r.key.as_bytes(), password.as_bytes());
    let info = ClientInfo {
        multi_conn,
        ..ClientInfo::default()
    };
    let login = LoginRequest::new(name.as_bytes(), &hash, true, &info).unwrap();
    c.send(Message::Bucp(Bucp::LoginRequest(login))).await;
    let f = c.recv_snac().await;
    let Message::Bucp(Bucp::LoginResponse(resp)) = f.snac().message else {
        panic!("expected 17/03");
    };
    let LoginOutcome::Success { cookie, .. } = resp.outcome().unwrap() else {
        panic!("login failed: {resp:?}");
    };
    cookie.to_vec()
}

/// A roasted channel-1 login carrying `multi_conn`; returns the cookie.
async fn roasted_cookie(addr: SocketAddr, name: &str, password: &str, multi_conn: Option<u8>) -> Vec<u8> {
    let mut c = RawClient::connect(addr).await;
    let mut b = TlvBlock::builder()
        .bytes(signon_tag::SCREEN_NAME, name.as_bytes())
        .bytes(
            signon_tag::ROASTED_PASSWORD,
            &roast(password.as_bytes(), RoastTable::Oscar),
        )
        .bytes(signon_tag::CLIENT_ID_STRING, b"AOL Instant Messenger (SM), version 3.0");
    if let Some(m) = multi_conn {
        b = b.u8(signon_tag::MULTI_CONN, m);
    }
    c.send_signon(b.build().unwrap()).await;
    let bye = c.expect_signoff().await;
    let resp = LoginResponse {
        tlvs: bye.signoff_tlvs().into_owned(),
    };
    let LoginOutcome::Success { cookie, .. } = resp.outcome().unwrap() else {
        panic!("roasted login failed: {resp:?}");
    };
    cookie.to_vec()
}

/// Presents `cookie` (with `hello_multi_conn` on the channel-1 frame, if any) and completes the
/// sign-on through client ready.
async fn bos_sign_on(addr: SocketAddr, cookie: &[u8], hello_multi_conn: Option<u8>) -> RawClient {
    let mut c = RawClient::connect(addr).await;
    let mut b = TlvBlock::builder().bytes(signon_tag::COOKIE, cookie);
    if let Some(m) = hello_multi_conn {
        b = b.u8(signon_tag::MULTI_CONN, m);
    }
    c.send_signon(b.build().unwrap()).await;
    let f = c.recv_snac().await;
    let Message::Oservice(Oservice::HostOnline(list)) = f.snac().message else {
        panic!("expected host online");
    };
    let families: Vec<u16> = list.iter().map(|f| f.value()).collect();
    let mut c = finish_sign_on(c, &families).await;
    // A self-info round trip: client ready has been handled once it is answered.
    c.send(Message::Oservice(Oservice::SelfInfoQuery)).await;
    c.recv_snac_of(0x0001, 0x000F).await;
    c
}

/// Signs `name` on with a BUCP login carrying `multi_conn`.
async fn sign_on_with(addr: SocketAddr, name: &str, multi_conn: Option<u8>) -> RawClient {
    let cookie = bucp_cookie(addr, name, "pw", multi_conn).await;
    bos_sign_on(addr, &cookie, None).await
}

fn im(to: &str, text: &str) -> Message<'static> {
    let to = ScreenName::new(to.as_bytes().to_vec()).unwrap();
    Message::Icbm(Icbm::SendIm(
        SendIm::channel1(IcbmCookie(*b"multises"), to, text, SendImFlags::default()).unwrap(),
    ))
}

/// Expects `text` to arrive at `c` as an incoming IM.
async fn expect_im(c: &mut RawClient, text: &str) {
    let got = c.recv_snac_of(0x0004, 0x0007).await;
    let Message::Icbm(Icbm::IncomingIm(m)) = got.snac().message else {
        panic!("expected an incoming IM");
    };
    assert_eq!(m.text().as_deref(), Some(text));
}

/// Expects `c` to be signed off "from another location": SNACs may precede the channel-4
/// frame, which must carry TLV 0x0009 = u16 0x0001 and be followed by the end of the stream.
async fn expect_kicked(c: &mut RawClient) {
    loop {
        let f = c.recv().await.expect("a sign-off frame before the close");
        match f.channel {
            Channel::Data | Channel::Keepalive => continue,
            Channel::Signoff => {
                let tlvs = f.signoff_tlvs();
                assert_eq!(
                    tlvs.get(signoff_tag::DISCONNECT_REASON),
                    Some(&[0x00, 0x01][..]),
                    "TLV 0x0009 = u16 0x0001 (signed on from another location)"
                );
                break;
            }
            other => panic!("unexpected {other:?} frame"),
        }
    }
    assert!(c.recv().await.is_none(), "the connection closes after the sign-off");
}

fn ready_sessions(server: &flapjack_server::Server, name: &str) -> usize {
    server
        .state()
        .registry
        .sessions(name)
        .iter()
        .filter(|s| s.is_ready())
        .count()
}

#[tokio::test]
async fn allow_flag_keeps_every_session_and_single_flag_kicks_them() {
    let server = start_server(ServerConfig::for_tests(), &[("Alice", "pw"), ("Bob", "pw")]).await;
    let addr = server.local_addr();
    let mut a1 = sign_on_with(addr, "alice", ALLOW).await;
    let mut a2 = sign_on_with(addr, "alice", ALLOW).await;
    let mut bob = sign_on_with(addr, "bob", ALLOW).await;
    assert_eq!(ready_sessions(&server, "alice"), 2);

    // Both of Alice's sessions get Bob's IM.
    bob.send(im("alice", "to both of you")).await;
    expect_im(&mut a1, "to both of you").await;
    expect_im(&mut a2, "to both of you").await;

    // A single-session sign-on signs both older sessions off.
    let mut a3 = sign_on_with(addr, "alice", SINGLE).await;
    expect_kicked(&mut a1).await;
    expect_kicked(&mut a2).await;
    assert_eq!(ready_sessions(&server, "alice"), 1);
    assert_eq!(server.state().registry.sessions("alice").len(), 1);

    // The new one works; Bob was not affected.
    bob.send(im("alice", "only you now")).await;
    expect_im(&mut a3, "only you now").await;
    a3.send(im("bob", "still here")).await;
    expect_im(&mut bob, "still here").await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn no_flag_means_single_session() {
    let server = start_server(ServerConfig::for_tests(), &[("Alice", "pw")]).await;
    let addr = server.local_addr();
    // An old client (no TLV 0x004A) signs on twice: the first session is signed off.
    let mut a1 = sign_on_with(addr, "alice", None).await;
    let _a2 = sign_on_with(addr, "alice", None).await;
    expect_kicked(&mut a1).await;
    assert_eq!(ready_sessions(&server, "alice"), 1);
    // 0x00 ("no multi-connection support") is single too.
    let mut a3 = sign_on_with(addr, "alice", Some(0x00)).await;
    let _a4 = sign_on_with(addr, "alice", Some(0x00)).await;
    expect_kicked(&mut a3).await;
    assert_eq!(ready_sessions(&server, "alice"), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_flag_with_the_bos_cookie_overrides_the_login() {
    let server = start_server(ServerConfig::for_tests(), &[("Alice", "pw")]).await;
    let addr = server.local_addr();
    // OpenAuth clients send the flag only with the cookie (§2.9): a login without it, then a
    // BOS hello allowing multiple sessions, twice: both stay.
    let c1 = bucp_cookie(addr, "alice", "pw", None).await;
    let mut a1 = bos_sign_on(addr, &c1, ALLOW).await;
    let c2 = bucp_cookie(addr, "alice", "pw", None).await;
    let _a2 = bos_sign_on(addr, &c2, ALLOW).await;
    assert_eq!(ready_sessions(&server, "alice"), 2);
    // A login that allowed multiple sessions, but a hello asking for a single one: kick.
    let c3 = bucp_cookie(addr, "alice", "pw", ALLOW).await;
    let _a3 = bos_sign_on(addr, &c3, SINGLE).await;
    expect_kicked(&mut a1).await;
    assert_eq!(ready_sessions(&server, "alice"), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn roasted_logins_carry_the_flag() {
    let server = start_server(ServerConfig::for_tests(), &[("Alice", "pw")]).await;
    let addr = server.local_addr();
    let c1 = roasted_cookie(addr, "alice", "pw", ALLOW).await;
    let mut a1 = bos_sign_on(addr, &c1, None).await;
    let c2 = roasted_cookie(addr, "alice", "pw", ALLOW).await;
    let mut a2 = bos_sign_on(addr, &c2, None).await;
    assert_eq!(ready_sessions(&server, "alice"), 2);
    let c3 = roasted_cookie(addr, "alice", "pw", SINGLE).await;
    let _a3 = bos_sign_on(addr, &c3, None).await;
    expect_kicked(&mut a1).await;
    expect_kicked(&mut a2).await;
    assert_eq!(ready_sessions(&server, "alice"), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_policy_overrides_the_client() {
    // Allow: a single-session flag kicks nobody.
    let config = ServerConfig {
        multi_session: MultiSession::Allow,
        ..ServerConfig::for_tests()
    };
    let server = start_server(config, &[("Alice", "pw")]).await;
    let addr = server.local_addr();
    let mut a1 = sign_on_with(addr, "alice", SINGLE).await;
    let _a2 = sign_on_with(addr, "alice", SINGLE).await;
    let _a3 = sign_on_with(addr, "alice", None).await;
    assert_eq!(ready_sessions(&server, "alice"), 3);
    // a1 is still alive: it answers a self-info query.
    a1.send(Message::Oservice(Oservice::SelfInfoQuery)).await;
    a1.recv_snac_of(0x0001, 0x000F).await;
    server.shutdown().await.unwrap();

    // Kick-older: even a client allowing several sessions gets one.
    let config = ServerConfig {
        multi_session: MultiSession::KickOlder,
        ..ServerConfig::for_tests()
    };
    let server = start_server(config, &[("Alice", "pw")]).await;
    let addr = server.local_addr();
    let mut a1 = sign_on_with(addr, "alice", ALLOW).await;
    let _a2 = sign_on_with(addr, "alice", ALLOW).await;
    expect_kicked(&mut a1).await;
    assert_eq!(ready_sessions(&server, "alice"), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrent_single_sign_ons_leave_one_session() {
    let server = start_server(ServerConfig::for_tests(), &[("Alice", "pw")]).await;
    let addr = server.local_addr();
    let cookies = [
        bucp_cookie(addr, "alice", "pw", SINGLE).await,
        bucp_cookie(addr, "alice", "pw", SINGLE).await,
        bucp_cookie(addr, "alice", "pw", SINGLE).await,
    ];
    let tasks: Vec<_> = cookies
        .into_iter()
        .map(|c| {
            tokio::spawn(async move {
                let mut client = RawClient::connect(addr).await;
                client
                    .send_signon(TlvBlock::builder().bytes(signon_tag::COOKIE, &c).build().unwrap())
                    .await;
                // Host online, or a kick racing it; either way read to the end or the first SNAC.
                let first = client.recv().await;
                (client, first)
            })
        })
        .collect();
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.unwrap());
    }
    // Every sign-on replaced the sessions before it: exactly one is left in the registry.
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.state().registry.sessions("alice").len() != 1 {
        assert!(tokio::time::Instant::now() < deadline, "more than one session survived");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    drop(clients);
    server.shutdown().await.unwrap();
}
