//! Tests for family 0x0004: known answers from §13 and the captures, constructor
//! output, relays, negative cases and property tests.

use proptest::prelude::*;

use super::*;
use crate::flap::{Decoded, FlapMessage, FrameDecoder};
use crate::snac::{Message, Snac};
use crate::testing::{hex, to_hex};
use crate::types::{Capability, Str08};
use crate::userinfo::UserInfoTlvs;

/// Every ICBM SNAC (header + body) in the captures, in capture order: (capture, stream, direction, hex).
const CAPTURED: &[(&str, u32, &str, &str)] = &[
    ("libpurple-md5-full", 1, "C>S", "00 04 00 04 00 00 00 00 00 0B"),
    (
        "libpurple-md5-full",
        1,
        "C>S",
        "00 04 00 02 00 00 00 00 00 11 00 00 00 00 05 1B 1F 40 03 E7 03 E7 00 00 00 00",
    ),
    ("libpurple-md5-full", 1, "C>S", "00 04 00 10 00 00 00 00 00 00"),
    (
        "libpurple-md5-full",
        1,
        "C>S",
        concat!(
            "00 04 00 06 00 00 00 00 00 24 33 38 35 35 31 35 34 00 00 01 05 62 6F 62 62 79 00 02 00 3A 05 01 ",
            "00 04 01 01 01 02 01 01 00 2E 00 00 00 00 3C 48 54 4D 4C 3E 3C 42 4F 44 59 3E 68 65 6C 6C 6F 20 ",
            "66 72 6F 6D 20 61 6C 69 63 65 3C 2F 42 4F 44 59 3E 3C 2F 48 54 4D 4C 3E 00 03 00 00 00 06 00 00 ",
        ),
    ),
    (
        "libpurple-md5-full",
        1,
        "C>S",
        concat!(
            "00 04 00 06 00 00 00 00 00 27 36 31 35 36 31 32 31 00 00 01 05 62 6F 62 62 79 00 02 00 36 05 01 ",
            "00 04 01 01 01 02 01 01 00 2A 00 00 00 00 3C 48 54 4D 4C 3E 3C 42 4F 44 59 3E 67 6F 6E 65 20 66 ",
            "69 73 68 69 6E 67 3C 2F 42 4F 44 59 3E 3C 2F 48 54 4D 4C 3E 00 04 00 00 ",
        ),
    ),
    (
        "libpurple-md5-full",
        1,
        "S>C",
        "00 04 00 05 00 00 00 00 00 0B 00 64 00 00 00 03 02 00 03 E7 03 E7 00 00 00 00",
    ),
    ("libpurple-md5-full", 1, "S>C", "00 04 00 01 00 00 00 00 00 00 00 01"),
    (
        "libpurple-md5-full",
        1,
        "S>C",
        "00 04 00 0C 00 00 00 00 00 24 33 38 35 35 31 35 34 00 00 01 05 62 6F 62 62 79",
    ),
    (
        "libpurple-md5-full",
        1,
        "S>C",
        concat!(
            "00 04 00 07 00 00 80 00 00 00 33 38 35 35 31 35 34 00 00 01 05 62 6F 62 62 79 00 00 00 05 00 03 ",
            "00 04 6B 0C 01 3D 00 01 00 02 00 11 00 06 00 04 10 02 00 00 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 ",
            "9D 51 A6 47 4E 34 F5 A0 09 46 13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD ",
            "9F 79 42 26 09 DF A2 F3 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 ",
            "88 F2 13 FC 00 97 9E A8 00 1E 00 04 00 00 00 00 00 02 00 31 05 01 00 04 01 01 01 02 01 01 00 25 ",
            "00 00 00 00 3C 48 54 4D 4C 3E 3C 42 4F 44 59 3E 68 69 20 62 61 63 6B 3C 2F 42 4F 44 59 3E 3C 2F ",
            "48 54 4D 4C 3E ",
        ),
    ),
    (
        "libpurple-md5-full",
        1,
        "S>C",
        concat!(
            "00 04 00 07 00 00 80 00 00 00 36 31 35 36 31 32 31 00 00 01 05 62 6F 62 62 79 00 00 00 05 00 03 ",
            "00 04 6B 0C 01 3D 00 01 00 02 00 11 00 06 00 04 10 02 00 00 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 ",
            "9D 51 A6 47 4E 34 F5 A0 09 46 13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD ",
            "9F 79 42 26 09 DF A2 F3 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 ",
            "88 F2 13 FC 00 97 9E A8 00 1E 00 04 00 00 00 00 00 02 00 34 05 01 00 04 01 01 01 02 01 01 00 28 ",
            "00 00 00 00 3C 48 54 4D 4C 3E 3C 42 4F 44 59 3E 79 6F 75 20 74 68 65 72 65 3F 3C 2F 42 4F 44 59 ",
            "3E 3C 2F 48 54 4D 4C 3E ",
        ),
    ),
    ("libpurple-md5-full", 5, "C>S", "00 04 00 04 00 00 00 00 00 0B"),
    (
        "libpurple-md5-full",
        5,
        "C>S",
        "00 04 00 02 00 00 00 00 00 11 00 00 00 00 05 1B 1F 40 03 E7 03 E7 00 00 00 00",
    ),
    ("libpurple-md5-full", 5, "C>S", "00 04 00 10 00 00 00 00 00 00"),
    (
        "libpurple-md5-full",
        5,
        "C>S",
        concat!(
            "00 04 00 06 00 00 00 00 00 2A 33 38 35 35 31 35 34 00 00 01 05 61 6C 69 63 65 00 02 00 31 05 01 ",
            "00 04 01 01 01 02 01 01 00 25 00 00 00 00 3C 48 54 4D 4C 3E 3C 42 4F 44 59 3E 68 69 20 62 61 63 ",
            "6B 3C 2F 42 4F 44 59 3E 3C 2F 48 54 4D 4C 3E 00 03 00 00 ",
        ),
    ),
    (
        "libpurple-md5-full",
        5,
        "C>S",
        concat!(
            "00 04 00 06 00 00 00 00 00 2C 36 31 35 36 31 32 31 00 00 01 05 61 6C 69 63 65 00 02 00 34 05 01 ",
            "00 04 01 01 01 02 01 01 00 28 00 00 00 00 3C 48 54 4D 4C 3E 3C 42 4F 44 59 3E 79 6F 75 20 74 68 ",
            "65 72 65 3F 3C 2F 42 4F 44 59 3E 3C 2F 48 54 4D 4C 3E 00 03 00 00 ",
        ),
    ),
    (
        "libpurple-md5-full",
        5,
        "S>C",
        "00 04 00 05 00 00 00 00 00 0B 00 64 00 00 00 03 02 00 03 E7 03 E7 00 00 00 00",
    ),
    ("libpurple-md5-full", 5, "S>C", "00 04 00 01 00 00 00 00 00 00 00 01"),
    (
        "libpurple-md5-full",
        5,
        "S>C",
        concat!(
            "00 04 00 07 00 00 80 00 00 00 33 38 35 35 31 35 34 00 00 01 05 61 6C 69 63 65 00 00 00 05 00 03 ",
            "00 04 6B 0C 01 3D 00 01 00 02 00 11 00 06 00 04 10 02 00 00 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 ",
            "9D 51 A6 47 4E 34 F5 A0 09 46 13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD ",
            "9F 79 42 26 09 DF A2 F3 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 ",
            "88 F2 13 FC 00 97 9E A8 00 1E 00 04 00 00 00 00 00 02 00 3A 05 01 00 04 01 01 01 02 01 01 00 2E ",
            "00 00 00 00 3C 48 54 4D 4C 3E 3C 42 4F 44 59 3E 68 65 6C 6C 6F 20 66 72 6F 6D 20 61 6C 69 63 65 ",
            "3C 2F 42 4F 44 59 3E 3C 2F 48 54 4D 4C 3E 00 06 00 00 ",
        ),
    ),
    (
        "libpurple-md5-full",
        5,
        "S>C",
        "00 04 00 0C 00 00 00 00 00 2A 33 38 35 35 31 35 34 00 00 01 05 61 6C 69 63 65",
    ),
    (
        "libpurple-md5-full",
        5,
        "S>C",
        "00 04 00 0C 00 00 00 00 00 2C 36 31 35 36 31 32 31 00 00 01 05 61 6C 69 63 65",
    ),
    (
        "libpurple-md5-full",
        5,
        "S>C",
        concat!(
            "00 04 00 07 00 00 80 00 00 00 36 31 35 36 31 32 31 00 00 01 05 61 6C 69 63 65 00 00 00 05 00 03 ",
            "00 04 6B 0C 01 3D 00 01 00 02 00 31 00 06 00 04 10 02 00 01 00 0D 00 B0 09 46 00 00 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 45 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 13 46 4C 7F 11 D1 82 22 44 45 53 54 00 00 09 46 13 49 4C 7F 11 D1 ",
            "82 22 44 45 53 54 00 00 09 46 00 00 4C 7F 11 D1 82 22 44 45 53 54 00 00 1A 09 3C 6C D7 FD 4E C5 ",
            "9D 51 A6 47 4E 34 F5 A0 09 46 13 4E 4C 7F 11 D1 82 22 44 45 53 54 00 00 56 3F C8 09 0B 6F 41 BD ",
            "9F 79 42 26 09 DF A2 F3 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00 01 38 CA 7B 76 9A 49 15 ",
            "88 F2 13 FC 00 97 9E A8 00 1E 00 04 00 00 00 00 00 02 00 36 05 01 00 04 01 01 01 02 01 01 00 2A ",
            "00 00 00 00 3C 48 54 4D 4C 3E 3C 42 4F 44 59 3E 67 6F 6E 65 20 66 69 73 68 69 6E 67 3C 2F 42 4F ",
            "44 59 3E 3C 2F 48 54 4D 4C 3E 00 04 00 00 ",
        ),
    ),
    ("libpurple-md5-full", 12, "C>S", "00 04 00 04 00 00 00 00 00 0B"),
    (
        "libpurple-md5-full",
        12,
        "C>S",
        "00 04 00 02 00 00 00 00 00 10 00 00 00 00 05 1B 1F 40 03 E7 03 E7 00 00 00 00",
    ),
    ("libpurple-md5-full", 12, "C>S", "00 04 00 10 00 00 00 00 00 00"),
    (
        "libpurple-md5-full",
        12,
        "S>C",
        "00 04 00 05 00 00 00 00 00 0B 00 64 00 00 00 03 02 00 03 E7 03 E7 00 00 00 00",
    ),
    ("libpurple-md5-full", 12, "S>C", "00 04 00 01 00 00 00 00 00 00 00 01"),
    ("twisted-bucp-icq", 1, "C>S", "00 04 00 04 00 00 00 04 00 04"),
    (
        "twisted-bucp-icq",
        1,
        "C>S",
        "00 04 00 02 00 00 00 04 00 02 00 00 00 00 00 0B 1F 40 03 E7 03 E7 00 00 00 00",
    ),
    (
        "twisted-bucp-icq",
        1,
        "C>S",
        concat!(
            "00 04 00 06 00 00 00 04 00 06 1A 3E 01 18 5B 37 76 24 00 01 06 74 77 73 65 6E 64 00 02 00 19 05 ",
            "01 00 03 01 01 02 01 01 00 0E 00 00 00 00 65 63 68 6F 3A 20 70 69 6E 67 ",
        ),
    ),
    (
        "twisted-bucp-icq",
        1,
        "S>C",
        "00 04 00 05 00 00 00 04 00 04 00 64 00 00 00 03 02 00 03 E7 03 E7 00 00 00 00",
    ),
    (
        "twisted-bucp-icq",
        1,
        "S>C",
        concat!(
            "00 04 00 07 00 00 80 00 00 00 7C 3D 49 60 3A 06 3A 4F 00 01 06 74 77 73 65 6E 64 00 00 00 05 00 ",
            "03 00 04 6B 0C 01 52 00 01 00 02 00 11 00 06 00 04 00 00 00 00 00 0D 00 10 74 8F 24 20 62 87 11 ",
            "D1 82 22 44 45 53 54 00 00 00 1E 00 04 00 00 00 00 00 02 00 13 05 01 00 03 01 01 02 01 01 00 08 ",
            "00 00 00 00 70 69 6E 67 ",
        ),
    ),
    (
        "twisted-bucp-icq",
        3,
        "C>S",
        concat!(
            "00 04 00 06 00 00 00 00 00 01 7C 3D 49 60 3A 06 3A 4F 00 01 06 74 77 65 63 68 6F 00 02 00 13 05 ",
            "01 00 03 01 01 02 01 01 00 08 00 00 00 00 70 69 6E 67 00 03 00 00 ",
        ),
    ),
    ("twisted-bucp-icq", 3, "C>S", "00 04 00 04 00 00 00 04 00 04"),
    (
        "twisted-bucp-icq",
        3,
        "C>S",
        "00 04 00 02 00 00 00 04 00 02 00 00 00 00 00 0B 1F 40 03 E7 03 E7 00 00 00 00",
    ),
    (
        "twisted-bucp-icq",
        3,
        "S>C",
        "00 04 00 0C 00 00 00 00 00 01 7C 3D 49 60 3A 06 3A 4F 00 01 06 74 77 65 63 68 6F",
    ),
    (
        "twisted-bucp-icq",
        3,
        "S>C",
        "00 04 00 05 00 00 00 04 00 04 00 64 00 00 00 03 02 00 03 E7 03 E7 00 00 00 00",
    ),
    (
        "twisted-bucp-icq",
        3,
        "S>C",
        concat!(
            "00 04 00 07 00 00 80 00 00 00 1A 3E 01 18 5B 37 76 24 00 01 06 74 77 65 63 68 6F 00 00 00 05 00 ",
            "03 00 04 6B 0C 01 4F 00 01 00 02 00 31 00 06 00 04 00 00 00 00 00 0D 00 10 74 8F 24 20 62 87 11 ",
            "D1 82 22 44 45 53 54 00 00 00 1E 00 04 00 00 00 00 00 02 00 19 05 01 00 03 01 01 02 01 01 00 0E ",
            "00 00 00 00 65 63 68 6F 3A 20 70 69 6E 67 ",
        ),
    ),
    ("twisted-bucp-icq", 5, "C>S", "00 04 00 04 00 00 00 04 00 04"),
    (
        "twisted-bucp-icq",
        5,
        "C>S",
        "00 04 00 02 00 00 00 04 00 02 00 00 00 00 00 0B 1F 40 03 E7 03 E7 00 00 00 00",
    ),
    (
        "twisted-bucp-icq",
        5,
        "S>C",
        "00 04 00 05 00 00 00 04 00 04 00 64 00 00 00 03 02 00 03 E7 03 E7 00 00 00 00",
    ),
];

// ---------------------------------------------------------------- helpers

fn sn(s: &str) -> ScreenName<'static> {
    ScreenName::try_from(s.to_owned()).unwrap()
}

fn icbm<'s, 'a>(snac: &'s Snac<'a>) -> &'s Icbm<'a> {
    match &snac.message {
        Message::Icbm(m) => m,
        other => panic!("not a typed ICBM message: {other:?}"),
    }
}

/// Decodes a SNAC, checks that it re-encodes byte for byte and that
/// decode → encode → decode gives the same value.
fn round_trip(bytes: &[u8]) -> Snac<'_> {
    let snac = Snac::decode(bytes).unwrap_or_else(|e| panic!("{e}: {}", to_hex(bytes)));
    let out = snac.to_bytes();
    assert_eq!(to_hex(&out), to_hex(bytes));
    assert_eq!(Snac::decode(&out).unwrap(), snac);
    snac
}

fn snac_of_frame(bytes: &[u8]) -> Snac<'_> {
    let Decoded::Complete { value, consumed } = FrameDecoder::new().decode(bytes).unwrap() else {
        panic!("complete frame")
    };
    assert_eq!(consumed, bytes.len());
    let FlapMessage::Data(snac) = FlapMessage::decode(value.channel, &bytes[6..]).unwrap() else {
        panic!("data frame")
    };
    snac
}

/// The captured SNACs of one stream and subtype, in order.
fn captured(capture: &str, stream: u32, dir: &str, subtype: u16) -> Vec<Vec<u8>> {
    CAPTURED
        .iter()
        .filter(|(c, s, d, _)| *c == capture && *s == stream && *d == dir)
        .map(|(_, _, _, h)| hex(h))
        .filter(|b| u16::from_be_bytes([b[2], b[3]]) == subtype)
        .collect()
}

fn send_im<'s, 'a>(snac: &'s Snac<'a>) -> &'s SendIm<'a> {
    match icbm(snac) {
        Icbm::SendIm(m) => m,
        other => panic!("not 04/06: {other:?}"),
    }
}

fn incoming_im<'s, 'a>(snac: &'s Snac<'a>) -> &'s IncomingIm<'a> {
    match icbm(snac) {
        Icbm::IncomingIm(m) => m,
        other => panic!("not 04/07: {other:?}"),
    }
}

const PURPLE: &str = "libpurple-md5-full";
const TWISTED: &str = "twisted-bucp-icq";

// ---------------------------------------------------------------- captures

#[test]
fn every_captured_icbm_snac_decodes_and_re_encodes_byte_identically() {
    let mut typed = 0;
    for (capture, stream, dir, h) in CAPTURED {
        let bytes = hex(h);
        let snac = round_trip(&bytes);
        match &snac.message {
            Message::Icbm(_) => typed += 1,
            Message::Error { family, .. } => assert_eq!(family.value(), FAMILY),
            other => panic!("{capture} stream {stream} {dir}: untyped {other:?}"),
        }
    }
    assert_eq!(typed, 37);
}

#[test]
fn captured_params_match_constructors() {
    let query = &captured(PURPLE, 1, "C>S", subtype::PARAMS_QUERY)[0];
    assert_eq!(Snac::new(0x0B, Message::Icbm(Icbm::ParamsQuery)).to_bytes(), *query);

    let set = &captured(PURPLE, 1, "C>S", subtype::SET_PARAMS)[0];
    let built = Icbm::SetParams {
        channel: 0,
        params: IcbmParams::LIBPURPLE,
    };
    assert_eq!(Snac::new(0x11, Message::Icbm(built)).to_bytes(), *set);

    // Twisted: flags 0x0B (channel msgs, missed calls, events), request ids = family << 16 | subtype.
    let set = &captured(TWISTED, 1, "C>S", subtype::SET_PARAMS)[0];
    let snac = round_trip(set);
    let Icbm::SetParams { channel: 0, params } = icbm(&snac) else {
        panic!("04/02")
    };
    assert_eq!(
        params.flags,
        param_flags::CHANNEL_MSGS_ALLOWED | param_flags::MISSED_CALLS_ENABLED | param_flags::EVENTS_ALLOWED
    );
    assert_eq!(snac.request_id, 0x0004_0002);

    let reply = &captured(PURPLE, 1, "S>C", subtype::PARAMS_REPLY)[0];
    let built = Icbm::ParamsReply {
        max_slots: 100,
        params: IcbmParams::SERVER_DEFAULT,
    };
    assert_eq!(Snac::new(0x0B, Message::Icbm(built)).to_bytes(), *reply);

    let offline = &captured(PURPLE, 1, "C>S", subtype::OFFLINE_REQUEST)[0];
    assert_eq!(Snac::new(0, Message::Icbm(Icbm::OfflineRequest)).to_bytes(), *offline);
}

#[test]
fn captured_libpurple_sends_match_constructor() {
    let sends = captured(PURPLE, 1, "C>S", subtype::SEND_IM);
    // alice → bobby, ack and store-offline requested.
    let snac = round_trip(&sends[0]);
    let m = send_im(&snac);
    assert_eq!(m.cookie, IcbmCookie(*b"3855154\0"));
    assert_eq!(m.channel, IcbmChannel::Im);
    assert_eq!(m.screen_name.as_bytes(), b"bobby");
    assert!(m.wants_ack() && m.store_offline() && !m.is_auto_response());
    let data = m.message_data().unwrap();
    assert_eq!(data.features(), Some(AIM_FEATURES));
    let part = data.text_parts().next().unwrap();
    assert_eq!((part.charset, part.subset), (Charset::Ascii, 0));
    assert_eq!(m.text().unwrap(), "<HTML><BODY>hello from alice</BODY></HTML>");
    let flags = SendImFlags {
        request_ack: true,
        store_offline: true,
        ..SendImFlags::default()
    };
    let built = SendIm::channel1(
        m.cookie,
        sn("bobby"),
        "<HTML><BODY>hello from alice</BODY></HTML>",
        flags,
    )
    .unwrap();
    assert_eq!(&built, m);
    assert_eq!(Snac::new(0x24, Message::Icbm(Icbm::SendIm(built))).to_bytes(), sends[0]);

    // The away auto-response: only TLV 0x0004 (libpurple drops ack/offline for it).
    let snac = round_trip(&sends[1]);
    let m = send_im(&snac);
    assert!(m.is_auto_response() && !m.wants_ack() && !m.store_offline());
    let flags = SendImFlags {
        auto_response: true,
        ..SendImFlags::default()
    };
    let built = SendIm::channel1(IcbmCookie(*b"6156121\0"), sn("bobby"), &m.text().unwrap(), flags).unwrap();
    assert_eq!(Snac::new(0x27, Message::Icbm(Icbm::SendIm(built))).to_bytes(), sends[1]);
}

#[test]
fn captured_twisted_send_with_custom_features_matches_constructor() {
    let sends = captured(TWISTED, 3, "C>S", subtype::SEND_IM);
    let snac = round_trip(&sends[0]);
    let m = send_im(&snac);
    let data = m.message_data().unwrap();
    // Twisted advertises the WinAIM 2–4.4 features `01 01 02`.
    assert_eq!(data.features(), Some(&[1u8, 1, 2][..]));
    let msg = Channel1Message::build(
        &[1, 1, 2],
        &[TextPart {
            charset: Charset::Ascii,
            subset: 0,
            bytes: b"ping",
        }],
    )
    .unwrap();
    assert_eq!(msg, data);
    let flags = SendImFlags {
        request_ack: true,
        ..SendImFlags::default()
    };
    let built = SendIm::channel1_with(
        IcbmCookie(hex("7C 3D 49 60 3A 06 3A 4F").try_into().unwrap()),
        sn("twecho"),
        &msg,
        flags,
    )
    .unwrap();
    assert_eq!(
        Snac::new(1, Message::Icbm(Icbm::SendIm(built.clone()))).to_bytes(),
        sends[0]
    );

    // …and the server's host ack for it (same request id).
    let ack = &captured(TWISTED, 3, "S>C", subtype::HOST_ACK)[0];
    assert_eq!(
        Snac::new(1, Message::Icbm(Icbm::HostAck(HostAck::for_im(&built)))).to_bytes(),
        *ack
    );
}

#[test]
fn captured_host_acks_match_constructor() {
    for (send_stream, ack_stream) in [(1, 1), (5, 5)] {
        let sends = captured(PURPLE, send_stream, "C>S", subtype::SEND_IM);
        let acks = captured(PURPLE, ack_stream, "S>C", subtype::HOST_ACK);
        let acked: Vec<_> = sends
            .iter()
            .filter(|b| send_im(&Snac::decode(b).unwrap()).wants_ack())
            .collect();
        assert_eq!(acked.len(), acks.len());
        for (send, ack) in acked.into_iter().zip(&acks) {
            let s = Snac::decode(send).unwrap();
            let built = Snac::new(s.request_id, Message::Icbm(Icbm::HostAck(HostAck::for_im(send_im(&s)))));
            assert_eq!(built.to_bytes(), *ack);
        }
    }
}

#[test]
fn captured_relays_match_incoming_ims() {
    // (sender stream, nth send, recipient stream, nth incoming)
    let pairs = [
        (PURPLE, 5, 0, 1, 0),  // bobby "hi back" (ack asked) → alice
        (PURPLE, 5, 1, 1, 1),  // bobby "you there?" → alice
        (PURPLE, 1, 1, 5, 1),  // alice's auto-response → bobby
        (TWISTED, 3, 0, 1, 0), // twsend "ping" (ack asked) → twecho
        (TWISTED, 1, 0, 3, 0), // twecho "echo: ping" → twsend
    ];
    for (capture, from, nth_send, to, nth_in) in pairs {
        let send_bytes = &captured(capture, from, "C>S", subtype::SEND_IM)[nth_send];
        let in_bytes = &captured(capture, to, "S>C", subtype::INCOMING_IM)[nth_in];
        let send = Snac::decode(send_bytes).unwrap();
        let incoming = round_trip(in_bytes);
        let got = incoming_im(&incoming);
        let sent = send_im(&send);
        assert_eq!(got.text(), sent.text());
        let relay = IncomingIm::relay(sent, got.sender.clone(), false).unwrap();
        assert_eq!(&relay, got, "{capture} stream {from} → {to}");
        let snac = Snac::new(0x8000_0000, Message::Icbm(Icbm::IncomingIm(relay)));
        assert_eq!(snac.to_bytes(), *in_bytes);
        // The server's direct encoder writes the same bytes from the received ones.
        let mut sender = Vec::new();
        got.sender.encode(&mut sender);
        let direct = sent.encode_relay_snac(0x8000_0000, &sender, false);
        assert_eq!(direct, *in_bytes, "{capture} stream {from} → {to}");
        assert_eq!(direct.capacity(), direct.len());
    }
    let bytes = &captured(PURPLE, 5, "S>C", subtype::INCOMING_IM)[1];
    let snac = Snac::decode(bytes).unwrap();
    let m = incoming_im(&snac);
    assert!(m.is_auto_response());
    assert!(m.sender.is_away());
    assert_eq!(m.sender.screen_name.as_bytes(), b"alice");
}

#[test]
fn captured_open_oscar_keeps_store_offline_on_live_relay() {
    // Quirk: Open OSCAR removed TLV 0x0003 but relayed TLV 0x0006 to an online
    // recipient; §8.4.2 strips both (0x0006 from the server means "was stored offline").
    let send_bytes = &captured(PURPLE, 1, "C>S", subtype::SEND_IM)[0];
    let in_bytes = &captured(PURPLE, 5, "S>C", subtype::INCOMING_IM)[0];
    let send = Snac::decode(send_bytes).unwrap();
    let incoming = Snac::decode(in_bytes).unwrap();
    let got = incoming_im(&incoming);
    assert!(got.store_offline());
    assert_eq!(got.offline_send_time(), None);
    let ours = send_im(&send).relay_tlvs(false).unwrap();
    assert_eq!(ours, got.tlvs.without(&[tag::STORE_OFFLINE]));
}

// ---------------------------------------------------------------- §13 vectors

#[test]
fn section13_send_im_known_answer() {
    let bytes = hex(concat!(
        "2A 02 00 07 00 32 | 00 04 00 06 00 00 00 00 00 0A",
        "31 32 33 34 35 36 37 38 | 00 01 | 03 62 6F 62",
        "00 02 00 12 | 05 01 00 04 01 01 01 02 | 01 01 00 06 00 00 00 00 68 69",
        "00 03 00 00"
    ));
    let snac = snac_of_frame(&bytes);
    let m = send_im(&snac);
    assert_eq!(m.text().as_deref(), Some("hi"));
    assert!(m.wants_ack());
    assert_eq!(m.rendezvous(), None);
    let flags = SendImFlags {
        request_ack: true,
        ..SendImFlags::default()
    };
    let built = SendIm::channel1(IcbmCookie(*b"12345678"), sn("bob"), "hi", flags).unwrap();
    let mut out = Vec::new();
    Snac::new(0x0A, Message::Icbm(Icbm::SendIm(built)))
        .encode_frame(7, &mut out)
        .unwrap();
    assert_eq!(out, bytes);
    assert_eq!(round_trip(&bytes[6..]), snac);
}

#[test]
fn section13_host_ack_known_answer() {
    let bytes = hex("00 04 00 0C 00 00 00 00 00 0A | 31 32 33 34 35 36 37 38 | 00 01 | 03 62 6F 62");
    let snac = round_trip(&bytes);
    let Icbm::HostAck(ack) = icbm(&snac) else {
        panic!("04/0C")
    };
    assert_eq!(ack, &HostAck::new(IcbmCookie(*b"12345678"), IcbmChannel::Im, sn("bob")));
    let sent = SendIm::channel1(IcbmCookie(*b"12345678"), sn("bob"), "hi", SendImFlags::default()).unwrap();
    assert_eq!(
        Snac::new(0x0A, Message::Icbm(Icbm::HostAck(HostAck::for_im(&sent)))).to_bytes(),
        bytes
    );
}

#[test]
fn section13_typing_known_answer() {
    let bytes = hex("00 04 00 14 00 00 00 00 00 0B | 00 00 00 00 00 00 00 00 | 00 01 | 03 62 6F 62 | 00 02");
    let snac = round_trip(&bytes);
    let Icbm::Typing(t) = icbm(&snac) else { panic!("04/14") };
    assert_eq!(t.event, TypingEvent::Begun);
    let built = TypingNotification::new(sn("bob"), TypingEvent::Begun);
    assert_eq!(
        Snac::new(0x0B, Message::Icbm(Icbm::Typing(built.clone()))).to_bytes(),
        bytes
    );
    // The server relays it with the sender's name.
    let relayed = built.relayed(sn("alice"));
    assert_eq!(relayed.screen_name.as_bytes(), b"alice");
    assert_eq!(relayed.event, TypingEvent::Begun);
    assert_eq!(TypingEvent::from(0x000F), TypingEvent::WindowClosed);
}

// ---------------------------------------------------------------- hand-built vectors

/// A libpurple `aim_im_sendch2_chatinvite` to "bob" for room 4 / `4-0-testroom` / 0.
const CHAT_INVITE: &str = concat!(
    "00 04 00 06 00 00 00 00 00 01 | 31 32 33 34 35 36 37 38 | 00 02 | 03 62 6F 62",
    "00 05 00 51",
    "00 00 | 31 32 33 34 35 36 37 38 | 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00",
    "00 0A 00 02 00 01 | 00 0F 00 00",
    "00 0C 00 14 4A 6F 69 6E 20 6D 65 20 69 6E 20 74 68 69 73 20 63 68 61 74",
    "27 11 00 11 00 04 0C 34 2D 30 2D 74 65 73 74 72 6F 6F 6D 00 00",
);

fn test_room() -> RoomId<'static> {
    RoomId {
        exchange: 4,
        cookie: Str08::try_from("4-0-testroom").unwrap().into_owned(),
        instance: 0,
    }
}

#[test]
fn chat_invitation_known_answer() {
    let bytes = hex(CHAT_INVITE);
    let snac = round_trip(&bytes);
    let m = send_im(&snac);
    assert_eq!(m.channel, IcbmChannel::Rendezvous);
    assert_eq!(m.message_data(), None);
    let rdv = m.rendezvous().unwrap();
    assert_eq!(rdv.msg_type, RendezvousType::Propose);
    assert_eq!(rdv.cookie, m.cookie);
    assert_eq!(rdv.capability, Capability::CHAT);
    assert_eq!(rdv.sequence(), Some(1));
    let inv = rdv.chat_invitation().unwrap().unwrap();
    assert_eq!(inv.room, test_room());
    assert_eq!(inv.message_text().as_deref(), Some("Join me in this chat"));

    let built = SendIm::chat_invite(
        IcbmCookie(*b"12345678"),
        sn("bob"),
        &test_room(),
        "Join me in this chat",
    )
    .unwrap();
    assert_eq!(
        Snac::new(1, Message::Icbm(Icbm::SendIm(built.clone()))).to_bytes(),
        bytes
    );

    // Relayed: TLV 0x0005 is unchanged.
    let sender = UserInfo::new(sn("alice"), 0, TlvBlock::empty());
    let relay = IncomingIm::relay(&built, sender, false).unwrap();
    assert_eq!(relay.tlvs, built.tlvs);
    let inv2 = relay.rendezvous().unwrap();
    assert_eq!(inv2.chat_invitation().unwrap().unwrap().room, test_room());
}

#[test]
fn chat_invitation_with_non_ascii_text_names_its_charset() {
    let rdv = Rendezvous::new_chat_invitation(IcbmCookie([7; 8]), &test_room(), "komm rein ☕").unwrap();
    assert_eq!(rdv.tlvs.get(rdv_tag::CHARSET), Some(&b"utf-8"[..]));
    let inv = rdv.chat_invitation().unwrap().unwrap();
    assert_eq!(inv.message_text().as_deref(), Some("komm rein ☕"));
    // Other rendezvous kinds are not chat invitations.
    let cancel = Rendezvous::new_cancel(IcbmCookie([7; 8]), Capability::CHAT, CancelReason::UserDeclined);
    assert_eq!(cancel.chat_invitation(), Ok(None));
    assert_eq!(cancel.cancel_reason(), Some(CancelReason::UserDeclined));
}

/// A libpurple send-file proposal (`aim_im_sendch2_sendfile_requestdirect`) with an outer ack request.
const SEND_FILE: &str = concat!(
    "00 04 00 06 00 00 00 00 00 02 | 41 42 43 44 45 46 47 48 | 00 02 | 03 62 6F 62",
    "00 03 00 00",
    "00 05 00 4C",
    "00 00 | 41 42 43 44 45 46 47 48 | 09 46 13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00",
    "00 02 00 04 C0 A8 01 02 | 00 03 00 04 C0 A8 01 02 | 00 05 00 02 14 46 | 00 0A 00 02 00 01 | 00 0F 00 00",
    "27 11 00 0E 00 01 00 01 00 00 04 00 61 2E 74 78 74 00",
);

#[test]
fn file_transfer_proposal_is_relayed_untouched() {
    let bytes = hex(SEND_FILE);
    let snac = round_trip(&bytes);
    let m = send_im(&snac);
    assert!(m.wants_ack());
    let rdv = m.rendezvous().unwrap();
    assert_eq!(rdv.capability, Capability::SEND_FILE);
    assert_eq!(rdv.client_ip(), Some([192, 168, 1, 2]));
    assert_eq!(rdv.port(), Some(5190));
    assert_eq!(rdv.chat_invitation(), Ok(None));
    assert_eq!(rdv.service_data().map(<[u8]>::len), Some(14));

    // The relay drops only the outer ack request; TLV 0x0005 is byte-identical.
    let relayed = m.relay_tlvs(true).unwrap();
    assert_eq!(relayed.get(tag::RENDEZVOUS), m.tlvs.get(tag::RENDEZVOUS));
    assert!(!relayed.contains(tag::REQUEST_HOST_ACK));
    assert!(relayed.contains(tag::WANT_EVENTS));
    // Rebuilding the same proposal through the typed API gives the same bytes.
    let again = SendIm::channel2(sn("bob"), &rdv, true).unwrap();
    assert_eq!(&again, m);

    // The optional server rewrite: 0x0003 = the address the server saw, + 0x0004.
    let rewritten = rdv.with_verified_ip([10, 0, 0, 9]).unwrap();
    assert_eq!(rewritten.client_ip(), Some([10, 0, 0, 9]));
    assert_eq!(rewritten.verified_ip(), Some([10, 0, 0, 9]));
    assert_eq!(rewritten.proxy_ip(), Some([192, 168, 1, 2]));
    let tags: Vec<u16> = rewritten.tlvs.iter().map(|t| t.tag).collect();
    assert_eq!(tags, [0x0002, 0x0003, 0x0005, 0x000A, 0x000F, 0x2711, 0x0004]);
}

#[test]
fn rendezvous_accept_and_cancel_known_answers() {
    let cookie = IcbmCookie(*b"ABCDEFGH");
    // libpurple aim_im_sendch2_connected: TLV 0x0005 of length 0x1A, no inner TLVs.
    let accept = hex(concat!(
        "00 04 00 06 00 00 00 00 00 03 | 41 42 43 44 45 46 47 48 | 00 02 | 03 62 6F 62",
        "00 05 00 1A 00 02 41 42 43 44 45 46 47 48 09 46 13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00"
    ));
    let built = SendIm::channel2(sn("bob"), &Rendezvous::new_accept(cookie, Capability::SEND_FILE), false).unwrap();
    assert_eq!(Snac::new(3, Message::Icbm(Icbm::SendIm(built))).to_bytes(), accept);
    round_trip(&accept);
    // libpurple aim_im_sendch2_cancel: outer 0x0003, then type 1 + TLV 0x000B = 1.
    let cancel = hex(concat!(
        "00 04 00 06 00 00 00 00 00 04 | 41 42 43 44 45 46 47 48 | 00 02 | 03 62 6F 62 | 00 03 00 00",
        "00 05 00 20 00 01 41 42 43 44 45 46 47 48 09 46 13 43 4C 7F 11 D1 82 22 44 45 53 54 00 00",
        "00 0B 00 02 00 01"
    ));
    let rdv = Rendezvous::new_cancel(cookie, Capability::SEND_FILE, CancelReason::UserDeclined);
    let built = SendIm::channel2(sn("bob"), &rdv, true).unwrap();
    assert_eq!(Snac::new(4, Message::Icbm(Icbm::SendIm(built))).to_bytes(), cancel);
    round_trip(&cancel);
}

#[test]
fn client_error_decline_known_answer() {
    // libpurple aim_im_denytransfer(decline): reason 3, then `00 02 00 01`.
    let bytes =
        hex("00 04 00 0B 00 00 00 00 00 05 | 41 42 43 44 45 46 47 48 | 00 02 | 03 62 6F 62 | 00 03 | 00 02 00 01");
    let snac = round_trip(&bytes);
    let Icbm::ClientError(e) = icbm(&snac) else {
        panic!("04/0B")
    };
    assert_eq!(e.reason, ClientErrorReason::ChannelSpecific);
    assert_eq!(e.rendezvous_decline_code(), Some(1));
    let built = ClientError::decline_rendezvous(IcbmCookie(*b"ABCDEFGH"), sn("bob"), 1);
    assert_eq!(Snac::new(5, Message::Icbm(Icbm::ClientError(built))).to_bytes(), bytes);
    // An ICQ auto-message reply keeps its channel-specific data as it came.
    let icq =
        hex("00 04 00 0B 00 00 00 00 00 06 | 41 42 43 44 45 46 47 48 | 00 04 | 03 31 32 33 | 00 03 | 1B 00 09 00");
    let snac = round_trip(&icq);
    let Icbm::ClientError(e) = icbm(&snac) else {
        panic!("04/0B")
    };
    assert_eq!(e.rendezvous_decline_code(), None);
    assert_eq!(&*e.data, &[0x1B, 0x00, 0x09, 0x00]);
}

#[test]
fn missed_calls_known_answer() {
    let bytes = hex(concat!(
        "00 04 00 0A 00 00 80 00 00 01",
        "00 01 | 03 62 6F 62 00 00 00 01 00 01 00 02 00 10 | 00 02 | 00 02",
        "00 01 | 03 65 76 65 00 64 00 00 | 00 01 | 00 03"
    ));
    let snac = round_trip(&bytes);
    let Icbm::MissedCalls(list) = icbm(&snac) else {
        panic!("04/0A")
    };
    let calls: Vec<_> = list.iter().collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].sender.screen_name.as_bytes(), b"bob");
    assert_eq!(calls[0].sender.class(), crate::userinfo::class::AIM);
    assert_eq!((calls[0].count, calls[0].reason), (2, MissedReason::RateExceeded));
    assert_eq!(
        (calls[1].sender.warning, calls[1].reason),
        (100, MissedReason::SenderTooEvil)
    );

    let bob = UserInfo::new(
        sn("bob"),
        0,
        UserInfoTlvs {
            class: Some(crate::userinfo::class::AIM),
            ..Default::default()
        }
        .build()
        .unwrap(),
    );
    let items = [
        MissedCall {
            channel: IcbmChannel::Im,
            sender: bob,
            count: 2,
            reason: MissedReason::RateExceeded,
        },
        MissedCall {
            channel: IcbmChannel::Im,
            sender: UserInfo::new(sn("eve"), 100, TlvBlock::empty()),
            count: 1,
            reason: MissedReason::SenderTooEvil,
        },
    ];
    let list = List::<MissedCall<'static>>::from_items(items.iter(), usize::MAX).unwrap();
    assert_eq!(
        Snac::new(0x8000_0001, Message::Icbm(Icbm::MissedCalls(list))).to_bytes(),
        bytes
    );
}

#[test]
fn warn_and_offline_known_answers() {
    let req = hex("00 04 00 08 00 00 00 00 00 07 | 00 01 | 03 62 6F 62");
    let built = Icbm::WarnRequest {
        mode: WarnMode::Anonymous,
        screen_name: sn("bob"),
    };
    assert_eq!(Snac::new(7, Message::Icbm(built)).to_bytes(), req);
    round_trip(&req);
    let reply = hex("00 04 00 09 00 00 00 00 00 07 | 00 1E | 00 1E");
    let built = Icbm::WarnReply {
        delta: 30,
        new_level: 30,
    };
    assert_eq!(Snac::new(7, Message::Icbm(built)).to_bytes(), reply);
    round_trip(&reply);
    let done = hex("00 04 00 17 00 00 00 00 00 08");
    assert_eq!(Snac::new(8, Message::Icbm(Icbm::OfflineDone)).to_bytes(), done);
    round_trip(&done);
}

#[test]
fn offline_delivery_tlvs() {
    let flags = SendImFlags {
        request_ack: true,
        store_offline: true,
        ..SendImFlags::default()
    };
    let sent = SendIm::channel1(IcbmCookie([1; 8]), sn("bob"), "later", flags).unwrap();
    let sender = UserInfo::new(sn("alice"), 0, TlvBlock::empty());
    let m = IncomingIm::offline(&sent, sender, 0x6B0C_013D).unwrap();
    let tags: Vec<u16> = m.tlvs.iter().map(|t| t.tag).collect();
    assert_eq!(tags, [tag::MESSAGE_DATA, tag::STORE_OFFLINE, tag::SEND_TIME]);
    assert!(m.store_offline());
    assert_eq!(m.offline_send_time(), Some(0x6B0C_013D));
    assert_eq!(m.text().as_deref(), Some("later"));
    let bytes = Snac::new(0x8000_0000, Message::Icbm(Icbm::IncomingIm(m))).to_bytes();
    round_trip(&bytes);
    // Live relay of the same message: ack and offline flags gone, want-events added once.
    let relay = sent.relay_tlvs(true).unwrap();
    let tags: Vec<u16> = relay.iter().map(|t| t.tag).collect();
    assert_eq!(tags, [tag::MESSAGE_DATA, tag::WANT_EVENTS]);
    let typing = SendImFlags {
        want_typing_events: true,
        ..SendImFlags::default()
    };
    let sent = SendIm::channel1(IcbmCookie([1; 8]), sn("bob"), "x", typing).unwrap();
    assert_eq!(sent.relay_tlvs(true).unwrap(), sent.tlvs);
}

// ---------------------------------------------------------------- channel-1 text

#[test]
fn text_encoding_picks_the_narrowest_charset() {
    assert_eq!(encode_text("hi"), (Charset::Ascii, b"hi".to_vec()));
    assert_eq!(encode_text("café"), (Charset::Latin1, hex("63 61 66 E9")));
    assert_eq!(encode_text("日本"), (Charset::Ucs2Be, hex("65 E5 67 2C")));
    // Outside the BMP: replaced by U+FFFD.
    assert_eq!(encode_text("a😀"), (Charset::Ucs2Be, hex("00 61 FF FD")));
    assert_eq!(decode_text(Charset::Latin1, &hex("63 61 66 E9")), "café");
    assert_eq!(decode_text(Charset::Ucs2Be, &hex("65 E5 67 2C")), "日本");
    // Surrogate pairs (libpurple writes UTF-16BE) are joined; broken input is replaced.
    assert_eq!(decode_text(Charset::Ucs2Be, &hex("D8 3D DE 00")), "😀");
    assert_eq!(
        decode_text(Charset::Ucs2Be, &hex("D8 3D 00 61 00")),
        "\u{FFFD}a\u{FFFD}"
    );
    assert_eq!(decode_text(Charset::Ascii, &hex("68 C3 A9 FF")), "hé\u{FFFD}");
    assert_eq!(decode_text(Charset::Unknown(9), b"ok"), "ok");

    let msg = Channel1Message::from_text("日本").unwrap();
    assert_eq!(
        msg.as_bytes(),
        &hex("05 01 00 04 01 01 01 02 | 01 01 00 08 00 02 00 00 65 E5 67 2C")[..]
    );
    assert_eq!(msg.text().as_deref(), Some("日本"));
}

#[test]
fn multipart_and_reversed_fragments_parse() {
    // Slick puts the text before the features; AOL for Mac sends several text parts.
    let raw = hex(concat!(
        "01 01 00 07 00 00 00 00 61 62 63",
        "01 01 00 06 00 02 FF FF 00 E9",
        "05 01 00 01 01",
        "07 01 00 00"
    ));
    let msg = Channel1Message::decode(&raw).unwrap();
    assert_eq!(msg.fragments().count(), 4);
    assert_eq!(msg.features(), Some(ICQ_FEATURES));
    let parts: Vec<_> = msg.text_parts().collect();
    assert_eq!(parts[1].subset, 0xFFFF);
    assert_eq!(msg.text().as_deref(), Some("abcé"));
    assert_eq!(msg.fragments().nth(3).unwrap().id, FragmentId::Unknown(7));
    assert_eq!(Channel1Message::decode(&hex("05 01 00 00")).unwrap().text(), None);
    let built = Channel1Message::build(
        ICQ_FEATURES,
        &[
            TextPart {
                charset: Charset::Ascii,
                subset: 0,
                bytes: b"abc",
            },
            parts[1],
        ],
    )
    .unwrap();
    assert_eq!(built.text().as_deref(), Some("abcé"));
}

#[test]
fn oversized_values_cannot_be_built() {
    let big = "x".repeat(0xFFF0);
    assert!(matches!(
        Channel1Message::from_text(&big),
        Err(EncodeError::TooLong { .. })
    ));
    let fits = "x".repeat(0xFFFF - 8 - 8);
    let msg = Channel1Message::from_text(&fits).unwrap();
    assert_eq!(msg.as_bytes().len(), 0xFFFF);
    // The message TLV then no longer fits a TLV block with its header.
    assert!(SendIm::channel1_with(IcbmCookie::default(), sn("bob"), &msg, SendImFlags::default()).is_err());
    let room = test_room();
    assert!(Rendezvous::new_chat_invitation(IcbmCookie::default(), &room, &"y".repeat(0xFFF0)).is_err());
}

// ---------------------------------------------------------------- negative cases

fn decode_err(bytes: &[u8]) -> DecodeError {
    Snac::decode(bytes).unwrap_err()
}

#[test]
fn truncated_bodies_are_rejected() {
    let full = hex(CHAT_INVITE);
    for cut in 10..full.len() {
        assert!(Snac::decode(&full[..cut]).is_err(), "cut at {cut}");
    }
    assert!(matches!(
        decode_err(&hex("00 04 00 0C 00 00 00 00 00 0A | 31 32 33 34")),
        DecodeError::Truncated {
            what: "ICBM cookie",
            ..
        }
    ));
    assert!(matches!(
        decode_err(&hex("00 04 00 05 00 00 00 00 00 0B 00 64 00 00 00 03 02 00")),
        DecodeError::Truncated { .. }
    ));
    assert!(matches!(
        decode_err(&hex("00 04 00 09 00 00 00 00 00 0B 00 64")),
        DecodeError::Truncated { .. }
    ));
    assert!(matches!(
        decode_err(&hex(
            "00 04 00 14 00 00 00 00 00 0B | 00 00 00 00 00 00 00 00 | 00 01 | 03 62 6F 62 | 00"
        )),
        DecodeError::Truncated {
            what: "typing event",
            ..
        }
    ));
}

#[test]
fn trailing_bytes_are_rejected() {
    assert!(matches!(
        decode_err(&hex("00 04 00 04 00 00 00 00 00 0B 00")),
        DecodeError::TrailingBytes { .. }
    ));
    assert!(matches!(
        decode_err(&hex(
            "00 04 00 14 00 00 00 00 00 0B | 00 00 00 00 00 00 00 00 | 00 01 | 03 62 6F 62 | 00 02 00"
        )),
        DecodeError::TrailingBytes { .. }
    ));
}

#[test]
fn tlv_overruns_are_rejected() {
    // The outer TLV 0x0003 claims 5 bytes.
    let bytes = hex("00 04 00 06 00 00 00 00 00 0A | 31 32 33 34 35 36 37 38 | 00 01 | 03 62 6F 62 | 00 03 00 05 00");
    assert_eq!(
        decode_err(&bytes),
        DecodeError::TlvOverrun {
            tag: 3,
            declared: 5,
            available: 1
        }
    );
    // A fragment inside TLV 0x0002 runs past the TLV.
    let bytes = hex(
        "00 04 00 06 00 00 00 00 00 0A | 31 32 33 34 35 36 37 38 | 00 01 | 03 62 6F 62 | 00 02 00 06 | 01 01 00 09 00 00",
    );
    assert!(matches!(
        decode_err(&bytes),
        DecodeError::Truncated {
            what: "ICBM fragment data",
            ..
        }
    ));
    // A text fragment too short for its charset header.
    let bytes = hex(
        "00 04 00 06 00 00 00 00 00 0A | 31 32 33 34 35 36 37 38 | 00 01 | 03 62 6F 62 | 00 02 00 06 | 01 01 00 02 00 00",
    );
    assert_eq!(
        decode_err(&bytes),
        DecodeError::BadLength {
            what: "ICBM text fragment",
            len: 2
        }
    );
    // A rendezvous TLV whose inner TLVs overrun.
    let bytes = hex(concat!(
        "00 04 00 06 00 00 00 00 00 0A | 31 32 33 34 35 36 37 38 | 00 02 | 03 62 6F 62 | 00 05 00 1E",
        "00 00 31 32 33 34 35 36 37 38 74 8F 24 20 62 87 11 D1 82 22 44 45 53 54 00 00 | 00 0C 00 09"
    ));
    assert_eq!(
        decode_err(&bytes),
        DecodeError::TlvOverrun {
            tag: 0x000C,
            declared: 9,
            available: 0
        }
    );
}

#[test]
fn missing_required_tlvs_are_rejected() {
    let bytes = hex("00 04 00 06 00 00 00 00 00 0A | 31 32 33 34 35 36 37 38 | 00 01 | 03 62 6F 62 | 00 03 00 00");
    assert_eq!(
        decode_err(&bytes),
        DecodeError::MissingTlv {
            what: "channel-1 ICBM",
            tag: tag::MESSAGE_DATA
        }
    );
    let bytes = hex("00 04 00 07 00 00 00 00 00 0A | 31 32 33 34 35 36 37 38 | 00 02 | 03 62 6F 62 00 00 00 00");
    assert_eq!(
        decode_err(&bytes),
        DecodeError::MissingTlv {
            what: "channel-2 ICBM",
            tag: tag::RENDEZVOUS
        }
    );
    // A rendezvous block shorter than its 26-byte header.
    let bytes =
        hex("00 04 00 06 00 00 00 00 00 0A | 31 32 33 34 35 36 37 38 | 00 02 | 03 62 6F 62 | 00 05 00 04 00 00 31 32");
    assert!(matches!(decode_err(&bytes), DecodeError::Truncated { .. }));
    // A chat proposal without its room decodes (relayable) but is no readable invitation.
    let mut rdv = Rendezvous::new_chat_invitation(IcbmCookie::default(), &test_room(), "x").unwrap();
    rdv.tlvs = rdv.tlvs.without(&[rdv_tag::SERVICE_DATA]);
    assert_eq!(
        rdv.chat_invitation(),
        Err(DecodeError::MissingTlv {
            what: "chat invitation",
            tag: rdv_tag::SERVICE_DATA
        })
    );
    rdv.tlvs = TlvBlock::builder()
        .bytes(rdv_tag::SERVICE_DATA, &hex("00 04 03 61 62 63 00 00 FF"))
        .build()
        .unwrap();
    assert!(matches!(rdv.chat_invitation(), Err(DecodeError::TrailingBytes { .. })));
    // A send time that is not a u32.
    let bytes = hex(concat!(
        "00 04 00 06 00 00 00 00 00 0A | 31 32 33 34 35 36 37 38 | 00 04 | 03 62 6F 62",
        "00 16 00 02 00 01"
    ));
    assert_eq!(
        decode_err(&bytes),
        DecodeError::BadLength {
            what: "ICBM send time",
            len: 2
        }
    );
}

#[test]
fn counts_that_lie_are_rejected() {
    // The sender's user info claims 3 TLVs but holds 1 (then the message TLV would be misread).
    let bytes = hex(concat!(
        "00 04 00 07 00 00 80 00 00 00 | 31 32 33 34 35 36 37 38 | 00 04 | 03 62 6F 62 00 00 00 03",
        "00 01 00 02 00 10"
    ));
    assert_eq!(
        decode_err(&bytes),
        DecodeError::CountMismatch {
            what: "counted TLV block",
            declared: 3,
            found: 1
        }
    );
    // A missed-call entry cut after its user info.
    let bytes = hex("00 04 00 0A 00 00 00 00 00 01 | 00 01 | 03 62 6F 62 00 00 00 00 | 00 02");
    assert!(matches!(decode_err(&bytes), DecodeError::Truncated { .. }));
}

#[test]
fn untyped_subtypes_stay_raw() {
    let bytes = hex("00 04 00 03 00 00 00 00 00 01 DE AD");
    let snac = round_trip(&bytes);
    assert!(matches!(
        snac.message,
        Message::Raw {
            family: 4,
            subtype: 3,
            ..
        }
    ));
}

// ---------------------------------------------------------------- property tests

fn arb_cookie() -> impl Strategy<Value = IcbmCookie> {
    any::<[u8; 8]>().prop_map(IcbmCookie)
}

fn arb_sn() -> impl Strategy<Value = ScreenName<'static>> {
    proptest::collection::vec(any::<u8>(), 0..=24).prop_map(|b| ScreenName::new(b).unwrap())
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(0x20u8..0x7F, 0..60).prop_map(|b| String::from_utf8(b).unwrap()),
        proptest::collection::vec(0u8..=0xFF, 0..60).prop_map(|b| b.into_iter().map(char::from).collect()),
        proptest::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
    ]
}

fn arb_flags() -> impl Strategy<Value = SendImFlags> {
    any::<[bool; 4]>().prop_map(|[a, b, c, d]| SendImFlags {
        request_ack: a,
        auto_response: b,
        store_offline: c,
        want_typing_events: d,
    })
}

fn arb_tlvs() -> impl Strategy<Value = TlvBlock<'static>> {
    proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..12)), 0..6).prop_map(|v| {
        v.iter()
            // 0x0016 (send time) must be a u32 in a message; keep random TLVs valid.
            .fold(TlvBlock::builder(), |b, (t, val)| {
                b.bytes(if *t == tag::SEND_TIME { 0x0017 } else { *t }, val)
            })
            .build()
            .unwrap()
    })
}

fn arb_user() -> impl Strategy<Value = UserInfo<'static>> {
    (
        arb_sn(),
        0u16..=1000,
        any::<Option<u16>>(),
        any::<Option<u32>>(),
        any::<bool>(),
    )
        .prop_map(|(name, warning, class, signon, caps)| {
            let tlvs = UserInfoTlvs {
                class,
                signon_time: signon,
                capabilities: if caps {
                    vec![Capability::CHAT, Capability::TYPING]
                } else {
                    vec![]
                },
                ..Default::default()
            }
            .build()
            .unwrap();
            UserInfo::new(name, warning, tlvs)
        })
}

fn arb_room() -> impl Strategy<Value = RoomId<'static>> {
    (
        any::<u16>(),
        proptest::collection::vec(any::<u8>(), 0..=40),
        any::<u16>(),
    )
        .prop_map(|(exchange, c, instance)| RoomId {
            exchange,
            cookie: Str08::new(c).unwrap(),
            instance,
        })
}

fn arb_rendezvous() -> impl Strategy<Value = Rendezvous<'static>> {
    prop_oneof![
        (arb_cookie(), arb_room(), arb_text())
            .prop_map(|(c, room, text)| Rendezvous::new_chat_invitation(c, &room, &text).unwrap()),
        (arb_cookie(), any::<[u8; 16]>(), any::<u16>()).prop_map(|(c, cap, r)| Rendezvous::new_cancel(
            c,
            Capability(cap),
            CancelReason::from(r)
        )),
        (arb_cookie(), any::<[u8; 16]>()).prop_map(|(c, cap)| Rendezvous::new_accept(c, Capability(cap))),
        (any::<u16>(), arb_cookie(), any::<[u8; 16]>(), arb_tlvs()).prop_map(|(t, c, cap, tlvs)| Rendezvous::new(
            RendezvousType::from(t),
            c,
            Capability(cap),
            tlvs
        )),
    ]
}

fn arb_send() -> impl Strategy<Value = SendIm<'static>> {
    prop_oneof![
        (arb_cookie(), arb_sn(), arb_text(), arb_flags())
            .prop_map(|(c, to, text, f)| SendIm::channel1(c, to, &text, f).unwrap()),
        (arb_sn(), arb_rendezvous(), any::<bool>()).prop_map(|(to, rdv, ack)| SendIm::channel2(to, &rdv, ack).unwrap()),
        (
            arb_cookie(),
            prop_oneof![Just(0u16), 3u16..=0xFFFF],
            arb_sn(),
            arb_tlvs()
        )
            .prop_map(|(c, ch, to, tlvs)| SendIm::new(c, IcbmChannel::from(ch), to, tlvs)),
    ]
}

fn arb_params() -> impl Strategy<Value = IcbmParams> {
    any::<(u32, u16, u16, u16, u32)>().prop_map(|(flags, len, s, r, i)| IcbmParams {
        flags,
        max_message_len: len,
        max_sender_warning: s,
        max_receiver_warning: r,
        min_interval_ms: i,
    })
}

fn arb_icbm() -> impl Strategy<Value = Icbm<'static>> {
    prop_oneof![
        (any::<u16>(), arb_params()).prop_map(|(channel, params)| Icbm::SetParams { channel, params }),
        Just(Icbm::ParamsQuery),
        (any::<u16>(), arb_params()).prop_map(|(max_slots, params)| Icbm::ParamsReply { max_slots, params }),
        arb_send().prop_map(Icbm::SendIm),
        (arb_send(), arb_user(), any::<bool>())
            .prop_map(|(s, u, ev)| Icbm::IncomingIm(IncomingIm::relay(&s, u, ev).unwrap())),
        (arb_send(), arb_user(), any::<u32>())
            .prop_map(|(s, u, t)| Icbm::IncomingIm(IncomingIm::offline(&s, u, t).unwrap())),
        (any::<u16>(), arb_sn()).prop_map(|(m, screen_name)| Icbm::WarnRequest {
            mode: WarnMode::from(m),
            screen_name
        }),
        any::<(u16, u16)>().prop_map(|(delta, new_level)| Icbm::WarnReply { delta, new_level }),
        proptest::collection::vec((any::<u16>(), arb_user(), any::<u16>(), any::<u16>()), 0..4).prop_map(|v| {
            let items: Vec<MissedCall<'static>> = v
                .into_iter()
                .map(|(ch, sender, count, reason)| MissedCall {
                    channel: IcbmChannel::from(ch),
                    sender,
                    count,
                    reason: MissedReason::from(reason),
                })
                .collect();
            Icbm::MissedCalls(List::<MissedCall<'static>>::from_items(items.iter(), usize::MAX).unwrap())
        }),
        (
            arb_cookie(),
            any::<u16>(),
            arb_sn(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..20)
        )
            .prop_map(|(c, ch, name, reason, data)| Icbm::ClientError(ClientError::new(
                c,
                IcbmChannel::from(ch),
                name,
                ClientErrorReason::from(reason),
                data
            ))),
        (arb_cookie(), arb_sn(), any::<u16>())
            .prop_map(|(c, name, code)| Icbm::ClientError(ClientError::decline_rendezvous(c, name, code))),
        arb_send().prop_map(|s| Icbm::HostAck(HostAck::for_im(&s))),
        Just(Icbm::OfflineRequest),
        (arb_sn(), any::<u16>())
            .prop_map(|(name, e)| Icbm::Typing(TypingNotification::new(name, TypingEvent::from(e)))),
        Just(Icbm::OfflineDone),
    ]
}

/// Exercises every accessor of a decoded message (they must never panic).
fn poke(m: &Icbm<'_>) {
    let ims = match m {
        Icbm::SendIm(s) => Some((s.message_data(), s.rendezvous(), s.text(), s.offline_send_time())),
        Icbm::IncomingIm(i) => {
            let _ = i.sender.capabilities();
            Some((i.channel1(), i.rendezvous(), i.text(), i.offline_send_time()))
        }
        Icbm::MissedCalls(l) => {
            assert_eq!(l.iter().count(), l.len());
            None
        }
        Icbm::ClientError(e) => {
            let _ = e.rendezvous_decline_code();
            None
        }
        _ => None,
    };
    if let Some((c1, rdv, _, _)) = ims {
        if let Some(c1) = c1 {
            let _ = (c1.features(), c1.text(), c1.fragments().count());
        }
        if let Some(rdv) = rdv {
            let _ = (rdv.sequence(), rdv.client_ip(), rdv.port(), rdv.cancel_reason());
            if let Ok(Some(inv)) = rdv.chat_invitation() {
                let _ = inv.message_text();
            }
            let _ = rdv.with_verified_ip([1, 2, 3, 4]);
        }
    }
}

const SUBTYPES: [u16; 14] = [2, 3, 4, 5, 6, 7, 8, 9, 0x0A, 0x0B, 0x0C, 0x10, 0x14, 0x17];

proptest! {
    #[test]
    fn typed_messages_round_trip(m in arb_icbm(), request_id in any::<u32>()) {
        let snac = Snac::new(request_id, Message::Icbm(m.clone()));
        let bytes = snac.to_bytes();
        let decoded = Snac::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &snac);
        prop_assert_eq!(decoded.to_bytes(), bytes);
        poke(&m);
    }

    #[test]
    fn direct_relay_encoding_matches_the_typed_relay(
        cookie in arb_cookie(),
        to in arb_sn(),
        text in arb_text(),
        flags in arb_flags(),
        extra in arb_tlvs(),
        sender in arb_user(),
        want_events in any::<bool>(),
        request_id in any::<u32>(),
    ) {
        let base = SendIm::channel1(cookie, to, &text, flags).unwrap();
        // Unknown TLVs (and repeated known ones) ride along in order.
        let tlvs = TlvBlock::builder().extend(&base.tlvs).extend(&extra).build().unwrap();
        let m = SendIm::new(cookie, base.channel, base.screen_name.clone(), tlvs);
        let typed = Snac::new(
            request_id,
            Message::Icbm(Icbm::IncomingIm(IncomingIm::relay(&m, sender.clone(), want_events).unwrap())),
        );
        let mut info = Vec::new();
        sender.encode(&mut info);
        let direct = m.encode_relay_snac(request_id, &info, want_events);
        prop_assert_eq!(&direct, &typed.to_bytes());
        prop_assert_eq!(direct.capacity(), direct.len());
    }

    #[test]
    fn channel1_text_round_trips(cookie in arb_cookie(), to in arb_sn(), text in arb_text(), flags in arb_flags()) {
        let m = SendIm::channel1(cookie, to, &text, flags).unwrap();
        let expected: String = text.chars().map(|c| if u32::from(c) > 0xFFFF { '\u{FFFD}' } else { c }).collect();
        prop_assert_eq!(m.text(), Some(expected));
        prop_assert_eq!(m.wants_ack(), flags.request_ack);
        prop_assert_eq!(m.is_auto_response(), flags.auto_response);
        prop_assert_eq!(m.store_offline(), flags.store_offline);
        prop_assert_eq!(m.wants_events(), flags.want_typing_events);
        let relay = m.relay_tlvs(false).unwrap();
        prop_assert!(!relay.contains(tag::REQUEST_HOST_ACK) && !relay.contains(tag::STORE_OFFLINE));
        prop_assert_eq!(relay.get(tag::MESSAGE_DATA), m.tlvs.get(tag::MESSAGE_DATA));
    }

    #[test]
    fn chat_invitations_read_back(cookie in arb_cookie(), to in arb_sn(), room in arb_room(), text in arb_text()) {
        let m = SendIm::chat_invite(cookie, to, &room, &text).unwrap();
        let rdv = m.rendezvous().unwrap();
        prop_assert_eq!(rdv.cookie, cookie);
        let inv = rdv.chat_invitation().unwrap().unwrap();
        prop_assert_eq!(&inv.room, &room);
        prop_assert_eq!(inv.message_text(), Some(text));
    }

    #[test]
    fn arbitrary_bodies_never_panic(
        st in prop_oneof![proptest::sample::select(SUBTYPES.to_vec()), any::<u16>()],
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        if let Ok(Some(m)) = Icbm::decode(st, &mut Reader::new(&body)) {
            poke(&m);
            let mut out = Vec::new();
            m.encode(&mut out);
        }
        let _ = Channel1Message::decode(&body).map(|c| c.text());
        let _ = Rendezvous::decode(&body).map(|r| r.chat_invitation().is_ok());
    }

    #[test]
    fn mutated_valid_messages_never_panic(
        m in arb_icbm(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut body = Vec::new();
        m.encode(&mut body);
        if !body.is_empty() {
            for (i, b) in &edits {
                let at = i.index(body.len());
                body[at] = *b;
            }
        }
        for slice in [&body[..], &body[..cut.index(body.len() + 1)]] {
            if let Ok(Some(d)) = Icbm::decode(m.subtype(), &mut Reader::new(slice)) {
                poke(&d);
            }
        }
    }
}
