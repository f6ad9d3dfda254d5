// Compression backend benchmark: the flate2 backends that build for wasm32 — zlib-rs, which
// worker-bridge ships, and miniz_oxide, flate2's default — on the same bytes in one headless
// Chromium page: gzip at levels 1, 6 and 9 and gunzip, runs of the two builds interleaved.
// Reports numbers, never asserts them; exits non-zero only when an output is wrong.
// Run: npm run bench:flate
//
// Builds benches/flate (a crate of its own: gzip/gunzip through flate2) twice, release, with
// WebAssembly SIMD as the package's SIMD build, into target/flate-bench/{zlib-rs,miniz}; prints a
// table and writes target/bench-flate.json. `-- --no-build` reuses the last builds.
import path from 'node:path';
import { ROOT, runMain, runPage, runTool, saveRecord } from './harness.mjs';

const OUT = path.join(ROOT, 'target', 'bench-flate.json');
const BACKENDS = ['zlib-rs', 'miniz'];
const CONFIG = {
  mib: 16, // the text gzipped; gunzip's output
  levels: [1, 6, 9],
  runs: 5, // timed runs per backend and level, after one warm-up; the median is reported
};

function build() {
  for (const backend of BACKENDS) {
    console.log(`building target/flate-bench/${backend} (release, SIMD) ...`);
    const outDir = path.join(ROOT, 'target', 'flate-bench', backend);
    process.env.CARGO_TARGET_DIR = path.join(ROOT, 'target', 'flate-bench', 'cargo');
    runTool('wasm-pack', ['build', '--release', '--target', 'web', '--mode', 'no-install', '--out-dir', outDir,
      path.join(ROOT, 'benches', 'flate'), '--', '--features', backend, '--config', path.join(ROOT, 'simd.toml')]);
  }
}

const f1 = (x) => x.toFixed(1);
const row = (cells, widths) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[0]) : c.padStart(widths[i]))).join('');

async function main() {
  if (!process.argv.includes('--no-build')) build();
  const run = await runPage('benches/flate/index.html', CONFIG, 10 * 60_000);
  const chromium = run.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? run.userAgent;
  console.log(`\nChromium ${chromium}, ${run.hardwareConcurrency} cores; flate2 on the page's thread, one call ` +
    `at a time; ${CONFIG.mib} MiB of log-like text; MB/s = text bytes / median of ${CONFIG.runs} runs.`);
  const w = [14, 16, 16, 10, 18, 18];
  console.log(row(['', 'zlib-rs MB/s', 'miniz MB/s', 'ratio', 'zlib-rs bytes', 'miniz bytes'], w));
  const ratios = {};
  for (const r of run.results) {
    ratios[r.id] = r['zlib-rs'].mbps / r.miniz.mbps;
    console.log(row([r.id, f1(r['zlib-rs'].mbps), f1(r.miniz.mbps), `${ratios[r.id].toFixed(2)}x`,
      String(r['zlib-rs'].size ?? ''), String(r.miniz.size ?? '')], w));
  }
  console.log('ratio = zlib-rs / miniz_oxide (higher: zlib-rs faster). gunzip reads the zlib-rs level 6 output.');
  let failed = 0;
  console.log('\ncorrectness (each output checked once, outside the timed runs):');
  for (const [check, ok] of Object.entries(run.checks)) {
    if (!ok) failed++;
    console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${check}`);
  }
  await saveRecord(OUT, { config: CONFIG, ...run, ratios }, failed);
}

runMain(main);
