// End to end: the release build of the demo page (dist/), in headless Chromium, as a user drives
// it: pick or generate data, run jobs with progress bars and Cancel buttons, write a picked file's
// result straight to a file (the Files panel, through OPFS), watch the pool.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
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

/** Clicks the button of `op` and waits for its new job row to finish; returns the row's state and text. */
async function runOp(page, op, { timeout = 120_000 } = {}) {
  const before = await page.$$eval(`#jobs .job[data-op="${op}"]`, (rows) => rows.length);
  await page.click(`#op-${op}`);
  await page.waitForFunction(
    ({ op, before }) => {
      const rows = document.querySelectorAll(`#jobs .job[data-op="${op}"]`);
      return rows.length > before && rows[0].dataset.state !== 'running';
    },
    { op, before },
    { timeout },
  );
  return page.$eval(`#jobs .job[data-op="${op}"]`, (row) => ({
    state: row.dataset.state,
    text: row.querySelector('.result').textContent,
    bar: row.querySelector('progress').value,
  }));
}

async function generate(page, mib) {
  await page.fill('#size', String(mib));
  await page.click('#generate');
  await page.waitForFunction(() => !document.querySelector('#op-hash').disabled);
}

const waitMode = (page, mode) => page.waitForFunction((m) => document.querySelector('#mode').textContent === `mode: ${m}`, mode);

/** Serves dist/ with `serveOptions`, opens the demo, runs `fn({ page, problems })`, cleans up. */
async function withDemo(serveOptions, fn, { init } = {}) {
  const server = await serve(dist, serveOptions);
  try {
    const { page, problems } = await open(browser.context, server.url, { init });
    await fn({ page, problems });
    await page.close();
  } finally {
    await server.close();
  }
}

test('isolated page: a 32 MiB file is hashed, encrypted and decrypted in workers; a long job is cancelled', async () => {
  await withDemo({ isolated: true }, async ({ page, problems }) => {
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    assert.equal(await page.evaluate(() => typeof SharedArrayBuffer), 'function');
    await waitMode(page, 'workers');

    const data = bytes(32 * 1024 * 1024);
    const expected = createHash('sha256').update(data).digest('hex');
    await page.setInputFiles('#file', { name: 'sample.bin', mimeType: 'application/octet-stream', buffer: data });
    await page.waitForFunction(() => !document.querySelector('#op-hash').disabled);

    const hashed = await runOp(page, 'hash');
    assert.equal(hashed.state, 'done', hashed.text);
    assert.match(hashed.text, new RegExp(`sha256 ${expected}`), 'the digest Node computes');
    const inPage = await page.evaluate(async () => {
      const file = document.querySelector('#file').files[0];
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
      return Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
    });
    assert.equal(inPage, expected, 'and the digest WebCrypto computes in the page');

    const sealed = await runOp(page, 'encrypt');
    assert.equal(sealed.state, 'done', sealed.text);
    assert.equal(sealed.bar, 100, 'the progress bar reached 100');
    const opened = await runOp(page, 'decrypt');
    assert.equal(opened.state, 'done', opened.text);
    assert.match(opened.text, new RegExp(`sha256 ${expected} · matches the input`));

    // A long job (gzip at level 6 of 256 MiB of random bytes), cancelled from its row.
    await generate(page, 256);
    await page.click('#op-gzip');
    const row = page.locator('#jobs .job[data-op="gzip"]').first();
    await page.waitForFunction(() => {
      const r = document.querySelector('#jobs .job[data-op="gzip"]');
      return r && r.querySelector('progress').value > 0;
    });
    await row.locator('.cancel').click();
    await page.waitForFunction(() => document.querySelector('#jobs .job[data-op="gzip"]').dataset.state !== 'running');
    assert.equal(await row.getAttribute('data-state'), 'cancelled');
    // The threaded build, with a thread pool in each worker (workers × threads ≤ cores).
    const build = await page.evaluate(() => document.querySelector('#build').textContent);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    assert.match(build, /^build: threads \+ SIMD · threads: \d+$/);
    if (cores >= 2) assert.ok(Number(build.split(': ').at(-1)) > 1, build);
    // The pool panel stays full: every worker back to idle, none crashed.
    const poolSize = Math.max(1, Math.floor(cores / 2));
    await page.waitForFunction((n) => {
      const states = [...document.querySelectorAll('#workers tr td:nth-child(2)')].map((td) => td.textContent);
      return states.length === n && states.every((s) => s === 'idle');
    }, poolSize, { timeout: 10_000 });

    await mkdir(path.join(root, 'target'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'target', 'demo-e2e.png'), fullPage: true });
    assert.deepEqual(problems, []);
  });
});

test('each job shows its rate and longest frame beside the platform\'s own API; the frame meter runs', async () => {
  await withDemo({ isolated: true }, async ({ page, problems }) => {
    await waitMode(page, 'workers');
    await page.waitForFunction(() => /longest frame in the last second: \d+ ms/.test(document.querySelector('#meter-text').textContent));
    await generate(page, 8);
    const apis = {
      hash: 'crypto.subtle.digest',
      encrypt: 'crypto.subtle.encrypt, one-shot AES-GCM',
      decrypt: 'crypto.subtle.decrypt, one-shot AES-GCM',
      gzip: 'CompressionStream',
      gunzip: 'DecompressionStream',
    };
    const lines = [];
    for (const op of ['hash', 'encrypt', 'decrypt', 'gzip', 'gunzip']) {
      const job = await runOp(page, op);
      assert.equal(job.state, 'done', `${op}: ${job.text}`);
      assert.match(job.text, / \d+ MB\/s · longest frame \d+ ms/, op);
      const platform = await page.$eval(`#jobs .job[data-op="${op}"]`, (row) => row.querySelector('.platform')?.textContent ?? null);
      const escaped = apis[op].replace(/[.()]/g, '\\$&');
      assert.match(platform, new RegExp(`^platform \\(${escaped}, on the page\\): \\d+ MB/s · longest frame \\d+ ms$`), op);
      lines.push(`${op}: ${job.text.match(/\d+ MB\/s · longest frame \d+ ms/)[0]} | ${platform}`);
    }
    console.log(`# demo, 8 MiB in workers:\n#   ${lines.join('\n#   ')}`);
    await page.uncheck('#compare');
    assert.equal((await runOp(page, 'hash')).state, 'done');
    assert.equal(await page.$eval('#jobs .job[data-op="hash"]', (row) => row.querySelector('.platform')), null, 'unchecked: not compared');
    assert.deepEqual(problems, []);
  });
});

/**
 * In the Files panel: picks `file`, runs `op` and waits for its new row to finish; returns the
 * row's state and text, and the name of its result in the panel's OPFS folder (null if none).
 */
async function runFileOp(page, file, op, { timeout = 120_000, afterPick } = {}) {
  await page.setInputFiles('#files-input', file);
  await afterPick?.();
  await page.selectOption('#files-op', op);
  const before = await page.$$eval(`#files-jobs .job[data-op="${op}"]`, (rows) => rows.length);
  await page.click('#files-run');
  await page.waitForFunction(
    ({ op, before }) => {
      const rows = document.querySelectorAll(`#files-jobs .job[data-op="${op}"]`);
      return rows.length > before && rows[0].dataset.state !== 'running';
    },
    { op, before },
    { timeout },
  );
  return page.$eval(`#files-jobs .job[data-op="${op}"]`, (row) => ({
    state: row.dataset.state,
    text: row.querySelector('.result').textContent,
    done: row.querySelector('.done').textContent,
    opfs: row.querySelector('a[download]')?.dataset.opfs ?? null,
  }));
}

/** Clicks the download link of the newest `op` row; the path the download was saved to in `dir`. */
async function download(page, op, dir) {
  const [saved] = await Promise.all([page.waitForEvent('download'), page.click(`#files-jobs .job[data-op="${op}"] a[download]`)]);
  const to = path.join(dir, saved.suggestedFilename());
  await saved.saveAs(to);
  return to;
}

/** The names in the Files panel's OPFS folder. */
const opfsNames = (page) => page.evaluate(async () => {
  const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle('worker-bridge-demo', { create: true });
  const names = [];
  for await (const name of folder.keys()) names.push(name);
  return names.sort();
});

test('the Files panel writes gzip, gunzip, encrypt and decrypt results straight to files; a job is cancelled', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'worker-bridge-files-'));
  try {
    const original = bytes(5 * 1024 * 1024 + 321);
    const sample = path.join(dir, 'sample.bin');
    await writeFile(sample, original);
    const sha256 = (b) => createHash('sha256').update(b).digest('hex');
    await withDemo({ isolated: true }, async ({ page, problems }) => {
      await waitMode(page, 'workers');
      // A headless browser cannot answer a save picker: the results go to OPFS, then a download.
      await page.selectOption('#files-target', 'opfs');

      const gzip = await runFileOp(page, sample, 'gzip');
      assert.equal(gzip.state, 'done', gzip.text);
      assert.match(gzip.text, /^done 5\.0 MiB → 5\.0 MiB · \d+ ms · \d+ MB\/s · longest frame \d+ ms · download sample\.bin\.gz Delete$/);
      assert.equal(gzip.done, '5.0 MiB / 5.0 MiB');
      // The file in OPFS, read back in the page through the platform's DecompressionStream.
      const opened = await page.evaluate(async (name) => {
        const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle('worker-bridge-demo');
        const file = await (await folder.getFileHandle(name)).getFile();
        const plain = await new Response(file.stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', plain));
        return Array.from(digest, (x) => x.toString(16).padStart(2, '0')).join('');
      }, gzip.opfs);
      assert.equal(opened, sha256(original), 'DecompressionStream opens the file to the original');
      const gz = await download(page, 'gzip', dir);
      assert.equal(path.basename(gz), 'sample.bin.gz');
      assert.ok(gunzipSync(await readFile(gz)).equals(original), 'and so does Node, from the download');

      const gunzip = await runFileOp(page, gz, 'gunzip');
      assert.equal(gunzip.state, 'done', gunzip.text);
      const back = await download(page, 'gunzip', dir);
      assert.equal(path.basename(back), 'sample.bin');
      assert.ok((await readFile(back)).equals(original), 'gunzip gives the original back');

      // Sealed with the page's key, opened with it; another key fails to open it.
      assert.match(await page.inputValue('#files-key'), /^[0-9a-f]{64}$/);
      const sealed = await runFileOp(page, sample, 'encrypt');
      assert.equal(sealed.state, 'done', sealed.text);
      const sealedFile = await download(page, 'encrypt', dir);
      const n = original.length;
      assert.equal((await stat(sealedFile)).size, 32 + n + 16 * Math.ceil(n / 524288), 'header, chunks of 512 KiB (the default), tags');
      const decrypted = await runFileOp(page, sealedFile, 'decrypt');
      assert.equal(decrypted.state, 'done', decrypted.text);
      assert.equal(sha256(await readFile(await download(page, 'decrypt', dir))), sha256(original), 'decrypt opens it');
      await page.click('#files-new-key');
      const wrongKey = await runFileOp(page, sealedFile, 'decrypt');
      assert.equal(wrongKey.state, 'error');
      assert.match(wrongKey.text, /^AuthenticationError: /);

      // Delete removes a result from OPFS.
      assert.ok((await opfsNames(page)).includes(decrypted.opfs));
      const row = page.locator('#files-jobs .job[data-op="decrypt"]').nth(1); // the newest is the wrong key's
      await row.locator('.delete').click();
      await page.waitForFunction((name) => !document.querySelector(`a[data-opfs="${name}"]`), decrypted.opfs);
      assert.match(await row.locator('.result').textContent(), / sample\.bin deleted$/);
      assert.ok(!(await opfsNames(page)).includes(decrypted.opfs), 'deleted from OPFS');

      // A file changed on disk after it was picked cannot be read: NotReadableError, from the
      // worker's reads (gzip: the Rust engine's; encrypt and decrypt, written to a file by one
      // worker: the WebCrypto engine's chunks), quoting the browser's reason (a read through the
      // Blob's stream fails with a TypeError, a slice's read with a NotReadableError). Picked
      // again, it runs.
      const changed = path.join(dir, 'changed.bin');
      for (const [op, from] of [['gzip', sample], ['encrypt', sample], ['decrypt', sealedFile]]) {
        await writeFile(changed, await readFile(from));
        const afterPick = async () => {
          await appendFile(changed, 'x');
          const later = new Date(Date.now() + 60_000);
          await utimes(changed, later, later);
        };
        const failed = await runFileOp(page, changed, op, { afterPick });
        assert.equal(failed.state, 'error', `${op}: ${failed.text}`);
        assert.match(failed.text, /^NotReadableError: the input Blob could not be read \((NotReadableError|TypeError)/, op);
        assert.equal(failed.opfs, null, `${op}: no result`);
      }
      const picked = await runFileOp(page, changed, 'gzip');
      assert.equal(picked.state, 'done', picked.text);

      const names = [gzip, gunzip, sealed, picked].map((job) => job.opfs).sort();

      // A long job (gzip of 64 MiB of random bytes), cancelled mid-way: AbortError, no file left.
      const big = path.join(dir, 'big.bin');
      await writeFile(big, randomBytes(64 * 1024 * 1024));
      await page.setInputFiles('#files-input', big);
      await page.selectOption('#files-op', 'gzip');
      await page.click('#files-run');
      await page.waitForFunction(() => document.querySelector('#files-jobs .job progress').value > 0);
      await page.click('#files-jobs .job .cancel');
      await page.waitForFunction(() => document.querySelector('#files-jobs .job').dataset.state !== 'running');
      const cancelled = await page.$eval('#files-jobs .job', (row) => ({
        state: row.dataset.state, text: row.querySelector('.result').textContent, done: row.querySelector('.done').textContent,
      }));
      assert.equal(cancelled.state, 'cancelled', cancelled.text);
      assert.match(cancelled.text, /^AbortError: ./);
      assert.notEqual(cancelled.done, '64.0 MiB / 64.0 MiB', 'stopped mid-way');
      // A failed call may hold its file a moment after it settles: the panel removes it then.
      for (let t0 = Date.now(); (await opfsNames(page)).length !== names.length && Date.now() - t0 < 5000;) {
        await page.waitForTimeout(100);
      }
      assert.deepEqual(await opfsNames(page), names, 'neither the cancelled job nor the failed one left a file in OPFS');
      assert.equal(await page.$eval('#workers', (t) => t.textContent.includes('crashed')), false);
      const rates = await page.$$eval('#files-jobs .job[data-state="done"]', (rows) =>
        rows.reverse().map((r) => `${r.dataset.op} ${r.querySelector('.result').textContent.match(/\d+ MB\/s · longest frame \d+ ms/)}`));
      console.log(`# Files panel, 5 MiB to OPFS: ${rates.join(', ')}`);
      assert.deepEqual(problems, []);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('page without COOP/COEP still runs the jobs in workers', async () => {
  await withDemo({ isolated: false }, async ({ page, problems }) => {
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    await waitMode(page, 'workers');
    // Chromium runs WebAssembly SIMD: the single build's SIMD variant.
    assert.equal(await page.evaluate(() => document.querySelector('#build').textContent), 'build: single + SIMD · threads: 1');
    await generate(page, 1);
    assert.equal((await runOp(page, 'hash')).state, 'done');
    const timing = await page.evaluate(() => ({ ...document.body.dataset }));
    console.log(`# demo: create() ${timing.createMs} ms; first result (1 MiB hash, incl. UI clicks) ${timing.firstResultMs} ms after create()`);
    await generate(page, 4);
    for (const op of ['hash', 'encrypt', 'decrypt', 'gzip', 'gunzip', 'streams']) {
      const job = await runOp(page, op);
      assert.equal(job.state, 'done', `${op}: ${job.text}`);
    }
    assert.match((await page.$eval('#jobs .job[data-op="decrypt"] .result', (e) => e.textContent)), /matches the input/);
    assert.match((await page.$eval('#jobs .job[data-op="streams"] .result', (e) => e.textContent)), /matches the input/);
    assert.deepEqual(problems, []);
  });
});

test('a browser without WebAssembly SIMD loads the plain build, which runs every job', async () => {
  // WebAssembly.validate refuses the entry's SIMD probe (43 bytes; every other module validates
  // as before), as a browser without SIMD would: the single build's plain `.wasm` loads, on an
  // isolated page too (the threaded build needs SIMD).
  const init = () => {
    const validate = WebAssembly.validate;
    WebAssembly.validate = function (bytes, ...rest) {
      return bytes.byteLength === 43 ? false : validate.call(this, bytes, ...rest);
    };
  };
  await withDemo({ isolated: true }, async ({ page, problems }) => {
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    await waitMode(page, 'workers');
    assert.equal(await page.evaluate(() => document.querySelector('#build').textContent), 'build: single · threads: 1');
    await generate(page, 4);
    for (const op of ['hash', 'encrypt', 'decrypt', 'gzip', 'gunzip']) {
      const job = await runOp(page, op);
      assert.equal(job.state, 'done', `${op}: ${job.text}`);
    }
    assert.match((await page.$eval('#jobs .job[data-op="decrypt"] .result', (e) => e.textContent)), /matches the input/);
    assert.deepEqual(problems, []);
  }, { init });
});

test('when the SIMD file does not load, the plain build runs, with a console warning', async () => {
  // The demo's copy of worker_bridge_simd_bg.wasm (webpack names assets by hash), refused.
  const simd = await readFile(path.join(root, 'pkg', 'worker_bridge_simd_bg.wasm'));
  const names = (await readdir(dist)).filter((f) => f.endsWith('.wasm'));
  const copies = [];
  for (const f of names) if ((await readFile(path.join(dist, f))).equals(simd)) copies.push(f);
  assert.equal(copies.length, 1, `one SIMD module in dist/ (${names})`);
  const url = `**/${copies[0]}`;
  await browser.context.route(url, (route) => route.abort());
  try {
    await withDemo({ isolated: false }, async ({ page, problems }) => {
      await waitMode(page, 'workers');
      assert.equal(await page.evaluate(() => document.querySelector('#build').textContent), 'build: single · threads: 1');
      const warnings = await page.evaluate(() => window.__warnings ?? []);
      assert.ok(warnings.some((w) => w.includes('the SIMD build did not load')), `warned: ${warnings}`);
      await generate(page, 1);
      for (const op of ['hash', 'gzip', 'gunzip']) {
        const job = await runOp(page, op);
        assert.equal(job.state, 'done', `${op}: ${job.text}`);
      }
      // The refused request is the only error the page logged.
      assert.deepEqual(problems.filter((p) => !p.includes('Failed to load resource')), []);
    }, {
      init: () => {
        const warn = console.warn;
        console.warn = (...args) => {
          window.__warnings = [...(window.__warnings ?? []), args.map(String).join(' ')];
          warn(...args);
        };
      },
    });
  } finally {
    await browser.context.unroute(url);
  }
});

test('without Worker the page runs on the main thread and says so', async () => {
  const init = () => { delete globalThis.Worker; };
  await withDemo({ isolated: true }, async ({ page, problems }) => {
    assert.equal(await page.textContent('#mode'), 'mode: main-thread');
    assert.match(await page.getAttribute('#mode', 'title'), /not available/);
    await generate(page, 4);
    for (const op of ['hash', 'encrypt', 'decrypt', 'streams']) {
      assert.equal((await runOp(page, op)).state, 'done', op);
    }
    assert.deepEqual(problems, []);
  }, { init });
});

test('the main-thread toggle moves the jobs to the main thread and back', async () => {
  await withDemo({ isolated: true }, async ({ page, problems }) => {
    await waitMode(page, 'workers');
    await page.check('#force-main');
    await waitMode(page, 'main-thread');
    await generate(page, 2);
    assert.equal((await runOp(page, 'hash')).state, 'done');
    await page.uncheck('#force-main');
    await waitMode(page, 'workers');
    assert.equal((await runOp(page, 'hash')).state, 'done');
    assert.deepEqual(problems, []);
  });
});

const csp = (workerSrc) =>
  `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src ${workerSrc}; style-src 'unsafe-inline'; img-src data:`;

test('under a strict CSP (worker-src \'self\', no blob:, no eval) the pool still runs', async () => {
  await withDemo({ headers: { 'Content-Security-Policy': csp("'self'") } }, async ({ page, problems }) => {
    await waitMode(page, 'workers');
    await generate(page, 2);
    assert.equal((await runOp(page, 'hash')).state, 'done');
    assert.deepEqual(problems, []);
  });
});

test('when workers cannot start, fallback "auto" moves to the main thread', async () => {
  // worker-src 'none': the browser refuses to start the worker script.
  await withDemo({ headers: { 'Content-Security-Policy': csp("'none'") } }, async ({ page, problems }) => {
    assert.equal(await page.textContent('#mode'), 'mode: main-thread');
    assert.match(await page.getAttribute('#mode', 'title'), /worker/i);
    await generate(page, 1);
    assert.equal((await runOp(page, 'hash')).state, 'done');
    // The browser logs the refused worker itself; nothing else may fail.
    assert.deepEqual(problems.filter((p) => !/Content Security Policy/.test(p)), []);
  });
});

/** Sends `message` from the service card `name` and returns its reply text once it changes. */
async function sendTo(page, name, message) {
  const card = page.locator(`.service[data-name="${name}"]`);
  const seq = Number((await card.locator('.reply').getAttribute('data-seq')) ?? 0);
  await card.locator('.message').fill(JSON.stringify(message));
  await card.locator('.send').click();
  await page.waitForFunction(({ name, seq }) =>
    Number(document.querySelector(`.service[data-name="${name}"] .reply`).dataset.seq ?? 0) > seq, { name, seq });
  return card.locator('.reply').textContent();
}

const serviceState = (page, name) => page.locator(`.service[data-name="${name}"] .state`).textContent();
const waitServiceState = (page, name, state) => page.waitForFunction(
  ({ name, state }) => document.querySelector(`.service[data-name="${name}"] .state`).textContent === state,
  { name, state },
);

test('the Services panel drives a JS and a Rust service in either placement', async () => {
  await withDemo({ isolated: true }, async ({ page, problems }) => {
    await waitMode(page, 'workers');
    await page.waitForFunction(() => document.querySelector('#events li[data-event="registry_loaded"]'));
    for (const name of ['counter', 'store']) {
      await page.click(`.service[data-name="${name}"] .start`);
      await waitServiceState(page, name, 'running');
    }
    assert.equal(await sendTo(page, 'counter', { op: 'add', by: 2 }), '→ {"count":2}');
    assert.equal(await sendTo(page, 'counter', { op: 'add', by: 3 }), '→ {"count":5}', 'the JS context persists');
    assert.match(await sendTo(page, 'counter', { op: 'explode' }), /→ TypeError: unknown op "explode"/);
    assert.equal(await sendTo(page, 'store', { op: 'set', key: 'theme', value: { dark: true } }), '→ null');
    assert.equal(await sendTo(page, 'store', { op: 'get', key: 'theme' }), '→ {"dark":true}', 'the Rust context persists');
    assert.match(await sendTo(page, 'store', { op: 'explode' }), /→ ValidationError: .*explode/);

    // Placement is configuration: move both to the main thread; each restarts there, fresh.
    for (const name of ['counter', 'store']) {
      await page.selectOption(`.service[data-name="${name}"] .placement`, 'main');
      await page.waitForFunction((name) =>
        document.querySelector(`.service[data-name="${name}"] .diag`).textContent.startsWith('main ·')
        && document.querySelector(`.service[data-name="${name}"] .state`).textContent === 'running', name);
    }
    assert.equal(await sendTo(page, 'store', { op: 'get', key: 'theme' }), '→ null');
    assert.equal(await sendTo(page, 'store', { op: 'set', key: 'k', value: [1, 2] }), '→ null');
    assert.equal(await sendTo(page, 'store', { op: 'keys' }), '→ ["k"]');
    assert.equal(await sendTo(page, 'counter', { op: 'add' }), '→ {"count":1}');
    await page.click('.service[data-name="counter"] .restart');
    await page.waitForFunction(() => /1 restarts/.test(document.querySelector('.service[data-name="counter"] .diag').textContent));
    assert.equal(await sendTo(page, 'counter', { op: 'get' }), '→ {"count":0}', 'a restart begins fresh');
    await page.click('.service[data-name="store"] .stop');
    await waitServiceState(page, 'store', 'stopped');
    assert.match(await sendTo(page, 'store', { op: 'size' }), /→ ServiceStateError/);

    const events = await page.$$eval('#events li', (lis) => lis.map((li) => li.textContent));
    assert.ok(events.some((e) => /^service_state_changed store .*"from":"starting","to":"running"/.test(e)), events.join('\n'));
    assert.ok(events.some((e) => /^service_state_changed store .*"to":"stopped"/.test(e)));
    assert.equal(await serviceState(page, 'counter'), 'running');
    assert.deepEqual(problems, []);
  });
});

test('the persisted counter keeps its value across a reload', async () => {
  await withDemo({ isolated: false }, async ({ page, problems }) => {
    const ready = () => page.waitForFunction(() => document.querySelector('#events li[data-event="registry_loaded"]'));
    await ready();
    await page.click('.service[data-name="saved"] .start');
    await waitServiceState(page, 'saved', 'running');
    const before = JSON.parse((await sendTo(page, 'saved', { op: 'add', by: 7 })).slice(2)).count;
    assert.ok(before >= 7, `count ${before}`);
    // Snapshots are taken every 500 ms: wait for one, then reload without stopping.
    await page.waitForTimeout(1500);
    await page.reload();
    await ready();
    await page.click('.service[data-name="saved"] .start');
    await waitServiceState(page, 'saved', 'running');
    assert.equal(await sendTo(page, 'saved', { op: 'get' }), `→ {"count":${before}}`, 'restored after the reload');
    // A stop stores the latest value at once.
    assert.equal(await sendTo(page, 'saved', { op: 'add', by: 1 }), `→ {"count":${before + 1}}`);
    await page.click('.service[data-name="saved"] .stop');
    await waitServiceState(page, 'saved', 'stopped');
    await page.reload();
    await ready();
    await page.click('.service[data-name="saved"] .start');
    await waitServiceState(page, 'saved', 'running');
    assert.equal(await sendTo(page, 'saved', { op: 'get' }), `→ {"count":${before + 1}}`, 'stored at stop');
    assert.deepEqual(problems, []);
  });
});

test('the Services panel shows a service of two copies that needs another', async () => {
  await withDemo({ isolated: true }, async ({ page, problems }) => {
    await waitMode(page, 'workers');
    await page.waitForFunction(() => document.querySelector('#events li[data-event="registry_loaded"]'));
    // Starting it starts what it depends on first.
    await page.click('.service[data-name="shards"] .start');
    await waitServiceState(page, 'shards', 'running');
    assert.equal(await serviceState(page, 'store'), 'running', 'its dependency was started first');
    await page.waitForFunction(() =>
      /2 copies · needs store/.test(document.querySelector('.service[data-name="shards"] .diag').textContent));
    // Each copy counts on its own: two adds of 1 make 2 in one copy or 1 in each.
    const counts = [];
    for (let i = 0; i < 2; i++) counts.push(JSON.parse((await sendTo(page, 'shards', { op: 'add', by: 1 })).slice(2)).count);
    assert.ok(['1,2', '1,1'].includes(counts.join()), `counts ${counts}`);
    // Stopping the dependency stops its dependent first.
    await page.click('.service[data-name="store"] .stop');
    await waitServiceState(page, 'store', 'stopped');
    assert.equal(await serviceState(page, 'shards'), 'stopped', 'the dependent was stopped with it');
    const events = await page.$$eval('#events li', (lis) => lis.map((li) => li.textContent));
    const order = events.filter((e) => /^service_state_changed (shards|store) .*"to":"stopped"/.test(e)).reverse();
    assert.match(order[0] ?? '', /^service_state_changed shards/, order.join('\n'));
    assert.deepEqual(problems, []);
  });
});
