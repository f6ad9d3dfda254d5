//! `bridge.crypto`: SHA-256, AES-256-GCM (interoperable with WebCrypto) and the chunked stream
//! format for files (`docs/stream-format.md`), sealed and opened in parallel across the pool.

use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;

use super::input::{input_len, opt_bytes, opt_u64, owned_input, secret_bytes};
use super::pipeline::{promise, reject, Bridge};
use crate::defaults;
use crate::error::{Error, ErrorKind};
use crate::io::output::assemble;
use crate::io::source::Input;
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
        let bridge = self.bridge.clone();
        let submitted = (|| {
            let opts = bridge.options(&options, &["chunkSize", "aad"])?;
            let key = checked_key(&key)?;
            let chunk = opt_u64(&options, "chunkSize")?.unwrap_or(u64::from(defaults::STREAM_CHUNK_SIZE));
            let header = Header::random(u32::try_from(chunk).unwrap_or(u32::MAX))?;
            let aad = opt_bytes(&options, "aad")?.unwrap_or_default();
            let input = owned_input(&input, opts.transfer)?;
            let len = input.len();
            let run = |first_chunk, final_part| {
                Op::SealChunks(ChunkRun {
                    key: key.clone(),
                    header: header.encode().to_vec(),
                    aad: aad.clone(),
                    first_chunk,
                    final_part,
                })
            };
            let parts = split(
                &bridge,
                len.div_ceil(chunk),
                |start, end| input.slice(start * chunk, (end * chunk).min(len)),
                run,
            )?;
            let output = opts.output.unwrap_or(OutputKind::Blob);
            Ok((header, bridge.submit_split(&opts, parts, output)?, output))
        })();
        match submitted {
            Err(e) => reject(e),
            Ok((header, outputs, output)) => {
                promise(async move { assemble(Some(&header.encode()), outputs.await?, output).await })
            }
        }
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
            let input = owned_input(&sealed, opts.transfer)?;
            Ok((opts, key, aad, input))
        })();
        let (opts, key, aad, input) = match prepared {
            Ok(p) => p,
            Err(e) => return reject(e),
        };
        promise(async move {
            let head = read_head(&input).await?;
            // The caller may have aborted (or terminated the bridge) while the header was read.
            bridge.check_open(&opts)?;
            let header = Header::decode(&head)?;
            let sealed_chunk = u64::from(header.chunk_size) + TAG_LEN as u64;
            let (body_start, len) = (HEADER_LEN as u64, input.len());
            let run = |first_chunk, final_part| {
                Op::OpenChunks(ChunkRun {
                    key: key.clone(),
                    header: head.clone(),
                    aad: aad.clone(),
                    first_chunk,
                    final_part,
                })
            };
            let piece = |start: u64, end: u64| {
                input.slice(body_start + start * sealed_chunk, (body_start + end * sealed_chunk).min(len))
            };
            let parts = split(&bridge, (len - body_start).div_ceil(sealed_chunk), piece, run)?;
            let output = opts.output.unwrap_or(OutputKind::Blob);
            assemble(None, bridge.submit_split(&opts, parts, output)?.await?, output).await
        })
    }
}

/// A stream of `chunks` chunks cut into runs of whole chunks, one per worker (at least
/// [`MIN_CHUNKS_PER_PART`] each): the op for each run (`op(first_chunk, final_part)`) and its
/// piece of the input (`piece(start_chunk, end_chunk)`).
fn split(
    bridge: &Bridge,
    chunks: u64,
    piece: impl Fn(u64, u64) -> Result<Input, Error>,
    op: impl Fn(u32, bool) -> Op,
) -> Result<Vec<(Op, Input)>, Error> {
    let runs = plan_runs(chunks, bridge.parallelism(), MIN_CHUNKS_PER_PART);
    let last = runs.len() - 1;
    runs.into_iter()
        .enumerate()
        .map(|(k, run)| {
            let first = u32::try_from(run.start).map_err(|_| {
                Error::new(ErrorKind::LimitExceeded, "a stream holds at most 2^32 chunks: use a larger chunkSize")
            })?;
            Ok((op(first, k == last), piece(run.start, run.end)?))
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
    /// recorded only once the call passed every check and is queued: a call refused for a typo or
    /// an aborted signal does not burn the pair, so the honest retry goes through.
    fn one_shot(&self, data: &JsValue, key: &JsValue, nonce: &JsValue, options: &JsValue, decrypt: bool) -> Promise {
        let bridge = &self.bridge;
        let submitted = (|| {
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
                let op = Op::Decrypt { key, nonce: nonce.0.clone(), aad };
                return bridge.submit(&options, op, owned_input(data, options.transfer)?, OutputKind::Bytes);
            }
            bridge.record_nonce(&key.0, &nonce.0)?;
            let op = Op::Encrypt { key: key.clone(), nonce: nonce.0.clone(), aad };
            owned_input(data, options.transfer)
                .and_then(|input| bridge.submit(&options, op, input, OutputKind::Bytes))
                .inspect_err(|_| bridge.forget_nonce(&key.0, &nonce.0))
        })();
        match submitted {
            Ok(result) => promise(result),
            Err(e) => reject(e),
        }
    }
}

/// The first [`HEADER_LEN`] bytes of a sealed stream.
async fn read_head(input: &Input) -> Result<Vec<u8>, Error> {
    let short = || Error::new(ErrorKind::Authentication, "not a valid worker-bridge stream: shorter than its header");
    if input.len() < HEADER_LEN as u64 {
        return Err(short());
    }
    match input.slice(0, HEADER_LEN as u64)? {
        Input::Bytes(b) => Ok(b.to_vec()),
        Input::Blob(b) => {
            let buffer = wasm_bindgen_futures::JsFuture::from(b.array_buffer()).await.map_err(|_| short())?;
            Ok(Uint8Array::new(&buffer).to_vec())
        }
    }
}
