//! Checks shared by the fuzz targets.
//!
//! What flapjack-wire guarantees, and what these checks assert:
//!
//! 1. Decoding never panics, whatever the input (every target).
//! 2. **Byte identity**: whatever decodes successfully re-encodes to exactly
//!    the bytes it was decoded from: FLAP frames, channel payloads, SNACs
//!    (typed or raw), TLV blocks of all three kinds, user-info blocks.
//! 3. **Value identity**: decoding that encoding gives an equal value.
//! 4. Values built through the public constructors encode to bytes that
//!    decode back to an equal value (the `structured` target).
//! 5. Walking a decoded value (its `Debug` form iterates every lazy list and
//!    TLV block) never panics.

use flapjack_wire::flap::{Decoded, FlapMessage, FrameDecoder, HEADER_LEN, MAX_PAYLOAD};
use flapjack_wire::snac::{RawSnac, Snac};
use flapjack_wire::{Channel, DecodeError};

/// Asserts guarantees 2, 3 and 5 for a channel-2 payload; returns whether it decoded.
pub fn check_snac_payload(payload: &[u8]) -> bool {
    let snac = match Snac::decode(payload) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return false;
        }
    };
    let bytes = snac.to_bytes();
    assert_eq!(
        bytes, payload,
        "a decoded SNAC must re-encode to its input; decoded value: {snac:?}"
    );
    let again = Snac::decode(&bytes).expect("an encoded SNAC decodes");
    assert_eq!(again, snac, "decode(encode(x)) != x");
    let split = RawSnac::decode(payload).expect("header").typed().expect("typed");
    assert_eq!(split, snac, "RawSnac::typed disagrees with Snac::decode");
    let _ = format!("{snac:?}");
    true
}

/// Asserts the guarantees for one whole frame (`bytes` = header + payload).
fn check_frame(bytes: &[u8]) {
    let Ok(Decoded::Complete { value: frame, consumed }) = FrameDecoder::new().decode(bytes) else {
        panic!("a frame cut by the decoder decodes again on its own");
    };
    assert_eq!(consumed, bytes.len());
    assert_eq!(consumed, HEADER_LEN + frame.payload().len());
    let mut out = Vec::new();
    frame.encode(&mut out);
    assert_eq!(out, bytes, "Frame::encode must reproduce the frame");
    match frame.message() {
        Ok(message) => {
            let mut payload = Vec::new();
            message.encode_payload(&mut payload);
            assert_eq!(
                payload,
                frame.payload(),
                "channel payload must re-encode identically: {message:?}"
            );
            let mut whole = Vec::new();
            message.encode_frame(frame.seq, &mut whole).expect("fits");
            assert_eq!(whole, bytes);
            let again = FlapMessage::decode(frame.channel, &payload).expect("re-decodes");
            assert_eq!(again, message);
            if let FlapMessage::Data(_) = message {
                assert!(check_snac_payload(frame.payload()));
            }
            let _ = format!("{message:?}");
        }
        Err(e) => {
            let _ = e.to_string();
            if frame.channel == Channel::Data {
                assert!(Snac::decode(frame.payload()).is_err());
            }
        }
    }
}

/// Cuts `data` into frames like a connection would, checking each one.
pub fn check_stream(data: &[u8]) {
    let decoder = FrameDecoder::new();
    let mut rest = data;
    let mut frames = 0usize;
    let mut ended_in_error = false;
    loop {
        match decoder.decode(rest) {
            Ok(Decoded::Complete { value, consumed }) => {
                assert!((HEADER_LEN..=rest.len()).contains(&consumed));
                drop(value);
                check_frame(&rest[..consumed]);
                // A decoder never needs more than the frame: any prefix is Incomplete.
                if consumed > 1 {
                    let cut = consumed / 2;
                    match decoder.decode(&rest[..cut]) {
                        Ok(Decoded::Incomplete { needed }) => assert!(needed > cut && needed <= consumed),
                        other => panic!("prefix of a frame decoded as {other:?}"),
                    }
                }
                rest = &rest[consumed..];
                frames += 1;
            }
            Ok(Decoded::Incomplete { needed }) => {
                assert!(needed > rest.len() && needed <= HEADER_LEN + MAX_PAYLOAD);
                break;
            }
            Err(e) => {
                let _ = e.to_string();
                assert!(matches!(
                    e,
                    DecodeError::BadStartMarker(_) | DecodeError::FrameTooLarge { .. }
                ));
                ended_in_error = true;
                break;
            }
        }
        if rest.is_empty() {
            break;
        }
    }
    // The iterator agrees with the manual loop.
    let mut it = decoder.frames(data);
    let ok = it.by_ref().take_while(Result::is_ok).count();
    assert_eq!(ok, frames);
    if !ended_in_error {
        assert_eq!(it.remainder().len(), rest.len());
    }
    // A capped decoder accepts the same frames up to its cap and refuses the rest.
    let capped = FrameDecoder::with_max_payload(64);
    if let Ok(Decoded::Complete { value, .. }) = decoder.decode(data) {
        match capped.decode(data) {
            Ok(Decoded::Complete { value: v2, .. }) => assert_eq!(v2, value),
            Err(DecodeError::FrameTooLarge { declared, cap: 64 }) => assert!(declared > 64),
            other => panic!("capped decoder: {other:?}"),
        }
    }
}
