//! Cross-checks our encoder against an independent dissector: Wireshark's.
//!
//! `tshark_decodes_our_session` builds a realistic session with flapjack's
//! encoder (BUCP login, BOS sign-on with rates, self info, a feedbag holding a
//! group and a buddy, a buddy arrival, an IM exchange with a host ack and a
//! typing notification, sign-off), writes it as a classic pcap with real
//! IPv4/TCP headers, and asks `tshark -d tcp.port==PORT,aim` to dissect it. It
//! asserts that tshark names the SNACs and shows the screen names and message
//! text, and that it finds nothing malformed.
//!
//! `tshark_and_our_reader_agree_on_the_captures` checks our pcapng reader and
//! FLAP framing against tshark's: the same frames, with the same sequence
//! numbers, in every direction of every connection.
//!
//! Run: `cargo test -p flapjack-wire --test tshark -- --nocapture`. Without
//! tshark the tests fail under `CI` and are skipped loudly otherwise. Set
//! `FLAPJACK_SESSION_PCAP=FILE` to keep the session for Wireshark.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::pcap::{self, Limits};
use common::pcapwrite::{PcapWriter, TcpConversation};
use flapjack_wire::flap::{Decoded, FlapMessage, FrameDecoder, Signoff, Signon, signon_tag};
use flapjack_wire::snac::Message;
use flapjack_wire::tlv::TlvBlock;
use flapjack_wire::{Channel, Snac};

#[path = "tshark/session.rs"]
mod session;

/// The TCP port our synthetic session uses (not AIM's 5190, so the `-d` mapping is what makes tshark decode it).
const PORT: u16 = 5290;

fn tshark() -> Option<PathBuf> {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        Some(PathBuf::from("tshark"))
    } else {
        common::missing_prerequisite("tshark is not installed (apt-get install tshark)");
        None
    }
}

fn run_tshark(tshark: &Path, args: &[&str]) -> String {
    let out = Command::new(tshark)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .expect("tshark runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).expect("tshark prints UTF-8")
}

/// A scratch directory under the target dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("flapjack-tshark-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes frames as one TCP conversation, with the sequence numbers each side would use.
struct Wire {
    pcap: PcapWriter,
    conv: TcpConversation,
    client_seq: u16,
    server_seq: u16,
    /// Every frame written, with its direction, for the read-back check.
    frames: ConnectionFrames,
    /// Frames queued to go out together in one TCP segment.
    pending: Option<(bool, Vec<u8>)>,
}

impl Wire {
    fn new(client_port: u16, client_seq: u16, server_seq: u16) -> Self {
        let mut pcap = PcapWriter::new();
        let mut conv = TcpConversation::new(client_port, PORT);
        conv.handshake(&mut pcap);
        Self {
            pcap,
            conv,
            client_seq,
            server_seq,
            frames: Vec::new(),
            pending: None,
        }
    }

    fn continue_with(pcap: PcapWriter, client_port: u16, client_seq: u16, server_seq: u16) -> Self {
        let mut pcap = pcap;
        let mut conv = TcpConversation::new(client_port, PORT);
        conv.handshake(&mut pcap);
        Self {
            pcap,
            conv,
            client_seq,
            server_seq,
            frames: Vec::new(),
            pending: None,
        }
    }

    fn frame(&mut self, from_client: bool, message: &FlapMessage<'_>) {
        let seq = if from_client {
            &mut self.client_seq
        } else {
            &mut self.server_seq
        };
        let mut bytes = Vec::new();
        message.encode_frame(*seq, &mut bytes).expect("frame fits");
        *seq = seq.wrapping_add(1);
        self.frames.push((from_client, bytes.clone()));
        match &mut self.pending {
            Some((dir, buf)) if *dir == from_client => buf.extend_from_slice(&bytes),
            _ => {
                self.flush();
                self.conv.send(&mut self.pcap, from_client, &bytes, 1460);
            }
        }
    }

    /// Queues the following frames from one side into a single TCP segment.
    fn batch(&mut self, from_client: bool) {
        self.flush();
        self.pending = Some((from_client, Vec::new()));
    }

    fn flush(&mut self) {
        if let Some((dir, buf)) = self.pending.take()
            && !buf.is_empty()
        {
            self.conv.send(&mut self.pcap, dir, &buf, 1460);
        }
    }

    /// Sends one frame split over TCP segments of `mss` bytes (tshark must reassemble it).
    fn frame_split(&mut self, from_client: bool, message: &FlapMessage<'_>, mss: usize) {
        self.flush();
        let seq = if from_client {
            &mut self.client_seq
        } else {
            &mut self.server_seq
        };
        let mut bytes = Vec::new();
        message.encode_frame(*seq, &mut bytes).expect("frame fits");
        *seq = seq.wrapping_add(1);
        self.frames.push((from_client, bytes.clone()));
        self.conv.send(&mut self.pcap, from_client, &bytes, mss);
    }

    fn snac(&mut self, from_client: bool, snac: Snac<'_>) {
        self.frame(from_client, &FlapMessage::Data(snac));
    }

    fn close(mut self, from_client: bool) -> (PcapWriter, ConnectionFrames) {
        self.flush();
        self.conv.close(&mut self.pcap, from_client);
        (self.pcap, self.frames)
    }
}

/// The frames of one connection: (sent by the client, frame bytes).
type ConnectionFrames = Vec<(bool, Vec<u8>)>;

/// Builds the whole session; returns the pcap bytes and, per client port, the frames of that connection.
fn build_session() -> (Vec<u8>, Vec<(u16, ConnectionFrames)>) {
    let mut connections = Vec::new();

    // ---- Authorizer connection: BUCP MD5 login. ----
    let mut auth = Wire::new(40_001, 0x0100, 100);
    auth.frame(false, &FlapMessage::Signon(Signon::hello()));
    auth.frame(true, &FlapMessage::Signon(Signon::hello()));
    auth.snac(true, Snac::new(1, session::challenge_request()));
    auth.snac(false, Snac::new(1, session::challenge_response()));
    auth.snac(true, Snac::new(2, session::login_request()));
    auth.snac(false, Snac::new(2, session::login_response()));
    auth.frame(
        true,
        &FlapMessage::Signoff(Signoff {
            tlvs: TlvBlock::empty(),
        }),
    );
    let (pcap, frames) = auth.close(true);
    connections.push((40_001, frames));

    // ---- BOS connection. ----
    let mut bos = Wire::continue_with(pcap, 40_002, 0x0200, 100);
    bos.frame(false, &FlapMessage::Signon(Signon::hello()));
    let hello = Signon {
        version: 1,
        tlvs: TlvBlock::builder()
            .bytes(signon_tag::COOKIE, session::COOKIE)
            .build()
            .expect("cookie TLV"),
    };
    bos.frame(true, &FlapMessage::Signon(hello));
    let server = session::SERVER_REQUEST_ID;
    bos.snac(false, Snac::new(server, session::host_online()));
    bos.snac(true, Snac::new(3, session::client_versions()));
    bos.snac(false, Snac::new(3, session::host_versions()));
    bos.snac(true, Snac::new(4, session::rate_params_query()));
    bos.snac(false, Snac::new(4, session::rate_params_reply()));
    bos.snac(true, Snac::new(5, session::rate_ack()));
    // Three requests in one TCP segment.
    bos.batch(true);
    bos.snac(true, Snac::new(6, session::self_info_query()));
    bos.snac(true, Snac::new(7, session::feedbag_rights_query()));
    bos.snac(true, Snac::new(8, session::feedbag_query()));
    bos.flush();
    bos.snac(false, Snac::new(6, session::self_info()));
    bos.snac(false, Snac::new(7, session::feedbag_rights_reply()));
    // The feedbag reply split over three TCP segments.
    bos.frame_split(false, &FlapMessage::Data(Snac::new(8, session::feedbag_reply())), 25);
    bos.snac(true, Snac::new(9, session::feedbag_use()));
    bos.snac(true, Snac::new(10, session::client_ready()));
    bos.snac(false, Snac::new(server + 1, session::buddy_arrived()));
    // The IM exchange.
    bos.snac(true, Snac::new(11, session::send_im()));
    bos.snac(false, Snac::new(11, session::host_ack()));
    bos.snac(false, Snac::new(server + 2, session::incoming_im()));
    bos.snac(true, Snac::new(12, session::typing()));
    bos.frame(false, &FlapMessage::Keepalive);
    bos.frame(
        true,
        &FlapMessage::Signoff(Signoff {
            tlvs: TlvBlock::empty(),
        }),
    );
    let (pcap, frames) = bos.close(true);
    connections.push((40_002, frames));
    (pcap.into_bytes(), connections)
}

#[test]
fn our_session_reads_back_through_our_own_reader() {
    // Independent of tshark: our pcap writer, our reader and the codec agree.
    let (file, connections) = build_session();
    let limits = Limits::default();
    let packets = pcap::read_packets(&file, &limits).expect("our pcap reads");
    let streams = pcap::reassemble(&packets, &limits).expect("reassembles");
    assert_eq!(streams.len(), 4);
    for (port, frames) in &connections {
        for to_server in [true, false] {
            let stream = streams
                .iter()
                .find(|s| {
                    if to_server {
                        s.src.port() == *port
                    } else {
                        s.dst.port() == *port
                    }
                })
                .expect("stream");
            assert!(stream.holes.is_empty() && stream.syn_seen && stream.fin_seen);
            let expected: Vec<u8> = frames
                .iter()
                .filter(|(c, _)| *c == to_server)
                .flat_map(|(_, b)| b.iter().copied())
                .collect();
            assert_eq!(stream.data, expected);
            let decoder = FrameDecoder::new();
            let mut rest = &stream.data[..];
            while !rest.is_empty() {
                let Ok(Decoded::Complete { value, consumed }) = decoder.decode(rest) else {
                    panic!("frame")
                };
                let message = value.message().expect("our frames decode");
                let mut again = Vec::new();
                message.encode_frame(value.seq, &mut again).unwrap();
                assert_eq!(again, &rest[..consumed]);
                rest = &rest[consumed..];
            }
        }
    }
}

#[test]
fn tshark_decodes_our_session() {
    let Some(tshark) = tshark() else { return };
    let (file, connections) = build_session();
    let dir = TempDir::new("session");
    let path = dir.0.join("session.pcap");
    std::fs::write(&path, &file).expect("write pcap");
    // FLAPJACK_SESSION_PCAP=FILE keeps a copy to open in Wireshark.
    if let Some(keep) = std::env::var_os("FLAPJACK_SESSION_PCAP") {
        std::fs::write(&keep, &file).expect("write the requested copy of the session pcap");
    }
    let path_s = path.to_str().expect("utf-8 path");
    let decode_as = format!("tcp.port=={PORT},aim");

    // No malformed packet, no expert error.
    for filter in ["_ws.malformed", "_ws.expert.severity >= error", "tcp.analysis.flags"] {
        let hits = run_tshark(&tshark, &["-r", path_s, "-d", &decode_as, "-Y", filter]);
        assert!(hits.trim().is_empty(), "tshark filter {filter:?} matched:\n{hits}");
    }

    // tshark sees every FLAP frame we wrote, with our sequence numbers.
    let fields = run_tshark(
        &tshark,
        &[
            "-r",
            path_s,
            "-d",
            &decode_as,
            "-Y",
            "aim",
            "-T",
            "fields",
            "-e",
            "tcp.srcport",
            "-e",
            "aim.seqno",
            "-e",
            "aim.channel",
        ],
    );
    let mut seen: BTreeMap<u16, Vec<(u16, u8)>> = BTreeMap::new();
    for line in fields.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let [port, seqs, chans] = cols[..] else {
            panic!("line {line:?}")
        };
        let port: u16 = port.parse().expect("port");
        for (s, c) in seqs.split(',').zip(chans.split(',')) {
            let c = c.trim_start_matches("0x");
            seen.entry(port)
                .or_default()
                .push((s.parse().expect("seq"), u8::from_str_radix(c, 16).expect("channel")));
        }
    }
    let mut expected: BTreeMap<u16, Vec<(u16, u8)>> = BTreeMap::new();
    for (client_port, frames) in &connections {
        for (from_client, bytes) in frames {
            let port = if *from_client { *client_port } else { PORT };
            let seq = u16::from_be_bytes([bytes[2], bytes[3]]);
            expected.entry(port).or_default().push((seq, bytes[1]));
        }
    }
    // Server frames of both connections share the server port; compare as multisets.
    for v in seen.values_mut().chain(expected.values_mut()) {
        v.sort_unstable();
    }
    assert_eq!(seen, expected, "tshark's FLAP frames differ from ours");

    let text = run_tshark(&tshark, &["-r", path_s, "-d", &decode_as, "-V"]);
    let mut missing = Vec::new();
    for needle in session::expected_dissection() {
        if !text.contains(needle) {
            missing.push(needle);
        }
    }
    if !missing.is_empty() {
        let dump = std::env::temp_dir().join("flapjack-tshark-session.txt");
        let _ = std::fs::write(&dump, &text);
        panic!(
            "tshark's dissection lacks {} expected line(s) (full output in {}):\n  {}",
            missing.len(),
            dump.display(),
            missing.join("\n  ")
        );
    }
    // The SNACs we sent typed, not raw, are listed for the report.
    println!("session SNACs: {}", session::typed_summary());
}

/// The malformed-packet check is not vacuous: a broken SNAC in the same kind of
/// pcap is flagged by tshark.
#[test]
fn tshark_flags_a_malformed_snac() {
    let Some(tshark) = tshark() else { return };
    let mut bos = Wire::new(40_003, 1, 100);
    bos.frame(false, &FlapMessage::Signon(Signon::hello()));
    // An IM whose message-block TLV claims 200 bytes but holds 8.
    let broken = Message::Raw {
        family: 0x0004,
        subtype: 0x0006,
        body: flapjack_wire::testing::hex(
            "31 32 33 34 35 36 37 38 00 01 05 62 6F 62 62 79 00 02 00 C8 05 01 00 04 01 01 01 02",
        )
        .into(),
    };
    bos.snac(true, Snac::new(1, broken));
    let (pcap, _) = bos.close(true);
    let dir = TempDir::new("malformed");
    let path = dir.0.join("broken.pcap");
    std::fs::write(&path, pcap.into_bytes()).expect("write pcap");
    let decode_as = format!("tcp.port=={PORT},aim");
    let hits = run_tshark(
        &tshark,
        &[
            "-r",
            path.to_str().expect("utf-8"),
            "-d",
            &decode_as,
            "-Y",
            "_ws.malformed",
        ],
    );
    assert!(!hits.trim().is_empty(), "tshark did not flag the broken SNAC");
}

#[test]
fn tshark_and_our_reader_agree_on_the_captures() {
    let Some(tshark) = tshark() else { return };
    let Some(dir) = common::captures_dir() else { return };
    let decode_as = "tcp.port==5290,aim";
    for path in common::capture_files(&dir) {
        let path_s = path.to_str().expect("utf-8 path");
        let fields = run_tshark(
            &tshark,
            &[
                "-r",
                path_s,
                "-d",
                decode_as,
                "-Y",
                "aim",
                "-T",
                "fields",
                "-e",
                "tcp.srcport",
                "-e",
                "tcp.dstport",
                "-e",
                "aim.seqno",
            ],
        );
        let mut theirs: BTreeMap<(u16, u16), Vec<u16>> = BTreeMap::new();
        for line in fields.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            let [src, dst, seqs] = cols[..] else {
                panic!("line {line:?}")
            };
            let key = (src.parse().expect("port"), dst.parse().expect("port"));
            for s in seqs.split(',') {
                theirs.entry(key).or_default().push(s.parse().expect("seq"));
            }
        }
        let mut ours: BTreeMap<(u16, u16), Vec<u16>> = BTreeMap::new();
        for stream in common::oscar_streams(&path, common::CAPTURE_OSCAR_PORT) {
            let key = (stream.src.port(), stream.dst.port());
            for frame in FrameDecoder::new().frames(&stream.data) {
                let frame = frame.expect("frames");
                ours.entry(key).or_default().push(frame.seq);
            }
        }
        assert!(!ours.is_empty());
        assert_eq!(
            ours,
            theirs,
            "{}: FLAP frames per direction differ from tshark's",
            path.display()
        );
    }
}

/// The frames of our session use the channels we meant, and every SNAC of it
/// decodes back to the value it was built from.
#[test]
fn session_channels_and_value_identity() {
    let (_, connections) = build_session();
    let channels: Vec<u8> = connections
        .iter()
        .flat_map(|(_, f)| f.iter().map(|(_, b)| b[1]))
        .collect();
    for c in [Channel::Signon, Channel::Data, Channel::Signoff, Channel::Keepalive] {
        assert!(channels.contains(&c.value()), "{c:?}");
    }
    for message in session::all() {
        let typed = !matches!(message, Message::Raw { .. });
        assert!(
            typed,
            "every family is typed now; build {:02X}/{:02X} with its constructors",
            message.family(),
            message.subtype()
        );
        let snac = Snac::new(0x0102_0304, message);
        let bytes = snac.to_bytes();
        let back = Snac::decode(&bytes).unwrap_or_else(|e| panic!("{e}: {snac:?}"));
        if typed {
            assert_eq!(back, snac, "decode(encode(x)) != x");
        } else {
            // A raw body of a pair that has since been typed decodes typed; the bytes still agree.
            assert_eq!(back.to_bytes(), bytes);
        }
    }
}
