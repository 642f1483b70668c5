//! One FLAP connection inside a session: framing, sequence numbers, request ids, keepalive
//! bookkeeping and its rate limiter.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use flapjack_auth::bucp::HashKind;
use flapjack_wire::flap::{Channel, encode_frame_with};
use flapjack_wire::snac::SnacHeader;
use flapjack_wire::{Put, Snac};

use super::{ConnId, ConnKind, Output};
use crate::error::RequestContext;
use crate::rate::{QueuedSnac, RateLimiter};

/// Most requests remembered per connection for matching replies and errors. Requests that get
/// no reply (an IM without an ack) would otherwise pile up; the oldest are forgotten first.
const MAX_PENDING: usize = 4096;

/// How a login connection authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginFlow {
    /// BUCP MD5 challenge (§6.2).
    Bucp(HashKind),
    /// Roasted password on channel 1 (§6.1).
    Roasted,
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the driver to connect.
    Connecting,
    /// Login: waiting for the server's hello (BUCP) or the channel-4 result (roasted).
    LoginHello,
    /// BUCP: waiting for 17/07.
    LoginChallenge,
    /// BUCP: waiting for 17/03.
    LoginResponse,
    /// Login finished; the connection is being dropped.
    LoginDone,
    /// Service: waiting for 01/03.
    HostOnline,
    /// Service: waiting for 01/18.
    HostVersions,
    /// Service: waiting for 01/07.
    Rates,
    /// Service: rates known, family-specific set-up in progress.
    Setup,
    /// Service: ready.
    Ready,
    /// A goodbye was sent or received.
    Closing,
}

/// A connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub id: ConnId,
    pub kind: ConnKind,
    pub login: Option<LoginFlow>,
    /// The cookie a service connection presents.
    pub cookie: Vec<u8>,
    pub port: u16,
    pub tls_cert_name: Option<String>,
    pub phase: Phase,
    pub rx: Vec<u8>,
    seq: u16,
    pub last_send: Instant,
    pub opened_at: Instant,
    next_request: u32,
    pending: HashMap<u32, RequestContext>,
    pending_order: VecDeque<u32>,
    pub rates: Option<RateLimiter>,
    pre_rate: Vec<(u16, u16, Instant)>,
    /// Families announced in 01/03.
    pub families: Vec<u16>,
    /// Send a goodbye and close once the rate queues are empty.
    pub close_when_drained: bool,
}

impl Conn {
    pub fn new(id: ConnId, kind: ConnKind, port: u16, tls_cert_name: Option<String>, seq: u16, now: Instant) -> Self {
        Self {
            id,
            kind,
            login: None,
            cookie: Vec::new(),
            port,
            tls_cert_name,
            phase: Phase::Connecting,
            rx: Vec::new(),
            seq: seq & 0x7FFF,
            last_send: now,
            opened_at: now,
            next_request: 1,
            pending: HashMap::new(),
            pending_order: VecDeque::new(),
            rates: None,
            pre_rate: Vec::new(),
            families: Vec::new(),
            close_when_drained: false,
        }
    }

    /// True when the family was announced by the server on this connection.
    pub fn serves(&self, family: u16) -> bool {
        self.families.contains(&family)
    }

    /// The next request id (1-based, high bit clear: that marks server-initiated SNACs).
    pub fn next_request_id(&mut self) -> u32 {
        let id = self.next_request;
        self.next_request = if id >= 0x7FFF_FFFF { 1 } else { id + 1 };
        id
    }

    /// Remembers what a request was for.
    pub fn remember(&mut self, request_id: u32, ctx: RequestContext) {
        if self.pending.insert(request_id, ctx).is_none() {
            self.pending_order.push_back(request_id);
        }
        while self.pending_order.len() > MAX_PENDING {
            if let Some(old) = self.pending_order.pop_front() {
                self.pending.remove(&old);
            }
        }
    }

    /// What a request was for, forgetting it.
    pub fn take_pending(&mut self, request_id: u32) -> Option<RequestContext> {
        let ctx = self.pending.remove(&request_id)?;
        if let Some(pos) = self.pending_order.iter().position(|r| *r == request_id) {
            self.pending_order.remove(pos);
        }
        Some(ctx)
    }

    fn next_seq(&mut self) -> u16 {
        let s = self.seq;
        self.seq = (self.seq + 1) & 0x7FFF;
        s
    }

    /// Frames `payload` on `channel` and queues it for the driver.
    pub fn transmit(&mut self, channel: Channel, payload: &[u8], out: &mut VecDeque<Output>, now: Instant) {
        let seq = self.next_seq();
        let mut frame = Vec::with_capacity(payload.len() + 6);
        if encode_frame_with(&mut frame, channel, seq, |o| o.put_slice(payload)).is_err() {
            // Payloads are built by this crate and bounded well below 64 KiB.
            return;
        }
        self.last_send = now;
        if let Some(Output::Transmit { conn, data }) = out.back_mut()
            && *conn == self.id
        {
            data.extend_from_slice(&frame);
            return;
        }
        out.push_back(Output::Transmit {
            conn: self.id,
            data: frame,
        });
    }

    /// Sends an encoded SNAC (header + body) through the rate limiter, or at once before the
    /// rate classes are known.
    pub fn send_snac_bytes(
        &mut self,
        family: u16,
        subtype: u16,
        payload: Vec<u8>,
        out: &mut VecDeque<Output>,
        now: Instant,
    ) {
        match &mut self.rates {
            Some(rates) => {
                rates.enqueue(QueuedSnac {
                    family,
                    subtype,
                    payload,
                });
                self.release(out, now);
            }
            None => {
                self.pre_rate.push((family, subtype, now));
                self.transmit(Channel::Data, &payload, out, now);
            }
        }
    }

    /// Encodes and sends a typed SNAC, remembering its context; returns its request id.
    pub fn send_snac(
        &mut self,
        snac_message: flapjack_wire::Message<'_>,
        ctx: Option<RequestContext>,
        out: &mut VecDeque<Output>,
        now: Instant,
    ) -> u32 {
        let request_id = self.next_request_id();
        let snac = Snac::new(request_id, snac_message);
        let header = snac.header();
        if let Some(ctx) = ctx {
            self.remember(request_id, ctx);
        }
        self.send_snac_bytes(header.family, header.subtype, snac.to_bytes(), out, now);
        request_id
    }

    /// Encodes and sends a SNAC from a raw body.
    pub fn send_raw(
        &mut self,
        family: u16,
        subtype: u16,
        body: &[u8],
        ctx: Option<RequestContext>,
        out: &mut VecDeque<Output>,
        now: Instant,
    ) -> u32 {
        let request_id = self.next_request_id();
        let mut payload = Vec::with_capacity(SnacHeader::LEN + body.len());
        SnacHeader {
            family,
            subtype,
            flags: 0,
            request_id,
        }
        .encode(&mut payload);
        payload.put_slice(body);
        if let Some(ctx) = ctx {
            self.remember(request_id, ctx);
        }
        self.send_snac_bytes(family, subtype, payload, out, now);
        request_id
    }

    /// Starts rate limiting with the classes of 01/07, counting what was sent before.
    pub fn start_rates(&mut self, mut rates: RateLimiter) {
        for (family, subtype, at) in self.pre_rate.drain(..) {
            rates.record_sent(family, subtype, at);
        }
        self.rates = Some(rates);
    }

    /// Sends whatever the rate limiter allows now.
    pub fn release(&mut self, out: &mut VecDeque<Output>, now: Instant) {
        let Some(mut rates) = self.rates.take() else {
            return;
        };
        let mut ready = Vec::new();
        rates.release(now, |s| ready.push(s));
        self.rates = Some(rates);
        for s in ready {
            self.transmit(Channel::Data, &s.payload, out, now);
        }
    }

    /// SNACs held back by the rate limiter.
    pub fn queued(&self) -> usize {
        self.rates.as_ref().map_or(0, RateLimiter::queued)
    }

    /// The earliest time this connection needs attention: a keepalive or a rate release.
    pub fn deadline(&self, now: Instant, keepalive: Duration) -> Option<Instant> {
        if self.phase == Phase::Connecting || self.phase == Phase::Closing || self.phase == Phase::LoginDone {
            return None;
        }
        let ka = self.last_send + keepalive;
        let rate = self.rates.as_ref().and_then(|r| r.next_release(now));
        Some(match rate {
            Some(r) => r.min(ka),
            None => ka,
        })
    }
}
