//! What `bridge.status()` returns: a snapshot for dashboards and tests, serialised to a plain
//! JavaScript object with camelCase keys.

use serde::Serialize;

/// Where calls run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// In the pool's Web Workers.
    Workers,
    /// On the page's own thread, in slices (no workers available, or forced).
    MainThread,
    /// The bridge was terminated.
    Terminated,
}

/// One pool worker, as seen by the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatus {
    /// Stable for the life of one worker; a replacement gets a new id.
    pub id: u32,
    /// `starting`, `idle`, `busy`, `crashed` or `terminated`.
    pub state: &'static str,
    /// A call is running on it.
    pub busy: bool,
    /// Calls it has finished (successfully or with an error).
    pub tasks_done: u32,
    /// Crashes, timeouts, kills and unanswered pings in this slot.
    pub errors: u32,
    /// Times this slot's worker was replaced.
    pub restarts: u32,
    /// The last of those errors.
    pub last_error: Option<String>,
    /// When the current worker was spawned (ms since the epoch).
    pub started_at: f64,
    /// The worker's wasm memory in bytes at its last health ping (0 before the first).
    pub memory_bytes: f64,
    /// Threads its jobs may use, its own included (more than 1 only in the threaded build).
    pub threads: u32,
}

/// The whole bridge.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Where calls run.
    pub mode: Mode,
    /// Which wasm module the page loaded: `threads` (shared memory, a thread pool in each
    /// worker) or `single`.
    pub build: &'static str,
    /// Whether that module was compiled with WebAssembly SIMD (`simd128`): the package loads
    /// such a build wherever the browser validates SIMD (unless the app gave `init()` its own
    /// `.wasm`, or the SIMD file failed to load).
    pub simd: bool,
    /// Threads one call may use: the most any ready worker has, itself included (1 on the
    /// main thread and in the single-threaded build).
    pub threads: u32,
    /// Whether the page is cross-origin isolated (`SharedArrayBuffer` available).
    pub cross_origin_isolated: bool,
    /// The pool's workers (empty on the main thread).
    pub workers: Vec<WorkerStatus>,
    /// Calls waiting for a worker.
    pub queued: u32,
    /// Calls finished on the main thread (0 in worker mode).
    pub main_thread_tasks_done: u32,
    /// Why the bridge runs on the main thread although workers were allowed, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    /// Calls submitted, completed, failed, cancelled, timed out and retried.
    pub counters: CounterSnapshot,
    /// The engine each kind of crypto job runs on (set by the bridge, which knows its choice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engines: Option<Engines>,
}

/// `status().engines`: the engine each kind of crypto job runs on (`webcrypto` or `rust`; see
/// `ops::engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Engines {
    /// `crypto.sha256` of bytes, and in a worker of a `Blob` up to 16 MiB, read whole (the
    /// bound is `defaults::WEBCRYPTO_MAX_BLOB_DIGEST_BYTES`).
    pub sha256: &'static str,
    /// `file.sha256` and `crypto.sha256` of a larger `Blob`: streamed.
    pub sha256_stream: &'static str,
    /// `crypto.encrypt` / `crypto.decrypt`.
    pub aes_gcm: &'static str,
    /// `crypto.encryptFile` / `crypto.decryptFile`, chunk by chunk.
    pub stream_format: &'static str,
}

/// `status().counters`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterSnapshot {
    /// Calls accepted.
    pub submitted: u32,
    /// Calls that resolved.
    pub completed: u32,
    /// Calls that rejected, other than cancelled and timed out.
    pub failed: u32,
    /// Calls rejected with `AbortError`.
    pub cancelled: u32,
    /// Calls rejected with `TimeoutError`.
    pub timed_out: u32,
    /// Re-runs after a worker crashed.
    pub retried: u32,
}
