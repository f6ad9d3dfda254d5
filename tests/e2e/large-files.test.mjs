// End to end: a file larger than the page could hold, sealed and opened without being held. The
// published package (pkg/, no bundler) in headless Chromium seals 4 GiB made as they are pulled
// straight into a file of the origin private file system (`encryptFile(stream, key, { output:
// handle })`), then opens that file through `decryptStream`, every byte checked as it arrives;
// the workers' wasm memory is watched. `LARGE_FILE_MIB` sets the size (4096 by default).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './server.mjs';
import { launch, open } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MIB = Number(process.env.LARGE_FILE_MIB ?? 4096);

let browser;
let server;
before(async () => {
  assert.ok(existsSync(path.join(root, 'pkg', 'index.js')), 'pkg/ is built (npm run build)');
  server = await serve(root);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test(`${MIB} MiB through encryptFile into an OPFS file and back through decryptStream`, { timeout: 20 * 60_000 }, async (t) => {
  // The sealed file, and the browser's copy of it while it is written (createWritable writes
  // a swap file, moved into place at the end), live under the browser profile in the temp dir.
  const { bavail, bsize } = statfsSync(os.tmpdir());
  const free = bavail * bsize;
  if (free < 3 * MIB * 2 ** 20) {
    t.skip(`${(free / 2 ** 30).toFixed(1)} GiB free in ${os.tmpdir()}: too little for ${MIB} MiB twice over`);
    return;
  }
  const { page, problems } = await open(browser.context, `${server.url}tests/e2e/pages/large-files.html`);
  const r = await page.evaluate((mib) => window.roundTrip({ mib }), MIB);
  const total = MIB * 2 ** 20;
  t.diagnostic(`${MIB} MiB: sealed into OPFS in ${(r.sealMs / 1000).toFixed(1)} s ` +
    `(${(total / 1e6 / (r.sealMs / 1000)).toFixed(1)} MB/s), opened and checked in ${(r.openMs / 1000).toFixed(1)} s ` +
    `(${(total / 1e6 / (r.openMs / 1000)).toFixed(1)} MB/s); largest worker wasm memory ` +
    `${(r.workerMemoryMax / 2 ** 20).toFixed(1)} MiB; page JS heap at the end ${r.pageHeap === null ? 'n/a' : `${(r.pageHeap / 2 ** 20).toFixed(0)} MiB`}; ` +
    `cross-origin isolated: ${r.crossOriginIsolated}`);
  assert.equal(r.mismatch, -1, `the first wrong byte is at ${r.mismatch}`);
  assert.equal(r.bytes, total, 'every byte came back');
  // The header, then each 512 KiB (the default chunk size) sealed with its 16-byte tag.
  assert.equal(r.sealedBytes, 32 + total + 16 * 2 * MIB);
  assert.ok(r.workerMemoryMax < 64 * 2 ** 20, `a worker's wasm memory stayed under 64 MiB (${r.workerMemoryMax})`);
  assert.deepEqual(problems, []);
  await page.close();
});
