// Runs in the page: how long the main thread is blocked while worker-bridge works on 64 MiB, in
// worker mode and on the main-thread fallback. For each case, every long task (a task over
// 50 ms, reported by PerformanceObserver('longtask')) during the call is recorded, and a
// setTimeout(0) probe records the longest gap between its callbacks (which sees blocking under
// 50 ms too). Reports numbers, never asserts them; a wrong output is reported as a failed check.
import init, { WorkerBridge } from '/target/bench-pkg/worker_bridge.js';
import { environment } from '../page.js';

const MiB = 1 << 20;

function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65_536)));
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');

async function sameBytes(a, b) {
  const [x, y] = await Promise.all([a, b].map(async (v) => new Uint8Array(v instanceof Blob ? await v.arrayBuffer() : v)));
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Long tasks and the longest setTimeout(0) gap while `fn()`'s promise is pending. */
async function watch(fn) {
  const longTasks = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) longTasks.push(e.duration);
  });
  observer.observe({ type: 'longtask' });
  let running = true;
  let last = performance.now();
  let maxGap = 0;
  const tick = () => {
    if (!running) return;
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  const t0 = performance.now();
  const out = await fn();
  const ms = performance.now() - t0;
  running = false;
  maxGap = Math.max(maxGap, performance.now() - last);
  await sleep(50); // long tasks are reported after they end
  observer.takeRecords().forEach((e) => longTasks.push(e.duration));
  observer.disconnect();
  return { out, ms, maxGapMs: maxGap, longTasks, longestTaskMs: Math.max(0, ...longTasks) };
}

window.runBench = async function runBench({ mib = 64, runs = 3, poolSize = 2, settleMs = 300, only = '' } = {}) {
  await init();
  const pool = await WorkerBridge.create({ poolSize, fallback: 'never' });
  const main = await WorkerBridge.create({ fallback: 'always' });
  const data = randomBytes(mib * MiB);
  const blob = new Blob([data]);
  const key = pool.crypto.generateKey();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  const sealed = await pool.crypto.encryptFile(data, key, { output: 'bytes' });
  const nonce = pool.crypto.generateNonce();
  const oneShot = await pool.crypto.encrypt(data, key, nonce);
  const text = new TextEncoder().encode('worker-bridge keeps the page free. '.repeat((mib * MiB) / 70));
  const packed = await pool.compression.gzip(text);

  const cases = [];
  for (const [name, b] of [['pool', pool], ['main', main]]) {
    cases.push(
      { id: `${name} sha256(bytes)`, run: () => b.crypto.sha256(data), check: (d) => sameBytes(d, digest) },
      {
        id: `${name} sha256(bytes, transfer)`,
        prepare: () => data.slice(),
        run: (copy) => b.crypto.sha256(copy, { transfer: true }),
        check: (d) => sameBytes(d, digest),
      },
      { id: `${name} sha256(Blob)`, run: () => b.crypto.sha256(blob), check: (d) => sameBytes(d, digest) },
      { id: `${name} readSlice(bytes) → bytes`, run: () => b.file.readSlice(data, 0, data.length), check: (d) => sameBytes(d, data) },
      {
        id: `${name} encryptFile(Blob) → Blob`,
        run: () => b.crypto.encryptFile(blob, key),
        check: async (s) => sameBytes(await pool.crypto.decryptFile(s, key), data),
      },
      {
        id: `${name} encryptFile(bytes) → bytes`,
        run: () => b.crypto.encryptFile(data, key, { output: 'bytes' }),
        check: async (s) => sameBytes(await pool.crypto.decryptFile(s, key), data),
      },
      { id: `${name} decryptFile(bytes) → Blob`, run: () => b.crypto.decryptFile(sealed, key), check: (p) => sameBytes(p, data) },
      {
        id: `${name} encrypt(bytes), one-shot`,
        run: () => b.crypto.encrypt(data, key, b.crypto.generateNonce()),
        check: (c) => c.length === data.length + 16,
      },
      { id: `${name} decrypt(bytes), one-shot`, run: () => b.crypto.decrypt(oneShot, key, nonce), check: (p) => sameBytes(p, data) },
      { id: `${name} gzip(${mib / 2} MiB text)`, run: () => b.compression.gzip(text), check: (z) => z.length > 0 },
      { id: `${name} gunzip(→ ${mib / 2} MiB text)`, run: () => b.compression.gunzip(packed), check: (t) => sameBytes(t, text) },
    );
  }

  const results = [];
  for (const c of cases.filter((x) => x.id.includes(only))) {
    const samples = [];
    let ok = true;
    for (let r = 0; r < runs; r++) {
      const input = c.prepare?.();
      await sleep(settleMs);
      const s = await watch(() => c.run(input));
      if (r === 0) ok = await c.check(s.out);
      delete s.out;
      samples.push(s);
    }
    results.push({
      id: c.id,
      ok,
      longestTaskMs: Math.max(...samples.map((s) => s.longestTaskMs)),
      longTasks: samples.reduce((n, s) => n + s.longTasks.length, 0),
      maxGapMs: Math.max(...samples.map((s) => s.maxGapMs)),
      medianMs: samples.map((s) => s.ms).sort((a, b) => a - b)[samples.length >> 1],
    });
  }
  pool.terminate();
  main.terminate();
  return { ...environment(), digest: hex(digest), results };
};

document.body.dataset.ready = 'true';
