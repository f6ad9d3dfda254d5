// The page's end of a service link (worker/service-link.js) on a fake endpoint: messages batched
// per task turn (the first at once when nothing is awaited), replies settling their callers in
// order, everything else handed to the registry in order, and every way a caller settles — reply,
// refusal, timeout, abort, the service failing, the link closing.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import { MAX_BATCH, PROTOCOL_VERSION, envelope, fromService, seqBatch, seqsOf, toService } from '../../worker/protocol.js';
import { ServiceLink } from '../../worker/service-link.js';

/** An endpoint that structured-clones what crosses it, as the browser does. */
function fakeEndpoint() {
  /** @type {{ m: any[], p?: unknown[], fast: boolean }[]} */
  const posts = [];
  const endpoint = {
    posts,
    /** @type {((event: { data: unknown }) => void) | null} */
    onmessage: null,
    postMessage(wire) {
      const data = structuredClone(wire); // throws DataCloneError as postMessage would
      // Messages travel in the fast form: read back as the envelopes they stand for.
      const fast = seqsOf(data, 's');
      const m = fast ? fast.map((seq) => envelope(toService.message(seq))) : JSON.parse(data.m);
      posts.push({ m, p: data.p, fast: fast !== null });
    },
    /** The host answers: `msgs` as a batch (a `serviceBatch`), payloads beside. */
    answer(msgs, payloads) {
      endpoint.onmessage?.({ data: structuredClone({ m: JSON.stringify(msgs.map((msg) => envelope(msg))), p: payloads }) });
    },
    /** The host answers replies `seqs` in the fast form. */
    answerFast(seqs, payloads) {
      endpoint.onmessage?.({ data: structuredClone(seqBatch('r', seqs, payloads)) });
    },
  };
  return endpoint;
}

/** A link and what it hands the registry: `[text, payloads, handledAtThatMoment]` per call. */
function link() {
  const endpoint = fakeEndpoint();
  /** @type {[string | undefined, unknown[], number][]} */
  const handed = [];
  const l = new ServiceLink(endpoint, (text, payloads) => handed.push([text, payloads, l.handled]));
  return { endpoint, link: l, handed };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const seqs = (post) => post.m.map((e) => e.msg.seq);
const settled = (p) => p.then((value) => ({ value }), (error) => ({ error }));

test('a message with nothing awaited goes at once; the rest of the turn in one batch', async () => {
  const { endpoint, link: l } = link();
  const replies = [0, 1, 2, 3].map((i) => l.send({ i }));
  assert.equal(endpoint.posts.length, 1, 'the first went at once');
  await Promise.resolve();
  assert.deepEqual(endpoint.posts.map(seqs), [[0], [1, 2, 3]]);
  assert.deepEqual(endpoint.posts[1].p, [{ i: 1 }, { i: 2 }, { i: 3 }]);
  // In the fast form, each seq standing for the envelope of the fixtures.
  assert.ok(endpoint.posts.every((post) => post.fast));
  assert.deepEqual(endpoint.posts[1].m.length, 3);
  const [fixture] = JSON.parse(await readFile(new URL('../fixtures/protocol/to_service.json', import.meta.url), 'utf8'))
    .filter((e) => e.msg.type === 'message');
  assert.deepEqual(Object.keys(endpoint.posts[0].m[0]), Object.keys(fixture));
  assert.deepEqual(endpoint.posts[0].m[0], { ...fixture, msg: { ...fixture.msg, seq: 0 } });
  assert.equal(l.waiting, 4);
  endpoint.answer([0, 1, 2, 3].map((seq) => fromService.reply(seq)), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await Promise.all(replies), ['a', 'b', 'c', 'd']);
  assert.equal(l.handled, 4);
  assert.equal(l.waiting, 0);
  // Sequential sends: each goes at once.
  const next = l.send('e');
  assert.deepEqual(endpoint.posts.map(seqs).at(-1), [4]);
  endpoint.answer([fromService.reply(4)], ['E']);
  assert.equal(await next, 'E');
});

test('batches hold at most MAX_BATCH messages, in order', async () => {
  const { endpoint, link: l } = link();
  const n = 2 * MAX_BATCH + 3;
  for (let i = 0; i < n; i++) l.send(i);
  await Promise.resolve();
  assert.ok(endpoint.posts.every((post) => post.m.length <= MAX_BATCH));
  assert.deepEqual(endpoint.posts.flatMap(seqs), Array.from({ length: n }, (_, i) => i));
  assert.deepEqual(endpoint.posts.flatMap((post) => post.p), Array.from({ length: n }, (_, i) => i));
});

test('what is not a well-formed reply goes to the registry, in order, each run as a batch of its own', async () => {
  const { endpoint, link: l, handed } = link();
  const replies = [0, 1, 2].map((i) => settled(l.send(i)));
  const malformed = { type: 'reply', seq: 1, extra: true };
  endpoint.answer([fromService.reply(0), fromService.started(), fromService.health(true, 'ok'), fromService.reply(2),
    malformed, fromService.replyFailed(1, { name: 'RangeError', message: 'm' })], ['r0', undefined, undefined, 'r2', 'x', undefined]);
  assert.deepEqual(handed.map(([text, payloads, handled]) => [JSON.parse(/** @type {string} */ (text)), payloads, handled]), [
    [[envelope(fromService.started()), envelope(fromService.health(true, 'ok'))], [undefined, undefined], 1],
    [[envelope(malformed), envelope(fromService.replyFailed(1, { name: 'RangeError', message: 'm' }))], ['x', undefined], 2],
  ]);
  // The registry settles what it decoded (here: by hand, as Rust would).
  l.settle(1, false, new RangeError('m'), true);
  const [r0, r1, r2] = await Promise.all(replies);
  assert.deepEqual([r0.value, r1.error.name, r2.value], ['r0', 'RangeError', 'r2']);
  assert.equal(l.handled, 3);
  // Not a batch at all, or a foreign version: handed over whole, for Rust to say why.
  for (const data of [null, 'reply', {}, { m: 'not json' }, { m: '{"v":2}' }]) endpoint.onmessage?.({ data });
  endpoint.onmessage?.({ data: { m: JSON.stringify([{ v: PROTOCOL_VERSION + 1, msg: fromService.reply(9) }]) } });
  assert.deepEqual(handed.slice(2).map(([text]) => text), [undefined, undefined, undefined, 'not json', '{"v":2}',
    JSON.stringify([{ v: PROTOCOL_VERSION + 1, msg: fromService.reply(9) }])]);
});

test('a message that cannot be cloned fails alone, with ValidationError', async () => {
  const { endpoint, link: l } = link();
  l.send('first');
  const burst = [settled(l.send(1)), settled(l.send(() => 'a function')), settled(l.send(3))];
  await Promise.resolve();
  assert.deepEqual(endpoint.posts.map(seqs), [[0], [1], [3]], 'posted one by one after the batch was refused');
  endpoint.answer([fromService.reply(1), fromService.reply(3)], ['one', 'three']);
  const [one, refused, three] = await Promise.all(burst);
  assert.deepEqual([one.value, three.value], ['one', 'three']);
  assert.equal(refused.error.name, 'ValidationError');
  assert.match(refused.error.message, /structured-cloneable.*DataCloneError/);
  assert.equal(l.waiting, 1, 'the first still waits');
});

test('a caller that stops waiting (timeout, abort) settles alone; its late reply still counts', async () => {
  const { endpoint, link: l } = link();
  const controller = new AbortController();
  const timed = settled(l.send('t', 5));
  const aborted = settled(l.send('a', undefined, controller.signal));
  const kept = l.send('k');
  controller.abort();
  const [t, a] = await Promise.all([timed, aborted]);
  assert.deepEqual([t.error.name, t.error.message], ['TimeoutError', 'no reply within 5 ms']);
  assert.deepEqual([a.error.name, a.error.message], ['AbortError', 'the call was aborted']);
  assert.equal(l.waiting, 1);
  endpoint.answer([0, 1, 2].map((seq) => fromService.reply(seq)), ['T', 'A', 'K']);
  assert.equal(await kept, 'K');
  assert.equal(l.handled, 3);
});

test('failAll and close settle every caller; a closed link sends and takes nothing', async () => {
  const { endpoint, link: l, handed } = link();
  const failed = [settled(l.send(1)), settled(l.send(2))];
  l.failAll('WorkerCrashedError', 'the service failed: boom');
  for (const { error } of await Promise.all(failed)) {
    assert.deepEqual([error.name, error.message], ['WorkerCrashedError', 'the service failed: boom']);
  }
  const waiting = settled(l.send(3));
  const queued = settled(l.send(4)); // still in the outbox
  l.close('TerminatedError', 'the bridge was terminated');
  for (const { error } of await Promise.all([waiting, queued])) assert.equal(error.name, 'TerminatedError');
  const posts = endpoint.posts.length;
  await tick();
  assert.equal(endpoint.posts.length, posts, 'nothing more was posted');
  assert.equal(endpoint.onmessage, null);
  assert.equal(handed.length, 0);
  assert.equal((await settled(l.send(5))).error.name, 'TerminatedError', 'a closed link takes no message');
  assert.equal(endpoint.posts.length, posts);
});

test('post() sends the registry\'s batch after the messages queued before it', async () => {
  const { endpoint, link: l } = link();
  l.send(0);
  l.send(1);
  l.post(JSON.stringify([{ v: PROTOCOL_VERSION, msg: { type: 'stop' } }]), []);
  assert.deepEqual(endpoint.posts.map((post) => post.m.map((e) => e.msg.type)), [['message'], ['message'], ['stop']]);
  assert.equal(endpoint.posts[2].p, undefined, 'no payloads beside it');
  assert.throws(() => l.post('[]', [() => 'not cloneable']), { name: 'DataCloneError' });
});

test('replies in the fast form settle their callers in order; a malformed one goes to the registry', async () => {
  const { endpoint, link: l, handed } = link();
  const replies = [0, 1, 2].map((i) => l.send({ i }));
  await Promise.resolve();
  endpoint.answerFast([2, 0], ['c', 'a']);
  assert.deepEqual(await Promise.all([replies[0], replies[2]]), ['a', 'c']);
  assert.equal(l.handled, 2);
  assert.equal(l.waiting, 1);
  assert.equal(handed.length, 0);
  // Not a well-formed fast batch (a seq that is no u32, payloads missing, another version,
  // too many): a broken protocol, for the registry to judge; nobody is settled.
  for (const data of [
    { v: PROTOCOL_VERSION, r: [-1], p: ['x'] },
    { v: PROTOCOL_VERSION, r: [1.5], p: ['x'] },
    { v: PROTOCOL_VERSION, r: [1] },
    { v: PROTOCOL_VERSION + 1, r: [1], p: ['x'] },
    { v: PROTOCOL_VERSION, r: Array.from({ length: MAX_BATCH + 1 }, () => 1), p: Array.from({ length: MAX_BATCH + 1 }, () => 'x') },
  ]) endpoint.onmessage?.({ data });
  assert.equal(handed.length, 5);
  assert.ok(handed.every(([text]) => text === undefined));
  assert.equal(l.waiting, 1);
  endpoint.answerFast([1], ['b']);
  assert.equal(await replies[1], 'b');
});
