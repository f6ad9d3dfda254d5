// Runs in the page: the base build (target/ab-base) and the working tree's (target/ab-new), one
// worker each, the same calls, rounds interleaved (base, new, new, base, …: neither always goes
// first). Reports medians and each round pair's ratio.
import initBase, { WorkerBridge as BaseBridge } from '/target/ab-base/worker_bridge.js';
import initNew, { WorkerBridge as NewBridge } from '/target/ab-new/worker_bridge.js';
import { environment, latencyRound, median, throughputRound } from '../page.js';

const bytes = (n) => Uint8Array.from({ length: n }, (_, i) => i);

async function client(init, Bridge) {
  await init();
  const bridge = await Bridge.create({ poolSize: 1, fallback: 'never' });
  return {
    echo: (b) => bridge.__testOp({ kind: 'echo' }, b),
    sha256: (b) => bridge.crypto.sha256(b),
  };
}

window.runBench = async (config) => {
  const clients = { base: await client(initBase, BaseBridge), new: await client(initNew, NewBridge) };
  const payloads = { echo: bytes(config.echoBytes), sha256: bytes(config.sha256Bytes) };
  const rows = [];
  for (const workload of ['echo', 'sha256']) {
    for (const c of Object.values(clients)) {
      await throughputRound(c[workload], payloads[workload], config.warmupCalls, config.inFlight);
      await latencyRound(c[workload], payloads[workload], config.warmupCalls / 4);
    }
    for (const kind of ['latency', 'throughput']) {
      const runs = { base: [], new: [] };
      for (let r = 0; r < config.rounds; r++) {
        const order = r % 2 ? ['new', 'base'] : ['base', 'new'];
        for (const who of order) {
          const call = clients[who][workload];
          runs[who].push(kind === 'latency'
            ? await latencyRound(call, payloads[workload], config.latencyCalls)
            : await throughputRound(call, payloads[workload], config.throughputCalls, config.inFlight));
        }
      }
      const pairs = runs.new.map((x, i) => x / runs.base[i]);
      rows.push({
        workload, kind, base: median(runs.base), new: median(runs.new),
        ratio: median(runs.new) / median(runs.base), pairMin: Math.min(...pairs), pairMax: Math.max(...pairs),
      });
    }
  }
  return { env: environment(), rows };
};
document.body.dataset.ready = 'true';
