//! Replays the real sessions recorded in `shared/captures/*.pcapng` through the codec.
//!
//! Every TCP stream on the OSCAR port is reassembled by the test's own pcapng
//! reader and cut into FLAP frames. Every frame must decode; every frame must
//! re-encode to its original bytes; every channel-2 payload must decode with
//! `Snac::decode`, and every typed SNAC must re-encode byte for byte and
//! decode back to an equal value. The test prints which (family, subtype)
//! pairs came out typed and which raw, and fails listing every problem (with
//! hex) at the end.
//!
//! Run: `cargo test -p flapjack-wire --test captures -- --nocapture`.
//! The captures are looked up in `../shared/captures` from the workspace root
//! (or `$FLAPJACK_CAPTURES`); when missing the test fails under `CI` and is
//! skipped loudly otherwise.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use common::pcap::{self, Limits};
use common::{CAPTURE_OSCAR_PORT, hex_prefix};
use flapjack_wire::flap::{Decoded, FlapMessage, FrameDecoder};
use flapjack_wire::snac::{Message, RawSnac, Snac};

#[derive(Default, Debug)]
struct PairStats {
    to_server: usize,
    to_client: usize,
    typed: usize,
    raw: usize,
    failed: usize,
}

#[derive(Default)]
struct Replay {
    streams: usize,
    frames: usize,
    bytes: usize,
    by_channel: BTreeMap<u8, usize>,
    pairs: BTreeMap<(u16, u16), PairStats>,
    problems: Vec<String>,
    notes: Vec<String>,
}

impl Replay {
    fn problem(&mut self, s: String) {
        self.problems.push(s);
    }
}

fn channel_byte(frame_bytes: &[u8]) -> u8 {
    frame_bytes.get(1).copied().unwrap_or(0)
}

/// Checks one FLAP frame (`bytes` is the whole frame, header included).
fn check_frame(replay: &mut Replay, loc: &str, to_server: bool, bytes: &[u8]) {
    let Ok(Decoded::Complete { value: frame, consumed }) = FrameDecoder::new().decode(bytes) else {
        replay.problem(format!(
            "{loc}: frame did not re-decode on its own: {}",
            hex_prefix(bytes, 64)
        ));
        return;
    };
    assert_eq!(consumed, bytes.len());
    *replay.by_channel.entry(channel_byte(bytes)).or_default() += 1;

    // SNAC header first, so that a body that fails to decode is attributed to its pair.
    let raw_header = (frame.channel == flapjack_wire::Channel::Data)
        .then(|| RawSnac::decode(frame.payload()).ok().map(|r| r.header))
        .flatten();
    if let Some(h) = raw_header {
        let st = replay.pairs.entry((h.family, h.subtype)).or_default();
        if to_server {
            st.to_server += 1;
        } else {
            st.to_client += 1;
        }
    }

    let message = match frame.message() {
        Ok(m) => m,
        Err(e) => {
            let what = match raw_header {
                Some(h) => format!("SNAC {:02X}/{:02X} (flags {:04X})", h.family, h.subtype, h.flags),
                None => format!("channel {} payload", channel_byte(bytes)),
            };
            if let Some(h) = raw_header {
                replay.pairs.entry((h.family, h.subtype)).or_default().failed += 1;
            }
            replay.problem(format!(
                "{loc}: {what} failed to decode: {e}\n      frame: {}",
                hex_prefix(bytes, 256)
            ));
            return;
        }
    };

    // The whole frame must re-encode to the bytes that were on the wire.
    let mut again = Vec::with_capacity(bytes.len());
    if let Err(e) = message.encode_frame(frame.seq, &mut again) {
        replay.problem(format!("{loc}: re-encoding failed: {e}"));
        return;
    }
    if again != bytes {
        replay.problem(format!(
            "{loc}: channel {} frame re-encodes differently\n      wire:    {}\n      encoded: {}",
            channel_byte(bytes),
            hex_prefix(bytes, 256),
            hex_prefix(&again, 256)
        ));
    }

    if let FlapMessage::Data(snac) = &message {
        let payload = frame.payload();
        // The same payload through Snac::decode directly.
        match Snac::decode(payload) {
            Ok(direct) if &direct == snac => {}
            Ok(_) => replay.problem(format!("{loc}: Snac::decode and FlapMessage::decode disagree")),
            Err(e) => replay.problem(format!(
                "{loc}: Snac::decode failed where FlapMessage::decode did not: {e}"
            )),
        }
        let key = (snac.message.family(), snac.message.subtype());
        let typed = !matches!(snac.message, Message::Raw { .. });
        let st = replay.pairs.entry(key).or_default();
        if typed {
            st.typed += 1;
        } else {
            st.raw += 1;
        }
        if typed {
            let encoded = snac.to_bytes();
            if encoded != payload {
                replay.problem(format!(
                    "{loc}: typed SNAC {:02X}/{:02X} re-encodes differently\n      wire:    {}\n      encoded: {}",
                    key.0,
                    key.1,
                    hex_prefix(payload, 256),
                    hex_prefix(&encoded, 256)
                ));
            }
            match Snac::decode(&encoded) {
                Ok(back) if &back == snac => {}
                Ok(back) => replay.problem(format!(
                    "{loc}: typed SNAC {:02X}/{:02X} decodes to a different value after encoding\n      first:  {snac:?}\n      second: {back:?}",
                    key.0, key.1
                )),
                Err(e) => replay.problem(format!(
                    "{loc}: typed SNAC {:02X}/{:02X} does not decode after encoding: {e}",
                    key.0, key.1
                )),
            }
        }
    }
}

/// `peer_closed`: the other direction of the connection ended (FIN or RST), so a
/// frame this side had started to write may legitimately be cut short.
fn replay_stream(replay: &mut Replay, file: &str, s: &pcap::TcpStream, peer_closed: bool) {
    let to_server = s.dst.port() == CAPTURE_OSCAR_PORT;
    let dir = if to_server { "C→S" } else { "S→C" };
    let name = format!("{file} {} → {} ({dir})", s.src, s.dst);
    replay.streams += 1;
    replay.bytes += s.data.len();
    if !s.syn_seen {
        replay.problem(format!(
            "{name}: no SYN seen, the stream may not start at its beginning"
        ));
    }
    if !s.holes.is_empty() {
        replay.problem(format!("{name}: holes in the TCP stream at {:?}", s.holes));
    }
    if s.conflicting_bytes != 0 {
        replay.problem(format!(
            "{name}: {} retransmitted bytes differ from the first copy",
            s.conflicting_bytes
        ));
    }
    let decoder = FrameDecoder::new();
    let mut off = 0usize;
    let mut index = 0usize;
    while off < s.data.len() {
        let rest = &s.data[off..];
        match decoder.decode(rest) {
            Ok(Decoded::Complete { consumed, .. }) => {
                let loc = format!("{name} frame #{index} @{off}");
                if index == 0 && channel_byte(rest) != 1 {
                    replay.problem(format!("{loc}: a FLAP stream must start with a channel-1 frame"));
                }
                check_frame(replay, &loc, to_server, &rest[..consumed]);
                replay.frames += 1;
                off += consumed;
                index += 1;
            }
            Ok(Decoded::Incomplete { needed }) if peer_closed => {
                // Seen in libpurple-md5-full: Open OSCAR writes the first byte of a frame
                // after the client's FIN, and the client answers with RST.
                replay.notes.push(format!(
                    "{name}: connection torn down inside a frame at {off} ({} of {needed} bytes: {})",
                    rest.len(),
                    hex_prefix(rest, 32)
                ));
                break;
            }
            Ok(Decoded::Incomplete { needed }) => {
                replay.problem(format!(
                    "{name}: stream ends inside a frame at {off}: {} bytes left, {needed} needed: {}",
                    rest.len(),
                    hex_prefix(rest, 32)
                ));
                break;
            }
            Err(e) => {
                replay.problem(format!(
                    "{name}: FLAP framing error at {off}: {e}: {}",
                    hex_prefix(rest, 32)
                ));
                break;
            }
        }
    }
    if index == 0 {
        replay.problem(format!("{name}: no frame at all"));
    }
}

fn report(replay: &Replay) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "replayed {} streams, {} frames, {} bytes; frames per channel: {:?}",
        replay.streams, replay.frames, replay.bytes, replay.by_channel
    );
    let _ = writeln!(out, "family/subtype   C→S   S→C  typed    raw  failed");
    for ((f, s), st) in &replay.pairs {
        let _ = writeln!(
            out,
            "  {f:04X}/{s:04X}    {:5} {:5} {:6} {:6} {:6}{}",
            st.to_server,
            st.to_client,
            st.typed,
            st.raw,
            st.failed,
            if st.raw > 0 && st.typed == 0 { "   (raw)" } else { "" }
        );
    }
    let typed: Vec<String> = replay
        .pairs
        .iter()
        .filter(|(_, s)| s.typed > 0)
        .map(|((f, s), _)| format!("{f:02X}/{s:02X}"))
        .collect();
    let raw: Vec<String> = replay
        .pairs
        .iter()
        .filter(|(_, s)| s.raw > 0)
        .map(|((f, s), _)| format!("{f:02X}/{s:02X}"))
        .collect();
    let _ = writeln!(out, "typed pairs ({}): {}", typed.len(), typed.join(" "));
    let _ = writeln!(out, "raw pairs ({}): {}", raw.len(), raw.join(" "));
    out
}

#[test]
fn captures_replay_through_the_codec() {
    let Some(dir) = common::captures_dir() else { return };
    let mut replay = Replay::default();
    for path in common::capture_files(&dir) {
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let streams = common::oscar_streams(&path, CAPTURE_OSCAR_PORT);
        let to_server = streams.iter().filter(|s| s.dst.port() == CAPTURE_OSCAR_PORT).count();
        let to_client = streams.len() - to_server;
        println!("{file}: {to_server} client→server and {to_client} server→client OSCAR streams");
        // Every connection has both directions; a capture without any is a reader bug.
        assert!(
            to_server > 0 && to_server == to_client,
            "{file}: unpaired or no OSCAR streams"
        );
        for s in &streams {
            let peer_closed = streams.iter().any(|p| {
                p.src == s.dst && p.dst == s.src && p.generation == s.generation && (p.fin_seen || p.rst_seen)
            });
            replay_stream(&mut replay, &file, s, peer_closed);
        }
    }
    let summary = report(&replay);
    println!("{summary}");
    for note in &replay.notes {
        println!("note: {note}");
    }
    // The four captures hold 28 connections and 523 FLAP frames (tshark counts the
    // same); far fewer means the reader lost data.
    assert!(replay.frames >= 400, "only {} frames replayed", replay.frames);
    for pair in [
        (0x0001, 0x0003),
        (0x0001, 0x0002),
        (0x0004, 0x0006),
        (0x0004, 0x0007),
        (0x0013, 0x0006),
    ] {
        assert!(
            replay.pairs.contains_key(&pair),
            "the captures should contain {:02X}/{:02X}",
            pair.0,
            pair.1
        );
    }
    assert!(
        replay.problems.is_empty(),
        "{} problem(s) replaying the captures:\n  {}\n\n{summary}",
        replay.problems.len(),
        replay.problems.join("\n  ")
    );
}

/// Every OSCAR stream is also read by tshark-independent means: the HTTP streams
/// of the OpenAuth captures must be found too, which checks port filtering.
#[test]
fn captures_hold_the_expected_connections() {
    let Some(dir) = common::captures_dir() else { return };
    let path = dir.join("libpurple-clientlogin.pcapng");
    if !path.exists() {
        common::missing_prerequisite(&format!("{} is missing", path.display()));
        return;
    }
    let http = common::oscar_streams(&path, 9191);
    let request = http
        .iter()
        .find(|s| s.dst.port() == 9191 && s.data.starts_with(b"POST /auth/clientLogin"))
        .expect("the clientLogin POST");
    assert!(request.holes.is_empty());
    let text = String::from_utf8_lossy(&request.data);
    assert!(text.contains("devId="), "{text}");
    let bos = common::oscar_streams(&path, CAPTURE_OSCAR_PORT);
    assert!(bos.len() >= 2);
    // Screen names appear in the libpurple MD5 capture.
    let md5 = common::oscar_streams(&dir.join("libpurple-md5-full.pcapng"), CAPTURE_OSCAR_PORT);
    let all: Vec<u8> = md5.iter().flat_map(|s| s.data.iter().copied()).collect();
    for needle in [&b"alice"[..], b"bobby", b"testroom"] {
        assert!(all.windows(needle.len()).any(|w| w == needle), "{needle:?} not found");
    }
}

/// The reader must stay panic-free and bounded on damaged files.
#[test]
fn pcap_reader_is_bounded_on_damaged_input() {
    let Some(dir) = common::captures_dir() else { return };
    let path = common::capture_files(&dir).into_iter().next().expect("a capture");
    let bytes = std::fs::read(&path).expect("read");
    let limits = Limits::default();
    // Every truncation of the first 4 KiB, and a handful of corruptions everywhere.
    for cut in 0..bytes.len().min(4096) {
        if let Ok(p) = pcap::read_packets(&bytes[..cut], &limits) {
            let _ = pcap::reassemble(&p, &limits);
        }
    }
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..2000 {
        let mut damaged = bytes.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % damaged.len() as u64) as usize;
            damaged[at] = (state >> 32) as u8;
        }
        if let Ok(p) = pcap::read_packets(&damaged, &limits) {
            let _ = pcap::reassemble(&p, &limits);
        }
    }
    // Limits are enforced.
    let tight = Limits {
        max_packets: 3,
        ..Limits::default()
    };
    assert!(pcap::read_packets(&bytes, &tight).is_err());
    let tight = Limits {
        max_stream_bytes: 10,
        ..Limits::default()
    };
    let packets = pcap::read_packets(&bytes, &limits).expect("intact file reads");
    assert!(pcap::reassemble(&packets, &tight).is_err());
    assert!(pcap::read_packets(b"", &limits).is_err());
    assert!(pcap::read_packets(b"\x0A\x0D\x0D\x0A\xFF\xFF\xFF\xFF", &limits).is_err());
}

/// The reassembler orders segments, drops retransmissions and reports holes.
#[test]
fn reassembly_handles_reordering_retransmission_and_holes() {
    use common::pcapwrite::{PcapWriter, TcpConversation, flags, tcp_packet};
    let limits = Limits::default();
    let mut w = PcapWriter::new();
    let mut conv = TcpConversation::new(40000, 5290);
    conv.handshake(&mut w);
    let c = conv.client;
    let s = conv.server;
    let base = c.next_seq;
    let pkt = |seq_off: u32, data: &[u8]| tcp_packet(&c, &s, base + seq_off, s.next_seq, flags::ACK, 9, data);
    // "hello world!" sent as [6..12], [0..6], a retransmission of [0..6], an overlap [3..9].
    w.packet(&pkt(6, b"world!"));
    w.packet(&pkt(0, b"hello "));
    w.packet(&pkt(0, b"hello "));
    w.packet(&pkt(3, b"lo wor"));
    let file = w.into_bytes();
    let packets = pcap::read_packets(&file, &limits).expect("our own pcap reads");
    let streams = pcap::reassemble(&packets, &limits).expect("reassembles");
    let up = streams.iter().find(|s| s.dst.port() == 5290).expect("client stream");
    assert_eq!(up.data, b"hello world!");
    assert!(up.syn_seen);
    assert_eq!(up.duplicate_bytes, 12);
    assert_eq!(up.conflicting_bytes, 0);
    assert!(up.holes.is_empty());

    // A hole: bytes 0..6 never arrive.
    let mut w = PcapWriter::new();
    let mut conv = TcpConversation::new(40001, 5290);
    conv.handshake(&mut w);
    let c = conv.client;
    let s = conv.server;
    w.packet(&tcp_packet(
        &c,
        &s,
        c.next_seq + 6,
        s.next_seq,
        flags::ACK,
        9,
        b"world!",
    ));
    let file = w.into_bytes();
    let streams = pcap::reassemble(&pcap::read_packets(&file, &limits).unwrap(), &limits).unwrap();
    let up = streams.iter().find(|s| s.dst.port() == 5290).expect("client stream");
    assert!(up.data.is_empty());
    assert_eq!(up.holes, vec![(0, 6)]);

    // A conflicting retransmission is counted.
    let mut w = PcapWriter::new();
    let mut conv = TcpConversation::new(40002, 5290);
    conv.handshake(&mut w);
    let c = conv.client;
    let s = conv.server;
    w.packet(&tcp_packet(&c, &s, c.next_seq, s.next_seq, flags::ACK, 9, b"abc"));
    w.packet(&tcp_packet(&c, &s, c.next_seq, s.next_seq, flags::ACK, 9, b"abX"));
    let file = w.into_bytes();
    let streams = pcap::reassemble(&pcap::read_packets(&file, &limits).unwrap(), &limits).unwrap();
    let up = streams.iter().find(|s| s.dst.port() == 5290).expect("client stream");
    assert_eq!(up.data, b"abc");
    assert_eq!(up.conflicting_bytes, 1);
}
