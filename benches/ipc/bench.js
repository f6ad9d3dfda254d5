// Runs in the page: one echo client per library, each over exactly one worker, measured the same
// way. Sequential latency shows the fixed cost of one round trip; throughput with many calls in
// flight shows how well that cost is pipelined.
import init, { WorkerBridge } from '/target/bench-pkg/worker_bridge.js';
import { environment, latencyRound, median } from '../page.js';
import * as Comlink from '/node_modules/comlink/dist/esm/comlink.mjs';

/** worker-bridge: the `echo` test op through the full pipeline (validation, queue, protocol). */
async function workerBridgeClient() {
  await init();
  const bridge = await WorkerBridge.create({ poolSize: 1, fallback: 'never' });
  return {
    echo: (bytes) => bridge.__testOp({ kind: 'echo' }, bytes),
    status: () => bridge.status(),
    close: () => bridge.terminate(),
  };
}

/** Raw postMessage with request ids — the bookkeeping every real client needs, nothing more. */
function rawClient() {
  const worker = new Worker(new URL('./raw-worker.js', import.meta.url), { type: 'module' });
  const pending = new Map();
  let nextId = 0;
  worker.onmessage = ({ data: { id, bytes } }) => {
    pending.get(id)(bytes);
    pending.delete(id);
  };
  worker.onerror = (e) => console.error(`raw worker: ${e.message}`);
  return {
    echo: (bytes) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        worker.postMessage({ id, bytes });
      }),
    close: () => worker.terminate(),
  };
}

function comlinkClient() {
  const worker = new Worker(new URL('./comlink-worker.js', import.meta.url), { type: 'module' });
  worker.onerror = (e) => console.error(`comlink worker: ${e.message}`);
  const api = Comlink.wrap(worker);
  return {
    echo: (bytes) => api.echo(bytes),
    close: () => {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

/** Calls per second with `inFlight` calls outstanding. */
async function throughputRound(echo, payload, calls, inFlight) {
  let issued = 0;
  // Each lane issues its next call as soon as its previous one returns, so exactly `inFlight`
  // calls are outstanding until the last ones drain.
  const lane = async () => {
    while (issued < calls) {
      issued++;
      await echo(payload);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  return calls / ((performance.now() - t0) / 1000);
}

window.runBench = async (config) => {
  const { payloadBytes, warmupCalls, latencyCalls, latencyRounds, throughputCalls, throughputRounds, inFlight } =
    config;
  const payload = Uint8Array.from({ length: payloadBytes }, (_, i) => i);
  const clients = {
    raw: rawClient(),
    comlink: comlinkClient(),
    'worker-bridge': await workerBridgeClient(),
  };

  for (const [name, { echo }] of Object.entries(clients)) {
    // Not a speed check: only that each client really echoes, so we time the right thing.
    const out = await echo(payload);
    if (!(out instanceof Uint8Array) || out.length !== payload.length || out.some((b, i) => b !== payload[i])) {
      throw new Error(`${name} did not echo the payload`);
    }
    // Warm both paths (JIT, worker start-up, allocator) before anything is timed.
    await latencyRound(echo, payload, warmupCalls);
    await throughputRound(echo, payload, warmupCalls, inFlight);
  }

  // Rounds are interleaved across the clients so drift (GC, other load) hits all three alike.
  const latency = Object.fromEntries(Object.keys(clients).map((n) => [n, []]));
  const throughput = Object.fromEntries(Object.keys(clients).map((n) => [n, []]));
  for (let r = 0; r < latencyRounds; r++) {
    for (const [name, { echo }] of Object.entries(clients)) {
      latency[name].push(await latencyRound(echo, payload, latencyCalls));
    }
  }
  for (let r = 0; r < throughputRounds; r++) {
    for (const [name, { echo }] of Object.entries(clients)) {
      throughput[name].push(await throughputRound(echo, payload, throughputCalls, inFlight));
    }
  }

  const status = clients['worker-bridge'].status();
  for (const client of Object.values(clients)) await client.close();

  const results = {};
  for (const name of Object.keys(clients)) {
    results[name] = {
      latencyUs: median(latency[name]),
      callsPerSec: median(throughput[name]),
      latencyRoundsUs: latency[name],
      throughputRounds: throughput[name],
    };
  }
  return {
    ...environment(),
    workerBridgeMode: status.mode,
    workerBridgeWorkers: status.workers.length,
    results,
  };
};

document.body.dataset.ready = 'true';
