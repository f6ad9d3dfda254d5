//! The work itself, in pure Rust: no `JsValue`, no `web_sys`, testable with `cargo test`.
//!
//! An [`Op`] names what to do; [`Op::start`] gives a [`Job`]. A driver calls [`Job::step`] until
//! it returns [`Step::Done`]; each step does a bounded piece of work (one chunk of input for a
//! byte-stream op), so between steps the driver can check [`Cancel`], publish [`Progress`] and —
//! on the main thread — yield to the page. One step loop, [`drive`], serves every placement; what
//! differs (yield every slice on the page, park on a shared flag in a worker, block natively) is
//! the placement's [`Pace`]. Time, for the ops that need it, comes from the driver's [`Env`].

pub mod aead;
pub mod compression;
mod crypto;
mod driver;
pub mod engine;
pub mod parallel;
pub mod stream_format;
#[cfg(feature = "test-ops")]
mod testing;

pub use compression::Format;
pub use crypto::{ChunkHashes, EachHashes, Identity, Sha256Stream};
pub use driver::{drive, drive_blocking, ChunkSource, Feed, Pace, SliceSource, DEFAULT_CHUNK};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What to do with the input bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Op {
    /// SHA-256 digest (32 bytes) of the input.
    Sha256,
    /// SHA-256 of each `chunk_size`-byte piece: 32 bytes per piece.
    ChunkHashes {
        /// Piece size in bytes.
        chunk_size: u64,
    },
    /// SHA-256 of each of several inputs sent as one: consecutive pieces of the given lengths,
    /// 32 bytes per piece (an empty piece has the digest of nothing).
    Sha256Each {
        /// The pieces' lengths, in order; they add up to the input's length.
        lengths: Vec<u64>,
    },
    /// The input unchanged.
    Read,
    /// An HTTP request; its body (if any) is the input. Driven by the network driver, not
    /// [`Op::start`].
    Fetch(FetchSpec),
    /// AES-256-GCM seal: ciphertext ‖ tag.
    Encrypt {
        /// 32 bytes.
        key: Secret,
        /// 12 bytes.
        #[serde(with = "serde_bytes")]
        nonce: Vec<u8>,
        /// Additional authenticated data.
        #[serde(with = "serde_bytes", default)]
        aad: Vec<u8>,
    },
    /// AES-256-GCM open of ciphertext ‖ tag.
    Decrypt {
        /// 32 bytes.
        key: Secret,
        /// 12 bytes.
        #[serde(with = "serde_bytes")]
        nonce: Vec<u8>,
        /// Additional authenticated data.
        #[serde(with = "serde_bytes", default)]
        aad: Vec<u8>,
    },
    /// A whole stream sealed: the given 32-byte header, then every chunk.
    Seal {
        /// 32 bytes.
        key: Secret,
        /// The stream's header (fresh salt and prefix for every file).
        #[serde(with = "serde_bytes")]
        header: Vec<u8>,
        /// The caller's additional data.
        #[serde(with = "serde_bytes", default)]
        aad: Vec<u8>,
    },
    /// A run of chunks of the stream format, sealed (no header).
    SealChunks(ChunkRun),
    /// A run of sealed chunks of the stream format, opened (no header).
    OpenChunks(ChunkRun),
    /// A whole sealed stream (header included), opened.
    Open {
        /// 32 bytes.
        key: Secret,
        /// The caller's additional data, as given when sealing.
        #[serde(with = "serde_bytes", default)]
        aad: Vec<u8>,
    },
    /// Compression.
    Compress {
        /// gzip, deflate (raw) or zlib.
        format: Format,
        /// 0 (store) ..= 9 (smallest).
        level: u32,
    },
    /// One range of an input compressed across the pool's workers
    /// (`compression::plan_ranges`): the input is the range's dictionary (the up to 32 KiB
    /// before it), then its whole blocks; the output is their raw deflate, then the range's
    /// CRC-32 (gzip) or Adler-32 (zlib), 4 bytes little-endian, for `compression::join`.
    CompressRange {
        /// gzip, deflate (raw) or zlib: which check value ends the output.
        format: Format,
        /// 0 (store) ..= 9 (smallest).
        level: u32,
        /// Bytes of dictionary at the input's start.
        dictionary: u32,
        /// Whether the range holds the input's end (the stream's final block).
        last: bool,
    },
    /// Decompression, refusing to produce more than `max_output` bytes.
    Decompress {
        /// gzip (multi-member), deflate (raw) or zlib.
        format: Format,
        /// Output limit in bytes.
        max_output: u64,
    },
    /// A task of the app's own (`tasks.run`): the function `export` of the JavaScript module at
    /// `module` (an absolute URL, its origin checked when the task was registered), called with
    /// the call's input. Its input and output are JavaScript values, not bytes: the task runner
    /// runs it, not [`Op::start`].
    Task {
        /// The name it was registered under (for errors).
        name: String,
        /// The module's absolute URL.
        module: String,
        /// The exported function's name (`default` for the default export).
        export: String,
    },
    /// A task written in Rust, registered with `register_task` in the module's every instance.
    RustTask {
        /// The name it was registered under.
        name: String,
    },
    /// Test builds only: the input, unchanged.
    #[cfg(feature = "test-ops")]
    Echo,
    /// Test builds only: waits `ms` milliseconds, checking for cancellation as it goes.
    #[cfg(feature = "test-ops")]
    Sleep {
        /// How long.
        ms: u32,
        /// Weigh as a short call, so the pool sends calls ahead behind it and the answers
        /// before it may wait for it in the worker (tests of a short call that runs long).
        #[serde(default, skip_serializing_if = "is_false")]
        short: bool,
    },
    /// Test builds only: a busy loop of `ms` milliseconds that checks nothing (a hung worker).
    #[cfg(feature = "test-ops")]
    Spin {
        /// How long.
        ms: u32,
        /// Weigh as a short call, so the pool sends calls ahead behind it (tests of a worker
        /// that hangs with calls in flight).
        #[serde(default, skip_serializing_if = "is_false")]
        short: bool,
    },
    /// Test builds only: panics (a wasm trap that kills the worker's instance), after waiting
    /// `after_ms` (a worker that dies in the middle of a call).
    #[cfg(feature = "test-ops")]
    Panic {
        /// How long to wait first (default 0).
        #[serde(default, skip_serializing_if = "is_zero")]
        after_ms: u32,
        /// Weigh as a short call, so the pool sends calls ahead behind it (tests of a worker
        /// that dies with calls in flight).
        #[serde(default, skip_serializing_if = "is_false")]
        short: bool,
    },
    /// Test builds only: reports progress `steps` times, about 5 ms apart.
    #[cfg(feature = "test-ops")]
    Progress {
        /// How many reports.
        steps: u32,
    },
}

#[cfg(feature = "test-ops")]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(feature = "test-ops")]
fn is_false(b: &bool) -> bool {
    !*b
}

/// Longest `sleep`/`spin` a message may ask for, and most `progress` steps: bounds on what a
/// message can make a worker do.
#[cfg(feature = "test-ops")]
pub const TEST_OP_LIMIT: u32 = 600_000;

impl Op {
    /// Whether this is an app's own task, whose input and output are JavaScript values.
    pub fn is_task(&self) -> bool {
        matches!(self, Op::Task { .. } | Op::RustTask { .. })
    }

    /// A fresh job for this op.
    ///
    /// # Errors
    /// [`ErrorKind::Validation`](crate::ErrorKind::Validation) when the op's parameters are invalid.
    pub fn start(&self) -> Result<Job, Error> {
        let stream: Box<dyn Stream> = match self {
            Op::Sha256 => Box::<Sha256Stream>::default(),
            Op::ChunkHashes { chunk_size } => Box::new(ChunkHashes::new(*chunk_size)),
            Op::Sha256Each { lengths } if lengths.len() > crate::defaults::MAX_INPUTS_PER_CALL as usize => {
                return Err(Error::validation("too many inputs in one call"))
            }
            Op::Sha256Each { lengths } => Box::new(EachHashes::new(lengths.clone())),
            Op::Read => Box::new(Identity),
            Op::Encrypt { key, nonce, aad } => Box::new(aead::GcmStream::new(&key.0, nonce, aad, false)?),
            Op::Decrypt { key, nonce, aad } => Box::new(aead::GcmStream::new(&key.0, nonce, aad, true)?),
            Op::Seal { key, header, aad } => {
                let header = stream_format::Header::decode(header).map_err(|e| Error::validation(e.message()))?;
                Box::new(stream_format::Seal::new(header, &key.0, aad)?)
            }
            Op::SealChunks(run) => {
                let header = stream_format::Header::decode(&run.header).map_err(|e| Error::validation(e.message()))?;
                Box::new(stream_format::SealChunks::new(header, &run.key.0, &run.aad, run.first_chunk, run.final_part)?)
            }
            Op::OpenChunks(run) => {
                let header = stream_format::Header::decode(&run.header)?;
                Box::new(stream_format::OpenChunks::new(header, &run.key.0, &run.aad, run.first_chunk, run.final_part)?)
            }
            Op::Open { key, aad } => Box::new(stream_format::Open::new(&key.0, aad)?),
            Op::Compress { format, level } => Box::new(compression::Compress::new(*format, *level)?),
            Op::CompressRange { format, level, dictionary, last } => {
                Box::new(compression::CompressRange::new(*format, *level, *dictionary, *last)?)
            }
            Op::Decompress { format, max_output } => Box::new(compression::Decompress::new(*format, *max_output)),
            Op::Fetch(_) => return Err(Error::validation("a fetch is run by the network driver")),
            Op::Task { .. } | Op::RustTask { .. } => return Err(Error::validation("a task is run by the task runner")),
            #[cfg(feature = "test-ops")]
            other => return testing::start(other),
        };
        Ok(Job::stream(stream))
    }

    /// Whether the op's work is bounded by its input's length, so that a small input means a
    /// short call: false for a fetch (the network decides), a decompression (a small input may
    /// expand a thousandfold) and the test ops that wait, spin or fail.
    /// An app's own task may take any time: never (the pool learns which tasks are short from
    /// their run times instead, `tasks::TaskCosts`).
    pub fn cost_follows_input(&self) -> bool {
        match self {
            Op::Fetch(_) | Op::Decompress { .. } | Op::Task { .. } | Op::RustTask { .. } => false,
            #[cfg(feature = "test-ops")]
            Op::Spin { short, .. } | Op::Panic { short, .. } | Op::Sleep { short, .. } => *short,
            #[cfg(feature = "test-ops")]
            Op::Progress { .. } => false,
            _ => true,
        }
    }

    /// Whether running the op twice on the same input is harmless, so a call whose worker crashed
    /// may be retried. An app's own task is taken to be (as a built-in op is): its `retries`
    /// option decides, and `retries: 0` keeps a task with side effects from running twice.
    pub fn is_idempotent(&self) -> bool {
        match self {
            Op::Fetch(spec) => matches!(spec.method.as_str(), "GET" | "HEAD" | "OPTIONS"),
            _ => true,
        }
    }
}

/// Key material: bytes on the wire, redacted in `Debug` so a key never reaches a log, and wiped
/// from memory when dropped.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secret(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl<'de> Deserialize<'de> for Secret {
    /// Into one buffer, wiping any it outgrows (a `Vec` that grows byte by byte, as a JSON array
    /// is read, would leave copies of the first bytes of the key in freed memory).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl<'de> serde::de::Visitor<'de> for Bytes {
            type Value = Secret;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Secret, E> {
                Ok(Secret(v.to_vec()))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Secret, A::Error> {
                let mut out = Secret(Vec::with_capacity(seq.size_hint().unwrap_or(0).clamp(32, 1024)));
                while let Some(byte) = seq.next_element::<u8>()? {
                    if out.0.len() == out.0.capacity() {
                        let mut bigger = Vec::with_capacity(2 * out.0.capacity());
                        bigger.extend_from_slice(&out.0);
                        let mut old = std::mem::replace(&mut out.0, bigger);
                        zeroize::Zeroize::zeroize(&mut old);
                    }
                    out.0.push(byte);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl zeroize::ZeroizeOnDrop for Secret {}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// An HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FetchSpec {
    /// Absolute URL (resolved against the page before it is sent to a worker).
    pub url: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Send the input as the request body.
    pub has_body: bool,
    /// Hash the response body while downloading it.
    pub sha256: bool,
    /// A non-2xx status rejects with `NetworkError` (else it is returned).
    pub throw_http_errors: bool,
    /// Largest response body accepted: a longer one (by `Content-Length`, or as it arrives)
    /// rejects with `LimitExceededError` and the download stops.
    pub max_bytes: u64,
}

/// A run of whole chunks of the stream format, for sealing or opening a file in parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChunkRun {
    /// The caller's 32-byte key.
    pub key: Secret,
    /// The stream's 32-byte header.
    #[serde(with = "serde_bytes")]
    pub header: Vec<u8>,
    /// The caller's additional data.
    #[serde(with = "serde_bytes", default)]
    pub aad: Vec<u8>,
    /// Index of the run's first chunk.
    pub first_chunk: u32,
    /// The run ends with the stream's final chunk.
    pub final_part: bool,
}

/// A byte-stream op: fed the input in order, then finished once. Output goes to a [`Sink`] as
/// it is produced, so the driver can move it out of wasm memory chunk by chunk.
pub trait Stream {
    /// Told once, before the first [`update`](Self::update), how many bytes the input holds, when
    /// its source knows (every source of the bridge does; 0 may mean unknown). A stream that
    /// would otherwise hold input back until it sees what comes next (the stream format, whose
    /// last chunk is sealed differently) can then work on every byte as it arrives. The length
    /// comes from the source itself: a stream may fail the job if the input turns out otherwise.
    fn input_len(&mut self, _len: u64) {}

    /// Does a bounded piece of work the stream holds back, and returns whether more is left.
    /// The step loop calls it before each new chunk of input (`ended` false) and, after the last,
    /// until it returns false (`ended` true), then calls [`finish`](Self::finish), which must
    /// still do whatever is left. One-shot AES-GCM opening keeps its plaintext until the tag
    /// verifies, then releases it here a piece per step, so no step writes the whole message.
    /// The default holds nothing back.
    ///
    /// # Errors
    /// The op's own failures (a tag that does not verify) or the sink's.
    fn backlog(&mut self, _ended: bool, _out: &mut dyn Sink) -> Result<bool, Error> {
        Ok(false)
    }

    /// Consumes the next chunk of input.
    ///
    /// # Errors
    /// The op's own failures (bad input, a limit exceeded) or the sink's.
    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error>;

    /// Ends the input and writes the rest of the output.
    ///
    /// # Errors
    /// The op's own failures (e.g. truncated input) or the sink's.
    fn finish(self: Box<Self>, out: &mut dyn Sink) -> Result<(), Error>;
}

/// Where an op's output goes, in order.
pub trait Sink {
    /// Appends `bytes` to the output.
    ///
    /// # Errors
    /// The sink's own limits.
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error>;
}

impl Sink for Vec<u8> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// What a step produced.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// More to do: call [`Job::step`] again.
    Continue,
    /// Nothing to do for up to this many milliseconds; then call [`Job::step`] again. Ops never
    /// block: the driver waits in whatever way its thread allows (a worker may park, the main
    /// thread awaits a timer) and may come back early, e.g. to deliver a cancellation.
    Wait(f64),
    /// Finished: all the output is in the sink.
    Done,
}

/// The clock a driver provides to ops that need time.
pub trait Env {
    /// A monotonic clock in milliseconds.
    fn now_ms(&self) -> f64;
}

/// Where a job reports how far it has got; `done` never decreases, `total` may be 0 (unknown).
pub trait Progress {
    /// `done` of `total` units (input bytes, for byte-stream ops) are processed.
    fn report(&mut self, done: u64, total: u64);
}

/// Asked between steps: should the job stop?
pub trait Cancel {
    /// True once the caller has cancelled.
    fn is_cancelled(&self) -> bool;
}

/// An op in progress.
pub struct Job {
    kind: JobKind,
}

enum JobKind {
    Stream {
        stream: Option<Box<dyn Stream>>,
        buf: Vec<u8>,
        done: u64,
        /// The stream was told the input's length.
        told: bool,
        /// The input is used up.
        ended: bool,
    },
    #[cfg(feature = "test-ops")]
    Test(testing::TestJob),
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Job {
    /// A job that feeds `stream` the whole input.
    pub fn stream(stream: Box<dyn Stream>) -> Job {
        Job { kind: JobKind::Stream { stream: Some(stream), buf: Vec::new(), done: 0, told: false, ended: false } }
    }

    /// Does one bounded piece of work, writing any output to `out`.
    ///
    /// # Errors
    /// The op's or the input's failures. A job that returned an error or `Done` must not be
    /// stepped again.
    #[cfg_attr(not(feature = "test-ops"), allow(unused_variables))]
    pub fn step(
        &mut self,
        input: &mut dyn ChunkSource,
        env: &dyn Env,
        progress: &mut dyn Progress,
        out: &mut dyn Sink,
    ) -> Result<Step, Error> {
        match &mut self.kind {
            JobKind::Stream { stream, buf, done, told, ended } => {
                let stream_ref = stream.as_mut().expect("invariant: a finished job is not stepped");
                if !*told {
                    *told = true;
                    let total = input.total();
                    if total > 0 {
                        stream_ref.input_len(total);
                    }
                }
                if !*ended {
                    if stream_ref.backlog(false, out)? {
                        return Ok(Step::Continue);
                    }
                    if input.next_chunk(buf)? {
                        stream_ref.update(buf, out)?;
                        *done += buf.len() as u64;
                        progress.report(*done, input.total());
                        return Ok(Step::Continue);
                    }
                    *ended = true;
                }
                if stream_ref.backlog(true, out)? {
                    return Ok(Step::Continue);
                }
                stream.take().expect("invariant: a finished job is not stepped").finish(out)?;
                Ok(Step::Done)
            }
            #[cfg(feature = "test-ops")]
            JobKind::Test(job) => job.step(input, env, progress),
        }
    }
}

/// The host's clock and `thread::sleep`, for native drivers and tests.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, Copy)]
pub struct StdEnv(std::time::Instant);

#[cfg(not(target_arch = "wasm32"))]
impl Default for StdEnv {
    fn default() -> Self {
        StdEnv(std::time::Instant::now())
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Env for StdEnv {
    fn now_ms(&self) -> f64 {
        self.0.elapsed().as_secs_f64() * 1e3
    }
}

/// A [`Progress`] that discards reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&mut self, _done: u64, _total: u64) {}
}

/// A [`Cancel`] that never cancels.
#[derive(Debug, Default, Clone, Copy)]
pub struct NeverCancel;

impl Cancel for NeverCancel {
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// Runs `op` over an in-memory input: the whole pipeline, synchronously.
///
/// # Errors
/// The op's failures, or [`ErrorKind::Abort`](crate::ErrorKind::Abort) when `cancel` fires.
pub fn run(
    op: &Op,
    input: &[u8],
    env: &dyn Env,
    progress: &mut dyn Progress,
    cancel: &dyn Cancel,
) -> Result<Vec<u8>, Error> {
    drive_blocking(op.start()?, &mut SliceSource::new(input, DEFAULT_CHUNK), env, progress, cancel)
}

#[cfg(test)]
mod secret_tests {
    use super::Secret;

    #[test]
    fn a_secret_reads_from_a_json_array_and_from_bytes() {
        let key: Vec<u8> = (1..=32).collect();
        let from_json: Secret = serde_json::from_str(&serde_json::to_string(&key).unwrap()).unwrap();
        assert_eq!(from_json.0, key);
        let long: Vec<u8> = (0..=255).collect();
        let from_json: Secret = serde_json::from_str(&serde_json::to_string(&long).unwrap()).unwrap();
        assert_eq!(from_json.0, long, "grows past its first buffer");
        assert_eq!(serde_json::to_string(&Secret(key.clone())).unwrap(), serde_json::to_string(&key).unwrap());
        assert!(serde_json::from_str::<Secret>("[1, 256]").is_err());
        assert!(serde_json::from_str::<Secret>("\"key\"").is_ok(), "a string's bytes, as serde_bytes took them");
    }
}
