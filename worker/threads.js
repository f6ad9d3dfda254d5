// The threaded build's helper threads (see src/runtime/threads.rs). A pool worker that runs the
// threaded module calls `startThreads`, which starts `count` nested workers from worker.js in its
// thread mode (`runThread`, below); each instantiates the module over the pool worker's shared
// memory, says it is ready, then gives its thread to rayon (`__workerBridgeThread` never returns
// while the pool lives).
//
// As wasm-bindgen-rayon's workerHelpers.js does, but started with a literal
// `new URL('./worker.js', import.meta.url)` — the one worker entry, which bundlers already follow
// (Vite refuses a second worker entry that reaches the glue: the glue spawns workers, so their
// bundles would import each other) — with no `blob:` URL and no `eval`, and finding the glue the
// way every worker here does (./glue.js), which also works on a plain static server and in the
// wasm-bindgen test runner.

import { loadGlue } from './glue.js';

/** The name a helper thread's worker is started with (worker.js checks it). */
export const THREAD_NAME = 'worker-bridge-thread';
const NAME = THREAD_NAME;
/** How long the helpers get to start; after that the worker runs on its own thread. */
const START_TIMEOUT_MS = 10_000;

/**
 * Starts `count` helper threads sharing `memory`; resolves once each has instantiated the module
 * (rejects with the first failure).
 * @param {WebAssembly.Module} module
 * @param {WebAssembly.Memory} memory
 * @param {string} glueUrl
 * @param {number} count
 * @returns {Promise<void>}
 */
export async function startThreads(module, memory, glueUrl, count) {
  /** @type {Worker[]} */
  const mine = [];
  const started = Array.from({ length: count }, () => {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: NAME });
    mine.push(worker);
    return new Promise((resolve, reject) => {
      worker.addEventListener('message', ({ data }) => {
        if (data?.type === 'ready') resolve(undefined);
        else if (data?.type === 'failed') reject(new Error(`a helper thread failed to start: ${data.message}`));
      });
      worker.addEventListener('error', (e) => reject(new Error(`a helper thread failed to start: ${e.message || 'script error'}`)));
      worker.postMessage({ type: 'start', module, memory, glueUrl });
    });
  });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the helper threads did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.all(started), late]);
  } catch (error) {
    // None of them will be given work: end those that did start.
    for (const worker of mine) worker.terminate();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  // Kept reachable: Firefox may collect a worker that shares a memory but has no `Worker`
  // object left (https://bugzilla.mozilla.org/show_bug.cgi?id=1702191).
  threads.push(...mine);
}

/** @type {Worker[]} */
const threads = [];

/** A helper thread's life, in a worker started by `startThreads` (called by worker.js). */
export function runThread() {
  addEventListener(
    'message',
    async ({ data }) => {
      try {
        const glue = await loadGlue(data.glueUrl);
        await glue.default({ module_or_path: data.module, memory: data.memory });
        postMessage({ type: 'ready' });
        glue.__workerBridgeThread();
      } catch (/** @type {any} */ e) {
        postMessage({ type: 'failed', message: e && e.message ? `${e.name}: ${e.message}` : String(e) });
      }
    },
    { once: true },
  );
}
