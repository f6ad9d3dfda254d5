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

/** What every report states about the browser it ran in. */
export const environment = () => ({
  crossOriginIsolated: globalThis.crossOriginIsolated,
  userAgent: navigator.userAgent,
  hardwareConcurrency: navigator.hardwareConcurrency,
});
