// worker/awake.js under Node: the adaptive window (`nextWindow`) and the polling itself, which
// Node runs on its MessageChannel (it has no `scheduler.postTask`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Awake, nextWindow } from '../../worker/awake.js';

/** The windows a thread polls over `waits` (µs each), starting from the full window. */
function windows(maxUs, waits) {
  let window = maxUs;
  const seen = [];
  for (const waited of waits) {
    seen.push(window);
    window = nextWindow(window, maxUs, waited);
  }
  return { seen, window };
}

test('messages inside the window keep it', () => {
  assert.equal(windows(200, Array(100).fill(60)).window, 200);
});

test('long waits close the window, and a wait a window would have caught opens it again', () => {
  const { seen, window } = windows(200, Array(100).fill(16_000)); // one call a frame
  assert.equal(window, 0);
  // 200 + 100 + 50 + 25: all a page calling once a frame polls.
  assert.equal(seen.reduce((a, b) => a + b, 0), 375);
  let w = nextWindow(0, 200, 100);
  assert.equal(w, 25, 'opens at an eighth of the most');
  for (let i = 0; i < 3; i++) w = nextWindow(w, 200, 150);
  assert.equal(w, 200, 'grows back to the most, never past it');
  assert.equal(nextWindow(200, 200, 190), 200);
});

test('zero never polls; a clock that steps back counts as no wait', () => {
  assert.equal(windows(0, [10, 100, 10_000]).window, 0);
  assert.equal(nextWindow(200, 200, -1000), 200);
});

test('an idle thread polls for its window, then stops', async () => {
  const awake = new Awake(100_000); // 100 ms
  const start = performance.now();
  awake.idle(1, 1);
  assert.equal(awake.running, true);
  while (awake.running) {
    assert.ok(performance.now() - start < 5_000, 'still polling after 5 s');
    await sleep(5);
  }
  assert.ok(performance.now() - start >= 100, 'stopped before its window ended');
  assert.ok(awake.turns > 1, `turns: ${awake.turns}`);
  const turns = awake.turns;
  await sleep(20);
  assert.equal(awake.turns, turns);
  // That wait was long: the window halves.
  awake.woke();
  assert.equal(awake.windowUs, 50_000);
});

test('a message stops the polling', async () => {
  const awake = new Awake(1_000_000); // a second: only woke() ends it here
  awake.idle(1, 1);
  await sleep(5);
  assert.equal(awake.running, true);
  awake.woke();
  assert.equal(awake.windowUs, 1_000_000, 'came inside the window');
  await sleep(5);
  assert.equal(awake.running, false);
});

test('stop() is for good: no more polling, nothing more learned', async () => {
  const awake = new Awake(1_000);
  awake.idle(1, 1);
  awake.stop();
  await sleep(10);
  assert.equal(awake.running, false);
  const turns = awake.turns;
  awake.idle(1, 1);
  await sleep(10);
  awake.woke(); // 10 ms after an idle(): would halve the window, were it counted
  assert.equal(awake.windowUs, 1_000);
  assert.equal(awake.turns, turns);
  assert.equal(awake.running, false);
});

test('busyPollUs 0 never polls', async () => {
  const awake = new Awake(0);
  awake.idle(1, 1);
  await sleep(5);
  assert.equal(awake.turns, 0);
  assert.equal(awake.running, false);
});

test('polls only while some messages are due, and no more than one a sender', async () => {
  for (const [due, senders, polls] of [[0, 1, false], [1, 1, true], [2, 1, false], [2, 2, true], [3, 2, false]]) {
    const awake = new Awake(1_000_000);
    awake.idle(due, senders);
    assert.equal(awake.running, polls, `${due} due from ${senders}`);
    assert.equal(awake.idleSince !== null, polls, `${due} due from ${senders}: a wait counted`);
    awake.stop();
  }
});
