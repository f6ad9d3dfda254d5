// Responsiveness benchmark: the longest main-thread task while worker-bridge works on 64 MiB —
// the copy of an input passed without `transfer`, and the main-thread fallback's reading,
// stepping and output building — in worker mode and on the main thread, in one headless Chromium
// page, cross-origin isolated (and, with --no-isolation, not). Long tasks come from
// PerformanceObserver('longtask') (tasks over 50 ms); a setTimeout(0) probe also reports the
// longest gap between its callbacks. Reports numbers, never asserts them; exits non-zero only when
// an output is wrong. A machine busy with other work stretches tasks (a slice that loses the CPU
// mid-way): compare runs made on a quiet machine.
// Run: npm run bench:responsiveness [-- --no-build] [--no-isolation] [--only <case substring>]
// [--runs N] (3 by default; the worst run is shown).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildBenchPackage, ROOT, runPage } from './harness.mjs';

const OUT = path.join(ROOT, 'target', 'bench-responsiveness.json');
const CONFIG = { mib: 64, runs: 3, poolSize: 2, settleMs: 300, only: '' };
const PAGE_TIMEOUT_MS = 6 * 60_000;

const args = process.argv.slice(2);
if (!args.includes('--no-build')) buildBenchPackage();
const isolated = !args.includes('--no-isolation');
const value = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
CONFIG.only = value('--only') ?? '';
CONFIG.runs = Number(value('--runs') ?? CONFIG.runs);
const run = await runPage('benches/responsiveness/index.html', CONFIG, PAGE_TIMEOUT_MS, { isolated });

const f1 = (x) => x.toFixed(1);
const row = (cells, widths) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[0]) : c.padStart(widths[i]))).join('');
console.log(`\ncrossOriginIsolated: ${run.crossOriginIsolated}; ${run.hardwareConcurrency} cores; ` +
  `${CONFIG.mib} MiB inputs, ${CONFIG.runs} runs each (worst shown); pool of ${CONFIG.poolSize} workers.`);
console.log('longest task = the longest long task (> 50 ms) PerformanceObserver reported, 0 = none; ' +
  'timer gap = the longest gap between setTimeout(0) callbacks (idle: ~4 ms).');
const w = [40, 14, 8, 12, 12, 6];
console.log(row(['case', 'longest task', 'count', 'timer gap', 'median ms', 'ok'], w));
let failed = 0;
for (const r of run.results) {
  if (!r.ok) failed++;
  console.log(row([r.id, f1(r.longestTaskMs), String(r.longTasks), f1(r.maxGapMs), f1(r.medianMs), r.ok ? 'ok' : 'FAIL'], w));
}
await writeFile(OUT, `${JSON.stringify({ date: new Date().toISOString(), config: CONFIG, isolated, ...run }, null, 2)}\n`);
console.log(`\nwrote ${path.relative(ROOT, OUT)}`);
if (failed) {
  console.error(`${failed} output(s) wrong`);
  process.exit(1);
}
