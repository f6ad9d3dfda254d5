// Turns wasm-pack's `pkg/` into the publishable package: adds the thin ESM entry and its types
// (js/), and writes package.json with `exports`, `types`, `files` and `sideEffects`.
import { copyFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The package directory: pkg/ unless given (benches build theirs elsewhere).
const pkg = path.resolve(root, process.argv[2] ?? 'pkg');
const generated = JSON.parse(await readFile(path.join(pkg, 'package.json'), 'utf8'));

// The threaded build (npm run build:wasm:threads) sits in pkg/threads/: its glue, wasm and
// snippets only; js/index.js imports it when the page can run it. wasm-pack's own package files
// there would make it look like a package of its own (and its .gitignore hides it from npm pack).
try {
  await stat(path.join(pkg, 'threads', 'worker_bridge.js'));
} catch {
  throw new Error('pkg/threads/ is missing: run `npm run build:wasm:threads` first');
}
for (const extra of ['package.json', '.gitignore', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE']) {
  await rm(path.join(pkg, 'threads', extra), { force: true });
}

// The test-only ops (`test-ops`, on in every test build through the crate's dev-dependency on
// itself) must never ship: refuse a `pkg/` built with them.
for (const build of ['', 'threads/']) {
  const glueTypes = await readFile(path.join(pkg, `${build}worker_bridge.d.ts`), 'utf8');
  if (glueTypes.includes('__testOp')) {
    throw new Error(`${build || 'the single build in '}pkg/ was built with the test-only ops (feature test-ops): rebuild it without`);
  }
}

// Where the workers' script sits inside the package (wasm-bindgen names its snippets directory
// with a hash): `workerBridge.worker`, for apps that serve the files elsewhere (`workerUrl`).
const snippets = (await readdir(path.join(pkg, 'snippets'))).filter((d) => d.startsWith('worker-bridge-'));
if (snippets.length !== 1) throw new Error(`expected one worker-bridge snippets directory in pkg/snippets, found ${snippets}`);
const workerScript = `./snippets/${snippets[0]}/worker/worker.js`;
await stat(path.join(pkg, workerScript));

// The SIMD build (npm run build:wasm:simd) sits in pkg/simd/: the same code compiled with
// WebAssembly SIMD, whose glue is the single build's byte for byte, so only its `.wasm` ships,
// beside the other as worker_bridge_simd_bg.wasm (js/index.js picks one). Glue that differs would
// not drive it, and a `.wasm` equal to the plain one is no SIMD build (a `RUSTFLAGS` in the
// environment overrides simd.toml's): refuse the package then. Required every time, never taken
// from an earlier packaging (its `.wasm` would not match a rebuilt glue); moved last.
const simdDir = path.join(pkg, 'simd');
const simdGlue = await readFile(path.join(simdDir, 'worker_bridge.js'), 'utf8').catch(() => {
  throw new Error('pkg/simd/ is missing: run `npm run build:wasm:simd` (after `npm run build:wasm`) first');
});
if (simdGlue !== (await readFile(path.join(pkg, 'worker_bridge.js'), 'utf8'))) {
  throw new Error('the SIMD build\'s glue (pkg/simd/worker_bridge.js) differs from the single build\'s: rebuild both from the same source');
}
const [simdModule, plainModule] = await Promise.all(
  ['simd/worker_bridge_bg.wasm', 'worker_bridge_bg.wasm'].map((f) => readFile(path.join(pkg, f))),
);
if (simdModule.equals(plainModule)) {
  throw new Error('pkg/simd/worker_bridge_bg.wasm is the plain module (is RUSTFLAGS set? it overrides simd.toml): rebuild it');
}
await copyFile(path.join(simdDir, 'worker_bridge_bg.wasm'), path.join(pkg, 'worker_bridge_simd_bg.wasm'));
await rm(simdDir, { recursive: true, force: true });

await copyFile(path.join(root, 'js/index.js'), path.join(pkg, 'index.js'));
await copyFile(path.join(root, 'js/index.d.ts'), path.join(pkg, 'index.d.ts'));
await copyFile(path.join(root, 'js/registry-client.js'), path.join(pkg, 'registry-client.js'));
await copyFile(path.join(root, 'js/registry-client.d.ts'), path.join(pkg, 'registry-client.d.ts'));

const manifest = {
  name: generated.name,
  version: generated.version,
  description: generated.description,
  license: generated.license,
  repository: generated.repository,
  type: 'module',
  main: './index.js',
  module: './index.js',
  types: './index.d.ts',
  exports: {
    '.': { types: './index.d.ts', default: './index.js' },
    // RegistryClient alone, for a peer that drives a page's registry and runs no wasm.
    './registry-client': { types: './registry-client.d.ts', default: './registry-client.js' },
    './raw': { types: './worker_bridge.d.ts', default: './worker_bridge.js' },
    './worker_bridge_bg.wasm': './worker_bridge_bg.wasm',
    './worker_bridge_simd_bg.wasm': './worker_bridge_simd_bg.wasm',
    './threads/worker_bridge_bg.wasm': './threads/worker_bridge_bg.wasm',
    './package.json': './package.json',
  },
  files: [
    'index.js', 'index.d.ts', 'registry-client.js', 'registry-client.d.ts', 'worker_bridge.js', 'worker_bridge.d.ts', 'worker_bridge_bg.wasm', 'worker_bridge_bg.wasm.d.ts', 'worker_bridge_simd_bg.wasm', 'snippets',
    'threads/worker_bridge.js', 'threads/worker_bridge.d.ts', 'threads/worker_bridge_bg.wasm', 'threads/worker_bridge_bg.wasm.d.ts', 'threads/snippets',
    'README.md',
  ],
  workerBridge: { worker: workerScript },
  // The worker snippets are started by URL (`new URL('./worker.js', import.meta.url)`): keep them.
  sideEffects: ['./snippets/*', './threads/snippets/*'],
  keywords: ['web-worker', 'webassembly', 'wasm', 'worker-pool', 'aes-gcm', 'sha256', 'gzip', 'react'],
};
await writeFile(path.join(pkg, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(`packaged ${manifest.name}@${manifest.version} in ${path.relative(root, pkg)}/`);
