//! A driver for instruction counts: decodes the benchmark's mixed stream
//! (`tests/common/stream.rs`, 65 827 bytes in 534 frames) as `decode/messages`
//! in `benches/codec.rs` does, a given number of passes, with no timing
//! harness around it, so `valgrind --tool=callgrind` measures only the codec.
//! Instruction counts repeat exactly on a loaded machine, unlike wall time.
//!
//! ```text
//! cargo build --profile bench -p flapjack-wire --example decode_stream
//! valgrind --tool=callgrind target/release/examples/decode_stream 0     # stream construction only
//! valgrind --tool=callgrind target/release/examples/decode_stream 100   # + 100 passes
//! callgrind_annotate callgrind.out.<pid>
//! ```
//!
//! Instructions per frame = (count for 100 passes − count for 0) / (100 × 534).
//! The first argument is the number of passes (default 200); a second argument
//! `walk` also reads the fields as `decode/messages+walk` does, and `sizes`
//! prints the sizes of the decoded types instead.

use std::hint::black_box;

use flapjack_wire::flap::{Decoded, FlapMessage, FrameDecoder};

#[path = "../tests/common/stream.rs"]
#[allow(dead_code)]
mod stream;

fn main() {
    let mut args = std::env::args().skip(1);
    let passes: usize = args.next().map_or(200, |a| a.parse().expect("passes: a number"));
    let mode = args.next().unwrap_or_default();
    if mode == "sizes" {
        use flapjack_wire::family::{
            bucp::Bucp, buddy::Buddy, chat::Chat, chat_nav::ChatNav, feedbag::Feedbag, icbm::Icbm, locate::Locate,
            oservice::Oservice, pd::Pd,
        };
        use flapjack_wire::{Message, ScreenName, Snac, TlvBlock, UserInfo};
        println!("FlapMessage {}", size_of::<FlapMessage<'_>>());
        println!("Snac        {}", size_of::<Snac<'_>>());
        println!("Message     {}", size_of::<Message<'_>>());
        println!("Icbm        {}", size_of::<Icbm<'_>>());
        println!("Buddy       {}", size_of::<Buddy<'_>>());
        println!("Feedbag     {}", size_of::<Feedbag<'_>>());
        println!("Oservice    {}", size_of::<Oservice<'_>>());
        println!("Locate      {}", size_of::<Locate<'_>>());
        println!("Pd          {}", size_of::<Pd<'_>>());
        println!("ChatNav     {}", size_of::<ChatNav<'_>>());
        println!("Chat        {}", size_of::<Chat<'_>>());
        println!("Bucp        {}", size_of::<Bucp<'_>>());
        println!("ScreenName  {}", size_of::<ScreenName<'_>>());
        println!("UserInfo    {}", size_of::<UserInfo<'_>>());
        println!("TlvBlock    {}", size_of::<TlvBlock<'_>>());
        return;
    }
    let walk = mode == "walk";
    let (bytes, kinds) = stream::mixed_stream(64 * 1024);
    let decoder = FrameDecoder::new();
    let mut frames = 0usize;
    let mut acc = 0usize;
    for _ in 0..passes {
        let mut buf = black_box(&bytes[..]);
        while let Ok(Decoded::Complete { value, consumed }) = decoder.decode(buf) {
            let message = value.message().expect("the benchmark stream decodes");
            if walk && let FlapMessage::Data(snac) = &message {
                acc = acc.wrapping_add(stream::walk(snac));
            }
            black_box(&message);
            frames += 1;
            buf = &buf[consumed..];
        }
    }
    assert_eq!(frames, passes * kinds.len());
    println!(
        "{passes} passes, {frames} frames, {} bytes/pass, checksum {acc}",
        bytes.len()
    );
}
