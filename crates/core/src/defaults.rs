//! Every option default and limit a caller can meet, in one place. The API layer reads its
//! defaults from here; the typings (`js/index.d.ts`) and the README quote them, and
//! `tests/sources_of_truth.rs` checks that they quote these values.

/// `WorkerBridge.create({ timeoutMs })`: a call's run-time limit (0 = none).
pub const TIMEOUT_MS: u32 = 60_000;
/// `WorkerBridge.create({ retries })`: re-runs of a call whose worker crashed.
pub const RETRIES: u32 = 1;
/// Most retries a bridge or a call may ask for.
pub const MAX_RETRIES: u32 = 10;
/// `WorkerBridge.create({ healthIntervalMs })`: ping idle workers this often (0 = never).
pub const HEALTH_INTERVAL_MS: u32 = 5_000;
/// The shortest silence that makes a busy worker hung, whatever `healthIntervalMs` says: a busy
/// worker shows life between steps (a heartbeat, or a pong), and one step — a MiB read from a
/// disk-backed `Blob` on a loaded machine — may take a while.
pub const BUSY_HANG_MS: u32 = 2_000;
/// `WorkerBridge.create({ cancelGraceMs })`: how long an aborted call's worker gets to stop
/// before it is replaced.
pub const CANCEL_GRACE_MS: u32 = 250;
/// `WorkerBridge.create({ maxInFlightPerWorker })`: calls one worker holds at once — one
/// running, the rest waiting in its mailbox so it starts the next without a round trip.
/// Chosen by `npm run bench:ipc`; calls with large inputs are held back anyway (see
/// [`PIPELINE_BYTES`]).
pub const MAX_IN_FLIGHT_PER_WORKER: u32 = 64;
/// Largest most in flight a caller may ask for.
pub const MAX_IN_FLIGHT_LIMIT: u32 = 256;
/// `WorkerBridge.create({ busyPollUs })`: the longest a thread — the page waiting for a short
/// call's answer, a worker for its next call — polls its event loop instead of sleeping
/// (`worker/awake.js`). Like the Linux kernel's default halt-polling window (200 µs): a wake
/// costs tens of µs, so an answer or a call due inside this is met awake.
pub const BUSY_POLL_US: u32 = 200;
/// Longest `busyPollUs` a caller may ask for.
pub const MAX_BUSY_POLL_US: u32 = 10_000;
/// Input bytes one worker may hold with more than one call in flight: only short calls are
/// sent ahead, so none waits in a worker behind a long one, where no other worker could take it
/// and priorities no longer apply.
pub const PIPELINE_BYTES: u64 = 256 * 1024;
/// `WorkerBridge.create({ maxQueue })`: calls waiting for a worker.
pub const MAX_QUEUE: usize = 10_000;
/// Largest pool a bridge will spawn (`poolSize`, `resize`): beyond this, workers cost memory
/// without adding cores. The default size is `max(1, hardwareConcurrency - 1)`.
pub const MAX_POOL_SIZE: u32 = 64;

/// Most inputs one `crypto.sha256Many` call takes.
pub const MAX_INPUTS_PER_CALL: u32 = 100_000;

/// The threaded build, `threads` not given: threads per worker (the worker's own included). The
/// pool then defaults to `max(1, hardwareConcurrency / 2)` workers, so workers × threads never
/// exceeds the cores.
pub const THREADS_PER_WORKER: u32 = 2;

/// `compression.gzip(data, { level })` and friends.
pub const COMPRESSION_LEVEL: u32 = 6;
/// `compression.gunzip(data, { maxOutputBytes })` and friends: a decompression bomb stops here.
pub const MAX_OUTPUT_BYTES: u64 = 512 * 1024 * 1024;
/// `network.fetch(url, { maxBytes })`: a longer response body stops the download.
pub const FETCH_MAX_BYTES: u64 = 512 * 1024 * 1024;
/// `crypto.encryptFile(input, key, { chunkSize })`: plaintext bytes per sealed chunk. Under the
/// ~1 MiB past which Chromium's allocator maps every buffer fresh: WebCrypto sealed 32 MiB in
/// 512 KiB chunks at 1,084 MB/s in a worker and in 1 MiB chunks at 444 (`target/scratch`, 768
/// KiB still fast, 960 KiB slow).
pub const STREAM_CHUNK_SIZE: u32 = 512 * 1024;
/// Largest input of one-shot `crypto.encrypt` / `crypto.decrypt`: AES-GCM opens a message only
/// after its tag verifies, so the whole plaintext is held in the worker's wasm memory. Larger
/// inputs belong to `encryptFile` / `decryptFile`, which seal in chunks.
pub const MAX_ONE_SHOT_AEAD_BYTES: u64 = 256 * 1024 * 1024;
/// Largest input the page's own thread hands to WebCrypto in one call (`ops::engine`): one
/// call cannot be sliced, and on the page a larger one blocks it (the browser copies the input,
/// and a 64 MiB digest held Chromium's main thread for its whole length). Larger inputs run on
/// the Rust code there, in slices.
pub const PAGE_WEBCRYPTO_MAX_BYTES: u64 = 1024 * 1024;
/// Under `engine: 'auto'`, a SHA-256 of fewer bytes runs on the Rust code: a WebCrypto call is
/// asynchronous and cost ~30 µs more than a round trip without it (`bench:ipc`, raw postMessage
/// echo vs digest), which the Rust code's 126 MB/s against WebCrypto's 549 (`bench:handlers`)
/// only repays from ~4.9 KB.
pub const WEBCRYPTO_MIN_DIGEST_BYTES: u64 = 4 * 1024;
/// Under `engine: 'auto'`, a `Blob` of at most this many bytes is hashed in a worker by reading
/// it whole and handing it to WebCrypto, which has no streaming digest; a larger one streams
/// through the Rust code. The bound keeps the two paths' memory alike: the whole read plus
/// WebCrypto's own copy of it hold ~32 MiB, the streamed reads 8 MiB (two 4 MiB buffers read
/// into in turn; 24 MiB where Blob streams have no BYOB reader: two 8 MiB pieces asked for ahead
/// and the one being hashed).
pub const WEBCRYPTO_MAX_BLOB_DIGEST_BYTES: u64 = 16 * 1024 * 1024;
/// The same for a one-shot AES-256-GCM: 22 MB/s against 287 repay the ~30 µs from ~0.7 KB.
pub const WEBCRYPTO_MIN_AEAD_BYTES: u64 = 512;
/// `file.chunkPlan(file, { chunkSize })`: bytes per planned piece.
pub const PLAN_CHUNK_SIZE: u64 = 4 * 1024 * 1024;

/// `services.register(name, def, { startTimeoutMs })` (0 = no limit).
pub const SERVICE_START_TIMEOUT_MS: u32 = 10_000;
/// `services.register(name, def, { stopTimeoutMs })` (0 = no limit).
pub const SERVICE_STOP_TIMEOUT_MS: u32 = 10_000;
/// `services.register(name, def, { maxRestarts })`, with `restart: 'on-failure'`: automatic
/// restarts in a row before the registry gives up (failed → stopped).
pub const SERVICE_MAX_RESTARTS: u32 = 3;
/// The wait before a service's first automatic restart; it doubles with each one in a row.
pub const SERVICE_RESTART_BACKOFF_MS: u32 = 250;
/// The longest wait before an automatic restart.
pub const SERVICE_RESTART_BACKOFF_MAX_MS: u32 = 10_000;
/// A service that ran this long before it failed gets its whole automatic restart budget back.
pub const SERVICE_RESTART_BUDGET_RESET_MS: u32 = 60_000;
/// `services.register(name, def, { healthIntervalMs })` (0 = no health checks).
pub const SERVICE_HEALTH_INTERVAL_MS: u32 = 0;
/// `services.register(name, def, { persist: true, snapshotIntervalMs })` (0 = a snapshot at stop
/// only).
pub const SERVICE_SNAPSHOT_INTERVAL_MS: u32 = 0;
/// The shortest `snapshotIntervalMs` (other than 0): a snapshot is a trip to the service and a
/// write to IndexedDB.
pub const SERVICE_SNAPSHOT_MIN_INTERVAL_MS: u32 = 100;
/// The largest snapshot one service copy may store, as JSON text (UTF-8 bytes).
pub const SERVICE_SNAPSHOT_MAX_BYTES: usize = 4 * 1024 * 1024;

/// `bridge.on`, `bridge.subscribe`, `services.handle({ action: 'subscribe' })`: listeners one
/// event takes (the same listener counts once); one more is a `LimitExceededError`.
pub const MAX_LISTENERS_PER_EVENT: usize = 1_000;

/// `services.serve(transport, { maxMessageBytes })`: the largest request a remote-control
/// transport reads (UTF-8 bytes of its JSON text); a larger one is answered `LimitExceededError`
/// unread.
pub const REMOTE_MAX_MESSAGE_BYTES: u32 = 64 * 1024;
/// `services.serve(transport, { ratePerSecond })`: requests a transport serves per second,
/// sustained; beyond it (and the burst) they are answered `LimitExceededError` without running.
pub const REMOTE_RATE_PER_SECOND: u32 = 50;
/// `services.serve(transport, { burst })`: requests a transport serves at once before the rate
/// applies.
pub const REMOTE_BURST: u32 = 100;
