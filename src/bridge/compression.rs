//! `bridge.compression`: gzip, raw deflate and zlib, interoperable with `CompressionStream` /
//! `DecompressionStream` and standard tools.

use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::input::{input_len, opt_u64, writes_out};
use super::pipeline::{promise, reject, Bridge, Prepared};
use crate::defaults;
use crate::error::Error;
use crate::io::stream::transform;
use crate::ops::compression::{join, plan_ranges, RangePart};
use crate::ops::{Format, Op};
use crate::protocol::OutputKind;

/// Inputs of at least this many bytes are compressed across the pool's workers when it has
/// several (`compression::plan_ranges`, at least 1 MiB per worker: 2 MiB is the smallest input
/// two workers can share). Measured (gzip level 6, a pool of 2 against one worker, Chromium 156,
/// 2 cores, `npm run bench:handlers -- --only gzip --compression-mib N`, 2026-12-06): 1.72–1.76×
/// at 2 MiB, 1.78× at 4, 1.85× at 8, 1.80–1.90× at 16.
const SPLIT_MIN_BYTES: u64 = 2 << 20;

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
        let level = opt_u64(&options, "level").and_then(|level| {
            match level.unwrap_or(u64::from(defaults::COMPRESSION_LEVEL)) {
                level @ 0..=9 => Ok(level as u32),
                level => Err(Error::validation(format!("level must be 0..=9, got {level}"))),
            }
        });
        // A large input on a pool of several workers: its ranges compressed on all of them
        // (unless the output is written as it is produced: one worker writes it in order).
        let ranges = input_len(&data)
            .filter(|&len| len >= SPLIT_MIN_BYTES && !writes_out(&options))
            .map(|len| plan_ranges(len, self.bridge.parallelism()))
            .filter(|ranges| ranges.len() > 1);
        match (level, ranges) {
            (Ok(level), Some(ranges)) => self.compress_split(format, level, ranges, &data, &options),
            (level, _) => {
                let op = level.map(|level| Op::Compress { format, level });
                self.bridge.call(op, &data, &options, &["level"], OutputKind::Bytes)
            }
        }
    }

    /// The input compressed in `ranges`, one per worker at once, joined on the page into the
    /// stream one worker would have written (same bytes).
    fn compress_split(
        &self,
        format: Format,
        level: u32,
        ranges: Vec<RangePart>,
        data: &JsValue,
        options: &JsValue,
    ) -> Promise {
        let queued = (|| {
            let Prepared { mut options, input } = self.bridge.prepare(data, options, &["level"])?;
            if input.len() != ranges.last().map_or(0, |r| r.end) {
                return Err(Error::validation("the input changed length while it was read"));
            }
            // The parts come back as bytes (their check values are read); the caller's output
            // kind applies to the joined stream.
            let output = options.output.take().unwrap_or(OutputKind::Bytes);
            let parts = ranges
                .iter()
                .map(|r| {
                    let op = Op::CompressRange { format, level, dictionary: r.dictionary(), last: r.last };
                    (op, r.from..r.end)
                })
                .collect();
            Ok((self.bridge.queue(options, parts, input, OutputKind::Bytes), output))
        })();
        let (queued, output) = match queued {
            Ok(q) => q,
            Err(e) => return reject(e),
        };
        let bridge = self.bridge.clone();
        promise(async move {
            let parts = queued.await?.await?;
            let mut pieces = Vec::with_capacity(parts.len() + 1);
            let mut checks = Vec::with_capacity(parts.len());
            for (part, range) in parts.into_iter().zip(&ranges) {
                let part: Uint8Array =
                    part.dyn_into().map_err(|_| Error::validation("a range's output is not bytes"))?;
                let len = part.length();
                if len < 4 {
                    return Err(Error::validation("a range's output lacks its check value"));
                }
                let mut check = [0u8; 4];
                part.subarray(len - 4, len).copy_to(&mut check);
                checks.push((u32::from_le_bytes(check), range.end - range.start));
                pieces.push(part.subarray(0, len - 4).into());
            }
            let (header, trailer) = join(format, level, &checks);
            pieces.push(Uint8Array::from(trailer.as_slice()).into());
            bridge.assemble(Some(&header), pieces, output).await
        })
    }

    /// A `TransformStream` that runs `compress` (or `decompress`) in one call as bytes go
    /// through it.
    fn stream(&self, format: Format, decompress: bool, options: JsValue) -> Result<JsValue, JsValue> {
        let facade = CompressionFacade { bridge: self.bridge.clone() };
        transform(
            move |input, options| match decompress {
                true => facade.decompress(format, input, options),
                false => facade.compress(format, input, options),
            },
            &options,
        )
    }

    fn decompress(&self, format: Format, data: JsValue, options: JsValue) -> Promise {
        // Output written to a stream is never held: its default limit is none (as
        // DecompressionStream's); one given is kept.
        let default = if writes_out(&options) { u64::MAX } else { defaults::MAX_OUTPUT_BYTES };
        let op = opt_u64(&options, "maxOutputBytes")
            .map(|max| Op::Decompress { format, max_output: max.unwrap_or(default) });
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

    /// A `TransformStream` that gzips what goes through it, in a worker, with backpressure.
    /// Options as `gzip` (`level`, `signal`, `onProgress`, …); an error errors both sides.
    #[wasm_bindgen(js_name = gzipStream, unchecked_return_type = "TransformStream<Uint8Array, Uint8Array>")]
    pub fn gzip_stream(&self, options: JsValue) -> Result<JsValue, JsValue> {
        self.stream(Format::Gzip, false, options)
    }

    /// A `TransformStream` that gunzips what goes through it (`maxOutputBytes` applies;
    /// corrupt input errors both sides with `DecompressionError`).
    #[wasm_bindgen(js_name = gunzipStream, unchecked_return_type = "TransformStream<Uint8Array, Uint8Array>")]
    pub fn gunzip_stream(&self, options: JsValue) -> Result<JsValue, JsValue> {
        self.stream(Format::Gzip, true, options)
    }

    /// A `TransformStream` of raw deflate.
    #[wasm_bindgen(js_name = deflateStream, unchecked_return_type = "TransformStream<Uint8Array, Uint8Array>")]
    pub fn deflate_stream(&self, options: JsValue) -> Result<JsValue, JsValue> {
        self.stream(Format::Deflate, false, options)
    }

    /// A `TransformStream` that inflates raw deflate.
    #[wasm_bindgen(js_name = inflateStream, unchecked_return_type = "TransformStream<Uint8Array, Uint8Array>")]
    pub fn inflate_stream(&self, options: JsValue) -> Result<JsValue, JsValue> {
        self.stream(Format::Deflate, true, options)
    }

    /// A `TransformStream` of zlib.
    #[wasm_bindgen(js_name = zlibStream, unchecked_return_type = "TransformStream<Uint8Array, Uint8Array>")]
    pub fn zlib_stream(&self, options: JsValue) -> Result<JsValue, JsValue> {
        self.stream(Format::Zlib, false, options)
    }

    /// A `TransformStream` that decompresses zlib.
    #[wasm_bindgen(js_name = unzlibStream, unchecked_return_type = "TransformStream<Uint8Array, Uint8Array>")]
    pub fn unzlib_stream(&self, options: JsValue) -> Result<JsValue, JsValue> {
        self.stream(Format::Zlib, true, options)
    }
}
