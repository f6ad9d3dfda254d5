// The soak: `calls` mixed calls with random faults, in headless Chromium, against the release
// build with the test-only ops (target/bench-pkg, as the benchmarks use). The page is
// tests/soak/index.html (its soak.js says what is injected and what is checked). Prints one line
// of figures, the violations if any, and exits non-zero on any.
//
//   npm run soak                        # 10,000 calls, a random seed
//   npm run soak -- --calls 500 --seed 7 # replays the calls, faults and inputs of seed 7
//   node scripts/soak.mjs --calls 500 --no-build   # reuse target/bench-pkg as it is
//   … --verbose                          # a second line: outcomes, counters, replacements
//   … --no-isolation                     # without COOP/COEP: no SharedArrayBuffer, messages instead
//
// `npm test` runs a short one (scripts/test.sh).
import { parseArgs } from 'node:util';
import { buildBenchPackage, runPage } from '../benches/harness.mjs';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    'no-build': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    'no-isolation': { type: 'boolean', default: false },
  },
});
const calls = Number(args.calls);
const seed = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(args.seed);
const concurrency = Number(args.concurrency);
for (const [name, n] of [['calls', calls], ['seed', seed], ['concurrency', concurrency]]) {
  if (!Number.isSafeInteger(n) || n < (name === 'seed' ? 0 : 1)) {
    console.error(`soak: --${name} must be a whole number${name === 'seed' ? '' : ' ≥ 1'}, got ${JSON.stringify(n)}`);
    process.exit(2);
  }
}

const MiB = (bytes) => (bytes / 2 ** 20).toFixed(1);

async function main() {
  console.log(`soak: seed ${seed}, ${calls} calls (replay: npm run soak -- --calls ${calls} --seed ${seed})`);
  if (!args['no-build']) buildBenchPackage();
  // Generous: a slow machine is not a violation; a call that never settles is caught inside.
  const limitMs = 120_000 + calls * 200;
  const r = await runPage('tests/soak/index.html', { calls, seed, concurrency }, limitMs, { entry: 'runSoak', isolated: !args['no-isolation'] });
  const f = r.faults;
  const m = r.malformed;
  const faults = Object.values(f).reduce((a, b) => a + b, 0);
  console.log(`soak: seed ${seed}, calls ${r.calls}, settled ${r.settled}, wrong ${r.wrong}, faults ${faults} ` +
    `(kill ${f.kill}, hang ${f.hang}, abort ${f.abort}, timeout ${f.timeout}, resize ${f.resize}, restart ${f.restart}), ` +
    `malformed ${m.posted + m.envelopes} (workers answered ${m.answered}/${m.posted}, ` +
    `handle() ${m.envelopesAnswered}/${m.envelopes}), ` +
    `peak worker memory ${MiB(r.memory.peak)} MiB (start ${MiB(r.memory.start)} MiB, end ${MiB(r.memory.end)} MiB), ` +
    `${Math.round(r.seconds)} s`);
  const chromium = r.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? r.userAgent;
  const details = (`  Chromium ${chromium}, ${r.hardwareConcurrency} cores, crossOriginIsolated ${r.crossOriginIsolated}; ` +
    `resolved ${r.outcomes.resolved} (${r.outcomes.excused} of them after a page stall beat their fault's timer), ` +
    `rejected ${JSON.stringify(r.outcomes.rejected)}; workers replaced ${r.crashes}; counters ${JSON.stringify(r.counters)}; ` +
    `of ${r.memory.longestLived.workers} workers the longest-lived finished ${r.memory.longestLived.calls} calls ` +
    `(memory ${r.memory.longestLived.memory ? `${MiB(r.memory.longestLived.memory)} MiB` : 'never read: no ping found it idle'}); ` +
    `malformed to workers: ${m.strictPosted} at quiet moments (${m.strictAnswered} answered), the rest during the run; ` +
    `not cloneable ${JSON.stringify(m.refused)}`);
  if (args.verbose) console.log(details);
  if (r.violations.length) {
    if (!args.verbose) console.error(details);
    console.error(`soak FAILED (seed ${seed}):\n  ${r.violations.join('\n  ')}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(`soak FAILED (seed ${seed}): ${e?.stack ?? e}`);
  process.exit(1);
});
