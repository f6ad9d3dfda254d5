//! The platform's WebCrypto as an engine (`worker_bridge_core::ops::engine` decides when): one
//! `crypto.subtle` call runs a whole job, with the hardware's AES and SHA instructions, off
//! wasm. The bytes out are the Rust code's: standard SHA-256, and AES-256-GCM as ciphertext ‖
//! 16-byte tag.
//!
//! A WebCrypto call cannot be interrupted or report progress: cancellation is checked before and
//! after it (and between chunks), and progress moves a whole call (or chunk) at a time.

use std::collections::VecDeque;

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, Blob, CryptoKey, SubtleCrypto};

use crate::error::{Error, ErrorKind};
use crate::io::blob_stream::BlobStream;
use crate::io::output::JsSink;
use crate::io::source::JsFeed;
use crate::io::source::{self, Input};
use crate::ops::engine::PlatformJob;
use crate::ops::stream_format::{Cut, Cutter, RunPlan, HEADER_LEN};
use crate::ops::{Pace, Progress};
use crate::runtime::js_error::describe;

/// This global's `crypto.subtle`, where there is one (secure contexts: https, localhost).
/// Looked up once per realm: it cannot come or go, and every call asks.
fn subtle() -> Option<SubtleCrypto> {
    thread_local! {
        static SUBTLE: Option<SubtleCrypto> = {
            let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok().filter(JsValue::is_object);
            crypto
                .and_then(|c| Reflect::get(&c, &"subtle".into()).ok())
                .filter(JsValue::is_object)
                .map(JsCast::unchecked_into)
        };
    }
    SUBTLE.with(Clone::clone)
}

/// Whether WebCrypto is there to run jobs.
pub(crate) fn available() -> bool {
    subtle().is_some()
}

/// Runs `job` over `input` and returns its output in parts, in order (the placement joins them:
/// at once in a worker, in slices on the page). `pace` is asked before the call and between
/// chunks whether to go on.
///
/// # Errors
/// `AuthenticationError` when a tag does not verify; what `pace` stops the call with (cancelled,
/// timed out) before or during the call; `NotSupportedError` without WebCrypto;
/// `ValidationError` for what the browser refuses.
pub(crate) async fn run<P: Pace>(
    job: PlatformJob<'_>,
    input: &Input,
    on_page: bool,
    pace: &mut P,
    progress: &mut dyn Progress,
) -> Result<Vec<Uint8Array>, Error> {
    let subtle = subtle().ok_or_else(|| Error::new(ErrorKind::Unsupported, "crypto.subtle is missing here"))?;
    pace.check()?;
    let total = input.len();
    progress.report(0, total);
    if let PlatformJob::Chunks { plan, open } = &job {
        let segment = if on_page { PAGE_BLOB_SEGMENT } else { BLOB_SEGMENT };
        return chunks(&subtle, plan, *open, input, segment, pace, progress).await;
    }
    let data: Object = match input {
        Input::Bytes(bytes) => bytes.clone().into(),
        Input::Blob(blob) => {
            let read = JsFuture::from(blob.array_buffer()).await.map_err(read_failed)?;
            source::checked_read(read, 0, total)?.into()
        }
        Input::Value(_) | Input::Stream(_) => return Err(Error::validation("WebCrypto takes bytes")),
    };
    let result = match job {
        PlatformJob::Sha256 => call(subtle.digest_with_str_and_buffer_source("SHA-256", &data)).await,
        PlatformJob::Encrypt { key, nonce, aad } => {
            let (key, params) = (import(&subtle, &key.0, "encrypt").await?, params(nonce, &Uint8Array::from(aad)));
            call(subtle.encrypt_with_object_and_buffer_source(&params, &key, &data)).await
        }
        PlatformJob::Decrypt { key, nonce, aad } => {
            let (key, params) = (import(&subtle, &key.0, "decrypt").await?, params(nonce, &Uint8Array::from(aad)));
            call(subtle.decrypt_with_object_and_buffer_source(&params, &key, &data))
                .await
                .map_err(|e| not_verified(e, "the authentication tag did not verify"))
        }
        PlatformJob::Chunks { .. } => unreachable!("handled above"),
    }?;
    pace.check()?;
    progress.report(total, total);
    Ok(vec![Uint8Array::new(&result)])
}

/// How many chunks of a run are read and sealed (or opened) at once: reading the next chunk
/// overlaps the cipher's work on the others. encryptFile of 64 MiB on two workers against
/// one-shot WebCrypto, an A/B page (Chromium 156, 2 runs of 11 rounds each): 4 gave 1.07–1.10×,
/// 8 gave 1.03×, 2 gave 1.06–1.08×.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Where a `Blob`'s stream has no BYOB reader ([`BlobStream`]; WebKit): how much of it is read at
/// once, for the consecutive chunks it covers. Each `blob.slice().arrayBuffer()` costs ~2 ms of
/// its own in Chromium 156 here (1 MiB reads: ~370 MB/s, 16 MiB: ~860, one read of 64 MiB:
/// ~1,400): with 1 MiB chunks read one by one, the reads
/// held encryptFile to 187 MB/s on two workers (WebCrypto seals ~450 MB/s per worker). Reading
/// the next piece ahead while this one is sealed gained nothing (one worker: 0.54× vs 0.57×
/// WebCrypto; 16 MiB pieces read ahead on two: 0.73× vs 0.81×).
const BLOB_SEGMENT: u64 = 32 << 20;

/// [`BLOB_SEGMENT`] on the page's own thread, where the cipher, not the reads, sets the pace
/// (Chromium seals there, on the page's thread): encryptFile of a 64 MiB Blob on the page went
/// 107 MB/s with 1 MiB reads, 154 with 4 MiB and 154 with 8 (`bench:handlers`, 2026-12-03).
/// Through the Blob's stream instead ([`BlobStream`]), the page went 0.45× → 0.60–0.64×
/// one-shot WebCrypto (`bench:handlers`, 2026-12-05).
const PAGE_BLOB_SEGMENT: u64 = 4 << 20;

/// Seals or opens a run of the stream format one AES-GCM call per chunk, as `plan` cuts it;
/// returns each chunk's output in order. A chunk that does not verify fails the run, and
/// nothing of it is returned. (Making each chunk's output a `Blob` as soon as it is done, to
/// overlap the copy into Blob storage with the cipher, was slower: 398 → 243 MB/s.)
async fn chunks<P: Pace>(
    subtle: &SubtleCrypto,
    plan: &RunPlan,
    open: bool,
    input: &Input,
    segment_len: u64,
    pace: &mut P,
    progress: &mut dyn Progress,
) -> Result<Vec<Uint8Array>, Error> {
    let key = import(subtle, &plan.key[..], if open { "decrypt" } else { "encrypt" }).await?;
    let aad = Uint8Array::from(plan.aad.as_slice());
    let mut pending: VecDeque<(u32, u64, JsFuture)> = VecDeque::new();
    let mut parts = Vec::with_capacity(plan.chunks.len());
    let (total, mut done) = (input.len(), 0);
    let mut source = RunSource::new(input, plan, segment_len)?;
    let mut next = plan.chunks.iter().enumerate();
    loop {
        while pending.len() < CHUNKS_IN_FLIGHT {
            let Some((at, chunk)) = next.next() else { break };
            pace.check()?;
            // A view valid until the next chunk is read: WebCrypto copies it when called.
            let data = source.chunk(plan, at).await?;
            let params = params(&chunk.nonce, &aad);
            let promise = if open {
                subtle.decrypt_with_object_and_buffer_source(&params, &key, &data)
            } else {
                subtle.encrypt_with_object_and_buffer_source(&params, &key, &data)
            };
            let promise =
                promise.map_err(|e| Error::validation(format!("WebCrypto refused the job: {}", describe(&e))))?;
            pending.push_back((chunk.index, chunk.range.end - chunk.range.start, JsFuture::from(promise)));
            // On the page the call sealed its chunk already: the next one waits for a yield.
            pace.after_step().await;
        }
        let Some((index, len, sealed)) = pending.pop_front() else { break };
        let sealed = call(Ok(sealed)).await.map_err(|e| {
            let why = format!("chunk {index} did not verify (wrong key, or a truncated, reordered or altered stream)");
            if open {
                not_verified(e, &why)
            } else {
                e
            }
        })?;
        parts.push(Uint8Array::new(&sealed));
        done += len;
        progress.report(done, total);
        // On the page a call's promise may be settled already (Chromium seals there), and
        // awaiting settled promises never leaves the task: 64 chunks were one 160 ms task.
        pace.after_step().await;
    }
    pace.check()?;
    Ok(parts)
}

/// Where a run's chunks come from: views of bytes, or a `Blob` read in order through its byte
/// stream, or — where the browser's Blob stream has no BYOB reader — in slices of up to
/// `segment_len` bytes.
enum RunSource<'a> {
    Bytes(&'a Uint8Array),
    Stream(BlobStream),
    Slices {
        blob: &'a Blob,
        segment_len: u64,
        /// The slice read last: where it starts, and its bytes.
        held: Option<(u64, ArrayBuffer)>,
    },
}

impl<'a> RunSource<'a> {
    fn new(input: &'a Input, plan: &RunPlan, segment_len: u64) -> Result<Self, Error> {
        Ok(match input {
            Input::Bytes(bytes) => RunSource::Bytes(bytes),
            Input::Blob(blob) => {
                let largest = plan.chunks.iter().map(|c| c.range.end - c.range.start).max().unwrap_or(0);
                let largest = u32::try_from(largest).map_err(|_| Error::validation("a chunk over 4 GiB"))?;
                match BlobStream::open(blob, largest) {
                    Some(stream) => RunSource::Stream(stream),
                    None => RunSource::Slices { blob, segment_len, held: None },
                }
            }
            Input::Value(_) | Input::Stream(_) => return Err(Error::validation("WebCrypto takes bytes")),
        })
    }

    /// The bytes of chunk `at` of `plan`; chunks are asked for in order.
    async fn chunk(&mut self, plan: &RunPlan, at: usize) -> Result<Uint8Array, Error> {
        let range = &plan.chunks[at].range;
        let len = u32::try_from(range.end - range.start).map_err(|_| Error::validation("a chunk over 4 GiB"))?;
        match self {
            RunSource::Bytes(bytes) => Ok(bytes.subarray(range.start as u32, range.end as u32)),
            RunSource::Stream(stream) => stream.next(len).await,
            RunSource::Slices { blob, segment_len, held } => {
                let holds = held.as_ref().is_some_and(|(start, buf)| {
                    range.start >= *start && range.end <= start + u64::from(buf.byte_length())
                });
                if !holds {
                    // This chunk and those after it, up to `segment_len` (always this one whole).
                    let start = range.start;
                    let end = plan.chunks[at..]
                        .iter()
                        .map(|c| c.range.end)
                        .take_while(|&end| end - start <= *segment_len)
                        .last()
                        .unwrap_or(range.end)
                        .max(range.end);
                    let piece = blob.slice_with_f64_and_f64(start as f64, end as f64).map_err(read_failed)?;
                    let read = JsFuture::from(piece.array_buffer()).await.map_err(read_failed)?;
                    *held = Some((start, source::checked_read(read, start, end)?));
                }
                let (start, buf) = held.as_ref().expect("read above");
                Ok(Uint8Array::new_with_byte_offset_and_length(buf, (range.start - start) as u32, len))
            }
        }
    }
}

/// The stream format over input of unknown length (a stream), sealed or opened one WebCrypto
/// call per chunk as `cutter` cuts them, up to [`CHUNKS_IN_FLIGHT`] at once while the next input
/// is read; sealing writes `header` first. The bytes stay in JavaScript from the input to the
/// output: a chunk is a view of the input where it lies in one piece of it, and each result is
/// written out as WebCrypto made it (copying every chunk into wasm memory to be cut and out
/// again held `encryptStream` to 0.72× `encryptFile`; now 1.50×). Output goes to `out` in order, chunk by
/// chunk; `pace` is asked between chunks whether to go on.
///
/// # Errors
/// `AuthenticationError` when a chunk does not verify or the stream is truncated; the input's,
/// the output's and the pace's failures.
pub(crate) async fn stream_format<F: JsFeed, P: Pace>(
    mut cutter: Cutter,
    header: Option<Vec<u8>>,
    source: &mut F,
    pace: &mut P,
    progress: &mut dyn Progress,
    out: &mut dyn JsSink,
) -> Result<(), Error> {
    let subtle = subtle().ok_or_else(|| Error::new(ErrorKind::Unsupported, "crypto.subtle is missing here"))?;
    let open = header.is_none();
    if let Some(header) = &header {
        out.write(header)?;
    }
    let mut key: Option<(CryptoKey, Uint8Array)> = None;
    let mut pending: VecDeque<(u32, u64, JsFuture)> = VecDeque::new();
    let (mut held, mut buf, mut ended, mut done) = (Held::default(), Vec::new(), false, 0u64);
    loop {
        pace.check()?;
        let full = pending.len() >= CHUNKS_IN_FLIGHT;
        match if full { None } else { cutter.next(ended)? } {
            Some(Cut::Header) => {
                cutter.header(&held.take(HEADER_LEN).to_vec())?;
                continue;
            }
            Some(Cut::Chunk(chunk)) => {
                if key.is_none() {
                    let (file_key, aad) = cutter.keys().expect("known once a chunk is cut");
                    key = Some((
                        import(&subtle, file_key, if open { "decrypt" } else { "encrypt" }).await?,
                        Uint8Array::from(aad),
                    ));
                }
                let (crypto_key, aad) = key.as_ref().expect("imported above");
                let params = params(&chunk.nonce, aad);
                let data = held.take(chunk.len);
                let promise = if open {
                    subtle.decrypt_with_object_and_buffer_source(&params, crypto_key, &data)
                } else {
                    subtle.encrypt_with_object_and_buffer_source(&params, crypto_key, &data)
                };
                let promise =
                    promise.map_err(|e| Error::validation(format!("WebCrypto refused the job: {}", describe(&e))))?;
                pending.push_back((chunk.index, chunk.len as u64, JsFuture::from(promise)));
                continue;
            }
            None => {}
        }
        if full || (ended && !pending.is_empty()) {
            let (index, len, result) = pending.pop_front().expect("pending is not empty");
            let result = call(Ok(result)).await.map_err(|e| {
                let why =
                    format!("chunk {index} did not verify (wrong key, or a truncated, reordered or altered stream)");
                if open {
                    not_verified(e, &why)
                } else {
                    e
                }
            })?;
            out.write_js(Uint8Array::new(&result))?;
            done += len;
            progress.report(done, source.total());
            continue;
        }
        if ended {
            return Ok(());
        }
        source.ready().await?;
        match source.next_js(&mut buf)? {
            Some(bytes) => {
                cutter.push(bytes.length() as usize);
                held.push(bytes);
            }
            None => ended = true,
        }
        pace.after_step().await;
    }
}

/// Input bytes held in JavaScript, in order, until they are cut off the front.
#[derive(Debug, Default)]
struct Held {
    parts: VecDeque<Uint8Array>,
    /// Bytes of the first part already taken.
    at: u32,
}

impl Held {
    fn push(&mut self, bytes: Uint8Array) {
        if bytes.length() > 0 {
            self.parts.push_back(bytes);
        }
    }

    /// The next `len` bytes (the caller's cutter counted them in): a view when they lie in one
    /// part, else a copy of them joined.
    fn take(&mut self, len: usize) -> Uint8Array {
        let len = len as u32;
        let Some(front) = self.parts.front() else {
            // An empty last chunk (the cutter counts only bytes held).
            return Uint8Array::new_with_length(0);
        };
        if len <= front.length() - self.at {
            let view = front.subarray(self.at, self.at + len);
            self.at += len;
            if self.at == front.length() {
                self.parts.pop_front();
                self.at = 0;
            }
            return view;
        }
        let joined = Uint8Array::new_with_length(len);
        let mut filled = 0;
        while filled < len {
            let front = self.parts.front().expect("the cutter counts only bytes held");
            let n = (front.length() - self.at).min(len - filled);
            joined.set(&front.subarray(self.at, self.at + n), filled);
            filled += n;
            self.at += n;
            if self.at == front.length() {
                self.parts.pop_front();
                self.at = 0;
            }
        }
        joined
    }
}

/// WebCrypto says only `OperationError` when opening fails: a tag that does not verify (or an
/// input shorter than one), which the Rust code reports as `AuthenticationError`.
fn not_verified(e: Error, why: &str) -> Error {
    if e.kind() == ErrorKind::Validation {
        Error::new(ErrorKind::Authentication, why)
    } else {
        e
    }
}

/// Awaits a `crypto.subtle` promise for its `ArrayBuffer`.
async fn call(promise: Result<impl Into<JsFuture>, JsValue>) -> Result<ArrayBuffer, Error> {
    let refused = |e: JsValue| Error::validation(format!("WebCrypto refused the job: {}", describe(&e)));
    let value = promise.map_err(refused)?.into().await.map_err(refused)?;
    value.dyn_into::<ArrayBuffer>().map_err(|_| Error::validation("WebCrypto returned no ArrayBuffer"))
}

/// A non-extractable AES-GCM key for `usage`. The key's bytes are copied into a JS buffer for
/// the import, which is zeroed right after.
async fn import(subtle: &SubtleCrypto, key: &[u8], usage: &str) -> Result<CryptoKey, Error> {
    let raw = Uint8Array::from(key);
    let usages = Array::of1(&usage.into());
    let promise = subtle.import_key_with_str("raw", &raw, "AES-GCM", false, &usages);
    let imported = match promise {
        Ok(p) => JsFuture::from(p).await,
        Err(e) => Err(e),
    };
    raw.fill(0, 0, raw.length());
    imported
        .map_err(|e| Error::validation(format!("WebCrypto refused the key: {}", describe(&e))))
        .map(JsCast::unchecked_into)
}

/// `{ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }` (no `additionalData`
/// when `aad` is empty).
fn params(nonce: &[u8], aad: &Uint8Array) -> AesGcmParams {
    let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(nonce));
    if aad.length() > 0 {
        params.set_additional_data(aad);
    }
    params.set_tag_length(128);
    params
}

fn read_failed(e: JsValue) -> Error {
    source::read_error(&e)
}
