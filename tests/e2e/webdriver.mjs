// A small W3C WebDriver client (plain `fetch`) for the engines Playwright does not drive here:
// Firefox through geckodriver and WebKitGTK (Safari's engine) through WebKitWebDriver, which
// needs a display: it runs under `xvfb-run`. Nothing is downloaded; scripts/setup.sh installs
// the drivers and browsers.
import { spawn } from 'node:child_process';
import net from 'node:net';

/** How each engine's driver is started, and the capabilities of its session. */
export const ENGINES = {
  firefox: {
    command: 'geckodriver',
    args: (port) => [`--port=${port}`],
    capabilities: {
      browserName: 'firefox',
      'moz:firefoxOptions': { binary: '/usr/bin/firefox-esr', args: ['-headless'] },
    },
  },
  webkit: {
    command: 'xvfb-run',
    args: (port) => ['-a', 'WebKitWebDriver', `--port=${port}`],
    capabilities: {
      'webkitgtk:browserOptions': {
        binary: '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
        args: ['--automation'],
      },
    },
  },
};

/** A TCP port free on 127.0.0.1 right now (scripts/check-test-runner.mjs uses it too). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `engine`'s driver and a session in it; resolves to `{ browser, goto, run, waitFor, close }`.
 * `run(fn, ...args)` runs `fn` in the page and resolves to what it returns (a promise is awaited).
 */
export async function startSession(engine) {
  const { command, args, capabilities } = ENGINES[engine];
  const port = await freePort();
  // Its own process group, so `close` ends the driver and everything it started (Xvfb, the
  // browser) and nothing else.
  const driver = spawn(command, args(port), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  driver.stdout.on('data', (c) => { log += c; });
  driver.stderr.on('data', (c) => { log += c; });
  const exited = new Promise((resolve) => driver.once('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  const kill = () => {
    try {
      process.kill(-driver.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };

  async function call(method, path, body) {
    const res = await fetch(base + path, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${engine}: ${method} ${path}: ${json.value?.error}: ${json.value?.message}`);
    return json.value;
  }

  try {
    for (let ready = false, t0 = Date.now(); !ready;) {
      if (driver.exitCode !== null) throw new Error(`${engine}: ${command} exited:\n${log}`);
      if (Date.now() - t0 > 30_000) throw new Error(`${engine}: ${command} did not listen within 30 s:\n${log}`);
      ready = await call('GET', '/status').then(() => true, () => false);
      if (!ready) await sleep(100);
    }
    const session = await call('POST', '/session', { capabilities: { alwaysMatch: capabilities } });
    const id = session.sessionId;
    const browser = `${session.capabilities.browserName} ${session.capabilities.browserVersion}`;
    await call('POST', `/session/${id}/timeouts`, { script: 300_000, pageLoad: 60_000 });
    const run = (fn, ...fnArgs) =>
      call('POST', `/session/${id}/execute/sync`, { script: `return (${fn}).apply(null, arguments);`, args: fnArgs });
    return {
      browser,
      goto: (url) => call('POST', `/session/${id}/url`, { url }),
      run,
      /** Polls `fn(...args)` in the page until it is truthy; fails after `timeout` ms. */
      async waitFor(what, fn, args = [], timeout = 120_000) {
        const t0 = Date.now();
        for (;;) {
          const value = await run(fn, ...args);
          if (value) return value;
          if (Date.now() - t0 > timeout) throw new Error(`${engine}: timed out waiting for ${what}`);
          await sleep(100);
        }
      },
      async close() {
        await call('DELETE', `/session/${id}`).catch(() => {});
        kill();
        await exited;
      },
    };
  } catch (e) {
    kill();
    await exited;
    throw e;
  }
}
