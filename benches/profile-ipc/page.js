// Runs in the page: one echo client over one worker — worker-bridge from the profiling build
// (target/bench-pkg-prof: the bench package with the wasm name section kept, so profiles name Rust
// functions), or raw postMessage (benches/ipc/raw-worker.js) as the floor to compare against —
// and sequential echo calls, the same ones bench:ipc times. With --services: the JS echo service
// of bench:services in either placement, or that benchmark's floors (a raw postMessage worker, a
// MessageChannel echo on the page), and sequential sends of its message.
import init, { WorkerBridge } from '/target/bench-pkg-prof/worker_bridge.js';
import { latencyRound, throughputRound } from '../page.js';

let echo;
/** Whether `echo` takes bench:services' message (else bytes). */
let takesMessage = false;

/** Request ids over a port-like endpoint, as bench:services' floors keep them. */
function idClient(send, setHandler) {
  const pending = new Map();
  let nextId = 0;
  setHandler(({ data: { id, message } }) => {
    pending.get(id)(message);
    pending.delete(id);
  });
  return (message) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      send({ id, message });
    });
}

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
  takesMessage = !['raw', 'worker-bridge', 'worker-bridge-task'].includes(client);
  if (client === 'raw') {
    echo = rawEcho();
    return;
  }
  if (client === 'raw-worker') {
    const worker = new Worker(new URL('../services/raw-worker.js', import.meta.url), { type: 'module' });
    echo = idClient((m) => worker.postMessage(m), (h) => { worker.onmessage = h; });
    return;
  }
  if (client === 'raw-channel') {
    const { port1, port2 } = new MessageChannel();
    port2.onmessage = ({ data }) => port2.postMessage(data);
    echo = idClient((m) => port1.postMessage(m), (h) => { port1.onmessage = h; });
    return;
  }
  await init();
  const bridge = await WorkerBridge.create({ poolSize: 1, fallback: 'never' });
  if (client === 'worker-bridge') {
    echo = (bytes) => bridge.__testOp({ kind: 'echo' }, bytes);
    return;
  }
  if (client === 'worker-bridge-task') {
    await bridge.tasks.register('echo', { module: new URL('../ipc/echo.task.js', import.meta.url), export: 'echo' });
    echo = (bytes) => bridge.tasks.run('echo', bytes);
    return;
  }
  const placement = client === 'service-worker' ? 'worker' : 'main';
  await bridge.services.register('echo', { module: new URL('../services/echo.service.js', import.meta.url) }, { placement });
  await bridge.services.start('echo');
  echo = (message) => bridge.services.send('echo', message);
};

/**
 * µs per call of `calls` echo calls of `payloadBytes` bytes (or sends of `message`): one after
 * the other, or with `inFlight` outstanding (bench:ipc's throughput workload).
 */
window.echoCalls = async (calls, payloadBytes, message, inFlight = 1) => {
  const arg = takesMessage ? message : Uint8Array.from({ length: payloadBytes }, (_, i) => i);
  if (inFlight <= 1) return latencyRound(echo, arg, calls);
  return 1e6 / (await throughputRound(echo, arg, calls, inFlight));
};

document.body.dataset.ready = 'true';
