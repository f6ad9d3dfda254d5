// Runs in the page: one client per library, each over exactly one worker, measured the same way on
// two workloads — `echo` (the bare round trip) and `sha256` of 32 bytes (the smallest real call).
// Sequential latency shows the fixed cost of one round trip; throughput with many calls in flight
// shows how well that cost is pipelined. Last, how long worker-bridge blocks the main thread while
// it hashes or encrypts 64 MiB, in a worker and on the main-thread fallback.
import init, { WorkerBridge } from '/target/bench-pkg/worker_bridge.js';
import { environment, latencyRound, median, startLongTaskMeter, throughputRound } from '../page.js';
import * as Comlink from '/node_modules/comlink/dist/esm/comlink.mjs';
// workerpool ships no ES module for browsers, only a UMD build: imported for its side effect it
// sets globalThis.workerpool, as the <script> tag in its README does.
import '/node_modules/workerpool/dist/workerpool.js';

const MiB = 1 << 20;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));

/**
 * worker-bridge: the `echo` test op and the real sha256, through the full pipeline; `task` is
 * `tasks.run` of an app's own module export (`echo.task.js`), registered before the bench.
 */
function workerBridgeClient(bridge) {
  return {
    echo: (bytes) => bridge.__testOp({ kind: 'echo' }, bytes),
    sha256: (bytes) => bridge.crypto.sha256(bytes),
    task: (bytes) => bridge.tasks.run('echo', bytes),
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
  const call = (op, bytes) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      worker.postMessage({ id, op, bytes });
    });
  return {
    echo: (bytes) => call('echo', bytes),
    sha256: (bytes) => call('sha256', bytes),
    task: (bytes) => call('echo', bytes),
    close: () => worker.terminate(),
  };
}

function comlinkClient() {
  const worker = new Worker(new URL('./comlink-worker.js', import.meta.url), { type: 'module' });
  worker.onerror = (e) => console.error(`comlink worker: ${e.message}`);
  const api = Comlink.wrap(worker);
  return {
    echo: (bytes) => api.echo(bytes),
    sha256: (bytes) => api.sha256(bytes),
    task: (bytes) => api.echo(bytes),
    close: () => {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

/** workerpool as its README has it: `pool.exec(name, args)` over a pool capped at one worker. */
function workerpoolClient() {
  const script = new URL('./workerpool-worker.js', import.meta.url).href;
  const pool = globalThis.workerpool.pool(script, { maxWorkers: 1, workerType: 'web' });
  return {
    echo: (bytes) => pool.exec('echo', [bytes]),
    sha256: (bytes) => pool.exec('sha256', [bytes]),
    task: (bytes) => pool.exec('echo', [bytes]),
    close: () => pool.terminate(),
  };
}


const equalBytes = (a, b) => a instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);

/** `n` random bytes (getRandomValues fills at most 64 KiB per call). */
function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65_536)));
  return out;
}

/**
 * Latency and throughput of `op` (a client method name) for every client. Rounds are interleaved
 * across the clients so drift (GC, other load) hits all of them alike.
 */
async function measureWorkload(clients, op, payload, expected, config) {
  const { warmupCalls, latencyCalls, latencyRounds, throughputCalls, throughputRounds, inFlight } = config;
  for (const [name, client] of Object.entries(clients)) {
    // Not a speed check: only that each client really answers right, so we time the right thing.
    if (!equalBytes(await client[op](payload), expected)) throw new Error(`${name} ${op}: wrong answer`);
    // Warm both paths (JIT, worker start-up, allocator) before anything is timed.
    await latencyRound(client[op], payload, warmupCalls);
    await throughputRound(client[op], payload, warmupCalls, inFlight);
  }
  const latency = Object.fromEntries(Object.keys(clients).map((n) => [n, []]));
  const throughput = Object.fromEntries(Object.keys(clients).map((n) => [n, []]));
  for (let r = 0; r < latencyRounds; r++) {
    for (const [name, client] of Object.entries(clients)) {
      latency[name].push(await latencyRound(client[op], payload, latencyCalls));
    }
  }
  for (let r = 0; r < throughputRounds; r++) {
    for (const [name, client] of Object.entries(clients)) {
      throughput[name].push(await throughputRound(client[op], payload, throughputCalls, inFlight));
    }
  }
  return Object.fromEntries(
    Object.keys(clients).map((name) => [
      name,
      {
        latencyUs: median(latency[name]),
        callsPerSec: median(throughput[name]),
        latencyRoundsUs: latency[name],
        throughputRounds: throughput[name],
      },
    ]),
  );
}

/**
 * The main thread's blocking while worker-bridge runs a 64 MiB call in each placement, input
 * passed without `transfer` (so the page-side copy counts). One untimed run first checks the
 * answer and warms the path; each measured run starts after `settleMs` of idle.
 */
async function measureLongTasks(bridges, { longTaskMiB, longTaskRuns, settleMs }) {
  const data = randomBytes(longTaskMiB * MiB);
  const blob = new Blob([data]);
  const key = bridges.worker.crypto.generateKey();
  const digest = await sha256(data);
  const cases = [
    {
      id: 'sha256',
      label: `sha256 (${longTaskMiB} MiB Uint8Array)`,
      call: (b) => b.crypto.sha256(data),
      check: (out) => equalBytes(out, digest),
    },
    {
      id: 'encryptFile',
      label: `encryptFile (${longTaskMiB} MiB Blob)`,
      call: (b) => b.crypto.encryptFile(blob, key),
      // Header, the ciphertext, one tag per chunk: at least one tag.
      check: (out) => out instanceof Blob && out.size >= 32 + data.length + 16,
    },
  ];

  await sleep(settleMs);
  const idle = startLongTaskMeter(); // nothing running: the meters' floor
  await sleep(1_000);
  const floor = await idle();

  const results = [];
  for (const c of cases) {
    for (const [placement, bridge] of Object.entries(bridges)) {
      if (!c.check(await c.call(bridge))) throw new Error(`${c.id} on ${placement}: wrong answer`);
      const runs = [];
      for (let r = 0; r < longTaskRuns; r++) {
        await sleep(settleMs);
        const stop = startLongTaskMeter();
        const t0 = performance.now();
        await c.call(bridge);
        const ms = performance.now() - t0;
        runs.push({ ms, ...(await stop()) });
      }
      const worst = (key) => (runs[0][key] === null ? null : Math.max(...runs.map((x) => x[key])));
      results.push({
        id: c.id,
        label: c.label,
        placement,
        medianMs: median(runs.map((x) => x.ms)),
        longestTaskMs: worst('longestTaskMs'),
        longTasks: worst('longTasks'),
        maxFrameGapMs: worst('maxFrameGapMs'),
        runs,
      });
    }
  }
  return { floor, results };
}

/**
 * worker-bridge's echo throughput (64 in flight) and sequential latency at each
 * `maxInFlightPerWorker`: the measurement its default is chosen by.
 */
async function measureDepths(config, echoPayload) {
  const { depths, throughputCalls, throughputRounds, inFlight, warmupCalls, latencyCalls } = config;
  const out = [];
  for (const depth of depths) {
    const bridge = await WorkerBridge.create({ poolSize: 1, fallback: 'never', maxInFlightPerWorker: depth });
    const echo = (bytes) => bridge.__testOp({ kind: 'echo' }, bytes);
    await throughputRound(echo, echoPayload, warmupCalls, inFlight);
    const rounds = [];
    for (let r = 0; r < throughputRounds; r++) rounds.push(await throughputRound(echo, echoPayload, throughputCalls, inFlight));
    const latencyUs = await latencyRound(echo, echoPayload, latencyCalls);
    out.push({ depth, callsPerSec: median(rounds), latencyUs });
    await bridge.terminate();
  }
  return out;
}

window.runBench = async (config) => {
  const { echoBytes, sha256Bytes } = config;
  await init();
  const bridge = await WorkerBridge.create({ poolSize: 1, fallback: 'never' });
  await bridge.tasks.register('echo', { module: new URL('./echo.task.js', import.meta.url), export: 'echo' });
  const clients = {
    raw: rawClient(),
    comlink: comlinkClient(),
    workerpool: workerpoolClient(),
    'worker-bridge': workerBridgeClient(bridge),
  };

  const echoPayload = Uint8Array.from({ length: echoBytes }, (_, i) => i);
  const hashPayload = Uint8Array.from({ length: sha256Bytes }, (_, i) => 255 - i);
  const workloads = {
    echo: await measureWorkload(clients, 'echo', echoPayload, echoPayload, config),
    sha256: await measureWorkload(clients, 'sha256', hashPayload, await sha256(hashPayload), config),
  };
  if (config.quick) {
    for (const client of Object.values(clients)) if (client !== clients['worker-bridge']) await client.close();
    await bridge.terminate();
    return { ...environment(), workerBridgeMode: bridge.status().mode, workerBridgeWorkers: 1, fallbackMode: 'n/a', workloads };
  }
  workloads.task = await measureWorkload(clients, 'task', echoPayload, echoPayload, config);
  const depths = await measureDepths(config, echoPayload);
  const status = bridge.status();
  for (const [name, client] of Object.entries(clients)) if (name !== 'worker-bridge') await client.close();

  const main = await WorkerBridge.create({ fallback: 'always' });
  const longTasks = await measureLongTasks({ worker: bridge, main }, config);
  const mainStatus = main.status();
  await bridge.terminate();
  await main.terminate();
  // The envelope's own cost on this thread, by encoding: median of five rounds.
  const costs = Array.from({ length: 5 }, () => WorkerBridge.__envelopeCosts(config.envelopeMessages));
  const envelope = Object.fromEntries(Object.keys(costs[0]).map((k) => [k, median(costs.map((c) => c[k]))]));

  return {
    ...environment(),
    workerBridgeMode: status.mode,
    workerBridgeWorkers: status.workers.length,
    fallbackMode: mainStatus.mode,
    workloads,
    longTasks,
    envelope,
    depths,
  };
};

document.body.dataset.ready = 'true';
