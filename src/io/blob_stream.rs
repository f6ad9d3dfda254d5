//! A `Blob` read in order through its byte stream (`blob.stream()` with a BYOB reader) into one
//! small buffer used again and again, for an engine that takes each piece as JavaScript bytes and
//! copies it at once (WebCrypto copies its input when it is called).
//!
//! Why not `blob.slice().arrayBuffer()`: every such read lands in a fresh buffer, and on this VM
//! first touching fresh memory costs about as much as the bytes' copy (32 MiB: 16–20 ms to fill
//! a fresh buffer, 4 ms a used one); a read also waits for its whole piece, so the cipher idles
//! until then. Read through the stream into a 1 MiB buffer, a worker's first chunk is there in
//! ~9 ms instead of ~45, and encryptFile of a 64 MiB Blob on two workers went from 1.04× to
//! 1.28× one-shot WebCrypto in a scratch page (Chromium 156, 11 interleaved rounds).

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ReadableStreamByobReader};

use super::source::{byob_bytes, byob_reader, ignore, short_read};
use crate::error::Error;

/// The least the buffer holds: reads come in pieces of ~470 KiB in Chromium, so 1 MiB takes
/// two at once (4 MiB measured the same).
const MIN_CAPACITY: u32 = 1 << 20;

/// The bytes of a `Blob`, from its start, handed out in order as views of one buffer.
#[derive(Debug)]
pub(crate) struct BlobStream {
    reader: ReadableStreamByobReader,
    /// `None` only after a read failed (the read kept it).
    buf: Option<ArrayBuffer>,
    /// The bytes read but not handed out are `buf[start..end]`.
    start: u32,
    end: u32,
    /// Bytes of the Blob not read yet.
    left: u64,
}

impl BlobStream {
    /// A reader of `blob` that can hand out pieces of up to `largest` bytes, or `None` where
    /// the browser's `blob.stream()` is not a byte stream (no BYOB reader): the caller reads
    /// slices then.
    pub(crate) fn open(blob: &Blob, largest: u32) -> Option<BlobStream> {
        let reader = byob_reader(blob)?;
        let left = blob.size() as u64;
        // Room for two of the largest pieces: a read may then bring in more than the piece
        // asked for, and the next piece is often there already.
        let capacity = largest.saturating_mul(2).max(MIN_CAPACITY).min(u32::try_from(left).unwrap_or(u32::MAX)).max(1);
        let buf = ArrayBuffer::new(capacity);
        Some(BlobStream { reader, buf: Some(buf), start: 0, end: 0, left })
    }

    /// The next `len` bytes, as a view that stays valid until the next call (which hands the
    /// buffer to the stream again).
    ///
    /// # Errors
    /// `NotReadableError` when a read fails (the file changed, the browser's Blob storage is
    /// full) or the Blob ends first; `ValidationError` for a piece larger than [`open`](Self::open)
    /// allowed.
    pub(crate) async fn next(&mut self, len: u32) -> Result<Uint8Array, Error> {
        let Some(capacity) = self.buf.as_ref().map(ArrayBuffer::byte_length) else {
            // A read failed before: its buffer went with it.
            return Err(short_read());
        };
        if len > capacity {
            return Err(Error::validation("a piece larger than the reader's buffer"));
        }
        let mut buf = self.buf.take().ok_or_else(short_read)?;
        if self.end - self.start < len && self.start > 0 {
            // Moves what is held to the front, to make room behind it.
            Uint8Array::new(&buf).copy_within(0, self.start as i32, self.end as i32);
            (self.start, self.end) = (0, self.end - self.start);
        }
        while self.end - self.start < len {
            if self.left == 0 {
                return Err(short_read());
            }
            let room = u64::from(capacity - self.end).min(self.left) as u32;
            let view = Uint8Array::new_with_byte_offset_and_length(&buf, self.end, room);
            let value = byob_bytes(JsFuture::from(self.reader.read_with_array_buffer_view(&view)).await)?;
            debug_assert_eq!(value.byte_offset(), self.end, "a BYOB read fills the view it was given");
            buf = value.buffer();
            let got = value.length();
            self.end += got;
            self.left -= u64::from(got);
        }
        let piece = Uint8Array::new_with_byte_offset_and_length(&buf, self.start, len);
        self.start += len;
        self.buf = Some(buf);
        Ok(piece)
    }
}

impl Drop for BlobStream {
    /// A reader given up before the Blob's end (a failure, a cancel) stops the browser's reads.
    fn drop(&mut self) {
        if self.left > 0 {
            // Rejected when the stream had failed already: nothing more to stop.
            ignore(self.reader.cancel());
        }
    }
}
