// Busy polling at both ends of a worker-placed service (worker/awake.js in worker/service-link.js
// and worker/service-host.js): each polls after a lone message, neither after a batch, and
// neither without `busyPollUs`. The polling's turns are counted through `scheduler.postTask`,
// which Node lacks: a stand-in that runs each turn at `setImmediate` is installed first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { seqBatch, seqsOf } from '../../worker/protocol.js';
import { hostService } from '../../worker/service-host.js';
import { ServiceLink } from '../../worker/service-link.js';
import { fakePort, until } from './fakes.mjs';

let turns = 0;
/** @type {any} */ (globalThis).scheduler = {
  postTask(fn, { priority }) {
    if (priority !== "background") throw new Error(`priority ${priority}`);
    turns++;
    setImmediate(fn);
    return Promise.resolve();
  },
};
/** Turns taken since `from` (a count of them), once the polling has been quiet for 20 ms. */
async function turnsUntilQuiet(from = turns) {
  for (let last = -1; last !== turns;) {
    last = turns;
    await sleep(20);
  }
  return turns - from;
}

const ECHO = new URL('../../benches/services/echo.service.js', import.meta.url).href; // sync onMessage

for (const busyPollUs of [5_000, undefined]) {
  test(`a service host ${busyPollUs ? 'polls after a lone message only' : 'never polls without busy_poll_us'}`, async () => {
    const port = fakePort();
    const close = hostService(port);
    port.deliver([{ type: 'load', url: ECHO, ...(busyPollUs && { busy_poll_us: busyPollUs }) }, { type: 'start' }]);
    await until('load and start', () => port.replies.length === 2);
    await turnsUntilQuiet();
    const before = turns;
    port.deliverFast([0], [0]);
    await until('a reply', () => port.replies.length === 3);
    const afterOne = await turnsUntilQuiet(before);
    if (busyPollUs) assert.ok(afterOne > 0, 'no polling after a lone message');
    else assert.equal(afterOne, 0);
    port.deliverFast([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]);
    await until('five replies', () => port.replies.length === 8);
    assert.equal(await turnsUntilQuiet(), 0, 'polled after a batch');
    close();
    port.deliverFast([6], [6]);
    assert.equal(await turnsUntilQuiet(), 0, 'polled after its host was closed');
  });
}

/** The host's end of a link: records what the page posts; answers replies in the fast form. */
function fakeEndpoint() {
  const endpoint = {
    /** @type {number[][]} */
    posts: [],
    /** @type {((event: { data: unknown }) => void) | null} */
    onmessage: null,
    postMessage(wire) {
      endpoint.posts.push(/** @type {number[]} */ (seqsOf(structuredClone(wire), 's')));
    },
    answer(seqs) {
      endpoint.onmessage?.({ data: structuredClone(seqBatch('r', seqs, seqs)) });
    },
  };
  return endpoint;
}

test('a service link polls while one reply is due, not while many are', async () => {
  const endpoint = fakeEndpoint();
  const link = new ServiceLink(endpoint, () => {}, 5_000);
  const before = turns;
  const one = link.send('a');
  assert.ok((await turnsUntilQuiet(before)) > 0, 'no polling for a lone reply');
  endpoint.answer([0]);
  assert.equal(await one, 0);
  const many = Array.from({ length: 10 }, (_, i) => link.send(i));
  await turnsUntilQuiet(); // the first went at once, alone
  for (let seq = 1; seq < 10; seq++) {
    endpoint.answer([seq]);
    // Polls again only once a single reply is left.
    assert.equal(link.awake?.idleSince !== null, seq === 9, `after reply ${seq}`);
  }
  assert.equal(link.awake?.running, true, 'no polling for the last reply');
  await turnsUntilQuiet();
  endpoint.answer([10]);
  assert.deepEqual(await Promise.all(many), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  link.close('TerminatedError', 'gone');
  link.awake?.idle(1, 1);
  assert.equal(await turnsUntilQuiet(), 0, 'polled after close');
});

test('a link made without busyPollUs (main placement, direct routes) never polls', async () => {
  const endpoint = fakeEndpoint();
  const link = new ServiceLink(endpoint, () => {});
  assert.equal(link.awake, null);
  const reply = link.send('a');
  assert.equal(await turnsUntilQuiet(), 0);
  endpoint.answer([0]);
  assert.equal(await reply, 0);
});
