//! A small, bounded, panic-free reader for packet captures, with TCP stream
//! reassembly.
//!
//! * Files: pcapng (Section Header, Interface Description, Enhanced / Simple /
//!   obsolete Packet blocks; either byte order; several sections) and classic
//!   libpcap (µs and ns magic, either byte order).
//! * Link types: Ethernet (with 802.1Q tags), BSD loopback (NULL / LOOP), raw
//!   IP, Linux cooked (SLL, SLL2).
//! * Network: IPv4 (fragments are skipped) and IPv6 (hop-by-hop, routing and
//!   destination-option headers are walked), then TCP.
//! * Reassembly: each direction of each TCP connection becomes one byte
//!   stream, ordered by sequence number. Retransmitted bytes are dropped (and
//!   checked against what was kept); a hole stops the stream and is reported.
//!
//! Every read is checked with `get`, every loop is bounded by the input or by
//! [`Limits`]; malformed input yields a [`PcapError`] or a skipped packet,
//! never a panic. This file is also included by the fuzz seed generator.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Caps that keep parsing bounded whatever the input says.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest capture file accepted.
    pub max_file_bytes: usize,
    /// Most packets read from one file.
    pub max_packets: usize,
    /// Most TCP directions tracked.
    pub max_streams: usize,
    /// Largest reassembled byte stream.
    pub max_stream_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 256 << 20,
            max_packets: 1 << 20,
            max_streams: 1 << 14,
            max_stream_bytes: 64 << 20,
        }
    }
}

/// Why a capture could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapError {
    /// Byte offset in the file (or packet index for reassembly errors).
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.what, self.offset)
    }
}

impl std::error::Error for PcapError {}

fn err<T>(offset: usize, what: &'static str) -> Result<T, PcapError> {
    Err(PcapError { offset, what })
}

/// A captured packet: link type and the bytes captured.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Index in the file, from 0.
    pub index: usize,
    /// LINKTYPE_* of the interface it was captured on.
    pub linktype: u16,
    /// The captured bytes (possibly fewer than were on the wire).
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

fn get_u16(buf: &[u8], at: usize, e: Endian) -> Option<u16> {
    let b: [u8; 2] = buf.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u16::from_le_bytes(b),
        Endian::Big => u16::from_be_bytes(b),
    })
}

fn get_u32(buf: &[u8], at: usize, e: Endian) -> Option<u32> {
    let b: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u32::from_le_bytes(b),
        Endian::Big => u32::from_be_bytes(b),
    })
}

fn be16(buf: &[u8], at: usize) -> Option<u16> {
    get_u16(buf, at, Endian::Big)
}

fn be32(buf: &[u8], at: usize) -> Option<u32> {
    get_u32(buf, at, Endian::Big)
}

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 0x0000_0001;
const PCAPNG_OPB: u32 = 0x0000_0002;
const PCAPNG_SPB: u32 = 0x0000_0003;
const PCAPNG_EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Reads every packet of a pcapng or classic pcap file.
pub fn read_packets<'a>(file: &'a [u8], limits: &Limits) -> Result<Vec<Packet<'a>>, PcapError> {
    if file.len() > limits.max_file_bytes {
        return err(0, "capture file larger than the limit");
    }
    match get_u32(file, 0, Endian::Little) {
        Some(PCAPNG_SHB) => read_pcapng(file, limits),
        Some(0xA1B2_C3D4 | 0xA1B2_3C4D) => read_classic(file, Endian::Little, limits),
        Some(0xD4C3_B2A1 | 0x4D3C_B2A1) => read_classic(file, Endian::Big, limits),
        Some(_) => err(0, "not a pcap or pcapng file"),
        None => err(0, "file too short for a capture header"),
    }
}

fn read_classic<'a>(file: &'a [u8], e: Endian, limits: &Limits) -> Result<Vec<Packet<'a>>, PcapError> {
    let Some(network) = get_u32(file, 20, e) else {
        return err(0, "truncated pcap file header");
    };
    // The upper bits of the link-type field may carry FCS information.
    let linktype = (network & 0xFFFF) as u16;
    let mut packets = Vec::new();
    let mut at = 24usize;
    while at < file.len() {
        if packets.len() >= limits.max_packets {
            return err(at, "more packets than the limit");
        }
        let Some(incl) = get_u32(file, at + 8, e) else {
            return err(at, "truncated pcap record header");
        };
        let start = at + 16;
        let Some(data) = start.checked_add(incl as usize).and_then(|end| file.get(start..end)) else {
            return err(at, "pcap record runs past the end of the file");
        };
        packets.push(Packet {
            index: packets.len(),
            linktype,
            data,
        });
        at = start + data.len();
    }
    Ok(packets)
}

fn read_pcapng<'a>(file: &'a [u8], limits: &Limits) -> Result<Vec<Packet<'a>>, PcapError> {
    let mut packets = Vec::new();
    // (linktype, snaplen) per interface of the current section.
    let mut interfaces: Vec<(u16, u32)> = Vec::new();
    let mut endian = Endian::Little;
    let mut at = 0usize;
    let mut section_seen = false;
    while at < file.len() {
        if packets.len() >= limits.max_packets {
            return err(at, "more packets than the limit");
        }
        // The SHB block type is a palindrome, so it reads the same in either order.
        let Some(block_type) = get_u32(file, at, endian) else {
            return err(at, "truncated block header");
        };
        if block_type == PCAPNG_SHB {
            endian = match get_u32(file, at + 8, Endian::Little) {
                Some(BYTE_ORDER_MAGIC) => Endian::Little,
                Some(m) if m.swap_bytes() == BYTE_ORDER_MAGIC => Endian::Big,
                _ => return err(at, "bad section header byte-order magic"),
            };
            interfaces.clear();
            section_seen = true;
        } else if !section_seen {
            return err(at, "pcapng file does not start with a section header");
        }
        let Some(total) = get_u32(file, at + 4, endian).map(|t| t as usize) else {
            return err(at, "truncated block header");
        };
        if total < 12 || total % 4 != 0 {
            return err(at, "bad block length");
        }
        let Some(block) = at.checked_add(total).and_then(|end| file.get(at..end)) else {
            return err(at, "block runs past the end of the file");
        };
        if get_u32(block, total - 4, endian) != Some(total as u32) {
            return err(at, "trailing block length differs from the leading one");
        }
        let body = block.get(8..total - 4).unwrap_or_default();
        match block_type {
            PCAPNG_IDB => {
                let (Some(linktype), Some(snaplen)) = (get_u16(body, 0, endian), get_u32(body, 4, endian)) else {
                    return err(at, "truncated interface description block");
                };
                if interfaces.len() >= u16::MAX as usize {
                    return err(at, "too many interfaces");
                }
                interfaces.push((linktype, snaplen));
            }
            PCAPNG_EPB | PCAPNG_OPB => {
                let (iface, caplen_at) = if block_type == PCAPNG_EPB {
                    (get_u32(body, 0, endian), 12)
                } else {
                    (get_u16(body, 0, endian).map(u32::from), 12)
                };
                let (Some(iface), Some(caplen)) = (iface, get_u32(body, caplen_at, endian)) else {
                    return err(at, "truncated packet block");
                };
                let Some(&(linktype, _)) = interfaces.get(iface as usize) else {
                    return err(at, "packet block names an undeclared interface");
                };
                let start = caplen_at + 8;
                let Some(data) = start.checked_add(caplen as usize).and_then(|end| body.get(start..end)) else {
                    return err(at, "packet data runs past its block");
                };
                packets.push(Packet {
                    index: packets.len(),
                    linktype,
                    data,
                });
            }
            PCAPNG_SPB => {
                let Some(&(linktype, snaplen)) = interfaces.first() else {
                    return err(at, "simple packet block without an interface");
                };
                let Some(orig) = get_u32(body, 0, endian) else {
                    return err(at, "truncated simple packet block");
                };
                let mut len = orig as usize;
                if snaplen != 0 {
                    len = len.min(snaplen as usize);
                }
                let Some(data) = body.get(4..).map(|d| &d[..len.min(d.len())]) else {
                    return err(at, "truncated simple packet block");
                };
                packets.push(Packet {
                    index: packets.len(),
                    linktype,
                    data,
                });
            }
            _ => {} // name resolution, statistics, custom blocks…: not needed
        }
        at += total;
    }
    Ok(packets)
}

/// One TCP segment taken out of a packet.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (or of the SYN).
    pub seq: u32,
    /// TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    pub flags: u8,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// The payload was cut short by the capture's snap length.
    pub truncated: bool,
}

/// TCP SYN flag.
pub const TCP_SYN: u8 = 0x02;
/// TCP FIN flag.
pub const TCP_FIN: u8 = 0x01;
/// TCP RST flag.
pub const TCP_RST: u8 = 0x04;

const LINKTYPE_NULL: u16 = 0;
const LINKTYPE_ETHERNET: u16 = 1;
const LINKTYPE_RAW_ALT: u16 = 12;
const LINKTYPE_RAW_ALT2: u16 = 14;
const LINKTYPE_RAW: u16 = 101;
const LINKTYPE_LOOP: u16 = 108;
const LINKTYPE_LINUX_SLL: u16 = 113;
const LINKTYPE_IPV4: u16 = 228;
const LINKTYPE_IPV6: u16 = 229;
const LINKTYPE_LINUX_SLL2: u16 = 276;

/// Strips the link layer; returns the IP packet (v4 or v6) if there is one.
fn ip_payload(linktype: u16, data: &[u8]) -> Option<&[u8]> {
    let (ethertype, rest) = match linktype {
        LINKTYPE_ETHERNET => {
            let mut at = 12;
            let mut ethertype = be16(data, at)?;
            // Up to two VLAN tags (802.1Q / 802.1ad).
            for _ in 0..2 {
                if ethertype == 0x8100 || ethertype == 0x88A8 {
                    at += 4;
                    ethertype = be16(data, at)?;
                }
            }
            (Some(ethertype), data.get(at + 2..)?)
        }
        LINKTYPE_LINUX_SLL => (Some(be16(data, 14)?), data.get(16..)?),
        LINKTYPE_LINUX_SLL2 => (Some(be16(data, 0)?), data.get(20..)?),
        // The 4-byte family is in the capturing host's byte order; the IP version nibble decides.
        LINKTYPE_NULL | LINKTYPE_LOOP => (None, data.get(4..)?),
        LINKTYPE_RAW | LINKTYPE_RAW_ALT | LINKTYPE_RAW_ALT2 | LINKTYPE_IPV4 | LINKTYPE_IPV6 => (None, data),
        _ => return None,
    };
    match ethertype {
        Some(0x0800 | 0x86DD) | None => Some(rest),
        Some(_) => None,
    }
}

/// Parses an IP packet carrying TCP.
fn tcp_segment(ip: &[u8]) -> Option<Segment<'_>> {
    let version = ip.first()? >> 4;
    let (src, dst, tcp, truncated) = match version {
        4 => {
            let ihl = usize::from(ip.first()? & 0x0F) * 4;
            let total = usize::from(be16(ip, 2)?);
            let frag = be16(ip, 6)?;
            if ihl < 20 || total < ihl || *ip.get(9)? != 6 || frag & 0x3FFF != 0 {
                return None; // not TCP, or a fragment
            }
            let src = Ipv4Addr::from(be32(ip, 12)?);
            let dst = Ipv4Addr::from(be32(ip, 16)?);
            // Ethernet may pad short frames; the IP total length is what counts.
            let end = total.min(ip.len());
            (IpAddr::V4(src), IpAddr::V4(dst), ip.get(ihl..end)?, total > ip.len())
        }
        6 => {
            let payload_len = usize::from(be16(ip, 4)?);
            let mut next = *ip.get(6)?;
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let end = (40 + payload_len).min(ip.len());
            let truncated = 40 + payload_len > ip.len();
            let mut at = 40usize;
            // Walk at most eight extension headers.
            for _ in 0..8 {
                match next {
                    0 | 43 | 60 => {
                        next = *ip.get(at)?;
                        at += (usize::from(*ip.get(at + 1)?) + 1) * 8;
                    }
                    _ => break,
                }
            }
            if next != 6 {
                return None; // not TCP (or a fragment header, which is not reassembled)
            }
            (
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                ip.get(at..end)?,
                truncated,
            )
        }
        _ => return None,
    };
    let sport = be16(tcp, 0)?;
    let dport = be16(tcp, 2)?;
    let seq = be32(tcp, 4)?;
    let data_offset = usize::from(tcp.get(12)? >> 4) * 4;
    let flags = *tcp.get(13)?;
    if data_offset < 20 {
        return None;
    }
    let payload = tcp.get(data_offset..)?;
    Some(Segment {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        seq,
        flags,
        payload,
        truncated,
    })
}

/// Extracts the TCP segment of a captured packet, if it holds one.
pub fn segment<'a>(packet: &Packet<'a>) -> Option<Segment<'a>> {
    tcp_segment(ip_payload(packet.linktype, packet.data)?)
}

/// One direction of one TCP connection, reassembled.
#[derive(Debug, Clone)]
pub struct TcpStream {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Connection number among connections with the same addresses (a port reused after a SYN).
    pub generation: usize,
    /// Index of the first packet of this direction.
    pub first_packet: usize,
    /// The bytes in order, up to the first hole.
    pub data: Vec<u8>,
    /// A SYN was seen, so the stream starts at its true beginning.
    pub syn_seen: bool,
    /// A FIN was seen.
    pub fin_seen: bool,
    /// A RST was seen.
    pub rst_seen: bool,
    /// Bytes that arrived again (retransmissions, overlaps) and were dropped.
    pub duplicate_bytes: usize,
    /// Retransmitted bytes that differed from the bytes first kept.
    pub conflicting_bytes: usize,
    /// Stream offset and length of each hole (missing data, or a truncated packet).
    pub holes: Vec<(u64, u64)>,
}

struct Flow<'a> {
    src: SocketAddr,
    dst: SocketAddr,
    generation: usize,
    first_packet: usize,
    base: Option<u32>,
    syn_seen: bool,
    fin_seen: bool,
    rst_seen: bool,
    // (offset from base, packet index, payload, cut short by the snap length)
    segments: Vec<(i64, usize, &'a [u8], bool)>,
}

/// Reassembles every TCP direction in `packets`, in order of first appearance.
pub fn reassemble(packets: &[Packet<'_>], limits: &Limits) -> Result<Vec<TcpStream>, PcapError> {
    let mut flows: Vec<Flow<'_>> = Vec::new();
    let mut current: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    for p in packets {
        let Some(seg) = segment(p) else { continue };
        let key = (seg.src, seg.dst);
        let is_syn = seg.flags & TCP_SYN != 0;
        let existing = current.get(&key).copied();
        let start_new = match existing {
            None => true,
            Some(i) => {
                // A SYN with a new initial sequence number after data: the port was reused.
                let f = &flows[i];
                is_syn && f.syn_seen && f.base != Some(seg.seq.wrapping_add(1))
            }
        };
        let idx = if start_new {
            if flows.len() >= limits.max_streams {
                return err(p.index, "more TCP streams than the limit");
            }
            let generation = existing.map(|i| flows[i].generation + 1).unwrap_or(0);
            flows.push(Flow {
                src: seg.src,
                dst: seg.dst,
                generation,
                first_packet: p.index,
                base: None,
                syn_seen: false,
                fin_seen: false,
                rst_seen: false,
                segments: Vec::new(),
            });
            current.insert(key, flows.len() - 1);
            flows.len() - 1
        } else {
            existing.unwrap_or_default()
        };
        let f = &mut flows[idx];
        if is_syn && !f.syn_seen {
            f.syn_seen = true;
            f.base = Some(seg.seq.wrapping_add(1));
        }
        if seg.flags & TCP_FIN != 0 {
            f.fin_seen = true;
        }
        if seg.flags & TCP_RST != 0 {
            f.rst_seen = true;
        }
        if seg.payload.is_empty() && !seg.truncated {
            continue;
        }
        // Data sequence numbers start after the SYN's.
        let data_seq = if is_syn { seg.seq.wrapping_add(1) } else { seg.seq };
        let base = *f.base.get_or_insert(data_seq);
        let rel = i64::from(data_seq.wrapping_sub(base) as i32);
        f.segments.push((rel, p.index, seg.payload, seg.truncated));
    }

    let mut out = Vec::with_capacity(flows.len());
    for mut f in flows {
        f.segments.sort_by_key(|&(rel, index, _, _)| (rel, index));
        let mut data: Vec<u8> = Vec::new();
        let mut duplicate_bytes = 0usize;
        let mut conflicting_bytes = 0usize;
        let mut holes = Vec::new();
        let mut stopped = false;
        for &(rel, index, payload, truncated) in &f.segments {
            if stopped {
                break;
            }
            let cur = data.len() as i64;
            let end = rel + payload.len() as i64;
            if rel > cur {
                holes.push((cur as u64, (rel - cur) as u64));
                stopped = true;
                continue;
            }
            // Bytes already kept: a retransmission or an overlap. Check they agree.
            let dup_start = rel.max(0);
            let dup_end = end.min(cur);
            if dup_end > dup_start {
                duplicate_bytes += (dup_end - dup_start) as usize;
                let kept = data.get(dup_start as usize..dup_end as usize).unwrap_or_default();
                let again = payload
                    .get((dup_start - rel) as usize..(dup_end - rel) as usize)
                    .unwrap_or_default();
                conflicting_bytes += kept.iter().zip(again).filter(|(a, b)| a != b).count();
            }
            // Bytes before the stream start (no SYN, out-of-order first packet) are dropped.
            if end > cur
                && let Some(new) = payload.get((cur - rel) as usize..)
            {
                if data.len() + new.len() > limits.max_stream_bytes {
                    return err(index, "TCP stream longer than the limit");
                }
                data.extend_from_slice(new);
                if truncated {
                    // The capture lost the rest of this segment: nothing after it can be trusted.
                    holes.push((data.len() as u64, 0));
                    stopped = true;
                }
            }
        }
        out.push(TcpStream {
            src: f.src,
            dst: f.dst,
            generation: f.generation,
            first_packet: f.first_packet,
            data,
            syn_seen: f.syn_seen,
            fin_seen: f.fin_seen,
            rst_seen: f.rst_seen,
            duplicate_bytes,
            conflicting_bytes,
            holes,
        });
    }
    Ok(out)
}
