// Runs in the page: the Web Streams of worker-bridge against its one-shot calls on the same
// bytes (gzipStream / gzip, gunzipStream / gunzip, encryptStream / encryptFile, decryptStream /
// decryptFile), with the platform's Compression Streams as a reference; then long chains
// (encryptStream → decryptStream, gzipStream → gunzipStream) over bytes made as they are pulled
// and checked as they arrive, with the workers' wasm memory watched. benches/streams.mjs drives it.
import init, { WorkerBridge } from '/target/bench-pkg/worker_bridge.js';
import { environment, equalBytes, median } from '../page.js';

const MiB = 1 << 20;
const encoder = new TextEncoder();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => console.log(`[streams] ${line}`);

/** `n` bytes of log-like text from a fixed seed: compresses about 4:1 with gzip -6. */
function baseText(n) {
  let state = 0x6d2b79f5;
  const rnd = (k) => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return (state >>> 8) % k;
  };
  const pick = (xs) => xs[rnd(xs.length)];
  const words = ('upload chunk sealed verified retry queue worker pool stream backpressure flush ' +
    'gzip inflate key nonce header tag blob file slice read write done').split(' ');
  const out = new Uint8Array(n);
  let off = 0;
  let t = 1_764_000_000;
  while (off < n) {
    t += rnd(90);
    const line = `${t}.${String(rnd(1000)).padStart(3, '0')} ${pick(['info', 'info', 'debug', 'warn', 'error'])} ` +
      `worker=${rnd(8)} call=${rnd(1 << 20).toString(36)} bytes=${rnd(1 << 24)} ` +
      `${Array.from({ length: 2 + rnd(7) }, () => pick(words)).join(' ')}\n`;
    off += encoder.encodeInto(line, out.subarray(off)).written; // the last line is cut to fit
  }
  return out;
}

/**
 * `total` bytes of text handed out `chunk` bytes at a time, made again identically on demand:
 * chunk `k` is the piece of a fixed 8 MiB text that starts at a position hashed from `k`. Nothing
 * holds more than one chunk, so 1 GiB costs no memory; `expected(p)` answers "which bytes were at
 * position p" for the checker.
 */
class TextSource {
  constructor(base, total, chunk) {
    this.base = base;
    this.total = total;
    this.chunk = chunk;
  }

  start(k) {
    return (Math.imul(k + 1, 0x9e3779b1) >>> 0) % (this.base.length - this.chunk + 1);
  }

  /** Chunk `k` as a view of the base text. */
  view(k) {
    const size = Math.min(this.chunk, this.total - k * this.chunk);
    const at = this.start(k);
    return this.base.subarray(at, at + size);
  }

  /** All `total` bytes in one buffer (for the one-shot calls; only for small totals). */
  bytes() {
    const out = new Uint8Array(this.total);
    for (let k = 0; k * this.chunk < this.total; k++) out.set(this.view(k), k * this.chunk);
    return out;
  }

  /**
   * A ReadableStream of the chunks, each a fresh copy (a view would take its whole 8 MiB buffer
   * with it when the stream is transferred to a worker). `onChunk(bytesSoFar)` after each.
   */
  stream(onChunk = () => {}) {
    let k = 0;
    return new ReadableStream({
      pull: (controller) => {
        if (k * this.chunk >= this.total) {
          controller.close();
          return;
        }
        controller.enqueue(this.view(k).slice());
        k++;
        onChunk(Math.min(k * this.chunk, this.total));
      },
    });
  }
}

/** A ReadableStream of `bytes` in fresh copies of `chunk` bytes. */
function chunksOf(bytes, chunk) {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) controller.close();
      else controller.enqueue(bytes.slice(at, (at += chunk)));
    },
  });
}

/** Reads `readable` to its end, handing each chunk to `each`; resolves to the byte count. */
async function drain(readable, each = () => {}) {
  const reader = readable.getReader();
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return n;
    if (!(value instanceof Uint8Array)) throw new TypeError('a chunk that is not a Uint8Array');
    each(value, n);
    n += value.length;
  }
}

/**
 * A checker of bytes as they arrive against `expectedView(k)` (the k-th chunk of `chunk` bytes
 * that should arrive): `push(chunk)` compares, `result()` says whether all `total` bytes matched.
 */
function checker(total, chunk, expectedView) {
  let pos = 0;
  let firstMismatch = -1;
  return {
    push(value) {
      let i = 0;
      while (i < value.length && firstMismatch < 0) {
        if (pos >= total) {
          firstMismatch = pos;
          break;
        }
        const k = Math.floor(pos / chunk);
        const want = expectedView(k);
        const within = pos - k * chunk;
        const n = Math.min(want.length - within, value.length - i);
        for (let j = 0; j < n; j++) {
          if (value[i + j] !== want[within + j]) {
            firstMismatch = pos + j;
            break;
          }
        }
        i += n;
        pos += n;
      }
    },
    result: () => ({ matched: firstMismatch < 0 && pos === total, bytes: pos, firstMismatch }),
  };
}

/** Everything `readable` gives, joined (for the checks outside the timed runs). */
async function collect(readable) {
  const parts = [];
  const n = await drain(readable, (v) => parts.push(v));
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** ms of `run()`. */
async function timed(run) {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

/** Part 1: each stream against its one-shot call (and the platform's stream) on the same bytes. */
async function throughput(config, base) {
  const { chunkMiB, gzipLevel: level, runs } = config;
  const chunk = chunkMiB * MiB;
  const text = new TextSource(base, config.mib * MiB, chunk).bytes();
  const options = { poolSize: 1, fallback: 'never' };
  WorkerBridge.__transferStreams(Boolean(config.transfer));
  const bridge = await WorkerBridge.create(options);
  // The one-shot calls on the Rust engine: what the streams run on (they never take WebCrypto).
  const rust = await WorkerBridge.create({ ...options, engine: 'rust' });
  const key = bridge.crypto.generateKey();
  const gz = await bridge.compression.gzip(text, { level });
  const sealed = await bridge.crypto.encryptFile(text, key, { output: 'bytes' });

  // `bytes` is what MB/s counts: the uncompressed / plaintext side, as bench:handlers does.
  const ops = [
    {
      id: 'gzip',
      label: `gzip level ${level}`,
      input: text,
      oneShot: (b) => b.compression.gzip(text, { level }),
      stream: (b) => b.compression.gzipStream({ level }),
      platform: () => new CompressionStream('gzip'),
      // The stream's output, checked by gunzipping it (one-shot) back to the text.
      check: async (out) => equalBytes(await bridge.compression.gunzip(out), text),
    },
    {
      id: 'gunzip',
      label: 'gunzip',
      input: gz,
      oneShot: (b) => b.compression.gunzip(gz),
      stream: (b) => b.compression.gunzipStream(),
      platform: () => new DecompressionStream('gzip'),
      check: async (out) => equalBytes(out, text),
    },
    {
      id: 'encrypt',
      label: 'encryptStream / encryptFile',
      engineMatters: true,
      input: text,
      oneShot: (b) => b.crypto.encryptFile(text, key, { output: 'bytes' }),
      stream: (b) => b.crypto.encryptStream(key),
      check: async (out) => out.length === sealed.length &&
        equalBytes(await bridge.crypto.decryptFile(out, key, { output: 'bytes' }), text),
    },
    {
      id: 'decrypt',
      label: 'decryptStream / decryptFile',
      engineMatters: true,
      input: sealed,
      oneShot: (b) => b.crypto.decryptFile(sealed, key, { output: 'bytes' }),
      stream: (b) => b.crypto.decryptStream(key),
      check: async (out) => equalBytes(out, text),
    },
  ];
  const kinds = {
    oneShot: (op) => op.oneShot(bridge),
    stream: (op) => drain(chunksOf(op.input, chunk).pipeThrough(op.stream(bridge))),
    oneShotRust: (op) => op.engineMatters && op.oneShot(rust),
    platform: (op) => op.platform && drain(chunksOf(op.input, chunk).pipeThrough(op.platform())),
  };

  const results = [];
  for (const op of ops) {
    log(`${op.label}: checks and warm-up`);
    const checks = {
      'stream output right': await op.check(await collect(chunksOf(op.input, chunk).pipeThrough(op.stream(bridge)))),
    };
    if (op.platform) {
      const out = await collect(chunksOf(op.input, chunk).pipeThrough(op.platform()));
      checks['platform output right'] = op.id === 'gzip' ? equalBytes(await bridge.compression.gunzip(out), text)
        : equalBytes(out, text);
    }
    for (const run of Object.values(kinds)) await run(op);
    const times = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
    for (let i = 0; i < runs; i++) {
      for (const [kind, run] of Object.entries(kinds)) {
        if ((kind === 'platform' && !op.platform) || (kind === 'oneShotRust' && !op.engineMatters)) continue;
        times[kind].push(await timed(() => run(op)));
      }
      log(`${op.label}: run ${i + 1}/${runs}`);
    }
    const ms = Object.fromEntries(Object.entries(times).filter(([, t]) => t.length).map(([k, t]) => [k, median(t)]));
    results.push({ id: op.id, label: op.label, bytes: text.length, inputBytes: op.input.length, ms, times, checks });
  }
  const engines = bridge.status().engines;
  await bridge.terminate();
  await rust.terminate();
  return { bytes: text.length, gzBytes: gz.length, sealedBytes: sealed.length, engines, results };
}

/** The largest `memoryBytes` each worker reported, watched until `stop()`. */
function watchMemory(bridge, everyMs) {
  const max = new Map();
  let pageHeap = 0;
  const look = () => {
    for (const w of bridge.status().workers) max.set(w.id, Math.max(max.get(w.id) ?? 0, w.memoryBytes));
    pageHeap = Math.max(pageHeap, performance.memory?.usedJSHeapSize ?? 0);
  };
  look();
  const timer = setInterval(look, everyMs);
  return () => {
    clearInterval(timer);
    look();
    return { perWorker: [...max.values()], max: Math.max(0, ...max.values()), pageHeapMax: pageHeap || null };
  };
}

/**
 * Part 2: `total` bytes made as they are pulled, through two stream stages chained with
 * `pipeThrough`, checked against the source as they arrive; a fresh bridge each (wasm memory
 * never shrinks, so each chain's own peak is seen).
 */
async function chain(config, base, name, stages, { poolSize }) {
  const { healthIntervalMs } = config;
  const chunk = config.chunkMiB * MiB;
  const total = config.bigMiB * MiB;
  const bridge = await WorkerBridge.create({ poolSize, fallback: 'never', healthIntervalMs, timeoutMs: 0 });
  const key = bridge.crypto.generateKey();
  await sleep(3 * healthIntervalMs); // the first health pings: memory before the run
  const before = bridge.status().workers.map((w) => w.memoryBytes);
  const source = new TextSource(base, total, chunk);
  const check = checker(total, chunk, (k) => source.view(k));
  const stop = watchMemory(bridge, 100);
  const t0 = performance.now();
  let next = 128 * MiB;
  let readable = source.stream((n) => {
    if (n >= next) {
      log(`${name}: ${n / MiB} MiB of ${config.bigMiB} pulled, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      next += 128 * MiB;
    }
  });
  for (const stage of stages(bridge, key)) readable = readable.pipeThrough(stage);
  let error = null;
  try {
    await drain(readable, (v) => check.push(v));
  } catch (e) {
    error = `${e?.name}: ${e?.message}`;
  }
  const ms = performance.now() - t0;
  await sleep(3 * healthIntervalMs); // a ping after the end: memory as the run left it
  const memory = stop();
  const status = bridge.status();
  await bridge.terminate();
  return { name, poolSize, ms, total, error, ...check.result(), memory, memoryBefore: before,
    workers: status.workers.length, counters: status.counters };
}

/**
 * Whether a chain of two stream calls finishes on a pool of ONE worker: a worker runs one call
 * at a time, so the second stage may never start while the first waits for it to read.
 * Resolves to `{ finished, ms }` within `limitMs`; the calls are aborted after that.
 */
async function chainOnOneWorker(config, base, limitMs) {
  const bridge = await WorkerBridge.create({ poolSize: 1, fallback: 'never', timeoutMs: 0 });
  const key = bridge.crypto.generateKey();
  const controller = new AbortController();
  const total = 16 * MiB;
  const source = new TextSource(base, total, config.chunkMiB * MiB);
  const t0 = performance.now();
  const run = drain(source.stream()
    .pipeThrough(bridge.crypto.encryptStream(key, { signal: controller.signal }))
    .pipeThrough(bridge.crypto.decryptStream(key, { signal: controller.signal })));
  const outcome = await Promise.race([
    run.then((n) => ({ finished: n === total }), (e) => ({ finished: false, error: `${e?.name}: ${e?.message}` })),
    sleep(limitMs).then(() => null),
  ]);
  const ms = performance.now() - t0;
  const status = bridge.status();
  const atLimit = { queued: status.queued, busy: status.workers.map((w) => w.state),
    restarts: status.workers.map((w) => w.restarts), lastError: status.workers.map((w) => w.lastError ?? null) };
  let abortSettled = null; // whether aborting the calls ended the chain (within 5 s)
  if (!outcome) {
    controller.abort();
    abortSettled = await Promise.race([run.then(() => true, () => true), sleep(5_000).then(() => false)]);
  }
  await bridge.terminate();
  return { bytes: total, limitMs, ms, ...(outcome ?? { finished: false, timedOut: true }), atLimit, abortSettled };
}

window.runBench = async (config) => {
  await init();
  const base = baseText(8 * MiB);
  const out = { ...environment(), config };
  if (config.parts.includes('throughput')) out.throughput = await throughput(config, base);
  if (config.parts.includes('chains')) {
    out.oneWorkerChain = await chainOnOneWorker(config, base, config.oneWorkerLimitMs);
    log(`chain on one worker: ${JSON.stringify(out.oneWorkerChain)}`);
    out.chains = [];
    const crypt = (b, key) => [b.crypto.encryptStream(key), b.crypto.decryptStream(key)];
    // gunzipStream stops at `maxOutputBytes` (default 512 MiB) even when its output is streamed.
    const zip = (b) => [b.compression.gzipStream({ level: config.gzipLevel }),
      b.compression.gunzipStream({ maxOutputBytes: config.bigMiB * MiB })];
    for (const [name, stages] of [['encryptStream → decryptStream', crypt], ['gzipStream → gunzipStream', zip]]) {
      out.chains.push(await chain(config, base, name, stages, { poolSize: config.chainPoolSize }));
      log(`${name}: ${JSON.stringify(out.chains.at(-1))}`);
    }
  }
  return out;
};

document.body.dataset.ready = 'true';
