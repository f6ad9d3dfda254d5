// The bootstrap a pool worker starts from: load the wasm glue, instantiate the page's compiled
// module, hand control to Rust (`__workerBridgeWorkerMain`), which answers `Ready`. As small as
// possible: everything else is Rust.
//
// Started with a name "worker-bridge-rust-service:…", it hosts one Rust service instead
// (service-host.js), in this worker's own instance; started as "worker-bridge-thread", it is one
// of a threaded-build worker's helper threads (threads.js).
//
// This file is also imported (and does nothing) on the main thread, because wasm-bindgen copies
// a snippet into `pkg/snippets/` only when some binding names it.

import { loadGlue } from './glue.js';
import { batch, fromWorker } from './protocol.js';
import { hostService, RustInstance } from './service-host.js';
import { runThread, THREAD_NAME } from './threads.js';

/** True inside a dedicated worker; used to keep this module inert on the main thread. */
export function isWorkerBridgeWorker() {
  return typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope;
}

/** @param {MessageEvent} event */
async function boot(event) {
  const { module, glueUrl, workerId, threads, busyPollUs } = event.data ?? {};
  try {
    const glue = await loadGlue(glueUrl);
    await glue.default({ module_or_path: module });
    glue.__workerBridgeWorkerMain(workerId, threads ?? 1, busyPollUs ?? 0);
  } catch (/** @type {any} */ e) {
    const message = e && e.message ? `${e.name}: ${e.message}` : String(e);
    postMessage(batch(fromWorker.bootFailed(message)));
  }
}

if (isWorkerBridgeWorker() && self.name.startsWith('worker-bridge-rust-service:')) {
  hostService(self, new RustInstance(loadGlue));
} else if (isWorkerBridgeWorker() && self.name === THREAD_NAME) {
  runThread();
} else if (isWorkerBridgeWorker()) {
  addEventListener('message', boot, { once: true });
  // A trap inside an async task surfaces here rather than as an `error` event on the Worker:
  // report it so the page replaces this worker now instead of waiting for the call's timeout.
  addEventListener('unhandledrejection', (event) => {
    const e = event.reason;
    const message = e && e.message ? `${e.name}: ${e.message}` : String(e);
    postMessage(batch(fromWorker.crashed(message)));
  });
}
