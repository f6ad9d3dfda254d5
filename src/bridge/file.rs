//! `bridge.file`: hashing, chunk plans and slices of `File`s and `Blob`s (bytes work too), read
//! chunk by chunk inside the worker so memory stays bounded however large the file.

use std::rc::Rc;

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use super::input::{opt_u64, owned_input, CallOptions};
use super::Core;
use crate::error::Error;
use crate::io::source::Input;
use crate::ops::Op;
use crate::protocol::OutputKind;
use crate::runtime::js_error::to_js;

/// Default piece size of `chunkPlan`: 4 MiB, a common resumable-upload part size.
const DEFAULT_PLAN_CHUNK: u64 = 4 * 1024 * 1024;

/// File operations, run on the bridge's executor.
#[wasm_bindgen]
#[derive(Debug)]
pub struct FileFacade {
    core: Rc<Core>,
}

impl FileFacade {
    pub(crate) fn new(core: Rc<Core>) -> Self {
        FileFacade { core }
    }
}

#[wasm_bindgen]
impl FileFacade {
    /// SHA-256 of a `File`/`Blob` (or bytes): the same as `crypto.sha256`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sha256(&self, file: JsValue, options: JsValue) -> Promise {
        self.core.call(Op::Sha256, &file, &options)
    }

    /// The file cut into pieces of `chunkSize` bytes (default 4 MiB), each with its SHA-256, for
    /// resumable uploads: `[{ index, offset, length, sha256 }]`.
    #[wasm_bindgen(js_name = chunkPlan, unchecked_return_type = "Promise<Array<{ index: number, offset: number, length: number, sha256: Uint8Array }>>")]
    pub fn chunk_plan(&self, file: JsValue, options: JsValue) -> Promise {
        let chunk = match opt_u64(&options, "chunkSize") {
            Ok(Some(0)) => return Promise::reject(&to_js(&Error::validation("chunkSize must be at least 1"))),
            Ok(c) => c.unwrap_or(DEFAULT_PLAN_CHUNK),
            Err(e) => return Promise::reject(&to_js(&e)),
        };
        let len = match owned_input(&file, false) {
            Ok(Input::Bytes(b)) => u64::from(b.length()),
            Ok(Input::Blob(b)) => b.size() as u64,
            Err(e) => return Promise::reject(&to_js(&e)),
        };
        let digests = self.core.call_extra(Op::ChunkHashes { chunk_size: chunk }, &file, &options, &["chunkSize"]);
        future_to_promise(async move {
            let digests: Uint8Array = wasm_bindgen_futures::JsFuture::from(digests).await?.unchecked_into();
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
        })
    }

    /// `length` bytes of the file from `offset` (clamped to its end), read in the worker.
    #[wasm_bindgen(js_name = readSlice, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn read_slice(&self, file: JsValue, offset: f64, length: f64, options: JsValue) -> Promise {
        let valid = |n: f64| n.is_finite() && n >= 0.0 && n.fract() == 0.0;
        if !valid(offset) || !valid(length) {
            return Promise::reject(&to_js(&Error::validation("offset and length must be whole numbers ≥ 0")));
        }
        let sliced = CallOptions::from_js(&options, &[]).and_then(|opts| {
            let input = owned_input(&file, opts.transfer)?;
            let len = input.len();
            let start = (offset as u64).min(len);
            let end = start.saturating_add(length as u64).min(len);
            Ok((opts, input.slice(start, end)?))
        });
        match sliced {
            Ok((opts, piece)) => {
                let core = self.core.clone();
                match core.check_open(&opts).and_then(|()| {
                    let sink = core.sink_for(&opts, 1);
                    core.submit_part(&opts, Op::Read, piece, OutputKind::Bytes, sink, 0)
                }) {
                    Ok((_, result)) => future_to_promise(async move { result.await.map_err(|e| to_js(&e)) }),
                    Err(e) => Promise::reject(&to_js(&e)),
                }
            }
            Err(e) => Promise::reject(&to_js(&e)),
        }
    }
}
