// Web Streams benchmark: worker-bridge's TransformStreams against its one-shot calls on the same
// bytes, and the issue's long run, in one headless Chromium page per isolation setting.
//  1. Throughput, pool of 1 worker: gzipStream / gzip (level 6), gunzipStream / gunzip,
//     encryptStream / encryptFile, decryptStream / decryptFile on 64 MiB of text, the stream fed
//     1 MiB chunks and read to its end (bytes counted, not kept); the one-shot calls also on the
//     Rust engine (what the streams run on: they never take WebCrypto); the platform's
//     CompressionStream / DecompressionStream on the page as a reference. Median of 3 after a
//     warm-up, kinds interleaved.
//  2. Chains: 1 GiB made as it is pulled through encryptStream → decryptStream and through
//     gzipStream → gunzipStream (pipeThrough both), checked against the source chunk by chunk as
//     it arrives, the workers' wasm memory (`status().workers[].memoryBytes`, health pings every
//     500 ms) watched; each chain on a fresh pool of 2 (first checked: whether a chain finishes on
//     a pool of 1).
// The cross-origin isolated page runs both parts; a page without isolation runs part 1 (and part
// 2 with --chains-everywhere). Reports numbers, never asserts them; exits non-zero when bytes are
// wrong (then the numbers mean nothing).
//
// Run: npm run bench:streams [-- --no-build] [--mib 64] [--big-mib 1024] [--runs 3] [--transfer]
//      [--chunk-mib 1] [--isolated-only | --not-isolated-only] [--chains-everywhere] [--no-chains]
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT, buildBenchPackage, runPage } from './harness.mjs';

const OUT = path.join(ROOT, 'target', 'bench-streams.json');
const PAGE = 'benches/streams/index.html';

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!(value > 0)) throw new Error(`--${name} takes a positive number`);
  return value;
}
const flag = (name) => process.argv.includes(`--${name}`);

const CONFIG = {
  mib: option('mib', 64), // part 1's input
  chunkMiB: option('chunk-mib', 1), // the chunks fed to every stream
  gzipLevel: 6,
  runs: option('runs', 3),
  bigMiB: option('big-mib', 1024), // part 2's size
  healthIntervalMs: 500, // how often memoryBytes is refreshed
  chainPoolSize: 2,
  oneWorkerLimitMs: 20_000,
  transfer: flag('transfer'), // streams transferred to the worker (where the browser can), not relayed
};

const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);
const f1 = (x) => x.toFixed(1);
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const row = (cells, widths) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[0]) : c.padStart(widths[i]))).join('');

function reportThroughput(name, t) {
  console.log(`\n${name}: part 1, ${mib(t.bytes)} of text (gzip -${CONFIG.gzipLevel}: ${mib(t.gzBytes)}; sealed: ` +
    `${mib(t.sealedBytes)}), ${CONFIG.chunkMiB} MiB chunks, pool of 1 worker, median of ${CONFIG.runs} after a warm-up`);
  console.log(`engine of encryptFile/decryptFile and of the crypto streams in a worker (engine 'auto'): ` +
    `${t.engines.streamFormat}; the 'one-shot rust' column: a second bridge, engine: 'rust'`);
  const w = [30, 12, 12, 9, 14, 9, 12];
  console.log(row(['MB/s (of the plain bytes)', 'one-shot', 'stream', 'ratio', 'one-shot rust', 'ratio', 'platform'], w));
  const ratios = {};
  for (const r of t.results) {
    const [one, stream] = [r.ms.oneShot, r.ms.stream].map((ms) => mbps(r.bytes, ms));
    const rust = r.ms.oneShotRust && mbps(r.bytes, r.ms.oneShotRust);
    const platform = r.ms.platform ? f1(mbps(r.bytes, r.ms.platform)) : '—';
    ratios[r.id] = { oneShot: stream / one, ...(rust && { rust: stream / rust }) };
    console.log(row([r.label, f1(one), f1(stream), `${(stream / one).toFixed(2)}x`, rust ? f1(rust) : '—',
      rust ? `${(stream / rust).toFixed(2)}x` : '—', platform], w));
  }
  console.log('ratio = stream / one-shot (the issue\'s target: ≥ 0.8x); platform = CompressionStream / ' +
    'DecompressionStream on the page, same chunks.');
  return ratios;
}

function reportChains(name, run) {
  const one = run.oneWorkerChain;
  console.log(`\n${name}: part 2, chains of two stream calls, ${mib(CONFIG.bigMiB * 2 ** 20)} made as pulled, ` +
    `${CONFIG.chunkMiB} MiB chunks, checked as they arrive (gunzipStream given maxOutputBytes of that size: its ` +
    'default, 512 MiB, also holds for streamed output)');
  console.log(`on a pool of 1 worker (encrypt → decrypt, ${mib(one.bytes)}): ` +
    (one.finished ? `finished in ${f1(one.ms)} ms` : `did NOT finish: ${one.error
      ? `failed after ${f1(one.ms / 1000)} s with ${one.error} (worker restarts ${one.atLimit.restarts.join(', ')}; ` +
        `last error: ${one.atLimit.lastError.join(', ')})`
      : `nothing after ${one.limitMs / 1000} s (workers ${one.atLimit.busy.join(', ')}, ${one.atLimit.queued} ` +
        `queued); aborted, ${one.abortSettled ? 'which ended it' : 'which did NOT end it within 5 s'}`}`));
  const w = [32, 6, 10, 9, 9, 24, 22];
  console.log(row(['chain', 'pool', 'time', 'MB/s', 'matched', 'max memoryBytes', 'before'], w));
  for (const c of run.chains) {
    const per = c.memory.perWorker.map((b) => mib(b)).join(' / ');
    console.log(row([c.name, String(c.poolSize), `${f1(c.ms / 1000)} s`, f1(mbps(c.bytes, c.ms)),
      c.matched ? 'yes' : 'NO', per, c.memoryBefore.map((b) => mib(b)).join(' / ')], w));
    if (c.error) console.log(`  failed: ${c.error}`);
    if (!c.matched) console.log(`  ${c.bytes} of ${c.total} bytes arrived; first mismatch at ${c.firstMismatch}`);
    if (c.memory.pageHeapMax) console.log(`  page JS heap, largest seen (performance.memory): ${mib(c.memory.pageHeapMax)}`);
  }
  console.log('memoryBytes: each worker\'s wasm memory at its latest health ping, largest seen (one per worker); ' +
    'before = after the first pings. Target: under 64 MiB.');
}

async function main() {
  if (!flag('no-build')) buildBenchPackage();
  const pages = [['cross-origin isolated', true], ['not isolated', false]]
    .filter(([, isolated]) => !(isolated ? flag('not-isolated-only') : flag('isolated-only')));
  const runs = {};
  const wrong = [];
  const started = Date.now();
  for (const [name, isolated] of pages) {
    const parts = ['throughput'];
    if (!flag('no-chains') && (isolated || flag('chains-everywhere'))) parts.push('chains');
    console.log(`\n${name} page: ${parts.join(' + ')} ...`);
    const t0 = Date.now();
    const run = await runPage(PAGE, { ...CONFIG, parts }, 60 * 60_000, { isolated, echo: true });
    run.seconds = (Date.now() - t0) / 1000;
    runs[name] = run;
    if (run.crossOriginIsolated !== isolated) wrong.push(`${name}: crossOriginIsolated is ${run.crossOriginIsolated}`);
    for (const r of run.throughput.results) {
      for (const [check, ok] of Object.entries(r.checks)) if (!ok) wrong.push(`${name}: ${r.id}: ${check}`);
    }
    for (const c of run.chains ?? []) if (!c.matched) wrong.push(`${name}: ${c.name}: bytes differ or are missing`);
  }

  const first = Object.values(runs)[0];
  const chromium = first.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? first.userAgent;
  console.log(`\nChromium ${chromium}, ${first.hardwareConcurrency} cores; release build (target/bench-pkg, the ` +
    'single-threaded build on both pages); MB = 1e6 bytes');
  const ratios = {};
  for (const [name, run] of Object.entries(runs)) {
    ratios[name] = reportThroughput(name, run.throughput);
    if (run.chains) reportChains(name, run);
    console.log(`(${name} page: ${f1(run.seconds)} s)`);
  }
  console.log(`\ntotal ${f1((Date.now() - started) / 1000)} s`);
  await writeFile(OUT, `${JSON.stringify({ date: new Date().toISOString(), config: CONFIG, runs, ratios }, null, 2)}\n`);
  console.log(`wrote ${path.relative(ROOT, OUT)}`);
  if (wrong.length) {
    console.error(`WRONG: ${wrong.join('; ')}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
