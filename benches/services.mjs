// Services benchmark: the round trip of one message to a worker-bridge service
// (`await bridge.services.send(name, message)`) — the JS echo module and the built-in Rust kv store
// used as an echo — for placement 'worker' and placement 'main',
// against the raw floors of each in the same headless Chromium page (cross-origin isolated): a
// postMessage echo worker and a MessageChannel echo on the main thread. Reports numbers, never
// asserts them; fails only when a reply is not the message sent (then the numbers mean nothing).
//
// Rounds run the clients back to back, round after round, and a ratio is the median of the
// per-round ratios: load on the machine that comes and goes (a build next door) then hits both
// sides of a ratio alike, where the ratio of two medians would compare different moments.
// Run: npm run bench:services (`-- --no-build` reuses target/bench-pkg as it is)
//
// Builds the same package as bench:ipc (target/bench-pkg, release, SIMD, --features test-ops), serves
// the repo root so the page can import it and benches/services/echo.service.js, prints a table
// and writes target/bench-services.json.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBenchPackage, runPage } from './harness.mjs';
import { median } from './page.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = path.join(ROOT, 'target', 'bench-services.json');
const CONFIG = {
  message: { op: 'echo', seq: 42, text: 'hello, service', flags: [true, false] }, // small, structured-cloned
  warmupMessages: 2_000, // sequential, then one burst of as many, per client
  latencyMessages: 1_000, // per round, one message at a time
  latencyRounds: 15,
  burstMessages: 10_000, // per round, all sent before any reply is awaited
  burstRounds: 7,
};
const PAGE_TIMEOUT_MS = 3 * 60_000;
const NAMES = {
  'service-worker': "service, placement 'worker'",
  'raw-worker': 'raw postMessage worker',
  'service-main': "service, placement 'main'",
  'raw-channel': 'raw MessageChannel (main)',
  'rust-worker': "Rust kv, placement 'worker'",
  'rust-main': "Rust kv, placement 'main'",
};
const PAIRS = [
  ['service-worker', 'raw-worker'],
  ['service-main', 'raw-channel'],
  ['service-worker', 'service-main'],
  ['rust-worker', 'service-worker'],
  ['rust-main', 'service-main'],
];

// The same build as benches/ipc.mjs, so the benchmarks share target/bench-pkg.
const build = buildBenchPackage;
const runInBrowser = () => runPage('benches/services/index.html', CONFIG, PAGE_TIMEOUT_MS);

function report(run) {
  const { results } = run;
  const ratios = {};
  const perRound = (xs, ys) => median(xs.map((x, i) => x / ys[i]));
  for (const [a, b] of PAIRS) {
    ratios[`${a}/${b}`] = {
      latency: perRound(results[a].latencyRoundsUs, results[b].latencyRoundsUs),
      throughput: perRound(results[a].burstRounds, results[b].burstRounds),
    };
  }

  const chromium = run.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? run.userAgent;
  console.log(`\ncrossOriginIsolated: ${run.crossOriginIsolated}`);
  console.log(`Chromium ${chromium}, ${run.hardwareConcurrency} cores; services: ` +
    run.services.map((s) => `${s.name} (${s.placement}, ${s.state}, ${s.messagesHandled} handled)`).join(', '));
  console.log(`message ${JSON.stringify(CONFIG.message)}; latency: median of ${CONFIG.latencyRounds} rounds x ` +
    `${CONFIG.latencyMessages} sequential sends; burst: median of ${CONFIG.burstRounds} rounds x ` +
    `${CONFIG.burstMessages} sends, then all awaited\n`);
  console.log(`${'client'.padEnd(30)}${'latency µs/msg'.padStart(16)}${'burst msgs/s'.padStart(14)}`);
  for (const [key, name] of Object.entries(NAMES)) {
    const r = results[key];
    console.log(`${name.padEnd(30)}${r.latencyUs.toFixed(1).padStart(16)}${Math.round(r.messagesPerSec).toString().padStart(14)}`);
  }
  console.log('\nratios, median of the per-round ratios (latency: higher = slower; throughput: lower = slower)');
  const short = { 'service-worker': 'JS service worker', 'service-main': 'JS service main', 'raw-worker': 'raw worker',
    'raw-channel': 'raw channel', 'rust-worker': 'Rust service worker', 'rust-main': 'Rust service main' };
  for (const [pair, r] of Object.entries(ratios)) {
    const [a, b] = pair.split('/');
    console.log(`${`${short[a]} vs ${short[b]}`.padEnd(44)}latency ${r.latency.toFixed(2).padStart(6)}x   ` +
      `throughput ${r.throughput.toFixed(2).padStart(5)}x`);
  }
  return ratios;
}

async function main() {
  const t0 = Date.now();
  if (process.argv.includes('--no-build')) console.log('reusing target/bench-pkg (--no-build)');
  else build();
  const run = await runInBrowser();
  const ratios = report(run);
  await writeFile(OUT, `${JSON.stringify({ date: new Date().toISOString(), config: CONFIG, ...run, ratios }, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(ROOT, OUT)} (${((Date.now() - t0) / 1000).toFixed(0)} s in all)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
