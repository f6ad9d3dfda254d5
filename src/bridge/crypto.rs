//! `bridge.crypto`: SHA-256, AES-256-GCM (interoperable with WebCrypto) and the chunked stream
//! format for files (`docs/stream-format.md`), sealed and opened in parallel across the pool.

use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Blob;

use std::ops::Range;

use super::input::{input_len, opt_bytes, opt_u64, secret_bytes, take_input, Taken};
use super::pipeline::{first, promise, reject, single, Bridge, Prepared, Queued};
use crate::defaults;
use crate::error::{Error, ErrorKind};
use crate::io::source::{checked_read, read_error, Input};
use crate::io::stream::transform;
use crate::ops::aead::{check_key, check_key_and_nonce, check_one_shot_len, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::ops::stream_format::{plan_runs, Header, HEADER_LEN};
use crate::ops::{ChunkRun, Op, Secret};
use crate::protocol::OutputKind;
use crate::runtime::js_error::to_js;

/// Crypto operations, run on the bridge's executor.
#[wasm_bindgen]
#[derive(Debug)]
pub struct CryptoFacade {
    bridge: Rc<Bridge>,
}

impl CryptoFacade {
    pub(crate) fn new(bridge: Rc<Bridge>) -> Self {
        CryptoFacade { bridge }
    }
}

/// Fewest chunks a part of a split file holds: below this, splitting costs more than it saves.
const MIN_CHUNKS_PER_PART: u64 = 2;

fn random(len: usize) -> Result<Uint8Array, JsValue> {
    let mut bytes = vec![0u8; len];
    getrandom::getrandom(&mut bytes).map_err(|e| to_js(&Error::validation(format!("no randomness: {e}"))))?;
    Ok(Uint8Array::from(bytes.as_slice()))
}

#[wasm_bindgen]
impl CryptoFacade {
    /// SHA-256 of `data` (a `Uint8Array`, `ArrayBuffer`, view, `Blob` or `File`): a 32-byte
    /// `Uint8Array`. A `Blob`/`File` is read chunk by chunk in the worker.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sha256(&self, data: JsValue, options: JsValue) -> Promise {
        self.bridge.call(Ok(Op::Sha256), &data, &options, &[], OutputKind::Bytes)
    }

    /// SHA-256 of each of `inputs` (an array of `Uint8Array`s, `ArrayBuffer`s, views, `Blob`s
    /// or `File`s) in one call: an array of 32-byte `Uint8Array`s, in order. They travel as one
    /// `Blob` and are hashed in one worker — on all its threads in the threaded build.
    #[wasm_bindgen(js_name = sha256Many, unchecked_return_type = "Promise<Uint8Array[]>")]
    pub fn sha256_many(&self, inputs: JsValue, options: JsValue) -> Promise {
        let queued = (|| {
            let (blob, lengths) = joined(&inputs)?;
            let count = lengths.len();
            let Prepared { options, input } = self.bridge.prepare(&blob.into(), &options, &[])?;
            if options.sink.is_some() {
                return Err(Error::validation("sha256Many returns its digests: it takes no output stream"));
            }
            let len = input.len();
            Ok((
                count,
                self.bridge.queue(options, vec![(Op::Sha256Each { lengths }, 0..len)], input, OutputKind::Bytes),
            ))
        })();
        let (count, queued) = match queued {
            Ok(q) => q,
            Err(e) => return reject(e),
        };
        promise(async move {
            let digests: Uint8Array = single(queued).await?.unchecked_into();
            if digests.length() as usize != 32 * count {
                return Err(Error::validation("a digest is missing"));
            }
            Ok((0..count as u32).map(|i| digests.slice(32 * i, 32 * i + 32)).collect::<Array>().into())
        })
    }

    /// 32 random bytes from the platform CSPRNG: an AES-256 key.
    #[wasm_bindgen(js_name = generateKey)]
    pub fn generate_key(&self) -> Result<Uint8Array, JsValue> {
        random(KEY_LEN)
    }

    /// 12 random bytes from the platform CSPRNG: a fresh AES-GCM nonce. Use one per encryption.
    #[wasm_bindgen(js_name = generateNonce)]
    pub fn generate_nonce(&self) -> Result<Uint8Array, JsValue> {
        random(NONCE_LEN)
    }

    /// AES-256-GCM: ciphertext ‖ 16-byte tag, byte-identical to WebCrypto's `AES-GCM` output.
    /// Options: `{ aad }` and the usual call options. A (key, nonce) pair already used by this
    /// bridge rejects with `NonceReuseError`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn encrypt(&self, data: JsValue, key: JsValue, nonce: JsValue, options: JsValue) -> Promise {
        self.one_shot(&data, &key, &nonce, &options, false)
    }

    /// Opens ciphertext ‖ tag; rejects with `AuthenticationError` (and no plaintext) when the
    /// tag does not verify.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn decrypt(&self, ciphertext: JsValue, key: JsValue, nonce: JsValue, options: JsValue) -> Promise {
        self.one_shot(&ciphertext, &key, &nonce, &options, true)
    }

    /// Seals `input` in the chunked stream format; a `Blob` by default (`{ output: 'bytes' }`
    /// for a `Uint8Array`). Options: `{ chunkSize, aad }` and the usual call options. Large
    /// inputs are sealed in parallel across the pool's workers.
    #[wasm_bindgen(js_name = encryptFile, unchecked_return_type = "Promise<Blob | Uint8Array>")]
    pub fn encrypt_file(&self, input: JsValue, key: JsValue, options: JsValue) -> Promise {
        let bridge = &self.bridge;
        let queued = (|| {
            let opts = bridge.options(&options, &["chunkSize", "aad"])?;
            let key = checked_key(&key)?;
            let chunk = opt_u64(&options, "chunkSize")?.unwrap_or(u64::from(defaults::STREAM_CHUNK_SIZE));
            let header = Header::random(u32::try_from(chunk).unwrap_or(u32::MAX))?;
            let aad = opt_bytes(&options, "aad")?.unwrap_or_default();
            let input = bridge.take(&input, &opts)?;
            let len = input.len();
            if matches!(input, Taken::Owned(Input::Stream(_))) || opts.sink.is_some() {
                // A stream, or output written as it is produced: one worker, in order, header first.
                let op = Op::Seal { key, header: header.encode().to_vec(), aad };
                let output = opts.output.unwrap_or(OutputKind::Blob);
                return Ok((None, bridge.queue(opts, vec![(op, 0..len)], input, output), output));
            }
            let run = |first_chunk, final_part| {
                Op::SealChunks(ChunkRun {
                    key: key.clone(),
                    header: header.encode().to_vec(),
                    aad: aad.clone(),
                    first_chunk,
                    final_part,
                })
            };
            let output = opts.output.unwrap_or(OutputKind::Blob);
            let parts = split(bridge, len.div_ceil(chunk), |start, end| start * chunk..(end * chunk).min(len), run)?;
            Ok((Some(header), bridge.queue(opts, parts, input, output), output))
        })();
        match queued {
            Err(e) => reject(e),
            Ok((None, queued, _)) => promise(single(queued)),
            Ok((Some(header), queued, output)) => {
                let bridge = bridge.clone();
                promise(async move { bridge.assemble(Some(&header.encode()), queued.await?.await?, output).await })
            }
        }
    }

    /// A `TransformStream` that seals what goes through it in the stream format of
    /// `encryptFile` (the same bytes `encryptFile` would write, with a fresh header), in a
    /// worker. Options as `encryptFile` (`chunkSize`, `aad`, `signal`, `onProgress`, …).
    #[wasm_bindgen(js_name = encryptStream, unchecked_return_type = "TransformStream<Uint8Array, Uint8Array>")]
    pub fn encrypt_stream(&self, key: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let facade = CryptoFacade { bridge: self.bridge.clone() };
        transform(move |input, options| facade.encrypt_file(input, key, options), &options)
    }

    /// A `TransformStream` that opens the stream format (`encryptFile`'s or `encryptStream`'s
    /// output). A chunk's plaintext leaves only once its tag verifies; a tampered, truncated or
    /// extended stream, or a wrong key or `aad`, errors both sides with `AuthenticationError`.
    #[wasm_bindgen(js_name = decryptStream, unchecked_return_type = "TransformStream<Uint8Array, Uint8Array>")]
    pub fn decrypt_stream(&self, key: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let facade = CryptoFacade { bridge: self.bridge.clone() };
        transform(move |input, options| facade.decrypt_file(input, key, options), &options)
    }

    /// Opens a stream sealed by `encryptFile`; a `Blob` by default (`{ output: 'bytes' }` for a
    /// `Uint8Array`). Rejects with `AuthenticationError` — and releases no plaintext — when the
    /// stream was truncated, reordered, extended or altered, or the key (or `aad`) is wrong.
    #[wasm_bindgen(js_name = decryptFile, unchecked_return_type = "Promise<Blob | Uint8Array>")]
    pub fn decrypt_file(&self, sealed: JsValue, key: JsValue, options: JsValue) -> Promise {
        let bridge = self.bridge.clone();
        let prepared = (|| {
            let opts = bridge.options(&options, &["aad"])?;
            let key = checked_key(&key)?;
            let aad = opt_bytes(&options, "aad")?.unwrap_or_default();
            // Every refusal comes before the input is taken (see `Bridge::take`): the header of
            // bytes is read through a view of the caller's, not yet moved.
            let peek = take_input(&sealed, false)?;
            let streamed = matches!(peek, Taken::Owned(Input::Stream(_)));
            let whole = streamed || opts.sink.is_some();
            if !streamed && peek.len() < HEADER_LEN as u64 {
                return Err(Error::new(
                    ErrorKind::Authentication,
                    "not a valid worker-bridge stream: shorter than its header",
                ));
            }
            // The header says how to cut the stream into runs: bytes have it at hand.
            let planned = match peek.head(HEADER_LEN as u64).filter(|_| !whole) {
                Some(head) => Some(open_runs(&bridge, &head, &key, &aad, peek.len())?),
                None => None,
            };
            let input = bridge.take(&sealed, &opts)?;
            Ok((opts, key, aad, input, whole, planned))
        })();
        let (opts, key, aad, input, whole, planned) = match prepared {
            Ok(p) => p,
            Err(e) => return reject(e),
        };
        let output = opts.output.unwrap_or(OutputKind::Blob);
        if whole {
            // A stream, or output written as it is produced: one worker opens it all, in order.
            let len = input.len();
            return promise(single(bridge.queue(opts, vec![(Op::Open { key, aad }, 0..len)], input, output)));
        }
        // Bytes were planned above, so the call is queued now; a Blob's header is read first, the
        // call holding its place in line meanwhile.
        let queued = match planned {
            Some(parts) => Ok(bridge.queue(opts, parts, input, output)),
            None => {
                let turn = bridge.join_line();
                let bridge = bridge.clone();
                Ok(Box::pin(async move {
                    let head = read_blob_head(&input).await?;
                    let parts = open_runs(&bridge, &head, &key, &aad, input.len())?;
                    bridge.queue_in_turn(turn, opts, parts, input, output).await
                }) as Queued)
            }
        };
        match queued {
            Ok(queued) => promise(async move { bridge.assemble(None, queued.await?.await?, output).await }),
            Err(e) => reject(e),
        }
    }
}

/// The runs of a sealed stream of `len` bytes whose header is `head`: an `OpenChunks` op and
/// its range of the input each.
fn open_runs(bridge: &Bridge, head: &[u8], key: &Secret, aad: &[u8], len: u64) -> Result<Vec<(Op, Range<u64>)>, Error> {
    let header = Header::decode(head)?;
    let sealed_chunk = u64::from(header.chunk_size) + TAG_LEN as u64;
    let body_start = HEADER_LEN as u64;
    let run = |first_chunk, final_part| {
        Op::OpenChunks(ChunkRun { key: key.clone(), header: head.to_vec(), aad: aad.to_vec(), first_chunk, final_part })
    };
    let piece = |start: u64, end: u64| body_start + start * sealed_chunk..(body_start + end * sealed_chunk).min(len);
    split(bridge, (len - body_start).div_ceil(sealed_chunk), piece, run)
}

/// A stream of `chunks` chunks cut into runs of whole chunks, one per worker (at least
/// [`MIN_CHUNKS_PER_PART`] each): the op for each run (`op(first_chunk, final_part)`) and its
/// piece of the input (`piece(start_chunk, end_chunk)`).
fn split(
    bridge: &Bridge,
    chunks: u64,
    piece: impl Fn(u64, u64) -> Range<u64>,
    op: impl Fn(u32, bool) -> Op,
) -> Result<Vec<(Op, Range<u64>)>, Error> {
    let runs = plan_runs(chunks, bridge.parallelism(), MIN_CHUNKS_PER_PART);
    let last = runs.len() - 1;
    runs.into_iter()
        .enumerate()
        .map(|(k, run)| {
            let first = u32::try_from(run.start).map_err(|_| {
                Error::new(ErrorKind::LimitExceeded, "a stream holds at most 2^32 chunks: use a larger chunkSize")
            })?;
            Ok((op(first, k == last), piece(run.start, run.end)))
        })
        .collect()
}

/// The caller's key, checked: 32 bytes.
fn checked_key(key: &JsValue) -> Result<Secret, Error> {
    let key = secret_bytes(key, "key")?;
    check_key(&key.0)?;
    Ok(key)
}

impl CryptoFacade {
    /// One-shot AES-GCM through the call pipeline. The (key, nonce) pair of an encryption is
    /// recorded once the call passed every check, so a second call with the pair is refused at
    /// once, and forgotten if the call is refused before it is queued: a call refused for a
    /// typo, an aborted signal or a full queue does not burn the pair, so the honest retry goes
    /// through.
    fn one_shot(&self, data: &JsValue, key: &JsValue, nonce: &JsValue, options: &JsValue, decrypt: bool) -> Promise {
        let bridge = &self.bridge;
        let queued = (|| {
            let key = secret_bytes(key, "key")?;
            let nonce = secret_bytes(nonce, "nonce")?;
            let aad = opt_bytes(options, "aad")?.unwrap_or_default();
            if decrypt {
                check_key(&key.0)?;
                if nonce.0.len() != NONCE_LEN {
                    let got = nonce.0.len();
                    return Err(Error::validation(format!("the nonce must be {NONCE_LEN} bytes, got {got}")));
                }
            } else {
                check_key_and_nonce(&key.0, &nonce.0)?;
            }
            // Every refusal comes before the input is taken: `transfer: true` detaches the
            // caller's buffer, which must not happen to a call that is then refused.
            let options = bridge.options(options, &["aad"])?;
            if let Some(len) = input_len(data) {
                check_one_shot_len(len, decrypt)?;
            }
            if decrypt {
                let input = bridge.take(data, &options)?;
                let op = Op::Decrypt { key, nonce: nonce.0.clone(), aad };
                let len = input.len();
                return Ok((bridge.queue(options, vec![(op, 0..len)], input, OutputKind::Bytes), None));
            }
            bridge.record_nonce(&key.0, &nonce.0)?;
            let input = bridge.take(data, &options).inspect_err(|_| bridge.forget_nonce(&key.0, &nonce.0))?;
            let op = Op::Encrypt { key: key.clone(), nonce: nonce.0.clone(), aad };
            let len = input.len();
            Ok((bridge.queue(options, vec![(op, 0..len)], input, OutputKind::Bytes), Some((key, nonce))))
        })();
        let (queued, pair) = match queued {
            Ok(q) => q,
            Err(e) => return reject(e),
        };
        let bridge = bridge.clone();
        promise(async move {
            let outputs = queued.await.inspect_err(|_| {
                // Refused before it was queued (say, aborted while its input was copied): the
                // pair was never used.
                if let Some((key, nonce)) = &pair {
                    bridge.forget_nonce(&key.0, &nonce.0);
                }
            });
            drop(pair);
            first(outputs?).await
        })
    }
}

/// The first [`HEADER_LEN`] bytes of a sealed stream held in a `Blob` (its length checked).
async fn read_blob_head(input: &Taken) -> Result<Vec<u8>, Error> {
    let short = || Error::new(ErrorKind::Authentication, "not a valid worker-bridge stream: shorter than its header");
    let Taken::Owned(Input::Blob(blob)) = input else { return Err(short()) };
    let head = blob.slice_with_f64_and_f64(0.0, HEADER_LEN as f64).map_err(|_| short())?;
    let read = wasm_bindgen_futures::JsFuture::from(head.array_buffer()).await.map_err(|e| read_error(&e))?;
    let head = checked_read(read, 0, HEADER_LEN as u64)?;
    Ok(Uint8Array::new(&head).to_vec())
}

/// `inputs` (an array of bytes and `Blob`s) as one `Blob`, and each one's length.
///
/// # Errors
/// `ValidationError` when `inputs` is not an array, holds something else, or too many.
fn joined(inputs: &JsValue) -> Result<(Blob, Vec<u64>), Error> {
    if !Array::is_array(inputs) {
        return Err(Error::validation("sha256Many takes an array of inputs"));
    }
    let inputs = Array::from(inputs);
    if inputs.length() > defaults::MAX_INPUTS_PER_CALL {
        return Err(Error::validation(format!("sha256Many takes at most {} inputs", defaults::MAX_INPUTS_PER_CALL)));
    }
    let mut lengths = Vec::with_capacity(inputs.length() as usize);
    for (i, part) in inputs.iter().enumerate() {
        let len = if let Some(blob) = part.dyn_ref::<Blob>() {
            blob.size()
        } else if let Some(buffer) = part.dyn_ref::<ArrayBuffer>() {
            f64::from(buffer.byte_length())
        } else if ArrayBuffer::is_view(&part) {
            js_sys::Reflect::get(&part, &"byteLength".into()).ok().and_then(|n| n.as_f64()).unwrap_or(0.0)
        } else {
            return Err(Error::validation(format!("input {i} is not bytes or a Blob")));
        };
        lengths.push(len as u64);
    }
    let blob = Blob::new_with_u8_array_sequence(&inputs).map_err(|e| {
        Error::validation(format!("cannot join the inputs: {}", crate::runtime::js_error::describe(&e)))
    })?;
    Ok((blob, lengths))
}
