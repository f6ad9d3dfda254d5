// Types of the worker-bridge package (the public API; the generated `worker_bridge.d.ts`
// describes the raw wasm-bindgen glue underneath).

/** Bytes in any common shape; `Blob` and `File` are read chunk by chunk inside the worker. */
export type Input = Uint8Array | ArrayBuffer | ArrayBufferView | SharedArrayBuffer | Blob;
/**
 * An input the op reads as it comes: its chunks may be any bytes. The stream is read once (so a
 * call over it is never retried after a crash) and is locked while the call runs.
 */
export type StreamInput = ReadableStream<Uint8Array | ArrayBuffer | ArrayBufferView>;
/**
 * Where an op's output is written as it is produced (`output`): a `WritableStream` (a
 * `FileSystemWritableFileStream` included), or a `FileSystemFileHandle` opened with
 * `createWritable()` (replaced when the call succeeds, untouched when it fails). The call then
 * resolves with nothing.
 */
export type OutputTarget = WritableStream<Uint8Array> | FileSystemFileHandle;
/** What a call that writes to an `OutputTarget` takes. */
export type WritesTo<O> = Omit<O, 'output'> & { output: OutputTarget };
/** A `TransformStream` whose work runs in a pool worker (or on the page with the fallback). */
export interface BridgeTransformStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array | ArrayBuffer | ArrayBufferView>;
}

/** The `name` of every error worker-bridge rejects with. */
export type ErrorName =
  | 'TimeoutError'
  | 'AbortError'
  | 'WorkerCrashedError'
  | 'ValidationError'
  | 'AuthenticationError'
  | 'NonceReuseError'
  | 'QueueFullError'
  | 'TerminatedError'
  | 'DecompressionError'
  | 'LimitExceededError'
  | 'NetworkError'
  | 'NotSupportedError'
  | 'ServiceStateError'
  | 'TaskError'
  | 'NotReadableError';

/**
 * What every worker-bridge promise rejects with. (What a task's own code threw keeps its own
 * `name`: `tasks.run` may also reject with a `RangeError`, or a name of yours.)
 */
export interface WorkerBridgeError extends Error {
  name: ErrorName;
  /** The HTTP status of a `NetworkError` from a non-2xx response. */
  status?: number;
}

export declare const ERROR_NAMES: readonly ErrorName[];

export interface ProgressEvent {
  /** 0..100, monotonic; exactly one 100, just before the promise resolves. */
  progress: number;
  /** Units done (bytes for byte-stream ops). */
  done: number;
  /** Units in all (0 when unknown). */
  total: number;
}

export type Priority = 'high' | 'normal' | 'low';

/** Options every call takes. */
export interface CallOptions {
  /**
   * Move the input's whole `ArrayBuffer` to the worker (detached on your side) instead of copying.
   * Without it a large input is copied during the tasks right after the call: leave it unchanged
   * until the promise settles.
   */
  transfer?: boolean;
  priority?: Priority;
  /**
   * A `Date.now()` timestamp: within a priority, earlier deadlines run first, and a call not
   * started by then rejects with `TimeoutError` without running (one already running carries on).
   */
  deadline?: number;
  /** Time limit for this call (0 = none); default: the bridge's `timeoutMs`. */
  timeoutMs?: number;
  /**
   * Where `timeoutMs` counts from: `'start'` (when a worker — or the page — starts the call;
   * queued time does not count) or `'submit'` (end to end, from when the call is queued — after a
   * large non-transferred input is copied; a call still queued
   * when the time is up rejects without running). Default: the bridge's `timeoutFrom`.
   */
  timeoutFrom?: 'start' | 'submit';
  /** Re-runs if the worker crashes (idempotent ops, inputs not transferred). */
  retries?: number;
  /** Abort the call: `AbortError`. */
  signal?: AbortSignal | SharedCancellation;
  /** At most once per animation frame. */
  onProgress?: (event: ProgressEvent) => void;
  /** A tracker the worker writes directly. */
  progress?: SharedProgress;
  /**
   * The container of the result: a `Uint8Array` or a `Blob`; or an `OutputTarget` to write it
   * to as it is produced (the call then resolves with nothing).
   */
  output?: 'bytes' | 'blob' | OutputTarget;
}

export interface CreateOptions {
  /** Workers to spawn, 1–64. Default `max(1, navigator.hardwareConcurrency - 1)`. */
  poolSize?: number;
  /** Default `'auto'`. */
  fallback?: 'auto' | 'always' | 'never';
  /** Default `'least-busy'`. */
  strategy?: 'least-busy' | 'round-robin';
  /** Calls that may wait; default 10,000. */
  maxQueue?: number;
  /** Per-call time limit; default 60,000 (0 = none). */
  timeoutMs?: number;
  /** Where `timeoutMs` counts from: `'start'` (default) or `'submit'` (end to end). */
  timeoutFrom?: 'start' | 'submit';
  /** Default 1. */
  retries?: number;
  /** Workers are checked this often (a hung one, busy or idle, is replaced); default 5,000 (0 = off). */
  healthIntervalMs?: number;
  /** How long an aborted call's worker gets to stop; default 250. */
  cancelGraceMs?: number;
  /**
   * Calls one worker holds at once — one running, the rest waiting in its mailbox so it starts
   * the next without a round trip (1 = no pipelining; 1–256); default 64. Calls with large
   * inputs wait in the bridge's queue instead.
   */
  maxInFlightPerWorker?: number;
  /**
   * The longest (µs) the page polls its event loop for a call's answer, and a worker for its next
   * call, instead of sleeping — a wake costs tens of µs, most of a short call's round trip (0–10,000;
   * 0 = never); default 200. Adapts: it shrinks to nothing while answers and calls come later
   * than that.
   */
  busyPollUs?: number;
  /**
   * Which engine runs the crypto ops: `'auto'` (default) uses the platform's WebCrypto where it
   * exists and can do the whole job (SHA-256 of bytes, AES-GCM) and the input is not so small
   * (SHA-256 under 4 KiB, AES-GCM under 512 B) that the Rust code finishes first, else the Rust
   * code; `'rust'`
   * always the Rust code; `'webcrypto'` WebCrypto wherever it fits, failing with
   * `NotSupportedError` where `crypto.subtle` is missing. The bytes are the same either way.
   */
  engine?: 'auto' | 'rust' | 'webcrypto';
  /**
   * Origins (`'https://cdn.example.com'`: scheme, host, optional port) besides the page's that
   * service handler modules may be imported from; any other module URL (another origin, `data:`,
   * `blob:`) is a `ValidationError` at `register`/`load`. Default none.
   */
  serviceOrigins?: string[];
  /**
   * The threaded build, loaded only on a cross-origin isolated page whose browser can share
   * wasm memory: `true` (default) gives each worker a thread pool of 2 threads, its own included,
   * and the pool `hardwareConcurrency / 2` workers (an explicit `poolSize` wins, and the threads
   * fit in what is left: workers × threads never exceeds the cores); a number asks for that many
   * threads per worker; `false` loads the single-threaded build (if it is the first bridge of the
   * page) and uses no threads. Large gzip/deflate/zlib calls, chunk plans and (Rust engine) the
   * stream format's chunks split across a worker's threads; the output is the same either way.
   * `resize()` gives new workers the threads that fit beside the running ones.
   */
  threads?: boolean | number;
  /**
   * Where the package's `worker.js` is served when not beside the glue that loaded it: a CDN
   * path or a directory the app copied the package to (keep the package's layout — the script's
   * siblings and `../../../worker_bridge.js` are imported relative to it). Its URL inside the
   * package is `package.json`'s `workerBridge.worker`. A script of another origin is started
   * through a `blob:` module that imports it (the server must allow CORS; a CSP must allow
   * `worker-src blob:`). Services' workers start from the same directory. A URL that serves no
   * worker fails `create()` with `NotSupportedError` (or falls back to the page, `fallback: 'auto'`).
   */
  workerUrl?: string | URL;
}

export interface WorkerStatus {
  id: number;
  state: 'starting' | 'idle' | 'busy' | 'crashed' | 'terminated';
  busy: boolean;
  tasksDone: number;
  errors: number;
  restarts: number;
  lastError?: string;
  /** ms since the epoch. */
  startedAt: number;
  /** The worker's wasm memory at its last health ping (0 before the first). */
  memoryBytes: number;
  /** Threads its jobs may use, its own included (more than 1 only in the threaded build). */
  threads: number;
}

export interface BridgeStatus {
  mode: 'workers' | 'main-thread' | 'terminated';
  /** The wasm module the page loaded: `'threads'` (shared memory) or `'single'`. */
  build: 'threads' | 'single';
  /**
   * Whether that module uses WebAssembly SIMD: the threaded build always does; the single one
   * where `simdAvailable()`, unless `init()` was given a `source` or the SIMD file failed to load.
   */
  simd: boolean;
  /** Threads one call may use: the most any ready worker has (1 without the threaded build). */
  threads: number;
  crossOriginIsolated: boolean;
  workers: WorkerStatus[];
  queued: number;
  mainThreadTasksDone: number;
  /** Why the bridge runs on the main thread although workers were allowed. */
  fallbackReason?: string;
  counters: {
    /** Calls that reached the queue. */
    submitted: number;
    completed: number;
    failed: number;
    /** Calls their caller aborted, including ones aborted before they reached the queue. */
    cancelled: number;
    timedOut: number;
    retried: number;
  };
  /** The engine each kind of crypto job runs on (see `CreateOptions.engine`). */
  engines: {
    /** `crypto.sha256` of bytes, and in a worker of a `Blob` or `File` up to 16 MiB (read whole). */
    sha256: 'webcrypto' | 'rust';
    /** SHA-256 of a larger `Blob` or `File`, streamed (WebCrypto has no streaming digest). */
    sha256Stream: 'rust';
    /** `crypto.encrypt` / `crypto.decrypt`. */
    aesGcm: 'webcrypto' | 'rust';
    /** `crypto.encryptFile` / `crypto.decryptFile`, one AES-GCM call per chunk. */
    streamFormat: 'webcrypto' | 'rust';
  };
}

export interface AeadOptions extends CallOptions {
  /** Additional authenticated data (a string is UTF-8 encoded). */
  aad?: Uint8Array | ArrayBuffer | string;
}

export interface EncryptFileOptions extends AeadOptions {
  /** Plaintext bytes per chunk, 65,536 ..= 16,777,216; default 524,288. */
  chunkSize?: number;
}

/** Options of the stream factories: a call's, with `output` taken by the stream itself. */
export type StreamOptions<O extends CallOptions> = Omit<O, 'output' | 'transfer'>;

export interface CryptoFacade {
  sha256(data: Input | StreamInput, options?: CallOptions): Promise<Uint8Array>;
  /**
   * SHA-256 of each input in one call (one worker; all its threads in the threaded build): one
   * 32-byte digest per input, in order. At most 100,000 inputs.
   */
  sha256Many(inputs: Array<ArrayBuffer | ArrayBufferView | Blob>, options?: CallOptions): Promise<Uint8Array[]>;
  /** 32 random bytes. */
  generateKey(): Uint8Array;
  /** 12 random bytes; use a fresh one for every encryption. */
  generateNonce(): Uint8Array;
  /** AES-256-GCM: ciphertext ‖ 16-byte tag (as WebCrypto). */
  encrypt(data: Input, key: Uint8Array, nonce: Uint8Array, options?: AeadOptions): Promise<Uint8Array>;
  decrypt(ciphertext: Input, key: Uint8Array, nonce: Uint8Array, options?: AeadOptions): Promise<Uint8Array>;
  encryptFile(input: Input | StreamInput, key: Uint8Array, options: WritesTo<EncryptFileOptions>): Promise<void>;
  encryptFile(input: Input | StreamInput, key: Uint8Array, options?: EncryptFileOptions & { output?: 'blob' }): Promise<Blob>;
  encryptFile(input: Input | StreamInput, key: Uint8Array, options: EncryptFileOptions & { output: 'bytes' }): Promise<Uint8Array>;
  decryptFile(sealed: Input | StreamInput, key: Uint8Array, options: WritesTo<AeadOptions>): Promise<void>;
  decryptFile(sealed: Input | StreamInput, key: Uint8Array, options?: AeadOptions & { output?: 'blob' }): Promise<Blob>;
  decryptFile(sealed: Input | StreamInput, key: Uint8Array, options: AeadOptions & { output: 'bytes' }): Promise<Uint8Array>;
  /** Seals what goes through it in `encryptFile`'s format (a fresh header per stream). */
  encryptStream(key: Uint8Array, options?: StreamOptions<EncryptFileOptions>): BridgeTransformStream;
  /**
   * Opens `encryptFile`'s / `encryptStream`'s format. A chunk's plaintext comes out only once its
   * tag verifies; a tampered, truncated or extended stream, or a wrong key or `aad`, errors the
   * readable side (and the writable side, unless all input was already taken) with
   * `AuthenticationError`.
   */
  decryptStream(key: Uint8Array, options?: StreamOptions<AeadOptions>): BridgeTransformStream;
}

export interface CompressOptions extends CallOptions {
  /** 0–9, default 6. */
  level?: number;
}

export interface DecompressOptions extends CallOptions {
  /** Default 512 MiB; beyond it `LimitExceededError`. */
  maxOutputBytes?: number;
}

export interface CompressionFacade {
  gzip(data: Input | StreamInput, options: WritesTo<CompressOptions>): Promise<void>;
  gzip(data: Input | StreamInput, options?: CompressOptions): Promise<Uint8Array>;
  gunzip(data: Input | StreamInput, options: WritesTo<DecompressOptions>): Promise<void>;
  gunzip(data: Input | StreamInput, options?: DecompressOptions): Promise<Uint8Array>;
  deflate(data: Input | StreamInput, options: WritesTo<CompressOptions>): Promise<void>;
  deflate(data: Input | StreamInput, options?: CompressOptions): Promise<Uint8Array>;
  inflate(data: Input | StreamInput, options: WritesTo<DecompressOptions>): Promise<void>;
  inflate(data: Input | StreamInput, options?: DecompressOptions): Promise<Uint8Array>;
  zlib(data: Input | StreamInput, options: WritesTo<CompressOptions>): Promise<void>;
  zlib(data: Input | StreamInput, options?: CompressOptions): Promise<Uint8Array>;
  unzlib(data: Input | StreamInput, options: WritesTo<DecompressOptions>): Promise<void>;
  unzlib(data: Input | StreamInput, options?: DecompressOptions): Promise<Uint8Array>;
  /** gzip as a `TransformStream` run in a worker, with backpressure (as `CompressionStream('gzip')`). */
  gzipStream(options?: StreamOptions<CompressOptions>): BridgeTransformStream;
  /** gunzip as a `TransformStream`; corrupt input errors it with `DecompressionError`. */
  gunzipStream(options?: StreamOptions<DecompressOptions>): BridgeTransformStream;
  /** Raw deflate (`'deflate-raw'`) as a `TransformStream`. */
  deflateStream(options?: StreamOptions<CompressOptions>): BridgeTransformStream;
  inflateStream(options?: StreamOptions<DecompressOptions>): BridgeTransformStream;
  /** zlib (`'deflate'` in Compression Streams) as a `TransformStream`. */
  zlibStream(options?: StreamOptions<CompressOptions>): BridgeTransformStream;
  unzlibStream(options?: StreamOptions<DecompressOptions>): BridgeTransformStream;
}

export interface ChunkPlanEntry {
  index: number;
  offset: number;
  length: number;
  sha256: Uint8Array;
}

export interface FileFacade {
  sha256(file: Input | StreamInput, options?: CallOptions): Promise<Uint8Array>;
  chunkPlan(file: Input, options?: CallOptions & { chunkSize?: number }): Promise<ChunkPlanEntry[]>;
  readSlice(file: Input, offset: number, length: number, options?: CallOptions): Promise<Uint8Array>;
}

export interface FetchOptions extends CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Input;
  /** Hash the body while downloading it. */
  sha256?: boolean;
  /** Default true: a non-2xx status rejects with a `NetworkError` carrying `status`. */
  throwHttpErrors?: boolean;
  /** Longest response body accepted; default 536,870,912 (512 MiB). Beyond it `LimitExceededError`. */
  maxBytes?: number;
}

export interface FetchResult {
  status: number;
  statusText: string;
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
  sha256?: Uint8Array;
}

export interface NetworkFacade {
  fetch(url: string, options?: FetchOptions): Promise<FetchResult>;
}

/**
 * A service: a JavaScript handler module (by URL: an `http(s)` URL of the page's origin or of one
 * in `serviceOrigins`) or a Rust `Service` registered in the module.
 */
export type ServiceDefinition = string | URL | { module: string | URL } | { rust: string };

/**
 * An inline handler: the hooks of a service module as an object, run on the page (`placement:
 * 'main'` only; in a worker it is a `ValidationError`: use a module). Hooks are called as methods
 * (`this` is the object).
 */
export interface InlineServiceDefinition<Ctx = ServiceContext, Msg = unknown, Reply = unknown> {
  handler: ServiceModule<Ctx, Msg, Reply>;
}

/**
 * What every hook of a JavaScript service gets: `config` (a fresh copy of the registered config at
 * every start), `send` (not enumerable: snapshots leave it out) and your own state.
 */
export type ServiceContext<Config = unknown> = { config?: Config; send: ServiceSend } & Record<string, unknown>;

/**
 * `ctx.send(name, message, options)`: a message from inside a service to the service `name`, with
 * the ordering and the errors of `services.send`; resolves with its reply. Between two services in
 * workers (the receiver with one copy) it takes a direct `MessageChannel`; otherwise it goes through
 * the page. A handler that awaits a reply from a service that awaits one from it (or from itself)
 * waits forever: give such sends a `timeoutMs`.
 */
export type ServiceSend = <Reply = unknown>(
  name: string,
  message: unknown,
  options?: { timeoutMs?: number; signal?: AbortSignal },
) => Promise<Reply>;

export interface ServiceOptions {
  /** Where it runs: its own worker (default) or the page's thread. */
  placement?: 'worker' | 'main';
  /** Default 10,000 (0 = no limit). */
  startTimeoutMs?: number;
  /** Default 10,000 (0 = no limit). */
  stopTimeoutMs?: number;
  /** Default 'never'. */
  restart?: 'never' | 'on-failure';
  /** Automatic restarts in a row (250 ms back-off, doubling) before giving up (→ stopped); default 3. */
  maxRestarts?: number;
  /** Ask `health(ctx)` this often while running; default 0 (never). */
  healthIntervalMs?: number;
  /**
   * Settings for this service (JSON only, copied at registration): `ctx.config` in every hook of a
   * JavaScript service; the typed config of a Rust service (`register_configured_service`).
   */
  config?: unknown;
  /**
   * Copies to run (1 to 64; default 1). Each message goes to the least busy copy; each copy handles
   * its own messages in FIFO order (no order across copies). With `restart: 'on-failure'`, a copy
   * that fails while the service runs is replaced alone.
   */
  instances?: number;
  /**
   * Services this one needs (names; they may be registered later). `start`/`startAll` start them
   * first, `stop`/`stopAll` stop this one first, and when one fails this one stops. An unknown name
   * or a cycle is a `ValidationError` at start (and at `load()`).
   */
  dependsOn?: string[];
  /**
   * Keep the service's state across stops, restarts and page reloads: `onSnapshot(ctx)` (JSON, at
   * most 4 MiB as text) is stored in IndexedDB under the service's name (`name#i` for copy `i` when
   * `instances` > 1) at every stop — the stop resolves once it is written — and every
   * `snapshotIntervalMs`; `onRestore(ctx, snapshot)` runs right after `onStart` when one is stored.
   * A failing `onRestore` fails the start with its error, a failing snapshot the stop; without
   * IndexedDB the start fails with `NotSupportedError`. Default false.
   */
  persist?: boolean;
  /** With `persist`: also snapshot this often while running (0 = at stop only, the default; else ≥ 100). */
  snapshotIntervalMs?: number;
}

/** `services.send` options, read as a call's; any other key is a `ValidationError`. */
export interface SendOptions {
  /**
   * `TimeoutError` if no reply comes within this (the message still runs). 0 or absent: no limit,
   * and a handler that never replies keeps the promise pending until the service fails or the
   * bridge is terminated.
   */
  timeoutMs?: number;
  /** `AbortError` when aborted (the message still runs). */
  signal?: AbortSignal | SharedCancellation;
}

/** One entry of `services.load()`: plain JSON. */
export type ServiceConfig = ServiceOptions & { name: string } & ({ module: string } | { rust: string });

export type ServiceState =
  | 'uninitialized' | 'initializing' | 'initialized' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface ServiceStatus {
  name: string;
  state: ServiceState;
  placement: 'worker' | 'main';
  lastError?: string;
  startedAt?: number;
  /** Every restart, manual or automatic. */
  restarts: number;
  /** Automatic restarts since the budget was renewed (a manual start/restart, or 60 s running). */
  autoRestarts: number;
  messagesHandled: number;
  queueLength: number;
  lastHealth?: { healthy: boolean; detail: string };
  /** Copies running the service (the `instances` option). */
  instances: number;
  /** Copies replaced alone after they failed (not counted in `restarts`). */
  instanceRestarts: number;
  /** The `dependsOn` option. */
  dependsOn: string[];
}

/** What a JavaScript service module exports (or an inline handler holds). */
export interface ServiceModule<Ctx = ServiceContext, Msg = unknown, Reply = unknown> {
  onStart?(ctx: Ctx): void | Promise<void>;
  onMessage(message: Msg, ctx: Ctx): Reply | Promise<Reply>;
  onStop?(ctx: Ctx): void | Promise<void>;
  health?(ctx: Ctx): boolean | { healthy: boolean; detail?: string } | Promise<boolean | { healthy: boolean; detail?: string }>;
  /** `persist: true`: the state to keep, as JSON (at stop and every `snapshotIntervalMs`). */
  onSnapshot?(ctx: Ctx): unknown;
  /** `persist: true`: brings back a stored snapshot, right after `onStart`. */
  onRestore?(ctx: Ctx, snapshot: any): void | Promise<void>;
}

export interface ServiceRequest {
  id: unknown;
  type: 'request';
  action: 'list_services' | 'get_service' | 'service_action' | 'subscribe' | 'unsubscribe';
  params?: Record<string, unknown>;
  /** Checked by `services.serve(transport, { token })`; ignored by `handle`. */
  token?: string;
}

/** Options of `services.serve(transport, options)`. */
export interface ServeOptions {
  /** Every request must carry this token (`AuthenticationError` otherwise). */
  token?: string;
  /** The largest request read, in UTF-8 bytes of its JSON text (default 65,536). */
  maxMessageBytes?: number;
  /** Requests served per second, sustained (default 50). */
  ratePerSecond?: number;
  /** Requests served at once before the rate applies (default 100). */
  burst?: number;
}

/**
 * A transport being served until `close()` (a channel made from `{ channel }` is closed too) or
 * its socket closes; dropping the handle does not stop it.
 */
export interface RemoteServer {
  close(): void;
  readonly closed: boolean;
  free(): void;
}

export { RegistryClient } from './registry-client.js';
export type { RegistryClientOptions, RegistryTransport } from './registry-client.js';

export interface ServiceResponse {
  id: unknown;
  type: 'response';
  data?: unknown;
  error?: { name: string; message: string };
}

export interface ServicesFacade {
  /** An inline handler runs on the page: `placement: 'main'` is required. */
  register<Ctx, Msg, Reply>(
    name: string,
    definition: InlineServiceDefinition<Ctx, Msg, Reply>,
    options: ServiceOptions & { placement: 'main' },
  ): Promise<void>;
  register(name: string, definition: ServiceDefinition, options?: ServiceOptions): Promise<void>;
  /** Registers a whole configuration (all or nothing), then emits `registry_loaded`. */
  load(services: ServiceConfig[]): Promise<string[]>;
  unregister(name: string): Promise<void>;
  start(name: string): Promise<void>;
  /** A stop that fails leaves the service `failed`, never restarted; on a failed service, cancels its automatic restart. */
  stop(name: string): Promise<void>;
  /** Never spends the automatic restart budget (it renews it). */
  restart(name: string): Promise<void>;
  startAll(): Promise<void>;
  stopAll(): Promise<void>;
  send<Reply = unknown>(name: string, message: unknown, options?: SendOptions): Promise<Reply>;
  list(): string[];
  status(): ServiceStatus[];
  /**
   * The JSON remote-control envelope; never rejects. A `subscribe` that includes
   * `registry_loaded` also gets the registry as it is now (`data.initial: true`), delivered in a
   * microtask (possibly just before the returned promise resolves).
   */
  handle(request: ServiceRequest, onEvent?: (event: BridgeEvent) => void): Promise<ServiceResponse>;
  /**
   * Serves `handle`'s envelope as JSON text over a `BroadcastChannel` (or `{ channel: name }`)
   * or a `WebSocket`, behind a size limit, a rate limit and an optional token; `RegistryClient`
   * is the other side. Throws `ValidationError` for another transport or a bad option.
   */
  serve(transport: BroadcastChannel | WebSocket | { channel: string }, options?: ServeOptions): RemoteServer;
}

export interface BridgeEvents {
  service_state_changed: { name: string; from: ServiceState; to: ServiceState; reason?: string };
  /** `instance`: which copy answered (0 unless `instances` > 1). */
  health_check_result: { name: string; healthy: boolean; detail: string; instance: number };
  worker_state_changed: {
    kind: 'pool';
    worker: number;
    from: 'none' | 'starting' | 'idle' | 'busy' | 'crashed' | 'terminated';
    to: 'starting' | 'idle' | 'busy' | 'crashed' | 'terminated';
    reason?: string;
  } | {
    /** One copy of a service with `instances` > 1, replaced alone. */
    kind: 'service';
    service: string;
    instance: number;
    from: 'running' | 'crashed' | 'starting';
    to: 'crashed' | 'starting' | 'running';
    reason?: string;
  };
  /**
   * After `services.load()`; and to a new subscriber, the registry as it is now (`initial: true`,
   * with every service's `status`).
   */
  registry_loaded: { services: string[]; status?: ServiceStatus[]; initial?: true };
}

export type BridgeEventName = keyof BridgeEvents;

export type BridgeEvent<E extends BridgeEventName = BridgeEventName> = {
  [K in E]: { type: 'event'; event: K; data: BridgeEvents[K] };
}[E];

/** A task's definition: a module's exported function, or a Rust task (`register_task`). */
export type TaskDefinition =
  | {
      /** The module's URL: the page's origin or one of `serviceOrigins`. */
      module: string | URL;
      /** The exported function's name; default `'default'`. */
      export?: string;
    }
  | { rust: string };

/** What a task function gets besides its input. */
export interface TaskContext {
  /** Aborted when the call is cancelled or runs out of time (its `reason` says which). */
  readonly signal: AbortSignal;
  /** Reports progress to the call's `onProgress` / `progress` (`total` 0 = unknown). */
  progress(done: number, total?: number): void;
  /** Moves these buffers back with the result instead of copying them. */
  transfer(...buffers: (Transferable | Transferable[])[]): void;
}

/** A task function, as its module exports it. */
export type TaskFunction<I = any, O = any> = (input: I, ctx: TaskContext) => O | Promise<O>;

/** `tasks.run` options: every call option, with `transfer` and `output` for values. */
export interface TaskRunOptions extends Omit<CallOptions, 'transfer' | 'output'> {
  /** `true`: move the input itself (an `ArrayBuffer`, or a view's whole buffer); or a list of what to move. */
  transfer?: boolean | Transferable[];
  /** `'value'` (default): what the task returned; `'bytes'` / `'blob'`: its bytes as a `Uint8Array` / `Blob`. */
  output?: 'value' | 'bytes' | 'blob';
}

/** `bridge.tasks`: your own functions, run in the pool (or on the page, on the fallback). */
export interface TasksFacade {
  /** Registers (or replaces) `name`. Rejects with `ValidationError` for a bad name, module URL or export. */
  register(name: string, definition: TaskDefinition): Promise<void>;
  /** Forgets `name`; resolves to whether it was registered. */
  unregister(name: string): Promise<boolean>;
  /** The registered names, sorted. */
  list(): string[];
  /**
   * Runs task `name` with `input` and resolves to its result. Rejects with `TaskError` (not
   * registered, the module did not import or lacks the export), with what the task threw (its
   * own `name`, `message` and `stack`), or as any call does (`TimeoutError`, `AbortError`, ...).
   */
  run<O = any>(name: string, input?: unknown, options?: TaskRunOptions): Promise<O>;
}

export declare class WorkerBridge {
  private constructor();
  static create(options?: CreateOptions): Promise<WorkerBridge>;
  static shared(): Promise<WorkerBridge>;
  readonly crypto: CryptoFacade;
  readonly compression: CompressionFacade;
  readonly file: FileFacade;
  readonly network: NetworkFacade;
  readonly services: ServicesFacade;
  readonly tasks: TasksFacade;
  /**
   * Adds `listener` to `event` (once: adding it again does nothing). Throws `LimitExceededError`
   * when the event has 1,000 listeners already.
   */
  on<E extends BridgeEventName>(event: E, listener: (event: BridgeEvent<E>) => void): void;
  off<E extends BridgeEventName>(event: E, listener: (event: BridgeEvent<E>) => void): void;
  /**
   * Adds `listener` to each event (all or nothing, as `on` does); returns the function that removes
   * it. With `registry_loaded` among them, the registry as it is now arrives first (in a microtask).
   */
  subscribe<E extends BridgeEventName>(events: E[], listener: (event: BridgeEvent<E>) => void): () => void;
  unsubscribe<E extends BridgeEventName>(events: E[], listener: (event: BridgeEvent<E>) => void): void;
  status(): BridgeStatus;
  resize(size: number): Promise<void>;
  terminate(): Promise<void>;
}

export declare class SharedProgress {
  constructor(total?: number);
  readonly current: number;
  readonly total: number;
  /** 0..100. */
  readonly percent: number;
  readonly isShared: boolean;
  free(): void;
}

export declare class SharedCancellation {
  constructor();
  cancel(): void;
  readonly isCancelled: boolean;
  toAbortSignal(): AbortSignal;
  free(): void;
}

export declare class SharedCounter {
  constructor(initial?: number);
  readonly value: number;
  increment(by?: number): number;
  readonly words: Int32Array;
  free(): void;
}

export declare function createProgressTracker(total?: number): { progress: SharedProgress; cleanup: () => void };
export declare function createCancellationToken(): { cancellation: SharedCancellation; cancel: () => void };

/**
 * Loads and compiles the wasm module (once). Optional: `create()` and `shared()` call it. The
 * threaded build is chosen where `threadsAvailable()`, unless `options.threads === false`; else
 * the single build, compiled with WebAssembly SIMD where `simdAvailable()` (without a `source`).
 */
export declare function init(
  source?: RequestInfo | URL | Response | BufferSource | WebAssembly.Module,
  options?: { threads?: boolean | number },
): Promise<unknown>;
/** Whether the page can run the threaded build (cross-origin isolated, shared wasm memory, SIMD). */
export declare function threadsAvailable(): boolean;
/** Whether the browser runs WebAssembly SIMD, so the SIMD build loads. */
export declare function simdAvailable(): boolean;
