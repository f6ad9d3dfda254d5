// Main-thread side of a pool worker's birth. Imported by the wasm glue (wasm-bindgen snippet).
//
// The worker is created from `new URL('./worker.js', import.meta.url)` with `type: 'module'`, the
// pattern webpack 5 and Vite follow to bundle the worker script: no blob: URL, no eval, so the
// package works under a strict CSP (`worker-src 'self'`).

/**
 * Starts a worker and hands it the page's compiled WebAssembly.Module (no second download or
 * compile) and the glue's URL (used when the bundler-relative import is unavailable).
 * @param {WebAssembly.Module} module
 * @param {string} glueUrl
 * @param {number} workerId
 * @param {string} name
 * @param {number} threads threads it starts for its jobs, its own included (threaded build)
 * @returns {Worker}
 */
export function spawnWorker(module, glueUrl, workerId, name, threads) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name });
  worker.postMessage({ type: 'init', module, glueUrl, workerId, threads });
  return worker;
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
  if (rust) {
    return new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: `worker-bridge-rust-service:${name}` });
  }
  return new Worker(new URL('./service-host.js', import.meta.url), { type: 'module', name: `worker-bridge-service:${name}` });
}
