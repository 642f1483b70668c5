//! Arbitrary bytes through the three TLV block decoders (rest, counted,
//! length-prefixed), the user-info block and the screen-name list: valid blocks
//! re-encode to exactly the bytes they consumed, and their iterators agree with
//! their counts.
#![no_main]

use flapjack_wire::list::{List, ScreenNameItem};
use flapjack_wire::reader::Reader;
use flapjack_wire::tlv::TlvBlock;
use flapjack_wire::userinfo::UserInfo;
use libfuzzer_sys::fuzz_target;

fn check_iteration(block: &TlvBlock<'_>) {
    let mut bytes = 0usize;
    let mut count = 0usize;
    for t in block {
        bytes += 4 + t.value.len();
        count += 1;
        assert_eq!(block.find(t.tag).map(|f| f.tag), Some(t.tag));
    }
    assert_eq!(count, block.len());
    assert_eq!(bytes, block.as_bytes().len());
    assert_eq!(block.is_empty(), count == 0);
    // Rebuilding the block TLV by TLV gives the same bytes.
    let rebuilt = TlvBlock::builder()
        .extend(block)
        .build()
        .expect("a valid block rebuilds");
    assert_eq!(&rebuilt, block);
}

fn consumed(data: &[u8], r: &Reader<'_>) -> usize {
    data.len() - r.remaining()
}

fuzz_target!(|data: &[u8]| {
    // Rest block: all of the input.
    let mut r = Reader::new(data);
    if let Ok(block) = TlvBlock::decode_rest(&mut r) {
        assert!(r.is_empty());
        let mut out = Vec::new();
        block.encode_rest(&mut out);
        assert_eq!(out, data);
        assert_eq!(TlvBlock::from_raw(data).as_ref(), Ok(&block));
        check_iteration(&block);
    } else {
        assert!(TlvBlock::from_raw(data).is_err());
    }

    // Counted block: a prefix of the input.
    let mut r = Reader::new(data);
    if let Ok(block) = TlvBlock::decode_counted(&mut r) {
        let n = consumed(data, &r);
        let mut out = Vec::new();
        block.encode_counted(&mut out);
        assert_eq!(out, &data[..n]);
        check_iteration(&block);
    }

    // Length-prefixed block: a prefix of the input.
    let mut r = Reader::new(data);
    if let Ok(block) = TlvBlock::decode_length_prefixed(&mut r) {
        let n = consumed(data, &r);
        let mut out = Vec::new();
        block.encode_length_prefixed(&mut out);
        assert_eq!(out, &data[..n]);
        check_iteration(&block);
    }

    // User-info block.
    let mut r = Reader::new(data);
    if let Ok(info) = UserInfo::decode(&mut r) {
        let n = consumed(data, &r);
        let mut out = Vec::new();
        info.encode(&mut out);
        assert_eq!(out, &data[..n]);
        let _ = (info.class(), info.capabilities(), info.status(), info.idle_minutes());
        check_iteration(&info.tlvs);
    }

    // Screen-name list.
    let mut r = Reader::new(data);
    if let Ok(list) = List::<ScreenNameItem>::decode_rest(&mut r) {
        let mut out = Vec::new();
        list.encode_rest(&mut out);
        assert_eq!(out, data);
        assert_eq!(list.iter().count(), list.len());
    }
});
