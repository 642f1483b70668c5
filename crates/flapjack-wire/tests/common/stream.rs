//! A realistic mixed FLAP stream for the benchmark and the allocation test:
//! IMs sent (04/06) and received (04/07) with text, buddy arrivals (03/0B) and
//! departures (03/0C), a feedbag reply (13/06) and keepalives.
//!
//! The bytes are written by hand (as a peer would send them), so the stream
//! does not depend on which families are typed yet: the decoder types what it
//! knows.

use flapjack_wire::flap::{Channel, Frame};

/// Appends a channel-2 frame with the given SNAC header and body.
fn snac_frame(out: &mut Vec<u8>, seq: &mut u16, family: u16, subtype: u16, flags: u16, req: u32, body: &[u8]) {
    let mut payload = Vec::with_capacity(10 + body.len());
    payload.extend_from_slice(&family.to_be_bytes());
    payload.extend_from_slice(&subtype.to_be_bytes());
    payload.extend_from_slice(&flags.to_be_bytes());
    payload.extend_from_slice(&req.to_be_bytes());
    payload.extend_from_slice(body);
    Frame::new(Channel::Data, *seq, payload).expect("fits").encode(out);
    *seq = seq.wrapping_add(1);
}

fn str08(out: &mut Vec<u8>, s: &[u8]) {
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

fn tlv(out: &mut Vec<u8>, tag: u16, value: &[u8]) {
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
}

/// TLV 0x0002 of a channel-1 IM: features fragment, then the text fragment.
fn message_block(out: &mut Vec<u8>, text: &[u8]) {
    let mut v = vec![0x05, 0x01, 0x00, 0x04, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01];
    v.extend_from_slice(&((4 + text.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(text);
    tlv(out, 0x0002, &v);
}

/// A user-info block like Open OSCAR sends for a buddy arrival.
fn user_info(out: &mut Vec<u8>, name: &[u8], away: bool) {
    str08(out, name);
    out.extend_from_slice(&[0, 0]); // warning
    out.extend_from_slice(&6u16.to_be_bytes());
    tlv(out, 0x0001, &(if away { 0x0030u16 } else { 0x0010 }).to_be_bytes());
    tlv(out, 0x0003, &0x3B67_F000u32.to_be_bytes());
    tlv(out, 0x0005, &0x3A00_0000u32.to_be_bytes());
    tlv(out, 0x0006, &0u32.to_be_bytes());
    tlv(out, 0x000F, &1234u32.to_be_bytes());
    let caps: Vec<u8> = [
        [
            0x09, 0x46, 0x13, 0x4E, 0x4C, 0x7F, 0x11, 0xD1, 0x82, 0x22, 0x44, 0x45, 0x53, 0x54, 0x00, 0x00,
        ],
        [
            0x56, 0x3F, 0xC8, 0x09, 0x0B, 0x6F, 0x41, 0xBD, 0x9F, 0x79, 0x42, 0x26, 0x09, 0xDF, 0xA2, 0xF3,
        ],
        [
            0x74, 0x8F, 0x24, 0x20, 0x62, 0x87, 0x11, 0xD1, 0x82, 0x22, 0x44, 0x45, 0x53, 0x54, 0x00, 0x00,
        ],
    ]
    .concat();
    tlv(out, 0x000D, &caps);
}

const NAMES: [&[u8]; 6] = [b"alice", b"bobby", b"Carol Smith", b"dave1984", b"eve", b"frankie"];
const TEXTS: [&[u8]; 4] = [
    b"<HTML><BODY>hi</BODY></HTML>",
    b"<HTML><BODY>are you coming to the thing tonight? bring the cd</BODY></HTML>",
    b"lol",
    b"<HTML><BODY BGCOLOR=\"#ffffff\"><FONT LANG=\"0\">ok see you at 8, I'll be the one with the \
      ridiculous hat and the even more ridiculous away message</FONT></BODY></HTML>",
];

/// Kinds of frame in the stream, for reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 04/06.
    SendIm,
    /// 04/07.
    IncomingIm,
    /// 03/0B.
    Arrived,
    /// 03/0C.
    Departed,
    /// 13/06.
    FeedbagReply,
    /// Channel 5.
    Keepalive,
}

/// One round of the mix: each kind of frame, several times, with varied contents.
pub fn round(out: &mut Vec<u8>, seq: &mut u16, round: usize, kinds: &mut Vec<Kind>) {
    for i in 0..4 {
        let to = NAMES[(round + i) % NAMES.len()];
        let text = TEXTS[(round + i) % TEXTS.len()];
        let mut body = Vec::new();
        body.extend_from_slice(&(0x3132_3334_3536_0000u64 + (round * 8 + i) as u64).to_be_bytes());
        body.extend_from_slice(&1u16.to_be_bytes());
        str08(&mut body, to);
        message_block(&mut body, text);
        if i % 2 == 0 {
            tlv(&mut body, 0x0003, &[]);
        }
        snac_frame(out, seq, 0x0004, 0x0006, 0, (round * 16 + i) as u32, &body);
        kinds.push(Kind::SendIm);

        let mut body = Vec::new();
        body.extend_from_slice(&(0x3837_3635_3433_0000u64 + (round * 8 + i) as u64).to_be_bytes());
        body.extend_from_slice(&1u16.to_be_bytes());
        user_info(&mut body, to, i == 3);
        message_block(&mut body, TEXTS[(round + i + 1) % TEXTS.len()]);
        snac_frame(
            out,
            seq,
            0x0004,
            0x0007,
            0,
            0x8000_0000 | (round * 16 + i) as u32,
            &body,
        );
        kinds.push(Kind::IncomingIm);
    }
    for i in 0..3 {
        let mut body = Vec::new();
        user_info(&mut body, NAMES[(round + i + 2) % NAMES.len()], i == 1);
        snac_frame(out, seq, 0x0003, 0x000B, 0, 0x8000_0100, &body);
        kinds.push(Kind::Arrived);
    }
    for i in 0..2 {
        let mut body = Vec::new();
        str08(&mut body, NAMES[(round + i + 4) % NAMES.len()]);
        body.extend_from_slice(&[0, 0, 0, 1]);
        tlv(&mut body, 0x0001, &0u16.to_be_bytes());
        snac_frame(out, seq, 0x0003, 0x000C, 0, 0x8000_0101, &body);
        kinds.push(Kind::Departed);
    }
    if round.is_multiple_of(4) {
        snac_frame(out, seq, 0x0013, 0x0006, 0, 7, &feedbag_reply(12));
        kinds.push(Kind::FeedbagReply);
    }
    for _ in 0..2 {
        Frame::new(Channel::Keepalive, *seq, Vec::new())
            .expect("empty")
            .encode(out);
        *seq = seq.wrapping_add(1);
        kinds.push(Kind::Keepalive);
    }
}

/// A 13/06 body: root group, two groups, `buddies` buddies, PD settings.
pub fn feedbag_reply(buddies: u16) -> Vec<u8> {
    let mut items: Vec<Vec<u8>> = Vec::new();
    let item = |name: &[u8], gid: u16, bid: u16, class: u16, attrs: &[u8]| {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u16).to_be_bytes());
        v.extend_from_slice(name);
        for x in [gid, bid, class, attrs.len() as u16] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(attrs);
        v
    };
    let mut attrs = Vec::new();
    tlv(&mut attrs, 0x00C8, &[0, 1, 0, 2]);
    items.push(item(b"", 0, 0, 1, &attrs));
    for gid in 1..=2u16 {
        let ids: Vec<u8> = (1..=buddies)
            .filter(|b| b % 2 == gid % 2)
            .flat_map(|b| b.to_be_bytes())
            .collect();
        let mut attrs = Vec::new();
        tlv(&mut attrs, 0x00C8, &ids);
        items.push(item(
            if gid == 1 { b"Buddies" } else { b"Co-Workers" },
            gid,
            0,
            1,
            &attrs,
        ));
    }
    for b in 1..=buddies {
        let mut attrs = Vec::new();
        if b % 3 == 0 {
            tlv(&mut attrs, 0x0131, b"Nickname");
        }
        let name = NAMES[usize::from(b) % NAMES.len()];
        items.push(item(name, 1 + (b + 1) % 2, b, 0, &attrs));
    }
    let mut attrs = Vec::new();
    tlv(&mut attrs, 0x00CA, &[1]);
    tlv(&mut attrs, 0x00CB, &[0xFF, 0xFF, 0xFF, 0xFF]);
    items.push(item(b"", 0, 0x4242, 4, &attrs));

    let mut body = vec![0u8];
    body.extend_from_slice(&(items.len() as u16).to_be_bytes());
    for i in &items {
        body.extend_from_slice(i);
    }
    body.extend_from_slice(&0x3B67_F000u32.to_be_bytes());
    body
}

/// A stream of whole rounds, at least `min_bytes` long; also returns the kind of each frame.
pub fn mixed_stream(min_bytes: usize) -> (Vec<u8>, Vec<Kind>) {
    let mut out = Vec::with_capacity(min_bytes + 4096);
    let mut kinds = Vec::new();
    let mut seq = 0x1000u16;
    let mut r = 0usize;
    while out.len() < min_bytes {
        round(&mut out, &mut seq, r, &mut kinds);
        r += 1;
    }
    (out, kinds)
}

/// Reads what a server or client reads from each typed message of the mix,
/// through borrowing accessors only: screen names, message text bytes, TLV
/// lookups, feedbag items. Returns a checksum so nothing is optimised away.
pub fn walk(snac: &flapjack_wire::Snac<'_>) -> usize {
    use flapjack_wire::family::buddy::Buddy;
    use flapjack_wire::family::feedbag::Feedbag;
    use flapjack_wire::family::icbm::Icbm;
    use flapjack_wire::snac::Message;

    let user = |u: &flapjack_wire::UserInfo<'_>| {
        u.screen_name.len() + usize::from(u.class()) + u.signon_time().unwrap_or(0) as usize + u.tlvs.len()
    };
    let text = |m: Option<flapjack_wire::family::icbm::Channel1Message<'_>>| {
        m.map(|m| m.text_parts().map(|p| p.bytes.len()).sum::<usize>())
            .unwrap_or(0)
    };
    match &snac.message {
        Message::Icbm(Icbm::SendIm(m)) => {
            m.screen_name.len() + text(m.message_data()) + usize::from(m.wants_ack()) + m.cookie.0[7] as usize
        }
        Message::Icbm(Icbm::IncomingIm(m)) => user(&m.sender) + text(m.message_data()),
        Message::Buddy(Buddy::Arrived(u) | Buddy::Departed(u)) => user(u),
        Message::Feedbag(Feedbag::Reply(r)) => r
            .items
            .iter()
            .map(|i| i.name.len() + usize::from(i.group_id) + i.order().count() + i.alias().map_or(0, <[u8]>::len))
            .sum(),
        _ => 0,
    }
}
