// End to end: remote control over a WebSocket. The demo page (dist/) opened with
// `?remote=ws://…&token=…` serves its service registry on a socket to a Node WebSocket server
// (the `ws` package), where `RegistryClient` (js/registry-client.js, the package's own client)
// lists, stops and starts the page's services and hears their events — what a dashboard's
// server does. Also: a client with a wrong token is refused, and a closed socket stops serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { RegistryClient } from '../../js/registry-client.js';
import { serve } from './server.mjs';
import { launch, open } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.join(root, 'dist');

let browser;
before(async () => {
  assert.ok(existsSync(path.join(dist, 'index.html')), 'dist/ is built (npm run build:demo)');
  browser = await launch();
});
after(async () => browser?.close());

/** A WebSocket server on a free port; `next()` resolves to the next connection's socket. */
async function socketServer() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const waiting = [];
  const arrived = [];
  wss.on('connection', (socket) => (waiting.length ? waiting.shift()(socket) : arrived.push(socket)));
  return {
    url: `ws://127.0.0.1:${wss.address().port}`,
    next: () => (arrived.length ? Promise.resolve(arrived.shift()) : new Promise((resolve) => waiting.push(resolve))),
    close: () => new Promise((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(resolve);
    }),
  };
}

const until = async (what, done, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const stateOn = (page, name) => page.locator(`.service[data-name="${name}"] .state`).textContent();

test('a server drives the demo page\'s services over a WebSocket with RegistryClient', async () => {
  const sockets = await socketServer();
  const server = await serve(dist, { isolated: false });
  try {
    const url = `${server.url}?remote=${encodeURIComponent(sockets.url)}&token=t0k3n`;
    const { page, problems } = await open(browser.context, url);
    const socket = await sockets.next();
    await page.waitForFunction(() => document.querySelector('#remote').dataset.state === 'served');

    // A wrong token is refused before anything runs.
    const intruder = new RegistryClient(socket, { token: 'guess', timeoutMs: 5000 });
    await assert.rejects(intruder.stop('counter'), { name: 'AuthenticationError' });
    intruder.close();

    const client = new RegistryClient(socket, { token: 't0k3n', timeoutMs: 10_000 });
    const listed = await client.listServices();
    const names = listed.map((s) => s.name);
    assert.ok(['counter', 'store'].every((n) => names.includes(n)), names.join());

    // Subscribed: the registry as it is arrives first, then the changes the client causes.
    const events = [];
    const unsubscribe = await client.subscribe(['registry_loaded', 'service_state_changed'], (e) => events.push(e));
    await until('the snapshot', () => events.some((e) => e.event === 'registry_loaded' && e.data.initial));
    const snapshot = events.find((e) => e.data.initial);
    assert.deepEqual(snapshot.data.services, names, 'the snapshot lists what listServices does, in order');

    const started = await client.start('counter');
    assert.equal(started.state, 'running');
    await page.waitForFunction(() => document.querySelector('.service[data-name="counter"] .state').textContent === 'running');
    await until('the running event', () => events.some((e) => e.event === 'service_state_changed' && e.data.name === 'counter' && e.data.to === 'running'));
    const stopped = await client.stop('counter');
    assert.equal(stopped.state, 'stopped');
    await page.waitForFunction(() => document.querySelector('.service[data-name="counter"] .state').textContent === 'stopped');
    assert.equal(await stateOn(page, 'counter'), 'stopped');
    await assert.rejects(client.getService('nobody'), { name: 'ValidationError' });

    await unsubscribe();
    const seen = events.length;
    await client.start('store');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(events.length, seen, 'no events after unsubscribing');

    // The socket closes: the page stops serving (and says so); the page itself carries on.
    client.close();
    socket.close();
    await page.waitForFunction(() => document.querySelector('#remote').dataset.state === 'closed');
    await page.waitForFunction(() => document.querySelector('.service[data-name="store"] .state').textContent === 'running');
    assert.deepEqual(problems, []);
  } finally {
    await sockets.close();
    await server.close();
  }
});
