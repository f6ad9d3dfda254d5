//! Crypto ops. SHA-256 is the RustCrypto `sha2` implementation, fed incrementally.

use sha2::{Digest, Sha256};

use super::Stream;
use crate::error::Error;

/// Incremental SHA-256; the output is the 32-byte digest.
#[derive(Debug, Default, Clone)]
pub struct Sha256Stream(Sha256);

impl Stream for Sha256Stream {
    fn update(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.0.update(chunk);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<u8>, Error> {
        Ok(self.0.finalize().to_vec())
    }
}
