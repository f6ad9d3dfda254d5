//! Call inputs that live in JavaScript memory — bytes or a `Blob`/`File` — read into wasm memory
//! one chunk at a time, so a large input never needs a full-size copy inside the wasm heap.
//!
//! A worker reads a `Blob` through its byte stream, the next read under way while it works on the
//! bytes before ([`BlobReadAhead`]); where Blob streams have no BYOB reader (WebKit) it asks for
//! the next slices ahead (`blob.slice().arrayBuffer()`) and falls back to `FileReaderSync` when a
//! step wants bytes that were not asked for ([`BlobAheadSource`]). The main thread, which has no
//! synchronous reader, fetches the next MiB with `blob.slice().arrayBuffer()` when the bytes
//! read before are used up.

use std::cell::Cell;

use js_sys::{Array, ArrayBuffer, Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, FileReaderSync, ReadableStream, ReadableStreamByobReader, ReadableStreamReadResult};

use crate::error::{Error, ErrorKind};
use crate::ops::{ChunkSource, Feed};
use crate::runtime::js_error::describe;

/// A call's input, owned by the bridge.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    /// A private copy, or the caller's buffer moved in.
    Bytes(Uint8Array),
    /// Immutable, so shared with workers by reference and never copied up front.
    Blob(Blob),
    /// An app's task's input: any value the browser can clone.
    Value(TaskValue),
    /// A `ReadableStream` of bytes, read as it comes (`io::stream`): its length is unknown, it
    /// can be read once (so a call over it is never retried) and it moves to a worker whole.
    Stream(ReadableStream),
}

/// The input of an app's own task: a value the browser clones when it is sent to a worker (so
/// the caller's stays theirs, unless moved), and the buffers to move with it instead of copying.
#[derive(Debug, Clone)]
pub(crate) struct TaskValue {
    pub(crate) value: JsValue,
    /// Transferables (`ArrayBuffer`s, ports, ...) to move; empty: everything is cloned.
    pub(crate) transfer: Array,
}

impl Input {
    /// Length in bytes (0 for a task's value, whose size is not known).
    pub(crate) fn len(&self) -> u64 {
        match self {
            Input::Bytes(b) => u64::from(b.length()),
            Input::Blob(b) => b.size() as u64,
            Input::Value(_) | Input::Stream(_) => 0,
        }
    }

    /// Whether this is a stream, whose length is unknown and which can be read only once.
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, Input::Stream(_))
    }
    /// The bytes `[start, end)` as a new input: a `Blob` slice (no copy), or a copy of just
    /// those bytes (a view would make the browser clone the whole buffer when posting it). The
    /// whole input is itself: Chromium makes every `Blob`, a slice too, with a synchronous call
    /// to the browser process (1–7 ms on the page while workers read other Blobs). Sending the
    /// whole Blob and a range for the worker to slice instead took the page's synchronous part
    /// of an encryptFile of 64 MiB from 3.5–4.8 ms to 0.7–1.1 ms, but made the call 1.5–4.5%
    /// slower (an A/B page, Chromium 156, 5 runs of 11 rounds): the split's parts are sliced here.
    pub(crate) fn slice(&self, start: u64, end: u64) -> Result<Input, Error> {
        match self {
            Input::Bytes(b) if start == 0 && end == u64::from(b.length()) => Ok(Input::Bytes(b.clone())),
            Input::Blob(b) if start == 0 && end == b.size() as u64 => Ok(Input::Blob(b.clone())),
            Input::Bytes(b) => Ok(Input::Bytes(b.slice(start as u32, end as u32))),
            Input::Blob(b) => b
                .slice_with_f64_and_f64(start as f64, end as f64)
                .map(Input::Blob)
                .map_err(|_| Error::validation("cannot slice the input Blob")),
            Input::Value(_) => Err(not_bytes()),
            Input::Stream(_) => Err(Error::validation("a stream cannot be cut into pieces")),
        }
    }

    /// What travels to a worker as the request's `body`.
    pub(crate) fn as_js(&self) -> &JsValue {
        match self {
            Input::Bytes(b) => b.as_ref(),
            Input::Blob(b) => b.as_ref(),
            Input::Value(v) => &v.value,
            Input::Stream(s) => s.as_ref(),
        }
    }

    /// Reads a request body: a `Uint8Array` or a `Blob`.
    pub(crate) fn from_js(value: JsValue) -> Option<Input> {
        if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
            return Some(Input::Bytes(bytes.clone()));
        }
        value.dyn_into::<Blob>().ok().map(Input::Blob)
    }
}

fn not_bytes() -> Error {
    Error::validation("a task's input is not bytes")
}

/// A failed Blob read, with the browser's reason (e.g. `NotReadableError`: the file changed, or
/// the browser ran out of Blob storage).
pub(crate) fn read_error(e: &JsValue) -> Error {
    Error::new(ErrorKind::NotReadable, format!("the input Blob could not be read ({})", describe(e)))
}

/// The bytes a read of `[start, end)` of a Blob gave, checked: a file that shrank after it was
/// picked may read short rather than fail, and fewer bytes must not pass for the whole input
/// (a hash of part of the file).
///
/// # Errors
/// `NotReadableError` when fewer (or more) bytes came back.
pub(crate) fn checked_read(read: JsValue, start: u64, end: u64) -> Result<ArrayBuffer, Error> {
    let buffer: ArrayBuffer = read.dyn_into().map_err(|_| short_read())?;
    if u64::from(buffer.byte_length()) != end.saturating_sub(start) {
        return Err(short_read());
    }
    Ok(buffer)
}

pub(crate) fn short_read() -> Error {
    Error::new(ErrorKind::NotReadable, "the input Blob could not be read (it is shorter than its size)")
}

/// A [`ChunkSource`] over a `Uint8Array`, a chunk at a time.
#[derive(Debug)]
pub(crate) struct JsBytesSource {
    piece: JsPiece,
    chunk: u32,
}

impl JsBytesSource {
    /// Over bytes nobody else holds: a worker's own copy, a read of a `Blob`.
    pub(crate) fn new(bytes: Uint8Array, chunk: usize) -> Self {
        JsBytesSource { piece: JsPiece::new(bytes), chunk: chunk_len(chunk) }
    }

    /// Over a call's input on the page: the bridge's copy, or the caller's buffer moved in, which
    /// the caller still holds where `ArrayBuffer.prototype.transfer` is missing.
    pub(crate) fn on_page(bytes: Uint8Array, chunk: usize) -> Self {
        JsBytesSource { piece: JsPiece::held_by_caller(bytes), chunk: chunk_len(chunk) }
    }

    /// Whether every byte was handed out.
    fn used_up(&self) -> bool {
        self.piece.used_up()
    }
}

impl ChunkSource for JsBytesSource {
    fn total(&self) -> u64 {
        u64::from(self.piece.len)
    }

    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        self.piece.next_into(self.chunk, buf)
    }
}

/// A step's chunk length as JavaScript lengths go (at least a byte).
pub(crate) fn chunk_len(chunk: usize) -> u32 {
    u32::try_from(chunk.max(1)).unwrap_or(u32::MAX)
}

/// Bytes of a `Blob` read per asynchronous read on the main thread: a read costs a round trip
/// to the browser's blob storage, so it fetches many of the page's small chunks at once.
const BLOB_READ: u64 = 1 << 20;

/// A [`ChunkSource`] for the main thread: bytes, or a `Blob` whose next [`BLOB_READ`] bytes are
/// fetched by [`prepare`](Self::prepare) (async) once the ones read before are used up.
#[derive(Debug)]
pub(crate) enum PageSource {
    Bytes(JsBytesSource),
    Blob { blob: Blob, chunk: u32, pos: u64, ready: Option<JsBytesSource> },
}

impl Feed for PageSource {
    fn ready(&mut self) -> impl std::future::Future<Output = Result<(), Error>> {
        self.prepare()
    }
}

impl PageSource {
    /// # Errors
    /// `ValidationError` for a task's value, which is not bytes.
    pub(crate) fn new(input: &Input, chunk: usize) -> Result<Self, Error> {
        Ok(match input {
            Input::Bytes(b) => PageSource::Bytes(JsBytesSource::on_page(b.clone(), chunk)),
            Input::Blob(b) => PageSource::Blob { blob: b.clone(), chunk: chunk_len(chunk), pos: 0, ready: None },
            Input::Value(_) | Input::Stream(_) => return Err(not_bytes()),
        })
    }

    /// Makes the next chunk available to [`ChunkSource::next_chunk`].
    pub(crate) async fn prepare(&mut self) -> Result<(), Error> {
        let PageSource::Blob { blob, chunk, pos, ready } = self else { return Ok(()) };
        let len = blob.size() as u64;
        if ready.as_ref().is_some_and(|r| !r.used_up()) || *pos >= len {
            return Ok(());
        }
        let end = (*pos + BLOB_READ.max(u64::from(*chunk))).min(len);
        let piece = blob.slice_with_f64_and_f64(*pos as f64, end as f64).map_err(|e| read_error(&e))?;
        let buffer = JsFuture::from(piece.array_buffer()).await.map_err(|e| read_error(&e))?;
        let buffer = checked_read(buffer, *pos, end)?;
        *ready = Some(JsBytesSource::new(Uint8Array::new(&buffer), *chunk as usize));
        *pos = end;
        Ok(())
    }
}

impl ChunkSource for PageSource {
    fn total(&self) -> u64 {
        match self {
            PageSource::Bytes(s) => s.total(),
            PageSource::Blob { blob, .. } => blob.size() as u64,
        }
    }

    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        match self {
            PageSource::Bytes(s) => s.next_chunk(buf),
            PageSource::Blob { ready, .. } => match ready {
                Some(bytes) => bytes.next_chunk(buf),
                None => Ok(false),
            },
        }
    }
}

thread_local! {
    /// Whether this realm's `blob.stream()` is a byte stream (WebKit's is not), found out once on
    /// an empty Blob: WebKit's stream of a real one reads it all into memory as soon as it is
    /// made, whether anybody reads it or not.
    static BYOB: Cell<Option<bool>> = const { Cell::new(None) };
}

/// A BYOB reader of `blob`'s stream, or `None` where Blob streams have none.
pub(crate) fn byob_reader(blob: &Blob) -> Option<ReadableStreamByobReader> {
    if !byob_readers() {
        return None;
    }
    let stream = blob.stream();
    let reader = ReadableStreamByobReader::new(&stream).ok();
    if reader.is_none() {
        ignore(stream.cancel());
    }
    reader
}

fn byob_readers() -> bool {
    BYOB.with(|known| {
        known.get().unwrap_or_else(|| {
            let empty = Blob::new().ok();
            let yes = empty.is_some_and(|b| ReadableStreamByobReader::new(&b.stream()).is_ok());
            known.set(Some(yes));
            yes
        })
    })
}

/// Test builds: read Blobs in slices, as where there is no BYOB reader (`on`), or find out
/// again.
#[cfg(feature = "test-ops")]
pub(crate) fn force_slices(on: bool) {
    BYOB.with(|known| known.set(on.then_some(false)));
}

/// Lets go of a promise whose outcome nobody needs, its rejection handled.
pub(crate) fn ignore(promise: Promise) {
    let settled = JsFuture::from(promise);
    wasm_bindgen_futures::spawn_local(async move {
        let _: Result<JsValue, JsValue> = settled.await;
    });
}

/// One read's bytes in JavaScript memory (a BYOB read of a Blob's stream, a stream's chunk, a
/// call's input), handed out up to a chunk at a time, in order.
#[derive(Debug)]
pub(crate) struct JsPiece {
    bytes: Uint8Array,
    /// Its length when it came (each read of it is a call into JavaScript).
    len: u32,
    /// How many were handed out.
    at: u32,
    /// The caller holds its buffer too and may detach (or shrink) it while it is read: its
    /// length is looked at again before each piece. Bytes only the bridge holds skip that call.
    caller_holds: bool,
}

impl JsPiece {
    /// Bytes only the bridge holds: a read of a `Blob`, a worker's own copy or relayed chunk.
    pub(crate) fn new(bytes: Uint8Array) -> Self {
        JsPiece { len: bytes.length(), bytes, at: 0, caller_holds: false }
    }

    /// Bytes the caller may still hold: a stream's chunk or a call's input on the page.
    pub(crate) fn held_by_caller(bytes: Uint8Array) -> Self {
        JsPiece { caller_holds: true, ..Self::new(bytes) }
    }

    /// Whether every byte was handed out.
    pub(crate) fn used_up(&self) -> bool {
        self.at >= self.len
    }

    /// The next bytes, up to `chunk`, as a view of the read's buffer (no copy); `None` when
    /// none are left.
    ///
    /// # Errors
    /// `ValidationError` when the caller detached or shrank the buffer since the bytes came.
    pub(crate) fn next_view(&mut self, chunk: u32) -> Result<Option<Uint8Array>, Error> {
        let Some(end) = self.next_end(chunk)? else { return Ok(None) };
        let view = self.bytes.subarray(self.at, end);
        self.at = end;
        Ok(Some(view))
    }

    /// Copies the next bytes, up to `chunk`, into `buf` (resized to them); `false` when none
    /// are left.
    ///
    /// # Errors
    /// As [`next_view`](Self::next_view).
    pub(crate) fn next_into(&mut self, chunk: u32, buf: &mut Vec<u8>) -> Result<bool, Error> {
        let Some(end) = self.next_end(chunk)? else { return Ok(false) };
        buf.resize((end - self.at) as usize, 0);
        // Always through a view of fixed length: one whose length follows a growable buffer
        // could grow before the copy, which then would not match `buf`.
        self.bytes.subarray(self.at, end).copy_to(buf);
        self.at = end;
        Ok(true)
    }

    /// The buffer the bytes are in (to be read into again).
    pub(crate) fn buffer(&self) -> ArrayBuffer {
        self.bytes.buffer()
    }

    fn next_end(&self, chunk: u32) -> Result<Option<u32>, Error> {
        if self.used_up() {
            return Ok(None);
        }
        // Grown is fine (a view that follows a growable buffer): the bytes that came are there.
        if self.caller_holds && self.bytes.length() < self.len {
            return Err(Error::validation("the input's bytes were detached or shrunk while they were read"));
        }
        Ok(Some(self.at.saturating_add(chunk).min(self.len)))
    }
}

/// What a BYOB read of a Blob's stream settled with, as the bytes it brought (a view of the
/// buffer the read was given, which the read moved).
///
/// # Errors
/// `NotReadableError` when the read failed (the browser's reason quoted) or the stream ended
/// before the Blob's size.
pub(crate) fn byob_bytes(read: Result<JsValue, JsValue>) -> Result<Uint8Array, Error> {
    let read: ReadableStreamReadResult = read.map_err(|e| read_error(&e))?.unchecked_into();
    let value = read.get_value().dyn_into::<Uint8Array>().ok();
    value.filter(|_| read.get_done() == Some(false)).ok_or_else(short_read)
}

/// A [`ChunkSource`] for a worker: bytes, or a `Blob` read through its byte stream
/// ([`BlobReadAhead`]) or, where it has no BYOB reader, in slices ([`BlobAheadSource`]).
#[derive(Debug)]
pub(crate) enum WorkerSource {
    Bytes(JsBytesSource),
    Stream(BlobReadAhead),
    Blob(BlobAheadSource),
}

impl WorkerSource {
    pub(crate) fn new(input: &Input, chunk: usize) -> Result<Self, Error> {
        Ok(match input {
            Input::Bytes(bytes) => WorkerSource::Bytes(JsBytesSource::new(bytes.clone(), chunk)),
            Input::Blob(blob) => match BlobReadAhead::open(blob, chunk) {
                Some(stream) => WorkerSource::Stream(stream),
                None => WorkerSource::Blob(BlobAheadSource::new(blob.clone(), chunk)?),
            },
            Input::Value(_) | Input::Stream(_) => return Err(not_bytes()),
        })
    }
}

/// Each of [`BlobReadAhead`]'s two buffers.
const READ_AHEAD_BUFFER: u32 = 4 << 20;

/// A `Blob` in a worker, read through its byte stream (`blob.stream()`, BYOB) into two buffers
/// in turn: while the steps work on the bytes one read brought, the next read fills the other
/// buffer. Against [`BlobAheadSource`]'s slices, no read waits for a whole 8 MiB piece and the
/// reads reuse two buffers instead of a fresh one each (whose pages fault on first touch):
/// hash-wasm over a 64 MiB Blob in a
/// worker, fed this way, ran 254 MB/s where 8 MiB slices read two ahead gave 208 (a scratch
/// page, Chromium 156, 9 interleaved rounds). A step gets at most a chunk, and never bytes of
/// two reads: the ops take their input in pieces of any size.
#[derive(Debug)]
pub(crate) struct BlobReadAhead {
    reader: ReadableStreamByobReader,
    chunk: u32,
    total: u64,
    /// Bytes the reads brought so far.
    received: u64,
    /// The bytes of the last read.
    front: Option<JsPiece>,
    /// A buffer free for a read (none while both are taken).
    free: Option<ArrayBuffer>,
    /// The read under way, into the buffer that is neither `front`'s nor `free`.
    pending: Option<JsFuture>,
}

impl BlobReadAhead {
    /// A reader of `blob` handing out up to `chunk` bytes a step, its first read asked for at
    /// once; `None` where the browser's Blob streams have no BYOB reader, or for an empty Blob.
    pub(crate) fn open(blob: &Blob, chunk: usize) -> Option<BlobReadAhead> {
        let total = blob.size() as u64;
        if total == 0 {
            return None;
        }
        let reader = byob_reader(blob)?;
        // No larger than the Blob: each call's buffers are new memory.
        let capacity = u32::try_from(total).map_or(READ_AHEAD_BUFFER, |t| t.min(READ_AHEAD_BUFFER));
        let chunk = chunk_len(chunk);
        let mut this = BlobReadAhead {
            reader,
            chunk,
            total,
            received: 0,
            front: None,
            free: Some(ArrayBuffer::new(capacity)),
            pending: None,
        };
        this.ask(ArrayBuffer::new(capacity));
        Some(this)
    }

    /// Asks for the next bytes into `buffer`, unless all came.
    fn ask(&mut self, buffer: ArrayBuffer) {
        let left = self.total - self.received;
        if left == 0 {
            self.free = Some(buffer);
            return;
        }
        let len = u64::from(buffer.byte_length()).min(left) as u32;
        let view = Uint8Array::new_with_byte_offset_and_length(&buffer, 0, len);
        self.pending = Some(JsFuture::from(self.reader.read_with_array_buffer_view(&view)));
    }

    /// Makes the next bytes available: those of the last read, or, once they are all handed
    /// out, the next read's (its buffer then goes to the read after it).
    async fn prepare(&mut self) -> Result<(), Error> {
        if self.front.as_ref().is_some_and(|front| !front.used_up()) {
            return Ok(());
        }
        if let Some(front) = self.front.take() {
            self.free = Some(front.buffer());
        }
        while let Some(pending) = self.pending.as_mut() {
            // Taken only once it settled: a wait given up (the call stopped) keeps the read.
            let read = pending.await;
            self.pending = None;
            let piece = JsPiece::new(byob_bytes(read)?);
            self.received += u64::from(piece.len);
            let next = self.free.take().expect("one buffer is free while a read is under way");
            if piece.used_up() {
                // Nothing came: the same buffer reads again.
                self.free = Some(next);
                self.ask(piece.buffer());
                continue;
            }
            self.front = Some(piece);
            self.ask(next);
            break;
        }
        Ok(())
    }
}

impl ChunkSource for BlobReadAhead {
    fn total(&self) -> u64 {
        self.total
    }

    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        if let Some(front) = self.front.as_mut() {
            if front.next_into(self.chunk, buf)? {
                return Ok(true);
            }
        }
        if self.received < self.total {
            // `prepare` ends with bytes to hand out, or every byte handed out.
            debug_assert!(false, "next_chunk without ready");
            return Err(Error::validation("internal: a Blob read ahead was asked for bytes not read yet"));
        }
        Ok(false)
    }
}

impl Drop for BlobReadAhead {
    /// A reader given up before the Blob's end (a failure, a cancel) stops the browser's reads.
    fn drop(&mut self) {
        // Also when every byte came: the stream, never read to its end, is let go. Rejected when
        // it had failed already: nothing more to stop.
        ignore(self.reader.cancel());
    }
}

/// Pieces of a `Blob` a worker asks for ahead of the one it works on.
const READS_AHEAD: usize = 2;

/// The smallest piece of a `Blob` a worker asks for at once (its steps take chunks of it): each
/// `blob.slice().arrayBuffer()` costs ~2 ms of its own in Chromium 156 here (1 MiB reads ~370
/// MB/s, 16 MiB ~860; a 64 MiB Blob hashed in a worker: 1 MiB pieces 185 MB/s, 8 MiB 195, 16 MiB
/// 186).
const READ_PIECE: u64 = 8 << 20;

/// Where Blob streams have no BYOB reader ([`BlobReadAhead`]; WebKit): a `Blob` in a worker,
/// read ahead in slices. [`ready`](Feed::ready) waits for the next piece asked for
/// and asks for the ones after it, so the browser fetches them while this thread hashes,
/// compresses or seals the bytes before (with `FileReaderSync` alone the thread waited for every
/// read: a 64 MiB Blob hashed at 122 MB/s where the same bytes in memory hashed at 185). A step
/// that wants bytes nobody asked for (it read past what `ready` made available) gets them from
/// `FileReaderSync`, the reads asked for dropped: the bytes always come in order.
#[derive(Debug)]
pub(crate) struct BlobAheadSource {
    blob: Blob,
    sync: FileReaderSync,
    chunk: u64,
    /// How much one read asks for: whole chunks, at least [`READ_PIECE`].
    piece: u64,
    /// The bytes handed out or held in `ready` end here.
    pos: u64,
    ready: Option<JsBytesSource>,
    /// Reads asked for, in order from `pos`: where each ends, and its promise.
    ahead: std::collections::VecDeque<(u64, JsFuture)>,
}

impl BlobAheadSource {
    pub(crate) fn new(blob: Blob, chunk: usize) -> Result<Self, Error> {
        let sync = FileReaderSync::new().map_err(|_| Error::validation("FileReaderSync is unavailable here"))?;
        let chunk = chunk.max(1) as u64;
        Ok(BlobAheadSource {
            blob,
            sync,
            chunk,
            piece: READ_PIECE.div_ceil(chunk) * chunk,
            pos: 0,
            ready: None,
            ahead: std::collections::VecDeque::new(),
        })
    }

    fn has_ready(&self) -> bool {
        self.ready.as_ref().is_some_and(|r| !r.used_up())
    }

    /// Asks for the pieces after those asked for, up to [`READS_AHEAD`].
    fn ask_ahead(&mut self) -> Result<(), Error> {
        let total = self.total();
        while self.ahead.len() < READS_AHEAD {
            let start = self.ahead.back().map_or(self.pos, |(end, _)| *end);
            if start >= total {
                break;
            }
            let end = (start + self.piece).min(total);
            let piece = self.blob.slice_with_f64_and_f64(start as f64, end as f64).map_err(|e| read_error(&e))?;
            self.ahead.push_back((end, JsFuture::from(piece.array_buffer())));
        }
        Ok(())
    }

    /// Makes the next piece available, asking for the ones after it.
    async fn prepare(&mut self) -> Result<(), Error> {
        if !self.has_ready() {
            // The piece used up goes before the next is awaited.
            self.ready = None;
            self.ask_ahead()?;
            if let Some((end, read)) = self.ahead.pop_front() {
                let buffer = checked_read(read.await.map_err(|e| read_error(&e))?, self.pos, end)?;
                self.ready = Some(JsBytesSource::new(Uint8Array::new(&buffer), self.chunk as usize));
                self.pos = end;
            }
        }
        self.ask_ahead()
    }
}

impl ChunkSource for BlobAheadSource {
    fn total(&self) -> u64 {
        self.blob.size() as u64
    }

    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        if let Some(ready) = self.ready.as_mut().filter(|r| !r.used_up()) {
            return ready.next_chunk(buf);
        }
        let total = self.total();
        if self.pos >= total {
            return Ok(false);
        }
        // Past what was made ready: read the bytes now; the reads asked for start elsewhere.
        self.ahead.clear();
        self.ready = None;
        let end = (self.pos + self.chunk).min(total);
        let piece = self
            .blob
            .slice_with_f64_and_f64(self.pos as f64, end as f64)
            .and_then(|p| self.sync.read_as_array_buffer(&p))
            .map_err(|e| read_error(&e))?;
        let piece = checked_read(piece.into(), self.pos, end)?;
        let bytes = Uint8Array::new(&piece);
        buf.resize(bytes.length() as usize, 0);
        bytes.copy_to(buf);
        self.pos = end;
        Ok(true)
    }
}

impl ChunkSource for WorkerSource {
    fn total(&self) -> u64 {
        match self {
            WorkerSource::Bytes(s) => s.total(),
            WorkerSource::Stream(s) => s.total(),
            WorkerSource::Blob(s) => s.total(),
        }
    }

    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        match self {
            WorkerSource::Bytes(s) => s.next_chunk(buf),
            WorkerSource::Stream(s) => s.next_chunk(buf),
            WorkerSource::Blob(s) => s.next_chunk(buf),
        }
    }
}

impl Feed for WorkerSource {
    async fn ready(&mut self) -> Result<(), Error> {
        match self {
            WorkerSource::Bytes(_) => Ok(()),
            WorkerSource::Stream(s) => s.prepare().await,
            WorkerSource::Blob(s) => s.prepare().await,
        }
    }
}

/// A source whose input can be handed out as JavaScript bytes, for an engine that reads it there
/// (WebCrypto's chunks of the stream format): a source that holds its input in JavaScript hands
/// out views, so the bytes never cross into wasm memory and back.
pub(crate) trait JsFeed: Feed {
    /// The next input after [`Feed::ready`], or `None` at its end. By default a copy of the next
    /// chunk, read through `buf`.
    ///
    /// # Errors
    /// A read failure of the underlying source.
    fn next_js(&mut self, buf: &mut Vec<u8>) -> Result<Option<Uint8Array>, Error> {
        Ok(self.next_chunk(buf)?.then(|| Uint8Array::from(buf.as_slice())))
    }
}

impl JsFeed for PageSource {}

impl JsFeed for WorkerSource {}
