// A/B of two builds of worker-bridge in one page: the working tree against a git revision (HEAD
// unless told), on bench:ipc's workloads — the echo and sha256 of 32 B, sequential and 64 in flight
// — with rounds interleaved between the builds, so both see the same machine. Ratios are new /
// base (latency: lower is better; throughput: higher is better). For judging a change to the IPC
// path: the VM's own swings (raw postMessage moved 48k–83k calls/s between runs of bench:ipc)
// hide a 10% change between two runs, not within one page.
// Run: node benches/ab-ipc.mjs [--base <rev>] [--rounds N]
//
// Builds the base revision (a git worktree in the system's temporary directory, its own cargo
// target dir) into target/ab-base and the working tree into target/ab-new, both as
// target/bench-pkg is built.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildSimd, ROOT, runPage, runTool } from './harness.mjs';

const { values: args } = parseArgs({ options: { base: { type: 'string' }, rounds: { type: 'string' } } });
const CONFIG = {
  echoBytes: 16,
  sha256Bytes: 32,
  warmupCalls: 2_000,
  latencyCalls: 2_000,
  throughputCalls: 20_000,
  inFlight: 64,
  rounds: Number(args.rounds ?? 7),
};
if (!Number.isInteger(CONFIG.rounds) || CONFIG.rounds < 1) throw new Error(`--rounds takes a whole number ≥ 1, not ${args.rounds}`);
const BASE = args.base ?? 'HEAD';

function git(...a) {
  const r = spawnSync('git', a, { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${a.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function buildBase() {
  const rev = git('rev-parse', '--verify', `${BASE}^{commit}`);
  const src = path.join(mkdtempSync(path.join(os.tmpdir(), 'ab-ipc-')), 'src');
  git('worktree', 'add', '--detach', src, rev);
  console.log(`building target/ab-base (${BASE} = ${rev.slice(0, 10)}) ...`);
  const env = process.env.CARGO_TARGET_DIR;
  process.env.CARGO_TARGET_DIR = path.join(ROOT, 'target', 'ab-base-target');
  try {
    // Run in the worktree, so cargo reads the base's own .cargo/config.toml.
    runTool('wasm-pack', ['build', '--release', '--target', 'web', '--mode', 'no-install',
      '--out-dir', path.join(ROOT, 'target', 'ab-base'), '--', '--features', 'test-ops',
      '--config', 'simd.toml'], { cwd: src });
  } finally {
    if (env === undefined) delete process.env.CARGO_TARGET_DIR;
    else process.env.CARGO_TARGET_DIR = env;
    // Its own worktree only: removed, or its folder deleted and the record left for `git
    // worktree prune` (a failure here must not hide the build's).
    try {
      git('worktree', 'remove', '--force', src);
    } catch {
      rmSync(path.dirname(src), { recursive: true, force: true });
    }
  }
  return rev;
}

const rev = buildBase();
console.log('building target/ab-new (the working tree) ...');
buildSimd('target/ab-new', ['--features', 'test-ops']);
const out = await runPage('benches/ab-ipc/index.html', CONFIG, 20 * 60_000);
console.log(`\n${out.env.userAgent}; ${out.env.hardwareConcurrency} cores; crossOriginIsolated ${out.env.crossOriginIsolated}`);
console.log(`base ${BASE} (${rev.slice(0, 10)}) vs the working tree; median of ${CONFIG.rounds} interleaved rounds ` +
  `(${CONFIG.latencyCalls} sequential calls / ${CONFIG.throughputCalls} calls ${CONFIG.inFlight} in flight each)`);
const pad = (s, n) => String(s).padStart(n);
console.log(`${'workload'.padEnd(30)}${pad('base', 10)}${pad('new', 10)}${pad('new/base', 10)}   rounds new/base min–max`);
for (const r of out.rows) {
  const unit = r.kind === 'latency' ? 'µs' : 'calls/s';
  const f = (x) => (r.kind === 'latency' ? x.toFixed(1) : x.toFixed(0));
  console.log(`${`${r.workload} ${r.kind} (${unit})`.padEnd(30)}${pad(f(r.base), 10)}${pad(f(r.new), 10)}` +
    `${pad(`${r.ratio.toFixed(3)}x`, 10)}   ${r.pairMin.toFixed(3)}–${r.pairMax.toFixed(3)}`);
}
