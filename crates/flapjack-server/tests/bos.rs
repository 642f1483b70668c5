//! BOS on a real listener: the sign-on handshake, IM relay with host acks, offline messages,
//! error SNACs, isolation of a broken connection, and shutdown.

mod common;

use common::*;
use flapjack_server::ServerConfig;
use flapjack_wire::family::icbm::{Icbm, IcbmChannel, SendIm, SendImFlags};
use flapjack_wire::family::oservice::{Oservice, RateLayout};
use flapjack_wire::flap::Channel;
use flapjack_wire::snac::Message;
use flapjack_wire::{ErrorCode, Family, IcbmCookie, ScreenName};

#[tokio::test]
async fn sign_on_reaches_client_ready() {
    let config = ServerConfig {
        motd: Some("hello there".into()),
        ..ServerConfig::for_tests()
    };
    let server = start_server(config, &[("Alice", "pw")]).await;
    let addr = server.local_addr();
    let cookie = login_cookie(addr, "alice", "pw").await;
    let (mut c, families) = bos_connect(addr, &cookie).await;
    assert_eq!(families[0], 0x0001);
    assert!(families.contains(&0x0004));

    let versions = [flapjack_wire::family::oservice::FamilyVersion {
        family: Family::Oservice,
        version: 3,
    }];
    let req = c
        .send(Message::Oservice(Oservice::ClientVersions(
            flapjack_wire::List::from_items(versions.iter(), 10).unwrap(),
        )))
        .await;
    let f = c.recv_snac().await;
    let snac = f.snac();
    assert_eq!(snac.request_id, req);
    let Message::Oservice(Oservice::HostVersions(list)) = &snac.message else {
        panic!("expected host versions, got {:?}", snac.message);
    };
    assert!(list.iter().any(|v| v.family == Family::Oservice));
    let f = c.recv_snac().await;
    let Message::Oservice(Oservice::Motd(motd)) = f.snac().message else {
        panic!("expected the MOTD");
    };
    assert_eq!(motd.message(), Some(&b"hello there"[..]));

    let req = c.send(Message::Oservice(Oservice::RateParamsQuery)).await;
    let f = c.recv_snac().await;
    let snac = f.snac();
    assert_eq!(snac.request_id, req);
    let Message::Oservice(Oservice::RateParamsReply(rates)) = &snac.message else {
        panic!("expected rate params");
    };
    // OSERVICE 3 gets the extended layout; every served SNAC is in a group.
    assert_eq!(rates.layout(), RateLayout::Extended);
    assert_eq!(rates.class_of(0x0004, 0x0006), Some(3));
    assert_eq!(rates.class_of(0x0001, 0x0002), Some(1));

    let req = c.send(Message::Oservice(Oservice::SelfInfoQuery)).await;
    let f = c.recv_snac().await;
    let snac = f.snac();
    assert_eq!(snac.request_id, req);
    let Message::Oservice(Oservice::SelfInfo(me)) = &snac.message else {
        panic!("expected self info");
    };
    assert_eq!(me.info.screen_name.as_bytes(), b"Alice");
    assert!(me.info.signon_time().is_some());

    assert!(server.state().registry.sessions("alice").iter().all(|s| !s.is_ready()));
    c.send(Message::Oservice(Oservice::ClientReady(flapjack_wire::List::empty())))
        .await;
    wait_signed_on(&server, "alice").await;
    server.shutdown().await.unwrap();
}

fn im(to: &str, text: &str, flags: SendImFlags) -> Message<'static> {
    let to = ScreenName::new(to.as_bytes().to_vec()).unwrap();
    Message::Icbm(Icbm::SendIm(
        SendIm::channel1(IcbmCookie(*b"cookie01"), to, text, flags).unwrap(),
    ))
}

#[tokio::test]
async fn im_between_two_clients_with_host_ack() {
    let server = start_server(ServerConfig::for_tests(), &[("Alice", "pw1"), ("Bob", "pw2")]).await;
    let addr = server.local_addr();
    let mut alice = sign_on(addr, "alice", "pw1").await;
    let mut bob = sign_on(addr, "bob", "pw2").await;
    wait_signed_on(&server, "alice").await;
    wait_signed_on(&server, "bob").await;

    let flags = SendImFlags {
        request_ack: true,
        ..SendImFlags::default()
    };
    let req = alice.send(im("B O B", "hello, bob", flags)).await;
    let ack = alice.recv_snac_of(0x0004, 0x000C).await;
    let snac = ack.snac();
    assert_eq!(snac.request_id, req);
    let Message::Icbm(Icbm::HostAck(ack)) = &snac.message else {
        panic!("expected a host ack");
    };
    assert_eq!(ack.cookie, IcbmCookie(*b"cookie01"));

    let got = bob.recv_snac_of(0x0004, 0x0007).await;
    let Message::Icbm(Icbm::IncomingIm(m)) = got.snac().message else {
        panic!("expected an incoming IM");
    };
    assert_eq!(m.sender.screen_name.as_bytes(), b"Alice");
    assert_eq!(m.channel, IcbmChannel::Im);
    assert_eq!(m.text().as_deref(), Some("hello, bob"));
    assert!(!m.wants_ack(), "the ack request is not relayed");

    // Without an ack request, no ack; Bob's answer arrives at Alice.
    bob.send(im("alice", "hi alice", SendImFlags::default())).await;
    let got = alice.recv_snac_of(0x0004, 0x0007).await;
    let Message::Icbm(Icbm::IncomingIm(m)) = got.snac().message else {
        panic!("expected an incoming IM");
    };
    assert_eq!(m.text().as_deref(), Some("hi alice"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn offline_recipients_get_errors_or_stored_messages() {
    let server = start_server(ServerConfig::for_tests(), &[("alice", "pw1"), ("carol", "pw3")]).await;
    let addr = server.local_addr();
    let mut alice = sign_on(addr, "alice", "pw1").await;
    wait_signed_on(&server, "alice").await;

    // Not stored: "not logged on", same request id.
    let req = alice.send(im("carol", "are you there?", SendImFlags::default())).await;
    let err = alice.recv_snac_of(0x0004, 0x0001).await;
    let snac = err.snac();
    assert_eq!(snac.request_id, req);
    let Message::Error { error, .. } = &snac.message else {
        panic!("expected an error")
    };
    assert_eq!(error.code, ErrorCode::NotLoggedOn);

    // Unknown accounts are "not logged on" even with the store flag.
    let flags = SendImFlags {
        request_ack: true,
        store_offline: true,
        ..SendImFlags::default()
    };
    alice.send(im("nobody", "hi", flags)).await;
    let err = alice.recv_snac_of(0x0004, 0x0001).await;
    assert!(matches!(err.snac().message, Message::Error { .. }));

    // Stored, acknowledged, delivered at Carol's sign-on when she asks, then gone.
    let req = alice.send(im("carol", "see you later", flags)).await;
    let ack = alice.recv_snac_of(0x0004, 0x000C).await;
    assert_eq!(ack.snac().request_id, req);

    let mut carol = sign_on(addr, "carol", "pw3").await;
    wait_signed_on(&server, "carol").await;
    let req = carol.send(Message::Icbm(Icbm::OfflineRequest)).await;
    let got = carol.recv_snac_of(0x0004, 0x0007).await;
    let Message::Icbm(Icbm::IncomingIm(m)) = got.snac().message else {
        panic!("expected the offline IM");
    };
    assert_eq!(m.text().as_deref(), Some("see you later"));
    assert!(m.store_offline(), "delivered with TLV 0x0006");
    assert!(m.offline_send_time().is_some());
    assert_eq!(m.sender.screen_name.as_bytes(), b"alice");
    let done = carol.recv_snac_of(0x0004, 0x0017).await;
    assert_eq!(done.snac().request_id, req);
    assert!(
        server
            .state()
            .store
            .take_offline_messages("carol")
            .await
            .unwrap()
            .is_empty()
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn undecodable_snac_gets_a_busted_payload_error() {
    let server = start_server(ServerConfig::for_tests(), &[("alice", "pw")]).await;
    let addr = server.local_addr();
    let mut alice = sign_on(addr, "alice", "pw").await;
    wait_signed_on(&server, "alice").await;
    // 04/06 whose body stops inside the cookie.
    let bytes = [0x00, 0x04, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x0B, 0xAD, 0x01, 0x02];
    alice.send_frame(Channel::Data, &bytes).await;
    let f = alice.recv_snac_of(0x0004, 0x0001).await;
    let snac = f.snac();
    assert_eq!(snac.request_id, 0x0BAD);
    let Message::Error { error, .. } = &snac.message else {
        panic!("expected an error")
    };
    assert_eq!(error.code, ErrorCode::BustedSnacPayload);
    // A family this connection does not serve: invalid SNAC. The connection lives on.
    let bytes = [0x00, 0x42, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07];
    alice.send_frame(Channel::Data, &bytes).await;
    let f = alice.recv_snac_of(0x0042, 0x0001).await;
    assert_eq!(f.snac().request_id, 7);
    let req = alice.send(Message::Oservice(Oservice::SelfInfoQuery)).await;
    assert_eq!(alice.recv_snac_of(0x0001, 0x000F).await.snac().request_id, req);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn garbage_closes_only_its_own_connection() {
    let server = start_server(ServerConfig::for_tests(), &[("alice", "pw")]).await;
    let addr = server.local_addr();
    let mut alice = sign_on(addr, "alice", "pw").await;
    wait_signed_on(&server, "alice").await;

    let mut junk = RawClient::connect(addr).await;
    junk.send_raw(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n").await;
    junk.expect_closed().await;

    // A frame announcing more than the payload cap.
    let mut big = RawClient::connect(addr).await;
    big.send_raw(&[0x2A, 0x01, 0x00, 0x01, 0xFF, 0xFF]).await;
    big.expect_closed().await;

    let req = alice.send(Message::Oservice(Oservice::SelfInfoQuery)).await;
    assert_eq!(alice.recv_snac_of(0x0001, 0x000F).await.snac().request_id, req);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_signs_everyone_off() {
    let server = start_server(ServerConfig::for_tests(), &[("alice", "pw")]).await;
    let addr = server.local_addr();
    let mut alice = sign_on(addr, "alice", "pw").await;
    wait_signed_on(&server, "alice").await;
    let mut waiting = RawClient::connect(addr).await;
    server.shutdown().await.unwrap();
    // Drain what the sign-on left queued, then the goodbye.
    loop {
        match alice.recv().await {
            Some(f) if f.channel == Channel::Signoff => break,
            Some(_) => continue,
            None => panic!("closed without a channel-4 frame"),
        }
    }
    assert!(alice.recv().await.is_none());
    waiting.expect_signoff().await;
}

#[tokio::test]
async fn silent_connections_time_out() {
    let config = ServerConfig {
        idle_timeout: std::time::Duration::from_millis(300),
        login_timeout: std::time::Duration::from_millis(300),
        ..ServerConfig::for_tests()
    };
    let server = start_server(config, &[("alice", "pw")]).await;
    let addr = server.local_addr();
    // Never says hello.
    let mut mute = RawClient::connect(addr).await;
    mute.expect_signoff().await;
    // Signs on, then goes quiet.
    let mut alice = sign_on(addr, "alice", "pw").await;
    wait_signed_on(&server, "alice").await;
    loop {
        match alice.recv().await {
            Some(f) if f.channel == Channel::Signoff => break,
            Some(_) => continue,
            None => panic!("closed without a channel-4 frame"),
        }
    }
    assert!(alice.recv().await.is_none());
    // The session left the registry.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !server.state().registry.sessions("alice").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "session never unregistered");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let config = ServerConfig {
        max_connections_per_address: 2,
        ..ServerConfig::for_tests()
    };
    let server = start_server(config, &[]).await;
    let addr = server.local_addr();
    let _a = RawClient::connect(addr).await;
    let _b = RawClient::connect(addr).await;
    // The third gets no hello: the server closes it at once.
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(WAIT, tokio::io::AsyncReadExt::read(&mut third, &mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "no bytes for a connection over the cap");
    drop(_a);
    // A slot frees up once a connection goes away.
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.state().conn_limiter.open_from(addr.ip()) > 1 {
        assert!(tokio::time::Instant::now() < deadline, "slot never released");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let _c = RawClient::connect(addr).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn ims_reach_every_session_and_kicked_sessions_close() {
    let server = start_server(ServerConfig::for_tests(), &[("alice", "pw1"), ("bob", "pw2")]).await;
    let addr = server.local_addr();
    let mut alice = sign_on(addr, "alice", "pw1").await;
    let mut bob1 = sign_on(addr, "bob", "pw2").await;
    let mut bob2 = sign_on(addr, "bob", "pw2").await;
    wait_signed_on(&server, "alice").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while server
        .state()
        .registry
        .sessions("bob")
        .iter()
        .filter(|s| s.is_ready())
        .count()
        < 2
    {
        assert!(tokio::time::Instant::now() < deadline, "both bob sessions sign on");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    alice.send(im("bob", "to both of you", SendImFlags::default())).await;
    for bob in [&mut bob1, &mut bob2] {
        let got = bob.recv_snac_of(0x0004, 0x0007).await;
        let Message::Icbm(Icbm::IncomingIm(m)) = got.snac().message else {
            panic!("expected an incoming IM");
        };
        assert_eq!(m.text().as_deref(), Some("to both of you"));
    }

    // A session whose queue overflowed is dropped without a goodbye; the others carry on.
    let victim = server.state().registry.sessions("bob")[0].clone();
    victim
        .outbox()
        .disconnect(flapjack_server::session::Disconnect::SlowReader);
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.state().registry.sessions("bob").len() != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the kicked session leaves the registry"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    alice.send(im("bob", "still there?", SendImFlags::default())).await;
    let survivor = server.state().registry.sessions("bob")[0].clone();
    assert_ne!(survivor.id(), victim.id());
    let req = alice.send(Message::Oservice(Oservice::SelfInfoQuery)).await;
    assert_eq!(alice.recv_snac_of(0x0001, 0x000F).await.snac().request_id, req);
    server.shutdown().await.unwrap();
}
