//! Arbitrary bytes as a TCP stream: cut into FLAP frames, decode every frame's
//! content, and check that everything decoded re-encodes byte for byte and
//! decodes back to an equal value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    flapjack_fuzz::check_stream(data);
});
