// End to end: the React example (examples/react, built by examples/react/build.sh with Vite from
// the packed npm tarball), in headless Chromium, as a user drives it: pick a file or generate
// data, hash it in a worker with a progress bar, cancel, and check the digest against Node's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serve } from './server.mjs';
import { launch, open } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const example = path.join(root, 'examples/react');
const dist = path.join(example, 'dist');
const $ = (id) => `[data-testid="${id}"]`;

let browser;
before(async () => {
  assert.ok(existsSync(path.join(dist, 'index.html')), 'examples/react/dist is built (sh examples/react/build.sh)');
  browser = await launch();
});
after(async () => browser?.close());

/** The SHA-256 of what the example's Generate button makes: xorshift32 bytes, seed 0x2545f491. */
function generatedSha256(bytes) {
  const hash = createHash('sha256');
  let x = 0x2545f491;
  for (let offset = 0; offset < bytes; offset += 1 << 20) {
    const part = Buffer.alloc(Math.min(1 << 20, bytes - offset));
    for (let i = 0; i < part.length; i++) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      part[i] = x & 0xff;
    }
    hash.update(part);
  }
  return hash.digest('hex');
}

/** Serves the example with `serveOptions`, opens it, runs `fn({ page, problems })`, cleans up. */
async function withExample(serveOptions, fn) {
  await withServer(await serve(dist, serveOptions), fn);
}

async function withServer(server, fn) {
  try {
    const { page, problems } = await open(browser.context, server.url);
    await fn({ page, problems });
    await page.close();
  } finally {
    await server.close();
  }
}

const waitMode = (page, mode) => page.waitForFunction((m) => document.querySelector('[data-testid="mode"]').textContent === m, mode);

async function generate(page, mib) {
  await page.fill($('size'), String(mib));
  await page.click($('generate'));
  await page.waitForFunction((n) => document.querySelector('[data-testid="input"]').textContent === `input: ${n.toLocaleString('en')} bytes`, mib * 1048576);
}

/** Clicks Hash and waits for the call to settle; returns its state, digest and progress bar. */
async function hash(page, { timeout = 120_000 } = {}) {
  await page.click($('hash'));
  await page.waitForFunction(() => {
    const state = document.querySelector('[data-testid="result"]')?.dataset.state;
    return state && state !== 'running' && state !== 'idle';
  }, null, { timeout });
  return page.evaluate(() => ({
    state: document.querySelector('[data-testid="result"]').dataset.state,
    text: document.querySelector('[data-testid="result"]').textContent,
    digest: document.querySelector('[data-testid="digest"]')?.textContent,
    progress: document.querySelector('[data-testid="progress"]').value,
  }));
}

/** Clicks Hash and waits until the call's progress bar has moved (but the call is not done). */
async function startHash(page) {
  await page.click($('hash'));
  await page.waitForFunction(() =>
    document.querySelector('[data-testid="result"]').dataset.state === 'running' &&
    document.querySelector('[data-testid="progress"]').value > 0);
}

test('isolated page: a picked file and generated data are hashed in workers, digests match Node', async () => {
  await withExample({ isolated: true }, async ({ page, problems }) => {
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    await waitMode(page, 'workers');
    assert.equal(await page.textContent($('coi')), 'true');
    // Vite bundled the threaded build (its helper threads started in each worker) and the entry
    // chose it on this cross-origin isolated page.
    assert.equal(await page.textContent($('build')), 'threads');
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    assert.equal(Number(await page.textContent($('threads'))), Math.min(2, cores));

    const data = randomBytes(5 * 1048576 + 17);
    await page.setInputFiles($('file'), { name: 'sample.bin', mimeType: 'application/octet-stream', buffer: data });
    const picked = await hash(page);
    assert.equal(picked.state, 'done', picked.text);
    assert.equal(picked.digest, createHash('sha256').update(data).digest('hex'), 'the digest Node computes');
    assert.equal(picked.progress, 100, 'the progress bar reached 100');

    await generate(page, 64);
    const generated = await hash(page);
    assert.equal(generated.state, 'done', generated.text);
    assert.equal(generated.digest, generatedSha256(64 * 1048576));
    assert.equal(await page.textContent($('mode')), 'workers');
    assert.deepEqual(problems, []);
  });
});

test('Cancel aborts a running hash; unmounting the hasher aborts its call too', async () => {
  // One 256 MiB input for the whole test: Chromium here fails to read (NotReadableError) blobs
  // built in memory once a page has made ~0.5 GiB of them, worker-bridge or not.
  const mib = 256;
  const expected = generatedSha256(mib * 1048576);
  await withExample({ isolated: true }, async ({ page, problems }) => {
    await waitMode(page, 'workers');
    await generate(page, mib);
    const cancelled = (n) => page.waitForFunction((n) => new RegExp(`\\b${n} cancelled`).test(document.querySelector('[data-testid="counters"]').textContent), n);

    await startHash(page);
    await page.click($('cancel'));
    await page.waitForFunction(() => document.querySelector('[data-testid="result"]').dataset.state === 'cancelled');
    await cancelled(1);

    // The pool is still good: the same input hashed again completes.
    const again = await hash(page);
    assert.equal(again.state, 'done', again.text);
    assert.equal(again.digest, expected);

    // Unmount the component mid-call: the hook's cleanup aborts it.
    await startHash(page);
    await page.uncheck($('show-hasher'));
    await cancelled(2);
    assert.equal(await page.locator($('hash')).count(), 0, 'the hasher is gone');
    await page.check($('show-hasher'));
    assert.equal((await hash(page)).digest, expected);
    assert.equal(await page.textContent($('mode')), 'workers');
    assert.deepEqual(problems, []);
  });
});

test('without COOP/COEP the example still hashes in workers', async () => {
  await withExample({ isolated: false }, async ({ page, problems }) => {
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    await waitMode(page, 'workers');
    assert.equal(await page.textContent($('coi')), 'false');
    assert.equal(await page.textContent($('build')), 'single', 'the threaded build is never loaded here');
    const data = randomBytes(3 * 1048576 + 5);
    await page.setInputFiles($('file'), { name: 'sample.bin', mimeType: 'application/octet-stream', buffer: data });
    const picked = await hash(page);
    assert.equal(picked.state, 'done', picked.text);
    assert.equal(picked.digest, createHash('sha256').update(data).digest('hex'));
    await generate(page, 8);
    assert.equal((await hash(page)).digest, generatedSha256(8 * 1048576));
    assert.deepEqual(problems, []);
  });
});

/** The example's own Vite (installed by build.sh), for `npm run dev` and `npm run preview`. */
const vite = () => import(pathToFileURL(path.join(example, 'node_modules/vite/dist/node/index.js')).href);
const viteOptions = { root: example, configFile: path.join(example, 'vite.config.js'), logLevel: 'error' };

test('npm run dev: the Vite dev server (COOP/COEP from vite.config.js) runs the example in workers', async () => {
  const { createServer } = await vite();
  const server = await createServer({ ...viteOptions, server: { host: '127.0.0.1', port: 0 } });
  await server.listen();
  await withServer({ url: server.resolvedUrls.local[0], close: () => server.close() }, async ({ page, problems }) => {
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'server.headers in vite.config.js');
    await waitMode(page, 'workers');
    await generate(page, 2);
    const result = await hash(page);
    assert.equal(result.state, 'done', result.text);
    assert.equal(result.digest, generatedSha256(2 * 1048576));
    assert.deepEqual(problems, []);
  });
});

test('npm run preview: vite preview serves the build cross-origin isolated', async () => {
  const { preview } = await vite();
  const server = await preview({ ...viteOptions, preview: { host: '127.0.0.1', port: 0 } });
  await withServer({ url: server.resolvedUrls.local[0], close: () => server.close() }, async ({ page, problems }) => {
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'preview.headers in vite.config.js');
    await waitMode(page, 'workers');
    await generate(page, 1);
    assert.equal((await hash(page)).digest, generatedSha256(1048576));
    assert.deepEqual(problems, []);
  });
});
