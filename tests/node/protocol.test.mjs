// The messages the worker scripts build (worker/protocol.js) against the protocol fixtures that
// tests/protocol_fixtures.rs decodes with the Rust enums: if either side renames a tag or a field,
// one of the two tests fails.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';

import { PROTOCOL_VERSION, batch, envelope, fromService, fromWorker, serviceBatch, toService } from '../../worker/protocol.js';

const dir = new URL('../fixtures/protocol/', import.meta.url);

/** @param {string} file */
async function fixtures(file) {
  const items = JSON.parse(await readFile(new URL(file, dir), 'utf8'));
  assert.ok(Array.isArray(items) && items.length > 0, `${file}: expected a non-empty array`);
  return items;
}

// Each builder, the fixture file holding its variant, and how to call it with a fixture's fields.
const builders = {
  'fromWorker.bootFailed': ['from_worker.json', 'boot_failed', (m) => fromWorker.bootFailed(m.message)],
  'fromWorker.crashed': ['from_worker.json', 'crashed', (m) => fromWorker.crashed(m.message)],
  'toService.message': ['to_service.json', 'message', (m) => toService.message(m.seq)],
  'toService.disconnect': ['to_service.json', 'disconnect', (m) => toService.disconnect(m.link, m.gone)],
  'fromService.loaded': ['from_service.json', 'loaded', () => fromService.loaded()],
  'fromService.started': ['from_service.json', 'started', () => fromService.started()],
  'fromService.stopped': ['from_service.json', 'stopped', () => fromService.stopped()],
  'fromService.reply': ['from_service.json', 'reply', (m) => fromService.reply(m.seq)],
  'fromService.replyFailed': ['from_service.json', 'reply_failed', (m) => fromService.replyFailed(m.seq, m.error)],
  'fromService.failed': ['from_service.json', 'failed', (m) => fromService.failed(m.error)],
  'fromService.crashed': ['from_service.json', 'crashed', (m) => fromService.crashed(m.error)],
  'fromService.health': ['from_service.json', 'health', (m) => fromService.health(m.healthy, m.detail)],
  'fromService.restored': ['from_service.json', 'restored', () => fromService.restored()],
  'fromService.snapshot': ['from_service.json', 'snapshot', (m) => fromService.snapshot(m.snapshot, m.stop)],
  'fromService.send': ['from_service.json', 'send', (m) => fromService.send(m.seq, m.to)],
  'fromService.connect': ['from_service.json', 'connect', (m) => fromService.connect(m.to)],
};

test('every fixture speaks the version worker/protocol.js writes', async () => {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 4, `fixtures missing in ${dir}`);
  for (const file of files) {
    for (const item of await fixtures(file)) {
      assert.equal(item.v, PROTOCOL_VERSION, `${file}: ${JSON.stringify(item)}`);
    }
  }
});

test('every builder is tested', () => {
  const exported = [
    ...Object.keys(fromWorker).map((k) => `fromWorker.${k}`),
    ...Object.keys(toService).map((k) => `toService.${k}`),
    ...Object.keys(fromService).map((k) => `fromService.${k}`),
  ];
  assert.deepEqual(exported.sort(), Object.keys(builders).sort());
});

test('the messages the worker scripts build are the fixtures', async () => {
  for (const [name, [file, type, build]] of Object.entries(builders)) {
    const cases = (await fixtures(file)).filter((item) => item.msg.type === type);
    assert.ok(cases.length > 0, `${file} has no ${type} fixture for ${name}`);
    for (const fixture of cases) {
      assert.deepEqual(envelope(build(fixture.msg)), fixture, name);
    }
  }
});

test('a payload travels beside the message, and only when there is one', () => {
  const msg = fromService.reply(3);
  assert.deepEqual(envelope(msg, { count: 1 }), { v: PROTOCOL_VERSION, msg, payload: { count: 1 } });
  assert.ok(!('payload' in envelope(msg)));
  assert.ok(!('payload' in envelope(msg, undefined)));
  assert.deepEqual(envelope(msg, null), { v: PROTOCOL_VERSION, msg, payload: null });
});

test('pool messages travel as the JSON text of an array of envelopes', async () => {
  const [bootFailed] = (await fixtures('from_worker.json')).filter((item) => item.msg.type === 'boot_failed');
  const crashed = fromWorker.crashed('RuntimeError: unreachable');
  const wire = batch(fromWorker.bootFailed(bootFailed.msg.message), crashed);
  assert.equal(wire.length, 1);
  assert.ok(wire[0] instanceof Uint8Array);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(wire[0])), [bootFailed, envelope(crashed)]);
});

test('service messages travel as the JSON text of an array of envelopes, payloads beside it', async () => {
  const all = await fixtures('from_service.json');
  const [reply] = all.filter((item) => item.msg.type === 'reply');
  const [health] = all.filter((item) => item.msg.type === 'health');
  const msgs = [fromService.reply(reply.msg.seq), fromService.health(health.msg.healthy, health.msg.detail)];
  const wire = serviceBatch(msgs, [{ count: 1 }, undefined]);
  assert.deepEqual(Object.keys(wire), ['m', 'p']);
  assert.deepEqual(JSON.parse(wire.m), [reply, health]);
  assert.deepEqual(wire.p, [{ count: 1 }, undefined]);
  // Without payloads, no `p`; a whole fixture file is a batch as it travels.
  assert.deepEqual(Object.keys(serviceBatch(msgs)), ['m']);
  assert.deepEqual(JSON.parse(serviceBatch(all.map((f) => f.msg)).m), all);
});
