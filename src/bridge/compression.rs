//! `bridge.compression`: gzip, raw deflate and zlib, interoperable with `CompressionStream` /
//! `DecompressionStream` and standard tools.

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::input::opt_u64;
use super::pipeline::Bridge;
use crate::defaults;
use crate::error::Error;
use crate::ops::{Format, Op};
use crate::protocol::OutputKind;

/// Compression operations, run on the bridge's executor.
#[wasm_bindgen]
#[derive(Debug)]
pub struct CompressionFacade {
    bridge: Rc<Bridge>,
}

impl CompressionFacade {
    pub(crate) fn new(bridge: Rc<Bridge>) -> Self {
        CompressionFacade { bridge }
    }

    fn compress(&self, format: Format, data: JsValue, options: JsValue) -> Promise {
        let op = opt_u64(&options, "level").and_then(|level| {
            match level.unwrap_or(u64::from(defaults::COMPRESSION_LEVEL)) {
                level @ 0..=9 => Ok(Op::Compress { format, level: level as u32 }),
                level => Err(Error::validation(format!("level must be 0..=9, got {level}"))),
            }
        });
        self.bridge.call(op, &data, &options, &["level"], OutputKind::Bytes)
    }

    fn decompress(&self, format: Format, data: JsValue, options: JsValue) -> Promise {
        let op = opt_u64(&options, "maxOutputBytes")
            .map(|max| Op::Decompress { format, max_output: max.unwrap_or(defaults::MAX_OUTPUT_BYTES) });
        self.bridge.call(op, &data, &options, &["maxOutputBytes"], OutputKind::Bytes)
    }
}

#[wasm_bindgen]
impl CompressionFacade {
    /// gzip (RFC 1952). Options: `{ level }` 0–9 (default 6) and the usual call options.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn gzip(&self, data: JsValue, options: JsValue) -> Promise {
        self.compress(Format::Gzip, data, options)
    }

    /// Decompresses gzip, including multi-member input. Options: `{ maxOutputBytes }` (default
    /// 512 MiB; beyond it `LimitExceededError`). Corrupt or truncated input: `DecompressionError`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn gunzip(&self, data: JsValue, options: JsValue) -> Promise {
        self.decompress(Format::Gzip, data, options)
    }

    /// Raw deflate (RFC 1951; `'deflate-raw'` in the Compression Streams API).
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn deflate(&self, data: JsValue, options: JsValue) -> Promise {
        self.compress(Format::Deflate, data, options)
    }

    /// Decompresses raw deflate. It carries no checksum: prefer gzip or zlib where integrity
    /// matters.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn inflate(&self, data: JsValue, options: JsValue) -> Promise {
        self.decompress(Format::Deflate, data, options)
    }

    /// zlib (RFC 1950; `'deflate'` in the Compression Streams API).
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn zlib(&self, data: JsValue, options: JsValue) -> Promise {
        self.compress(Format::Zlib, data, options)
    }

    /// Decompresses zlib (Adler-32 checked).
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn unzlib(&self, data: JsValue, options: JsValue) -> Promise {
        self.decompress(Format::Zlib, data, options)
    }
}
