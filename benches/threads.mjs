// Threaded build benchmark: the same large calls — gzip of 64 MiB of text, the chunk plan of a
// 128 MiB Blob — on a cross-origin isolated page (where the package loads the threaded build:
// each worker splits a large call across its threads) and on a page without isolation (the
// single-threaded build), one after the other in one run, each on the default pool the package
// picks. Reports times and the ratio; checks that both builds produce the same bytes (exits
// non-zero when they do not: then the numbers mean nothing). Also reports both wasm sizes.
// Run: npm run bench:threads
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT, buildSimd, runPage, runTool } from './harness.mjs';

const OUT = path.join(ROOT, 'target', 'bench-threads.json');
const PKG = 'target/bench-threads-pkg';
const CONFIG = { gzipMiB: 64, gzipLevel: 6, planMiB: 128, planChunkMiB: 4, runs: 3 };
const PAGE_TIMEOUT_MS = 10 * 60_000;

function build() {
  console.log(`building ${PKG} (release: single, SIMD and threaded builds) ...`);
  const common = ['build', '--release', '--target', 'web', '--mode', 'no-install'];
  runTool('wasm-pack', [...common, '--out-dir', PKG]);
  buildSimd(`${PKG}/simd`);
  process.env.RUSTUP_TOOLCHAIN = 'nightly';
  process.env.CARGO_TARGET_DIR = path.join(ROOT, 'target', 'threads');
  try {
    runTool('wasm-pack', [...common, '--out-dir', `${PKG}/threads`, '--', '--features', 'threads', '--config', 'threads.toml']);
  } finally {
    delete process.env.RUSTUP_TOOLCHAIN;
    delete process.env.CARGO_TARGET_DIR;
  }
  runTool('node', ['scripts/package.mjs', PKG]);
}

const mb = (bytes, ms) => (bytes / 1e6 / (ms / 1000)).toFixed(1);

async function main() {
  if (!process.argv.includes('--no-build')) build();
  const threaded = await runPage('benches/threads/index.html', CONFIG, PAGE_TIMEOUT_MS, { isolated: true });
  const single = await runPage('benches/threads/index.html', CONFIG, PAGE_TIMEOUT_MS, { isolated: false });
  const chromium = threaded.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? threaded.userAgent;
  console.log(`\nChromium ${chromium}, ${threaded.hardwareConcurrency} cores; median of ${CONFIG.runs} runs after a warm-up.`);
  console.log(`isolated page: build ${threaded.build}, ${threaded.workers} worker(s) × ${threaded.threads} thread(s); ` +
    `page without isolation: build ${single.build}, ${single.workers} worker(s) × ${single.threads} thread(s)`);
  const rows = [
    ['gzip level 6, 64 MiB text', 'gzip'],
    ['chunkPlan, 128 MiB Blob, 4 MiB chunks', 'chunkPlan'],
  ];
  const ratios = {};
  for (const [label, id] of rows) {
    const t = threaded.results[id];
    const s = single.results[id];
    ratios[id] = s.ms / t.ms;
    console.log(`${label.padEnd(40)} threads ${t.ms.toFixed(0).padStart(6)} ms (${mb(t.bytes, t.ms)} MB/s)   ` +
      `single ${s.ms.toFixed(0).padStart(6)} ms (${mb(s.bytes, s.ms)} MB/s)   ${ratios[id].toFixed(2)}x faster with threads`);
  }
  const sizes = {};
  const files = [['single', 'worker_bridge_bg.wasm'], ['singleSimd', 'worker_bridge_simd_bg.wasm'], ['threads', 'threads/worker_bridge_bg.wasm']];
  for (const [name, file] of files) sizes[name] = (await stat(path.join(ROOT, PKG, file))).size;
  console.log(`wasm size: single ${(sizes.single / 1024).toFixed(0)} KiB (SIMD: ${(sizes.singleSimd / 1024).toFixed(0)} KiB, ` +
    `the one Chromium runs), threads ${(sizes.threads / 1024).toFixed(0)} KiB`);
  await writeFile(OUT, JSON.stringify({ config: CONFIG, threaded, single, ratios, sizes }, null, 2));
  console.log(`written ${path.relative(ROOT, OUT)}`);

  const wrong = [];
  if (threaded.results.gzip.outSha256 !== single.results.gzip.outSha256) wrong.push('gzip output differs between the builds');
  if (!threaded.results.gzip.roundTrip || !single.results.gzip.roundTrip) wrong.push('gzip output does not gunzip to the input');
  if (threaded.results.chunkPlan.planSha256 !== single.results.chunkPlan.planSha256) wrong.push('chunk plans differ');
  if (!threaded.results.chunkPlan.firstChunkMatches) wrong.push('the first chunk hash is not WebCrypto\'s');
  if (threaded.build !== 'threads' || single.build !== 'single') wrong.push('the pages did not load the expected builds');
  if (wrong.length) {
    console.error(`WRONG: ${wrong.join('; ')}`);
    process.exit(1);
  }
}

await main();
