// IPC benchmark: the cost of one call through worker-bridge, against raw postMessage (the floor)
// and Comlink, each over one worker in the same headless Chromium page (cross-origin isolated).
// Reports numbers, never asserts them.  Run: npm run bench:ipc
//
// Builds its own package with the test-only `echo` op (target/bench-pkg), serves the repo root
// so the page can import that package and node_modules/comlink, prints a table and writes
// target/bench-ipc.json.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBenchPackage, runPage } from './harness.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = path.join(ROOT, 'target', 'bench-ipc.json');
const CONFIG = {
  payloadBytes: 16,
  warmupCalls: 2_000,
  latencyCalls: 2_000, // per round, one call at a time
  latencyRounds: 5,
  throughputCalls: 20_000, // per round
  throughputRounds: 3,
  inFlight: 64,
};
const PAGE_TIMEOUT_MS = 5 * 60_000;
const NAMES = { raw: 'raw postMessage', comlink: 'Comlink', 'worker-bridge': 'worker-bridge' };

const build = buildBenchPackage;
const runInBrowser = () => runPage('benches/ipc/index.html', CONFIG, PAGE_TIMEOUT_MS);

function report(run) {
  const { results } = run;
  const wb = results['worker-bridge'];
  const ratios = {};
  for (const base of ['raw', 'comlink']) {
    ratios[`worker-bridge/${base}`] = {
      latency: wb.latencyUs / results[base].latencyUs,
      throughput: wb.callsPerSec / results[base].callsPerSec,
    };
  }

  const chromium = run.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? run.userAgent;
  console.log(`\ncrossOriginIsolated: ${run.crossOriginIsolated}`);
  console.log(`Chromium ${chromium}, ${run.hardwareConcurrency} cores; worker-bridge mode: ${run.workerBridgeMode}, ` +
    `${run.workerBridgeWorkers} worker`);
  console.log(`payload ${CONFIG.payloadBytes} B, one worker per library; latency: median of ${CONFIG.latencyRounds} ` +
    `rounds x ${CONFIG.latencyCalls} sequential calls; throughput: median of ${CONFIG.throughputRounds} rounds x ` +
    `${CONFIG.throughputCalls} calls, ${CONFIG.inFlight} in flight\n`);
  console.log(`${'library'.padEnd(18)}${'latency µs/call'.padStart(16)}${'calls/s'.padStart(12)}`);
  for (const [key, name] of Object.entries(NAMES)) {
    const r = results[key];
    console.log(`${name.padEnd(18)}${r.latencyUs.toFixed(1).padStart(16)}${Math.round(r.callsPerSec).toString().padStart(12)}`);
  }
  console.log('\nratios (latency: higher = slower; throughput: lower = slower)');
  for (const [pair, r] of Object.entries(ratios)) {
    const name = pair.replace('/', ' vs ').replace('comlink', 'Comlink');
    console.log(`${name.padEnd(26)}latency ${r.latency.toFixed(2)}x   throughput ${r.throughput.toFixed(2)}x`);
  }
  return ratios;
}

async function main() {
  build();
  const run = await runInBrowser();
  const ratios = report(run);
  await writeFile(OUT, `${JSON.stringify({ date: new Date().toISOString(), config: CONFIG, ...run, ratios }, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(ROOT, OUT)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
