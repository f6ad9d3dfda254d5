// Main-thread side of a pool worker's birth. Imported by the wasm glue (wasm-bindgen snippet).
//
// The worker is created from `new URL('./worker.js', import.meta.url)` with `type: 'module'`, the
// pattern webpack 5 and Vite follow to bundle the worker script: no blob: URL, no eval, so the
// package works under a strict CSP (`worker-src 'self'`).

/**
 * The `workerUrl` of the latest bridge that named one: services' workers start beside it
 * (`worker.js` itself, or its sibling `service-host.js`).
 * @type {string | null}
 */
let workerBase = null;

/**
 * Starts a worker and hands it the page's compiled WebAssembly.Module (no second download or
 * compile) and the glue's URL (used when the bundler-relative import is unavailable).
 * @param {WebAssembly.Module} module
 * @param {string} glueUrl
 * @param {number} workerId
 * @param {string} name
 * @param {number} threads threads it starts for its jobs, its own included (threaded build)
 * @param {number} busyPollUs the longest it polls for its next call between calls (`busyPollUs`)
 * @param {string} [workerUrl] where the package's worker.js is served, if not beside this file
 * @returns {Worker}
 */
export function spawnWorker(module, glueUrl, workerId, name, threads, busyPollUs, workerUrl) {
  if (workerUrl) workerBase = workerUrl;
  // The options stay a literal beside `new URL(..., import.meta.url)`: Vite refuses to bundle a
  // worker whose options it cannot read statically.
  const worker = workerUrl
    ? startAt(workerUrl, { type: 'module', name })
    : new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name });
  worker.postMessage({ type: 'init', module, glueUrl, workerId, threads, busyPollUs });
  return worker;
}

/**
 * A module worker from `url`. Browsers refuse a worker script of another origin (a CDN): such a
 * script is started through a one-line module of this page's origin, a `blob:` URL, that imports
 * it — the CDN must then allow CORS, and a Content-Security-Policy must allow `worker-src blob:`.
 * @param {string} url
 * @param {WorkerOptions} options
 * @returns {Worker}
 */
function startAt(url, options) {
  // From a `URL`, not the string: in the wasm-bindgen test runner (Chrome), a worker started from
  // the very same URL as a string never answered its messages (cause not found).
  const target = new URL(url);
  if (target.origin === globalThis.location?.origin) return new Worker(target, options);
  const shim = URL.createObjectURL(new Blob([`import ${JSON.stringify(url)};\n`], { type: 'text/javascript' }));
  const worker = new Worker(shim, options);
  const revoke = () => URL.revokeObjectURL(shim);
  worker.addEventListener('message', revoke, { once: true });
  worker.addEventListener('error', revoke, { once: true });
  return worker;
}

/** The URL a worker starts from without `workerUrl` (tests). @returns {string} */
export function defaultWorkerUrl() {
  return new URL('./worker.js', import.meta.url).href;
}

/**
 * Starts the dedicated worker of a worker-placed service: service-host.js for a JavaScript
 * service (no wasm in it), or, for a Rust service, worker.js in its service mode — the one worker
 * entry that already imports the wasm glue (bundlers refuse a second worker entry that imports
 * it: the glue spawns workers, so its workers' bundles would import each other).
 * @param {string} name
 * @param {boolean} rust
 * @returns {Worker}
 */
export function spawnServiceWorker(name, rust) {
  if (workerBase !== null) {
    const url = rust ? workerBase : new URL('./service-host.js', workerBase).href;
    return startAt(url, { type: 'module', name: `worker-bridge-${rust ? 'rust-service' : 'service'}:${name}` });
  }
  if (rust) {
    return new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: `worker-bridge-rust-service:${name}` });
  }
  return new Worker(new URL('./service-host.js', import.meta.url), { type: 'module', name: `worker-bridge-service:${name}` });
}
