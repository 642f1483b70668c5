//! Codec throughput on a realistic mixed stream: IMs sent and received with
//! text (04/06, 04/07), buddy arrivals and departures (03/0B, 03/0C), feedbag
//! replies (13/06) and keepalives. Reported in bytes per second.
//!
//! * `decode/frames`: cutting FLAP frames only.
//! * `decode/messages`: cutting frames and decoding every frame's content
//!   (channel-2 payloads through `Snac::decode`, typed where the family is).
//! * `decode/messages+walk`: the same, then reading the fields a consumer
//!   reads (screen names, message text, TLV lookups, feedbag items) through
//!   the borrowing accessors.
//! * `decode-by-kind/KIND`: `decode/messages` on the frames of one kind only.
//! * `encode/messages`: encoding the decoded messages back into one buffer.
//!
//! Run: `cargo bench -p flapjack-wire --bench codec`. See BENCHMARKS.md.
#![allow(missing_docs)] // criterion_group! generates an undocumented public function

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flapjack_wire::flap::{Decoded, FlapMessage, FrameDecoder, HEADER_LEN};

#[path = "../tests/common/stream.rs"]
#[allow(dead_code)]
mod stream;

const STREAM_BYTES: usize = 64 * 1024;

fn decode_all(decoder: &FrameDecoder, mut buf: &[u8]) -> usize {
    let mut n = 0usize;
    while let Ok(Decoded::Complete { value, consumed }) = decoder.decode(buf) {
        let message = value.message().expect("the benchmark stream decodes");
        black_box(&message);
        n += 1;
        buf = &buf[consumed..];
    }
    n
}

fn decode_and_walk(decoder: &FrameDecoder, mut buf: &[u8]) -> usize {
    let mut acc = 0usize;
    while let Ok(Decoded::Complete { value, consumed }) = decoder.decode(buf) {
        if let FlapMessage::Data(snac) = value.message().expect("the benchmark stream decodes") {
            acc = acc.wrapping_add(stream::walk(&snac));
        }
        buf = &buf[consumed..];
    }
    acc
}

fn bench(c: &mut Criterion) {
    let (bytes, kinds) = stream::mixed_stream(STREAM_BYTES);
    let decoder = FrameDecoder::new();
    let frames = decode_all(&decoder, &bytes);
    assert_eq!(frames, kinds.len(), "every frame of the stream decodes");
    let mut messages: Vec<(u16, FlapMessage<'_>)> = Vec::with_capacity(frames);
    let mut buf = &bytes[..];
    while let Ok(Decoded::Complete { value, consumed }) = decoder.decode(buf) {
        let message = FlapMessage::decode(value.channel, &buf[HEADER_LEN..consumed]).expect("message");
        messages.push((value.seq, message));
        buf = &buf[consumed..];
    }
    eprintln!(
        "stream: {} bytes, {} frames ({} bytes/frame on average)",
        bytes.len(),
        frames,
        bytes.len() / frames
    );

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("frames", |b| {
        b.iter(|| {
            let mut buf = black_box(&bytes[..]);
            let mut n = 0usize;
            while let Ok(Decoded::Complete { value, consumed }) = decoder.decode(buf) {
                black_box(&value);
                n += 1;
                buf = &buf[consumed..];
            }
            n
        })
    });
    g.bench_function("messages", |b| b.iter(|| decode_all(&decoder, black_box(&bytes))));
    g.bench_function("messages+walk", |b| {
        b.iter(|| decode_and_walk(&decoder, black_box(&bytes)))
    });
    g.finish();

    // The same decode, one kind of frame at a time, to see where the time goes.
    let mut g = c.benchmark_group("decode-by-kind");
    for kind in [
        stream::Kind::SendIm,
        stream::Kind::IncomingIm,
        stream::Kind::Arrived,
        stream::Kind::Departed,
        stream::Kind::FeedbagReply,
        stream::Kind::Keepalive,
    ] {
        let mut only = Vec::new();
        let mut buf = &bytes[..];
        for k in &kinds {
            let Ok(Decoded::Complete { consumed, .. }) = decoder.decode(buf) else {
                break;
            };
            if *k == kind {
                only.extend_from_slice(&buf[..consumed]);
            }
            buf = &buf[consumed..];
        }
        g.throughput(Throughput::Bytes(only.len() as u64));
        g.bench_function(format!("{kind:?}"), |b| {
            b.iter(|| decode_all(&decoder, black_box(&only)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    let mut out = Vec::with_capacity(bytes.len());
    g.bench_function("messages", |b| {
        b.iter(|| {
            out.clear();
            for (seq, m) in &messages {
                m.encode_frame(*seq, &mut out).expect("fits");
            }
            black_box(out.len())
        })
    });
    g.finish();
    out.clear();
    for (seq, m) in &messages {
        m.encode_frame(*seq, &mut out).expect("fits");
    }
    assert_eq!(out, bytes, "the encoder reproduces the stream");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
