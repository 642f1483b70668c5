//! The IM load pattern, shared by the server run and the relay reference: pairs of connections
//! exchange small FLAP frames (an ICBM 04/06 send) in both directions, each direction keeping a
//! fixed number of messages in flight. A sender writes whatever its window allows in one write;
//! the receiving side of the pair returns the window as messages arrive. Every message carries
//! its send time in its 8-byte ICBM cookie, so delivery latency is measured on one clock (the
//! load tool's).
//!
//! Through the server a 04/06 arrives as 04/07 (with the sender's user info); through the
//! relay it arrives unchanged. Both start their body with the cookie, and the receiver reads
//! nothing else, so the load tool does the same work in both cases.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flapjack_wire::family::icbm::{Icbm, SendIm, SendImFlags};
use flapjack_wire::flap::{Channel, HEADER_LEN, encode_frame_with};
use flapjack_wire::snac::Message;
use flapjack_wire::{IcbmCookie, ScreenName, Snac};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Semaphore;

use super::proto::offsets;
use super::stats::Percentiles;

/// The text of every load IM (43 bytes, ASCII).
pub const TEXT: &str = "The quick brown fox jumps over the lazy dog";

/// How long receivers keep reading after the senders stop, at most.
const DRAIN: Duration = Duration::from_secs(3);
/// A receiver that got nothing for this long after the senders stopped is done.
const QUIET: Duration = Duration::from_millis(300);

/// One side of a pair: its socket halves, bytes already read, its next FLAP sequence number
/// and request id, and the screen name of its peer (the IM recipient).
#[derive(Debug)]
pub struct Endpoint {
    /// Read half.
    pub rd: OwnedReadHalf,
    /// Write half.
    pub wr: OwnedWriteHalf,
    /// Bytes read during the handshake but not consumed.
    pub leftover: Vec<u8>,
    /// Next FLAP sequence number.
    pub seq: u16,
    /// Next SNAC request id.
    pub request_id: u32,
    /// Who this side sends to.
    pub peer_name: String,
}

/// The pattern's settings.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Messages in flight per pair (half each way).
    pub in_flight: usize,
    /// Time before measuring (connections warm, queues filled).
    pub warmup: Duration,
    /// Measured time.
    pub measure: Duration,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    /// Messages received inside the measured window.
    pub delivered: u64,
    /// Messages received in all (warm-up and drain included).
    pub received_total: u64,
    /// Server (or relay) CPU microseconds per message received in all, when measured.
    pub server_cpu_us: Option<f64>,
    /// Load tool CPU microseconds per message received in all.
    pub tool_cpu_us: Option<f64>,
    /// The window, seconds.
    pub secs: f64,
    /// Delivery latency over the window, microseconds.
    pub latency_us: Percentiles,
    /// Messages written in all (warm-up included).
    pub sent: u64,
    /// Rate-change notices (0x0001/0x000A) received.
    pub rate_changes: u64,
    /// Error SNACs received.
    pub errors: u64,
    /// Connections that ended early (sign-off frame or end of stream before the end).
    pub closed_early: u64,
}

impl LoadResult {
    /// Delivered messages per second.
    pub fn per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.delivered as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// The encoded 04/06 frame `from` sends to `to` (sequence, request id and cookie are patched
/// per message).
pub fn im_frame(to: &str) -> Result<Vec<u8>, String> {
    let name = ScreenName::new(to.as_bytes().to_vec()).map_err(|e| e.to_string())?;
    let im = SendIm::channel1(IcbmCookie([0; 8]), name, TEXT, SendImFlags::default()).map_err(|e| e.to_string())?;
    let body = Snac::new(0, Message::Icbm(Icbm::SendIm(im))).to_bytes();
    let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
    encode_frame_with(&mut frame, Channel::Data, 0, |o| o.extend_from_slice(&body)).map_err(|e| e.to_string())?;
    Ok(frame)
}

#[derive(Debug, Default)]
struct Received {
    delivered: u64,
    total: u64,
    latencies: Vec<u32>,
    rate_changes: u64,
    errors: u64,
    closed_early: bool,
}

/// Runs the pattern over `pairs` and measures it (and the CPU time of `server_pid`, the server
/// or relay, and of this process).
pub async fn run(pairs: Vec<(Endpoint, Endpoint)>, cfg: LoadConfig, server_pid: u32) -> Result<LoadResult, String> {
    let cpu = super::stats::CpuMeter::start(server_pid);
    let epoch = Instant::now();
    let measure_start = epoch + cfg.warmup;
    let stop = measure_start + cfg.measure;
    let window = (cfg.in_flight / 2).max(1);
    let sent = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for (a, b) in pairs {
        // a → b uses `ab`; b's receiver returns its permits. And the other way round.
        let ab = Arc::new(Semaphore::new(window));
        let ba = Arc::new(Semaphore::new(window));
        for (me, my_window, peer_window) in [(a, ab.clone(), ba.clone()), (b, ba, ab)] {
            let frame = im_frame(&me.peer_name)?;
            senders.push(tokio::spawn(sender(
                me.wr,
                frame,
                me.seq,
                me.request_id,
                my_window,
                epoch,
                stop,
                sent.clone(),
            )));
            receivers.push(tokio::spawn(receiver(
                me.rd,
                me.leftover,
                peer_window,
                epoch,
                (measure_start, stop),
            )));
        }
    }
    let mut result = LoadResult {
        secs: cfg.measure.as_secs_f64(),
        ..LoadResult::default()
    };
    let mut all = Vec::new();
    for r in receivers {
        let got = r.await.map_err(|e| e.to_string())?;
        result.delivered += got.delivered;
        result.received_total += got.total;
        result.rate_changes += got.rate_changes;
        result.errors += got.errors;
        result.closed_early += u64::from(got.closed_early);
        all.extend_from_slice(&got.latencies);
    }
    let mut writers = Vec::new();
    for s in senders {
        writers.push(s.await.map_err(|e| e.to_string())?);
    }
    // Close the write sides; the halves' owners drop them.
    for mut w in writers.into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(1), w.shutdown()).await;
    }
    result.sent = sent.load(Ordering::Relaxed);
    let (server_cpu, tool_cpu) = cpu.stop();
    let per = |secs: f64| secs * 1e6 / result.received_total.max(1) as f64;
    result.server_cpu_us = server_cpu.map(per);
    result.tool_cpu_us = tool_cpu.map(per);
    result.latency_us = Percentiles::of(&mut all);
    Ok(result)
}

#[allow(clippy::too_many_arguments)]
async fn sender(
    mut wr: OwnedWriteHalf,
    template: Vec<u8>,
    mut seq: u16,
    mut request_id: u32,
    window: Arc<Semaphore>,
    epoch: Instant,
    stop: Instant,
    sent: Arc<AtomicU64>,
) -> Option<OwnedWriteHalf> {
    let stop_at = tokio::time::Instant::from_std(stop);
    let mut out: Vec<u8> = Vec::with_capacity(template.len() * 64);
    loop {
        let permit = tokio::select! {
            p = window.acquire() => match p {
                Ok(p) => p,
                Err(_) => return Some(wr),
            },
            _ = tokio::time::sleep_until(stop_at) => return Some(wr),
        };
        permit.forget();
        let mut n = 1u64;
        while let Ok(p) = window.try_acquire() {
            p.forget();
            n += 1;
        }
        out.clear();
        let now_ns = epoch.elapsed().as_nanos() as u64;
        for _ in 0..n {
            let start = out.len();
            out.extend_from_slice(&template);
            let f = &mut out[start..];
            f[offsets::SEQ..offsets::SEQ + 2].copy_from_slice(&seq.to_be_bytes());
            f[offsets::REQUEST_ID..offsets::REQUEST_ID + 4].copy_from_slice(&request_id.to_be_bytes());
            f[offsets::COOKIE..offsets::COOKIE + 8].copy_from_slice(&now_ns.to_be_bytes());
            seq = seq.wrapping_add(1) & 0x7FFF;
            request_id = request_id.wrapping_add(1) & 0x7FFF_FFFF;
        }
        match tokio::time::timeout_at(stop_at + DRAIN, wr.write_all(&out)).await {
            Ok(Ok(())) => {
                sent.fetch_add(n, Ordering::Relaxed);
            }
            _ => return None,
        }
    }
}

async fn receiver(
    mut rd: OwnedReadHalf,
    leftover: Vec<u8>,
    peer_window: Arc<Semaphore>,
    epoch: Instant,
    (measure_start, stop): (Instant, Instant),
) -> Received {
    let mut got = Received::default();
    let mut buf = leftover;
    buf.reserve(64 * 1024);
    let hard_stop = tokio::time::Instant::from_std(stop + DRAIN);
    loop {
        // Cut whole frames out of the buffer.
        let now = Instant::now();
        let now_ns = now.saturating_duration_since(epoch).as_nanos() as u64;
        let in_window = now >= measure_start && now < stop;
        let mut pos = 0;
        let mut returned = 0usize;
        while buf.len() - pos >= HEADER_LEN {
            let len = usize::from(u16::from_be_bytes([buf[pos + 4], buf[pos + 5]]));
            if buf.len() - pos < HEADER_LEN + len {
                break;
            }
            let channel = buf[pos + 1];
            let p = &buf[pos + HEADER_LEN..pos + HEADER_LEN + len];
            pos += HEADER_LEN + len;
            match channel {
                2 if p.len() >= 18 => {
                    let family = u16::from_be_bytes([p[0], p[1]]);
                    let subtype = u16::from_be_bytes([p[2], p[3]]);
                    match (family, subtype) {
                        (0x0004, 0x0006 | 0x0007) => {
                            returned += 1;
                            got.total += 1;
                            if in_window {
                                let sent_ns = u64::from_be_bytes(p[10..18].try_into().unwrap_or([0; 8]));
                                let us = now_ns.saturating_sub(sent_ns) / 1000;
                                got.delivered += 1;
                                got.latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                            }
                        }
                        (0x0001, 0x000A) => got.rate_changes += 1,
                        (_, 0x0001) => got.errors += 1,
                        _ => {}
                    }
                }
                2 => {}
                4 => {
                    got.closed_early = now < stop;
                    return got;
                }
                _ => {}
            }
        }
        if returned > 0 {
            peer_window.add_permits(returned);
        }
        buf.drain(..pos);
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        let deadline = if Instant::now() >= stop {
            (tokio::time::Instant::now() + QUIET).min(hard_stop)
        } else {
            hard_stop
        };
        match tokio::time::timeout_at(deadline, rd.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                got.closed_early = Instant::now() < stop;
                return got;
            }
            Ok(Ok(_)) => {}
            Err(_) => return got,
        }
    }
}
