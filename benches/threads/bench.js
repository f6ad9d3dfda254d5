// Runs in the page: large gzip and chunk-plan calls on the default pool of the build this page
// can run — the threaded build on a cross-origin isolated page, the single-threaded one
// elsewhere — exactly as the package entry chooses (threadsAvailable()). benches/threads.mjs
// opens it twice, isolated and not, and compares.
import { median, environment } from '../page.js';

const MiB = 1 << 20;
const encoder = new TextEncoder();

/** `n` bytes of log-like text (deterministic; the same generator as bench:handlers, smaller). */
function text(n) {
  let state = 0x2545f491;
  const rnd = (k) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state % k;
  };
  const words = 'the quick brown fox jumps over a lazy dog cache miss hit retry timeout upstream reset queued'.split(' ');
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const line = `${1_700_000_000 + rnd(1e6)} ${['INFO', 'WARN', 'DEBUG'][rnd(3)]} id=${rnd(0xffffff).toString(16)} ` +
      `GET /api/v1/items/${rnd(100_000)} status=${[200, 200, 404, 500][rnd(4)]} ms=${rnd(5000) / 10} ` +
      `${Array.from({ length: 2 + rnd(5) }, () => words[rnd(words.length)]).join(' ')}\n`;
    off += encoder.encodeInto(line, out.subarray(off)).written;
  }
  return out;
}

/** `n` bytes, deterministic but incompressible enough to hash (xorshift). */
function noise(n) {
  const out = new Uint32Array(n / 4);
  let x = 88_172_645;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 0;
  }
  return new Uint8Array(out.buffer);
}

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

window.runBench = async function runBench(config) {
  const entry = await import('/target/bench-threads-pkg/index.js');
  const bridge = await entry.WorkerBridge.create({ fallback: 'never' });
  const status = bridge.status();
  const results = {};

  const input = text(config.gzipMiB * MiB);
  const times = [];
  let packed;
  for (let i = 0; i <= config.runs; i++) {
    const t0 = performance.now();
    packed = await bridge.compression.gzip(input, { level: config.gzipLevel });
    if (i > 0) times.push(performance.now() - t0); // the first run warms up
  }
  const back = await gunzip(packed);
  const sameBytes = back.length === input.length && back.every((b, i) => b === input[i]);
  results.gzip = { ms: median(times), bytes: input.length, outBytes: packed.length, outSha256: hex(await crypto.subtle.digest('SHA-256', packed)), roundTrip: sameBytes };

  const blob = new Blob(Array.from({ length: config.planMiB / 16 }, (_, i) => noise(16 * MiB).map((b) => b ^ i)));
  const planTimes = [];
  let plan;
  for (let i = 0; i <= config.runs; i++) {
    const t0 = performance.now();
    plan = await bridge.file.chunkPlan(blob, { chunkSize: config.planChunkMiB * MiB });
    if (i > 0) planTimes.push(performance.now() - t0);
  }
  const joined = new Uint8Array(plan.length * 32);
  plan.forEach((c, i) => joined.set(c.sha256, i * 32));
  const first = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.slice(0, config.planChunkMiB * MiB).arrayBuffer()));
  results.chunkPlan = { ms: median(planTimes), bytes: blob.size, chunks: plan.length, planSha256: hex(await crypto.subtle.digest('SHA-256', joined)), firstChunkMatches: hex(first) === hex(plan[0].sha256) };

  await bridge.terminate();
  return { ...environment(), build: status.build, threads: status.threads, workers: status.workers.length, results };
};

document.body.dataset.ready = 'true';
