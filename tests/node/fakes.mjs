// Test doubles shared by the node tests of the services' scripts.
import assert from 'node:assert/strict';

import { PROTOCOL_VERSION, seqBatch, seqsOf } from '../../worker/protocol.js';

/** A port that structured-clones what crosses it, as the browser does. */
export function fakePort() {
  /** @type {{ msgs: any[], p?: unknown[], fast: boolean }[]} */
  const posts = [];
  let listener;
  return {
    posts,
    postMessage(wire) {
      const data = structuredClone(wire); // throws DataCloneError as postMessage would
      // Replies alone travel in the fast form: read back as the messages they stand for.
      const fast = seqsOf(data, 'r');
      const msgs = fast
        ? fast.map((seq) => ({ type: 'reply', seq }))
        : JSON.parse(data.m).map((e) => (assert.equal(e.v, PROTOCOL_VERSION), e.msg));
      posts.push({ msgs, p: data.p, fast: fast !== null });
    },
    addEventListener(type, l) {
      listener = l;
    },
    /** The page posts a batch: `entries` as JSON text (envelopes unless `raw`), payloads beside. */
    deliver(entries, payloads, { raw = false } = {}) {
      const m = JSON.stringify(raw ? entries : entries.map((msg) => ({ v: PROTOCOL_VERSION, msg })));
      listener({ data: structuredClone(payloads ? { m, p: payloads } : { m }) });
    },
    /** The page posts messages `seqs` in the fast form, payloads beside. */
    deliverFast(seqs, payloads) {
      listener({ data: structuredClone(seqBatch('s', seqs, payloads)) });
    },
    /** Anything at all, as the message's data. */
    post(data) {
      listener({ data });
    },
    /** Every message the host sent, in order, with its payload. */
    get replies() {
      return posts.flatMap(({ msgs, p }) => msgs.map((msg, i) => ({ ...msg, payload: p?.[i] })));
    },
  };
}

export async function until(what, done) {
  for (const start = Date.now(); !done();) {
    assert.ok(Date.now() - start < 5000, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
