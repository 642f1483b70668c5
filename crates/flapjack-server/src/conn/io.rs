//! The byte-moving halves of a connection: a frame reader over a growable buffer, and the
//! writer task that drains the outbound queue with write coalescing.
//!
//! Idle connections hold no buffers: most of the server's sessions are idle most of the time
//! (their memory is what limits how many one server holds). The reader gives its buffer back
//! whenever it has no partial frame and the socket has nothing more to read; the writer gives
//! its buffer back whenever its queue is empty. Given-back buffers go to a small per-thread
//! stack of spares ([`spare`]), from which the next busy connection takes one.

use std::future::Future;
use std::ops::Range;
use std::pin::pin;
use std::task::{Context, Poll};

use flapjack_wire::flap::{Channel, FrameDecoder, HEADER_LEN, encode_frame_with};
use flapjack_wire::{DecodeError, Decoded};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use crate::session::Outbound;

/// Stop gathering queued frames into one write past this many bytes.
const COALESCE_BYTES: usize = 64 * 1024;
/// Smallest read into the heap buffer.
const READ_CHUNK: usize = 4096;
/// The writer's buffer when it starts gathering after being idle.
const WRITE_START: usize = 1024;

/// Spare I/O buffers, one small stack of them per worker thread. Busy connections take a
/// buffer when bytes arrive and give it back as soon as they have nothing buffered, so an
/// idle connection holds none, and the message path does not pay the allocator for a
/// multi-kilobyte buffer at every wake-up (glibc serves those from its slow bins).
mod spare {
    use std::cell::RefCell;

    /// Buffers kept per thread.
    const KEPT: usize = 32;
    /// Larger buffers are freed, not kept.
    const LARGEST_KEPT: usize = 128 * 1024;

    thread_local! {
        static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    /// An empty buffer with room for at least `min` bytes.
    pub(super) fn take(min: usize) -> Vec<u8> {
        match SPARE.with_borrow_mut(Vec::pop) {
            Some(mut buf) => {
                buf.reserve(min);
                buf
            }
            None => Vec::with_capacity(min),
        }
    }

    /// Gives `buf` back (emptied), leaving an empty, unallocated one in its place.
    pub(super) fn give(buf: &mut Vec<u8>) {
        let mut buf = std::mem::take(buf);
        if buf.capacity() == 0 || buf.capacity() > LARGEST_KEPT {
            return;
        }
        buf.clear();
        SPARE.with_borrow_mut(|spare| {
            if spare.len() < KEPT {
                spare.push(buf);
            }
        });
    }
}

/// A connection's byte stream, split into a read half for the connection task and a write
/// half for its writer task.
pub trait SplitStream: Send + 'static {
    /// The read half.
    type Read: AsyncRead + Send + Unpin + 'static;
    /// The write half.
    type Write: AsyncWrite + Send + Unpin + 'static;
    /// Splits the stream.
    fn split_halves(self) -> (Self::Read, Self::Write);
}

/// Plain TCP splits into owned halves that share no lock (`tokio::io::split` would put one
/// around every read and write, and the two tasks would contend for it).
impl SplitStream for tokio::net::TcpStream {
    type Read = tokio::net::tcp::OwnedReadHalf;
    type Write = tokio::net::tcp::OwnedWriteHalf;
    fn split_halves(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

/// TLS state is shared by both directions, so its halves share a lock.
impl<S> SplitStream for tokio_rustls::server::TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Read = tokio::io::ReadHalf<Self>;
    type Write = tokio::io::WriteHalf<Self>;
    fn split_halves(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self)
    }
}

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
    /// A reader accepting payloads up to `max_payload` bytes. The buffer is allocated when
    /// bytes arrive.
    pub fn new(io: R, max_payload: usize) -> Self {
        Self {
            io,
            buf: Vec::new(),
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
        std::future::poll_fn(|cx| self.poll_read_more(cx)).await
    }

    /// One attempt to read, into the heap buffer (taken from the thread's spares when the
    /// connection holds none). When the socket has nothing and no partial frame is
    /// buffered, the buffer goes back to the spares: an idle connection holds none.
    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        let Self { io, buf, needed, .. } = self;
        let want = needed.saturating_sub(buf.len()).max(READ_CHUNK);
        if buf.capacity() == 0 {
            *buf = spare::take(want);
        } else {
            buf.reserve(want);
        }
        // At most one chunk (or the rest of a large frame) per read, however large a spare
        // buffer came back: a burst is read, handled and relayed a piece at a time.
        let polled = pin!(io.read_buf(&mut bytes::BufMut::limit(&mut *buf, want))).poll(cx);
        if buf.is_empty() && !matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            spare::give(buf);
        }
        polled
    }
}

/// Drains `rx` into `w`: gathers whatever is queued into one buffer, numbers the frames from
/// `seq`, writes, repeats. Ends after a [`Outbound::Close`] item (flushing and shutting the
/// write side) or when every sender is gone.
pub async fn run_writer<W: AsyncWrite + Unpin>(mut w: W, mut rx: mpsc::Receiver<Outbound>, mut seq: u16) {
    let mut buf = Vec::new();
    loop {
        let first = match rx.try_recv() {
            Ok(item) => item,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                // Idle: give the buffer back while waiting.
                spare::give(&mut buf);
                match rx.recv().await {
                    Some(item) => item,
                    None => break,
                }
            }
        };
        // Let whoever is queueing (usually this connection's own reader answering a batch of
        // requests, or a burst of IMs) finish first: one write for the batch, not one each.
        tokio::task::yield_now().await;
        if buf.capacity() == 0 {
            // Size the buffer for what is queued now, so that gathering a burst does not
            // regrow it frame by frame.
            let frame = HEADER_LEN + first.payload_len();
            let queued = rx.len().saturating_add(1);
            buf = spare::take(queued.saturating_mul(frame).clamp(WRITE_START, COALESCE_BYTES + frame));
        }
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
    async fn an_idle_reader_holds_no_buffer() {
        let (mut client, server) = tokio::io::duplex(4096);
        let mut reader = FrameReader::new(server, 1024);
        assert_eq!(reader.buf.capacity(), 0, "nothing allocated before bytes arrive");
        client.write_all(&[0x2A, 5, 0, 1, 0, 0]).await.unwrap();
        reader.read_more().await.unwrap();
        assert_eq!(reader.next_frame().unwrap().unwrap().channel, Channel::Keepalive);
        assert!(reader.next_frame().unwrap().is_none());
        // Nothing more to read: the buffer goes back while the reader waits.
        let wait = tokio::time::timeout(std::time::Duration::from_millis(20), reader.read_more()).await;
        assert!(wait.is_err());
        assert_eq!(reader.buf.capacity(), 0);
        // A frame split across reads (and larger than the idle read) still arrives whole.
        let mut frame = vec![0x2A, 2, 0, 2, 0x03, 0x00];
        frame.extend((0..0x300).map(|i| i as u8));
        client.write_all(&frame[..100]).await.unwrap();
        let mut got = None;
        let mut rest = Some(&frame[100..]);
        while got.is_none() {
            reader.read_more().await.unwrap();
            if let Some(fr) = reader.next_frame().unwrap() {
                got = Some(reader.payload(&fr).to_vec());
            } else if let Some(r) = rest.take() {
                client.write_all(r).await.unwrap();
            }
        }
        assert_eq!(got.unwrap(), frame[HEADER_LEN..]);
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
