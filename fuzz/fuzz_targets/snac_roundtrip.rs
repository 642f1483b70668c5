//! Arbitrary bytes as a channel-2 payload. Guarantee: when `Snac::decode`
//! succeeds, `encode` gives back exactly the input bytes, and decoding those
//! gives an equal value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    flapjack_fuzz::check_snac_payload(data);
});
