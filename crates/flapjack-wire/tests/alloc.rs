//! Decoding allocates nothing: a counting global allocator watches the decode
//! path (frame cutting, `Frame::message`, `Snac::decode`, then reading the
//! fields through the borrowing accessors: screen names, message text, TLV
//! lookups, feedbag items) for every frame of a realistic mixed stream (IMs
//! 04/06 and 04/07, presence 03/0B and 03/0C, feedbag 13/06, keepalives) and
//! asserts zero heap allocations per frame.
//!
//! Everything runs in one `#[test]`: the counter is process-wide, and a second
//! test running in parallel would be counted too (each frame is measured three
//! times and the smallest count kept, against stray allocations of the harness).
//!
//! Run: `cargo test -p flapjack-wire --test alloc -- --nocapture`.

mod common;

use std::alloc::System;
use std::collections::BTreeMap;
use std::hint::black_box;

use common::stream::{self, Kind};
use flapjack_wire::flap::{Decoded, FlapMessage, FrameDecoder, HEADER_LEN};
use flapjack_wire::snac::{Message, Snac};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Default, Debug)]
struct PerKind {
    frames: usize,
    typed: usize,
    allocations: usize,
    bytes: usize,
    walked: usize,
}

#[test]
fn decoding_allocates_nothing() {
    // The counter works (so the zero below means something).
    let region = Region::new(GLOBAL);
    let v: Vec<u8> = black_box(Vec::with_capacity(100));
    drop(v);
    assert_eq!(region.change().allocations, 1, "the counting allocator counts");

    let (bytes, kinds) = stream::mixed_stream(32 * 1024);
    let decoder = FrameDecoder::new();
    let mut per_kind: BTreeMap<String, PerKind> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut buf = &bytes[..];
    let mut index = 0usize;
    // The counter is process-wide and the test harness's main thread may still be
    // allocating while this test starts: let it settle, and count each frame three
    // times, keeping the smallest count (decoding is deterministic, so an allocation
    // of the decoder shows up every time; a stray one from another thread does not).
    std::thread::sleep(std::time::Duration::from_millis(50));
    while let Ok(Decoded::Complete { consumed, .. }) = decoder.decode(buf) {
        let mut best: Option<(stats_alloc::Stats, bool, usize)> = None;
        for _ in 0..3 {
            let region = Region::new(GLOBAL);
            let Ok(Decoded::Complete { value: frame, .. }) = decoder.decode(black_box(buf)) else {
                unreachable!("decoded above")
            };
            let message = frame.message().expect("the stream decodes");
            // Snac::decode on its own, as a server's dispatcher calls it.
            let snac = match &message {
                FlapMessage::Data(_) => Some(Snac::decode(&buf[HEADER_LEN..consumed]).expect("SNAC decodes")),
                _ => None,
            };
            let typed = snac.as_ref().is_some_and(|s| !matches!(s.message, Message::Raw { .. }));
            // Reading the fields through the borrowing accessors allocates nothing either.
            let walked = snac.as_ref().map_or(0, stream::walk);
            black_box((&message, &snac, walked));
            let change = region.change();
            drop((message, snac));
            let count = |c: &stats_alloc::Stats| c.allocations + c.reallocations;
            if best.as_ref().is_none_or(|(b, _, _)| count(&change) < count(b)) {
                best = Some((change, typed, walked));
            }
        }
        let (change, typed, walked) = best.expect("three measurements");

        let kind = kinds.get(index).copied().expect("a kind per frame");
        let st = per_kind.entry(format!("{kind:?}")).or_default();
        st.frames += 1;
        st.typed += usize::from(typed);
        st.walked += walked;
        st.allocations += change.allocations + change.reallocations;
        st.bytes += change.bytes_allocated;
        if change.allocations + change.reallocations != 0 {
            failures.push(format!(
                "frame #{index} ({kind:?}): {} allocations, {} reallocations, {} bytes",
                change.allocations, change.reallocations, change.bytes_allocated
            ));
        }
        buf = &buf[consumed..];
        index += 1;
    }
    assert_eq!(index, kinds.len(), "every frame of the stream was decoded");
    for (kind, st) in &per_kind {
        println!(
            "{kind:>13}: {:4} frames, {:4} typed, {} allocations ({} bytes)",
            st.frames, st.typed, st.allocations, st.bytes
        );
    }
    assert!(
        failures.is_empty(),
        "decoding allocated on {} frame(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    // The zero must be about typed decoding, not raw bodies: IMs, presence and
    // the feedbag reply have to come out typed.
    for kind in [
        Kind::SendIm,
        Kind::IncomingIm,
        Kind::Arrived,
        Kind::Departed,
        Kind::FeedbagReply,
    ] {
        let st = &per_kind[&format!("{kind:?}")];
        assert_eq!(st.typed, st.frames, "{kind:?} frames decoded raw, not typed");
        assert!(st.walked > 0, "{kind:?}: the walk read nothing");
    }
}
