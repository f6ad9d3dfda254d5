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
