// End to end: the release build of the demo page (dist/), in headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './server.mjs';
import { launch, open } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.join(root, 'dist');

let browser;
before(async () => {
  assert.ok(existsSync(path.join(dist, 'index.html')), 'dist/ is built (npm run build:demo)');
  browser = await launch();
});
after(async () => browser?.close());

/** Deterministic bytes, not a repeating pattern. */
function bytes(length) {
  const out = Buffer.alloc(length);
  let x = 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

async function digestOf(page) {
  await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
  return {
    ours: await page.textContent('#digest'),
    webcrypto: await page.textContent('#webcrypto'),
    match: await page.textContent('#match'),
  };
}

test('isolated page: hashes in workers and shows the digest WebCrypto computes', async () => {
  const server = await serve(dist, { isolated: true });
  try {
    const { page, problems } = await open(browser.context, server.url);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    assert.equal(await page.evaluate(() => typeof SharedArrayBuffer), 'function');
    await page.waitForFunction(() => document.querySelector('#mode').textContent === 'mode: workers');

    // A picked file: compare with Node's SHA-256 and with WebCrypto run in the page.
    const data = bytes(3 * 1024 * 1024 + 7);
    await page.setInputFiles('#file', { name: 'sample.bin', mimeType: 'application/octet-stream', buffer: data });
    const file = await digestOf(page);
    const expected = createHash('sha256').update(data).digest('hex');
    assert.equal(file.ours, expected, 'digest of the picked file');
    assert.equal(file.webcrypto, expected);
    const inPage = await page.evaluate(async (b64) => {
      const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', raw));
      return Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
    }, data.toString('base64'));
    assert.equal(file.ours, inPage, 'WebCrypto in the page agrees');

    // Generated data through the button.
    await page.evaluate(() => { delete document.body.dataset.state; });
    await page.fill('#size', '8');
    await page.click('#generate');
    const generated = await digestOf(page);
    assert.equal(generated.match, 'yes');
    assert.equal(generated.ours, generated.webcrypto);
    assert.equal(await page.$eval('#bar', (bar) => bar.value), 100, 'the progress bar reached 100');

    // The pool did the work: the status table shows the tasks done by workers.
    const done = await page.$$eval('#workers tr td:nth-child(4)', (tds) => tds.reduce((n, td) => n + Number(td.textContent), 0));
    assert.ok(done >= 2, `workers report ${done} tasks done`);
    await mkdir(path.join(root, 'target'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'target', 'demo-e2e.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await server.close();
  }
});

test('page without COOP/COEP still hashes in workers', async () => {
  const server = await serve(dist, { isolated: false });
  try {
    const { page, problems } = await open(browser.context, server.url);
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    await page.waitForFunction(() => document.querySelector('#mode').textContent === 'mode: workers');
    await page.fill('#size', '2');
    await page.click('#generate');
    const { match } = await digestOf(page);
    assert.equal(match, 'yes');
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await server.close();
  }
});

test('without Worker the page runs on the main thread and says so', async () => {
  const server = await serve(dist, { isolated: true });
  try {
    const page = await browser.context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.addInitScript(() => { delete globalThis.Worker; });
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.textContent('#mode'), 'mode: main-thread');
    assert.match(await page.getAttribute('#mode', 'title'), /not available/);
    await page.fill('#size', '4');
    await page.click('#generate');
    const { match, ours } = await digestOf(page);
    assert.equal(match, 'yes');
    assert.match(ours, /^[0-9a-f]{64}$/);
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await server.close();
  }
});

/** Serves dist/ with `serveOptions`, opens the demo, runs `fn({ page, problems })`, cleans up. */
async function withDemo(serveOptions, fn) {
  const server = await serve(dist, serveOptions);
  try {
    const { page, problems } = await open(browser.context, server.url);
    await fn({ page, problems });
    await page.close();
  } finally {
    await server.close();
  }
}

const csp = (workerSrc) =>
  `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src ${workerSrc}; style-src 'unsafe-inline'; img-src data:`;

test('under a strict CSP (worker-src \'self\', no blob:, no eval) the pool still runs', async () => {
  await withDemo({ headers: { 'Content-Security-Policy': csp("'self'") } }, async ({ page, problems }) => {
    await page.waitForFunction(() => document.querySelector('#mode').textContent === 'mode: workers');
    await page.click('#generate');
    assert.equal((await digestOf(page)).match, 'yes');
    assert.deepEqual(problems, []);
  });
});

test('when workers cannot start, fallback "auto" moves to the main thread', async () => {
  // worker-src 'none': the browser refuses to start the worker script.
  await withDemo({ headers: { 'Content-Security-Policy': csp("'none'") } }, async ({ page, problems }) => {
    assert.equal(await page.textContent('#mode'), 'mode: main-thread');
    assert.match(await page.getAttribute('#mode', 'title'), /worker/i);
    await page.fill('#size', '1');
    await page.click('#generate');
    assert.equal((await digestOf(page)).match, 'yes');
    // The browser logs the refused worker itself; nothing else may fail.
    assert.deepEqual(problems.filter((p) => !/Content Security Policy/.test(p)), []);
  });
});
