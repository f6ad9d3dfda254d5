// Runs in the page: each handler of worker-bridge — over a pool of workers and on the main thread
// — against the browser's native API on the same bytes. Every run is timed the same way, with a
// probe loop (setTimeout(0) and requestAnimationFrame) watching how long the main thread is
// blocked while it runs.
import init, { WorkerBridge } from '/target/bench-pkg/worker_bridge.js';
import { compressibleText, environment, equalBytes, median } from '../page.js';
// The peer for a streamed SHA-256 of a Blob (WebCrypto has no streaming digest): hash-wasm's
// incremental hasher, on the page, as an app without worker-bridge would run it.
import { createSHA256 } from '/node_modules/hash-wasm/dist/index.esm.js';
import { gzipSync as fflateGzip } from '/node_modules/fflate/esm/browser.js';

const MiB = 1 << 20;
const subtle = crypto.subtle;
const encoder = new TextEncoder();

/** `n` random bytes (getRandomValues fills at most 64 KiB per call). */
function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65_536)));
  return out;
}

const u8 = (x) => (x instanceof Uint8Array ? x : new Uint8Array(x));

const hex = (bytes) => Array.from(u8(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let settleMs = 100;

/**
 * Starts two probe loops — a setTimeout(0) chain and a requestAnimationFrame chain — and returns
 * `stop()`, which reports the longest gap between consecutive callbacks of each (counting from
 * the start and up to the stop, so blocking before the first or after the last callback counts).
 * Idle, the setTimeout chain ticks every ~4 ms (the nesting clamp) and rAF every ~16.7 ms.
 */
function startProbe() {
  const start = performance.now();
  let running = true;
  let lastTick = start;
  let maxTick = 0;
  let ticks = 0;
  let lastFrame = start;
  let maxFrame = 0;
  let frames = 0;
  const tick = () => {
    if (!running) return;
    const now = performance.now();
    maxTick = Math.max(maxTick, now - lastTick);
    lastTick = now;
    ticks++;
    setTimeout(tick, 0);
  };
  const frame = () => {
    if (!running) return;
    const now = performance.now();
    maxFrame = Math.max(maxFrame, now - lastFrame);
    lastFrame = now;
    frames++;
    requestAnimationFrame(frame);
  };
  setTimeout(tick, 0);
  requestAnimationFrame(frame);
  return () => {
    running = false;
    const now = performance.now();
    return {
      maxTimeoutGapMs: Math.max(maxTick, now - lastTick),
      maxFrameGapMs: Math.max(maxFrame, now - lastFrame),
      ticks,
      frames,
    };
  };
}

/**
 * One timed run of `fn` (until its promise settles), with the blocking probe running. `callMs` is
 * the synchronous part: how long `fn()` took to hand back its promise.
 */
async function timed(fn, prepare = () => undefined) {
  const input = prepare(); // not timed
  // Let the previous run's callbacks drain and give the page idle time, in which V8 collects the
  // previous runs' garbage, so less of it lands inside this run.
  await sleep(settleMs);
  const stop = startProbe();
  const t0 = performance.now();
  const pending = fn(input);
  const callMs = performance.now() - t0;
  await pending;
  const ms = performance.now() - t0;
  return { ms, callMs, ...stop() };
}

/** Native gzip / gunzip through the Compression Streams API. */
const nativeGzip = (bytes) =>
  new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
const nativeGunzip = (bytes) =>
  new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();

/**
 * Opens an `encryptFile` stream with WebCrypto alone, following docs/stream-format.md (HKDF-SHA256
 * file key, per-chunk AES-GCM with nonce prefix ‖ index ‖ last, the header as AAD): an
 * independent check of our output.
 */
async function openStreamWithWebCrypto(sealed, key) {
  const bytes = new Uint8Array(await sealed.arrayBuffer());
  const header = bytes.slice(0, 32);
  if (new TextDecoder().decode(header.subarray(0, 4)) !== 'WBS1' || header[4] !== 1) throw new Error('bad header');
  const chunkSize = new DataView(header.buffer).getUint32(5);
  const salt = header.slice(9, 25);
  const prefix = header.slice(25, 32);
  const ikm = await subtle.importKey('raw', key, 'HKDF', false, ['deriveKey']);
  const fileKey = await subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt, info: encoder.encode('worker-bridge stream v1') },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['decrypt'],
  );
  const parts = [];
  let pos = 32;
  let index = 0;
  while (pos < bytes.length) {
    const end = Math.min(pos + chunkSize + 16, bytes.length);
    const nonce = new Uint8Array(12);
    nonce.set(prefix);
    new DataView(nonce.buffer).setUint32(7, index);
    nonce[11] = end === bytes.length ? 1 : 0;
    const plain = await subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: header }, fileKey,
      bytes.subarray(pos, end));
    parts.push(new Uint8Array(plain));
    pos = end;
    index++;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return { plain: out, chunks: index, chunkSize, sealedBytes: bytes.length };
}

window.runBench = async (config) => {
  const { cryptoMiB, compressionMiB, gzipLevel, runs, transferRuns, poolSize } = config;
  settleMs = config.settleMs;
  await init();
  const pool = await WorkerBridge.create({ poolSize, fallback: 'never' });
  const main = await WorkerBridge.create({ fallback: 'always' });
  // One worker of one thread: what a split call (gzip across the pool) is measured against.
  const one = await WorkerBridge.create({ poolSize: 1, threads: 1, fallback: 'never' });
  const bridges = { pool, main };

  const data = randomBytes(cryptoMiB * MiB);
  const blob = new Blob([data]);
  const smallBlob = new Blob([data.subarray(0, 16 * MiB)]);
  const text = compressibleText(compressionMiB * MiB);
  const key = pool.crypto.generateKey();
  const cryptoKey = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
  const nativeEncrypt = () =>
    subtle.encrypt({ name: 'AES-GCM', iv: crypto.getRandomValues(new Uint8Array(12)) }, cryptoKey, data);
  let packed; // our gzip output, set by the gzip check, input of the gunzip benchmark
  const hasher = await createSHA256();
  /** hash-wasm's streaming SHA-256 of `of` (the large Blob by default), read chunk by chunk through `blob.stream()`. */
  const hashWasmStreamed = async (of = blob) => {
    hasher.init();
    const reader = of.stream().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hasher.update(value);
    }
    return hasher.digest('binary');
  };

  // The compared runs pass no `transfer`: the bridge copies each input, so the same buffers serve
  // every run. Only the supplementary `transfer` runs move a fresh copy.
  const ops = [
    {
      id: 'sha256',
      label: `sha256 (${cryptoMiB} MiB)`,
      bytes: data.length,
      native: () => subtle.digest('SHA-256', data),
      bridge: (b) => b.crypto.sha256(data),
      transfer: { input: () => data.slice(), call: (copy) => pool.crypto.sha256(copy, { transfer: true }) },
      async verify() {
        const want = await subtle.digest('SHA-256', data);
        const checks = {};
        for (const [name, b] of Object.entries(bridges)) {
          checks[`${name} = WebCrypto`] = equalBytes(await b.crypto.sha256(data), want);
        }
        return { checks, digest: hex(want) };
      },
    },
    {
      id: 'sha256-blob',
      label: `sha256 (${cryptoMiB} MiB Blob, streamed)`,
      bytes: blob.size,
      // Not the browser's: WebCrypto cannot digest a stream; hash-wasm's hasher on the page.
      native: hashWasmStreamed,
      bridge: (b) => b.crypto.sha256(blob),
      async verify() {
        const want = await subtle.digest('SHA-256', data);
        const checks = { 'hash-wasm = WebCrypto': equalBytes(await hashWasmStreamed(), want) };
        for (const [name, b] of Object.entries(bridges)) {
          checks[`${name} = WebCrypto`] = equalBytes(await b.crypto.sha256(blob), want);
        }
        return { checks };
      },
    },
    {
      // A Blob within WEBCRYPTO_MAX_BLOB_DIGEST_BYTES: a worker reads it whole for WebCrypto.
      id: 'sha256-blob-16',
      label: 'sha256 (16 MiB Blob, read whole)',
      bytes: smallBlob.size,
      native: () => hashWasmStreamed(smallBlob),
      bridge: (b) => b.crypto.sha256(smallBlob),
      async verify() {
        const want = await subtle.digest('SHA-256', data.subarray(0, smallBlob.size));
        const checks = { 'hash-wasm = WebCrypto': equalBytes(await hashWasmStreamed(smallBlob), want) };
        for (const [name, b] of Object.entries(bridges)) {
          checks[`${name} = WebCrypto`] = equalBytes(await b.crypto.sha256(smallBlob), want);
        }
        return { checks };
      },
    },
    {
      id: 'aes-gcm',
      label: `AES-256-GCM encrypt (${cryptoMiB} MiB)`,
      bytes: data.length,
      native: nativeEncrypt,
      bridge: (b) => b.crypto.encrypt(data, key, b.crypto.generateNonce()),
      transfer: {
        input: () => data.slice(),
        call: (copy) => pool.crypto.encrypt(copy, key, pool.crypto.generateNonce(), { transfer: true }),
      },
      async verify() {
        // Our encrypt refuses a (key, nonce) it has already used, so each comparison is one call.
        const checks = {};
        for (const [name, b] of Object.entries(bridges)) {
          const nonce = b.crypto.generateNonce();
          const ours = await b.crypto.encrypt(data, key, nonce);
          const theirs = await subtle.encrypt({ name: 'AES-GCM', iv: nonce }, cryptoKey, data);
          checks[`${name} = WebCrypto (same key+nonce)`] = ours.length === data.length + 16 && equalBytes(ours, theirs);
        }
        return { checks };
      },
    },
    {
      id: 'encryptFile',
      label: `encryptFile (${cryptoMiB} MiB Blob)`,
      bytes: blob.size,
      native: nativeEncrypt, // one-shot AES-GCM over the same bytes (WebCrypto has no chunked stream)
      bridge: (b) => b.crypto.encryptFile(blob, key),
      async verify() {
        const checks = {};
        let format;
        for (const [name, b] of Object.entries(bridges)) {
          const sealed = await b.crypto.encryptFile(blob, key);
          let ok = sealed instanceof Blob;
          if (ok) {
            const opened = await openStreamWithWebCrypto(sealed, key);
            ok = opened.sealedBytes === 32 + data.length + 16 * opened.chunks && equalBytes(opened.plain, data);
            format = { chunkSize: opened.chunkSize, chunks: opened.chunks, sealedBytes: opened.sealedBytes };
          }
          checks[`${name} opens with WebCrypto (HKDF + per-chunk AES-GCM)`] = ok;
        }
        return { checks, format };
      },
    },
    {
      id: 'gzip',
      label: `gzip level ${gzipLevel} (${compressionMiB} MiB text)`,
      bytes: text.length,
      native: () => nativeGzip(text),
      bridge: (b) => b.compression.gzip(text, { level: gzipLevel }),
      transfer: {
        input: () => text.slice(),
        call: (copy) => pool.compression.gzip(copy, { level: gzipLevel, transfer: true }),
      },
      vsOneWorker: true,
      // fflate, the fastest JavaScript gzip, on the page: the peer one worker is measured against.
      peer: () => fflateGzip(text, { level: gzipLevel }),
      async verify() {
        const checks = {};
        const sizes = { input: text.length };
        const peer = fflateGzip(text, { level: gzipLevel });
        sizes.fflate = peer.length;
        checks['fflate output → our gunzip = input'] = equalBytes(await pool.compression.gunzip(peer), text);
        const single = await one.compression.gzip(text, { level: gzipLevel });
        checks['one worker\'s output = the pool\'s (split across workers, same bytes)'] = equalBytes(
          single, await pool.compression.gzip(text, { level: gzipLevel }));
        for (const [name, b] of Object.entries(bridges)) {
          const ours = await b.compression.gzip(text, { level: gzipLevel });
          checks[`${name} output → DecompressionStream = input`] = equalBytes(await nativeGunzip(ours), text);
          sizes[name] = ours.length;
          if (name === 'pool') packed = ours;
        }
        const theirs = await nativeGzip(text);
        sizes.native = theirs.byteLength;
        checks['CompressionStream output → our gunzip = input'] = equalBytes(await pool.compression.gunzip(theirs), text);
        return { checks, sizes };
      },
    },
    {
      id: 'gunzip',
      label: `gunzip (${compressionMiB} MiB out)`,
      bytes: text.length, // throughput counts decompressed bytes
      native: () => nativeGunzip(packed),
      bridge: (b) => b.compression.gunzip(packed),
      transfer: { input: () => packed.slice(), call: (copy) => pool.compression.gunzip(copy, { transfer: true }) },
      async verify() {
        packed ??= await pool.compression.gzip(text, { level: gzipLevel }); // `--only gunzip`
        const checks = {};
        for (const [name, b] of Object.entries(bridges)) {
          checks[`${name} = input`] = equalBytes(await b.compression.gunzip(packed), text);
        }
        return { checks, inputBytes: packed.length };
      },
    },
  ];

  // How much the probe itself sees with nothing running: its floor.
  const idleStop = startProbe();
  await sleep(1_000);
  const idle = idleStop();

  const impls = ['native', 'pool', 'main'];
  const summarize = (op, s) => {
    const ms = median(s.map((x) => x.ms));
    return {
      mbps: op.bytes / 1e6 / (ms / 1000),
      medianMs: ms,
      maxTimeoutGapMs: Math.max(...s.map((x) => x.maxTimeoutGapMs)),
      maxFrameGapMs: Math.max(...s.map((x) => x.maxFrameGapMs)),
      maxCallMs: Math.max(...s.map((x) => x.callMs)),
      runs: s,
    };
  };
  const results = [];
  for (const op of ops) {
    if (config.only && !config.only.includes(op.id)) continue;
    const verification = await op.verify();
    const calls = { native: op.native, pool: () => op.bridge(pool), main: () => op.bridge(main) };
    for (const impl of impls) await timed(calls[impl]); // one warm-up run each, not counted
    await sleep(5 * settleMs); // the checks and warm-ups leave much garbage
    const samples = Object.fromEntries(impls.map((i) => [i, []]));
    // Rounds interleave the three so drift (GC, other load) hits them alike.
    for (let r = 0; r < runs; r++) for (const impl of impls) samples[impl].push(await timed(calls[impl]));
    const byImpl = {};
    for (const impl of impls) byImpl[impl] = summarize(op, samples[impl]);
    // Supplementary: the same pool call with `transfer: true` on a fresh copy made before the
    // timer starts — how much of the pool's blocking is the copy of a non-transferred input.
    // Rounds interleave it with native runs of its own, so its ratio pairs runs made under the
    // same conditions (the fresh copies' garbage included) rather than the main rounds'.
    if (op.transfer) {
      const s = { native: [], transfer: [] };
      for (let r = 0; r < transferRuns; r++) {
        s.native.push(await timed(op.native));
        s.transfer.push(await timed(op.transfer.call, op.transfer.input));
      }
      byImpl.poolTransfer = summarize(op, s.transfer);
      byImpl.nativeBesideTransfer = summarize(op, s.native);
    }
    // Supplementary: the same call on one worker of one thread, rounds interleaved with the pool.
    // With a peer library, its runs on the page interleaved too.
    if (op.vsOneWorker) {
      const s = { one: [], pool: [], peer: [] };
      for (let r = 0; r < runs; r++) {
        s.one.push(await timed(() => op.bridge(one)));
        s.pool.push(await timed(() => op.bridge(pool)));
        if (op.peer) s.peer.push(await timed(op.peer));
      }
      byImpl.oneWorker = summarize(op, s.one);
      byImpl.poolBesideOne = summarize(op, s.pool);
      if (op.peer) byImpl.peerBesideOne = summarize(op, s.peer);
    }
    results.push({ id: op.id, label: op.label, bytes: op.bytes, verification, ...byImpl });
  }

  const poolStatus = pool.status();
  const mainStatus = main.status();
  await pool.terminate();
  await main.terminate();
  await one.terminate();
  return {
    ...environment(),
    pool: { mode: poolStatus.mode, workers: poolStatus.workers.length, counters: poolStatus.counters },
    main: { mode: mainStatus.mode, counters: mainStatus.counters },
    idle,
    results,
  };
};

document.body.dataset.ready = 'true';
