//! Crypto ops. SHA-256 is the RustCrypto `sha2` implementation, fed incrementally.

use sha2::{Digest, Sha256};

use super::{parallel, Sink, Stream};
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
///
/// With several threads (`ops::parallel`) each whole piece is hashed on another thread while
/// the caller reads the next ones (`parallel::Ahead`: a read and the hashing overlap), at most
/// two pieces per thread at a time within `parallel::GATHER_BYTES`; pieces larger than 16 MiB
/// (`SPLIT_MAX_PIECE`) are hashed as they arrive, on one thread.
#[derive(Debug)]
pub struct ChunkHashes {
    chunk_size: u64,
    filled: u64,
    hasher: Sha256,
    /// Several threads: the piece being filled, and the pieces being hashed.
    ahead: Option<(Vec<u8>, parallel::Ahead<[u8; 32]>)>,
}

/// Largest piece hashed on another thread (memory: two pieces per thread).
pub const SPLIT_MAX_PIECE: u64 = 16 << 20;

impl ChunkHashes {
    /// Pieces of `chunk_size` bytes (at least 1).
    pub fn new(chunk_size: u64) -> Self {
        let chunk_size = chunk_size.max(1);
        let ahead =
            (parallel::threads() > 1 && chunk_size <= SPLIT_MAX_PIECE).then(|| (Vec::new(), parallel::Ahead::new()));
        ChunkHashes { chunk_size, filled: 0, hasher: Sha256::new(), ahead }
    }

    /// How many pieces may be hashing at once.
    fn ahead_max(&self) -> usize {
        (2 * parallel::threads()).min(parallel::GATHER_BYTES / self.chunk_size as usize).max(1)
    }
}

impl Stream for ChunkHashes {
    fn update(&mut self, mut chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        let (size, most) = (self.chunk_size as usize, self.ahead_max());
        if let Some((piece, ahead)) = &mut self.ahead {
            while !chunk.is_empty() {
                if piece.capacity() < size {
                    piece.reserve_exact(size - piece.len());
                }
                let take = (size - piece.len()).min(chunk.len());
                piece.extend_from_slice(&chunk[..take]);
                chunk = &chunk[take..];
                if piece.len() == size {
                    while ahead.len() >= most {
                        out.write(&ahead.wait_oldest().expect("jobs are running"))?;
                    }
                    let whole = std::mem::take(piece);
                    ahead.push(move || Sha256::digest(&whole).into());
                }
            }
            while let Some(digest) = ahead.next_done() {
                out.write(&digest)?;
            }
            return Ok(());
        }
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

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        if let Some((piece, mut ahead)) = self.ahead.take() {
            if !piece.is_empty() {
                ahead.push(move || Sha256::digest(&piece).into());
            }
            while let Some(digest) = ahead.wait_oldest() {
                out.write(&digest)?;
            }
            return Ok(());
        }
        if self.filled > 0 {
            out.write(&self.hasher.finalize())?;
        }
        Ok(())
    }
}

/// SHA-256 of each consecutive piece of the given lengths (several inputs sent as one). With
/// several threads, whole pieces of up to 16 MiB are gathered (within
/// `parallel::GATHER_BYTES`, at most a few per thread) and hashed at once; a larger piece is
/// hashed as it arrives. The digests come out in order either way.
#[derive(Debug, Clone)]
pub struct EachHashes {
    lengths: Vec<u64>,
    /// The piece the next byte belongs to, and how much of it came already.
    next: usize,
    filled: u64,
    hasher: Sha256,
    /// Several threads: whole pieces waiting to be hashed together, and where each ends.
    parallel: bool,
    gathered: Vec<u8>,
    ends: Vec<usize>,
}

impl EachHashes {
    /// Pieces of these lengths, in order.
    pub fn new(lengths: Vec<u64>) -> Self {
        let parallel = parallel::threads() > 1;
        EachHashes {
            lengths,
            next: 0,
            filled: 0,
            hasher: Sha256::new(),
            parallel,
            gathered: Vec::new(),
            ends: Vec::new(),
        }
    }

    fn gathers(&self, len: u64) -> bool {
        self.parallel && len <= SPLIT_MAX_PIECE
    }

    /// Hashes the gathered pieces, in order.
    fn flush(&mut self, out: &mut dyn Sink) -> Result<(), Error> {
        if self.ends.is_empty() {
            return Ok(());
        }
        let mut start = 0;
        let pieces: Vec<&[u8]> = self
            .ends
            .iter()
            .map(|&end| {
                let piece = &self.gathered[start..end];
                start = end;
                piece
            })
            .collect();
        for digest in parallel::map(&pieces, |piece| Sha256::digest(piece)) {
            out.write(&digest)?;
        }
        self.gathered.clear();
        self.ends.clear();
        Ok(())
    }

    /// Passes over the pieces that are complete with nothing more (empty ones, or a gathered
    /// piece whose last byte just came), writing or gathering their digests.
    fn close_complete(&mut self, out: &mut dyn Sink) -> Result<(), Error> {
        while self.next < self.lengths.len() && self.filled == self.lengths[self.next] {
            let len = self.lengths[self.next];
            if self.gathers(len) {
                self.ends.push(self.gathered.len());
                let full = self.gathered.len() >= parallel::GATHER_BYTES || self.ends.len() >= 4 * parallel::threads();
                if full {
                    self.flush(out)?;
                }
            } else {
                self.flush(out)?;
                out.write(&std::mem::take(&mut self.hasher).finalize())?;
            }
            self.next += 1;
            self.filled = 0;
        }
        Ok(())
    }

    fn changed() -> Error {
        Error::validation("the inputs' lengths do not add up to what was read")
    }
}

impl Stream for EachHashes {
    fn update(&mut self, mut chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        self.close_complete(out)?;
        while !chunk.is_empty() {
            let Some(&len) = self.lengths.get(self.next) else { return Err(Self::changed()) };
            let take = (len - self.filled).min(chunk.len() as u64) as usize;
            if self.gathers(len) {
                self.gathered.extend_from_slice(&chunk[..take]);
            } else {
                self.hasher.update(&chunk[..take]);
            }
            self.filled += take as u64;
            chunk = &chunk[take..];
            self.close_complete(out)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        self.close_complete(out)?;
        if self.next != self.lengths.len() {
            return Err(Self::changed());
        }
        self.flush(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn each(lengths: &[u64], input: &[u8], feed: usize) -> Result<Vec<u8>, Error> {
        let mut stream = Box::new(EachHashes::new(lengths.to_vec()));
        let mut out = Vec::new();
        for piece in input.chunks(feed) {
            stream.update(piece, &mut out)?;
        }
        stream.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn each_input_gets_its_own_digest_on_one_thread_or_several() {
        let lengths = [0u64, 5, 0, 70_000, 1, (SPLIT_MAX_PIECE + 3), 0, 12_345, 0];
        let total: u64 = lengths.iter().sum();
        let input: Vec<u8> = (0..total).map(|i| (i * 13 % 251) as u8).collect();
        let mut expected = Vec::new();
        let mut at = 0usize;
        for &len in &lengths {
            expected.extend_from_slice(&Sha256::digest(&input[at..at + len as usize]));
            at += len as usize;
        }
        for feed in [1 << 20, 4096, 70_001] {
            assert_eq!(parallel::with_threads(1, || each(&lengths, &input, feed)).unwrap(), expected, "fed {feed}");
            assert_eq!(
                parallel::with_threads(3, || each(&lengths, &input, feed)).unwrap(),
                expected,
                "fed {feed}, 3 threads"
            );
        }
        assert_eq!(each(&[], &[], 10).unwrap(), Vec::<u8>::new());
        assert_eq!(each(&[0, 0], &[], 10).unwrap().len(), 64);
        // Lengths that do not add up.
        assert_eq!(each(&[3], &[1, 2, 3, 4], 2).unwrap_err().kind(), crate::ErrorKind::Validation);
        assert_eq!(each(&[3, 2], &[1, 2, 3, 4], 2).unwrap_err().kind(), crate::ErrorKind::Validation);
    }

    fn plan(chunk_size: u64, input: &[u8], feed: usize) -> Vec<u8> {
        let mut stream = Box::new(ChunkHashes::new(chunk_size));
        let mut out = Vec::new();
        for piece in input.chunks(feed) {
            stream.update(piece, &mut out).unwrap();
        }
        stream.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn chunk_hashes_are_the_same_on_one_thread_or_several() {
        let input: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
        for (size, feed) in [(1000, 4096), (65_536, 1000), (300_001, 70_000), (1 << 20, 65_536), (7, 13)] {
            let serial = parallel::with_threads(1, || plan(size, &input, feed));
            let split = parallel::with_threads(3, || plan(size, &input, feed));
            assert_eq!(serial.len(), input.len().div_ceil(size as usize) * 32, "size {size}");
            assert_eq!(serial, split, "size {size}, fed {feed}");
            assert_eq!(&serial[..32], Sha256::digest(&input[..(size as usize).min(input.len())]).as_slice());
        }
    }
}
