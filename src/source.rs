//! Input bytes that live in JavaScript memory, read into wasm memory one chunk at a time, so a
//! large input never needs a second full-size copy inside the wasm heap.

use js_sys::Uint8Array;

use crate::error::Error;
use crate::ops::ChunkSource;

/// A [`ChunkSource`] over a `Uint8Array` (the worker's transferred input, or the main thread's).
#[derive(Debug)]
pub(crate) struct JsBytesSource {
    bytes: Uint8Array,
    chunk: u32,
    pos: u32,
}

impl JsBytesSource {
    pub(crate) fn new(bytes: Uint8Array, chunk: usize) -> Self {
        let chunk = u32::try_from(chunk.max(1)).unwrap_or(u32::MAX);
        JsBytesSource { bytes, chunk, pos: 0 }
    }
}

impl ChunkSource for JsBytesSource {
    fn total(&self) -> u64 {
        u64::from(self.bytes.length())
    }

    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        let len = self.bytes.length();
        if self.pos >= len {
            return Ok(false);
        }
        let end = self.pos.saturating_add(self.chunk).min(len);
        buf.resize((end - self.pos) as usize, 0);
        self.bytes.subarray(self.pos, end).copy_to(buf);
        self.pos = end;
        Ok(true)
    }
}
