// The service host (worker/service-host.js) on a fake port, as the registry drives it: batches in,
// FIFO, replies back in batches (one per drain, at most MAX_BATCH each), a slow message never holding
// back the replies before it, health checks beside the queue, and what fails alone — an entry that
// is not ours, a reply that cannot be cloned.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_BATCH, PROTOCOL_VERSION } from '../../worker/protocol.js';
import { hostService } from '../../worker/service-host.js';
import { fakePort, until } from './fakes.mjs';

const COUNTER = new URL('../services/counter.service.js', import.meta.url).href; // async onMessage
const ECHO = new URL('../../benches/services/echo.service.js', import.meta.url).href; // sync onMessage

/** A host with `module` loaded and started. */
async function started(module) {
  const port = fakePort();
  const close = hostService(port);
  port.deliver([{ type: 'load', url: module }, { type: 'start' }]);
  await until('load and start', () => port.replies.length === 2);
  assert.deepEqual(port.replies.map((r) => r.type), ['loaded', 'started']);
  port.posts.length = 0;
  return { port, close };
}

const messages = (from, n) => Array.from({ length: n }, (_, i) => ({ type: 'message', seq: from + i }));

for (const [kind, module] of [['sync', ECHO], ['async', COUNTER]]) {
  test(`a batch is handled in order and its replies go back as one batch (${kind} onMessage)`, async () => {
    const { port, close } = await started(module);
    port.deliver(messages(0, 5), [0, 1, 2, 3, 4]);
    await until('five replies', () => port.replies.length === 5);
    assert.equal(port.posts.length, 1, 'one postMessage for the five replies');
    assert.deepEqual(port.replies.map((r) => [r.type, r.seq]), [0, 1, 2, 3, 4].map((i) => ['reply', i]));
    const echoed = port.replies.map((r) => (kind === 'sync' ? r.payload : /** @type {any} */ (r.payload).echo));
    assert.deepEqual(echoed, [0, 1, 2, 3, 4]);
    close();
  });
}

test('replies go in batches of at most MAX_BATCH, in order', async () => {
  const { port, close } = await started(COUNTER);
  // Two batches before the host's drain resumes: one drain answers them all.
  const n = MAX_BATCH + 10;
  port.deliver(messages(0, MAX_BATCH), Array.from({ length: MAX_BATCH }, (_, i) => i));
  port.deliver(messages(MAX_BATCH, 10), Array.from({ length: 10 }, (_, i) => MAX_BATCH + i));
  await until('every reply', () => port.replies.length === n);
  assert.ok(port.posts.every(({ msgs }) => msgs.length <= MAX_BATCH), 'no batch over MAX_BATCH');
  assert.equal(port.posts.length, 2);
  assert.deepEqual(port.replies.map((r) => r.seq), Array.from({ length: n }, (_, i) => i));
  assert.deepEqual(port.replies.map((r) => /** @type {any} */ (r.payload).count), Array.from({ length: n }, (_, i) => i + 1));
  close();
});

test('a slow message does not hold back the replies before it', async () => {
  const { port, close } = await started(COUNTER);
  port.deliver(messages(0, 3), [{ n: 1 }, { op: 'sleep', ms: 300 }, { n: 2 }]);
  await until('the first reply', () => port.replies.length >= 1);
  assert.deepEqual(port.replies.map((r) => r.seq), [0], 'the first reply went while the second message sleeps');
  await until('the rest', () => port.replies.length === 3);
  assert.deepEqual(port.replies.map((r) => [r.seq, r.type]), [[0, 'reply'], [1, 'reply'], [2, 'reply']]);
  assert.equal(port.replies[1].payload, 'slept');
  close();
});

test('a health check is answered at once, beside a message that awaits', async () => {
  const { port, close } = await started(COUNTER);
  port.deliver(messages(0, 1), [{ op: 'sleep', ms: 300 }]);
  port.deliver([{ type: 'health' }]);
  await until('the health answer', () => port.replies.length >= 1);
  assert.deepEqual(port.replies[0], { type: 'health', healthy: true, detail: 'count 0', payload: undefined });
  await until('the reply', () => port.replies.length === 2);
  assert.deepEqual([port.replies[1].type, port.replies[1].seq], ['reply', 0]);
  close();
});

test('an entry that is not ours is ignored; the rest of its batch is handled', async () => {
  const { port, close } = await started(ECHO);
  const message = (seq) => ({ v: PROTOCOL_VERSION, msg: { type: 'message', seq } });
  const entries = [message(0), { v: 99, msg: { type: 'message', seq: 1 } }, 'message', null, [],
    { v: PROTOCOL_VERSION, msg: { type: 'unknown', seq: 2 } }, { v: PROTOCOL_VERSION }, message(3)];
  port.deliver(entries, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], { raw: true });
  await until('two replies', () => port.replies.length === 2);
  assert.deepEqual(port.replies.map((r) => [r.seq, r.payload]), [[0, 'a'], [3, 'h']]);
  // Not a batch at all: nothing happens, and the host still works.
  for (const data of [null, {}, { m: 'not json' }, { m: '{"v":2}' }, { m: 42 }]) port.post(data);
  port.deliver(messages(4, 1), ['i']);
  await until('the next reply', () => port.replies.length === 3);
  assert.deepEqual([port.replies[2].seq, port.replies[2].payload], [4, 'i']);
  close();
});

test('a reply that cannot be cloned fails that message alone', async () => {
  const { port, close } = await started(COUNTER);
  port.deliver(messages(0, 3), [{ n: 1 }, { op: 'uncloneable' }, { n: 2 }]);
  await until('three answers', () => port.replies.length === 3);
  assert.deepEqual(port.replies.map((r) => [r.seq, r.type]), [[0, 'reply'], [1, 'reply_failed'], [2, 'reply']]);
  assert.equal(port.replies[1].error.name, 'DataCloneError');
  assert.deepEqual(port.replies.map((r) => /** @type {any} */ (r.payload)?.count), [1, undefined, 2]);
  close();
});

test('a closed host handles nothing more', async () => {
  const { port, close } = await started(ECHO);
  close();
  port.deliver(messages(0, 2), ['a', 'b']);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(port.replies.length, 0);
});

test('messages in the fast form are handled as their envelopes; replies alone go back in it', async () => {
  const { port, close } = await started(ECHO);
  port.deliverFast([0, 1, 2], ['a', { b: 1 }, null]);
  await until('three replies', () => port.replies.length === 3);
  assert.deepEqual(port.replies.map((r) => [r.type, r.seq, r.payload]), [['reply', 0, 'a'], ['reply', 1, { b: 1 }], ['reply', 2, null]]);
  assert.deepEqual(port.posts.map((post) => post.fast), [true]);
  // A batch with anything but replies goes as JSON text, the replies in it too.
  port.posts.length = 0;
  port.deliverFast([3], ['d']);
  port.deliver([{ type: 'health' }]);
  await until('a reply and a health answer', () => port.replies.length === 2);
  assert.ok(port.posts.some((post) => !post.fast));
  // A malformed fast batch is ignored, as a malformed JSON one is.
  port.posts.length = 0;
  for (const data of [{ v: PROTOCOL_VERSION, s: [-1], p: ['x'] }, { v: PROTOCOL_VERSION + 1, s: [9], p: ['x'] }, { v: PROTOCOL_VERSION, s: [9] }]) {
    port.post(data);
  }
  port.deliverFast([4], ['e']);
  await until('the reply after them', () => port.replies.length === 1);
  assert.deepEqual(port.replies.map((r) => [r.seq, r.payload]), [[4, 'e']]);
  close();
});
