// Handler benchmark: throughput of worker-bridge's crypto and compression handlers against the
// browser's native APIs (WebCrypto, Compression Streams) on the same bytes, in one headless
// Chromium page (cross-origin isolated). worker-bridge runs twice: over a pool of workers and on
// the main thread (sliced fallback). For every timed run a setTimeout(0)/requestAnimationFrame
// probe records the longest main-thread stall. Reports numbers, never asserts them; exits
// non-zero only when an output is wrong (then the numbers mean nothing).
// Run: npm run bench:handlers
//
// Builds the same package as bench:ipc (target/bench-pkg, release, SIMD, --features test-ops), serves
// the repo root, prints tables and writes target/bench-handlers.json. `-- --only encryptFile,gzip`
// runs those workloads alone (their ids: sha256, sha256-blob, sha256-blob-16, aes-gcm, encryptFile, gzip, gunzip);
// `-- --no-build` reuses the last build; `-- --pool 1` runs the pool rows on that many workers (2 by
// default; 1 is what `WorkerBridge.create()` spawns on a 2-core machine) and writes
// target/bench-handlers-pool1.json; `-- --compression-mib 4` sizes the gzip input (and gunzip's
// output) in MiB, 16 by default (the pool splits a gzip of 2 MiB and more: where it pays).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBenchPackage, runMain, runPage, saveRecord } from './harness.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = {
  cryptoMiB: 64, // sha256, AES-GCM encrypt, encryptFile
  compressionMiB: 16, // gzip input, gunzip output
  gzipLevel: 6,
  // Timed runs per implementation (after one warm-up run); the median is reported. With 5, two
  // consecutive runs of one build gave sha256 with `transfer` 0.88 and 0.84; a scratch page of
  // 21 rounds put it at 0.95-0.96 (2026-12-05).
  runs: 9,
  transferRuns: 9, // supplementary pool runs with `transfer: true` (on a fresh copy, made untimed), each beside a native run
  poolSize: 2,
  settleMs: 100, // idle time before each timed run (5x after the checks and warm-ups)
};
const PAGE_TIMEOUT_MS = 6 * 60_000;
const IMPLS = { native: 'native', pool: 'worker-bridge pool', main: 'worker-bridge main thread' };

// The same build as benches/ipc.mjs, so the two benchmarks share target/bench-pkg.
const build = buildBenchPackage;
const IDS = ['sha256', 'sha256-blob', 'sha256-blob-16', 'aes-gcm', 'encryptFile', 'gzip', 'gunzip'];
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? (process.argv[onlyAt + 1] ?? '').split(',') : undefined;
if (only && !only.every((id) => IDS.includes(id))) {
  console.error(`--only takes workload ids separated by commas: ${IDS.join(', ')} (got ${process.argv[onlyAt + 1]})`);
  process.exit(2);
}
const poolAt = process.argv.indexOf('--pool');
if (poolAt > 0) {
  const n = Number(process.argv[poolAt + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    console.error(`--pool takes a number of workers, 1 to 64 (got ${process.argv[poolAt + 1]})`);
    process.exit(2);
  }
  CONFIG.poolSize = n;
}
const mibAt = process.argv.indexOf('--compression-mib');
if (mibAt > 0) {
  const n = Number(process.argv[mibAt + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    console.error(`--compression-mib takes a size in MiB, 1 to 256 (got ${process.argv[mibAt + 1]})`);
    process.exit(2);
  }
  CONFIG.compressionMiB = n;
}
const OUT = path.join(ROOT, 'target', CONFIG.poolSize === 2 ? 'bench-handlers.json' : `bench-handlers-pool${CONFIG.poolSize}.json`);
const runInBrowser = () => runPage('benches/handlers/index.html', { ...CONFIG, only }, PAGE_TIMEOUT_MS);

const f1 = (x) => x.toFixed(1);
const ratio = (x) => `${x.toFixed(2)}x`;
const row = (cells, widths) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[0]) : c.padStart(widths[i]))).join('');

function report(run) {
  const chromium = run.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? run.userAgent;
  console.log(`\ncrossOriginIsolated: ${run.crossOriginIsolated}`);
  console.log(`Chromium ${chromium}, ${run.hardwareConcurrency} cores; pool: mode ${run.pool.mode}, ` +
    `${run.pool.workers} workers; main-thread bridge: mode ${run.main.mode}`);
  console.log(`wb pool = WorkerBridge.create({ poolSize: ${CONFIG.poolSize}, fallback: 'never' }); ` +
    "wb main = WorkerBridge.create({ fallback: 'always' }) (the sliced main-thread executor).");
  console.log(`MB = 1e6 bytes; MB/s = input bytes (gunzip: decompressed bytes) / median time of ${CONFIG.runs} ` +
    'timed runs after one warm-up, runs interleaved native → pool → main thread.');
  console.log('Inputs are passed WITHOUT `transfer` (the bridge copies them, and that copy is timed) so the ' +
    'same buffers serve every run.\n');

  const ratios = {};
  const w = [34, 14, 18, 9, 20, 9];
  console.log(row(['operation', 'native MB/s', 'wb pool MB/s', 'ratio', 'wb main MB/s', 'ratio'], w));
  for (const r of run.results) {
    ratios[r.id] = { pool: r.pool.mbps / r.native.mbps, main: r.main.mbps / r.native.mbps };
    if (r.poolTransfer) ratios[r.id].poolTransfer = r.poolTransfer.mbps / r.nativeBesideTransfer.mbps;
    console.log(row([r.label, f1(r.native.mbps), f1(r.pool.mbps), ratio(ratios[r.id].pool), f1(r.main.mbps),
      ratio(ratios[r.id].main)], w));
  }
  console.log('ratio = worker-bridge / native (higher is better; 1.00x = as fast as the browser).');
  console.log('native: crypto.subtle.digest / crypto.subtle.encrypt (AES-GCM, 12-byte iv) / CompressionStream and ' +
    'DecompressionStream (via Blob.stream() and Response.arrayBuffer()).');
  console.log('sha256 of a Blob: WebCrypto cannot digest a stream, so its native column is hash-wasm\'s ' +
    'incremental SHA-256 (createSHA256, update per chunk of blob.stream()) on the page; ours streams a Blob ' +
    'over 16 MiB through the Rust code and reads a smaller one whole for WebCrypto, in a worker.');
  const fmt = run.results.find((r) => r.id === 'encryptFile')?.verification.format;
  const chunks = fmt ? `${fmt.chunks} AES-GCM chunks of ${fmt.chunkSize / 2 ** 20} MiB` : 'AES-GCM chunks';
  console.log(`encryptFile: ours seals the Blob in the chunked WBS1 stream format (${chunks}, split across the ` +
    'workers) and resolves to a Blob;\n  its native column is ONE-SHOT AES-GCM encrypt of the same ' +
    `${CONFIG.cryptoMiB} MiB as bytes ` +
    '(WebCrypto has no chunked/streaming AEAD), timed in its own runs.');

  const gz = run.results.find((r) => r.id === 'gzip')?.verification.sizes;
  if (gz) {
    const pct = (n) => `${n} B (${((100 * n) / gz.input).toFixed(1)}% of input, ${(gz.input / n).toFixed(2)}:1)`;
    console.log(`\ngzip output sizes for ${gz.input} B of text: worker-bridge level ${CONFIG.gzipLevel}: ${pct(gz.pool)}`);
    console.log(`${' '.repeat(36)}CompressionStream:     ${pct(gz.native)}`);
    console.log(`${' '.repeat(36)}fflate level ${CONFIG.gzipLevel}:        ${pct(gz.fflate)}`);
  }

  console.log('\nmain-thread blocking, ms: the longest gap between consecutive probe callbacks (setTimeout(0) chain, ' +
    `requestAnimationFrame chain) during a timed run, worst of ${CONFIG.runs} runs;`);
  console.log('call = the longest time the call itself took to return its promise (synchronous work on the main thread).');
  console.log(`probe floor with nothing running: setTimeout(0) ${f1(run.idle.maxTimeoutGapMs)} ms, ` +
    `requestAnimationFrame ${f1(run.idle.maxFrameGapMs)} ms.`);
  console.log('A gap as long as the whole run means that probe never ran; a call as long as the whole run means the ' +
    'work was done synchronously inside the call.');
  const w2 = [34, 8, 8, 8, 10, 8, 8, 10, 8, 8];
  console.log(row(['', 'pool', '', '', 'native', '', '', 'main', '', ''], w2));
  console.log(row(['operation', 'timer', 'rAF', 'call', 'timer', 'rAF', 'call', 'timer', 'rAF', 'call'], w2));
  const blk = (x) => [f1(x.maxTimeoutGapMs), f1(x.maxFrameGapMs), f1(x.maxCallMs)];
  for (const r of run.results) console.log(row([r.label, ...blk(r.pool), ...blk(r.native), ...blk(r.main)], w2));

  console.log(`\nsupplementary: the pool with \`transfer: true\` (input moved, not copied; a fresh copy made before ` +
    `the timer), ${CONFIG.transferRuns} runs, interleaved with as many native runs: the ratio is to those`);
  const w3 = [34, 14, 14, 10, 8, 8, 8];
  console.log(row(['operation', 'native MB/s', 'MB/s', 'ratio', 'timer', 'rAF', 'call'], w3));
  for (const r of run.results) {
    if (!r.poolTransfer) {
      console.log(`${r.label.padEnd(w3[0])}  n/a: a Blob input is never copied`);
      continue;
    }
    const t = r.poolTransfer;
    const n = r.nativeBesideTransfer;
    console.log(row([r.label, f1(n.mbps), f1(t.mbps), ratio(t.mbps / n.mbps), ...blk(t)], w3));
  }

  for (const r of run.results.filter((x) => x.oneWorker)) {
    const speedUp = r.poolBesideOne.mbps / r.oneWorker.mbps;
    ratios[`${r.id}-pool-vs-one-worker`] = speedUp;
    console.log(`\nsupplementary: ${r.label} on one worker (1 thread) vs the pool of ${CONFIG.poolSize} ` +
      `(split across the workers), ${CONFIG.runs} interleaved runs: one worker ${f1(r.oneWorker.mbps)} MB/s, ` +
      `pool ${f1(r.poolBesideOne.mbps)} MB/s → ${speedUp.toFixed(2)}x; longest call on the page ` +
      `${f1(r.poolBesideOne.maxCallMs)} ms, longest timer gap ${f1(r.poolBesideOne.maxTimeoutGapMs)} ms`);
    if (r.peerBesideOne) {
      const vsPeer = r.oneWorker.mbps / r.peerBesideOne.mbps;
      ratios[`${r.id}-one-worker-vs-fflate`] = vsPeer;
      console.log(`  and fflate's gzipSync on the page, in the same rounds: ${f1(r.peerBesideOne.mbps)} MB/s ` +
        `(the page blocked ${f1(r.peerBesideOne.maxTimeoutGapMs)} ms) → one worker / fflate ${vsPeer.toFixed(2)}x`);
    }
  }

  console.log('\ncorrectness (checked once per operation, outside the timed runs):');
  let failed = 0;
  for (const r of run.results) {
    for (const [check, ok] of Object.entries(r.verification.checks)) {
      if (!ok) failed++;
      console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${r.id}: ${check}`);
    }
  }
  return { ratios, failed };
}

async function main() {
  if (!process.argv.includes('--no-build')) build();
  const run = await runInBrowser();
  const { ratios, failed } = report(run);
  await saveRecord(OUT, { config: { ...CONFIG, only }, impls: IMPLS, ...run, ratios }, failed);
}

runMain(main);
