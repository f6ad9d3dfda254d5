// Checks the installed wasm-bindgen-test-runner against the stall scripts/setup.sh patches out
// (scripts/tiny-http-task-pool.patch): its HTTP server (tiny_http 0.12) must answer every
// connection of a burst while the earlier ones stay open, as a browser's do when a test page
// loads. With the stock runner the queued connections are never read once the threads that should
// take them are slow to wake — which every CPU kept busy here makes certain.
//
//   node scripts/check-test-runner.mjs [--runner PATH]
//
// It serves the crate's `web` browser test file (built first, for wasm32) without a browser
// (NO_HEADLESS), opens 8 keep-alive connections at once, each sending one request, five times,
// and fails unless every one is answered.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../tests/e2e/webdriver.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runner = args[0] === '--runner' ? args[1] : 'wasm-bindgen-test-runner';
const CONNECTIONS = 8;
const ROUNDS = 5;
// Long enough for a loaded 2-core machine to answer a 1 KiB page many times over; a connection
// the stock server queued is never answered at all while the others stay open.
const ANSWER_WITHIN_MS = 10_000;

/** The path of the `web` test file built for wasm32 (cargo prints it in its JSON messages). */
function testWasm() {
  const r = spawnSync(
    'cargo',
    ['test', '--no-run', '--target', 'wasm32-unknown-unknown', '--test', 'web', '--message-format=json'],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error('cargo test --no-run failed');
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const msg = JSON.parse(line);
    if (msg.reason === 'compiler-artifact' && msg.target?.name === 'web' && msg.executable) return msg.executable;
  }
  throw new Error('cargo did not name the web test file');
}

/** Opens `n` connections at once, one request each; resolves to how many were answered. */
function burst(port, n) {
  return new Promise((resolve) => {
    const sockets = [];
    let answered = 0;
    const done = () => {
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      resolve(answered);
    };
    const timer = setTimeout(done, ANSWER_WITHIN_MS);
    for (let i = 0; i < n; i++) {
      const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
      s.once('data', () => {
        if (++answered === n) done();
      });
      s.on('error', () => {});
      sockets.push(s);
    }
  });
}

const wasm = testWasm();
const port = await freePort();
const server = spawn(runner, [wasm], {
  cwd: root,
  env: { ...process.env, NO_HEADLESS: '1', WASM_BINDGEN_TEST_ADDRESS: `127.0.0.1:${port}` },
  stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise((resolve, reject) => {
  server.once('exit', (code) => reject(new Error(`${runner} exited (${code}) before serving`)));
  server.stdout.on('data', (chunk) => {
    if (/are now available at/.test(chunk)) resolve();
  });
});
// Every CPU busy while the connections arrive, so the server's threads wake late.
const hogs = Array.from({ length: os.availableParallelism() * 2 }, () =>
  spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
);
let failed = 0;
try {
  await new Promise((r) => setTimeout(r, 300));
  for (let round = 1; round <= ROUNDS; round++) {
    const answered = await burst(port, CONNECTIONS);
    console.log(`check-test-runner: round ${round}: ${answered} of ${CONNECTIONS} connections answered`);
    if (answered !== CONNECTIONS) failed++;
  }
} finally {
  for (const h of hogs) h.kill('SIGKILL');
  server.kill('SIGKILL');
}
if (failed) {
  console.error(
    `check-test-runner: ${runner} left connections unanswered in ${failed} of ${ROUNDS} rounds: ` +
      'it lacks scripts/tiny-http-task-pool.patch (run scripts/setup.sh)',
  );
  process.exit(1);
}
