// IPC benchmark: the cost of one call through worker-bridge, against raw postMessage (the floor),
// Comlink and workerpool, each over one worker in the same headless Chromium page (cross-origin
// isolated), on three workloads: the test-only `echo` op, `sha256` of 32 bytes (the peers hash
// with WebCrypto in their worker), and `tasks.run` of an app's own echo function (the peers'
// echo: raw postMessage is the floor). Then how long worker-bridge blocks the main thread while it
// hashes or encrypts 64 MiB, in a worker and on the main-thread fallback (long tasks).
// Reports numbers, never asserts them.  Run: npm run bench:ipc
// `npm run bench:ipc -- --quick`: the echo and sha256 workloads only, for A/B while optimising.
//
// Builds its own package with the test-only `echo` op (target/bench-pkg, the SIMD build), serves the repo root
// so the page can import that package, node_modules/comlink and node_modules/workerpool, prints
// a table per workload and writes target/bench-ipc.json.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBenchPackage, runPage } from './harness.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = path.join(ROOT, 'target', 'bench-ipc.json');
const QUICK = process.argv.includes('--quick');
const CONFIG = {
  quick: QUICK,
  echoBytes: 16,
  sha256Bytes: 32,
  warmupCalls: 2_000,
  latencyCalls: 2_000, // per round, one call at a time
  latencyRounds: 5,
  throughputCalls: 20_000, // per round
  throughputRounds: 3,
  inFlight: 64,
  longTaskMiB: 64,
  longTaskRuns: 3,
  settleMs: 300, // idle time before each long-task run
  envelopeMessages: 20_000, // per round of the envelope-cost measurement
  depths: [1, 2, 4, 8, 16, 32, 64], // maxInFlightPerWorker values swept for the echo
};
const PAGE_TIMEOUT_MS = 8 * 60_000;
const NAMES = { raw: 'raw postMessage', comlink: 'Comlink', workerpool: 'workerpool', 'worker-bridge': 'worker-bridge' };
const BASES = ['raw', 'comlink', 'workerpool'];
const WORKLOADS = {
  echo: `echo, ${CONFIG.echoBytes} B (worker-bridge: the test-only echo op; peers post the bytes back)`,
  sha256: `sha256 of ${CONFIG.sha256Bytes} B (worker-bridge: crypto.sha256; peers: crypto.subtle.digest in the worker)`,
  task: `your own function, echo of ${CONFIG.echoBytes} B (worker-bridge: tasks.run of a module's export; ` +
    'peers: their echo, as above)',
};
const PLACEMENTS = {
  worker: "worker (poolSize 1, fallback 'never')",
  main: "main-thread fallback (fallback 'always')",
};

const build = buildBenchPackage;
const runInBrowser = () => runPage('benches/ipc/index.html', CONFIG, PAGE_TIMEOUT_MS);

/** A table row: the first `left` cells padded on the right (names), the others on the left (numbers). */
const row = (cells, widths, left = 1) =>
  cells.map((c, i) => (i < left ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('');
const ms = (x) => (x === null ? 'n/a' : x.toFixed(1));

/** One table per workload, then worker-bridge's ratios against each peer. */
function reportWorkload(id, results) {
  console.log(`\n${WORKLOADS[id]}`);
  const w = [18, 16, 20, 12, 20];
  console.log(row(['library', 'latency µs/call', 'rounds min–max', 'calls/s', 'rounds min–max'], w));
  for (const [key, name] of Object.entries(NAMES)) {
    const r = results[key];
    const spread = (xs, f) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
    console.log(row([name, r.latencyUs.toFixed(1), spread(r.latencyRoundsUs, (x) => x.toFixed(1)),
      Math.round(r.callsPerSec).toString(), spread(r.throughputRounds, (x) => Math.round(x).toString())], w));
  }
  const wb = results['worker-bridge'];
  const ratios = {};
  for (const base of BASES) {
    ratios[`worker-bridge/${base}`] = {
      latency: wb.latencyUs / results[base].latencyUs,
      throughput: wb.callsPerSec / results[base].callsPerSec,
    };
    const r = ratios[`worker-bridge/${base}`];
    console.log(`  worker-bridge vs ${NAMES[base].padEnd(16)}latency ${r.latency.toFixed(2)}x   ` +
      `throughput ${r.throughput.toFixed(2)}x`);
  }
  return ratios;
}

function reportLongTasks({ floor, results }) {
  const api = floor.longTaskApi
    ? "PerformanceObserver 'longtask' (tasks of 50 ms or more; 0 = none)"
    : "NO 'longtask' entries in this browser: only the requestAnimationFrame gap meter";
  console.log(`\nmain-thread blocking while worker-bridge runs one ${CONFIG.longTaskMiB} MiB call, input not ` +
    `transferred (copied), worst of ${CONFIG.longTaskRuns} runs after one untimed check run.`);
  console.log(`long tasks: ${api}; rAF gap: the longest gap between requestAnimationFrame callbacks.`);
  console.log(`floor, 1 s with nothing running: longest task ${ms(floor.longestTaskMs)} ms, rAF gap ` +
    `${ms(floor.maxFrameGapMs)} ms.`);
  const w = [28, 40, 10, 10, 8, 10];
  console.log(row(['operation', 'placement', 'call ms', 'longest', 'tasks', 'rAF gap'], w, 2));
  for (const r of results) {
    console.log(row([r.label, PLACEMENTS[r.placement], ms(r.medianMs), ms(r.longestTaskMs),
      String(r.longTasks ?? 'n/a'), ms(r.maxFrameGapMs)], w, 2));
  }
  console.log('call ms: median duration of the call; longest / tasks: the longest long task (ms) and how many, ' +
    'worst run.');
}

/** worker-bridge's echo by `maxInFlightPerWorker`: what the default is chosen by. */
function reportDepths(depths) {
  console.log(`\nworker-bridge echo by maxInFlightPerWorker (${CONFIG.inFlight} in flight; median of ` +
    `${CONFIG.throughputRounds} rounds; latency: one round of ${CONFIG.latencyCalls} sequential calls):`);
  for (const d of depths) {
    console.log(`  ${String(d.depth).padStart(3)}   ${String(Math.round(d.callsPerSec)).padStart(7)} calls/s   ` +
      `${d.latencyUs.toFixed(1).padStart(7)} µs/call`);
  }
}

/** The request envelope's cost by encoding (the page's thread; a worker pays the same). */
function reportEnvelope(e) {
  console.log(`\nrequest envelope, µs per message on the page (median of 5 rounds x ${CONFIG.envelopeMessages}):`);
  const line = (name, enc, dec) => console.log(`  ${name.padEnd(46)}encode ${enc.toFixed(2)}   decode ${dec.toFixed(2)}`);
  line('JSON bytes (protocol v2, what the pool sends)', e.bytesEncodeUs, e.bytesDecodeUs);
  line('JSON string', e.stringEncodeUs, e.stringDecodeUs);
  line('object tree (serde-wasm-bindgen, protocol v1)', e.objectEncodeUs, e.objectDecodeUs);
}

function report(run) {
  const chromium = run.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? run.userAgent;
  console.log(`\ncrossOriginIsolated: ${run.crossOriginIsolated}`);
  console.log(`Chromium ${chromium}, ${run.hardwareConcurrency} cores; worker-bridge mode: ${run.workerBridgeMode}, ` +
    `${run.workerBridgeWorkers} worker; fallback bridge mode: ${run.fallbackMode}`);
  console.log(`one worker per library (workerpool: maxWorkers 1); latency: median of ${CONFIG.latencyRounds} ` +
    `rounds x ${CONFIG.latencyCalls} sequential calls; throughput: median of ${CONFIG.throughputRounds} rounds x ` +
    `${CONFIG.throughputCalls} calls, ${CONFIG.inFlight} in flight; rounds interleaved across the libraries.`);
  console.log('ratios: worker-bridge / peer (latency: higher = slower; throughput: lower = slower).');
  const ratios = {};
  for (const id of Object.keys(run.workloads)) ratios[id] = reportWorkload(id, run.workloads[id]);
  if (QUICK) return ratios;
  reportLongTasks(run.longTasks);
  reportEnvelope(run.envelope);
  reportDepths(run.depths);
  return ratios;
}

async function main() {
  build();
  const run = await runInBrowser();
  const ratios = report(run);
  if (QUICK) return;
  await writeFile(OUT, `${JSON.stringify({ date: new Date().toISOString(), config: CONFIG, ...run, ratios }, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(ROOT, OUT)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
