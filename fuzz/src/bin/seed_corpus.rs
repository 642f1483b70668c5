//! Writes seed corpora for the fuzz targets from the recorded captures.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --features seeds --bin seed_corpus -- CAPTURES_DIR CORPUS_DIR`
//!
//! For every TCP stream on port 5290 it writes the first frames of the stream
//! (`frame_stream`), every FLAP frame on its own (`frame_stream`), every
//! channel-2 payload (`snac_roundtrip`), and every SNAC body and channel-1/4
//! TLV area (`tlv_block`). File names are content hashes, so reruns add nothing.

#[path = "../../../crates/flapjack-wire/tests/common/pcap.rs"]
#[allow(dead_code)]
mod pcap;

use std::path::{Path, PathBuf};

use flapjack_wire::flap::{Decoded, FrameDecoder};

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    h
}

fn write(dir: &Path, bytes: &[u8], count: &mut usize) {
    let path = dir.join(format!("{:016x}", fnv1a(bytes)));
    if !path.exists() {
        std::fs::write(&path, bytes).expect("write seed");
        *count += 1;
    }
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(captures), Some(corpus)) = (args.next(), args.next()) else {
        eprintln!("usage: seed_corpus CAPTURES_DIR CORPUS_DIR");
        std::process::exit(2);
    };
    let corpus = PathBuf::from(corpus);
    let dirs = ["frame_stream", "snac_roundtrip", "tlv_block"].map(|t| corpus.join(t));
    for d in &dirs {
        std::fs::create_dir_all(d).expect("corpus dir");
    }
    let [streams_dir, snac_dir, tlv_dir] = &dirs;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&captures)
        .expect("captures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcapng"))
        .collect();
    files.sort();
    let limits = pcap::Limits::default();
    let mut count = 0usize;
    for file in &files {
        let bytes = std::fs::read(file).expect("read capture");
        let packets = pcap::read_packets(&bytes, &limits).expect("capture parses");
        for s in pcap::reassemble(&packets, &limits).expect("reassembles") {
            if s.src.port() != 5290 && s.dst.port() != 5290 {
                continue;
            }
            let decoder = FrameDecoder::new();
            let mut rest = &s.data[..];
            let mut prefix_frames = 0usize;
            while let Ok(Decoded::Complete { value, consumed }) = decoder.decode(rest) {
                let frame = &rest[..consumed];
                write(streams_dir, frame, &mut count);
                let payload = value.payload();
                match value.channel.value() {
                    1 if payload.len() > 4 => write(tlv_dir, &payload[4..], &mut count),
                    2 => {
                        write(snac_dir, payload, &mut count);
                        if payload.len() > 10 {
                            write(tlv_dir, &payload[10..], &mut count);
                        }
                    }
                    4 if !payload.is_empty() => write(tlv_dir, payload, &mut count),
                    _ => {}
                }
                rest = &rest[consumed..];
                prefix_frames += 1;
            }
            // The stream's first few frames together, capped at 4 KiB (libFuzzer's default max_len).
            let mut end = 0usize;
            let mut r = &s.data[..];
            for _ in 0..prefix_frames.min(8) {
                let Ok(Decoded::Complete { consumed, .. }) = decoder.decode(r) else {
                    break;
                };
                if end + consumed > 4096 {
                    break;
                }
                end += consumed;
                r = &r[consumed..];
            }
            if end > 0 {
                write(streams_dir, &s.data[..end], &mut count);
            }
        }
    }
    println!(
        "seed_corpus: {count} new seeds from {} captures into {}",
        files.len(),
        corpus.display()
    );
}
