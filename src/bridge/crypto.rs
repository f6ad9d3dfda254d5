//! `bridge.crypto`: SHA-256, AES-256-GCM (interoperable with WebCrypto) and the chunked stream
//! format for files (`docs/stream-format.md`), sealed and opened in parallel across the pool.

use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::input::{opt_bytes, opt_u64, owned_input, secret_bytes, CallOptions};
use super::parts::{assemble, gather};
use super::Core;
use crate::error::{Error, ErrorKind};
use crate::io::source::Input;
use crate::ops::aead::{check_key, check_key_and_nonce, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::ops::stream_format::{plan_runs, Header, DEFAULT_CHUNK_SIZE, HEADER_LEN};
use crate::ops::{ChunkRun, Op, Secret};
use crate::protocol::OutputKind;
use crate::runtime::js_error::to_js;

/// Crypto operations, run on the bridge's executor.
#[wasm_bindgen]
#[derive(Debug)]
pub struct CryptoFacade {
    core: Rc<Core>,
}

impl CryptoFacade {
    pub(crate) fn new(core: Rc<Core>) -> Self {
        CryptoFacade { core }
    }
}

/// Fewest chunks a part of a split file holds: below this, splitting costs more than it saves.
const MIN_CHUNKS_PER_PART: u64 = 2;

fn random(len: usize) -> Result<Uint8Array, JsValue> {
    let mut bytes = vec![0u8; len];
    getrandom::getrandom(&mut bytes).map_err(|e| to_js(&Error::validation(format!("no randomness: {e}"))))?;
    Ok(Uint8Array::from(bytes.as_slice()))
}

fn reject(e: Error) -> Promise {
    Promise::reject(&to_js(&e))
}

#[wasm_bindgen]
impl CryptoFacade {
    /// SHA-256 of `data` (a `Uint8Array`, `ArrayBuffer`, view, `Blob` or `File`): a 32-byte
    /// `Uint8Array`. A `Blob`/`File` is read chunk by chunk in the worker.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sha256(&self, data: JsValue, options: JsValue) -> Promise {
        self.core.call(Op::Sha256, &data, &options)
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
        match self.gcm_op(&key, &nonce, &options, false) {
            Ok(op) => self.core.call_extra(op, &data, &options, &["aad"]),
            Err(e) => reject(e),
        }
    }

    /// Opens ciphertext ‖ tag; rejects with `AuthenticationError` (and no plaintext) when the
    /// tag does not verify.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn decrypt(&self, ciphertext: JsValue, key: JsValue, nonce: JsValue, options: JsValue) -> Promise {
        match self.gcm_op(&key, &nonce, &options, true) {
            Ok(op) => self.core.call_extra(op, &ciphertext, &options, &["aad"]),
            Err(e) => reject(e),
        }
    }

    /// Seals `input` in the chunked stream format; a `Blob` by default (`{ output: 'bytes' }`
    /// for a `Uint8Array`). Options: `{ chunkSize, aad }` and the usual call options. Large
    /// inputs are sealed in parallel across the pool's workers.
    #[wasm_bindgen(js_name = encryptFile, unchecked_return_type = "Promise<Blob | Uint8Array>")]
    pub fn encrypt_file(&self, input: JsValue, key: JsValue, options: JsValue) -> Promise {
        let core = self.core.clone();
        let prepared = (|| {
            let opts = CallOptions::from_js(&options, &["chunkSize", "aad"])?;
            core.check_open(&opts)?;
            let key = secret_bytes(&key, "key")?;
            check_key(&key)?;
            let chunk = opt_u64(&options, "chunkSize")?.unwrap_or(u64::from(DEFAULT_CHUNK_SIZE));
            let header = Header::random(u32::try_from(chunk).unwrap_or(u32::MAX))?;
            let aad = opt_bytes(&options, "aad")?.unwrap_or_default();
            let input = owned_input(&input, opts.transfer)?;
            let len = input.len();
            let runs = plan_runs(len.div_ceil(chunk), core.parallelism(), MIN_CHUNKS_PER_PART);
            let output = opts.output.unwrap_or(OutputKind::Blob);
            let sink = core.sink_for(&opts, runs.len());
            let last = runs.len() - 1;
            let mut parts = Vec::with_capacity(runs.len());
            for (k, run) in runs.into_iter().enumerate() {
                let piece = input.slice(run.start * chunk, (run.end * chunk).min(len))?;
                let op = Op::SealChunks(ChunkRun {
                    key: Secret(key.clone()),
                    header: header.encode().to_vec(),
                    aad: aad.clone(),
                    first_chunk: run.start as u32,
                    final_part: k == last,
                });
                match core.submit_part(&opts, op, piece, output, sink.clone(), k) {
                    Ok(part) => parts.push(part),
                    Err(e) => return Err(abandon(&core, &parts, e)),
                }
            }
            Ok((header, parts, output, sink))
        })();
        match prepared {
            Err(e) => reject(e),
            Ok((header, parts, output, sink)) => future_to_promise(async move {
                let outputs = gather(&core, parts).await.map_err(|e| to_js(&e))?;
                if let Some(sink) = sink {
                    sink.borrow_mut().finish();
                }
                assemble(Some(&header.encode()), outputs, output).map_err(|e| to_js(&e))
            }),
        }
    }

    /// Opens a stream sealed by `encryptFile`; a `Blob` by default (`{ output: 'bytes' }` for a
    /// `Uint8Array`). Rejects with `AuthenticationError` — and releases no plaintext — when the
    /// stream was truncated, reordered, extended or altered, or the key (or `aad`) is wrong.
    #[wasm_bindgen(js_name = decryptFile, unchecked_return_type = "Promise<Blob | Uint8Array>")]
    pub fn decrypt_file(&self, sealed: JsValue, key: JsValue, options: JsValue) -> Promise {
        let core = self.core.clone();
        let prepared = (|| {
            let opts = CallOptions::from_js(&options, &["aad"])?;
            core.check_open(&opts)?;
            let key = secret_bytes(&key, "key")?;
            check_key(&key)?;
            let aad = opt_bytes(&options, "aad")?.unwrap_or_default();
            let input = owned_input(&sealed, opts.transfer)?;
            Ok((opts, key, aad, input))
        })();
        let (opts, key, aad, input) = match prepared {
            Ok(p) => p,
            Err(e) => return reject(e),
        };
        future_to_promise(async move {
            let run = async {
                let head = read_head(&input).await?;
                // The caller may have aborted (or terminated the bridge) while the header was read.
                core.check_open(&opts)?;
                let header = Header::decode(&head)?;
                let sealed_chunk = u64::from(header.chunk_size) + TAG_LEN as u64;
                let body = input.len() - HEADER_LEN as u64;
                let runs = plan_runs(body.div_ceil(sealed_chunk), core.parallelism(), MIN_CHUNKS_PER_PART);
                let output = opts.output.unwrap_or(OutputKind::Blob);
                let sink = core.sink_for(&opts, runs.len());
                let last = runs.len() - 1;
                let mut parts = Vec::with_capacity(runs.len());
                for (k, run) in runs.into_iter().enumerate() {
                    let start = HEADER_LEN as u64 + run.start * sealed_chunk;
                    let end = (HEADER_LEN as u64 + run.end * sealed_chunk).min(input.len());
                    let op = Op::OpenChunks(ChunkRun {
                        key: Secret(key.clone()),
                        header: head.clone(),
                        aad: aad.clone(),
                        first_chunk: run.start as u32,
                        final_part: k == last,
                    });
                    match core.submit_part(&opts, op, input.slice(start, end)?, output, sink.clone(), k) {
                        Ok(part) => parts.push(part),
                        Err(e) => return Err(abandon(&core, &parts, e)),
                    }
                }
                let outputs = gather(&core, parts).await?;
                if let Some(sink) = sink {
                    sink.borrow_mut().finish();
                }
                assemble(None, outputs, output)
            };
            run.await.map_err(|e| to_js(&e))
        })
    }
}

impl CryptoFacade {
    fn gcm_op(&self, key: &JsValue, nonce: &JsValue, options: &JsValue, decrypt: bool) -> Result<Op, Error> {
        let key = secret_bytes(key, "key")?;
        let nonce = secret_bytes(nonce, "nonce")?;
        let aad = opt_bytes(options, "aad")?.unwrap_or_default();
        if decrypt {
            check_key(&key)?;
            if nonce.len() != NONCE_LEN {
                return Err(Error::validation(format!("the nonce must be {NONCE_LEN} bytes, got {}", nonce.len())));
            }
            Ok(Op::Decrypt { key: Secret(key), nonce, aad })
        } else {
            check_key_and_nonce(&key, &nonce)?;
            self.core.record_nonce(&key, &nonce)?;
            Ok(Op::Encrypt { key: Secret(key), nonce, aad })
        }
    }
}

/// A later part could not be queued (a full queue): cancel the parts already running.
fn abandon<F>(core: &Core, parts: &[(crate::protocol::RequestId, F)], error: Error) -> Error {
    for (id, _) in parts {
        core.cancel(*id);
    }
    error
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
