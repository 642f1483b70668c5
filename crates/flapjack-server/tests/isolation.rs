//! Isolation: one bad connection must not hurt anyone else (DESIGN.md, "One IM, end to end").
//!
//! Two pairs of clients exchange IMs and measure each IM's delivery latency while, at the same
//! time, on the same server:
//!
//! * (a) clients connect and send garbage bytes — each is closed;
//! * (b) a client floods IMs past its rate limit — it gets the "limit" rate notice (0x0001/0x000A
//!   code 3), its excess IMs are dropped, and it is disconnected; it signs on and floods again,
//!   round after round;
//! * (c) a client stops reading while a crowd sends it large IMs — its bounded outbound queue
//!   fills and it is disconnected (a slow reader), without the senders or anyone else waiting.
//!
//! Every pair IM must arrive, each within [`LATENCY_BOUND`], and afterwards a newcomer still
//! signs on and talks: the server keeps serving.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use flapjack_server::{Server, ServerConfig};
use flapjack_wire::family::icbm::{Icbm, SendIm, SendImFlags};
use flapjack_wire::family::oservice::{Oservice, RateChangeCode};
use flapjack_wire::flap::Channel;
use flapjack_wire::snac::Message;
use flapjack_wire::{IcbmCookie, ScreenName, Snac};

/// The most one pair IM may take from the sender's write to the recipient's read. On this
/// 2-core machine a loopback IM normally takes a few milliseconds even in a debug build; 500 ms
/// leaves room for a loaded CI runner while still failing if a bad connection stalls the
/// relay (a blocking write to the slow reader, a lock held across I/O, a panicking task).
const LATENCY_BOUND: Duration = Duration::from_millis(500);
/// IMs each pair member sends (each of the four sends this many; kept under the ICBM rate
/// class's burst allowance at [`PAIR_INTERVAL`]).
const PAIR_IMS: usize = 6;
/// Time between two IMs of one sender.
const PAIR_INTERVAL: Duration = Duration::from_millis(500);
/// IMs the flooder writes per round (the ICBM class disconnects after about 14 at once).
const FLOOD_IMS: usize = 20;
/// Text bytes of each IM the crowd sends the slow reader (under the 16 KiB frame limit).
const BIG_IM: usize = 15_000;
/// The crowd's IMs per connection before it would hit its own rate limit.
const BIG_IMS_PER_ROUND: usize = 6;
/// Upper bound on crowd rounds (≈ 90 KB each) before giving up on filling the queue.
const MAX_CROWD_ROUNDS: usize = 300;

fn im(to: &str, text: &str, ack: bool) -> Message<'static> {
    let to = ScreenName::new(to.as_bytes().to_vec()).unwrap();
    let flags = SendImFlags {
        request_ack: ack,
        ..SendImFlags::default()
    };
    Message::Icbm(Icbm::SendIm(
        SendIm::channel1(IcbmCookie(*b"isolate!"), to, text, flags).unwrap(),
    ))
}

fn im_text(f: &RxFrame) -> Option<String> {
    if f.channel != Channel::Data {
        return None;
    }
    match Snac::decode(&f.payload).ok()?.message {
        Message::Icbm(Icbm::IncomingIm(m)) => m.text(),
        _ => None,
    }
}

type SentAt = Arc<Mutex<HashMap<String, Instant>>>;

/// One pair member: sends `PAIR_IMS` IMs to `peer` on a fixed schedule starting at `start`
/// and records the latency of every IM it receives (tagged `<from>-<n>`) until it has
/// `expect` of them.
async fn pair_member(
    mut c: RawClient,
    me: &'static str,
    peer: &'static str,
    start: tokio::time::Instant,
    sent: SentAt,
    expect: usize,
) -> Vec<(String, Duration)> {
    let mut got = Vec::new();
    let on_frame = |f: RxFrame, got: &mut Vec<(String, Duration)>| {
        if let Some(text) = im_text(&f) {
            let now = Instant::now();
            let at = sent.lock().unwrap().get(&text).copied();
            let at = at.unwrap_or_else(|| panic!("{me} got an IM nobody sent: {text:?}"));
            got.push((text, now.duration_since(at)));
        }
    };
    for n in 0..PAIR_IMS {
        let next = start + PAIR_INTERVAL * n as u32;
        loop {
            match tokio::time::timeout_at(next, c.recv()).await {
                Err(_) => break,
                Ok(Some(f)) => on_frame(f, &mut got),
                Ok(None) => panic!("{me} was disconnected"),
            }
        }
        let tag = format!("{me}-{n}");
        sent.lock().unwrap().insert(tag.clone(), Instant::now());
        c.send(im(peer, &tag, true)).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < expect {
        match tokio::time::timeout_at(deadline, c.recv()).await {
            Err(_) => break,
            Ok(Some(f)) => on_frame(f, &mut got),
            Ok(None) => panic!("{me} was disconnected"),
        }
    }
    got
}

/// (a) Garbage: connections that send junk instead of a FLAP frame, one after another until
/// `stop`; returns how many were closed by the server (all of them, or this panics).
async fn garbage_loop(addr: SocketAddr, stop: Arc<AtomicBool>) -> usize {
    let mut rounds = 0;
    let mut seed: u32 = 0x1234_5678;
    while !stop.load(Ordering::Acquire) && rounds < 1_000 {
        let mut c = RawClient::connect(addr).await;
        let junk: Vec<u8> = (0..4096)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                // Never a FLAP start byte first: the server must reject at once, not wait.
                if i == 0 { 0x00 } else { seed as u8 }
            })
            .collect();
        c.send_raw(&junk).await;
        c.expect_closed().await;
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    rounds
}

/// (b) The flooder: signs on, writes `FLOOD_IMS` IMs at once to `sink`, and expects the limit
/// notice and then the end of the connection; again until `stop`. Returns the rounds.
async fn flood_loop(addr: SocketAddr, stop: Arc<AtomicBool>) -> usize {
    let mut rounds = 0;
    while !stop.load(Ordering::Acquire) && rounds < 100 {
        let mut c = sign_on(addr, "mallory", "pw").await;
        // All in one write, so that the server has read everything before it hangs up.
        let mut burst = Vec::new();
        for i in 0..FLOOD_IMS {
            let bytes = Snac::new(1000 + i as u32, im("sink", &format!("spam {i}"), false)).to_bytes();
            flapjack_wire::flap::encode_frame_with(&mut burst, Channel::Data, i as u16, |o| {
                o.extend_from_slice(&bytes)
            })
            .unwrap();
        }
        c.send_raw(&burst).await;
        let mut limited = false;
        let mut signed_off = false;
        while let Some(f) = c.recv().await {
            match f.channel {
                Channel::Signoff => signed_off = true,
                Channel::Data => {
                    if let Message::Oservice(Oservice::RateChange(ch)) = f.snac().message
                        && ch.code == RateChangeCode::Limit
                    {
                        limited = true;
                    }
                }
                _ => {}
            }
        }
        assert!(limited, "round {rounds}: the flooder was told it is rate limited");
        assert!(signed_off, "round {rounds}: the flooder was signed off");
        rounds += 1;
    }
    rounds
}

/// The sink of the flood: reads and counts IMs until `stop`.
async fn sink_loop(mut c: RawClient, stop: Arc<AtomicBool>, count: Arc<AtomicUsize>) {
    while !stop.load(Ordering::Acquire) {
        match tokio::time::timeout(Duration::from_millis(100), c.recv()).await {
            Err(_) => {}
            Ok(Some(f)) => {
                if im_text(&f).is_some_and(|t| t.starts_with("spam")) {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(None) => panic!("the sink was disconnected"),
        }
    }
}

/// (c) One of the crowd: from `begin`, signs on as `feeder` (several sessions allowed), sends
/// large IMs to `stopper`, hangs up, again, until the stopper's session is gone.
async fn crowd_loop(
    server_addr: SocketAddr,
    server: Arc<Server>,
    rounds: Arc<AtomicUsize>,
    begin: tokio::time::Instant,
) {
    tokio::time::sleep_until(begin).await;
    let text = "x".repeat(BIG_IM);
    while !server.state().registry.sessions("stopper").is_empty() {
        if rounds.fetch_add(1, Ordering::AcqRel) >= MAX_CROWD_ROUNDS {
            return;
        }
        let mut c = sign_on(server_addr, "feeder", "pw").await;
        for _ in 0..BIG_IMS_PER_ROUND {
            c.send(im("stopper", &text, false)).await;
        }
        // A round trip, so the IMs were handled before this session goes.
        c.send(Message::Oservice(Oservice::SelfInfoQuery)).await;
        c.recv_snac_of(0x0001, 0x000F).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_connections_do_not_hurt_the_others() {
    let config = ServerConfig {
        motd: None,
        // A small queue, so that the slow reader is found out after a few megabytes.
        outbound_queue: 32,
        ..ServerConfig::for_tests()
    };
    let accounts = [
        ("alice", "pw"),
        ("bob", "pw"),
        ("carol", "pw"),
        ("dave", "pw"),
        ("mallory", "pw"),
        ("sink", "pw"),
        ("stopper", "pw"),
        ("feeder", "pw"),
        ("late", "pw"),
    ];
    let server = Arc::new(start_server(config, &accounts).await);
    let addr = server.local_addr();

    let mut pair = Vec::new();
    for name in ["alice", "bob", "carol", "dave"] {
        pair.push(sign_on(addr, name, "pw").await);
        wait_signed_on(&server, name).await;
    }
    let sink = sign_on(addr, "sink", "pw").await;
    wait_signed_on(&server, "sink").await;
    // The slow reader signs on, then never reads again.
    let stopper = sign_on(addr, "stopper", "pw").await;
    wait_signed_on(&server, "stopper").await;

    // The adversaries start first, then the pairs measure while they run.
    let stop = Arc::new(AtomicBool::new(false));
    let sunk = Arc::new(AtomicUsize::new(0));
    let sink_task = tokio::spawn(sink_loop(sink, stop.clone(), sunk.clone()));
    let garbage = tokio::spawn(garbage_loop(addr, stop.clone()));
    let flood = tokio::spawn(flood_loop(addr, stop.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    // The crowd starts filling the slow reader's queue once the pairs are under way.
    let crowd_rounds = Arc::new(AtomicUsize::new(0));
    let crowd: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(crowd_loop(
                addr,
                server.clone(),
                crowd_rounds.clone(),
                start + PAIR_INTERVAL,
            ))
        })
        .collect();

    let sent: SentAt = Arc::default();
    let quarter = PAIR_INTERVAL / 4;
    let mut members = Vec::new();
    for (i, (c, (me, peer))) in pair
        .into_iter()
        .zip([("alice", "bob"), ("bob", "alice"), ("carol", "dave"), ("dave", "carol")])
        .enumerate()
    {
        members.push(tokio::spawn(pair_member(
            c,
            me,
            peer,
            start + quarter * i as u32,
            sent.clone(),
            PAIR_IMS,
        )));
    }
    let mut latencies = Vec::new();
    for m in members {
        latencies.extend(m.await.expect("a pair member panicked"));
    }

    stop.store(true, Ordering::Release);
    let garbage_rounds = garbage.await.expect("garbage loop");
    let flood_rounds = flood.await.expect("flood loop");
    for c in crowd {
        c.await.expect("crowd loop");
    }
    sink_task.await.expect("sink loop");

    // Every pair IM arrived, each within the bound.
    latencies.sort_by_key(|(_, d)| *d);
    let worst = latencies.last().map(|(_, d)| *d).unwrap_or_default();
    let median = latencies.get(latencies.len() / 2).map(|(_, d)| *d).unwrap_or_default();
    eprintln!(
        "pair IMs: {} delivered, median {median:?}, worst {worst:?} (bound {LATENCY_BOUND:?}); \
         garbage connections {garbage_rounds}, flood rounds {flood_rounds}, crowd rounds {}",
        latencies.len(),
        crowd_rounds.load(Ordering::Acquire),
    );
    assert_eq!(latencies.len(), 4 * PAIR_IMS, "every pair IM arrived: {latencies:?}");
    let mut tags: Vec<&str> = latencies.iter().map(|(t, _)| t.as_str()).collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), 4 * PAIR_IMS, "no IM arrived twice");
    assert!(
        worst <= LATENCY_BOUND,
        "slowest pair IM took {worst:?} (bound {LATENCY_BOUND:?}): {latencies:?}"
    );

    // (a) Every garbage connection was closed (garbage_loop asserts each).
    assert!(garbage_rounds > 0);
    // (b) Every flood round was limited and disconnected (flood_loop asserts each), and the
    // limited IMs were dropped, not relayed.
    assert!(flood_rounds > 0);
    let spam = sunk.load(Ordering::Acquire);
    assert!(
        spam < flood_rounds * FLOOD_IMS,
        "{spam} of {} flood IMs were relayed",
        flood_rounds * FLOOD_IMS
    );
    // (c) The slow reader was disconnected (its session is gone although it never hung up),
    // before the crowd gave up.
    assert!(
        server.state().registry.sessions("stopper").is_empty(),
        "the slow reader is still signed on after {} crowd rounds",
        crowd_rounds.load(Ordering::Acquire)
    );
    assert!(crowd_rounds.load(Ordering::Acquire) <= MAX_CROWD_ROUNDS);
    // Its connection ends once what was written before the cut is read.
    let mut stopper = stopper;
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        let mut frames = 0usize;
        while stopper.recv().await.is_some() {
            frames += 1;
        }
        frames
    })
    .await
    .expect("the slow reader's connection was closed");
    assert!(drained > 0);

    // The server keeps serving: a newcomer signs on and talks to Carol, signed on again.
    let mut late = sign_on(addr, "late", "pw").await;
    wait_signed_on(&server, "late").await;
    let mut carol = sign_on(addr, "carol", "pw").await;
    wait_signed_on(&server, "carol").await;
    let t0 = Instant::now();
    late.send(im("carol", "still there?", true)).await;
    late.recv_snac_of(0x0004, 0x000C).await;
    let f = carol.recv_snac_of(0x0004, 0x0007).await;
    assert_eq!(im_text(&f).as_deref(), Some("still there?"));
    assert!(t0.elapsed() <= LATENCY_BOUND);
    drop((late, carol));
    match Arc::try_unwrap(server) {
        Ok(server) => server.shutdown().await.unwrap(),
        Err(_) => panic!("the server is still shared"),
    }
}
