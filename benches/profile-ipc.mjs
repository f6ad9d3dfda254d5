// IPC profile: where worker-bridge's time goes in sequential echo calls (bench:ipc's latency
// workload), on the page and in the bridge's one worker, beside the same profile of raw
// postMessage (the floor). Runs the V8 CPU profiler of both threads through the Chrome DevTools
// Protocol around a few thousand calls and prints self time by function: share of the thread's
// busy time and µs per call. Reports, never asserts.
// Run: node benches/profile-ipc.mjs [--calls N] [--interval µs] [--top N] [--services]
//                                    [--in-flight N] [--count]
//
// With --in-flight N, the calls are bench:ipc's throughput workload instead: N outstanding at
// once, each lane issuing its next call when its last one returns (µs per call is then the
// inverse of the throughput).
//
// With --count, no profile: every function the wasm module imports from its glue is wrapped to
// count its calls, and the run prints how many calls from wasm into JavaScript one call makes on
// each thread, by import (each has a fixed cost, and several read what one read could keep).
//
// With --tasks, worker-bridge's calls are `tasks.run` of bench:ipc's echo task instead.
//
// With --services, the same for bench:services' workload: sequential sends to the JS echo service
// in placement 'worker' (its worker profiled) and 'main' (the page only), beside their floors, the
// raw postMessage worker and a MessageChannel echo on the page.
//
// Read it knowing what a sampling profiler sees: wall time, not CPU time. postMessage's self time
// includes waking the other thread, and on this project's VM (a 2-vCPU microVM) that wake grows
// with how long the receiver sat idle: a raw echo whose worker spins 100 µs before answering sees
// the worker's postMessage go from ~12 to ~116 µs. So the more work either side does per call, the
// dearer each postMessage; compare with the raw profile, whose threads barely work.
//
// Builds target/bench-pkg-prof: the bench package (release, --features test-ops; without SIMD, which
// the IPC path does not use) with the wasm name section kept (wasm-bindgen, then wasm-opt -O3 -g),
// so Rust functions have names. Writes
// target/profile-ipc.json and the raw profiles, target/profile-ipc-<client>-<thread>.cpuprofile,
// which Chrome DevTools' Performance panel opens.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launch, open } from '../tests/e2e/browser.mjs';
import { serve } from '../tests/e2e/server.mjs';
import { ROOT, runTool } from './harness.mjs';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string' }, top: { type: 'string' }, interval: { type: 'string' }, services: { type: 'boolean' },
    tasks: { type: 'boolean' }, 'in-flight': { type: 'string' }, count: { type: 'boolean' },
  },
});
const CONFIG = {
  payloadBytes: 16,
  warmupCalls: 2_000,
  calls: Number(args.calls ?? 10_000),
  // Every sample interrupts the thread; at 100 µs the profiled calls ran ~1.5x slower here.
  samplingIntervalUs: Number(args.interval ?? 250),
  top: Number(args.top ?? 25),
  message: { op: 'echo', seq: 42, text: 'hello, service', flags: [true, false] }, // as bench:services
  inFlight: Number(args['in-flight'] ?? 1),
};
const PKG = 'target/bench-pkg-prof';
// Each client, and the script its profiled worker runs (null: the page only).
const CLIENTS = args.services
  ? { 'raw-worker': 'raw-worker.js', 'service-worker': 'service-host.js', 'raw-channel': null, 'service-main': null }
  : args.tasks
    ? { raw: 'raw-worker.js', 'worker-bridge-task': 'worker.js' }
    : { raw: 'raw-worker.js', 'worker-bridge': 'worker.js' };
const WORKLOAD = `${CONFIG.inFlight > 1 ? `${CONFIG.inFlight} in flight:` : 'sequential'} ${args.services ? 'sends of bench:services\' message' : `echo calls of ${CONFIG.payloadBytes} B`}`;
const TIMEOUT_MS = 5 * 60_000;

function buildProfilingPackage() {
  console.log(`building ${PKG} (release, --features test-ops, wasm names kept) ...`);
  runTool('cargo', ['build', '--release', '--target', 'wasm32-unknown-unknown', '--features', 'test-ops']);
  const targetDir = path.resolve(ROOT, process.env.CARGO_TARGET_DIR ?? 'target');
  const wasm = path.join(targetDir, 'wasm32-unknown-unknown', 'release', 'worker_bridge.wasm');
  runTool('wasm-bindgen', ['--target', 'web', '--out-dir', PKG, wasm]);
  // wasm-opt drops the name section unless told to keep it (-g); -O3 as the release build.
  const bg = path.join(PKG, 'worker_bridge_bg.wasm');
  runTool('wasm-opt', [bg, '-o', bg, '-O3', '-g']);
}

/**
 * A DevTools Protocol client for the page's dedicated worker. Playwright gives sessions for pages
 * only, so this one goes through the page's own session: auto-attach (non-flattened) announces
 * each worker the page starts, and its commands travel wrapped in Target.sendMessageToTarget.
 * Resolves with the first worker running `script`, once the page starts one.
 */
async function attachToWorker(pageSession, script) {
  const pending = new Map();
  let nextId = 1;
  pageSession.on('Target.receivedMessageFromTarget', ({ message }) => {
    const { id, result, error } = JSON.parse(message);
    if (!pending.has(id)) return; // an event
    const { resolve, reject, method } = pending.get(id);
    pending.delete(id);
    if (error) reject(new Error(`worker ${method}: ${error.message}`));
    else resolve(result);
  });
  const worker = new Promise((resolve) => {
    pageSession.on('Target.attachedToTarget', ({ sessionId, targetInfo }) => {
      if (targetInfo.type !== 'worker' || !targetInfo.url.endsWith(`/${script}`)) return;
      const send = (method, params = {}) =>
        new Promise((resolve, reject) => {
          const id = nextId++;
          pending.set(id, { resolve, reject, method });
          pageSession.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) })
            .catch(reject);
        });
      resolve({ url: targetInfo.url, send });
    });
  });
  await pageSession.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  return worker;
}

/**
 * What the time is spent on, by function name (after naming the glue's anonymous functions): the
 * first matching row wins. A reading aid, not a call graph: self time only.
 */
const CONCERNS = [
  ['postMessage (clone + enqueue + wake the other thread)', /^postMessage$|__wbg_postMessage_/],
  ['MessageEvent.data (deserialize the clone)', /^__wbg_data_/],
  ['UUID request id (getrandom → crypto.getRandomValues)', /getRandomValues|randomFillSync|__wbg_crypto_|^<?uuid|^<?getrandom/],
  ['timers (setTimeout/clearTimeout per call)', /^setTimeout$|^clearTimeout$|__wbg_setTimeout_|__wbg_clearTimeout_|timer::Timer/],
  ['serde-wasm-bindgen: JS objects ⇄ Rust (entries/get/set, typeof probes)',
    /^<?serde|__wbg_entries_|__wbg_get_|__wbg_set_|__wbindgen_(string|number|boolean|bigint)_get|__wbindgen_is_|__wbg_length_|__wbg_isArray_|__wbg_new_[0-9a-f]+$/],
  ['strings across the boundary (TextDecoder/TextEncoder)', /^decode$|^encode|decodeText|getStringFromWasm0|passStringToWasm0|encodeInto/],
  ['closures (wasm-bindgen Closure wrappers, drop)', /makeMutClosure|makeClosure|_cb_unref|__wbg_cb_|wasm_bindgen::closure|convert::closures/],
  ['promises and futures (microtasks, wasm-bindgen-futures)',
    /queueMicrotask|^<?js_sys::futures|^<?wasm_bindgen_futures|__wbg_then_|__wbg_resolve_|__wbg_new_with_args|Promise|futures_channel|oneshot/],
  ['wasm ⇄ JS transitions (trampolines, externref table)', /^wasm-to-js$|^js-to-wasm|externref|__wbindgen_object_drop|handleError/],
  ['allocator (dlmalloc)', /dlmalloc|__rust_alloc|__rust_dealloc|__rust_realloc|__wbindgen_malloc|__wbindgen_free|__wbindgen_realloc/],
  ['(program) — V8/Blink outside JS: task scheduling, IPC', /^\(program\)$/],
  ['(garbage collector)', /^\(garbage collector\)$/],
];

/** The first concern whose pattern names `f`, else its kind. */
function concernOf(f) {
  return CONCERNS.find(([, re]) => re.test(f.name))?.[0] ?? `other ${f.kind}`;
}

/**
 * Names for the glue's anonymous functions: wasm-bindgen wraps many imports as
 * `__wbg_x_hash: function() { return handleError(function (...) {...}) }`, and the profile names
 * the inner function only by its line. Maps a 1-based line to the import defined on it.
 */
async function glueNames() {
  const lines = (await readFile(path.join(ROOT, PKG, 'worker_bridge.js'), 'utf8')).split('\n');
  const names = new Map();
  lines.forEach((line, i) => {
    const m = /^\s*(__wbg_[A-Za-z0-9_]+): function/.exec(line);
    if (m) names.set(i + 1, m[1]);
  });
  return names;
}

/** What kind of code a profile node is, for the per-thread summary. */
function kindOf({ functionName, url }) {
  if (['(idle)', '(program)', '(garbage collector)', '(root)'].includes(functionName)) return functionName;
  if (url.endsWith('.wasm')) return 'wasm';
  if (url === '') return 'native (V8/Blink builtins)';
  if (url.includes('/snippets/')) return 'worker-bridge JS (worker/*.js)';
  if (url.endsWith('/worker_bridge.js')) return 'wasm-bindgen glue';
  return 'page JS (bench)';
}

/** Where a function is, short: a file name and line, or wasm / native. */
function whereOf({ url, lineNumber }) {
  if (url.endsWith('.wasm')) return 'wasm';
  if (url === '') return '';
  return `${path.basename(new URL(url).pathname)}:${lineNumber + 1}`;
}

/**
 * Self time per function (µs), summed over every node of the same function: a sample's time is
 * the gap to the next sample, as DevTools counts it.
 */
function selfTimes(profile, glue) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const bySample = new Map();
  for (let i = 0; i < profile.samples.length - 1; i++) {
    const id = profile.samples[i];
    bySample.set(id, (bySample.get(id) ?? 0) + profile.timeDeltas[i + 1]);
  }
  const fns = new Map();
  for (const [id, us] of bySample) {
    const frame = nodes.get(id).callFrame;
    const imported = frame.url.endsWith('/worker_bridge.js') && glue.get(frame.lineNumber + 1);
    const name = frame.functionName || (imported ? `${imported} (inner)` : '(anonymous)');
    const where = whereOf(frame);
    const key = `${name}\u0000${where}`;
    const f = fns.get(key) ?? { name, where, kind: kindOf(frame), us: 0 };
    f.us += us;
    fns.set(key, f);
  }
  return [...fns.values()].sort((a, b) => b.us - a.us);
}

/**
 * The Rust crate of a wasm function from its demangled name (`<a::B as c::D>::f` → `a`); the
 * shims wasm-bindgen generates have no path.
 */
function crateOf(name) {
  const m = /^<?([A-Za-z_][A-Za-z0-9_]*)(\[[0-9a-f]+\])?::/.exec(name);
  return m ? m[1] : '(wasm-bindgen shims)';
}

function summarize(thread, profile, calls, glue) {
  const fns = selfTimes(profile, glue);
  const totalUs = fns.reduce((n, f) => n + f.us, 0);
  const idleUs = fns.filter((f) => f.kind === '(idle)').reduce((n, f) => n + f.us, 0);
  const busyUs = totalUs - idleUs;
  const kinds = {};
  const crates = {};
  const concerns = {};
  for (const f of fns.filter((x) => x.kind !== '(idle)')) concerns[concernOf(f)] = (concerns[concernOf(f)] ?? 0) + f.us;
  for (const f of fns) {
    kinds[f.kind] = (kinds[f.kind] ?? 0) + f.us;
    if (f.kind === 'wasm') crates[crateOf(f.name)] = (crates[crateOf(f.name)] ?? 0) + f.us;
  }
  const perCall = (us) => us / calls;
  const pct = (us) => (100 * us) / busyUs;
  const shares = (totals) =>
    Object.entries(totals)
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, pctOfBusy: pct(us), usPerCall: perCall(us) }));
  return {
    thread,
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    busyUsPerCall: perCall(busyUs),
    kinds: shares(kinds).filter((k) => k.name !== '(idle)'),
    wasmCrates: shares(crates),
    concerns: shares(concerns),
    functions: fns
      .filter((f) => f.kind !== '(idle)')
      .map((f) => ({ ...f, pctOfBusy: pct(f.us), usPerCall: perCall(f.us) })),
  };
}

const row = (cells, widths) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[0]) : c.padStart(widths[i]))).join('');

/** One client's two threads: where the busy time goes by kind (and by crate in wasm), then by function. */
function report({ client, unprofiledUs, profiledUs, sides }, top) {
  console.log(`\n=== ${client}: ${CONFIG.calls} ${WORKLOAD}; ` +
    `${unprofiledUs.toFixed(1)} µs per call unprofiled, ${profiledUs.toFixed(1)} µs while profiling`);
  for (const s of sides) {
    console.log(`\n-- ${s.thread}: busy ${s.busyMs.toFixed(0)} of ${s.totalMs.toFixed(0)} ms profiled ` +
      `= ${s.busyUsPerCall.toFixed(1)} µs per call (the rest idle)`);
    const share = (x, indent) => row([`${indent}${x.name}`, `${x.pctOfBusy.toFixed(1)}%`, `${x.usPerCall.toFixed(2)} µs`],
      [44, 8, 12]);
    console.log('  by kind of code:');
    for (const k of s.kinds) {
      console.log(share(k, '    '));
      if (k.name === 'wasm') for (const c of s.wasmCrates.slice(0, 8)) console.log(share(c, '        '));
    }
    console.log('  by concern (function names matched against CONCERNS):');
    for (const c of s.concerns) console.log(row([`    ${c.name}`, `${c.pctOfBusy.toFixed(1)}%`, `${c.usPerCall.toFixed(2)} µs`],
      [76, 8, 12]));
    console.log(row(['  function (self time)', '% busy', 'µs/call'], [84, 8, 10]) + '  where');
    for (const f of s.functions.slice(0, top)) {
      const name = f.name.length > 80 ? `${f.name.slice(0, 77)}...` : f.name;
      console.log(`${row([`  ${name}`, f.pctOfBusy.toFixed(1), f.usPerCall.toFixed(2)], [84, 8, 10])}  ${f.where}`);
    }
  }
}

/** Opens the profile page in a fresh browser, starts `client` and profiles both of its threads. */
async function profileClient(serverUrl, client) {
  const browser = await launch();
  try {
    const { page, problems } = await open(browser.context, `${serverUrl}benches/profile-ipc/index.html`);
    page.setDefaultTimeout(TIMEOUT_MS);
    const pageSession = await browser.context.newCDPSession(page);
    const script = CLIENTS[client];
    const attaching = script && attachToWorker(pageSession, script);
    await page.evaluate((name) => window.createClient(name), client);
    const worker = script && await attaching;
    const sessions = { page: pageSession.send.bind(pageSession), ...(worker && { worker: worker.send }) };
    const echo = (calls) =>
      page.evaluate(([n, bytes, message, inFlight]) => window.echoCalls(n, bytes, message, inFlight),
        [calls, CONFIG.payloadBytes, CONFIG.message, CONFIG.inFlight]);

    await echo(CONFIG.warmupCalls);
    const unprofiledUs = await echo(CONFIG.calls);
    for (const send of Object.values(sessions)) {
      await send('Profiler.enable');
      await send('Profiler.setSamplingInterval', { interval: CONFIG.samplingIntervalUs });
    }
    for (const send of Object.values(sessions)) await send('Profiler.start');
    const profiledUs = await echo(CONFIG.calls);
    const profiles = {};
    for (const [thread, send] of Object.entries(sessions)) profiles[thread] = (await send('Profiler.stop')).profile;
    if (problems.length) throw new Error(`the page reported errors:\n${problems.join('\n')}`);
    for (const [thread, p] of Object.entries(profiles)) {
      await writeFile(path.join(ROOT, 'target', `profile-ipc-${client}-${thread}.cpuprofile`), JSON.stringify(p));
    }
    const glue = await glueNames();
    const sides = [summarize('page (main thread)', profiles.page, CONFIG.calls, glue)];
    if (worker) sides.push(summarize(`worker (${script})`, profiles.worker, CONFIG.calls, glue));
    return { client, unprofiledUs, profiledUs, sides };
  } finally {
    await browser.close();
  }
}

/** Where the glue builds its import table, which `--count` wraps. */
const IMPORTS_END = '    return {\n        __proto__: null,\n        "./worker_bridge_bg.js": import0,';
const COUNTING = `    globalThis.__wbgCounts = {};
    for (const [key, f] of Object.entries(import0)) {
      if (typeof f !== 'function') continue;
      import0[key] = function (...args) {
        globalThis.__wbgCounts[key] = (globalThis.__wbgCounts[key] ?? 0) + 1;
        return f.apply(this, args);
      };
    }
`;

/** Runs `body` with the package's glue counting its imports' calls, then puts the glue back. */
async function withCountingGlue(body) {
  const file = path.join(ROOT, PKG, 'worker_bridge.js');
  const glue = await readFile(file, 'utf8');
  if (!glue.includes(IMPORTS_END)) throw new Error('the glue has changed shape: cannot find its import table');
  await writeFile(file, glue.replace(IMPORTS_END, COUNTING + IMPORTS_END));
  try {
    return await body();
  } finally {
    await writeFile(file, glue);
  }
}

/** The Rust function behind each import (`js_sys::Uint8Array::length`), from the name section. */
async function rustNames() {
  const text = (await readFile(path.join(ROOT, PKG, 'worker_bridge_bg.wasm'))).toString('latin1');
  const names = new Map();
  // A name starts at a crate's name (or `<` of an impl); the byte before it is its length.
  const crate = '(?:<|js_sys|web_sys|wasm_bindgen|worker_bridge|serde_wasm_bindgen|gloo_timers|getrandom)';
  const re = new RegExp(`(${crate}[\\w:<>, &{}]*?)::(__wbg_[A-Za-z0-9_]+?)::h[0-9a-f]{16}`, 'g');
  for (const m of text.matchAll(re)) {
    if (!names.has(m[2])) names.set(m[2], m[1]);
  }
  return names;
}

/** `--count`: calls from wasm into JavaScript per call, on the page and in the worker. */
async function countClient(serverUrl, client, names) {
  const browser = await launch();
  try {
    const { page, problems } = await open(browser.context, `${serverUrl}benches/profile-ipc/index.html`);
    page.setDefaultTimeout(TIMEOUT_MS);
    await page.evaluate((name) => window.createClient(name), client);
    const echo = (calls) =>
      page.evaluate(([n, bytes, message, inFlight]) => window.echoCalls(n, bytes, message, inFlight),
        [calls, CONFIG.payloadBytes, CONFIG.message, CONFIG.inFlight]);
    await echo(CONFIG.warmupCalls);
    const threads = [['page (main thread)', page], ...page.workers().map((w) => [`worker (${path.basename(w.url())})`, w])];
    for (const [, t] of threads) await t.evaluate(() => { globalThis.__wbgCounts = {}; });
    await echo(CONFIG.calls);
    if (problems.length) throw new Error(`the page reported errors:\n${problems.join('\n')}`);
    console.log(`\n=== ${client}: ${WORKLOAD}; calls from wasm into JavaScript per call`);
    for (const [thread, t] of threads) {
      const counts = Object.entries(await t.evaluate(() => globalThis.__wbgCounts ?? {})).sort((a, b) => b[1] - a[1]);
      const total = counts.reduce((sum, [, n]) => sum + n, 0);
      console.log(`-- ${thread}: ${(total / CONFIG.calls).toFixed(1)} per call`);
      for (const [key, n] of counts.slice(0, CONFIG.top)) {
        console.log(`  ${(n / CONFIG.calls).toFixed(2).padStart(7)}  ${names.get(key) ?? key}`);
      }
    }
  } finally {
    await browser.close();
  }
}

async function main() {
  buildProfilingPackage();
  if (args.count) {
    const server = await serve(ROOT);
    try {
      const names = await rustNames();
      await withCountingGlue(async () => {
        for (const client of Object.keys(CLIENTS).filter((c) => !c.startsWith('raw'))) {
          await countClient(server.url, client, names);
        }
      });
    } finally {
      await server.close();
    }
    return;
  }
  const server = await serve(ROOT);
  try {
    const runs = [];
    for (const client of Object.keys(CLIENTS)) runs.push(await profileClient(server.url, client));
    console.log(`\nsampling every ${CONFIG.samplingIntervalUs} µs; % busy = share of the thread's non-idle time; ` +
      'µs/call = that time / calls.');
    for (const run of runs) report(run, run.client.startsWith('raw') ? 10 : CONFIG.top);
    const out = path.join(ROOT, 'target', 'profile-ipc.json');
    await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), config: CONFIG, runs }, null, 2)}\n`);
    console.log(`\nwrote ${path.relative(ROOT, out)} and target/profile-ipc-<client>-<thread>.cpuprofile`);
  } finally {
    await server.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
