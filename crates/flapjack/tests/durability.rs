//! Durability of acknowledged changes across a crash of the real `flapjack serve` binary.
//!
//! A raw OSCAR client signs on and fires a burst of feedbag inserts (inside start/end cluster
//! markers) and offline IMs (store-if-offline, ack requested) to two offline users, without
//! waiting between them, and records every change the server **acknowledged**: a 0x0013/0x000E
//! status OK for an insert, a 0x0004/0x000C host ack for an offline IM. Part-way through the
//! acknowledgements the server is killed with SIGKILL (`Child::kill`), restarted on the same
//! data directory, and then every acknowledged feedbag item must be in the feedbag reply, and
//! every acknowledged offline IM must be delivered when its recipient signs on. Changes that
//! were committed but whose ack never arrived may show up too; a lost acknowledged change fails
//! the test. Three rounds kill the server at different points; the feedbag accumulates across
//! them.
//!
//! A SIGKILL tests that the server acknowledges only after the store has handed the commit to
//! the operating system; power-loss durability rests on SQLite's `synchronous=FULL`, which a
//! test cannot simulate.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flapjack_auth::bucp::{HashKind, client_hash};
use flapjack_wire::family::bucp::{Bucp, ChallengeRequest, ClientInfo, LoginOutcome, LoginRequest};
use flapjack_wire::family::feedbag::{Feedbag, FeedbagItem, FeedbagStatus, item_list};
use flapjack_wire::family::icbm::{Icbm, IcbmParams, SendIm, SendImFlags};
use flapjack_wire::family::oservice::{ClientReadyEntry, FamilyVersion, Oservice};
use flapjack_wire::flap::{Channel, Decoded, FrameDecoder, Signon, encode_frame_with, signon_tag};
use flapjack_wire::list::U16Item;
use flapjack_wire::snac::Message;
use flapjack_wire::{Family, IcbmCookie, List, ScreenName, Snac, TlvBlock};

/// How long one read may block before the test gives up.
const WAIT: Duration = Duration::from_secs(20);
/// Feedbag inserts per round (the AIM limit is 200 buddies; three rounds stay under it).
const INSERTS: usize = 60;
/// Offline IMs per round, alternating between the two offline recipients.
const IMS: usize = 24;
/// When each round kills the server: right after the n-th acknowledgement of this kind, so
/// that the last change acknowledged before the kill is an offline IM in some rounds and a
/// feedbag insert in others (an ack sent before its commit would then be lost).
const KILL_AT: [(Kind, usize); 3] = [(Kind::Im, 1), (Kind::Buddy, 20), (Kind::Im, 15)];

/// The two kinds of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Buddy,
    Im,
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("flapjack-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn flapjack() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flapjack"));
    c.env_remove("FLAPJACK_DATA_DIR").env("FLAPJACK_LOG", "info");
    c
}

/// `flapjack account add --from-file` for `names`, all with password `pw`.
fn add_accounts(dir: &TempDir, names: &[&str]) {
    let list = dir.0.join("accounts.txt");
    let lines: Vec<String> = names.iter().map(|n| format!("{n}:pw")).collect();
    std::fs::write(&list, lines.join("\n")).unwrap();
    let o = flapjack()
        .args(["account", "--data-dir"])
        .arg(&dir.0)
        .args(["add", "--from-file"])
        .arg(&list)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "account add: {o:?}");
}

/// A running `flapjack serve`, killed (SIGKILL) when dropped.
struct Serve {
    child: Child,
    addr: String,
    reaped: bool,
}

impl Serve {
    fn start(dir: &TempDir) -> Self {
        let mut child = flapjack()
            .args(["serve", "--oscar", "127.0.0.1:0", "--no-rate-limits", "--data-dir"])
            .arg(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Keep draining the log (a full pipe would stall the server).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the OSCAR listener comes up");
            if line.contains("OSCAR listener up")
                && let Some(rest) = line.split("addr=").nth(1)
            {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        Self {
            child,
            addr,
            reaped: false,
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    fn kill(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.reaped = true;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A blocking raw OSCAR connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    seq: u16,
    next_request: u32,
}

impl Conn {
    fn connect(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut c = Self {
            stream,
            buf: Vec::new(),
            seq: 1,
            next_request: 1,
        };
        let (ch, payload) = c.recv().expect("server hello");
        assert_eq!((ch, payload.as_slice()), (Channel::Signon, &[0, 0, 0, 1][..]));
        c
    }

    fn frame(&mut self, channel: Channel, payload: &[u8], out: &mut Vec<u8>) {
        encode_frame_with(out, channel, self.seq, |o| o.extend_from_slice(payload)).unwrap();
        self.seq = self.seq.wrapping_add(1);
    }

    /// Encodes `message` with a fresh request id onto `out`; returns the id.
    fn snac_into(&mut self, message: Message<'_>, out: &mut Vec<u8>) -> u32 {
        let id = self.next_request;
        self.next_request += 1;
        let bytes = Snac::new(id, message).to_bytes();
        self.frame(Channel::Data, &bytes, out);
        id
    }

    fn send(&mut self, message: Message<'_>) -> u32 {
        let mut out = Vec::new();
        let id = self.snac_into(message, &mut out);
        self.stream.write_all(&out).unwrap();
        id
    }

    fn send_signon(&mut self, tlvs: TlvBlock<'_>) {
        let mut payload = Vec::new();
        Signon { version: 1, tlvs }.encode(&mut payload);
        let mut out = Vec::new();
        self.frame(Channel::Signon, &payload, &mut out);
        self.stream.write_all(&out).unwrap();
    }

    /// The next frame, or `None` at the end of the stream (or a reset: the server died).
    fn recv(&mut self) -> Option<(Channel, Vec<u8>)> {
        let decoder = FrameDecoder::new();
        loop {
            if let Decoded::Complete { value, consumed } = decoder.decode(&self.buf).expect("well-formed frames") {
                let frame = (value.channel, value.payload().to_vec());
                self.buf.drain(..consumed);
                return Some(frame);
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    panic!("no frame within {WAIT:?}")
                }
                Err(_) => return None,
            }
        }
    }

    /// Signs off (an empty channel-4 frame) and waits for the server to close the connection,
    /// by which time the session has left the server's registry.
    fn bye(mut self) {
        let mut out = Vec::new();
        self.frame(Channel::Signoff, &[], &mut out);
        self.stream.write_all(&out).unwrap();
        while self.recv().is_some() {}
    }

    /// The next SNAC of `family`/`subtype` (payload), skipping other frames.
    fn recv_snac_of(&mut self, family: u16, subtype: u16) -> Vec<u8> {
        for _ in 0..1000 {
            let (ch, payload) = self.recv().expect("a SNAC, not the end of the connection");
            if ch != Channel::Data {
                continue;
            }
            let h = Snac::decode(&payload).expect("SNAC").header();
            if (h.family, h.subtype) == (family, subtype) {
                return payload;
            }
        }
        panic!("no {family:04x}/{subtype:04x}");
    }
}

/// BUCP login; returns the BOS cookie.
fn login(addr: &str, name: &str) -> Vec<u8> {
    let mut c = Conn::connect(addr);
    c.send_signon(TlvBlock::empty());
    c.send(Message::Bucp(Bucp::ChallengeRequest(
        ChallengeRequest::new(name.as_bytes()).unwrap(),
    )));
    let p = c.recv_snac_of(0x0017, 0x0007);
    let Message::Bucp(Bucp::ChallengeResponse(r)) = Snac::decode(&p).unwrap().message else {
        panic!("expected 17/07");
    };
    let hash = client_hash(HashKind::Strong, r.key.as_bytes(), b"pw");
    let req = LoginRequest::new(name.as_bytes(), &hash, true, &ClientInfo::default()).unwrap();
    c.send(Message::Bucp(Bucp::LoginRequest(req)));
    let p = c.recv_snac_of(0x0017, 0x0003);
    let Message::Bucp(Bucp::LoginResponse(r)) = Snac::decode(&p).unwrap().message else {
        panic!("expected 17/03");
    };
    match r.outcome().unwrap() {
        LoginOutcome::Success { cookie, .. } => cookie.to_vec(),
        LoginOutcome::Failure(e) => panic!("login of {name} failed: {e:?}"),
    }
}

/// Signs `name` on (feedbag query and use, ICBM parameters with offline IMs, client ready);
/// returns the connection and the feedbag's item names.
fn sign_on(addr: &str, name: &str) -> (Conn, BTreeSet<String>) {
    let cookie = login(addr, name);
    let mut c = Conn::connect(addr);
    c.send_signon(TlvBlock::builder().bytes(signon_tag::COOKIE, &cookie).build().unwrap());
    let p = c.recv_snac_of(0x0001, 0x0003);
    let Message::Oservice(Oservice::HostOnline(list)) = Snac::decode(&p).unwrap().message else {
        panic!("expected host online");
    };
    let families: Vec<u16> = list.iter().map(|f| f.value()).collect();
    let versions: Vec<FamilyVersion> = families
        .iter()
        .map(|&f| FamilyVersion {
            family: Family::from(f),
            version: match f {
                1 => 3,
                0x13 => 4,
                _ => 1,
            },
        })
        .collect();
    c.send(Message::Oservice(Oservice::ClientVersions(
        List::from_items(versions.iter(), 100).unwrap(),
    )));
    c.recv_snac_of(0x0001, 0x0018);
    c.send(Message::Oservice(Oservice::RateParamsQuery));
    let p = c.recv_snac_of(0x0001, 0x0007);
    let ids: Vec<u16> = match Snac::decode(&p).unwrap().message {
        Message::Oservice(Oservice::RateParamsReply(r)) => r.class_ids().collect(),
        other => panic!("expected 01/07, got {other:?}"),
    };
    c.send(Message::Oservice(Oservice::RateParamsSubAdd(
        List::<U16Item>::from_items(ids.iter(), 100).unwrap(),
    )));
    c.send(Message::Feedbag(Feedbag::Query));
    let mut names = BTreeSet::new();
    loop {
        let p = c.recv_snac_of(0x0013, 0x0006);
        let snac = Snac::decode(&p).unwrap();
        let Message::Feedbag(Feedbag::Reply(r)) = &snac.message else {
            panic!("expected 13/06");
        };
        names.extend(
            r.items
                .iter()
                .map(|i| String::from_utf8_lossy(i.name.as_bytes()).into_owned()),
        );
        if snac.flags & 0x0001 == 0 {
            break;
        }
    }
    c.send(Message::Feedbag(Feedbag::Use));
    c.send(Message::Icbm(Icbm::SetParams {
        channel: 0,
        params: IcbmParams::LIBPURPLE,
    }));
    let ready: Vec<ClientReadyEntry> = families
        .iter()
        .map(|&f| ClientReadyEntry {
            family: Family::from(f),
            version: 1,
            tool_id: 0x0110,
            tool_version: 0x0629,
        })
        .collect();
    c.send(Message::Oservice(Oservice::ClientReady(
        List::from_items(ready.iter(), 100).unwrap(),
    )));
    (c, names)
}

/// Sends one insert and waits for its status.
fn insert(c: &mut Conn, item: FeedbagItem<'_>) -> FeedbagStatus {
    let items = [item];
    let req = c.send(Message::Feedbag(Feedbag::InsertItem(item_list(&items).unwrap())));
    loop {
        let p = c.recv_snac_of(0x0013, 0x000E);
        let snac = Snac::decode(&p).unwrap();
        if snac.request_id != req {
            continue;
        }
        let Message::Feedbag(Feedbag::Status(codes)) = snac.message else {
            panic!("expected 13/0E");
        };
        return codes.iter().next().expect("one status");
    }
}

/// The offline IMs delivered to `name` at sign-on (texts), after 0x0004/0x0010.
fn offline_ims(addr: &str, name: &str) -> Vec<String> {
    let (mut c, _) = sign_on(addr, name);
    let req = c.send(Message::Icbm(Icbm::OfflineRequest));
    let mut texts = Vec::new();
    loop {
        let (ch, p) = c.recv().expect("offline IMs, then the end marker");
        if ch != Channel::Data {
            continue;
        }
        let snac = Snac::decode(&p).unwrap();
        match snac.message {
            Message::Icbm(Icbm::IncomingIm(m)) => texts.push(m.text().unwrap_or_default()),
            Message::Icbm(Icbm::OfflineDone) if snac.request_id == req => {
                // Gone before the next burst: IMs to a live session are not stored.
                c.bye();
                return texts;
            }
            _ => {}
        }
    }
}

/// A change the burst asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Buddy(String),
    Im { to: &'static str, text: String },
}

/// One round: sign alice on, fire the burst, SIGKILL the server right after the `nth`
/// acknowledgement of a change of `kind`; returns (acknowledged, everything sent).
fn burst_and_kill(serve: &mut Serve, round: usize, (kind, nth): (Kind, usize)) -> (Vec<Change>, Vec<Change>) {
    let (mut alice, _) = sign_on(&serve.addr, "alice");
    if round == 0 {
        let group = FeedbagItem::group(b"Durable".to_vec(), 1, &[]).unwrap();
        assert_eq!(insert(&mut alice, group), FeedbagStatus::Ok);
    }
    let mut out = Vec::new();
    let mut pending: HashMap<u32, Change> = HashMap::new();
    let mut sent = Vec::new();
    let mut ims = 0;
    for i in 0..INSERTS {
        if i % 10 == 0 {
            alice.snac_into(Message::Feedbag(Feedbag::StartCluster(TlvBlock::empty())), &mut out);
        }
        let name = format!("r{round}buddy{i}");
        let bid = u16::try_from(round * 100 + i + 1).unwrap();
        let item = [FeedbagItem::buddy(name.clone().into_bytes(), 1, bid).unwrap()];
        let id = alice.snac_into(
            Message::Feedbag(Feedbag::InsertItem(item_list(&item).unwrap())),
            &mut out,
        );
        pending.insert(id, Change::Buddy(name.clone()));
        sent.push(Change::Buddy(name));
        if i % 10 == 9 {
            alice.snac_into(Message::Feedbag(Feedbag::EndCluster), &mut out);
        }
        // An offline IM after every few inserts.
        if i % (INSERTS / IMS).max(1) == 0 && ims < IMS {
            let to = if ims % 2 == 0 { "carol" } else { "dave" };
            let text = format!("r{round}im{ims}");
            let flags = SendImFlags {
                request_ack: true,
                store_offline: true,
                ..SendImFlags::default()
            };
            let cookie = IcbmCookie((ims as u64 + 1000 * round as u64).to_be_bytes());
            let im = SendIm::channel1(cookie, ScreenName::new(to.as_bytes().to_vec()).unwrap(), &text, flags).unwrap();
            let id = alice.snac_into(Message::Icbm(Icbm::SendIm(im)), &mut out);
            pending.insert(id, Change::Im { to, text: text.clone() });
            sent.push(Change::Im { to, text });
            ims += 1;
        }
    }
    // The whole burst at once: the server works through it while we count acknowledgements.
    alice.stream.write_all(&out).unwrap();
    let mut acked = Vec::new();
    let mut killed = false;
    let mut seen = 0;
    while let Some((ch, p)) = alice.recv() {
        if ch != Channel::Data {
            continue;
        }
        let snac = Snac::decode(&p).unwrap();
        let Some(change) = pending.remove(&snac.request_id) else {
            continue;
        };
        let ok = match snac.message {
            Message::Feedbag(Feedbag::Status(codes)) => codes.iter().all(|s| s == FeedbagStatus::Ok),
            Message::Icbm(Icbm::HostAck(_)) => true,
            other => panic!("round {round}: {change:?} was refused: {other:?}"),
        };
        assert!(ok, "round {round}: {change:?} was not accepted");
        let this = match change {
            Change::Buddy(_) => Kind::Buddy,
            Change::Im { .. } => Kind::Im,
        };
        acked.push(change);
        if this == kind {
            seen += 1;
            if !killed && seen == nth {
                serve.kill();
                killed = true;
            }
        }
    }
    assert!(
        killed,
        "round {round}: only {} acknowledgements before the server closed",
        acked.len()
    );
    (acked, sent)
}

#[cfg(unix)]
#[test]
fn acknowledged_changes_survive_sigkill() {
    let dir = TempDir::new("durability");
    add_accounts(&dir, &["alice", "carol", "dave"]);
    let mut serve = Serve::start(&dir);
    let mut acked_buddies = BTreeSet::new();
    let mut sent_buddies = BTreeSet::new();
    for (round, kill_at) in KILL_AT.into_iter().enumerate() {
        let (acked, sent) = burst_and_kill(&mut serve, round, kill_at);
        // Restart on the same data directory (SQLite recovers its WAL).
        serve = Serve::start(&dir);
        let (alice, names) = sign_on(&serve.addr, "alice");
        alice.bye();
        let mut acked_ims: HashMap<&str, BTreeSet<String>> = HashMap::new();
        let mut sent_ims: HashMap<&str, BTreeSet<String>> = HashMap::new();
        for change in &acked {
            match change {
                Change::Buddy(n) => {
                    acked_buddies.insert(n.clone());
                }
                Change::Im { to, text } => {
                    acked_ims.entry(to).or_default().insert(text.clone());
                }
            }
        }
        for change in &sent {
            match change {
                Change::Buddy(n) => {
                    sent_buddies.insert(n.clone());
                }
                Change::Im { to, text } => {
                    sent_ims.entry(to).or_default().insert(text.clone());
                }
            }
        }
        let lost: Vec<&String> = acked_buddies.iter().filter(|n| !names.contains(*n)).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged buddies lost: {lost:?}");
        let present = names.iter().filter(|n| sent_buddies.contains(*n)).count();
        assert!(names.contains("Durable"), "the group survives");
        let mut ims_report = Vec::new();
        for to in ["carol", "dave"] {
            let delivered: BTreeSet<String> = offline_ims(&serve.addr, to).into_iter().collect();
            let acked = acked_ims.remove(to).unwrap_or_default();
            let lost: Vec<&String> = acked.difference(&delivered).collect();
            assert!(
                lost.is_empty(),
                "round {round}: acknowledged IMs to {to} lost: {lost:?}"
            );
            let sent = sent_ims.remove(to).unwrap_or_default();
            assert!(delivered.is_subset(&sent), "{to} got only what was sent: {delivered:?}");
            ims_report.push(format!("{to}: {} acked, {} delivered", acked.len(), delivered.len()));
        }
        eprintln!(
            "round {round}: killed after the {kill_at:?} ack ({} acks this round); buddies {} acked (all rounds), {present} present \
             of {} sent; {}",
            acked.len(),
            acked_buddies.len(),
            sent_buddies.len(),
            ims_report.join("; ")
        );
    }
}
