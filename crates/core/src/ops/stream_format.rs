//! The chunked stream format of `encryptFile` / `decryptFile`: AES-256-GCM in the STREAM
//! construction (as Tink's streaming AEAD and age do), specified in `docs/stream-format.md`.
//!
//! ```text
//! header (32 bytes) = "WBS1" ‖ version (1) ‖ chunk size (u32 BE) ‖ salt (16) ‖ nonce prefix (7)
//! file key          = HKDF-SHA256(ikm = key, salt, info = "worker-bridge stream v1")
//! chunk i           = AES-256-GCM(file key, nonce = prefix ‖ i (u32 BE) ‖ last (1 byte: 1 on the
//!                     final chunk, else 0), aad = header ‖ caller's aad) — ciphertext ‖ 16-byte tag
//! ```
//! Every chunk but the last holds exactly `chunk size` plaintext bytes; the last holds 0 ..=
//! `chunk size` (0 only for an empty input). Reordering, truncation, extension or any flipped
//! bit fails a tag, and opening stops at the first failure: no plaintext of an unverified chunk is
//! ever written. Chunks are independent, so a file can be sealed or opened in parts, in parallel:
//! a part is a run of whole chunks starting at `first_chunk`, and only the last part holds the
//! final chunk.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use super::aead::{check_key, TAG_LEN};
use super::{Sink, Stream};
use crate::error::{Error, ErrorKind};

/// The first four bytes of every sealed stream.
pub const MAGIC: [u8; 4] = *b"WBS1";
/// The format version this code writes and reads.
pub const VERSION: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 32;
/// Salt length.
pub const SALT_LEN: usize = 16;
/// Nonce prefix length.
pub const PREFIX_LEN: usize = 7;
/// Smallest chunk size allowed.
pub const MIN_CHUNK: u32 = 64 * 1024;
/// Largest chunk size allowed.
pub const MAX_CHUNK: u32 = 16 * 1024 * 1024;
const INFO: &[u8] = b"worker-bridge stream v1";

/// The parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// HKDF salt: makes the file key unique per file.
    pub salt: [u8; SALT_LEN],
    /// Nonce prefix: unique per file.
    pub prefix: [u8; PREFIX_LEN],
}

impl Header {
    /// A header with a validated chunk size.
    ///
    /// # Errors
    /// `ValidationError` when `chunk_size` is outside `MIN_CHUNK ..= MAX_CHUNK`.
    pub fn new(chunk_size: u32, salt: [u8; SALT_LEN], prefix: [u8; PREFIX_LEN]) -> Result<Header, Error> {
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk_size) {
            return Err(Error::validation(format!(
                "chunkSize must be {MIN_CHUNK} ..= {MAX_CHUNK} bytes, got {chunk_size}"
            )));
        }
        Ok(Header { chunk_size, salt, prefix })
    }

    /// A header with a fresh random salt and prefix.
    ///
    /// # Errors
    /// As [`Header::new`].
    pub fn random(chunk_size: u32) -> Result<Header, Error> {
        let mut random = [0u8; SALT_LEN + PREFIX_LEN];
        getrandom::getrandom(&mut random).map_err(|e| Error::validation(format!("no randomness: {e}")))?;
        let (salt, prefix) = random.split_at(SALT_LEN);
        Header::new(chunk_size, salt.try_into().expect("16 bytes"), prefix.try_into().expect("7 bytes"))
    }

    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5..9].copy_from_slice(&self.chunk_size.to_be_bytes());
        out[9..25].copy_from_slice(&self.salt);
        out[25..32].copy_from_slice(&self.prefix);
        out
    }

    /// Parses header bytes. Any defect is an `AuthenticationError`: the header is authenticated
    /// data, so a damaged one is a tampered stream, whatever the byte that changed.
    ///
    /// # Errors
    /// `AuthenticationError` for a short input, another magic or version, or an invalid chunk size.
    pub fn decode(bytes: &[u8]) -> Result<Header, Error> {
        let bad = |why: &str| Error::new(ErrorKind::Authentication, format!("not a valid worker-bridge stream: {why}"));
        if bytes.len() < HEADER_LEN {
            return Err(bad("shorter than its header"));
        }
        if bytes[..4] != MAGIC {
            return Err(bad("wrong magic"));
        }
        if bytes[4] != VERSION {
            return Err(bad("unknown version"));
        }
        let chunk_size = u32::from_be_bytes(bytes[5..9].try_into().expect("4 bytes"));
        let salt = bytes[9..25].try_into().expect("16 bytes");
        let prefix = bytes[25..32].try_into().expect("7 bytes");
        Header::new(chunk_size, salt, prefix).map_err(|_| bad("chunk size out of range"))
    }

    fn file_cipher(&self, key: &[u8]) -> Result<Aes256Gcm, Error> {
        check_key(key)?;
        let mut file_key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.salt), key)
            .expand(INFO, &mut file_key)
            .expect("invariant: 32 bytes is a valid HKDF-SHA256 output length");
        let cipher = Aes256Gcm::new_from_slice(&file_key).expect("invariant: 32-byte key");
        zeroize::Zeroize::zeroize(&mut file_key);
        Ok(cipher)
    }

    fn nonce(&self, index: u32, last: bool) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce[..7].copy_from_slice(&self.prefix);
        nonce[7..11].copy_from_slice(&index.to_be_bytes());
        nonce[11] = u8::from(last);
        nonce
    }
}

/// State shared by sealing and opening a run of chunks.
struct Chunks {
    header: Header,
    cipher: Aes256Gcm,
    aad: Vec<u8>,
    next: u32,
    final_part: bool,
    buf: Vec<u8>,
}

impl Chunks {
    fn new(header: Header, key: &[u8], aad: &[u8], first_chunk: u32, final_part: bool) -> Result<Self, Error> {
        let mut full_aad = header.encode().to_vec();
        full_aad.extend_from_slice(aad);
        Ok(Chunks {
            header,
            cipher: header.file_cipher(key)?,
            aad: full_aad,
            next: first_chunk,
            final_part,
            buf: Vec::new(),
        })
    }

    fn index(&mut self) -> Result<u32, Error> {
        let index = self.next;
        self.next = index
            .checked_add(1)
            .ok_or_else(|| Error::new(ErrorKind::LimitExceeded, "the stream has more than 2^32 chunks"))?;
        Ok(index)
    }

    /// Seals `plain` (taken from the front of `buf`) as chunk `index`.
    fn seal(&mut self, len: usize, last: bool, out: &mut dyn Sink) -> Result<(), Error> {
        let index = self.index()?;
        let mut chunk: Vec<u8> = self.buf.drain(..len).collect();
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&self.header.nonce(index, last)), &self.aad, &mut chunk)
            .map_err(|_| Error::new(ErrorKind::LimitExceeded, "a chunk is too long for AES-GCM"))?;
        out.write(&chunk)?;
        out.write(&tag)
    }

    /// Opens the `len` sealed bytes at the front of `buf` as chunk `index`; writes nothing unless
    /// the tag verifies.
    fn open(&mut self, len: usize, last: bool, out: &mut dyn Sink) -> Result<(), Error> {
        let index = self.index()?;
        let mut chunk: Vec<u8> = self.buf.drain(..len).collect();
        let tag_at = chunk.len() - TAG_LEN;
        let tag = aes_gcm::Tag::clone_from_slice(&chunk[tag_at..]);
        chunk.truncate(tag_at);
        self.cipher
            .decrypt_in_place_detached(Nonce::from_slice(&self.header.nonce(index, last)), &self.aad, &mut chunk, &tag)
            .map_err(|_| {
                Error::new(
                    ErrorKind::Authentication,
                    format!("chunk {index} did not verify (wrong key, or a truncated, reordered or altered stream)"),
                )
            })?;
        out.write(&chunk)
    }
}

/// Seals a run of chunks: the plaintext in, sealed chunks out (no header).
pub(crate) struct SealChunks(Chunks);

impl SealChunks {
    pub(crate) fn new(
        header: Header,
        key: &[u8],
        aad: &[u8],
        first_chunk: u32,
        final_part: bool,
    ) -> Result<Self, Error> {
        Chunks::new(header, key, aad, first_chunk, final_part).map(SealChunks)
    }
}

impl Stream for SealChunks {
    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        let c = &mut self.0;
        c.buf.extend_from_slice(chunk);
        let size = c.header.chunk_size as usize;
        // Keep up to one chunk back: only at the end do we know which chunk is the last.
        while c.buf.len() > size {
            c.seal(size, false, out)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        let c = &mut self.0;
        let size = c.header.chunk_size as usize;
        if c.final_part {
            let len = c.buf.len();
            c.seal(len, true, out)
        } else if c.buf.len() == size {
            c.seal(size, false, out)
        } else {
            Err(Error::validation("a part other than the last must hold whole chunks"))
        }
    }
}

/// Opens a run of sealed chunks (no header): sealed chunks in, plaintext out.
pub(crate) struct OpenChunks(Chunks);

impl OpenChunks {
    pub(crate) fn new(
        header: Header,
        key: &[u8],
        aad: &[u8],
        first_chunk: u32,
        final_part: bool,
    ) -> Result<Self, Error> {
        Chunks::new(header, key, aad, first_chunk, final_part).map(OpenChunks)
    }
}

impl Stream for OpenChunks {
    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        let c = &mut self.0;
        c.buf.extend_from_slice(chunk);
        let sealed = c.header.chunk_size as usize + TAG_LEN;
        while c.buf.len() > sealed {
            c.open(sealed, false, out)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        let c = &mut self.0;
        let sealed = c.header.chunk_size as usize + TAG_LEN;
        let len = c.buf.len();
        let truncated = || Error::new(ErrorKind::Authentication, "the stream is truncated");
        if c.final_part {
            if len < TAG_LEN {
                return Err(truncated());
            }
            c.open(len, true, out)
        } else if len == sealed {
            c.open(len, false, out)
        } else {
            Err(truncated())
        }
    }
}

/// A whole sealed stream: writes the header, then seals every chunk.
pub(crate) struct Seal {
    header: [u8; HEADER_LEN],
    written: bool,
    chunks: SealChunks,
}

impl Seal {
    pub(crate) fn new(header: Header, key: &[u8], aad: &[u8]) -> Result<Self, Error> {
        Ok(Seal { header: header.encode(), written: false, chunks: SealChunks::new(header, key, aad, 0, true)? })
    }

    fn header(&mut self, out: &mut dyn Sink) -> Result<(), Error> {
        if !self.written {
            self.written = true;
            out.write(&self.header)?;
        }
        Ok(())
    }
}

impl Stream for Seal {
    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        self.header(out)?;
        self.chunks.update(chunk, out)
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        self.header(out)?;
        let Seal { chunks, .. } = *self;
        Box::new(chunks).finish(out)
    }
}

/// A whole sealed stream: reads the header, then opens every chunk.
pub(crate) struct Open {
    key: Vec<u8>,
    aad: Vec<u8>,
    head: Vec<u8>,
    chunks: Option<OpenChunks>,
}

impl Open {
    pub(crate) fn new(key: &[u8], aad: &[u8]) -> Result<Self, Error> {
        check_key(key)?;
        Ok(Open { key: key.to_vec(), aad: aad.to_vec(), head: Vec::new(), chunks: None })
    }
}

impl Stream for Open {
    fn update(&mut self, mut chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        if self.chunks.is_none() {
            let need = HEADER_LEN - self.head.len();
            let take = need.min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.head.len() < HEADER_LEN {
                return Ok(());
            }
            let header = Header::decode(&self.head)?;
            self.chunks = Some(OpenChunks::new(header, &self.key, &self.aad, 0, true)?);
        }
        self.chunks.as_mut().expect("set above").update(chunk, out)
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        match self.chunks.take() {
            Some(chunks) => Box::new(chunks).finish(out),
            None => Err(Error::new(ErrorKind::Authentication, "the stream is shorter than its header")),
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

/// Sealed length of `plain_len` plaintext bytes with chunks of `chunk_size`.
pub fn sealed_len(plain_len: u64, chunk_size: u32) -> u64 {
    let chunks = plain_len.div_ceil(u64::from(chunk_size)).max(1);
    HEADER_LEN as u64 + plain_len + chunks * TAG_LEN as u64
}

/// Splits `chunks` chunks into at most `max_runs` contiguous runs of at least `min_per_run`
/// chunks each (one run when there are too few), as even as possible: the plan for sealing or
/// opening a file in parallel. Each range is `first_chunk .. end_chunk`.
pub fn plan_runs(chunks: u64, max_runs: usize, min_per_run: u64) -> Vec<std::ops::Range<u64>> {
    let chunks = chunks.max(1);
    let runs = (chunks / min_per_run.max(1)).clamp(1, max_runs.max(1) as u64);
    let base = chunks / runs;
    let extra = chunks % runs;
    let mut start = 0;
    (0..runs)
        .map(|k| {
            let len = base + u64::from(k < extra);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_every_chunk_once_and_respect_the_bounds() {
        for chunks in [0u64, 1, 2, 3, 7, 8, 64, 65, 1000] {
            for max in [1usize, 2, 3, 8] {
                let runs = plan_runs(chunks, max, 2);
                assert!(runs.len() <= max);
                assert_eq!(runs.first().unwrap().start, 0);
                assert_eq!(runs.last().unwrap().end, chunks.max(1));
                assert!(runs.windows(2).all(|w| w[0].end == w[1].start));
                if runs.len() > 1 {
                    assert!(runs.iter().all(|r| r.end - r.start >= 2), "{chunks} {max}: {runs:?}");
                }
            }
        }
        assert_eq!(plan_runs(64, 2, 2), vec![0..32, 32..64]);
    }
}
