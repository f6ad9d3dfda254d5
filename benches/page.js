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
