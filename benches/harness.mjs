// What every benchmark shares: building the benchmark package (release, with the test-only ops)
// and running a page in headless Chromium, cross-origin isolated, with a time limit.
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/server.mjs';
import { launch, open } from '../tests/e2e/browser.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Runs a build tool in the repo root (or `cwd`) with the tools' PATH: binaryen's wasm-opt from node_modules
 * first, as Debian's (binaryen 108) silently breaks release builds of current wasm-bindgen
 * (`WebAssembly.Table.set(): Argument 1 is invalid` at load), then cargo's bin. Throws with the
 * tool's output when it fails.
 */
export function runTool(command, args, { cwd = ROOT } = {}) {
  const env = {
    ...process.env,
    PATH: [path.join(ROOT, 'node_modules', '.bin'), path.join(os.homedir(), '.cargo', 'bin'), process.env.PATH]
      .join(path.delimiter),
  };
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout ?? '');
    process.stderr.write(r.stderr ?? '');
    throw new Error(`${command} failed (${r.error?.message ?? `exit ${r.status}`})`);
  }
}

/**
 * Builds target/bench-pkg: the release package plus the `test-ops` feature (echo, …), in its SIMD
 * build (simd.toml) — the one the package loads in Chromium — so its `worker_bridge_bg.wasm` is
 * what a user's page runs there.
 */
export function buildBenchPackage() {
  console.log('building target/bench-pkg (release, SIMD, --features test-ops) ...');
  buildSimd('target/bench-pkg', ['--features', 'test-ops']);
}

/**
 * Builds the release package's SIMD variant (simd.toml, in target/simd as `npm run
 * build:wasm:simd` does) into `outDir`, with `cargoArgs` after the config.
 */
export function buildSimd(outDir, cargoArgs = []) {
  const args = ['build', '--release', '--target', 'web', '--mode', 'no-install', '--out-dir', outDir];
  const targetDir = process.env.CARGO_TARGET_DIR;
  process.env.CARGO_TARGET_DIR = path.join(ROOT, 'target', 'simd');
  try {
    runTool('wasm-pack', [...args, '--', ...cargoArgs, '--config', 'simd.toml']);
  } finally {
    if (targetDir === undefined) delete process.env.CARGO_TARGET_DIR;
    else process.env.CARGO_TARGET_DIR = targetDir;
  }
}

/**
 * Serves the repo root, opens `page` (a path under it) and returns `window[entry](config)`
 * (`window.runBench` unless told). Console errors on the page fail the run: a misbehaving
 * client's numbers are not to be trusted. The page is cross-origin isolated unless `isolated`
 * is false. With `echo`, the page's `console.log` lines are printed as they come (progress of a
 * long run).
 */
export async function runPage(page, config, timeoutMs, { entry = 'runBench', isolated = true, echo = false } = {}) {
  const server = await serve(ROOT, { isolated });
  const browser = await launch();
  try {
    const { page: tab, problems } = await open(browser.context, `${server.url}${page}`);
    if (echo) tab.on('console', (m) => m.type() === 'log' && console.log(`  page: ${m.text()}`));
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${page} took over ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const out = await Promise.race([tab.evaluate(([name, c]) => window[name](c), [entry, config]), timeout]);
    clearTimeout(timer);
    if (problems.length) throw new Error(`the page reported errors:\n${problems.join('\n')}`);
    return out;
  } finally {
    await browser.close();
    await server.close();
  }
}

/**
 * Writes a benchmark's `record` (dated) to `file` as JSON, then fails the process when `failed`
 * correctness checks did not pass: its numbers would compare different work.
 */
export async function saveRecord(file, record, failed) {
  await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), ...record }, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(ROOT, file)}`);
  if (failed) {
    console.error(`${failed} correctness check(s) failed: the numbers above are not comparable`);
    process.exit(1);
  }
}

/** Runs a benchmark's `main`, printing its error and failing the process if it throws. */
export function runMain(main) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
