// Runs the browser test files one by one under `wasm-pack test --headless --chrome`, working
// around a stall in the test runner's HTTP server.
//
//   node scripts/browser-tests.mjs web web_pool ... -- --features test-ops [-- --nocapture filter]
//   node scripts/browser-tests.mjs --crate examples/rust-service web     # another crate's tests
//
// The stall: wasm-bindgen-test-runner 0.2.130 serves the page with tiny_http 0.12, which hands
// each new connection to a thread pool. By our reading of its TaskPool, when two connections
// arrive while one thread is idle, both are queued for that one thread (the idle count is read
// before the woken thread takes its task), and a keep-alive connection occupies its thread until
// the browser closes it: the second connection waits, unread, until another connection arrives
// and brings a new thread. The page
// then sits at "Loading scripts..." (one module request never answered; seen in Chrome's NetLog:
// the response came 38 s later, the moment another client connected) and the runner waits out its
// 300 s page-load budget. wasm-pack issue #783 reports the same symptom.
//
// So the server gets a fixed address (WASM_BINDGEN_TEST_ADDRESS) and a short-lived connection
// every 500 ms while the tests run, which frees any queued connection. As a last resort, a page
// that has not started within 120 s is cleared and its file run again (three attempts at most).
// A failing test fails at once; a test that hangs after its page started is bounded by the
// runner's WASM_BINDGEN_TEST_TIMEOUT.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const args = process.argv.slice(2);
// The crate whose tests run (its directory is also what the test runner serves).
const crateDir = args[0] === '--crate' ? args.splice(0, 2)[1] : '.';
const split = args.indexOf('--');
const files = split < 0 ? args : args.slice(0, split);
const cargoArgs = split < 0 ? [] : args.slice(split + 1);
const STARTED = /Loading Wasm module|^running \d+ tests?/m;
const START_BUDGET_MS = 120_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** One short-lived connection (a new socket, closed after the answer). */
function poke(port) {
  const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000 }, (res) => res.resume());
  req.on('error', () => {});
  req.on('timeout', () => req.destroy());
}

/**
 * Ends a stuck run: process `pid` (wasm-pack) and everything it started (cargo, the test runner,
 * chromedriver, Chromium), found through /proc before any of them dies, and nothing else: another
 * run's browser, or the developer's own Chromium, stays up. Without /proc, only `pid` itself.
 */
function endRun(pid) {
  const parents = new Map();
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // "pid (comm) state ppid ...", where comm may hold spaces and parentheses.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      } catch {
        // It ended meanwhile.
      }
    }
  } catch {
    // No /proc.
  }
  const run = [pid];
  for (let i = 0; i < run.length; i++) {
    for (const [id, parent] of parents) if (parent === run[i]) run.push(id);
  }
  for (const id of run) {
    try {
      process.kill(id, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

async function runOnce(file) {
  const port = await freePort();
  const child = spawn(
    'wasm-pack',
    ['test', '--headless', '--chrome', '--mode', 'no-install', '--', '--test', file, ...cargoArgs],
    {
      cwd: crateDir,
      env: { ...process.env, WASM_BINDGEN_TEST_ADDRESS: `127.0.0.1:${port}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  let started = false;
  const onData = (stream) => (chunk) => {
    stream.write(chunk);
    output += chunk;
    if (!started && STARTED.test(output)) started = true;
  };
  child.stdout.on('data', onData(process.stdout));
  child.stderr.on('data', onData(process.stderr));
  const poker = setInterval(() => poke(port), 500);
  let stuck = false;
  const watchdog = setTimeout(() => {
    if (started) return;
    stuck = true;
    endRun(child.pid);
  }, START_BUDGET_MS);
  const code = await new Promise((resolve) => child.on('close', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  clearInterval(poker);
  clearTimeout(watchdog);
  return { code, stuck };
}

for (const file of files) {
  for (let attempt = 1; ; attempt++) {
    const { code, stuck } = await runOnce(file);
    if (!stuck) {
      if (code !== 0) process.exit(code);
      break;
    }
    console.error(`browser tests (${file}): the test page never started (attempt ${attempt} of 3)`);
    if (attempt === 3) process.exit(124);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
