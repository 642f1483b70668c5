//! Logins on a real listener: BUCP (strong and weak hashes, wrong password, unknown account,
//! failure limits, disabled legacy logins), roasted channel-1 login, cookie replay.

mod common;

use std::time::Duration;

use common::*;
use flapjack_auth::bucp::HashKind;
use flapjack_auth::roast::{RoastTable, roast};
use flapjack_server::limits::LoginLimits;
use flapjack_server::{LegacyLogins, ServerConfig};
use flapjack_wire::TlvBlock;
use flapjack_wire::family::bucp::{LoginError, LoginOutcome, LoginResponse};
use flapjack_wire::flap::signon_tag;

fn failure_of(resp: &LoginResponse<'_>) -> LoginError {
    match resp.outcome().expect("outcome") {
        LoginOutcome::Failure(e) => e,
        LoginOutcome::Success { .. } => panic!("expected a failure"),
    }
}

#[tokio::test]
async fn bucp_login_succeeds_with_either_hash() {
    let server = start_server(ServerConfig::for_tests(), &[("Alice Smith", "s3cret")]).await;
    let addr = server.local_addr();
    for kind in [HashKind::Strong, HashKind::Weak] {
        let resp = bucp_login(addr, "alicesmith", "s3cret", kind).await;
        let LoginOutcome::Success {
            bos_address, cookie, ..
        } = resp.outcome().unwrap()
        else {
            panic!("login failed: {resp:?}");
        };
        assert_eq!(bos_address, addr.to_string().as_bytes());
        assert_eq!(cookie.len(), 256);
        // The response carries the formatted screen name.
        assert_eq!(resp.tlvs.get(0x0001), Some(&b"Alice Smith"[..]));
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bucp_wrong_password_and_unknown_account() {
    let server = start_server(ServerConfig::for_tests(), &[("alice", "s3cret")]).await;
    let addr = server.local_addr();
    let resp = bucp_login(addr, "alice", "wrong", HashKind::Strong).await;
    assert_eq!(failure_of(&resp), LoginError::IncorrectPassword);

    // An unknown account still gets a key, the same each time and shaped like a real one.
    let k1 = challenge_key(addr, "nobody").await;
    let k2 = challenge_key(addr, "No Body").await;
    let real = challenge_key(addr, "alice").await;
    assert_eq!(k1, k2);
    assert_eq!(k1.len(), real.len());
    assert_ne!(k1, real);
    let resp = bucp_login(addr, "nobody", "whatever", HashKind::Strong).await;
    assert_eq!(failure_of(&resp), LoginError::InvalidScreenName);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn failure_limits_per_account_and_per_address() {
    let config = ServerConfig {
        login_limits: LoginLimits {
            per_account: 2,
            per_address: 4,
            window: Duration::from_secs(600),
        },
        ..ServerConfig::for_tests()
    };
    let server = start_server(config, &[("alice", "pw1"), ("bob", "pw2")]).await;
    let addr = server.local_addr();
    for _ in 0..2 {
        let r = bucp_login(addr, "alice", "bad", HashKind::Strong).await;
        assert_eq!(failure_of(&r), LoginError::IncorrectPassword);
    }
    // Even the right password is refused now.
    let r = bucp_login(addr, "alice", "pw1", HashKind::Strong).await;
    assert_eq!(failure_of(&r), LoginError::RateLimited);
    for _ in 0..2 {
        bucp_login(addr, "bob", "bad", HashKind::Strong).await;
    }
    let r = bucp_login(addr, "carol", "x", HashKind::Strong).await;
    assert_eq!(failure_of(&r), LoginError::IpRateLimited);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn legacy_logins_can_be_disabled() {
    let config = ServerConfig {
        legacy_logins: LegacyLogins::Deny,
        ..ServerConfig::for_tests()
    };
    let server = start_server(config, &[("alice", "pw")]).await;
    let addr = server.local_addr();
    let r = bucp_login(addr, "alice", "pw", HashKind::Strong).await;
    assert_eq!(failure_of(&r), LoginError::ServiceUnavailable);
    let mut c = RawClient::connect(addr).await;
    c.send_signon(roasted_tlvs("alice", "pw")).await;
    let bye = c.expect_signoff().await;
    assert_eq!(
        failure_of(&LoginResponse {
            tlvs: bye.signoff_tlvs()
        }),
        LoginError::ServiceUnavailable
    );
    server.shutdown().await.unwrap();
}

fn roasted_tlvs(name: &str, password: &str) -> TlvBlock<'static> {
    TlvBlock::builder()
        .bytes(signon_tag::SCREEN_NAME, name.as_bytes())
        .bytes(
            signon_tag::ROASTED_PASSWORD,
            &roast(password.as_bytes(), RoastTable::Oscar),
        )
        .bytes(
            signon_tag::CLIENT_ID_STRING,
            b"ICQ Inc. - Product of ICQ (TM).2001b.5.18.1.3659.85",
        )
        .u16(signon_tag::CLIENT_ID, 0x010A)
        .build()
        .unwrap()
}

#[tokio::test]
async fn roasted_login_answers_on_channel_4() {
    let server = start_server(ServerConfig::for_tests(), &[("Bob", "hunter2")]).await;
    let addr = server.local_addr();

    let mut c = RawClient::connect(addr).await;
    c.send_signon(roasted_tlvs("bob", "hunter2")).await;
    let bye = c.expect_signoff().await;
    let resp = LoginResponse {
        tlvs: bye.signoff_tlvs(),
    };
    let LoginOutcome::Success { cookie, .. } = resp.outcome().unwrap() else {
        panic!("roasted login failed: {resp:?}");
    };
    let cookie = cookie.to_vec();
    assert_eq!(resp.tlvs.get(0x0001), Some(&b"Bob"[..]));
    // The cookie opens a BOS session.
    let (_bos, families) = bos_connect(addr, &cookie).await;
    assert!(families.contains(&0x0001) && families.contains(&0x0004));

    let mut c = RawClient::connect(addr).await;
    c.send_signon(roasted_tlvs("bob", "hunter3")).await;
    let bye = c.expect_signoff().await;
    assert_eq!(
        failure_of(&LoginResponse {
            tlvs: bye.signoff_tlvs()
        }),
        LoginError::IncorrectPassword
    );

    let mut c = RawClient::connect(addr).await;
    c.send_signon(roasted_tlvs("nobody", "x")).await;
    let bye = c.expect_signoff().await;
    assert_eq!(
        failure_of(&LoginResponse {
            tlvs: bye.signoff_tlvs()
        }),
        LoginError::InvalidScreenName
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn cookies_are_single_use() {
    let server = start_server(ServerConfig::for_tests(), &[("alice", "pw")]).await;
    let addr = server.local_addr();
    let cookie = login_cookie(addr, "alice", "pw").await;
    let (_first, _) = bos_connect(addr, &cookie).await;

    let mut replay = RawClient::connect(addr).await;
    replay
        .send_signon(TlvBlock::builder().bytes(signon_tag::COOKIE, &cookie).build().unwrap())
        .await;
    replay.expect_closed().await;

    let mut forged = RawClient::connect(addr).await;
    forged
        .send_signon(
            TlvBlock::builder()
                .bytes(signon_tag::COOKIE, &[0u8; 256])
                .build()
                .unwrap(),
        )
        .await;
    forged.expect_closed().await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn expired_cookies_are_refused() {
    let config = ServerConfig {
        cookie_ttl: Duration::from_millis(50),
        ..ServerConfig::for_tests()
    };
    let server = start_server(config, &[("alice", "pw")]).await;
    let addr = server.local_addr();
    let cookie = login_cookie(addr, "alice", "pw").await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let mut c = RawClient::connect(addr).await;
    c.send_signon(TlvBlock::builder().bytes(signon_tag::COOKIE, &cookie).build().unwrap())
        .await;
    c.expect_closed().await;
    server.shutdown().await.unwrap();
}
