// Runs in the page: one echo client over one worker — worker-bridge from the profiling build
// (target/bench-pkg-prof: the bench package with the wasm name section kept, so profiles name Rust
// functions), or raw postMessage (benches/ipc/raw-worker.js) as the floor to compare against —
// and sequential echo calls, the same ones bench:ipc times.
import init, { WorkerBridge } from '/target/bench-pkg-prof/worker_bridge.js';
import { latencyRound } from '../page.js';

let echo;

/** The raw postMessage client of bench:ipc, reduced to echo. */
function rawEcho() {
  const worker = new Worker(new URL('../ipc/raw-worker.js', import.meta.url), { type: 'module' });
  const pending = new Map();
  let nextId = 0;
  worker.onmessage = ({ data: { id, bytes } }) => {
    pending.get(id)(bytes);
    pending.delete(id);
  };
  return (bytes) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      worker.postMessage({ id, op: 'echo', bytes });
    });
}

/** Starts the client's worker (it appears now, so the driver can attach to it first). */
window.createClient = async (client) => {
  if (client === 'raw') {
    echo = rawEcho();
    return;
  }
  await init();
  const bridge = await WorkerBridge.create({ poolSize: 1, fallback: 'never' });
  echo = (bytes) => bridge.__testOp({ kind: 'echo' }, bytes);
};

/** µs per call of `calls` sequential echo calls of `payloadBytes` bytes. */
window.echoCalls = (calls, payloadBytes) =>
  latencyRound(echo, Uint8Array.from({ length: payloadBytes }, (_, i) => i), calls);

document.body.dataset.ready = 'true';
