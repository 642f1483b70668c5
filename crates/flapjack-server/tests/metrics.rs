//! `GET /metrics` against real traffic: two raw clients sign on (BUCP, then the cookie on BOS),
//! one IM is relayed and one stored offline, one login fails, a connection over the per-address
//! cap is refused, a session ends; then a client flooding IMs trips its rate class. Every
//! number is checked exactly.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use flapjack_auth::bucp::HashKind;
use flapjack_server::rate::RateLimiter;
use flapjack_server::{Server, ServerConfig};
use flapjack_wire::family::bucp::LoginOutcome;
use flapjack_wire::family::icbm::{Icbm, SendIm, SendImFlags};
use flapjack_wire::flap::Channel;
use flapjack_wire::snac::Message;
use flapjack_wire::{IcbmCookie, ScreenName, Snac};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config() -> ServerConfig {
    let mut config = ServerConfig::for_tests();
    config.http.http_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config
}

fn im(to: &str, text: &str, flags: SendImFlags) -> Message<'static> {
    let to = ScreenName::new(to.as_bytes().to_vec()).unwrap();
    Message::Icbm(Icbm::SendIm(
        SendIm::channel1(IcbmCookie(*b"metrics1"), to, text, flags).unwrap(),
    ))
}

/// The body of `GET /metrics` on the server's plain HTTP listener.
async fn scrape(server: &Server) -> String {
    let addr = server.frontends().http_addr().expect("HTTP listener");
    let mut s = tokio::time::timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8(raw).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_owned()
}

/// Every sample of the exposition: series (name and labels) → value.
fn samples(body: &str) -> BTreeMap<String, i64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("series value");
            (series.to_owned(), value.parse().expect("integer value"))
        })
        .collect()
}

/// Asserts the `flapjack_logins_total` series: the listed ones with these values, all others 0.
fn assert_logins(all: &BTreeMap<String, i64>, expected: &[(&str, &str, i64)]) {
    let logins: Vec<_> = all
        .iter()
        .filter(|(k, _)| k.starts_with("flapjack_logins_total{"))
        .collect();
    assert_eq!(logins.len(), 5 * 6, "every method × result is exported");
    for (series, value) in logins {
        let want = expected
            .iter()
            .find(|(m, r, _)| *series == format!("flapjack_logins_total{{method=\"{m}\",result=\"{r}\"}}"))
            .map_or(0, |e| e.2);
        assert_eq!(*value, want, "{series}");
    }
}

async fn wait_open_connections(server: &Server, addr: SocketAddr, n: usize) {
    let deadline = Instant::now() + WAIT;
    while server.state().conn_limiter.open_from(addr.ip()) != n {
        assert!(Instant::now() < deadline, "open connections never reached {n}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Scrapes until `series` has `value` (for what happens after a connection closes).
async fn wait_for(server: &Server, series: &str, value: i64) -> BTreeMap<String, i64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let all = samples(&scrape(server).await);
        if all.get(series) == Some(&value) {
            return all;
        }
        assert!(Instant::now() < deadline, "{series} never reached {value}: {all:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_sessions_logins_ims_and_refusals() {
    let config = ServerConfig {
        max_connections_per_address: 3,
        ..config()
    };
    let server = start_server(config, &[("Alice", "pw1"), ("Bob", "pw2"), ("Carol", "pw3")]).await;
    let addr = server.local_addr();
    let all = samples(&scrape(&server).await);
    assert_eq!(all["flapjack_sessions_online"], 0);
    assert_logins(&all, &[]);

    // Two sign-ons: each a BUCP login, then its cookie on a BOS connection. (Waiting for the
    // login connection to go keeps us under the cap of 3.)
    let mut alice = sign_on(addr, "alice", "pw1").await;
    wait_signed_on(&server, "alice").await;
    wait_open_connections(&server, addr, 1).await;
    let mut bob = sign_on(addr, "bob", "pw2").await;
    wait_signed_on(&server, "bob").await;
    wait_open_connections(&server, addr, 2).await;

    // One IM relayed (the host ack comes after the count), one stored for Carol.
    let ack = SendImFlags {
        request_ack: true,
        ..SendImFlags::default()
    };
    alice.send(im("bob", "hello, bob", ack)).await;
    alice.recv_snac_of(0x0004, 0x000C).await;
    bob.recv_snac_of(0x0004, 0x0007).await;
    let store = SendImFlags {
        store_offline: true,
        ..ack
    };
    alice.send(im("carol", "later", store)).await;
    alice.recv_snac_of(0x0004, 0x000C).await;

    // One failed login.
    let resp = bucp_login(addr, "alice", "wrong", HashKind::Strong).await;
    assert!(matches!(resp.outcome().unwrap(), LoginOutcome::Failure(_)));
    wait_open_connections(&server, addr, 2).await;

    // The cap: a third connection is served, a fourth refused.
    let _third = RawClient::connect(addr).await;
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(WAIT, fourth.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "no hello over the cap");

    let body = scrape(&server).await;
    for line in [
        "# TYPE flapjack_sessions_online gauge",
        "# TYPE flapjack_logins_total counter",
        "# TYPE flapjack_rate_class_events_total counter",
    ] {
        assert!(body.lines().any(|l| l == line), "{line} in\n{body}");
    }
    let all = samples(&body);
    assert_eq!(all["flapjack_sessions_online"], 2);
    assert_logins(
        &all,
        &[
            ("bucp", "success", 2),
            ("bucp", "rejected", 1),
            ("cookie", "success", 2),
        ],
    );
    assert_eq!(all["flapjack_ims_relayed_total"], 1);
    assert_eq!(all["flapjack_offline_messages_stored_total"], 1);
    assert_eq!(all["flapjack_connections_refused_total"], 1);
    assert_eq!(all["flapjack_rate_limited_total"], 0);
    for event in ["warn", "limit", "dropped", "disconnect"] {
        assert_eq!(
            all[&format!("flapjack_rate_class_events_total{{event=\"{event}\"}}")],
            0
        );
    }
    assert_eq!(all["flapjack_openauth_tokens"], 0);

    // Bob leaves: the gauge follows once his connection is gone.
    drop(bob);
    wait_for(&server, "flapjack_sessions_online", 1).await;
    drop(alice);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_rate_class_events() {
    let server = start_server(config(), &[("Alice", "pw1")]).await;
    let addr = server.local_addr();
    let mut alice = sign_on(addr, "alice", "pw1").await;
    wait_signed_on(&server, "alice").await;

    // A burst of IM sends in one write: the server sees them all at (nearly) the same instant,
    // so the ICBM class goes alert, limited, then disconnect, as this replay predicts.
    let t0 = std::time::Instant::now();
    let mut replay = RateLimiter::new(t0);
    let (mut dropped, mut sent) = (0, 0);
    loop {
        sent += 1;
        let d = replay.on_snac(0x0004, 0x0006, t0);
        if d.disconnect {
            break;
        }
        if !d.allow {
            dropped += 1;
        }
        assert!(sent < 100, "the replay never disconnects");
    }
    assert!(dropped > 0);
    let mut burst = Vec::new();
    for i in 0..sent + 5 {
        let snac = Snac::new(1000 + i, im("nobody", "flood", SendImFlags::default())).to_bytes();
        flapjack_wire::flap::encode_frame_with(&mut burst, Channel::Data, i as u16, |o| o.extend_from_slice(&snac))
            .unwrap();
    }
    alice.send_raw(&burst).await;
    while alice.recv().await.is_some() {}

    let all = wait_for(&server, "flapjack_sessions_online", 0).await;
    assert_eq!(all["flapjack_rate_class_events_total{event=\"warn\"}"], 1);
    assert_eq!(all["flapjack_rate_class_events_total{event=\"limit\"}"], 1);
    assert_eq!(all["flapjack_rate_class_events_total{event=\"dropped\"}"], dropped);
    assert_eq!(all["flapjack_rate_class_events_total{event=\"disconnect\"}"], 1);
    assert_eq!(all["flapjack_rate_limited_total"], dropped + 1);
    assert_eq!(all["flapjack_ims_relayed_total"], 0);
    assert_logins(&all, &[("bucp", "success", 1), ("cookie", "success", 1)]);
    server.shutdown().await.unwrap();
}
