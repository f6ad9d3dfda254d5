//! `bridge.file`: hashing, chunk plans and slices of `File`s and `Blob`s (bytes work too), read
//! chunk by chunk inside the worker so memory stays bounded however large the file.

use std::rc::Rc;

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::input::{opt_u64, Taken};
use super::pipeline::{promise, reject, single, Bridge, Prepared};
use crate::defaults;
use crate::error::Error;
use crate::io::source::Input;
use crate::ops::Op;
use crate::protocol::OutputKind;
use crate::runtime::js_error::describe;

/// File operations, run on the bridge's executor.
#[wasm_bindgen]
#[derive(Debug)]
pub struct FileFacade {
    bridge: Rc<Bridge>,
}

impl FileFacade {
    pub(crate) fn new(bridge: Rc<Bridge>) -> Self {
        FileFacade { bridge }
    }
}

#[wasm_bindgen]
impl FileFacade {
    /// SHA-256 of a `File`/`Blob` (or bytes): the same as `crypto.sha256`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sha256(&self, file: JsValue, options: JsValue) -> Promise {
        self.bridge.call(Ok(Op::Sha256), &file, &options, &[], OutputKind::Bytes)
    }

    /// The file cut into pieces of `chunkSize` bytes (default 4 MiB), each with its SHA-256, for
    /// resumable uploads: `[{ index, offset, length, sha256 }]`.
    #[wasm_bindgen(js_name = chunkPlan, unchecked_return_type = "Promise<Array<{ index: number, offset: number, length: number, sha256: Uint8Array }>>")]
    pub fn chunk_plan(&self, file: JsValue, options: JsValue) -> Promise {
        let queued = (|| {
            let chunk = match opt_u64(&options, "chunkSize")? {
                Some(0) => return Err(Error::validation("chunkSize must be at least 1")),
                c => c.unwrap_or(defaults::PLAN_CHUNK_SIZE),
            };
            let options = self.bridge.options(&options, &["chunkSize"])?;
            if options.sink.is_some() || file.is_instance_of::<web_sys::ReadableStream>() {
                return Err(Error::validation(
                    "chunkPlan returns a plan of offsets and lengths: it takes a Blob or bytes, and no output stream",
                ));
            }
            let input = self.bridge.take(&file, &options)?;
            let len = input.len();
            let op = Op::ChunkHashes { chunk_size: chunk };
            Ok((chunk, len, self.bridge.queue(options, vec![(op, 0..len)], input, OutputKind::Bytes)))
        })();
        let (chunk, len, queued) = match queued {
            Ok(q) => q,
            Err(e) => return reject(e),
        };
        promise(async move {
            let digests: Uint8Array = single(queued).await?.unchecked_into();
            plan(&digests, chunk, len).map_err(|e| Error::validation(describe(&e)))
        })
    }

    /// `length` bytes of the file from `offset` (clamped to its end), read in the worker.
    #[wasm_bindgen(js_name = readSlice, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn read_slice(&self, file: JsValue, offset: f64, length: f64, options: JsValue) -> Promise {
        let valid = |n: f64| n.is_finite() && n >= 0.0 && n.fract() == 0.0;
        let queued = (|| {
            if !valid(offset) || !valid(length) {
                return Err(Error::validation("offset and length must be whole numbers ≥ 0"));
            }
            let Prepared { options, input } = self.bridge.prepare(&file, &options, &[])?;
            if matches!(input, Taken::Owned(Input::Stream(_))) {
                return Err(Error::validation(
                    "readSlice needs a Blob or bytes: a stream cannot be read from an offset",
                ));
            }
            let len = input.len();
            let start = (offset as u64).min(len);
            let end = start.saturating_add(length as u64).min(len);
            // Only the slice is copied (a `Blob`'s is cut without a copy).
            Ok(self.bridge.queue(options, vec![(Op::Read, start..end)], input, OutputKind::Bytes))
        })();
        match queued {
            Ok(queued) => promise(single(queued)),
            Err(e) => reject(e),
        }
    }
}

/// `[{ index, offset, length, sha256 }]` from the concatenated digests of a `len`-byte input cut
/// into `chunk`-byte pieces.
fn plan(digests: &Uint8Array, chunk: u64, len: u64) -> Result<JsValue, JsValue> {
    let plan = Array::new();
    for index in 0..u64::from(digests.length() / 32) {
        let offset = index * chunk;
        let entry = Object::new();
        Reflect::set(&entry, &"index".into(), &(index as f64).into())?;
        Reflect::set(&entry, &"offset".into(), &(offset as f64).into())?;
        Reflect::set(&entry, &"length".into(), &(chunk.min(len - offset) as f64).into())?;
        let at = (index * 32) as u32;
        Reflect::set(&entry, &"sha256".into(), &digests.slice(at, at + 32))?;
        plan.push(&entry);
    }
    Ok(plan.into())
}
