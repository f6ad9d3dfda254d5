// worker/snapshot-store.js where IndexedDB is missing (Node has none, as some private modes): every
// call rejects at once with a `NotSupportedError` that says what persist: true needs — no hang.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { readSnapshot, writeSnapshot } from '../../worker/snapshot-store.js';

test('without IndexedDB, reads and writes reject with NotSupportedError', async () => {
  assert.equal(typeof globalThis.indexedDB, 'undefined');
  for (const call of [() => readSnapshot('counter'), () => writeSnapshot('counter', '{"count":1}')]) {
    await assert.rejects(call(), (e) => {
      assert.equal(e.name, 'NotSupportedError');
      assert.match(e.message, /IndexedDB is unavailable, which persist: true needs/);
      return true;
    });
  }
});

test('an open that never answers rejects after its time limit instead of hanging', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  globalThis.indexedDB = { open: () => ({}) }; // a request whose events never fire
  try {
    const read = readSnapshot('counter');
    t.mock.timers.tick(5000);
    await assert.rejects(read, { name: 'NotSupportedError', message: /no answer to the open within 5000 ms/ });
  } finally {
    delete globalThis.indexedDB;
  }
});
