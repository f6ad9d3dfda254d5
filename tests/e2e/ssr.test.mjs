// The package entry is safe to import where there is no browser (server-side rendering): the
// import runs no wasm, starts no worker and touches no browser global.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../pkg/index.js');

test('importing the package in Node (no window, no Worker) does not throw', async () => {
  assert.ok(existsSync(entry), 'pkg/ is built (npm run build)');
  assert.equal(typeof globalThis.window, 'undefined');
  assert.equal(typeof globalThis.Worker, 'undefined');
  const m = await import(entry);
  assert.equal(typeof m.WorkerBridge.create, 'function');
  assert.equal(typeof m.WorkerBridge.shared, 'function');
  assert.deepEqual([...m.ERROR_NAMES].sort().slice(0, 2), ['AbortError', 'AuthenticationError']);
  // Work only starts on create(); before the wasm is loaded, sync helpers say what to do.
  assert.throws(() => m.createProgressTracker(10), /await WorkerBridge.create\(\) or init\(\) first/);
  assert.throws(() => new m.WorkerBridge(), TypeError);
});
