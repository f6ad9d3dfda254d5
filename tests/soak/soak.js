// The soak, in the page: `calls` mixed calls — the crypto, file and compression facades and
// messages to a JavaScript and a Rust service — with faults injected through the test-only ops
// and the API (worker kills, hangs, aborts before and during calls, timeouts, resize, service
// restarts), plus malformed protocol messages posted to pool workers and malformed envelopes
// given to `services.handle()`. It checks that every promise settles, that every result is right
// (against WebCrypto, Compression Streams and reference.js, never against the library itself),
// that every rejection has a name the injected fault explains, that the pool returns to its full
// size with consistent counters and nothing left queued or subscribed, and that worker memory
// levels off. Driven by scripts/soak.mjs; `window.runSoak(config)` returns the figures and the
// list of violations (empty when the soak passed).
//
// Every random choice comes from one seeded generator, drawn in call order before anything is
// awaited: the same seed replays the same calls, faults and inputs (the interleaving on the
// workers is the machine's).
import init, { SharedCancellation, WorkerBridge } from '/target/bench-pkg/worker_bridge.js';
import * as ref from './reference.js';
import { environment } from '../../benches/page.js';

const MiB = 1 << 20;
const POOL_SIZE = 2;
const MAX_IN_FLIGHT = 64; // the bridge's default maxInFlightPerWorker
const HEALTH_MS = 1000; // pings, which also report each worker's memory
const CALL_TIMEOUT_MS = 30_000; // the bridge's per-call limit for calls without a fault
const STUCK_MS = 60_000; // a promise unsettled this long is reported as never settling
const MALFORMED = 1000; // of each kind: protocol messages to workers, envelopes to handle()
const RAW_AT_CHECKPOINT = 100; // of those to workers, posted at each of 3 quiet moments (the rest during the run)

// ---- randomness ------------------------------------------------------------------------------

/** mulberry32: small, fast, good enough to pick faults and fill buffers. */
function generator(seed) {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let x = t;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

class Rand {
  constructor(seed) {
    this.next = generator(seed);
  }
  int(n) {
    return Math.floor(this.next() * n);
  }
  range(lo, hi) {
    return lo + this.int(hi - lo + 1);
  }
  chance(p) {
    return this.next() < p;
  }
  pick(xs) {
    return xs[this.int(xs.length)];
  }
  bytes(n) {
    const out = new Uint8Array(n);
    const words = new Uint32Array(out.buffer, 0, n >> 2);
    for (let i = 0; i < words.length; i++) words[i] = (this.next() * 4294967296) >>> 0;
    for (let i = words.length * 4; i < n; i++) out[i] = this.int(256);
    return out;
  }
  /** Text-like bytes that compress. */
  text(n) {
    const words = ['worker', 'bridge', 'soak', 'pool', 'chunk', 'gzip', 'nonce', 'tag', 'frame', 'queue', '\n'];
    const parts = [];
    let len = 0;
    while (len < n) {
      const w = this.pick(words);
      parts.push(w);
      len += w.length + 1;
    }
    return new TextEncoder().encode(parts.join(' ')).subarray(0, n);
  }
  /** Mostly small, sometimes large: 60% < 16 KiB, 35% < 256 KiB, 5% up to 2 MiB. */
  size() {
    const r = this.next();
    if (r < 0.6) return this.int(16 << 10);
    if (r < 0.95) return this.range(16 << 10, 256 << 10);
    return this.range(256 << 10, 2 * MiB);
  }
  uuid() {
    const b = this.bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  /** A JSON value (integers and plain strings only, so it survives serde_json unchanged). */
  json(depth = 0) {
    const r = this.int(depth > 2 ? 4 : 6);
    if (r === 0) return null;
    if (r === 1) return this.chance(0.5);
    if (r === 2) return this.range(-1e6, 1e6);
    if (r === 3) return `s${this.int(1e9)}`;
    if (r === 4) return Array.from({ length: this.int(4) }, () => this.json(depth + 1));
    return Object.fromEntries(Array.from({ length: this.int(4) }, (_, i) => [`k${i}${this.int(99)}`, this.json(depth + 1)]));
  }
}

// ---- inputs and checks -----------------------------------------------------------------------

/** How an input reaches the bridge: a view, a view into a larger buffer, a Blob, moved. */
function wrap(rand, bytes) {
  const r = rand.next();
  if (r < 0.15) return { input: new Blob([bytes]), options: {} };
  if (r < 0.25) return { input: bytes.slice(), options: { transfer: true } };
  if (r < 0.3) return { input: bytes.slice().buffer, options: {} };
  if (r < 0.4) {
    const big = new Uint8Array(bytes.length + 24);
    big.set(bytes, 11);
    return { input: big.subarray(11, 11 + bytes.length), options: {} };
  }
  return { input: bytes, options: {} };
}

const asBytes = async (v) => (v instanceof Blob ? new Uint8Array(await v.arrayBuffer()) : v);

/** JSON with sorted keys: the Rust store returns objects with their keys sorted. */
const canonical = (v) =>
  JSON.stringify(v, (_, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));

function sameBytesOr(what, got, want) {
  if (!(got instanceof Uint8Array)) return `${what}: not a Uint8Array (${Object.prototype.toString.call(got)})`;
  if (!ref.sameBytes(got, want)) return `${what}: ${got.length} bytes differ from the reference's ${want.length}`;
  return null;
}

/** onProgress's contract: 0..100, monotonic, ending with exactly one 100. */
function progressProblem(events) {
  if (!events.length) return 'onProgress was never called';
  let last = -1;
  for (const { progress } of events) {
    if (!(progress >= 0 && progress <= 100) || progress < last) return `progress not monotonic in 0..100: ${events.map((e) => e.progress)}`;
    last = progress;
  }
  const hundreds = events.filter((e) => e.progress === 100).length;
  if (last !== 100 || hundreds !== 1) return `progress did not end with exactly one 100 (${hundreds})`;
  return null;
}

// ---- malformed input -------------------------------------------------------------------------

/** A protocol message no pool worker can accept (each fails to decode, or has no body). */
function malformedMessage(rand) {
  const id = rand.uuid();
  const nest = (depth) => {
    let v = { kind: 'sha256' };
    for (let i = 0; i < depth; i++) v = { kind: 'echo', inner: v };
    return v;
  };
  // The pool's wire (src/io/wire.rs): [UTF-8 JSON of an array of envelopes, attachment…]. Each
  // malformed message below gets exactly one answer from a worker, so the count stays exact.
  const bytes = (text) => new TextEncoder().encode(text);
  const one = (envelope, attachment) => (attachment === undefined ? [bytes(JSON.stringify([envelope]))] : [bytes(JSON.stringify([envelope])), attachment]);
  const body = new Uint8Array(4);
  const all = [
    // Not the wire at all.
    () => null,
    () => undefined,
    () => rand.int(1e9),
    () => 'request',
    () => true,
    () => [1, 2, 3],
    () => ({}),
    () => ({ v: 2, msg: { type: 'ping', seq: 1 } }),
    () => [JSON.stringify([{ v: 2, msg: { type: 'ping', seq: 1 } }])],
    () => new Uint8Array(rand.int(64)),
    () => new Date(0),
    // The wire, with bytes that are not a batch.
    () => [bytes('')],
    () => [bytes('not json')],
    () => [bytes('{"v":2,"msg":{"type":"ping","seq":1}}')],
    () => [new Uint8Array([0xff, 0xfe, 0x5b, 0x5d])],
    () => [bytes(JSON.stringify(Array.from({ length: 257 }, () => ({ v: 2, msg: { type: 'ping', seq: 1 } }))))],
    () => [bytes('['.repeat(rand.pick([10, 1000, 5000])))],
    // One envelope that does not decode, or a request that cannot run.
    () => one(null),
    () => one({ v: 2 }),
    () => one({ msg: { type: 'ping', seq: 1 } }),
    () => one({ v: 1, msg: { type: 'ping', seq: 1 } }),
    () => one({ v: 'two', msg: { type: 'ping', seq: 1 } }),
    () => one({ v: 2, msg: null }),
    () => one({ v: 2, msg: 'ping' }),
    () => one({ v: 2, msg: { type: 'reboot' } }),
    () => one({ v: 2, msg: { type: 'ping' } }),
    () => one({ v: 2, msg: { type: 'ping', seq: -1 } }),
    () => one({ v: 2, msg: { type: 'ping', seq: 'one' } }),
    () => one({ v: 2, msg: { type: 'ping', seq: 1, extra: true } }),
    () => one({ v: 2, msg: { type: 'cancel' } }),
    () => one({ v: 2, msg: { type: 'cancel', id: 'not-a-uuid' } }),
    () => one({ v: 2, msg: { type: 'request' } }),
    () => one({ v: 2, msg: { type: 'request', id } }),
    () => one({ v: 2, msg: { type: 'request', id: 42, op: { kind: 'sha256' } } }),
    () => one({ v: 2, msg: { type: 'request', id, op: { kind: 'rm -rf' } } }),
    () => one({ v: 2, msg: { type: 'request', id, op: { kind: 'sha256' } } }), // no body
    () => one({ v: 2, msg: { type: 'request', id, op: { kind: 'sha256' } } }, 'not bytes'),
    () => one({ v: 2, msg: { type: 'request', id, op: { kind: 'sha256' } } }, { body: 'not bytes', cancel: 7 }),
    () => one({ v: 2, msg: { type: 'request', id, op: { kind: 'sha256' }, output: 'tape' } }, body),
    () => one({ v: 2, msg: { type: 'request', id, op: { kind: 'gzip', level: 99 } } }, body),
    () => one({ v: 2, msg: { type: 'request', id, op: { kind: 'encrypt', key: 'k' } } }, body),
    () => one({ v: 2, msg: { type: 'request', id, op: nest(rand.pick([10, 1000, 5000])) } }, body),
    () => one({ v: 2, msg: { type: 'x'.repeat(rand.range(1, 1 << 20)) } }),
  ];
  return rand.pick(all)();
}

/** A request envelope `handle()` must answer with an error response (never a valid request). */
function malformedEnvelope(rand, i) {
  const id = rand.pick([i, `req-${i}`, { nested: i }, null, undefined]);
  const req = (action, params) => ({ id, type: 'request', action, params });
  const all = [
    () => 'not an object',
    () => null,
    () => undefined,
    () => 42,
    () => [req('list_services')],
    () => ({ id, type: 'reply', action: 'list_services' }),
    () => ({ id, action: 'list_services' }),
    () => ({ id, type: 'request' }),
    () => ({ id, type: 'request', action: 42 }),
    () => req('reboot_universe'),
    () => req('get_service'),
    () => req('get_service', { name: 42 }),
    () => req('get_service', { name: `nope-${i}` }),
    () => req('service_action', { name: 'js', action: 'explode' }),
    () => req('service_action', { name: `nope-${i}`, action: 'start' }),
    () => req('service_action', { name: 'kv' }),
    () => req('service_action', { action: 'restart' }),
    () => req('subscribe', { events: 'service_state_changed' }),
    () => req('subscribe', { events: ['everything'] }),
    () => req('subscribe', { events: [42] }),
    () => req('unsubscribe', { events: ['nope'] }),
  ];
  const withoutListener = () => ({ request: req('subscribe', { events: ['worker_state_changed'] }), listener: false });
  const pick = rand.int(all.length + 1);
  if (pick === all.length) return withoutListener();
  return { request: all[pick](), listener: true };
}

// ---- the workload ----------------------------------------------------------------------------

/**
 * Draws call `i`: what it does, the fault it carries, and how to check it. `start()` (async:
 * references come first) issues the library call and returns its promise; `check(value)` says
 * what is wrong with a result (null when right); `allowed` lists the error names its fault
 * explains; `must` is the one name it has to reject with.
 */
function plan(rand, i, ctx) {
  const { bridge } = ctx;
  const r = rand.next();
  // A few faults at fixed points, so that even a short run has each: the pool shrinks and grows,
  // each service restarts.
  const forced = ctx.forced.get(i);
  if (forced === 'resize') return resizeItem(ctx, ctx.plannedSize > 1 ? 1 : 3);
  if (forced) return restartItem(ctx, forced);
  const empty = () => new Uint8Array(0);
  const nothing = (v) => (v instanceof Uint8Array && v.length === 0 ? null : `not an empty Uint8Array: ${v}`);
  if (r < 0.03) {
    const retries = rand.pick([0, 1]);
    const transfer = rand.chance(0.2);
    if (retries && !transfer) ctx.retries += 1; // retried once, on a worker that panics too
    return { kind: 'panic', fault: 'kill', must: 'WorkerCrashedError',
      start: () => ({ p: bridge.__testOp({ kind: 'panic' }, empty(), { retries, transfer }) }) };
  }
  if (r < 0.05) {
    const ms = rand.range(1000, 3000);
    if (rand.chance(0.25)) {
      // A hang that is aborted: the worker ignores the cancel and is killed after the grace.
      const after = rand.range(10, 80);
      return { kind: 'spin', fault: 'hang', must: 'AbortError', race: ms - after, check: nothing,
        start: () => {
          const controller = new AbortController();
          setTimeout(() => controller.abort(), after);
          return { p: bridge.__testOp({ kind: 'spin', ms }, empty(), { signal: controller.signal }) };
        } };
    }
    const timeoutMs = rand.range(50, 250);
    return { kind: 'spin', fault: 'hang', must: 'TimeoutError', race: ms - timeoutMs, check: nothing,
      start: () => ({ p: bridge.__testOp({ kind: 'spin', ms }, empty(), { timeoutMs }) }) };
  }
  if (r < 0.06) {
    const timeoutMs = rand.range(20, 80);
    return { kind: 'sleep', fault: 'timeout', must: 'TimeoutError', race: 400 - timeoutMs, check: nothing,
      start: () => ({ p: bridge.__testOp({ kind: 'sleep', ms: 400 }, empty(), { timeoutMs }) }) };
  }
  if (r < 0.064) return resizeItem(ctx, rand.pick([1, 2, 3, 4].filter((n) => n !== ctx.plannedSize)));
  if (r < 0.074) return restartItem(ctx, rand.pick(['js', 'kv']));
  return call(rand, i, ctx);
}

function resizeItem(ctx, size) {
  ctx.plannedSize = size;
  return { kind: 'resize', fault: 'resize', start: () => ({ p: ctx.bridge.resize(size) }), check: () => null };
}

function restartItem(ctx, name) {
  const item = { kind: 'restart', fault: 'restart', allowed: new Set(),
    start: () => {
      // A restart while another is under way is an illegal move (it finds the service starting).
      if (ctx.restarting[name]) item.allowed.add('ServiceStateError');
      ctx.restarting[name] += 1;
      const p = ctx.bridge.services.restart(name);
      p.finally(() => { ctx.restarting[name] -= 1; }).catch(() => {});
      return { p };
    },
    check: () => null };
  return item;
}

/** A call of a facade or a service message, with an abort or a timeout now and then. */
function call(rand, i, ctx) {
  const { bridge } = ctx;
  const kind = rand.pick(['sha256', 'sha256', 'encrypt', 'decrypt', 'encryptFile', 'decryptFile', 'gzip', 'gunzip', 'gunzip',
    'js', 'js', 'kv']);
  const f = rand.next();
  // (Not for kv: its set/get/delete must all be answered for the check to be exact.)
  const abort = f < 0.05 && kind !== 'kv' ? { before: rand.chance(0.3), after: rand.range(0, 30), shared: rand.chance(0.5) } : null;
  const timeout = !abort && f < 0.065 && kind !== 'kv' ? rand.range(1, 4) : null;
  const withProgress = !abort && !timeout && kind !== 'js' && kind !== 'kv' && rand.chance(0.1);
  const priority = rand.pick([undefined, undefined, 'high', 'low']);
  const item = { kind, fault: abort ? 'abort' : timeout ? 'timeout' : null, allowed: new Set() };
  if (abort?.before) item.must = 'AbortError';
  if (abort && !abort.before) item.allowed.add('AbortError');

  // The signal for this call, aborted now or a little after the call is made.
  const signal = () => {
    if (!abort) return {};
    let s;
    let fire;
    if (abort.shared) {
      const token = new SharedCancellation();
      fire = () => token.cancel();
      // Services take an AbortSignal; the pool takes either.
      s = kind === 'js' ? token.toAbortSignal() : token;
    } else {
      const controller = new AbortController();
      fire = () => controller.abort();
      s = controller.signal;
    }
    if (abort.before) fire();
    else setTimeout(fire, abort.after);
    return { signal: s };
  };
  const events = [];
  const common = () => ({
    ...signal(),
    ...(timeout ? { timeoutMs: timeout } : {}),
    ...(priority ? { priority } : {}),
    ...(withProgress ? { onProgress: (e) => events.push(e) } : {}),
  });
  if (timeout) item.allowed.add('TimeoutError');
  const progressChecked = (problem) => problem ?? (withProgress ? progressProblem(events) : null);

  switch (kind) {
    case 'sha256': {
      const data = rand.bytes(rand.size());
      const { input, options } = wrap(rand, data);
      item.start = () => ({ p: bridge.crypto.sha256(input, { ...options, ...common() }) });
      item.check = async (v) => progressChecked(sameBytesOr('sha256', v, await ref.sha256(data)));
      break;
    }
    case 'encrypt': {
      const [key, nonce, data] = [rand.bytes(32), rand.bytes(12), rand.bytes(rand.size())];
      const aad = rand.chance(0.3) ? rand.bytes(rand.int(64)) : undefined;
      const { input, options } = wrap(rand, data);
      item.start = () => ({ p: bridge.crypto.encrypt(input, key.slice(), nonce.slice(), { ...options, aad, ...common() }) });
      item.check = async (v) => progressChecked(sameBytesOr('encrypt', v, await ref.aesGcmSeal(key, nonce, data, aad)));
      break;
    }
    case 'decrypt': {
      const [key, nonce, data] = [rand.bytes(32), rand.bytes(12), rand.bytes(rand.size())];
      const aad = rand.chance(0.3) ? rand.bytes(rand.int(64)) : undefined;
      const tamper = rand.chance(0.1) ? rand.next() : null;
      const wrapRand = rand.next();
      if (tamper !== null) item.must ??= 'AuthenticationError';
      item.start = async () => {
        const sealed = await ref.aesGcmSeal(key, nonce, data, aad);
        if (tamper !== null) sealed[Math.floor(tamper * sealed.length)] ^= 1;
        const { input, options } = wrap(new Rand(wrapRand * 4294967296), sealed);
        return { p: bridge.crypto.decrypt(input, key.slice(), nonce.slice(), { ...options, aad, ...common() }) };
      };
      item.check = async (v) => progressChecked(sameBytesOr('decrypt', v, data));
      break;
    }
    case 'encryptFile': {
      const [key, data] = [rand.bytes(32), rand.bytes(rand.size() * 2)];
      const aad = rand.chance(0.3) ? rand.bytes(rand.int(64)) : undefined;
      const chunkSize = rand.pick([64 << 10, 128 << 10]);
      const output = rand.pick([undefined, 'blob', 'bytes']);
      const { input, options } = wrap(rand, data);
      item.start = () => ({ p: bridge.crypto.encryptFile(input, key.slice(), { ...options, aad, chunkSize, output, ...common() }) });
      item.check = async (v) => {
        const sealed = await asBytes(v);
        const n = Math.max(1, Math.ceil(data.length / chunkSize));
        if (sealed.length !== 32 + data.length + 16 * n) return `encryptFile: ${sealed.length} bytes for ${data.length}`;
        let opened;
        try {
          opened = await ref.openStream(key, sealed, aad);
        } catch (e) {
          return `encryptFile: the reference cannot open the result (${e.name})`;
        }
        return progressChecked(sameBytesOr('encryptFile', opened, data));
      };
      break;
    }
    case 'decryptFile': {
      const [key, data, salt, prefix] = [rand.bytes(32), rand.bytes(rand.size() * 2), rand.bytes(16), rand.bytes(7)];
      const aad = rand.chance(0.3) ? rand.bytes(rand.int(64)) : undefined;
      const chunkSize = rand.pick([64 << 10, 128 << 10]);
      const output = rand.pick(['blob', 'bytes']);
      const tamper = rand.chance(0.1) ? rand.next() : null;
      const wrapRand = rand.next();
      if (tamper !== null) item.must ??= 'AuthenticationError';
      item.start = async () => {
        const sealed = await ref.sealStream(key, data, { chunkSize, aad, salt, prefix });
        if (tamper !== null) sealed[Math.floor(tamper * sealed.length)] ^= 1;
        const { input, options } = wrap(new Rand(wrapRand * 4294967296), sealed);
        return { p: bridge.crypto.decryptFile(input, key.slice(), { ...options, aad, output, ...common() }) };
      };
      item.check = async (v) => progressChecked(sameBytesOr('decryptFile', await asBytes(v), data));
      break;
    }
    case 'gzip': {
      const data = rand.chance(0.7) ? rand.text(rand.size()) : rand.bytes(rand.size());
      const level = rand.pick([undefined, 0, 1, 6, 9]);
      const { input, options } = wrap(rand, data);
      item.start = () => ({ p: bridge.compression.gzip(input, { ...options, level, ...common() }) });
      item.check = async (v) => {
        if (!(v instanceof Uint8Array)) return 'gzip: not a Uint8Array';
        let back;
        try {
          back = await ref.gunzip(v);
        } catch (e) {
          return `gzip: DecompressionStream cannot read the result (${e.name})`;
        }
        return progressChecked(sameBytesOr('gzip', back, data));
      };
      break;
    }
    case 'gunzip': {
      const data = rand.chance(0.7) ? rand.text(rand.size()) : rand.bytes(rand.size());
      const wrapRand = rand.next();
      item.start = async () => {
        const packed = await ref.gzip(data);
        const { input, options } = wrap(new Rand(wrapRand * 4294967296), packed);
        return { p: bridge.compression.gunzip(input, { ...options, ...common() }) };
      };
      item.check = async (v) => progressChecked(sameBytesOr('gunzip', v, data));
      break;
    }
    case 'js': {
      const slow = timeout !== null; // the timeout fault of a service message: a slow one
      const message = { seq: i, text: `m${rand.int(1e9)}`, value: rand.json() };
      if (slow) message.delayMs = rand.range(200, 400);
      const sendTimeout = slow ? rand.range(10, 60) : undefined;
      if (slow) {
        item.must = 'TimeoutError';
        item.race = message.delayMs - sendTimeout;
      }
      item.start = () => {
        if (ctx.restarting.js) item.allowed.add('ServiceStateError'); // sent while it restarts
        const { signal: s } = common();
        return { p: bridge.services.send('js', message, { signal: s, timeoutMs: sendTimeout }) };
      };
      item.check = (v) => (canonical(v) === canonical({ echo: message }) ? null : `js service: ${canonical(v)}`);
      break;
    }
    case 'kv': {
      // set, get and delete of a fresh key, sent together: FIFO makes the answers exact.
      const key = `k${i}`;
      const value = rand.json();
      item.start = () => {
        const whileRestarting = ctx.restarting.kv > 0;
        const send = (m) => bridge.services.send('kv', m);
        const sends = [send({ op: 'set', key, value }), send({ op: 'get', key }), send({ op: 'delete', key })];
        item.check = ([set, get, del]) => {
          const all = [set, get, del];
          if (all.every((s) => s.status === 'rejected' && s.reason?.name === 'ServiceStateError') && whileRestarting) {
            return { rejected: 'ServiceStateError' };
          }
          if (all.some((s) => s.status === 'rejected')) {
            return `kv: ${all.map((s) => (s.status === 'rejected' ? s.reason?.name : 'ok')).join('/')}` +
              `${whileRestarting ? ' (during a restart)' : ''}`;
          }
          if (set.value !== null) return `kv set: ${canonical(set.value)}, expected null`;
          if (canonical(get.value) !== canonical(value)) return `kv get: ${canonical(get.value)} ≠ ${canonical(value)}`;
          if (del.value !== true) return `kv delete: ${canonical(del.value)}`;
          return null;
        };
        return { p: Promise.allSettled(sends) };
      };
      break;
    }
  }
  return item;
}

// ---- the run ---------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `status()` until the pool has `size` workers, all idle (false after `ms`). */
async function poolSettles(bridge, size, ms) {
  for (const t0 = performance.now(); performance.now() - t0 < ms; await sleep(25)) {
    const { workers } = bridge.status();
    if (workers.length === size && workers.every((w) => w.state === 'idle' && !w.busy)) return true;
  }
  return false;
}

const maxMemory = (bridge) => Math.max(0, ...bridge.status().workers.map((w) => w.memoryBytes || 0));

/**
 * Gaps in the page's event loop (a 10 ms tick that came over 30 ms late). A fault that races a
 * timer against a worker (a 60 ms timeout on a 400 ms sleep) can only lose when the page could
 * not run the timer for about the difference: then, and only then, a resolved result is excused.
 */
class StallWatch {
  constructor() {
    this.stalls = [];
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      if (now - this.last > 30) this.stalls.push([this.last, now]);
      if (this.stalls.length > 20_000) this.stalls.splice(0, 10_000);
      this.last = now;
    }, 10);
  }
  /** The longest gap within [from, to], counting one still open at `to`. */
  within(from, to) {
    let longest = to - this.last;
    for (const [a, b] of this.stalls) if (b > from && a < to) longest = Math.max(longest, Math.min(b, to) - Math.max(a, from));
    return longest;
  }
  stop() {
    clearInterval(this.timer);
  }
}

window.runSoak = async (config) => {
  const { calls, seed, concurrency = 16 } = config;
  // Three streams, so that what the pool does to one cannot shift the others' draws.
  const rand = new Rand(seed);
  const rawRand = new Rand(seed ^ 0x5eed0001);
  const envelopeRand = new Rand(seed ^ 0x5eed0002);
  const violations = [];
  const violation = (what) => violations.push(what);
  await ref.selfTest();
  await init();

  // What the pool logs when a worker answers a malformed message (console.warn): count those.
  const answers = { rejected: 0, dropped: 0 };
  const answered = () => answers.rejected + answers.dropped;
  const warn = console.warn;
  console.warn = (...args) => {
    const text = String(args[0]);
    if (text.includes('the worker rejected a message')) answers.rejected += 1;
    else if (text.includes('dropped an answer for unknown request')) answers.dropped += 1;
    else warn.apply(console, args);
  };
  const stalls = new StallWatch();
  try {
    return await soak({ calls, concurrency, rand, rawRand, envelopeRand, violation, answers, answered, stalls, violations });
  } finally {
    stalls.stop();
    console.warn = warn;
  }
};

async function soak({ calls, concurrency, rand, rawRand, envelopeRand, violation, answered, answers, stalls, violations }) {
  const bridge = await WorkerBridge.create({
    poolSize: POOL_SIZE, fallback: 'never', timeoutMs: CALL_TIMEOUT_MS, healthIntervalMs: HEALTH_MS, cancelGraceMs: 100,
  });
  await bridge.services.register('js', { module: new URL('./echo.service.js', import.meta.url) }, { placement: 'worker' });
  await bridge.services.register('kv', { rust: 'kv' }, { placement: 'main' });
  await bridge.services.startAll();

  // Why workers were replaced: every reason must be one of the injected faults'.
  const crashes = [];
  let unsubscribed = false;
  let eventsAfterUnsubscribe = 0;
  const unsubscribe = bridge.subscribe(['worker_state_changed', 'service_state_changed'], (e) => {
    if (unsubscribed) eventsAfterUnsubscribe += 1;
    if (e.event === 'worker_state_changed' && e.data.to === 'crashed') crashes.push(e.data.reason ?? '');
  });
  // A malformed envelope must never subscribe anything: this listener must never hear a thing.
  let strayEvents = 0;
  const strayListener = () => { strayEvents += 1; };

  const forced = new Map([[0.2, 'resize'], [0.3, 'js'], [0.4, 'resize'], [0.6, 'kv'], [0.7, 'resize'], [0.8, 'resize']]
    .map(([at, what]) => [Math.floor(calls * at), what]));
  const ctx = { bridge, plannedSize: POOL_SIZE, restarting: { js: 0, kv: 0 }, forced, retries: 0 };
  const faults = { kill: 0, hang: 0, abort: 0, timeout: 0, resize: 0, restart: 0 };
  const outcomes = { resolved: 0, rejected: {}, excused: 0 };
  const wrong = [];
  let settled = 0;
  const raw = { posted: 0, postedTo: new Map(), refused: {}, strictPosted: 0, strictAnswered: 0 };
  const envelopes = { sent: 0, answered: 0, bad: [] };
  const memory = { start: 0, mid: 0, end: 0, peak: 0 };
  const tracked = new Set(); // what is still going: calls and handle() answers
  let wake = () => {};
  const t0 = performance.now();

  const rejectedWith = (name) => { outcomes.rejected[name] = (outcomes.rejected[name] ?? 0) + 1; };

  async function run(i, item) {
    const wrongly = (what) => wrong.push({ i, kind: item.kind, fault: item.fault, what });
    const startedAt = performance.now();
    let promise;
    try {
      ({ p: promise } = await item.start()); // references first, then the library's promise
    } catch (e) {
      settled += 1;
      return wrongly(`threw instead of rejecting: ${e?.name}: ${e?.message}`);
    }
    let timer;
    const result = await Promise.race([
      promise.then((value) => ({ value, at: performance.now() }), (error) => ({ error })),
      new Promise((r) => { timer = setTimeout(() => r({ stuck: true }), STUCK_MS); }),
    ]);
    clearTimeout(timer);
    if (result.stuck) return wrongly(`did not settle within ${STUCK_MS / 1000} s`);
    settled += 1;
    if ('error' in result) {
      const name = result.error?.name;
      if (name === item.must || item.allowed?.has(name)) return rejectedWith(name);
      return wrongly(`rejected with ${name}: ${result.error?.message}${item.must ? ` (expected ${item.must})` : ''}`);
    }
    if (item.must) {
      const stall = item.race ? stalls.within(startedAt, result.at) : 0;
      if (!item.race || stall < item.race * 0.8) {
        return wrongly(`resolved, expected ${item.must}${item.race ? ` (the page's longest stall meanwhile: ${Math.round(stall)} ms)` : ''}`);
      }
      outcomes.excused += 1; // the page could not run the timer in time; the result must still be right
    }
    const problem = await item.check(result.value);
    if (problem && typeof problem === 'object') rejectedWith(problem.rejected);
    else if (problem) wrongly(problem);
    else outcomes.resolved += 1;
  }

  function track(p) {
    tracked.add(p);
    p.finally(() => {
      tracked.delete(p);
      wake();
    });
  }

  /** Posts one malformed message to pool worker `index` (true if it was delivered). */
  function postRaw(index, workerId) {
    const message = malformedMessage(rawRand);
    try {
      bridge.__postRaw(index, message);
    } catch (e) {
      const why = `${e?.name}: ${String(e?.message).slice(0, 90)}`; // not cloneable: not delivered
      raw.refused[why] = (raw.refused[why] ?? 0) + 1;
      return false;
    }
    raw.posted += 1;
    raw.postedTo.set(workerId, (raw.postedTo.get(workerId) ?? 0) + 1);
    return true;
  }

  /** During the run: to a random worker that has booted (one still starting has no listener). */
  function postRawNow() {
    const ready = bridge.status().workers.flatMap((w, index) => (w.state === 'idle' || w.state === 'busy' ? [[index, w.id]] : []));
    if (!ready.length) return false;
    const [index, id] = ready[rawRand.int(ready.length)];
    return postRaw(index, id);
  }

  /** At a checkpoint, to idle workers: every one must be answered, and no worker replaced. */
  async function strictRaw(n) {
    const { workers } = bridge.status();
    const before = answered();
    let posted = 0;
    for (let k = 0; posted < n && k < n * 3; k++) if (postRaw(k % workers.length, workers[k % workers.length].id)) posted += 1;
    for (const until = performance.now() + 10_000; answered() - before < posted && performance.now() < until;) await sleep(20);
    await sleep(100); // nothing more may arrive
    const got = answered() - before;
    raw.strictPosted += posted;
    raw.strictAnswered += got;
    if (got !== posted) violation(`idle workers answered ${got} of ${posted} malformed messages (once each expected)`);
    const now = bridge.status().workers.map((w) => w.id);
    if (String(now) !== String(workers.map((w) => w.id))) violation(`malformed messages replaced workers: ${workers.map((w) => w.id)} → ${now}`);
  }

  function sendEnvelope(i) {
    const { request, listener } = malformedEnvelope(envelopeRand, i);
    const expectedId = request !== null && typeof request === 'object' && request.id !== undefined ? request.id : null;
    envelopes.sent += 1;
    const bad = (what) => envelopes.bad.push(`${canonical(request)} → ${what}`);
    track(bridge.services.handle(request, listener ? strayListener : undefined).then(
      (r) => {
        const name = r?.error?.name;
        const ok = r?.type === 'response' && Object.is(r.id, expectedId) && r.data === undefined &&
          (name === 'ValidationError' || name === 'ServiceStateError');
        if (ok) envelopes.answered += 1;
        else bad(canonical(r));
      },
      (e) => bad(`rejected ${e?.name}: ${e?.message}`),
    ));
  }

  /** Waits for every call, then for the pool to be idle and pinged: a memory reading. */
  async function checkpoint() {
    while (tracked.size) await Promise.race([...tracked]);
    while (ctx.restarting.js || ctx.restarting.kv) await sleep(20);
    if (!(await poolSettles(bridge, ctx.plannedSize, 20_000))) {
      violation(`the pool did not settle to ${ctx.plannedSize} idle workers: ${JSON.stringify(bridge.status().workers)}`);
    }
    await sleep(HEALTH_MS * 1.5);
    await strictRaw(RAW_AT_CHECKPOINT);
    return maxMemory(bridge);
  }

  // Per worker: the calls it finished (its slot's count since the worker was first seen) and its
  // memory at the last ping — faults replace workers often, so say how long the longest one lived.
  const lives = new Map();
  const sample = () => {
    memory.peak = Math.max(memory.peak, maxMemory(bridge));
    for (const w of bridge.status().workers) {
      const life = lives.get(w.id) ?? { from: w.tasksDone, calls: 0, memory: 0 };
      life.calls = w.tasksDone - life.from;
      life.memory = Math.max(life.memory, w.memoryBytes || 0);
      lives.set(w.id, life);
    }
  };
  const sampler = setInterval(sample, 250);
  const early = Math.floor(calls / 10);
  const mid = Math.floor(calls / 2);
  const rawDuringRun = MALFORMED - 3 * RAW_AT_CHECKPOINT;
  let rawOwed = 0;
  for (let i = 0; i < calls; i++) {
    if (i === early) memory.start = await checkpoint();
    if (i === mid) memory.mid = await checkpoint();
    while (tracked.size >= concurrency) await new Promise((r) => { wake = r; });
    const item = plan(rand, i, ctx);
    if (item.fault) faults[item.fault] += 1;
    track(run(i, item));
    const share = (n) => Math.floor(((i + 1) * n) / calls) - Math.floor((i * n) / calls);
    rawOwed += share(rawDuringRun);
    for (let tries = 0; rawOwed > 0 && tries < 20; tries++) if (postRawNow()) rawOwed -= 1;
    for (let k = share(MALFORMED); k > 0; k--) sendEnvelope(i);
  }
  while (tracked.size) await Promise.race([...tracked]);
  for (let tries = 0; rawOwed > 0 && tries < 1000; tries++) if (postRawNow()) rawOwed -= 1;

  // Back to the configured size, everything settled, the pool idle and pinged.
  ctx.plannedSize = POOL_SIZE;
  await bridge.resize(POOL_SIZE);
  memory.end = await checkpoint();
  sample();
  clearInterval(sampler);
  const longest = [...lives.values()].reduce((a, b) => (b.calls > a.calls ? b : a), { calls: 0, memory: 0 });
  memory.longestLived = { workers: lives.size, calls: longest.calls, memory: longest.memory };
  memory.peak = Math.max(memory.peak, memory.start, memory.mid, memory.end);
  const seconds = (performance.now() - t0) / 1000;

  // ---- the checks after the run ----
  const status = bridge.status();
  const c = status.counters;
  if (settled !== calls) violation(`${calls - settled} of ${calls} calls never settled`);
  if (wrong.length) {
    const list = wrong.slice(0, 20).map((w) => `#${w.i} ${w.kind}${w.fault ? ` (${w.fault})` : ''}: ${w.what}`);
    violation(`${wrong.length} calls went wrong, e.g.:\n    ${list.join('\n    ')}`);
  }
  if (status.mode !== 'workers') violation(`the bridge left worker mode: ${status.mode} (${status.fallbackReason})`);
  if (status.queued !== 0) violation(`status().queued is ${status.queued} after the run`);
  // `submitted` counts calls that reached the queue; a call aborted while it waited behind an
  // earlier call's copy (staged) never did, but its end is in `cancelled` (README: the page's
  // thread). So the ends exceed the submitted calls by those, and by nothing else.
  const stagedAborts = c.completed + c.failed + c.cancelled + c.timedOut - c.submitted;
  if (stagedAborts < 0 || stagedAborts > c.cancelled) violation(`counters do not add up: ${JSON.stringify(c)}`);
  // Only the `panic` op crashes a worker; each one allowed a retry (its input not moved) has one.
  // A panic is never sent to a worker that holds other calls, nor anything sent behind it; but
  // a worker replaced for a time limit or an ignored cancel may have held short calls sent
  // ahead behind the culprit (pipelining), and those are retried too: at most
  // maxInFlightPerWorker - 1 per such replacement.
  const replacedBehind = crashes.filter((r) => /timed out after|did not stop within/.test(r)).length;
  const extra = c.retried - ctx.retries;
  if (extra < 0 || extra > replacedBehind * (MAX_IN_FLIGHT - 1)) {
    const why = {};
    for (const r of crashes) {
      const key = r.replace(/[0-9a-f-]{36}|\d+/g, '#');
      why[key] = (why[key] ?? 0) + 1;
    }
    violation(`counters.retried is ${c.retried}, but ${ctx.retries} kills allowed a retry and ${replacedBehind} ` +
      `replacements could retry calls behind them; workers replaced for ${JSON.stringify(why)}`);
  }
  for (const s of bridge.services.status()) {
    if (s.state !== 'running' || s.queueLength !== 0) violation(`service ${s.name}: ${s.state}, ${s.queueLength} queued`);
  }
  const unexplained = crashes.filter((r) => !/panic|timed out after|did not stop within/.test(r));
  if (unexplained.length) violation(`workers replaced for no injected fault: ${[...new Set(unexplained)].slice(0, 5).join(' | ')}`);
  // During the run a fault may kill a worker before it reads what was posted to it; one that is
  // still alive has read and answered all of it.
  const alive = new Set(status.workers.map((w) => w.id));
  const toSurvivors = [...raw.postedTo].filter(([id]) => alive.has(id)).reduce((n, [, k]) => n + k, 0);
  if (rawOwed > 0) violation(`${rawOwed} malformed messages could not be posted`);
  if (answered() < toSurvivors || answered() > raw.posted) {
    violation(`workers answered ${answered()} malformed messages; ${raw.posted} posted, ${toSurvivors} to workers still alive`);
  }
  if (envelopes.answered !== envelopes.sent) {
    violation(`handle() answered ${envelopes.answered} of ${envelopes.sent} malformed envelopes with an error response, e.g.:\n    ${envelopes.bad.slice(0, 5).join('\n    ')}`);
  }
  if (strayEvents) violation(`a malformed envelope subscribed a listener (${strayEvents} events reached it)`);
  if (memory.end > Math.max(2 * memory.start, memory.start + 32 * MiB)) {
    violation(`worker memory grew from ${memory.start} bytes early in the run to ${memory.end} at its end`);
  }
  // The pool still serves; the run's subscription is gone once removed.
  const probe = new TextEncoder().encode('still serving');
  const digest = await bridge.crypto.sha256(probe).catch((e) => e);
  if (sameBytesOr('probe', digest, await ref.sha256(probe))) violation(`the pool stopped serving: ${digest?.name ?? 'a wrong digest'}`);
  await sleep(50); // the probe's events are delivered
  unsubscribe();
  unsubscribed = true;
  await bridge.resize(POOL_SIZE + 1);
  if (!(await poolSettles(bridge, POOL_SIZE + 1, 20_000))) violation('the pool did not grow after the run');
  await bridge.resize(POOL_SIZE);
  await bridge.services.restart('js');
  await sleep(100);
  if (eventsAfterUnsubscribe) violation(`${eventsAfterUnsubscribe} events reached a listener after it unsubscribed`);
  await bridge.services.stopAll();
  await bridge.terminate();

  return {
    ...environment(),
    calls,
    settled,
    wrong: wrong.length,
    faults,
    outcomes,
    malformed: {
      posted: raw.posted, answered: answered(), answers, toSurvivors, refused: raw.refused,
      strictPosted: raw.strictPosted, strictAnswered: raw.strictAnswered,
      envelopes: envelopes.sent, envelopesAnswered: envelopes.answered,
    },
    crashes: crashes.length,
    memory,
    counters: c,
    seconds,
    violations,
  };
}

document.body.dataset.ready = 'true';
