//! gzip and gunzip through flate2, for `benches/flate.mjs`: built once per backend, so the same
//! calls measure zlib-rs against miniz_oxide in one page.

use std::io::{Read, Write};

use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use wasm_bindgen::prelude::*;

/// The backend this build was made with.
#[wasm_bindgen]
pub fn backend() -> String {
    if cfg!(feature = "zlib-rs") { "zlib-rs" } else { "miniz_oxide" }.into()
}

/// `data` as one gzip member at `level` (0–9).
#[wasm_bindgen]
pub fn gzip(data: &[u8], level: u32) -> Result<Vec<u8>, JsError> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::new(level));
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

/// The bytes of one gzip member.
#[wasm_bindgen]
pub fn gunzip(data: &[u8]) -> Result<Vec<u8>, JsError> {
    let mut out = Vec::with_capacity(data.len() * 4);
    GzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}
