//! Writes a classic libpcap file (LINKTYPE_ETHERNET) holding one IPv4 TCP
//! connection with a proper handshake, sequence and acknowledgement numbers,
//! and IP and TCP checksums, so that tshark's TCP reassembly accepts it.

/// A classic pcap file being built in memory.
pub struct PcapWriter {
    buf: Vec<u8>,
    micros: u64,
}

impl Default for PcapWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapWriter {
    /// A file with the global header written (µs timestamps, little-endian, Ethernet).
    pub fn new() -> Self {
        let mut buf = Vec::new();
        buf.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
        buf.extend_from_slice(&2u16.to_le_bytes());
        buf.extend_from_slice(&4u16.to_le_bytes());
        buf.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        buf.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        buf.extend_from_slice(&65_535u32.to_le_bytes()); // snaplen
        buf.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        Self {
            buf,
            // 2001-08-01, AIM's heyday.
            micros: 996_624_000_000_000,
        }
    }

    /// Appends one packet, 1 ms after the previous one.
    pub fn packet(&mut self, data: &[u8]) {
        self.micros += 1_000;
        let len = u32::try_from(data.len()).expect("packet fits u32");
        self.buf
            .extend_from_slice(&u32::try_from(self.micros / 1_000_000).unwrap_or(0).to_le_bytes());
        self.buf
            .extend_from_slice(&u32::try_from(self.micros % 1_000_000).unwrap_or(0).to_le_bytes());
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(data);
    }

    /// The file's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// The Internet checksum (RFC 1071) of `parts` concatenated.
pub fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in *part {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// TCP flag bits.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// One endpoint of the connection.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// MAC address.
    pub mac: [u8; 6],
    /// IPv4 address.
    pub ip: [u8; 4],
    /// TCP port.
    pub port: u16,
    /// Next sequence number this endpoint sends.
    pub next_seq: u32,
}

/// Builds an Ethernet + IPv4 + TCP packet with valid checksums.
pub fn tcp_packet(
    from: &Endpoint,
    to: &Endpoint,
    seq: u32,
    ack: u32,
    tcp_flags: u8,
    ip_id: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&from.port.to_be_bytes());
    tcp.extend_from_slice(&to.port.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.push(5 << 4); // data offset 5 words, no options
    tcp.push(tcp_flags);
    tcp.extend_from_slice(&65_535u16.to_be_bytes()); // window
    tcp.extend_from_slice(&[0, 0]); // checksum, patched below
    tcp.extend_from_slice(&[0, 0]); // urgent pointer
    tcp.extend_from_slice(payload);
    let tcp_len = u16::try_from(tcp.len()).expect("segment fits u16");
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&from.ip);
    pseudo.extend_from_slice(&to.ip);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&tcp_len.to_be_bytes());
    let csum = internet_checksum(&[&pseudo, &tcp]);
    tcp[16..18].copy_from_slice(&csum.to_be_bytes());

    let mut ip = Vec::with_capacity(20);
    ip.push(0x45);
    ip.push(0);
    ip.extend_from_slice(&(20 + tcp_len).to_be_bytes());
    ip.extend_from_slice(&ip_id.to_be_bytes());
    ip.extend_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
    ip.push(64); // TTL
    ip.push(6); // TCP
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(&from.ip);
    ip.extend_from_slice(&to.ip);
    let csum = internet_checksum(&[&ip]);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());

    let mut frame = Vec::with_capacity(14 + ip.len() + tcp.len());
    frame.extend_from_slice(&to.mac);
    frame.extend_from_slice(&from.mac);
    frame.extend_from_slice(&0x0800u16.to_be_bytes());
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&tcp);
    frame
}

/// A TCP connection between a client and a server, written packet by packet.
pub struct TcpConversation {
    /// The client side.
    pub client: Endpoint,
    /// The server side.
    pub server: Endpoint,
    ip_id: u16,
}

impl TcpConversation {
    /// A connection from `client_port` to `server_port` on two private test addresses.
    pub fn new(client_port: u16, server_port: u16) -> Self {
        Self {
            client: Endpoint {
                mac: [0x02, 0, 0, 0, 0, 0x01],
                ip: [192, 0, 2, 10], // TEST-NET-1: documentation only, never routed
                port: client_port,
                next_seq: 0x1000_0000,
            },
            server: Endpoint {
                mac: [0x02, 0, 0, 0, 0, 0x02],
                ip: [192, 0, 2, 20],
                port: server_port,
                next_seq: 0x7000_0000,
            },
            ip_id: 1,
        }
    }

    fn emit(&mut self, w: &mut PcapWriter, from_client: bool, tcp_flags: u8, payload: &[u8]) {
        let (from, to) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let ack = if tcp_flags & flags::ACK != 0 { to.next_seq } else { 0 };
        w.packet(&tcp_packet(
            &from,
            &to,
            from.next_seq,
            ack,
            tcp_flags,
            self.ip_id,
            payload,
        ));
        self.ip_id = self.ip_id.wrapping_add(1);
        let mut advance = payload.len() as u32;
        if tcp_flags & (flags::SYN | flags::FIN) != 0 {
            advance += 1;
        }
        let sender = if from_client {
            &mut self.client
        } else {
            &mut self.server
        };
        sender.next_seq = sender.next_seq.wrapping_add(advance);
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self, w: &mut PcapWriter) {
        self.emit(w, true, flags::SYN, &[]);
        self.emit(w, false, flags::SYN | flags::ACK, &[]);
        self.emit(w, true, flags::ACK, &[]);
    }

    /// Sends `data` in segments of at most `mss` bytes, each acknowledged by the peer.
    pub fn send(&mut self, w: &mut PcapWriter, from_client: bool, data: &[u8], mss: usize) {
        for chunk in data.chunks(mss.max(1)) {
            self.emit(w, from_client, flags::PSH | flags::ACK, chunk);
            self.emit(w, !from_client, flags::ACK, &[]);
        }
    }

    /// FIN from `from_client`'s side, the peer's FIN, and the last ACK.
    pub fn close(&mut self, w: &mut PcapWriter, from_client: bool) {
        self.emit(w, from_client, flags::FIN | flags::ACK, &[]);
        self.emit(w, !from_client, flags::FIN | flags::ACK, &[]);
        self.emit(w, from_client, flags::ACK, &[]);
    }
}
