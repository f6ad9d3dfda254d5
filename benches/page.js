// Helpers the benchmark pages share (benches/*/bench.js); imported by the page, served from the
// repository root by benches/harness.mjs.

/** The median of `xs` (rounds are reported as medians: one GC pause does not move them). */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** µs per call of `call(arg)`, `count` calls one at a time. */
export async function latencyRound(call, arg, count) {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await call(arg);
  return ((performance.now() - t0) * 1000) / count;
}

/** Calls per second of `calls` calls of `call(arg)` with `inFlight` of them outstanding. */
export async function throughputRound(call, arg, calls, inFlight) {
  let issued = 0;
  // Each lane issues its next call as soon as its previous one returns, so exactly `inFlight`
  // calls are outstanding until the last ones drain.
  const lane = async () => {
    while (issued < calls) {
      issued++;
      await call(arg);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  return calls / ((performance.now() - t0) / 1000);
}

/** What every report states about the browser it ran in. */
export const environment = () => ({
  crossOriginIsolated: globalThis.crossOriginIsolated,
  userAgent: navigator.userAgent,
  hardwareConcurrency: navigator.hardwareConcurrency,
});

/**
 * Watches how long the main thread is blocked until `stop()` is called: the browser's long tasks
 * (PerformanceObserver 'longtask': every task of 50 ms or more, with its duration) and, finer
 * grained but coarser in time, the longest gap between requestAnimationFrame callbacks (~16.7 ms
 * idle). `stop()` resolves to `{ longTaskApi, longestTaskMs, longTasks, longTaskTotalMs,
 * maxFrameGapMs }`; without the 'longtask' entry type `longTaskApi` is false, the long-task
 * fields are null and only the rAF gap speaks.
 */
export function startLongTaskMeter() {
  const longTaskApi = PerformanceObserver.supportedEntryTypes?.includes('longtask') ?? false;
  const entries = [];
  const observer = longTaskApi ? new PerformanceObserver((list) => entries.push(...list.getEntries())) : null;
  observer?.observe({ type: 'longtask' });
  const start = performance.now();
  let running = true;
  let lastFrame = start;
  let maxFrameGap = 0;
  const frame = () => {
    if (!running) return;
    const now = performance.now();
    maxFrameGap = Math.max(maxFrameGap, now - lastFrame);
    lastFrame = now;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  return async () => {
    const end = performance.now();
    running = false;
    // A task's entry is queued when the task ends and delivered in a later one: wait for it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const maxFrameGapMs = Math.max(maxFrameGap, end - lastFrame);
    if (!observer) return { longTaskApi, longestTaskMs: null, longTasks: null, longTaskTotalMs: null, maxFrameGapMs };
    entries.push(...observer.takeRecords());
    observer.disconnect();
    const durations = entries.filter((e) => e.startTime < end).map((e) => e.duration);
    return {
      longTaskApi,
      longestTaskMs: Math.max(0, ...durations),
      longTasks: durations.length,
      longTaskTotalMs: durations.reduce((a, b) => a + b, 0),
      maxFrameGapMs,
    };
  };
}

/**
 * `n` bytes of log-like text: a few fixed shapes with varying ids, numbers, paths and words, so
 * it compresses well but not trivially. Deterministic (fixed LCG seed).
 */
export function compressibleText(n) {
  let state = 0x2545f491;
  const rnd = (k) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state % k;
  };
  const pick = (xs) => xs[rnd(xs.length)];
  const levels = ['INFO ', 'INFO ', 'INFO ', 'DEBUG', 'WARN ', 'ERROR'];
  const paths = ['/api/v1/items', '/api/v1/users', '/static/app.js', '/api/v2/search', '/healthz', '/api/v1/orders'];
  const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
  const statuses = [200, 200, 200, 200, 201, 204, 304, 400, 404, 500];
  const words = ('the quick brown fox jumps over a lazy dog cache miss hit retry timeout upstream connection ' +
    'reset accepted queued served slow fast').split(' ');
  const encoder = new TextEncoder();
  const out = new Uint8Array(n);
  let off = 0;
  let t = 1_700_000_000_000;
  while (off < n) {
    t += rnd(5_000);
    const msg = Array.from({ length: 3 + rnd(6) }, () => pick(words)).join(' ');
    const line = `${new Date(t).toISOString()} ${pick(levels)} [worker-${rnd(16)}] ` +
      `id=${rnd(0x10000).toString(16).padStart(4, '0')}${rnd(0x10000).toString(16).padStart(4, '0')} ` +
      `${pick(['GET', 'GET', 'POST', 'PUT'])} ${pick(paths)}/${rnd(100_000)} status=${pick(statuses)} ` +
      `bytes=${rnd(65_536)} ms=${(rnd(50_000) / 100).toFixed(2)} user=${pick(users)} msg="${msg}"\n`;
    off += encoder.encodeInto(line, out.subarray(off)).written; // the last line is cut to fit
  }
  return out;
}

/** Whether two byte sequences (`Uint8Array`s, or buffers) hold the same bytes. */
export function equalBytes(a, b) {
  const x = a instanceof Uint8Array ? a : new Uint8Array(a);
  const y = b instanceof Uint8Array ? b : new Uint8Array(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
