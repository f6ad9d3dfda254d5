// worker-bridge — the package entry.
//
// Importing this module does nothing: no wasm is fetched, no worker started, no browser global
// touched, so it is safe to import during server-side rendering. The wasm module is loaded and
// compiled once, on the first `WorkerBridge.create()` / `WorkerBridge.shared()` (or an explicit
// `await init()`).
//
// Two glues ship side by side: `worker_bridge.js` (single-threaded) and
// `threads/worker_bridge.js` (shared memory; each pool worker runs a thread pool). The threaded
// one is loaded only where it can run — a cross-origin isolated page whose browser can share
// wasm memory and run WebAssembly SIMD — and unless `threads: false`; elsewhere it is never
// fetched. The single build's glue drives either of two `.wasm` files, the same code compiled
// with and without SIMD: `worker_bridge_simd_bg.wasm` where the browser validates SIMD,
// `worker_bridge_bg.wasm` elsewhere. Only the one chosen is fetched.

/** @typedef {typeof import('./worker_bridge.js')} Glue */

// The other side of `services.serve`: plain JavaScript, no wasm (also `worker-bridge/registry-client`).
export { RegistryClient } from './registry-client.js';

/** @type {Promise<Glue> | null} */
let loading = null;
/** @type {Glue | null} */
let glue = null;

/**
 * A class of the loaded build, usable before it is loaded: `instanceof` is false until then, and
 * `new` needs the module (as every call does).
 * @param {'SharedProgress' | 'SharedCancellation' | 'SharedCounter'} name
 */
function loadedClass(name) {
  const stand = class {
    /** @param {any[]} args */
    constructor(...args) {
      const Loaded = /** @type {any} */ (requireLoaded(`new ${name}()`)[name]);
      return new Loaded(...args);
    }

    /** @param {unknown} value */
    static [Symbol.hasInstance](value) {
      return glue !== null && value instanceof /** @type {any} */ (glue[name]);
    }
  };
  Object.defineProperty(stand, 'name', { value: name });
  return stand;
}

export const SharedProgress = /** @type {Glue['SharedProgress']} */ (/** @type {unknown} */ (loadedClass('SharedProgress')));
export const SharedCancellation = /** @type {Glue['SharedCancellation']} */ (
  /** @type {unknown} */ (loadedClass('SharedCancellation'))
);
export const SharedCounter = /** @type {Glue['SharedCounter']} */ (/** @type {unknown} */ (loadedClass('SharedCounter')));

/**
 * A module whose one function returns a `v128` constant: only a browser with WebAssembly SIMD
 * validates it.
 */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, // magic, version
  1, 5, 1, 96, 0, 1, 123, // types: () -> v128
  3, 2, 1, 0, // functions: one, of type 0
  10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, // code: v128.const 0
]);

/** Whether this browser runs WebAssembly SIMD (and so the SIMD build). */
export function simdAvailable() {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * Whether this page can run the threaded build: checked feature by feature — cross-origin
 * isolated, `SharedArrayBuffer`, a shared `WebAssembly.Memory`, `Atomics.waitAsync` (without
 * it, wasm-bindgen's async runtime on shared memory would start a `blob:` worker per wait) and
 * WebAssembly SIMD (the threaded build is compiled with it).
 */
export function threadsAvailable() {
  if (!simdAvailable()) return false;
  if (globalThis.crossOriginIsolated !== true || typeof SharedArrayBuffer !== 'function') return false;
  if (typeof Atomics === 'undefined' || typeof (/** @type {any} */ (Atomics).waitAsync) !== 'function') return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/**
 * Loads and compiles the wasm module (once; later calls return the same promise, whatever their
 * arguments).
 * @param {RequestInfo | URL | Response | BufferSource | WebAssembly.Module} [source]
 *   where to load the `.wasm` from; by default the file beside the chosen build's glue (for the
 *   single build, its SIMD variant where the browser validates SIMD).
 * @param {{ threads?: boolean | number }} [options] `threads: false` loads the single-threaded
 *   build even where the threaded one could run. With a `source` (the single build's `.wasm`,
 *   self-hosted) the single build loads unless `threads` asks for threads; then `source` must be
 *   the threaded build's `.wasm`.
 */
export function init(source, options) {
  loading ??= (async () => {
    const wanted = options?.threads ?? (source === undefined ? true : false);
    const from = source === undefined ? undefined : { module_or_path: source };
    /** @type {Glue | null} */
    let module = null;
    if (wanted !== false && threadsAvailable()) {
      try {
        module = /** @type {Glue} */ (await import('./threads/worker_bridge.js'));
        await module.default(from);
      } catch (error) {
        // A browser that cannot reserve the shared memory, a blocked download: the single
        // build still runs everything, on one thread per worker.
        console.warn('worker-bridge: the threaded build did not load; using the single-threaded one:', error);
        module = null;
      }
    }
    if (module === null) {
      module = /** @type {Glue} */ (await import('./worker_bridge.js'));
      let loaded = false;
      if (source === undefined && simdAvailable()) {
        try {
          await module.default({ module_or_path: new URL('./worker_bridge_simd_bg.wasm', import.meta.url) });
          loaded = true;
        } catch (error) {
          // A blocked or missing file (a bundler that left it out): the plain build runs the same.
          // The glue keeps nothing of a failed load, so it can load the other file.
          console.warn('worker-bridge: the SIMD build did not load; using the plain one:', error);
        }
      }
      if (!loaded) await module.default(source === undefined ? undefined : { module_or_path: source });
    }
    glue = module;
    return module;
  })().catch((error) => {
    loading = null; // a failed load (offline, a CSP refusal) may be retried later
    throw error;
  });
  return loading;
}

/**
 * @param {string} what
 * @returns {Glue}
 */
function requireLoaded(what) {
  if (!glue) {
    throw new Error(`worker-bridge: ${what} needs the wasm module; await WorkerBridge.create() or init() first`);
  }
  return glue;
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
    const module = await init(undefined, { threads: options?.threads });
    return module.WorkerBridge.create(options);
  }

  /** One bridge for the whole page, created on first use (a fresh one after `terminate()`). */
  static async shared() {
    const module = await init();
    return module.WorkerBridge.shared();
  }

  /** @param {unknown} value */
  static [Symbol.hasInstance](value) {
    return glue !== null && value instanceof glue.WorkerBridge;
  }
}

/**
 * `{ progress, cleanup }`: a SharedProgress to pass as a call's `progress` option.
 * @param {number} [total]
 */
export function createProgressTracker(total) {
  return requireLoaded('createProgressTracker').createProgressTracker(total);
}

/** `{ cancellation, cancel }`: a SharedCancellation to pass as a call's `signal` option. */
export function createCancellationToken() {
  return requireLoaded('createCancellationToken').createCancellationToken();
}


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
  'TaskError',
  'NotReadableError',
]);
