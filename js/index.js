// worker-bridge — the package entry.
//
// Importing this module does nothing: no wasm is fetched, no worker started, no browser global
// touched, so it is safe to import during server-side rendering. The wasm module is loaded and
// compiled once, on the first `WorkerBridge.create()` / `WorkerBridge.shared()` (or an explicit
// `await init()`).
import initWasm, * as wasm from './worker_bridge.js';

/** @type {Promise<unknown> | null} */
let loading = null;
let loaded = false;

/**
 * Loads and compiles the wasm module (once; later calls return the same promise).
 * @param {RequestInfo | URL | Response | BufferSource | WebAssembly.Module} [source]
 *   where to load the `.wasm` from; by default the file beside this module.
 */
export function init(source) {
  loading ??= initWasm(source === undefined ? undefined : { module_or_path: source }).then(
    (exports) => {
      loaded = true;
      return exports;
    },
    (error) => {
      loading = null; // a failed load (offline, a CSP refusal) may be retried later
      throw error;
    },
  );
  return loading;
}

/** @param {string} what */
function requireLoaded(what) {
  if (!loaded) {
    throw new Error(`worker-bridge: ${what} needs the wasm module; await WorkerBridge.create() or init() first`);
  }
}

/** A pool of Web Workers (or the main-thread fallback) running worker-bridge handlers. */
export class WorkerBridge {
  constructor() {
    throw new TypeError('worker-bridge: use `await WorkerBridge.create(options)` or `WorkerBridge.shared()`');
  }

  /**
   * Spawns the pool and resolves once every worker is ready.
   * @param {import('worker-bridge').CreateOptions} [options]
   */
  static async create(options) {
    await init();
    return wasm.WorkerBridge.create(options);
  }

  /** One bridge for the whole page, created on first use (a fresh one after `terminate()`). */
  static async shared() {
    await init();
    return wasm.WorkerBridge.shared();
  }

  /** @param {unknown} value */
  static [Symbol.hasInstance](value) {
    return loaded && value instanceof wasm.WorkerBridge;
  }
}

/**
 * `{ progress, cleanup }`: a SharedProgress to pass as a call's `progress` option.
 * @param {number} [total]
 */
export function createProgressTracker(total) {
  requireLoaded('createProgressTracker');
  return wasm.createProgressTracker(total);
}

/** `{ cancellation, cancel }`: a SharedCancellation to pass as a call's `signal` option. */
export function createCancellationToken() {
  requireLoaded('createCancellationToken');
  return wasm.createCancellationToken();
}

export { SharedProgress, SharedCancellation, SharedCounter } from './worker_bridge.js';

/**
 * Every `name` a worker-bridge error can have (`ErrorKind::ALL` in src/error.rs; tests/sources_of_truth.rs
 * checks this list, the `ErrorName` type and the README against it).
 * @type {readonly import('worker-bridge').ErrorName[]}
 */
export const ERROR_NAMES = Object.freeze([
  'TimeoutError',
  'AbortError',
  'WorkerCrashedError',
  'ValidationError',
  'AuthenticationError',
  'NonceReuseError',
  'QueueFullError',
  'TerminatedError',
  'DecompressionError',
  'LimitExceededError',
  'NetworkError',
  'NotSupportedError',
  'ServiceStateError',
]);
