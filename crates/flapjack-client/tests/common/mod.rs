//! A harness for driving a [`Session`] with a fake clock and scripted server bytes.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use flapjack_client::session::{ConnId, ConnKind, Input, Output, Session, SessionConfig};
use flapjack_client::{ClientError, Command, Event};
use flapjack_wire::flap::{Channel, FlapMessage, Frame, FrameDecoder, Signoff, Signon, encode_frame_with};
use flapjack_wire::snac::{Message, RawSnac, SnacHeader};
use flapjack_wire::{Put, Snac, TlvBlock};

/// What the session did since the last drain.
#[derive(Debug, Default)]
pub struct Drained {
    pub connects: Vec<(ConnId, ConnKind, String, u16, Option<String>)>,
    pub frames: HashMap<ConnId, Vec<Frame<'static>>>,
    pub closes: Vec<ConnId>,
    pub events: Vec<Event>,
    pub timeout: Option<Instant>,
}

impl Drained {
    /// Frames sent on `conn`.
    pub fn frames_on(&self, conn: ConnId) -> &[Frame<'static>] {
        self.frames.get(&conn).map(Vec::as_slice).unwrap_or(&[])
    }

    /// SNAC headers and payloads sent on `conn`, in order.
    pub fn snacs_on(&self, conn: ConnId) -> Vec<(SnacHeader, Vec<u8>)> {
        self.frames_on(conn)
            .iter()
            .filter(|f| f.channel == Channel::Data)
            .map(|f| {
                let raw = RawSnac::decode(f.payload()).expect("a SNAC");
                (raw.header, f.payload().to_vec())
            })
            .collect()
    }

    /// (family, subtype) of each SNAC sent on `conn`.
    pub fn snac_types(&self, conn: ConnId) -> Vec<(u16, u16)> {
        self.snacs_on(conn).iter().map(|(h, _)| (h.family, h.subtype)).collect()
    }

    /// The first SNAC of a type sent on `conn`.
    pub fn find_snac(&self, conn: ConnId, family: u16, subtype: u16) -> Option<(SnacHeader, Vec<u8>)> {
        self.snacs_on(conn)
            .into_iter()
            .find(|(h, _)| h.family == family && h.subtype == subtype)
    }

    /// The connection opened for `kind`.
    pub fn connect_for(&self, kind: &ConnKind) -> Option<ConnId> {
        self.connects.iter().find(|c| &c.1 == kind).map(|c| c.0)
    }
}

/// A session, a fake clock and a server's sequence counter per connection.
pub struct Harness {
    pub session: Session,
    pub now: Instant,
    server_seq: HashMap<ConnId, u16>,
}

impl Harness {
    pub fn new(cfg: SessionConfig) -> Self {
        let now = Instant::now();
        Self {
            session: Session::new(cfg, now),
            now,
            server_seq: HashMap::new(),
        }
    }

    /// Collects every output until the session is idle.
    pub fn drain(&mut self) -> Drained {
        let mut d = Drained::default();
        loop {
            match self.session.poll_output() {
                Output::Connect {
                    conn,
                    kind,
                    host,
                    port,
                    tls_cert_name,
                } => d.connects.push((conn, kind, host, port, tls_cert_name)),
                Output::Transmit { conn, data } => {
                    let frames = d.frames.entry(conn).or_default();
                    let decoder = FrameDecoder::new();
                    let mut it = decoder.frames(&data);
                    for f in it.by_ref() {
                        frames.push(f.expect("a whole frame").into_owned());
                    }
                    assert!(it.remainder().is_empty(), "transmits carry whole frames");
                }
                Output::Close { conn } => d.closes.push(conn),
                Output::Event(e) => d.events.push(e),
                Output::Timeout(t) => {
                    d.timeout = Some(t);
                    break;
                }
                Output::Idle => break,
            }
        }
        d
    }

    pub fn input(&mut self, input: Input<'_>) -> Result<(), ClientError> {
        self.session.handle_input(self.now, input)
    }

    pub fn command(&mut self, cmd: Command) -> Result<(), ClientError> {
        self.input(Input::Command(cmd))
    }

    pub fn connected(&mut self, conn: ConnId) {
        self.input(Input::Connected(conn)).unwrap();
    }

    /// Moves the clock forward and delivers a timeout.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.input(Input::Timeout).unwrap();
    }

    /// Moves the clock to `at` and delivers a timeout.
    pub fn advance_to(&mut self, at: Instant) {
        if at > self.now {
            self.now = at;
        }
        self.input(Input::Timeout).unwrap();
    }

    fn next_seq(&mut self, conn: ConnId) -> u16 {
        let s = self.server_seq.entry(conn).or_insert(100);
        *s = s.wrapping_add(1);
        *s
    }

    /// The server sends raw bytes.
    pub fn server_bytes(&mut self, conn: ConnId, bytes: &[u8]) {
        self.input(Input::Bytes(conn, bytes)).unwrap();
    }

    /// The server sends a FLAP frame.
    pub fn server_frame(&mut self, conn: ConnId, msg: &FlapMessage<'_>) {
        let seq = self.next_seq(conn);
        let mut out = Vec::new();
        msg.encode_frame(seq, &mut out).unwrap();
        self.server_bytes(conn, &out);
    }

    /// The server's channel-1 hello.
    pub fn server_hello(&mut self, conn: ConnId) {
        self.server_frame(conn, &FlapMessage::Signon(Signon::hello()));
    }

    /// The server sends a channel-4 goodbye with TLVs.
    pub fn server_signoff(&mut self, conn: ConnId, tlvs: TlvBlock<'_>) {
        self.server_frame(conn, &FlapMessage::Signoff(Signoff { tlvs }));
    }

    /// The server sends a typed SNAC.
    pub fn server_snac(&mut self, conn: ConnId, request_id: u32, message: Message<'_>) {
        self.server_snac_flags(conn, request_id, 0, message);
    }

    /// The server sends a typed SNAC with header flags.
    pub fn server_snac_flags(&mut self, conn: ConnId, request_id: u32, flags: u16, message: Message<'_>) {
        let mut snac = Snac::new(request_id, message);
        snac.flags = flags;
        let seq = self.next_seq(conn);
        let mut out = Vec::new();
        snac.encode_frame(seq, &mut out).unwrap();
        self.server_bytes(conn, &out);
    }

    /// The server sends a SNAC from a raw body.
    pub fn server_raw_snac(&mut self, conn: ConnId, family: u16, subtype: u16, request_id: u32, body: &[u8]) {
        let seq = self.next_seq(conn);
        let mut out = Vec::new();
        encode_frame_with(&mut out, Channel::Data, seq, |o| {
            SnacHeader {
                family,
                subtype,
                flags: 0,
                request_id,
            }
            .encode(o);
            o.put_slice(body);
        })
        .unwrap();
        self.server_bytes(conn, &out);
    }
}

/// Decodes a channel-2 payload as a typed SNAC.
pub fn typed(payload: &[u8]) -> Snac<'_> {
    Snac::decode(payload).expect("a typed SNAC")
}
