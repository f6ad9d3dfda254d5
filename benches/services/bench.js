// Runs in the page: the round trip of one message to a worker-bridge service (JavaScript and
// Rust), for both placements, against the raw floors of each: a postMessage echo worker (for placement 'worker')
// and a MessageChannel echo on the main thread (for placement 'main'). Sequential latency shows
// the fixed cost of one message; a burst (all sent before any is awaited) shows how well the
// service host queues and pipelines them.
import init, { WorkerBridge } from '/target/bench-pkg/worker_bridge.js';
import { environment, latencyRound, median } from '../page.js';

/**
 * worker-bridge services: `send` through the registry, the host's FIFO queue and the handler.
 * The JS echo module, and the built-in Rust `kv` store used as an echo (`set` answers the value
 * it replaces: after the first, the message itself), in both placements.
 */
async function serviceClients() {
  await init();
  const bridge = await WorkerBridge.create({ poolSize: 1 });
  const module = new URL('./echo.service.js', import.meta.url);
  const services = {
    'service-worker': [{ module }, 'worker'],
    'service-main': [{ module }, 'main'],
    'rust-worker': [{ rust: 'kv' }, 'worker'],
    'rust-main': [{ rust: 'kv' }, 'main'],
  };
  for (const [name, [definition, placement]] of Object.entries(services)) {
    await bridge.services.register(name, definition, { placement });
    await bridge.services.start(name);
  }
  const js = (name) => ({ echo: (message) => bridge.services.send(name, message) });
  const rust = (name) => ({ echo: (message) => bridge.services.send(name, { op: 'set', key: 'echo', value: message }) });
  const clients = {};
  for (const name of Object.keys(services)) clients[name] = name.startsWith('rust') ? rust(name) : js(name);
  return {
    clients,
    status: () => bridge.services.status(),
    close: async () => {
      await bridge.services.stopAll();
      bridge.terminate();
    },
  };
}

/** Request ids over any port-like endpoint — the bookkeeping every real client needs. */
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

/** The floor for placement 'worker': a module worker that posts every message back. */
function rawWorkerClient() {
  const worker = new Worker(new URL('./raw-worker.js', import.meta.url), { type: 'module' });
  worker.onerror = (e) => console.error(`raw worker: ${e.message}`);
  return {
    echo: idClient((m) => worker.postMessage(m), (h) => { worker.onmessage = h; }),
    close: () => worker.terminate(),
  };
}

/** The floor for placement 'main': a MessageChannel whose far port echoes, on the main thread. */
function messageChannelClient() {
  const { port1, port2 } = new MessageChannel();
  port2.onmessage = ({ data }) => port2.postMessage(data);
  return {
    echo: idClient((m) => port1.postMessage(m), (h) => { port1.onmessage = h; }),
    close: () => {
      port1.close();
      port2.close();
    },
  };
}

/** Messages per second when `count` are sent before any reply is awaited. */
async function burstRound(echo, message, count) {
  const t0 = performance.now();
  const replies = new Array(count);
  for (let i = 0; i < count; i++) replies[i] = echo(message);
  await Promise.all(replies);
  return count / ((performance.now() - t0) / 1000);
}

window.runBench = async (config) => {
  const { warmupMessages, latencyMessages, latencyRounds, burstMessages, burstRounds } = config;
  const message = config.message;
  const services = await serviceClients();
  const clients = {
    'service-worker': services.clients['service-worker'],
    'raw-worker': rawWorkerClient(),
    'service-main': services.clients['service-main'],
    'raw-channel': messageChannelClient(),
    'rust-worker': services.clients['rust-worker'],
    'rust-main': services.clients['rust-main'],
  };

  // Key order aside (the Rust store keeps JSON objects with sorted keys).
  const canonical = (v) => JSON.stringify(v, (_, x) =>
    (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
  const expected = canonical(message);
  for (const [name, { echo }] of Object.entries(clients)) {
    // Not a speed check: only that each client really echoes, so we time the right thing. (The
    // first `set` of the Rust store answers null: nothing was there yet.)
    if (name.startsWith('rust')) await echo(message);
    const got = await echo(message);
    if (canonical(got) !== expected) throw new Error(`${name} did not echo the message: ${JSON.stringify(got)}`);
    // Warm both paths (JIT, worker start-up, allocator) before anything is timed.
    await latencyRound(echo, message, warmupMessages);
    await burstRound(echo, message, warmupMessages);
  }

  // Rounds are interleaved across the clients so drift (GC, other load) hits all of them alike.
  const latency = Object.fromEntries(Object.keys(clients).map((n) => [n, []]));
  const burst = Object.fromEntries(Object.keys(clients).map((n) => [n, []]));
  for (let r = 0; r < latencyRounds; r++) {
    for (const [name, { echo }] of Object.entries(clients)) {
      latency[name].push(await latencyRound(echo, message, latencyMessages));
    }
  }
  for (let r = 0; r < burstRounds; r++) {
    for (const [name, { echo }] of Object.entries(clients)) {
      burst[name].push(await burstRound(echo, message, burstMessages));
    }
  }

  const status = services.status();
  await services.close();
  for (const name of ['raw-worker', 'raw-channel']) clients[name].close();

  const results = {};
  for (const name of Object.keys(clients)) {
    results[name] = {
      latencyUs: median(latency[name]),
      messagesPerSec: median(burst[name]),
      latencyRoundsUs: latency[name],
      burstRounds: burst[name],
    };
  }
  return {
    ...environment(),
    services: status.map(({ name, placement, state, messagesHandled, restarts, lastError }) =>
      ({ name, placement, state, messagesHandled, restarts, lastError })),
    results,
  };
};

document.body.dataset.ready = 'true';
