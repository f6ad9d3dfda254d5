//! Crypto ops. SHA-256 is the RustCrypto `sha2` implementation, fed incrementally.

use sha2::{Digest, Sha256};

use super::{Sink, Stream};
use crate::error::Error;

/// Incremental SHA-256; the output is the 32-byte digest.
#[derive(Debug, Default, Clone)]
pub struct Sha256Stream(Sha256);

impl Stream for Sha256Stream {
    fn update(&mut self, chunk: &[u8], _out: &mut dyn Sink) -> Result<(), Error> {
        self.0.update(chunk);
        Ok(())
    }

    fn finish(self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        out.write(&self.0.finalize())
    }
}

/// SHA-256 of each consecutive `chunk_size`-byte piece of the input (the last may be shorter);
/// the output is the 32-byte digests in order. An empty input has no pieces.
#[derive(Debug, Clone)]
pub struct ChunkHashes {
    chunk_size: u64,
    filled: u64,
    hasher: Sha256,
}

impl ChunkHashes {
    /// Pieces of `chunk_size` bytes (at least 1).
    pub fn new(chunk_size: u64) -> Self {
        ChunkHashes { chunk_size: chunk_size.max(1), filled: 0, hasher: Sha256::new() }
    }
}

impl Stream for ChunkHashes {
    fn update(&mut self, mut chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        while !chunk.is_empty() {
            let room = (self.chunk_size - self.filled).min(chunk.len() as u64) as usize;
            self.hasher.update(&chunk[..room]);
            self.filled += room as u64;
            chunk = &chunk[room..];
            if self.filled == self.chunk_size {
                out.write(&std::mem::take(&mut self.hasher).finalize())?;
                self.filled = 0;
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        if self.filled > 0 {
            out.write(&self.hasher.finalize())?;
        }
        Ok(())
    }
}

/// The input, unchanged (reading a slice of a `Blob` in a worker, with progress).
#[derive(Debug, Default, Clone, Copy)]
pub struct Identity;

impl Stream for Identity {
    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        out.write(chunk)
    }

    fn finish(self: Box<Self>, _out: &mut dyn Sink) -> Result<(), Error> {
        Ok(())
    }
}
