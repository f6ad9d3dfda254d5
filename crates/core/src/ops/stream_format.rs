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

use hkdf::Hkdf;
use sha2::Sha256;

use super::aead::{check_key, GcmStream, TAG_LEN};
use super::{parallel, Sink, Stream};
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

    fn file_key(&self, key: &[u8]) -> Result<[u8; 32], Error> {
        check_key(key)?;
        let mut file_key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.salt), key)
            .expand(INFO, &mut file_key)
            .expect("invariant: 32 bytes is a valid HKDF-SHA256 output length");
        Ok(file_key)
    }

    fn nonce(&self, index: u32, last: bool) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce[..7].copy_from_slice(&self.prefix);
        nonce[7..11].copy_from_slice(&index.to_be_bytes());
        nonce[11] = u8::from(last);
        nonce
    }
}

/// One chunk of a run, for an engine that seals or opens each chunk whole (WebCrypto).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChunk {
    /// Its index in the stream.
    pub index: u32,
    /// Its bytes in the run's input (plaintext to seal; ciphertext ‖ tag to open).
    pub range: std::ops::Range<u64>,
    /// `prefix ‖ index ‖ last`.
    pub nonce: [u8; 12],
}

/// A run of chunks cut up for an engine that seals or opens each chunk whole: the file key, the
/// associated data every chunk carries, and each chunk's bytes and nonce — the same cuts the
/// streaming code makes, so both engines give and accept the same bytes.
#[derive(Debug)]
pub struct RunPlan {
    /// The file key (HKDF of the caller's key); wiped when dropped.
    pub key: zeroize::Zeroizing<[u8; 32]>,
    /// `header ‖ caller's aad`.
    pub aad: Vec<u8>,
    /// The chunks, in order.
    pub chunks: Vec<PlannedChunk>,
}

/// Cuts the run `run` of a stream into its chunks, for an input of `len` bytes (plaintext when
/// sealing, sealed chunks when `open`).
///
/// # Errors
/// As the streaming code: a bad header or key; a run other than the last that does not hold
/// whole chunks (`ValidationError` sealing, `AuthenticationError` "truncated" opening); a sealed
/// chunk shorter than its tag; more than 2³² chunks.
pub fn plan_run(run: &super::ChunkRun, len: u64, open: bool) -> Result<RunPlan, Error> {
    // As the streaming code: a bad header is the caller's error when sealing, the stream's when
    // opening.
    let header = Header::decode(&run.header).map_err(|e| if open { e } else { Error::validation(e.message()) })?;
    let key = zeroize::Zeroizing::new(header.file_key(&run.key.0)?);
    let mut aad = header.encode().to_vec();
    aad.extend_from_slice(&run.aad);
    let unit = u64::from(header.chunk_size) + if open { TAG_LEN as u64 } else { 0 };
    let truncated = || Error::new(ErrorKind::Authentication, "the stream is truncated");
    let (mut chunks, mut at, mut index) = (Vec::new(), 0u64, run.first_chunk);
    loop {
        let left = len - at;
        let take = left.min(unit);
        let last = run.final_part && left <= unit;
        if !last && take < unit {
            // A run that is not the last ends inside a chunk (or holds nothing).
            return Err(if open {
                truncated()
            } else {
                Error::validation("a part other than the last must hold whole chunks")
            });
        }
        if open && take < TAG_LEN as u64 {
            return Err(truncated());
        }
        chunks.push(PlannedChunk { index, range: at..at + take, nonce: header.nonce(index, last) });
        at += take;
        if last || (at == len && !run.final_part) {
            return Ok(RunPlan { key, aad, chunks });
        }
        index = index
            .checked_add(1)
            .ok_or_else(|| Error::new(ErrorKind::LimitExceeded, "the stream has more than 2^32 chunks"))?;
    }
}

/// A stream of unknown length cut into the format's chunks as its bytes arrive, for an engine
/// that seals or opens each chunk whole (WebCrypto): the same cuts as [`plan_run`] over the whole
/// stream. A full chunk is held back until a byte past it arrives or the input ends, since its
/// nonce says whether it is the last; opening, the header comes first and gives the chunk size.
///
/// It counts the bytes and holds none: the caller keeps them (in JavaScript, where WebCrypto
/// reads them, so they never cross into wasm memory) and takes each cut's bytes off the front.
#[derive(Debug)]
pub struct Cutter {
    open: bool,
    key: zeroize::Zeroizing<Vec<u8>>,
    caller_aad: Vec<u8>,
    /// Known once sealing starts, or once an opened stream's header has arrived.
    params: Option<FileParams>,
    /// Bytes pushed and not yet cut.
    held: u64,
    index: u32,
    done: bool,
}

/// A stream's header, file key and the associated data of its every chunk (`header ‖ aad`).
#[derive(Debug)]
struct FileParams {
    header: Header,
    key: zeroize::Zeroizing<[u8; 32]>,
    aad: Vec<u8>,
}

/// What a [`Cutter`] cuts next off the front of the bytes held.
#[derive(Debug, PartialEq, Eq)]
pub enum Cut {
    /// Opening: the stream's [`HEADER_LEN`]-byte header, to hand to [`Cutter::header`].
    Header,
    /// A chunk to seal or open.
    Chunk(CutChunk),
}

/// One chunk cut by a [`Cutter`].
#[derive(Debug, PartialEq, Eq)]
pub struct CutChunk {
    /// Its index in the stream.
    pub index: u32,
    /// `prefix ‖ index ‖ last`.
    pub nonce: [u8; 12],
    /// How many bytes: plaintext to seal, or ciphertext ‖ tag to open.
    pub len: usize,
}

impl Cutter {
    /// Cuts plaintext to seal under `header` (written before the first chunk by the caller).
    ///
    /// # Errors
    /// A key that is not 32 bytes.
    pub fn seal(header: Header, key: &[u8], aad: &[u8]) -> Result<Cutter, Error> {
        let mut cutter = Cutter::new(false, key, aad);
        cutter.params = Some(Self::params(header, key, aad)?);
        Ok(cutter)
    }

    /// Cuts a sealed stream, header included, to open.
    ///
    /// # Errors
    /// A key that is not 32 bytes.
    pub fn open(key: &[u8], aad: &[u8]) -> Result<Cutter, Error> {
        check_key(key)?;
        Ok(Cutter::new(true, key, aad))
    }

    fn new(open: bool, key: &[u8], aad: &[u8]) -> Cutter {
        Cutter {
            open,
            key: zeroize::Zeroizing::new(key.to_vec()),
            caller_aad: aad.to_vec(),
            params: None,
            held: 0,
            index: 0,
            done: false,
        }
    }

    fn params(header: Header, key: &[u8], aad: &[u8]) -> Result<FileParams, Error> {
        let file_key = zeroize::Zeroizing::new(header.file_key(key)?);
        let mut all = header.encode().to_vec();
        all.extend_from_slice(aad);
        Ok(FileParams { header, key: file_key, aad: all })
    }

    /// The file key and every chunk's associated data (`header ‖ aad`), once known.
    pub fn keys(&self) -> Option<(&[u8; 32], &[u8])> {
        self.params.as_ref().map(|p| (&*p.key, p.aad.as_slice()))
    }

    /// `len` more bytes of the input arrived.
    pub fn push(&mut self, len: usize) {
        self.held += len as u64;
    }

    /// Opening, after [`Cut::Header`]: the stream's first [`HEADER_LEN`] bytes.
    ///
    /// # Errors
    /// A bad header (`AuthenticationError` or `ValidationError`, as the Rust code reports it).
    pub fn header(&mut self, bytes: &[u8]) -> Result<(), Error> {
        debug_assert!(self.params.is_none() && self.held >= HEADER_LEN as u64);
        let header = Header::decode(bytes)?;
        self.params = Some(Self::params(header, &self.key, &self.caller_aad)?);
        self.held -= HEADER_LEN as u64;
        Ok(())
    }

    /// The next cut whose bytes are all here and, for a chunk, which is known to be last or
    /// not: with `ended` (no more input will come) the last one. `None`: more input is needed,
    /// or every chunk was handed out.
    ///
    /// # Errors
    /// Opening: a stream that ends inside its header or a tag (`AuthenticationError`).
    pub fn next(&mut self, ended: bool) -> Result<Option<Cut>, Error> {
        let truncated = || Error::new(ErrorKind::Authentication, "the stream is truncated");
        if self.done {
            return Ok(None);
        }
        let Some(header) = self.params.as_ref().map(|p| p.header) else {
            return match (self.held >= HEADER_LEN as u64, ended) {
                (true, _) => Ok(Some(Cut::Header)),
                (false, true) => Err(truncated()),
                (false, false) => Ok(None),
            };
        };
        let unit = u64::from(header.chunk_size) + if self.open { TAG_LEN as u64 } else { 0 };
        let last = match (self.held > unit, ended) {
            (true, _) => false,
            (false, true) => true,
            (false, false) => return Ok(None),
        };
        let take = self.held.min(unit);
        if self.open && take < TAG_LEN as u64 {
            return Err(truncated());
        }
        self.held -= take;
        let chunk = CutChunk { index: self.index, nonce: header.nonce(self.index, last), len: take as usize };
        if last {
            self.done = true;
        } else {
            self.index = self
                .index
                .checked_add(1)
                .ok_or_else(|| Error::new(ErrorKind::LimitExceeded, "the stream has more than 2^32 chunks"))?;
        }
        Ok(Some(Cut::Chunk(chunk)))
    }
}

/// State shared by sealing and opening a run of chunks, one chunk at a time and each chunk as
/// its bytes arrive, so no step does more work than the bytes it was fed (the main thread's
/// steps stay short, whatever the chunk size).
///
/// A chunk's nonce says whether it is the stream's last, so its cipher can start only once that
/// is known: at once when the input's length was told ([`Stream::input_len`]: every source of
/// the bridge knows it), else when a byte past the chunk arrives or the input ends — until then
/// its bytes are held, and the chunk is processed in one go.
struct Chunks {
    header: Header,
    /// The file key (HKDF of the caller's key); wiped on drop.
    key: [u8; 32],
    aad: Vec<u8>,
    next: u32,
    final_part: bool,
    /// Sealing or opening.
    open: bool,
    /// Input bytes per whole chunk: the chunk size, plus the tag when opening.
    unit: usize,
    /// Input bytes not yet given to a chunk, when the input's length is known.
    left: Option<u64>,
    /// The chunk in progress and how many more input bytes it takes.
    current: Option<(Box<GcmStream>, usize, u32)>,
    /// Bytes of the next chunk, held while its last-ness is unknown; with `gather`, the whole
    /// chunks not processed yet.
    held: Vec<u8>,
    /// Several threads (`ops::parallel`) and the length known: whole chunks are gathered, one
    /// per thread, and processed at once.
    gather: bool,
}

impl Chunks {
    fn new(
        header: Header,
        key: &[u8],
        aad: &[u8],
        first_chunk: u32,
        final_part: bool,
        open: bool,
    ) -> Result<Self, Error> {
        let mut full_aad = header.encode().to_vec();
        full_aad.extend_from_slice(aad);
        let unit = header.chunk_size as usize + if open { TAG_LEN } else { 0 };
        Ok(Chunks {
            header,
            key: header.file_key(key)?,
            aad: full_aad,
            next: first_chunk,
            final_part,
            open,
            unit,
            left: None,
            current: None,
            held: Vec::new(),
            gather: false,
        })
    }

    fn truncated() -> Error {
        Error::new(ErrorKind::Authentication, "the stream is truncated")
    }

    /// A run that is not the last ends inside a chunk.
    fn partial(&self) -> Error {
        if self.open {
            Self::truncated()
        } else {
            Error::validation("a part other than the last must hold whole chunks")
        }
    }

    /// The input turned out longer or shorter than its source said.
    fn changed() -> Error {
        Error::validation("the input's length changed while it was read")
    }

    /// The next chunk's index, counted.
    fn take_index(&mut self) -> Result<u32, Error> {
        let index = self.next;
        self.next = index
            .checked_add(1)
            .ok_or_else(|| Error::new(ErrorKind::LimitExceeded, "the stream has more than 2^32 chunks"))?;
        Ok(index)
    }

    /// Starts the next chunk: `len` input bytes, the stream's last chunk or not.
    fn begin(&mut self, len: usize, last: bool) -> Result<(), Error> {
        if self.open && len < TAG_LEN {
            return Err(Self::truncated());
        }
        let index = self.take_index()?;
        let cipher = GcmStream::with_nonce(&self.key, &self.header.nonce(index, last), &self.aad, self.open)?;
        self.current = Some((Box::new(cipher), len, index));
        Ok(())
    }

    /// Feeds the chunk in progress up to `bytes.len()` of its remaining bytes; returns how many
    /// it took. A chunk that has all its bytes is finished: its tag written (sealing), or its
    /// plaintext written once the tag verified (opening).
    fn feed(&mut self, bytes: &[u8], out: &mut dyn Sink) -> Result<usize, Error> {
        let Some((cipher, need, _)) = self.current.as_mut() else { return Ok(0) };
        let take = (*need).min(bytes.len());
        cipher.update(&bytes[..take], out)?;
        *need -= take;
        if *need == 0 {
            let (cipher, _, index) = self.current.take().expect("set above");
            cipher.finish(out).map_err(|e| Self::chunk_error(e, index))?;
        }
        Ok(take)
    }

    /// The whole `len` bytes of a chunk at once (its bytes were held).
    fn whole(&mut self, len: usize, last: bool, out: &mut dyn Sink) -> Result<(), Error> {
        self.begin(len, last)?;
        let bytes = std::mem::take(&mut self.held);
        let taken = self.feed(&bytes[..len], out);
        self.held = bytes;
        self.held.drain(..len);
        taken.map(|_| ())
    }

    /// 0 is taken as unknown (an empty input needs no help: it is all one final chunk).
    fn input_len(&mut self, len: u64) {
        if len > 0 {
            self.left = Some(len);
            self.gather = parallel::threads() > 1;
        }
    }

    /// The chunk error that names the chunk.
    fn chunk_error(e: Error, index: u32) -> Error {
        match e.kind() {
            ErrorKind::Authentication => Error::new(
                ErrorKind::Authentication,
                format!("chunk {index} did not verify (wrong key, or a truncated, reordered or altered stream)"),
            ),
            _ => e,
        }
    }

    /// Gathered mode: processes every whole chunk held (the last one once all its bytes are
    /// here), one per thread at a time, writing each in order; a chunk that fails stops there,
    /// after the ones before it (which verified).
    fn process_gathered(&mut self, out: &mut dyn Sink) -> Result<(), Error> {
        let mut left = self.left.expect("gathered mode knows the length");
        let mut ready = Vec::new();
        let mut offset = 0;
        while left > 0 {
            let len = left.min(self.unit as u64) as usize;
            if self.held.len() - offset < len {
                break;
            }
            let last = self.final_part && left <= self.unit as u64;
            if !last && len < self.unit {
                return Err(self.partial());
            }
            if self.open && len < TAG_LEN {
                return Err(Self::truncated());
            }
            let index = self.take_index()?;
            ready.push((offset, len, index, last));
            offset += len;
            left -= len as u64;
        }
        self.left = Some(left);
        let (key, aad, header, open, held) = (&self.key, &self.aad, &self.header, self.open, &self.held);
        let results = parallel::map(&ready, |&(offset, len, index, last)| {
            let mut cipher = Box::new(GcmStream::with_nonce(key, &header.nonce(index, last), aad, open)?);
            let mut output = Vec::with_capacity(len + TAG_LEN);
            cipher.update(&held[offset..offset + len], &mut output)?;
            cipher.finish(&mut output).map_err(|e| Self::chunk_error(e, index))?;
            Ok::<_, Error>(output)
        });
        let mut outcome = Ok(());
        for result in results {
            match result {
                Ok(mut bytes) if outcome.is_ok() => {
                    outcome = out.write(&bytes);
                    zeroize::Zeroize::zeroize(&mut bytes);
                }
                Ok(mut bytes) => zeroize::Zeroize::zeroize(&mut bytes),
                Err(e) if outcome.is_ok() => outcome = Err(e),
                Err(_) => {}
            }
        }
        let mut used: Vec<u8> = self.held.drain(..offset).collect();
        zeroize::Zeroize::zeroize(&mut used);
        outcome
    }

    fn update(&mut self, mut bytes: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        if self.gather {
            let left = self.left.expect("gathered mode knows the length");
            if (self.held.len() + bytes.len()) as u64 > left {
                return Err(Self::changed());
            }
            self.held.extend_from_slice(bytes);
            // One chunk per thread at a time (or the rest of the run).
            let batch = (parallel::batch(self.unit) * self.unit) as u64;
            if self.held.len() as u64 >= batch.min(left) {
                return self.process_gathered(out);
            }
            return Ok(());
        }
        let Some(mut left) = self.left else {
            self.held.extend_from_slice(bytes);
            while self.held.len() > self.unit {
                self.whole(self.unit, false, out)?;
            }
            return Ok(());
        };
        while !bytes.is_empty() {
            if self.current.is_none() {
                if left == 0 {
                    return Err(Self::changed());
                }
                let len = left.min(self.unit as u64) as usize;
                let last = self.final_part && left <= self.unit as u64;
                if !last && len < self.unit {
                    return Err(self.partial());
                }
                self.begin(len, last)?;
                left -= len as u64;
                self.left = Some(left);
            }
            let taken = self.feed(bytes, out)?;
            bytes = &bytes[taken..];
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Sink) -> Result<(), Error> {
        if self.gather {
            self.process_gathered(out)?;
            return match (self.left, self.held.is_empty()) {
                (Some(0), true) => Ok(()),
                _ => Err(Self::changed()),
            };
        }
        if self.left.is_some() {
            // Every chunk was started as its bytes came; the last one finished with its last byte.
            return match (self.current.is_some(), self.left) {
                (false, Some(0)) => Ok(()),
                _ => Err(Self::changed()),
            };
        }
        let len = self.held.len();
        if self.final_part {
            self.whole(len, true, out)
        } else if len == self.unit {
            self.whole(len, false, out)
        } else {
            Err(self.partial())
        }
    }
}

impl Drop for Chunks {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
        zeroize::Zeroize::zeroize(&mut self.held);
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
        Chunks::new(header, key, aad, first_chunk, final_part, false).map(SealChunks)
    }
}

impl Stream for SealChunks {
    fn input_len(&mut self, len: u64) {
        self.0.input_len(len);
    }

    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        self.0.update(chunk, out)
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        self.0.finish(out)
    }
}

/// Opens a run of sealed chunks (no header): sealed chunks in, plaintext out. No byte of a chunk
/// is written before its tag verified.
pub(crate) struct OpenChunks(Chunks);

impl OpenChunks {
    pub(crate) fn new(
        header: Header,
        key: &[u8],
        aad: &[u8],
        first_chunk: u32,
        final_part: bool,
    ) -> Result<Self, Error> {
        Chunks::new(header, key, aad, first_chunk, final_part, true).map(OpenChunks)
    }
}

impl Stream for OpenChunks {
    fn input_len(&mut self, len: u64) {
        self.0.input_len(len);
    }

    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        self.0.update(chunk, out)
    }

    fn finish(mut self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error> {
        self.0.finish(out)
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
    fn input_len(&mut self, len: u64) {
        self.chunks.input_len(len);
    }

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
    /// The whole input's length, if told.
    len: Option<u64>,
    chunks: Option<OpenChunks>,
}

impl Open {
    pub(crate) fn new(key: &[u8], aad: &[u8]) -> Result<Self, Error> {
        check_key(key)?;
        Ok(Open { key: key.to_vec(), aad: aad.to_vec(), head: Vec::new(), len: None, chunks: None })
    }
}

impl Stream for Open {
    fn input_len(&mut self, len: u64) {
        self.len = Some(len);
    }

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
            let mut chunks = OpenChunks::new(header, &self.key, &self.aad, 0, true)?;
            if let Some(len) = self.len {
                chunks.input_len(len.saturating_sub(HEADER_LEN as u64));
            }
            self.chunks = Some(chunks);
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

    #[test]
    fn the_cutter_makes_the_cuts_of_the_whole_stream_plan() {
        use super::{plan_run, Cutter};
        let header = Header::new(MIN_CHUNK, [3; SALT_LEN], [4; PREFIX_LEN]).unwrap();
        let key = [9u8; 32];
        let chunk = MIN_CHUNK as usize;
        for len in [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 3 * chunk + 7] {
            let run = crate::ops::ChunkRun {
                key: crate::ops::Secret(key.to_vec()),
                header: header.encode().to_vec(),
                aad: b"aad".to_vec(),
                first_chunk: 0,
                final_part: true,
            };
            let plan = plan_run(&run, len as u64, false).unwrap();
            for piece in [1, 1000, chunk, chunk + 5, 10 * chunk] {
                let mut cutter = Cutter::seal(header, &key, b"aad").unwrap();
                let (file_key, aad) = cutter.keys().unwrap();
                assert_eq!((file_key, aad), (&*plan.key, plan.aad.as_slice()));
                let input = vec![7u8; len];
                let cuts = cut_all(&mut cutter, &input, piece).unwrap();
                let expected: Vec<_> =
                    plan.chunks.iter().map(|c| (c.index, c.nonce, (c.range.end - c.range.start) as usize)).collect();
                let got: Vec<_> = cuts.iter().map(|(c, bytes)| (c.index, c.nonce, bytes.len())).collect();
                assert_eq!(got, expected, "len {len}, pieces of {piece}");
            }
        }
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn the_cutter_opens_what_the_rust_code_seals_and_finds_truncation() {
        use super::Cutter;
        let key = [5u8; 32];
        let plain: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let op = crate::ops::Op::Seal {
            key: crate::ops::Secret(key.to_vec()),
            header: Header::new(MIN_CHUNK, [1; SALT_LEN], [2; PREFIX_LEN]).unwrap().encode().to_vec(),
            aad: vec![],
        };
        let sealed = crate::ops::run(
            &op,
            &plain,
            &crate::ops::StdEnv::default(),
            &mut crate::ops::NoProgress,
            &crate::ops::NeverCancel,
        )
        .unwrap();
        let mut cutter = Cutter::open(&key, &[]).unwrap();
        let mut plain_again = Vec::new();
        for (c, bytes) in cut_all(&mut cutter, &sealed, 10_000).unwrap() {
            let (file_key, aad) = cutter.keys().unwrap();
            plain_again.extend(open_chunk(file_key, &c.nonce, aad, &bytes));
        }
        assert_eq!(plain_again, plain);
        // Ends inside the header, or inside a tag.
        let mut short = Cutter::open(&key, &[]).unwrap();
        assert_eq!(cut_all(&mut short, &sealed[..20], 7).unwrap_err().kind(), ErrorKind::Authentication);
        let mut short = Cutter::open(&key, &[]).unwrap();
        let cut = cut_all(&mut short, &sealed[..HEADER_LEN + 10], 7);
        assert_eq!(cut.unwrap_err().kind(), ErrorKind::Authentication);
        // A bad header is the stream's error.
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert!(cut_all(&mut Cutter::open(&key, &[]).unwrap(), &bad, 100).is_err());
    }

    /// Runs `cutter` over `input` fed in pieces of `piece` bytes, keeping the bytes as its caller
    /// does: each cut's chunk with its bytes, taken off the front.
    fn cut_all(cutter: &mut Cutter, input: &[u8], piece: usize) -> Result<Vec<(CutChunk, Vec<u8>)>, Error> {
        let (mut held, mut cuts) = (VecDeque::new(), Vec::new());
        let take = |cut: Cut, held: &mut VecDeque<u8>, cutter: &mut Cutter| match cut {
            Cut::Header => cutter.header(&held.drain(..HEADER_LEN).collect::<Vec<_>>()).map(|()| None),
            Cut::Chunk(c) => {
                let bytes = held.drain(..c.len).collect();
                Ok(Some((c, bytes)))
            }
        };
        for bytes in input.chunks(piece) {
            held.extend(bytes);
            cutter.push(bytes.len());
            while let Some(cut) = cutter.next(false)? {
                cuts.extend(take(cut, &mut held, cutter)?);
            }
        }
        while let Some(cut) = cutter.next(true)? {
            cuts.extend(take(cut, &mut held, cutter)?);
        }
        assert!(held.is_empty(), "every byte was cut");
        Ok(cuts)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn open_chunk(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Vec<u8> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(key).unwrap();
        cipher.decrypt(nonce.into(), Payload { msg: sealed, aad }).expect("the chunk verifies")
    }
    use super::*;
    use std::collections::VecDeque;

    const KEY: [u8; 32] = [9; 32];

    fn header() -> Header {
        // An all-zero prefix: chunk 0's nonce is all zero, which the format allows.
        Header::new(MIN_CHUNK, [3; SALT_LEN], [0; PREFIX_LEN]).unwrap()
    }

    /// Feeds `input` to `stream` in pieces of `piece` bytes, telling it the length first if
    /// `tell`.
    fn drive(mut stream: Box<dyn Stream>, input: &[u8], piece: usize, tell: bool) -> Result<Vec<u8>, Error> {
        if tell {
            stream.input_len(input.len() as u64);
        }
        let mut out = Vec::new();
        for p in input.chunks(piece) {
            stream.update(p, &mut out)?;
        }
        stream.finish(&mut out)?;
        Ok(out)
    }

    fn seal(plain: &[u8], piece: usize, tell: bool) -> Vec<u8> {
        drive(Box::new(Seal::new(header(), &KEY, b"ad").unwrap()), plain, piece, tell).unwrap()
    }

    fn open(sealed: &[u8], piece: usize, tell: bool) -> Result<Vec<u8>, Error> {
        drive(Box::new(Open::new(&KEY, b"ad").unwrap()), sealed, piece, tell)
    }

    /// Seals or opens a run chunk by chunk from its plan, with the aes-gcm crate standing in for
    /// WebCrypto (one whole chunk per call).
    fn by_plan(run: &super::super::ChunkRun, input: &[u8], open: bool) -> Result<Vec<u8>, Error> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let plan = plan_run(run, input.len() as u64, open)?;
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&plan.key[..]).unwrap();
        let mut out = Vec::new();
        for c in &plan.chunks {
            let msg = &input[c.range.start as usize..c.range.end as usize];
            let payload = Payload { msg, aad: &plan.aad };
            let nonce = aes_gcm::Nonce::from_slice(&c.nonce);
            let bytes = if open { cipher.decrypt(nonce, payload) } else { cipher.encrypt(nonce, payload) };
            out.extend(bytes.map_err(|_| Error::new(ErrorKind::Authentication, "a chunk did not verify"))?);
        }
        Ok(out)
    }

    #[test]
    fn a_run_cut_by_its_plan_gives_and_takes_the_streaming_codes_bytes() {
        let c = MIN_CHUNK as usize;
        let run = |first_chunk, final_part| super::super::ChunkRun {
            key: super::super::Secret(KEY.to_vec()),
            header: header().encode().to_vec(),
            aad: b"ad".to_vec(),
            first_chunk,
            final_part,
        };
        for len in [0, 1, c - 1, c, c + 1, 3 * c, 3 * c + 5] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let whole = seal(&plain, 4096, true);
            assert_eq!(by_plan(&run(0, true), &plain, false).unwrap(), whole[HEADER_LEN..], "seal, {len} bytes");
            assert_eq!(by_plan(&run(0, true), &whole[HEADER_LEN..], true).unwrap(), plain, "open, {len} bytes");
        }
        // Two parts, each planned on its own: the first of whole chunks, the last with the rest.
        let plain: Vec<u8> = (0..3 * c + 7).map(|i| (i % 249) as u8).collect();
        let whole = seal(&plain, 4096, true);
        let mut parts = by_plan(&run(0, false), &plain[..2 * c], false).unwrap();
        parts.extend(by_plan(&run(2, true), &plain[2 * c..], false).unwrap());
        assert_eq!(parts, whole[HEADER_LEN..]);
        // What the streaming code refuses, the plan refuses the same way.
        assert_eq!(plan_run(&run(0, false), c as u64 + 1, false).unwrap_err().kind(), ErrorKind::Validation);
        assert_eq!(plan_run(&run(0, false), 0, false).unwrap_err().kind(), ErrorKind::Validation);
        assert_eq!(plan_run(&run(0, true), 5, true).unwrap_err().kind(), ErrorKind::Authentication);
        assert_eq!(
            plan_run(&run(0, false), (c + TAG_LEN) as u64 - 1, true).unwrap_err().kind(),
            ErrorKind::Authentication
        );
        let mut tampered = whole[HEADER_LEN..].to_vec();
        tampered[10] ^= 1;
        assert_eq!(by_plan(&run(0, true), &tampered, true).unwrap_err().kind(), ErrorKind::Authentication);
    }

    #[test]
    fn a_told_length_changes_nothing_in_the_stream() {
        let c = MIN_CHUNK as usize;
        for len in [0, 1, c - 1, c, c + 1, 3 * c, 3 * c + 5] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 13 % 253) as u8).collect();
            for piece in [1000, c, 3 * c + 1] {
                let sealed = seal(&plain, piece, true);
                assert_eq!(sealed, seal(&plain, piece, false), "length {len}, pieces of {piece}");
                assert_eq!(sealed.len() as u64, sealed_len(len as u64, MIN_CHUNK));
                for tell in [true, false] {
                    assert_eq!(open(&sealed, piece, tell).unwrap(), plain, "length {len}, told {tell}");
                }
            }
        }
    }

    #[test]
    fn with_its_length_told_a_run_is_sealed_as_it_is_read() {
        // The work of a step is the bytes it was fed, not a whole chunk: what the main thread's
        // short steps rely on (one thread: the page never has more).
        parallel::with_threads(1, || {
            let mut run = SealChunks::new(header(), &KEY, b"", 0, true).unwrap();
            run.input_len(3 * u64::from(MIN_CHUNK));
            let mut out = Vec::new();
            run.update(&[1; 4096], &mut out).unwrap();
            assert_eq!(out.len(), 4096);
            run.update(&vec![1; MIN_CHUNK as usize], &mut out).unwrap();
            assert_eq!(out.len(), 4096 + MIN_CHUNK as usize + TAG_LEN, "chunk 0 and its tag, then 4 KiB of chunk 1");
        });
    }

    #[test]
    fn on_several_threads_chunks_are_sealed_and_opened_to_the_same_bytes() {
        let c = MIN_CHUNK as usize;
        for len in [1, c - 1, c, c + 1, 5 * c + 3] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let one = parallel::with_threads(1, || seal(&plain, 70_000, true));
            let split = parallel::with_threads(3, || seal(&plain, 70_000, true));
            assert_eq!(split, one, "{len} bytes");
            assert_eq!(parallel::with_threads(3, || open(&one, 50_000, true)).unwrap(), plain);
        }
        // A chunk that does not verify: the chunks before it are released, nothing after.
        let plain: Vec<u8> = (0..5 * c).map(|i| (i % 241) as u8).collect();
        let mut sealed = seal(&plain, c, true);
        sealed[HEADER_LEN + 2 * (c + TAG_LEN) + 5] ^= 1;
        let mut stream = Box::new(Open::new(&KEY, b"ad").unwrap());
        let mut out = Vec::new();
        let e = parallel::with_threads(3, || {
            stream.input_len(sealed.len() as u64);
            sealed.chunks(c).try_for_each(|p| stream.update(p, &mut out))
        })
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");
        assert!(e.to_string().contains("chunk 2"), "{e}");
        assert_eq!(out, plain[..2 * c], "chunks 0 and 1 only");
        // Cut or extended, with the length told: refused as on one thread.
        for bytes in [&sealed[..sealed.len() - 1], &sealed[..HEADER_LEN + c / 2]] {
            let e = parallel::with_threads(3, || open(bytes, 7777, true)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Authentication);
        }
    }

    #[test]
    fn cut_or_extended_streams_fail_whether_or_not_their_length_was_told() {
        let c = MIN_CHUNK as usize;
        let plain = vec![5u8; 2 * c + 9];
        let sealed = seal(&plain, c, true);
        let last_chunk = HEADER_LEN + 2 * (c + TAG_LEN);
        let mut extended = sealed.clone();
        extended.extend_from_slice(&[0; TAG_LEN]);
        for (what, bytes) in [
            ("final chunk dropped", &sealed[..last_chunk]),
            ("one byte short", &sealed[..sealed.len() - 1]),
            ("cut mid-chunk", &sealed[..HEADER_LEN + c / 2]),
            ("extended", &extended[..]),
        ] {
            for tell in [true, false] {
                let e = open(bytes, 7777, tell).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Authentication, "{what}, told {tell}: {e}");
            }
        }
    }

    #[test]
    fn an_input_longer_or_shorter_than_told_fails() {
        let mut run = SealChunks::new(header(), &KEY, b"", 0, true).unwrap();
        run.input_len(10);
        let e = run.update(&[0; 11], &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Validation);
        let mut run = Box::new(SealChunks::new(header(), &KEY, b"", 0, true).unwrap());
        run.input_len(10);
        run.update(&[0; 9], &mut Vec::new()).unwrap();
        assert_eq!(run.finish(&mut Vec::new()).unwrap_err().kind(), ErrorKind::Validation);
        // A run that is not the last holds whole chunks only.
        let mut run = SealChunks::new(header(), &KEY, b"", 0, false).unwrap();
        run.input_len(u64::from(MIN_CHUNK) + 1);
        let e = run.update(&vec![0; MIN_CHUNK as usize + 1], &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Validation);
    }

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
