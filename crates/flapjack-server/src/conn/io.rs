//! The byte-moving halves of a connection: a frame reader over a growable buffer, and the
//! writer task that drains the outbound queue with write coalescing.

use std::ops::Range;

use flapjack_wire::flap::{Channel, FrameDecoder, HEADER_LEN, encode_frame_with};
use flapjack_wire::{DecodeError, Decoded};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::session::Outbound;

/// Stop gathering queued frames into one write past this many bytes.
const COALESCE_BYTES: usize = 64 * 1024;
/// Smallest read.
const READ_CHUNK: usize = 4096;

/// Where a decoded frame sits in the reader's buffer.
#[derive(Debug, Clone)]
pub struct FrameRef {
    /// The frame's channel.
    pub channel: Channel,
    /// The client's sequence number.
    pub seq: u16,
    range: Range<usize>,
}

/// Reads bytes and cuts FLAP frames out of them without copying.
#[derive(Debug)]
pub struct FrameReader<R> {
    io: R,
    buf: Vec<u8>,
    start: usize,
    needed: usize,
    decoder: FrameDecoder,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader accepting payloads up to `max_payload` bytes.
    pub fn new(io: R, max_payload: usize) -> Self {
        Self {
            io,
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            needed: HEADER_LEN,
            decoder: FrameDecoder::with_max_payload(max_payload),
        }
    }

    /// The next whole frame already buffered, if any. A malformed header is an error: the
    /// stream cannot be resynchronised, so the connection must close.
    pub fn next_frame(&mut self) -> Result<Option<FrameRef>, DecodeError> {
        let avail = &self.buf[self.start..];
        if avail.is_empty() {
            self.needed = HEADER_LEN;
            return Ok(None);
        }
        match self.decoder.decode(avail)? {
            Decoded::Complete { value, consumed } => {
                let fr = FrameRef {
                    channel: value.channel,
                    seq: value.seq,
                    range: self.start + HEADER_LEN..self.start + consumed,
                };
                self.start += consumed;
                Ok(Some(fr))
            }
            Decoded::Incomplete { needed } => {
                self.needed = needed;
                Ok(None)
            }
        }
    }

    /// The payload of a frame returned by [`next_frame`](Self::next_frame) since the last
    /// [`read_more`](Self::read_more).
    pub fn payload(&self, fr: &FrameRef) -> &[u8] {
        &self.buf[fr.range.clone()]
    }

    /// Reads more bytes (cancel safe); `Ok(0)` at end of stream.
    pub async fn read_more(&mut self) -> std::io::Result<usize> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let want = self.needed.saturating_sub(self.buf.len()).max(READ_CHUNK);
        self.buf.reserve(want);
        self.io.read_buf(&mut self.buf).await
    }
}

/// Drains `rx` into `w`: gathers whatever is queued into one buffer, numbers the frames from
/// `seq`, writes, repeats. Ends after a [`Outbound::Close`] item (flushing and shutting the
/// write side) or when every sender is gone.
pub async fn run_writer<W: AsyncWrite + Unpin>(mut w: W, mut rx: mpsc::Receiver<Outbound>, mut seq: u16) {
    let mut buf = Vec::with_capacity(8 * 1024);
    while let Some(first) = rx.recv().await {
        let mut closing = encode(first, &mut buf, &mut seq);
        while !closing && buf.len() < COALESCE_BYTES {
            match rx.try_recv() {
                Ok(item) => closing = encode(item, &mut buf, &mut seq),
                Err(_) => break,
            }
        }
        if let Err(e) = w.write_all(&buf).await {
            tracing::debug!(error = %e, "write failed");
            return;
        }
        buf.clear();
        if closing {
            let _ = w.flush().await;
            let _ = w.shutdown().await;
            return;
        }
    }
    let _ = w.flush().await;
}

/// Appends one item's frame; returns true for a closing item.
fn encode(item: Outbound, buf: &mut Vec<u8>, seq: &mut u16) -> bool {
    let (channel, payload, closing) = match item {
        Outbound::Frame { channel, payload } => (channel, payload, false),
        Outbound::Close { payload } => (Channel::Signoff, payload, true),
    };
    match encode_frame_with(buf, channel, *seq, |o| o.extend_from_slice(&payload)) {
        Ok(()) => *seq = seq.wrapping_add(1),
        Err(e) => tracing::warn!(error = %e, "dropping an unencodable outbound frame"),
    }
    closing
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn reader_cuts_split_frames_and_writer_numbers_them() {
        let (client, server) = tokio::io::duplex(64);
        let (tx, rx) = mpsc::channel(8);
        let writer = tokio::spawn(run_writer(client, rx, 0xFFFF));
        tx.send(Outbound::Frame {
            channel: Channel::Keepalive,
            payload: Bytes::new(),
        })
        .await
        .unwrap();
        tx.send(Outbound::Close {
            payload: Bytes::from_static(&[0, 9, 0, 2, 0, 1]),
        })
        .await
        .unwrap();
        let mut reader = FrameReader::new(server, 1024);
        let mut frames = Vec::new();
        while frames.len() < 2 {
            while let Some(fr) = reader.next_frame().unwrap() {
                frames.push((fr.channel, fr.seq, reader.payload(&fr).to_vec()));
            }
            if frames.len() < 2 {
                assert!(reader.read_more().await.unwrap() > 0);
            }
        }
        assert_eq!(frames[0], (Channel::Keepalive, 0xFFFF, vec![]));
        assert_eq!(frames[1], (Channel::Signoff, 0, vec![0, 9, 0, 2, 0, 1]));
        assert_eq!(reader.read_more().await.unwrap(), 0);
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn oversized_frame_is_an_error() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(&[0x2A, 2, 0, 1, 0x10, 0]).await.unwrap();
        let mut reader = FrameReader::new(server, 1024);
        reader.read_more().await.unwrap();
        assert!(matches!(reader.next_frame(), Err(DecodeError::FrameTooLarge { .. })));
    }
}
