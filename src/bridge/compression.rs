//! `bridge.compression`: gzip, raw deflate and zlib, interoperable with `CompressionStream` /
//! `DecompressionStream` and standard tools.

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::input::opt_u64;
use super::Core;
use crate::error::Error;
use crate::ops::compression::{DEFAULT_LEVEL, DEFAULT_MAX_OUTPUT};
use crate::ops::{Format, Op};
use crate::runtime::js_error::to_js;

/// Compression operations, run on the bridge's executor.
#[wasm_bindgen]
#[derive(Debug)]
pub struct CompressionFacade {
    core: Rc<Core>,
}

impl CompressionFacade {
    pub(crate) fn new(core: Rc<Core>) -> Self {
        CompressionFacade { core }
    }

    fn compress(&self, format: Format, data: JsValue, options: JsValue) -> Promise {
        let level = match opt_u64(&options, "level") {
            Ok(level) => level.unwrap_or(u64::from(DEFAULT_LEVEL)),
            Err(e) => return Promise::reject(&to_js(&e)),
        };
        if level > 9 {
            return Promise::reject(&to_js(&Error::validation(format!("level must be 0..=9, got {level}"))));
        }
        self.core.call_extra(Op::Compress { format, level: level as u32 }, &data, &options, &["level"])
    }

    fn decompress(&self, format: Format, data: JsValue, options: JsValue) -> Promise {
        match opt_u64(&options, "maxOutputBytes") {
            Ok(max) => {
                let op = Op::Decompress { format, max_output: max.unwrap_or(DEFAULT_MAX_OUTPUT) };
                self.core.call_extra(op, &data, &options, &["maxOutputBytes"])
            }
            Err(e) => Promise::reject(&to_js(&e)),
        }
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
