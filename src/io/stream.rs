//! Web Streams as a call's input and output, through `worker/streams.js`: a `ReadableStream`
//! read a chunk at a time ([`StreamSource`], a [`Feed`] that awaits each chunk), and a
//! `WritableStream` the output is written to as it is produced ([`StreamSink`] collects a step's
//! output, [`Flushing`] writes it out before the next step, waiting while the consumer is
//! behind). Both give up at once when the call is cancelled (an `AbortController` tied to the
//! call's [`LocalCancel`]), so a call waiting on a stalled stream still stops.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, ReadableStream, WritableStream};

use crate::error::{Error, ErrorKind};
use crate::io::output::JsSink;
use crate::io::source::{chunk_len, JsFeed, JsPiece};
use crate::ops::{ChunkSource, Feed, Sink};
use crate::runtime::cancel::aborted;
use crate::runtime::cancel::LocalCancel;
use crate::runtime::js_error::describe;

#[wasm_bindgen(module = "/worker/streams.js")]
extern "C" {
    type ChunkReader;
    #[wasm_bindgen(constructor)]
    fn new(stream: &ReadableStream, signal: &AbortSignal) -> ChunkReader;
    #[wasm_bindgen(method)]
    fn next(this: &ChunkReader) -> Promise;
    #[wasm_bindgen(method)]
    fn cancel(this: &ChunkReader, reason: &JsValue);

    type ChunkWriter;
    #[wasm_bindgen(constructor)]
    fn new(stream: &WritableStream, signal: &AbortSignal) -> ChunkWriter;
    #[wasm_bindgen(method)]
    fn write(this: &ChunkWriter, chunk: &Uint8Array) -> Promise;
    #[wasm_bindgen(method)]
    fn close(this: &ChunkWriter) -> Promise;
    #[wasm_bindgen(method)]
    fn abort(this: &ChunkWriter, reason: &JsValue) -> Promise;

    #[wasm_bindgen(js_name = isCancelled)]
    fn is_cancelled(value: &JsValue) -> bool;

    /// What travels to a worker for a stream: itself, or a `MessagePort` relaying it.
    #[wasm_bindgen(js_name = portable, catch)]
    pub(crate) fn portable(stream: &JsValue) -> Result<JsValue, JsValue>;
    /// The input stream a worker got (transferred, or rebuilt from its relay).
    #[wasm_bindgen(js_name = readableOf)]
    pub(crate) fn readable_of(value: &JsValue) -> Option<ReadableStream>;
    /// The output stream a worker got (transferred, or rebuilt from its relay).
    #[wasm_bindgen(js_name = writableOf)]
    pub(crate) fn writable_of(value: &JsValue) -> Option<WritableStream>;
    /// The page's end of a call's output stream (`worker/streams.js`).
    pub(crate) type PageEnd;
    #[wasm_bindgen(js_name = pageEnd)]
    pub(crate) fn page_end(stream: &WritableStream) -> PageEnd;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn writable(this: &PageEnd) -> WritableStream;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn done(this: &PageEnd) -> Promise;
    #[wasm_bindgen(method)]
    pub(crate) fn fail(this: &PageEnd, reason: &JsValue);

    #[wasm_bindgen(js_name = through, catch)]
    fn through(start: &JsValue, options: &JsValue) -> Result<JsValue, JsValue>;

    /// Test builds: transfer streams where the browser can, instead of relaying them.
    #[cfg(feature = "test-ops")]
    #[wasm_bindgen(js_name = setTransferStreams)]
    pub(crate) fn set_transfer_streams(on: bool);
}

/// A `TransformStream`-shaped `{ writable, readable }` whose work is one call:
/// `start(input, options)` makes it over `input` (what is written to `writable`) with `options`
/// the caller's plus `output` (what `readable` reads) and `signal` (either side aborted or
/// cancelled). The call's error errors both sides (`worker/streams.js`).
///
/// # Errors
/// A `TypeError` when `options` is not an object.
pub(crate) fn transform(
    start: impl FnOnce(JsValue, JsValue) -> Promise + 'static,
    options: &JsValue,
) -> Result<JsValue, JsValue> {
    through(&Closure::once_into_js(start), options)
}

/// The stream a call's output is written to: the `WritableStream` it named, or a new writable
/// of the `FileSystemFileHandle` it named (the file is replaced when the stream closes, and left
/// as it was when the call fails).
///
/// # Errors
/// `ValidationError` for anything else; `NotSupportedError` when the file cannot be opened for
/// writing here.
pub(crate) async fn open_sink(sink: &JsValue) -> Result<WritableStream, Error> {
    if let Some(stream) = sink.dyn_ref::<WritableStream>() {
        return Ok(stream.clone());
    }
    let create = Reflect::get(sink, &"createWritable".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| Error::validation("output is not a WritableStream or a FileSystemFileHandle"))?;
    let cannot = |e: &JsValue| {
        Error::new(
            ErrorKind::Unsupported,
            format!("the output file cannot be opened for writing here: {}", describe(e)),
        )
    };
    let opened = create.call0(sink).map_err(|e| cannot(&e))?;
    let stream = JsFuture::from(Promise::resolve(&opened)).await.map_err(|e| cannot(&e))?;
    stream.dyn_into().map_err(|_| Error::validation("createWritable() did not give a WritableStream"))
}

/// The call's cancellation as an `AbortSignal` for the stream helpers (one per call: the call's
/// flag holds one controller).
pub(crate) fn cancel_signal(cancel: &LocalCancel) -> AbortSignal {
    let controller = AbortController::new().expect("AbortController exists wherever streams do");
    let signal = controller.signal();
    cancel.attach(controller);
    signal
}

/// A call's input stream, read in order; its length is unknown (0) until it ends.
#[derive(Debug)]
pub(crate) struct StreamSource {
    reader: ChunkReader,
    /// The chunk being used up, and how far.
    current: Option<JsPiece>,
    chunk: u32,
    /// The chunks are the caller's (see [`StreamSource::new`]).
    on_page: bool,
    ended: bool,
}

impl std::fmt::Debug for ChunkReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkReader")
    }
}

impl std::fmt::Debug for PageEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageEnd")
    }
}

/// A call's output stream, taken on the page: what the call writes goes through a pipe of the
/// bridge's into the caller's stream, and the call settles only once that stream has it all.
#[derive(Debug, Clone)]
pub(crate) struct OutputEnd(Rc<PageEnd>);

impl OutputEnd {
    /// Takes `sink` when it is a `WritableStream` (a file handle is opened where the call runs).
    pub(crate) fn take(sink: &JsValue) -> Option<OutputEnd> {
        sink.dyn_ref::<WritableStream>().map(|stream| OutputEnd(Rc::new(page_end(stream))))
    }

    /// What the call writes into.
    pub(crate) fn writable(&self) -> JsValue {
        self.0.writable().into()
    }

    /// After the call: `result`, once the caller's stream has taken everything; a failed call
    /// errors the caller's stream with its error (if the call never got to).
    pub(crate) async fn settle(&self, result: Result<JsValue, Error>) -> Result<JsValue, Error> {
        match result {
            Ok(value) => {
                JsFuture::from(self.0.done()).await.map_err(|e| write_error(&e))?;
                Ok(value)
            }
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    /// The call failed: the caller's stream is errored with its error (unless the call's side
    /// is already in use, which errors it itself).
    pub(crate) fn fail(&self, why: &Error) {
        self.0.fail(&crate::runtime::js_error::to_js(why));
    }
}

impl std::fmt::Debug for ChunkWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkWriter")
    }
}

impl StreamSource {
    /// Reads `stream` in pieces of at most `chunk` bytes (a larger chunk of the stream is cut).
    /// `on_page`: the chunks are the caller's own objects, which the caller may still detach
    /// while they are read (in a worker they are copies).
    ///
    /// # Errors
    /// `ValidationError` when the stream is locked (already being read).
    pub(crate) fn new(
        stream: &ReadableStream,
        chunk: usize,
        cancel: &AbortSignal,
        on_page: bool,
    ) -> Result<Self, Error> {
        if stream.locked() {
            return Err(Error::validation("the input stream is locked (another reader holds it)"));
        }
        Ok(StreamSource {
            reader: ChunkReader::new(stream, cancel),
            current: None,
            chunk: chunk_len(chunk),
            on_page,
            ended: false,
        })
    }

    /// Stops the stream's producer: the call ended before the stream did.
    pub(crate) fn cancel(&self, why: &Error) {
        if !self.ended {
            self.reader.cancel(&JsValue::from_str(why.message()));
        }
    }

    fn used_up(&self) -> bool {
        self.current.as_ref().is_none_or(JsPiece::used_up)
    }
}

impl ChunkSource for StreamSource {
    fn total(&self) -> u64 {
        0
    }

    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        match self.current.as_mut() {
            Some(piece) => piece.next_into(self.chunk, buf),
            None => Ok(false),
        }
    }
}

impl JsFeed for StreamSource {
    /// The next step's worth of the chunk read last, as a view: no copy (a step at a time, as
    /// `next_chunk`, so that the output of a large chunk goes out as it is made). A chunk over
    /// shared memory (a transferred stream keeps it shared) is copied: WebCrypto refuses it.
    fn next_js(&mut self, _: &mut Vec<u8>) -> Result<Option<Uint8Array>, Error> {
        let piece = match self.current.as_mut() {
            Some(current) => current.next_view(self.chunk)?,
            None => None,
        };
        let Some(piece) = piece else { return Ok(None) };
        if piece.buffer().is_instance_of::<js_sys::ArrayBuffer>() {
            Ok(Some(piece))
        } else {
            Ok(Some(Uint8Array::new(&piece)))
        }
    }
}

impl Feed for StreamSource {
    async fn ready(&mut self) -> Result<(), Error> {
        // Empty chunks are skipped: the step loop takes "no chunk" for the end.
        while !self.ended && self.used_up() {
            match JsFuture::from(self.reader.next()).await {
                Ok(chunk) if chunk.is_null() => self.ended = true,
                Ok(chunk) if self.on_page => self.current = Some(JsPiece::held_by_caller(chunk.unchecked_into())),
                Ok(chunk) => self.current = Some(JsPiece::new(chunk.unchecked_into())),
                Err(e) if is_cancelled(&e) => return Err(aborted()),
                Err(e) => return Err(stream_failed(&e)),
            }
        }
        Ok(())
    }
}

/// The output a step wrote, waiting for [`Flushing`] to write it to the stream.
#[derive(Debug, Default, Clone)]
pub(crate) struct StreamSink(Rc<RefCell<Pending>>);

/// Output not yet written to the stream, in order: parts already in JavaScript memory, then
/// bytes written since the last of them.
#[derive(Debug, Default)]
struct Pending {
    parts: Vec<Uint8Array>,
    bytes: Vec<u8>,
}

impl Pending {
    /// Moves the bytes out into parts of at most [`PIECE`].
    fn seal_bytes(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        self.parts.extend(bytes.chunks(PIECE).map(Uint8Array::from));
    }
}

impl Sink for StreamSink {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.borrow_mut().bytes.extend_from_slice(bytes);
        Ok(())
    }
}

impl JsSink for StreamSink {
    fn write_js(&mut self, part: Uint8Array) -> Result<(), Error> {
        let mut pending = self.0.borrow_mut();
        pending.seal_bytes();
        pending.parts.push(part);
        Ok(())
    }

    fn as_sink(&mut self) -> &mut dyn Sink {
        self
    }
}

/// Most bytes one write of the op's own output carries (WebCrypto's results go out whole: a
/// sealed chunk each).
const PIECE: usize = 1 << 20;

/// The call's output stream.
#[derive(Debug)]
pub(crate) struct StreamWriter {
    writer: ChunkWriter,
    pending: StreamSink,
}

impl StreamWriter {
    /// # Errors
    /// `ValidationError` when the stream is locked (another writer holds it).
    pub(crate) fn new(stream: &WritableStream, cancel: &AbortSignal) -> Result<Self, Error> {
        if stream.locked() {
            return Err(Error::validation("the output stream is locked (another writer holds it)"));
        }
        Ok(StreamWriter { writer: ChunkWriter::new(stream, cancel), pending: StreamSink::default() })
    }

    /// The sink the op writes to.
    pub(crate) fn sink(&self) -> StreamSink {
        self.pending.clone()
    }

    /// Writes out what the op has written so far, waiting while the consumer is behind.
    ///
    /// # Errors
    /// `AbortError` when the call is cancelled or the stream's reader cancelled it.
    pub(crate) async fn flush(&self) -> Result<(), Error> {
        let parts = {
            let mut pending = self.pending.0.borrow_mut();
            pending.seal_bytes();
            std::mem::take(&mut pending.parts)
        };
        for part in &parts {
            JsFuture::from(self.writer.write(part)).await.map_err(|e| write_error(&e))?;
        }
        Ok(())
    }

    /// Writes out the rest and closes the stream.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub(crate) async fn close(&self) -> Result<(), Error> {
        self.flush().await?;
        JsFuture::from(self.writer.close()).await.map_err(|e| write_error(&e))?;
        Ok(())
    }

    /// Errors the stream: the call failed. Its consumer sees the call's error. Resolves once the
    /// stream's sink has let go, so the call settles after a file it wrote is released.
    pub(crate) async fn abort(&self, why: &Error) {
        let _ = JsFuture::from(self.writer.abort(&crate::runtime::js_error::to_js(why))).await;
    }
}

/// The input stream errored: a file behind it that could not be read (changed, removed) is a
/// `NotReadableError`, as for a `Blob` input; anything else the stream's own failure.
fn stream_failed(e: &JsValue) -> Error {
    let name = e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.name()));
    let kind = match name.as_deref() {
        Some("NotReadableError" | "NotFoundError") => ErrorKind::NotReadable,
        _ => ErrorKind::Validation,
    };
    Error::new(kind, format!("the input stream failed: {}", describe(e)))
}

fn write_error(e: &JsValue) -> Error {
    if is_cancelled(e) {
        return aborted();
    }
    Error::new(ErrorKind::Abort, format!("the output stream was closed before the call finished: {}", describe(e)))
}

/// A source that first writes out the output of the step before: output leaves wasm memory
/// step by step, and the op waits (reads no more input) while the output's consumer is behind.
#[derive(Debug)]
pub(crate) struct Flushing<'a, S> {
    pub(crate) inner: &'a mut S,
    pub(crate) writer: &'a StreamWriter,
}

impl<S: ChunkSource> ChunkSource for Flushing<'_, S> {
    fn total(&self) -> u64 {
        self.inner.total()
    }

    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        self.inner.next_chunk(buf)
    }
}

impl<S: JsFeed> JsFeed for Flushing<'_, S> {
    fn next_js(&mut self, buf: &mut Vec<u8>) -> Result<Option<Uint8Array>, Error> {
        self.inner.next_js(buf)
    }
}

impl<S: Feed> Feed for Flushing<'_, S> {
    async fn ready(&mut self) -> Result<(), Error> {
        self.writer.flush().await?;
        self.inner.ready().await
    }
}
