//! A raw OSCAR client for the load tool, on flapjack-wire over real TCP: FLAP framing, the BUCP
//! login (§6.2) and the full BOS sign-on (§7), as a libpurple-like client performs them. It
//! keeps no state machine: every step waits (bounded by [`WAIT`]) for the answers it needs.
//!
//! Connections may be bound to a chosen loopback source address before connecting, so that
//! thousands of clients stay under the server's per-address connection limit and the
//! ephemeral ports of one address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use flapjack_auth::bucp::{HashKind, client_hash};
use flapjack_wire::family::bucp::{Bucp, ChallengeRequest, ClientInfo, LoginOutcome, LoginRequest};
use flapjack_wire::family::feedbag::Feedbag;
use flapjack_wire::family::icbm::{Icbm, IcbmParams, param_flags};
use flapjack_wire::family::oservice::{ClientReadyEntry, FamilyVersion, Oservice};
use flapjack_wire::flap::{Channel, Decoded, FrameDecoder, HEADER_LEN, Signon, encode_frame_with, signon_tag};
use flapjack_wire::list::U16Item;
use flapjack_wire::snac::{Message, flags as snac_flags};
use flapjack_wire::{List, Snac, SnacHeader, TlvBlock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};

/// The longest any single wait of the handshake may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// Clients per loopback source address (the server's default cap is 64 connections per
/// address; a client briefly holds its login connection and its BOS connection).
pub const CLIENTS_PER_ADDRESS: usize = 24;

/// The loopback source address of client number `i`: 127.100.Y.Z, [`CLIENTS_PER_ADDRESS`]
/// clients each.
pub fn source_address(i: usize) -> IpAddr {
    let k = i / CLIENTS_PER_ADDRESS;
    let y = ((k / 250) % 256) as u8;
    let z = (k % 250) as u8 + 1;
    IpAddr::V4(Ipv4Addr::new(127, 100, y, z))
}

/// Opens a TCP connection to `dst` from `src` (any port), with Nagle off.
pub async fn connect(src: Option<IpAddr>, dst: SocketAddr) -> Result<TcpStream, String> {
    let socket = match dst {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| format!("socket: {e}"))?;
    if let Some(ip) = src {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| format!("bind {ip}: {e}"))?;
    }
    let stream = tokio::time::timeout(WAIT, socket.connect(dst))
        .await
        .map_err(|_| format!("connect to {dst}: timed out"))?
        .map_err(|e| format!("connect to {dst} from {src:?}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    Ok(stream)
}

/// Where a received frame's payload lies in the connection's buffer ([`Conn::payload`]);
/// valid until the next read.
#[derive(Debug, Clone, Copy)]
pub struct RxFrame {
    /// The channel.
    pub channel: Channel,
    /// The payload's range in the buffer.
    range: (usize, usize),
}

/// Bytes reserved for a read: the largest answer of the sign-on (the batch of rights replies,
/// or the rate reply) is well under a kilobyte.
const READ_CHUNK: usize = 2048;

/// Room for the largest batch the sign-on writes at once.
const WRITE_CAPACITY: usize = 512;

/// A raw OSCAR connection during the handshake.
///
/// Frames are cut out of the read buffer in place ([`RxFrame`] is a range); the buffers are
/// given back once the sign-on is over, so that a held session costs its socket only.
#[derive(Debug)]
pub struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    /// Bytes read; `buf[start..]` is not consumed yet.
    buf: Vec<u8>,
    start: usize,
    out: Vec<u8>,
    seq: u16,
    next_request: u32,
}

impl Conn {
    /// Connects. As libpurple does, the client's first frame goes out without waiting for
    /// the server's hello, which [`expect_hello`](Self::expect_hello) checks afterwards.
    pub async fn open(src: Option<IpAddr>, dst: SocketAddr) -> Result<Self, String> {
        let (rd, wr) = connect(src, dst).await?.into_split();
        Ok(Self {
            rd,
            wr,
            buf: Vec::new(),
            start: 0,
            out: Vec::with_capacity(WRITE_CAPACITY),
            seq: 0x0100,
            next_request: 1,
        })
    }

    /// Reads the server's FLAP hello (channel 1, version 1), the first frame it sends.
    pub async fn expect_hello(&mut self) -> Result<(), String> {
        match self.recv().await? {
            Some(f) if f.channel == Channel::Signon && self.payload(&f).starts_with(&[0, 0, 0, 1]) => Ok(()),
            Some(f) => Err(format!(
                "expected the server's hello, got a {:?} frame: {:02x?}",
                f.channel,
                self.payload(&f)
            )),
            None => Err("expected the server's hello, the server closed the connection".into()),
        }
    }

    /// The payload of `frame`, the last frame [`recv`](Self::recv) returned.
    pub fn payload(&self, frame: &RxFrame) -> &[u8] {
        self.buf.get(frame.range.0..frame.range.1).unwrap_or_default()
    }

    /// The SNAC header of a channel-2 frame.
    pub fn header(&self, frame: &RxFrame) -> Option<SnacHeader> {
        if frame.channel != Channel::Data {
            return None;
        }
        SnacHeader::decode(&mut flapjack_wire::Reader::new(self.payload(frame))).ok()
    }

    /// Queues one frame.
    pub fn queue_frame(&mut self, channel: Channel, payload: &[u8]) {
        self.queue_frame_with(channel, |o| o.extend_from_slice(payload));
    }

    fn queue_frame_with(&mut self, channel: Channel, body: impl FnOnce(&mut Vec<u8>)) {
        let _ = encode_frame_with(&mut self.out, channel, self.seq, body);
        self.seq = self.seq.wrapping_add(1) & 0x7FFF;
    }

    /// Queues a SNAC with a fresh request id (returned), encoded straight into the queue.
    pub fn queue_snac(&mut self, message: Message<'_>) -> u32 {
        let id = self.request_id();
        self.queue_frame_with(Channel::Data, |o| Snac::new(id, message).encode(o));
        id
    }

    /// Queues a SNAC with an empty body (rights queries).
    pub fn queue_empty_snac(&mut self, family: u16, subtype: u16) -> u32 {
        let id = self.request_id();
        self.queue_frame_with(Channel::Data, |o| {
            SnacHeader {
                family,
                subtype,
                flags: 0,
                request_id: id,
            }
            .encode(o)
        });
        id
    }

    fn request_id(&mut self) -> u32 {
        let id = self.next_request;
        self.next_request = self.next_request.wrapping_add(1) & 0x7FFF_FFFF;
        id
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), String> {
        if self.out.is_empty() {
            return Ok(());
        }
        tokio::time::timeout(WAIT, self.wr.write_all(&self.out))
            .await
            .map_err(|_| "write timed out".to_owned())?
            .map_err(|e| format!("write: {e}"))?;
        self.out.clear();
        Ok(())
    }

    /// The next frame, or `None` when the server closed the connection. Its payload
    /// ([`payload`](Self::payload)) stays in the buffer until the next call.
    pub async fn recv(&mut self) -> Result<Option<RxFrame>, String> {
        let decoder = FrameDecoder::new();
        loop {
            match decoder
                .decode(&self.buf[self.start..])
                .map_err(|e| format!("bad frame from the server: {e}"))?
            {
                Decoded::Complete { value, consumed } => {
                    let payload_len = value.payload().len();
                    let end = self.start + consumed;
                    let frame = RxFrame {
                        channel: value.channel,
                        range: (end - payload_len, end),
                    };
                    self.start = end;
                    return Ok(Some(frame));
                }
                Decoded::Incomplete { .. } => {}
            }
            // Everything before `start` was handed out by earlier calls: drop it.
            if self.start == self.buf.len() {
                self.buf.clear();
            } else {
                self.buf.drain(..self.start);
            }
            self.start = 0;
            self.buf.reserve(READ_CHUNK);
            let n = tokio::time::timeout(WAIT, self.rd.read_buf(&mut self.buf))
                .await
                .map_err(|_| "timed out waiting for the server".to_owned())?
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Ok(None);
            }
        }
    }

    /// The next SNAC (keepalives skipped); a closed connection or a sign-off is an error.
    pub async fn recv_snac(&mut self) -> Result<RxFrame, String> {
        loop {
            match self.recv().await? {
                Some(f) if f.channel == Channel::Data => return Ok(f),
                Some(f) if f.channel == Channel::Keepalive => continue,
                Some(f) => return Err(format!("unexpected {:?} frame: {:02x?}", f.channel, self.payload(&f))),
                None => return Err("the server closed the connection".into()),
            }
        }
    }

    /// Waits for one SNAC of each `(family, subtype)` in `wanted` (a multi-part reply counts
    /// when its last part arrives); other SNACs are skipped, an error SNAC fails. `check` sees
    /// each wanted SNAC's payload as it arrives (for the answers whose content matters).
    pub async fn expect_all(
        &mut self,
        wanted: &[(u16, u16)],
        mut check: impl FnMut((u16, u16), &[u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        // A bit per answer still missing.
        if wanted.len() > 31 {
            return Err(format!("{} answers awaited at once", wanted.len()));
        }
        let mut missing: u32 = (1 << wanted.len()) - 1;
        let still_missing = |missing: u32| -> Vec<(u16, u16)> {
            wanted
                .iter()
                .enumerate()
                .filter(|(i, _)| missing & (1 << i) != 0)
                .map(|(_, w)| *w)
                .collect()
        };
        // Bounded: a server that keeps talking without answering is a failure too.
        for _ in 0..256 {
            if missing == 0 {
                return Ok(());
            }
            let f = self.recv_snac().await?;
            let Some(h) = self.header(&f) else { continue };
            if h.subtype == 0x0001 {
                return Err(format!(
                    "error SNAC {:04x}/0001 (code {:02x?}) while waiting for {:04x?}",
                    h.family,
                    self.payload(&f).get(10..12),
                    still_missing(missing)
                ));
            }
            if h.flags & snac_flags::MORE_FOLLOWS != 0 {
                continue;
            }
            let key = (h.family, h.subtype);
            if let Some(i) = wanted
                .iter()
                .enumerate()
                .position(|(i, &w)| w == key && missing & (1 << i) != 0)
            {
                missing &= !(1 << i);
                check(key, self.payload(&f))?;
            }
        }
        Err(format!("no answer {:04x?} among 256 SNACs", still_missing(missing)))
    }

    /// Gives the buffers back once the sign-on is over (nothing is left unread then), so that
    /// a held session costs its socket only.
    fn release_buffers(&mut self) {
        if self.start == self.buf.len() {
            self.buf = Vec::new();
            self.start = 0;
        }
        if self.out.is_empty() {
            self.out = Vec::new();
        }
    }

    /// Splits into the two halves, with any bytes already read and not consumed.
    pub fn into_parts(mut self) -> (OwnedReadHalf, OwnedWriteHalf, Vec<u8>, u16, u32) {
        self.buf.drain(..self.start);
        (self.rd, self.wr, self.buf, self.seq, self.next_request)
    }

    /// Sends an empty channel-4 frame (the client's goodbye) and closes.
    pub async fn sign_off(mut self) {
        self.queue_frame(Channel::Signoff, &[]);
        let _ = self.flush().await;
        let _ = self.wr.shutdown().await;
    }

    /// Closes the connection (one `close`: the halves are put back together first, so that
    /// dropping them does not also shut the write side down on its own).
    pub fn close(self) {
        if let Ok(stream) = self.rd.reunite(self.wr) {
            drop(stream);
        }
    }
}

/// A BOS address and cookie from a successful login.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// Where to connect.
    pub bos: SocketAddr,
    /// The one-time cookie.
    pub cookie: Vec<u8>,
}

/// A BUCP login (§6.2): hello and 17/06 at once (the server's hello is checked on arrival),
/// 17/07, 17/02 (strong hash) → 17/03, channel 4.
pub async fn bucp_login(src: Option<IpAddr>, server: SocketAddr, name: &str, password: &str) -> Result<Ticket, String> {
    let mut c = Conn::open(src, server).await?;
    c.queue_frame_with(Channel::Signon, |o| Signon::hello().encode(o));
    let req = ChallengeRequest::new(name.as_bytes()).map_err(|e| e.to_string())?;
    c.queue_snac(Message::Bucp(Bucp::ChallengeRequest(req)));
    c.flush().await?;
    c.expect_hello().await?;
    let f = c.recv_snac().await?;
    let hash = match Snac::decode(c.payload(&f)).map_err(|e| format!("17/07: {e}"))?.message {
        Message::Bucp(Bucp::ChallengeResponse(r)) => {
            client_hash(HashKind::Strong, r.key.as_bytes(), password.as_bytes())
        }
        other => return Err(format!("{name}: expected 17/07, got {other:?}")),
    };
    let login = LoginRequest::new(name.as_bytes(), &hash, true, &ClientInfo::default()).map_err(|e| e.to_string())?;
    c.queue_snac(Message::Bucp(Bucp::LoginRequest(login)));
    c.flush().await?;
    let f = c.recv_snac().await?;
    let snac = Snac::decode(c.payload(&f)).map_err(|e| format!("17/03: {e}"))?;
    let Message::Bucp(Bucp::LoginResponse(resp)) = snac.message else {
        return Err(format!("{name}: expected 17/03, got {:?}", snac.message));
    };
    let ticket = match resp.outcome().map_err(|e| e.to_string())? {
        LoginOutcome::Success {
            bos_address, cookie, ..
        } => {
            let bos = std::str::from_utf8(bos_address)
                .ok()
                .and_then(|t| t.parse::<SocketAddr>().ok())
                .ok_or_else(|| format!("BOS address {:?}", String::from_utf8_lossy(bos_address)))?;
            Ticket {
                bos,
                cookie: cookie.to_vec(),
            }
        }
        LoginOutcome::Failure(e) => return Err(format!("{name}: login refused: {e:?}")),
    };
    // The server ends the login connection with channel 4 and closes it.
    while let Some(f) = c.recv().await? {
        if f.channel == Channel::Signoff {
            break;
        }
    }
    c.close();
    Ok(ticket)
}

/// The families this client speaks, with the versions it announces (libpurple's).
fn our_version(family: u16) -> Option<u16> {
    match family {
        0x0001 => Some(3),
        0x0013 => Some(4),
        0x0002 | 0x0003 | 0x0004 | 0x0009 => Some(1),
        _ => None,
    }
}

/// The BOS sign-on (§7) with `ticket`, as a libpurple-like client does it: the cookie on
/// connect (the server's hello checked on arrival), client
/// versions → host versions, rate query → reply → subscription, then in one batch the
/// self-info, feedbag rights and list, LOCATE, BUDDY, ICBM and PD rights queries; once they
/// are all answered the ICBM parameters, feedbag use, client ready and a last self-info query
/// whose answer proves that the server has processed client ready.
pub async fn bos_sign_on(src: Option<IpAddr>, ticket: &Ticket) -> Result<Conn, String> {
    let mut c = Conn::open(src, ticket.bos).await?;
    let signon = Signon {
        version: 1,
        tlvs: TlvBlock::builder()
            .bytes(signon_tag::COOKIE, &ticket.cookie)
            .build()
            .map_err(|e| e.to_string())?,
    };
    c.queue_frame_with(Channel::Signon, |o| signon.encode(o));
    c.flush().await?;
    c.expect_hello().await?;
    let f = c.recv_snac().await?;
    // Ours among the families the server announced, in its order.
    let versions: Vec<FamilyVersion> = {
        let snac = Snac::decode(c.payload(&f)).map_err(|e| format!("01/03: {e}"))?;
        let Message::Oservice(Oservice::HostOnline(list)) = snac.message else {
            return Err(format!("expected host online, got {:?}", snac.message));
        };
        list.iter()
            .filter_map(|family| our_version(family.value()).map(|version| FamilyVersion { family, version }))
            .collect()
    };
    let served = |family: u16| versions.iter().any(|v| v.family.value() == family);
    let list = List::from_items(versions.iter(), 100).map_err(|e| e.to_string())?;
    c.queue_snac(Message::Oservice(Oservice::ClientVersions(list)));
    c.flush().await?;
    c.expect_all(&[(0x0001, 0x0018)], |_, _| Ok(())).await?;

    c.queue_snac(Message::Oservice(Oservice::RateParamsQuery));
    c.flush().await?;
    let mut ids: Vec<u16> = Vec::new();
    c.expect_all(&[(0x0001, 0x0007)], |_, payload| {
        let snac = Snac::decode(payload).map_err(|e| format!("01/07: {e}"))?;
        let Message::Oservice(Oservice::RateParamsReply(reply)) = snac.message else {
            return Err("expected 01/07".into());
        };
        ids.extend(reply.class_ids());
        Ok(())
    })
    .await?;
    let ack = List::<U16Item>::from_items(ids.iter(), 100).map_err(|e| e.to_string())?;
    c.queue_snac(Message::Oservice(Oservice::RateParamsSubAdd(ack)));

    let mut wanted = [(0u16, 0u16); 7];
    wanted[0] = (0x0001, 0x000F);
    let mut n = 1;
    c.queue_snac(Message::Oservice(Oservice::SelfInfoQuery));
    for (family, query, answer) in [
        (0x0013, 0x0002, 0x0003),
        (0x0013, 0x0004, 0x0006),
        (0x0002, 0x0002, 0x0003),
        (0x0003, 0x0002, 0x0003),
        (0x0004, 0x0004, 0x0005),
        (0x0009, 0x0002, 0x0003),
    ] {
        if served(family) {
            c.queue_empty_snac(family, query);
            wanted[n] = (family, answer);
            n += 1;
        }
    }
    c.flush().await?;
    c.expect_all(&wanted[..n], |_, _| Ok(())).await?;

    if served(0x0004) {
        c.queue_snac(Message::Icbm(Icbm::SetParams {
            channel: 0,
            params: IcbmParams {
                flags: param_flags::CHANNEL_MSGS_ALLOWED
                    | param_flags::MISSED_CALLS_ENABLED
                    | param_flags::EVENTS_ALLOWED,
                max_message_len: 8000,
                max_sender_warning: 999,
                max_receiver_warning: 999,
                min_interval_ms: 0,
            },
        }));
    }
    if served(0x0013) {
        c.queue_snac(Message::Feedbag(Feedbag::Use));
    }
    let entries: Vec<ClientReadyEntry> = versions
        .iter()
        .map(|v| ClientReadyEntry {
            family: v.family,
            version: v.version,
            tool_id: 0x0110,
            tool_version: 0x0629,
        })
        .collect();
    c.queue_snac(Message::Oservice(
        Oservice::client_ready(&entries).map_err(|e| e.to_string())?,
    ));
    c.queue_snac(Message::Oservice(Oservice::SelfInfoQuery));
    c.flush().await?;
    c.expect_all(&[(0x0001, 0x000F)], |_, _| Ok(())).await?;
    c.release_buffers();
    Ok(c)
}

/// A BUCP login and BOS sign-on of `name`; the signed-on connection.
pub async fn sign_on(src: Option<IpAddr>, server: SocketAddr, name: &str, password: &str) -> Result<Conn, String> {
    let ticket = bucp_login(src, server, name, password).await?;
    bos_sign_on(src, &ticket).await
}

/// Byte offsets inside an encoded ICBM frame (FLAP header, SNAC header, cookie).
pub mod offsets {
    use super::HEADER_LEN;
    /// The FLAP sequence number.
    pub const SEQ: usize = 2;
    /// The SNAC request id.
    pub const REQUEST_ID: usize = HEADER_LEN + 6;
    /// The 8-byte ICBM cookie (04/06 and 04/07 both start their body with it).
    pub const COOKIE: usize = HEADER_LEN + 10;
}
